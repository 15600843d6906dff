"""The views contract, on SQLite and on PostgreSQL: a real broker, a realistic history, bad records.

Same assertions for both stores: values of the views, the dead letters and their reasons, the
read API, freshness, and a rebuild giving the same digest.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from consumers.api import create_views_router
from consumers.digest import digest
from consumers.freshness import Freshness
from consumers.rebuild import rebuild
from consumers.store import ViewStore
from consumers.store_read import get_view, list_views, statuses
from schemas.envelope import seal, to_record
from tests.integration.views import scenario
from tests.integration.views.conftest import (
    PARTITIONS,
    Bus,
    as_platform,
    caught_up,
    config_for,
    fresh_database,
    read_topic,
    renames,
    running,
)
from tests.kafka_support import access_env
from transport.access import KafkaAccess
from transport.meta import key_partition

pytestmark = pytest.mark.integration

STORIES = 36
XINJIANG = "urn:emining:cn:ent:xinjiang-example"
SHANGHAI = "urn:emining:cn:ent:shanghai-example"
AT = datetime(2026, 6, 1, 9, tzinfo=UTC)


async def _signed(bus: Bus, org: str, data: object, *, source: str, sequence: int = 1,
                  tamper: tuple[bytes, bytes] | None = None,
                  misplace: bool = False) -> tuple[int, int, str]:
    """Publish one signed record as ``source`` (outside the SDK; with ``misplace``, to a
    partition its key does not hash to); returns its DLQ id parts."""
    env = seal(data, source=source, signer=scenario.key_of(org).signer(),  # type: ignore[arg-type]
               sequence=sequence, prevhash="0" * 64, time=AT)
    record = to_record(env)
    value = record.value.replace(*tamper) if tamper else record.value
    topic = renames(bus.topics)[record.topic]
    wrong = (key_partition(record.key, PARTITIONS) + 1) % PARTITIONS if misplace else None
    partition, offset = await bus.raw(topic, value, key=record.key,
                                      headers=list(record.headers), partition=wrong)
    return partition, offset, topic


async def publish_bad_records(bus: Bus) -> dict[str, str]:
    """One record of each kind that must not reach a view; ``dlq_id`` → expected reason."""
    expected: dict[str, str] = {}

    def expect(where: tuple[int, int, str], reason: str) -> None:
        expected[f"{where[2]}:{where[0]}:{where[1]}"] = reason

    production = scenario.event("pk.emining.project.production.reported",
                                project_id="PRJ-BA-CHG-0001", period="2026-09",
                                operator_uscc=scenario.FIRMS[XINJIANG])
    expect(await _signed(bus, XINJIANG, production, source=f"{XINJIANG}/forger",
                         tamper=(b'"ore_mined_t":"412500.000"', b'"ore_mined_t":"999999.000"')),
           "signature")
    grant = scenario.event("pk.emining.approval.licence.granted", title_number="BA-EL-2025-0005",
                           holder_uscc=scenario.FIRMS["urn:emining:cn:ent:guangdong-example"])
    expect(await _signed(bus, scenario.BA_EPA, grant, source=f"{scenario.BA_EPA}/rogue"),
           "authority")
    foreign = scenario.event("pk.emining.project.production.reported",
                             project_id="PRJ-BA-CHG-0001", period="2026-10",
                             operator_uscc=scenario.FIRMS[SHANGHAI])
    expect(await _signed(bus, SHANGHAI, foreign, source=f"{SHANGHAI}/other"), "own_subject")
    late = scenario.event("pk.emining.project.production.reported", project_id="PRJ-BA-CHG-0001",
                          period="2026-11", operator_uscc=scenario.FIRMS[XINJIANG])
    expect(await _signed(bus, XINJIANG, late, source=f"{XINJIANG}/views-test"), "reorder")
    second = scenario.story(1)
    misplaced = scenario.event("pk.emining.project.production.reported",
                               project_id="PRJ-BA-CHG-0002", period="2026-12",
                               operator_uscc=second.uscc)
    expect(await _signed(bus, second.firm, misplaced, source=f"{second.firm}/misplaced",
                         misplace=True), "wrong_partition")
    topic = bus.topics.projects
    where = await bus.raw(topic, b"\x00\xffnot an event", key=b"PRJ-BA-CHG-0003")
    expect((*where, topic), "missing_header")
    where = await bus.raw(topic, b"{}", key=b"PRJ-BA-CHG-0003",
                          headers=[("ce_id", b"\xff\xfe\xfd"), ("ce_type", None)])
    expect((*where, topic), "bad_header")
    registered = scenario.story(1).ids["registered"]
    original = next(r for r in await read_topic(bus.kafka, topic)
                    if dict(r.headers).get("ce_id") == registered.encode())
    where = await bus.raw(topic, original.value, key=original.key, headers=list(original.headers))
    expect((*where, topic), "duplicate")
    return expected


@pytest.fixture
async def synced(bus: Bus, store_url: str, kafka_access: KafkaAccess):
    """The scenario and the bad records published, and the views caught up with them."""
    history = scenario.build(STORIES)
    await bus.rounds(history.rounds())
    bad = await publish_bad_records(bus)
    config = config_for(kafka_access, bus.topics, store_url)
    async with running(config):
        await caught_up(store_url, config)
    store = ViewStore(store_url)
    await store.open()
    try:
        yield store, config, history, bad
    finally:
        await store.close()


async def test_views_hold_the_right_values_after_a_realistic_history(synced):
    store, _, _, _ = synced
    title = await get_view(store, "approvals", "BA-EL-2025-0001")
    assert title is not None
    assert (title["status"], title["granted_on"], title["expires_on"]) == (
        "granted", "2025-03-09", "2028-03-08")
    assert title["due"] == {"work_commencement_due": "2025-09-09", "expires_on": "2028-03-08"}
    assert title["time_in_state"]["deficient"] == 16 * 86400 + 14 * 3600
    refused = await get_view(store, "approvals", "BA-EL-2025-0005")
    assert refused is not None
    assert (refused["status"], refused["due"]) == ("refused", {"appealable_until": "2025-04-12"})
    project = await get_view(store, "projects", "PRJ-BA-CHG-0001")
    assert project is not None
    assert project["latest_production"]["period"] == "2026-03"
    assert project["latest_production"]["ore_milled_t"] == "389200.000"  # corrected
    assert project["latest_production"]["ore_mined_t"] == "403000.000"  # not the forged 999999
    held = await get_view(store, "shipments", "SHP-2026-000001")
    assert held is not None
    assert (held["status"], held["on_hold"], held["approvals"]) == (
        "held", True, ["LPCO-2026-000001"])
    released = await get_view(store, "shipments", "SHP-2026-000005")
    assert released is not None
    assert released["status"] == "arrived"
    assert released["holds"][0]["released_at"] == "2026-04-16T07:00:00Z"


async def test_every_pending_file_of_a_province_is_listed(synced):
    store, _, _, _ = synced
    page = await list_views(store, "approvals", {
        "status": statuses(["pending"]), "province": "PK-BA"}, limit=500)
    pending = sorted((i["ref"], i["status"]) for i in page.items)
    undecided = [i for i in range(STORIES) if scenario.pending(i)]
    assert pending == sorted(
        [(scenario.ids_of(i)["title"], "resubmitted" if i % 3 == 0 else "acknowledged")
         for i in undecided] + [(scenario.ids_of(i)["eia"], "filed") for i in undecided])
    mine = await list_views(store, "approvals", {
        "party": scenario.FIRMS[XINJIANG], "kind": "title"}, limit=500)
    assert {i["ref"] for i in mine.items} == {scenario.ids_of(i)["title"]
                                              for i in range(0, STORIES, 4)}


async def test_bad_records_land_in_the_dlq_with_their_reason_and_change_no_view(synced):
    store, config, history, bad = synced
    dlq = await read_topic(config.kafka, config.topics.dlq)
    reasons = {dict(r.headers)["dlq_id"].decode(): dict(r.headers)["dlq_reason"].decode()
               for r in dlq}
    assert reasons == bad
    garbage = next(r for r in dlq if dict(r.headers)["dlq_reason"] == b"missing_header")
    assert garbage.value == b"\x00\xffnot an event"
    assert garbage.key == b"PRJ-BA-CHG-0003"
    assert dict(garbage.headers)["dlq_consumer"] == b"views"
    raw_headers = next(r for r in dlq if dict(r.headers)["dlq_reason"] == b"bad_header").headers
    assert raw_headers[:2] == (("ce_id", b"\xff\xfe\xfd"), ("ce_type", None))
    refused = await get_view(store, "approvals", "BA-EL-2025-0005")
    assert refused is not None
    assert refused["status"] == "refused", "the EPA's out-of-authority grant changed nothing"
    answer = await digest(store)
    assert answer.rows["timeline"] == history.events, "every good event once, no bad one"


async def test_a_rebuild_from_offset_zero_gives_the_same_digest(synced):
    store, config, history, bad = synced
    before = await digest(store)
    generation = await store.live_generation()
    result = await rebuild(config)
    assert result.digest == before
    assert (result.applied, result.rejected) == (history.events, len(bad))
    assert result.generation != generation
    assert await store.live_generation() == result.generation


async def test_the_consumer_continues_after_a_rebuild_swapped_the_views(synced, bus):
    store, config, history, _ = synced
    await rebuild(config)
    extra = scenario.build(STORIES + 2).stories[STORIES:]
    await bus.rounds(scenario.Scenario(extra).rounds())
    async with running(config):
        await caught_up(config.store_url, config)
    answer = await digest(store)
    added = sum(len(s.steps) for s in extra)
    assert answer.rows["timeline"] == history.events + added
    assert answer.rows["projects"] == STORIES + 2


async def test_the_read_api_paginates_filters_and_says_how_fresh_it_is(synced):
    store, config, _, _ = synced
    app = FastAPI()
    freshness = Freshness(config.kafka, config.topics.consumed())
    day = [scenario.T0.date() + timedelta(days=60)]  # every file filed, none deemed approved
    app.include_router(create_views_router(store, freshness, as_platform(), today=lambda: day[0]),
                       prefix="/v1")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://views") as client:
        seen, cursor = [], None
        while True:
            params = {"limit": 10} | ({"cursor": cursor} if cursor else {})
            page = (await client.get("/v1/projects", params=params)).json()
            seen += [p["project_id"] for p in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [scenario.ids_of(i)["project"] for i in range(STORIES)]
        fresh = page["freshness"][config.topics.projects]
        assert all(p["lag"] == 0 for p in fresh.values())
        assert [p["applied_offset"] + 1 for p in fresh.values()] == [
            p["end_offset"] for p in fresh.values()]
        timeline = (await client.get("/v1/projects/PRJ-BA-CHG-0001/timeline")).json()
        assert [e["position"] for e in timeline["items"]] == [1, 2, 3, 4, 5, 6]
        assert timeline["items"][4]["superseded_by"] == timeline["items"][5]["event_id"]
        assert timeline["items"][4]["effective"]["ore_milled_t"] == "389200.000"
        held = (await client.get("/v1/shipments", params={"status": "held"})).json()
        assert {s["shipment_id"] for s in held["items"]} == {
            scenario.ids_of(i)["shipment"] for i in range(0, STORIES, 8)}
        pending = (await client.get("/v1/approvals", params={
            "status": "pending", "authority": scenario.BA_EPA})).json()
        assert {a["ref"] for a in pending["items"]} == {
            scenario.ids_of(i)["eia"] for i in range(STORIES) if scenario.pending(i)}
        assert all(a["effective_status"] == "filed" and a["days_pending"] > 0
                   and not a["breached"] for a in pending["items"])
        day[0] = scenario.T0.date() + timedelta(days=365)  # four months of silence have passed
        law = {"authority": scenario.BA_EPA}
        deemed = (await client.get("/v1/approvals", params={**law, "status": "deemed_approved"})
                  ).json()
        assert {a["ref"] for a in deemed["items"]} == {
            scenario.ids_of(i)["eia"] for i in range(STORIES) if scenario.pending(i)}
        assert {a["status"] for a in deemed["items"]} == {"filed"}  # as recorded
        assert (await client.get("/v1/approvals", params={**law, "status": "pending"})
                ).json()["items"] == []
        late = (await client.get("/v1/approvals", params={
            "authority": scenario.BA_MMDD, "breached": "true"})).json()
        assert {a["ref"] for a in late["items"]} == {
            scenario.ids_of(i)["title"] for i in range(STORIES) if scenario.pending(i)}
        one = (await client.get(f"/v1/approvals/{scenario.ids_of(8)['eia']}")).json()["item"]
        assert (one["effective_status"], one["as_of"]) == ("deemed_approved", str(day[0]))
        missing = await client.get("/v1/projects/PRJ-BA-CHG-9999")
        assert missing.status_code == 404
        # a licence application by its own reference, slashes and all
        found = (await client.get("/v1/approvals/MMDD/BA/2025/0002")).json()["item"]
        assert found["ref"] == scenario.ids_of(1)["title"]
        listed = (await client.get("/v1/approvals", params={"application": "MMDD/BA/2025/0002"})
                  ).json()["items"]
        assert [a["ref"] for a in listed] == [scenario.ids_of(1)["title"]]
    await freshness.close()


async def test_sqlite_and_postgresql_hold_byte_identical_views(bus, kafka_access, tmp_path,
                                                               postgres_url):
    await bus.rounds(scenario.build(12).rounds())
    on_sqlite = await rebuild(config_for(kafka_access, bus.topics,
                                         f"sqlite:///{tmp_path / 'views.db'}"))
    on_postgres = await rebuild(config_for(kafka_access, bus.topics,
                                           await fresh_database(postgres_url)))
    assert on_sqlite.digest == on_postgres.digest
    assert on_sqlite.digest.rows["projects"] == 12


def _views_cli(synced, monkeypatch, tmp_path):
    from typer.testing import CliRunner  # noqa: PLC0415

    from infra.cli import app  # noqa: PLC0415

    store, config, _, _ = synced
    monkeypatch.setenv("EMINING_VIEWS_URL", store.url)
    for name, value in access_env(config.kafka).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("EMINING_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("COLUMNS", "220")
    runner = CliRunner()

    def cli(*args: str) -> str:
        result = runner.invoke(app, ["views", *args])
        assert result.exit_code == 0, result.output
        return result.stdout

    return app, runner, cli


def test_an_application_is_found_by_its_own_reference(synced, monkeypatch, tmp_path):
    _, _, cli = _views_cli(synced, monkeypatch, tmp_path)
    by_application = json.loads(cli("approval", "MMDD/BA/2025/0002", "--json"))
    assert by_application["item"]["ref"] == scenario.ids_of(1)["title"]
    assert by_application["timeline"][0]["type"].endswith("licence.application.received.v1")
    assert [a["ref"] for a in json.loads(cli(
        "approvals", "--application", "MMDD/BA/2025/0002", "--json"))["items"]] == [
        scenario.ids_of(1)["title"]]


def test_the_cli_answers_from_the_views_with_json_and_tables(synced, monkeypatch, tmp_path):
    app, runner, cli = _views_cli(synced, monkeypatch, tmp_path)
    _, config, _, _ = synced

    projects = json.loads(cli("projects", "--limit", "5", "--json"))
    assert [p["project_id"] for p in projects["items"]] == [
        scenario.ids_of(i)["project"] for i in range(5)]
    assert projects["next_cursor"] == "PRJ-BA-CHG-0005"
    project = json.loads(cli("project", "PRJ-BA-CHG-0001", "--json"))
    assert project["item"]["stage"] == "construction"
    assert len(project["timeline"]) == 6
    as_of = str(scenario.T0.date() + timedelta(days=60))
    pending = json.loads(cli("approvals", "--status", "pending", "--authority", scenario.BA_EPA,
                             "--as-of", as_of, "--json"))
    assert {a["ref"] for a in pending["items"]} == {
        scenario.ids_of(i)["eia"] for i in range(STORIES) if scenario.pending(i)}
    held = json.loads(cli("shipments", "--status", "held", "--json"))
    assert {s["shipment_id"] for s in held["items"]} == {
        scenario.ids_of(i)["shipment"] for i in range(0, STORIES, 8)}
    table = cli("approvals", "--holder", scenario.FIRMS[XINJIANG])
    assert "BA-EL-2025-0001" in table
    assert "BA-EL-2025-0002" not in table
    assert "record(s) applied over" in table
    fresh = projects["freshness"]
    assert {p["lag"] for t in config.topics.consumed() for p in fresh[t].values()} == {0}
    assert len(json.loads(cli("digest", "--json"))["sha256"]) == 64
    eia = scenario.ids_of(8)["eia"]
    shown_eia = cli("approval", eia, "--as-of", str(scenario.T0.date() + timedelta(days=365)))
    assert "deemed_approved (by law; recorded filed)" in shown_eia
    typo = runner.invoke(app, ["views", "approvals", "--status", "pendng"])
    assert typo.exit_code == 1
    assert "unknown status 'pendng'" in typo.stderr
    assert "deemed_approved" in typo.stderr
    missing = runner.invoke(app, ["views", "project", "PRJ-BA-CHG-9999"])
    assert missing.exit_code == 1
    assert "no project PRJ-BA-CHG-9999" in missing.stderr
    # The held shipments' buyers were shown on the terminal: that read is on the read log.
    reads = runner.invoke(app, ["audit", "reads", "--json"])
    assert reads.exit_code == 0, reads.output
    [shown] = json.loads(reads.stdout)
    assert shown["principal"].startswith("cli:")
    assert shown["via"] == "local"
    assert shown["route"] == "emining views shipments"
    assert set(shown["subjects"]) == {s["shipment_id"] for s in held["items"]}
    assert "buyer" in shown["fields"]
