"""The local three-node cluster's configuration, the compose variant, topic durability."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
import yaml

from infra import local_kafka
from infra.kafka_admin.topics import durability, replication_for
from infra.settings import Settings
from tests.unit.test_local_kafka import CREDENTIALS, parse_properties

if TYPE_CHECKING:
    from pathlib import Path

COMPOSE = local_kafka.KAFKA_DIR.parent / "compose.cluster.yaml"


NODES = [local_kafka.NodePorts(i, "127.0.0.1", 19090 + 2 * i, 19091 + 2 * i) for i in (1, 2, 3)]


def cluster_properties(
    tmp_path: Path, nodes: list[local_kafka.NodePorts] = NODES
) -> dict[int, dict[str, str]]:
    voters = local_kafka.quorum_voters(nodes)
    return {
        n.node_id: parse_properties(local_kafka.render_server_properties(
            ports=n.ports, data_dir=tmp_path / str(n.node_id), node_id=n.node_id,
            voters=voters, replication=3,
            security=local_kafka.security_properties("scram", CREDENTIALS, tmp_path)))
        for n in nodes
    }


def test_three_nodes_share_one_static_quorum_with_ports_of_their_own(tmp_path: Path) -> None:
    nodes = local_kafka.plan_cluster(3)
    ports = [p for n in nodes for p in (n.broker, n.controller)]
    assert len(set(ports)) == 6, "every listener its own port"
    assert [n.node_id for n in nodes] == [1, 2, 3]
    props = cluster_properties(tmp_path, nodes)
    voters = {p["controller.quorum.voters"] for p in props.values()}
    assert voters == {",".join(f"{n.node_id}@127.0.0.1:{n.controller}" for n in nodes)}
    for node in nodes:
        mine = props[node.node_id]
        assert mine["node.id"] == str(node.node_id)
        assert mine["process.roles"] == "broker,controller"
        assert mine["listeners"] == (f"CLIENT://127.0.0.1:{node.broker},"
                                     f"CONTROLLER://127.0.0.1:{node.controller}")
        assert mine["advertised.listeners"] == f"CLIENT://127.0.0.1:{node.broker}"
        assert mine["log.dirs"] == str(tmp_path / str(node.node_id))
        # same SCRAM/ACL setup as the single node
        assert mine["authorizer.class.name"] == local_kafka.AUTHORIZER
        assert mine["allow.everyone.if.no.acl.found"] == "false"
        assert mine["listener.security.protocol.map"] == (
            "CLIENT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT")


def test_a_cluster_keeps_three_copies_and_needs_two_in_sync(tmp_path: Path) -> None:
    props = cluster_properties(tmp_path)[2]
    assert props["default.replication.factor"] == "3"
    assert props["min.insync.replicas"] == "2"
    assert props["unclean.leader.election.enable"] == "false"
    assert props["offsets.topic.replication.factor"] == "3"
    assert props["transaction.state.log.replication.factor"] == "3"
    assert props["transaction.state.log.min.isr"] == "2"
    assert int(props["broker.session.timeout.ms"]) <= 10_000  # a dead node is fenced quickly


def test_a_single_node_keeps_one_copy_and_never_elects_unclean(tmp_path: Path) -> None:
    props = parse_properties(local_kafka.render_server_properties(
        ports=local_kafka.Ports(1, 2), data_dir=tmp_path))
    assert props["default.replication.factor"] == "1"
    assert props["min.insync.replicas"] == "1"
    assert props["unclean.leader.election.enable"] == "false"
    assert "broker.session.timeout.ms" not in props


@pytest.mark.parametrize(("brokers", "wanted", "factor", "min_isr"), [
    (1, None, 1, "1"), (2, None, 2, "1"), (3, None, 3, "2"), (5, None, 3, "2"),
    (3, 1, 1, "1"), (1, 3, 1, "1"),
])
def test_topic_replication_follows_the_live_brokers(
    brokers: int, wanted: int | None, factor: int, min_isr: str
) -> None:
    assert replication_for(brokers, wanted) == factor
    assert durability(factor) == {"min.insync.replicas": min_isr,
                                  "unclean.leader.election.enable": "false"}


def test_the_active_controller_is_the_newest_epochs_leader(tmp_path: Path) -> None:
    dirs = {}
    for node_id, (leader, epoch) in {1: (1, 4), 2: (3, 7), 3: (-1, 8)}.items():
        meta = tmp_path / str(node_id) / "__cluster_metadata-0"
        meta.mkdir(parents=True)
        (meta / "quorum-state").write_text(json.dumps(
            {"leaderId": leader, "leaderEpoch": epoch, "votedId": -1, "data_version": 0}))
        dirs[node_id] = tmp_path / str(node_id)
    assert local_kafka.quorum_leader(dirs) == 3  # epoch 8 has no leader yet: 7 names node 3
    assert local_kafka.quorum_leader({1: dirs[1]}) == 1
    assert local_kafka.quorum_leader({}) is None


def settings_in(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path / "state", kafka_bootstrap=None)


def test_a_cluster_state_dir_is_not_started_as_one_node_nor_resized(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    layout = local_kafka.Layout.of(settings)
    layout.root.mkdir(parents=True)
    nodes = local_kafka.plan_cluster(3)
    layout.cluster_file.write_text(json.dumps(
        {"brokers": 3, "nodes": [{"node_id": n.node_id, "host": n.host, "broker": n.broker,
                                  "controller": n.controller} for n in nodes]}))
    assert local_kafka.load_cluster(layout) == nodes
    assert local_kafka.local_size(settings) == 3
    with pytest.raises(local_kafka.BrokerError, match="holds a local cluster of 3 nodes"):
        local_kafka.up(settings, brokers=1)
    with pytest.raises(local_kafka.BrokerError, match="1 or 3 nodes"):
        local_kafka.up(settings, brokers=2)
    found = local_kafka.status(settings)  # nothing runs: every node reported down
    assert (found.running, found.brokers, found.active_controller) == (False, 3, None)
    assert [(n.node_id, n.alive, n.broker_port) for n in found.nodes] == [
        (n.node_id, False, n.broker) for n in nodes]
    assert layout.for_node(2).data_dir == layout.root / "nodes" / "2" / "data"


def test_a_single_node_state_dir_is_not_turned_into_a_cluster(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    layout = local_kafka.Layout.of(settings)
    layout.data_dir.mkdir(parents=True)
    (layout.data_dir / "meta.properties").write_text("node.id=1\n")
    with pytest.raises(local_kafka.BrokerError, match="holds a single-node broker"):
        local_kafka.up(settings, brokers=3)


def compose_props() -> tuple[dict[str, object], dict[int, dict[str, str]]]:
    compose = yaml.safe_load(COMPOSE.read_text("utf-8"))
    script = compose["x-kafka"]["command"][0]
    heredoc = script.split("<<PROPS\n", 1)[1].split("\nPROPS\n", 1)[0].replace("$$", "$")
    per_node: dict[int, dict[str, str]] = {}
    for name, service in compose["services"].items():
        env = service["environment"]
        text = heredoc.replace("$NODE_ID", env["NODE_ID"]).replace(
            "$CLIENT_PORT", env["CLIENT_PORT"])
        per_node[int(env["NODE_ID"])] = {**parse_properties(text), "_service": name,
                                         "_ports": ",".join(service["ports"]),
                                         "_hostname": service["hostname"]}
    return compose, per_node


def test_the_compose_cluster_agrees_with_itself() -> None:
    compose, nodes = compose_props()
    assert sorted(nodes) == [1, 2, 3]
    voters = {props["controller.quorum.voters"] for props in nodes.values()}
    assert len(voters) == 1, "one quorum"
    by_id = dict(v.split("@") for v in voters.pop().split(","))
    assert sorted(int(i) for i in by_id) == [1, 2, 3]
    ids = {props["_hostname"]: node_id for node_id, props in nodes.items()}
    for node_id, props in nodes.items():
        assert props["node.id"] == str(node_id)
        assert props["_service"] == props["_hostname"] == f"kafka-{node_id}"
        host, _, port = by_id[str(node_id)].partition(":")
        assert ids[host] == node_id, "each voter entry names the node with that id"
        assert f"CONTROLLER://:{port}" in props["listeners"]
        client_port = props["advertised.listeners"].split(",")[0].rsplit(":", 1)[1]
        assert props["_ports"] == f"127.0.0.1:{client_port}:9092", "advertised = published"
        assert f"INTERNAL://kafka-{node_id}:9094" in props["advertised.listeners"]
        assert props["inter.broker.listener.name"] == "INTERNAL"
        assert props["default.replication.factor"] == "3"
        assert props["min.insync.replicas"] == "2"
        assert props["unclean.leader.election.enable"] == "false"
    client_ports = {p["advertised.listeners"] for p in nodes.values()}
    assert len(client_ports) == 3
    assert len(compose["volumes"]) == 3


def test_the_compose_cluster_has_the_jvm_clusters_security(tmp_path: Path) -> None:
    _, nodes = compose_props()
    ours = local_kafka.security_properties(
        "scram", local_kafka.Credentials(admin="$ADMIN_PASSWORD",
                                         controller="$CONTROLLER_PASSWORD"), tmp_path)
    for props in nodes.values():
        for key, value in ours.items():
            if key == "listener.security.protocol.map":
                assert props[key] == ("CLIENT:SASL_PLAINTEXT,INTERNAL:SASL_PLAINTEXT,"
                                      "CONTROLLER:SASL_PLAINTEXT")
            else:
                assert props[key] == str(value), key


def test_the_views_consumer_reaches_every_node_of_a_cluster_bootstrap() -> None:
    """FastStream takes one string as one host: ``h1:p1,h2:p2`` must reach it as a list (the
    fault suite found the views consumer unable to start against a cluster)."""
    from consumers.config import ViewsConfig  # noqa: PLC0415 - this test only
    from consumers.runner import build_broker  # noqa: PLC0415
    from transport.access import KafkaAccess  # noqa: PLC0415

    access = KafkaAccess("10.0.0.1:9092, 10.0.0.2:9092,10.0.0.3:9092")
    assert access.servers == ["10.0.0.1:9092", "10.0.0.2:9092", "10.0.0.3:9092"]
    assert KafkaAccess("127.0.0.1:9092").servers == ["127.0.0.1:9092"]
    broker = build_broker(ViewsConfig(kafka=access, store_url="sqlite://", trust_anchor=()),
                          None, None)  # type: ignore[arg-type]  # not started: never used
    assert broker._connection_kwargs["bootstrap_servers"] == access.servers
