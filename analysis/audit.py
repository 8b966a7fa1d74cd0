"""The whole audit of one data set: every check, as one table of findings.

Pure: a per-file table (the feature store's ``sources`` joined with ``images``) and the
aligned embeddings go in; findings and per-file scores come out. Each finding row says which
file, which issue, how severe (``score`` in [0, 1]), which duplicate ``group`` it belongs to,
the given and suggested labels, and the evidence in ``details``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.duplicates import (
    hash_neighbors,
    near_duplicate_groups,
    resolution_keepers,
    split_leakage,
)
from analysis.duplicates_evidence import match_evidence
from analysis.duplicates_verify import (
    MatchCache,
    PairMatch,
    VerifyOptions,
    features_from_pixels,
    verified_neighbors,
)
from analysis.embedding_pairs import embedding_knn, embedding_neighbors, knn_with_copies
from analysis.findings import ISSUE_COLUMNS
from analysis.integrity import wrong_extension_mask
from analysis.label_issue_cut import PRECISION_DEFAULT
from analysis.label_issue_estimate import (
    SEEDS,
    QueueEstimate,
    QueueRun,
    rescore_queues,
    run_queues,
)
from analysis.label_issues import PROBE_DEFAULT
from analysis.label_probe import LabelProbe
from analysis.label_set_issues import disagreements, label_set_issues
from analysis.outliers import OUTLIER_K, find_outliers
from analysis.quality import CHECKS as QUALITY_CHECKS
from analysis.quality import QualityThresholds, quality_scores
from analysis.resolution import ResolutionSignal
from analysis.validation import require_columns

# Most severe first: the order findings are listed in.
ISSUE_TYPES = (
    "unreadable",
    "wrong_extension",
    "exact_duplicate",
    "split_leak",
    "label_issue",  # the "likely" queue: the prefix cut at label_issue_precision
    "possible_label_issue",  # the rest of Cleanlab's flags
    "near_duplicate",
    "outlier",
    *QUALITY_CHECKS,
)

DUPLICATE_CHECKS = frozenset({"exact_duplicate", "near_duplicate", "split_leak"})


@dataclass(frozen=True)
class AuditOptions:
    checks: frozenset[str] = frozenset(ISSUE_TYPES)
    phash_radius: int = 4  # pHash bits; see benchmarks/RESULTS.md for precision at this radius
    # Embedding near-duplicates. On real photos 0.90 finds 98% of 10% crops with no false
    # pair (0.95: 49%); on drawings such as letter stamps it also joins look-alikes (b~d).
    cosine_threshold: float = 0.90
    # With ``pixels`` (sha256 -> uint8 grayscale working copy, or None), embedding pairs are
    # candidates from ``verify.candidate_cosine`` up, kept when local features share a
    # homography (analysis.duplicates_verify); ``cosine_threshold`` then only serves items
    # whose pixels cannot be read. Without it, the plain cosine rule above.
    pixels: Callable[[str], np.ndarray | None] | None = None
    # With ``resolution`` (sha256 -> ResolutionSignal at native size, or None), each cluster
    # keeps the copy with the highest effective resolution, then JPEG quality, not the largest.
    resolution: Callable[[str], ResolutionSignal | None] | None = None
    resolution_workers: int = 1  # threads measuring ``resolution`` (decode + FFT free the GIL)
    # Raw geometric matches of earlier audits by content pair (sha256, sha256): reused instead
    # of the pixels, and the new ones saved.
    match_cache: MatchCache[str] | None = None
    verify: VerifyOptions = field(default_factory=VerifyOptions)
    n_folds: int = 5
    # Label issues: the "likely" queue's estimated precision, and how many planting seeds
    # estimate each queue's precision and recall (0: no estimate; each seed is one more fit).
    label_issue_precision: float = PRECISION_DEFAULT
    label_estimate_seeds: int = SEEDS
    # The probe behind the label-issue probabilities (analysis.label_issues.PROBES).
    label_issue_probe: str = PROBE_DEFAULT
    # Multi-label data: each ``label`` is a set of classes joined by this separator ("|" in
    # the sync's table, "+" in the reports'), audited per class (analysis.label_set_issues).
    # None: a label is one class, even when it holds the separator.
    label_set_separator: str | None = None
    # A probe from an earlier fit over the same files and classes: label issues are then
    # rescored on its probabilities instead of refitted (analysis.label_probe).
    label_probe: LabelProbe | None = None
    quality: QualityThresholds = field(default_factory=QualityThresholds)

    def __post_init__(self) -> None:
        unknown = set(self.checks) - set(ISSUE_TYPES)
        if unknown:
            raise ValueError(f"unknown checks {sorted(unknown)}; allowed: {list(ISSUE_TYPES)}")


@dataclass
class AuditResult:
    issues: pd.DataFrame  # ISSUE_COLUMNS, most severe first
    files: pd.DataFrame  # one row per file, every score
    label_estimate: QueueEstimate | None = None  # how far to trust the label-issue queues
    label_probe: LabelProbe | None = None  # what the label-issue fit (or rescore) stood on


def audit(
    table: pd.DataFrame,
    *,
    embeddings: np.ndarray | None = None,
    options: AuditOptions | None = None,
) -> AuditResult:
    """Run every check in ``options.checks`` over ``table`` (one row per file, columns ``uri,
    sha256, label, split, error_kind, error, format`` and the image measurements).

    ``embeddings`` float32 ``(N, D)`` L2-normalised, aligned with ``table`` rows (rows of
    unreadable files are ignored); without it, the embedding checks are skipped.
    """
    opts = options or AuditOptions()
    require_columns(table, ["uri", "sha256", "label", "split", "error_kind", "format"])
    files = table.reset_index(drop=True).copy()
    rows: list[dict] = []
    estimate = probe = None
    ok = files["error_kind"].isna().to_numpy()
    if "unreadable" in opts.checks:
        rows += _unreadable(files[~ok])
    good = files[ok]
    vectors = None if embeddings is None else np.asarray(embeddings)[ok]
    if len(good):
        if "wrong_extension" in opts.checks:
            rows += _wrong_extension(good)
        knn = _content_knn(good, vectors, opts)
        if opts.checks & DUPLICATE_CHECKS:  # a labels-only audit reads no pixels
            rows += _duplicates(files, good, vectors, opts, knn)
        if opts.checks & set(QUALITY_CHECKS):
            rows += _quality(files, good, opts)
        if vectors is not None:
            label_rows, estimate, probe = _labels(files, good, vectors, opts)
            rows += label_rows
            rows += _outliers(files, good, vectors, opts, knn)
    issues = pd.DataFrame(rows, columns=ISSUE_COLUMNS)
    order = {name: i for i, name in enumerate(ISSUE_TYPES)}
    issues = issues.sort_values(
        ["issue_type", "score"],
        key=lambda c: c.map(order) if c.name == "issue_type" else -c,
        kind="stable",
    ).reset_index(drop=True)
    return AuditResult(issues=issues, files=files, label_estimate=estimate, label_probe=probe)


def _row(file: pd.Series, issue: str, score: float, details: str, **extra: object) -> dict:
    label = file.get("label")
    return {
        "path": file["uri"],
        "issue_type": issue,
        "score": round(float(score), 4),
        "group": extra.get("group"),
        "given_label": None if pd.isna(label) else label,
        "suggested_label": extra.get("suggested"),
        "details": details,
    }


def _unreadable(bad: pd.DataFrame) -> list[dict]:
    return [
        _row(f, "unreadable", 1.0, f"{f['error_kind']}: {f.get('error')}")
        for _, f in bad.iterrows()
    ]


def _wrong_extension(good: pd.DataFrame) -> list[dict]:
    mask = wrong_extension_mask(good["uri"], good["format"])
    return [
        _row(f, "wrong_extension", 1.0, f"extension says otherwise; content is {f['format']}")
        for _, f in good[mask].iterrows()
    ]


def _content_knn(
    good: pd.DataFrame, vectors: np.ndarray | None, opts: AuditOptions
) -> tuple[np.ndarray, np.ndarray] | None:
    """One blocked kNN pass over distinct contents, shared by the verified duplicate search
    and the outlier scores; None when neither runs."""
    if vectors is None:
        return None
    first = pd.Series(np.arange(len(good))).groupby(pd.factorize(good["sha256"])[0]).first()
    verify = opts.pixels is not None and {"near_duplicate", "split_leak"} & opts.checks
    outliers = "outlier" in opts.checks and len(good) >= 12
    if len(first) < 2 or not (verify or outliers):
        return None
    k = min(max(opts.verify.neighbors, OUTLIER_K), len(first) - 1)
    return embedding_knn(vectors[first.to_numpy()], k=k)


def _duplicates(
    files: pd.DataFrame,
    good: pd.DataFrame,
    vectors: np.ndarray | None,
    opts: AuditOptions,
    knn: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[dict]:
    """Exact copies (same sha256), near duplicates among distinct contents, split leaks."""
    codes, uniques = pd.factorize(good["sha256"])
    first = pd.Series(np.arange(len(good))).groupby(codes).first().to_numpy()
    content = good.iloc[first]
    pairs, sims, evidence = [], [], {}
    if "near_duplicate" in opts.checks or "split_leak" in opts.checks:
        hp = hash_neighbors(
            content["phash"].to_numpy(np.int64), radius=opts.phash_radius, links="star"
        )
        pairs.append(hp)
        sims.append(1.0 - _hamming(content["phash"].to_numpy(np.int64), hp) / 64.0)
        if vectors is not None and opts.pixels is not None:
            ep, es, evidence = _verified_pairs(content, vectors[first], hp, opts, knn)
            pairs.append(ep)
            sims.append(es.astype(float))
        elif vectors is not None:
            ep, es = embedding_neighbors(vectors[first], threshold=opts.cosine_threshold)
            pairs.append(ep)
            sims.append(es.astype(float))
    quality = np.log(content["width"] * content["height"]).to_numpy() + 0.1 * np.log1p(
        content["blur"].to_numpy(float)
    )
    groups = near_duplicate_groups(len(content), pairs, quality=quality)
    keep = groups.keep
    if opts.resolution is not None:  # the keeper must not be an upscaled or re-saved copy
        measure, shas = opts.resolution, list(content["sha256"])
        keep = resolution_keepers(
            groups.cluster,
            keep,
            lambda i: measure(shas[i]),
            vectors=None if vectors is None else vectors[first],
            workers=opts.resolution_workers,
        )
    best = _best_similarity(len(content), pairs, sims)
    cluster = groups.cluster[codes]  # per good file
    size = groups.size[codes]
    rows: list[dict] = []
    keeper_of = {c: content.iloc[i]["uri"] for i, c in enumerate(groups.cluster) if keep[i]}
    exact_keeper = pd.Series(good["uri"].to_numpy()).groupby(codes).transform("first").to_numpy()
    for i, (_, f) in enumerate(good.iterrows()):
        group = f"dup-{cluster[i]}"
        if "exact_duplicate" in opts.checks and exact_keeper[i] != f["uri"]:
            rows.append(
                _row(f, "exact_duplicate", 1.0, f"same bytes as {exact_keeper[i]}", group=group)
            )
        c = codes[i]
        if (
            "near_duplicate" in opts.checks
            and size[i] > 1
            and not keep[c]
            and exact_keeper[i] == f["uri"]
        ):
            rows.append(
                _row(
                    f,
                    "near_duplicate",
                    best[c],
                    "; ".join(
                        [f"{size[i]} similar images; keep {keeper_of[cluster[i]]}"]
                        + ([evidence[c]] if c in evidence else [])
                    ),
                    group=group,
                )
            )
    if "split_leak" in opts.checks and good["split"].notna().any():
        members = pd.Series(cluster).groupby(cluster).size()
        leak = split_leakage(cluster, good["split"].to_numpy(object)) & (
            members.loc[cluster].to_numpy() > 1
        )
        for i in np.flatnonzero(leak):
            f = good.iloc[i]
            spans = sorted(good["split"][cluster == cluster[i]].dropna().unique())
            rows.append(
                _row(
                    f,
                    "split_leak",
                    1.0,
                    f"duplicate cluster spans {spans}",
                    group=f"dup-{cluster[i]}",
                )
            )
    files.loc[files["error_kind"].isna(), "dup_group"] = [f"dup-{c}" for c in cluster]
    return rows


def _verified_pairs(
    content: pd.DataFrame,
    vectors: np.ndarray,
    joined: np.ndarray,
    opts: AuditOptions,
    knn: tuple[np.ndarray, np.ndarray] | None,
) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """Embedding candidates kept by geometric verification, with per-item evidence."""
    assert opts.pixels is not None
    shas = list(content["sha256"])
    features = features_from_pixels(opts.pixels, shas)
    cache = None if opts.match_cache is None else _MatchesByIndex(opts.match_cache, shas)
    found = verified_neighbors(
        vectors, features, joined=joined, options=opts.verify, knn=knn, cache=cache
    )
    sizes = content[["width", "height"]].to_numpy(float)
    return found.pairs, found.sims, match_evidence(found, list(content["uri"]), sizes)


class _MatchesByIndex(MatchCache[int]):
    """The content-keyed cache seen through this audit's item indices."""

    def __init__(self, cache: MatchCache[str], shas: list[str]) -> None:
        self.cache, self.shas = cache, shas

    def load(
        self, version: str, pairs: Sequence[tuple[int, int]]
    ) -> dict[tuple[int, int], PairMatch]:
        keys = {(self.shas[i], self.shas[j]): (i, j) for i, j in pairs}
        return {keys[k]: m for k, m in self.cache.load(version, list(keys)).items() if k in keys}

    def save(self, version: str, found: Mapping[tuple[int, int], PairMatch]) -> None:
        self.cache.save(version, {(self.shas[i], self.shas[j]): m for (i, j), m in found.items()})


def _hamming(hashes: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    h = hashes.view(np.uint64)
    return np.bitwise_count(h[pairs[:, 0]] ^ h[pairs[:, 1]]).astype(float)


def _best_similarity(n: int, pairs: list[np.ndarray], sims: list[np.ndarray]) -> np.ndarray:
    best = np.zeros(n)
    for p, s in zip(pairs, sims, strict=True):
        if len(p):
            np.maximum.at(best, p[:, 0], s)
            np.maximum.at(best, p[:, 1], s)
    return best


def _quality(files: pd.DataFrame, good: pd.DataFrame, opts: AuditOptions) -> list[dict]:
    scores = quality_scores(good, thresholds=opts.quality)
    for column in scores.columns:
        files.loc[good.index, column] = scores[column]
    rows = []
    for check in QUALITY_CHECKS:
        if check not in opts.checks:
            continue
        for idx in scores.index[scores[check]]:
            f = good.loc[idx]
            rows.append(
                _row(f, check, scores.loc[idx, f"{check}_score"], _quality_evidence(check, f))
            )
    return rows


def _quality_evidence(check: str, f: pd.Series) -> str:
    evidence = {
        "blurry": f"Laplacian variance {f['blur']:.1f}",
        "dark": f"brightness {f['brightness']:.2f}, {f['dark_fraction']:.0%} crushed",
        "bright": f"brightness {f['brightness']:.2f}, {f['bright_fraction']:.0%} blown",
        "low_information": f"entropy {f['entropy']:.2f} bits",
        "odd_size": f"{int(f['width'])}x{int(f['height'])}",
        "odd_aspect_ratio": f"aspect {f['width'] / f['height']:.2f}",
        "grayscale": "colour image whose channels are equal",
        "alpha": f"alpha channel in mode {f.get('mode')}",
        "exif_rotated": f"EXIF orientation {f.get('exif_orientation')}",
    }
    return evidence[check]


def _labels(
    files: pd.DataFrame, good: pd.DataFrame, vectors: np.ndarray, opts: AuditOptions
) -> tuple[list[dict], QueueEstimate | None, LabelProbe | None]:
    """Cleanlab's flags split at the precision cut (analysis.label_issue_cut): the likely
    prefix as ``label_issue``, the rest as ``possible_label_issue``. Severity is one minus
    Cleanlab's label quality, so sorting a queue by it follows the ranking the cut was made on;
    the posterior probability that the label is wrong is kept as evidence. Rescored on
    ``opts.label_probe`` when it covers these files and classes, else fitted."""
    labelled = good["label"].notna().to_numpy()
    names = sorted(good["label"][labelled].unique())
    if opts.label_set_separator is not None:
        return _label_sets(files, good[labelled], vectors[labelled], opts), None, None
    if "label_issue" not in opts.checks or len(names) < 2 or labelled.sum() < 2 * opts.n_folds:
        return [], None, None
    subset = good[labelled]
    y = subset["label"].map({n: i for i, n in enumerate(names)}).to_numpy()
    keys = subset["uri"].astype(str).tolist()
    run, probe = _label_run(vectors[labelled], y, keys, names, opts)
    found, probs, point = run.issues, run.probs, run.point
    probe = probe or LabelProbe(
        keys=tuple(keys),
        names=tuple(names),
        probs=probs,
        recall=point.recall,
        plants=run.estimate.plants if run.estimate else 0,
        seeds=run.estimate.seeds if run.estimate else 0,
        labels=tuple(subset["label"].astype(str)),
    )
    files.loc[subset.index, "label_quality"] = found.quality
    files.loc[subset.index, "label_wrong_probability"] = point.wrong
    files.loc[subset.index, "suggested_label"] = [names[s] for s in found.suggested]
    rows = []
    for rank, i in enumerate(point.ranked):
        f = subset.iloc[i]
        suggested = names[found.suggested[i]]
        rows.append(
            _row(
                f,
                "label_issue" if rank < point.n_likely else "possible_label_issue",
                1.0 - found.quality[i],
                f"P(label wrong)={point.wrong[i]:.2f}; out-of-sample "
                f"p({suggested})={probs[i, found.suggested[i]]:.2f}, p(given)={probs[i, y[i]]:.2f}",
                suggested=suggested,
            )
        )
    return rows, run.estimate, probe


def _label_run(
    x: np.ndarray, y: np.ndarray, keys: list[str], names: list[str], opts: AuditOptions
) -> tuple[QueueRun, LabelProbe | None]:
    """Rescored on the given probe (returned, unchanged: it still says what was fitted when)
    when it covers these files and classes; else fitted (None: the caller builds the probe)."""
    probe = opts.label_probe
    if probe is not None and probe.covers(keys, names):
        run = rescore_queues(
            y,
            probe.probs_for(keys),
            probe.recall,
            target_precision=opts.label_issue_precision,
            plants=probe.plants,
            seeds=probe.seeds,
        )
        return run, probe
    run = run_queues(
        x,
        y,
        n_classes=len(names),
        n_folds=opts.n_folds,
        target_precision=opts.label_issue_precision,
        seeds=opts.label_estimate_seeds,
        probe=opts.label_issue_probe,
    )
    return run, None


def _label_sets(
    files: pd.DataFrame, subset: pd.DataFrame, x: np.ndarray, opts: AuditOptions
) -> list[dict]:
    """Multi-label: Cleanlab's multi-label flags, all "possible" (no calibrated cut exists
    for sets: analysis.label_set_issues). The suggestion is the set of classes the model
    finds probable, joined like the given one."""
    sep = opts.label_set_separator or "|"
    sets = [str(label).split(sep) for label in subset["label"]]
    n_classes = len({c for s in sets for c in s})
    if "label_issue" not in opts.checks or n_classes < 2 or len(sets) < 2 * opts.n_folds:
        return []
    found = label_set_issues(x, sets, n_folds=opts.n_folds)
    suggested = [sep.join(np.asarray(found.classes)[row]) or None for row in found.suggested]
    files.loc[subset.index, "label_quality"] = found.quality
    files.loc[subset.index, "label_wrong_probability"] = found.wrong
    files.loc[subset.index, "suggested_label"] = suggested
    return [
        _row(
            subset.iloc[i],
            "possible_label_issue",
            1.0 - found.quality[i],
            f"per class, out of sample: {disagreements(found, i)}",
            suggested=suggested[i],
        )
        for i in found.ranked
    ]


def _outliers(
    files: pd.DataFrame,
    good: pd.DataFrame,
    vectors: np.ndarray,
    opts: AuditOptions,
    knn: tuple[np.ndarray, np.ndarray] | None,
) -> list[dict]:
    if "outlier" not in opts.checks or len(good) < 12:
        return []
    if knn is None:  # a single content: every neighbour is an exact copy
        found = find_outliers(vectors, k=OUTLIER_K)
    else:
        sims = knn_with_copies(knn[1], knn[0], pd.factorize(good["sha256"])[0], k=OUTLIER_K)
        found = find_outliers(vectors, k=OUTLIER_K, neighbor_sims=sims)
    files.loc[good.index, "outlier_score"] = 1.0 - found.score
    return [
        _row(
            good.iloc[i],
            "outlier",
            1.0 - found.score[i],
            f"kNN typicality {found.score[i]:.3f} < cutoff {found.cutoff:.3f}",
        )
        for i in found.ranked
    ]
