"""An export approval issued after the customs declaration is attached by amending it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from consumers.verification import Reason
from producers.publisher import Draft
from schemas.authority import decide
from tests.integration.views import scenario
from tests.unit.views.harness import Log, MemoryViews

T = datetime(2026, 4, 1, 3, tzinfo=UTC)
SHIPMENT = "SHP-2026-000777"
LPCO = "LPCO-2026-000777"
DECLARATION = "KPQE-SB-0000777-2026"
FIRM = "urn:emining:cn:ent:xinjiang-example"
OTHER = "urn:emining:cn:ent:shanghai-example"
USCC = scenario.FIRMS[FIRM]


def _shipment(type_name: str, **fields: object) -> object:
    return scenario.event(f"pk.emining.shipment.{type_name}", shipment_id=SHIPMENT,
                          exporter_uscc=USCC, **fields)


def _amended(**fields: object) -> object:
    given = {"declaration_number": DECLARATION, "export_approvals": [LPCO],
             "amended_at": (T + timedelta(days=13)).isoformat(), **fields}
    return _shipment("customs.declaration.amended", **given)


class World:
    def __init__(self) -> None:
        self.views, self.log, self.day = MemoryViews(), Log(), 0

    async def feed(self, org: str, data: object) -> object:
        self.day += 1
        record = self.log.record(self.log.seal(org, Draft(data, time=T + timedelta(self.day))))
        [outcome] = await self.views.feed([record])
        return outcome

    async def declared(self, approvals: list[str]) -> None:
        for org, data in [
            (FIRM, _shipment("planned", title_number=None, project_id=None)),
            (FIRM, _shipment("lot.loaded", loaded_at=(T + timedelta(2)).isoformat())),
            (FIRM, _shipment("departed", departed_at=(T + timedelta(3)).isoformat())),
            (FIRM, _shipment("customs.declaration.filed", declaration_number=DECLARATION,
                             filed_at=(T + timedelta(4)).isoformat(),
                             export_approvals=approvals)),
        ]:
            assert await self.feed(org, data) is None, data


@pytest.fixture
def world() -> World:
    return World()


async def test_the_amendment_attaches_the_approval_and_clears_the_exception(world):
    await world.declared([])
    before = world.views.doc(SHIPMENT)
    assert before["exceptions"] == ["declared_without_export_approval"]
    assert before["approvals"] == []
    assert await world.feed(FIRM, _amended()) is None
    after = world.views.doc(SHIPMENT)
    assert after["status"] == "declared"
    assert after["approvals"] == [LPCO]
    assert after["declaration"]["export_approvals"] == [LPCO]
    assert after["declaration"]["number"] == DECLARATION
    assert after["declaration"]["filed_at"] == before["declaration"]["filed_at"]
    assert after["exceptions"] == []
    entry = world.views.timeline[SHIPMENT][-1]
    assert entry.summary == f"customs declaration amended (now relies on {LPCO})"


async def test_a_held_shipment_may_be_amended_then_cleared(world):
    await world.declared([])
    held = _shipment("customs.held", declaration_number=DECLARATION,
                     reason="missing_export_approval", held_at=(T + timedelta(5)).isoformat())
    assert await world.feed(scenario.CUSTOMS, held) is None
    assert await world.feed(FIRM, _amended()) is None
    doc = world.views.doc(SHIPMENT)
    assert (doc["status"], doc["on_hold"], doc["approvals"]) == ("held", True, [LPCO])
    cleared = _shipment("customs.cleared", declaration_number=DECLARATION,
                        cleared_at=(T + timedelta(7)).isoformat())
    assert await world.feed(scenario.CUSTOMS, cleared) is None
    assert world.views.doc(SHIPMENT)["status"] == "cleared"


async def test_no_amendment_before_a_declaration_or_after_clearance(world):
    assert await world.feed(FIRM, _shipment("planned", title_number=None,
                                            project_id=None)) is None
    early = await world.feed(FIRM, _amended())
    assert early is not None
    assert early.reason is Reason.INVALID_TRANSITION
    assert early.detail.startswith("shipment.customs.declaration.amended: planned → (no change)")
    world2 = World()
    await world2.declared([LPCO])
    cleared = _shipment("customs.cleared", declaration_number=DECLARATION,
                        cleared_at=(T + timedelta(7)).isoformat())
    assert await world2.feed(scenario.CUSTOMS, cleared) is None
    late = await world2.feed(FIRM, _amended())
    assert late is not None
    assert late.reason is Reason.INVALID_TRANSITION


def test_the_exporter_amends_its_own_declaration_only():
    registry = scenario.registry()
    data = _amended()
    assert decide(registry, FIRM, data, T).allowed
    assert not decide(registry, OTHER, data, T).allowed


def test_an_amendment_relies_on_at_least_one_approval():
    with pytest.raises(ValueError, match="export_approvals"):
        _amended(export_approvals=[])


async def test_an_amendment_clearance_or_hold_of_another_declaration_is_refused(world):
    """Only the declaration filed for the shipment can be amended, cleared or held: naming
    another is an impossible fact, refused, and the shipment stays as it was."""
    await world.declared([])
    before = world.views.doc(SHIPMENT)
    other = "KPQE-SB-0000999-2026"
    for org, data in [
        (FIRM, _amended(declaration_number=other)),
        (scenario.CUSTOMS, _shipment("customs.cleared", declaration_number=other,
                                     cleared_at=(T + timedelta(7)).isoformat())),
        (scenario.CUSTOMS, _shipment("customs.held", declaration_number=other,
                                     reason="sampling", held_at=(T + timedelta(7)).isoformat())),
    ]:
        refused = await world.feed(org, data)
        assert refused is not None, data
        assert refused.reason is Reason.INVALID_TRANSITION
        said = f"names declaration {other}, but {SHIPMENT}'s filed declaration is {DECLARATION}"
        assert said in refused.detail
    after = world.views.doc(SHIPMENT)
    assert (after["status"], after["approvals"], after["declaration"]["number"]) == (
        before["status"], [], DECLARATION)
