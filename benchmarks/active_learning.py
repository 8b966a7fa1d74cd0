"""Active learning: labels needed by uncertainty sampling versus random, on real labelled images.

Simulated annotation with the labels hidden until "annotated". Data (embedded by the offline
backbone, cached in build/cache/): Fashion-MNIST (a pool of the first ``--pool`` training
images, the next ``--test`` as a fixed test set) and the Tux Paint stamps (classes of 10+
stamps; a stratified two-thirds pool, one-third test). The learner is the backend's fast path,
:func:`winnow.learn.linear_head.fit_linear_head`.

Every strategy and seed starts from the same random seed set (``2 K`` labels) and gets the same
label schedule: each round labels ``max(min_batch, 20%)`` more, chosen at random or as the
lowest :func:`analysis.uncertainty.uncertainty_score` (margin, least confidence, entropy). After
each round the head is refitted and scored on the test set. Reported: the labels the mean curve
needs to reach 90% and 95% of the full-pool accuracy (linear interpolation between rounds) and
the saving against random. Plots go to docs/images/active_learning_<dataset>.png.

``--fastai LABELS`` runs only the fine-tune case instead: the backend's fastai path
(:func:`winnow.learn.trainer.fine_tune`, scheduled by optimiser steps) against the linear head
on the same ``LABELS`` random Tux Paint labels (one seed), both scored on the test third, so
the docs can say from how many labels fine-tuning pays on the CPU.

    python benchmarks/active_learning.py [--seeds 3] [--pool 4000] [--test 2000] [--record]
    python benchmarks/active_learning.py --fastai 120 [--seed 0] [--record]
    python benchmarks/active_learning.py --multi-label [--seeds 3] [--record]
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from _common import machine_line, record_result

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
STRATEGIES = ("random", "margin", "least_confidence", "entropy")
FRACTIONS = (0.90, 0.95)
TARGET_SAVING = 0.30
FASTAI_TITLE = "Active learning: fastai fine-tune vs linear head"


@dataclass(frozen=True)
class Task:
    """One labelled data set split into an unlabelled pool and a fixed test set."""

    name: str
    classes: tuple[str, ...]
    x_pool: np.ndarray
    y_pool: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    budget: int
    min_batch: int


def load_tasks(pool: int, test: int, which: list[str]) -> list[Task]:
    """Embed (or read from the cache) the data sets; heavy imports stay out of workers."""
    from _label_data import fashion_mnist, tuxpaint

    from winnow.config import get_settings
    from winnow.models import make_embedder

    embedder = make_embedder(get_settings().embedding)
    tasks = []
    if "fashion-mnist" in which:
        x, y, names = fashion_mnist(pool + test, embedder)
        tasks.append(
            Task(
                "fashion-mnist",
                names,
                x[:pool],
                y[:pool],
                x[pool:],
                y[pool:],
                budget=1200,
                min_batch=10,
            )
        )
    if "tuxpaint" in which:
        x, y, names = tuxpaint(embedder)
        test_mask = _stratified_mask(y, 1 / 3, seed=0)
        tasks.append(
            Task(
                "tuxpaint",
                names,
                x[~test_mask],
                y[~test_mask],
                x[test_mask],
                y[test_mask],
                budget=420,
                min_batch=6,
            )
        )
    return tasks


def _stratified_mask(y: np.ndarray, fraction: float, *, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(y), bool)
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        mask[members[: max(1, round(fraction * len(members)))]] = True
    return mask


def schedule(start: int, budget: int, min_batch: int) -> list[int]:
    """Label counts after each round: +20% per round, at least ``min_batch``."""
    counts = [start]
    while counts[-1] < budget:
        counts.append(min(budget, counts[-1] + max(min_batch, round(0.2 * counts[-1]))))
    return counts


def _fit(task: Task, picked: np.ndarray):
    from winnow.learn.linear_head import fit_linear_head

    labels = [[task.classes[c]] for c in task.y_pool[picked]]
    return fit_linear_head(
        task.x_pool[picked], labels, classes=list(task.classes), multi_label=False
    )


def accuracy(task: Task, head) -> float:
    return float(np.mean(head.predict_proba(task.x_test).argmax(axis=1) == task.y_test))


def simulate(task: Task, strategy: str, seed: int) -> np.ndarray:
    """Test accuracy after each round of the schedule, for one strategy and seed."""
    from analysis.uncertainty import uncertainty_score

    rng = np.random.default_rng(seed)
    counts = schedule(2 * len(task.classes), task.budget, task.min_batch)
    order = rng.permutation(len(task.y_pool))  # seed set, then random picks, in this order
    picked, curve = order[: counts[0]], []
    for nxt in [*counts[1:], None]:
        head = _fit(task, picked)
        curve.append(accuracy(task, head))
        if nxt is None:
            break
        if strategy == "random":
            new = order[len(picked) : nxt]  # random picks never reorder: a prefix of ``order``
        else:
            rest = rng.permutation(np.setdiff1d(order, picked))  # random tie-breaking
            scores = uncertainty_score(head.predict_proba(task.x_pool[rest]), strategy)
            new = rest[np.argsort(scores, kind="stable")[: nxt - len(picked)]]
        picked = np.concatenate([picked, new])
    return np.array(curve)


_TASK: Task | None = None


def _init(task: Task) -> None:
    global _TASK
    _TASK = task
    _one_blas_thread()


def _one_blas_thread() -> None:
    """One BLAS thread per process: the workers already fill the cores, and oversubscribed
    BLAS threads made each fit many times slower on a busy machine."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _run(job: tuple[str, int]) -> tuple[str, int, np.ndarray, float]:
    start = time.perf_counter()
    curve = simulate(_TASK, *job)
    return job[0], job[1], curve, time.perf_counter() - start


def run_all(task: Task, seeds: int, workers: int) -> dict[str, np.ndarray]:
    """Curves ``(seeds, rounds)`` per strategy, the jobs spread over worker processes."""
    jobs = [(s, seed) for seed in range(seeds) for s in STRATEGIES]
    curves: dict[str, list] = {s: [None] * seeds for s in STRATEGIES}
    with ProcessPoolExecutor(workers, get_context("spawn"), _init, (task,)) as pool:
        for strategy, seed, curve, _ in pool.map(_run, jobs):
            curves[strategy][seed] = curve
    return {s: np.vstack(c) for s, c in curves.items()}


def labels_to_reach(counts: list[int], curve: np.ndarray, target: float) -> float | None:
    """Labels where ``curve`` first reaches ``target`` (linear between rounds); None if never."""
    above = np.flatnonzero(curve >= target)
    if not len(above):
        return None
    i = int(above[0])
    if i == 0:
        return float(counts[0])
    a0, a1 = curve[i - 1], curve[i]
    return counts[i - 1] + (target - a0) / (a1 - a0) * (counts[i] - counts[i - 1])


def summarise(task: Task, curves: dict[str, np.ndarray], full: float) -> list[str]:
    """Labels to 90% / 95% of the full-pool accuracy per strategy, and the saving vs random."""
    counts = schedule(2 * len(task.classes), task.budget, task.min_batch)
    lines = [
        f"{task.name}: pool {len(task.y_pool)}, test {len(task.y_test)}, "
        f"{len(task.classes)} classes; full-pool accuracy {full:.3f}; seed set "
        f"{counts[0]}, {len(counts)} rounds to {counts[-1]} labels, "
        f"{len(curves['random'])} seeds"
    ]
    for fraction in FRACTIONS:
        target = fraction * full
        base = labels_to_reach(counts, curves["random"].mean(axis=0), target)
        cells = []
        for strategy, curve in curves.items():
            need = labels_to_reach(counts, curve.mean(axis=0), target)
            per_seed = [labels_to_reach(counts, c, target) for c in curve]
            saving = "[baseline]" if strategy == "random" else _saving(need, base)
            cells.append(
                f"{strategy} {_fmt(need)} {saving} (seeds {'/'.join(_fmt(n) for n in per_seed)})"
            )
        lines.append(f"  labels to {fraction:.0%} ({target:.3f}): " + "; ".join(cells))
    for at in (counts[len(counts) // 2], counts[-1]):
        i = counts.index(at)
        accs = ", ".join(f"{s} {c[:, i].mean():.3f}" for s, c in curves.items())
        lines.append(f"  accuracy at {at} labels: {accs}")
    return lines


def _fmt(need: float | None) -> str:
    return "never" if need is None else f"{need:.0f}"


def _saving(need: float | None, base: float | None) -> str:
    if need is None or base is None:
        return "[saving n/a]"
    saving = 1 - need / base
    mark = "target met" if saving >= TARGET_SAVING else "below target"
    return f"[{saving:+.0%} vs random, {mark}]"


def plot(task: Task, curves: dict[str, np.ndarray], full: float) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = schedule(2 * len(task.classes), task.budget, task.min_batch)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for strategy, curve in curves.items():
        mean, std = curve.mean(axis=0), curve.std(axis=0)
        ax.plot(counts, mean, marker=".", label=strategy)
        ax.fill_between(counts, mean - std, mean + std, alpha=0.15)
    for fraction, style in zip(FRACTIONS, (":", "--"), strict=True):
        ax.axhline(
            fraction * full,
            color="grey",
            linestyle=style,
            linewidth=1,
            label=f"{fraction:.0%} of full-pool accuracy",
        )
    ax.set_xscale("log")
    ax.set_xlabel("labels (log scale)")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"Active learning on {task.name}: linear head, mean of {len(curve)} seeds")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    IMAGES.mkdir(parents=True, exist_ok=True)
    path = IMAGES / f"active_learning_{task.name}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _tuxpaint_images(labels: np.ndarray, image_size: int) -> list:
    """The Tux Paint stamps in :func:`_label_data.tuxpaint`'s order, decoded as the backend
    decodes task images for its networks."""
    from _label_data import MIN_CLASS

    from winnow.imageio import decode_image
    from winnow.samples import TUXPAINT_ROOT

    by_class: dict[str, list[Path]] = {}
    for path in sorted(TUXPAINT_ROOT.rglob("*.png")):
        if "_mirror" not in path.stem and "_thumb" not in path.stem:
            by_class.setdefault(path.relative_to(TUXPAINT_ROOT).parts[0], []).append(path)
    names = sorted(c for c, paths in by_class.items() if len(paths) >= MIN_CLASS)
    paths = [p for c in names for p in by_class[c]]
    if len(paths) != len(labels):
        raise RuntimeError(f"{len(paths)} stamps on disk, {len(labels)} embedded")
    return [
        decode_image(p.read_bytes(), str(p), max_pixels=10**8, min_side=image_size).image.convert(
            "RGB"
        )
        for p in paths
    ]


def fastai_case(n_labels: int, seed: int, image_size: int = 128) -> list[str]:
    """The fine-tune against the linear head on the same random labels of the Tux Paint pool."""
    from winnow.learn.trainer import FitOptions, fine_tune

    [task] = load_tasks(0, 0, ["tuxpaint"])
    _, y, _ = _tuxpaint_raw()
    images = _tuxpaint_images(y, image_size)
    test_mask = _stratified_mask(y, 1 / 3, seed=0)  # the split load_tasks made
    pool = [im for im, t in zip(images, test_mask, strict=True) if not t]
    test = [im for im, t in zip(images, test_mask, strict=True) if t]
    picked = np.random.default_rng(seed).permutation(len(task.y_pool))[:n_labels]
    start = time.perf_counter()
    linear = accuracy(task, _fit(task, picked))
    linear_s = time.perf_counter() - start
    start = time.perf_counter()
    net = fine_tune(
        [pool[i] for i in picked],
        [[task.classes[c]] for c in task.y_pool[picked]],
        classes=list(task.classes),
        multi_label=False,
        options=FitOptions(epochs=3, image_size=image_size, seed=seed),
    )
    fit_s = time.perf_counter() - start
    tuned = float(np.mean(net.predict_proba(test).argmax(axis=1) == task.y_test))
    plan = net.schedule
    return [
        f"tuxpaint: {n_labels} random labels of the pool (seed {seed}), {len(task.classes)} "
        f"classes, test {len(task.y_test)}",
        f"  linear head on cached embeddings: accuracy {linear:.3f} (fit {linear_s:.2f} s)",
        f"  fastai {net.arch} fine-tune at {image_size} px: accuracy {tuned:.3f} "
        f"(fit {fit_s:.0f} s; {net.steps_taken} optimiser steps of batch {plan.batch_size}, "
        f"{plan.freeze_epochs} frozen + {plan.epochs} unfrozen epochs)",
        f"  fine-tune minus linear head: {tuned - linear:+.3f}",
    ]


def _tuxpaint_raw():
    from _label_data import tuxpaint

    from winnow.config import get_settings
    from winnow.models import make_embedder

    return tuxpaint(make_embedder(get_settings().embedding))


# --- multi-label: Fashion-MNIST mosaics -----------------------------------------------------

MULTI_TITLE = "Active learning: multi-label uncertainty vs random sampling"
# (method, reduce) of analysis.uncertainty.uncertainty_score(multi_label=True), or random
MULTI_STRATEGIES = {
    "random": None,
    "min-margin": ("margin", "min"),
    "mean-margin": ("margin", "mean"),
    "mean-entropy": ("entropy", "mean"),
}
MULTI_BUDGETS = (200, 500)


@dataclass(frozen=True)
class MultiTask:
    """Mosaics as mean-pooled pixels; label matrices ``(N, K)`` bool."""

    classes: tuple[str, ...]
    x_pool: np.ndarray
    y_pool: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_mosaics(pool: int, test: int) -> MultiTask:
    """Pool from the train split, test from the test split: 4 x 4 mean-pooled pixels (14 x 14),
    cheap features that still leave room between a few labels and the full pool."""
    from winnow.mosaics import fashion_mnist_mosaics

    def pooled(images: np.ndarray) -> np.ndarray:
        n = len(images)
        return images.reshape(n, 14, 4, 14, 4).mean(axis=(2, 4)).reshape(n, -1) / 255.0

    xp, yp, names = fashion_mnist_mosaics(pool, split="train", seed=0)
    xt, yt, _ = fashion_mnist_mosaics(test, split="test", seed=1)
    return MultiTask(names, pooled(xp), yp, pooled(xt), yt)


def _fit_multi(task: MultiTask, picked: np.ndarray):
    from winnow.learn.linear_head import fit_linear_head

    labels = [[task.classes[c] for c in np.flatnonzero(row)] for row in task.y_pool[picked]]
    return fit_linear_head(
        task.x_pool[picked], labels, classes=list(task.classes), multi_label=True
    )


def macro_ap(task: MultiTask, head) -> float:
    """Macro average precision over classes on the held-out mosaics (sklearn)."""
    from sklearn.metrics import average_precision_score

    return float(
        average_precision_score(task.y_test, head.predict_proba(task.x_test), average="macro")
    )


def simulate_multi(task: MultiTask, strategy: str, seed: int) -> np.ndarray:
    """Held-out macro AP after each round (the label schedule of the single-label case)."""
    from analysis.uncertainty import uncertainty_score

    rng = np.random.default_rng(seed)
    counts = schedule(2 * len(task.classes), max(MULTI_BUDGETS), 10)
    order = rng.permutation(len(task.y_pool))
    picked, curve = order[: counts[0]], []
    for nxt in [*counts[1:], None]:
        head = _fit_multi(task, picked)
        curve.append(macro_ap(task, head))
        if nxt is None:
            break
        if MULTI_STRATEGIES[strategy] is None:
            new = order[len(picked) : nxt]
        else:
            method, reduce = MULTI_STRATEGIES[strategy]
            rest = rng.permutation(np.setdiff1d(order, picked))
            probs = head.predict_proba(task.x_pool[rest]).astype(np.float64)
            scores = uncertainty_score(probs, method, multi_label=True, reduce=reduce)
            new = rest[np.argsort(scores, kind="stable")[: nxt - len(picked)]]
        picked = np.concatenate([picked, new])
    return np.array(curve)


_MULTI: MultiTask | None = None


def _init_multi(task: MultiTask) -> None:
    global _MULTI
    _MULTI = task
    _one_blas_thread()


def _run_multi(job: tuple[str, int]) -> tuple[str, int, np.ndarray]:
    return job[0], job[1], simulate_multi(_MULTI, *job)


def multi_label_case(pool: int, test: int, seeds: int, workers: int) -> list[str]:
    """Macro AP at each budget per strategy (mean and per seed), and the gain over random."""
    task = load_mosaics(pool, test)
    full = macro_ap(task, _fit_multi(task, np.arange(len(task.y_pool))))
    jobs = [(s, seed) for seed in range(seeds) for s in MULTI_STRATEGIES]
    curves: dict[str, list] = {s: [None] * seeds for s in MULTI_STRATEGIES}
    with ProcessPoolExecutor(workers, get_context("spawn"), _init_multi, (task,)) as ex:
        for strategy, seed, curve in ex.map(_run_multi, jobs):
            curves[strategy][seed] = curve
    counts = schedule(2 * len(task.classes), max(MULTI_BUDGETS), 10)
    cardinality = task.y_pool.sum(axis=1).mean()
    lines = [
        f"fashion-mnist mosaics: pool {len(task.y_pool)}, test {len(task.y_test)}, "
        f"{len(task.classes)} classes, mean {cardinality:.2f} labels per mosaic; 14x14 "
        f"mean-pooled pixels, one-vs-rest linear head; full-pool macro AP {full:.3f}; seed set "
        f"{counts[0]}, {seeds} seeds"
    ]
    for budget in MULTI_BUDGETS:
        i = counts.index(budget) if budget in counts else int(np.searchsorted(counts, budget))
        base = np.vstack(curves["random"])[:, i].mean()
        cells = []
        for strategy, per_seed in curves.items():
            at = np.vstack(per_seed)[:, i]
            gain = "" if strategy == "random" else f" [{at.mean() - base:+.3f} vs random]"
            seeds_txt = "/".join(f"{a:.3f}" for a in at)
            cells.append(f"{strategy} {at.mean():.3f}{gain} (seeds {seeds_txt})")
        lines.append(f"  macro AP at {counts[i]} labels: " + "; ".join(cells))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--pool", type=int, default=4000, help="Fashion-MNIST pool size")
    parser.add_argument("--test", type=int, default=2000, help="Fashion-MNIST test size")
    parser.add_argument("--datasets", nargs="+", default=["fashion-mnist", "tuxpaint"])
    parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1))
    parser.add_argument("--record", action="store_true", help="append to RESULTS.md")
    parser.add_argument("--fastai", type=int, metavar="LABELS", help="only the fine-tune case")
    parser.add_argument("--seed", type=int, default=0, help="seed of the --fastai case")
    parser.add_argument(
        "--multi-label", action="store_true", help="only the multi-label case (mosaics)"
    )
    parser.add_argument("--mosaic-pool", type=int, default=3000, help="mosaics in the pool")
    parser.add_argument("--mosaic-test", type=int, default=1000, help="held-out mosaics")
    args = parser.parse_args()

    start = time.perf_counter()
    if args.multi_label:
        _one_blas_thread()
        lines = multi_label_case(args.mosaic_pool, args.mosaic_test, args.seeds, args.workers)
        lines += [
            f"total {time.perf_counter() - start:.0f} s, load average {os.getloadavg()[0]:.1f}",
            machine_line(),
        ]
        print("\n".join(lines))
        if args.record:
            record_result(MULTI_TITLE, lines)
        return
    if args.fastai:
        lines = fastai_case(args.fastai, args.seed)
        lines += [
            f"total {time.perf_counter() - start:.0f} s, load average {os.getloadavg()[0]:.1f}",
            machine_line(),
        ]
        print("\n".join(lines))
        if args.record:
            record_result(FASTAI_TITLE, lines)
        return
    _one_blas_thread()
    lines = []
    for task in load_tasks(args.pool, args.test, args.datasets):
        full = accuracy(task, _fit(task, np.arange(len(task.y_pool))))
        curves = run_all(task, args.seeds, args.workers)
        lines += summarise(task, curves, full)
        lines.append(f"  plot: {plot(task, curves, full).relative_to(ROOT)}")
    lines += [
        f"total {time.perf_counter() - start:.0f} s, load average {os.getloadavg()[0]:.1f}",
        machine_line(),
    ]
    print("\n".join(lines))
    if args.record:
        record_result("Active learning: uncertainty vs random sampling", lines)


if __name__ == "__main__":
    main()
