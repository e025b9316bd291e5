"""Reading a standard's KSBs from Skills England's JSON (pure: no app, no database)."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from placements.ksb.skills_england import (
    COLUMNS,
    NotAStandard,
    csv_from_json,
    looks_like_json,
    rows_from_json,
)

STANDARD = {
    "standardUId": "ST0457_1.2",
    "referenceNumber": "ST0457",
    "title": "Engineering manufacturing technician",
    "level": 4,
    "version": "1.2",
    "approvedForDelivery": "2024-02-01T00:00:00",
    "route": "Engineering and manufacturing",
    "knowledges": [{"knowledgeId": "9a", "reference": "K1", "detail": "Drawings."},
                   {"knowledgeId": "9b", "reference": "K2", "detail": " Quality\n standards. "}],
    "skills": [{"skillId": "8a", "reference": "S1", "detail": "Interpret drawings."}],
    "behaviours": [{"behaviourId": "7a", "reference": "B1", "detail": "Work safely."}],
}


def test_reads_reference_version_date_and_each_ksb():
    rows = rows_from_json(json.dumps(STANDARD))
    assert [(r["code"], r["kind"], r["statement"]) for r in rows] == [
        ("K1", "knowledge", "Drawings."), ("K2", "knowledge", "Quality standards."),
        ("S1", "skill", "Interpret drawings."), ("B1", "behaviour", "Work safely.")]
    assert {(r["standard"], r["standard_title"], r["level"], r["route"], r["version"],
             r["version_date"]) for r in rows} == {
        ("ST0457", "Engineering manufacturing technician", "4",
         "Engineering and manufacturing", "1.2", "2024-02-01")}


def test_other_spellings_codes_in_the_detail_and_by_position():
    document = {"standards": [{
        "reference": "st0458", "name": "Another", "level": 5.0,
        "route": {"name": "Construction"}, "versionEarliestStartDate": "2023-09-30",
        "knowledge": ["K1: Building regulations.", "K2 - Materials."],
        "behaviors": [{"description": "Works with others."}],
        "ksbs": [{"type": "Skill", "key": "S3", "text": "Survey a site."}],
    }]}
    rows = rows_from_json(json.dumps(document).encode("utf-8"))
    assert [(r["code"], r["kind"], r["statement"]) for r in rows] == [
        ("K1", "knowledge", "Building regulations."), ("K2", "knowledge", "Materials."),
        ("B1", "behaviour", "Works with others."), ("S3", "skill", "Survey a site.")]
    assert rows[0]["standard"] == "ST0458"
    assert rows[0]["level"] == "5"
    assert rows[0]["route"] == "Construction"
    assert rows[0]["version_date"] == "2023-09-30"
    assert rows[0]["version"] == ""


def test_version_from_the_standards_version_id():
    document = {**STANDARD, "version": None}
    assert rows_from_json(json.dumps(document))[0]["version"] == "1.2"


@pytest.mark.parametrize(("document", "message"), [
    ("{", "The file is not valid JSON (line 1"),
    ("[]", "The JSON holds no occupational standard"),
    ('{"title": "x"}', "The JSON holds no occupational standard"),
    ('{"referenceNumber": "ST0457", "knowledges": []}', "ST0457 lists no knowledge"),
    (b"\xff\xfe{", "must be UTF-8"),
])
def test_what_is_not_a_standard_says_why(document, message):
    with pytest.raises(NotAStandard, match=re.escape(message)):
        rows_from_json(document)


def test_json_is_told_from_csv_by_content():
    assert looks_like_json(b'\xef\xbb\xbf  {"a": 1}')
    assert looks_like_json('\n[{"a": 1}]')
    assert not looks_like_json(b"standard,code\nST0116,K1\n")
    assert not looks_like_json(b"PK\x03\x04")


def test_csv_has_the_import_columns():
    reader = csv.DictReader(io.StringIO(csv_from_json(json.dumps(STANDARD))))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    assert len(list(reader)) == 4
