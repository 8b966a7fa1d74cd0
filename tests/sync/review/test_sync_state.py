"""The sync state: re-pulls keep resolved hashes, decisions are recorded once, dismissals
hold across runs; reviewer decisions turn into dismissals and audit-log rows."""

from __future__ import annotations

from pathlib import Path

from sync.review.decisions import Verdicts, record_decisions, review_checks
from sync.review.state import Finding, LabelReview, SyncState, TaskRow
from winnow.labelstudio.label_config import build_label_config, find_label_control

CONTROL = find_label_control(build_label_config(["cat", "dog"]))
SHA = "cd" * 32


def _task(
    labels: list[str],
    *,
    review: str | None = None,
    at: str = "2026-01-01T00:00:00Z",
    image: str = "/data/upload/1/a.png",
    sha: str | None = SHA,
) -> TaskRow:
    result = [
        {"from_name": "label", "to_name": "image", "type": "choices", "value": {"choices": labels}}
    ]
    if review:
        result.append(
            {
                "from_name": "winnow_review",
                "to_name": "image",
                "type": "choices",
                "value": {"choices": [review]},
            }
        )
    annotation = {
        "id": 7,
        "updated_at": at,
        "result": result,
        "created_username": " rev@example.com, 2",
    }
    return TaskRow(5, at, {"image": image}, {}, [annotation], [], image, sha)


def _flag(issue: str, given: str = "cat") -> Finding:
    return Finding(5, issue, 0.9, None, given, "dog", "why", SHA)


def test_repull_keeps_the_resolved_hash_unless_the_image_changed(tmp_path: Path) -> None:
    with SyncState(tmp_path / "sync.sqlite") as state:
        state.put_tasks(1, [_task(["cat"], sha=None)])
        state.set_sha256(1, {5: SHA})
        state.put_tasks(1, [_task(["dog"], sha=None)])
        assert state.tasks(1)[0].sha256 == SHA
        state.put_tasks(1, [_task(["dog"], sha=None, image="/data/upload/1/b.png")])
        assert state.tasks(1)[0].sha256 is None


def test_keep_dismisses_every_open_finding_once(tmp_path: Path) -> None:
    with SyncState(tmp_path / "sync.sqlite") as state:
        state.replace_findings(1, [_flag("label_issue"), _flag("blurry")])
        tasks = [_task(["cat"], review="keep", at="2026-01-02T00:00:00Z")]
        report = record_decisions(state, 1, tasks, CONTROL)
        assert report.kept == 1
        assert state.dismissed() == {(SHA, "cat", "label_issue"), (SHA, "cat", "blurry")}
        assert record_decisions(state, 1, tasks, CONTROL).kept == 0  # same annotation version
        log = state.audit_log(1)
    assert len(log) == 1 and log[0]["who"] == "rev@example.com, 2" and log[0]["action"] == "keep"


def test_relabel_dismisses_the_label_issue_for_the_new_label_only(tmp_path: Path) -> None:
    with SyncState(tmp_path / "sync.sqlite") as state:
        state.replace_findings(1, [_flag("label_issue"), _flag("blurry")])
        report = record_decisions(state, 1, [_task(["dog"], at="2026-01-03T00:00:00Z")], CONTROL)
        assert (report.relabelled, report.kept) == (1, 0)
        assert state.dismissed() == {
            (SHA, "dog", "label_issue"),
            (SHA, "dog", "possible_label_issue"),
        }
        assert "cat -> dog" in state.audit_log(1)[0]["what"]


def test_unchanged_annotation_is_no_decision(tmp_path: Path) -> None:
    with SyncState(tmp_path / "sync.sqlite") as state:
        state.replace_findings(1, [_flag("label_issue")])
        report = record_decisions(state, 1, [_task(["cat"])], CONTROL)
        assert (report.kept, report.relabelled, report.other) == (0, 0, 0)
        assert state.dismissed() == set() and state.audit_log(1) == []


ESTIMATE = {"precision_likely": 0.9, "precision_possible": 0.4}


def test_label_issue_verdicts_are_kept_per_queue(tmp_path: Path) -> None:
    """A keep refutes the flag, a changed label confirms it; each carries the queue's
    estimate at the time, and a flag that is not a label issue gives no verdict."""
    with SyncState(tmp_path / "sync.sqlite") as state:
        state.replace_findings(1, [_flag("label_issue")])
        verdicts = Verdicts(ESTIMATE)
        record_decisions(state, 1, [_task(["dog"], at="2026-01-03T00:00:00Z")], CONTROL, verdicts)
        state.replace_findings(1, [_flag("possible_label_issue", given="dog"), _flag("blurry")])
        kept = _task(["dog"], review="keep", at="2026-01-04T00:00:00Z")
        record_decisions(state, 1, [kept], CONTROL, verdicts)
        state.replace_findings(1, [_flag("blurry", given="dog")])
        later = _task(["dog"], review="keep", at="2026-01-05T00:00:00Z")
        record_decisions(state, 1, [later], CONTROL, verdicts)
        reviews = state.label_reviews(1)
    who = "rev@example.com, 2"
    assert reviews == [
        LabelReview(5, "cat", "likely", True, 0.9, who, "2026-01-03T00:00:00Z"),
        LabelReview(5, "dog", "possible", False, 0.4, who, "2026-01-04T00:00:00Z"),
    ]
    checks = review_checks(reviews)
    assert set(checks) == {"likely queue", "possible queue"}  # no spot-check task settled
    assert (checks["likely queue"].confirmed, checks["likely queue"].reviewed) == (1, 1)
    assert (checks["possible queue"].confirmed, checks["possible queue"].estimate) == (0, 0.4)


def test_spot_check_verdicts_are_kept_apart(tmp_path: Path) -> None:
    with SyncState(tmp_path / "sync.sqlite") as state:
        state.replace_findings(1, [_flag("label_issue"), _flag("label_spot_check")])
        task = _task(["cat"], review="keep", at="2026-01-03T00:00:00Z")
        record_decisions(state, 1, [task], CONTROL, Verdicts(ESTIMATE))
        (review,) = state.label_reviews(1)
    assert review.spot and not review.confirmed and review.queue == "likely"
    checks = review_checks([review])
    assert checks["likely spot check"] == checks["likely queue"]
    assert checks["likely spot check"].estimate == 0.9


def test_a_batch_accepted_annotation_is_no_verdict(tmp_path: Path) -> None:
    """A machine suggestion accepted in bulk still settles the flag, but says nothing about
    the queue's precision."""
    with SyncState(tmp_path / "sync.sqlite") as state:
        state.replace_findings(1, [_flag("label_issue")])
        task = _task(["dog"], at="2026-01-03T00:00:00Z")
        report = record_decisions(state, 1, [task], CONTROL, Verdicts(ESTIMATE, frozenset({7})))
        assert report.relabelled == 1 and (SHA, "dog", "label_issue") in state.dismissed()
        assert state.label_reviews(1) == []


def test_no_verdict_while_the_label_stands(tmp_path: Path) -> None:
    with SyncState(tmp_path / "sync.sqlite") as state:
        state.replace_findings(1, [_flag("label_issue")])
        record_decisions(state, 1, [_task(["cat"], review="relabel")], CONTROL, Verdicts(ESTIMATE))
        assert state.label_reviews(1) == []


def test_a_second_verdict_on_the_same_flag_replaces_the_first(tmp_path: Path) -> None:
    with SyncState(tmp_path / "sync.sqlite") as state:
        first = LabelReview(5, "cat", "likely", False, 0.9, "a", "2026-01-01")
        state.record_review(1, first)
        state.record_review(1, LabelReview(5, "cat", "likely", True, 0.9, "b", "2026-01-02"))
        state.record_review(2, first)  # another project
        assert [(r.confirmed, r.who) for r in state.label_reviews(1)] == [(True, "b")]
        assert len(state.label_reviews(2)) == 1


def test_project_frame_reads_the_state(tmp_path: Path) -> None:
    from sync.project_frame import COLUMNS, project_frame
    from sync.review.state import state_path
    from winnow.config import get_settings

    settings = get_settings(data_dir=tmp_path)
    task = _task(["dog"])
    task.data.update(
        {
            "split": "val",
            "winnow_flags": ["no_licence", "blurry"],
            "winnow_source": "a.png",
            "winnow_date": "2024-05-01",
        }
    )
    with SyncState(state_path(tmp_path)) as state:
        state.update_project(1, label_config=build_label_config(["cat", "dog"]))
        state.put_tasks(1, [task])
        state.replace_findings(1, [_flag("label_issue", given="dog")])
    frame = project_frame(settings, 1, pull=False)
    assert list(frame.columns) == COLUMNS and len(frame) == 1
    row = frame.iloc[0]
    assert (row.task_id, row.sha256, row.labels, row.split) == (5, SHA, ["dog"], "val")
    # open findings from the last audit plus other jobs' flags; a stale pushed flag is not open
    assert row["flags"] == ["label_issue", "no_licence"]
    assert (row.source, row.collected_at, row.licence) == ("a.png", "2024-05-01", None)
