"""What the demo shows at the end: views (read over HTTP), alerts, the audit, and the check."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from infra.demo.run import communicate, emining_command
from infra.demo.scenario import Scenario
from schemas.common import Language
from schemas.registry import Registry
from schemas.topics import SHARED_TOPICS, alerts_topic
from transport.access import KafkaAccess
from transport.read import read_to_end

Tick = Callable[[int, int], None]
"""``(lag, total)``: how far the views still are behind the log."""


async def wait_caught_up(base_url: str, timeout_s: float, on_lag: Tick,
                         check_alive: Callable[[], None], headers: dict[str, str]
                         ) -> dict[str, Any]:
    """Poll the views' freshness until every shared-topic partition has lag 0; the report.
    ``headers`` carry a credential: the read API serves no one anonymously."""
    deadline = time.monotonic() + timeout_s
    first: int | None = None
    async with httpx.AsyncClient(base_url=base_url, timeout=10.0, headers=headers) as client:
        while True:
            check_alive()
            answer = await client.get("/v1/projects", params={"limit": 1})
            answer.raise_for_status()
            freshness: dict[str, dict[str, dict[str, Any]]] = answer.json()["freshness"]
            parts = [p for topic in SHARED_TOPICS for p in freshness.get(topic, {}).values()]
            known = all(p["lag"] is not None for p in parts) and all(
                t in freshness for t in SHARED_TOPICS)
            lag = sum(int(p["lag"] or 0) for p in parts)
            first = lag if first is None else max(first, lag)
            on_lag(lag, first)
            if known and lag == 0:
                return freshness
            if time.monotonic() > deadline:
                raise TimeoutError(f"the views are still {lag} records behind after "
                                   f"{timeout_s:.0f}s")
            await asyncio.sleep(0.5)


async def read_views(base_url: str, headers: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Every project, approval and shipment, page by page through the HTTP API."""
    out: dict[str, list[dict[str, Any]]] = {}
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0, headers=headers) as client:
        for family in ("projects", "approvals", "shipments"):
            items: list[dict[str, Any]] = []
            cursor: str | None = None
            while True:
                params: dict[str, Any] = {"limit": 500}
                if cursor:
                    params["cursor"] = cursor
                answer = await client.get(f"/v1/{family}", params=params)
                answer.raise_for_status()
                body = answer.json()
                items.extend(body["items"])
                cursor = body["next_cursor"]
                if not cursor:
                    break
            out[family] = items
    return out


@dataclass(frozen=True, slots=True)
class Check:
    ok: bool
    checked: int
    mismatches: list[str]


def compare(views: dict[str, list[dict[str, Any]]], scenario: Scenario) -> Check:
    """The views against what the generator decided, subject by subject."""
    exp = scenario.expected
    projects = {p["project_id"]: p for p in views["projects"]}
    approvals = {a["ref"]: a for a in views["approvals"]}
    shipments = {s["shipment_id"]: s for s in views["shipments"]}
    bad: list[str] = []
    checked = 0

    def same(what: str, subject: str, found: Any, wanted: Any) -> None:
        nonlocal checked
        checked += 1
        if found != wanted:
            bad.append(f"{what} {subject}: views say {found}, scenario says {wanted}")

    for pid, stage in exp.projects.items():
        same("project", pid, (projects.get(pid) or {}).get("stage"), stage.value)
    for group in (exp.titles, exp.environmental, exp.exports):
        for ref, status in group.items():
            same("approval", ref, (approvals.get(ref) or {}).get("status"), status.value)
    for sid, state in exp.shipments.items():
        same("shipment", sid, (shipments.get(sid) or {}).get("status"), state.value)
    for pending in exp.pending:
        due = ((approvals.get(pending.ref) or {}).get("due") or {}).get(pending.deadline)
        same(f"{pending.deadline} of", pending.ref, due, pending.due_on.isoformat())
    return Check(not bad, checked, bad)


def projects_by_stage(views: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    return dict(sorted(Counter(str(p.get("stage")) for p in views["projects"]).items()))


def pending_approvals(views: dict[str, list[dict[str, Any]]], scenario: Scenario
                      ) -> list[dict[str, Any]]:
    """The scenario's pending files as the views hold them, soonest deadline first."""
    approvals = {a["ref"]: a for a in views["approvals"]}
    out = []
    for pending in scenario.expected.pending:
        view = approvals.get(pending.ref) or {}
        due = (view.get("due") or {}).get(pending.deadline)
        out.append({"ref": pending.ref, "kind": view.get("kind", pending.kind.value),
                    "status": view.get("status"), "authority": view.get("authority"),
                    "holder_uscc": view.get("holder_uscc"), "deadline": pending.deadline,
                    "due_on": due,
                    "deemed": pending.ref == scenario.expected.deemed_approved.file_number})
    return sorted(out, key=lambda p: (p["due_on"] or "9999", p["ref"]))


def shipments_summary(views: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    ships = views["shipments"]
    in_transit = {"loaded", "departed", "declared", "cleared", "crossed_border", "at_sea"}
    return {
        "by_status": dict(sorted(Counter(str(s.get("status")) for s in ships).items())),
        "in_transit": sorted(s["shipment_id"] for s in ships if s.get("status") in in_transit),
        "held": [{"shipment_id": s["shipment_id"], "exit_point": s.get("exit_point"),
                  "reason": next((h.get("reason") for h in s.get("holds") or ()
                                  if not h.get("released_at")), None)}
                 for s in ships if s.get("status") == "held"],
    }


async def read_alerts(kafka: KafkaAccess, registry: Registry, anchors: Sequence[bytes],
                      timeout_s: float) -> dict[str, Any]:
    """Each organisation's alerts, verified, from its ``emining.alerts.<org>`` topic, in its
    preferred language; ``available: false`` when the alerts code is not there (yet)."""
    try:
        from consumers.alerts.reader import AlertVerifier  # noqa: PLC0415
        from schemas.alerts import PLATFORM_ORG  # noqa: PLC0415
    except ImportError as exc:
        return {"available": False, "reason": f"alerts code not importable: {exc}"}
    verifier = AlertVerifier(anchors, PLATFORM_ORG)
    per_org: dict[str, list[dict[str, Any]]] = {}
    refused = 0
    recipients = [*registry.orgs, PLATFORM_ORG]
    org_of = {alerts_topic(org): org for org in recipients}
    async with aclosing(read_to_end(kafka, list(org_of), timeout_s=timeout_s,
                                    missing="skip")) as batches:
        async for batch in batches:
            for rec in batch:
                org = org_of[rec.topic]
                try:
                    env = verifier.check(rec.key, rec.value, rec.headers, org)
                except Exception:  # noqa: BLE001 - a bad alert record is only counted
                    refused += 1
                    continue
                per_org.setdefault(org, []).append(_alert_line(env.data, registry, org))
    sides: dict[str, dict[str, Any]] = {}
    for org, alerts in sorted(per_org.items()):
        info = registry.orgs.get(org)
        side = str(info.side) if info is not None else "platform"
        sides.setdefault(side, {})[org] = {
            "language": _language(info), "count": len(alerts), "alerts": alerts,
            "by_rule": dict(Counter(a["rule"] for a in alerts).most_common())}
    return {"available": True, "total": sum(len(a) for a in per_org.values()),
            "refused": refused, "by_side": sides}


async def settled_alerts(kafka: KafkaAccess, registry: Registry, anchors: Sequence[bytes],
                         timeout_s: float, settle_s: float = 20.0) -> dict[str, Any]:
    """The alerts once their delivery has settled (the outbox drains just after the views)."""
    started = time.monotonic()
    last = await read_alerts(kafka, registry, anchors, timeout_s)
    while last.get("available") and time.monotonic() - started < settle_s:
        await asyncio.sleep(1.5)
        again = await read_alerts(kafka, registry, anchors, timeout_s)
        if again.get("total") == last.get("total") and (
                again.get("total") or time.monotonic() - started > 4.0):  # noqa: PLR2004
            return again
        last = again
    return last


def _language(info: Any) -> str:
    value = getattr(info, "language", "en")
    return str(getattr(value, "value", value))


def _alert_line(alert: Any, registry: Registry, org: str) -> dict[str, Any]:
    info = registry.orgs.get(org)
    language = info.language if info is not None else Language.EN
    return {"id": alert.alert_id, "rule": str(alert.rule), "about": alert.about,
            "severity": str(alert.severity), "raised_at": str(alert.raised_at),
            "text": alert.texts.in_language(language)}


async def cli_json(args: Sequence[str], env: dict[str, str], timeout_s: float = 300.0
                   ) -> tuple[int, Any, str]:
    """Run ``emining ARGS`` for real; (exit code, parsed JSON stdout or None, stderr tail)."""
    process = await asyncio.create_subprocess_exec(
        *emining_command(), *args, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(communicate(process), timeout_s)
    try:
        parsed = json.loads(out.decode()) if out.strip() else None
    except json.JSONDecodeError:
        parsed = None
    return int(process.returncode or 0), parsed, err.decode()[-1500:]


async def audit(scenario: Scenario, env: dict[str, str]) -> dict[str, Any]:
    """``emining audit verify --json`` (exit 1 expected: the attacks), each attack named."""
    code, report, err = await cli_json(["audit", "verify", "--json"], env)
    if not isinstance(report, dict):
        return {"available": False, "exit_code": code, "reason": err.strip()[-500:]}
    findings = [*report.get("violations", []), *report.get("warnings", [])]
    named = []
    ours = {a.event_id for a in scenario.attacks}
    for attack in scenario.attacks:
        hits = [f for f in findings if f.get("event_id") == attack.event_id
                and f.get("kind") == attack.expected.audit_kind.value]
        hit = hits[-1] if hits else None
        named.append({"attack": attack.name, "technique": attack.technique.value,
                      "event_id": attack.event_id,
                      "expected_kind": attack.expected.audit_kind.value,
                      "found": hit is not None,
                      "topic": hit and hit["topic"], "partition": hit and hit["partition"],
                      "offset": hit and hit["offset"], "reason": hit and hit["reason"]})
    others = [f for f in findings if f.get("event_id") not in ours]
    return {"available": True, "exit_code": code, "ok": report.get("ok"),
            "records": report.get("records"), "events": report.get("events"),
            "violations": len(report.get("violations", [])),
            "seconds": report.get("seconds"), "summary": report.get("summary"),
            "attacks": named, "all_attacks_named": all(n["found"] for n in named),
            "other_findings": len(others)}


async def write_report(path: Path, env: dict[str, str]) -> dict[str, Any]:
    path.parent.mkdir(parents=True, exist_ok=True)
    code, _, err = await cli_json(["audit", "report", "--out", str(path)], env)
    if code != 0 or not await asyncio.to_thread(path.exists):
        if "No such command" in err:
            reason = "`emining audit report` is not in this build yet"
        else:
            lines = [ln.strip(" │╭╰─") for ln in err.splitlines()]
            reason = next((ln for ln in reversed(lines) if ln), f"exit {code}")[:300]
        return {"available": False, "path": None, "reason": reason}
    return {"available": True, "path": str(path)}


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


async def console_audit(url: str, people: Sequence[dict[str, str]]) -> dict[str, Any]:
    """The auditor's console verify page, signed in as the demo's auditor: the same log the
    CLI verified, read by ``emining serve`` as the platform's audit principal."""
    auditor = next(p for p in people if p["role"] == "auditor")
    # The console's cookies are Secure (browsers send them to localhost over plain HTTP; httpx
    # does not), so this client carries them itself.
    jar: dict[str, str] = {}

    def cookie() -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())}

    async with httpx.AsyncClient(base_url=url, timeout=120.0) as client:
        form = await client.get("/login")
        jar.update(form.cookies.items())
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        if token is None:
            return {"available": False, "reason": "no sign-in form at /login"}
        signed = await client.post("/login", headers=cookie(), data={
            "username": auditor["username"], "password": auditor["password"],
            "csrf_token": token[1], "next": "/audit"})
        if signed.status_code != 303:  # noqa: PLR2004
            return {"available": False, "reason": f"sign-in answered {signed.status_code}"}
        jar.update(signed.cookies.items())
        page = await client.get("/audit/verify", params={"lang": "en"}, headers=cookie())
    numbers = {name: re.search(rf'<dd class="{name}">([\d,]+)</dd>', page.text)
               for name in ("records", "violations", "warnings")}
    if page.status_code != 200 or any(m is None for m in numbers.values()):  # noqa: PLR2004
        return {"available": False, "reason": f"/audit/verify answered {page.status_code}"}
    return {"available": True, "username": auditor["username"],
            **{name: int(m[1].replace(",", "")) for name, m in numbers.items() if m}}
