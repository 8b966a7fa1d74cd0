"""Classify one uploaded image with the trained model and with zero-shot, side by side."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, UploadFile

from serve.classify import trained_probabilities, zero_shot_probabilities
from serve.dependencies import EngineDep, RequireApiKey, SettingsDep, WorkSlotsDep
from serve.engine import Engine
from serve.errors import ApiError
from serve.schemas import ClassifyResponse
from serve.uploads import upload_image
from winnow.config import Settings
from winnow.errors import ConfigError

router = APIRouter(tags=["classify"], dependencies=[RequireApiKey])


@router.post("/v1/classify", response_model=ClassifyResponse)
async def classify(
    engine: EngineDep,
    settings: SettingsDep,
    slots: WorkSlotsDep,
    file: Annotated[UploadFile, File()],
) -> ClassifyResponse:
    try:
        return await slots.run(_classify, engine, file, settings)
    except ConfigError as exc:  # e.g. the index holds vectors of another model
        raise ApiError(409, "model_mismatch", str(exc)) from exc


def _classify(engine: Engine, file: UploadFile, settings: Settings) -> ClassifyResponse:
    """The work, in one thread hop and one slot: decode, embed, trained head, zero-shot head."""
    decoded = upload_image(file, settings)
    vector = engine.embed(decoded.image)
    trained = trained_probabilities(engine, vector)
    classes = list(trained.probabilities) if trained else engine.class_names()
    zero_shot = zero_shot_probabilities(engine, decoded.image, classes)
    return ClassifyResponse(
        trained=trained,
        zero_shot=zero_shot,
        width=decoded.width,
        height=decoded.height,
        format=decoded.format,
    )
