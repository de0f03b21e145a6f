"""The caller's own in-app notifications."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api import permissions, presenters
from api.deps import CurrentUser, DbDep
from api.errors import PROBLEM_RESPONSES, ApiError, problem_responses
from api.params import NotificationIdPath
from api.responses import NotificationRead, Notifications
from db import queries
from domain.errors import ErrorCode

router = APIRouter(prefix="/api/notifications", tags=["notifications"],
                   responses=PROBLEM_RESPONSES)


@router.get("", operation_id="listNotifications", response_model=Notifications,
            responses=problem_responses(403))
async def list_notifications(
    user: CurrentUser,
    db: DbDep,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    unread: Annotated[bool, Query(description="only those not read yet")] = False,
) -> dict[str, Any]:
    """Newest first, `limit` per page (at most 100), with the number still unread."""
    permissions.require_person(user)
    async with db.reader.connect() as conn:
        rows = await queries.notifications_page(conn, user.user_id, limit=limit,
                                                offset=(page - 1) * limit, unread_only=unread)
        unread_count = await queries.unread_notifications(conn, user.user_id)
    return {"notifications": [presenters.notification(r) for r in rows],
            "unreadCount": unread_count,
            "pagination": {"page": page, "limit": limit}}


@router.post("/{notification_id}/read", operation_id="markNotificationRead",
             response_model=NotificationRead, responses=problem_responses(403, 404))
async def mark_read(notification_id: NotificationIdPath, user: CurrentUser,
                    db: DbDep) -> dict[str, Any]:
    """Mark one of the caller's notifications read (again: no change)."""
    permissions.require_person(user)
    async with db.transaction() as conn:
        found = await queries.mark_notification_read(conn, user.user_id, notification_id,
                                                     datetime.now(UTC))
        unread_count = await queries.unread_notifications(conn, user.user_id)
    if not found:
        raise ApiError(ErrorCode.NOT_FOUND, "no such notification")
    return {"success": True, "unreadCount": unread_count}
