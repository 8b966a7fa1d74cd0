"""Questions about an image's detections, in a tiny language parsed without ``eval``.

    contains: swimming pool          a confident detection of that class
    not contains: person
    person_count > 0                 counts: <class>_count (spaces as _) and faces
    faces >= 1 and car_count < 3     ``and`` / ``or`` (``and`` binds tighter), no brackets

Class names are checked against the detector's classes when parsed, so a question about a
class the model cannot see is an error at start-up, not an always-false column.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from winnow.detection.labels import normalise
from winnow.errors import ConfigError

Counts = Mapping[str, int]  # "person_count" -> 2, "faces" -> 1
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
}
_COMPARE = re.compile(r"^([a-z0-9_]+)\s*(>=|<=|==|!=|>|<)\s*(\d+(?:\.\d+)?)$")
_CONTAINS = re.compile(r"^(not\s+)?contains\s*:\s*(.+)$")


class QuestionError(ConfigError):
    """A question that does not parse or names a class the detector does not have."""


@dataclass(frozen=True)
class Question:
    text: str
    test: Callable[[Counts], bool]

    @property
    def column(self) -> str:
        """A field name for the answer, e.g. ``q_person_count_gt_0``."""
        words = self.text.lower().replace(">=", " ge ").replace("<=", " le ").replace(">", " gt ")
        words = words.replace("<", " lt ").replace("==", " eq ").replace("!=", " ne ")
        return "q_" + "_".join(re.findall(r"[a-z0-9]+", words))

    def __call__(self, counts: Counts) -> bool:
        return self.test(counts)


def count_field(name: str) -> str:
    """The count field of a class name: ``traffic light`` -> ``traffic_light_count``."""
    return "_".join(re.findall(r"[a-z0-9]+", name.lower())) + "_count"


def parse_question(text: str, classes: Iterable[str]) -> Question:
    """Parse ``text``; ``classes`` are the names the detectors can return."""
    fields = {count_field(c) for c in classes} | {"faces"}
    by_key = {normalise(c): count_field(c) for c in classes} | {"face": "faces"}
    alternatives = [
        _conjunction(part, fields, by_key, text)
        for part in re.split(r"\s+or\s+", text.strip().lower())
    ]
    return Question(text.strip(), lambda counts: any(alt(counts) for alt in alternatives))


def _conjunction(
    text: str, fields: set[str], by_key: dict[str, str], whole: str
) -> Callable[[Counts], bool]:
    terms = [_term(t.strip(), fields, by_key, whole) for t in re.split(r"\s+and\s+", text)]
    return lambda counts: all(term(counts) for term in terms)


def _term(
    text: str, fields: set[str], by_key: dict[str, str], whole: str
) -> Callable[[Counts], bool]:
    if match := _CONTAINS.match(text):
        negate, name = bool(match.group(1)), match.group(2).strip()
        field = by_key.get(normalise(name))
        if field is None:
            raise QuestionError(f"{whole!r}: the detector has no class {name!r}")
        return lambda counts: (counts.get(field, 0) > 0) != negate
    if match := _COMPARE.match(text):
        field, op, value = match.group(1), _OPS[match.group(2)], float(match.group(3))
        if field not in fields:
            raise QuestionError(f"{whole!r}: unknown count {field!r}; e.g. person_count, faces")
        return lambda counts: op(counts.get(field, 0), value)
    raise QuestionError(f"{whole!r}: expected 'contains: <class>' or '<class>_count > <n>'")
