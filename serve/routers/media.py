"""Image bytes for the web UI: small JPEG previews of indexed tasks.

A preview decodes a stored image of up to ``io.max_pixels``, so it takes a work slot like an
upload does (:mod:`serve.slots`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from serve.dependencies import EngineDep, RequireApiKey, ThumbnailsDep, WorkSlotsDep
from serve.engine import Engine
from serve.schemas import TASK_ID_MAX
from serve.thumbnails import Thumbnails

router = APIRouter(tags=["data"], dependencies=[RequireApiKey])


@router.get(
    "/v1/tasks/{task_id}/thumbnail",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
async def thumbnail(
    engine: EngineDep,
    thumbnails: ThumbnailsDep,
    slots: WorkSlotsDep,
    task_id: Annotated[int, Path(ge=1, le=TASK_ID_MAX)],
) -> Response:
    body = await slots.run(_preview, engine, thumbnails, task_id)
    return Response(
        body, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
    )


def _preview(engine: Engine, thumbnails: Thumbnails, task_id: int) -> bytes:
    payload = engine.payload(task_id)
    return thumbnails.get(payload.get("url"), payload.get("sha256", ""))
