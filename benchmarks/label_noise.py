"""Label issues: precision and recall on injected label noise, and speed at 100k embeddings.

Real labelled images (Fashion-MNIST training images and the Tux Paint stamps, embedded by the
offline backbone; cached in build/cache/) get 5%, 10% and 20% of their labels changed:

- uniform: the new label is any other class, equally likely;
- class-conditional: each class flips to one fixed other class (a random derangement), the
  hardest structured case for confident learning, which must tell "often confused" from
  "mislabelled".

For each setting: out-of-sample probabilities (``analysis.label_issues.out_of_sample_probs``),
then precision/recall of the flags against the injected changes (the data sets' own label
errors count as false positives) for Winnow's default filter (``both``) side by side with
Cleanlab's default (``prune_by_noise_rate``) and its two count-based filters, all on the same
probabilities; the precision of the quality ranking at recall 0.8 (what a reviewer working
down the queue sees) beside the same with the logistic probe averaged with a neighbour vote
(``--probe logistic+knn`` runs the queues and the speed test with it), and the probe's
accuracy on the clean labels. Speed: ``out_of_sample_probs`` + ``find_label_issues`` on 100k
synthetic clustered 1280-d unit vectors, 10 classes.

With ``--skip-filters`` only the queues run: the estimate beside the truth over ``--draws``
noise draws, and a simulated reviewer settling ``--review`` likely tasks (the View's top, or
the spot check's random sample) to check it.

    python benchmarks/label_noise.py [--n 10000] [--rates 0.05 0.1 0.2] [--record]
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter

import numpy as np
from _common import machine_line, record_result
from _label_data import fashion_mnist, tuxpaint

from analysis.label_issue_cut import OperatingPoint
from analysis.label_issue_estimate import (
    MAX_NOISE_CONCENTRATION,
    MIN_PROBE_ACCURACY,
    PLANTS,
    PLANTS_DEFAULT,
    run_queues,
    weak_probe_warning,
)
from analysis.label_issue_review import check_reviews, spot_check
from analysis.label_issues import PROBE_DEFAULT, PROBES, find_label_issues, out_of_sample_probs
from winnow.config import get_settings
from winnow.models import make_embedder

TARGET_PRECISION, TARGET_RECALL = 0.9, 0.8  # at 10% noise (issue target)
TOLERANCE = 0.1  # the estimate beside each queue must be this close to the truth
# The likely queue's goals at 10% noise (issue 19): (data set, noise) -> (precision, recall).
GOALS = {
    ("Fashion-MNIST", "uniform"): (0.9, 0.8),
    ("Fashion-MNIST", "class-conditional"): (0.85, 0.75),
    ("Tux Paint", "uniform"): (0.8, 0.75),
}
QUEUES_TITLE = "Label issues: likely/possible queues and their planted-flip estimate"
# Likely tasks a simulated reviewer settles: the spot-check View's size (sync.label_spot_check),
# which refills as tasks are settled, so a team can settle more (--review 50).
REVIEWED = 30


def inject(labels: np.ndarray, rate: float, kind: str, k: int, seed: int) -> np.ndarray:
    """A copy of ``labels`` with ``rate`` of them changed to a wrong class."""
    rng = np.random.default_rng(seed)
    noisy = labels.copy()
    if kind == "uniform":
        picked = rng.choice(len(labels), int(round(rate * len(labels))), replace=False)
        noisy[picked] = (labels[picked] + rng.integers(1, k, len(picked))) % k
        return noisy
    target = _derangement(k, rng)
    for c in range(k):  # the same share of every class
        members = np.flatnonzero(labels == c)
        picked = rng.choice(members, int(round(rate * len(members))), replace=False)
        noisy[picked] = target[c]
    return noisy


def _derangement(k: int, rng: np.random.Generator) -> np.ndarray:
    while True:
        perm = rng.permutation(k)
        if np.all(perm != np.arange(k)):
            return perm


def scores(flags: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    hits = int((flags & truth).sum())
    return hits / max(int(flags.sum()), 1), hits / max(int(truth.sum()), 1)


def precision_at_recall(quality: np.ndarray, truth: np.ndarray, recall: float) -> float:
    order = np.argsort(quality, kind="stable")
    found = np.cumsum(truth[order])
    i = int(np.searchsorted(found, recall * truth.sum()))
    return float(found[i] / (i + 1))


FILTERS = ("both", "prune_by_noise_rate", "low_self_confidence", "low_normalized_margin")


def evaluate(
    name: str, data: tuple[np.ndarray, np.ndarray, tuple[str, ...]], rates: list[float], seed: int
) -> list[str]:
    x, y, names = data
    k = len(names)
    notes: list[str] = []
    lines = [
        f"{name}: {len(y)} images, {k} classes, {x.shape[1]}-d embeddings",
        "  noise                 P / R by filter: " + ", ".join(FILTERS),
        "                        (first = Winnow default; second = Cleanlab default)"
        "            P@R0.8  (+knn vote)  probe  time",
    ]
    for kind in ("uniform", "class-conditional"):
        for rate in rates:
            noisy = inject(y, rate, kind, k, seed)
            truth = noisy != y
            t0 = time.perf_counter()
            probs = out_of_sample_probs(x, noisy, seed=seed)
            result = find_label_issues(noisy, probs)
            seconds = time.perf_counter() - t0
            found = [scores(result.is_issue, truth)] + [
                scores(find_label_issues(noisy, probs, filter_by=f).is_issue, truth)
                for f in FILTERS[1:]
            ]
            cells = "  ".join(f"{p:.3f}/{r:.3f}" for p, r in found)
            met = ""
            if abs(rate - 0.1) < 1e-9:
                ok = found[0][0] >= TARGET_PRECISION and found[0][1] >= TARGET_RECALL
                met = "  target met" if ok else "  target NOT met"
                if kind == "uniform":
                    notes = false_positive_pairs(result, noisy, truth, names)
            vote = out_of_sample_probs(x, noisy, seed=seed, probe="logistic+knn")
            voted = find_label_issues(noisy, vote)
            lines.append(
                f"  {kind:<17} {rate:4.0%}  {cells}  "
                f"{precision_at_recall(result.quality, truth, 0.8):.3f}  "
                f"({precision_at_recall(voted.quality, truth, 0.8):.3f})  "
                f"{np.mean(probs.argmax(1) == y):.3f}  {seconds:5.1f}s{met}"
            )
    return lines + notes


def evaluate_queues(
    name: str,
    data: tuple[np.ndarray, np.ndarray, tuple[str, ...]],
    rates: list[float],
    seed: int,
    *,
    seeds: int,
    precision: float,
    plants: str = PLANTS_DEFAULT,
    probe: str = PROBE_DEFAULT,
    draws: int = 1,
    reviewed: int = REVIEWED,
) -> list[str]:
    """The two queues at the default cut: true precision/recall beside the estimate.

    Each setting runs ``draws`` times, with noise injected by seeds ``seed .. seed + draws - 1``
    and plants placed by the same seeds: one draw can land inside the 0.1 band by luck (the
    cut moves with a handful of plants), so the band is counted over every draw. The row
    shows the first draw; ``band`` counts the draws inside it, ``over`` those whose likely
    queue promised more than 0.1 above its true precision without being marked unreliable.

    Then a reviewer settles ``reviewed`` tasks of each draw's likely queue, once from the top
    of its View (the most probably wrong first) and once its spot check (a random sample,
    :func:`analysis.label_issue_review.spot_check`), and the verdicts check the estimate
    (:func:`analysis.label_issue_review.check_reviews`): how many over-promising estimates
    each catches, and how many estimates within 0.1 it calls over-stated.
    """
    x, y, names = data
    k = len(names)
    lines = [
        f"{name}: queues at the precision cut {precision} ({seeds} planting seeds, "
        f"{plants} plants, {probe} probe, {draws} noise draw{'s' if draws > 1 else ''})",
        "  noise                 likely: n  P true/est  R true/est"
        "   | possible: n  P true/est  R(both) true/est  | band  over"
        "  errors true/est  ceiling P@R0.75/0.8  probe acc true/est  conc.  time  goal",
    ]
    fit = {
        "n_classes": k,
        "target_precision": precision,
        "seeds": seeds,
        "plants": plants,
        "probe": probe,
    }
    lines.append(_clean_line(x, y, {**fit, "seed": seed}))
    n_runs, n_close, misses_flagged, hits_flagged, n_over = 0, 0, 0, 0, 0
    all_runs: list[dict] = []
    for kind in ("uniform", "class-conditional"):
        for rate in rates:
            runs = [
                _queue_draw(x, y, kind, rate, seed + d, {**fit, "seed": seed + d}, reviewed)
                for d in range(draws)
            ]
            all_runs += runs
            close = [r["close"] for r in runs]
            over = [r["over"] for r in runs]
            n_runs += len(runs)
            n_close += sum(close)
            n_over += sum(over)
            misses_flagged += sum(r["flagged"] and not r["close"] for r in runs)
            hits_flagged += sum(r["flagged"] and r["close"] for r in runs)
            first = runs[0]
            true, guess = first["true"], first["guess"]
            lines.append(
                f"  {kind:<17} {rate:4.0%}  {first['n_likely']:5d}  {_pair(true, guess, 'pl')}  "
                f"{_pair(true, guess, 'rl')}   | {first['n_possible']:5d}  "
                f"{_pair(true, guess, 'pp')}  {_pair(true, guess, 'rp')}      | "
                f"{sum(close)}/{len(close)}  {sum(over)}/{len(over)}"
                f"       {first['errors']}  {first['ceiling']:>9}"
                f"  {first['probe']:>19}  {first['conc']:>5}  {first['seconds']:6.1f}s  "
                f"{_goal(name, kind, rate, true)}"
            )
    lines.append(
        f"  estimate within {TOLERANCE} on all four numbers: {n_close} of {n_runs} runs; "
        f"marked (!: probe accuracy est. < {MIN_PROBE_ACCURACY}, or noise concentration > "
        f"{MAX_NOISE_CONCENTRATION}): "
        f"{misses_flagged} of the {n_runs - n_close} misses, {hits_flagged} of the {n_close} "
        f"hits; likely precision promised > {TOLERANCE} above the truth, unmarked: {n_over}"
    )
    return lines + _review_lines(all_runs, reviewed) if reviewed else lines


def _review_lines(runs: list[dict], reviewed: int) -> list[str]:
    """How well settled tasks check the estimate, over every draw with a likely queue."""
    queues = [r for r in runs if r["true"]["pl"] is not None and r["guess"]["pl"] is not None]
    over = [r for r in queues if r["guess"]["pl"] - r["true"]["pl"] > TOLERANCE]
    close = [r for r in queues if abs(r["guess"]["pl"] - r["true"]["pl"]) <= TOLERANCE]

    def said(rs: list[dict], how: str) -> int:
        return sum(r["review"][how] == "over-stated" for r in rs)

    near = sum(abs(r["review"]["spot_p"] - r["true"]["pl"]) <= TOLERANCE for r in queues)
    lean = np.mean([r["review"]["top_p"] - r["true"]["pl"] for r in queues]) if queues else 0.0
    return [
        f"  reviewers settle {reviewed} likely tasks: of {len(over)} estimates promising > "
        f"{TOLERANCE} above the truth (marked or not), the spot check calls "
        f"{said(over, 'spot')} over-stated, the top of the View {said(over, 'top')}; of "
        f"{len(close)} within {TOLERANCE}, over-stated by the spot check {said(close, 'spot')}, "
        f"by the top {said(close, 'top')}",
        f"  the spot check's precision is within {TOLERANCE} of the queue's in {near} of "
        f"{len(queues)} draws; the top's leans {lean:+.3f} (queues shorter than {reviewed}: "
        f"{sum(r['n_likely'] < reviewed for r in queues)}, settled whole)",
    ]


def _queue_draw(
    x: np.ndarray, y: np.ndarray, kind: str, rate: float, seed: int, fit: dict, reviewed: int
) -> dict:
    """One noise draw through :func:`run_queues`: the truth, the estimate, the row's cells,
    and ``reviewed`` settled tasks checking the estimate (:func:`_review`)."""
    noisy = inject(y, rate, kind, fit["n_classes"], seed)
    truth = noisy != y
    t0 = time.perf_counter()
    base = run_queues(x, noisy, **fit)
    est = base.estimate
    seconds = time.perf_counter() - t0
    likely, both, possible = base.point.likely, base.point.ranked, base.point.possible
    true = {
        "pl": _share(truth[likely]),
        "rl": truth[likely].sum() / max(truth.sum(), 1),
        "pp": _share(truth[possible]),
        "rp": truth[both].sum() / max(truth.sum(), 1),
    }
    guess = {
        "pl": est.precision_likely,
        "rl": est.recall_likely,
        "pp": est.precision_possible,
        "rp": est.recall_possible,
    }
    close = all(
        true[c] is None or guess[c] is None or abs(true[c] - guess[c]) <= TOLERANCE for c in true
    )
    flagged = est.warning is not None  # the estimate says it is unreliable
    promised = guess["pl"] is not None and true["pl"] is not None
    over = promised and guess["pl"] - true["pl"] > TOLERANCE and not flagged
    right = ~truth  # accuracy on the labels left as the data set gave them
    acc_true = float(np.mean(base.probs.argmax(1)[right] == noisy[right]))
    weak = weak_probe_warning(est.probe_accuracy) is not None
    conc = est.noise_concentration
    return {
        "true": true,
        "guess": guess,
        "close": close,
        "flagged": flagged,
        "over": over,
        "n_likely": len(likely),
        "n_possible": len(possible),
        "errors": f"{int(truth.sum()):5d}/{est.errors:5.0f}",
        "ceiling": "/".join(_ceiling(truth, both, r) for r in (0.75, 0.8)),
        "probe": f"{acc_true:.2f}/{est.probe_accuracy:.2f}{'!' if weak else ' '}",
        "conc": "-" if conc is None else f"{conc:.2f}{'!' if flagged and not weak else ' '}",
        "seconds": seconds,
        "review": _review(base.point, truth, est.precision_likely, reviewed, seed),
    }


def _review(
    point: OperatingPoint, truth: np.ndarray, estimate: float | None, reviewed: int, seed: int
) -> dict:
    """A reviewer settles ``reviewed`` likely tasks: the View's top (highest probability of a
    wrong label first) or its spot check (by index keys, salted by the draw's seed)."""
    likely = point.likely
    if not reviewed or not len(likely):
        return {"top": "unchecked", "spot": "unchecked", "top_p": 0.0, "spot_p": 0.0}
    top = likely[np.argsort(-point.wrong[likely], kind="stable")[:reviewed]]
    spot = likely[spot_check([str(i) for i in likely], reviewed, salt=str(seed))]
    checks = {
        k: check_reviews(int(truth[s].sum()), len(s), estimate)
        for k, s in (("top", top), ("spot", spot))
    }
    return {
        "top": checks["top"].verdict,
        "spot": checks["spot"].verdict,
        "top_p": checks["top"].precision,
        "spot_p": checks["spot"].precision,
    }


def _clean_line(x: np.ndarray, y: np.ndarray, fit: dict) -> str:
    """The pipeline on the data set's own labels, nothing injected: every flag there is a
    correct label the probe gets wrong or an ambiguous one, and Cleanlab's count and the
    estimate E start from that floor (why E overcounts on a weak probe)."""
    run = run_queues(x, y, **fit)
    accuracy = float(np.mean(run.probs.argmax(1) == y))
    return (
        f"  no injected noise: {len(run.issues.ranked)} flags ({run.point.n_likely} likely), "
        f"E {run.estimate.errors:.0f}; probe accuracy on the given labels {accuracy:.2f}"
    )


def _ceiling(truth: np.ndarray, ranked: np.ndarray, recall: float) -> str:
    """The best precision any prefix of the ranked flags has at ``recall`` ("-" if none)."""
    hits = np.cumsum(truth[ranked])
    i = int(np.searchsorted(hits, recall * truth.sum()))
    return f"{hits[i] / (i + 1):.2f}" if i < len(hits) else "-"


def _goal(name: str, kind: str, rate: float, true: dict) -> str:
    goal = next((g for (d, n), g in GOALS.items() if name.startswith(d) and n == kind), None)
    if goal is None or abs(rate - 0.1) > 1e-9 or true["pl"] is None:
        return ""
    met = true["pl"] >= goal[0] and true["rl"] >= goal[1]
    return f"P>={goal[0]} R>={goal[1]}: {'met' if met else 'NOT met'}"


def _share(hits: np.ndarray) -> float | None:
    return float(hits.mean()) if len(hits) else None


def _pair(true: dict, guess: dict, key: str) -> str:
    def show(v: float | None) -> str:
        return " n/a" if v is None else f"{v:.2f}"

    return f"{show(true[key])}/{show(guess[key])}"


def false_positive_pairs(result, noisy: np.ndarray, truth: np.ndarray, names) -> list[str]:
    """Where the flags on unchanged labels go (given -> suggested), at 10% uniform noise."""
    wrong = result.is_issue & ~truth
    pairs = Counter(zip(noisy[wrong].tolist(), result.suggested[wrong].tolist(), strict=True))
    top = ", ".join(f"{names[a]}->{names[b]} {n}" for (a, b), n in pairs.most_common(6))
    return [f"  flags on unchanged labels at 10% uniform: {int(wrong.sum())}; most common: {top}"]


def clustered(n: int, d: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` unit vectors around ``k`` random centres, overlapping enough to confuse a probe."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((k, d)).astype(np.float32)
    labels = rng.integers(0, k, n)
    x = rng.standard_normal((n, d), dtype=np.float32)
    x += 0.09 * centres[labels]  # the probe is then ~90% accurate, as on real embeddings
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, labels


def speed(n: int, seed: int, probe: str = PROBE_DEFAULT) -> list[str]:
    x, y = clustered(n, 1280, 10, seed)
    noisy = inject(y, 0.1, "uniform", 10, seed)
    t0 = time.perf_counter()
    probs = out_of_sample_probs(x, noisy, seed=seed, probe=probe)
    t1 = time.perf_counter()
    result = find_label_issues(noisy, probs)
    t2 = time.perf_counter()
    p, r = scores(result.is_issue, noisy != y)
    total = t2 - t0
    return [
        f"speed, {n} x 1280 synthetic clustered, 10 classes, 10% uniform noise, {probe} probe: "
        f"out_of_sample_probs {t1 - t0:.1f} s + find_label_issues {t2 - t1:.1f} s = {total:.1f} s "
        f"({'under' if total < 120 else 'OVER'} the 2-minute target); probe accuracy "
        f"{np.mean(probs.argmax(1) == y):.3f}, precision {p:.3f}, recall {r:.3f}"
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="Fashion-MNIST images")
    parser.add_argument("--rates", type=float, nargs="+", default=[0.05, 0.1, 0.2])
    parser.add_argument("--speed-n", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-tuxpaint", action="store_true")
    parser.add_argument("--record", action="store_true", help="append to RESULTS.md")
    parser.add_argument("--seeds", type=int, default=3, help="planting seeds of the estimate")
    parser.add_argument("--precision", type=float, default=0.9, help="the likely queue's cut")
    parser.add_argument(
        "--draws", type=int, default=8, help="noise and planting draws per queue setting"
    )
    parser.add_argument(
        "--plants",
        nargs="+",
        choices=PLANTS,
        default=[PLANTS_DEFAULT],
        help="how planted flips pick their new label; several compare them in one run",
    )
    parser.add_argument("--skip-filters", action="store_true", help="only the queues")
    parser.add_argument(
        "--probe", choices=PROBES, default=PROBE_DEFAULT, help="the queues' probe (and speed's)"
    )
    parser.add_argument(
        "--review",
        type=int,
        default=REVIEWED,
        help="likely tasks a simulated reviewer settles to check the estimate (0: none)",
    )
    parser.add_argument("--note", default="", help="a line recorded under the output")
    args = parser.parse_args()

    embedder = make_embedder(get_settings().embedding)
    sets = [("Fashion-MNIST train", fashion_mnist(args.n, embedder))] if args.n else []
    if not args.skip_tuxpaint:
        sets.append(("Tux Paint stamps", tuxpaint(embedder)))
    lines = []
    for name, data in sets:
        if not args.skip_filters:
            lines += evaluate(name, data, args.rates, args.seed)
        for plants in args.plants:
            lines += evaluate_queues(
                name,
                data,
                args.rates,
                args.seed,
                seeds=args.seeds,
                precision=args.precision,
                plants=plants,
                probe=args.probe,
                draws=args.draws,
                reviewed=args.review,
            )
    if args.speed_n:
        lines += speed(args.speed_n, args.seed, args.probe)
    lines += [f"load average {os.getloadavg()[0]:.1f}", machine_line()]
    lines += [args.note] if args.note else []
    print("\n".join(lines))
    if args.record:
        title = QUEUES_TITLE if args.skip_filters else "Label issues on injected noise"
        record_result(title, lines)


if __name__ == "__main__":
    main()
