"""Model versions for zero-shot predictions: ``<predictor>-<model>@<hash>``.

The hash covers everything that changes predictions (model id, prompt templates, the classes
and their prompts, the threshold), so the same setup always gets the same version and any
change gets a new one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from winnow.labelstudio.controls.choices import ChoicesControl


def model_version(
    describe: dict[str, Any], name: str, controls: Sequence[ChoicesControl], *, threshold: float
) -> str:
    """The stable, meaningful version of a predictor applied to these controls."""
    payload = {
        "predictor": describe,
        "controls": [c.signature() for c in controls],
        "threshold": threshold if any(c.multiple for c in controls) else None,
    }
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:10]
    return f"{name}-{_slug(str(describe.get('model', 'model')))}@{digest}"


def _slug(model_id: str) -> str:
    text = model_id.removeprefix("clip:")
    return "".join(ch if ch.isalnum() or ch in "._" else "-" for ch in text).strip("-")
