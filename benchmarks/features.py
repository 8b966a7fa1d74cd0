"""Feature extraction: Winnow's pipeline against a naive loop, side by side on one folder.

The naive loop is what most scripts do: PIL open, full decode, imagehash phash and dhash on
the full-resolution image, and a one-image-at-a-time forward of the stock timm backbone
(same weights). It is also run with Winnow's tuned model, to separate the model speed-up
from the pipeline's. Winnow uses JPEG
draft decoding, hashes on a small working copy, worker processes and batched inference.
Both run in this process on the same files, so the ratio is fair on this machine.

Because draft decoding changes pixels slightly, the script also reports agreement: the share
of identical hashes, the Hamming distances of the rest, the lowest embedding cosine, and
whether the duplicate pairs found at the documented thresholds are the same.

    python benchmarks/features.py --folder build/samples/bench [--limit 1000]
        [--runtimes openvino:bf16,openvino,torch] [--no-peers] [--record]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import imagehash
import numpy as np
from _common import machine_line, record_result
from _peers import run_peer
from PIL import Image

from analysis.duplicates import hamming_pairs
from winnow.config import get_settings
from winnow.features.extract import extract_features
from winnow.features.measure import hash_to_int64
from winnow.features.walk import scan_folder
from winnow.models import InputSpec, make_embedder, prepare_image
from winnow.store import FeatureStore

PHASH_THRESHOLD = 4  # the near-duplicate threshold the overview audit documents
COSINE_THRESHOLD = 0.95


class StockBackbone:
    """The backbone as a plain script uses it: timm model with the same weights, NCHW,
    batch-norm layers unfolded, one image per forward."""

    def __init__(self, settings) -> None:
        import torch  # here, not at the top: spawned workers re-import this module

        from winnow.models.backbone import build_backbone

        self.torch = torch
        self.model, _, mean, std = build_backbone(settings.embedding)
        self.model.eval()
        self.mean = torch.tensor(mean).view(1, 3, 1, 1)
        self.std = torch.tensor(std).view(1, 3, 1, 1)

    def embed_images(self, images: list[Image.Image]) -> np.ndarray:
        arr = np.stack([prepare_image(im, InputSpec(224, "center_crop")) for im in images])
        torch = self.torch
        x = (torch.from_numpy(arr).permute(0, 3, 1, 2).float() - self.mean) / self.std
        with torch.inference_mode():
            feats = self.model.forward_head(self.model.forward_features(x), pre_logits=True)
        return torch.nn.functional.normalize(feats, dim=1).numpy()


def naive_loop(paths: list[str], embedder, *, embed: bool) -> dict[str, np.ndarray]:
    phash, dhash, vectors = [], [], []
    for path in paths:
        with Image.open(path) as img:
            rgb = img.convert("RGB")
        phash.append(hash_to_int64(imagehash.phash(rgb)))
        dhash.append(hash_to_int64(imagehash.dhash(rgb)))
        if embed:
            vectors.append(embedder.embed_images([rgb])[0])
    out = {"phash": np.array(phash), "dhash": np.array(dhash)}
    if embed:
        out["vectors"] = np.stack(vectors)
    return out


def winnow_run(
    paths: list[str], items, embedder, *, embed: bool, folder: Path
) -> dict[str, np.ndarray]:
    """``winnow features`` on ``items`` into a fresh store (``folder`` is the operator's)."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = get_settings(data_dir=Path(tmp))
        with FeatureStore(settings.store_path) as store:
            report = extract_features(
                items,
                settings=settings,
                store=store,
                embedder=embedder if embed else None,
                trusted_roots=[folder],
            )
            if report.failures:
                raise SystemExit(f"{len(report.failures)} images failed: {report.failures[:3]}")
            sources = store.sources_frame().set_index("uri").loc[paths]
            images = store.images_frame().set_index("sha256").loc[sources["sha256"]]
            out = {"phash": images["phash"].to_numpy(), "dhash": images["dhash"].to_numpy()}
            if embed:
                _, out["vectors"] = store.embeddings(embedder.model_id, list(sources["sha256"]))
    return out


def agreement(naive: dict, fast: dict) -> list[str]:
    lines = []
    for name in ("phash", "dhash"):
        dist = np.bitwise_count(naive[name].view(np.uint64) ^ fast[name].view(np.uint64))
        differing = dist[dist > 0]
        lines.append(
            f"{name}: {np.mean(dist == 0):.1%} identical; differing ones: "
            f"median {np.median(differing) if len(differing) else 0:.0f} bits, "
            f"max {dist.max()} bits"
        )
    pairs_naive = {tuple(p) for p in hamming_pairs(naive["phash"], threshold=PHASH_THRESHOLD)}
    pairs_fast = {tuple(p) for p in hamming_pairs(fast["phash"], threshold=PHASH_THRESHOLD)}
    differ = sorted(pairs_naive ^ pairs_fast)
    naive_d = [_hamming(naive["phash"], i, j) for i, j in differ]
    lines.append(
        f"phash<={PHASH_THRESHOLD} duplicate pairs: naive {len(pairs_naive)}, winnow "
        f"{len(pairs_fast)}, only naive {len(pairs_naive - pairs_fast)}, "
        f"only winnow {len(pairs_fast - pairs_naive)}"
        + (f"; naive distances of those: {sorted(naive_d)}" if differ else "")
    )
    if "vectors" in naive:
        cos = np.sum(naive["vectors"] * fast["vectors"], axis=1)
        lines.append(
            f"embedding cosine naive vs winnow: min {cos.min():.4f}, median {np.median(cos):.4f}"
        )
        pn = _cosine_pairs(naive["vectors"])
        pf = _cosine_pairs(fast["vectors"])
        sims = [float(naive["vectors"][i] @ naive["vectors"][j]) for i, j in pn ^ pf]
        margin = max((abs(x - COSINE_THRESHOLD) for x in sims), default=0.0)
        lines.append(
            f"cosine>={COSINE_THRESHOLD} duplicate pairs: naive {len(pn)}, winnow {len(pf)}, "
            f"only naive {len(pn - pf)}, only winnow {len(pf - pn)}; every differing pair "
            f"has a naive cosine within {margin:.4f} of the threshold"
        )
    return lines


def _runtime_agreement(timed: dict) -> list[str]:
    """Embedding cosine between the first runtime and each other one, per image."""
    names = list(timed)
    first = timed[names[0]][1].get("vectors")
    lines = []
    for name in names[1:]:
        other = timed[name][1].get("vectors")
        if first is not None and other is not None:
            cos = np.sum(first * other, axis=1)
            lines.append(f"embedding cosine {names[0]} vs {name}: min {cos.min():.6f}")
    return lines


def _fastdup(folder: Path, items, everything: bool) -> dict:
    """fastdup's defaults on the same files, from the peers' virtualenv (its in-process
    seconds include importing it). It takes a folder: ``folder`` itself when ``everything``
    in it is timed, else a folder of links to ``items``."""
    with tempfile.TemporaryDirectory(prefix="winnow-features-fastdup-") as tmp:
        if everything:
            folder = folder.resolve()
        else:
            folder = Path(tmp) / "images"
            folder.mkdir()
            for i, item in enumerate(items):
                (folder / f"{i:06d}{Path(item.uri).suffix}").symlink_to(Path(item.uri).resolve())
        return run_peer(
            "run_fastdup.py", [str(folder), str(Path(tmp) / "out")], log=Path(tmp) / "log"
        )


def _peer_lines(peer: dict | None, n: int, timed: dict) -> list[str]:
    if peer is None:
        return []
    if "error" in peer:
        return [f"fastdup (defaults): FAILED: {peer['error']}"]
    inner = peer.get("seconds", peer["wall_seconds"])
    ratios = ", ".join(f"{rt} {inner / t:.2f}x" for rt, (t, _) in timed.items())
    return [
        f"fastdup 2.54 (defaults): {n / inner:.1f} img/s in-process ({inner:.1f} s; process "
        f"{peer['wall_seconds']:.1f} s)",
        f"winnow speed over fastdup's in-process speed: {ratios}",
    ]


def _hamming(hashes: np.ndarray, i: int, j: int) -> int:
    return int(
        np.bitwise_count(hashes[i : i + 1].view(np.uint64) ^ hashes[j : j + 1].view(np.uint64))[0]
    )


def _cosine_pairs(vectors: np.ndarray) -> set[tuple[int, int]]:
    sims = vectors @ vectors.T
    i, j = np.nonzero(np.triu(sims >= COSINE_THRESHOLD, k=1))
    return set(zip(i.tolist(), j.tolist(), strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--no-embed", action="store_true", help="hash-only path")
    parser.add_argument("--record", action="store_true", help="append to RESULTS.md")
    parser.add_argument("--no-peers", action="store_true", help="skip fastdup")
    parser.add_argument(
        "--runtimes",
        default="auto",
        help="comma-separated runtime[:precision] to time winnow with, e.g. openvino:bf16,torch",
    )
    args = parser.parse_args()

    every = scan_folder(args.folder).items
    items = every[: args.limit]
    paths = [item.uri for item in items]
    embed = not args.no_embed
    runtimes = [r.strip() for r in args.runtimes.split(",") if r.strip()]
    embedders = {}
    for runtime in runtimes:
        name, _, precision = runtime.partition(":")
        update = {"runtime": name, "precision": precision or "fp32"}
        settings = get_settings().embedding.model_copy(update=update)
        embedders[runtime] = make_embedder(settings)
        embedders[runtime].embed_images([Image.new("RGB", (224, 224))])  # warm-up, untimed
    embedder = embedders[runtimes[0]]

    stock = StockBackbone(get_settings())
    stock.embed_images([Image.new("RGB", (224, 224))])
    t0 = time.perf_counter()
    naive = naive_loop(paths, stock, embed=embed)
    t_naive = time.perf_counter() - t0
    t_tuned = None
    if embed:  # the same loop, but with Winnow's folded channels-last model
        t0 = time.perf_counter()
        naive_loop(paths, embedder, embed=embed)
        t_tuned = time.perf_counter() - t0
    timed = {}
    for runtime, model in embedders.items():
        t0 = time.perf_counter()
        result = winnow_run(paths, items, model, embed=embed, folder=args.folder)
        timed[runtime] = (time.perf_counter() - t0, result)
    t_fast, fast = timed[runtimes[0]]
    peer = None if args.no_peers else _fastdup(args.folder, items, len(items) == len(every))

    mode = "hash + measure + embed" if embed else "hash + measure only"
    lines = [
        f"images: {len(paths)} from {args.folder} ({mode})",
        f"naive loop (stock timm model): {len(paths) / t_naive:.1f} img/s ({t_naive:.1f} s)",
        *(
            [
                f"naive loop with winnow's tuned model: {len(paths) / t_tuned:.1f} img/s "
                f"({t_tuned:.1f} s)"
            ]
            if t_tuned
            else []
        ),
        *(
            f"winnow, runtime {runtime} ({getattr(embedders[runtime], 'runtime', runtime)}): "
            f"{len(paths) / t:.1f} img/s ({t:.1f} s)"
            for runtime, (t, _) in timed.items()
        ),
        f"ratio winnow ({runtimes[0]})/naive: {t_naive / t_fast:.2f}x",
        *([f"ratio winnow/naive-with-tuned-model: {t_tuned / t_fast:.2f}x"] if t_tuned else []),
        *_peer_lines(peer, len(paths), timed),
        *agreement(naive, fast),
        *_runtime_agreement(timed),
        machine_line(),
    ]
    print("\n".join(lines))
    if args.record:
        record_result("Feature extraction", lines)


if __name__ == "__main__":
    main()
