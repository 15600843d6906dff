"""Issue 15's acceptance test: months of an organisation's past records loaded through the public
CLI and SDK only, then audited as of three dates, and the alerts they call for in each
recipient's language.

Nothing here forges, backdates or injects: the operator onboards every party with `emining
participants add|grant --valid-from` and opens backfill windows (`participants backfill`), the
parties publish their history themselves (`emining publish --time`, `emining import`, and the
Python SDK for Customs) with their own Kafka credential and key, `emining views run` raises and
delivers the alerts, the parties read them with `emining alerts tail`, and an auditor replays the
log with `emining audit replay --as-of`. A broker of its own: `topics apply` applies the whole
registry's ACLs (which would wipe other tests' on the session broker), and the views and the
audit then read only this history.

The timeline (days before today in Pakistan; every event at 06:00 UTC, 11:00 PKT):

- 240 a Chinese firm applies for an exploration licence in Balochistan; 225 the department
  notifies a deficiency; 205 the firm resubmits; 160 the licence is granted.
- 200 the firm files an EIA (complete on day 190): no decision, so four months after completion
  it is deemed approved by law.
- 130 the firm applies for an exploration licence in Sindh: never decided, past its 60-day
  service standard (on day 70).
- 125-115 a copper shipment is planned, loaded, assayed, sent off and declared without an export
  approval; 114 Customs holds it; 90 the LPCO is issued; 89 the declaration is amended to attach
  it; 88 Customs clears it; 80 the firm corrects the assay (wrong grades).
"""

from __future__ import annotations

import asyncio
import base64
import calendar
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from infra.cli import app
from infra.kafka_settings import kafka_access
from infra.logging import configure_logging
from producers.keys import load_key
from producers.publisher import Publisher
from producers.registry_reader import read_registry
from schemas.catalogue import model_for
from tests.conftest import own_broker
from tests.kafka_support import access_env
from transport.access import KafkaAccess

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

ROOT = Path(__file__).parents[2]
PKT = ZoneInfo("Asia/Karachi")

FIRM = "urn:emining:cn:ent:mcc-resources"
USCC = "91650100MA7XK3P2LA"
MMDD = "urn:emining:pk:gov:ba-mmdd"
SD_MMD = "urn:emining:pk:gov:sd-mmd"
EPA = "urn:emining:pk:gov:ba-epa"
SIFC = "urn:emining:pk:gov:sifc"
CUSTOMS = "urn:emining:pk:gov:customs"
PSW = "urn:emining:pk:gov:psw"
AUDITOR = "urn:emining:xx:aud:eiti-independent"
PLATFORM = "urn:emining:xx:platform:operator"

NAMES = {
    FIRM: ("MCC Chagai Resources Co., Ltd.", "中冶查盖资源有限公司", None),
    MMDD: ("Mines & Minerals Development Department, Balochistan", "俾路支省矿产开发厅",
           "محکمہ معدنیات و معدنی ترقی، بلوچستان"),
    SD_MMD: ("Mines & Minerals Department, Sindh", "信德省矿产厅", "محکمہ معدنیات، سندھ"),
    EPA: ("Balochistan Environmental Protection Agency", "俾路支省环境保护局",
          "بلوچستان ماحولیاتی تحفظ ایجنسی"),
    SIFC: ("Special Investment Facilitation Council", "特别投资便利委员会",
           "خصوصی سرمایہ کاری سہولت کونسل"),
    CUSTOMS: ("Pakistan Customs (FBR)", "巴基斯坦海关", "پاکستان کسٹمز"),
    PSW: ("Pakistan Single Window", "巴基斯坦单一窗口", "پاکستان سنگل ونڈو"),
    AUDITOR: ("Independent EITI Administrator", "独立EITI管理人", "آزاد ای آئی ٹی آئی منتظم"),
}
ONBOARDING: dict[str, list[str]] = {  # side, role, language, functions (SIFC's come later)
    FIRM: ["--side", "CN", "--role", "firm", "--language", "zh", "--uscc", USCC],
    MMDD: ["--side", "PK", "--role", "agency", "--language", "en", "--function", "licensing"],
    SD_MMD: ["--side", "PK", "--role", "agency", "--language", "ur", "--function", "licensing"],
    EPA: ["--side", "PK", "--role", "agency", "--language", "en", "--function", "environment"],
    SIFC: ["--side", "PK", "--role", "agency", "--language", "ur"],
    CUSTOMS: ["--side", "PK", "--role", "agency", "--language", "ur", "--function", "customs"],
    PSW: ["--side", "PK", "--role", "agency", "--function", "trade_window"],
    AUDITOR: ["--side", "PK", "--role", "auditor"],
}
GRANTS: dict[str, list[str]] = {
    FIRM: ["--grant-id", "own-operations", "--own-only",
           # not application.* : that would let the firm acknowledge its own application
           "--type", "pk.emining.approval.licence.application.received",
           "--type", "pk.emining.approval.licence.application.resubmitted",
           "--type", "pk.emining.approval.environmental.filed",
           "--type", "pk.emining.shipment.planned", "--type", "pk.emining.shipment.lot.*",
           "--type", "pk.emining.shipment.departed",
           "--type", "pk.emining.shipment.customs.declaration.*",
           "--type", "pk.emining.shipment.corrected"],
    MMDD: ["--grant-id", "ba-licensing", "--type", "pk.emining.approval.licence.*",
           "--province", "PK-BA"],
    SD_MMD: ["--grant-id", "sd-licensing", "--type", "pk.emining.approval.licence.*",
             "--province", "PK-SD"],
    EPA: ["--grant-id", "ba-environment", "--type", "pk.emining.approval.environmental.decided",
          "--province", "PK-BA"],
    CUSTOMS: ["--grant-id", "customs-clearance", "--type", "pk.emining.shipment.customs.held",
              "--type", "pk.emining.shipment.customs.cleared"],
    PSW: ["--grant-id", "psw-lpco", "--type", "pk.emining.approval.export.decided"],
}
LOADERS = (FIRM, MMDD, CUSTOMS, PSW)
"""The parties that load past records: each gets a backfill window."""

TODAY = datetime.now(PKT).date()


def day(days_ago: int) -> date:
    return TODAY - timedelta(days=days_ago)


def at(days_ago: int) -> datetime:
    """06:00 UTC (11:00 in Pakistan) on that day."""
    return datetime.combine(day(days_ago), datetime.min.time(), UTC) + timedelta(hours=6)


def stamp(days_ago: int) -> str:
    return at(days_ago).isoformat().replace("+00:00", "Z")


def plus_months(start: date, months: int) -> date:
    """The same day ``months`` later, clamped to the month's end (the EIA law's four months)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


BA_TITLE = f"BA-EL-{day(240).year}-0153"
SD_TITLE = f"SD-EL-{day(130).year}-0042"
EIA = f"EIA-BA-{day(200).year}-0031"
LPCO = f"LPCO-{day(90).year}-000457"
SHIPMENT = f"SHP-{day(125).year}-000123"
DECLARATION = f"KPQE-SB-0012345-{day(115):%d%m%Y}"
ASSAY_ID = "0195a1c2-7d3e-7f10-9a2b-3c4d5e6f7a80"
DEEMED_ON = plus_months(day(190), 4)
DATES = {"A": 170, "B": 100}
"""A: the licence resubmitted, not yet granted. B: granted, the EIA not yet deemed approved,
the shipment held. (C is today.)"""

BOUNDARY = [{"lat": "29.0100000", "lon": "61.8000000"}, {"lat": "29.0100000", "lon": "61.8700000"},
            {"lat": "29.0600000", "lon": "61.8700000"}, {"lat": "29.0600000", "lon": "61.8000000"},
            {"lat": "29.0100000", "lon": "61.8000000"}]
QUANTITY = {"wmt": "5400.000", "moisture_pct": "8.5", "dmt": "4941.000"}
FIRST_GRADES = [{"element": "Cu", "value": "24.6", "unit": "percent"},
                {"element": "Au", "value": "5.8", "unit": "g/t"}]
RIGHT_GRADES = [{"element": "Cu", "value": "22.9", "unit": "percent"},
                {"element": "Au", "value": "5.1", "unit": "g/t"}]


def application(title: str, province: str, district: str, authority: str,
                days_ago: int) -> dict[str, Any]:
    return {"title_number": title, "holder_uscc": USCC, "title_type": "EL", "province": province,
            "district": district, "minerals": ["copper", "gold"], "area_km2": "48.2500",
            "boundary": BOUNDARY, "received_at": stamp(days_ago), "licensing_authority": authority,
            "applicant": {"name": {"en": "MCC Chagai Resources (Pvt) Ltd", "zh": "中冶查盖资源"},
                          "ntn": "4211234-5", "representative_cnic": "35202-1234567-1"}}


def shipment(**data: Any) -> dict[str, Any]:
    return {"shipment_id": SHIPMENT, "exporter_uscc": USCC, **data}


def row(type_name: str, days_ago: int, data: dict[str, Any], **extra: str) -> dict[str, Any]:
    return {"type": type_name, "time": stamp(days_ago), "data": data, **extra}


# --------------------------------------------------------------------------- the public CLI


def _clean_environment() -> dict[str, str | None]:
    """Every EMINING_* of the outer environment unset: only what a test gives counts."""
    return {name: None for name in os.environ if name.startswith("EMINING_")}


class Party:
    """One organisation (or the operator) at its own machine: state dir, env, key, password."""

    def __init__(self, org: str, access: KafkaAccess, home: Path) -> None:
        self.org, self.home = org, home
        self.access = access
        self.key = home / "keys" / (org.removeprefix("urn:emining:").replace(":", "-") + ".key")
        self.env: dict[str, str | None] = {
            **_clean_environment(), **access_env(access), "EMINING_STATE_DIR": str(home)}

    def with_credential(self, password: str, trust_anchor: str) -> None:
        self.access = self.access.as_user(self.org, password)
        self.env |= {**access_env(self.access), "EMINING_TRUST_ANCHOR": trust_anchor}

    async def __call__(self, *args: str, ok: bool | None = True) -> Any:
        """``emining ARGS`` in this process (``ok=None``: whatever its exit code)."""
        def invoke() -> Any:
            result = CliRunner().invoke(app, list(args), env=self.env)
            configure_logging("warning")  # the CLI bound structlog to the runner's stderr
            return result

        result = await asyncio.to_thread(invoke)
        if ok is not None:
            assert (result.exit_code == 0) == ok, f"emining {' '.join(args)}:\n{result.output}"
        return result

    async def json(self, *args: str) -> Any:
        return json.loads((await self(*args, "--json")).stdout)

    def spawn(self, *args: str, out: Path) -> subprocess.Popen[bytes]:
        """``emining ARGS`` as a process of its own (this checkout's code): stdout to ``out``,
        stderr beside it (``.err``)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("EMINING_")}
        env |= {k: v for k, v in self.env.items() if v is not None}
        env |= {"PYTHONPATH": str(ROOT), "EMINING_LOG_FORMAT": "json"}
        with out.open("wb") as stdout, out.with_suffix(".err").open("wb") as stderr:
            return subprocess.Popen(
                [sys.executable, "-c", "from infra.cli import main; main()", *args],
                cwd=ROOT, env=env, stdout=stdout, stderr=stderr, start_new_session=True)


async def onboard(operator: Party, party: Party, valid_from: str, anchor: str) -> None:
    made = await party.json("keys", "new", "--org", party.org, "--out", str(party.key.parent))
    assert Path(made["file"]) == party.key
    en, zh, ur = NAMES[party.org]
    names = ["--name-en", en, "--name-zh", zh] + (["--name-ur", ur] if ur else [])
    # Customs was onboarded the usual way, its key valid from today; for its history the
    # operator adds a second key, valid since then, and customs signs its past with that one.
    since = [] if party.org == CUSTOMS else ["--valid-from", valid_from]
    added = await operator.json("participants", "add", "--org", party.org, *names,
                                *ONBOARDING[party.org], "--key-file", str(party.key), *since)
    party.with_credential(added["credential"]["password"], anchor)
    if party.org == CUSTOMS:
        history = party.key.parent / "history"
        made = await party.json("keys", "new", "--org", party.org, "--out", str(history))
        await operator("participants", "add-key", "--org", party.org, "--key-file",
                       made["file"], "--valid-from", valid_from)
        again = await operator("participants", "add-key", "--org", party.org, "--key-file",
                               made["file"], "--valid-from", valid_from, ok=False)
        assert "already registered to" in again.output
        party.key = Path(made["file"])
    if party.org in GRANTS:
        await operator("participants", "grant", "--org", party.org, *GRANTS[party.org],
                       "--valid-from", valid_from)


async def publish(party: Party, type_name: str, subject: str, days_ago: int,
                  data: dict[str, Any]) -> dict[str, Any]:
    path = party.home / f"{type_name}.{days_ago}.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return dict(await party.json("publish", type_name, "--as", party.org, "--key",
                                 str(party.key), "--subject", subject, "--data", str(path),
                                 "--time", stamp(days_ago)))


async def load(party: Party, name: str, rows: list[dict[str, Any]]) -> None:
    path = party.home / f"{name}.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                    encoding="utf-8")
    summary = await party.json("import", str(path), "--as", party.org, "--key", str(party.key))
    assert (summary["published"], summary["rejected"]) == (len(rows), 0), summary


async def sdk_publish(party: Party, anchor: str, type_name: str, days_ago: int,
                      data: dict[str, Any]) -> None:
    """Customs' own system publishes through the SDK, as README "Publishing" shows."""
    registry = await read_registry(party.access, [base64.b64decode(anchor)])
    async with Publisher(kafka=party.access, key=load_key(party.key),
                         source=f"{party.org}/weboc", state_dir=party.home / "chains",
                         registry=registry) as pub:
        await pub.publish(model_for(type_name).model_validate(data), time=at(days_ago))


# --------------------------------------------------------------------------- reading results


def standing(view: dict[str, Any]) -> tuple[Any, ...]:
    return (view["status"], view["effective_status"], view["days_pending"], view["breached"],
            view["standard_due_on"], view["as_of"])


def lines(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


async def wait_for(check: Any, what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.5)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(30)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


HAN = re.compile(r"[\u4e00-\u9fff]")
ARABIC = re.compile(r"[\u0600-\u06ff]")

EXPECTED_ALERTS = {
    FIRM: {("deficiency_notified", BA_TITLE), ("approval_decided", BA_TITLE),
           ("deemed_approval", EIA), ("export_without_approval", SHIPMENT),
           ("customs_hold", SHIPMENT), ("approval_decided", LPCO)},
    CUSTOMS: {("export_without_approval", SHIPMENT), ("customs_hold", SHIPMENT)},
    EPA: {("deemed_approval", EIA)},
    SD_MMD: {("application_overdue", SD_TITLE)},
    SIFC: {("application_overdue", SD_TITLE)},
    MMDD: set(), PSW: set(), PLATFORM: set(),
}
LANGUAGE = {FIRM: "zh", CUSTOMS: "ur", EPA: "en", SD_MMD: "ur", SIFC: "ur", MMDD: "en",
            PSW: "en", PLATFORM: "en"}


# --------------------------------------------------------------------------- the test


async def test_months_of_history_loaded_through_the_cli_and_sdk_audit_and_alert(
    tmp_path: Path,
) -> None:
    with own_broker(tmp_path / "kafka", what="history") as settings:
        admin = kafka_access(settings)
        operator = Party(PLATFORM, admin, tmp_path / "operator")
        parties = {org: Party(org, admin, tmp_path / org.rsplit(":", 1)[1]) for org in NAMES}
        firm, mmdd, customs, psw = (parties[o] for o in (FIRM, MMDD, CUSTOMS, PSW))
        auditor = parties[AUDITOR]

        # ---- the operator: trust anchor, topics, parties valid since their history began
        init = await operator("participants", "init")
        anchor = re.search(r"EMINING_TRUST_ANCHOR=(\S+)", init.stdout)[1]  # type: ignore[index]
        await operator("topics", "apply")
        since = day(250).isoformat()
        for party in parties.values():
            await onboard(operator, party, since, anchor)
        await operator("participants", "functions", "--org", SIFC,
                       "--function", "investment_facilitation")
        for org in LOADERS:
            await operator("participants", "backfill", "--org", org, "--from", since,
                           "--until", datetime.now(UTC).isoformat(),
                           "--reason", "loading the records kept before the bus", "--hours", "2")
        await operator("topics", "apply")  # each party's alerts topic, the registry's ACLs
        registry = {o["id"]: o for o in await operator.json("participants", "list")}
        assert registry[SIFC]["functions"] == ["investment_facilitation"]
        assert [w["reason"] for w in registry[FIRM]["backfill_windows"]] == [
            "loading the records kept before the bus"]
        # a bare date holds from the start of that day in Pakistan (19:00 UTC the day before)
        assert datetime.fromisoformat(registry[FIRM]["keys"][0]["valid_from"]) == \
            datetime.combine(date.fromisoformat(since), datetime.min.time(), PKT)

        # Without a backfill window (Sindh's department has none), a date months back is
        # refused before anything is signed.
        late = tmp_path / "late.json"
        late.write_text(json.dumps({
            "title_number": SD_TITLE, "holder_uscc": USCC, "notice_ref": "SD-DN-0001",
            "notified_on": day(100).isoformat(), "respond_by": day(70).isoformat(),
            "items": ["Boundary map missing"]}))
        sindh = parties[SD_MMD]
        refused = await sindh("publish", "pk.emining.approval.licence.deficiency.notified",
                              "--as", SD_MMD, "--key", str(sindh.key), "--subject", SD_TITLE,
                              "--data", str(late), "--time", stamp(100), ok=False)
        assert "nothing was published" in refused.output
        assert "backfill" in refused.output

        # ---- each party loads its past records, in the order they happened
        await publish(firm, "pk.emining.approval.licence.application.received", BA_TITLE, 240,
                      application(BA_TITLE, "PK-BA", "Chagai", MMDD, 240))
        await publish(mmdd, "pk.emining.approval.licence.deficiency.notified", BA_TITLE, 225, {
            "title_number": BA_TITLE, "holder_uscc": USCC, "notice_ref": "MMDD-DN-0211",
            "notified_on": day(225).isoformat(), "respond_by": day(195).isoformat(),
            "items": ["Work programme lacks a year-2 drilling budget"]})
        await load(firm, "licensing", [
            row("pk.emining.approval.licence.application.resubmitted", 205, {
                "title_number": BA_TITLE, "holder_uscc": USCC, "notice_ref": "MMDD-DN-0211",
                "resubmitted_at": stamp(205), "note": "Revised work programme attached"}),
            row("pk.emining.approval.environmental.filed", 200, {
                "file_number": EIA, "proponent_uscc": USCC, "assessment": "EIA",
                "province": "PK-BA", "epa": EPA, "title_number": BA_TITLE,
                "filed_on": day(200).isoformat(), "complete_on": day(190).isoformat()}),
        ])
        granted = day(160)
        expires = plus_months(granted, 36) - timedelta(days=1)
        await publish(mmdd, "pk.emining.approval.licence.granted", BA_TITLE, 160, {
            "title_number": BA_TITLE, "holder_uscc": USCC, "granted_on": granted.isoformat(),
            "term_years": 3, "expires_on": expires.isoformat(), "area_km2": "48.2500",
            "minerals": ["copper", "gold"]})
        await load(firm, "sindh-and-shipment", [
            row("pk.emining.approval.licence.application.received", 130,
                application(SD_TITLE, "PK-SD", "Tharparkar", SD_MMD, 130)),
            row("pk.emining.shipment.planned", 125, shipment(
                contract_ref="CC-CU-017", product="copper_concentrate", hs_code="26030000",
                quantity=QUANTITY, incoterm="FOB", origin_province="PK-BA",
                exit_point="port_qasim", destination={"country": "CN", "place": "Lianyungang"},
                planned_departure_on=day(120).isoformat(),
                buyer={"name": {"en": "Lianyungang Copper Smelting Co., Ltd."},
                       "uscc": "91440300MA5GQ2N8HU", "country": "CN"})),
            row("pk.emining.shipment.lot.loaded", 123, shipment(
                lot_id="LOT-17-A", loaded_at=stamp(123), place="Mine concentrate shed, Chagai",
                units=[{"kind": "container", "container_number": "CSQU3054383",
                        "seal_numbers": ["PK7781203"], "gross_t": "27.900",
                        "net_wmt": "25.600"}])),
            row("pk.emining.shipment.lot.assayed", 122, shipment(
                lot_id="LOT-17-A", assay_kind="provisional",
                laboratory="Example Minerals Laboratory, Karachi",
                certificate_number="EML-04411", sampled_on=day(122).isoformat(),
                grades=FIRST_GRADES, moisture_pct="8.5"), id=ASSAY_ID),
            row("pk.emining.shipment.departed", 120, shipment(
                departed_at=stamp(120), from_place="Mine concentrate shed, Chagai",
                mode="road", expected_at_exit_on=day(116).isoformat())),
            row("pk.emining.shipment.customs.declaration.filed", 115, shipment(
                declaration_number=DECLARATION, filed_at=stamp(115), customs_station="port_qasim",
                hs_code="26030000", declared_value={"amount": "11990000.00", "currency": "USD"},
                quantity=QUANTITY, export_approvals=[], declarant_ntn="4211234-5")),
        ])
        await sdk_publish(customs, anchor, "pk.emining.shipment.customs.held", 114, shipment(
            declaration_number=DECLARATION, held_at=stamp(114),
            reason="missing_export_approval", detail="No export NOC cited"))
        await publish(psw, "pk.emining.approval.export.decided", LPCO, 90, {
            "lpco_number": LPCO, "exporter_uscc": USCC, "lpco_type": "export_noc",
            "status": "approved", "decided_at": stamp(90), "province": "PK-BA",
            "hs_code": "26030000", "quantity_t": "5000.000", "valid_until": day(0).isoformat(),
            "issuing_agency": MMDD, "shipment_id": SHIPMENT})
        await publish(firm, "pk.emining.shipment.customs.declaration.amended", SHIPMENT, 89,
                      shipment(declaration_number=DECLARATION, amended_at=stamp(89),
                               export_approvals=[LPCO], reason="Export NOC issued after filing"))
        await sdk_publish(customs, anchor, "pk.emining.shipment.customs.cleared", 88, shipment(
            declaration_number=DECLARATION, cleared_at=stamp(88), examined=True))
        await publish(firm, "pk.emining.shipment.corrected", SHIPMENT, 80, shipment(
            corrects_event_id=ASSAY_ID, corrected_type="pk.emining.shipment.lot.assayed.v1",
            reason="incorrect_data", explanation="Grades keyed from another lot's certificate",
            replacement={"grades": RIGHT_GRADES}))

        # ---- the platform consumes it all and alerts; each party follows its own alerts
        views = operator.spawn("views", "run", out=tmp_path / "views.out")
        tails = {org: (operator if org == PLATFORM else parties[org]).spawn(
            "alerts", "tail", "--org", org, "--from-beginning", "--json",
            out=tmp_path / f"alerts-{org.rsplit(':', 1)[1]}.jsonl") for org in EXPECTED_ALERTS}
        try:
            await audit(auditor)
            await live_views_agree(operator, auditor)

            async def all_delivered() -> bool:
                assert views.poll() is None, (tmp_path / "views.err").read_text()[-3000:]
                return all(len(lines(tmp_path / f"alerts-{o.rsplit(':', 1)[1]}.jsonl"))
                           >= len(want) for o, want in EXPECTED_ALERTS.items())

            # deadlines fire on the consumer's 30 s timer, after the history is applied
            await wait_for(all_delivered, "the alerts", 90)
            await asyncio.sleep(2)  # anything more would show up now
        finally:
            for process in (*tails.values(), views):
                stop(process)
        received = {org: lines(tmp_path / f"alerts-{org.rsplit(':', 1)[1]}.jsonl")
                    for org in EXPECTED_ALERTS}
        check_alerts(received)


async def report_on(auditor: Party, b_day: str) -> None:
    """The audit report on B, with the history loaded since: the licence is in the register,
    granted on the day its standard fell due (the 20 days spent deficient added): not late."""
    out = auditor.home / "report"
    report = await auditor.json("audit", "report", "--out", str(out / "b.html"), "--as-of",
                                b_day, "--include-late")
    assert (out / "b.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    register = {r["title_number"]: r for r in report["licence_register"]}
    assert sorted(register) == sorted([BA_TITLE, SD_TITLE])  # Sindh's: applied for, pending
    assert (register[BA_TITLE]["status"], register[SD_TITLE]["status"]) == ("granted", "received")
    assert BA_TITLE not in {b["ref"] for b in report["breaches"]}


async def audit(auditor: Party) -> None:
    """The auditor (read rights and the trust anchor, nothing else) replays the log."""
    verified = await auditor.json("audit", "verify", "--workers", "0")
    assert (verified["ok"], verified["violations"]) == (True, []), verified

    def replay(*args: str) -> Any:
        return auditor.json("audit", "replay", *args)

    # As the platform stood then, nothing of this was on the log yet: it was loaded today.
    a_day = day(DATES["A"]).isoformat()
    assert (await replay("--as-of", a_day))["applied"] == 0
    assert (await replay("--as-of", a_day, "--include-late"))["state"] == {
        "projects": {}, "approvals": {"environmental:filed": 1, "title:resubmitted": 1},
        "shipments": {}, "approvals_standing": {
            "breached": 0, "environmental:filed": 1, "title:resubmitted": 1}}

    async def view(subject: str, as_of: str | None) -> dict[str, Any]:
        when = ["--as-of", as_of, "--include-late"] if as_of else []
        doc = await replay("--subject", subject, *when)
        assert (doc["rejected"], doc["rejections"]) == (0, []), doc["rejections"]
        return dict(doc["state"]["view"] or {})

    # A: before the grant. The licence answered its deficiency notice; its 60-day standard
    # runs from receipt, the 20 days spent deficient added.
    ba = await view(BA_TITLE, a_day)
    assert standing(ba) == ("resubmitted", "resubmitted", 70, False, day(160).isoformat(), a_day)
    notified = datetime.combine(day(225), datetime.min.time(), PKT)  # the day it was notified
    assert ba["time_in_state"]["deficient"] == (at(205) - notified).total_seconds()
    eia = await view(EIA, a_day)
    assert standing(eia) == ("filed", "filed", 30, False, DEEMED_ON.isoformat(), a_day)
    assert await view(SD_TITLE, a_day) == {}
    assert await view(SHIPMENT, a_day) == {}

    # B: granted; the EIA still within its four months; Sindh pending within its standard;
    # the shipment held, declared without an export approval, the assay as first reported.
    b_day = day(DATES["B"]).isoformat()
    ba = await view(BA_TITLE, b_day)
    assert (ba["status"], ba["granted_on"], ba["expires_on"], ba["days_pending"]) == (
        "granted", day(160).isoformat(), (plus_months(day(160), 36) - timedelta(days=1)
                                          ).isoformat(), None)
    eia = await view(EIA, b_day)
    assert standing(eia) == ("filed", "filed", 100, False, DEEMED_ON.isoformat(), b_day)
    sindh = await view(SD_TITLE, b_day)
    assert standing(sindh) == ("received", "received", 30, False, day(70).isoformat(), b_day)
    assert sindh["authority"] == SD_MMD
    held = await view(SHIPMENT, b_day)
    assert (held["status"], held["on_hold"], held["approvals"]) == ("held", True, [])
    assert [h["reason"] for h in held["holds"]] == ["missing_export_approval"]
    assert held["exceptions"] == ["declared_without_export_approval"]
    assert held["assays"] == {"LOT-17-A": FIRST_GRADES}
    await report_on(auditor, b_day)

    # C, today: deemed approved by law, Sindh breached, the shipment cleared on its LPCO, the
    # assay as corrected (the first report kept in the timeline, superseded).
    today = TODAY.isoformat()
    eia = await view(EIA, None)
    assert standing(eia) == ("filed", "deemed_approved", None, False, DEEMED_ON.isoformat(),
                             today)
    sindh = await view(SD_TITLE, None)
    assert standing(sindh) == ("received", "received", 130, True, day(70).isoformat(), today)
    assert (await view(BA_TITLE, None))["status"] == "granted"
    lpco = await view(LPCO, None)
    assert (lpco["status"], lpco["holder_uscc"]) == ("approved", USCC)
    doc = await replay("--subject", SHIPMENT)
    cleared = doc["state"]["view"]
    assert (cleared["status"], cleared["on_hold"], cleared["approvals"]) == (
        "cleared", False, [LPCO])
    assert cleared["exceptions"] == []
    assert cleared["assays"] == {"LOT-17-A": RIGHT_GRADES}
    [assayed] = [e for e in doc["state"]["timeline"] if e["event_id"] == ASSAY_ID]
    assert assayed["superseded_by"] is not None
    assert [e["time"][:10] for e in doc["state"]["timeline"]] == [
        day(d).isoformat() for d in (125, 123, 122, 120, 115, 114, 89, 88, 80)]


async def live_views_agree(operator: Party, auditor: Party) -> None:
    """The live views, once caught up, are the replay's: same digest, same standing today."""
    async def caught_up() -> bool:
        result = await operator("views", "shipments", "--json", ok=None)
        if result.exit_code != 0:
            return False  # the consumer has not made its store yet
        doc = json.loads(result.stdout)
        lags = [p["lag"] for ps in doc["freshness"].values() for p in ps.values()]
        return bool(doc["items"]) and bool(lags) and all(lag == 0 for lag in lags)

    await wait_for(caught_up, "the live views", 60)
    whole = await auditor.json("audit", "replay")
    assert (whole["rejected"], whole["held"]) == (0, [])
    assert whole["state"]["approvals"] == {
        "environmental:filed": 1, "export:approved": 1, "title:granted": 1, "title:received": 1}
    assert whole["state"]["approvals_standing"] == {  # as the law has it today
        "breached": 1, "environmental:deemed_approved": 1, "title:received": 1}
    assert (await operator.json("views", "digest"))["sha256"] == whole["digest"]
    live = (await operator.json("views", "approval", EIA))["item"]
    assert (live["effective_status"], live["as_of"]) == ("deemed_approved", TODAY.isoformat())
    breached = await operator.json("views", "approvals", "--breached")
    assert [i["ref"] for i in breached["items"]] == [SD_TITLE]


def check_alerts(received: dict[str, list[dict[str, Any]]]) -> None:
    for org, want in EXPECTED_ALERTS.items():
        alerts = received[org]
        assert sorted((a["rule"], a["about"]) for a in alerts) == sorted(want), (org, alerts)
        for alert in alerts:
            assert (alert["recipient"], alert["language"]) == (org, LANGUAGE[org])
            assert set(alert["texts"]) == {"en", "zh", "ur"}
    firm = {(a["rule"], a["about"]): a for a in received[FIRM]}
    # The Chinese firm reads Chinese, names as the operator registered them.
    notice = firm[("deficiency_notified", BA_TITLE)]
    assert "俾路支省矿产开发厅" in notice["texts"]["zh"]
    assert notice["due_on"] == day(195).isoformat()
    assert "俾路支省矿产开发厅" in firm[("approval_decided", BA_TITLE)]["texts"]["zh"]
    assert all(HAN.search(a["texts"]["zh"]) for a in received[FIRM])
    # Customs and the Sindh department read Urdu; the EPA English.
    hold = next(a for a in received[CUSTOMS] if a["rule"] == "customs_hold")
    assert "پاکستان کسٹمز" in hold["texts"]["ur"]
    assert all(ARABIC.search(a["texts"]["ur"]) for a in received[CUSTOMS] + received[SD_MMD])
    [deemed] = received[EPA]
    assert deemed["due_on"] == DEEMED_ON.isoformat()
    assert EIA in deemed["texts"]["en"]
