"""The candidate models of one training run, each offered to the registry.

The fast path fits a linear head on the cached embeddings; with ``fine_tune`` on and at least
``fine_tune_min_images`` usable annotations, a fastai network is fine-tuned on the same
training rows too (below that the linear head wins on held-out tasks, see
docs/active_learning.md, so the run skips the fine-tune and says why). The registry promotes
a candidate only if it is not worse than the model it would replace on the same held-out
tasks: the current trained model, or zero-shot before one serves.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from ml_backend.training.holdout import HoldoutEvaluator
from ml_backend.training.images import ReadFn
from ml_backend.training.zero_shot import ZeroShotFn
from winnow.config import Settings
from winnow.labelstudio.controls.choices import ChoicesControl
from winnow.learn.dataset import LabelledTasks, holdout_mask
from winnow.learn.linear_head import fit_linear_head
from winnow.learn.registry import Decision, ModelRegistry, TrainedModel, make_version
from winnow.learn.trainer import FitOptions, fine_tune

log = logging.getLogger(__name__)


class Candidates:
    """Trains a project's candidates and records the registry's decision on each."""

    def __init__(self, settings: Settings, registry: ModelRegistry, embedder_id: str) -> None:
        self.settings = settings
        self.registry = registry
        self.embedder_id = embedder_id

    def train(
        self,
        project: int,
        control: ChoicesControl,
        data: LabelledTasks,
        vectors: np.ndarray,
        *,
        fine_tune_asked: bool,
        read: ReadFn,
        zero_shot: ZeroShotFn | None = None,
    ) -> dict[str, Decision]:
        """The registry's decision per candidate version, in the order they were offered.
        ``zero_shot``: what serves before a trained model, the first candidate's rival."""
        t = self.settings.training
        held = holdout_mask(data.task_ids, data.labels, fraction=t.holdout_fraction, seed=t.seed)
        train = np.flatnonzero(~held)
        head = fit_linear_head(
            vectors[train],
            [data.labels[i] for i in train],
            classes=control.labels,
            multi_label=control.multiple,
            seed=t.seed,
        )
        evaluate = HoldoutEvaluator(
            data, vectors, held, control, read, self.settings, zero_shot=zero_shot
        )
        linear = TrainedModel(
            self.new_version(project, "linear", self.embedder_id, len(data)),
            "linear",
            head,
            self.embedder_id,
            len(data),
            metrics=sizes(len(train), int(held.sum())),
        )
        decisions = {linear.version: self.offer(project, linear, evaluate)}
        if self.fine_tune_skip(len(data), asked=fine_tune_asked) is not None:
            return decisions
        images, _ = evaluate.images(train)
        keep = [i for i in train if i in images]
        network = fine_tune(
            [images[i] for i in keep],
            [data.labels[i] for i in keep],
            classes=control.labels,
            multi_label=control.multiple,
            options=FitOptions(
                t.arch, t.epochs, t.image_size, seed=t.seed, min_steps=t.fine_tune_min_steps
            ),
        )
        tuned = TrainedModel(
            self.new_version(project, "fastai", t.arch, len(data)),
            "fastai",
            head,
            self.embedder_id,
            len(data),
            metrics={**sizes(len(keep), int(held.sum())), **steps(network)},
            network=network,
        )
        decisions[tuned.version] = self.offer(project, tuned, evaluate)
        return decisions

    def fine_tune_skip(self, n_annotations: int, *, asked: bool) -> str | None:
        """Why a run over ``n_annotations`` usable annotations does not fine-tune; None if it
        does."""
        t = self.settings.training
        if not t.fine_tune:
            return "off (training.fine_tune is false)"
        if not asked:
            return "not asked by this run"
        if n_annotations < t.fine_tune_min_images:
            return (
                f"skipped: {n_annotations} labelled images, below training.fine_tune_min_images"
                f" ({t.fine_tune_min_images}); the linear head is the better model there"
            )
        return None

    def offer(self, project: int, model: TrainedModel, evaluate: HoldoutEvaluator) -> Decision:
        """Register ``model``; the registry promotes it or keeps it aside, and we log which."""
        decision = self.registry.consider(
            project,
            model,
            evaluate,
            only_if_not_worse=self.settings.training.replace_only_if_not_worse,
            baseline=evaluate.baseline if evaluate.zero_shot is not None else None,
        )
        log.info(
            "project %s: model %s %s (%s)",
            project,
            model.version,
            "promoted" if decision.promoted else "kept aside",
            decision.reason,
        )
        return decision

    def new_version(self, project: int, kind: str, name: str, n: int) -> str:
        """A fresh version; a second run within the same second moves the stamp along."""
        existing = set(self.registry.versions(project))
        now = datetime.now(UTC)
        while (version := make_version(kind, name, n, now)) in existing:
            now += timedelta(seconds=1)
        return version


def steps(network: Any) -> dict[str, Any]:
    """The fine-tune's schedule, for meta.json: optimiser steps, batch size, epochs."""
    plan = network.schedule
    if plan is None:
        return {}
    return {
        "steps": network.steps_taken,
        "batch_size": plan.batch_size,
        "epochs": plan.freeze_epochs + plan.epochs,
    }


def sizes(train_size: int, holdout_size: int) -> dict[str, Any]:
    """The metrics every candidate carries: how many tasks it trained on and was scored on."""
    return {"train_size": train_size, "holdout_size": holdout_size}
