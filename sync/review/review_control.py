"""Add the ``winnow_review`` choices (keep / relabel / remove) to a project's label config,
so reviewers can record a decision in the editor. Label Studio keeps existing annotations
valid: the change only adds a control."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from label_studio_sdk import LabelStudio

from winnow.labelstudio.calls import ls_call
from winnow.labelstudio.label_config import REVIEW_CHOICES, REVIEW_CONTROL, has_review_control


def with_review_control(config: str, to_name: str) -> str:
    """``config`` plus a header and the single-choice ``winnow_review`` control."""
    if has_review_control(config):
        return config
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))  # keep comments
    root = ET.fromstring(config, parser=parser)
    ET.SubElement(root, "Header", value="Winnow review")
    review = ET.SubElement(
        root, "Choices", name=REVIEW_CONTROL, toName=to_name, choice="single", showInline="true"
    )
    for value in REVIEW_CHOICES:
        ET.SubElement(review, "Choice", value=value)
    return ET.tostring(root, encoding="unicode")


def ensure_review_control(ls: LabelStudio, project: int, *, to_name: str) -> bool:
    """Add the control to the project's config unless present; True when it was added."""
    config = ls_call(f"read project {project}", ls.projects.get, id=project).label_config
    if has_review_control(config or ""):
        return False
    ls_call(
        f"add the {REVIEW_CONTROL} control to project {project}",
        ls.projects.update,
        id=project,
        label_config=with_review_control(config, to_name),
    )
    return True
