"""A world for the console's tests: views the real consumer path built from the views tests'
scenario (signed, verified, folded into SQLite), people with accounts, alerts in the outbox, and
the console mounted on an app with the real access dependency. No broker: the alert stream at
``/v1/alerts/stream`` is replaced by one that sends alerts in the real stream's format."""

# No ``from __future__ import annotations``: FastAPI reads the stream's annotations at run time
# and they name the ``access`` dependency local to ``_stream``.

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, FastAPI
from sse_starlette import EventSourceResponse, ServerSentEvent

from consumers.access_http import Access, access_dependency
from consumers.alerts.reader import Received
from consumers.alerts.sse import SEP, comment, sse_event
from consumers.alerts.store import AlertStore, record_alerts
from consumers.api_public import PublicData
from consumers.console.pages import mount_console
from consumers.dlq import DeadLetterQueue
from consumers.readlog import ReadLog
from consumers.store import ViewStore
from consumers.store_read import get_view
from consumers.sync import ViewSync
from producers.accounts import AccountStore
from producers.auth_routes import create_auth_router
from producers.authn import Authenticator
from producers.gateway_auth import ApiKeyStore
from producers.gateway_state import GatewayState
from producers.keys import key_file_name, write_key
from schemas.access import UserRole
from schemas.alerts import AlertRaised, AlertRule, alert_id
from schemas.common import Language, Names, Role, Side
from schemas.envelope import KafkaRecord
from schemas.lifecycles import status_in
from schemas.participants import OrganisationOnboarded
from tests.integration.views import scenario
from tests.unit.views.harness import Log, WholeLogControl, stage_for
from transport.access import KafkaAccess
from transport.meta import key_partition
from transport.sender import Ack, RecordSender

if TYPE_CHECKING:
    from schemas.registry import Registry

STORIES = 12
TODAY = date(2025, 3, 20)
"""The day the approvals' clocks are read on: some files pending, some past their standard."""
PASSWORD = "a-long-test-password-1"
LIVE_TEXT = "A live alert for the officer"
AUDITOR = "urn:emining:xx:aud:eiti-test"
FIRM_A, FIRM_B = list(scenario.FIRMS)[:2]
PEOPLE = {
    "ba.officer": (scenario.BA_MMDD, UserRole.OFFICER, "Officer of Balochistan"),
    "firm.a.manager": (FIRM_A, UserRole.MANAGER, "Manager of firm A"),
    "firm.b.manager": (FIRM_B, UserRole.MANAGER, "Manager of firm B"),
    "eiti.auditor": (AUDITOR, UserRole.AUDITOR, "Auditor"),
    "platform.operator": (scenario.PLATFORM, UserRole.OPERATOR, "Operator of the platform"),
}


def registry() -> "Registry":
    built = scenario.registry()
    built.apply(OrganisationOnboarded(org_id=AUDITOR, names=Names(en="EITI test auditor"),
                                      side=Side.PK, role=Role.AUDITOR), scenario.REGISTRY_FROM)
    return built


def alert(recipient: str, about: str, key: str, text: str, **changes: Any) -> AlertRaised:
    """An alert like the platform raises (its id derived from rule, cause and recipient)."""
    texts = {"en": f"{text} (en)", "zh": f"{text} (中文)", "ur": f"{text} (اردو)"}
    example = AlertRaised.EXAMPLE
    cause = {**example["cause"], "key": key, "subject": about}
    return AlertRaised.model_validate({
        **example, "alert_id": alert_id(AlertRule(example["rule"]), key, recipient),
        "recipient": recipient, "about": about, "texts": texts, "cause": cause, **changes})


@dataclass
class World:
    store: ViewStore
    accounts: AccountStore
    alerts: AlertStore
    registry: "Registry"
    keys: ApiKeyStore
    tmp: Path

    def app(self, *, secure_cookie: bool = True, live: list[AlertRaised] | None = None,
            submit: Any = None, verify: Any = None, state_as_of: Any = None,
            today: date = TODAY) -> FastAPI:
        """The console on an app wired as ``infra.compose.app`` wires it (access, sign-in,
        pages)."""
        reads = ReadLog(self.store)
        authenticator = Authenticator(self.keys, self.accounts)
        access = access_dependency(authenticator, lambda: self.registry, reads)
        app = FastAPI()
        app.include_router(create_auth_router(self.accounts, authenticator,
                                              secure_cookie=secure_cookie),
                           prefix="/v1", dependencies=[Depends(access)])
        app.include_router(_stream(access, live or []), prefix="/v1")
        mount_console(app, store=self.store, public=PublicData(self.store, lambda: self.registry),
                      alerts=self.alerts, accounts=self.accounts,
                      registry=lambda: self.registry, access=access,
                      secure_cookie=secure_cookie, today=lambda: today, submit=submit,
                      verify=verify, state_as_of=state_as_of)
        return app


def _stream(access: Any, live: list[AlertRaised]) -> APIRouter:
    """``GET /v1/alerts/stream`` under its real rule, sending ``live`` alerts for the caller's
    organisation in the real stream's wire format (``sse_event`` in sse-starlette's response),
    then keeping the line open."""
    router = APIRouter()

    @router.get("/alerts/stream")
    async def stream(caller: Annotated[Access, Depends(access)],
                     lang: str | None = None) -> EventSourceResponse:
        mine = [a for a in live if a.recipient == caller.principal.org]

        async def events() -> AsyncIterator[ServerSentEvent]:
            yield comment("connected")
            await asyncio.sleep(0.3)
            for i, item in enumerate(mine):
                received = Received(item, None, 0, i)  # type: ignore[arg-type]
                yield sse_event(received, {0: i + 1}, Language(lang) if lang else None)
            await asyncio.sleep(30)

        return EventSourceResponse(events(), sep=SEP)

    return router


async def build(tmp: Path, extra: Sequence[scenario.Step] = ()) -> World:
    """The world; ``extra`` steps (in order, after the scenario's) add files a test needs."""
    log = Log()
    rounds = [*scenario.build(STORIES).rounds(), *([step] for step in extra)]
    records = [r for steps in rounds for r in log.records(steps)]
    logs: dict[tuple[str, int], list[Any]] = {}
    for r in records:
        logs.setdefault((r.topic, r.partition), []).append(r)
    store = ViewStore(f"sqlite+aiosqlite:///{tmp / 'views.sqlite'}")
    await store.open()
    sync = ViewSync(store, stage_for(scenario.registry()), DeadLetterQueue(None, "dlq", "t"))
    control = WholeLogControl(logs)
    for start in range(0, len(records), 200):
        await sync.apply(records[start:start + 200], control)
    alerts = AlertStore(store)
    await alerts.create_tables()
    await ReadLog(store).create_table()
    title = scenario.ids_of(0)["title"]
    async with alerts.writing() as conn:
        await record_alerts(conn, [
            alert(scenario.BA_MMDD, title, "cause-a", "Application past its standard",
                  severity="warning", raised_at=datetime(2025, 3, 1, 5, tzinfo=UTC)),
            alert(FIRM_A, title, "cause-b", "Licence decided for firm A"),
            alert(FIRM_B, scenario.ids_of(1)["title"], "cause-c", "Licence decided for firm B"),
        ])
    accounts = AccountStore(f"sqlite+aiosqlite:///{tmp / 'accounts.sqlite'}")
    await accounts.open()
    for username, (org, role, name) in PEOPLE.items():
        await accounts.add(username, org, frozenset({role}), PASSWORD, name)
    return World(store, accounts, alerts, registry(), ApiKeyStore(tmp / "keys.json"), tmp)


class RecordingSender(RecordSender):
    """The gateway's shared sender without a broker: every record is "acknowledged" at the next
    offset of its partition and kept, so a test sees exactly what would have been published."""

    def __init__(self) -> None:
        super().__init__(KafkaAccess("127.0.0.1:1", "PLAINTEXT"), timeout_s=1.0)
        self.sent: list[KafkaRecord] = []
        self.acks: list[Ack] = []
        self._ends: dict[tuple[str, int], int] = {}

    @property
    def started(self) -> bool:
        return True

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(self, records: Any, results: Any = None) -> list[Ack | str]:
        acks: list[Ack | str] = []
        for index, record in enumerate(records):
            partition = key_partition(record.key, 6)
            offset = self._ends.get((record.topic, partition), 0)
            self._ends[(record.topic, partition)] = offset + 1
            self.sent.append(record)
            acks.append(Ack(record.topic, partition, offset))
            self.acks.append(Ack(record.topic, partition, offset))
            if results is not None:
                results[index] = acks[-1]
        return acks


async def gateway(world: World, custody: tuple[str, ...]) -> tuple[GatewayState, RecordingSender]:
    """A real gateway state (custody, receipts, authority, time and lifecycle checks) over the
    world's registry and views, holding the keys of ``custody``, sending to a ``RecordingSender``.
    The lifecycle check reads the world's views as caught up."""
    sender = RecordingSender()

    async def load_registry() -> "Registry":
        return world.registry

    async def status_of(subject: str, topic: str) -> tuple[bool, str | None]:
        for family in ("approvals", "shipments", "projects"):
            doc = await get_view(world.store, family, subject)
            if doc is not None:
                return True, status_in(doc)
        return True, None

    async def probe() -> None:
        return None

    state = GatewayState(
        sender=sender, load_registry=load_registry,
        trust_anchor=[scenario.key_of(scenario.PLATFORM).public_key],
        api_keys=world.keys, custody_dir=world.tmp / "custody", chain_dir=world.tmp / "chains",
        receipts_dir=world.tmp / "gateway", max_body_bytes=80 * 1024, probe=probe,
        status_of=status_of)
    for org in custody:
        write_key(scenario.key_of(org), state.custody.custody_dir / key_file_name(org))
    await state.start()
    return state, sender
