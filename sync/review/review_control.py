"""Add Winnow's review parts to a project's label config: the ``winnow_review`` choices
(keep / relabel / remove), so reviewers can record a decision in the editor, and the evidence
panel, a ``HyperText`` bound to the ``winnow_evidence`` task field the sync writes, so they
see why a task was flagged. Label Studio keeps existing annotations valid: the change only
adds tags.

Once the panel is in the config, Label Studio expects ``winnow_evidence`` in the data of every
task written to the project; the sync keeps the field (empty) on tasks it has flagged before.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from label_studio_sdk import LabelStudio

from winnow.labelstudio.calls import ls_call
from winnow.labelstudio.label_config import REVIEW_CHOICES, REVIEW_CONTROL, has_review_control

EVIDENCE_FIELD = "winnow_evidence"
HEADER = "Winnow review"


def with_review_control(config: str, to_name: str) -> str:
    """``config`` plus a header, the single-choice ``winnow_review`` control and the
    evidence panel, each unless present."""
    root = _parse(config)
    changed = False
    if not has_review_control(config):
        ET.SubElement(root, "Header", value=HEADER)
        review = ET.SubElement(
            root, "Choices", name=REVIEW_CONTROL, toName=to_name, choice="single", showInline="true"
        )
        for value in REVIEW_CHOICES:
            ET.SubElement(review, "Choice", value=value)
        changed = True
    if not has_evidence_panel(config):
        panel = ET.Element("HyperText", name=EVIDENCE_FIELD, value=f"${EVIDENCE_FIELD}")
        panel.set("inline", "true")
        _insert_after_header(root, panel)
        changed = True
    return ET.tostring(root, encoding="unicode") if changed else config


def has_evidence_panel(config: str) -> bool:
    """Whether some tag shows the ``winnow_evidence`` field."""
    return any(el.get("value") == f"${EVIDENCE_FIELD}" for el in _parse(config).iter())


def ensure_review_control(ls: LabelStudio, project: int, *, to_name: str) -> bool:
    """Add what is missing to the project's config; True when something was added."""
    config = ls_call(f"read project {project}", ls.projects.get, id=project).label_config or ""
    wanted = with_review_control(config, to_name)
    if wanted == config:
        return False
    ls_call(
        f"add the {REVIEW_CONTROL} control and evidence panel to project {project}",
        ls.projects.update,
        id=project,
        label_config=wanted,
    )
    return True


def _insert_after_header(root: ET.Element, panel: ET.Element) -> None:
    """The panel right under the "Winnow review" header (there, the decision sits beside the
    evidence), else at the end."""
    children = list(root)
    for i, el in enumerate(children):
        if el.tag == "Header" and el.get("value") == HEADER:
            panel.tail = el.tail  # the config's own indentation
            root.insert(i + 1, panel)
            return
    root.append(panel)


def _parse(config: str) -> ET.Element:
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))  # keep comments
    return ET.fromstring(config, parser=parser)
