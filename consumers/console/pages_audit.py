"""The console's audit pages, for auditors and the platform's operators (the policy's ``audit``
audience): verify the log, the platform's state as of a chosen day, and the report to download.

The work is the audit's own (``consumers.audit``): ``verify`` and ``state_as_of`` are given by the
app (``infra.compose.app``: ``verify_log`` and ``replay --as-of`` over the log, as ``emining audit
verify`` and ``emining audit replay --as-of`` run them); the report is ``build_report`` over the
views the server holds, rendered by the audit's own HTML in the reader's console language.
"""

# No ``from __future__ import annotations``: FastAPI reads the handlers' annotations at run
# time and they name the ``Caller`` dependency passed in by ``create_console_router``.

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from consumers.access_http import Access
from consumers.api_public import PublicData
from consumers.audit.findings import VerifyReport
from consumers.audit.html import render
from consumers.audit.report import build_report
from consumers.console.page import PageOf
from schemas.standards import Standards

Verify = Callable[[], Awaitable[VerifyReport]]
StateAsOf = Callable[[date, bool], Awaitable[dict[str, dict[str, int]]]]
"""(day, late) → per view, subjects by status as the log stood at that day's end in Pakistan
(``summary``); ``late`` also counts records appended later but dated by then (history loaded
afterwards, ``replay --include-late``)."""


FIRST_DAY = date(2000, 1, 1)
"""The earliest day the state can be asked for (before the platform, nothing to replay)."""


FINDINGS_SHOWN = 500
"""Findings listed on the page; anyone may write garbage to the shared topics, the page stays
readable (``emining audit verify --json`` lists them all)."""


class AuditBusyError(Exception):
    """Another whole-log read is running and no fresh answer is kept: ask again shortly."""


def _day(value: str | None, last: date) -> date | None:
    """A day from ``FIRST_DAY`` to ``last`` (today in Pakistan), or None."""
    try:
        day = date.fromisoformat(value) if value else None
    except ValueError:
        return None
    return day if day is not None and FIRST_DAY <= day <= last else None


def add_audit_routes(
    router: APIRouter, access: Callable[..., Awaitable[Access]],
    page: PageOf, *,
    public: PublicData, verify: Verify | None, state_as_of: StateAsOf | None,
    today: Callable[[], date],
) -> None:
    Caller = Annotated[Access, Depends(access)]  # noqa: N806 - a type alias

    @router.get("/audit", response_class=HTMLResponse)
    async def audit(request: Request, caller: Caller, as_of: str | None = None,
                    late: bool = False) -> HTMLResponse:
        here = await page(request, caller)
        last = today()
        day = _day(as_of, last)
        state, busy = None, False
        if day is not None and state_as_of is not None:
            try:
                state = await state_as_of(day, late)
            except AuditBusyError:
                busy = True
        return here.render("audit.html", 429 if busy else 200, day=day, asked=as_of or "",
                           state=state, late=late, busy=busy, first=FIRST_DAY,
                           can_verify=verify is not None, can_replay=state_as_of is not None,
                           today=last)

    @router.get("/audit/verify", response_class=HTMLResponse)
    async def audit_verify(request: Request, caller: Caller) -> HTMLResponse:
        here = await page(request, caller)
        if verify is None:
            return here.render("audit_verify.html", 503, report=None, busy=False)
        try:
            report = await verify()
        except AuditBusyError:
            return here.render("audit_verify.html", 429, report=None, busy=True)
        return here.render("audit_verify.html", report=report, busy=False, shown=FINDINGS_SHOWN)

    @router.get("/audit/report.html")
    async def audit_report(request: Request, caller: Caller) -> Response:
        here = await page(request, caller)  # the reader's console language
        data = await public.dataset()
        views = await public.digest()
        report = build_report(data, standards=Standards(), as_of=None, digest=views.sha256,
                              records=sum(views.rows.values()), verify=None)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%MZ")
        return HTMLResponse(render(report, here.lang), headers={
            "Content-Disposition": f'attachment; filename="emining-audit-{stamp}.html"',
            "X-Content-Type-Options": "nosniff"})
