"""Two people in two real Chromium windows over the real pipeline: the firm's manager has its
inbox open; the agency's officer finds the pending application, grants it and gets the receipt;
the grant goes through the gateway to the broker, the real view consumer and alert pipeline
raise the firm's alert, and the firm's inbox shows it, in the firm's own window, within seconds.
And the other way: the firm's manager files a licence application in the firm's window; the
gateway signs it with the firm's custodial key, the real view consumer folds it, and the agency's
officer, whose inbox is open in the other window, finds the new file among the deadlines of the
files the agency decides.
The console is served by uvicorn on loopback in this test's event loop (the views store and the
pipeline live there); the browsers are driven from threads."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from consumers.config import ViewTopics
from consumers.views.standing import STANDARDS, local_day
from schemas.participants import AuthorityGranted
from tests.browser.conftest import chromium
from tests.browser.test_console_browser import RETRIED, _errors, _sign_in
from tests.http_server import serving
from tests.integration.alerts.pipeline import FIRM
from tests.integration.alerts.test_console_act import (
    MMDD,
    PASSWORD,
    TITLE,
    decided,
    live_console,
)
from tests.integration.views import scenario
from tests.integration.views.bus import Bus
from transport.access import KafkaAccess

pytestmark = pytest.mark.integration

SHOWN_WITHIN_S = 30.0


def _replaced(element: Any) -> Any:
    """True once ``element``'s page is gone. Chromium says so as a stale element or, caught
    mid-navigation, as "node does not belong to the document": both mean replaced."""
    def check(_driver: Any) -> bool:
        try:
            element.is_enabled()
        except WebDriverException:
            return True
        return False
    return check


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


APPLIED_FOR = "BA-EL-2026-0777"
APPLICATIONS = "pk.emining.approval.licence.application.received"
FIRM_FILES = AuthorityGranted(
    org_id=FIRM, grant_id="own-applications", event_types=(APPLICATIONS,), own_only=True,
    valid_from=scenario.REGISTRY_FROM)
"""The scenario's firms file no applications (the agency records them): this one may, for its
own files."""

BOUNDARY = (("29.1000000", "62.1000000"), ("29.1000000", "62.1400000"),
            ("29.1300000", "62.1400000"), ("29.1300000", "62.1000000"),
            ("29.1000000", "62.1000000"))
"""A small closed ring in Chagai, Balochistan (the first corner again last)."""


def _apply(driver: Any, url: str) -> dict[str, str]:
    """The firm's manager fills in the licence application form and publishes it."""
    driver.get(f"{url}/act/application?lang=en")
    _until(driver, lambda d: d.find_element(By.TAG_NAME, "h1").text
           == "File a licence application")

    def typed(name: str, value: str) -> None:
        box = driver.find_element(By.ID, f"f-{name}")
        box.clear()
        box.send_keys(value)

    typed("title_number", APPLIED_FOR)
    Select(driver.find_element(By.ID, "f-title_type")).select_by_value("EL")
    Select(driver.find_element(By.ID, "f-province")).select_by_value("PK-BA")
    typed("district", "Chagai")
    typed("minerals", "copper, gold")
    typed("area_km2", "12.5")
    typed("boundary", "\n".join(f"{lat} {lon}" for lat, lon in BOUNDARY))
    typed("applicant_name", "Example Mining Pakistan (Pvt) Ltd")
    Select(driver.find_element(By.ID, "f-licensing_authority")).select_by_value(MMDD)
    typed("application_ref", "FIRM/BA/2026/0777")
    form = driver.find_element(By.CSS_SELECTOR, "form.act")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _until(driver, _replaced(form))  # the answer replaced the form's page
    _until(driver, lambda d: d.find_element(By.TAG_NAME, "h1").text)
    if driver.find_element(By.TAG_NAME, "h1").text != "Published":
        problems = [e.text for e in driver.find_elements(By.CSS_SELECTOR,
                                                         ".refusal, .problem")]
        raise AssertionError(f"the application was not published: {problems}")
    return {name: driver.find_element(By.CSS_SELECTOR, f"dd.{name}").text
            for name in ("log-position", "person", "source")}


def _deadline_files(driver: Any, url: str) -> dict[str, str]:
    """The officer's inbox: the files among its deadlines, each with its row's text."""
    driver.get(f"{url}/inbox?lang=en")
    return {row.find_element(By.CSS_SELECTOR, "td code").text: row.text
            for row in driver.find_elements(By.CSS_SELECTOR, "#deadlines tbody tr")}


async def test_a_firms_application_in_one_browser_shows_in_the_agencys_inbox_in_another(
    kafka_access: KafkaAccess, view_topics: ViewTopics, bus: Bus, tmp_path: Path,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    async with live_console(kafka_access, view_topics, bus, tmp_path, now, recorded=False,
                            grants=(FIRM_FILES,), custody=(MMDD, FIRM)) as (_, app), \
            serving(app) as url:
        with chromium() as firm, chromium() as officer:
            await asyncio.to_thread(_sign_in, officer, url, "ba.officer", PASSWORD)
            before = await asyncio.to_thread(_deadline_files, officer, url)
            assert APPLIED_FOR not in before
            await asyncio.to_thread(_sign_in, firm, url, "firm.manager", PASSWORD)
            receipt = await asyncio.to_thread(_apply, firm, url)
            applied_at = time.monotonic()
            assert receipt["log-position"].startswith(f"{view_topics.approvals} / ")
            assert "Li Wei" in receipt["person"]
            assert receipt["source"].startswith(f"{FIRM}/custodial-gateway")

            # The officer's window: the inbox, reloaded as a person would, until the file the
            # firm filed is among the deadlines of the files the agency decides.
            while time.monotonic() - applied_at < SHOWN_WITHIN_S:
                shown = await asyncio.to_thread(_deadline_files, officer, url)
                if APPLIED_FOR in shown:
                    break
                await asyncio.sleep(0.5)
            else:
                raise AssertionError(f"the application {APPLIED_FOR} was not in the agency's "
                                     f"inbox within {SHOWN_WITHIN_S:.0f} s")
            assert set(shown) - set(before) == {APPLIED_FOR}
            # Due by the service standard for an exploration licence, counted from today
            # (the form stamps its receipt now), and waiting on the agency.
            due = STANDARDS.due("EL", local_day(datetime.now(UTC)))
            assert due is not None
            assert shown[APPLIED_FOR].startswith(f"{due.day} {due:%b %Y} service standard due ")
            assert shown[APPLIED_FOR].endswith("(mineral title) received")
            assert _errors(firm) == []
            assert _errors(officer) == []
