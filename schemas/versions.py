"""Event type versions: JSON Schema export, released snapshots, and the check that guards them.

Snapshots are the released contract, one file per ``(TYPE, VERSION)`` and revision:
``<ce_type>.json`` is revision 1, a later compatible change adds ``<ce_type>.r2.json`` and so on;
no file is edited once written. ``check`` holds the current model of each type to
BACKWARD_TRANSITIVE compatibility with every revision of its own version, and to an upcaster chain
(proven by upcasting each older snapshot's examples and validating them) for older versions.
Pure: snapshots come in and go out as values; reading and writing files is the caller's job.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from schemas.base import EventData
from schemas.catalogue import Upcaster
from schemas.compat import incompatibilities
from schemas.envelope import dataschema_for

DIALECT = "https://json-schema.org/draft/2020-12/schema"
_SNAPSHOT_NAME = re.compile(r"^(?P<ce_type>.+\.v[1-9][0-9]*)(\.r(?P<rev>[1-9][0-9]*))?\.json$")
_META = ("x-emining-topic", "x-emining-subject-field")
"""Root annotations that are nonetheless contract: readers subscribe and key by them."""
_DOC_ONLY = frozenset({"title", "description", "examples", "$comment"})
_NAMED = frozenset({"properties", "$defs", "patternProperties", "dependentSchemas"})


def wire_example(cls: type[EventData]) -> dict[str, Any] | None:
    """The type's ``EXAMPLE`` as it travels: validated, then dumped as the envelope dumps data."""
    example: dict[str, Any] | None = getattr(cls, "EXAMPLE", None)
    if example is None:
        return None
    return cls.model_validate(example).model_dump(mode="json", exclude_none=True)


def json_schema(cls: type[EventData]) -> dict[str, Any]:
    """The JSON Schema 2020-12 document of one event type's data, with its example."""
    body = cls.model_json_schema(mode="validation")
    ce_type = cls.ce_type()
    head: dict[str, Any] = {
        "$schema": DIALECT,
        "$id": dataschema_for(ce_type),
        "title": body.pop("title", cls.__name__),
    }
    if "description" in body:
        head["description"] = body.pop("description")
    head |= {
        "x-emining-type": cls.TYPE,
        "x-emining-version": cls.VERSION,
        "x-emining-topic": cls.TOPIC,
        "x-emining-subject-field": cls.SUBJECT_FIELD,
    }
    example = wire_example(cls)
    return head | body | ({"examples": [example]} if example is not None else {})


def contract(schema: Any) -> Any:
    """``schema`` without its documentation, for telling whether a new snapshot is needed."""
    if isinstance(schema, list):
        return [contract(v) for v in schema]
    if not isinstance(schema, dict):
        return schema
    kept: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _NAMED:
            kept[key] = {name: contract(sub) for name, sub in value.items()}
        elif key in ("enum", "const", "default"):
            kept[key] = value
        elif key in _META or not (key in _DOC_ONLY or key.startswith("x-")):
            kept[key] = contract(value)
    return kept


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One released revision of one type's schema."""

    ce_type: str
    revision: int
    schema: dict[str, Any]

    @property
    def type_name(self) -> str:
        return self.ce_type.rsplit(".v", 1)[0]

    @property
    def version(self) -> int:
        return int(self.ce_type.rsplit(".v", 1)[1])

    @property
    def filename(self) -> str:
        tail = "" if self.revision == 1 else f".r{self.revision}"
        return f"{self.ce_type}{tail}.json"

    def dumps(self) -> str:
        return json.dumps(self.schema, indent=2, ensure_ascii=False) + "\n"


def parse_snapshot(filename: str, text: str) -> Snapshot:
    """A snapshot from its file name (``<ce_type>[.rN].json``) and JSON text."""
    match = _SNAPSHOT_NAME.match(filename)
    if match is None:
        raise ValueError(f"{filename}: not a snapshot name (<type>.v<N>[.r<M>].json)")
    return Snapshot(match["ce_type"], int(match["rev"] or 1), json.loads(text))


@dataclass(frozen=True, slots=True)
class Finding:
    ce_type: str
    snapshot: str
    message: str

    def __str__(self) -> str:
        return f"{self.ce_type} [{self.snapshot}]: {self.message}"


@dataclass(slots=True)
class Report:
    """What ``check`` found: failures, notices (new snapshot needed), and the snapshots to add."""

    failures: list[Finding] = field(default_factory=list)
    notices: list[Finding] = field(default_factory=list)
    to_write: list[Snapshot] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def check(
    models: Mapping[str, type[EventData]],
    snapshots: Iterable[Snapshot],
    upcasters: Mapping[tuple[str, int], Upcaster],
) -> Report:
    """Hold every current model to its released snapshots (see the module docstring)."""
    report = Report()
    by_type: dict[str, list[Snapshot]] = {}
    for snap in sorted(snapshots, key=lambda s: (s.version, s.revision)):
        by_type.setdefault(snap.type_name, []).append(snap)
    current_types = {cls.TYPE for cls in models.values()}
    for name in sorted(by_type.keys() - current_types):
        for snap in by_type[name]:
            report.failures.append(
                Finding(
                    snap.ce_type,
                    snap.filename,
                    "type was released but is gone from the catalogue: its events stay on the log",
                )
            )
    for ce_type, cls in sorted(models.items()):
        released = by_type.get(cls.TYPE, [])
        _check_type(cls, [s for s in released if s.version == cls.VERSION], report)
        for snap in released:
            if snap.version > cls.VERSION:
                newer = f"snapshot of v{snap.version} is newer than the model (v{cls.VERSION})"
                report.failures.append(Finding(ce_type, snap.filename, newer))
            elif snap.version < cls.VERSION:
                report.failures += _check_upcast(cls, snap, upcasters)
    return report


def _check_type(cls: type[EventData], same_version: list[Snapshot], report: Report) -> None:
    ce_type = cls.ce_type()
    try:
        current = json_schema(cls)
    except ValidationError as exc:
        report.failures.append(Finding(ce_type, "-", f"EXAMPLE is invalid: {_errors(exc)}"))
        return
    if "examples" not in current:
        report.failures.append(
            Finding(
                ce_type, "-", "has no EXAMPLE: later versions need one to prove their upcasters"
            )
        )
    failures = []
    for snap in same_version:
        failures += [
            Finding(
                ce_type,
                snap.filename,
                f"{key} changed from {snap.schema.get(key)!r} to {current[key]!r}",
            )
            for key in _META
            if snap.schema.get(key) != current[key]
        ]
        failures += [
            Finding(ce_type, snap.filename, str(i)) for i in incompatibilities(snap.schema, current)
        ]
    if failures:
        hint = (
            f"breaking change: bump VERSION to {cls.VERSION + 1} and add "
            f"UPCASTERS[({cls.TYPE!r}, {cls.VERSION})]"
        )
        report.failures += [*failures, Finding(ce_type, "-", hint)]
        return
    if not same_version:
        new, why = Snapshot(ce_type, 1, current), "first release of this version"
    elif contract(same_version[-1].schema) != contract(current):
        new = Snapshot(ce_type, same_version[-1].revision + 1, current)
        why = f"changed compatibly since {same_version[-1].filename}"
    else:
        return
    report.notices.append(Finding(ce_type, new.filename, f"new snapshot needed: {why}"))
    report.to_write.append(new)


def upcast(
    name: str,
    version: int,
    target: int,
    data: dict[str, Any],
    upcasters: Mapping[tuple[str, int], Upcaster],
) -> dict[str, Any]:
    """``data`` of ``name`` v``version`` brought to v``target`` one step at a time."""
    data = copy.deepcopy(data)
    for step in range(version, target):
        upcaster = upcasters.get((name, step))
        if upcaster is None:
            raise LookupError(
                f"no upcaster from v{step} to v{step + 1}: add UPCASTERS[({name!r}, {step})]"
            )
        data = upcaster(data)
    return data


def _check_upcast(
    cls: type[EventData], snap: Snapshot, upcasters: Mapping[tuple[str, int], Upcaster]
) -> list[Finding]:
    found = []
    for example in snap.schema.get("examples", []):
        try:
            cls.model_validate(upcast(cls.TYPE, snap.version, cls.VERSION, example, upcasters))
        except LookupError as exc:
            return [Finding(cls.ce_type(), snap.filename, str(exc))]
        except ValidationError as exc:
            found.append(
                Finding(
                    cls.ce_type(),
                    snap.filename,
                    f"example upcast to v{cls.VERSION} is invalid: {_errors(exc)}",
                )
            )
        except Exception as exc:  # noqa: BLE001 - an upcaster is user code: report, don't crash
            found.append(Finding(cls.ce_type(), snap.filename, f"upcaster failed: {exc!r}"))
    return found


def _errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'data'}: {e['msg']}" for e in exc.errors()[:3]
    )
