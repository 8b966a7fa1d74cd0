"""Class names -> ImageNet-1k classes, using the WordNet synset names that ship in timm.

A name matches an ImageNet class when it equals one of the class's WordNet lemmas or, when no
lemma equals it, is the head noun of one ("penguin" matches "king penguin"), after
lower-casing and a simple singular form ("birds" -> "bird"). A WordNet id ("n02123045")
names its class directly.

WordNet's hierarchy does not ship in timm, so coarse names ("bird", "mammal", "insect") would
match almost nothing by name. :data:`GROUPS` lists them as ranges of ImageNet-1k indices:
the classes are sorted by WordNet id, which keeps each of these groups contiguous (checked
by the tests against the lemmas at every boundary). A name in :data:`GROUPS` uses only its
group, since its head-noun matches are noisier ("bear" would take "teddy bear").
"""

from __future__ import annotations

import re
from functools import cache

from timm.data import ImageNetInfo

MAPPING_VERSION = 2  # bump when the rules or GROUPS change: it is part of the model version

# Inclusive index ranges of ImageNet-1k classes.
GROUPS: dict[str, tuple[tuple[int, int], ...]] = {
    "fish": ((0, 6), (389, 397)),
    "bird": ((7, 24), (80, 100), (127, 146)),
    "amphibian": ((25, 32),),
    "frog": ((30, 32),),
    "reptile": ((33, 68),),
    "turtle": ((33, 37),),
    "lizard": ((38, 48),),
    "snake": ((52, 68),),
    "arachnid": ((70, 78),),
    "spider": ((72, 77),),
    "mollusc": ((112, 117),),
    "mollusk": ((112, 117),),
    "crustacean": ((118, 126),),
    "shellfish": ((112, 126),),
    "mammal": ((101, 106), (147, 299), (330, 388)),
    "marsupial": ((104, 106),),
    "whale": ((147, 148),),
    "dog": ((151, 268),),
    "canine": ((151, 280),),
    "cat": ((281, 285),),
    "big cat": ((286, 293),),
    "feline": ((281, 293),),
    "bear": ((294, 297),),
    "insect": ((300, 326),),
    "beetle": ((300, 307),),
    "butterfly": ((321, 326),),
    "rabbit": ((330, 332),),
    "rodent": ((333, 338),),
    "horse": ((339, 339),),
    "pig": ((341, 343),),
    "cattle": ((345, 347),),
    "cow": ((345, 347),),
    "sheep": ((348, 349),),
    "goat": ((350, 350),),
    "antelope": ((351, 353),),
    "primate": ((365, 384),),
    "ape": ((365, 369),),
    "monkey": ((370, 382),),
    "elephant": ((101, 101), (385, 386)),
}

_IRREGULAR = {
    "geese": "goose",
    "mice": "mouse",
    "oxen": "ox",
    "wolves": "wolf",
    "leaves": "leaf",
    "knives": "knife",
    "calves": "calf",
    "people": "person",
    "children": "child",
    "teeth": "tooth",
    "feet": "foot",
    "cacti": "cactus",
    "fungi": "fungus",
}
_WNID = re.compile(r"^n\d{8}$")


def normalise(name: str) -> str:
    """Lower-case, ``_``/``-`` as single spaces: ``"Tiger_Cat"`` -> ``"tiger cat"``."""
    return " ".join(re.sub(r"[_\-]+", " ", name).lower().split())


def singular(name: str) -> str:
    """A simple English singular of the last word (good enough for class names)."""
    head, _, last = name.rpartition(" ")
    if last in _IRREGULAR:
        last = _IRREGULAR[last]
    elif last.endswith("ies") and len(last) > 4:
        last = last[:-3] + "y"
    elif last.endswith(("ches", "shes", "sses", "xes")):
        last = last[:-2]
    elif last.endswith("s") and not last.endswith(("ss", "us", "is")) and len(last) > 3:
        last = last[:-1]
    return f"{head} {last}" if head else last


@cache
def _lemmas() -> tuple[tuple[str, ...], ...]:
    """Normalised lemmas of each ImageNet-1k class, in class-index order."""
    descriptions = ImageNetInfo("imagenet-1k").label_descriptions()
    return tuple(tuple(normalise(lemma) for lemma in d.split(",")) for d in descriptions)


@cache
def _wnids() -> dict[str, int]:
    return {wnid: i for i, wnid in enumerate(ImageNetInfo("imagenet-1k").label_names())}


def class_names(index: int) -> str:
    """The readable lemmas of one ImageNet class, e.g. ``"tabby, tabby cat"``."""
    return ", ".join(_lemmas()[index])


def imagenet_classes(name: str) -> list[int]:
    """Sorted ImageNet-1k indices that ``name`` stands for; empty when nothing matches."""
    text = name.strip()
    if _WNID.match(text):
        return [_wnids()[text]] if text in _wnids() else []
    wanted = normalise(text)
    for candidate in (wanted, singular(wanted)):
        if candidate in GROUPS:
            return sorted({i for lo, hi in GROUPS[candidate] for i in range(lo, hi + 1)})
    forms = {wanted, singular(wanted)}
    exact = [i for i, lemmas in enumerate(_lemmas()) if forms & set(lemmas)]
    if exact:  # "lion" is the lion, not also the sea lion and the mountain lion
        return exact
    return [
        i
        for i, lemmas in enumerate(_lemmas())
        if any(lemma.endswith(" " + form) for lemma in lemmas for form in forms)
    ]
