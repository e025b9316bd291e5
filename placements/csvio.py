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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask import Response

DEFAULT_MAX_BYTES = 5_000_000
DEFAULT_MAX_ROWS = 100_000
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
    return parse


def parse_bool(text: str) -> bool:
    """Read yes/no, true/false, y/n, 1/0."""
    low = text.strip().lower()
    if low in {"yes", "y", "true", "1"}:
        return True
    if low in {"no", "n", "false", "0"}:
        return False
    raise ValueError("Enter yes or no")


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
    return parse


def parse_choice(choices: Iterable[str]) -> Callable[[str], str]:
    """Return a parser accepting one of `choices` (case-insensitive)."""
    options = {c.lower(): c for c in choices}

    def parse(text: str) -> str:
        try:
            return options[text.strip().lower()]
        except KeyError:
            raise ValueError("Use one of " + ", ".join(options.values())) from None
    return parse


def parse_email(text: str) -> str:
    """Read an e-mail address (lower-cased)."""
    value = text.strip().lower()
    if not _EMAIL.match(value) or len(value) > 254:
        raise ValueError("Enter an e-mail address like name@example.com")
    return value


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
    names = [_norm_header(h) for h in header]
    missing = [c for c, spec in columns.items() if spec.required and c not in names]
    dupes = sorted({n for n in names if n and names.count(n) > 1 and n in columns})
    problems = [RowError(1, c, f"The column {c} is missing from the header row")
                for c in missing]
    problems += [RowError(1, c, f"The column {c} appears more than once") for c in dupes]
    if problems:
        raise CSVError(problems)
    index = {n: i for i, n in enumerate(names) if n in columns}
    rows: list[Row] = []
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if len(rows) >= max_rows:
                raise CSVError([RowError(0, "file", f"The file has more than {max_rows} rows; "
                                                    "split it into smaller files")])
            number = reader.line_num
            raw = {c: (cells[i].strip() if i < len(cells) else "") for c, i in index.items()}
            row = Row(number=number, values={}, raw=raw)
            for name, spec in columns.items():
                cell = raw.get(name, "")
                if _CONTROL.search(cell):
                    row.error(name, "Remove the control characters (such as NUL) from this "
                                    "cell")
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
            rows.append(row)
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


def template_response(filename: str, columns: Mapping[str, ColumnSpec]) -> Response:
    """Return a downloadable template: the header row and one example row."""
    return csv_response(filename, list(columns),
                        [[spec.example for spec in columns.values()]])
