"""The audit report as a downloaded file opened in Chromium, in each of its languages: every text
of every chart inside its drawing (nothing clipped at either edge), labels above their bars, the
Urdu page in its embedded Nastaliq font; a screenshot of each page is kept for a reader to look at
(``audit-report-<lang>.png`` in ``EMINING_SCREENSHOTS_DIR``, default ``build/screenshots/``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from consumers.audit.html import render
from tests.unit.audit import report_sample

ROOT = Path(__file__).resolve().parents[2]


def screenshots_dir() -> Path:
    folder = Path(os.environ.get("EMINING_SCREENSHOTS_DIR") or ROOT / "build" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


_TEXT_BOXES = """
return [...document.querySelectorAll('svg.chart')].flatMap(svg => {
  const view = svg.viewBox.baseVal;
  return [...svg.querySelectorAll('text')].map(text => {
    const box = text.getBBox();
    return {text: text.textContent, cls: svg.getAttribute('class'), left: box.x,
            right: box.x + box.width, top: box.y, bottom: box.y + box.height,
            minX: view.x, maxX: view.x + view.width, minY: view.y, maxY: view.y + view.height};
  });
});"""

_LABELS_ABOVE_BARS = """
return [...document.querySelectorAll('svg.chart g.row')].map(row => {
  const label = row.querySelector('text.label').getBBox();
  const bar = row.querySelector('rect').getBBox();
  return {label: row.getAttribute('data-label'), bottom: label.y + label.height, barTop: bar.y};
});"""


@pytest.mark.parametrize("lang", ["en", "zh-Hans", "ur"])
def test_the_report_reads_in_each_language_with_nothing_clipped(
        driver: Any, tmp_path: Path, lang: str):
    page = tmp_path / f"audit-report-{lang}.html"
    page.write_text(render(report_sample.report(), lang), encoding="utf-8")
    driver.get_log("browser")
    driver.set_window_size(1280, 900)
    driver.get(page.as_uri())
    driver.execute_async_script("document.fonts.ready.then(arguments[0]);")
    assert driver.execute_script("return document.documentElement.dir") == (
        "rtl" if lang == "ur" else "ltr")
    if lang == "ur":
        assert driver.execute_script(
            "return [...document.fonts].some(f => f.family.includes('Noto Nastaliq Urdu') "
            "&& f.status === 'loaded')"), "the embedded Nastaliq font did not load"

    driver.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")
    # 3 lead-time charts (titles, EIA, export NOCs), 3 of shipments, 1 project's timeline
    assert driver.execute_script("return document.querySelectorAll('svg.chart').length") == 7
    boxes = driver.execute_script(_TEXT_BOXES)
    assert len(boxes) > 40
    for box in boxes:
        assert box["right"] > box["left"], (lang, box)  # drawn, not hidden
        # inside the drawing's viewport: x from 0 to its width, y within its height
        assert box["minX"] == 0, box
        assert box["left"] >= box["minX"], (lang, box)
        assert box["right"] <= box["maxX"], (lang, box)
        assert box["top"] >= box["minY"], (lang, box)
        assert box["bottom"] <= box["maxY"], (lang, box)
    for row in driver.execute_script(_LABELS_ABOVE_BARS):
        assert row["bottom"] <= row["barTop"] + 1, (lang, row)  # the label clears its bar

    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(int(height) + 140, 8000))
    shot = screenshots_dir() / f"audit-report-{lang}.png"
    assert driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
