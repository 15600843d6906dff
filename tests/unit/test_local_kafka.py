"""The local broker's pure pieces: config rendering, ids, ports, jar cache, missing tools."""

from __future__ import annotations

import base64
import json
import socket
import stat
from typing import TYPE_CHECKING

import pytest
import structlog
import structlog.testing
import yaml
from pydantic import SecretStr

from infra import local_kafka
from infra.kafka_admin.topics import TopicInfo, plan_existing
from infra.kafka_settings import NoBrokerError, audit_access, bootstrap_servers, kafka_access
from infra.local_kafka import credentials as kafka_credentials
from infra.settings import Settings
from schemas.errors import EminingError
from schemas.topics import TopicSpec
from transport.access import KafkaAccess
from transport.errors import MissingCredentialError

if TYPE_CHECKING:
    from pathlib import Path


def parse_properties(text: str) -> dict[str, str]:
    pairs = [
        line.partition("=")[::2] for line in text.splitlines() if line and not line.startswith("#")
    ]
    keys = [key for key, _ in pairs]
    assert len(keys) == len(set(keys)), "no key twice"
    return dict(pairs)


def test_server_properties_single_node_kraft(tmp_path: Path) -> None:
    ports = local_kafka.Ports(broker=19092, controller=19093)
    props = parse_properties(
        local_kafka.render_server_properties(ports=ports, data_dir=tmp_path / "data")
    )
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["listeners"] == "CLIENT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["advertised.listeners"] == "CLIENT://127.0.0.1:19092"
    # without a security section: the developer's insecure mode, plaintext everywhere
    assert props["listener.security.protocol.map"] == "CLIENT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    assert "authorizer.class.name" not in props
    assert props["log.dirs"] == str(tmp_path / "data")
    assert props["auto.create.topics.enable"] == "false"
    assert props["log.retention.ms"] == "-1", "no record deleted for its age by default"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.replication.factor"] == "1"
    assert props["transaction.state.log.min.isr"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert int(props["log.cleaner.dedupe.buffer.size"]) <= 4 * 1024 * 1024
    assert props["num.network.threads"] == props["num.io.threads"] == "2"
    assert "controller.quorum.bootstrap.servers" not in props  # static voters: no format flag


CREDENTIALS = local_kafka.Credentials(admin="admin-secret", controller="controller-secret")


def secure_properties(security: str, tmp_path: Path) -> dict[str, str]:
    ports = local_kafka.Ports(broker=19092, controller=19093)
    return parse_properties(local_kafka.render_server_properties(
        ports=ports, data_dir=tmp_path / "data",
        security=local_kafka.security_properties(security, CREDENTIALS, tmp_path / "tls"),
    ))


def test_default_broker_authenticates_with_scram_and_denies_without_an_acl(
    tmp_path: Path,
) -> None:
    props = secure_properties("scram", tmp_path)
    assert props["listener.security.protocol.map"] == (
        "CLIENT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT")
    assert props["listener.name.client.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["sasl.mechanism.inter.broker.protocol"] == "SCRAM-SHA-512"
    assert props["inter.broker.listener.name"] == "CLIENT"
    assert props["authorizer.class.name"].endswith("StandardAuthorizer")
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:admin;User:controller"
    # the controller listener: loopback only, PLAIN with one static user (no SCRAM in KRaft)
    assert props["listeners"].endswith("CONTROLLER://127.0.0.1:19093")
    assert props["sasl.mechanism.controller.protocol"] == "PLAIN"
    assert props["listener.name.controller.sasl.enabled.mechanisms"] == "PLAIN"
    assert 'user_controller="controller-secret"' in (
        props["listener.name.controller.plain.sasl.jaas.config"])
    assert 'username="admin" password="admin-secret"' in (
        props["listener.name.client.scram-sha-512.sasl.jaas.config"])
    assert not any(key.startswith("ssl.") for key in props)


def test_tls_mode_serves_sasl_over_tls_with_the_local_ca(tmp_path: Path) -> None:
    props = secure_properties("scram-tls", tmp_path)
    assert props["listener.security.protocol.map"] == "CLIENT:SASL_SSL,CONTROLLER:SASL_PLAINTEXT"
    assert props["ssl.keystore.type"] == props["ssl.truststore.type"] == "PEM"
    assert props["ssl.keystore.location"] == str(tmp_path / "tls" / "broker.pem")
    assert props["ssl.truststore.location"] == str(tmp_path / "tls" / "ca.pem")


def test_insecure_mode_has_no_authorizer(tmp_path: Path) -> None:
    props = secure_properties("none", tmp_path)
    assert props["listener.security.protocol.map"] == "CLIENT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    assert "authorizer.class.name" not in props
    assert "super.users" not in props


def test_data_formatted_before_credentials_existed_asks_for_a_reset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_in(tmp_path)
    layout = local_kafka.Layout.of(settings)
    layout.data_dir.mkdir(parents=True)
    (layout.data_dir / "meta.properties").write_text("version=1\n")
    monkeypatch.setattr("infra.local_kafka.lifecycle.ensure_jars", lambda *_a, **_k: tmp_path)
    with pytest.raises(local_kafka.LegacyStorageError, match="emining kafka reset"):
        local_kafka.up(settings)


def test_credentials_file_is_private(tmp_path: Path) -> None:
    layout = local_kafka.Layout.of(settings_in(tmp_path))
    made = kafka_credentials._ensure_credentials(layout)
    assert layout.credentials_file.stat().st_mode & 0o777 == 0o600
    assert local_kafka.load_credentials(layout) == made
    assert kafka_credentials._ensure_credentials(layout) == made, "made once, then kept"
    assert made.admin != made.controller
    assert len(made.admin) >= 32


def test_cluster_id_is_16_urlsafe_bytes_never_starting_with_a_dash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for _ in range(500):
        cluster_id = local_kafka.new_cluster_id()
        assert len(cluster_id) == 22
        assert "=" not in cluster_id
        assert not cluster_id.startswith("-")
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16

    draws = iter([b"\xf8" + bytes(15), bytes(16)])  # 0xf8... encodes to "-..."
    monkeypatch.setattr("infra.local_kafka.config.secrets.token_bytes", lambda n: next(draws))
    assert local_kafka.new_cluster_id() == "A" * 22


def test_cluster_id_is_created_once_per_state_dir(tmp_path: Path) -> None:
    layout = local_kafka.Layout(tmp_path / "kafka")
    first = local_kafka.ensure_cluster_id(layout)
    assert local_kafka.ensure_cluster_id(layout) == first


def test_ports_are_picked_once_and_reused(tmp_path: Path) -> None:
    layout = local_kafka.Layout(tmp_path / "kafka")
    ports = local_kafka.ensure_ports(layout)
    assert ports.broker != ports.controller
    assert json.loads(layout.ports_file.read_text()) == {
        "broker": ports.broker, "controller": ports.controller,
    }
    assert local_kafka.ensure_ports(layout) == ports
    assert ports.bootstrap == f"127.0.0.1:{ports.broker}"


def test_a_persisted_port_taken_by_another_process_is_a_clear_error(tmp_path: Path) -> None:
    layout = local_kafka.Layout(tmp_path / "kafka")
    ports = local_kafka.ensure_ports(layout)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", ports.controller))
        squatter.listen()
        with pytest.raises(local_kafka.PortInUseError, match=f"port {ports.controller} "):
            local_kafka.ensure_ports(layout)


def settings_in(tmp_path: Path, **extra: object) -> Settings:
    return Settings(kafka_bootstrap=None, state_dir=tmp_path / "state",
                    cache_dir=tmp_path / "cache", **extra)  # type: ignore[arg-type]


def fake_tool(bin_dir: Path, name: str, script: str = "exit 0") -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_no_java_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(local_kafka.JavaNotFoundError, match="no `java` on PATH"):
        local_kafka.ensure_jars(settings_in(tmp_path))
    with pytest.raises(local_kafka.JavaNotFoundError):
        local_kafka.up(settings_in(tmp_path))


def test_no_maven_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_tool(tmp_path / "bin", "java")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(local_kafka.MavenNotFoundError, match="no `mvn` on PATH"):
        local_kafka.ensure_jars(settings_in(tmp_path))


def test_missing_tools_seen_through_shutil_which(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("infra.local_kafka.install.shutil.which", lambda name: None)
    with pytest.raises(local_kafka.JavaNotFoundError):
        local_kafka.require_tool("java")
    with pytest.raises(local_kafka.MavenNotFoundError):
        local_kafka.require_tool("mvn")
    assert issubclass(local_kafka.JavaNotFoundError, EminingError)


def test_maven_central_unreachable_shows_mvns_last_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_tool(tmp_path / "bin", "java")
    fake_tool(tmp_path / "bin", "mvn", (
        "echo '[ERROR] Failed to execute goal on project emining-kafka-broker: Could not"
        " transfer artifact org.apache.kafka:kafka_2.13:pom:4.1.1 from/to central"
        " (https://repo.maven.apache.org/maven2): Unknown host repo.maven.apache.org'\nexit 1"
    ))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(local_kafka.JarFetchError) as caught:
        local_kafka.ensure_jars(settings_in(tmp_path))
    message = str(caught.value)
    assert "Maven Central unreachable" in message
    assert "Unknown host repo.maven.apache.org" in message
    assert not list((tmp_path / "cache").glob("kafka-*/libs*")), "no half-filled cache left"


def test_fetched_jars_are_cached_and_a_second_run_needs_no_tools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_tool(tmp_path / "bin", "java")
    fake_tool(tmp_path / "bin", "mvn", (
        'for arg; do case "$arg" in -DoutputDirectory=*) out="${arg#-DoutputDirectory=}";; esac;'
        ' done\n/bin/mkdir -p "$out" && echo jar > "$out/kafka_2.13-4.1.1.jar"'
    ))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    libs = local_kafka.ensure_jars(settings_in(tmp_path))
    assert [p.name for p in libs.iterdir()] == ["kafka_2.13-4.1.1.jar"]
    assert libs.parent.name == f"kafka-{local_kafka.kafka_version()}"

    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # offline and tool-less now
    assert local_kafka.ensure_jars(settings_in(tmp_path)) == libs


def test_kafka_version_comes_from_the_pom() -> None:
    assert local_kafka.kafka_version() == "4.1.1"


def test_java_command_uses_the_cached_jars_and_the_log_config(tmp_path: Path) -> None:
    cmd = local_kafka.java_command(
        java="/usr/bin/java", libs=tmp_path / "libs", heap="-Xms256m -Xmx512m",
        main_class="kafka.Kafka", args=["server.properties"], logs_dir=tmp_path / "logs",
    )
    assert cmd[:3] == ["/usr/bin/java", "-Xms256m", "-Xmx512m"]
    assert f"-Dlog4j2.configurationFile={local_kafka.LOG4J2_CONFIG}" in cmd
    assert local_kafka.LOG4J2_CONFIG.is_absolute()
    assert local_kafka.LOG4J2_CONFIG.exists()
    assert cmd[-4:] == ["-cp", f"{tmp_path / 'libs'}/*", "kafka.Kafka", "server.properties"]


def test_status_of_a_never_started_broker(tmp_path: Path) -> None:
    found = local_kafka.status(settings_in(tmp_path))
    assert not found.running
    assert found.bootstrap is None
    assert found.to_json()["bootstrap"] is None


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_external_bootstrap_is_never_started_only_checked(tmp_path: Path) -> None:
    bootstrap = f"127.0.0.1:{unused_port()}"
    anonymous = settings_in(tmp_path).model_copy(update={"kafka_bootstrap": bootstrap})
    # nothing answers there: that is the news, not the missing credential (issue 17)
    with pytest.raises(local_kafka.BrokerUnreachableError,
                       match=f"no Kafka broker answers at {bootstrap} .*EMINING_KAFKA_USERNAME"):
        local_kafka.up(anonymous)
    with socket.socket() as server:  # something answers: then the credential is what is missing
        server.bind(("127.0.0.1", 0))
        server.listen()
        alive = anonymous.model_copy(
            update={"kafka_bootstrap": f"127.0.0.1:{server.getsockname()[1]}"})
        with pytest.raises(MissingCredentialError, match="EMINING_KAFKA_USERNAME"):
            local_kafka.up(alive)
    settings = anonymous.model_copy(update={"kafka_username": "urn:emining:cn:ent:acme",
                                            "kafka_password": SecretStr("pw")})
    with pytest.raises(local_kafka.BrokerUnreachableError, match=bootstrap):
        local_kafka.up(settings)
    assert not (tmp_path / "state").exists(), "nothing local was prepared"
    with pytest.raises(local_kafka.ExternalBrokerError):
        local_kafka.logs(settings)
    assert bootstrap_servers(settings) == bootstrap


def test_no_broker_anywhere_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NoBrokerError, match="no broker: run `emining kafka up` or set"):
        bootstrap_servers(settings_in(tmp_path))


def test_tail_reads_only_the_end(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("".join(f"line {i}\n" for i in range(10_000)))
    assert local_kafka.tail(log, 3) == ["line 9997", "line 9998", "line 9999"]
    assert local_kafka.tail(tmp_path / "missing.log", 3) == []


def test_topic_partitions_are_never_decreased_and_the_plan_says_so() -> None:
    spec = TopicSpec("t", 3, {"retention.ms": "-1"})
    info = TopicInfo("t", 6, 1, {"retention.ms": "1000", "segment.bytes": "1048576"})
    change = plan_existing(spec, info, replication=1)
    assert change.action == "updated"
    assert change.partitions == 6
    assert change.config_changes == {"retention.ms": ("1000", "-1")}
    assert any("never decreased" in warning for warning in change.warnings)

    grown = plan_existing(TopicSpec("t", 8, {}), info, replication=1)
    assert (grown.action, grown.partitions, grown.partitions_before) == ("updated", 8, 6)
    same = plan_existing(TopicSpec("t", 6, {"segment.bytes": "1048576"}), info, replication=1)
    assert same.action == "unchanged"


def test_compose_file_has_the_same_security_as_the_jvm_broker(tmp_path: Path) -> None:
    """infra/compose.yaml spells its server.properties out: it must not drift from ours."""
    compose = yaml.safe_load((local_kafka.KAFKA_DIR.parent / "compose.yaml").read_text("utf-8"))
    script = compose["services"]["kafka"]["command"][0]
    heredoc = script.split("<<PROPS\n", 1)[1].split("\nPROPS\n", 1)[0]
    theirs = parse_properties(heredoc.replace("$$", "$"))
    ours = local_kafka.security_properties(
        "scram", local_kafka.Credentials(admin="$ADMIN_PASSWORD",
                                         controller="$CONTROLLER_PASSWORD"), tmp_path)
    assert {key: theirs.get(key) for key in ours} == {key: str(v) for key, v in ours.items()}
    assert "--add-scram" in script


@pytest.mark.parametrize("security", ["scram", "scram-tls", "none"])
def test_the_running_brokers_security_mode_is_read_back_from_its_properties(
    tmp_path: Path, security: str
) -> None:
    settings = settings_in(tmp_path)
    layout = local_kafka.Layout.of(settings)
    layout.root.mkdir(parents=True)
    layout.server_properties.write_text(local_kafka.render_server_properties(
        ports=local_kafka.Ports(1, 2), data_dir=tmp_path,
        security=local_kafka.security_properties(security, CREDENTIALS, tmp_path)))
    assert local_kafka.running_security(layout) == security
    other = "none" if security != "none" else "scram"
    with pytest.raises(local_kafka.SecurityModeError, match=f"runs with EMINING_KAFKA_SECURITY="
                       f"{security}, this command asks for {other}"):
        kafka_credentials._same_security(settings.model_copy(update={"kafka_security": other}),
                                   layout, 4242)
    kafka_credentials._same_security(settings.model_copy(update={"kafka_security": security}),
                               layout, 4242)


def test_an_empty_password_file_is_a_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "password"
    empty.write_text("\n")
    settings = settings_in(tmp_path).model_copy(update={
        "kafka_bootstrap": "127.0.0.1:9", "kafka_username": "urn:emining:cn:ent:acme",
        "kafka_password_file": empty})
    with pytest.raises(MissingCredentialError, match="is empty"):
        kafka_access(settings)
    empty.write_text("s3cret\nignored\n")
    access = kafka_access(settings)
    assert (access.username, access.password, access.protocol) == (
        "urn:emining:cn:ent:acme", "s3cret", "SASL_PLAINTEXT")
    assert "s3cret" not in repr(access)


def test_sasl_without_tls_to_another_machine_is_warned_about(tmp_path: Path) -> None:
    remote = settings_in(tmp_path).model_copy(update={
        "kafka_bootstrap": "kafka.example.pk:9092", "kafka_username": "u",
        "kafka_password": SecretStr("p")})
    with structlog.testing.capture_logs() as logs:
        kafka_access(remote)
        kafka_access(remote.model_copy(update={"kafka_bootstrap": "127.0.0.1:9092"}))
    warned = [e for e in logs if e["event"] == "kafka_traffic_not_encrypted"]
    assert [e["bootstrap"] for e in warned] == ["kafka.example.pk:9092"]


def test_serves_audit_pages_only_as_a_principal_that_may_read_the_log(tmp_path: Path) -> None:
    base = settings_in(tmp_path).model_copy(update={
        "kafka_bootstrap": "127.0.0.1:9", "kafka_username": "emining-gateway",
        "kafka_password": SecretStr("gw")})
    gateway = kafka_access(base)
    # The gateway's own principal may not read the shared topics: no audit pages.
    assert audit_access(base, gateway) is None
    # The configured audit principal, on the same broker and protocol.
    audited = base.model_copy(update={"audit_kafka_username": "emining-audit",
                                      "audit_kafka_password": SecretStr("au")})
    reader = audit_access(audited, gateway)
    assert reader is not None
    assert (reader.username, reader.password, reader.bootstrap, reader.protocol) == (
        "emining-audit", "au", gateway.bootstrap, gateway.protocol)
    from_file = tmp_path / "audit.password"
    from_file.write_text("from-file\n")
    assert audit_access(base.model_copy(update={
        "audit_kafka_username": "emining-audit", "audit_kafka_password_file": from_file}),
        gateway).password == "from-file"  # type: ignore[union-attr]
    with pytest.raises(MissingCredentialError, match="EMINING_AUDIT_KAFKA_USERNAME is set"):
        audit_access(base.model_copy(update={"audit_kafka_username": "emining-audit"}), gateway)
    # No authentication at all: the one connection reads everything.
    plain = base.model_copy(update={"kafka_security": "none"})
    assert audit_access(plain, kafka_access(plain)) == kafka_access(plain)
    # The local broker's admin (what serve acts as with no username given) reads everything
    # too; a user named "admin" on somebody else's cluster is not assumed to.
    admin = KafkaAccess("127.0.0.1:9092", "SASL_PLAINTEXT", local_kafka.ADMIN, "pw")
    assert audit_access(settings_in(tmp_path), admin) == admin
    assert audit_access(base, admin) is None
