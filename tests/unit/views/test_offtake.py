"""Offtake from mine to plant: the plant's input ledger folds deliveries by product and by
supplier; a supplier's offtake is read from the plants' views; impossible deliveries refused."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import TopicPartition

from consumers.dlq import DeadLetterQueue
from consumers.store import ViewStore
from consumers.store_read import get_view, list_views
from consumers.sync import ViewSync
from consumers.verification import Reason
from producers.publisher import Draft
from tests.integration.views import scenario
from tests.unit.views.harness import Log, MemoryViews, Record, stage_for

T = datetime(2026, 3, 2, 5, tzinfo=UTC)
MINE_FIRM = "urn:emining:cn:ent:xinjiang-example"
PLANT_FIRM = "urn:emining:cn:ent:shanghai-example"
OTHER_MINE_FIRM = "urn:emining:cn:ent:guangdong-example"
MINE, OTHER_MINE, PLANT = "PRJ-BA-CHG-0007", "PRJ-BA-CHG-0009", "PRJ-BA-CHG-0012"
USCC = scenario.FIRMS


def _mine(project: str, org: str) -> Any:
    return scenario.event("pk.emining.project.registered", project_id=project,
                          operator_uscc=USCC[org], stage="production", related_titles=[])


def _plant(stage: str = "construction") -> Any:
    return scenario.event("pk.emining.project.registered", project_id=PLANT,
                          operator_uscc=USCC[PLANT_FIRM], stage=stage, related_titles=[],
                          kind="smelter", inputs=["copper_concentrate"],
                          outputs=["blister_copper"],
                          capacity={"tonnes_per_year": "200000.000",
                                    "product": "copper_concentrate"})


def _delivery(supplier: str, wmt: str, moisture: str, dmt: str, on: str, *,
              plant: str = PLANT, operator: str = PLANT_FIRM, **fields: Any) -> Any:
    supplier_org = MINE_FIRM if supplier == MINE else OTHER_MINE_FIRM
    fields.setdefault("supplier_uscc", USCC[supplier_org])
    return scenario.event("pk.emining.project.offtake.delivered", project_id=plant,
                          operator_uscc=USCC[operator], supplier_project_id=supplier,
                          quantity={"wmt": wmt, "moisture_pct": moisture, "dmt": dmt},
                          delivered_on=on, **fields)


def _steps() -> list[tuple[str, Any]]:
    return [
        (MINE_FIRM, _mine(MINE, MINE_FIRM)),
        (OTHER_MINE_FIRM, _mine(OTHER_MINE, OTHER_MINE_FIRM)),
        (PLANT_FIRM, _plant()),
        (PLANT_FIRM, _delivery(MINE, "5400.000", "8.5", "4941.000", "2026-05-10")),
        (PLANT_FIRM, _delivery(OTHER_MINE, "2000.000", "5", "1900.000", "2026-05-01")),
        # an earlier day reported later: first_on moves back, last_on stays
        (PLANT_FIRM, _delivery(MINE, "1000.000", "10", "900.000", "2026-04-20")),
    ]


async def _feed(views: MemoryViews, log: Log, steps: list[tuple[str, Any]]) -> list[Any]:
    records = [log.record(log.seal(org, Draft(data, event_id=f"evt-{i}",
                                              time=T + timedelta(hours=i))))
               for i, (org, data) in enumerate(steps)]
    return await views.feed(records)


@pytest.fixture
def world() -> tuple[MemoryViews, Log]:
    return MemoryViews(), Log()


async def test_the_plant_totals_what_it_received_by_product_and_by_supplier(world):
    views, log = world
    assert await _feed(views, log, _steps()) == [None] * 6
    plant = views.doc(PLANT)
    assert (plant["kind"], plant["inputs"], plant["outputs"]) == (
        "smelter", ["copper_concentrate"], ["blister_copper"])
    assert plant["capacity"] == {"tonnes_per_year": "200000.000",
                                 "product": "copper_concentrate"}
    assert plant["received"] == {"copper_concentrate": {
        "wmt": "8400.000", "dmt": "7741.000", "deliveries": 3,
        "first_on": "2026-04-20", "last_on": "2026-05-10"}}
    assert plant["received_from"] == [
        {"supplier_project_id": MINE, "supplier_uscc": USCC[MINE_FIRM],
         "product": "copper_concentrate", "wmt": "6400.000", "dmt": "5841.000",
         "deliveries": 2, "first_on": "2026-04-20", "last_on": "2026-05-10"},
        {"supplier_project_id": OTHER_MINE, "supplier_uscc": USCC[OTHER_MINE_FIRM],
         "product": "copper_concentrate", "wmt": "2000.000", "dmt": "1900.000",
         "deliveries": 1, "first_on": "2026-05-01", "last_on": "2026-05-01"},
    ]
    mine = views.doc(MINE)
    assert mine["kind"] == "mine"
    assert mine["received"] == {}
    assert mine["offtake"] == []  # not stored: the mine's view is a fold of its own events
    [entry] = [e for e in views.timeline[PLANT] if e.type.startswith(
        "pk.emining.project.offtake")][:1]
    assert entry.summary == ("offtake delivered (4941.000 dmt copper concentrate from "
                             f"{MINE} on 2026-05-10)")


async def test_a_delivery_to_a_mine_is_refused(world):
    views, log = world
    steps = [*_steps()[:2], (OTHER_MINE_FIRM, _delivery(
        MINE, "100.000", "0", "100.000", "2026-05-01", plant=OTHER_MINE,
        operator=OTHER_MINE_FIRM))]
    outcomes = await _feed(views, log, steps)
    assert outcomes[:2] == [None, None]
    refused = outcomes[2]
    assert refused is not None
    assert refused.reason is Reason.INVALID_TRANSITION
    assert refused.detail == (f"project.offtake.delivered: {OTHER_MINE} is registered as a "
                              "mine, and a mine takes no inputs: deliveries are reported by "
                              "the receiving plant")
    assert views.doc(OTHER_MINE)["received"] == {}


async def test_a_product_the_plant_does_not_take_is_refused(world):
    views, log = world
    steps = [*_steps()[:3], (PLANT_FIRM, _delivery(
        MINE, "100.000", "0", "100.000", "2026-05-01", product="chromite_ore"))]
    outcomes = await _feed(views, log, steps)
    refused = outcomes[3]
    assert refused is not None
    assert refused.reason is Reason.INVALID_TRANSITION
    assert refused.detail == (f"project.offtake.delivered: {PLANT} (smelter) does not take "
                              "chromite_ore; its inputs: copper_concentrate")
    assert views.doc(PLANT)["received"] == {}


async def test_a_delivery_before_construction_is_refused(world):
    views, log = world
    steps = [(MINE_FIRM, _mine(MINE, MINE_FIRM)), (PLANT_FIRM, _plant("feasibility")),
             (PLANT_FIRM, _delivery(MINE, "100.000", "0", "100.000", "2026-05-01"))]
    outcomes = await _feed(views, log, steps)
    assert outcomes[2] is not None
    assert outcomes[2].reason is Reason.INVALID_TRANSITION
    assert outcomes[2].detail.startswith("project.offtake.delivered: feasibility → (no change) "
                                         "is not a step of a project")


async def test_the_supplying_mines_operator_cannot_report_for_the_plant(world):
    views, log = world
    assert await _feed(views, log, _steps()[:3]) == [None] * 3
    # naming the plant's operator: outside its authority (own subjects only)
    posing = _delivery(MINE, "100.000", "0", "100.000", "2026-05-01")
    # naming itself as the plant's operator: within its grant, but not its project
    claiming = _delivery(MINE, "100.000", "0", "100.000", "2026-05-01", operator=MINE_FIRM)
    outcomes = await _feed(views, log, [(MINE_FIRM, posing), (MINE_FIRM, claiming)])
    assert [o.reason for o in outcomes] == [Reason.AUTHORITY, Reason.OWN_SUBJECT]
    assert views.doc(PLANT)["received"] == {}


async def test_a_corrected_delivery_changes_the_totals(world):
    views, log = world
    assert await _feed(views, log, _steps()) == [None] * 6
    correction = scenario.event(
        "pk.emining.project.corrected", project_id=PLANT, operator_uscc=USCC[PLANT_FIRM],
        corrects_event_id="evt-5",
        corrected_type="pk.emining.project.offtake.delivered.v1", reason="incorrect_data",
        explanation="Weighbridge ticket read wrong",
        replacement={"quantity": {"wmt": "1100.000", "moisture_pct": "10", "dmt": "990.000"}})
    [outcome] = await views.feed([log.record(log.seal(PLANT_FIRM, Draft(
        correction, event_id="evt-fix", time=T + timedelta(days=1))))])
    assert outcome is None
    plant = views.doc(PLANT)
    assert plant["received"]["copper_concentrate"]["dmt"] == "7831.000"
    assert plant["received_from"][0]["wmt"] == "6500.000"
    assert plant["received_from"][0]["deliveries"] == 2


async def test_a_corrected_registration_cannot_strand_deliveries_already_received(world):
    views, log = world
    assert await _feed(views, log, _steps()) == [None] * 6
    correction = scenario.event(
        "pk.emining.project.corrected", project_id=PLANT, operator_uscc=USCC[PLANT_FIRM],
        corrects_event_id="evt-2", corrected_type="pk.emining.project.registered.v1",
        reason="incorrect_data", explanation="Registered as the wrong plant",
        replacement={"inputs": ["chromite_ore"], "outputs": ["ferrochrome"], "capacity": None})
    [outcome] = await views.feed([log.record(log.seal(PLANT_FIRM, Draft(
        correction, event_id="evt-fix", time=T + timedelta(days=1))))])
    assert outcome is not None
    assert outcome.reason is Reason.INVALID_TRANSITION
    assert outcome.detail == (
        "the corrected history would be impossible: project.offtake.delivered: "
        f"{PLANT} (smelter) does not take copper_concentrate; its inputs: chromite_ore")
    assert views.doc(PLANT)["inputs"] == ["copper_concentrate"]


class _Control:
    def __init__(self, records: list[Record]) -> None:
        self._ends: dict[TopicPartition, int] = {}
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            self._ends[tp] = max(self._ends.get(tp, 0), r.offset + 1)

    def assignment(self) -> set[TopicPartition]:
        return set(self._ends)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        raise AssertionError(f"no re-seek expected ({partition} to {offset})")

    def highwater(self, partition: TopicPartition) -> int | None:
        return self._ends[partition]


async def _store(tmp_path: Path, *, shuffle: int | None = None,
                 steps: list[tuple[str, Any]] | None = None) -> ViewStore:
    log = Log()
    records = [log.record(log.seal(org, Draft(data, event_id=f"evt-{i}",
                                              time=T + timedelta(hours=i))))
               for i, (org, data) in enumerate(steps or _steps())]
    if shuffle is not None:  # another interleaving of the partitions, each in its own order
        by_tp: dict[tuple[str, int], list[Record]] = {}
        for r in records:
            by_tp.setdefault((r.topic, r.partition), []).append(r)
        rng, queues, records = random.Random(shuffle), list(by_tp.values()), []
        while queues:
            queue = rng.choice(queues)
            records.append(queue.pop(0))
            queues = [q for q in queues if q]
    store = ViewStore(f"sqlite+aiosqlite:///{tmp_path}/views-{shuffle}.db")
    await store.open()
    sync = ViewSync(store, stage_for(scenario.registry()), DeadLetterQueue(None, "dlq", "t"))
    for record in records:
        await sync.apply([record], _Control(records))
    return store


async def test_a_mines_offtake_is_read_from_the_plants_that_took_it(tmp_path):
    store = await _store(tmp_path)
    try:
        mine = await get_view(store, "projects", MINE)
        assert mine is not None
        assert mine["offtake"] == [{
            "plant_project_id": PLANT, "plant_kind": "smelter",
            "plant_operator_uscc": USCC[PLANT_FIRM], "product": "copper_concentrate",
            "wmt": "6400.000", "dmt": "5841.000", "deliveries": 2,
            "first_on": "2026-04-20", "last_on": "2026-05-10", "confirmed": True}]
        other = await get_view(store, "projects", OTHER_MINE)
        assert other is not None
        assert [(o["plant_project_id"], o["dmt"]) for o in other["offtake"]] == [
            (PLANT, "1900.000")]
        plant = await get_view(store, "projects", PLANT)
        assert plant is not None
        assert plant["offtake"] == []  # nothing went on from the smelter
        assert plant["received"]["copper_concentrate"]["dmt"] == "7741.000"
        smelters = await list_views(store, "projects", {"kind": "smelter"})
        assert [d["project_id"] for d in smelters.items] == [PLANT]
        mines = await list_views(store, "projects", {"kind": "mine"})
        assert [d["project_id"] for d in mines.items] == [MINE, OTHER_MINE]
        assert mines.items[0] == mine  # the list computes the offtake the same way
        assert (await list_views(store, "projects", {"kind": "refinery"})).items == []
    finally:
        await store.close()


async def test_a_delivery_naming_another_firm_as_the_mines_operator_is_not_counted(tmp_path):
    """The plant's word alone: a delivery "from" a mine naming a firm that does not operate it
    shows as unconfirmed and counts in nothing the mine took."""
    claimed = _delivery(OTHER_MINE, "3000.000", "5", "2850.000", "2026-05-20",
                        supplier_uscc=USCC[MINE_FIRM])
    store = await _store(tmp_path, steps=[*_steps(), (PLANT_FIRM, claimed)])
    try:
        other = await get_view(store, "projects", OTHER_MINE)
        assert other is not None
        assert sorted((o["dmt"], o["confirmed"]) for o in other["offtake"]) == [
            ("1900.000", True), ("2850.000", False)]
        mine = await get_view(store, "projects", MINE)
        assert mine is not None
        assert [o["confirmed"] for o in mine["offtake"]] == [True]
    finally:
        await store.close()


async def test_the_offtake_is_the_same_in_every_read_order(tmp_path):
    answers = []
    for seed in range(4):
        store = await _store(tmp_path, shuffle=seed)
        try:
            answers.append([await get_view(store, "projects", p)
                            for p in (MINE, OTHER_MINE, PLANT)])
        finally:
            await store.close()
    assert all(a == answers[0] for a in answers)
    assert answers[0][0] is not None
    assert answers[0][0]["offtake"][0]["dmt"] == "5841.000"


def test_the_cli_filters_projects_by_kind_and_refuses_an_unknown_one(tmp_path, monkeypatch):
    import asyncio  # noqa: PLC0415
    import json  # noqa: PLC0415

    from typer.testing import CliRunner  # noqa: PLC0415

    from infra.cli import app  # noqa: PLC0415

    store = asyncio.run(_store(tmp_path))
    asyncio.run(store.close())
    monkeypatch.setenv("EMINING_VIEWS_URL", f"sqlite+aiosqlite:///{tmp_path}/views-None.db")
    monkeypatch.setenv("EMINING_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("EMINING_KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.setenv("COLUMNS", "250")
    runner = CliRunner()
    smelters = runner.invoke(app, ["views", "projects", "--kind", "smelter", "--json"])
    assert smelters.exit_code == 0, smelters.output
    [plant] = json.loads(smelters.stdout)["items"]
    assert plant["project_id"] == PLANT
    assert plant["received"]["copper_concentrate"]["deliveries"] == 3
    table = runner.invoke(app, ["views", "projects", "--kind", "mine", "--wide"])
    assert table.exit_code == 0, table.output
    assert "copper_concentrate 5841.000" in table.stdout  # taken by plants, from MINE
    assert PLANT not in table.stdout
    typo = runner.invoke(app, ["views", "projects", "--kind", "smeltr"])
    assert typo.exit_code == 1
    assert "unknown kind 'smeltr'" in typo.stderr
    assert "processing_plant" in typo.stderr
    stage = runner.invoke(app, ["views", "projects", "--stage", "producing"])
    assert stage.exit_code == 1
    assert "unknown stage 'producing'" in stage.stderr
    one = runner.invoke(app, ["views", "project", MINE])
    assert one.exit_code == 0, one.output
    assert (f"taken by {PLANT} (smelter): 5841.000 dmt copper_concentrate in 2 deliveries "
            "(2026-04-20 to 2026-05-10)") in one.stdout


def test_the_read_api_filters_projects_by_a_known_kind_only(tmp_path):
    from infra.compose.app import build_app  # noqa: PLC0415
    from infra.settings import Settings  # noqa: PLC0415
    from schemas.alerts import PLATFORM_ORG  # noqa: PLC0415
    from schemas.signing import PrivateKey, b64  # noqa: PLC0415

    anchor = b64(PrivateKey.generate(PLATFORM_ORG).public_key)
    app = build_app(Settings(state_dir=tmp_path, kafka_bootstrap="127.0.0.1:9",
                             kafka_security="none", trust_anchor=anchor))
    spec = app.openapi()
    [kind] = [p for p in spec["paths"]["/v1/projects"]["get"]["parameters"]
              if p["name"] == "kind"]
    ref = kind["schema"]["anyOf"][0]["$ref"].rsplit("/", 1)[-1]
    assert spec["components"]["schemas"][ref]["enum"] == [
        "mine", "concentrator", "smelter", "refinery", "processing_plant"]
    view = spec["components"]["schemas"]["ProjectView"]["properties"]
    assert {"kind", "inputs", "outputs", "capacity", "received", "received_from",
            "offtake"} <= set(view)
