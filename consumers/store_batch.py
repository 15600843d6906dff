"""One batch inside the store's transaction: lock the offsets, load what the fold needs, write it.

The consumed offsets live in the same transaction as the view changes, locked first, so that
whatever Kafka delivers (a redelivery after a crash, a batch a rebalance moved elsewhere), a
record is applied exactly when its offset is the partition's stored next offset.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Table, bindparam, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.fold import Changes, Fold, Position, Subject
from consumers.history import History
from consumers.store_schema import Tables
from consumers.verification import Accepted
from consumers.views.declare import View as Family
from consumers.views.models import TimelineEntry, ViewDoc
from consumers.views.registry import FAMILIES, FOLDING
from schemas.envelope import format_time
from schemas.events.corrections import Correction

TopicPartition = tuple[str, int]
DOC_CACHE_SIZE = 5_000


class DocCache:
    """Parsed view documents by the exact JSON text stored for them.

    Parsing a document re-runs the contract's validators (USCC checksums and all), the largest
    cost of loading a batch. A document is immutable, and the cache answers only for the very
    text the database holds now, so it can never hand out a stale view: not after another
    process wrote the subject, a rebuild swapped generations, or a transaction rolled back.
    """

    def __init__(self, size: int = DOC_CACHE_SIZE) -> None:
        self._size = size
        self._docs: OrderedDict[tuple[str, str], tuple[str, ViewDoc]] = OrderedDict()

    def parse(self, table: str, subject: str, text: str, family: Family) -> ViewDoc:
        key = (table, subject)
        found = self._docs.get(key)
        if found is not None and found[0] == text:
            self._docs.move_to_end(key)
            return found[1]
        view = family.view_type.model_validate_json(text)
        self.keep(table, subject, text, view)
        return view

    def keep(self, table: str, subject: str, text: str, view: ViewDoc) -> None:
        self._docs[(table, subject)] = (text, view)
        self._docs.move_to_end((table, subject))
        if len(self._docs) > self._size:
            self._docs.popitem(last=False)


def dialect_insert(conn: AsyncConnection, table: Table) -> Any:
    """The dialect's INSERT, for ON CONFLICT clauses (same API on SQLite and PostgreSQL)."""
    return (sqlite_insert if conn.dialect.name == "sqlite" else pg_insert)(table)


T = TypeVar("T")

_BUILT: dict[tuple[object, ...], Any] = {}


def once(key: tuple[object, ...], make: Callable[[], T]) -> T:
    """The statement ``make`` builds, built the first time ``key`` is asked for and kept.

    Building a statement (``select(...).where(...)``) and its cache key costs SQLAlchemy
    ~170 µs, many times what SQLite takes to run a small one, and a batch runs ~30
    (``benchmarks.bench_statements``; docs/performance.md, "Eighth pass"). The key names the
    statement, its ``Table`` objects (not their names: a table built again, for another schema
    or by a test, is another key) and, for a dialect's own INSERT, the dialect; lists of values
    go in expanding parameters."""
    found = _BUILT.get(key)
    if found is None:
        found = _BUILT[key] = make()
    return found


async def insert_rows(conn: AsyncConnection, table: Table,
                      rows: Sequence[dict[str, object]]) -> None:
    """``conn.execute(table.insert(), rows)`` without SQLAlchemy's work for each row.

    SQLAlchemy builds and processes each row's parameters in Python: ~4 µs of a 16-column
    timeline row's ~12.5 on SQLite (docs/performance.md, "Fifteenth pass"). Here the INSERT is
    compiled once per driver and set of keys (its positional placeholders and, on asyncpg, its
    casts), the columns' own bind conversions are applied where a type has one (the shipments'
    boolean ``on_hold``: what is not one, ``2`` or ``"false"``, is refused, as with SQLAlchemy)
    and the rows go to the driver as tuples in one ``executemany``. Stricter than SQLAlchemy's,
    which drops a key the table lacks: rows whose keys differ, or name a column the table lacks,
    are refused (``tests/integration/views/test_store_rows.py`` reads rows written both ways
    back equal)."""
    if not rows:
        return
    keys = tuple(rows[0])
    first = rows[0].keys()
    if any(row.keys() != first for row in rows):
        raise ValueError(f"rows for {table.name} do not all have the same columns")
    dialect = conn.dialect
    sql, order, convert = once(
        ("insert_rows", table, dialect.name, dialect.driver, dialect.paramstyle, keys),
        lambda: _positional_insert(conn, table, keys))
    if convert:
        params = [tuple(f(row[k]) if f else row[k] for k, f in zip(order, convert, strict=True))
                  for row in rows]
    else:
        params = [tuple(row[k] for k in order) for row in rows]
    await conn.exec_driver_sql(sql, params)


Convert = Callable[[object], object] | None


def _positional_insert(
    conn: AsyncConnection, table: Table, keys: tuple[str, ...],
) -> tuple[str, tuple[str, ...], tuple[Convert, ...]]:
    """The INSERT of ``keys`` for ``conn``'s driver, its parameters' order and, when a column's
    type converts what it binds, each position's conversion (else an empty tuple)."""
    unknown = set(keys) - set(table.c.keys())
    if unknown:  # compiled with them, the INSERT would leave them out silently
        raise CompileError(f"Unconsumed column names: {', '.join(sorted(unknown))}")
    dialect = conn.dialect
    compiled = table.insert().compile(dialect=dialect, column_keys=list(keys))
    if not compiled.positional or compiled.positiontup is None:  # pragma: no cover - ours are
        raise TypeError(f"{dialect.name}'s parameters are not positional")
    order = tuple(compiled.positiontup)
    convert = tuple(table.c[k].type.dialect_impl(dialect).bind_processor(dialect) for k in order)
    return compiled.string, order, convert if any(convert) else ()


def expanding(name: str) -> Any:
    """An ``IN`` list's parameter, bound at each execution (one built statement for any list)."""
    return bindparam(name, expanding=True)

IN_CHUNK = 900
"""Values per ``IN (…)`` list at most: SQLite builds before 3.32 allow 999 variables in a
statement (later ones 32,766, PostgreSQL 32,767)."""


def in_chunks(values: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """``values`` in runs of at most ``size``: one statement each where a list of them would
    be one ``IN (…)`` with a variable per value."""
    for start in range(0, len(values), size):
        yield values[start:start + size]


async def lock_offsets(
    conn: AsyncConnection, t: Tables, partitions: Iterable[TopicPartition]
) -> dict[TopicPartition, int]:
    """The stored next offset of each partition, locked until the transaction ends."""
    wanted = sorted(set(partitions))
    if not wanted:
        return {}
    rows = [{"topic": tp[0], "log_partition": tp[1], "next_offset": 0} for tp in wanted]
    dialect, oc = conn.dialect.name, t.offsets.c
    await conn.execute(once(("offsets_insert", t.offsets, dialect), lambda: dialect_insert(
        conn, t.offsets).on_conflict_do_nothing()), rows)
    query = once(("offsets_locked", t.offsets), lambda: (
        select(oc.topic, oc.log_partition, oc.next_offset)
        .where(tuple_(oc.topic, oc.log_partition).in_(expanding("partitions")))
        .order_by(oc.topic, oc.log_partition).with_for_update()))
    stored = {(r.topic, r.log_partition): r.next_offset
              for r in await conn.execute(query, {"partitions": wanted})}
    return {tp: stored[tp] for tp in wanted}


async def stored_offsets(conn: AsyncConnection, t: Tables) -> dict[TopicPartition, int]:
    rows = await conn.execute(select(t.offsets.c.topic, t.offsets.c.log_partition,
                                     t.offsets.c.next_offset))
    return {(r.topic, r.log_partition): r.next_offset for r in rows}


def entry_of(row: object) -> TimelineEntry:
    m = dict(row._mapping)  # type: ignore[attr-defined]  # noqa: SLF001 - SQLAlchemy's public Row API
    m["partition"], m["offset"] = m.pop("log_partition"), m.pop("log_offset")
    m.pop("sequence", None)
    m.pop("record", None)
    return TimelineEntry.model_validate(m)


async def load(
    conn: AsyncConnection, t: Tables, batch: Sequence[tuple[Accepted, Position]],
    docs: DocCache,
) -> Fold:
    """Everything the fold of ``batch`` reads: its subjects, their histories, its sources."""
    fold = Fold({}, History())
    await load_more(conn, t, fold, batch, docs)
    return fold


async def _subjects(conn: AsyncConnection, t: Tables, fresh: Sequence[tuple[Accepted, Position]],
                    docs: DocCache) -> dict[str, Subject]:
    """The stored views and last timeline positions of ``fresh``'s subjects."""
    families: dict[str, Family] = {a.envelope.subject: FAMILIES[a.family] for a, _ in fresh}
    subjects = {s: Subject(family=f, view=None) for s, f in families.items()}
    for family in {f.name: f for f in families.values()}.values():
        table = t.view(family.name)
        names = [s for s, f in families.items() if f is family]
        for row in await conn.execute(select(table.c.subject, table.c.doc)
                                      .where(table.c.subject.in_(names))):
            subjects[row.subject].view = docs.parse(table.name, row.subject, row.doc, family)
        for other in FOLDING.get(family.topics[0], ()):
            table = t.view(other.name)
            for row in await conn.execute(select(table.c.subject, table.c.doc)
                                          .where(*t.scope(other.name),
                                                 table.c.subject.in_(names))):
                subjects[row.subject].others[other.name] = docs.parse(
                    f"{table.name}:{other.name}", row.subject, row.doc, other)
    tl = t.timeline
    if subjects:
        query = once(("last_positions", tl), lambda: (
            select(tl.c.subject, func.max(tl.c.position))
            .where(tl.c.subject.in_(expanding("subjects"))).group_by(tl.c.subject)))
        for row in await conn.execute(query, {"subjects": list(subjects)}):
            subjects[row[0]].last_position = row[1]
    return subjects


async def load_more(
    conn: AsyncConnection, t: Tables, fold: Fold, batch: Sequence[tuple[Accepted, Position]],
    docs: DocCache,
) -> None:
    """Load into ``fold`` what ``batch`` needs and it does not have yet (released records)."""
    if not batch:
        return
    fresh = [(a, p) for a, p in batch if a.envelope.subject not in fold.subjects]
    if not fresh and not any(isinstance(a.envelope.data, Correction) for a, _ in batch) \
            and all((a.envelope.source, a.envelope.id) in fold.checked for a, _ in batch):
        return  # everything is loaded already (the usual case for a released record)
    subjects = await _subjects(conn, t, fresh, docs)
    fold.subjects.update(subjects)
    tl = t.timeline
    corrected = {a.envelope.subject for a, _ in batch if isinstance(a.envelope.data, Correction)
                 and fold.subjects[a.envelope.subject].timeline is None}
    if corrected:  # a correction re-folds its subject's history: stored, then this batch's
        stored: dict[str, list[TimelineEntry]] = {subject: [] for subject in corrected}
        for row in await conn.execute(select(tl).where(tl.c.subject.in_(corrected))
                                      .order_by(tl.c.subject, tl.c.position)):
            stored[row.subject].append(entry_of(row))
        for subject, entries in stored.items():
            new, updated = fold.unwritten(subject)
            fold.subjects[subject].timeline = [updated.get(e.position, e) for e in entries] + \
                sorted(new, key=lambda e: e.position)
    unknown = [(a, p) for a, p in batch if (a.envelope.source, a.envelope.id) not in fold.checked
               or (p.topic, p.partition, a.envelope.source) not in fold.positions_known]
    if not unknown:
        return
    history = await _history(conn, t, unknown)
    fold.history.seen |= history.seen
    for key, value in history.last_sequence.items():
        fold.history.last_sequence.setdefault(key, value)
    fold.checked |= {(a.envelope.source, a.envelope.id) for a, _ in unknown}
    fold.positions_known |= {(p.topic, p.partition, a.envelope.source) for a, p in unknown}


async def _history(
    conn: AsyncConnection, t: Tables, batch: Sequence[tuple[Accepted, Position]]
) -> History:
    pairs = {(a.envelope.source, a.envelope.id) for a, _ in batch}
    tl, pos = t.timeline, t.positions
    seen_query = once(("seen", tl), lambda: select(tl.c.source, tl.c.event_id)
                      .where(tl.c.event_id.in_(expanding("ids"))))
    rows = await conn.execute(seen_query, {"ids": sorted({p[1] for p in pairs})})
    seen = {(r.source, r.event_id) for r in rows} & pairs
    keys = {(p.topic, p.partition, a.envelope.source) for a, p in batch}
    last_query = once(("last_sequences", pos), lambda: select(pos).where(
        pos.c.source.in_(expanding("sources")), pos.c.topic.in_(expanding("topics"))))
    rows = await conn.execute(last_query, {"sources": sorted({k[2] for k in keys}),
                                           "topics": sorted({k[0] for k in keys})})
    last = {(r.topic, r.log_partition, r.source): r.last_sequence for r in rows}
    return History(seen=seen, last_sequence={k: v for k, v in last.items() if k in keys})


def view_row(family: Family, subject: str, view: ViewDoc) -> dict[str, object]:
    """The row of a view document: the document and the columns queries filter on."""
    row: dict[str, object] = {"subject": subject, "party": family.party(view),
                              "updated_at": format_time(view.updated_at),  # type: ignore[attr-defined]
                              "doc": view.model_dump_json()}
    row.update(family.row(view))
    return row


def entry_row(item: TimelineEntry) -> dict[str, object]:
    row = item.model_dump(exclude={"partition", "offset", "time"})
    row.update(time=format_time(item.time), log_partition=item.partition, log_offset=item.offset)
    return row


def _positions_upsert(conn: AsyncConnection, t: Tables) -> Any:
    stmt = dialect_insert(conn, t.positions)
    return stmt.on_conflict_do_update(index_elements=["topic", "log_partition", "source"],
                                      set_={"last_sequence": stmt.excluded.last_sequence})


async def write(
    conn: AsyncConnection, t: Tables, changes: Changes, offsets: dict[TopicPartition, int],
    applied_at: datetime, docs: DocCache,
) -> None:
    """Write a batch's changes and its partitions' new next offsets (same transaction)."""
    for family in {f.name: f for f, _, _ in [*changes.views, *changes.others]}.values():
        table, scope = t.view(family.name), t.scope(family.name)
        cache = table.name if not scope else f"{table.name}:{family.name}"
        mine = [(s, v) for f, s, v in [*changes.views, *changes.others] if f is family]
        await conn.execute(table.delete().where(*scope,
                                                table.c.subject.in_([s for s, _ in mine])))
        kept = [(s, v) for s, v in mine if v is not None]
        rows = [view_row(family, s, v) | ({"view": family.name} if scope else {})
                for s, v in kept]
        for row, (subject, view) in zip(rows, kept, strict=True):
            docs.keep(cache, subject, str(row["doc"]), view)
        await insert_rows(conn, table, rows)
    if changes.reset:
        await conn.execute(t.timeline.delete().where(t.timeline.c.subject.in_(changes.reset)))
    if changes.new_entries:
        rows = []
        for e in changes.new_entries:
            sequence, record = changes.provenance.get((e.subject, e.position), (0, "{}"))
            rows.append(entry_row(e) | {"sequence": sequence, "record": record})
        await insert_rows(conn, t.timeline, rows)
    if changes.updated_entries:
        tl = t.timeline
        await conn.execute(
            once(("entries_update", tl), lambda: update(tl).where(
                tl.c.subject == bindparam("s"), tl.c.position == bindparam("p"))
                .values(effective=bindparam("e"), superseded_by=bindparam("by"))),
            [{"s": e.subject, "p": e.position, "e": e.effective, "by": e.superseded_by}
             for e in changes.updated_entries])
    if changes.positions:
        await conn.execute(
            once(("positions_upsert", t.positions, conn.dialect.name),
                 lambda: _positions_upsert(conn, t)),
            [{"topic": k[0], "log_partition": k[1], "source": k[2], "last_sequence": v}
             for k, v in changes.positions.items()])
    if offsets:
        oc = t.offsets.c
        await conn.execute(
            once(("offsets_update", t.offsets), lambda: update(t.offsets).where(
                oc.topic == bindparam("t"), oc.log_partition == bindparam("p"))
                .values(next_offset=bindparam("n"), applied_at=bindparam("at"))),
            [{"t": tp[0], "p": tp[1], "n": n, "at": format_time(applied_at)}
             for tp, n in offsets.items()])
