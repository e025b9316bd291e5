"""Reading a standard's KSBs from the JSON that Skills England (formerly the Institute for
Apprenticeships and Technical Education) publishes for an occupational standard.

A provider downloads a standard's JSON from Skills England's site or API and uploads it on
the imports page: this module turns it into rows of the KSB import's columns (standard,
standard_title, level, route, code, kind, statement, version, version_date), which then go
through the one import pipeline like a CSV file (checked in full, all rows or none,
idempotent). Pure functions: no Flask, no database.

The reader is tolerant of the spellings the published JSON has used over the years:

- the standard: an object, a list of them, or an object holding them under ``standards``,
  ``data``, ``results`` or ``items``;
- its reference (``referenceNumber``, ``reference``, ``standardReference``, ...), title,
  level, route (text, or an object with a ``name``), version (``version``,
  ``versionNumber``) and the version's date (``approvedForDelivery``,
  ``versionEarliestStartDate``, ``approvalDate``, ``publishedDate``, ``lastUpdated``);
- the KSBs: lists ``knowledges``/``knowledge``, ``skills``, ``behaviours``/``behaviors``,
  or one list ``ksbs`` whose items say their ``type``; each item an object with a
  reference (``reference``, ``ref``, ``code``, ``key``, ...) and a detail (``detail``,
  ``description``, ``text``, ``statement``), or plain text. Without a reference, a
  leading "K1:" in the detail gives it; failing that, the item's position does (the n-th
  knowledge item is Kn), as the standard numbers them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any

#: Column order of the KSB import (and of the bundled seed file, plus version columns).
COLUMNS = ("standard", "standard_title", "level", "route", "code", "kind", "statement",
           "version", "version_date")

_REFERENCE_KEYS = ("referenceNumber", "reference", "standardReference", "standardCode",
                   "ifateReferenceNumber", "standard")
_TITLE_KEYS = ("title", "name", "standardTitle")
_LEVEL_KEYS = ("level", "standardLevel", "notionalEndLevel")
_ROUTE_KEYS = ("route", "routeName", "occupationalRoute")
_VERSION_KEYS = ("version", "versionNumber")
_DATE_KEYS = ("approvedForDelivery", "versionEarliestStartDate", "approvalDate",
              "publishedDate", "lastUpdated", "lastUpdatedDate")
_LISTS = {
    "knowledge": ("knowledges", "knowledge", "knowledgeList"),
    "skill": ("skills", "skill", "skillList"),
    "behaviour": ("behaviours", "behaviors", "behaviour", "behaviourList"),
}
_ITEM_REF_KEYS = ("reference", "ref", "code", "key", "ksbReference", "knowledgeReference",
                  "skillReference", "behaviourReference")
_ITEM_TEXT_KEYS = ("detail", "description", "text", "statement", "details")
_KIND_LETTER = {"knowledge": "K", "skill": "S", "behaviour": "B"}
_TYPE_WORDS = {"knowledge": "knowledge", "knowledges": "knowledge", "k": "knowledge",
               "skill": "skill", "skills": "skill", "s": "skill", "behaviour": "behaviour",
               "behaviours": "behaviour", "behavior": "behaviour", "behaviors": "behaviour",
               "b": "behaviour"}
_LEADING_CODE = re.compile(r"^\s*([A-Z]{0,3}[KSB]\d{1,3}(?:\.\d{1,2})?)\s*[:.\-\u2013\u2014)]\s*"
                           r"(.+)$", re.S)
_REFERENCE = re.compile(r"^ST\d{4}$")


class NotAStandard(ValueError):
    """The JSON holds no standard with KSBs that can be read (the message says why)."""


def looks_like_json(data: bytes | str) -> bool:
    """Say whether an upload is JSON rather than CSV or a workbook (by its first character)."""
    if isinstance(data, bytes):
        head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
        return head[:1] in (b"{", b"[")
    text = data[:64].lstrip("\ufeff \t\r\n")
    return text[:1] in ("{", "[")


def _first(obj: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    lowered = {str(k).lower(): v for k, v in obj.items()}
    for key in keys:
        value = lowered.get(key.lower())
        if value not in (None, "", [], {}):
            return value
    return None


def _text(value: Any) -> str:
    if isinstance(value, Mapping):
        value = _first(value, ("name", "title", "route", "value"))
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())


def _date(value: Any) -> str:
    """An ISO date (YYYY-MM-DD) from the JSON's date or date-time text, else ""."""
    text = _text(value)
    match = re.match(r"(\d{4}-\d{2}-\d{2})", text)
    if not match:
        return ""
    try:
        return date.fromisoformat(match.group(1)).isoformat()
    except ValueError:
        return ""


def _standards(document: Any) -> list[Mapping[str, Any]]:
    if isinstance(document, list):
        return [d for d in document if isinstance(d, Mapping)]
    if isinstance(document, Mapping):
        if _has_ksbs(document) or _first(document, _REFERENCE_KEYS):
            return [document]
        for key in ("standards", "data", "results", "items", "standard"):
            inner = document.get(key)
            if isinstance(inner, list | Mapping):
                return _standards(inner)
    return []


def _has_ksbs(standard: Mapping[str, Any]) -> bool:
    keys = {str(k).lower() for k in standard}
    return "ksbs" in keys or any(k.lower() in keys for names in _LISTS.values() for k in names)


def _items(standard: Mapping[str, Any]) -> Iterator[tuple[str, Any, int]]:
    """(kind, item, position from 1 within its kind) of every KSB of a standard."""
    for kind, names in _LISTS.items():
        items = _first(standard, names)
        if isinstance(items, list):
            for position, item in enumerate(items, 1):
                yield kind, item, position
    combined = _first(standard, ("ksbs",))
    if isinstance(combined, list):
        seen: dict[str, int] = {}
        for item in combined:
            kind = ""
            if isinstance(item, Mapping):
                kind = _TYPE_WORDS.get(_text(_first(item, ("type", "kind", "ksbType")))
                                       .lower(), "")
            if not kind:
                ref = _text(_first(item, _ITEM_REF_KEYS)) if isinstance(item, Mapping) else ""
                letter = re.match(r"^[A-Z]{0,3}([KSB])\d", ref)
                kind = {"K": "knowledge", "S": "skill", "B": "behaviour"}.get(
                    letter.group(1) if letter else "", "")
            seen[kind] = seen.get(kind, 0) + 1
            yield kind, item, seen[kind]


def _code_and_text(kind: str, item: Any, position: int) -> tuple[str, str]:
    if isinstance(item, Mapping):
        code = _text(_first(item, _ITEM_REF_KEYS)).upper().replace(" ", "")
        text = _text(_first(item, _ITEM_TEXT_KEYS))
    else:
        code, text = "", _text(item)
    leading = _LEADING_CODE.match(text)
    if leading:
        if not code:
            code = leading.group(1)
        if leading.group(1) == code:
            text = leading.group(2).strip()
    if not code and kind in _KIND_LETTER:
        code = f"{_KIND_LETTER[kind]}{position}"
    return code, text


def rows_from_json(data: bytes | str) -> list[dict[str, str]]:
    """Rows of the KSB import's columns from a Skills England standard's JSON.

    Raises NotAStandard with a sentence for the person when the JSON cannot be read or
    holds no KSBs. Cells are left as text: the import's columns check them.
    """
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data.lstrip("\ufeff")
    except UnicodeDecodeError:
        raise NotAStandard("The JSON file must be UTF-8 text") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotAStandard(f"The file is not valid JSON (line {exc.lineno}, column "
                           f"{exc.colno}: {exc.msg})") from None
    standards = _standards(document)
    if not standards:
        raise NotAStandard("The JSON holds no occupational standard: download the standard's "
                           "JSON from Skills England and upload it as it is")
    rows: list[dict[str, str]] = []
    for standard in standards:
        reference = _text(_first(standard, _REFERENCE_KEYS)).upper()
        if not _REFERENCE.match(reference):
            # The reference may hide in a version id such as "ST0116_1.2".
            uid = _text(_first(standard, ("standardUId", "standardUid", "id")))
            match = re.match(r"^(ST\d{4})", uid.upper())
            reference = match.group(1) if match else reference
        version = _text(_first(standard, _VERSION_KEYS))
        if not version:
            uid = _text(_first(standard, ("standardUId", "standardUid")))
            match = re.match(r"^ST\d{4}_(\d+(?:\.\d+)*)$", uid.upper())
            version = match.group(1) if match else ""
        common = {
            "standard": reference,
            "standard_title": _text(_first(standard, _TITLE_KEYS)),
            "level": _text(_first(standard, _LEVEL_KEYS)),
            "route": _text(_first(standard, _ROUTE_KEYS)),
            "version": version,
            "version_date": _date(_first(standard, _DATE_KEYS)),
        }
        before = len(rows)
        for kind, item, position in _items(standard):
            code, statement = _code_and_text(kind, item, position)
            rows.append({**common, "code": code, "kind": kind, "statement": statement})
        if len(rows) == before:
            name = reference or common["standard_title"] or "a standard"
            raise NotAStandard(f"The JSON of {name} lists no knowledge, skills or behaviours")
    return rows


def csv_from_json(data: bytes | str) -> str:
    """The same rows as CSV text (the import pipeline reads them like an uploaded CSV)."""
    import csv
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows_from_json(data))
    return buf.getvalue()

