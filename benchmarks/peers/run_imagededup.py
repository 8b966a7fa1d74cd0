"""imagededup 0.3.3 near duplicates on one folder; prints JSON (see _runner.py).

    python run_imagededup.py FOLDER --method phash --threshold 10 --threshold 4
    python run_imagededup.py FOLDER --method cnn

Hashes are encoded once and searched at every threshold (Hamming distance <= threshold, its
``max_distance_threshold``; default 10). The CNN method needs weights from the internet, so
offline it fails; that failure is reported as such, never replaced by something else.
"""

from __future__ import annotations

import argparse
import time
import traceback
from pathlib import Path

from _runner import emit, relative


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--method", choices=["phash", "cnn"], default="phash")
    parser.add_argument("--threshold", type=float, action="append")
    args = parser.parse_args()
    folder = args.folder.resolve()
    start = time.perf_counter()
    try:
        result = _phash(folder, args.threshold) if args.method == "phash" else _cnn(folder)
    except Exception as exc:  # noqa: BLE001 - reported to the benchmark, which records it
        emit(
            {
                "peer": "imagededup",
                "method": args.method,
                "error": f"{type(exc).__name__}: {exc}"[:500],
                "trace": traceback.format_exc()[-1500:],
            }
        )
        return
    result["seconds"] = time.perf_counter() - start
    emit(result)


def _phash(folder: Path, thresholds: list[float] | None) -> dict:
    import imagededup
    from imagededup.methods import PHash

    hasher = PHash(verbose=False)
    start = time.perf_counter()
    encodings = hasher.encode_images(image_dir=str(folder), recursive=True)
    encode_s = time.perf_counter() - start
    pairs = {}
    for t in thresholds or [10]:
        found = hasher.find_duplicates(encoding_map=encodings, max_distance_threshold=int(t))
        pairs[str(int(t))] = _pairs(found, folder)
    return {
        "peer": "imagededup",
        "version": imagededup.__version__,
        "method": "phash",
        "images": len(encodings),
        "encode_seconds": encode_s,
        "pairs": pairs,
    }


def _cnn(folder: Path) -> dict:
    import imagededup
    from imagededup.methods import CNN

    encoder = CNN(verbose=False)  # downloads its MobileNet weights on first use
    found = encoder.find_duplicates(image_dir=str(folder), recursive=True)
    return {
        "peer": "imagededup",
        "version": imagededup.__version__,
        "method": "cnn",
        "pairs": {"0.9": _pairs(found, folder)},
    }


def _pairs(found: dict[str, list], folder: Path) -> list[list[str]]:
    out = set()
    for a, dups in found.items():
        for b in dups:
            b = b[0] if isinstance(b, tuple) else b
            out.add(tuple(sorted((relative(a, folder), relative(b, folder)))))
    return sorted(list(p) for p in out)


if __name__ == "__main__":
    main()
