"""The API's operations, declared once: each view is registered with its method, path,
scope, parameters, request body and response schema, and the OpenAPI 3.1 document is
generated from those declarations (`document()`), so that what is served and what is
documented cannot drift apart. Query parameters are parsed by the same declarations, and
bulk request bodies by the import pipeline's columns (`placements.csvio.column_schema`
documents them), so no rule is written twice.

Why not a library: flask-smorest (marshmallow) and APIFlask / flask-openapi3 (their own app
class, marshmallow or pydantic models) would each bring a second way of validating input
beside the import pipeline's columns, which the learner and hours writes must share with
the CSV and Excel imports. OpenAPI 3.1's schemas are plain JSON Schema 2020-12, so the
declarations below are the schemas themselves.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import wraps
from typing import Any

from flask import Blueprint, current_app, g, request

from placements.api.problems import TYPES, ApiProblem, FieldError
from placements.models import SCOPE_LABELS, ApiScope

API_VERSION = "1.0.0"
PREFIX = "/api/v1"

Schema = dict[str, Any]


@dataclass(frozen=True)
class Param:
    """A query or path parameter: its schema, words and parser (ValueError: its message)."""

    name: str
    schema: Schema | Callable[[], Schema]
    description: str
    parse: Callable[[str], Any] = str
    where: str = "query"
    required: bool = False

    def resolved_schema(self) -> Schema:
        return self.schema() if callable(self.schema) else dict(self.schema)


@dataclass
class Operation:
    """One documented operation of the API."""

    method: str
    path: str
    endpoint: str
    summary: str
    description: str
    tag: str
    scope: ApiScope
    response: str
    params: Sequence[Param] = ()
    body: str | None = None
    status: int = 200
    idempotent: bool = False
    path_params: list[str] = field(default_factory=list)


#: Every operation, by endpoint ("api.list_learners").
OPERATIONS: dict[str, Operation] = {}

TAGS = [
    ("Programmes", "The provider's HTQ programmes."),
    ("Learners", "The provider's learners: read them, and add or update them in bulk from "
                 "the student record system."),
    ("Rounds", "Allocation rounds the provider takes part in, their runs and allocations."),
    ("Placements", "Placements of the provider's rounds, with a change feed for a nightly "
                   "sync."),
    ("Hours", "Classroom hours in, totals and status against the 80/20 norm out."),
    ("Employers", "Employers and their placement offers."),
]


# --- parameters ------------------------------------------------------------------------------

def _parse_datetime(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("Give a date and time in ISO 8601 with its offset, like "
                         "2026-11-30T09:00:00Z") from None
    if value.tzinfo is None:
        raise ValueError("Give the time's offset from UTC, like 2026-11-30T09:00:00Z")
    return value.astimezone(UTC)


def _parse_id(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 2**63:
        raise ValueError("Give a whole number id")
    return int(text)


def _parse_limit(text: str) -> int:
    most = int(current_app.config["API_MAX_PAGE_SIZE"])
    if not text.isdigit() or not 1 <= int(text) <= most:
        raise ValueError(f"Give a whole number from 1 to {most}")
    return int(text)


def _limit_schema() -> Schema:
    return {"type": "integer", "minimum": 1,
            "maximum": int(current_app.config["API_MAX_PAGE_SIZE"]),
            "default": int(current_app.config["API_PAGE_SIZE"])}


CURSOR = Param("cursor", {"type": "string"},
               "Where the previous page ended: its `next_cursor`. Leave it out for the first "
               "page. A cursor belongs to its list and filters.")
LIMIT = Param("limit", _limit_schema, "Items per page.", _parse_limit)
UPDATED_SINCE = Param(
    "updated_since", {"type": "string", "format": "date-time"},
    "Only items changed at or after this time (ISO 8601 with an offset, e.g. "
    "`2026-11-30T09:00:00Z`).", _parse_datetime)


def id_param(name: str, description: str) -> Param:
    """A query parameter naming an object by id."""
    return Param(name, {"type": "integer", "minimum": 1}, description, _parse_id)


def _parse_query(params: Sequence[Param]) -> dict[str, Any]:
    known = {p.name: p for p in params if p.where == "query"}
    errors = [FieldError(f"/{name}", "Unknown parameter: this operation takes "
                         + (", ".join(known) or "none"))
              for name in request.args if name not in known]
    values: dict[str, Any] = {}
    for name, param in known.items():
        texts = request.args.getlist(name)
        if len(texts) > 1:
            errors.append(FieldError(f"/{name}", "Give this parameter once"))
            continue
        if not texts or texts[0] == "":
            if param.required:
                errors.append(FieldError(f"/{name}", "Give this parameter"))
            values[name] = None
            continue
        try:
            values[name] = param.parse(texts[0])
        except ValueError as exc:
            errors.append(FieldError(f"/{name}", str(exc)))
    if errors:
        raise ApiProblem("bad-request", "Some query parameters are wrong", errors)
    return values


# --- declaring an operation --------------------------------------------------------------------

def operation(bp: Blueprint, method: str, path: str, *, scope: ApiScope, summary: str,
              tag: str, response: str, description: str = "", params: Sequence[Param] = (),
              body: str | None = None, status: int = 200,
              idempotent: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a view as an API operation: the route on `bp`, and its documentation.

    The view receives its path values and its parsed query parameters as keyword
    arguments; the key's scope is checked first.
    """
    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        path_params = re.findall(r"\{(\w+)\}", path)
        op = Operation(method=method.upper(), path=path, endpoint=f"{bp.name}.{view.__name__}",
                       summary=summary, description=description or (view.__doc__ or ""),
                       tag=tag, scope=scope, response=response, params=params, body=body,
                       status=status, idempotent=idempotent, path_params=path_params)
        if op.endpoint in OPERATIONS:
            raise ValueError(f"{op.endpoint} is declared twice")
        OPERATIONS[op.endpoint] = op

        @wraps(view)
        def wrapped(**path_values: Any) -> Any:
            g.api_operation = op
            key = g.api_key
            if not key.has_scope(scope):
                raise ApiProblem("forbidden", f"This API key does not have the {scope.value} "
                                 f"scope ({SCOPE_LABELS[scope].lower()}). Create a key with "
                                 "it.")
            return view(**path_values, **_parse_query(params))

        rule = re.sub(r"\{(\w+)\}", r"<int:\1>", path)
        bp.add_url_rule(rule, view.__name__, wrapped, methods=[op.method])
        return view

    return decorator


# --- the document ------------------------------------------------------------------------------

def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _problem(description: str) -> Schema:
    return {"description": description,
            "content": {"application/problem+json": {"schema": _ref("Problem")}}}


RATE_HEADERS = {
    "RateLimit-Limit": {"description": "Calls allowed in the window.",
                        "schema": {"type": "integer"}},
    "RateLimit-Remaining": {"description": "Calls left in the window.",
                            "schema": {"type": "integer"}},
    "RateLimit-Reset": {"description": "Seconds until the window resets.",
                        "schema": {"type": "integer"}},
}


def _operation_doc(op: Operation) -> Schema:
    params: list[Schema] = [
        {"name": name, "in": "path", "required": True,
         "schema": {"type": "integer", "minimum": 1}} for name in op.path_params]
    params += [{"name": p.name, "in": "query", "required": p.required,
                "description": p.description, "schema": p.resolved_schema()}
               for p in op.params]
    if op.idempotent:
        params.append({
            "name": "Idempotency-Key", "in": "header", "required": False,
            "description": "Any unique text up to 255 characters (a UUID is usual). A retry "
                           "with the same key and body gets the first answer again and "
                           "writes nothing; the same key with another body is refused. "
                           "Kept for API_IDEMPOTENCY_HOURS (24 by default).",
            "schema": {"type": "string", "minLength": 1, "maxLength": 255}})
    responses: Schema = {
        str(op.status): {
            "description": "Success.",
            "headers": RATE_HEADERS,
            "content": {"application/json": {"schema": _ref(op.response)}}},
        "400": _problem("A parameter or the body cannot be read."),
        "401": _problem("No API key, or a key that is unknown, revoked or expired."),
        "403": _problem(f"The key lacks the {op.scope.value} scope."),
        "429": _problem("Too many calls with this key: wait for the seconds in Retry-After."),
    }
    if op.path_params:
        responses["404"] = _problem("Not found, or not your provider's.")
    if op.body:
        responses["413"] = _problem("The body is larger than API_MAX_BODY_BYTES.")
        responses["415"] = _problem("The body is not JSON.")
        responses["422"] = _problem("The records have problems (every one is listed, with "
                                    "its JSON Pointer): nothing was written.")
    if op.idempotent:
        responses["409"] = _problem("A request with the same Idempotency-Key is being "
                                    "processed: retry shortly.")
    doc: Schema = {
        "operationId": op.endpoint.partition(".")[2],
        "summary": op.summary,
        "description": " ".join(op.description.split()),
        "tags": [op.tag],
        "security": [{"apiKey": [op.scope.value]}],
        "x-scope": op.scope.value,
        "parameters": params,
        "responses": dict(sorted(responses.items())),
    }
    if op.body:
        doc["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": _ref(op.body)}}}
    return doc


def document() -> Schema:
    """The OpenAPI 3.1 document of every declared operation (needs an app context)."""
    from placements.api.schemas import components

    paths: Schema = {}
    for op in sorted(OPERATIONS.values(), key=lambda o: (o.path, o.method)):
        paths.setdefault(op.path, {})[op.method.lower()] = _operation_doc(op)
    scopes = "\n".join(f"- `{s.value}`: {label}" for s, label in SCOPE_LABELS.items())
    problems = "\n".join(f"- `{kind}` ({status}): {title}"
                         for kind, (status, title) in TYPES.items())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Placements API",
            "version": API_VERSION,
            "summary": "Programmes, learners, rounds, placements, hours, employers and "
                       "offers of one provider, for student record systems and reporting.",
            "description": (
                "Every call carries an API key, created by a placement officer under "
                "*API keys*: `Authorization: Bearer plk_...`. A key belongs to one provider "
                "and sees exactly what that provider's officers see on the web pages; "
                "another provider's ids answer 404. Scopes:\n\n" + scopes + "\n\n"
                "Lists are pages: pass each page's `next_cursor` as `cursor` until "
                "`has_more` is false. Change feeds (`updated_since`) are ordered by "
                "`updated_at` then `id`; their last page's `next_cursor` resumes the next "
                "sync (changes arrive at least once). Dates are ISO 8601 (`2026-11-30`), "
                "times ISO 8601 in UTC (`2026-11-30T09:00:00Z`). Errors are "
                "`application/problem+json` (RFC 9457), with `errors[].pointer` naming "
                "each field. Problem types:\n\n" + problems),
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": PREFIX}],
        "security": [{"apiKey": []}],
        "tags": [{"name": name, "description": text} for name, text in TAGS],
        "paths": paths,
        "components": {
            "schemas": components(),
            "securitySchemes": {"apiKey": {
                "type": "http", "scheme": "bearer", "bearerFormat": "plk_ key",
                "description": "An API key: `Authorization: Bearer plk_...`."}},
        },
    }

