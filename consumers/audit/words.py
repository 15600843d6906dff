"""The report's words for the audit's own codes (kinds of finding, timeline lanes, breaches):
each marked with ``N_`` so ``pybabel extract`` puts it in the console's catalogues (shared with
the report), and translated when the report is rendered."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from consumers.audit.findings import Kind
from consumers.console.labels import N_

FINDING_KINDS: Final[Mapping[str, str]] = MappingProxyType({
    Kind.MALFORMED.value: N_("malformed record"),
    Kind.WRONG_TOPIC.value: N_("on the wrong topic"),
    Kind.WRONG_PARTITION.value: N_("in the wrong partition"),
    Kind.BAD_SIGNATURE.value: N_("signature does not verify"),
    Kind.INVALID_KEY.value: N_("signed with a key not valid then"),
    Kind.REWRITE.value: N_("rewritten event"),
    Kind.UNAUTHORISED.value: N_("outside its authority"),
    Kind.TIME_SKEW.value: N_("dated outside the allowed skew"),
    Kind.REGISTRY_CONFLICT.value: N_("registry conflict"),
    Kind.SEQUENCE_GAP.value: N_("events missing from a source"),
    Kind.REPLAY.value: N_("replayed event"),
    Kind.REORDER.value: N_("event out of order"),
    Kind.HASH_CHAIN_BROKEN.value: N_("hash chain broken"),
    Kind.BAD_GENESIS.value: N_("bad first event of a source"),
    Kind.DUPLICATE.value: N_("duplicate with other content"),
    Kind.REDELIVERY.value: N_("identical re-delivery"),
    Kind.LOG_TRUNCATED.value: N_("log truncated"),
    Kind.INVALID_TRANSITION.value: N_("a step its lifecycle does not allow"),
    Kind.CHECKPOINT_INVALID.value: N_("checkpoint not signed by the platform"),
    Kind.LOG_REWRITTEN.value: N_("records differ from a checkpoint"),
    Kind.TAIL_DROPPED.value: N_("end of the log deleted"),
    Kind.CHECKPOINT_FORK.value: N_("checkpoints fork"),
    Kind.BAD_COSIGNATURE.value: N_("witness cosignature does not verify"),
    Kind.COSIGNATURE_MISSING.value: N_("checkpoint not cosigned by one side"),
    Kind.NO_CHECKPOINTS.value: N_("no checkpoints"),
    Kind.WITNESS_REFUSAL.value: N_("a witness refused a checkpoint"),
})

LANES: Final[Mapping[str, str]] = MappingProxyType({
    "project": N_("project"),
    "licence": N_("licence"),
    "environment": N_("environment"),
    "export": N_("export approval"),
    "shipment": N_("shipment"),
})

BREACHES: Final[Mapping[str, str]] = MappingProxyType({
    "decided late": N_("decided late"),
    "overdue, still undecided": N_("overdue, still undecided"),
    "deemed approved: no decision within the statutory period":
        N_("deemed approved: no decision within the statutory period"),
})
