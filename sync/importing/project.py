"""The project an import fills: found by id or title, or created with a generated labeling
config; new classes added to its label control; the ML backend connected; and the index of
what it already holds, which makes a re-import add only new content."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from label_studio_sdk import LabelStudio

from winnow.errors import ConfigError, LabelStudioError
from winnow.labelstudio.calls import ls_call, ls_items, refusal_status
from winnow.labelstudio.label_config import (
    LabelControl,
    TaskKind,
    add_labels,
    build_label_config,
    find_label_control,
)
from winnow.labelstudio.ml_backends import find_ml_backend, register_ml_backend

TITLE_LENGTH = (3, 50)  # Label Studio's limits on project titles
ML_BACKEND_TITLE = "Winnow"


@dataclass(frozen=True)
class ProjectTarget:
    id: int
    title: str
    control: LabelControl
    created: bool = False
    labels_added: tuple[str, ...] = ()


@dataclass
class ProjectIndex:
    """What a project already holds, from the ``winnow_*`` fields of its tasks."""

    by_sha: dict[str, int] = field(default_factory=dict)  # sha256 -> task id
    by_source: dict[str, int] = field(default_factory=dict)  # winnow_source -> task id
    tasks: int = 0


def ensure_project(
    ls: LabelStudio, ref: str, *, labels: Sequence[str], task: TaskKind, multi_label: bool
) -> ProjectTarget:
    """The project named or numbered ``ref``, created when a title is new.

    An all-digit ``ref`` is a project id and must exist. Labels missing from an existing
    project's label control are added to its config.
    """
    project = _find(ls, ref)
    if project is None:
        return _create(ls, ref, labels=labels, task=task, multi_label=multi_label)
    config = project.label_config or ""
    control = find_label_control(config, task=task)
    if multi_label and control.tag == "Choices" and not control.multiple:
        raise ConfigError(
            f"project {project.id} chooses one label per image ({control.name!r} is "
            'choice="single"); set choice="multiple" on it in Label Studio, or import '
            "without --multi-label"
        )
    missing = tuple(label for label in labels if label not in control.labels)
    if missing:
        config = add_labels(config, control.name, missing)
        ls_call(
            f"add labels to project {project.id}",
            ls.projects.update,
            id=project.id,
            label_config=config,
        )
        control = find_label_control(config, task=task)
    return ProjectTarget(project.id, project.title or ref, control, False, missing)


def _find(ls: LabelStudio, ref: str) -> Any | None:
    if ref.isdigit():
        try:
            return ls_call(f"read project {ref}", ls.projects.get, id=int(ref))
        except LabelStudioError as exc:
            if refusal_status(exc) == 404:
                raise LabelStudioError(f"Label Studio has no project with id {ref}") from exc
            raise
    pager = ls_items("list projects", ls.projects.list, title=ref, page_size=100)
    matches = [p for p in pager if p.title == ref]
    if len(matches) > 1:
        ids = ", ".join(str(p.id) for p in matches)
        raise ConfigError(f"several projects are titled {ref!r} (ids {ids}); pass the id")
    if not matches:
        return None
    return ls_call(f"read project {matches[0].id}", ls.projects.get, id=matches[0].id)


def _create(
    ls: LabelStudio, title: str, *, labels: Sequence[str], task: TaskKind, multi_label: bool
) -> ProjectTarget:
    low, high = TITLE_LENGTH
    if not low <= len(title) <= high:
        raise ConfigError(f"a project title needs {low} to {high} characters, got {title!r}")
    config = build_label_config(labels, task=task, multi_label=multi_label)
    project = ls_call(
        f"create project {title!r}", ls.projects.create, title=title, label_config=config
    )
    control = find_label_control(config, task=task)
    return ProjectTarget(project.id, title, control, True, tuple(labels))


def load_index(ls: LabelStudio, project_id: int, *, page_size: int = 1000) -> ProjectIndex:
    """Page through the project's tasks (id and data only) and index the Winnow fields."""
    index = ProjectIndex()
    # resolve_uri=False: with an S3 storage, Label Studio rewrites every s3:// value in the
    # data (winnow_source too) into a proxy URL unless told not to
    pager = ls_items(
        f"list tasks of project {project_id}",
        ls.tasks.list,
        project=project_id,
        include="id,data",
        page_size=page_size,
        resolve_uri=False,
    )
    for task in pager:
        index.tasks += 1
        data = task.data or {}
        sha, source = data.get("winnow_sha256"), data.get("winnow_source")
        if isinstance(sha, str):
            index.by_sha.setdefault(sha, task.id)
        if isinstance(source, str):
            index.by_source.setdefault(source, task.id)
    return index


def ensure_ml_backend(
    ls: LabelStudio, project_id: int, url: str, *, auth: tuple[str, str] | None = None
) -> bool:
    """Connect the ML backend at ``url`` unless it already is; True when newly connected.

    Label Studio calls the backend's /health and /setup here, so a backend that is down
    or rejects the config fails now, with its reason, rather than silently later. Label
    Studio takes the project's model version from the backend's *title*, and sorts by
    prediction score only among predictions of that version, so the backend is named
    after the model version its /setup reported.
    """
    if ls_call("list ML backends", find_ml_backend, ls, project_id, url) is not None:
        return False
    backend = ls_call(
        f"connect the ML backend at {url}",
        register_ml_backend,
        ls,
        project_id,
        url,
        title=ML_BACKEND_TITLE,
        auth=auth,
    )
    version = backend.model_version
    if version and version != ML_BACKEND_TITLE:
        ls_call(
            "name the ML backend after its model version",
            register_ml_backend,
            ls,
            project_id,
            url,
            title=version,
            auth=auth,
        )
        ls_call(
            "set the project's model version",
            ls.projects.update,
            id=project_id,
            model_version=version,
        )
    return True
