"""The report's data as CSV files and one JSON document, for spreadsheets and other tools."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, fields
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from consumers.audit.register import Licence
from consumers.audit.report import Report

LICENCE_REGISTER = "licence_register.csv"
"""EITI 2.3: holder, coordinates, application date, award date and duration, commodity."""


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _rows(items: list[Any]) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in asdict(item).items()} for item in items]


def tables(report: Report) -> dict[str, list[dict[str, Any]]]:
    """Every table of the report, as rows of plain values, by file name."""
    lead = [{**row, "agency": report.name(row["authority"]),
             "share_within": None if not row["decided"]
             else round(row["within_standard"] / row["decided"], 4)}
            for row in _rows(report.lead_times)]
    decisions = [{**row, "days": None if d.days is None else round(d.days, 3)}
                 for row, d in zip(_rows(report.decisions), report.decisions, strict=True)]
    happenings = [{"project_id": s.project_id, **{k: _plain(v) for k, v in asdict(h).items()}}
                  for s in report.projects for h in s.happenings]
    findings = [] if report.verify is None else [f.to_json() for f in report.verify.findings]
    return {
        "lead_times.csv": lead,
        "decisions.csv": decisions,
        "breaches.csv": _rows(report.breaches),
        LICENCE_REGISTER: _rows(report.register),
        "shipments.csv": _rows(report.shipments),
        "timelines.csv": happenings,
        "findings.csv": findings,
    }


def _columns(name: str, rows: list[dict[str, Any]]) -> list[str]:
    if rows:
        return list(rows[0])
    if name == LICENCE_REGISTER:
        return [f.name for f in fields(Licence)]
    return []


def write_csv(report: Report, folder: Path) -> list[Path]:
    """One CSV per table (UTF-8 with a BOM, so spreadsheets read Chinese and Urdu names)."""
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, rows in tables(report).items():
        path = folder / name
        with path.open("w", newline="", encoding="utf-8-sig") as out:
            writer = csv.DictWriter(out, fieldnames=_columns(name, rows))
            writer.writeheader()
            writer.writerows(rows)
        written.append(path)
    return written


def to_json(report: Report) -> dict[str, Any]:
    """The whole report as one JSON-ready object."""
    doc: dict[str, Any] = {
        "generated_at": report.generated_at.isoformat(),
        "as_of": report.as_of.isoformat() if report.as_of else None,
        "digest": report.digest,
        "records": report.records,
        "standards_days": report.standards.days,
        "verify": None if report.verify is None else report.verify.to_json(),
    }
    doc.update({name.removesuffix(".csv"): rows for name, rows in tables(report).items()
                if name != "findings.csv"})
    return doc


def write_json(report: Report, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_json(report), indent=2, ensure_ascii=False), encoding="utf-8")
    return path
