"""Classify an upload: the trained model's and the zero-shot probabilities side by side."""

from __future__ import annotations

from fastapi import APIRouter, File, UploadFile
from fastapi.concurrency import run_in_threadpool

from serve.classify import trained_probabilities, zero_shot_probabilities
from serve.dependencies import EngineDep, RequireApiKey
from serve.errors import ApiError
from serve.schemas import ClassifyResponse
from serve.uploads import upload_image
from winnow.errors import ConfigError

router = APIRouter(tags=["classify"], dependencies=[RequireApiKey])


@router.post("/v1/classify", response_model=ClassifyResponse)
async def classify(engine: EngineDep, file: UploadFile = File(...)) -> ClassifyResponse:
    decoded = await upload_image(file, engine.settings)

    def work() -> ClassifyResponse:
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

    try:
        return await run_in_threadpool(work)
    except ConfigError as exc:  # e.g. the index holds vectors of another model
        raise ApiError(409, "model_mismatch", str(exc)) from exc
