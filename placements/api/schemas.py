"""The JSON Schemas (2020-12, as OpenAPI 3.1 uses them) of the API's bodies. Records sent in
bulk are described by the import pipeline's own columns, which also check them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app

from placements.csvio import ColumnSpec, column_schema
from placements.hours.imports import LEARNER_HOURS, TIMETABLE
from placements.models import (
    ApiScope,
    EmployerResponse,
    HoursKind,
    OfferStatus,
    PendingChange,
    PlacementStatus,
    RoundStatus,
)
from placements.officers.imports import LEARNERS

Schema = dict[str, Any]

DATE: Schema = {"type": "string", "format": "date"}
TIME: Schema = {"type": "string", "format": "date-time",
                "description": "ISO 8601, UTC (ends in Z)"}
ID: Schema = {"type": "integer", "minimum": 1}


def _nullable(schema: Schema) -> Schema:
    out = dict(schema)
    kind = out.get("type")
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    out["type"] = [kind, "null"] if isinstance(kind, str) else [*(kind or []), "null"]
    return out


def _object(properties: Mapping[str, Schema], description: str = "",
            optional: tuple[str, ...] = ()) -> Schema:
    schema: Schema = {"type": "object", "properties": dict(properties),
                      "required": [k for k in properties if k not in optional],
                      "additionalProperties": False}
    if description:
        schema["description"] = description
    return schema


def _enum(values: Any) -> Schema:
    return {"type": "string", "enum": [str(v) for v in values]}


def _page(item: str, feed: bool = False) -> Schema:
    return _object({
        "data": {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}},
        "has_more": {"type": "boolean", "description": "Whether another page follows."},
        "next_cursor": {"type": ["string", "null"], "description": (
            "Pass as `cursor` for the next page. On a change feed's last page it resumes "
            "the next sync." if feed else "Pass as `cursor` for the next page (null on the "
            "last page).")},
    }, f"A page of {item} items.")


def records_schema(columns: Mapping[str, ColumnSpec], description: str) -> Schema:
    """One record of a bulk write: the import's columns as fields."""
    return {"type": "object", "description": description,
            "properties": {name: column_schema(spec) for name, spec in columns.items()},
            "required": [name for name, spec in columns.items() if spec.required],
            "additionalProperties": False}


def _bulk(field: str, item: str, description: str) -> Schema:
    return _object({field: {"type": "array", "minItems": 1,
                            "maxItems": int(current_app.config["API_MAX_ROWS"]),
                            "items": {"$ref": f"#/components/schemas/{item}"}}}, description)


HOURS: Schema = {"type": "number", "minimum": 0, "multipleOf": 0.25,
                 "description": "Hours, in quarter hours"}
KIND_HOURS: Schema = _object({k.value: HOURS for k in HoursKind},
                             "Hours of each kind of learning")


def components() -> dict[str, Schema]:
    """Every named schema of the document."""
    return {
        "Problem": {
            "type": "object", "description": "An error (RFC 9457).",
            "properties": {
                "type": {"type": "string", "format": "uri-reference"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "errors": {"type": "array", "items": _object({
                    "pointer": {"type": "string", "description": "JSON Pointer (RFC 6901) "
                                "of the field in the body, or /name of a parameter"},
                    "detail": {"type": "string"}})},
            },
            "required": ["type", "title", "status", "detail"],
        },
        "Programme": _object({
            "id": ID, "title": {"type": "string"}, "code": {"type": "string"},
            "level": {"type": "integer", "enum": [4, 5]},
            "route": {"type": "string", "description": "Occupational route (the sector)"},
            "standard": _object({"reference": {"type": "string"},
                                 "title": {"type": "string"}}),
            "placement_mandated": {"type": "boolean"},
            "required_placement_hours": {"type": ["integer", "null"]},
            "planned_total_hours": {"type": "integer"},
            "work_integration_target_pct": {"type": "integer", "minimum": 0, "maximum": 100},
            "start_date": DATE, "end_date": DATE,
        }, "An HTQ programme of the provider."),
        "ProgrammePage": _page("Programme"),
        "Learner": _object({
            "id": ID, "student_ref": {"type": "string"}, "name": {"type": "string"},
            "email": {"type": "string", "format": "email"},
            "programme_id": ID, "programme_code": {"type": "string"},
            "home_postcode": {"type": "string"},
            "max_travel_km": {"type": "integer"},
            "credentials": {"type": "array", "items": {"type": "string"}},
            "in_work_employer": {"type": ["string", "null"]},
            "first_in_family_he": {"type": ["boolean", "null"]},
            "age_band": {"type": ["string", "null"]},
            "prior_qualification": {"type": ["string", "null"]},
            "disability_declared": {"type": ["boolean", "null"]},
            "account_set_up": {"type": "boolean",
                               "description": "Whether the learner has set a password"},
            "created_at": TIME, "updated_at": TIME,
        }, "A learner of the provider."),
        "LearnerPage": _page("Learner", feed=True),
        "LearnerRecord": records_schema(
            LEARNERS.columns, "A learner as the student record system knows them: the "
            "columns of the learners import. Matched on student_ref."),
        "LearnerUpsert": _bulk("learners", "LearnerRecord",
                               "Learners to add or update, all or none."),
        "LearnerUpsertResult": _object({
            "created": {"type": "integer"}, "updated": {"type": "integer"},
            "unchanged": {"type": "integer"},
            "learners": {"type": "array", "description": "Each record's learner, in order.",
                         "items": _object({"student_ref": {"type": "string"}, "id": ID})},
        }, "What the upsert did."),
        "Round": _object({
            "id": ID, "name": {"type": "string"}, "status": _enum(RoundStatus),
            "phase": {"type": "string", "description": "Where the round stands, in words"},
            "owner_provider_id": ID,
            "provider_ids": {"type": "array", "items": ID},
            "programme_ids": {"type": "array", "items": ID},
            "preference_deadline": TIME,
            "max_preferences": {"type": "integer"},
            "publications": {"type": "integer"},
            "placements": _object({s.value: {"type": "integer"} for s in PlacementStatus},
                                  "Placements by status"),
            "created_at": TIME, "archived_at": _nullable(TIME),
        }, "An allocation round the provider takes part in."),
        "RoundPage": _page("Round"),
        "Run": _object({
            "id": ID, "round_id": ID, "kind": _enum(["full", "repair"]),
            "status": _enum(["queued", "running", "succeeded", "failed", "cancelled"]),
            "created_at": TIME, "started_at": _nullable(TIME),
            "finished_at": _nullable(TIME), "error": {"type": ["string", "null"]},
            "summary": {"type": ["object", "null"],
                        "description": "The solver's summary (placed, fallback, rank costs...)"},
        }, "An allocation run of a round."),
        "RunPage": _page("Run"),
        "RunResult": _object({
            "run": {"$ref": "#/components/schemas/Run"},
            "unplaced": {"type": "array", "items": _object({
                "learner_id": ID, "student_ref": {"type": "string"},
                "mandated": {"type": "boolean"},
                "reason_code": _enum(["no-preferences", "no-eligible-offer", "capacity",
                                      "other"]),
                "reason": {"type": "string"}, "detail": {"type": "string"}})},
        }, "A run's outcome: its summary and why each unplaced learner was not placed. "
           "The placements themselves: the round's placements."),
        "Placement": _object({
            "id": ID, "round_id": ID, "learner_id": ID, "student_ref": {"type": "string"},
            "offer_id": ID, "employer_id": ID, "status": _enum(PlacementStatus),
            "pending_change": _nullable(_enum(PendingChange)),
            "pending_offer_id": {"type": ["integer", "null"]},
            "rank": {"type": ["integer", "null"],
                     "description": "The learner's rank of the offer (K+1: a fallback)"},
            "distance_km": {"type": ["number", "null"]},
            "source": _enum(["solver", "lock", "override"]),
            "employer_response": _enum(EmployerResponse),
            "published_at": _nullable(TIME), "responded_at": _nullable(TIME),
            "created_at": TIME, "updated_at": TIME,
        }, "A learner's placement in a round."),
        "PlacementPage": _page("Placement", feed=True),
        "HoursStatus": _object({
            "learner_id": ID, "student_ref": {"type": "string"}, "programme_id": ID,
            "verified": KIND_HOURS, "pending": KIND_HOURS,
            "work_integrated_share": {"type": ["number", "null"], "minimum": 0,
                                      "maximum": 1,
                                      "description": "Verified work-integrated hours over "
                                                     "all verified hours"},
            "status": _enum(["on track", "at risk", "met"]),
            "target_pct": {"type": "integer"},
            "required_placement_hours": {"type": ["integer", "null"]},
        }, "A learner's hours and where they stand against the 80/20 norm."),
        "HoursStatusPage": _page("HoursStatus"),
        "LearnerHoursRecord": records_schema(
            LEARNER_HOURS.columns, "Hours of one learner on one day (the hours-per-learner "
            "import's columns). Matched on learner, date and kind."),
        "LearnerHoursUpsert": _bulk("hours", "LearnerHoursRecord",
                                    "Hours to record, all or none (verified on import)."),
        "TimetableRecord": records_schema(
            TIMETABLE.columns, "A programme's classroom hours on one day, for every "
            "learner on it (the timetable import's columns)."),
        "TimetableUpsert": _bulk("timetable", "TimetableRecord",
                                 "Timetable days to record, all or none."),
        "ImportResult": _object({
            "created": {"type": "integer"}, "updated": {"type": "integer"},
            "unchanged": {"type": "integer"}}, "What the write did."),
        "Employer": _object({
            "id": ID, "name": {"type": "string"}, "sector": {"type": "string"},
            "region": {"type": "string"}, "approved": {"type": "boolean"},
            "sites": {"type": "array", "items": _object({
                "id": ID, "name": {"type": "string"}, "postcode": {"type": "string"}})},
        }, "An employer that offers placements."),
        "EmployerPage": _page("Employer"),
        "Offer": _object({
            "id": ID, "employer_id": ID, "site_id": ID, "title": {"type": "string"},
            "sector": {"type": "string"}, "capacity": {"type": "integer"},
            "start_date": DATE, "end_date": DATE, "hours_per_week": {"type": "integer"},
            "requirements": {"type": "array", "items": {"type": "string"}},
            "work_mode": {"type": "string"}, "status": _enum(OfferStatus),
            "open_to_choices": {"type": "boolean"},
            "closed_because": {"type": ["string", "null"]},
            "standards": {"type": "array", "items": {"type": "string"}},
            "created_at": TIME, "updated_at": TIME,
        }, "Places an employer offers at one site."),
        "OfferPage": _page("Offer", feed=True),
    }


#: Scopes, for the reference page.
SCOPES = list(ApiScope)
