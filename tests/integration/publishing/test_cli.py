"""The publishing CLI against a real broker: keys, registry, publish, import, and refusals."""

from __future__ import annotations

import asyncio
import csv
import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.cli import app
from schemas.catalogue import model_for
from schemas.envelope_read import from_record
from schemas.signing import PrivateKey, Verifier
from schemas.topics import APPROVALS, PARTICIPANTS, PROJECTS
from tests.integration.publishing.conftest import end_offsets, read_all
from tests.kafka_support import access_env
from transport.access import KafkaAccess

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("catalogue_applied")]

BA = "urn:emining:pk:gov:ba-mmdd"
SD = "urn:emining:pk:gov:sd-mmd"
FIRM = "urn:emining:cn:ent:mcc-resources"
FIRM_USCC = "91650100MA7XK3P2LA"
GRANTED = "pk.emining.approval.licence.granted"
LATER = "urn:emining:pk:gov:later-agency"


class Cli:
    """Runs ``emining`` in-process with the test broker and a private state dir."""

    def __init__(self, kafka: KafkaAccess, state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        for name, value in access_env(kafka).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("EMINING_STATE_DIR", str(state))
        monkeypatch.delenv("EMINING_TRUST_ANCHOR", raising=False)
        self.runner = CliRunner()
        self.kafka = kafka

    def __call__(self, *args: str, ok: bool = True, stdin: str | None = None):
        result = self.runner.invoke(app, list(args), input=stdin)
        if ok:
            assert result.exit_code == 0, result.output
        else:
            assert result.exit_code == 1, result.output
        return result

    def json(self, *args: str):
        return json.loads(self(*args, "--json").stdout)

    def ends(self, topic: str) -> dict[int, int]:
        return asyncio.run(end_offsets(self.kafka, topic))


@pytest.fixture
def cli(kafka_access, tmp_path, monkeypatch):
    return Cli(kafka_access, tmp_path / "state", monkeypatch)


@pytest.fixture
def onboarded(cli, tmp_path):
    """Operator key, three organisations with keys and grants, all through the CLI."""
    cli("participants", "init")
    keys = {}
    for org in (BA, SD, FIRM):
        info = cli.json("keys", "new", "--org", org, "--out", str(tmp_path / "keys"))
        keys[org] = Path(info["file"])
    cli("participants", "add", "--org", BA, "--name-en", "BA MMDD", "--side", "PK", "--role",
        "agency", "--key-file", str(keys[BA]))
    cli("participants", "add", "--org", SD, "--name-en", "Sindh MMD", "--side", "PK", "--role",
        "agency", "--key-file", str(keys[SD]))
    cli("participants", "add", "--org", FIRM, "--name-en", "MCC Chagai", "--name-zh", "中冶查盖",
        "--side", "CN", "--role", "firm", "--uscc", FIRM_USCC, "--key-file", str(keys[FIRM]))
    cli("participants", "grant", "--org", BA, "--grant-id", "ba-licensing",
        "--type", "pk.emining.approval.licence.*", "--province", "PK-BA")
    cli("participants", "grant", "--org", SD, "--grant-id", "sd-licensing",
        "--type", "pk.emining.approval.licence.*", "--province", "PK-SD")
    cli("participants", "grant", "--org", FIRM, "--grant-id", "own", "--type",
        "pk.emining.project.*", "--own-only")
    return keys


def _data_file(tmp_path: Path, type_name: str, **changes) -> Path:
    model = model_for(type_name)
    path = tmp_path / f"{type_name}.json"
    path.write_text(json.dumps({**model.EXAMPLE, **changes}, ensure_ascii=False))
    return path


def test_keys_new_writes_an_owner_only_key_and_prints_its_id(cli, tmp_path):
    info = cli.json("keys", "new", "--org", BA, "--out", str(tmp_path / "k"))
    path = Path(info["file"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = PrivateKey.from_json(path.read_text())
    assert info["keyid"] == key.keyid
    assert info["org"] == BA
    cli("keys", "new", "--org", BA, "--out", str(tmp_path / "k"), ok=False)  # never clobbers


def test_participants_list_shows_the_registry_from_the_log(cli, onboarded):
    rows = {row["id"]: row for row in cli.json("participants", "list")}
    assert set(rows) == {BA, SD, FIRM}
    assert rows[FIRM]["uscc"] == FIRM_USCC
    assert rows[FIRM]["names"] == {"en": "MCC Chagai", "zh": "中冶查盖"}
    assert rows[BA]["authorities"][0]["provinces"] == ["PK-BA"]
    assert rows[BA]["keys"][0]["keyid"] == PrivateKey.from_json(onboarded[BA].read_text()).keyid


def test_a_membership_starting_in_the_future_is_refused_before_anything_is_published(
        cli, onboarded, tmp_path):
    before = cli.ends(PARTICIPANTS)
    key = cli.json("keys", "new", "--org", LATER, "--out", str(tmp_path / "later"))["file"]
    refused = cli("participants", "add", "--org", LATER, "--name-en", "Later", "--side", "PK",
                  "--role", "agency", "--key-file", key, "--valid-from", "2099-01-01", ok=False)
    assert "lies in the future: nothing was published" in refused.output
    assert cli.ends(PARTICIPANTS) == before
    assert LATER not in {row["id"] for row in cli.json("participants", "list")}


def test_publish_puts_one_signed_event_where_it_says(cli, onboarded, tmp_path):
    data = _data_file(tmp_path, GRANTED)
    out = cli.json("publish", GRANTED, "--as", BA, "--key", str(onboarded[BA]),
                   "--subject", "BA-EL-2025-0153", "--data", str(data))
    assert out["topic"] == APPROVALS
    records = asyncio.run(read_all(cli.kafka, APPROVALS))
    [record] = [r for r in records if r.partition == out["partition"]
                and r.offset == out["offset"]]
    env = from_record(record.key, record.value, record.headers)
    assert env.id == out["id"]
    assert env.type == f"{GRANTED}.v1"
    Verifier(PrivateKey.from_json(onboarded[BA].read_text()).public_key).verify(
        env.signing_input(), env.signature)


def test_publish_outside_authority_or_invalid_publishes_nothing(cli, onboarded, tmp_path):
    before = cli.ends(APPROVALS)
    refused = cli("publish", GRANTED, "--as", SD, "--key", str(onboarded[SD]), "--subject",
                  "BA-EL-2025-0153", "--data", str(_data_file(tmp_path, GRANTED)), ok=False)
    assert "sd-licensing does not cover PK-BA" in refused.output
    bad = _data_file(tmp_path, GRANTED, term_years="three")
    invalid = cli("publish", GRANTED, "--as", BA, "--key", str(onboarded[BA]), "--subject",
                  "BA-EL-2025-0153", "--data", str(bad), ok=False)
    assert "term_years" in invalid.output
    wrong_key = cli("publish", GRANTED, "--as", BA, "--key", str(onboarded[SD]), "--subject",
                    "BA-EL-2025-0153", "--data", str(_data_file(tmp_path, GRANTED)), ok=False)
    assert f"belongs to {SD}, not {BA}" in wrong_key.output
    assert cli.ends(APPROVALS) == before


def test_a_revoked_key_cannot_publish(cli, onboarded, tmp_path):
    keyid = PrivateKey.from_json(onboarded[BA].read_text()).keyid
    cli("participants", "revoke", "--org", BA, "--keyid", keyid, "--reason", "laptop lost")
    before = cli.ends(APPROVALS)
    refused = cli("publish", GRANTED, "--as", BA, "--key", str(onboarded[BA]), "--subject",
                  "BA-EL-2025-0153", "--data", str(_data_file(tmp_path, GRANTED)), ok=False)
    assert f"key {keyid} of {BA} was revoked" in refused.output
    assert cli.ends(APPROVALS) == before


def _project_rows(n: int) -> list[dict]:
    base = model_for("pk.emining.project.stage.changed").EXAMPLE
    return [{"type": "pk.emining.project.stage.changed",
             "data": {**base, "project_id": f"PRJ-BA-CHG-{i + 1:04d}"}} for i in range(n)]


def test_import_jsonl_stops_at_the_first_bad_row_and_publishes_nothing(cli, onboarded, tmp_path):
    rows = _project_rows(4)
    rows[2]["data"]["operator_uscc"] = "91650100MA7XK3P2LB"  # checksum broken
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    before = cli.ends(PROJECTS)
    out = cli("import", str(path), "--as", FIRM, "--key", str(onboarded[FIRM]), ok=False)
    assert "line 3, field operator_uscc" in out.output
    assert cli.ends(PROJECTS) == before


def test_import_skip_invalid_publishes_the_rest_and_lists_rejects(cli, onboarded, tmp_path):
    rows = _project_rows(5)
    rows[1]["data"]["operator_uscc"] = "91310000MA1FL8QW3Y"  # valid, but another firm's
    rows[3] = {"type": "pk.emining.nothing", "data": {}}
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    before = sum(cli.ends(PROJECTS).values())
    summary = cli.json("import", str(path), "--as", FIRM, "--key", str(onboarded[FIRM]),
                       "--skip-invalid", "--rejects", str(tmp_path / "rejects.jsonl"))
    assert summary["published"] == 3
    assert summary["rejected"] == 2
    assert sum(cli.ends(PROJECTS).values()) == before + 3
    rejects = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert [r["line"] for r in rejects] == [2, 4]
    assert "own subjects only" in rejects[0]["reason"]
    assert rejects[1]["field"] == "type"


def test_import_keeps_stdout_for_its_result_and_the_progress_on_stderr(cli, onboarded, tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in _project_rows(3)))
    args = ("import", str(path), "--as", FIRM, "--key", str(onboarded[FIRM]))
    shown = cli(*args)
    assert shown.stdout.splitlines() == [
        f"published 3 events from {path}; 0 were already on the log; rejected 0"]
    assert "publishing" in shown.stderr  # the bar's last state
    again = cli(*args, "--json")
    doc, end = json.JSONDecoder().raw_decode(again.stdout)
    assert again.stdout[end:].strip() == ""  # one JSON document, nothing else
    assert (doc["published"], doc["already_published"]) == (0, 3)


def test_import_csv_with_nested_columns(cli, onboarded, tmp_path):
    path = tmp_path / "workforce.csv"
    example = model_for("pk.emining.project.workforce.reported").EXAMPLE
    flat = {k: v for k, v in example.items() if not isinstance(v, dict | list)}
    nested = {f"{k}.{kk}": vv for k, v in example.items() if isinstance(v, dict)
              for kk, vv in v.items()}
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*flat, *nested])
        writer.writeheader()
        writer.writerow({**flat, **nested})
    before = sum(cli.ends(PROJECTS).values())
    summary = cli.json("import", str(path), "--as", FIRM, "--key", str(onboarded[FIRM]),
                       "--type", "pk.emining.project.workforce.reported")
    assert summary == {"file": str(path), "published": 1, "already_published": 0, "rejected": 0,
                       "rejects_file": None}
    assert sum(cli.ends(PROJECTS).values()) == before + 1


def test_running_the_same_import_again_publishes_nothing_twice(cli, onboarded, tmp_path):
    """Rows without ids get ids derived from what they say: the second run finds them all
    signed already and sends nothing; a third with one new row sends only that row."""
    rows = [{k: v for k, v in r.items() if k != "id"} for r in _project_rows(3)]
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    before = sum(cli.ends(PROJECTS).values())
    args = ("import", str(path), "--as", FIRM, "--key", str(onboarded[FIRM]))
    assert cli.json(*args)["published"] == 3
    again = cli.json(*args)
    assert (again["published"], again["already_published"]) == (0, 3)
    assert sum(cli.ends(PROJECTS).values()) == before + 3
    path.write_text("\n".join(json.dumps(r) for r in [*rows, *[
        {k: v for k, v in r.items() if k != "id"} for r in _project_rows(4)[3:]]]))
    third = cli.json(*args)
    assert (third["published"], third["already_published"]) == (1, 3)
    assert sum(cli.ends(PROJECTS).values()) == before + 4


@pytest.mark.parametrize(("content", "says"), [
    (b"\x00\x01\x02binary\x00", "is a binary file"),
    (b'{"type": "x", "data": {}}\n\xff\xfe broken', "is not UTF-8 text (line 2"),
])
def test_a_file_that_is_not_text_is_one_clear_line(cli, onboarded, tmp_path, content, says):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(content)
    out = cli("import", str(path), "--as", FIRM, "--key", str(onboarded[FIRM]), ok=False)
    assert says in out.output
    assert "Traceback" not in out.output
    assert len(out.output.strip().splitlines()) == 1


def test_utf16_and_deep_json_and_a_missing_data_file(cli, onboarded, tmp_path):
    rows = _project_rows(1)
    path = tmp_path / "utf16.jsonl"
    path.write_bytes(json.dumps(rows[0]).encode("utf-16"))  # with its byte-order mark
    assert cli.json("import", str(path), "--as", FIRM, "--key", str(onboarded[FIRM]))[
        "published"] == 1
    deep = tmp_path / "deep.jsonl"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    out = cli("import", str(deep), "--as", FIRM, "--key", str(onboarded[FIRM]), ok=False)
    assert "line 1" in out.output
    assert "Traceback" not in out.output
    missing = cli("publish", GRANTED, "--as", BA, "--key", str(onboarded[BA]), "--subject",
                  "BA-EL-2025-0153", "--data", str(tmp_path / "nope.json"), ok=False)
    assert "--data: cannot read" in missing.output
    assert "Traceback" not in missing.output


def test_rejects_that_cannot_be_written_stop_the_import_before_it_publishes(
        cli, onboarded, tmp_path):
    rows = _project_rows(2)
    rows[1]["data"]["operator_uscc"] = "91650100MA7XK3P2LB"
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    before = cli.ends(PROJECTS)
    out = cli("import", str(path), "--as", FIRM, "--key", str(onboarded[FIRM]),
              "--skip-invalid", "--rejects", str(tmp_path / "no-such-dir" / "r.jsonl"), ok=False)
    assert "cannot write the rejects" in out.output
    assert "nothing was published" in out.output
    assert cli.ends(PROJECTS) == before


def test_publish_time_enters_history_with_its_real_date_only_inside_a_backfill_window(
        cli, onboarded, tmp_path):
    """`publish --time`: within the skew it is taken; older history is refused before anything
    is signed, until the operator opens a backfill window (and the key and grant hold then)."""
    data = str(_data_file(tmp_path, GRANTED))
    before = cli.ends(APPROVALS)
    old = "2026-01-05T09:00:00+05:00"
    refused = cli("publish", GRANTED, "--as", BA, "--key", str(onboarded[BA]), "--subject",
                  "BA-EL-2025-0153", "--data", data, "--time", old, ok=False)
    assert "--time: time 2026-01-05" in refused.output
    assert "backfill window" in refused.output
    assert "nothing was published" in refused.output
    garbled = cli("publish", GRANTED, "--as", BA, "--key", str(onboarded[BA]), "--subject",
                  "BA-EL-2025-0153", "--data", data, "--time", "yesterday", ok=False)
    assert "not an ISO 8601 time" in garbled.output
    assert cli.ends(APPROVALS) == before

    # an archive: the department's key and authority held since 2025; a window for its history
    archive = cli.json("keys", "new", "--org", "urn:emining:pk:gov:kp-mmd",
                       "--out", str(tmp_path / "archive"))
    cli("participants", "add", "--org", "urn:emining:pk:gov:kp-mmd", "--name-en", "KP MMD",
        "--side", "PK", "--role", "agency", "--key-file", archive["file"],
        "--valid-from", "2025-01-01")
    cli("participants", "grant", "--org", "urn:emining:pk:gov:kp-mmd", "--grant-id", "kp",
        "--type", "pk.emining.approval.licence.*", "--province", "PK-KP",
        "--valid-from", "2025-01-01")
    cli("participants", "backfill", "--org", "urn:emining:pk:gov:kp-mmd", "--from",
        "2025-06-01", "--until", "2026-06-01", "--reason", "the department's archive")
    kp = str(_data_file(tmp_path, GRANTED, title_number="KP-EL-2025-0007"))
    out = cli.json("publish", GRANTED, "--as", "urn:emining:pk:gov:kp-mmd", "--key",
                   archive["file"], "--subject", "KP-EL-2025-0007", "--data", kp, "--time", old)
    records = asyncio.run(read_all(cli.kafka, APPROVALS))
    [record] = [r for r in records if r.partition == out["partition"]
                and r.offset == out["offset"]]
    assert from_record(record.key, record.value, record.headers).time.isoformat() == \
        "2026-01-05T04:00:00+00:00"
