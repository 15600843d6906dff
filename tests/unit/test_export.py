"""The exported contract: JSON Schemas, examples, snapshots, AsyncAPI, the CLI and the doc table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from infra.cli import app
from infra.cli.schemas import SNAPSHOTS, read_snapshots, write_snapshots
from schemas.asyncapi import document
from schemas.base import EventData
from schemas.catalogue import UPCASTERS, event_types
from schemas.doc import markdown
from schemas.doc import page as generated_page
from schemas.envelope import dataschema_for, to_record
from schemas.signing import PrivateKey
from schemas.topics import catalogue
from schemas.versions import DIALECT, check, json_schema, wire_example
from tests.unit.helpers import all_types, example, sealed

TYPES = all_types()
IDS = [cls.ce_type() for cls in TYPES]


def run(*args: str) -> Any:
    return CliRunner().invoke(app, ["schemas", *args])


@pytest.mark.parametrize("cls", TYPES, ids=IDS)
def test_exported_schema_is_valid_2020_12_with_its_id_and_metadata(cls: type[EventData]):
    schema = json_schema(cls)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == DIALECT
    assert schema["$id"] == dataschema_for(cls.ce_type())
    assert (
        schema["x-emining-topic"],
        schema["x-emining-subject-field"],
        schema["x-emining-version"],
    ) == (cls.TOPIC, cls.SUBJECT_FIELD, cls.VERSION)


@pytest.mark.parametrize("cls", TYPES, ids=IDS)
def test_every_example_validates_against_its_schema_and_its_model(cls: type[EventData]):
    validator = Draft202012Validator(json_schema(cls))
    raw = json.loads(json.dumps(cls.EXAMPLE))
    wire = wire_example(cls)
    for data in (raw, wire):
        assert list(validator.iter_errors(data)) == []
        assert cls.model_validate(data).model_dump(mode="json", exclude_none=True) == wire
    assert json_schema(cls)["examples"] == [wire]


def test_a_broken_example_is_refused_by_the_exported_schema():
    cls = event_types()["pk.emining.participant.onboarded.v1"]
    validator = Draft202012Validator(json_schema(cls))
    bad = wire_example(cls) | {"side": "XX", "surplus": 1}
    assert sorted(e.json_path for e in validator.iter_errors(bad)) == ["$", "$.side"]


def test_the_committed_snapshots_are_up_to_date():
    report = check(event_types(), read_snapshots(SNAPSHOTS), UPCASTERS)
    assert [str(f) for f in report.failures] == []
    assert [str(f) for f in report.notices] == []


def test_released_snapshot_files_are_never_overwritten(tmp_path: Path):
    report = check(event_types(), [], UPCASTERS)
    assert len(write_snapshots(tmp_path, report.to_write[:1])) == 1
    with pytest.raises(FileExistsError):
        write_snapshots(tmp_path, report.to_write[:1])


def test_asyncapi_has_a_channel_per_topic_and_a_message_per_type():
    doc = document(event_types())
    addresses = sorted(c["address"] for c in doc["channels"].values())
    assert addresses == sorted([*(t.name for t in catalogue()), "emining.alerts.{org}"])
    typed = {k for k in doc["components"]["messages"] if k.startswith("pk.emining.")}
    assert typed == set(event_types())
    channel_messages = [
        m["$ref"].rsplit("/", 1)[1]
        for c in doc["channels"].values()
        for m in c["messages"].values()
    ]
    assert sorted(m for m in channel_messages if m.startswith("pk.")) == sorted(event_types())
    assert {o["action"] for o in doc["operations"].values()} == {"send", "receive"}
    schemes = doc["components"]["securitySchemes"]
    assert schemes["scram"]["type"] == "scramSha512"
    for server in doc["servers"].values():  # no server is described as open
        refs = [s["$ref"].rsplit("/", 1)[1] for s in server["security"]]
        assert refs == ["scram"]
    assert doc["channels"]["alerts"]["parameters"]["org"]["description"]


def test_asyncapi_payload_examples_validate_through_their_refs():
    doc = document(event_types())
    for ce_type, message in doc["components"]["messages"].items():
        if not ce_type.startswith("pk."):
            continue
        root = {"$schema": DIALECT, **message["payload"], "components": doc["components"]}
        validator = Draft202012Validator(root)
        assert list(validator.iter_errors(message["examples"][0]["payload"])) == [], ce_type
        assert message["bindings"]["kafka"]["key"]["type"] == "string"


def test_asyncapi_headers_describe_a_real_sealed_record():
    doc = document(event_types())
    cls = event_types()["pk.emining.participant.onboarded.v1"]
    record = to_record(sealed(example(cls), PrivateKey.generate("urn:emining:pk:gov:ba-mmdd")))
    headers = {name: raw.decode() for name, raw in record.headers}
    message = doc["components"]["messages"][cls.ce_type()]
    root = {"$schema": DIALECT, **message["headers"], "components": doc["components"]}
    assert list(Draft202012Validator(root).iter_errors(headers)) == []
    wrong = headers | {"ce_type": "pk.emining.participant.offboarded.v1"}
    assert [e.json_path for e in Draft202012Validator(root).iter_errors(wrong)] != []
    assert headers["ce_envelopeversion"] == "2"
    version_1 = {k: v for k, v in headers.items() if k != "ce_envelopeversion"} | {
        "ce_sequence": "7"}
    assert list(Draft202012Validator(root).iter_errors(version_1)) == []
    unknown = headers | {"ce_envelopeversion": "3"}
    assert [e.json_path for e in Draft202012Validator(root).iter_errors(unknown)] == [
        "$.ce_envelopeversion"]


def test_cli_list_json_gives_every_type_with_a_valid_example():
    result = run("list", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["type"] for r in rows] == list(event_types())
    for row in rows:
        cls = event_types()[row["type"]]
        assert (row["version"], row["topic"], row["subject_field"]) == (
            cls.VERSION,
            cls.TOPIC,
            cls.SUBJECT_FIELD,
        )
        assert cls.model_validate(row["example"]).subject


def test_cli_list_prints_a_table():
    result = run("list")
    assert result.exit_code == 0
    assert "emining.projects.v1" in result.stdout
    assert "project.registered.v1" in result.stdout


def test_cli_export_writes_a_schema_per_type_and_asyncapi(tmp_path: Path):
    result = run("export", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    assert sorted(p.name for p in out.glob("pk.*.json")) == sorted(
        f"{t}.json" for t in event_types()
    )
    spec = json.loads((out / "asyncapi.json").read_text(encoding="utf-8"))
    assert yaml.safe_load((out / "asyncapi.yaml").read_text(encoding="utf-8")) == spec
    schema = json.loads((out / "pk.emining.project.registered.v1.json").read_text(encoding="utf-8"))
    assert schema["examples"] == [wire_example(event_types()["pk.emining.project.registered.v1"])]


def test_cli_check_passes_on_the_repository():
    result = run("check", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) | {"written": []} == {
        "ok": True,
        "failures": [],
        "notices": [],
        "written": [],
    }


def test_cli_check_exits_1_naming_the_incompatible_path(tmp_path: Path):
    old = json_schema(event_types()["pk.emining.participant.onboarded.v1"])
    old["properties"]["legacy_code"] = {"type": "string"}
    (tmp_path / "pk.emining.participant.onboarded.v1.json").write_text(json.dumps(old))
    result = run("check", "--snapshots", str(tmp_path))
    assert result.exit_code == 1
    assert "$.legacy_code: property removed" in result.stdout


def test_cli_check_update_writes_missing_snapshots_then_passes(tmp_path: Path):
    first = run("check", "--update", "--json", "--snapshots", str(tmp_path))
    assert first.exit_code == 0, first.output
    assert len(json.loads(first.stdout)["written"]) == len(event_types())
    again = json.loads(run("check", "--json", "--snapshots", str(tmp_path)).stdout)
    assert (again["notices"], again["failures"]) == ([], [])


def test_doc_table_has_a_row_per_type_and_matches_the_committed_page():
    table = markdown(event_types())
    rows = [line for line in table.splitlines() if line.startswith("| `pk.")]
    assert len(rows) == len(event_types())
    page = Path(__file__).parents[2] / "docs" / "event-types.md"
    assert page.read_text(encoding="utf-8") == generated_page()
    assert generated_page().startswith(table)
