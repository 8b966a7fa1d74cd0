"""What in a Label Studio labeling config Winnow can pre-annotate.

Every ``<Choices>`` bound to an ``<Image>`` becomes a :class:`ChoicesControl`. A config with
none of them is a :class:`LabelConfigError` whose message says what was found, why each part
was skipped, and shows a config that works, so ``/setup`` can answer with something a user
can act on.
"""

from __future__ import annotations

from xml.etree import ElementTree

from winnow.errors import ConfigError
from winnow.labelstudio.controls.choices import ChoicesControl, UnsupportedControl, choices_control
from winnow.labelstudio.controls.rectangles import BoxControl, box_controls
from winnow.labelstudio.label_config import REVIEW_CONTROL

WORKING_EXAMPLE = """<View>
  <Image name="image" value="$image"/>
  <Choices name="label" toName="image" choice="single">
    <Choice value="cat"/>
    <Choice value="dog" hint="a dog, any breed"/>
  </Choices>
</View>"""


class LabelConfigError(ConfigError):
    """The labeling config is not XML, or has nothing Winnow can pre-annotate."""


def parse_box_config(xml: str) -> list[BoxControl]:
    """The RectangleLabels/PolygonLabels controls of ``xml`` (detection projects)."""
    root = _parse(xml)
    return box_controls(root, _image_fields(root))


def parse_label_config(xml: str, *, allow_none: bool = False) -> list[ChoicesControl]:
    """The supported controls of ``xml``, in document order; raises LabelConfigError.

    ``allow_none``: an empty list instead of the error (the config has box controls).
    """
    root = _parse(xml)
    images = _image_fields(root)
    controls, skipped = [], []
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.lower() == "choices":
            if element.get("name") == REVIEW_CONTROL:  # reviewers' decisions, not a class
                continue
            try:
                controls.append(choices_control(element, images))
            except UnsupportedControl as exc:
                skipped.append(str(exc))
    if controls or allow_none:
        return controls
    found = f"<Image> tags: {sorted(images) or 'none'}"
    reasons = "".join(f"\n  - {reason}" for reason in skipped) or "\n  - no <Choices> tag"
    raise LabelConfigError(
        "Winnow pre-annotates image classification: a <Choices> bound to an <Image>, with "
        'choice="single" or "multiple", or a <RectangleLabels>/<PolygonLabels> with <Label>s '
        f"for boxes. This labeling config has none ({found}):{reasons}"
        f"\nA labeling config that works:\n{WORKING_EXAMPLE}"
    )


def _parse(xml: str) -> ElementTree.Element:
    if not xml or not xml.strip():
        raise LabelConfigError(
            f"the labeling config is empty. A config that works:\n{WORKING_EXAMPLE}"
        )
    try:
        return ElementTree.fromstring(xml)
    except ElementTree.ParseError as exc:
        raise LabelConfigError(f"the labeling config is not valid XML: {exc}") from exc


def _image_fields(root: ElementTree.Element) -> dict[str, str]:
    """Image tag name -> the task data key its ``value="$key"`` reads."""
    fields = {}
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.lower() == "image":
            name, value = element.get("name"), (element.get("value") or "").strip()
            if name and value.startswith("$") and len(value) > 1:
                fields[name] = value[1:]
    return fields
