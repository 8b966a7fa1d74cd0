"""Generate Label Studio labeling configs for image projects, and find their label control.

Winnow's configs have one image, one label control (``Choices`` single or multiple, or
``RectangleLabels`` for detection) and the ``winnow_review`` control, where reviewers record
their decision on a flagged task (keep, relabel, remove). Projects made by hand work too:
:func:`find_label_control` locates the control Winnow should write to, and its error shows
the XML that would make the config usable.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from winnow.errors import ConfigError

TaskKind = Literal["classification", "detection"]
REVIEW_CONTROL = "winnow_review"
REVIEW_CHOICES = ("keep", "relabel", "remove")
_CONTROL_TAG = {"classification": "Choices", "detection": "RectangleLabels"}
_ITEM_TAG = {"Choices": "Choice", "RectangleLabels": "Label"}


@dataclass(frozen=True)
class LabelControl:
    """The control that holds the labels, and the image it points at."""

    tag: str  # "Choices" or "RectangleLabels"
    name: str  # from_name in results
    to_name: str  # the Image tag's name
    image_key: str  # task data key the image is read from ($image -> "image")
    labels: tuple[str, ...]
    multiple: bool  # Choices with choice="multiple"
    # Winnow's own task fields the config shows (the evidence panel's ``winnow_evidence``):
    # Label Studio refuses a new task that lacks any field its config shows, so imports
    # start them empty.
    shown_fields: tuple[str, ...] = ()

    def choices_result(self, labels: Sequence[str]) -> list[dict[str, Any]]:
        """An annotation ``result`` choosing ``labels`` for the whole image."""
        if self.tag != "Choices":
            raise ValueError(f"{self.tag} needs regions, not whole-image choices")
        value = {"choices": list(labels)}
        item = {"from_name": self.name, "to_name": self.to_name, "type": "choices"}
        return [{**item, "value": value}]


def build_label_config(
    labels: Sequence[str],
    *,
    task: TaskKind = "classification",
    multi_label: bool = False,
    image_key: str = "image",
    control_name: str = "label",
) -> str:
    """A config for ``labels`` (in the order given) plus the ``winnow_review`` control."""
    if task not in _CONTROL_TAG:
        raise ValueError(f"task must be one of {sorted(_CONTROL_TAG)}, got {task!r}")
    view = ET.Element("View")
    ET.SubElement(view, "Image", name="image", value=f"${image_key}", zoom="true")
    tag = _CONTROL_TAG[task]
    attrs = {"name": control_name, "toName": "image"}
    if tag == "Choices":
        attrs |= {"choice": "multiple" if multi_label else "single", "showInline": "true"}
    control = ET.SubElement(view, tag, attrs)
    _append_items(control, labels)
    ET.SubElement(view, "Header", value="Winnow review")
    review = ET.SubElement(
        view, "Choices", name=REVIEW_CONTROL, toName="image", choice="single", showInline="true"
    )
    _append_items(review, REVIEW_CHOICES)
    ET.indent(view)
    return ET.tostring(view, encoding="unicode")


def find_label_control(config: str, *, task: TaskKind = "classification") -> LabelControl:
    """The first label control of the kind ``task`` needs that points at an image."""
    root = _parse(config)
    images = {el.get("name"): el.get("value", "") for el in root.iter("Image")}
    tag = _CONTROL_TAG[task]
    for el in root.iter(tag):
        name, to_name = el.get("name"), el.get("toName", "")
        if name and name != REVIEW_CONTROL and images.get(to_name, "").startswith("$"):
            labels = tuple(v for c in el.iter(_ITEM_TAG[tag]) if (v := c.get("value")))
            multiple = el.get("choice") == "multiple"
            shown = sorted(
                {v[1:] for e in root.iter() if (v := e.get("value", "")).startswith("$winnow_")}
            )
            return LabelControl(
                tag, name, to_name, images[to_name][1:], labels, multiple, tuple(shown)
            )
    example = build_label_config(["cat", "dog"], task=task)
    raise ConfigError(
        f"the project's labeling config has no <{tag}> control pointing at an <Image> with a "
        f"$variable, which a {task} import needs. A config that works:\n{example}"
    )


def add_labels(config: str, control_name: str, labels: Iterable[str]) -> str:
    """``config`` with the missing ``labels`` appended to the control ``control_name``."""
    root = _parse(config)
    control = next((el for el in root.iter() if el.get("name") == control_name), None)
    if control is None or control.tag not in _ITEM_TAG:
        raise ConfigError(f"the labeling config has no label control named {control_name!r}")
    present = {c.get("value") for c in control.iter(_ITEM_TAG[control.tag])}
    missing = [label for label in labels if label not in present]
    if not missing:
        return config
    _append_items(control, missing)
    return ET.tostring(root, encoding="unicode")


def has_review_control(config: str) -> bool:
    return any(el.get("name") == REVIEW_CONTROL for el in _parse(config).iter("Choices"))


def _append_items(control: ET.Element, values: Iterable[str]) -> None:
    item_tag = _ITEM_TAG[control.tag]
    for value in values:
        ET.SubElement(control, item_tag, value=value)


def _parse(config: str) -> ET.Element:
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
    try:
        return ET.fromstring(config, parser=parser)
    except ET.ParseError as exc:
        raise ConfigError(f"the labeling config is not valid XML: {exc}") from exc
