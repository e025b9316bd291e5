"""Retried writes: a write sent with an `Idempotency-Key` header keeps its answer (per API
key, for API_IDEMPOTENCY_HOURS) in the same transaction as the write itself. A retry with
the same key and the same request gets that answer again and writes nothing; the same key
with a different request is refused (422). The claim is inserted before the write, so two
identical requests at once cannot both write: the second waits on the unique index and
then replays the first's answer (or hears that it is still being processed: 409).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Response, current_app, json, request

from placements.api.problems import ApiProblem, FieldError
from placements.extensions import db
from placements.models import ApiIdempotency, ApiKey, utcnow

HEADER = "Idempotency-Key"


@dataclass
class Claim:
    """A write in progress under an Idempotency-Key."""

    record: ApiIdempotency


def _request_hash() -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(b"\0")
    digest.update(request.path.encode())
    digest.update(b"\0")
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def _replay(record: ApiIdempotency, wanted_hash: str) -> Response:
    if record.request_hash != wanted_hash:
        raise ApiProblem("idempotency-key-reused", "This Idempotency-Key was used for a "
                         "different request: use a new key for a new request",
                         [FieldError("/Idempotency-Key", "Already used for another request")])
    response = Response(json.dumps(record.response), status=record.status_code,
                        mimetype="application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _find(key: ApiKey, idem_key: str) -> ApiIdempotency | None:
    return db.session.scalar(sa.select(ApiIdempotency).where(
        ApiIdempotency.api_key_id == key.id, ApiIdempotency.idempotency_key == idem_key,
        ApiIdempotency.expires_at > utcnow()))


def begin(key: ApiKey) -> Response | Claim | None:
    """Before a write: the earlier answer to replay, a claim to complete, or None (no
    header: the write is not protected against retries)."""
    idem_key = request.headers.get(HEADER)
    if idem_key is None:
        return None
    idem_key = idem_key.strip()
    if not idem_key or len(idem_key) > 255:
        raise ApiProblem("bad-request", "The Idempotency-Key must be 1 to 255 characters",
                         [FieldError("/Idempotency-Key", "Give 1 to 255 characters")])
    wanted = _request_hash()
    now = utcnow()
    db.session.execute(sa.delete(ApiIdempotency).where(
        ApiIdempotency.api_key_id == key.id, ApiIdempotency.expires_at <= now))
    found = _find(key, idem_key)
    if found is not None:
        if found.status_code == 0:
            raise _busy()
        return _replay(found, wanted)
    hours = int(current_app.config["API_IDEMPOTENCY_HOURS"])
    record = ApiIdempotency(api_key_id=key.id, idempotency_key=idem_key,
                            request_hash=wanted, status_code=0, response={},
                            created_at=now, expires_at=now + timedelta(hours=hours))
    db.session.add(record)
    try:
        db.session.flush()
    except sa.exc.IntegrityError:
        # Another request with this key got there first and has committed its answer
        # (nothing of this request has been written yet: the claim comes first).
        db.session.rollback()
        found = _find(key, idem_key)
        if found is None or found.status_code == 0:
            raise _busy() from None
        return _replay(found, wanted)
    return Claim(record)


def _busy() -> ApiProblem:
    return ApiProblem("conflict", "A request with this Idempotency-Key is being processed: "
                      "retry in a moment", headers={"Retry-After": "1"})


def finish(claim: Claim | None, status: int, body: dict[str, Any]) -> None:
    """Keep the answer with the write (the caller commits both at once)."""
    if claim is not None:
        claim.record.status_code = status
        claim.record.response = body
        db.session.flush()
