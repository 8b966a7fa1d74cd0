"""Which model answers each project: its promoted trained model, or zero-shot.

A project is answered by its trained model once the last training run found at least
``min_per_class`` usable annotations for every class (and the model's classes match the
labeling config) and a trained model was promoted (the first one must beat zero-shot on the
held-out tasks); otherwise zero-shot answers, and every switch is logged with the reason.
Promoted models are loaded and cached by :class:`winnow.learn.registry.ModelRegistry`.

The recorded status (``status.json``, shown by ``/health``) holds the class of the model that
serves, each candidate's held-out score beside the score of the model it was compared with,
and why the fine-tune did not run, if it did not.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ml_backend.service import Plan
from ml_backend.training.runner import RunOutcome
from ml_backend.training.status import ProjectStatus
from winnow.learn.registry import Decision, ModelRegistry, TrainedModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Switch:
    """The version that answered a project before a run's decision and the one after."""

    before: str
    after: str

    @property
    def changed(self) -> bool:
        return self.after != self.before


class ProjectModels:
    """The per-project choice between the registry's current model and zero-shot."""

    def __init__(self, registry: ModelRegistry, status: ProjectStatus, *, min_per_class: int):
        self.registry = registry
        self.status = status
        self.min_per_class = min_per_class

    def active_model(self, project: int | None, plan: Plan) -> TrainedModel | None:
        """The trained model answering ``project`` with this plan, or None for zero-shot."""
        if project is None or len(plan.controls) != 1 or plan.boxes:
            return None  # several controls, or boxes a classifier cannot predict
        if not self.status.get(project).get("trained"):
            return None
        model = self.registry.current(project)
        control = plan.controls[0]
        if (
            model is None
            or model.classes != tuple(control.labels)
            or (model.multi_label != control.multiple)
        ):
            return None
        return model

    def version(self, project: int | None, plan: Plan) -> str:
        """The model version that answers ``project``: trained, or the plan's zero-shot one."""
        model = self.active_model(project, plan)
        return model.version if model is not None else plan.version

    def record(self, outcome: RunOutcome, plan: Plan) -> Switch:
        """Record a finished run's findings, decide what answers now, and log the switch."""
        project = outcome.project
        last = self.status.get(project)
        before = last.get("version") or plan.version  # as answered
        decisions = {v: decision_document(d) for v, d in outcome.decisions.items()}
        if outcome.unchanged:  # nothing new was trained: the last decisions still explain it
            decisions = last.get("decisions") or {}
        status: dict[str, Any] = {
            "trained": not (outcome.short or outcome.unsupported),
            "counts": outcome.counts,
            "dropped": outcome.dropped,
            "n_annotations": outcome.n_annotations,
            "short": outcome.short,
            "fine_tune": outcome.fine_tune,
            "decisions": decisions,
            "unsupported": outcome.unsupported,
            "data_key": outcome.data_key,
            "unchanged": outcome.unchanged,
        }
        self.status.put(project, status)
        after = status["version"] = self.version(project, plan)
        serving = self.active_model(project, plan)
        status["model_class"] = model_class(serving) if serving is not None else None
        self.status.save(project, status)
        switch = Switch(before, after)
        if outcome.unsupported:
            log.info("project %s: serving zero-shot %s: %s", project, after, outcome.unsupported)
        elif outcome.short:
            log.warning(
                "project %s: serving zero-shot %s: classes %s have fewer than %d usable "
                "annotations (counts %s)",
                project,
                plan.version,
                outcome.short,
                self.min_per_class,
                outcome.counts,
            )
        elif switch.changed:
            log.info("project %s: serving trained model %s", project, after)
        return switch


def model_class(model: TrainedModel) -> str:
    """What ``/health`` calls a trained model: ``winnow-linear-head``, ``winnow-fastai-<arch>``."""
    return f"winnow-fastai-{model.network.arch}" if model.network else f"winnow-{model.kind}-head"


def decision_document(decision: Decision) -> dict[str, Any]:
    """A candidate's held-out score beside the score of the model it was compared with."""
    return {
        "promoted": decision.promoted,
        "holdout_score": decision.candidate_score,
        "compared_with": decision.current_version,
        "compared_score": decision.current_score,
        "reason": decision.reason,
    }
