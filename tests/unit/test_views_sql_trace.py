"""``bench_views --sql``'s statement timer counts what a consumer runs, and comes off again."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, select

from benchmarks.views_sql_trace import Timings, install, summary


def test_the_timer_counts_statements_rows_and_commits_then_comes_off(tmp_path: Path) -> None:
    table = Table("t", MetaData(), Column("k", Integer, primary_key=True), Column("v", String))
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    table.metadata.create_all(engine)
    timings: Timings = {}
    uninstall = install(timings)
    try:
        with engine.begin() as conn:
            conn.execute(insert(table), [{"k": n, "v": str(n)} for n in range(3)])
            conn.execute(insert(table), {"k": 9, "v": "nine"})
            conn.execute(select(table)).all()
    finally:
        uninstall()
    inserts = timings["INSERT INTO t (k, v) VALUES"]
    assert inserts[0] == 2  # two statements: one executemany of 3 rows, one of 1
    assert inserts[2] == 4
    assert timings["SELECT t.k, t.v FROM t"][:1] == [1]
    assert timings["COMMIT"][0] == 1
    assert all(entry[1] >= 0 for entry in timings.values())
    with engine.begin() as conn:  # off again: nothing more is noted
        conn.execute(insert(table), {"k": 10, "v": "ten"})
    assert timings["INSERT INTO t (k, v) VALUES"][0] == 2
    assert timings["COMMIT"][0] == 1
    report = summary(timings, events=4)
    seconds = sum(entry[1] for entry in timings.values())
    assert report["us_per_event"] == round(seconds / 4 * 1e6, 1)
    assert report["top"][0]["seconds"] == max(round(e[1], 3) for e in timings.values())
    assert {t["statement"] for t in report["top"]} == set(timings)
