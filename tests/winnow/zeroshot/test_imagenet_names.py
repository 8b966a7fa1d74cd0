"""Class names -> ImageNet classes: curated groups checked against WordNet lemmas."""

from __future__ import annotations

import pytest

from winnow.zeroshot.imagenet_names import (
    GROUPS,
    class_names,
    imagenet_classes,
    normalise,
    singular,
)

# For each group: lemmas that must be inside and just outside its ranges.
BOUNDARIES = {
    "fish": (["tench", "stingray", "barracouta", "puffer"], ["cock", "abacus"]),
    "bird": (
        ["cock", "great grey owl", "black grouse", "black swan", "white stork", "albatross"],
        ["tusker", "grey whale", "european fire salamander"],
    ),
    "amphibian": (["european fire salamander", "tailed frog"], ["loggerhead"]),
    "reptile": (["loggerhead", "sidewinder"], ["trilobite"]),
    "dog": (["chihuahua", "mexican hairless"], ["timber wolf", "sea lion"]),
    "cat": (["tabby", "egyptian cat"], ["cougar", "grey fox"]),
    "insect": (["tiger beetle", "lycaenid"], ["starfish", "meerkat"]),
    "mammal": (
        ["tusker", "wombat", "grey whale", "meerkat", "wood rabbit", "giant panda"],
        ["jellyfish", "tiger beetle", "barracouta"],
    ),
    "primate": (["orangutan", "indri"], ["three-toed sloth", "indian elephant"]),
}


def _first_lemmas(indices: list[int]) -> set[str]:
    return {class_names(i).split(", ")[0] for i in indices}


@pytest.mark.parametrize("group", sorted(BOUNDARIES))
def test_group_ranges_start_and_end_where_the_lemmas_say(group):
    inside, outside = BOUNDARIES[group]
    members = _first_lemmas(imagenet_classes(group))
    assert set(inside) <= members
    assert not set(outside) & members


def test_groups_are_unions_of_their_parts():
    def idx(name: str) -> set[int]:
        return set(imagenet_classes(name))

    assert idx("frog") <= idx("amphibian")
    assert idx("snake") | idx("lizard") | idx("turtle") <= idx("reptile")
    assert idx("dog") | idx("cat") | idx("bear") | idx("primate") <= idx("mammal")
    assert idx("beetle") | idx("butterfly") <= idx("insect")
    assert not idx("bird") & idx("mammal")
    assert all(lo <= hi for ranges in GROUPS.values() for lo, hi in ranges)


def test_exact_lemmas_win_over_head_nouns_and_head_nouns_are_a_fallback():
    assert _first_lemmas(imagenet_classes("lion")) == {"lion"}  # not sea lion, not cougar
    assert _first_lemmas(imagenet_classes("Penguin")) == {"king penguin"}
    assert _first_lemmas(imagenet_classes("n02123045")) == {"tabby"}
    assert imagenet_classes("n00000000") == []
    assert imagenet_classes("giraffe") == []  # not an ImageNet-1k class


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Birds", "bird"),
        ("flies", "fly"),
        ("foxes", "fox"),
        ("geese", "goose"),
        ("fish", "fish"),
        ("walrus", "walrus"),
        ("big_cats", "big cat"),
        ("Tiger-Cat", "tiger cat"),
    ],
)
def test_plural_and_spelling_normalisation(name, expected):
    assert singular(normalise(name)) == expected
