"""Checkpoints and cosignatures as records, made as the checkpointer and the witnesses do, for
in-memory tests of the audit's completeness check and proofs."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field

from consumers.audit.completeness import judge
from consumers.audit.cosigned import read_checkpoints
from consumers.audit.findings import Completeness, Finding
from consumers.audit.leaves import leaves_of, origin_of
from consumers.audit.records import RawRecord
from schemas import tlog
from schemas.checkpoints import Refusal, RefusalKind, RefusalRecord, sha256_hex
from schemas.registry import Registry
from schemas.signing import PrivateKey
from tests.unit.audit import parties as pa

TOPIC = "test.completeness.projects"
CP_TOPIC, COSIG_TOPIC, REFUSAL_TOPIC = "test.checkpoints", "test.cosignatures", "test.refusals"
PK_WITNESS, CN_WITNESS = pa.PSW, pa.FIRM_A
T0 = 1_760_000_000


def records(n: int, partition: int = 0, topic: str = TOPIC) -> list[RawRecord]:
    return [RawRecord(topic, partition, i, 1_700_000_000_000 + i, f"k{i % 3}".encode(),
                      json.dumps({"n": i}).encode(), (("ce_id", f"id-{i}".encode()),))
            for i in range(n)]


@dataclass
class Bus:
    """Checkpoints and cosignatures as records, made as part 1's checkpointer and witnesses."""

    parties: pa.Parties
    platform: PrivateKey
    checkpoints: list[RawRecord] = field(default_factory=list)
    cosignatures: list[RawRecord] = field(default_factory=list)
    refusals: list[RawRecord] = field(default_factory=list)
    last: dict[str, tuple[int, list[bytes]]] = field(default_factory=dict)

    def checkpoint(self, log: list[RawRecord], size: int, *, key: PrivateKey | None = None,
                   root: bytes | None = None, proof: list[bytes] | None = None,
                   witnesses: tuple[str, ...] = (PK_WITNESS, CN_WITNESS)) -> str:
        first = log[0]
        origin = origin_of(first.topic, first.partition)
        hashes = [tlog.leaf_hash(tlog.record_leaf(*r[:7])) for r in log[:size]]
        root = root if root is not None else tlog.merkle_root(hashes)
        previous, _ = self.last.get(origin, (0, []))
        if proof is None:
            proof = tlog.consistency_proof(hashes, previous) if 0 < previous < size else []
        body = tlog.Checkpoint(origin, size, root, ()).body()
        note = tlog.sign_note(body, "emining-platform", (key or self.platform).seed)
        value = {"note": note, "time": T0 + len(self.checkpoints),
                 "previous_size": previous,
                 "consistency": [base64.b64encode(p).decode() for p in proof]}
        self.checkpoints.append(RawRecord(CP_TOPIC, 0, len(self.checkpoints), 0, origin.encode(),
                                          json.dumps(value).encode(), ()))
        self.last[origin] = (size, hashes)
        for org in witnesses:
            self.cosign(origin, size, root, body, org)
        return body

    def cosign(self, origin: str, size: int, root: bytes, body: str, org: str,
               key: PrivateKey | None = None, at: int = T0, written_ms: int | None = None
               ) -> None:
        """A cosignature declaring time ``at``, its record written at ``written_ms``."""
        name = f"emining-witness/{org}"
        line = tlog.cosign(body, name, (key or self.parties.keys[org]).seed, at)
        value = {"origin": origin, "size": size, "root": base64.b64encode(root).decode(),
                 "witness": org, "key_name": name, "line": line}
        written = at * 1000 if written_ms is None else written_ms
        self.cosignatures.append(RawRecord(COSIG_TOPIC, 0, len(self.cosignatures), written,
                                           origin.encode(), json.dumps(value).encode(), ()))

    def refuse(self, origin: str, org: str, key: PrivateKey | None = None) -> None:
        said = Refusal(org, origin, RefusalKind.FORK, f"{CP_TOPIC}:0:1", sha256_hex(b"x"), T0)
        record = RefusalRecord.make(said, (key or self.parties.keys[org]).seed,
                                    "another root at size 8", "{}")
        self.refusals.append(RawRecord(REFUSAL_TOPIC, 0, len(self.refusals), T0 * 1000,
                                       origin.encode(), record.to_value(), ()))

    def judge(self, parties: pa.Parties, log: list[RawRecord], registry: Registry | None = None
              ) -> tuple[list[Finding], Completeness]:
        leaves = leaves_of(log)
        starts = dict.fromkeys(leaves, 0)
        judged = read_checkpoints(self.checkpoints, self.cosignatures,
                                  parties.trust_anchor, registry or parties.registry(),
                                  {origin_of(*tp) for tp in starts}.__contains__,
                                  self.refusals)
        return judge(leaves, starts, judged)
