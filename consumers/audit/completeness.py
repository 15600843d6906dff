"""Completeness: the log holds exactly what the platform's cosigned checkpoints committed to.

Every partition of the audited topics is a transparency log of its own (origin
``emining/<topic>/<partition>``, leaf ``i`` the record at its ``i``-th offset, hashed as
``schemas.tlog.record_leaf`` says). The checkpointer publishes signed checkpoints of each log
(size and RFC 9162 root) with a consistency proof from the previous one; witnesses of both sides
cosign what they checked. Here the audit judges all of it against the log as it reads it:

- each checkpoint is signed by the platform (the trust anchor's key);
- its root is the root of the log's first ``size`` leaves, which proves every one of those
  records is included as it was when checkpointed; a mismatch is placed between the last
  checkpoint that matches and the first that does not (records rewritten or reordered there);
- a log shorter than a checkpoint lost its tail (a topic recreated without its last records);
- consecutive checkpoints of one log are consistent (their proofs verify, no two roots at one
  size): otherwise the platform showed two histories, a fork;
- each checkpoint has a valid cosignature from a witness of each side (a warning if not).

The log's leaves and roots are ``consumers.audit.leaves``; the checkpoints, cosignatures and
refusals, read and verified, ``consumers.audit.cosigned``; the judgment is here.
"""

from __future__ import annotations

from collections.abc import Mapping

import structlog

from consumers.audit.cosigned import Checkpoint, Judged, b64, finding_at
from consumers.audit.findings import Completeness, Finding, Head, Kind
from consumers.audit.leaves import TP, PartitionLeaves, origin_of, roots_at
from schemas import tlog
from schemas.enums import Side

log = structlog.get_logger("consumers.audit.completeness")

SIDES = (Side.PK, Side.CN)


def judge_orphans(tp: TP, leaves: PartitionLeaves, heads: list[Checkpoint],
                  longest: int) -> list[Finding]:
    """Cosigned heads missing from the checkpoints topic against the log: a tail dropped
    (beyond what a checkpoint already shows) or records rewritten."""
    findings: list[Finding] = []
    log_roots = roots_at(leaves, [h.size for h in heads])
    end = leaves.offsets[-1] + 1 if len(leaves) else 0
    for head in sorted(heads, key=lambda h: h.size):
        if head.size > len(leaves):
            if head.size > longest:
                findings.append(Finding(
                    tp[0], tp[1], end, None, None, Kind.TAIL_DROPPED,
                    f"tail dropped: a witness cosigned {head.size} records of {head.origin} on "
                    f"{head.time} (its checkpoint is missing), the log has {len(leaves)}: "
                    f"{head.size - len(leaves)} record(s) at the end are gone"))
                longest = head.size
        elif log_roots[head.size] != head.root:
            findings.append(_rewritten(tp, leaves, 0, head.size, head, 0))
    return findings


def _range(leaves: PartitionLeaves, first: int, stop: int) -> str:
    """Offsets of leaves ``first..stop-1`` as text."""
    a, b = leaves.offsets[first], leaves.offsets[stop - 1]
    return f"offset {a}" if a == b else f"offsets {a}..{b}"


def judge_log(tp: TP, leaves: PartitionLeaves, checkpoints: list[Checkpoint]
              ) -> list[Finding]:
    """One log against its valid checkpoints (in log order): forks, roots, the tail."""
    findings, links = _consistency(checkpoints)
    roots: dict[int, set[bytes]] = {}
    for cp in checkpoints:
        roots.setdefault(cp.size, set()).add(cp.root)
    log_roots = roots_at(leaves, roots)  # a size beyond the log cannot be checked against it
    matched, failing = 0, False
    for cp in sorted(checkpoints, key=lambda c: (c.size, c.partition, c.offset)):
        if cp.size > len(leaves):
            continue
        if cp.root == log_roots[cp.size]:
            matched, failing = cp.size, False
            continue
        if log_roots[cp.size] in roots[cp.size]:
            continue  # another checkpoint of this size matches the log: a fork, named as such
        base = links.get((cp.partition, cp.offset))
        if base is not None:  # the proof's nodes are what the checkpoint committed to there
            found = _differing(tp, leaves, base, cp)
            findings += found
            failing = failing or bool(found)
            continue
        if failing:
            continue  # implied by the difference already named below this size
        failing = True
        findings.append(_rewritten(tp, leaves, matched, cp.size, cp, matched))
    longest = max(checkpoints, key=lambda c: (c.size, -c.offset), default=None)
    if longest is not None and longest.size > len(leaves):
        end = leaves.offsets[-1] + 1 if len(leaves) else 0
        findings.append(Finding(
            tp[0], tp[1], end, None, None, Kind.TAIL_DROPPED,
            f"tail dropped: the {longest.where()} covers {longest.size} records, the log has "
            f"{len(leaves)}: {longest.size - len(leaves)} record(s) at the end are gone "
            + ("(deleted, or the topic was recreated without them)" if len(leaves) else
               "(the partition is empty or no longer exists)")))
    return findings


def _rewritten(tp: TP, leaves: PartitionLeaves, first: int, stop: int, cp: Checkpoint,
               matched: int) -> Finding:
    still = f" (the checkpoint of size {matched} still matches)" if matched else ""
    return Finding(tp[0], tp[1], leaves.offsets[first], None, None, Kind.LOG_REWRITTEN,
                   f"records at {_range(leaves, first, stop)} differ from what the "
                   f"{cp.where()} committed to: rewritten or reordered{still}")


def proof_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The leaf range ``[lo, hi)`` each node of an RFC 9162 consistency proof from ``old_size``
    to ``new_size`` is the hash of, in proof order (``SUBPROOF``'s recursion, without hashes).
    Each lies wholly below ``old_size`` or wholly at or above it."""

    def sub(m: int, lo: int, hi: int, *, whole: bool) -> list[tuple[int, int]]:
        n = hi - lo
        if m == n:
            return [] if whole else [(lo, hi)]
        k = 1 << ((n - 1).bit_length() - 1)
        if m <= k:
            return [*sub(m, lo, lo + k, whole=whole), (lo + k, hi)]
        return [*sub(m - k, lo + k, hi, whole=False), (lo, lo + k)]

    if not 0 < old_size < new_size:
        return []
    return sub(old_size, 0, new_size, whole=True)


def _differing(tp: TP, leaves: PartitionLeaves, base: Checkpoint, cp: Checkpoint
               ) -> list[Finding]:
    """The records between ``base`` and ``cp`` that differ from what ``cp`` committed to: the
    verified consistency proof holds the hash of each subtree there, compared with the log's."""
    out = []
    for (lo, hi), node in zip(proof_ranges(base.size, cp.size), cp.consistency, strict=False):
        if lo < base.size:
            continue  # below the previous checkpoint: judged against that one
        if tlog.merkle_root([leaves.leaf(i) for i in range(lo, hi)]) != node:
            out.append(_rewritten(tp, leaves, lo, hi, cp, 0))
    return out


def _consistency(checkpoints: list[Checkpoint]
                 ) -> tuple[list[Finding], dict[tuple[int, int], Checkpoint]]:
    """Each checkpoint against the one before it in the log: one append-only history. Also,
    per checkpoint (by its position), the earlier one its verified consistency proof starts at."""
    findings: list[Finding] = []
    links: dict[tuple[int, int], Checkpoint] = {}
    known: dict[int, Checkpoint] = {}
    previous: Checkpoint | None = None
    for cp in checkpoints:
        same = known.get(cp.size)
        if same is not None and same.root != cp.root:
            findings.append(finding_at(cp, Kind.CHECKPOINT_FORK, (
                f"fork: the {cp.where()} of {cp.origin} has root {b64(cp.root)[:12]}…, the "
                f"{same.where()} root {b64(same.root)[:12]}…: two histories of one size")))
        elif previous is not None and cp.size < previous.size:
            findings.append(finding_at(cp, Kind.CHECKPOINT_FORK, (
                f"fork: the {cp.where()} of {cp.origin} is smaller than the earlier "
                f"{previous.where()}: the log went back")))
        elif previous is not None and cp.size > previous.size:
            base = previous if cp.previous_size is None else known.get(cp.previous_size)
            if base is not None and base.size:
                if tlog.verify_consistency(base.size, cp.size, base.root, cp.root,
                                           list(cp.consistency)):
                    links[(cp.partition, cp.offset)] = base
                else:
                    findings.append(finding_at(cp, Kind.CHECKPOINT_FORK, (
                        f"fork: the consistency proof from the {base.where()} to the "
                        f"{cp.where()} of {cp.origin} does not verify: not one append-only "
                        "history")))
        known.setdefault(cp.size, cp)
        if previous is None or cp.size >= previous.size:
            previous = cp
    return findings, links


def judge(
    leaves: Mapping[TP, PartitionLeaves],
    starts: Mapping[TP, int],
    judged: Judged,
) -> tuple[list[Finding], Completeness]:
    """Every audited log (``starts``: its first offset) against its checkpoints; a log that
    was checkpointed but whose partition is gone counts as empty."""
    summary = Completeness(checkpoints=judged.read, cosignatures=judged.cosignatures,
                           refusals=judged.refusals, logs=len(starts))
    findings = list(judged.findings)
    gone = {tlog.parse_origin(o) for o in (*judged.checkpoints, *judged.orphans)
            if _is_origin(o)} - set(starts)
    for tp in sorted({*starts, *gone}):
        origin = origin_of(*tp)
        cps = judged.checkpoints.get(origin, [])
        got = leaves.get(tp) or PartitionLeaves()
        summary.valid += len(cps)
        orphans = judged.orphans.get(origin, [])
        if orphans and starts.get(tp, 0) == 0:
            longest = max((c.size for c in cps), default=0)
            findings += judge_orphans(tp, got, orphans,
                                      max(len(got), longest))
        if not cps:
            summary.records_pending += len(got)
            continue
        if starts.get(tp, 0) > 0:
            continue  # the log no longer starts at 0: truncation is reported, roots cannot be
        findings += judge_log(tp, got, cps)
        newest = max(cps, key=lambda c: (c.size, c.offset))
        summary.records_checkpointed += min(newest.size, len(got))
        summary.records_pending += max(len(got) - newest.size, 0)
        for cp in cps:
            sides = judged.sides(cp)
            if sides >= set(SIDES):
                summary.cosigned_both += 1
                continue
            missing = [s.value for s in SIDES if s not in sides]
            findings.append(finding_at(cp, Kind.COSIGNATURE_MISSING, (
                f"the {cp.where()} of {origin} has no valid cosignature from a "
                f"{' or '.join(missing)}-side witness")))
        summary.heads.append(Head(origin, newest.size, newest.time, len(got),
                                  sorted(s.value for s in judged.sides(newest))))
    log.info("completeness_judged", logs=summary.logs, checkpoints=summary.checkpoints,
             valid=summary.valid, pending=summary.records_pending, findings=len(findings))
    return findings, summary


def _is_origin(origin: str) -> bool:
    try:
        tlog.parse_origin(origin)
    except tlog.TlogError:
        return False
    return True


def no_checkpoints(topic: str, starts: Mapping[TP, int], leaves: Mapping[TP, PartitionLeaves],
                   ) -> tuple[list[Finding], Completeness]:
    """The checkpoints topic is missing (or empty): one warning, nothing proven."""
    summary = Completeness(logs=len(starts), topic_missing=True,
                           records_pending=sum(len(v) for v in leaves.values()))
    return [Finding(topic, 0, 0, None, None, Kind.NO_CHECKPOINTS,
                    "no checkpoints: completeness not proven (no record's inclusion, no tail and "
                    "no order is backed by a cosigned checkpoint)")], summary
