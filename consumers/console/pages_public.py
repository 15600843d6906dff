"""The console's public pages: the register of licences and the lead times (``/``), their charts,
a licence's or approval's public events, and the pages' static files.

The data comes through ``consumers.api_public.PublicData``, the public API's own code path.
"""

# No ``from __future__ import annotations``: FastAPI reads the handlers' annotations at run
# time and they name the ``Caller`` dependency local to ``add_public_routes``.

from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse

from consumers.access_http import Access
from consumers.api import Shown
from consumers.api_public import PublicData
from consumers.console import charts
from consumers.console.i18n import term
from consumers.console.page import STATIC, PageOf, safe_position


def add_public_routes(
    router: APIRouter, access: Callable[..., Awaitable[Access]], page: PageOf, *,
    public: PublicData, topic_of: Mapping[str, str],
) -> None:
    Caller = Annotated[Access, Depends(access)]  # noqa: N806 - a type alias

    @router.get("/", response_class=HTMLResponse)
    async def home(request: Request, caller: Caller) -> HTMLResponse:
        here = await page(request, caller)
        return here.render("public.html", licences=await public.licences(),
                           lead_times=await public.lead_times())

    @router.get("/lead-times", response_class=HTMLResponse)
    async def lead_time_charts(request: Request, caller: Caller) -> HTMLResponse:
        here = await page(request, caller)

        def category(kind: str, code: str) -> str:
            return term("title_type", code, here.lang) if kind == "title" else code.replace(
                "_", " ")

        drawn = charts.charts(await public.lead_times(), here.org_name, category,
                              rtl=here.lang.rtl)
        return here.render("lead_times.html", charts=drawn, colours=charts)

    @router.get("/events/{ref}", response_class=HTMLResponse)
    async def public_events(request: Request, caller: Caller, ref: str,
                            cursor: str | None = None) -> HTMLResponse:
        found = await public.timeline(caller, ref, limit=100, cursor=safe_position(cursor))
        if found is None:
            raise HTTPException(404, f"no licence or approval {ref} on the public record")
        items, next_cursor, withheld = found
        here = await page(request, caller)
        return here.render("events.html", ref=ref, history=Shown(items, next_cursor, withheld),
                           topic_of=topic_of)

    @router.get("/static/{name:path}")
    async def static(_: Caller, name: str) -> FileResponse:
        path = (STATIC / name).resolve()
        if not path.is_file() or STATIC.resolve() not in path.parents:
            raise HTTPException(404, "no such file")
        return FileResponse(path, headers={"Cache-Control": "public, max-age=3600",
                                           "X-Content-Type-Options": "nosniff"})
