"""Label config parsing: which <Choices> are supported, class names, and clear errors."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from winnow.labelstudio.controls.parse import WORKING_EXAMPLE, LabelConfigError, parse_label_config


def test_single_and_multiple_choices_bound_to_images(make_config):
    [single] = parse_label_config(make_config('value="Cat"', 'value="Dog"'))
    assert (single.from_name, single.to_name, single.data_key) == ("label", "image", "image")
    assert single.multiple is False
    assert single.labels == ["Cat", "Dog"]
    [multi] = parse_label_config(make_config('value="a"', 'value="b"', multiple=True))
    assert multi.multiple is True


def test_class_names_from_value_hint_alias_and_predicted_values(make_config):
    [control] = parse_label_config(
        make_config(
            'value="Cat"',
            'value="Dog" hint="a dog of any breed"',
            'value="Coffee" alias="c3"',
            'value="Mug" predicted_values="coffee mug, cup"',
        )
    )
    labels = [(c.label, c.prompts) for c in control.classes]
    assert labels == [
        ("Cat", ("Cat",)),
        ("Dog", ("a dog of any breed",)),  # the hint describes the class for the model
        ("c3", ("Coffee",)),  # Label Studio stores the alias in results
        ("Mug", ("coffee mug", "cup")),
    ]


def test_several_controls_and_nested_choices_keep_document_order():
    xml = """<View>
      <Image name="photo" value="$url"/>
      <Text name="caption" value="$text"/>
      <Choices name="sentiment" toName="caption"><Choice value="pos"/></Choices>
      <Choices name="animal" toName="photo" choice="single-radio">
        <View><Choice value="cat"/><Choice value="dog"/></View>
      </Choices>
      <choices name="style" toName="photo" choice="multiple"><choice value="b/w"/></choices>
    </View>"""
    controls = parse_label_config(xml)
    assert [(c.from_name, c.data_key, c.multiple) for c in controls] == [
        ("animal", "url", False),
        ("style", "url", True),
    ]
    assert controls[0].labels == ["cat", "dog"]


@pytest.mark.parametrize(
    ("xml", "reason"),
    [
        (
            '<View><Text name="t" value="$t"/>'
            '<Choices name="c" toName="t"><Choice value="x"/></Choices></View>',
            "bound to ['t'], not to an <Image>",
        ),
        (
            '<View><Image name="i" value="$i"/><Choices name="c" toName="i" perRegion="true">'
            '<Choice value="x"/></Choices></View>',
            "perRegion",
        ),
        (
            '<View><Image name="i" value="$i"/>'
            '<Choices name="c" toName="i" value="$options"/></View>',
            "takes its options from task",
        ),
        (
            '<View><Image name="i" value="$i"/><Choices name="c" toName="i">'
            '<Choice value="x"/><Choice value="x"/></Choices></View>',
            "repeats a Choice value",
        ),
        (
            '<View><Image name="i" value="$i"/><RectangleLabels name="r" toName="i">'
            '<Label value="car"/></RectangleLabels></View>',
            "no <Choices> tag",
        ),
    ],
)
def test_unsupported_configs_say_why_and_show_one_that_works(xml, reason):
    with pytest.raises(LabelConfigError) as caught:
        parse_label_config(xml)
    message = str(caught.value)
    assert reason in message
    assert WORKING_EXAMPLE in message
    assert parse_label_config(WORKING_EXAMPLE)[0].labels == ["cat", "dog"]


@pytest.mark.parametrize("xml", ["", "   ", "<View><Image", "not xml at all"])
def test_empty_or_broken_xml_is_a_label_config_error(xml):
    with pytest.raises(LabelConfigError):
        parse_label_config(xml)


names = st.lists(
    st.text(alphabet=string.ascii_letters + string.digits + " -_", min_size=1, max_size=20)
    .map(str.strip)
    .filter(bool),
    min_size=1,
    max_size=12,
    unique=True,
)


@given(names=names, multiple=st.booleans())
def test_every_choice_value_comes_back_in_order(names, multiple):
    from xml.sax.saxutils import quoteattr

    body = "".join(f"<Choice value={quoteattr(n)}/>" for n in names)
    mode = "multiple" if multiple else "single"
    xml = (
        f'<View><Image name="im" value="$img"/><Choices name="c" toName="im" '
        f'choice="{mode}">{body}</Choices></View>'
    )
    [control] = parse_label_config(xml)
    assert control.labels == names
    assert control.multiple is multiple
    assert all(c.prompts == (c.label,) for c in control.classes)


def test_the_review_control_that_import_adds_is_not_predicted() -> None:
    from winnow.labelstudio.label_config import build_label_config

    xml = build_label_config(
        ["bird", "fish"], task="classification", multi_label=False, image_key="image"
    )
    controls = parse_label_config(xml)
    assert [c.from_name for c in controls] == ["label"]
