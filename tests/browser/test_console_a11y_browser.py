"""Every console page in a real Chromium, for each person who can open it and in each of its
three languages, checked by axe-core: no violation of impact "serious" or "critical" (every rule
axe runs by default; the console is fixed, no rule is turned off). Each page is photographed to
``build/screenshots/<page>-<lang>.png`` (``EMINING_SCREENSHOTS_DIR`` overrides) and may log no
JavaScript error. With ``EMINING_GUIDE_SCREENSHOTS=1`` the guides' pictures in
``docs/guides/img/`` are written again from the same tour."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.conftest import ROOT
from tests.browser.test_console_browser import RETRIED, _errors, _sign_in
from tests.integration.views import scenario

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

LANGS = ("en", "zh-Hans", "ur")
GUIDES = ROOT / "docs" / "guides" / "img"
PENDING = scenario.ids_of(8)["title"]
PROJECT = scenario.ids_of(0)["project"]
DECIDED = scenario.ids_of(0)["title"]
SHIPMENT = scenario.ids_of(0)["shipment"]  # firm A's
BLOCKING = ("serious", "critical")
GUIDE_BYTES = 200 * 1024

AXE_RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ['violations']}).then(result => done(result.violations.map(v => ({
  id: v.id, impact: v.impact, help: v.help,
  nodes: v.nodes.map(n => ({impact: n.impact, target: n.target.map(String),
                            summary: n.failureSummary}))
}))), error => done({error: String(error)}));
"""


@dataclass(frozen=True)
class Visit:
    """One page of a tour: ``path`` opened in the tour's language, or ``act`` (a form filled in
    and sent) when the page is the answer to a POST. ``status``: what the server answers (an error
    page's status is the one console message it may log)."""

    name: str
    path: str
    status: int = 200
    act: Callable[[Any, str, str], None] | None = field(default=None, compare=False)
    guide: str | None = None
    """The guides' name for this page's picture (``docs/guides/img/<guide>-<lang>.png``)."""
    settled: str | None = None
    """A CSS selector to wait for before the page is checked (what arrives after the load)."""


def _fill(driver: Any, values: dict[str, str]) -> None:
    for name, value in values.items():
        box = driver.find_element(By.ID, f"f-{name}")
        box.clear()
        box.send_keys(value)
    driver.find_element(By.CSS_SELECTOR, "form.act button[type=submit]").click()


def _deficiency(driver: Any, url: str, lang: str) -> None:
    """An officer notifies a deficiency on the pending file and reads the receipt."""
    driver.get(_at(url, f"/act/deficiency?ref={PENDING}", lang))
    _fill(driver, {"notice_ref": f"MMDD/DN/{lang}/1", "items": "Boundary map\nBank guarantee"})
    WebDriverWait(driver, 10, ignored_exceptions=RETRIED).until(
        ready.presence_of_element_located((By.CSS_SELECTOR, "dl.receipt")))


def _deficiency_incomplete(driver: Any, url: str, lang: str) -> None:
    """The same form sent without what is missing: the form again, its problems marked."""
    driver.get(_at(url, f"/act/deficiency?ref={PENDING}", lang))
    _fill(driver, {"notice_ref": f"MMDD/DN/{lang}/2", "items": ""})
    WebDriverWait(driver, 10, ignored_exceptions=RETRIED).until(
        ready.presence_of_element_located((By.CSS_SELECTOR, ".field.invalid")))


def _wrong_password(driver: Any, url: str, lang: str) -> None:
    """A sign-in refused: the form again with its error."""
    driver.get(_at(url, "/login", lang))
    driver.find_element(By.ID, "username").send_keys("ba.officer")
    driver.find_element(By.ID, "password").send_keys("not-the-password")
    driver.find_element(By.CSS_SELECTOR, "form.sign-in button[type=submit]").click()
    WebDriverWait(driver, 10, ignored_exceptions=RETRIED).until(
        ready.presence_of_element_located((By.CSS_SELECTOR, "p.error[role=alert]")))


def _at(url: str, path: str, lang: str) -> str:
    return url + path + ("&" if "?" in path else "?") + f"lang={lang}"


READING = [Visit("projects", "/projects"), Visit("project", f"/projects/{PROJECT}"),
           Visit("approvals", "/approvals"), Visit("approval", f"/approvals/{DECIDED}"),
           Visit("shipments", "/shipments"), Visit("shipment", f"/shipments/{SHIPMENT}")]
"""What every signed-in person reads (each through the access policy's redaction)."""

TOURS: dict[str, tuple[str | None, list[Visit]]] = {
    "public": (None, [
        Visit("public", "/", guide="public"), Visit("lead-times", "/lead-times"),
        Visit("events", f"/events/{DECIDED}"), Visit("login", "/login"),
        Visit("login-refused", "/login", status=401, act=_wrong_password),
        Visit("not-found", "/events/BA-EL-1999-0000", status=404)]),
    "agency": ("ba.officer", [
        Visit("inbox", "/inbox", guide="agency-inbox", settled="#alerts li.live"), *READING,
        Visit("pending", f"/approvals/{PENDING}", guide="agency-approval"),
        Visit("history", f"/approvals/{PENDING}/history"),
        Visit("act", "/act"),
        Visit("act-grant", f"/act/grant?ref={PENDING}", guide="agency-act-grant"),
        Visit("act-deficiency", f"/act/deficiency?ref={PENDING}"),
        Visit("act-incomplete", "/act/deficiency", status=400, act=_deficiency_incomplete),
        Visit("receipt", "/act/deficiency", act=_deficiency, guide="agency-receipt"),
        Visit("forbidden", "/audit", status=403)]),
    "firm": ("firm.a.manager", [
        Visit("inbox", "/inbox"),
        *[Visit(v.name, v.path, guide={"projects": "firm-projects", "project": "firm-project",
                                       "shipment": "firm-shipment"}.get(v.name))
          for v in READING],
        # The firm's forms: this registry grants firms no application of their own (the
        # licensing authority records those), so a customs declaration and a production report.
        Visit("act", "/act"), Visit("act-declaration", "/act/declaration",
                                    guide="firm-declaration"),
        Visit("act-production", "/act/production")]),
    "other-firm": ("firm.b.manager", [Visit("shipment", f"/shipments/{SHIPMENT}")]),
    "auditor": ("eiti.auditor", [
        Visit("inbox", "/inbox"), *READING, Visit("public", "/"),
        Visit("audit", "/audit", guide="auditor-audit"),
        Visit("audit-as-of", "/audit?as_of=2025-03-01"),
        Visit("audit-verify", "/audit/verify", guide="auditor-verify")]),
    "operator": ("platform.operator", [
        Visit("inbox", "/inbox"), Visit("projects", "/projects"),
        Visit("audit", "/audit"), Visit("audit-verify", "/audit/verify")]),
}
GUIDE_LANGS = {"agency": LANGS, "firm": LANGS}
"""The guides show the agency's and the firm's pages in every language, the others in English."""


def _blocking(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [v for v in violations if v["impact"] in BLOCKING]


def _described(page: str, violations: list[dict[str, Any]]) -> list[str]:
    lines = []
    for v in violations:
        targets = "; ".join(" ".join(n["target"]) for n in v["nodes"][:8])
        more = f" (+{len(v['nodes']) - 8} more)" if len(v["nodes"]) > 8 else ""
        lines.append(f"{page}: {v['id']} [{v['impact']}] {v['help']} -> {targets}{more}")
    return lines


def _unexpected_errors(driver: Any, status: int) -> list[dict[str, Any]]:
    """The console's errors (``_errors``), but for the one an error page's own status logs
    (which must be there: the page answered with the status the tour expects)."""
    logged = _errors(driver)
    if status == 200:
        return logged
    expected = f"the server responded with a status of {status}"
    assert any(expected in e["message"] for e in logged), (status, logged)
    return [e for e in logged if expected not in e["message"]]


def _check(driver: Any, axe_script: str) -> list[dict[str, Any]]:
    driver.execute_async_script("document.fonts.ready.then(arguments[0]);")
    driver.execute_script(axe_script)
    found = driver.execute_async_script(AXE_RUN)
    assert not isinstance(found, dict), f"axe did not run: {found}"
    return list(found)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("tour", list(TOURS))
def test_every_page_passes_axe_in_every_language(driver: Any, console_url: str, axe_script: str,
                                                 screenshots: Path, tour: str, lang: str):
    person, visits = TOURS[tour]
    driver.set_script_timeout(60)
    if person is None:
        driver.delete_all_cookies()
    else:
        _sign_in(driver, console_url, person)
    driver.get_log("browser")  # start clean
    guides = os.environ.get("EMINING_GUIDE_SCREENSHOTS") == "1"
    problems: list[str] = []
    errors: list[str] = []
    report: dict[str, list[dict[str, Any]]] = {}
    for visit in visits:
        page = f"{tour}-{visit.name}"
        if visit.act is not None:
            visit.act(driver, console_url, lang)
        else:
            driver.get(_at(console_url, visit.path, lang))
        if visit.settled:
            WebDriverWait(driver, 10, ignored_exceptions=RETRIED).until(
                ready.presence_of_element_located((By.CSS_SELECTOR, visit.settled)))
        html = driver.find_element(By.TAG_NAME, "html")
        assert html.get_attribute("lang") == lang, (page, driver.current_url)
        assert html.get_attribute("dir") == ("rtl" if lang == "ur" else "ltr"), page
        violations = _check(driver, axe_script)
        report[page] = violations  # every impact, for whoever reads the screenshots folder
        shot = screenshots / f"{page}-{lang}.png"
        assert driver.save_screenshot(str(shot)), shot
        assert shot.stat().st_size > 0, shot
        if guides and visit.guide and lang in GUIDE_LANGS.get(tour, ("en",)):
            GUIDES.mkdir(parents=True, exist_ok=True)
            assert shot.stat().st_size < GUIDE_BYTES, f"{shot} is too large for the guides"
            shutil.copyfile(shot, GUIDES / f"{visit.guide}-{lang}.png")
        problems += _described(f"{page} ({visit.path}, {lang})", _blocking(violations))
        errors += [f"{page}: {e['message']}" for e in _unexpected_errors(driver, visit.status)]
    (screenshots / f"axe-{tour}-{lang}.json").write_text(json.dumps(report, indent=1,
                                                                     ensure_ascii=False))
    assert not problems, "axe found serious or critical violations:\n" + "\n".join(problems)
    assert not errors, "the browser logged errors:\n" + "\n".join(errors)


def test_a_broken_page_would_fail_the_tour(driver: Any, console_url: str, axe_script: str):
    """The check itself: an unlabelled field, an image without text and pale text on the page
    are reported with rule, impact and target (so a green tour means axe looked and found
    nothing, not that it did not run)."""
    driver.get(f"{console_url}/login?lang=en")
    driver.execute_script(
        "document.querySelector('label[for=username]').remove();"
        "const img = document.createElement('img'); img.src = 'data:,'; img.id = 'bare';"
        "const pale = document.createElement('p'); pale.id = 'pale'; pale.textContent = 'Pale';"
        "pale.style.color = '#bbbbbb';"
        "document.querySelector('main').append(img, pale);")
    found = _blocking(_check(driver, axe_script))
    described = "\n".join(_described("login", found))
    assert {v["id"] for v in found} == {"label", "image-alt", "color-contrast"}, described
    assert "login: label [critical]" in described
    assert "login: color-contrast [serious]" in described
    for target in ("#username", "#bare", "#pale"):
        assert target in described, described
