"""Near duplicates on real photos: Winnow's audit against imagededup, cleanvision and fastdup.

The test set (``_variants.py``): the 43 real photos of ``winnow.samples.real_photos()``, each
with 12 transformed copies (JPEG q30/50/90, resize 50%/200%, crop 10%/20%, mirror, 3 degree
rotation, brightness +-20%, a text watermark), all 559 files in one flat folder. Scoring
(``_pair_scores.py``): pairs of one source are duplicates, pairs across the related families
listed in ``_variants.RELATED`` are not scored, every other pair is a non-duplicate.

Winnow runs the audit itself (``sync.audit.folder.audit_folder``, features into a fresh
temporary store, options from the settings): "W audit" is the duplicate clusters the audit
reports at its default, pHash radius 4 OR an embedding candidate (cosine >= 0.70 among each
file's 10 nearest) that ORB + RANSAC verifies (``analysis.duplicates_verify``), joined into
connected components. "W edges" is the plain rule the audit used before verification (pHash
radius 4 OR cosine >= 0.90, unverified), and a sweep of those two thresholds follows. The
verification's cost per candidate is timed on its own, from a cold pixel loader. The peers
run from their own virtualenv (``peers/setup.sh``), each with its defaults: imagededup PHash
at its default Hamming threshold 10 and at 4, imagededup CNN (needs weights from the
internet), cleanvision's ``near_duplicates`` issue, fastdup's connected components
(ccthreshold 0.96) and its similarity pairs (threshold 0.9, 2 neighbours per image).

    python benchmarks/near_duplicates.py [--keep DIR] [--record] [--no-peers]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import machine_line, record_result
from _pair_scores import Pair, cell, false_positives, group_pairs, pair_set, score
from _peers import run_peer
from _variants import HARD, MILD, build
from _winnow_pairs import (
    WinnowPairs,
    flag_pressure,
    margins,
    recall_by_transform,
    related_links,
    sweep,
)

from analysis.audit import AuditOptions, AuditResult
from analysis.duplicates import hash_neighbors
from analysis.duplicates_verify import VerifyOptions, features_from_pixels, verified_neighbors
from sync.audit.folder import audit_folder, audit_options
from sync.audit.pixels import SourcePixels
from winnow.config import Settings
from winnow.models import make_embedder
from winnow.samples import TUXPAINT_ROOT, build_tuxpaint
from winnow.store import FeatureStore

RADIUS, COSINE = AuditOptions().phash_radius, AuditOptions().cosine_threshold
VERIFY = VerifyOptions()
OTHER_SETTINGS = [(RADIUS, COSINE), (RADIUS, 0.93), (RADIUS, 0.90), (8, 0.90), (10, 0.90)]


def run_winnow(folder: Path, data_dir: Path) -> tuple[pd.DataFrame, np.ndarray, float]:
    """The audit's duplicate checks on ``folder``: per-file table (with ``name`` and
    ``kept``, the audit's suggested keeper flag), embeddings, seconds (features + audit)."""
    settings = Settings(data_dir=data_dir)
    checks = frozenset({"exact_duplicate", "near_duplicate"})
    options = audit_options(settings, checks, roots=(folder,))
    start = time.perf_counter()
    _, _, result = audit_folder(folder, settings, layout="flat", options=options)
    seconds = time.perf_counter() - start
    files = result.files.assign(
        name=[Path(u).name for u in result.files["uri"]],
        kept=~result.files["uri"].isin(_flagged(result)),
    )
    near = result.issues[result.issues["issue_type"] == "near_duplicate"]["details"]
    evidence = near[near.str.contains("homography")]
    files.attrs["evidence"] = evidence.iloc[0] if len(evidence) else "none"
    model_id = make_embedder(settings.embedding).model_id
    with FeatureStore(settings.store_path) as store:
        shas, vectors = store.embeddings(model_id, list(files["sha256"]))
    if shas != list(files["sha256"]):
        raise SystemExit("embeddings missing for some files; cannot score the embedding pairs")
    return files, vectors, seconds


def _flagged(result: AuditResult) -> set[str]:
    issues = result.issues
    return set(issues["path"][issues["issue_type"].isin(["near_duplicate", "exact_duplicate"])])


def keepers(files: pd.DataFrame) -> list[str]:
    """Which copy the audit suggests keeping in each cluster, by variant name."""
    size = files.groupby("dup_group")["name"].transform("size")
    kept = files[(size > 1) & files["kept"]]
    counts = kept["name"].str.split("__").str[1].str.split(".").str[0].value_counts()
    shown = ", ".join(f"{v} {c}" for v, c in counts.items())
    original = int(counts.get("original", 0))
    return [
        f"W audit suggested keeper per cluster ({len(kept)} clusters): {shown}",
        f"W audit keeper is the original in {original} of {len(kept)} clusters, a variant in "
        f"{len(kept) - original} (rule: effective resolution, then JPEG quality, then size)",
    ]


def keeper_cost(files: pd.DataFrame, folder: Path, data_dir: Path) -> list[str]:
    """Cost of the keeper signal (native decode + one FFT) per file, on the first 40 files."""
    pixels = SourcePixels(Settings(data_dir=data_dir), size=320, trusted_roots=(folder,))
    sample = list(files["sha256"].head(40))
    start = time.perf_counter()
    signals = [pixels.resolution(sha) for sha in sample]
    per = (time.perf_counter() - start) / max(len(sample), 1) * 1000
    ok = sum(s is not None for s in signals)
    return [f"keeper signal cost: {per:.1f} ms per file ({ok} of {len(sample)} measured)"]


def run_peers(folder: Path, work: Path) -> dict[str, dict]:
    log = work / "peers.log"
    return {
        "imagededup_phash": run_peer(
            "run_imagededup.py", [str(folder), "--threshold", "10", "--threshold", "4"], log=log
        ),
        "imagededup_cnn": run_peer(
            "run_imagededup.py", [str(folder), "--method", "cnn"], log=log, timeout=300
        ),
        "cleanvision": run_peer(
            "run_cleanvision.py", [str(folder), "--issues", "near_duplicates"], log=log
        ),
        "fastdup": run_peer("run_fastdup.py", [str(folder), str(work / "fastdup")], log=log),
    }


def peer_methods(peers: dict[str, dict]) -> tuple[dict[str, set[Pair]], list[str]]:
    """Method column -> predicted pairs, and notes for peers that did not run."""
    methods = {}
    versions = ", ".join(
        f"{p.get('peer', k)} {p['version']}" for k, p in peers.items() if "version" in p
    )
    notes = [
        f"peers: {versions} (imagededup 0.3.3 itself downloads CNN weights when "
        "imagededup.methods is imported, so offline not even its PHash imports; "
        "0.3.3.post2 fixes that, same hashing code, idealo/imagededup#200)"
    ]
    ph, cv, fd = peers["imagededup_phash"], peers["cleanvision"], peers["fastdup"]
    if "error" in ph:
        notes.append(f"imagededup PHash failed: {ph['error']}")
    else:
        methods["idd ph10"] = pair_set(ph["pairs"]["10"])
        methods["idd ph4"] = pair_set(ph["pairs"]["4"])
    cnn = peers["imagededup_cnn"]
    notes.append(
        "imagededup CNN: "
        + (f"not runnable offline ({cnn['error'][:120]})" if "error" in cnn else "ran")
    )
    if "pairs" in cnn:
        methods["idd cnn"] = pair_set(cnn["pairs"]["0.9"])
    if "error" in cv:
        notes.append(f"cleanvision failed: {cv['error']}")
    else:
        methods["cleanvis"] = group_pairs(cv["groups"]["near_duplicates"])
    if "error" in fd:
        notes.append(f"fastdup failed: {fd['error']}")
    else:
        methods["fd cc.96"] = group_pairs(fd["groups"]["components_0.96"])
        methods["fd sim.9"] = pair_set(fd["pairs"]["similarity_0.9_k2"])
    return methods, notes


def side_by_side(methods: dict[str, set[Pair]], meta: dict) -> list[str]:
    scores = {name: score(pairs, meta) for name, pairs in methods.items()}
    lines = [
        "precision/recall per transform (columns: methods, see legend)",
        f"{'transform':<11}" + "".join(f"{m:>11}" for m in methods),
    ]
    for key in [*MILD, *HARD, "mild", "hard", "all"]:
        lines.append(f"{key:<11}" + "".join(f"{cell(s[key]):>11}" for s in scores.values()))
    lines.append(f"{'wrong pairs':<11}" + "".join(f"{s['all'].fp:>11}" for s in scores.values()))
    lines.append(f"{'ignored':<11}" + "".join(f"{s['all'].ignored:>11}" for s in scores.values()))
    return lines


def targets(audit: dict, name: str) -> list[str]:
    precision = audit["all"].precision
    lines = [
        f"targets for {name}: precision >= 0.99 overall: "
        f"{precision:.3f} {'met' if precision >= 0.99 else 'MISSED'}"
    ]
    for t in (*MILD, *HARD):
        r = audit[t].recall
        lines.append(f"  recall >= 0.95 on {t}: {r:.3f} {'met' if r >= 0.95 else 'MISSED'}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", type=Path, help="build the test set here and keep it")
    parser.add_argument("--record", action="store_true", help="append to RESULTS.md")
    parser.add_argument("--no-peers", action="store_true", help="skip the peer tools")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="winnow-neardup-") as tmp:
        work = Path(tmp)
        folder = args.keep or work / "images"
        meta = build(folder)
        files, vectors, winnow_s = run_winnow(folder, work / "store")
        peers = {} if args.no_peers else run_peers(folder, work)
        lines = report(files, vectors, winnow_s, peers, meta)
        lines += verify_cost(files, vectors, folder, work / "store") + distractors(work)
        lines += keeper_cost(files, folder, work / "store")
    print("\n".join(lines))
    if args.record:
        record_result(
            "Near duplicates on real photos: Winnow vs imagededup, cleanvision, fastdup", lines
        )


def report(
    files: pd.DataFrame, vectors: np.ndarray, winnow_s: float, peers: dict, meta: dict
) -> list[str]:
    wp = WinnowPairs(files, vectors)
    audit_groups = files.groupby("dup_group")["name"]
    audit_pairs = group_pairs(g for _, g in audit_groups if len(g) > 1)
    methods = {
        "W audit": audit_pairs,
        "W edges": wp.as_pairs(RADIUS, COSINE),
        "W pHash4": wp.as_pairs(RADIUS, None),
        f"W cos{COSINE}": wp.as_pairs(None, COSINE),
    }
    peer_cols, notes = peer_methods(peers) if peers else ({}, ["peers not run (--no-peers)"])
    methods.update(peer_cols)
    load = os.getloadavg()[0]
    lines = [
        machine_line() + f"; load average {load:.1f} at the end (cores shared)",
        f"data: {len(meta)} files = 43 real photos x (original + 12 variants), one folder",
        *side_by_side(methods, meta),
        *_legend(),
        *notes,
        *targets(score(audit_pairs, meta), "W audit"),
        f"W audit evidence, first verified finding: {files.attrs['evidence']}",
        *_wrong_examples(audit_pairs, meta),
        *keepers(files),
        "related families joined (of 9): "
        + ", ".join(f"{m} {related_links(p, meta)}" for m, p in methods.items()),
        *_timings(winnow_s, peers, len(meta)),
        *margins(wp, meta),
        *recall_by_transform(wp, meta, OTHER_SETTINGS),
        *sweep(wp, meta),
    ]
    return lines


def verify_cost(
    files: pd.DataFrame, vectors: np.ndarray, folder: Path, data_dir: Path
) -> list[str]:
    """The verification step alone, as the audit runs it: candidates, how many were matched,
    and the time per matched candidate (decoding and ORB of the items it touched included)."""
    settings = Settings(data_dir=data_dir)
    pixels = SourcePixels(settings, size=320, trusted_roots=(folder,))
    features = features_from_pixels(pixels, list(files["sha256"]))
    joined = hash_neighbors(files["phash"].to_numpy(np.int64), radius=RADIUS, links="star")
    start = time.perf_counter()
    found = verified_neighbors(vectors, features, joined=joined, options=VERIFY)
    seconds = time.perf_counter() - start
    per = seconds / max(found.verified, 1)
    return [
        f"verification cost: {found.candidates} candidates (cos >= {VERIFY.candidate_cosine}, "
        f"k={VERIFY.neighbors}), {found.skipped} skipped (already grouped), {found.verified} "
        f"matched with ORB+RANSAC ({len(found.pairs)} kept), {len(found.shapes)} images "
        f"decoded; {seconds:.2f} s = {per * 1000:.0f} ms per matched candidate (decode + ORB "
        "of both images included, cold)"
    ]


def distractors(work: Path) -> list[str]:
    """Winnow on Tux Paint's stamps, a set with no planted duplicates, at each threshold:
    what a lower threshold costs outside the photo set."""
    if not TUXPAINT_ROOT.is_dir():
        return ["Tux Paint stamps not installed: distractor check skipped"]
    n = build_tuxpaint(work / "tux", flat=True)
    files, vectors, _ = run_winnow(work / "tux", work / "tux-store")
    glyphs = int(files["name"].str.startswith("symbols_").sum())
    clustered = files[files.groupby("dup_group")["name"].transform("size") > 1]
    inside = group_pairs(g for _, g in clustered.groupby("dup_group")["name"])
    both = sum(a.startswith("symbols_") and b.startswith("symbols_") for a, b in inside)
    return [
        f"distractors: Winnow on {n} Tux Paint stamps (Debian tuxpaint-stamps-default; no "
        f"planted duplicates; {glyphs} are glyphs: letters, digits, signs, where b~d or "
        "i~l are different images):",
        f"  W audit (verified default): {len(inside)} pairs inside clusters "
        f"({both} glyph~glyph); the plain rules below are what the audit did before",
        *flag_pressure(WinnowPairs(files, vectors), OTHER_SETTINGS),
    ]


def _legend() -> list[str]:
    return [
        "legend: W audit = winnow audit duplicate clusters at the default (pHash<=4 OR "
        f"cos>={VERIFY.candidate_cosine} candidates verified: >= {VERIFY.min_inliers} RANSAC "
        f"inliers and >= {VERIFY.min_ratio:.0%} of ORB matches; all pairs inside a cluster); "
        f"W edges = the old plain rule pHash<={RADIUS} OR cos>={COSINE}, before clustering; "
        f"W pHash4 / W cos{COSINE} = each alone;",
        "  idd ph10 / ph4 = imagededup PHash max_distance_threshold 10 (default) / 4; "
        "cleanvis = cleanvision near_duplicates sets (default: identical 8x8 pHash);",
        "  fd cc.96 = fastdup connected components (default ccthreshold 0.96); fd sim.9 = "
        "fastdup similarity.csv pairs (default threshold 0.9, k=2 neighbours)",
        "  precision counts every predicted pair touching that transform's files; recall the "
        "43 (original, variant) pairs; '-' = no pair predicted",
        "  caveat: precision rests on 151,086 pairs between 43 distinct scenes (easy negatives, "
        "see margins); the hard negatives (stereo pairs, video frames) are the related "
        "families, not scored ('ignored' above); the Tux Paint section below is a harder test",
    ]


def _wrong_examples(pairs: set[Pair], meta: dict, limit: int = 8) -> list[str]:
    wrong = false_positives(pairs, meta)
    shown = ", ".join(f"{a} ~ {b}" for a, b in wrong[:limit])
    return [f"W audit wrong pairs: {len(wrong)}" + (f", e.g. {shown}" if wrong else "")]


def _timings(winnow_s: float, peers: dict, n: int) -> list[str]:
    parts = [
        f"winnow features+audit {winnow_s:.1f} s ({n / winnow_s:.0f} img/s, embeddings included)"
    ]
    for name, p in peers.items():
        if "error" not in p:
            parts.append(
                f"{name} {p['seconds']:.1f} s in-process ({p['wall_seconds']:.1f} s with start-up)"
            )
    return ["time on this folder: " + "; ".join(parts)]


if __name__ == "__main__":
    main()
