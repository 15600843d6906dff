"""Dates on the command line are Pakistani calendar dates; times without an offset are UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import typer

from infra.cli.common import parse_moment


def test_a_bare_date_is_the_start_of_that_day_in_pakistan() -> None:
    assert parse_moment("2025-04-01", "--valid-from") == datetime(2025, 3, 31, 19, tzinfo=UTC)


def test_a_time_keeps_its_offset_and_without_one_is_utc() -> None:
    assert parse_moment("2025-04-01T06:00:00+05:00", "--as-of") == datetime(
        2025, 4, 1, 1, tzinfo=UTC)
    assert parse_moment("2025-04-01T06:00:00", "--as-of") == datetime(2025, 4, 1, 6, tzinfo=UTC)
    assert parse_moment("2025-04-01T06:00:00Z", "--as-of") == datetime(2025, 4, 1, 6, tzinfo=UTC)


def test_anything_else_is_one_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit):
        parse_moment("1 April", "--from")
    assert "--from '1 April' is not an ISO 8601 date or time" in capsys.readouterr().err
