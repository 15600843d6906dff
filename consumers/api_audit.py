"""The read log over HTTP: auditors and operators see who read which restricted data, when."""

# No ``from __future__ import annotations``: FastAPI reads these annotations at run time.

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from consumers.access_http import Access
from consumers.readlog import Read, ReadLog


class ReadsAnswer(BaseModel):
    items: list[Read]
    next_cursor: str | None


def create_audit_router(reads: ReadLog, access: Callable[..., Awaitable[Access]]) -> APIRouter:
    router = APIRouter(tags=["audit"])
    Caller = Annotated[Access, Depends(access)]  # noqa: N806 - a type alias

    @router.get("/audit/reads", response_model=ReadsAnswer)
    async def read_log(
        _: Caller,
        org: Annotated[str | None, Query(max_length=120, description="reader's organisation")]
        = None,
        cursor: Annotated[int, Query(ge=0, le=2**62, description="``next_cursor``")] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> Any:
        """Every read of restricted data: who (person or client), its organisation, how it
        signed in, the route, the subjects and the fields shown."""
        items = await reads.entries(org=org, after=cursor, limit=limit + 1)
        more = len(items) > limit
        items = items[:limit]
        return {"items": items,
                "next_cursor": str(items[-1].seq) if more else None}

    return router
