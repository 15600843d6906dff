"""Per-source chains: gaps, replays, reorders and rewrites are each named."""

from __future__ import annotations

from schemas.chain import ChainFault, Link, check_link, check_partition_order
from schemas.signing import GENESIS_HASH, PrivateKey
from tests.unit.helpers import all_types, example, sealed

KEY = PrivateKey.generate("urn:emining:pk:gov:ba-mmdd")
OTHER = PrivateKey.generate("urn:emining:pk:gov:ba-mmdd")


def _chain(n):
    envs, link = [], Link()
    data = example(all_types()[0])
    for _ in range(n):
        seq, prev = link.next()
        env = sealed(data, KEY, sequence=seq, prevhash=prev)
        envs.append(env)
        link = Link(seq, env.hash())
    return envs


def _judge(envs):
    """Walk envelopes as the audit does; return the fault of each (None when fine)."""
    last, seen, faults = None, set(), []
    for env in envs:
        fault = check_link(last, env.sequence, env.prevhash, seen=seen)
        faults.append(fault)
        seen.add(env.sequence)
        if fault is None or fault is ChainFault.GAP:
            last = Link(env.sequence, env.hash())
    return faults


def test_intact_chain_has_no_faults():
    assert _judge(_chain(5)) == [None] * 5


def test_first_event_must_be_genesis():
    env = _chain(1)[0]
    assert check_link(None, 1, GENESIS_HASH) is None
    assert check_link(None, 1, env.hash()) is ChainFault.BAD_GENESIS
    assert check_link(None, 2, GENESIS_HASH) is ChainFault.GAP


def test_gap_is_detected_at_the_event_after_it():
    envs = _chain(5)
    assert _judge([envs[0], envs[1], envs[3], envs[4]]) == [None, None, ChainFault.GAP, None]


def test_replayed_event_is_detected():
    envs = _chain(3)
    assert _judge([envs[0], envs[1], envs[2], envs[1]]) == [None, None, None, ChainFault.REPLAY]


def test_reorder_is_detected():
    envs = _chain(4)
    faults = _judge([envs[0], envs[2], envs[1], envs[3]])
    assert faults == [None, ChainFault.GAP, ChainFault.REORDER, None]


def test_rewrite_with_another_key_breaks_the_next_link():
    envs = _chain(3)
    forged = sealed(envs[1].data, OTHER, source=envs[1].source, sequence=2, prevhash=envs[0].hash())
    assert _judge([envs[0], forged, envs[2]]) == [None, None, ChainFault.BROKEN_LINK]


def test_partition_order_allows_gaps_but_not_going_back():
    assert check_partition_order(None, 7) is None
    assert check_partition_order(3, 7) is None
    assert check_partition_order(7, 7) is ChainFault.REPLAY
    assert check_partition_order(7, 5) is ChainFault.REORDER
