"""``winnow audit DIR --detect``: objects, faces, PII and box checks added to a folder audit.

Detections are cached in the feature store's file per (content, model), so a second audit
of the same folder detects nothing new. Without object-detector weights (offline, no
``detection.checkpoint``) the audit says so and carries on with faces only.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from analysis.audit import AuditResult
from analysis.detection_audit import DetectionAuditOptions, DetectionAuditResult, detection_audit
from winnow.config import Settings
from winnow.detection import Detector, make_detector, make_face_detector
from winnow.detection.coco import load_coco
from winnow.detection.face_notes import with_face_notes
from winnow.detection.run import detect_cached, pixel_loader
from winnow.errors import ImageError, ModelError
from winnow.store.detections import DetectionStore

log = logging.getLogger(__name__)


def detect_folder(
    result: AuditResult,
    settings: Settings,
    *,
    boxes_file: Path | None = None,
    image_root: Path | None = None,
    questions: Sequence[str] = (),
    detector: Detector | None = None,
) -> tuple[AuditResult, DetectionAuditResult, str | None]:
    """The audit with detection findings and per-file object columns added, the detection
    audit on its own, and why the object detector was skipped (None when it ran)."""
    skipped = None
    if detector is None:
        try:
            detector = make_detector(settings.detection)
        except ModelError as exc:
            skipped = str(exc)
            log.info("object detection skipped: %s", exc)
    faces = make_face_detector(settings.detection)
    good = result.files[result.files["error_kind"].isna()]
    objects, found_faces = _detect(good, settings, detector, faces)
    boxes, labels = None, None
    if boxes_file is not None:
        boxes, labels = load_coco(boxes_file, image_root=image_root)
        boxes["path"] = [str(Path(p).resolve()) for p in boxes["path"]]
    asked = tuple(questions) or tuple(settings.detection.questions)
    options = DetectionAuditOptions(min_score=settings.detection.score_threshold, questions=asked)
    classes = [*(detector.classes if detector else ()), *(faces.classes if faces else ())]
    found = detection_audit(
        good,
        objects,
        found_faces,
        classes=classes,
        boxes=boxes,
        project_labels=labels,
        label_map=settings.detection.label_map,
        options=options,
    )
    files = result.files.merge(found.files.drop(columns="sha256"), on="uri", how="left")
    sha_of = dict(zip(good["uri"], good["sha256"], strict=True))
    noted = with_face_notes(found.issues, sha_of, found_faces, min_score=options.min_score)
    found = DetectionAuditResult(issues=noted, files=found.files)
    issues = pd.concat([result.issues, found.issues], ignore_index=True)
    return AuditResult(issues=issues, files=files), found, skipped


def _detect(
    good: pd.DataFrame, settings: Settings, detector: Detector | None, faces: Detector | None
) -> tuple[dict, dict]:
    """Objects and faces per content sha256, from the cache or the detectors."""
    path_of = dict(zip(good["sha256"], good["uri"], strict=False))
    load = pixel_loader(
        lambda uri: Path(uri).read_bytes(), path_of, max_pixels=settings.io.max_pixels
    )

    with DetectionStore(settings.store_path) as cache:
        objects = detect_cached(detector, list(path_of), load, cache) if detector else {}
        faces_found = detect_cached(faces, list(path_of), load, cache) if faces else {}
    return objects, faces_found


def detect_project(
    settings: Settings,
    frame: pd.DataFrame,
    *,
    project_labels: Sequence[str] | None = None,
    detector: Detector | None = None,
) -> tuple[DetectionAuditResult, dict[int, dict]]:
    """The detection audit of a project frame (``task_id, image, sha256`` and, for detection
    projects, ``boxes``) and the task data fields to push, by task id.

    Images are read through Label Studio/S3/HTTP like every other job; findings' ``path`` is
    the task's image URL, so the sync can map them back to tasks.
    """
    from analysis.detection_audit import project_boxes, task_object_fields
    from winnow.imageio import ImageReader

    detector = detector or make_detector(settings.detection)
    faces = make_face_detector(settings.detection)
    frame = frame.copy()
    with ImageReader(settings.io, settings.label_studio, settings.s3) as reader:
        frame["sha256"], url_of = _content_ids(frame, reader)
        load = pixel_loader(reader.read, url_of, max_pixels=settings.io.max_pixels)

        with DetectionStore(settings.store_path) as cache:
            objects = detect_cached(detector, list(url_of), load, cache)
            found_faces = detect_cached(faces, list(url_of), load, cache) if faces else {}
    classes = [*detector.classes, *(faces.classes if faces else ())]
    options = DetectionAuditOptions(
        min_score=settings.detection.score_threshold, questions=tuple(settings.detection.questions)
    )
    boxes = project_boxes(frame)
    files = frame.rename(columns={"image": "uri"})
    result = detection_audit(
        files,
        objects,
        found_faces,
        classes=classes,
        boxes=boxes if len(boxes) else None,
        project_labels=project_labels,
        label_map=settings.detection.label_map,
        options=options,
    )
    fields = task_object_fields(frame, objects, found_faces, classes=classes, options=options)
    sha_of = dict(zip(files["uri"], files["sha256"], strict=True))
    noted = with_face_notes(result.issues, sha_of, found_faces, min_score=options.min_score)
    return DetectionAuditResult(issues=noted, files=result.files), fields


def _content_ids(frame: pd.DataFrame, reader: object) -> tuple[list, dict[str, str]]:
    """Each task's content sha256 (the frame's, else hashed from the bytes; None when the
    image cannot be read) and one image URL per sha256."""
    shas, url_of = [], {}
    known = frame["sha256"] if "sha256" in frame else [None] * len(frame)
    for url, sha in zip(frame["image"], known, strict=True):
        if not isinstance(sha, str):
            try:
                sha = hashlib.sha256(reader.read(url)).hexdigest()
            except ImageError as exc:
                log.warning("task image %s skipped: %s", url, exc)
                sha = None
        shas.append(sha)
        if sha is not None:
            url_of.setdefault(sha, url)
    return shas, url_of
