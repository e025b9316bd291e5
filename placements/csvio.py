"""CSV import and export machinery shared by every feature.

Import
------
Describe the columns once, then read and validate a whole upload before writing anything::

    COLUMNS = {
        "student_ref": ColumnSpec(required=True, max_length=40, example="S0001"),
        "max_travel_km": ColumnSpec(parse=parse_int(1, 500), default=25, example="25"),
        "credentials": ColumnSpec(parse=parse_tags(REQUIREMENTS), example="dbs;driving_licence"),
    }
    try:
        rows = read_csv(request.files["file"], columns=COLUMNS, max_bytes=2_000_000)
    except CSVError as exc:          # unreadable file, wrong headers, too big: exc.errors
        ...
    # rows: list[Row]; Row.number is the 1-based line in the file (header = line 1),
    # Row.values holds parsed values, Row.errors the RowErrors found while parsing.
    errors = collect_errors(rows, check=my_row_check)   # every error of every row
    if errors: show them (row, field, message) and write nothing

- `ColumnSpec(required=False, parse=str, default=None, max_length=None, help="", example="")`:
  `parse(text) -> value` raises `ValueError("plain message")` for bad input; an empty cell
  gives `default` (or a "Enter a value" error when `required`). Cells are stripped.
- `read_csv(source, *, columns, max_bytes=5_000_000, max_rows=100_000) -> list[Row]`:
  `source` is a werkzeug FileStorage, bytes or str. Decodes UTF-8 (a BOM is fine; Excel's
  cp1252 is refused with a clear message), requires every required header (case- and
  space-insensitive), ignores unknown headers, skips blank lines. Raises `CSVError` with a
  list of `RowError` for file-level problems.
- `collect_errors(rows, check=None) -> list[RowError]`: parse errors plus whatever
  `check(row) -> Iterable[RowError | tuple[field, message]]` reports (e.g. database look-ups),
  for every row, sorted by row.
- `RowError(row, field, message)`: `row` is the file line number (0 for the whole file).
- Parsers: `parse_int(lo, hi)`, `parse_bool`, `parse_date` (YYYY-MM-DD or DD/MM/YYYY),
  `parse_tags(allowed)` (";"-separated list), `parse_choice(choices)`, `parse_email`.

Export
------
- `csv_response(filename, header, rows) -> Response`: a `text/csv` download (UTF-8 with BOM
  so Excel opens it) where every cell that begins with = + - @ tab or CR, or holds one of
  = + - @ right after a separator (; , | tab or a line break), is prefixed with a single
  quote, so a spreadsheet never runs it as a formula (CSV injection).
- `template_response(filename, columns) -> Response`: a template with the header row and one
  example row built from each ColumnSpec's `example`.
- `safe_cell(value) -> str`: the neutralisation on its own.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from flask import Response

DEFAULT_MAX_BYTES = 5_000_000
DEFAULT_MAX_ROWS = 100_000
#: An Excel workbook may unpack to at most this many times the upload limit (zip bombs).
XLSX_UNPACKED_FACTOR = 20
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: A formula trigger after a separator a spreadsheet may split the cell on ("safe;=1+1").
_FORMULA_INSIDE = re.compile(r"[;,|\t\r\n]\s*[=+\-@]")
#: Control characters a cell may not hold (NUL and the like; tab and newlines are allowed).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True, order=True)
class RowError:
    """One problem in an uploaded file: line number (0 = whole file), column, plain message."""

    row: int
    field: str
    message: str


class CSVError(Exception):
    """The file as a whole cannot be read (encoding, headers, size)."""

    def __init__(self, errors: Sequence[RowError]):
        super().__init__("; ".join(e.message for e in errors))
        self.errors = list(errors)


@dataclass(frozen=True)
class ColumnSpec:
    """How to read one CSV column."""

    required: bool = False
    parse: Callable[[str], Any] = str
    default: Any = None
    max_length: int | None = None
    help: str = ""
    example: str = ""


@dataclass
class Row:
    """One data line of an upload, parsed."""

    number: int
    values: dict[str, Any]
    raw: dict[str, str]
    errors: list[RowError] = field(default_factory=list)

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def error(self, field_name: str, message: str) -> RowError:
        """Record and return an error against this row."""
        err = RowError(self.number, field_name, message)
        self.errors.append(err)
        return err


# --- parsers -----------------------------------------------------------------------------

def parse_int(lo: int | None = None, hi: int | None = None) -> Callable[[str], int]:
    """Return a parser of whole numbers within [lo, hi]."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError("Enter a whole number") from None
        if lo is not None and value < lo:
            raise ValueError(f"Enter a number of at least {lo}")
        if hi is not None and value > hi:
            raise ValueError(f"Enter a number of at most {hi}")
        return value
    parse.json_schema = {"type": "integer", **({"minimum": lo} if lo is not None else {}),  # type: ignore[attr-defined]
                         **({"maximum": hi} if hi is not None else {})}
    return parse


def parse_bool(text: str) -> bool:
    """Read yes/no, true/false, y/n, 1/0."""
    low = text.strip().lower()
    if low in {"yes", "y", "true", "1"}:
        return True
    if low in {"no", "n", "false", "0"}:
        return False
    raise ValueError("Enter yes or no")


parse_bool.json_schema = {"type": "boolean"}  # type: ignore[attr-defined]

#: Dates a file may hold (anything else is a typing slip: 0001, 9999, 1900...).
EARLIEST_DATE, LATEST_DATE = date(1990, 1, 1), date(2100, 12, 31)


def parse_date(text: str) -> date:
    """Read a date as YYYY-MM-DD or DD/MM/YYYY, between 1990 and 2100."""
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            value = datetime.strptime(text, fmt).date()  # noqa: DTZ007
        except ValueError:
            continue
        if not EARLIEST_DATE <= value <= LATEST_DATE:
            raise ValueError("Enter a date between 1990 and 2100")
        return value
    raise ValueError("Enter a date as YYYY-MM-DD or DD/MM/YYYY")


parse_date.json_schema = {"type": "string", "format": "date"}  # type: ignore[attr-defined]


def parse_tags(allowed: Iterable[str]) -> Callable[[str], list[str]]:
    """Return a parser of ';'-separated tags drawn from `allowed` (order kept, no repeats)."""
    allowed_set = set(allowed)

    def parse(text: str) -> list[str]:
        tags: list[str] = []
        for part in re.split(r"[;,|]", text):
            tag = part.strip().lower().replace(" ", "_")
            if not tag:
                continue
            if tag not in allowed_set:
                raise ValueError(f"Unknown value {part.strip()!r}; use "
                                 + ", ".join(sorted(allowed_set)))
            if tag not in tags:
                tags.append(tag)
        return tags
    parse.json_schema = {"type": "array", "uniqueItems": True,  # type: ignore[attr-defined]
                         "items": {"type": "string", "enum": sorted(allowed_set)}}
    return parse


def parse_choice(choices: Iterable[str]) -> Callable[[str], str]:
    """Return a parser accepting one of `choices` (case-insensitive)."""
    options = {c.lower(): c for c in choices}

    def parse(text: str) -> str:
        try:
            return options[text.strip().lower()]
        except KeyError:
            raise ValueError("Use one of " + ", ".join(options.values())) from None
    parse.json_schema = {"type": "string", "enum": list(options.values())}  # type: ignore[attr-defined]
    return parse


def parse_email(text: str) -> str:
    """Read an e-mail address (lower-cased)."""
    value = text.strip().lower()
    if not _EMAIL.match(value) or len(value) > 254:
        raise ValueError("Enter an e-mail address like name@example.com")
    return value


parse_email.json_schema = {"type": "string", "format": "email",  # type: ignore[attr-defined]
                           "maxLength": 254}


def _json_example(kind: Any, text: str) -> Any:
    """A column's example (CSV text) as the JSON value of the schema's type."""
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            return float(text)
        if kind == "boolean":
            return parse_bool(text)
        if kind == "array":
            return [t.strip() for t in re.split(r"[;,|]", text) if t.strip()]
    except ValueError:
        pass
    return text


def column_schema(spec: ColumnSpec) -> dict[str, Any]:
    """The JSON Schema of a column's value in the JSON API: what its parser reads (parsers
    say so in a `json_schema` attribute; others read text), its length, help and example.
    An optional column also takes null (or may be left out)."""
    schema: dict[str, Any] = dict(getattr(spec.parse, "json_schema", {"type": "string"}))
    if spec.max_length is not None and schema.get("type") == "string":
        schema["maxLength"] = min(spec.max_length, schema.get("maxLength", spec.max_length))
    if spec.help and schema.get("type") not in ("boolean", "array"):
        schema["description"] = spec.help  # (for those, the CSV help is about spelling)
    if spec.example:
        schema["examples"] = [_json_example(schema.get("type"), spec.example)]
    if spec.default not in (None, "", []):
        schema["default"] = spec.default
    if not spec.required:
        kind = schema.get("type", "string")
        schema["type"] = [kind, "null"]
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
    return schema


# --- reading -------------------------------------------------------------------------------

def _norm_header(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _read_bytes(source: Any, max_bytes: int) -> bytes:
    if isinstance(source, str):
        data = source.encode("utf-8")
    elif isinstance(source, bytes | bytearray):
        data = bytes(source)
    else:  # FileStorage or a binary file object
        stream = getattr(source, "stream", source)
        data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise CSVError([RowError(0, "file", f"The file is larger than {max_bytes // 1000} kB; "
                                            "split it into smaller files")])
    if not data.strip():
        raise CSVError([RowError(0, "file", "The selected file is empty")])
    return data


def parse_row(number: int, raw: Mapping[str, str], columns: Mapping[str, ColumnSpec]) -> Row:
    """Parse one row's cells (text, stripped) by their columns: the one rule for a cell,
    whether it came from a CSV file, an Excel workbook or the JSON API."""
    row = Row(number=number, values={}, raw=dict(raw))
    for name, spec in columns.items():
        cell = raw.get(name, "")
        if _CONTROL.search(cell):
            row.error(name, "Remove the control characters (such as NUL) from this cell")
            continue
        if cell == "":
            if spec.required:
                row.error(name, "Enter a value")
            row.values[name] = spec.default
            continue
        if spec.max_length is not None and len(cell) > spec.max_length:
            row.error(name, f"Must be {spec.max_length} characters or fewer")
            continue
        try:
            row.values[name] = spec.parse(cell)
        except ValueError as exc:
            row.error(name, str(exc) or "Invalid value")
    return row


def _header_index(header: Sequence[Any], columns: Mapping[str, ColumnSpec]) -> dict[str, int]:
    """Each known column's position in the header row (raises CSVError for a missing
    required column or a column named twice)."""
    names = [_norm_header(str(h) if h is not None else "") for h in header]
    missing = [c for c, spec in columns.items() if spec.required and c not in names]
    dupes = sorted({n for n in names if n and names.count(n) > 1 and n in columns})
    problems = [RowError(1, c, f"The column {c} is missing from the header row")
                for c in missing]
    problems += [RowError(1, c, f"The column {c} appears more than once") for c in dupes]
    if problems:
        raise CSVError(problems)
    return {n: i for i, n in enumerate(names) if n in columns}


def is_xlsx(data: bytes) -> bool:
    """Say whether the bytes are an Excel workbook (.xlsx): a zip holding the parts of one.
    The file's content decides, never its name."""
    if not data.startswith(b"PK\x03\x04"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError):
        return False
    return "[Content_Types].xml" in names and "xl/workbook.xml" in names


def read_table(source: Any, *, columns: Mapping[str, ColumnSpec],
               max_bytes: int = DEFAULT_MAX_BYTES,
               max_rows: int = DEFAULT_MAX_ROWS) -> list[Row]:
    """Read an upload that is either CSV or an Excel workbook (told apart by content)."""
    data = _read_bytes(source, max_bytes)
    if is_xlsx(data):
        return read_xlsx(data, columns=columns, max_bytes=max_bytes, max_rows=max_rows)
    return read_csv(data, columns=columns, max_bytes=max_bytes, max_rows=max_rows)


def _xlsx_text(value: Any) -> str:
    """A workbook cell as the text a CSV cell would hold."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        if value.time() == datetime.min.time():
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).strip()


def read_xlsx(source: Any, *, columns: Mapping[str, ColumnSpec],
              max_bytes: int = DEFAULT_MAX_BYTES,
              max_rows: int = DEFAULT_MAX_ROWS) -> list[Row]:
    """Read the first worksheet of an Excel workbook like a CSV file: the first row is the
    header, and a row's number is its number in the sheet (as Excel shows it)."""
    data = _read_bytes(source, max_bytes)
    if not is_xlsx(data):
        raise CSVError([RowError(0, "file", "The file is not an Excel workbook (.xlsx)")])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        unpacked = sum(info.file_size for info in archive.infolist())
    if unpacked > XLSX_UNPACKED_FACTOR * max_bytes:
        raise CSVError([RowError(0, "file", "The workbook is too large once unpacked; "
                                            "split it into smaller files")])
    import openpyxl  # only imports that need it pay for loading it

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # styles and extensions openpyxl does not read
            workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True,
                                              data_only=True)
            try:
                return _xlsx_rows(workbook.worksheets[0], columns, max_rows)
            finally:
                workbook.close()
    except CSVError:
        raise
    except Exception:  # noqa: BLE001  (openpyxl raises many kinds for a damaged file)
        raise CSVError([RowError(0, "file", "The workbook cannot be read: save it again "
                                            "in Excel as .xlsx, or as CSV UTF-8")]) from None


def _xlsx_rows(sheet: Any, columns: Mapping[str, ColumnSpec], max_rows: int) -> list[Row]:
    cells_iter = sheet.iter_rows(values_only=True)
    try:
        header = next(cells_iter)
    except StopIteration:
        raise CSVError([RowError(0, "file", "The selected file is empty")]) from None
    if not any(_xlsx_text(h) for h in header):
        raise CSVError([RowError(0, "file", "The file has no header row")])
    index = _header_index([_xlsx_text(h) for h in header], columns)
    rows: list[Row] = []
    for number, cells in enumerate(cells_iter, start=2):
        texts = [_xlsx_text(c) for c in cells]
        if not any(texts):
            continue
        if len(rows) >= max_rows:
            raise CSVError([RowError(0, "file", f"The file has more than {max_rows} rows; "
                                                "split it into smaller files")])
        raw = {c: (texts[i] if i < len(texts) else "") for c, i in index.items()}
        rows.append(parse_row(number, raw, columns))
    if not rows:
        raise CSVError([RowError(0, "file", "The file has a header but no data rows")])
    return rows


def _json_text(value: Any) -> str | None:
    """A JSON value as the text of a cell (None: not a value a cell can hold)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ";".join(v.strip() for v in value)
    return None


def rows_from_records(records: Sequence[Any], columns: Mapping[str, ColumnSpec]
                      ) -> list[Row]:
    """Parse JSON objects as rows by the same columns and rules as a file's rows.

    Row numbers are the records' positions from 0 (`Row.number`), so that an error names
    its record (`/learners/3/email`). A record that is not an object, a field the columns
    do not know and a value no cell could hold (an object, a list of numbers) are errors
    of their own.
    """
    rows: list[Row] = []
    for number, record in enumerate(records):
        if not isinstance(record, dict):
            row = Row(number=number, values={}, raw={})
            row.error("", "Each item must be an object of fields")
            rows.append(row)
            continue
        raw: dict[str, str] = {}
        bad: list[RowError] = []
        for name, value in record.items():
            if name not in columns:
                bad.append(RowError(number, str(name), "Unknown field: the fields are "
                                    + ", ".join(columns)))
                continue
            text = _json_text(value)
            if text is None:
                bad.append(RowError(number, name, "Give a single value (text, a number, "
                                    "true or false), or a list of text"))
                continue
            raw[name] = text
        row = parse_row(number, raw, columns)
        row.errors.extend(bad)
        rows.append(row)
    return rows


def read_csv(source: Any, *, columns: Mapping[str, ColumnSpec],
             max_bytes: int = DEFAULT_MAX_BYTES, max_rows: int = DEFAULT_MAX_ROWS) -> list[Row]:
    """Decode, check headers and parse every row of an uploaded CSV (nothing is written)."""
    data = _read_bytes(source, max_bytes)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CSVError([RowError(0, "file", "The file must be saved as CSV UTF-8 "
                                            "(in Excel: Save as > CSV UTF-8)")]) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        raise CSVError([RowError(0, "file", "The file has no header row")]) from None
    index = _header_index(header, columns)
    rows: list[Row] = []
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if len(rows) >= max_rows:
                raise CSVError([RowError(0, "file", f"The file has more than {max_rows} rows; "
                                                    "split it into smaller files")])
            raw = {c: (cells[i].strip() if i < len(cells) else "") for c, i in index.items()}
            rows.append(parse_row(reader.line_num, raw, columns))
    except csv.Error as exc:
        raise CSVError([RowError(reader.line_num, "file", f"The file is not valid CSV: {exc}")]
                       ) from None
    if not rows:
        raise CSVError([RowError(0, "file", "The file has a header but no data rows")])
    return rows


CheckResult = Iterable["RowError | tuple[str, str]"]


def collect_errors(rows: Sequence[Row],
                   check: Callable[[Row], CheckResult | None] | None = None) -> list[RowError]:
    """Return every parse error and every error `check` finds, over all rows, in row order."""
    errors: list[RowError] = []
    for row in rows:
        errors.extend(row.errors)
        if check is None or row.errors:
            continue
        for item in check(row) or ():
            errors.append(item if isinstance(item, RowError)
                          else RowError(row.number, item[0], item[1]))
    return sorted(errors)


# --- writing -------------------------------------------------------------------------------

def safe_cell(value: Any) -> str:
    """Render a value for a CSV cell, neutralising spreadsheet formulas."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, datetime | date):
        text = value.isoformat()
    elif isinstance(value, list | tuple | set):
        text = ";".join(str(v) for v in value)
    else:
        text = str(value)
    if text.startswith(_FORMULA_START) or _FORMULA_INSIDE.search(text):
        return "'" + text
    return text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Return CSV text (with a BOM) of a header and rows, every cell made safe."""
    buf = io.StringIO()
    buf.write("\ufeff")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return buf.getvalue()


def csv_response(filename: str, header: Sequence[str],
                 rows: Iterable[Sequence[Any]]) -> Response:
    """Return a CSV download whose cells cannot be run as spreadsheet formulas."""
    safe_name = re.sub(r"[^A-Za-z0-9._-]", "_", filename) or "export.csv"
    return Response(csv_text(header, rows), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{safe_name}"'})


def _xlsx_value(value: Any) -> Any:
    """A value for a workbook cell: numbers and dates as such, everything else as text made
    safe the same way as in CSV (openpyxl would store text starting with = as a formula)."""
    if isinstance(value, bool) or value is None:
        return safe_cell(value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, datetime):
        return value.replace(tzinfo=None) if value.tzinfo is None else \
            value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, date):
        return value
    return safe_cell(value)


def xlsx_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]],
               sheet: str = "Data") -> bytes:
    """Return an Excel workbook of a header and rows (cells made safe as in CSV; UTC times)."""
    import openpyxl
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = openpyxl.Workbook(write_only=True)
    worksheet = workbook.create_sheet(sheet[:31])
    bold = Font(bold=True)
    heading = []
    for h in header:
        cell = WriteOnlyCell(worksheet, value=safe_cell(h))
        cell.font = bold
        heading.append(cell)
    worksheet.append(heading)
    for row in rows:
        cells = []
        for value in row:
            cell = WriteOnlyCell(worksheet, value=_xlsx_value(value))
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula, whatever the text
            cells.append(cell)
        worksheet.append(cells)
    buf = io.BytesIO()
    workbook.save(buf)
    return buf.getvalue()


def xlsx_response(filename: str, header: Sequence[str],
                  rows: Iterable[Sequence[Any]]) -> Response:
    """Return an Excel download of a header and rows (see `xlsx_bytes`)."""
    safe_name = re.sub(r"[^A-Za-z0-9._-]", "_", filename) or "export.xlsx"
    return Response(xlsx_bytes(header, rows), mimetype=XLSX_MIMETYPE,
                    headers={"Content-Disposition": f'attachment; filename="{safe_name}"'})


def table_response(fmt: str, basename: str, header: Sequence[str],
                   rows: Iterable[Sequence[Any]]) -> Response:
    """A download as CSV (`fmt` "csv") or an Excel workbook ("xlsx")."""
    if fmt == "xlsx":
        return xlsx_response(f"{basename}.xlsx", header, rows)
    return csv_response(f"{basename}.csv", header, rows)


def template_response(filename: str, columns: Mapping[str, ColumnSpec]) -> Response:
    """Return a downloadable template: the header row and one example row."""
    return csv_response(filename, list(columns),
                        [[spec.example for spec in columns.values()]])
