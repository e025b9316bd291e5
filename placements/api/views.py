"""The JSON API, /api/v1: thin views over `placements.api.services`, each declared with
its documentation (`placements.api.spec.operation`). Authentication, the rate limit per
key and the audit of every call: `placements.api.gate`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, g, json, render_template, request

from placements.api import gate, idempotency, reference, services, spec
from placements.api.problems import ApiProblem, FieldError
from placements.api.services import Listing
from placements.api.spec import CURSOR, LIMIT, UPDATED_SINCE, id_param, operation
from placements.extensions import db
from placements.models import ApiScope

bp = Blueprint("api", __name__, url_prefix=spec.PREFIX)
gate.install(bp)

READ = ApiScope.READ
PAGE = (CURSOR, LIMIT)


def _listing(resource: str, cursor: str | None, limit: int | None,
             **filters: Any) -> Listing:
    plain = {k: (v.isoformat() if isinstance(v, datetime) else v)
             for k, v in filters.items()}
    return Listing(g.api_officer, resource, plain, cursor, limit)


def _json_body() -> Any:
    if not request.is_json:
        raise ApiProblem("unsupported-media-type",
                         "Send the body as JSON with Content-Type: application/json")
    try:
        return json.loads(request.get_data(cache=True))
    except ValueError as exc:
        raise ApiProblem("bad-request", f"The body is not valid JSON: {exc}") from None


def _records(field: str) -> Any:
    body = _json_body()
    if not isinstance(body, dict) or field not in body:
        raise ApiProblem("validation", f"Send an object with a list of records in {field}",
                         [FieldError(f"/{field}", "Give a list of records")])
    extra = sorted(set(body) - {field})
    if extra:
        raise ApiProblem("validation", f"The body holds only {field}",
                         [FieldError(f"/{name}", "Unknown field") for name in extra])
    return body[field]


def _write(field: str, status: int, work) -> Any:
    """A bulk write: replay a retried request, or write, keep the answer and commit."""
    records = _records(field)
    claim = idempotency.begin(g.api_key)
    if not isinstance(claim, idempotency.Claim) and claim is not None:
        return claim  # the earlier answer
    body = work(records)
    idempotency.finish(claim, status, body)
    db.session.commit()
    return body, status


# --- the document and its reference page -------------------------------------------------------

@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 document (no key needed: it describes, it holds no data)."""
    return spec.document()


@bp.get("/docs")
def docs():
    """The API reference, rendered on the server from the OpenAPI document."""
    return render_template("api/docs.html", **reference.context(spec.document()))


# --- programmes --------------------------------------------------------------------------------

@operation(bp, "GET", "/programmes", scope=READ, tag="Programmes", summary="List programmes",
           response="ProgrammePage", params=PAGE)
def list_programmes(cursor, limit):
    """The provider's programmes, in id order."""
    return services.list_programmes(_listing("programmes", cursor, limit)).as_dict()


@operation(bp, "GET", "/programmes/{programme_id}", scope=READ, tag="Programmes",
           summary="Read a programme", response="Programme")
def get_programme(programme_id):
    """One of the provider's programmes."""
    return services.programme_json(services.get_programme(g.api_officer, programme_id))


@operation(bp, "GET", "/programmes/{programme_id}/hours", scope=READ, tag="Hours",
           summary="Hours of a programme's learners", response="HoursStatusPage",
           params=PAGE)
def programme_hours(programme_id, cursor, limit):
    """Each learner of the programme (in id order): verified and pending hours of each kind,
    the work-integrated share and the status against the programme's target (as on the
    hours dashboard)."""
    programme = services.get_programme(g.api_officer, programme_id)
    return services.programme_hours(
        _listing("programme-hours", cursor, limit, programme=programme_id), programme
    ).as_dict()


# --- learners ----------------------------------------------------------------------------------

@operation(bp, "GET", "/learners", scope=READ, tag="Learners", summary="List learners",
           response="LearnerPage",
           params=(id_param("programme_id", "Only learners of this programme."),
                   UPDATED_SINCE, *PAGE))
def list_learners(programme_id, updated_since, cursor, limit):
    """The provider's learners in order of change (`updated_at`, then `id`): a change feed.
    A learner changes when any field shown here changes."""
    listing = _listing("learners", cursor, limit, programme_id=programme_id,
                       updated_since=updated_since)
    return services.list_learners(listing, programme_id, updated_since).as_dict()


@operation(bp, "POST", "/learners", scope=ApiScope.WRITE_LEARNERS, tag="Learners",
           summary="Add or update learners", response="LearnerUpsertResult",
           body="LearnerUpsert", idempotent=True)
def upsert_learners():
    """Add or update learners by student number, with the rules of the learners import:
    every record is checked first (against your programmes, postcodes and other accounts'
    e-mail addresses, and against the other records); if any has a problem, nothing is
    written and every problem is listed with its JSON Pointer. New learners get an
    e-mail invitation to set their password. Sending the same records again changes
    nothing."""
    return _write("learners", 200,
                  lambda records: services.upsert_learners(g.api_officer, records))


@operation(bp, "GET", "/learners/{learner_id}", scope=READ, tag="Learners",
           summary="Read a learner", response="Learner")
def get_learner(learner_id):
    """One of the provider's learners."""
    return services.learner_json(services.get_learner(g.api_officer, learner_id))


@operation(bp, "GET", "/learners/{learner_id}/hours", scope=READ, tag="Hours",
           summary="A learner's hours and status", response="HoursStatus")
def learner_hours(learner_id):
    """The learner's verified and pending hours of each kind, their work-integrated share
    and their status against the programme's target."""
    return services.learner_hours(services.get_learner(g.api_officer, learner_id))


# --- hours -------------------------------------------------------------------------------------

@operation(bp, "POST", "/hours/learners", scope=ApiScope.WRITE_HOURS, tag="Hours",
           summary="Record hours per learner", response="ImportResult",
           body="LearnerHoursUpsert", idempotent=True)
def post_learner_hours():
    """Record hours of named learners (classroom by default), with the rules of the hours
    import: dates within the programme and not in the future, at most 12 hours a day in
    quarter hours. Matched on learner, date and kind; recorded hours are verified. All or
    nothing."""
    return _write("hours", 200, lambda records: services.write_hours(
        g.api_officer, "hours-learners", records, "hours"))


@operation(bp, "POST", "/hours/timetable", scope=ApiScope.WRITE_HOURS, tag="Hours",
           summary="Record a programme's timetable", response="ImportResult",
           body="TimetableUpsert", idempotent=True)
def post_timetable():
    """Give every learner of a programme that day's classroom hours, with the rules of the
    timetable import. All or nothing."""
    return _write("timetable", 200, lambda records: services.write_hours(
        g.api_officer, "hours-timetable", records, "timetable"))


# --- rounds, runs and placements ---------------------------------------------------------------

@operation(bp, "GET", "/rounds", scope=READ, tag="Rounds", summary="List rounds",
           response="RoundPage", params=PAGE)
def list_rounds(cursor, limit):
    """The rounds the provider takes part in (its own and its partnership's pooled rounds),
    in id order."""
    return services.list_rounds(_listing("rounds", cursor, limit)).as_dict()


@operation(bp, "GET", "/rounds/{round_id}", scope=READ, tag="Rounds",
           summary="Read a round", response="Round")
def get_round(round_id):
    """A round: its status, phase and placements by status."""
    return services.round_json(services.get_round(g.api_officer, round_id))


@operation(bp, "GET", "/rounds/{round_id}/runs", scope=READ, tag="Rounds",
           summary="List a round's runs", response="RunPage", params=PAGE)
def list_runs(round_id, cursor, limit):
    """The round's allocation runs, oldest first."""
    round_ = services.get_round(g.api_officer, round_id)
    return services.list_runs(_listing("runs", cursor, limit, round=round_id),
                              round_).as_dict()


@operation(bp, "GET", "/rounds/{round_id}/placements", scope=READ, tag="Rounds",
           summary="A round's allocation", response="PlacementPage", params=PAGE)
def round_placements(round_id, cursor, limit):
    """Every placement of the round as it stands, proposals included, in id order."""
    round_ = services.get_round(g.api_officer, round_id)
    return services.round_placements(
        _listing("round-placements", cursor, limit, round=round_id), round_).as_dict()


@operation(bp, "GET", "/runs/{run_id}", scope=READ, tag="Rounds",
           summary="A run's result", response="RunResult")
def get_run(run_id):
    """A run: its status and summary, and why each learner it left unplaced was not placed
    (listed no offers, no offer they could take, or every such offer full)."""
    return services.run_result(services.get_run(g.api_officer, run_id))


@operation(bp, "GET", "/placements", scope=READ, tag="Placements",
           summary="Placements, in order of change", response="PlacementPage",
           params=(id_param("round_id", "Only this round's placements."), UPDATED_SINCE,
                   *PAGE))
def list_placements(round_id, updated_since, cursor, limit):
    """Placements of the provider's rounds once published (published, accepted, declined,
    withdrawn), in order of change: a change feed for a nightly sync. Page through with
    `next_cursor` until `has_more` is false, keep the last `next_cursor`, and start the
    next sync from it: every change since arrives (some more than once). Proposals are not
    in the feed (a later run may change or drop them); a round's allocation lists them."""
    listing = _listing("placements", cursor, limit, round_id=round_id,
                       updated_since=updated_since)
    return services.placement_feed(listing, round_id, updated_since).as_dict()


@operation(bp, "GET", "/placements/{placement_id}", scope=READ, tag="Placements",
           summary="Read a placement", response="Placement")
def get_placement(placement_id):
    """A placement of one of the provider's rounds, whatever its status."""
    return services.get_placement(g.api_officer, placement_id)


# --- employers and offers ----------------------------------------------------------------------

@operation(bp, "GET", "/employers", scope=READ, tag="Employers", summary="List employers",
           response="EmployerPage", params=PAGE)
def list_employers(cursor, limit):
    """Every employer (employers are shared by all providers), with their sites."""
    return services.list_employers(_listing("employers", cursor, limit)).as_dict()


@operation(bp, "GET", "/employers/{employer_id}", scope=READ, tag="Employers",
           summary="Read an employer", response="Employer")
def get_employer(employer_id):
    """An employer with their sites."""
    return services.employer_json(services.get_employer(employer_id))


@operation(bp, "GET", "/offers", scope=READ, tag="Employers", summary="List offers",
           response="OfferPage",
           params=(id_param("employer_id", "Only this employer's offers."), UPDATED_SINCE,
                   *PAGE))
def list_offers(employer_id, updated_since, cursor, limit):
    """Placement offers in order of change, with whether each is open to learners' choices
    (and if not, why)."""
    listing = _listing("offers", cursor, limit, employer_id=employer_id,
                       updated_since=updated_since)
    return services.list_offers(listing, employer_id, updated_since).as_dict()


@operation(bp, "GET", "/offers/{offer_id}", scope=READ, tag="Employers",
           summary="Read an offer", response="Offer")
def get_offer(offer_id):
    """A placement offer."""
    return services.offer_json(services.get_offer(offer_id))
