"""Tests of the shared CSV import/export machinery."""

from __future__ import annotations

import io

import pytest
from werkzeug.datastructures import FileStorage

from placements.csvio import (
    ColumnSpec,
    CSVError,
    RowError,
    collect_errors,
    csv_response,
    parse_bool,
    parse_date,
    parse_email,
    parse_int,
    parse_tags,
    read_csv,
    safe_cell,
    template_response,
)

COLUMNS = {
    "ref": ColumnSpec(required=True, max_length=5, example="S1"),
    "km": ColumnSpec(parse=parse_int(1, 500), default=25, example="25"),
    "tags": ColumnSpec(parse=parse_tags(["dbs", "cscs"]), default=[], example="dbs"),
    "email": ColumnSpec(parse=parse_email),
}


def test_reads_bom_and_header_variants():
    data = "\ufeffRef, KM ,Tags,Extra\r\nA1,30,dbs;CSCS,x\n\nA2,,,\n".encode()
    rows = read_csv(data, columns=COLUMNS)
    assert [r.number for r in rows] == [2, 4]
    assert rows[0].values == {"ref": "A1", "km": 30, "tags": ["dbs", "cscs"], "email": None}
    assert rows[1]["km"] == 25
    assert rows[1]["tags"] == []


def test_file_storage_source():
    fs = FileStorage(stream=io.BytesIO(b"ref\nA1\n"), filename="x.csv")
    assert read_csv(fs, columns=COLUMNS)[0]["ref"] == "A1"


def test_every_bad_row_reported():
    data = b"ref,km,tags,email\n,0,dbs,a@b.co\nTOOLONG,x,nope,bad\nok,5,,\n"
    rows = read_csv(data, columns=COLUMNS)
    errors = collect_errors(rows)
    assert errors == sorted(errors)
    assert {(e.row, e.field) for e in errors} == {
        (2, "ref"), (2, "km"), (3, "ref"), (3, "km"), (3, "tags"), (3, "email")}
    assert "at least 1" in next(e.message for e in errors if e.row == 2 and e.field == "km")


def test_check_callback_adds_errors_for_clean_rows_only():
    rows = read_csv(b"ref,km\nA,x\nB,3\n", columns=COLUMNS)
    errors = collect_errors(rows, check=lambda row: [("ref", f"unknown {row['ref']}")])
    assert errors == [RowError(2, "km", "Enter a whole number"), RowError(3, "ref", "unknown B")]


@pytest.mark.parametrize(("data", "message"), [
    (b"", "empty"),
    (b"km\n1\n", "ref is missing"),
    (b"ref,ref\nA,B\n", "more than once"),
    (b"ref\n", "no data rows"),
    ("ref\nCaf\u00e9\n".encode("cp1252"), "UTF-8"),
])
def test_file_level_errors(data, message):
    with pytest.raises(CSVError) as info:
        read_csv(data, columns=COLUMNS)
    assert message in str(info.value)


def test_size_and_row_limits():
    with pytest.raises(CSVError, match="larger than"):
        read_csv(b"ref\n" + b"A\n" * 100, columns=COLUMNS, max_bytes=50)
    with pytest.raises(CSVError, match="more than 2 rows"):
        read_csv(b"ref\nA\nB\nC\n", columns=COLUMNS, max_rows=2)


def test_parsers():
    assert parse_bool("Yes") is True
    assert parse_bool("n") is False
    with pytest.raises(ValueError, match="yes or no"):
        parse_bool("maybe")
    assert parse_date("01/09/2026").isoformat() == "2026-09-01"
    assert parse_date("2026-09-01").isoformat() == "2026-09-01"
    with pytest.raises(ValueError, match="date"):
        parse_date("tomorrow")


@pytest.mark.parametrize("text", ["=1+1", "+44", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_safe_cell_neutralises_formulas(text):
    assert safe_cell(text) == "'" + text


def test_csv_response_and_template(app):
    with app.test_request_context():
        resp = csv_response("round 1.csv", ["name", "n"], [["=HYPERLINK(1)", 3], [None, True]])
        body = resp.get_data(as_text=True)
        assert resp.mimetype == "text/csv"
        assert 'filename="round_1.csv"' in resp.headers["Content-Disposition"]
        assert body.startswith("\ufeffname,n\r\n")
        assert "'=HYPERLINK(1),3" in body
        assert ",yes" in body
        tpl = template_response("learners.csv", COLUMNS).get_data(as_text=True)
        assert tpl.splitlines()[0] == "\ufeffref,km,tags,email"
        assert tpl.splitlines()[1] == "S1,25,dbs,"
