"""The console in a real Chromium: the public page, an agency officer's inbox (live over the
alert stream) and a project, the Urdu pages right to left, and a firm that does not see another
firm's commercial terms. No page may log a JavaScript error."""

from __future__ import annotations

from typing import Any

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

from tests.console_world import LIVE_TEXT, PASSWORD
from tests.integration.views import scenario

RETRIED = (NoSuchElementException, StaleElementReferenceException)
"""A wait looks again when the page it read was replaced by the next one (a click that
navigates), as a person would."""

CONTRACT = "CC-2026-CU-017"


def _errors(driver: Any) -> list[dict[str, Any]]:
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def _sign_in(driver: Any, url: str, username: str, password: str = PASSWORD) -> None:
    driver.delete_all_cookies()
    driver.get(f"{url}/login")
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form.sign-in button[type=submit]").click()
    WebDriverWait(driver, 10, ignored_exceptions=RETRIED).until(ready.url_contains("/inbox"))


def test_the_public_page_loads_without_errors(driver, console_url):
    driver.get_log("browser")  # start clean
    driver.get(f"{console_url}/?lang=en")
    assert driver.find_element(By.TAG_NAME, "h1").text == "Licences and lead times"
    rows = driver.find_elements(By.CSS_SELECTOR, "#register tbody tr")
    assert len(rows) == 12
    link = rows[0].find_element(By.CSS_SELECTOR, "a")
    assert link.get_attribute("href").endswith("/events/BA-EL-2025-0001")
    link.click()
    WebDriverWait(driver, 10, ignored_exceptions=RETRIED).until(ready.url_contains("/events/"))
    assert driver.find_elements(By.CSS_SELECTOR, "table.timeline tr.event")
    assert _errors(driver) == []


def test_an_officer_sees_the_inbox_live_and_a_project_and_reads_it_in_urdu(driver, console_url):
    _sign_in(driver, console_url, "ba.officer")
    alerts = driver.find_element(By.ID, "alerts")
    assert "Application past its standard (en)" in alerts.text
    # The live alert comes over the stream in the page's language, and only the officer's.
    WebDriverWait(driver, 10, ignored_exceptions=RETRIED).until(
        lambda d: LIVE_TEXT in d.find_element(By.ID, "alerts").text)
    assert "Not the officer's" not in driver.find_element(By.ID, "alerts").text
    live = driver.find_element(By.CSS_SELECTOR, "#alerts li.live")
    assert live.text.startswith(f"{LIVE_TEXT} (en)")

    driver.find_element(By.LINK_TEXT, "Projects").click()
    project = scenario.ids_of(0)["project"]
    driver.find_element(By.LINK_TEXT, project).click()
    WebDriverWait(driver, 10, ignored_exceptions=RETRIED).until(
        ready.url_contains(f"/projects/{project}"))
    events = driver.find_elements(By.CSS_SELECTOR, "table.timeline tr.event")
    assert len(events) > 3
    assert "emining.projects.v1 /" in events[0].find_element(By.CLASS_NAME, "log-position").text

    driver.find_element(By.CSS_SELECTOR, "nav.langs a[hreflang=ur]").click()
    WebDriverWait(driver, 10, ignored_exceptions=RETRIED).until(ready.url_contains("lang=ur"))
    html = driver.find_element(By.TAG_NAME, "html")
    assert (html.get_attribute("dir"), html.get_attribute("lang")) == ("rtl", "ur")
    assert driver.execute_script(
        "return getComputedStyle(document.body).direction") == "rtl"
    assert driver.find_element(By.ID, "timeline-h").text == "ٹائم لائن"
    # The Nastaliq font is the one shipped with the console, and it loaded.
    faces = driver.execute_async_script(
        "const done = arguments[0]; document.fonts.ready.then(() => done("
        "[...document.fonts].filter(f => f.status === 'loaded').map(f => f.family)));")
    assert any("Noto Nastaliq Urdu" in face for face in faces)
    driver.find_element(By.CSS_SELECTOR, "nav.main-nav a[href='/inbox']").click()
    assert driver.find_element(By.TAG_NAME, "h1").text == "ان باکس"  # the choice is kept
    assert _errors(driver) == []


def test_a_firm_does_not_see_another_firms_commercial_terms(driver, console_url):
    shipment = scenario.ids_of(0)["shipment"]  # firm A's
    _sign_in(driver, console_url, "firm.b.manager")
    driver.get(f"{console_url}/shipments/{shipment}")
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-Hans"
    for field in ("buyer", "contract", "declared-value"):
        cell = driver.find_element(By.CSS_SELECTOR, f"dd.{field}")
        assert cell.find_elements(By.CSS_SELECTOR, "[data-withheld=true]"), field
    assert CONTRACT not in driver.page_source
    _sign_in(driver, console_url, "firm.a.manager")  # the exporter itself sees them
    driver.get(f"{console_url}/shipments/{shipment}")
    assert driver.find_element(By.CSS_SELECTOR, "dd.contract").text == CONTRACT
    assert _errors(driver) == []
