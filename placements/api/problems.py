"""Errors as `application/problem+json` (RFC 9457): a title, the status, a detail sentence
and, for a request whose fields are wrong, every problem with the JSON Pointer of its field
(``/learners/3/email``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import Response, json

PROBLEM_TYPE = "application/problem+json"
#: Problem types are relative URIs into the API reference, which describes each.
TYPE_BASE = "/api/v1/docs#problem-"

#: Each problem type: (status, title). The reference lists them all.
TYPES: dict[str, tuple[int, str]] = {
    "bad-request": (400, "The request cannot be read"),
    "unauthenticated": (401, "An API key is needed"),
    "forbidden": (403, "The API key may not do this"),
    "not-found": (404, "Not found"),
    "method-not-allowed": (405, "Method not allowed"),
    "conflict": (409, "The request conflicts with another"),
    "too-large": (413, "The request body is too large"),
    "unsupported-media-type": (415, "The request body must be JSON"),
    "validation": (422, "The request has problems"),
    "idempotency-key-reused": (422, "The Idempotency-Key was used for another request"),
    "rate-limited": (429, "Too many requests"),
    "server-error": (500, "Sorry, there is a problem with the service"),
    "unavailable": (503, "The service is unavailable"),
}


@dataclass(frozen=True, order=True)
class FieldError:
    """One problem with one field of the request, by JSON Pointer (RFC 6901)."""

    pointer: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"pointer": self.pointer, "detail": self.detail}


@dataclass
class ApiProblem(Exception):
    """Raised by the API's services and views; answered as problem+json."""

    kind: str
    detail: str
    errors: Sequence[FieldError] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.detail)

    @property
    def status(self) -> int:
        return TYPES[self.kind][0]


def pointer(*parts: str | int) -> str:
    """A JSON Pointer from its reference tokens (`~` and `/` escaped)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def problem_body(kind: str, detail: str, errors: Iterable[FieldError] = (),
                 **extra: Any) -> dict[str, Any]:
    status, title = TYPES[kind]
    body: dict[str, Any] = {"type": TYPE_BASE + kind, "title": title, "status": status,
                            "detail": detail}
    errs = [e.as_dict() for e in errors]
    if errs:
        body["errors"] = errs
    body.update(extra)
    return body


def problem_response(problem: ApiProblem) -> Response:
    body = problem_body(problem.kind, problem.detail, problem.errors, **problem.extra)
    response = Response(json.dumps(body), status=problem.status, mimetype=PROBLEM_TYPE)
    response.headers.update(problem.headers)
    return response
