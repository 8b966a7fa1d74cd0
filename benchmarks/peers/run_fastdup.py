"""fastdup 2.54 on one folder, with its defaults; prints JSON (see _runner.py).

    python run_fastdup.py FOLDER WORK_DIR

Defaults: its bundled ONNX model embeds every image, ``similarity.csv`` keeps each image's
``nearest_neighbors_k`` = 2 neighbours at cosine >= ``threshold`` 0.9, and connected
components join images at >= ``ccthreshold`` 0.96 (fastdup's duplicate clusters). Findings:
invalid files, outliers (its ``lower_threshold`` 0.05), and blurry/dark/bright counts with
the thresholds of its own ``summary()`` (blur < 150, mean < 4, mean > 253).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from _runner import emit, relative


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("work_dir", type=Path)
    args = parser.parse_args()
    folder = args.folder.resolve()
    start = time.perf_counter()
    import fastdup

    fd = fastdup.create(work_dir=str(args.work_dir), input_dir=str(folder))
    fd.run(overwrite=True, verbose=False)
    seconds = time.perf_counter() - start
    emit(
        {
            "peer": "fastdup",
            "version": fastdup.__version__,
            "seconds": seconds,
            **_results(fd, folder),
        }
    )


def _results(fd, folder: Path) -> dict:
    cc, _ = fd.connected_components()
    groups = []
    if cc is not None and len(cc):
        for _, members in cc.groupby("component_id")["filename"]:
            if len(members) > 1:
                groups.append(sorted(relative(p, folder) for p in members))
    sim = fd.similarity()
    pairs = (
        []
        if sim is None or sim.empty
        else sorted(
            {
                tuple(sorted((relative(a, folder), relative(b, folder))))
                for a, b in zip(sim["filename_from"], sim["filename_to"], strict=True)
            }
        )
    )
    stats = fd.img_stats()
    invalid = fd.invalid_instances()
    outliers = fd.outliers()
    return {
        "images": int(len(stats)),
        "groups": {"components_0.96": groups},
        "pairs": {"similarity_0.9_k2": [list(p) for p in pairs]},
        "findings": {
            "invalid": 0 if invalid is None else int(len(invalid)),
            "outliers": 0 if outliers is None else int(len(outliers)),
            "duplicate_components": len(groups),
            "images_in_components": sum(len(g) for g in groups),
            "blurry": int((stats["blur"] < 150).sum()),
            "dark": int((stats["mean"] < 4).sum()),
            "bright": int((stats["mean"] > 253).sum()),
        },
    }


if __name__ == "__main__":
    main()
