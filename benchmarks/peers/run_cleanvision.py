"""cleanvision 0.3.7 on one folder; prints JSON (see _runner.py).

    python run_cleanvision.py FOLDER --issues near_duplicates   # near-duplicate sets only
    python run_cleanvision.py FOLDER                            # every default issue type

Defaults throughout: near duplicates are images with identical 8x8 pHashes (its default
``hash_size`` 8); exact duplicates share an MD5.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from _runner import emit, relative


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--issues", action="append", help="issue types (default: all default)")
    args = parser.parse_args()
    folder = args.folder.resolve()
    start = time.perf_counter()
    import cleanvision
    from cleanvision import Imagelab

    lab = Imagelab(data_path=str(folder))
    lab.find_issues({name: {} for name in args.issues} if args.issues else None)
    seconds = time.perf_counter() - start
    summary = lab.issue_summary
    groups = {}
    for kind in ("near_duplicates", "exact_duplicates"):
        if kind in lab.info:
            groups[kind] = [[relative(p, folder) for p in s] for s in lab.info[kind]["sets"]]
    emit(
        {
            "peer": "cleanvision",
            "version": cleanvision.__version__,
            "seconds": seconds,
            "images": int(len(lab.issues)),
            "findings": {str(r["issue_type"]): int(r["num_images"]) for _, r in summary.iterrows()},
            "groups": groups,
        }
    )


if __name__ == "__main__":
    main()
