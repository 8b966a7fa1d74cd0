"""Detector classes to a project's labels: by name (case, spacing and plural ignored) or an
explicit map (``detection.label_map``), which wins. COCO's ``person`` meets a project's
``Person`` or ``persons``; ``dining table`` meets ``diningtable``."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping


def normalise(name: str) -> str:
    """Lower case, letters and digits only, trailing plural ``s``/``es`` dropped."""
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    if key.endswith(("ss", "us", "is")):  # glass, cactus, tennis: singular already
        return key
    for suffix in ("ies", "es", "s"):
        if key.endswith(suffix) and len(key) > len(suffix) + 2:
            stem = key[: -len(suffix)] + ("y" if suffix == "ies" else "")
            return stem if suffix != "es" or key[-3] in "sxz" or key.endswith("hes") else key[:-1]
    return key


def map_labels(
    detector_classes: Iterable[str],
    project_labels: Iterable[str],
    explicit: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Detector class -> project label, for every class that has one."""
    labels = list(project_labels)
    by_key = {normalise(label): label for label in labels}
    mapping = {}
    for cls in detector_classes:
        match = by_key.get(normalise(cls))
        if match is not None:
            mapping[cls] = match
    for cls, label in (explicit or {}).items():
        if label in labels:
            mapping[cls] = label
    return mapping
