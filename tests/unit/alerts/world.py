"""A small world for alert rule tests: the demo registry, a fixed clock, facts from examples."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from consumers.alerts.config import AlertConfig
from consumers.alerts.context import Context, ViewSnapshot
from consumers.alerts.directory import Directory
from consumers.alerts.filters import Subscription
from consumers.alerts.i18n import FSI, PDI, RLM
from consumers.views.facts import Fact
from infra.demo.setup import load_seed
from schemas.base import EventData
from schemas.registry import Registry, seed_events

NOW = datetime(2026, 2, 1, 6, 0, tzinfo=UTC)
MCC = "urn:emining:cn:ent:mcc-resources"
"""The demo firm whose USCC (91650100MA7XK3P2LA) the event examples use; prefers Chinese."""
BA_MMDD = "urn:emining:pk:gov:ba-mmdd"
BA_EPA = "urn:emining:pk:gov:ba-epa"
CUSTOMS = "urn:emining:pk:gov:customs"
SIFC = "urn:emining:pk:gov:sifc"
BOI = "urn:emining:pk:gov:boi"
SOST = "urn:emining:pk:gov:nlc-sost"
HUAYE = "urn:emining:cn:ent:huaye-lasbela"
PLATFORM = "urn:emining:xx:platform:operator"

MCC_EN = "MCC Chagai Resources Co., Ltd."
MCC_ZH = "中冶查盖资源有限公司"
MMDD_EN = "Mines & Minerals Development Department, Balochistan"
MMDD_ZH = "俾路支省矿产开发厅"
MMDD_UR = "محکمہ معدنیات و معدنی ترقی، بلوچستان"


def registry() -> Registry:
    reg = Registry()
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for event in seed_events(load_seed(), {}, start):
        reg.apply(event, start)
    return reg


REGISTRY = registry()


def context(now: datetime = NOW, *, views: ViewSnapshot | None = None,
            subscriptions: tuple[Subscription, ...] = (), **config: Any) -> Context:
    cfg = AlertConfig(**config)
    return Context(now=now, config=cfg, directory=Directory(REGISTRY, cfg),
                   views=views or ViewSnapshot(), subscriptions=subscriptions)


def fact(data: EventData, *, source: str = f"{BA_MMDD}/gateway", time: datetime = NOW,
         event_id: str = "evt-1") -> Fact:
    return Fact(event_id, source, data.ce_type(), time, data)


def iso(value: str) -> str:
    """A value as placed in an Urdu text: a bidi isolate."""
    return f"{FSI}{value}{PDI}"


def urdu(text: str) -> str:
    return RLM + text
