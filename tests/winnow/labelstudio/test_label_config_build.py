"""Generated labeling configs, and finding the label control in hand-made ones."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from winnow.errors import ConfigError
from winnow.labelstudio.label_config import (
    REVIEW_CHOICES,
    REVIEW_CONTROL,
    add_labels,
    build_label_config,
    find_label_control,
    has_review_control,
)


def test_single_choice_config_with_review_control() -> None:
    config = build_label_config(["cat", "dog"])
    root = ET.fromstring(config)
    (image,) = root.iter("Image")
    assert image.get("value") == "$image"
    label, review = root.iter("Choices")
    assert (label.get("name"), label.get("choice"), label.get("toName")) == (
        "label",
        "single",
        "image",
    )
    assert [c.get("value") for c in label] == ["cat", "dog"]
    assert review.get("name") == REVIEW_CONTROL
    assert tuple(c.get("value") for c in review) == REVIEW_CHOICES
    assert has_review_control(config)

    control = find_label_control(config)
    assert (control.tag, control.name, control.to_name, control.image_key) == (
        "Choices",
        "label",
        "image",
        "image",
    )
    assert control.labels == ("cat", "dog") and not control.multiple
    assert control.choices_result(["dog"]) == [
        {"from_name": "label", "to_name": "image", "type": "choices", "value": {"choices": ["dog"]}}
    ]


def test_multi_label_and_detection() -> None:
    assert find_label_control(build_label_config(["a", "b"], multi_label=True)).multiple
    config = build_label_config(["car", "person"], task="detection")
    control = find_label_control(config, task="detection")
    assert control.tag == "RectangleLabels" and control.labels == ("car", "person")
    with pytest.raises(ValueError, match="regions"):
        control.choices_result(["car"])
    with pytest.raises(ConfigError, match="RectangleLabels"):
        find_label_control(build_label_config(["a"]), task="detection")


def test_hand_made_config_is_understood_and_gets_new_labels() -> None:
    config = """<View>
      <!-- made by hand -->
      <Image name="photo" value="$img"/>
      <Choices name="winnow_review" toName="photo"><Choice value="keep"/></Choices>
      <Choices name="species" toName="photo" choice="multiple"><Choice value="cat"/></Choices>
    </View>"""
    control = find_label_control(config)
    assert (control.name, control.to_name, control.image_key, control.multiple) == (
        "species",
        "photo",
        "img",
        True,
    )
    updated = add_labels(config, "species", ["cat", "bird & fish", 'say "hi"'])
    assert "made by hand" in updated
    assert find_label_control(updated).labels == ("cat", "bird & fish", 'say "hi"')
    assert add_labels(updated, "species", ["cat"]) == updated


def test_configs_without_a_usable_control_explain_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"(?s)no <Choices> control.*<View>"):
        find_label_control('<View><Text name="t" value="$text"/></View>')
    with pytest.raises(ConfigError, match="not valid XML"):
        find_label_control("<View><Image")
    with pytest.raises(ConfigError, match="no label control named"):
        add_labels(build_label_config(["a"]), "nope", ["b"])


label_text = st.text(min_size=1, max_size=12).filter(lambda s: s.strip() == s and s.isprintable())


@given(
    st.lists(label_text, min_size=1, max_size=6, unique=True),
    st.sampled_from(["classification", "detection"]),
)
def test_any_label_text_round_trips(labels, task) -> None:
    config = build_label_config(labels, task=task)
    assert find_label_control(config, task=task).labels == tuple(labels)
