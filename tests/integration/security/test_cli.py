"""The operator's CLI gives each organisation a working credential and takes it away again.

In-process through typer's runner, as the session broker's admin (``access_env``), with a
private state dir: a trust anchor of its own, so the registry these commands read back holds
only this test's organisations. The per-organisation commands are scoped to that organisation;
``acls apply`` (unscoped) runs only against a registry naming no organisation, where it
touches nothing but the services' ACLs.
"""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from typer.testing import CliRunner

from infra.cli import app
from infra.kafka_admin.acls import SERVICES, Acl, org_acls, service_acls, service_principal
from infra.kafka_admin.admin import apply_acls, credential_users, current_acls, delete_credential
from infra.logging import configure_logging
from schemas.common import Role
from schemas.topics import DLQ, PARTICIPANTS, PROJECTS
from tests.integration.security.conftest import assert_writes
from tests.integration.security.test_acls import _authentication_refused
from tests.kafka_support import access_env

if TYPE_CHECKING:
    from collections.abc import Callable

    from transport.access import KafkaAccess

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("catalogue_applied")]


class Cli:
    def __init__(self, access: KafkaAccess, state: Path) -> None:
        self.env: dict[str, str | None] = {
            **access_env(access), "EMINING_STATE_DIR": str(state),
            "EMINING_TRUST_ANCHOR": None, "EMINING_KAFKA_PASSWORD_FILE": None,
            "EMINING_OPERATOR_KEY_FILE": None,
        }

    async def __call__(self, *args: str, ok: bool = True) -> Any:
        def invoke() -> Any:
            result = CliRunner().invoke(app, list(args), env=self.env)
            configure_logging("warning")  # the CLI bound structlog to the runner's stderr
            return result

        result = await asyncio.to_thread(invoke)
        assert (result.exit_code == 0) == ok, result.output
        return result

    async def json(self, *args: str) -> Any:
        return json.loads((await self(*args, "--json")).stdout)


@pytest.fixture
def cli(kafka_access: KafkaAccess, tmp_path: Path) -> Cli:
    return Cli(kafka_access, tmp_path / "state")


@pytest.fixture
def slug(unique_name: Callable[[str], str]) -> str:
    return "t" + unique_name("org").rsplit(".", 1)[1]


async def _can_publish(access: KafkaAccess) -> None:
    await assert_writes(access, allowed=(PROJECTS,), refused=(PARTICIPANTS,))


async def test_participants_add_prints_a_credential_that_works_until_offboarding(
    cli: Cli, kafka_access: KafkaAccess, tmp_path: Path, slug: str,
) -> None:
    org = f"urn:emining:cn:ent:{slug}-mining"
    await cli("participants", "init")
    key = await cli.json("keys", "new", "--org", org, "--out", str(tmp_path / "keys"))
    added = await cli.json("participants", "add", "--org", org, "--name-en", "Test Mining",
                           "--side", "CN", "--role", "firm", "--key-file", key["file"])
    assert [e["type"] for e in added["events"]] == [
        "pk.emining.participant.onboarded.v1", "pk.emining.participant.key.added.v1"]
    assert added["credential"]["username"] == org
    assert {Acl(**a) for a in added["acls"]["created"]} == org_acls(org, Role.FIRM)
    first = kafka_access.as_user(org, added["credential"]["password"])
    await _can_publish(first)

    # Onboarding it again (even claiming another role) is refused: readers would skip the
    # second onboarding, so the broker must not hand out a credential or rights for it.
    dup = await cli("participants", "add", "--org", org, "--name-en", "Test Mining", "--side",
                    "CN", "--role", "auditor", "--key-file", key["file"], ok=False)
    assert "is already on the registry (as firm)" in dup.stderr
    assert "EMINING_KAFKA_PASSWORD" not in dup.stdout
    await _can_publish(first)  # nothing was reissued

    rotated = await cli.json("participants", "credential", "--org", org)
    second = kafka_access.as_user(org, rotated["credential"]["password"])
    assert rotated["acls"]["created"] == rotated["acls"]["deleted"] == []
    await _authentication_refused(first)
    await _can_publish(second)

    gone = await cli.json("participants", "offboard", "--org", org, "--reason", "contract ended")
    assert gone["credential_deleted"] is True
    assert [e["type"] for e in gone["events"]] == ["pk.emining.participant.offboarded.v1"]
    assert {a["principal"] for a in gone["acls"]["deleted"]} == {f"User:{org}"}
    assert not [a for a in await current_acls(kafka_access) if a.principal == f"User:{org}"]
    await _authentication_refused(second)

    refused = await cli("participants", "credential", "--org", org, ok=False)
    assert "not an active organisation" in refused.stderr
    again = await cli.json("participants", "offboard", "--org", org, "--reason", "again")
    assert again["events"] == []
    assert again["credential_deleted"] is False


async def test_participants_add_for_people_prints_the_credential_once_on_stdout(
    cli: Cli, kafka_access: KafkaAccess, tmp_path: Path, slug: str,
) -> None:
    org = f"urn:emining:xx:aud:{slug}-audit"
    await cli("participants", "init")
    key = await cli.json("keys", "new", "--org", org, "--out", str(tmp_path / "keys"))
    try:
        result = await cli("participants", "add", "--org", org, "--name-en", "Auditor",
                           "--side", "PK", "--role", "auditor", "--key-file", key["file"])
        lines = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
        assert lines["EMINING_KAFKA_USERNAME"] == org
        assert "shown once" in result.stderr
        assert result.stdout.count(lines["EMINING_KAFKA_PASSWORD"]) == 1
        auditor = kafka_access.as_user(org, lines["EMINING_KAFKA_PASSWORD"])
        await assert_writes(auditor, refused=(PROJECTS,), idempotent=False)
    finally:
        await delete_credential(kafka_access, org)
        await apply_acls(kafka_access, frozenset(), only={f"User:{org}"})


async def test_seed_writes_one_private_password_file_per_organisation(
    cli: Cli, kafka_access: KafkaAccess, tmp_path: Path, slug: str,
) -> None:
    orgs = [f"urn:emining:cn:ent:{slug}-a", f"urn:emining:pk:gov:{slug}-b"]
    seed = tmp_path / "registry.yaml"
    seed.write_text(yaml.safe_dump({
        "platform": "urn:emining:xx:platform:operator",
        "organisations": [
            {"id": orgs[0], "names": {"en": "A"}, "side": "CN", "role": "firm"},
            {"id": orgs[1], "names": {"en": "B"}, "side": "PK", "role": "agency"},
        ],
    }))
    await cli("participants", "init")
    folder = tmp_path / "credentials"
    try:
        out = await cli.json("participants", "seed", str(seed), "--keys-dir",
                             str(tmp_path / "no-keys"), "--credentials-dir", str(folder))
        assert out["events"]
        files = {c["org"]: Path(c["file"]) for c in out["credentials"]}
        assert files == {orgs[0]: folder / f"cn-ent-{slug}-a.password",
                         orgs[1]: folder / f"pk-gov-{slug}-b.password"}
        for org, path in files.items():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            password = path.read_text().strip()
            assert password not in json.dumps(out)  # never printed
            await _can_publish(kafka_access.as_user(org, password))
        assert set(orgs) <= await credential_users(kafka_access)

        # Seeding again changes nothing for organisations already on the log.
        again = await cli.json("participants", "seed", str(seed), "--keys-dir",
                               str(tmp_path / "no-keys"), "--credentials-dir", str(folder))
        assert again["events"] == []
        assert again["credentials"] == []
        assert sorted(again["already_registered"]) == sorted(orgs)
        for org, path in files.items():  # the first passwords still work
            await _can_publish(kafka_access.as_user(org, path.read_text().strip()))
    finally:
        for org in orgs:
            await delete_credential(kafka_access, org)
        await apply_acls(kafka_access, frozenset(), only={f"User:{o}" for o in orgs})


async def test_acls_apply_with_no_organisation_on_the_registry_touches_only_the_services(
    cli: Cli, kafka_access: KafkaAccess, tmp_path: Path,
) -> None:
    """A registry that names nobody (a fresh operator key here; a wrong trust anchor in real
    life) never wipes the organisations' ACLs: only the services' are applied."""
    await cli("participants", "init")
    first = await cli.json("acls", "apply")
    assert "names no organisation" in first["organisations_skipped"]
    touched = {a["principal"] for a in first["created"] + first["deleted"]}
    assert touched <= {service_principal(name) for name in SERVICES}
    second = await cli.json("acls", "apply")
    assert second["created"] == second["deleted"] == second["deleted_other"] == []
    listed = {Acl(**{k: v for k, v in a.items() if k != "managed"})
              for a in await cli.json("acls", "list")}
    for name in SERVICES:
        assert service_acls(name) <= listed

    password_file = tmp_path / "views.password"
    out = await cli.json("services", "credential", "views", "--password-file",
                         str(password_file))
    assert out["password"] is None  # written to the file only
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    views = kafka_access.as_user(out["username"], password_file.read_text().strip())
    try:
        await assert_writes(views, allowed=(DLQ,), refused=(PROJECTS,))
    finally:
        await delete_credential(kafka_access, out["username"])


async def test_functions_given_at_onboarding_and_changed_later_are_what_the_registry_says(
    cli: Cli, tmp_path: Path, slug: str,
) -> None:
    org = f"urn:emining:pk:gov:{slug}-customs"
    await cli("participants", "init")
    key = await cli.json("keys", "new", "--org", org, "--out", str(tmp_path / "keys"))
    await cli("participants", "add", "--org", org, "--name-en", "Customs (test)", "--name-zh",
              "海关测试", "--name-ur", "کسٹمز", "--side", "PK", "--role", "agency",
              "--function", "customs", "--key-file", key["file"], "--json")

    def listed(rows: list[dict[str, Any]]) -> dict[str, Any]:
        return next(r for r in rows if r["id"] == org)

    row = listed(await cli.json("participants", "list"))
    assert row["functions"] == ["customs"]
    assert row["names"] == {"en": "Customs (test)", "zh": "海关测试", "ur": "کسٹمز"}
    changed = await cli.json("participants", "functions", "--org", org, "--function", "port",
                             "--function", "border_post")
    assert [e["type"] for e in changed] == [
        "pk.emining.participant.functions.assigned.v1"]
    assert listed(await cli.json("participants", "list"))["functions"] == ["border_post", "port"]
    bad = await cli("participants", "functions", "--org", org, "--function", "customz", ok=False)
    assert "customz" in bad.output
