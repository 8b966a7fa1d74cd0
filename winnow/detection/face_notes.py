"""Which face detector raised a PII finding, and how sure it was, in the finding's details.

A reviewer who sees "1 faces, 0 people" cannot tell a 0.99 MTCNN face from a Haar cascade
hit (which always scores 1.0); the detector's name and best score answer that.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from winnow.detection.base import Detection


def detector_name(model_version: str) -> str:
    """``mtcnn@640px-...`` -> ``mtcnn``; ``haar-frontalface@opencv-4.11`` -> ``haar``."""
    return model_version.split("@", 1)[0].split("-", 1)[0]


def face_note(faces: Detection | None, *, min_score: float) -> str | None:
    """``"faces by mtcnn, best 0.998"``, or None when no face counts at ``min_score``."""
    if faces is None:
        return None
    kept = faces.confident(min_score)
    if not len(kept):
        return None
    return f"faces by {detector_name(kept.model_version)}, best {float(kept.scores.max()):.3f}"


def with_face_notes(
    issues: pd.DataFrame,
    sha_of: Mapping[str, str],
    faces: Mapping[str, Detection],
    *,
    min_score: float,
) -> pd.DataFrame:
    """``issues`` with the face note appended to each ``pii`` finding's details.

    ``sha_of`` maps a finding's ``path`` to its content sha256, the key of ``faces``.
    """
    if issues.empty:
        return issues
    out = issues.copy()
    for row in out.index[out["issue_type"] == "pii"]:
        note = face_note(faces.get(sha_of.get(out.at[row, "path"], "")), min_score=min_score)
        if note:
            out.at[row, "details"] = f"{out.at[row, 'details']}; {note}"
    return out
