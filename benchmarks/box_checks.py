"""Box checks: precision and recall on deliberately damaged real annotations.

The real boxes of Debian's ``labelme-examples`` (VOC photos from its COCO set, video frames
and the tutorial photo, polygons turned into boxes) get one corruption at a time, in many
random trials: shifted (by 30-60% of the box size), out of bounds, zero area, duplicated,
wrong label (another class of the set), dropped, spurious (a box where nothing is).

No COCO detector weights ship offline, so the detector is *simulated* from the clean boxes:
each object found with probability ``--recall``, jittered by ``--jitter`` of its size,
scored 0.6-0.99, plus weak random boxes and, on a third of the images, one confident false
positive. This measures the checks' logic (sanity rules and Cleanlab's ObjectLab scores with
IoU reasons), not a real detector.

A finding counts as correct when it points at a damaged box (its row) or, for dropped,
shifted and relabelled boxes, at a detection of the damaged object (IoU >= 0.5 with the
original box). Recall per corruption: trials where the damage was found.

    python benchmarks/box_checks.py [--trials 300] [--record]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import numpy as np
import pandas as pd
from _common import machine_line, record_result

from analysis.box_compare import compare_with_detections
from analysis.boxes import box_sanity, iou_matrix
from winnow.detection.base import Detection
from winnow.detection.labelme import example_boxes

CORRUPTIONS = (
    "shifted",
    "out_of_bounds",
    "zero_area",
    "duplicated",
    "wrong_label",
    "dropped",
    "spurious",
)
XY = ["x1", "y1", "x2", "y2"]


def simulate_detector(
    clean: pd.DataFrame, rng: np.random.Generator, *, recall: float, jitter: float, fp_rate: float
) -> dict[str, Detection]:
    classes = sorted(clean["label"].unique())
    found = {}
    for path, group in clean.groupby("path", sort=False):
        w, h = int(group["img_width"].iloc[0]), int(group["img_height"].iloc[0])
        seen = group[rng.random(len(group)) < recall]
        xy = seen[XY].to_numpy(float, copy=True)
        size = np.repeat(xy[:, 2:] - xy[:, :2], 2, axis=0).reshape(-1, 4)
        xy += rng.normal(0, jitter, xy.shape) * np.abs(size)
        labels, scores = list(seen["label"]), list(rng.uniform(0.6, 0.99, len(seen)))
        n_fp = 3 + int(rng.random() < fp_rate)
        for k in range(n_fp):
            x, y = rng.uniform(0, w * 0.8), rng.uniform(0, h * 0.8)
            xy = np.vstack([xy, [x, y, x + rng.uniform(20, w * 0.2), y + rng.uniform(20, h * 0.2)]])
            labels.append(str(rng.choice(classes)))
            scores.append(rng.uniform(0.5, 0.8) if k == 3 else rng.uniform(0.05, 0.3))
        found[path] = Detection(
            xy.astype(np.float32), tuple(labels), np.array(scores, np.float32), "simulated", w, h
        )
    return found


def corrupt(
    clean: pd.DataFrame, kind: str, rng: np.random.Generator
) -> tuple[pd.DataFrame, int, int | None]:
    """The damaged frame, the damaged row's index, and the clean row it came from."""
    bad = clean.copy()
    i = int(rng.choice(clean.index))
    x1, y1, x2, y2 = clean.loc[i, XY]
    w, h = clean.loc[i, "img_width"], clean.loc[i, "img_height"]
    if kind == "shifted":
        dx, dy = rng.uniform(0.3, 0.6) * (x2 - x1), rng.uniform(0.3, 0.6) * (y2 - y1)
        dx, dy = dx * rng.choice([-1, 1]), dy * rng.choice([-1, 1])
        bad.loc[i, XY] = [x1 + dx, y1 + dy, x2 + dx, y2 + dy]
    elif kind == "out_of_bounds":
        bad.loc[i, ["x2", "y2"]] = [w + rng.uniform(10, 0.5 * w), y2]
    elif kind == "zero_area":
        bad.loc[i, "x2"] = x1
    elif kind == "wrong_label":
        others = sorted(set(clean["label"]) - {clean.loc[i, "label"]})
        bad.loc[i, "label"] = str(rng.choice(others))
    elif kind == "dropped":
        return bad.drop(index=i), -1, i
    elif kind in ("duplicated", "spurious"):
        row = clean.loc[[i]].copy()
        if kind == "duplicated":
            row[XY] = [x1 + 1, y1 + 1, x2 + 1, y2]
        else:
            bw, bh = rng.uniform(0.1, 0.3) * w, rng.uniform(0.1, 0.3) * h
            x, y = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
            row[XY] = [x, y, x + bw, y + bh]
        new = int(clean.index.max()) + 1
        return pd.concat([bad, row.set_axis([new])]), new, None
    return bad, i, i


def is_correct(
    finding: pd.Series,
    damaged: int,
    origin: int | None,
    clean: pd.DataFrame,
    detections: dict[str, Detection],
) -> bool:
    ref = finding["group"].rsplit("#", 1)[1]
    if not ref.startswith("det"):
        return int(ref) == damaged
    if origin is None or finding["path"] != clean.loc[origin, "path"]:
        return False
    box = detections[finding["path"]].boxes[int(ref[3:])][None]
    return iou_matrix(box, clean.loc[[origin], XY].to_numpy(float))[0, 0] >= 0.5


def run(
    trials: int, recall: float, jitter: float, fp_rate: float, seed: int
) -> tuple[dict, Counter, float]:
    clean = example_boxes()
    classes = sorted(clean["label"].unique())
    rng = np.random.default_rng(seed)
    hits, counts, started = Counter(), Counter(), time.perf_counter()
    for t in range(trials):
        kind = CORRUPTIONS[t % len(CORRUPTIONS)]
        detections = simulate_detector(clean, rng, recall=recall, jitter=jitter, fp_rate=fp_rate)
        bad, damaged, origin = corrupt(clean, kind, rng)
        found = pd.concat(
            [box_sanity(bad, classes=classes), compare_with_detections(bad, detections)],
            ignore_index=True,
        )
        correct = [is_correct(f, damaged, origin, clean, detections) for _, f in found.iterrows()]
        counts[kind] += 1
        hits[kind] += any(correct)
        strong = (found["score"] > 0.5).to_numpy()
        hits["strong:" + kind] += any(c and st for c, st in zip(correct, strong, strict=True))
        hits["tp"] += sum(correct)
        hits["fp"] += len(correct) - sum(correct)
        hits["strong_tp"] += sum(c and st for c, st in zip(correct, strong, strict=True))
        hits["strong_fp"] += sum(st and not c for c, st in zip(correct, strong, strict=True))
        for f, ok in zip(found["issue_type"], correct, strict=True):
            hits[f"fp:{f}"] += not ok
    seconds = time.perf_counter() - started
    return {k: hits[k] / counts[k] for k in CORRUPTIONS}, hits, seconds / trials


def report(name: str, args: argparse.Namespace, recall: float, fp_rate: float) -> list[str]:
    recalls, hits, per_trial = run(args.trials, recall, args.jitter, fp_rate, args.seed)
    precision = hits["tp"] / max(1, hits["tp"] + hits["fp"])
    strong = hits["strong_tp"] / max(1, hits["strong_tp"] + hits["strong_fp"])
    fps = ", ".join(f"{k[3:]} {v}" for k, v in sorted(hits.items()) if k.startswith("fp:") and v)
    return [
        f"{name} detector: recall {recall}, jitter {args.jitter} of box size, 3 weak false "
        f"positives per image, a confident one on {fp_rate:.0%} of images",
        f"  precision, all findings: {precision:.3f} ({hits['tp']} correct, {hits['fp']} wrong)"
        f"; findings scored > 0.5: {strong:.3f} ({hits['strong_tp']} / {hits['strong_fp']})",
        "  recall per corruption (all / scored > 0.5): "
        + ", ".join(
            f"{k} {v:.2f}/{hits['strong:' + k] / (args.trials / len(CORRUPTIONS)):.2f}"
            for k, v in recalls.items()
        ),
        f"  wrong findings by type: {fps or 'none'}",
        f"  time: {1000 * per_trial:.0f} ms per trial (all checks over all images)",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=210, help="a multiple of 7")
    parser.add_argument("--jitter", type=float, default=0.05, help="box noise, share of size")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    boxes = example_boxes()
    lines = [
        machine_line(),
        f"data: {len(boxes)} real boxes on {boxes['path'].nunique()} labelme-examples images; "
        f"{args.trials} trials per detector, one corruption each ({', '.join(CORRUPTIONS)})",
        *report("good", args, recall=1.0, fp_rate=0.0),
        *report("realistic", args, recall=0.9, fp_rate=1 / 3),
    ]
    for line in lines:
        print(line)
    if args.record:
        record_result("Box checks on damaged labelme-examples boxes", lines)


if __name__ == "__main__":
    main()
