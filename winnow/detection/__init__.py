"""Object and face detection behind one interface (see ``docs/detection.md``).

``make_detector(settings.detection)`` builds the configured object detector (torchvision by
default, detectron2 when installed, or the Haar face detector on its own);
``make_face_detector`` the face detector behind the PII flag (MTCNN, Haar or YuNet). Heavy
imports happen inside.
"""

from __future__ import annotations

from winnow.config import DetectionSettings
from winnow.detection.base import Detection, Detector, empty_detection


def make_detector(settings: DetectionSettings) -> Detector:
    """The object detector ``settings.backend`` names; raises ModelError when unavailable."""
    if settings.backend == "haar":
        from winnow.detection.faces import HaarFaceDetector

        return HaarFaceDetector()
    if settings.backend == "detectron2":
        from winnow.detection.detectron2_backend import Detectron2Detector

        return Detectron2Detector(settings)
    from winnow.detection.torchvision_backend import TorchvisionDetector

    return TorchvisionDetector.from_settings(settings)


def make_face_detector(settings: DetectionSettings) -> Detector | None:
    """The face detector for the PII flag (MTCNN by default), or None when
    ``detection.faces`` is ``none``; raises ModelError when its weights are missing."""
    if settings.faces == "none":
        return None
    if settings.faces == "mtcnn":
        from winnow.detection.mtcnn import MTCNNFaceDetector

        return MTCNNFaceDetector()
    from winnow.detection.faces import HaarFaceDetector, YuNetFaceDetector

    if settings.faces == "yunet":
        if settings.face_model is None:
            from winnow.errors import ModelError

            raise ModelError("detection.faces is yunet but detection.face_model is unset")
        return YuNetFaceDetector(settings.face_model)

    return HaarFaceDetector()


__all__ = ["Detection", "Detector", "empty_detection", "make_detector", "make_face_detector"]
