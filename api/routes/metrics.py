"""GET /metrics for Prometheus (unauthenticated by convention; keep it off the public edge)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from api import metrics
from api.deps import DbDep, SettingsDep

router = APIRouter(tags=["health"])


@router.get("/metrics", operation_id="getMetrics", include_in_schema=False)
async def prometheus(db: DbDep, settings: SettingsDep) -> Response:
    body, content_type = await metrics.render(db, settings)
    return Response(body, media_type=content_type)
