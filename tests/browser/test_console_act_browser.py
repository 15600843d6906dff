"""Acting and charts in a real Chromium: an agency officer answers a pending licence from its
page and gets the receipt; the lead-time charts' labels fit inside the chart and above their bars,
left to right and right to left (Nastaliq is tall). No page may log a JavaScript error."""

from __future__ import annotations

from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.test_console_browser import RETRIED, _errors, _sign_in
from tests.integration.views import scenario

PENDING = scenario.ids_of(8)["title"]


def test_an_officer_grants_a_pending_licence_and_gets_the_receipt(driver: Any, console_url: str):
    driver.get_log("browser")
    _sign_in(driver, console_url, "ba.officer")
    driver.get(f"{console_url}/approvals/{PENDING}?lang=en")
    driver.find_element(By.LINK_TEXT, "Grant the licence").click()
    WebDriverWait(driver, 10, ignored_exceptions=RETRIED).until(ready.url_contains("/act/grant"))
    assert driver.find_element(By.TAG_NAME, "h1").text == f"Grant the licence {PENDING}"
    driver.find_element(By.ID, "f-conditions").send_keys("Commence work within six months")
    driver.find_element(By.CSS_SELECTOR, "form.act button[type=submit]").click()
    WebDriverWait(driver, 10, ignored_exceptions=RETRIED).until(
        lambda d: d.find_element(By.TAG_NAME, "h1").text == "Published")
    position = driver.find_element(By.CSS_SELECTOR, "dd.log-position").text
    assert position.startswith("emining.approvals.v1 / ")
    assert "Officer of Balochistan" in driver.find_element(By.CSS_SELECTOR, "dd.person").text
    assert driver.find_element(By.CSS_SELECTOR, "dd.source").text.startswith(
        f"{scenario.BA_MMDD}/custodial-gateway")
    assert _errors(driver) == []


def _label_boxes(driver: Any) -> list[dict[str, float]]:
    return driver.execute_script("""
        return [...document.querySelectorAll('svg.lead-chart')].flatMap(svg => {
          const width = svg.viewBox.baseVal.width;
          return [...svg.querySelectorAll('g.row')].map(row => {
            const label = row.querySelector('text').getBBox();
            const bar = row.querySelector('rect').getBBox();
            const figures = row.querySelector('text.figures').getBBox();
            return {left: label.x, right: label.x + label.width, bottom: label.y + label.height,
                    barTop: bar.y, width: width, figLeft: figures.x,
                    figRight: figures.x + figures.width};
          });
        });""")


def test_chart_labels_fit_left_to_right_and_right_to_left(driver: Any, console_url: str):
    driver.get_log("browser")
    for lang in ("en", "ur"):
        driver.get(f"{console_url}/lead-times?lang={lang}")
        driver.execute_async_script("document.fonts.ready.then(arguments[0]);")
        boxes = _label_boxes(driver)
        assert len(boxes) == 3, lang  # licences, EIAs, export NOCs of the scenario's agencies
        for box in boxes:
            assert box["left"] >= 0, (lang, box)
            assert box["right"] <= box["width"], (lang, box)
            assert box["figLeft"] >= 0, (lang, box)
            assert box["figRight"] <= box["width"], (lang, box)
            assert box["bottom"] <= box["barTop"] + 1, (lang, box)  # above its bar
    assert _errors(driver) == []
