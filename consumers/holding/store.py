"""The chain stage's rows in the view store: the batch lock and the held records' version, the
source chains, the held records (read, written, listed for the read API and the CLI)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Text,
    bindparam,
    cast,
    delete,
    func,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.holding.records import Chain, Held, Hold, Key, parse_held_at
from consumers.store_batch import dialect_insert
from consumers.store_schema import Tables, views_meta
from consumers.stored_record import StoredRecord
from schemas.envelope import format_time

_VERSION = select(views_meta.c.value).where(views_meta.c.key == bindparam("version_key"))
_VERSION_LOCKED = _VERSION.with_for_update()
_BUMP = (update(views_meta).where(views_meta.c.key == bindparam("version_key"))
         .values(value=cast(cast(views_meta.c.value, BigInteger) + 1, Text))
         .returning(views_meta.c.value))
"""Built once (each batch runs them; see ``consumers.store._LIVE``)."""


async def held_version(conn: AsyncConnection, tables: Tables, *, lock: bool = False) -> int:
    """How many batches of this generation have finished (the held records' version).

    ``lock=True`` (each batch, first thing in its transaction) takes the store's batch lock:
    the row stays locked until the batch commits or rolls back, so the batches of every
    consumer process writing one store apply one after the other, each reading what the
    previous one committed (see ``lock_batches``)."""
    key = {"version_key": _version_key(tables)}
    if not lock:
        row = (await conn.execute(_VERSION, key)).scalar_one_or_none()
        return int(row) if row is not None else 0
    row = (await conn.execute(_VERSION_LOCKED, key)).scalar_one_or_none()
    if row is None:  # the generation's first batch: create the row, then lock it
        await conn.execute(dialect_insert(conn, views_meta)
                           .values(key=key["version_key"], value="0").on_conflict_do_nothing())
        row = (await conn.execute(_VERSION_LOCKED, key)).scalar_one()
    return int(row)


async def lock_batches(conn: AsyncConnection, tables: Tables) -> int:
    """The store's batch lock, taken first in each batch transaction; returns the held
    records' version.

    The chain stage reads across partitions: a batch releases records another partition's
    batch held (``sequence_gap``, ``behind``), undoes what a fork's first branch applied, and
    reads the source chains and held records of every source it meets. Two batches of two
    processes (several ``emining views run`` sharing the partitions) running at once under
    PostgreSQL's READ COMMITTED could each miss the other's uncommitted held record and leave
    it held for good. With this lock the batches of one store are applied one after the other,
    each seeing everything committed before it: the views are those of one process reading the
    partitions in some interleaving, which every interleaving makes the same
    (``tests/unit/views/test_interleaving.py``). Verification, the costly part, runs before
    the transaction and so still in parallel. SQLite's ``BEGIN IMMEDIATE`` serialises writers
    already; there ``FOR UPDATE`` is not emitted and this is a plain read."""
    return await held_version(conn, tables, lock=True)


async def bump_held_version(conn: AsyncConnection, tables: Tables) -> int:
    """Count one more finished batch; returns the new version. Batches of other consumer
    processes on the same store count too, so a process whose held records in memory may be
    stale sees the version move by more than its own batch. Only after ``lock_batches`` in the
    same transaction, which made the row if it was missing."""
    row = await conn.execute(_BUMP, {"version_key": _version_key(tables)})
    return int(row.scalar_one())


def _version_key(tables: Tables) -> str:
    return f"held_version_{tables.generation}"


# ---- the source chains ---------------------------------------------------------------------

async def read_chains(conn: AsyncConnection, tables: Tables,
                      sources: Collection[str]) -> dict[str, Chain]:
    """The stored chains of ``sources`` (a source without a row has linked nothing yet)."""
    c = tables.chains.c
    return {row.source: Chain(row.head, row.head_hash, row.forked_at)
            for row in await conn.execute(select(tables.chains)
                                          .where(c.source.in_(sorted(sources))))}


async def read_chain(conn: AsyncConnection, tables: Tables, source: str) -> Chain:
    c = tables.chains.c
    row = (await conn.execute(select(tables.chains).where(c.source == source))).first()
    return Chain(row.head, row.head_hash, row.forked_at) if row else Chain()


async def write_chains(conn: AsyncConnection, tables: Tables, chains: Mapping[str, Chain]) -> None:
    stmt = dialect_insert(conn, tables.chains)
    await conn.execute(
        stmt.on_conflict_do_update(index_elements=["source"], set_={
            "head": stmt.excluded.head, "head_hash": stmt.excluded.head_hash,
            "forked_at": stmt.excluded.forked_at}),
        [{"source": s, "head": chain.head, "head_hash": chain.head_hash,
          "forked_at": chain.forked_at} for s, chain in chains.items()])


# ---- the held records ----------------------------------------------------------------------

def held_of_row(row: Any) -> Held:
    """A held record from its row (all columns of ``held``)."""
    return Held(StoredRecord.loads(row.record, row.log_partition, row.log_offset),
                row.source, row.sequence, row.subject, row.event_id, Hold(row.reason),
                row.alerted, parse_held_at(row.held_at))


async def count_held(conn: AsyncConnection, tables: Tables) -> int:
    return int((await conn.execute(select(func.count()).select_from(tables.held))).scalar_one())


async def held_rows(conn: AsyncConnection, tables: Tables, *, sources: Collection[str] = (),
                    subjects: Collection[str] = ()) -> list[Any]:
    """The held rows of ``sources`` and ``subjects`` (parsed by the caller with
    ``held_of_row``, which can skip the rows it has already)."""
    h = tables.held
    return list(await conn.execute(select(h).where(or_(h.c.source.in_(sorted(sources)),
                                                       h.c.subject.in_(sorted(subjects))))))


async def all_held(conn: AsyncConnection, tables: Tables) -> list[Held]:
    return [held_of_row(row) for row in await conn.execute(select(tables.held))]


async def held_again(conn: AsyncConnection, tables: Tables,
                     stale: Collection[Held]) -> list[Held]:
    """Every held row, its record taken from ``stale`` where it has one (parsing the stored
    records is most of the cost of reading them all), from the store for the others."""
    records = {h.key: h.record for h in stale}
    h = tables.held.c
    rows = (await conn.execute(select(h.topic, h.log_partition, h.log_offset, h.source,
                                      h.sequence, h.subject, h.event_id, h.reason,
                                      h.alerted, h.held_at))).all()
    missing = [(r.topic, r.log_partition, r.log_offset) for r in rows
               if (r.topic, r.log_partition, r.log_offset) not in records]
    for start in range(0, len(missing), 1000):
        for row in await conn.execute(
                select(h.topic, h.log_partition, h.log_offset, h.record).where(
                    tuple_(h.topic, h.log_partition, h.log_offset)
                    .in_(missing[start:start + 1000]))):
            records[(row.topic, row.log_partition, row.log_offset)] = StoredRecord.loads(
                row.record, row.log_partition, row.log_offset)
    return [Held(records[(r.topic, r.log_partition, r.log_offset)], r.source, r.sequence,
                 r.subject, r.event_id, Hold(r.reason), r.alerted, parse_held_at(r.held_at))
            for r in rows]


async def unalerted_rows(conn: AsyncConnection, tables: Tables,
                         reasons: Iterable[Hold]) -> list[Any]:
    """The stored held rows for ``reasons`` no alert was raised for yet."""
    h = tables.held
    return list(await conn.execute(select(h).where(h.c.reason.in_([r.value for r in reasons]),
                                                   h.c.alerted.is_(False))))


async def write_held(conn: AsyncConnection, tables: Tables, removed: Collection[Key],
                     rows: Collection[Held]) -> None:
    """Delete the ``removed`` held records, insert or update ``rows``."""
    h = tables.held.c
    if removed:
        await conn.execute(
            delete(tables.held).where(h.topic == bindparam("t"),
                                      h.log_partition == bindparam("p"),
                                      h.log_offset == bindparam("o")),
            [{"t": k[0], "p": k[1], "o": k[2]} for k in sorted(removed)])
    if rows:
        now = format_time(datetime.now(UTC))
        stmt = dialect_insert(conn, tables.held)
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["topic", "log_partition", "log_offset"],
                set_={"reason": stmt.excluded.reason, "alerted": stmt.excluded.alerted}),
            [{"topic": r.record.topic, "log_partition": r.record.partition,
              "log_offset": r.record.offset, "source": r.source, "sequence": r.sequence,
              "subject": r.subject, "event_id": r.event_id, "reason": r.reason.value,
              "record": r.record.dumps(), "alerted": r.alerted,
              "held_at": format_time(r.held_at) if r.held_at is not None else now}
             for r in rows])


async def held_records(conn: AsyncConnection, tables: Tables) -> list[dict[str, object]]:
    """Every held record, for the read API and the CLI."""
    h = tables.held
    rows = await conn.execute(select(h.c.topic, h.c.log_partition, h.c.log_offset, h.c.source,
                                     h.c.sequence, h.c.subject, h.c.event_id, h.c.reason,
                                     h.c.held_at).order_by(h.c.source, h.c.sequence))
    return [dict(r._mapping) for r in rows]  # noqa: SLF001 - SQLAlchemy's public Row API
