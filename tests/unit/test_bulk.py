"""Bulk import rows: every malformed row is named by line and field, nothing crashes."""

from __future__ import annotations

import json

from producers.bulk import Row, RowError, read_rows
from producers.chainstore import ChainStore
from schemas.catalogue import model_for

STAGE = "pk.emining.project.stage.changed"


def _jsonl(tmp_path, rows):
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    return path


def _row(**extra):
    return {"type": STAGE, "data": dict(model_for(STAGE).EXAMPLE), **extra}


def test_attribute_types_and_repeated_ids_are_row_errors(tmp_path):
    items = list(read_rows(_jsonl(tmp_path, [
        _row(id="a"), _row(time=123), _row(id=7), _row(id="a"), _row(id="x" * 129)])))
    assert isinstance(items[0], Row)
    errors = [(i.line, i.field, i.message) for i in items if isinstance(i, RowError)]
    assert errors == [
        (2, "time", "must be a string, got int"),
        (3, "id", "must be a string, got int"),
        (4, "id", "a was already used on line 1"),
        (5, "id", "must be 1-128 characters"),
    ]


def test_csv_with_extra_cells_or_clashing_columns_names_the_row(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("project_id,names,names.en\nPRJ-BA-CHG-0007,x,y\n"
                    "PRJ-BA-CHG-0007,,y,surplus\n")
    items = list(read_rows(path, STAGE))
    assert [(i.line, i.message) for i in items if isinstance(i, RowError)] == [
        (2, "column names.en nests under a column that holds a value"),
        (3, "the row has more cells than the header has columns"),
    ]


def test_sources_whose_names_slug_alike_keep_separate_chains(tmp_path):
    one = ChainStore(tmp_path, "urn:emining:pk:gov:a-b/x")
    two = ChainStore(tmp_path, "urn:emining:pk:gov:a/b-x")
    try:
        assert one.path != two.path
    finally:
        one.close()
        two.close()
