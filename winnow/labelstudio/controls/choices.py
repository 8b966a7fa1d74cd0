"""``<Choices>`` bound to an ``<Image>``: image classification, single or multiple choice.

A class has a *label*, what Label Studio stores in results (the Choice's ``alias`` when set,
as Label Studio itself does, else its ``value``), and *prompts*, the names the zero-shot
model looks for: the comma-separated ``predicted_values`` (Label Studio's convention for
mapping model classes), else the ``hint`` (a longer description), else the ``value``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element

import numpy as np

CHOICE_MODES = {"single": False, "single-radio": False, "multiple": True}


class UnsupportedControl(ValueError):
    """This ``<Choices>`` cannot be pre-annotated; the message says why."""


@dataclass(frozen=True)
class ChoiceClass:
    label: str
    prompts: tuple[str, ...]


@dataclass(frozen=True)
class ChoicesControl:
    from_name: str
    to_name: str
    data_key: str  # the task data field holding the image address ("image" for "$image")
    multiple: bool
    classes: tuple[ChoiceClass, ...]

    @property
    def labels(self) -> list[str]:
        return [c.label for c in self.classes]

    def signature(self) -> dict[str, Any]:
        """Everything that changes predictions, for the model version hash."""
        return {
            "from_name": self.from_name,
            "to_name": self.to_name,
            "multiple": self.multiple,
            "classes": [[c.label, list(c.prompts)] for c in self.classes],
        }

    def result(self, probs: np.ndarray, *, threshold: float) -> tuple[list[dict], float]:
        """Label Studio result items and the task score for class probabilities ``(K,)``.

        Single choice: the top class, scored by its probability. Multiple choice: every class
        with probability >= ``threshold`` (most probable first); the score is the top
        probability, so tasks sort the same way in both modes.
        """
        order = np.argsort(-probs, kind="stable")
        top = float(probs[order[0]])
        chosen = [int(k) for k in order[:1]]
        if self.multiple:
            chosen = [int(k) for k in order if probs[k] >= threshold]
        if not chosen:
            return [], top
        item = {
            "from_name": self.from_name,
            "to_name": self.to_name,
            "type": "choices",
            "value": {"choices": [self.classes[k].label for k in chosen]},
            "score": top,
        }
        return [item], top


def choices_control(element: Element, images: dict[str, str]) -> ChoicesControl:
    """Build the control for one ``<Choices>`` element; ``images`` maps Image name -> data key.

    Raises :class:`UnsupportedControl` with the reason when it cannot be pre-annotated.
    """
    name = element.get("name") or ""
    targets = [t.strip() for t in (element.get("toName") or "").split(",") if t.strip()]
    bound = [t for t in targets if t in images]
    if not name:
        raise UnsupportedControl("a <Choices> has no name attribute")
    if not bound:
        raise UnsupportedControl(
            f'<Choices name="{name}"> is bound to {targets or "nothing"}, not to an <Image>'
        )
    if (element.get("perRegion") or "").lower() == "true":
        raise UnsupportedControl(f'<Choices name="{name}"> is perRegion (needs regions first)')
    mode = (element.get("choice") or "single").lower()
    if mode not in CHOICE_MODES:
        raise UnsupportedControl(f'<Choices name="{name}"> has unknown choice="{mode}"')
    classes = tuple(_choice_class(child) for child in element.iter() if _is(child, "choice"))
    if not classes:
        why = "takes its options from task data" if element.get("value") else "has no <Choice>"
        raise UnsupportedControl(f'<Choices name="{name}"> {why}; list the classes as <Choice>')
    labels = [c.label for c in classes]
    if len(set(labels)) != len(labels):
        raise UnsupportedControl(f'<Choices name="{name}"> repeats a Choice value: {labels}')
    return ChoicesControl(name, bound[0], images[bound[0]], CHOICE_MODES[mode], classes)


def _choice_class(element: Element) -> ChoiceClass:
    value = (element.get("value") or "").strip()
    if not value:
        raise UnsupportedControl("a <Choice> has no value attribute")
    label = (element.get("alias") or "").strip() or value
    predicted = [p.strip() for p in (element.get("predicted_values") or "").split(",")]
    prompts = tuple(p for p in predicted if p) or ((element.get("hint") or "").strip() or value,)
    return ChoiceClass(label=label, prompts=prompts)


def _is(element: Element, tag: str) -> bool:
    return isinstance(element.tag, str) and element.tag.lower() == tag
