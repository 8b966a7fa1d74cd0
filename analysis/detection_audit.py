"""The detection audit: objects per image, answers to questions, PII, and box checks.

Pure: detections (by content sha256) and the per-file table go in; findings in the audit's
``ISSUE_COLUMNS`` shape and per-file object columns (``person_count``, ``faces``, ``pii``,
``q_...``) come out. :func:`object_fields` gives the same facts as Label Studio task data
fields (``winnow_person_count`` ...) so reviewers can filter on them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from analysis.box_compare import compare_with_detections
from analysis.boxes import BOX_COLUMNS, BOX_ISSUE_TYPES, ISSUE_COLUMNS, BoxCheckOptions, box_sanity
from analysis.questions import Question, count_field, parse_question
from winnow.detection.base import Detection
from winnow.detection.labels import map_labels

DETECTION_ISSUE_TYPES = ("pii", *BOX_ISSUE_TYPES)
FIELD_PREFIX = "winnow_"


@dataclass(frozen=True)
class DetectionAuditOptions:
    min_score: float = 0.5  # detections below this are not counted
    questions: tuple[str, ...] = ()
    pii_classes: tuple[str, ...] = ("person",)  # besides faces, what makes an image personal
    boxes: BoxCheckOptions = field(default_factory=BoxCheckOptions)


@dataclass
class DetectionAuditResult:
    issues: pd.DataFrame  # ISSUE_COLUMNS
    files: pd.DataFrame  # uri, sha256, <class>_count..., faces, pii, q_...


def object_counts(
    objects: Detection | None, faces: Detection | None, *, min_score: float
) -> dict[str, int]:
    """``{"person_count": 2, "faces": 1}`` from the confident detections."""
    counts = {}
    if objects is not None:
        for name, n in objects.confident(min_score).counts().items():
            counts[count_field(name)] = n
    counts["faces"] = 0 if faces is None else len(faces.confident(min_score))
    return counts


def is_personal(counts: Mapping[str, int], pii_classes: Sequence[str]) -> bool:
    """A face, or any of ``pii_classes`` (people by default), makes an image personal data."""
    return counts.get("faces", 0) > 0 or any(counts.get(count_field(c), 0) for c in pii_classes)


def object_fields(
    objects: Detection | None,
    faces: Detection | None,
    *,
    options: DetectionAuditOptions | None = None,
    questions: Sequence[Question] = (),
) -> dict[str, int | bool | str]:
    """Task data fields for Label Studio: counts, ``winnow_pii``, a summary and answers."""
    opts = options or DetectionAuditOptions()
    counts = object_counts(objects, faces, min_score=opts.min_score)
    out: dict[str, int | bool | str] = {FIELD_PREFIX + k: v for k, v in counts.items()}
    out[FIELD_PREFIX + "pii"] = is_personal(counts, opts.pii_classes)
    out[FIELD_PREFIX + "objects"] = ", ".join(
        f"{k.removesuffix('_count')}:{v}" for k, v in sorted(counts.items()) if k != "faces"
    )
    for q in questions:
        out[FIELD_PREFIX + q.column] = q(counts)
    return out


def detection_audit(
    files: pd.DataFrame,
    objects: Mapping[str, Detection],
    faces: Mapping[str, Detection],
    *,
    classes: Sequence[str] = (),
    boxes: pd.DataFrame | None = None,
    project_labels: Sequence[str] | None = None,
    label_map: Mapping[str, str] | None = None,
    options: DetectionAuditOptions | None = None,
) -> DetectionAuditResult:
    """Audit ``files`` (columns ``uri, sha256``) with detections keyed by sha256.

    ``classes``: every name the detectors can return (checks the questions). ``boxes``:
    annotated boxes keyed by ``path`` = uri (see :mod:`analysis.boxes`), checked for sanity
    against ``project_labels`` and compared with the detections mapped onto those labels.
    """
    opts = options or DetectionAuditOptions()
    questions = [parse_question(q, classes) for q in opts.questions]
    per_file = files[["uri", "sha256"]].reset_index(drop=True).copy()
    records, rows = [], []
    for uri, sha in zip(per_file["uri"], per_file["sha256"], strict=True):
        counts = object_counts(objects.get(sha), faces.get(sha), min_score=opts.min_score)
        record = counts | {q.column: q(counts) for q in questions}
        record["pii"] = is_personal(counts, opts.pii_classes)
        records.append(record)
        if record["pii"]:
            rows.append(_pii_row(uri, counts))
    table = pd.DataFrame.from_records(records).fillna(0)
    per_file = pd.concat([per_file, table], axis=1)
    count_columns = [c for c in per_file if c.endswith("_count") or c == "faces"]
    per_file[count_columns] = per_file[count_columns].astype(int)
    issues = pd.DataFrame(rows, columns=ISSUE_COLUMNS)
    if boxes is not None:
        issues = pd.concat(
            [issues, _box_findings(per_file, objects, boxes, project_labels, label_map, opts)],
            ignore_index=True,
        )
    return DetectionAuditResult(issues=issues, files=per_file)


def _pii_row(uri: str, counts: Mapping[str, int]) -> dict:
    people = counts.get("person_count", 0)
    score = 1.0 if counts.get("faces", 0) else 0.6  # a visible face identifies; a figure may not
    return {
        "path": uri,
        "issue_type": "pii",
        "score": score,
        "group": None,
        "given_label": None,
        "suggested_label": None,
        "details": f"{counts.get('faces', 0)} faces, {people} people",
    }


def _box_findings(
    per_file: pd.DataFrame,
    objects: Mapping[str, Detection],
    boxes: pd.DataFrame,
    project_labels: Sequence[str] | None,
    label_map: Mapping[str, str] | None,
    opts: DetectionAuditOptions,
) -> pd.DataFrame:
    found = [box_sanity(boxes, classes=project_labels, options=opts.boxes)]
    labels = list(project_labels) if project_labels else sorted(boxes["label"].unique())
    by_path = {}
    for uri, sha in zip(per_file["uri"], per_file["sha256"], strict=True):
        if sha in objects:
            by_path[uri] = _onto_labels(objects[sha], labels, label_map)
    if by_path:
        found.append(compare_with_detections(boxes, by_path, options=opts.boxes))
    return pd.concat(found, ignore_index=True)


def _onto_labels(
    det: Detection, labels: Sequence[str], label_map: Mapping[str, str] | None
) -> Detection:
    """The detections of classes the project has, renamed to its labels."""
    mapping = map_labels(det.labels, labels, label_map)
    keep = [i for i, name in enumerate(det.labels) if name in mapping]
    masks = None if det.masks is None else det.masks[keep]
    return Detection(
        det.boxes[keep].reshape(-1, 4),
        tuple(mapping[det.labels[i]] for i in keep),
        det.scores[keep],
        det.model_version,
        det.width,
        det.height,
        masks,
    )


def task_object_fields(
    frame: pd.DataFrame,
    objects: Mapping[str, Detection],
    faces: Mapping[str, Detection],
    *,
    classes: Sequence[str] = (),
    options: DetectionAuditOptions | None = None,
) -> dict[int, dict[str, int | bool | str]]:
    """Task id -> its data fields (``winnow_person_count``, ``winnow_faces``, ``winnow_pii``,
    ``winnow_objects``, ``winnow_q_...``) for a project frame (``task_id``, ``sha256``)."""
    opts = options or DetectionAuditOptions()
    questions = [parse_question(q, classes) for q in opts.questions]
    fields = {}
    for task_id, sha in zip(frame["task_id"], frame["sha256"], strict=True):
        if isinstance(sha, str) and (sha in objects or sha in faces):
            fields[int(task_id)] = object_fields(
                objects.get(sha), faces.get(sha), options=opts, questions=questions
            )
    return fields


def project_boxes(frame: pd.DataFrame) -> pd.DataFrame:
    """The project frame's ``boxes`` column (Label Studio percent units) as pixel box rows,
    ``path`` = the task's image, for :func:`analysis.boxes.box_sanity` and the comparison."""
    rows = []
    if "boxes" not in frame:
        return pd.DataFrame(rows, columns=[*BOX_COLUMNS, "task_id"])
    for task_id, image, boxes in zip(frame["task_id"], frame["image"], frame["boxes"], strict=True):
        for box in boxes if isinstance(boxes, list) else []:
            w, h = float(box["original_width"]), float(box["original_height"])
            x1, y1 = box["x"] * w / 100, box["y"] * h / 100
            rows.append(
                [
                    image,
                    box["label"],
                    x1,
                    y1,
                    x1 + box["width"] * w / 100,
                    y1 + box["height"] * h / 100,
                    w,
                    h,
                    int(task_id),
                ]
            )
    return pd.DataFrame(rows, columns=[*BOX_COLUMNS, "task_id"])
