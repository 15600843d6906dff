"""Two people in two real Chromium windows over the real pipeline: the firm's manager has its
inbox open; the agency's officer finds the pending application, grants it and gets the receipt;
the grant goes through the gateway to the broker, the real view consumer and alert pipeline
raise the firm's alert, and the firm's inbox shows it, in the firm's own window, within seconds.
The console is served by uvicorn on loopback in this test's event loop (the views store and the
pipeline live there); the browsers are driven from threads."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By

from consumers.config import ViewTopics
from producers.connection import KafkaAccess
from tests.browser.conftest import chromium
from tests.browser.test_console_browser import RETRIED, _errors, _sign_in
from tests.http_server import serving
from tests.integration.alerts.test_console_act import (
    PASSWORD,
    TITLE,
    decided,
    live_console,
)
from tests.integration.views.bus import Bus

pytestmark = pytest.mark.integration

SHOWN_WITHIN_S = 30.0


def _until(driver: Any, check: Any, timeout_s: float = 15.0) -> None:
    from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415

    WebDriverWait(driver, timeout_s, ignored_exceptions=RETRIED).until(check)


def _grant(driver: Any, url: str) -> dict[str, str]:
    """The officer finds the file among the pending ones, opens it and grants it."""
    driver.get(f"{url}/approvals?lang=en")
    driver.find_element(By.LINK_TEXT, TITLE).click()
    _until(driver, lambda d: d.current_url.split("?")[0].endswith(f"/approvals/{TITLE}"))
    driver.find_element(By.LINK_TEXT, "Grant the licence").click()
    _until(driver, lambda d: "/act/grant" in d.current_url)
    driver.find_element(By.CSS_SELECTOR, "form.act button[type=submit]").click()
    _until(driver, lambda d: d.find_element(By.TAG_NAME, "h1").text == "Published")
    return {name: driver.find_element(By.CSS_SELECTOR, f"dd.{name}").text
            for name in ("log-position", "person", "source")}


def _inbox_ids(driver: Any, url: str) -> set[str]:
    driver.get(f"{url}/inbox?lang=en")
    return {item.get_attribute("data-alert-id")
            for item in driver.find_elements(By.CSS_SELECTOR, "#alerts [data-alert-id]")}


async def test_an_officers_grant_in_one_browser_shows_in_the_firms_inbox_in_another(
    kafka_access: KafkaAccess, view_topics: ViewTopics, bus: Bus, tmp_path: Path,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    async with live_console(kafka_access, view_topics, bus, tmp_path, now) as (world, app), \
            serving(app) as url:
        with chromium() as firm, chromium() as officer:
            await asyncio.to_thread(_sign_in, firm, url, "firm.manager", PASSWORD)
            before = await asyncio.to_thread(_inbox_ids, firm, url)
            await asyncio.to_thread(_sign_in, officer, url, "ba.officer", PASSWORD)
            receipt = await asyncio.to_thread(_grant, officer, url)
            granted_at = time.monotonic()
            assert receipt["log-position"].startswith(f"{view_topics.approvals} / ")
            assert "Asad Khan" in receipt["person"]

            # The firm's window: its inbox, reloaded as a person would, until the alert the
            # grant raised through the real pipeline is there.
            alert_id = None
            while time.monotonic() - granted_at < SHOWN_WITHIN_S:
                raised = await decided(world)
                if raised:
                    alert_id = raised[0].alert_id
                    shown = await asyncio.to_thread(_inbox_ids, firm, url)
                    if alert_id in shown:
                        break
                await asyncio.sleep(0.5)
            else:
                raise AssertionError(
                    f"the grant's alert ({alert_id}) was not in the firm's inbox within "
                    f"{SHOWN_WITHIN_S:.0f} s")
            assert shown - before == {alert_id}  # exactly the one new alert
            text = await asyncio.to_thread(
                lambda: firm.find_element(By.CSS_SELECTOR,
                                          f'[data-alert-id="{alert_id}"]').text)
            assert TITLE in text
            assert _errors(firm) == []
            assert _errors(officer) == []
