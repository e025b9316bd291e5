"""The one import pipeline: every import (learners, employers and offers, hours,
timetables, prospects) reads, checks, reports and writes the same way, whether it comes as
a CSV file, an Excel workbook or records sent to the JSON API (a kind may also take
another format, such as a standard's JSON from Skills England, which its `convert` turns
into CSV rows first).

1. **Read** the file against the kind's columns (`placements.csvio.read_table`: CSV or
   .xlsx, told apart by content; the API's records through `read_records`): encoding,
   headers, size and row limits, each cell parsed by its column (problems are row errors).
2. **Check** every row against the database *in the same pass*: the kind's `check` builds
   its look-ups once and returns a function that checks one row (student numbers,
   programme codes, postcodes, repeats within the file, ...). It runs on every row, also on
   rows whose other cells did not parse, so a person sees every problem of the file at once
   (row, column, message), and nothing is written while any remains.
3. **Write** a clean file in one transaction (all rows or none), as an upsert on the
   kind's natural keys, so importing the same file again changes nothing. Writing runs as a
   background job (`import.csv`, through the job runner), re-checking the file first in
   case the database changed meanwhile; progress (rows written) is stored on the job, so
   every web worker shows the same figures.

Features register their kinds with `register(ImportKind(...))` in an `imports` module of
their own package; this module knows none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from placements.csvio import ColumnSpec, Row, RowError, read_table, rows_from_records
from placements.models import User

#: Called with the number of rows written so far.
Progress = Callable[[int], None]
#: Checks one row: yields RowErrors or (column, message) pairs; may add parsed values the
#: write step uses (e.g. the learner a student number names).
RowCheck = Callable[[Row], "Iterable[RowError | tuple[str, str]] | None"]


@dataclass
class ImportOutcome:
    """What an import wrote."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


class ImportRowError(Exception):
    """A row that passed the checks was refused while writing (nothing is kept)."""

    def __init__(self, error: RowError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass(frozen=True)
class ImportKind:
    """One kind of CSV import: its columns, how rows are checked and written."""

    name: str
    #: Plural noun for headings and labels, e.g. "Learners", "Hours per learner".
    title: str
    columns: Mapping[str, ColumnSpec]
    #: check(actor, rows) -> a function checking one row (look-ups built once).
    check: Callable[[User, Sequence[Row]], RowCheck]
    #: write(actor, rows, progress) -> ImportOutcome: upserts checked rows (flushes).
    write: Callable[[User, Sequence[Row], Progress], ImportOutcome]
    #: What the file is for, in a sentence.
    description: str = ""
    #: Example values for the template's sample row, from the officer's own data (so the
    #: template imports as downloaded); falls back to each column's `example`.
    examples: Callable[[User], Mapping[str, str]] | None = None
    #: Words shown after a successful import, e.g. that invitations were sent.
    done_note: Callable[[ImportOutcome], str] | None = None
    #: Order on the imports page.
    order: int = 100
    #: convert(upload, max_bytes) -> the upload, or CSV text made from another format the
    #: kind accepts (raises CSVError with the whole file's problem).
    convert: Callable[[Any, int], Any] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


KINDS: dict[str, ImportKind] = {}


def register(kind: ImportKind) -> ImportKind:
    """Add a kind of import (a feature calls this once, at import time)."""
    KINDS[kind.name] = kind
    return kind


def kinds() -> list[ImportKind]:
    """The registered kinds, in page order."""
    return sorted(KINDS.values(), key=lambda k: (k.order, k.title))


def read(kind: ImportKind, source: Any, *, max_bytes: int, max_rows: int) -> list[Row]:
    """Read and parse a file of this kind, CSV or Excel workbook (.xlsx, told apart by its
    content); raises CSVError for whole-file problems."""
    if kind.convert is not None:
        source = kind.convert(source, max_bytes)
    return read_table(source, columns=kind.columns, max_bytes=max_bytes, max_rows=max_rows)


def read_records(kind: ImportKind, records: Sequence[Any]) -> list[Row]:
    """Parse JSON objects (the API's bulk writes) as rows of this kind, by the same columns;
    a row's number is its record's position from 0."""
    return rows_from_records(records, kind.columns)


def validate(kind: ImportKind, actor: User, rows: Sequence[Row]) -> list[RowError]:
    """Every problem of every row: parse errors and database checks, in one pass."""
    check = kind.check(actor, rows)
    errors: list[RowError] = []
    for row in rows:
        errors.extend(row.errors)
        for item in check(row) or ():
            errors.append(item if isinstance(item, RowError)
                          else RowError(row.number, item[0], item[1]))
    return sorted(set(errors))


def template_row(kind: ImportKind, actor: User) -> list[str]:
    """The template's sample row: the officer's own data where the kind knows some."""
    own = dict(kind.examples(actor)) if kind.examples is not None else {}
    return [own.get(name, spec.example) for name, spec in kind.columns.items()]
