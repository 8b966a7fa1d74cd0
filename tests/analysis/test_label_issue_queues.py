"""The precision cut (likely / possible) and the planted-flip estimate, on real images."""

from dataclasses import replace

import cleanlab.count
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.audit import AuditOptions, audit
from analysis.label_issue_cut import (
    count_errors,
    cut,
    operating_point,
    precision_curve,
    recall_curve,
    wrong_probability,
)
from analysis.label_issue_estimate import (
    MAX_NOISE_CONCENTRATION,
    MIN_PROBE_ACCURACY,
    QueueEstimate,
    estimate_warning,
    fit_curve,
    noise_concentration,
    plant_flips,
    probe_accuracy,
    rescore_queues,
    run_queues,
    weak_probe_warning,
)
from analysis.label_probe import LabelProbe
from winnow.config import get_settings
from winnow.datasets import embed_small_images, load_fashion_mnist
from winnow.errors import WinnowError
from winnow.models import make_embedder

N_REAL = 600  # real Fashion-MNIST images; embedding them is most of this file's cost
RATE = 0.15


@pytest.fixture(scope="module")
def noisy_fashion() -> dict:
    """Real embeddings with 15% of the labels changed to another class (uniform)."""
    try:
        images, labels, _ = load_fashion_mnist("train", limit=N_REAL)
    except WinnowError as exc:
        pytest.fail(f"{exc}. Run `make apt` to install the data set.")
    x = embed_small_images(images, make_embedder(get_settings().embedding))
    rng = np.random.default_rng(7)
    picked = rng.choice(N_REAL, int(RATE * N_REAL), replace=False)
    noisy = labels.copy()
    noisy[picked] = (labels[picked] + rng.integers(1, 10, len(picked))) % 10
    return {"x": x, "clean": labels, "noisy": noisy}


@pytest.mark.xfail(
    strict=True,
    reason="known shortfall at 600 images: the likely queue is non-empty, ranked right and "
    "0.83 precise for 0.91 estimated, but the estimated error count is 142 for 90 flips (a "
    "weak probe and the data's own look-alike labels; benchmarks/RESULTS.md, label-issue "
    "queues; at 5,000 images it is within 0.13 of the truth on uniform noise)",
)
def test_likely_queue_is_a_precise_prefix_of_the_flags(noisy_fashion: dict) -> None:
    run = run_queues(noisy_fashion["x"], noisy_fashion["noisy"], n_classes=10)
    point, truth = run.point, noisy_fashion["noisy"] != noisy_fashion["clean"]
    assert set(point.ranked) == set(np.flatnonzero(run.issues.is_issue))
    assert 0 < point.n_likely < len(point.ranked)
    quality = run.issues.quality[point.ranked]
    assert np.all(np.diff(quality) >= -1e-12)  # most likely wrong (lowest quality) first
    likely_precision = truth[point.likely].mean()
    assert likely_precision >= 0.8
    assert likely_precision > truth[point.possible].mean() + 0.2
    # the estimate the View shows is close to what a reviewer would find
    assert abs(point.estimated_precision("likely") - likely_precision) <= 0.15
    assert run.estimate is not None
    assert run.estimate.precision_likely == point.estimated_precision("likely")
    # the estimated error count is of the order of the 90 flips made (plus the data's own)
    assert 0.5 * truth.sum() <= run.estimate.errors <= 1.5 * truth.sum()


def test_a_weak_probe_marks_the_estimate_unreliable(noisy_fashion: dict) -> None:
    """At 600 images the probe is right on about 64% of the right labels and the estimate
    puts the likely queue's precision at 0.91 where it is 0.83 (measured): it over-promises,
    and must say so."""
    x, noisy = noisy_fashion["x"], noisy_fashion["noisy"]
    truth = noisy != noisy_fashion["clean"]
    run = run_queues(x, noisy, n_classes=10)
    est = run.estimate
    assert est is not None and est.probe_accuracy is not None
    true_accuracy = np.mean(run.probs.argmax(1)[~truth] == noisy[~truth])
    assert est.probe_accuracy < MIN_PROBE_ACCURACY and true_accuracy < MIN_PROBE_ACCURACY
    assert est.precision_likely - truth[run.point.likely].mean() > 0.05  # why it warns
    assert est.warning is not None and "over-estimated" in est.warning
    assert "unreliable" in est.line("likely") and "unreliable" in est.line("possible")
    assert est.as_dict()["probe_accuracy"] == est.probe_accuracy  # kept with the findings


def test_the_neighbour_vote_lifts_the_weak_probe_above_the_bar(noisy_fashion: dict) -> None:
    """With ``probe="logistic+knn"`` the same 600 images are no longer a weak probe's: right
    on 81% of the right labels (measured), and a likely queue nearer its estimate (0.79 true
    for 0.90 estimated, against 0.67 for 0.90), so no unreliable mark."""
    x, noisy = noisy_fashion["x"], noisy_fashion["noisy"]
    truth = noisy != noisy_fashion["clean"]
    gaps = {}
    for probe in ("logistic", "logistic+knn"):
        run = run_queues(x, noisy, n_classes=10, probe=probe)
        gaps[probe] = run.estimate.precision_likely - truth[run.point.likely].mean()
    assert run.estimate.probe_accuracy >= MIN_PROBE_ACCURACY and run.estimate.warning is None
    assert np.mean(run.probs.argmax(1)[~truth] == noisy[~truth]) >= MIN_PROBE_ACCURACY
    assert gaps["logistic+knn"] < gaps["logistic"] - 0.05


def test_probe_accuracy_discounts_the_labels_estimated_wrong() -> None:
    labels = np.array([0, 0, 1, 1, 2, 2, 0, 1, 2, 0])
    probs = np.eye(3)[[0, 0, 1, 1, 2, 2, 0, 1, 1, 2]]  # agrees with 8 of the 10 labels
    assert probe_accuracy(labels, probs, None) == pytest.approx(0.8)
    assert probe_accuracy(labels, probs, 2) == pytest.approx(1.0)  # 8 of the 8 estimated right
    assert probe_accuracy(labels, probs, 1) == pytest.approx(8 / 9)
    assert weak_probe_warning(None) is None and weak_probe_warning(MIN_PROBE_ACCURACY) is None
    assert "79%" in weak_probe_warning(0.79)


def test_estimate_warning_names_the_stronger_reason_and_reads_old_estimates() -> None:
    base = {"precision_likely": 0.9, "recall_likely": 0.3, "precision_possible": 0.5}
    assert estimate_warning(base) is None  # stored before either number was kept
    assert estimate_warning({**base, "probe_accuracy": 0.9, "noise_concentration": 0.3}) is None
    concentrated = {**base, "probe_accuracy": 0.9, "noise_concentration": 0.62}
    assert "over-stated" in estimate_warning(concentrated)
    assert "concentration 0.62" in estimate_warning(concentrated)
    at_bar = {**concentrated, "noise_concentration": MAX_NOISE_CONCENTRATION}
    assert estimate_warning(at_bar) is None
    weak = {**concentrated, "probe_accuracy": 0.7}
    assert estimate_warning(weak) == weak_probe_warning(0.7)  # the larger error comes first
    estimate = QueueEstimate(
        0.9, 0.3, 0.5, 0.8, plants=30, seeds=3, probe_accuracy=0.9, noise_concentration=0.62
    )
    assert estimate.warning == estimate_warning(concentrated)
    assert "over-stated" in estimate.line("likely") and "over-stated" in estimate.line("possible")
    assert "unreliable" not in estimate.line("likely")


def test_noise_concentration_reads_the_noise_matrix() -> None:
    rng = np.random.default_rng(0)
    true = np.repeat(np.arange(5), 200)
    probs = np.full((len(true), 5), 0.02)
    probs[np.arange(len(true)), true] = 0.92  # a confident, right model
    wrong = rng.choice(len(true), 200, replace=False)
    anywhere = true.copy()
    anywhere[wrong] = (true[wrong] + rng.integers(1, 5, len(wrong))) % 5
    one_way = true.copy()
    one_way[wrong] = (true[wrong] + 1) % 5  # each class to one fixed other class
    assert noise_concentration(anywhere, probs) == pytest.approx(0.0, abs=0.1)
    assert noise_concentration(one_way, probs) == pytest.approx(1.0)
    assert noise_concentration(true, probs) is None  # no errors at all
    # two classes: an error (and a plant) has one place to go, so there is nothing to mark
    binary = (true[:400] >= 1).astype(np.int64)
    flipped = binary.copy()
    flipped[:40] = 1 - flipped[:40]
    two = np.column_stack([probs[:400, 0], 1 - probs[:400, 0]])
    assert noise_concentration(flipped, two) is None


def test_estimate_recovers_planted_flips(noisy_fashion: dict) -> None:
    """At 600 images the weak probe's noise matrix is mostly look-alike pairs, so its plants
    are harder to find than these uniform flips: the recall of both queues was 0.56-0.59 for
    0.81 while plants also landed on wrong labels; planted on labels likely right, 0.69."""
    x, noisy = noisy_fashion["x"], noisy_fashion["noisy"]
    truth = noisy != noisy_fashion["clean"]
    run = run_queues(x, noisy, n_classes=10, seeds=2)
    est = run.estimate
    assert est is not None and est.plants == 18 and est.seeds == 2
    assert 0.0 <= est.recall_likely <= est.recall_possible <= 1.0
    true_recall = truth[run.point.ranked].sum() / truth.sum()
    assert abs(est.recall_possible - true_recall) <= 0.2
    true_likely = truth[run.point.likely].sum() / truth.sum()
    assert abs(est.recall_likely - true_likely) <= 0.2
    assert "est. precision" in est.line("likely")


def test_without_plants_the_cut_falls_back_to_the_posterior(noisy_fashion: dict) -> None:
    run = run_queues(noisy_fashion["x"], noisy_fashion["noisy"], n_classes=10, seeds=0)
    point = run.point
    assert run.estimate is None and point.recall is None and point.n_errors is None
    running = np.cumsum(point.wrong[point.ranked]) / np.arange(1, len(point.ranked) + 1)
    assert np.allclose(point.running_precision, running)
    assert point.n_likely == cut(running, 0.9)


def test_plant_flips_changes_exactly_n_labels_reproducibly() -> None:
    labels = np.repeat(np.arange(4), 25)
    noise = np.full((4, 4), 0.02) + np.eye(4) * 0.9
    noise[1, 0] = 0.5  # class 0 is mostly mistaken for class 1
    a, planted = plant_flips(labels, 20, seed=3, noise_matrix=noise)
    b, again = plant_flips(labels, 20, seed=3, noise_matrix=noise)
    assert np.array_equal(a, b) and np.array_equal(planted, again)
    assert len(planted) == 20 and np.all(a[planted] != labels[planted])
    assert np.array_equal(np.flatnonzero(a != labels), planted)
    from_zero = a[planted][labels[planted] == 0]
    assert np.mean(from_zero == 1) >= 0.7  # follows the noise matrix's column 0


def test_recall_curve_places_plants_among_the_real_flags() -> None:
    # planted run's ranking: plant 7, real 1, plant 8, real 2, real 3, plant 9 (not found: 10)
    ranked = np.array([7, 1, 8, 2, 3, 9])
    r = recall_curve(ranked, np.array([7, 8, 9, 10]), n_cuts=4)
    # cut k of the real ranking = before the k-th real flag of the planted run is passed
    assert np.allclose(r, [0.0, 0.25, 0.5, 0.5, 0.75])


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.5, 0.99))
def test_cut_is_the_longest_prefix_estimated_at_the_target(seed: int, target: float) -> None:
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 80))
    recall = np.concatenate([[0.0], np.sort(rng.uniform(0, 1, m))])
    n_errors = float(rng.uniform(1, 2 * m))
    running = precision_curve(recall, n_errors)
    assert running.shape == (m,) and np.all((running >= 0) & (running <= 1))
    assert np.allclose(running, np.minimum(1, recall[1:] * n_errors / np.arange(1, m + 1)))
    k = cut(running, target)
    assert np.all(running[k:] < target)
    if k:
        assert running[k - 1] >= target - 1e-12


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_error_count_never_exceeds_cleanlab_or_the_plant_bound(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, k = 150, 3
    labels = rng.integers(0, k, n)
    labels[:k] = np.arange(k)
    probs = rng.dirichlet(np.ones(k) * 0.5, n)
    m = 40
    recall = np.concatenate([[0.0], np.sort(rng.uniform(0, 1, m))])
    e = count_errors(labels, probs, recall)
    assert 0 <= e <= cleanlab.count.num_label_issues(labels, probs)
    usable = np.flatnonzero(recall >= 0.5)
    usable = usable[usable > 0]
    if len(usable):
        assert e <= (usable / recall[usable]).min() + 1e-9
    point = operating_point(labels, probs, np.arange(m), recall=recall, target_precision=0.9)
    assert point.n_errors == e
    assert np.all(point.running_precision[: point.n_likely][-1:] >= 0.9 - 1e-12)
    wrong = wrong_probability(labels, probs)
    assert wrong.shape == (n,) and np.all((wrong >= 0) & (wrong <= 1))


def _edit_right_labels(noisy_fashion: dict, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` right labels changed to the next class: a reviewer's slips after a fit."""
    right = np.flatnonzero(noisy_fashion["noisy"] == noisy_fashion["clean"])
    edited = np.random.default_rng(3).choice(right, n, replace=False)
    labels = noisy_fashion["noisy"].copy()
    labels[edited] = (labels[edited] + 1) % 10
    return labels, edited


def test_rescore_on_unchanged_labels_is_the_fit(noisy_fashion: dict) -> None:
    run = run_queues(noisy_fashion["x"], noisy_fashion["noisy"], n_classes=10, seeds=2)
    again = rescore_queues(
        noisy_fashion["noisy"],
        run.probs,
        run.point.recall,
        plants=run.estimate.plants,
        seeds=run.estimate.seeds,
    )
    assert np.array_equal(again.point.ranked, run.point.ranked)
    assert again.point.n_likely == run.point.n_likely
    assert again.estimate == run.estimate


def test_rescore_after_a_few_edits_moves_what_the_edits_touch(noisy_fashion: dict) -> None:
    """Six slips (1%) after a fit: rescoring flags them as a refit does, and leaves the
    untouched tasks' queues closer to where they were than a refit (fewer task writes)."""
    x, noisy = noisy_fashion["x"], noisy_fashion["noisy"]
    run = run_queues(x, noisy, n_classes=10, seeds=2)
    labels, edited = _edit_right_labels(noisy_fashion, 6)
    rescored = rescore_queues(
        labels, run.probs, run.point.recall, plants=run.estimate.plants, seeds=2
    )
    refit = run_queues(x, labels, n_classes=10, seeds=2)

    def moved(after) -> int:  # untouched examples whose queue changed
        def queue(point) -> dict[int, str]:
            out = {int(i): "likely" for i in point.likely}
            return out | {int(i): "possible" for i in point.possible}

        before, now = queue(run.point), queue(after.point)
        untouched = set(range(len(noisy))) - set(edited.tolist())
        return sum(before.get(i) != now.get(i) for i in untouched)

    found = np.isin(edited, rescored.point.ranked).sum()  # 4 of 6 when measured, as the refit
    assert found >= 3 and found >= np.isin(edited, refit.point.ranked).sum() - 1
    assert moved(rescored) < moved(refit) / 4  # measured: 4 against 89 of 594
    assert moved(rescored) <= 0.02 * len(noisy)
    assert np.array_equal(rescored.probs, run.probs)  # no fit: the stored probabilities


def test_fit_curve_cuts_or_pads_with_the_last_recall() -> None:
    recall = np.array([0.0, 0.2, 0.5, 0.6])
    assert fit_curve(recall, 2).tolist() == [0.0, 0.2, 0.5]
    assert fit_curve(recall, 5).tolist() == [0.0, 0.2, 0.5, 0.6, 0.6, 0.6]
    assert fit_curve(recall, 3) is not recall and fit_curve(recall, 3).tolist() == recall.tolist()


def test_audit_rescores_on_a_probe_that_covers_its_files(noisy_fashion: dict) -> None:
    """The audit returns the probe it fitted; given back with a few edits it rescores on it
    (the same probe comes back, the edits are flagged), and refits once the classes differ."""
    x, noisy = noisy_fashion["x"], noisy_fashion["noisy"]
    names = [f"class {i}" for i in range(10)]

    def table(labels: np.ndarray) -> pd.DataFrame:
        n = len(labels)
        return pd.DataFrame(
            {
                "uri": [f"task:{i}" for i in range(n)],
                "sha256": [f"{i:064x}" for i in range(n)],
                "label": [names[k] for k in labels],
                "split": ["train"] * n,
                "error_kind": [None] * n,
                "format": ["PNG"] * n,
            }
        )

    checks = frozenset({"label_issue", "possible_label_issue"})
    options = AuditOptions(checks=checks, label_estimate_seeds=1)
    fitted = audit(table(noisy), embeddings=x, options=options)
    probe = fitted.label_probe
    assert probe is not None and probe.names == tuple(names) and probe.seeds == 1
    assert probe.labels == tuple(names[k] for k in noisy) and probe.recall is not None
    labels, edited = _edit_right_labels(noisy_fashion, 6)
    with_probe = replace(options, label_probe=probe)
    again = audit(table(labels), embeddings=x, options=with_probe)
    assert again.label_probe is probe  # rescored: the probe still says what was fitted
    flagged = set(again.issues["path"])
    assert sum(f"task:{i}" in flagged for i in edited) >= 4
    edited_table = table(labels)
    assert probe.changed(dict(zip(edited_table["uri"], edited_table["label"], strict=True))) == 6
    merged = np.where(labels == 9, 8, labels)  # a class gone: the probe no longer fits
    refit = audit(table(merged), embeddings=x, options=with_probe)
    assert refit.label_probe is not probe and len(refit.label_probe.names) == 9


def test_label_probe_checks_its_shape_and_answers_in_the_callers_order() -> None:
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])
    probe = LabelProbe(("a", "b", "c"), ("cat", "dog"), probs, None, 0, 0, ("cat", "dog", "cat"))
    assert probe.covers(["c", "a", "b"], ["cat", "dog"])
    assert not probe.covers(["a", "b"], ["cat", "dog"])
    assert not probe.covers(["a", "b", "c"], ["dog", "cat"])
    assert probe.probs_for(["c", "a"]).tolist() == [[0.5, 0.5], [0.9, 0.1]]
    assert probe.changed({"a": "cat", "b": "cat", "z": "dog"}) == 2  # b edited, z never fitted
    with pytest.raises(ValueError, match="probs: shape"):
        LabelProbe(("a",), ("cat", "dog"), probs, None, 0, 0, ("cat",))
    with pytest.raises(ValueError, match="labels: 1 for 3 keys"):
        LabelProbe(("a", "b", "c"), ("cat", "dog"), probs, None, 0, 0, ("cat",))
