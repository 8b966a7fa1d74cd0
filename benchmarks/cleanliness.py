"""Performance against cleanliness and size: a light head trained on noisy, cleaned and true labels.

Real labelled images (the first ``--n`` Fashion-MNIST training images, optionally the Tux Paint
stamps; embedded by the offline backbone and cached, as ``label_noise.py`` does) are split,
stratified, into a training part (80%) and a clean held-out part (20%, true labels). 5%, 10% and
20% of the training labels are changed (``label_noise.inject``: uniform, and class-conditional).
Winnow's own label-issue pipeline then flags them exactly as ``winnow audit`` does
(``analysis.label_issue_estimate.run_queues``: out-of-sample probabilities, Cleanlab's flags,
the "likely" cut calibrated by planted flips), and the light head
(``analysis.label_cleaning.light_head``, the audit's probe) is trained on:

- raw: the noisy labels;
- drop: the likely queue removed;  relabel: the likely queue given the model's suggestion;
- drop-all: every Cleanlab flag (likely and possible) removed;
- true: the labels before the noise (the ceiling).

Size: the same at ``--fractions`` of the training part (a random subset, the pipeline re-run on
it), at ``--size-rate`` only, to keep the run short. Accuracy on the held-out part, mean over
``--seeds`` (noise and subset draws).

    python benchmarks/cleanliness.py [--n 4000] [--seeds 1] [--rates 0.05 0.1 0.2] [--record]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from _common import machine_line, record_result
from _label_data import fashion_mnist, tuxpaint
from label_noise import inject
from sklearn.model_selection import train_test_split

from analysis.label_cleaning import CleanlinessCurve, CurvePoint, clean_labels, light_head, scores
from analysis.label_issue_estimate import run_queues
from winnow.config import get_settings
from winnow.models import make_embedder

TITLE = "Cleanliness and size: accuracy on raw, cleaned and true labels"
HELD_OUT = 0.2
KINDS = ("uniform", "class-conditional")


def run_setting(
    data: dict, kind: str, rate: float, fraction: float, seed: int, args
) -> tuple[list[CurvePoint], dict]:
    """The five models of one (noise, rate, fraction, seed); returns points and queue facts."""
    x, y, xt, yt, k = data["x"], data["y"], data["xt"], data["yt"], data["k"]
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.permutation(len(y))[: int(round(fraction * len(y)))])
    x, y = x[rows], y[rows]
    noisy = inject(y, rate, kind, k, seed) if rate > 0 else y.copy()
    run = run_queues(x, noisy, n_classes=k, seed=seed, seeds=args.plant_seeds)
    likely, suggested = run.point.likely, run.issues.suggested
    fit = light_head(k)
    variants = {
        "raw": clean_labels(noisy, likely, mode="raw"),
        "drop": clean_labels(noisy, likely, mode="drop"),
        "relabel": clean_labels(noisy, likely, mode="relabel", suggested=suggested),
        "drop-all": clean_labels(noisy, run.point.ranked, mode="drop"),
        "true": (np.arange(len(y)), y),
    }
    points = []
    for name, (keep, labels) in variants.items():
        acc, f1 = scores(fit(x[keep], labels, seed), xt, yt)
        points.append(CurvePoint(kind, rate, fraction, seed, name, len(keep), acc, f1))
    wrong = noisy != y
    facts = {
        "likely": len(likely),
        "precision": float(wrong[likely].mean()) if len(likely) else float("nan"),
        "recall": float(wrong[likely].sum() / max(wrong.sum(), 1)),
        "relabel_right": float((suggested[likely] == y[likely]).mean()) if len(likely) else 0.0,
    }
    return points, facts


def evaluate(name: str, data: tuple, args) -> list[str]:
    x, y, names = data
    x, xt, y, yt = train_test_split(
        x, y, test_size=HELD_OUT, stratify=y, random_state=args.split_seed
    )
    d = {"x": x, "y": y, "xt": xt, "yt": yt, "k": len(names)}
    settings = [(kind, r, 1.0) for kind in args.kinds for r in args.rates]
    settings += [(kind, args.size_rate, f) for kind in args.kinds for f in args.fractions if f < 1]
    points, facts = [], {}
    t0 = time.perf_counter()
    for seed in range(args.seeds):
        for kind, rate, fraction in settings:
            got, fact = run_setting(d, kind, rate, fraction, seed, args)
            points += got
            facts.setdefault((kind, rate, fraction), []).append(fact)
    seconds = time.perf_counter() - t0
    curve = CleanlinessCurve(tuple(points))
    return [
        f"{name}: {len(y)} training / {len(yt)} clean held-out images, {len(names)} classes, "
        f"{args.seeds} seed(s), {args.plant_seeds} planting seeds, {seconds:.0f} s",
        *table_lines(curve, facts),
    ]


def table_lines(curve: CleanlinessCurve, facts: dict) -> list[str]:
    table = curve.table()
    n_train = curve.frame().pivot_table(
        index=["noise", "rate", "fraction"], columns="labels", values="n_train"
    )
    closed = {v: curve.gap_closed(v) for v in ("drop", "relabel", "drop-all")}
    lines = [
        "  noise              rate  size  n_train | likely: n    P    R  relabel right |"
        "  accuracy: raw   drop  relabel drop-all  true | gap closed: drop relabel drop-all"
    ]
    for key, row in table.iterrows():
        kind, rate, fraction = key
        f = {k: _mean([x[k] for x in facts[key]]) for k in facts[key][0]}
        acc = "  ".join(f"{row[v]:.3f}" for v in ("raw", "drop", "relabel", "drop-all", "true"))
        gaps = "  ".join(_share(closed[v][key]) for v in closed)
        lines.append(
            f"  {kind:<17} {rate:4.0%}  {fraction:4.0%}  {int(n_train.loc[key, 'raw']):6d}"
            f"  |  {f['likely']:6.0f}  {_num(f['precision'])} {f['recall']:.2f}"
            f"      {f['relabel_right']:.2f}     |  {acc} |      {gaps}"
        )
    return lines


def _mean(values: list[float]) -> float:
    finite = [v for v in values if not np.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _share(value: float) -> str:
    return "   n/a" if np.isnan(value) else f"{value:6.2f}"


def _num(value: float) -> str:
    return " n/a" if np.isnan(value) else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4000, help="Fashion-MNIST images (80/20 split)")
    parser.add_argument("--seeds", type=int, default=1, help="noise and subset draws")
    parser.add_argument("--rates", type=float, nargs="+", default=[0.05, 0.1, 0.2])
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.25, 0.5, 1.0])
    parser.add_argument("--size-rate", type=float, default=0.1, help="noise of the size axis")
    parser.add_argument("--plant-seeds", type=int, default=3, help="as the audit (0: no cut)")
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--tuxpaint", action="store_true", help="also the Tux Paint stamps")
    parser.add_argument("--record", action="store_true", help="replace the RESULTS.md section")
    parser.add_argument("--note", default="", help="a line recorded under the output")
    args = parser.parse_args()

    embedder = make_embedder(get_settings().embedding)
    sets = [("Fashion-MNIST train", fashion_mnist(args.n, embedder))] if args.n else []
    if args.tuxpaint:
        sets.append(("Tux Paint stamps", tuxpaint(embedder)))
    lines = []
    for name, data in sets:
        lines += evaluate(name, data, args)
    lines += [
        f"load average {os.getloadavg()[0]:.1f} (2 cores, shared, loaded machine)",
        machine_line(),
    ]
    lines += [args.note] if args.note else []
    print("\n".join(lines))
    if args.record:
        record_result(TITLE, lines)


if __name__ == "__main__":
    main()
