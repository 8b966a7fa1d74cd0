"""The payloads of Label Studio's ML backend protocol, as Label Studio 1.23 sends and reads them.

Requests allow extra fields (Label Studio adds some between versions); responses carry only
what Label Studio reads plus a few fields for people reading the JSON (``warnings``,
``error``). A task without a prediction is answered without a ``result`` key: Label Studio
then skips it (and logs our ``error``) instead of storing an empty prediction, so the
task is predicted again on the next request.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Request(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class SetupRequest(_Request):
    project: str | int | None = None  # "<id>.<created timestamp>"
    label_config: str = Field("", alias="schema")
    hostname: str | None = None  # Label Studio's own address, as it believes it to be
    access_token: str | None = Field(None, repr=False)  # the project creator's API token
    extra_params: Any = None


class SetupResponse(BaseModel):
    model_version: str
    warnings: list[str] = []


class PredictRequest(_Request):
    tasks: list[dict[str, Any]]
    label_config: str | None = None
    project: str | int | None = None
    params: dict[str, Any] | None = None


class TaskPrediction(BaseModel):
    """One task's answer; no ``result`` (and an ``error``) when it got no prediction."""

    model_version: str
    result: list[dict[str, Any]] | None = None
    score: float | None = None
    error: str | None = None


class PredictResponse(BaseModel):
    results: list[TaskPrediction]


class WebhookEvent(_Request):
    action: str = "UNKNOWN"
    project: dict[str, Any] | None = None
    task: dict[str, Any] | list[dict[str, Any]] | None = None
    annotation: dict[str, Any] | list[dict[str, Any]] | None = None  # a list: ANNOTATIONS_*


class WebhookResponse(BaseModel):
    status: str = "ok"
    action: str
    training: str


class HealthResponse(BaseModel):
    status: str  # "UP" whenever the server answers; Label Studio checks only that
    model_class: str  # of the model(s) serving: zero-shot, or the trained ones
    model: str  # "ready", "loading", or a generic reason it is unavailable
    training: str
    training_error: str | None = None  # which project's last run failed (details: the log)
    models: dict[str, str | None] | None = None  # project -> the version serving it
    projects: dict[str, dict[str, Any]] | None = None  # project -> scores, skips, class


class ErrorResponse(BaseModel):
    error: str
    kind: str
