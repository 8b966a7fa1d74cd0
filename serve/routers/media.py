"""Image bytes for the web UI: small JPEG previews of indexed tasks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from serve.dependencies import EngineDep, RequireApiKey, ThumbnailsDep
from serve.schemas import TASK_ID_MAX

router = APIRouter(tags=["data"], dependencies=[RequireApiKey])


@router.get(
    "/v1/tasks/{task_id}/thumbnail",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
def thumbnail(
    engine: EngineDep,
    thumbnails: ThumbnailsDep,
    task_id: Annotated[int, Path(ge=1, le=TASK_ID_MAX)],
) -> Response:
    payload = engine.payload(task_id)
    body = thumbnails.get(payload.get("url"), payload.get("sha256", ""))
    return Response(
        body, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
    )
