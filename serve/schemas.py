"""Request and response bodies of the similarity and classify API (the OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

TASK_ID_MAX = 2**63 - 1  # Label Studio task ids are positive 64-bit integers
TaskId = Annotated[int, Field(ge=1, le=TASK_ID_MAX)]


class SearchFilters(BaseModel):
    labels: list[str] | None = Field(None, description="keep images with any of these labels")
    splits: list[str] | None = Field(None, description="keep images in any of these splits")
    flags: list[str] | None = Field(None, description="keep images with any of these flags")
    exclude_flagged: bool = Field(False, description="drop images with any open flag")


class ImageHit(BaseModel):
    score: float = Field(description="cosine similarity, higher is closer")
    sha256: str
    task_id: int | None = None
    labels: list[str] = Field(default_factory=list)
    split: str | None = None
    flags: list[str] = Field(default_factory=list)
    url: str | None = None
    label_studio_url: str | None = Field(None, description="the task in Label Studio")


class SearchResponse(BaseModel):
    hits: list[ImageHit]
    took_ms: float


class TextSearchRequest(SearchFilters):
    text: str = Field(min_length=1, max_length=1000)
    k: int = Field(10, ge=1)


class RecommendRequest(SearchFilters):
    positive: list[TaskId] = Field(min_length=1, max_length=100, description="task ids to be like")
    negative: list[TaskId] = Field(default_factory=list, max_length=100)
    k: int = Field(10, ge=1)


class ClassProbabilities(BaseModel):
    model_version: str
    probabilities: dict[str, float]
    top: str


class ClassifyResponse(BaseModel):
    trained: ClassProbabilities | None = Field(
        None, description="the current trained model; null until one exists"
    )
    zero_shot: ClassProbabilities | None = None
    width: int
    height: int
    format: str


class StatsResponse(BaseModel):
    points: int
    per_label: dict[str, int]
    per_split: dict[str, int]
    per_flag: dict[str, int]
    flagged: int


class Health(BaseModel):
    status: str
    detail: dict[str, Any] = Field(default_factory=dict)
