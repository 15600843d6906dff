"""The CLI's expected errors are one clear line on stderr and exit 1, never a traceback."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from infra.cli import app
from infra.logging import configure_logging

BA = "urn:emining:pk:gov:ba-mmdd"
GRANTED = "pk.emining.approval.licence.granted"
MISSING = "holder_uscc, granted_on, term_years, expires_on, area_km2, minerals"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str | None]:
    return {"EMINING_STATE_DIR": str(tmp_path / "state"), "EMINING_KAFKA_BOOTSTRAP": None,
            "EMINING_KAFKA_USERNAME": None, "EMINING_KAFKA_PASSWORD": None,
            "EMINING_KAFKA_PASSWORD_FILE": None, "EMINING_LOG_LEVEL": None,
            "EMINING_CLIENT_TIMEOUT_S": "2"}


def invoke(env: dict[str, str | None], *args: str) -> Any:
    try:
        return CliRunner().invoke(app, list(args), env=env)
    finally:
        configure_logging("warning")  # the CLI bound logging to the runner's stderr


def one_error_line(result: Any) -> str:
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return str(lines[0])


@pytest.fixture
def key_file(env: dict[str, str | None], tmp_path: Path) -> str:
    made = invoke(env, "keys", "new", "--org", BA, "--out", str(tmp_path / "keys"), "--json")
    assert made.exit_code == 0, made.output
    return str(json.loads(made.stdout)["file"])


@pytest.mark.parametrize("data", ["{}", "@FILE", "FILE"])
def test_publish_with_empty_data_names_every_missing_field(
    env: dict[str, str | None], key_file: str, tmp_path: Path, data: str,
) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("{}")
    result = invoke(env, "publish", GRANTED, "--as", BA, "--key", key_file, "--subject",
                    "BA-EL-2025-0153", "--data", data.replace("FILE", str(empty)))
    line = one_error_line(result)
    assert line == f"error: {GRANTED} needs {MISSING} (6 required fields missing)"


def test_publish_with_inline_data_missing_one_field_names_it(
    env: dict[str, str | None], key_file: str,
) -> None:
    data = {"holder_uscc": "91650100MA7XK3P2LA", "granted_on": "2026-02-01", "term_years": 3,
            "expires_on": "2029-01-31", "area_km2": "48.2500"}
    result = invoke(env, "publish", GRANTED, "--as", BA, "--key", key_file, "--subject",
                    "BA-EL-2025-0153", "--data", json.dumps(data))
    assert one_error_line(result) == "error: field minerals: Field required"
    bad = invoke(env, "publish", GRANTED, "--as", BA, "--key", key_file, "--subject",
                 "BA-EL-2025-0153", "--data", "[1, 2]")
    assert one_error_line(bad) == "error: --data must be a JSON object"
    gone = invoke(env, "publish", GRANTED, "--as", BA, "--key", key_file, "--subject",
                  "BA-EL-2025-0153", "--data", "@/no/such/file.json")
    assert "cannot read /no/such/file.json" in one_error_line(gone)


@pytest.mark.parametrize("data", ["@-", "-"])
def test_publish_reads_data_from_stdin(
    env: dict[str, str | None], key_file: str, data: str,
) -> None:
    try:
        result = CliRunner().invoke(app, ["publish", GRANTED, "--as", BA, "--key", key_file,
                                          "--subject", "BA-EL-2025-0153", "--data", data],
                                    env=env, input="{}")
    finally:
        configure_logging("warning")
    assert one_error_line(result) == (
        f"error: {GRANTED} needs {MISSING} (6 required fields missing)")


@pytest.mark.parametrize(("data", "where"), [
    ('{"holder_uscc": "91650100MA7XK3P2LA",}', "line 1 column 38 (character 37)"),
    ("{'term_years': 3}", "line 1 column 2 (character 1)"),
    ('{"term_years": 3', "line 1 column 17 (character 16)"),
])
def test_publish_with_malformed_json_says_where_in_one_line(
    env: dict[str, str | None], key_file: str, tmp_path: Path, data: str, where: str,
) -> None:
    inline = invoke(env, "publish", GRANTED, "--as", BA, "--key", key_file, "--subject",
                    "BA-EL-2025-0153", "--data", data)
    line = one_error_line(inline)
    assert line.startswith("error: --data is not JSON: ")
    assert line.endswith(f" at {where}")
    file = tmp_path / "data.json"
    file.write_text(data)
    from_file = invoke(env, "publish", GRANTED, "--as", BA, "--key", key_file, "--subject",
                       "BA-EL-2025-0153", "--data", f"@{file}")
    assert one_error_line(from_file) == line


@pytest.mark.parametrize(("args", "said"), [
    (("projects", "--province", "Balochistan"), ("unknown province 'Balochistan' (did you "
                                                "mean PK-BA?); valid: PK-BA (Balochistan), ")),
    (("projects", "--province", "pk-sd"), "(did you mean PK-SD?)"),
    (("approvals", "--province", "Sindh"), "unknown province 'Sindh' (did you mean PK-SD?)"),
    (("approvals", "--status", "pendng"), "unknown status 'pendng' (did you mean pending?)"),
    (("projects", "--stage", "producing"), ("unknown stage 'producing' (did you mean "
                                           "production?)")),
    (("projects", "--kind", "smeltr"), "unknown kind 'smeltr' (did you mean smelter?)"),
])
def test_an_unknown_filter_value_exits_1_suggesting_the_valid_one(
    env: dict[str, str | None], args: tuple[str, ...], said: str,
) -> None:
    line = one_error_line(invoke(env, "views", *args))
    assert said in line
    assert "valid: " in line


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def listening_port() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield int(server.getsockname()[1])


def test_a_dead_bootstrap_is_unreachable_not_a_missing_credential(
    env: dict[str, str | None], closed_port: int, listening_port: int,
) -> None:
    dead = f"127.0.0.1:{closed_port}"
    line = one_error_line(invoke(env | {"EMINING_KAFKA_BOOTSTRAP": dead}, "topics", "list"))
    assert line.startswith(f"error: no Kafka broker answers at {dead} ")
    assert "SCRAM" not in line
    # with a credential too: still one line, and no aiokafka log line before it
    with_credential = env | {"EMINING_KAFKA_BOOTSTRAP": dead, "EMINING_KAFKA_USERNAME": "x",
                             "EMINING_KAFKA_PASSWORD": "y"}
    line = one_error_line(invoke(with_credential, "topics", "list"))
    assert line.startswith(f"error: no Kafka broker answers at {dead} ")
    # something answers there, and no credential is set: that is what it says
    alive = f"127.0.0.1:{listening_port}"
    line = one_error_line(invoke(env | {"EMINING_KAFKA_BOOTSTRAP": alive}, "topics", "list"))
    assert line.startswith(f"error: no credential for the broker at {alive}: it takes SCRAM")


def test_audit_report_without_anything_to_write_says_what_it_can_write(
    env: dict[str, str | None],
) -> None:
    line = one_error_line(invoke(env, "audit", "report"))
    assert line == ("error: say what to write: --out PAGE.html, --csv-dir DIR and/or --json "
                    "(on stdout)")


@pytest.mark.parametrize(("args", "said"), [
    (("alerts", "tail", "--org", BA, "--lang", "urdu"),
     ("unknown --lang language 'urdu' (did you mean ur?); valid: en (English), zh (Chinese), "
     "ur (Urdu)")),
    (("alerts", "tail", "--org", BA, "--lang", "fr"),
     "unknown --lang language 'fr'; valid: en (English), zh (Chinese), ur (Urdu)"),
    (("participants", "add", "--org", BA, "--name-en", "MMDD", "--side", "PK", "--role",
      "agency", "--language", "Chinese"), ("unknown --language language 'Chinese' (did you mean "
     "zh?)")),
    (("audit", "report", "--out", "r.html", "--lang", "Chinese"),
     "unknown --lang language 'Chinese' (did you mean zh?)"),
    (("alerts", "subscribe", "--org", BA, "--province", "Balochistan"),
     "unknown province 'Balochistan' (did you mean PK-BA?)"),
    (("alerts", "subscribe", "--org", BA, "--stage", "producing"),
     "unknown stage 'producing' (did you mean production?)"),
    (("alerts", "subscribe", "--org", BA, "--mineral", "coper"),
     "unknown mineral 'coper' (did you mean copper?)"),
])
def test_a_closed_set_option_with_a_typo_is_one_line_with_a_suggestion(
    env: dict[str, str | None], args: tuple[str, ...], said: str,
) -> None:
    assert said in one_error_line(invoke(env, *args))


@pytest.mark.parametrize(("tag", "code"), [("en", "en"), ("zh", "zh"), ("zh-Hans", "zh"),
                                           ("zh_CN", "zh"), ("UR-PK", "ur"), ("en-GB", "en")])
def test_a_language_is_its_code_or_a_tag_naming_it(tag: str, code: str) -> None:
    from infra.cli.common import language  # noqa: PLC0415

    assert language("--lang", tag).value == code


def test_every_way_out_of_a_command_prints_an_error_alike() -> None:
    """``fail``, ``@expected_errors`` and ``run`` report an expected failure one way: the red
    ``error:`` line, the message's further lines below it as written (not read as markup: a
    ``[a-z]`` in them stays), exit 1."""
    import typer  # noqa: PLC0415

    from infra.cli.common import expected_errors, fail, run  # noqa: PLC0415
    from schemas.errors import EminingError  # noqa: PLC0415

    tiny = typer.Typer()

    @tiny.command("fail")
    def by_fail() -> None:
        fail("bad name\na name matches ^[a-z]+$")

    @tiny.command("decorated")
    @expected_errors
    def by_decorator() -> None:
        raise EminingError("bad name\na name matches ^[a-z]+$")

    @tiny.command("run")
    def by_run() -> None:
        async def refused() -> None:
            raise EminingError("bad name\na name matches ^[a-z]+$")

        run(refused())

    for name in ("fail", "decorated", "run"):
        result = CliRunner().invoke(tiny, [name])
        assert result.exit_code == 1, (name, result.output)
        assert result.stderr.splitlines() == ["error: bad name", "a name matches ^[a-z]+$"], name
        assert result.stdout == ""
