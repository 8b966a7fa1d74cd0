"""The evidence panel a reviewer sees in Label Studio: what each kind of finding shows, that
hostile text cannot inject markup, that only safe URLs become thumbnails or links, and that
the sync writes it (and the readable queue names) next to the fields the Views filter on."""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from sync.review.evidence import evidence_panels
from sync.review.evidence_panel import Section, Tile, render_panel, safe_url
from sync.review.push import plan_task, wanted_data
from sync.review.queues import FIELDS, QUEUES
from sync.review.review_control import has_evidence_panel, with_review_control
from sync.review.state import Finding, TaskRow
from sync.review.views import view_data
from winnow.features.measure import measure_image
from winnow.labelstudio.label_config import (
    build_label_config,
    find_label_control,
    has_review_control,
)
from winnow.store import FeatureStore, ImageRecord

CONTROL = find_label_control(build_label_config(["cat", "dog"]))
HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


def _task(task_id: int, label: str | None, sha: str, image: str, **data) -> TaskRow:
    result = [
        {
            "from_name": "label",
            "to_name": "image",
            "type": "choices",
            "value": {"choices": [label]},
        }
    ]
    annotations = [{"id": task_id, "updated_at": "2026-01-01", "result": result}] if label else []
    return TaskRow(task_id, "t", {"image": image, **data}, {}, annotations, [], image, sha)


def _finding(task_id: int, issue: str, score: float, details: str, **kw) -> Finding:
    return Finding(
        task_id, issue, score, kw.get("group"), kw.get("given"), kw.get("suggested"), details, None
    )


@pytest.mark.parametrize(
    "url",
    [
        "/data/local-files/?d=animals/cat_01.png",
        "/data/upload/3/a.png",
        "https://images.example.org/a.jpg?w=200",
    ],
)
def test_safe_urls_pass(url: str) -> None:
    assert safe_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "/etc/passwd",
        "/data/upload/../../etc/passwd",
        "file:///etc/passwd",
        "C:\\images\\a.png",
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:image/png;base64,AAAA",
        "s3://bucket/a.png",
        "http://user:pw@example.org/a.png",
        "https://bucket.s3.amazonaws.com/a.png?X-Amz-Signature=abc&X-Amz-Credential=k",
        "https://example.org/a.png?access_token=abc",
        "//evil.example.org/a.png",
        "java\nscript:alert(1)",
        "",
        None,
    ],
)
def test_unsafe_urls_are_refused(url: str | None) -> None:
    assert safe_url(url) is None


def test_hostile_text_and_urls_cannot_inject_markup() -> None:
    html = render_panel(
        [
            Section(
                HOSTILE,
                0.5,
                facts=[(HOSTILE, HOSTILE)],
                tiles=[
                    Tile(HOSTILE, image="javascript:alert(3)", link="javascript:alert(4)"),
                    Tile("ok", image='/data/upload/1/a.png" onload="alert(5)', link="/x"),
                ],
                details=HOSTILE,
            )
        ]
    )
    parsed = _parse(html)
    assert {tag for tag, _ in parsed.tags} <= {"div", "b", "span", "table", "tr", "td", "a", "img"}
    for _, attrs in parsed.tags:
        assert not any(name.startswith("on") for name in attrs)
        for name in ("src", "href"):
            assert attrs.get(name) is None or safe_url(attrs[name]) or attrs[name] == "/x"
    assert HOSTILE in "".join(parsed.text)  # shown as text, verbatim
    assert "<script" not in html


def test_label_issue_shows_suggestion_and_nearest_labelled_neighbours(tmp_path: Path) -> None:
    # unit vectors: 1 is the flagged cat; 2, 3 are dogs close to it, 4 a far cat, 5 a copy of 1
    vec = {
        "1": [1.0, 0.0, 0.0],
        "2": [0.9, 0.1, 0.0],
        "3": [0.8, 0.3, 0.0],
        "4": [0.0, 0.0, 1.0],
    }
    tasks = [
        _task(1, "cat", "1" * 64, "/data/upload/1/flagged.png"),
        _task(2, "dog", "2" * 64, "/data/upload/1/dog_a.png"),
        _task(3, "dog", "3" * 64, "file:///secret/dog_b.png"),  # never shown as a thumbnail
        _task(4, "cat", "4" * 64, "/data/upload/1/far_cat.png"),
        _task(5, "cat", "1" * 64, "/data/upload/1/copy.png"),
        _task(6, None, "2" * 64, "/data/upload/1/unlabelled.png"),
    ]
    details = "P(label wrong)=0.91; out-of-sample p(dog)=0.87, p(given)=0.08"
    finding = _finding(1, "label_issue", 0.9, details, given="cat", suggested="dog")
    with FeatureStore(tmp_path / "f.sqlite") as store:
        shas = [k * 64 for k in vec]
        rows = np.array([np.array(v) / np.linalg.norm(v) for v in vec.values()], np.float32)
        store.put_embeddings("m", shas, rows)
        html = evidence_panels(7, tasks, [finding], control=CONTROL, store=store, model_id="m")[1]
    parsed = _parse(html)
    text = " ".join(parsed.text)
    assert "Label issue (likely)" in text and "dog (p = 0.87)" in text
    captions = re.findall(r"(cat|dog|unlabelled) · (0\.\d\d)", text)
    assert [c[0] for c in captions] == ["dog", "dog", "cat"]  # nearest first; no copy, no self
    assert float(captions[0][1]) > float(captions[1][1]) > float(captions[2][1])
    srcs = [a["src"] for tag, a in parsed.tags if tag == "img"]
    assert srcs == ["/data/upload/1/dog_a.png", "/data/upload/1/far_cat.png"]
    hrefs = [a["href"] for tag, a in parsed.tags if tag == "a"]
    assert hrefs == [
        "/projects/7/data?task=2",
        "/projects/7/data?task=3",
        "/projects/7/data?task=4",
    ]


def test_duplicate_shows_partners_and_match_evidence(tmp_path: Path) -> None:
    tasks = [_task(i, "cat", str(i) * 64, f"/data/upload/1/{i}.png") for i in (1, 2, 3)]
    details = (
        "3 similar images; keep task 2; shares a homography with task 2: 57 RANSAC inliers of "
        "140 ORB matches (41%), mirrored, scale 0.81, H=[1 0 0; 0 1 0; 0 0 1]"
    )
    found = [
        _finding(1, "near_duplicate", 0.96, details, group="dup-4"),
        _finding(3, "near_duplicate", 0.93, "3 similar images; keep task 2", group="dup-4"),
    ]
    with FeatureStore(tmp_path / "f.sqlite") as store:
        html = evidence_panels(7, tasks, found, control=CONTROL, store=store, model_id=None)[1]
    text = " ".join(_parse(html).text)
    assert "57 of 140 ORB matches (41%)" in text and "yes" in text and "0.81" in text
    assert "task 2 · cat" in text and "task 3 · cat" in text and "H=[" not in text
    hrefs = [a["href"] for tag, a in _parse(html).tags if tag == "a"]
    assert hrefs == ["/projects/7/data?task=2", "/projects/7/data?task=3"]


def test_quality_flag_shows_value_against_the_projects_range(tmp_path: Path) -> None:
    photos = ["astronaut", "camera", "coffee", "chelsea"]
    records, tasks = [], []
    for i, name in enumerate(photos, start=1):
        image = Image.fromarray(getattr(data, name)()).convert("RGB")
        if name == "coffee":
            image = image.resize((32, 32)).resize(image.size)  # the blurry one
        sha = f"{i:064d}"
        records.append(
            ImageRecord(sha, 1, "PNG", *image.size, "RGB", measurements=measure_image(image))
        )
        tasks.append(_task(i, "x", sha, f"/data/upload/1/{name}.png"))
    blur = {r.sha256: r.measurements.blur for r in records}
    finding = _finding(3, "blurry", 0.8, f"Laplacian variance {blur[f'{3:064d}']:.1f}")
    with FeatureStore(tmp_path / "f.sqlite") as store:
        store.put_images(records)
        html = evidence_panels(1, tasks, [finding], control=CONTROL, store=store, model_id=None)[3]
    text = " ".join(_parse(html).text)
    assert min(blur.values()) == blur[f"{3:064d}"]
    assert "percentile in this project 25" in text  # the lowest of four
    assert f"max {max(blur.values()):.3g}" in text and f"min {min(blur.values()):.3g}" in text


def test_sync_writes_panel_and_readable_queue_names_beside_the_filter_fields() -> None:
    task = _task(1, "cat", "1" * 64, "/data/upload/1/a.png")
    found = [
        _finding(1, "near_duplicate", 0.9, "x", group="dup-1"),
        _finding(1, "label_issue", 0.8, "y"),
    ]
    data, _ = wanted_data(task, found, "<div>panel</div>")
    assert data["winnow_queues"] == ["label_issues_likely", "near_duplicates"]
    assert data["winnow_queue_names"] == "label issues (likely), near duplicates"
    assert data["winnow_evidence"] == "<div>panel</div>"
    # the Views still filter on the list; the queue's key is in it, and no other queue's
    for queue in QUEUES:
        value = view_data(queue)["filters"]["items"][0]["value"]
        assert (value in data["winnow_queues"]) == (queue.name in data["winnow_queue_names"])
    written = TaskRow(1, "t", data, {}, task.annotations, [], task.image, task.sha256)
    cleared, _ = wanted_data(written, [])
    assert cleared["winnow_evidence"] == ""  # Label Studio refuses data without the field
    assert not (set(FIELDS) - {"winnow_evidence"}) & set(cleared)


def test_queue_names_are_not_substrings_of_each_other() -> None:
    names = [q.name for q in QUEUES]
    assert all(a == b or a not in b for a in names for b in names)


def test_review_control_adds_the_panel_once_and_keeps_the_label_control() -> None:
    config = build_label_config(["cat", "dog"])  # has the review choices, not the panel
    assert has_review_control(config) and not has_evidence_panel(config)
    added = with_review_control(config, "image")
    assert has_evidence_panel(added) and with_review_control(added, "image") == added
    assert '<HyperText name="winnow_evidence" value="$winnow_evidence" inline="true"' in added
    assert find_label_control(added) == dataclasses.replace(
        CONTROL, shown_fields=("winnow_evidence",)
    )
    views = view_data(QUEUES[0])["hiddenColumns"]["explore"]
    assert "tasks:data.winnow_evidence" in views and "tasks:data.winnow_queue_names" not in views


def test_a_task_flagged_before_the_panel_existed_gets_the_field_when_cleared() -> None:
    """Label Studio refuses a write whose data lacks a field the config shows: a task an older
    sync flagged (no panel field) is cleared with the field present, and an untouched task in
    the same project gets no write just for the field."""
    config = with_review_control(build_label_config(["cat", "dog"]), "image")
    shown = find_label_control(config)
    assert shown.shown_fields == ("winnow_evidence",)
    flagged_long_ago = _task(
        1, "cat", "1" * 64, "/data/upload/1/a.png", winnow_queues=["near_duplicates"]
    )
    untouched = _task(2, "dog", "2" * 64, "/data/upload/1/b.png")

    cleared = plan_task(flagged_long_ago, [], shown)
    assert cleared.data is not None and cleared.data["winnow_evidence"] == ""
    assert "winnow_queues" not in cleared.data
    assert plan_task(untouched, [], shown).data is None
    assert "winnow_evidence" not in (plan_task(flagged_long_ago, [], CONTROL).data or {})
