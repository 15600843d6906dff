"""Bulk import: JSON Lines and CSV rows to drafts, each bad row named by its line and field."""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from producers.publisher import Draft
from schemas.base import EventData
from schemas.catalogue import model_for
from schemas.errors import ContractError


class RowError(ContractError):
    """One input row that cannot become an event; ``line`` is 1-based, ``field`` may be None."""

    def __init__(self, line: int, field: str | None, message: str) -> None:
        where = f"line {line}" + (f", field {field}" if field else "")
        super().__init__(f"{where}: {message}")
        self.line = line
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    draft: Draft


def _check_attributes(line: int, event_id: object, time: object, subject: object) -> None:
    for name, value in (("id", event_id), ("time", time), ("subject", subject)):
        if value is not None and not isinstance(value, str):
            raise RowError(line, name, f"must be a string, got {type(value).__name__}")
    if isinstance(event_id, str) and not 0 < len(event_id) <= 128:  # noqa: PLR2004 - ce_id
        raise RowError(line, "id", "must be 1-128 characters")


def build(
    type_name: str,
    data: dict[str, Any],
    *,
    line: int,
    subject: str | None = None,
    event_id: str | None = None,
    time: str | None = None,
) -> Row:
    """Validate one row's data as ``type_name``; the subject, if given, must match the data."""
    _check_attributes(line, event_id, time, subject)
    try:
        model = model_for(type_name)
    except ContractError as exc:
        raise RowError(line, "type", str(exc)) from exc
    if subject is not None:
        given = data.setdefault(model.SUBJECT_FIELD, subject)
        if given != subject:
            raise RowError(
                line, model.SUBJECT_FIELD, f"is {given!r} but the subject is {subject!r}"
            )
    try:
        event: EventData = model.model_validate(data)
    except ValidationError as exc:
        raise _row_error(line, type_name, exc) from exc
    moment = None
    if time is not None:
        try:
            moment = datetime.fromisoformat(time)
        except ValueError as exc:
            raise RowError(line, "time", f"not an ISO 8601 time: {time!r}") from exc
        if moment.tzinfo is None:
            raise RowError(line, "time", "must carry a UTC offset")
    return Row(line, Draft(event, event_id=event_id, time=moment))


def _row_error(line: int, type_name: str, exc: ValidationError) -> RowError:
    """The first problem, or, when required fields are missing, every one of them at once."""
    errors = exc.errors()
    missing = [".".join(str(p) for p in e["loc"]) for e in errors if e["type"] == "missing"]
    if len(missing) > 1:
        return RowError(line, None, f"{type_name} needs {', '.join(missing)} "
                        f"({len(missing)} required fields missing)")
    first = errors[0]
    return RowError(line, ".".join(str(p) for p in first["loc"]) or None, first["msg"])


class ImportFileError(ContractError):
    """A file that cannot be read as rows at all (binary, not UTF-8, unreadable)."""


def read_text(path: Path) -> str:
    """The file as text: UTF-8 (a byte-order mark says UTF-16 or UTF-8 with BOM); else one
    clear error naming the file and what it seems to be."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ImportFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    for bom, codec in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                       (codecs.BOM_UTF16_BE, "utf-16")):
        if raw.startswith(bom):
            try:
                return raw.decode(codec)
            except UnicodeDecodeError as exc:
                raise ImportFileError(f"{path} starts like {codec} but is not: {exc.reason} "
                                      f"at byte {exc.start}") from None
    if b"\x00" in raw[:4096]:
        raise ImportFileError(f"{path} is a binary file, not JSON Lines or CSV text")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ImportFileError(f"{path} is not UTF-8 text (line {line}, byte {exc.start}): "
                              "save it as UTF-8") from None


def read_jsonl(path: Path) -> Iterator[Row | RowError]:
    """Rows ``{"type": ..., "data": {...}, "subject"?, "id"?, "time"?}``, one per line."""
    for line_no, text in enumerate(read_text(path).splitlines(), start=1):
        if not text.strip():
            continue
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            yield RowError(line_no, None, f"not JSON: {exc.msg}")
            continue
        except RecursionError:
            yield RowError(line_no, None, "JSON nested too deep to be an event")
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("data"), dict):
            yield RowError(line_no, "data", "each line must be an object with a data object")
            continue
        if not isinstance(doc.get("type"), str):
            yield RowError(line_no, "type", "missing or not a string")
            continue
        try:
            yield build(
                doc["type"],
                doc["data"],
                line=line_no,
                subject=doc.get("subject"),
                event_id=doc.get("id"),
                time=doc.get("time"),
            )
        except RowError as exc:
            yield exc


def _cell(value: str) -> Any:
    text = value.strip()
    if text[:1] in "[{":
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    return text


def _nest(flat: dict[str, str]) -> dict[str, Any]:
    """``{"names.en": "x"}`` to ``{"names": {"en": "x"}}``; empty cells are left out."""
    out: dict[str, Any] = {}
    for column, value in flat.items():
        if column is None:
            raise ValueError("the row has more cells than the header has columns")
        if value is None or not value.strip():
            continue
        node = out
        *parents, leaf = column.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(  # noqa: TRY004 - a data error in the file, reported per row
                    f"column {column} nests under a column that holds a value")
        node[leaf] = _cell(value)
    return out


def read_csv(path: Path, type_name: str | None) -> Iterator[Row | RowError]:
    """A header row of data fields (dotted for nesting, JSON for lists); one event per row.

    The type comes from ``type_name`` or a ``type`` column; ``id``, ``time`` and ``subject``
    columns, if present, set those attributes.
    """
    reader = csv.DictReader(io.StringIO(read_text(path), newline=""))
    try:
        yield from _csv_rows(reader, type_name)
    except csv.Error as exc:
        raise ImportFileError(f"{path} line {reader.line_num}: not CSV: {exc}") from None


def _csv_rows(reader: csv.DictReader[str], type_name: str | None) -> Iterator[Row | RowError]:
    for row in reader:
        line_no = reader.line_num
        meta = {k: (row.pop(k, None) or None) for k in ("type", "id", "time", "subject")}
        kind = type_name or meta["type"]
        if not kind:
            yield RowError(line_no, "type", "no type column and no --type given")
            continue
        try:
            data = _nest(row)
        except ValueError as exc:
            yield RowError(line_no, None, str(exc))
            continue
        try:
            yield build(
                kind,
                data,
                line=line_no,
                subject=meta["subject"],
                event_id=meta["id"],
                time=meta["time"],
            )
        except RowError as exc:
            yield exc


def read_rows(path: Path, type_name: str | None = None) -> Iterator[Row | RowError]:
    """Rows of a ``.csv`` or JSON Lines file; an event id used twice is an error on its row."""
    rows = read_csv(path, type_name) if path.suffix.lower() == ".csv" else read_jsonl(path)
    seen: dict[str, int] = {}
    for item in rows:
        event_id = item.draft.event_id if isinstance(item, Row) else None
        if event_id is not None and event_id in seen:
            yield RowError(item.line, "id", f"{event_id} was already used on line {seen[event_id]}")
            continue
        if event_id is not None and isinstance(item, Row):
            seen[event_id] = item.line
        yield item
