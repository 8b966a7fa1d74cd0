import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.ontology import name_pairs, normalise, propose_merges, singular
from winnow.datasets import FASHION_MNIST_CLASSES


def _reasons(names: list[str], **kwargs) -> dict[tuple[str, str], str]:
    return {(names[p.a], names[p.b]): p.reason for p in name_pairs(names, **kwargs)}


def test_each_rule_on_real_looking_names() -> None:
    names = ["Cat", "cat", "sea_lion", "Sea-Lion", "boxes", "box", "television", "televison"]
    assert _reasons(names) == {
        ("Cat", "cat"): "case",
        ("sea_lion", "Sea-Lion"): "separator",
        ("boxes", "box"): "plural",
        ("television", "televison"): "spelling",
    }


def test_normalise_and_singular() -> None:
    assert normalise("SeaLion_pup") == "sea lion pup"
    assert normalise("  traffic--light. ") == "traffic light"
    assert [singular(w) for w in ["berries", "boxes", "dogs", "glass", "bus", "axis"]] == [
        "berry",
        "box",
        "dog",
        "glass",
        "bus",
        "axis",
    ]


def test_distinct_classes_are_left_alone() -> None:
    # real label sets with short, similar-looking but different names
    assert name_pairs(list(FASHION_MNIST_CLASSES)) == []
    different = [
        "cat",
        "car",
        "shirt",
        "skirt",
        "coat",
        "boat",
        "man",
        "woman",
        "v1",
        "v2",
        "class_1",
        "class_2",
        "layer10",
        "layer11",
    ]
    assert name_pairs(different) == []


def test_proposals_keep_the_most_frequent_name_and_explain_every_merge() -> None:
    names = ["car", "automobile", "automobiles", "Dog", "dogs", "dog", "tree"]
    counts = np.array([100, 5, 3, 1, 2, 40, 9])
    vectors = np.zeros((len(names), 3), dtype=np.float32)
    vectors[:, 2] = 1.0  # unrelated unless set below
    vectors[0] = [1.0, 0.0, 0.0]  # car
    vectors[1] = [0.95, np.sqrt(1 - 0.95**2), 0.0]  # automobile: cosine 0.95 with car
    vectors[2] = [0.0, 1.0, 0.0]  # automobiles: far from car
    vectors[3:] = [0.0, 0.0, 1.0]
    vectors[6] = [0.0, 0.6, 0.8]  # tree: cosine 0.8 with the dogs, below 0.9
    proposals = propose_merges(names, counts=counts, name_embeddings=vectors)
    by_keep = {p.keep: p for p in proposals}
    assert set(by_keep) == {"car", "dog"}
    car = by_keep["car"]
    assert dict(zip(car.merge, car.reasons, strict=True)) == {
        "automobile": "meaning 0.95",
        "automobiles": "via automobile: plural",
    }
    dog = by_keep["dog"]
    assert dict(zip(dog.merge, dog.reasons, strict=True)) == {"Dog": "case", "dogs": "plural"}


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="distinct"):
        name_pairs(["a", "a"])
    with pytest.raises(TypeError, match="list of strings"):
        name_pairs("abc")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rows for 2 names"):
        name_pairs(["a", "b"], name_embeddings=np.eye(3, dtype=np.float32))


words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=8)


@settings(max_examples=100, deadline=None)
@given(st.lists(words, min_size=2, max_size=12, unique=True), st.randoms())
def test_the_relation_does_not_depend_on_order(names: list[str], random) -> None:
    shuffled = random.sample(names, len(names))
    found = {frozenset((names[p.a], names[p.b])): p.reason for p in name_pairs(names)}
    again = {frozenset((shuffled[p.a], shuffled[p.b])): p.reason for p in name_pairs(shuffled)}
    assert found == again
    assert all(0.0 <= p.score <= 1.0 for p in name_pairs(names))


@settings(max_examples=100, deadline=None)
@given(st.lists(words, min_size=1, max_size=3, unique=True))
def test_case_and_separator_variants_are_always_linked(parts: list[str]) -> None:
    snake = "_".join(parts)
    variants = [snake, snake.upper(), "-".join(parts), " ".join(p.capitalize() for p in parts)]
    variants = list(dict.fromkeys(variants))  # one-part names repeat
    reasons = _reasons(variants)
    assert len(reasons) == len(variants) * (len(variants) - 1) // 2
    assert set(reasons.values()) <= {"case", "separator"}
    merged = propose_merges(variants)
    if len(variants) > 1:
        assert len(merged) == 1 and set(merged[0].merge) | {merged[0].keep} == set(variants)
