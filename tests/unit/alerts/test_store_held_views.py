"""Review 19: the store's "views it holds" check (``views_meta['views']``) belongs to the view
consumer alone. After an upgrade that only *adds a view*, the alert store (the checkpointer's
tamper alarms, the alerts service, ``emining alerts deliver``) and the other readers open as
before; ``emining views run`` refuses until ``emining views rebuild`` has folded the log into
the new view. ``ViewStore.open(check_views=...)`` says which, off unless asked."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import delete, select
from structlog.testing import capture_logs

from consumers.alerts.store import AlertStore
from consumers.config import ViewsConfig
from consumers.runner import run_views
from consumers.store import HELD_VIEWS, SchemaMismatchError, ViewStore
from consumers.store_schema import views_meta
from transport.access import KafkaAccess


async def _store_built_before_a_view_was_added(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path}/views.db"
    views = ViewStore(url)
    await views.open()
    async with views.writing() as (conn, _):  # as a store made before issue 19 (no such key)
        await conn.execute(delete(views_meta).where(views_meta.c.key == "views"))
    await views.close()
    return url


async def test_the_alert_store_opens_on_a_store_built_before_a_view_was_added(
        tmp_path: Path) -> None:
    url = await _store_built_before_a_view_was_added(tmp_path)
    store = AlertStore(ViewStore(url))
    try:
        await store.open()  # raised SchemaMismatchError: "run `emining views rebuild`"
        async with store.reading() as conn:  # and its tables are there
            assert (await conn.execute(select(views_meta.c.value).where(
                views_meta.c.key == "live"))).scalar_one() == "a"
    finally:
        await store.views.close()


async def test_opening_checks_the_held_views_only_when_asked(tmp_path: Path) -> None:
    url = await _store_built_before_a_view_was_added(tmp_path)
    views = ViewStore(url)
    try:
        assert await views.open() == "a"
        with pytest.raises(SchemaMismatchError, match=r"holds the views \[\], this version has"
                           r" \[.+\]: run `emining views rebuild`"):
            await views.open(check_views=True)
        # a store of another version is refused either way
        async with views.writing() as (conn, _):
            await conn.execute(views_meta.update().where(
                views_meta.c.key == "schema_version").values(value="0"))
        with pytest.raises(SchemaMismatchError, match="has schema 0"):
            await views.open()
    finally:
        await views.close()


async def test_a_store_holding_every_view_passes_the_check(tmp_path: Path) -> None:
    views = ViewStore(f"sqlite+aiosqlite:///{tmp_path}/views.db")
    try:
        assert await views.open(check_views=True) == "a"
        async with views.reading() as (conn, _):
            assert (await conn.execute(select(views_meta.c.value).where(
                views_meta.c.key == "views"))).scalar_one() == HELD_VIEWS
    finally:
        await views.close()


async def test_the_view_consumer_refuses_a_store_missing_a_view(tmp_path: Path) -> None:
    """Before any broker call: the broker here does not exist, so without the check the
    consumer would fail on Kafka instead (another error, after the timeout)."""
    url = await _store_built_before_a_view_was_added(tmp_path)
    config = ViewsConfig(kafka=KafkaAccess("127.0.0.1:9"), store_url=url, trust_anchor=(),
                         timeout_s=1.0)
    with pytest.raises(SchemaMismatchError, match="run `emining views rebuild`"):
        await asyncio.wait_for(run_views(config, asyncio.Event()), 10.0)


async def test_a_reader_opening_a_store_missing_a_view_says_so_in_its_log(tmp_path: Path) -> None:
    """``emining serve`` and the alerts open a store built before a view was added (it serves
    that view empty until the rebuild): the log names what is missing and the fix."""
    url = await _store_built_before_a_view_was_added(tmp_path)
    views = ViewStore(url)
    try:
        with capture_logs() as logs:
            await views.open()
    finally:
        await views.close()
    warned = [e for e in logs if e["event"] == "views_store_missing_views"]
    assert len(warned) == 1
    assert warned[0]["held"] == ""
    assert warned[0]["expected"] == HELD_VIEWS
    assert warned[0]["fix"] == "emining views rebuild"
    whole = ViewStore(f"sqlite+aiosqlite:///{tmp_path}/whole.db")
    try:
        with capture_logs() as logs:
            await whole.open()
    finally:
        await whole.close()
    assert not [e for e in logs if e["event"] == "views_store_missing_views"]
