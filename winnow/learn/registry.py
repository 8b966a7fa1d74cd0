"""Trained models per Label Studio project, with versions, metrics and a promotion rule.

Layout: ``<root>/<project>/<version>/`` holds ``meta.json`` (version, kind, training set
size, held-out metrics, time, the promotion decision), ``head/`` (the linear head over
cached embeddings, :mod:`winnow.learn.linear_head`) and, for fine-tuned models,
``network/`` (:mod:`winnow.learn.trainer`). ``<root>/<project>/current.json`` names the
model that serves. Files are replaced atomically, so a reader never sees half a model.

Versions read ``linear-<embedder>@<n_annotations>-<timestamp>`` for the fast path and
``fastai-<arch>@<n_annotations>-<timestamp>`` for fine-tuned networks.

A new model replaces the current one only if its score on the held-out split is not worse
than the current model's score on the *same* split (``replace_only_if_not_worse``); the
caller evaluates both with one function, so the comparison is like for like. Before any
trained model serves (or when the current one no longer fits the labeling config), the model
to beat is the one that serves instead: the caller's :class:`Baseline` (zero-shot), scored on
the same held-out tasks.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from winnow.atomic import write_atomic
from winnow.learn.linear_head import LinearHead
from winnow.learn.trainer import FineTunedNetwork

Evaluate = Callable[["TrainedModel"], float | None]


@dataclass(frozen=True)
class Baseline:
    """The model serving when no trained model does (zero-shot), scored on the held-out tasks."""

    version: str
    score: float | None


@dataclass(eq=False)
class TrainedModel:
    version: str
    kind: str  # "linear" or "fastai"
    head: LinearHead  # over the embedder ``embedder`` (every model has one)
    embedder: str  # model_id of the embeddings the head reads
    n_annotations: int
    metrics: dict[str, Any] = field(default_factory=dict)
    network: FineTunedNetwork | None = None
    created_at: str = ""
    path: Path | None = None

    @property
    def classes(self) -> tuple[str, ...]:
        return self.head.classes

    @property
    def multi_label(self) -> bool:
        return self.head.multi_label

    def predict_proba_vectors(self, vectors: np.ndarray) -> np.ndarray:
        """``(N, K)`` probabilities from cached embeddings of :attr:`embedder`."""
        return self.head.predict_proba(vectors)

    def predict_proba_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """``(N, K)`` probabilities from the fine-tuned network; ValueError without one."""
        if self.network is None:
            raise ValueError(f"model {self.version} is a linear head; it reads embeddings")
        return self.network.predict_proba(images)


@dataclass(frozen=True)
class Decision:
    promoted: bool
    candidate_score: float | None
    current_score: float | None
    reason: str
    current_version: str | None = None  # the model compared with (trained or zero-shot)


def make_version(kind: str, name: str, n_annotations: int, now: datetime | None = None) -> str:
    """``<kind>-<name>@<n>-<UTC timestamp>``; ``name`` is slugged (no ``@`` or ``/``)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S")
    slug = re.sub(r"[^A-Za-z0-9._]+", "-", name).strip("-")
    return f"{kind}-{slug}@{n_annotations}-{stamp}"


def should_replace(
    candidate: float | None, current: float | None, *, only_if_not_worse: bool = True
) -> bool:
    """Whether a candidate scoring ``candidate`` replaces a model scoring ``current``.

    No current model, no held-out examples (None) or the rule switched off: replace.
    """
    if not only_if_not_worse or current is None or candidate is None:
        return True
    return candidate >= current - 1e-9


class ModelRegistry:
    """Saved models under ``root`` (default ``settings.data_dir / "models"``). Thread-safe."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()
        self._loaded: dict[tuple[int, str], TrainedModel] = {}

    def current(self, project: int) -> TrainedModel | None:
        """The serving model of ``project``, or None before the first promotion."""
        pointer = self.root / str(project) / "current.json"
        try:
            version = json.loads(pointer.read_text())["version"]
        except (OSError, ValueError, KeyError):
            return None
        return self.load(project, version)

    def load(self, project: int, version: str) -> TrainedModel:
        with self._lock:
            if (project, version) not in self._loaded:
                self._loaded[(project, version)] = _read(self.root / str(project) / version)
            return self._loaded[(project, version)]

    def versions(self, project: int) -> list[str]:
        folder = self.root / str(project)
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if (p / "meta.json").is_file())

    def save(self, project: int, model: TrainedModel, **extra: Any) -> TrainedModel:
        """Write ``model`` under its version; ``extra`` goes into meta.json (e.g. sizes)."""
        folder = self.root / str(project) / model.version
        if folder.exists():
            raise FileExistsError(f"model {model.version} of project {project} already exists")
        model.created_at = model.created_at or datetime.now(UTC).isoformat(timespec="seconds")
        model.head.save(folder / "head")
        if model.network is not None:
            model.network.save(folder / "network")
        meta = {
            "version": model.version,
            "kind": model.kind,
            "embedder": model.embedder,
            "classes": list(model.classes),
            "multi_label": model.multi_label,
            "n_annotations": model.n_annotations,
            "metrics": model.metrics,
            "created_at": model.created_at,
            **extra,
        }
        _write_json(folder / "meta.json", meta)
        model.path = folder
        with self._lock:
            self._loaded[(project, model.version)] = model
        return model

    def consider(
        self,
        project: int,
        model: TrainedModel,
        evaluate: Evaluate,
        *,
        only_if_not_worse: bool,
        baseline: Callable[[], Baseline] | None = None,
    ) -> Decision:
        """Score ``model`` and the current model with ``evaluate`` (the same held-out split),
        save ``model`` with the decision, and promote it if :func:`should_replace` agrees.

        Without a comparable current model, ``baseline()`` (called only then) is the model
        to beat."""
        current = self.current(project)
        candidate_score = evaluate(model)
        current_score = evaluate(current) if current is not None else None
        rival = current.version if current is not None else None
        if current_score is None and baseline is not None:
            base = baseline()
            rival, current_score = base.version, base.score
        promoted = should_replace(
            candidate_score, current_score, only_if_not_worse=only_if_not_worse
        )
        reason = _reason(promoted, candidate_score, current_score, rival)
        model.metrics["holdout_score"] = candidate_score
        self.save(
            project,
            model,
            decision={
                "promoted": promoted,
                "reason": reason,
                "candidate_score": candidate_score,
                "current_version": rival,
                "current_score": current_score,
            },
        )
        if promoted:
            self.promote(project, model.version)
        return Decision(promoted, candidate_score, current_score, reason, rival)

    def promote(self, project: int, version: str) -> None:
        if not (self.root / str(project) / version / "meta.json").is_file():
            raise FileNotFoundError(f"no model {version} for project {project}")
        _write_json(self.root / str(project) / "current.json", {"version": version})


def _reason(
    promoted: bool, candidate: float | None, current: float | None, rival: str | None
) -> str:
    if rival is None:
        return "first model"
    if candidate is None or current is None:
        return f"no held-out examples to compare with {rival} on"
    verb = "replaces" if promoted else "is worse than"
    return f"held-out score {candidate:.3f} {verb} {rival} ({current:.3f})"


def _read(folder: Path) -> TrainedModel:
    meta = json.loads((folder / "meta.json").read_text())
    network = FineTunedNetwork.load(folder / "network") if (folder / "network").is_dir() else None
    return TrainedModel(
        version=meta["version"],
        kind=meta["kind"],
        head=LinearHead.load(folder / "head"),
        embedder=meta["embedder"],
        n_annotations=int(meta["n_annotations"]),
        metrics=meta.get("metrics") or {},
        network=network,
        created_at=meta.get("created_at", ""),
        path=folder,
    )


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    write_atomic(path, json.dumps(payload, indent=2, default=float))  # fsynced, then renamed
