"""Class probabilities for one uploaded image from the trained model and from zero-shot.

Both answer over the same class names: the trained model's classes when one exists, else
the labels the index holds. The zero-shot head (text embeddings or the ImageNet mapping) is
built once per class list and reused, so a request costs one or two forward passes.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image

from serve.engine import Engine
from serve.errors import unavailable
from serve.schemas import ClassProbabilities
from winnow.labelstudio.controls.choices import ChoiceClass, ChoicesControl
from winnow.labelstudio.controls.parse import LabelConfigError
from winnow.zeroshot import ZeroShotPredictor
from winnow.zeroshot.version import model_version

log = logging.getLogger(__name__)


def trained_probabilities(engine: Engine, vector: np.ndarray) -> ClassProbabilities | None:
    """The current trained model's answer for one embedded image; None until one exists."""
    model = engine.trained_model()
    if model is None:
        return None
    probs = np.asarray(model.predict_proba_vectors(vector[None, :]))[0]
    return _answer(model.version, list(model.classes), probs)


def zero_shot_probabilities(
    engine: Engine, image: Image.Image, classes: list[str]
) -> ClassProbabilities | None:
    """Zero-shot over ``classes``; None when there are none or the model cannot name them."""
    predictor: ZeroShotPredictor | None = engine.parts.zero_shot
    if predictor is None:
        raise unavailable("the zero-shot model")
    if not classes:
        return None
    control = _control(tuple(classes))
    try:
        head = _head(predictor, control)
    except LabelConfigError as exc:  # ImageNet cannot see these class names: say so in the log
        log.info("zero-shot unavailable for %s: %s", classes, exc)
        return None
    features = predictor.feature_model.embed_images([image])
    probs = predictor.probabilities(features, head, multiple=False)[0]
    version = model_version(predictor.describe(), predictor.name, [control], threshold=0.0)
    return _answer(version, classes, probs)


def _answer(version: str, classes: list[str], probs: np.ndarray) -> ClassProbabilities:
    table = {name: round(float(p), 6) for name, p in zip(classes, probs, strict=True)}
    return ClassProbabilities(
        model_version=version, probabilities=table, top=classes[int(np.argmax(probs))]
    )


@lru_cache(maxsize=16)
def _control(classes: tuple[str, ...]) -> ChoicesControl:
    return ChoicesControl(
        from_name="label",
        to_name="image",
        data_key="image",
        multiple=False,
        classes=tuple(ChoiceClass(label=name, prompts=(name,)) for name in classes),
    )


_HEADS: dict[tuple[int, tuple[str, ...]], Any] = {}


def _head(predictor: ZeroShotPredictor, control: ChoicesControl) -> Any:
    key = (id(predictor), tuple(control.labels))
    if key not in _HEADS:
        _HEADS[key] = predictor.class_head(control)
    return _HEADS[key]
