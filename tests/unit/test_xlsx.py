"""Excel workbooks: read like CSV (same columns, parsers and row numbers), told apart by
content, damaged or oversized files refused in words; written with formulas neutralised."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime

import openpyxl
import pytest

from placements.csvio import (
    ColumnSpec,
    CSVError,
    column_schema,
    is_xlsx,
    parse_bool,
    parse_date,
    parse_int,
    read_table,
    read_xlsx,
    rows_from_records,
    xlsx_bytes,
)

COLUMNS = {
    "ref": ColumnSpec(required=True, max_length=10),
    "count": ColumnSpec(parse=parse_int(1, 50), default=5),
    "day": ColumnSpec(parse=parse_date),
    "ok": ColumnSpec(parse=parse_bool),
}


def workbook(rows: list[list]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_rows_read_like_csv_with_sheet_row_numbers():
    data = workbook([["Ref", "Count", "Day", "OK", "Ignored"],
                     ["A1", 3, datetime(2026, 10, 5), True, "x"],
                     [None, None, None, None, None],
                     ["A2", 7.0, "05/10/2026", "no", None],
                     ["A3", 2.5, "not a date", "maybe", None]])
    assert is_xlsx(data)
    rows = read_table(data, columns=COLUMNS)
    assert [r.number for r in rows] == [2, 4, 5]
    assert rows[0].values == {"ref": "A1", "count": 3, "day": date(2026, 10, 5), "ok": True}
    assert rows[1].values["count"] == 7
    assert rows[1].values["day"] == date(2026, 10, 5)
    assert {e.field for e in rows[2].errors} == {"count", "day", "ok"}
    assert all(e.row == 5 for e in rows[2].errors)


def test_missing_headers_and_empty_sheets():
    with pytest.raises(CSVError) as exc:
        read_xlsx(workbook([["count"], [3]]), columns=COLUMNS)
    assert exc.value.errors[0].message == "The column ref is missing from the header row"
    with pytest.raises(CSVError, match="no data rows"):
        read_xlsx(workbook([["ref"]]), columns=COLUMNS)


def test_content_decides_not_the_name():
    csv_text = b"ref,count\r\nA1,3\r\n"
    assert not is_xlsx(csv_text)
    assert read_table(csv_text, columns=COLUMNS)[0].values["ref"] == "A1"
    other_zip = io.BytesIO()
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    assert not is_xlsx(other_zip.getvalue())
    with pytest.raises(CSVError):  # a zip that is not a workbook is read as (bad) CSV text
        read_table(other_zip.getvalue(), columns=COLUMNS)


def test_damaged_and_inflated_workbooks_are_refused_in_words():
    good = workbook([["ref"], ["A1"]])
    broken = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(broken, "w") as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            dst.writestr(info, body[: len(body) // 2] if info.filename.startswith(
                "xl/worksheets") else body)
    with pytest.raises(CSVError, match="cannot be read"):
        read_xlsx(broken.getvalue(), columns=COLUMNS)
    bomb = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(
            bomb, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
        dst.writestr("xl/padding.bin", b"\0" * 3_000_000)
    with pytest.raises(CSVError, match="too large once unpacked"):
        read_xlsx(bomb.getvalue(), columns=COLUMNS, max_bytes=100_000)


def test_written_workbooks_never_hold_formulas():
    data = xlsx_bytes(["name", "count", "when"],
                      [["=HYPERLINK(\"http://evil\")", 3, date(2026, 1, 2)],
                       ["+1", -4, None], ["@SUM(A1)", 2.5, True]])
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    values = [[c.value for c in row] for row in ws.iter_rows()]
    assert values[0] == ["name", "count", "when"]
    assert values[1][0] == "'=HYPERLINK(\"http://evil\")"
    assert values[1][1] == 3
    assert values[2][:2] == ["'+1", -4]
    assert values[3] == ["'@SUM(A1)", 2.5, "yes"]
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
    # What is exported reads back through the importer.
    assert read_table(xlsx_bytes(["ref", "count"], [["A1", 4]]), columns=COLUMNS)[0].values[
        "count"] == 4


def test_json_records_parse_by_the_same_columns():
    rows = rows_from_records([{"ref": "A1", "count": 3, "day": "2026-10-05", "ok": False},
                              {"ref": "A2", "count": 99, "extra": 1},
                              {"ref": ["x", 1]}, 7], COLUMNS)
    assert rows[0].values == {"ref": "A1", "count": 3, "day": date(2026, 10, 5), "ok": False}
    assert {(e.row, e.field) for e in rows[1].errors} == {(1, "count"), (1, "extra")}
    assert rows[2].errors[0].field == "ref"
    assert rows[3].errors[0].row == 3


def test_column_schemas_follow_the_parsers():
    assert column_schema(COLUMNS["ref"]) == {"type": "string", "maxLength": 10}
    assert column_schema(COLUMNS["count"]) == {"type": ["integer", "null"], "minimum": 1,
                                               "maximum": 50, "default": 5}
    assert column_schema(COLUMNS["day"])["format"] == "date"
