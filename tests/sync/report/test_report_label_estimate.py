"""The data report shows the audit's precision/recall estimate of the label-issue queues, on a
folder of real Fashion-MNIST images with a few labels swapped."""

from pathlib import Path

import numpy as np
import pytest
from lxml import html as lxml_html
from PIL import Image

from analysis.report.data_report import build_data_report, render_data_report
from sync.report.inputs import folder_inputs
from sync.report.render import write_data_report
from winnow.config import Settings
from winnow.datasets import load_fashion_mnist

pytestmark = pytest.mark.slow  # embeds real images with the backbone

CLASSES = {0: "tshirt", 1: "trouser", 7: "sneaker"}
PER_CLASS = 20
SWAPPED = 2  # per class, saved under the next class's folder


@pytest.fixture(scope="module")
def swapped_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("swapped")
    images, labels, _ = load_fashion_mnist("train", limit=600)
    ids = list(CLASSES)
    used = dict.fromkeys(CLASSES, 0)
    for image, label in zip(images, labels, strict=True):
        if label not in CLASSES or used[label] >= PER_CLASS:
            continue
        i = used[label]
        used[label] += 1
        folder = CLASSES[ids[(ids.index(label) + 1) % 3]] if i < SWAPPED else CLASSES[label]
        (root / folder).mkdir(exist_ok=True)
        Image.fromarray(image).resize((56, 56)).save(root / folder / f"{label}_{i:02d}.png")
    return root


@pytest.fixture(scope="module")
def inputs(swapped_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    # 60 images are too few for the planted-flip estimate to vouch for 0.9 precision (the
    # "likely" queue then stays empty: the estimate is cautious on small sets); these tests
    # are about what the reports show, so the cut is lowered until the queue fills.
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("store"), audit={"label_issue_precision": 0.5}
    )
    return settings, folder_inputs(swapped_dir, settings)


def _value(page, key: str) -> str:
    (node,) = page.xpath(f'//*[@data-key="{key}"]')
    return node.get("data-value")


def test_data_report_shows_the_queue_estimate(inputs, tmp_path: Path) -> None:
    settings, data = inputs
    estimate = data.result.label_estimate
    assert estimate is not None  # 60 labelled images: the audit plants flips and estimates
    path = write_data_report(data, settings, tmp_path / "report.html", projection="tsne")
    page = lxml_html.fromstring(path.read_text(encoding="utf-8"))
    assert page.xpath('//section[@id="audit"]//table[@data-table="label-queues"]')
    issues = data.result.issues["issue_type"]
    for queue, issue in (("likely", "label_issue"), ("possible", "possible_label_issue")):
        assert int(_value(page, f"queue:{queue}:files")) == int((issues == issue).sum())
        for kind in ("precision", "recall"):
            shown, want = (
                _value(page, f"queue:{queue}:{kind}"),
                getattr(estimate, f"{kind}_{queue}"),
            )
            assert (shown == "None") if want is None else float(shown) == pytest.approx(want)
    note = page.xpath('//section[@id="audit"]//p[contains(., "planted")]')[0].text_content()
    assert f"{estimate.plants} known label flips" in note and f"{estimate.seeds} seed" in note
    warned = page.xpath('//*[@data-key="queue:estimate-warning"]')
    assert len(warned) == (estimate.warning is not None)  # shown exactly when it applies
    assert all(estimate.warning in w.text_content() for w in warned)


def test_no_estimate_no_queue_table(inputs) -> None:
    _, data = inputs
    report = build_data_report(data.result.files, data.result.issues, projection="tsne")
    html = render_data_report(report, {})
    assert 'data-table="label-queues"' not in html


def test_model_report_measures_cleaning_the_likely_queue(inputs) -> None:
    """The swapped labels reach the likely queue; the model report's cleanliness section then
    shows the cross-validated accuracy of acting on it, and the checklist item agrees."""
    from analysis.label_cleaning import light_head
    from analysis.report.model_report import Split, build_model_report, render_model_report
    from analysis.report.readiness import CLEANING_GAIN_MAX
    from sync.report.cams import cleaning_item
    from sync.report.cleanliness import audit_labels
    from sync.report.model import usable_rows

    _, data = inputs
    files, issues = data.result.files, data.result.issues
    rows = usable_rows(files, data.vectors)
    classes = sorted(files.loc[rows, "label"].unique())
    labels = audit_labels(data, rows, classes)
    assert labels.n_likely == int((issues["issue_type"] == "label_issue").sum()) > 0
    assert labels.n_possible == int((issues["issue_type"] == "possible_label_issue").sum())
    gain = labels.cleaning
    assert gain is not None and gain.n_flagged == labels.n_likely
    assert gain.n_scored == len(rows) - labels.n_likely
    y = files.loc[rows, "label"].map({c: i for i, c in enumerate(classes)}).to_numpy(int)
    x = data.vectors[rows]
    split = Split(classes, x[::2], y[::2], x[1::2], y[1::2], "every other row")
    flags = np.zeros(len(rows), bool)
    report = build_model_report(
        split,
        light_head(len(classes)),
        others={},
        train_issue=flags[::2],
        test_issue=flags[1::2],
        seeds=(0,),
        audit_labels=labels,
    )
    item = cleaning_item(report)
    assert item.passed == (gain.gain(gain.best) <= CLEANING_GAIN_MAX)
    page = lxml_html.fromstring(render_model_report(report, checklist=[item], cams={}))
    for mode in ("raw", "drop", "relabel"):
        shown = page.xpath(f'//*[@data-metric="cleaning:{mode}"]')[0].get("data-value")
        assert float(shown) == pytest.approx(gain.accuracy[mode])
    assert int(page.xpath('//*[@data-key="queue:likely"]')[0].get("data-value")) == labels.n_likely


def test_an_unreliable_estimate_is_said_beside_the_queues(inputs) -> None:
    """A weak probe (estimated right on 60% of the right labels) puts the warning under the
    queue table, in the words the CLI and the Views use."""
    from dataclasses import replace

    _, data = inputs
    weak = replace(data.result.label_estimate, probe_accuracy=0.6)
    report = build_data_report(
        data.result.files, data.result.issues, projection="tsne", label_estimate=weak
    )
    page = lxml_html.fromstring(render_data_report(report, {}))
    (warned,) = page.xpath('//section[@id="audit"]//*[@data-key="queue:estimate-warning"]')
    assert weak.warning in warned.text_content() and "60%" in weak.warning


def test_an_over_stated_estimate_is_said_beside_the_queues(inputs) -> None:
    """Errors that repeat fixed class pairs (noise concentration over the bar) put the same
    kind of warning under the queue table, with its own reason."""
    from dataclasses import replace

    _, data = inputs
    strong = replace(data.result.label_estimate, probe_accuracy=0.95)
    for concentration, warned in ((0.3, False), (0.7, True)):
        estimate = replace(strong, noise_concentration=concentration)
        report = build_data_report(
            data.result.files, data.result.issues, projection="tsne", label_estimate=estimate
        )
        page = lxml_html.fromstring(render_data_report(report, {}))
        found = page.xpath('//section[@id="audit"]//*[@data-key="queue:estimate-warning"]')
        assert bool(found) is warned
        if warned:
            shown = found[0].text_content()
            assert "over-stated" in shown and "concentration 0.70" in shown


def test_reviewer_verdicts_are_shown_beside_the_estimate(inputs) -> None:
    """A project's verdicts (from its syncs) follow the queue table, an over-stated one
    marked; a folder has none and shows no list."""
    from analysis.label_issue_review import check_reviews

    _, data = inputs
    checks = {
        "likely queue": check_reviews(28, 30, 0.9),
        "likely spot check": check_reviews(15, 30, 0.9),
    }
    report = build_data_report(
        data.result.files,
        data.result.issues,
        projection="tsne",
        label_estimate=data.result.label_estimate,
        label_reviews=checks,
    )
    page = lxml_html.fromstring(render_data_report(report, {}))
    (spot,) = page.xpath('//*[@data-key="reviews:likely spot check"]')
    assert spot.get("data-value") == "over-stated" and spot.get("class") == "warn"
    assert spot.text_content() == checks["likely spot check"].describe("likely spot check")
    (top,) = page.xpath('//*[@data-key="reviews:likely queue"]')
    assert top.get("data-value") == "agrees" and top.get("class") is None
    assert data.label_reviews == {}  # a folder: nobody reviewed it in Label Studio
    plain = build_data_report(data.result.files, data.result.issues, projection="tsne")
    assert 'data-list="label-reviews"' not in render_data_report(plain, {})
