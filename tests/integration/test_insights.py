"""Insight pages: supply and demand, what-if (hand-checked), fairness, permissions."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from placements.extensions import db
from placements.geo import locate
from placements.insights import services
from placements.models import (
    AllocationRun,
    AuditEvent,
    InsightSolve,
    Learner,
    Placement,
    PlacementOffer,
    Provider,
    ProviderKind,
    Role,
    SolveKind,
)
from tests.conftest import make_run as add_run
from tests.conftest import make_user


def add_learner(world, ref: str, programme="prog1", postcode="M1 1AA", max_km=20, **fields):
    """Add a learner of world[programme] (its provider) living at `postcode`."""
    where = locate(postcode)
    prog = world[programme]
    user = make_user(f"{ref.lower()}@example.test", Role.LEARNER)
    learner = Learner(user=user, provider=prog.provider, programme=prog, student_ref=ref,
                      home_postcode=where.postcode, lat=where.lat, lon=where.lon,
                      max_travel_km=max_km, **fields)
    db.session.add(learner)
    return learner


@pytest.fixture
def outsider(world):
    """An officer of a provider outside the test partnership and round."""
    provider = Provider(name="Elsewhere College", kind=ProviderKind.COLLEGE)
    db.session.add(provider)
    user = make_user("outsider@example.test", Role.OFFICER, provider=provider)
    db.session.commit()
    return user


# --- permissions ----------------------------------------------------------------------------

def pages(world, run_id=None):
    rid = world["round"].id
    urls = ["/officer/insights/", "/officer/insights/supply-demand",
            f"/officer/insights/supply-demand?round={rid}",
            f"/officer/insights/supply-demand.csv?round={rid}",
            f"/officer/insights/rounds/{rid}/what-if"]
    solve = db.session.scalar(sa.select(InsightSolve).limit(1))
    if solve is not None:
        urls.append(f"/officer/insights/rounds/{rid}/solves/{solve.id}/progress.json")
    if run_id is not None:
        urls.append(f"/officer/insights/runs/{run_id}/fairness")
    return urls


def make_run(world, result) -> AllocationRun:
    run = add_run(world["round"].id, "succeeded", result=result)
    db.session.add(run)
    db.session.commit()
    return run


@pytest.fixture
def inline(app):
    """Jobs run before the request that queued them returns."""
    app.config["JOB_WORKER"] = "inline"
    return app


def solves() -> list[InsightSolve]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(InsightSolve).order_by(InsightSolve.id)))


def test_signed_out_users_are_sent_to_sign_in(client, world):
    run = make_run(world, {"assignments": [], "unplaced": []})
    for url in pages(world, run.id):
        response = client.get(url)
        assert response.status_code == 302, url
        assert "/auth/login" in response.headers["Location"]


@pytest.mark.parametrize("email", ["emp1@example.test", "learner1@example.test",
                                   "admin@example.test"])
def test_only_officers_see_insights(client, auth, world, email):
    run = make_run(world, {"assignments": [{"learner": f"L{world['l1'].id}",
                                            "offer": f"O{world['o1'].id}", "rank": 1}],
                           "unplaced": []})
    auth.login(email)
    for url in pages(world, run.id):
        response = client.get(url)
        assert response.status_code == 403, url
        assert b"Age band" not in response.data
    rid = world["round"].id
    for url in (f"/officer/insights/rounds/{rid}/what-if",
                f"/officer/insights/rounds/{rid}/baseline"):
        response = client.post(url, data={"sector": "Digital", "area": "M", "places": 2})
        assert response.status_code == 403
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(
        AuditEvent.action == "insights.what_if")) == 0
    assert solves() == []


def test_officer_outside_the_round_gets_404(client, auth, world, outsider):
    run = make_run(world, {"assignments": [], "unplaced": []})
    auth.login("outsider@example.test")
    rid = world["round"].id
    for url in (f"/officer/insights/supply-demand?round={rid}",
                f"/officer/insights/supply-demand.csv?round={rid}",
                f"/officer/insights/rounds/{rid}/what-if",
                f"/officer/insights/runs/{run.id}/fairness"):
        assert client.get(url).status_code == 404, url
    for url in (f"/officer/insights/rounds/{rid}/what-if",
                f"/officer/insights/rounds/{rid}/baseline"):
        assert client.post(url, data={"sector": "Digital", "area": "M",
                                      "places": 2}).status_code == 404, url
    assert solves() == []
    assert client.get("/officer/insights/supply-demand?round=abc").status_code == 404
    response = client.get("/officer/insights/")
    assert response.status_code == 200
    assert b"Spring" not in response.data


def test_partner_officer_sees_the_pooled_round(client, auth, world):
    auth.login("officer2@example.test")  # University Two is in the round
    assert client.get(f"/officer/insights/supply-demand?round={world['round'].id}"
                      ).status_code == 200


# --- supply and demand ----------------------------------------------------------------------

def test_partnership_supply_demand_has_no_shortfall(client, auth, world):
    for i in range(3):
        add_learner(world, f"SK{i}", postcode="SK1 1AA", max_km=5)  # nothing within 5 km
    add_learner(world, "WORK", in_work_employer="Acme")  # in work: not counted
    db.session.commit()
    auth.login("officer1@example.test")
    response = client.get("/officer/insights/supply-demand")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "choose a round to see the mandated learners its allocation leaves unplaced" in text
    assert "shortfall" not in text.lower().split("there is no shortfall here")[1]
    assert "style=" not in text
    csv = client.get("/officer/insights/supply-demand.csv")
    assert csv.mimetype == "text/csv"
    lines = csv.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0] == ("Sector,Area code,Area,Region,Learners,Of whom placement mandated,"
                        "Placed,Not placed,Mandated not placed (shortfall),"
                        "Places offered in area,"
                        "Places within reach of these learners (overlapping)")
    rows = {tuple(line.split(",")[:2]): line.split(",") for line in lines[1:]}
    assert rows["Digital", "SK"][4:] == ["3", "3", "", "", "", "0", "0"]
    # M: l1 (mandated) reaches Acme's 2 places; the in-work learner is left out.
    assert rows["Digital", "M"][4:] == ["1", "1", "", "", "", "2", "2"]
    # Health: l2 holds DBS and reaches the clinic's place.
    assert rows["Health and science", "M"][4:] == ["1", "0", "", "", "", "1", "1"]
    region = client.get("/officer/insights/supply-demand.csv?by=region").get_data(as_text=True)
    assert "Digital,,,North West,4,4,,,,2,2" in region


def test_supply_demand_partnership_scope_ignores_other_partnerships(client, auth, world,
                                                                     outsider):
    auth.login("outsider@example.test")
    response = client.get("/officer/insights/supply-demand.csv")
    assert response.status_code == 200
    assert response.get_data(as_text=True).count("\n") == 1  # header only: no programmes


@pytest.fixture
def spread_out(world):
    """Mandated Digital learners: 4 in Manchester (Acme has 2 places there), 3 in Stockport
    who can travel 5 km only (nothing within reach), one in work."""
    for i in range(3):
        add_learner(world, f"M{i}")
    for i in range(3):
        add_learner(world, f"SK{i}", postcode="SK1 1AA", max_km=5)
    db.session.commit()
    return world


def run_round(world):
    """A real allocation run of the round, solved inline."""
    from placements.jobs import submit
    from placements.rounds import services as round_services

    run = round_services.start_run(world["officer1"], world["round"])
    db.session.commit()
    submit(run.job_id, mode="inline")
    db.session.expire_all()
    return db.session.get(AllocationRun, run.id)


def csv_rows(client, url):
    lines = client.get(url).get_data(as_text=True).lstrip("\ufeff").splitlines()
    return [line.split(",") for line in lines[1:]]


def test_supply_demand_is_the_runs_answer(client, auth, spread_out):
    run = run_round(spread_out)
    summary = run.result["summary"]
    # 7 mandated Digital learners for 2 places: 5 unplaced (3 of them in Stockport).
    assert summary["mandated"] - summary["mandated_placed"] == 5
    rid = spread_out["round"].id
    auth.login("officer1@example.test")
    page = client.get(f"/officer/insights/supply-demand?round={rid}").get_data(as_text=True)
    assert f"run {run.id}</a> of Spring, finished" in page
    assert f'/officer/rounds/{rid}/runs/{run.id}"' in page
    assert '<span class="govuk-heading-xl govuk-!-margin-bottom-1" id="mandated-unplaced">5' \
        in page
    assert "3 / 3" in page  # Stockport: all 3 mandated learners unplaced
    assert "the same place can count in several" in page.lower()
    rows = csv_rows(client, f"/officer/insights/supply-demand.csv?round={rid}")
    cells = {(r[0], r[1]): r for r in rows}
    assert cells["Digital", "SK"][4:] == ["3", "3", "0", "3", "3", "0", "0"]
    assert cells["Digital", "M"][4:9] == ["4", "4", "2", "2", "2"]
    assert cells["Digital", "M"][9:] == ["2", "2"]
    # The cells add up exactly to the run's own count, by area and by region.
    assert sum(int(r[8]) for r in rows) == len(
        [u for u in run.result["unplaced"] if u["mandated"]]) == 5
    by_region = csv_rows(client, f"/officer/insights/supply-demand.csv?round={rid}&by=region")
    assert sum(int(r[8]) for r in by_region) == 5
    result = services.allocation_supply_demand(services.latest_source(spread_out["round"]))
    assert result.total["mandated_unplaced"] == 5
    assert result.total["placed"] == summary["placed"]


def test_supply_demand_says_when_the_round_changed_since(client, auth, spread_out):
    run_round(spread_out)
    rid = spread_out["round"].id
    auth.login("officer1@example.test")
    page = client.get(f"/officer/insights/supply-demand?round={rid}").get_data(as_text=True)
    assert "The round has changed since" not in page
    assert "Choices are still open" in page  # the deadline is 30 days away
    add_learner(spread_out, "LATE")
    db.session.commit()
    page = client.get(f"/officer/insights/supply-demand?round={rid}").get_data(as_text=True)
    assert "The round has changed since: 1 learner joined the round&#39;s programmes" in page
    assert "Run again for an up-to-date answer" in page
    assert "Work out an up-to-date answer" in page


def test_supply_demand_without_an_allocation_offers_a_background_solve(client, auth, inline,
                                                                        spread_out):
    rid = spread_out["round"].id
    auth.login("officer1@example.test")
    page = client.get(f"/officer/insights/supply-demand?round={rid}").get_data(as_text=True)
    assert "No allocation of Spring has been worked out yet" in page
    assert client.get(f"/officer/insights/supply-demand.csv?round={rid}").status_code == 404
    assert solves() == []  # looking changes nothing
    response = client.post(f"/officer/insights/rounds/{rid}/baseline",
                           data={"next": "supply-demand"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/supply-demand?round={rid}&by=area")
    [baseline] = solves()
    assert baseline.kind == SolveKind.BASELINE
    assert baseline.status == "succeeded"
    assert baseline.result["summary"]["mandated_placed"] == 2
    page = client.get(f"/officer/insights/supply-demand?round={rid}").get_data(as_text=True)
    assert "worked out for these pages (it changed no placement)" in page
    assert 'id="mandated-unplaced">5' in page
    assert db.session.scalar(sa.select(sa.func.count(AllocationRun.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(Placement.id))) == 0


def test_a_newer_run_replaces_an_older_baseline(client, auth, inline, spread_out):
    auth.login("officer1@example.test")
    rid = spread_out["round"].id
    client.post(f"/officer/insights/rounds/{rid}/baseline")
    run = run_round(spread_out)
    source = services.latest_source(spread_out["round"])
    assert source.run is not None
    assert source.run.id == run.id
    client.post(f"/officer/insights/rounds/{rid}/baseline")
    assert services.latest_source(spread_out["round"]).solve is not None


# --- fairness -------------------------------------------------------------------------------

def test_fairness_report_suppresses_and_flags(client, auth, world):
    o1 = world["o1"]
    assignments, unplaced = [], []
    # 10 learners aged 18-20, 9 placed (6 at first choice); 6 aged 21-24, 1 placed;
    # 3 aged 40+, all placed (a group under 5: never shown); 5 aged 25-29, all placed
    # (the smallest other group, withheld so that 40+ cannot be worked out from the total).
    for i in range(10):
        lr = add_learner(world, f"Y{i}", age_band="18-20", disability_declared=False)
        db.session.flush()
        if i < 9:
            assignments.append({"learner": f"L{lr.id}", "offer": f"O{o1.id}",
                                "rank": 1 if i < 6 else 2})
        else:
            unplaced.append({"learner": f"L{lr.id}", "mandated": True})
    for i in range(6):
        lr = add_learner(world, f"Z{i}", age_band="21-24", disability_declared=True)
        db.session.flush()
        if i == 0:
            assignments.append({"learner": f"L{lr.id}", "offer": f"O{o1.id}", "rank": 1})
        else:
            unplaced.append({"learner": f"L{lr.id}", "mandated": True})
    for i in range(8):
        lr = add_learner(world, f"O{i}", age_band="40+" if i < 3 else "25-29")
        db.session.flush()
        assignments.append({"learner": f"L{lr.id}", "offer": f"O{o1.id}", "rank": 1})
    run = make_run(world, {"assignments": assignments, "unplaced": unplaced})

    tables = {t.key: t for t in services.fairness_report(run)}
    age = {g.label: g for g in tables["age_band"].groups}
    assert age["40+"].row_hidden
    assert age["25-29"].row_hidden
    assert age["21-24"].counts["learners"] == 6
    assert age["21-24"].placement_rate is None  # 1 placed: under 5
    assert "placement rate" in age["21-24"].flags
    assert age["18-20"].placement_rate == 90.0
    assert age["18-20"].mean_rank == round((6 * 1 + 3 * 2) / 9, 2)
    assert tables["age_band"].total.counts["learners"] == 24

    auth.login("officer1@example.test")
    response = client.get(f"/officer/insights/runs/{run.id}/fairness")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "fewer than 5" in text
    assert "Fares worse" in text
    assert "age band “21-24”" in text
    assert "style=" not in text


def test_fairness_404_for_unknown_or_unfinished_run(client, auth, world):
    run = add_run(world["round"].id, "running")
    db.session.add(run)
    db.session.commit()
    auth.login("officer1@example.test")
    assert client.get(f"/officer/insights/runs/{run.id}/fairness").status_code == 404
    assert client.get("/officer/insights/runs/9999/fairness").status_code == 404


# --- what-if --------------------------------------------------------------------------------

@pytest.fixture
def crowded(world):
    """Five mandated Digital learners in Manchester for Acme's 2 places."""
    for i in range(4):
        add_learner(world, f"D{i}")
    db.session.commit()
    return world


def ask(client, round_id, **data):
    return client.post(f"/officer/insights/rounds/{round_id}/what-if",
                       data={"sector": "Digital", "area": "M", "places": "2", **data})


def test_what_if_by_hand(client, auth, inline, crowded):
    rid = crowded["round"].id
    auth.login("officer1@example.test")
    # No run yet: the first question also works out the round as it stands.
    response = ask(client, rid)
    assert response.status_code == 303
    [baseline, first] = sorted(solves(), key=lambda x: x.kind)
    assert (baseline.kind, first.kind) == (SolveKind.BASELINE, SolveKind.SCENARIO)
    assert baseline.job_id == first.job_id
    assert first.base_solve_id == baseline.id
    # Baseline: 5 mandated Digital learners, 2 places -> 2 placed. 2 more places in M -> 4.
    answer = first.result
    assert answer["baseline"]["mandated"] == 5
    assert answer["baseline"]["mandated_placed"] == 2
    assert answer["variant"]["mandated_placed"] == 4
    assert answer["used_places"] == 2
    assert sum(1 for h in answer["helped"] if h["newly_placed"]) == 2
    # Ten more places only help the three still unplaced; Aberdeen is out of reach; Health's
    # only learner is not mandated and listed nothing.
    ask(client, rid, places="10", area="m")
    ask(client, rid, area="AB", places="5")
    ask(client, rid, sector="Health and science", places="5")
    scenarios = [x for x in solves() if x.kind == SolveKind.SCENARIO]
    assert [x.base_solve_id for x in scenarios] == [baseline.id] * 4  # one baseline for all
    extra = [x.result["variant"]["mandated_placed"] - x.result["baseline"]["mandated_placed"]
             for x in scenarios]
    assert extra == [2, 3, 0, 0]
    assert scenarios[2].result["helped"] == []


def test_what_if_answers_side_by_side_and_kept(client, auth, inline, crowded):
    rid = crowded["round"].id
    auth.login("officer1@example.test")
    url = f"/officer/insights/rounds/{rid}/what-if"
    assert client.get(url).status_code == 200
    response = ask(client, rid, area="m", spread="y")
    first = [x for x in solves() if x.kind == SolveKind.SCENARIO][0]
    assert response.headers["Location"].endswith(f"what-if?scenario={first.id}#scenarios")
    ask(client, rid, places="10")
    page = client.get(url).get_data(as_text=True)  # a reload shows them
    assert "2 more Digital places in M (Manchester), spread over its districts" in page
    assert "10 more Digital places in M (Manchester)" in page
    side = page.split('id="side-by-side"')[1].split("</table>")[0]
    assert "4 of 5 <strong>(+2)</strong>" in side
    assert "5 of 5 <strong>(+3)</strong>" in side
    assert "<td class=\"govuk-table__cell\">2 of 5</td>" in side  # as it stands
    detail = client.get(f"{url}?scenario={first.id}").get_data(as_text=True)
    assert "2 more mandated learners" in detail
    assert "extra place" in detail
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "insights.what_if"))
    assert event.detail["places"] == 2
    trail = client.get(f"/officer/rounds/{rid}/audit").get_data(as_text=True)
    assert "2 more Digital places in M, spread over its districts" in trail
    # Nothing real was created: no offers, no runs, no placements.
    assert db.session.scalar(sa.select(sa.func.count(PlacementOffer.id))) == 2
    assert db.session.scalar(sa.select(sa.func.count(AllocationRun.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(Placement.id))) == 0


def test_what_if_and_supply_demand_agree(client, auth, inline, spread_out):
    """The what-if baseline is the same allocation as supply and demand's: the page's
    shortfall is the baseline's mandated learners not placed, sector by sector."""
    run = run_round(spread_out)
    rid = spread_out["round"].id
    auth.login("officer1@example.test")
    ask(client, rid, places="1")
    [scenario] = solves()
    assert scenario.base_run_id == run.id
    base = scenario.result["baseline"]
    result = services.allocation_supply_demand(services.latest_source(spread_out["round"]))
    assert result.total["mandated_unplaced"] == base["mandated"] - base["mandated_placed"]
    assert result.totals["Digital"]["mandated_unplaced"] == 5
    page = client.get(f"/officer/insights/rounds/{rid}/what-if").get_data(as_text=True)
    assert f"run {run.id}</a>, finished" in page
    assert "2 of 7 mandated learners placed" in page


def test_what_if_questions_can_be_cancelled_and_are_limited(app, client, auth, crowded):
    app.config["JOB_WORKER"] = "manual"  # questions stay queued
    rid = crowded["round"].id
    auth.login("officer1@example.test")
    assert ask(client, rid).status_code == 303
    assert ask(client, rid, places="3").status_code == 303
    response = ask(client, rid, places="4")
    assert response.status_code == 400
    assert "2 questions about this round are being worked out" in response.get_data(as_text=True)
    first, second = solves()
    page = client.get(f"/officer/insights/rounds/{rid}/what-if").get_data(as_text=True)
    assert page.count("is being worked out") == 2
    progress = client.get(f"/officer/insights/rounds/{rid}/solves/{first.id}/progress.json")
    assert progress.json["status"] == "queued"
    response = client.post(f"/officer/insights/rounds/{rid}/solves/{first.id}/cancel")
    assert response.status_code == 303
    assert [x.status for x in solves()] == ["cancelled", "queued"]
    assert ask(client, rid, places="4").status_code == 303  # a slot is free again
    page = client.get(f"/officer/insights/rounds/{rid}/what-if").get_data(as_text=True)
    assert "Not answered" in page
    assert "cancelled" in page
    again = client.post(f"/officer/insights/rounds/{rid}/solves/{first.id}/cancel")
    assert again.status_code == 303  # already finished: said, not an error page


def test_a_failed_question_keeps_nothing(client, auth, inline, crowded, monkeypatch):
    from placements.insights import jobs

    def broken(*_args, **_kwargs):
        raise RuntimeError("solver exploded")

    monkeypatch.setattr(jobs, "solve", broken)
    auth.login("officer1@example.test")
    ask(client, crowded["round"].id)
    [scenario] = solves()  # the baseline it would have solved is not kept
    assert scenario.status == "failed"
    assert scenario.result is None
    page = client.get(f"/officer/insights/rounds/{crowded['round'].id}/what-if").text
    assert "Not answered" in page
    assert "solver exploded" in page


@pytest.mark.parametrize(("data", "message"), [
    ({"sector": "Digital", "area": "ZZ", "places": "2"}, "Enter a postcode area we know"),
    ({"sector": "Digital", "area": "M", "places": "0"}, "between 1 and 500"),
    ({"sector": "Digital", "area": "M", "places": "two"}, "Extra places"),
    ({"sector": "Construction", "area": "M", "places": "2"},
     "Select one of the options in the list"),
])
def test_what_if_bad_input(client, auth, crowded, data, message):
    auth.login("officer1@example.test")
    response = client.post(f"/officer/insights/rounds/{crowded['round'].id}/what-if",
                           data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(
        AuditEvent.action == "insights.what_if")) == 0
    assert solves() == []


def test_virtual_offers_spread_where_learners_live():
    offers = services.virtual_offers("Digital", "M", 5, spread=True,
                                     learner_postcodes=["M1 1AA", "M1 2BB", "M14 5XX"])
    assert [o["id"] for o in offers][:2] == ["W1", "W2"]
    assert sum(o["capacity"] for o in offers) == 5
    assert all(o["employer"] == "WHATIF" and o["requires"] == [] for o in offers)
    m1, m14 = locate("M1"), locate("M14")
    assert (offers[0]["lat"], offers[0]["lon"]) == (m1.lat, m1.lon)
    assert (offers[1]["lat"], offers[1]["lon"]) == (m14.lat, m14.lon)
    (one,) = services.virtual_offers("Digital", "SK", 3)
    assert one["capacity"] == 3


def test_scenario_answer_by_hand():
    base = {"status": "optimal", "summary": {"learners": 3, "mandated": 2, "placed": 1,
                                             "mandated_placed": 1},
            "assignments": [{"learner": "L1", "offer": "O9"}]}
    variant = {"status": "feasible", "summary": {"learners": 3, "mandated": 2, "placed": 3,
                                                 "mandated_placed": 2},
               "assignments": [{"learner": "L1", "offer": "W1"}, {"learner": "L2", "offer": "O9"},
                               {"learner": "L3", "offer": "W2"}]}
    extra = [{"id": "W1"}, {"id": "W2"}]
    answer = services.scenario_answer(base, variant, extra, fallback=False)
    assert answer["used_places"] == 2
    assert answer["helped"] == [
        {"learner": 1, "offer": "extra place", "newly_placed": False},
        {"learner": 2, "offer": 9, "newly_placed": True},
        {"learner": 3, "offer": "extra place", "newly_placed": True}]
    assert answer["variant"]["mandated_placed"] - answer["baseline"]["mandated_placed"] == 1
    assert len(answer["warnings"]) == 2  # no fallback; not proven optimal
    doc = services.variant_problem({"offers": [{"id": "O9"}], "learners": []}, base, extra)
    assert [o["id"] for o in doc["offers"]] == ["O9", "W1", "W2"]
    assert doc["previous"] == [{"learner": "L1", "offer": "O9"}]


def test_who_may_cancel_a_question(app, client, auth, crowded):
    app.config["JOB_WORKER"] = "manual"
    rid = crowded["round"].id
    auth.login("officer1@example.test")  # College One owns the round
    ask(client, rid)
    auth.logout()
    auth.login("officer2@example.test")  # University Two takes part in it
    ask(client, rid, places="3")
    first, second = solves()
    response = client.post(f"/officer/insights/rounds/{rid}/solves/{first.id}/cancel",
                           follow_redirects=True)
    assert "Only the officer who asked" in response.get_data(as_text=True)
    assert [x.status for x in solves()] == ["queued", "queued"]
    client.post(f"/officer/insights/rounds/{rid}/solves/{second.id}/cancel")  # their own
    auth.logout()
    auth.login("officer1@example.test")
    client.post(f"/officer/insights/rounds/{rid}/solves/{first.id}/cancel")
    assert [x.status for x in solves()] == ["cancelled", "cancelled"]


def test_only_the_latest_baselines_keep_their_documents(client, auth, inline, crowded):
    rid = crowded["round"].id
    auth.login("officer1@example.test")
    for _ in range(3):
        client.post(f"/officer/insights/rounds/{rid}/baseline")
    baselines = solves()
    assert [x.status for x in baselines] == ["succeeded"] * 3
    assert [x.result is not None for x in baselines] == [False, True, True]
    assert baselines[0].problem is None
    assert services.latest_source(crowded["round"]).solve.id == baselines[2].id
