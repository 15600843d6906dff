"""Real-browser tests: Debian's chromium and chromedriver driven by Selenium, nothing downloaded.

The console runs in uvicorn on a free loopback port, in a thread with its own event loop,
over the world of ``tests.console_world``. Without chromium or chromedriver these tests skip on a
developer's machine and FAIL in CI (``CI=true``) or under ``make test``
(``EMINING_REQUIRE_BROWSER=1``): CI must never go green without having run them. The same holds
for axe-core (``tests/browser/axe``, installed by ``npm ci`` from its lock in ``make test``), which
the accessibility tour injects into every page. Screenshots of the tour go to
``build/screenshots/`` (``EMINING_SCREENSHOTS_DIR`` overrides).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import threading
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from consumers.audit.findings import Finding, Kind, VerifyReport
from consumers.audit.state import summary
from producers.gateway import submit
from tests.console_world import FIRM_A, LIVE_TEXT, STORIES, World, alert, build, gateway
from tests.integration.views import scenario

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[2]
AXE = Path(__file__).resolve().parent / "axe"
AXE_SCRIPT = AXE / "node_modules" / "axe-core" / "axe.min.js"


RESENT = Finding("emining.approvals.v1", 3, 17, "evt-resent", f"{scenario.BA_MMDD}/desk",
                 Kind.REDELIVERY, "the same record again, byte for byte")


def browser_required() -> bool:
    return (os.environ.get("EMINING_REQUIRE_BROWSER") == "1"
            or os.environ.get("CI", "").lower() == "true")


def no_browser(reason: str) -> NoReturn:
    message = f"no browser for these tests: {reason} (apt-get install chromium chromium-driver)"
    if browser_required():
        pytest.fail(message + " (CI=true or EMINING_REQUIRE_BROWSER=1: this fails, never skips)",
                    pytrace=False)
    pytest.skip(message)


def no_axe(reason: str) -> NoReturn:
    message = (f"no axe-core for the accessibility checks: {reason} "
               f"(make {AXE.relative_to(ROOT)}/node_modules: npm ci from its package-lock)")
    if browser_required():
        pytest.fail(message + " (CI=true or EMINING_REQUIRE_BROWSER=1: this fails, never skips)",
                    pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def axe_script() -> str:
    """axe-core's ``axe.min.js`` as npm installed it from the committed lock (never fetched)."""
    if not AXE_SCRIPT.is_file():
        no_axe(f"{AXE_SCRIPT.relative_to(ROOT)} is missing")
    return AXE_SCRIPT.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where the browser tests leave a PNG of each page they check, in each language."""
    folder = Path(os.environ.get("EMINING_SCREENSHOTS_DIR") or ROOT / "build" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A headless Debian chromium driven through its chromedriver, quit afterwards; no browser:
    a skip on a developer's machine, a failure in CI (``no_browser``)."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    chromedriver = shutil.which("chromedriver")
    if binary is None or chromedriver is None:
        no_browser("chromium or chromedriver is not on PATH")
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never fetch a browser or driver
    from selenium import webdriver  # noqa: PLC0415
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1280,900", "--lang=en-GB"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        browser = webdriver.Chrome(service=Service(executable_path=chromedriver),
                                   options=options)
    except Exception as exc:  # noqa: BLE001 - any failure to start is "no browser"
        no_browser(f"chromium did not start: {str(exc).splitlines()[0]}")
    browser.set_page_load_timeout(20)
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture(scope="session")
def driver() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="session")
def console_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The console served by uvicorn; its world is built in the server's own event loop."""
    import uvicorn  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    tmp: Path = tmp_path_factory.mktemp("console-browser")
    ready, failed = threading.Event(), []
    holder: dict[str, Any] = {}

    async def serve() -> None:
        world: World = await build(tmp)
        live = [alert(scenario.BA_MMDD, scenario.ids_of(2)["title"], "cause-live", LIVE_TEXT,
                      severity="critical"),
                alert(FIRM_A, scenario.ids_of(0)["title"], "cause-live-a", "Not the officer's")]
        # Acting goes through a real gateway state (custody, checks, receipts) that records
        # what it would send instead of a broker.
        state, _ = await gateway(world, (scenario.BA_MMDD, FIRM_A))

        async def verify() -> VerifyReport:
            # ``emining audit verify`` reads the broker's log; this world has none. A report
            # of that shape: every record verified, one re-sent record (a warning).
            return VerifyReport(records=2 * STORIES * 12, findings=[RESENT])

        async def state_as_of(day: date, _late: bool) -> dict[str, dict[str, int]]:
            return await summary(world.store, today=day)

        app = world.app(live=live, submit=lambda org, person, event: submit(
            state, org, person, event), verify=verify, state_as_of=state_as_of)
        config = uvicorn.Config(app, host="127.0.0.1", port=port,
                                log_level="warning", lifespan="off",
                                timeout_graceful_shutdown=1)
        server = uvicorn.Server(config)
        holder["server"] = server
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn has no event
            await asyncio.sleep(0.02)
        ready.set()
        await task
        await state.stop()
        await world.accounts.close()
        await world.store.close()

    def run() -> None:
        try:
            asyncio.run(serve())
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            failed.append(exc)
            ready.set()

    thread = threading.Thread(target=run, name="console-server", daemon=True)
    thread.start()
    ready.wait(60)
    if failed:
        raise failed[0]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        holder["server"].should_exit = True
        thread.join(10)
