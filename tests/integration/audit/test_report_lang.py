"""``audit report --lang``: the page in the auditor's language, from the same log."""

from __future__ import annotations

import asyncio

import pytest
from typer.testing import CliRunner

from infra.cli import app
from tests.integration.audit.test_cli import _args, _env
from tests.unit.audit.scenario import story

pytestmark = pytest.mark.integration


async def test_report_cli_writes_the_page_in_the_language_asked_for(
    kafka_access, bus, parties, tmp_path
):
    await bus.steps(story(4))
    env = _env(kafka_access, parties, tmp_path)
    pages = {}
    for lang in (None, "ur", "zh-Hans"):
        out = tmp_path / f"r-{lang}.html"
        asked = ["--lang", lang] if lang else []
        result = await asyncio.to_thread(
            CliRunner().invoke, app,
            ["audit", "report", "--out", str(out), *asked, "--workers", "0", *_args(bus)],
            env=env)
        assert result.exit_code == 0, result.output
        pages[lang] = out.read_text(encoding="utf-8")
    # the test broker's admin is no organisation of the registry: English by default
    assert '<html lang="en" dir="ltr">' in pages[None]
    assert "<h2>Licence register (EITI 2.3)</h2>" in pages[None]
    assert '<html lang="ur" dir="rtl">' in pages["ur"]
    assert "<h2>لائسنس رجسٹر (EITI 2.3)</h2>" in pages["ur"]
    assert '<html lang="zh-Hans" dir="ltr">' in pages["zh-Hans"]
    assert "<h2>矿业权登记册(EITI 2.3)</h2>" in pages["zh-Hans"]
    for page in pages.values():
        assert "POLYGON(" not in page
