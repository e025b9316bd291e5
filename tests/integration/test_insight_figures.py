"""The insight figures kept with each allocation: the same numbers as its documents, kept with
the run's success only, read by the pages, and kept for older allocations by a command."""

from __future__ import annotations

import re
import threading

import pytest
import sqlalchemy as sa

from placements.extensions import db
from placements.insights import figures, services
from placements.models import (
    AllocationFigures,
    AllocationRound,
    AllocationRun,
    FigureCell,
    FigureGroup,
    InsightSolve,
    Job,
    Learner,
    Placement,
    PlacementOffer,
    Programme,
)
from tests.integration.test_insights import add_learner, csv_rows, run_round, solves


@pytest.fixture
def region(world):
    """Mandated Digital learners in Manchester, Stockport (5 km only) and Bolton, with
    equality data; Acme has 2 places in Manchester."""
    for i in range(3):
        add_learner(world, f"M{i}", age_band="18-20", disability_declared=bool(i % 2))
    for i in range(3):
        add_learner(world, f"SK{i}", postcode="SK1 1AA", max_km=5, age_band="21-24")
    for i in range(2):
        add_learner(world, f"BL{i}", postcode="BL1 1AA", max_km=40, first_in_family_he=True)
    db.session.commit()
    return world


def cells_of(rows):
    return [(c.sector, c.cell, c.learners, c.mandated, c.offered, c.reachable, c.placed,
             c.unplaced, c.mandated_unplaced) for c in rows]


def groups_of(by_dimension):
    return {key: [(g.label, g.learners, g.placed, g.mandated, g.mandated_placed,
                   g.first_choice, g.ranked, g.rank_sum) for g in groups]
            for key, groups in by_dimension.items()}


def test_a_run_keeps_the_figures_its_documents_give(region):
    run = run_round(region)
    kept = figures.kept_for(run_id=run.id)
    assert kept is not None
    worked = figures.work_out(region["round"], run.problem, run.result, fairness=True)
    for by in ("area", "region"):
        assert cells_of(figures.kept_cells(kept, by)) == cells_of(worked.cells[by])
    assert {c.cell for c in figures.kept_cells(kept, "area")} >= {"M", "SK", "BL"}
    assert groups_of(figures.kept_groups(kept)) == groups_of(worked.groups)
    assert kept.status == run.result["status"]
    assert kept.summary == run.result["summary"]
    assert kept.mandated_unplaced == sum(1 for u in run.result["unplaced"] if u["mandated"])
    assert kept.learner_ids == sorted(int(lr["id"][1:]) for lr in run.problem["learners"])
    assert kept.offer_ids == sorted(int(o["id"][1:]) for o in run.problem["offers"])
    # The cells add up exactly to the run's own counts, by area and by region.
    for by in ("area", "region"):
        rows = figures.kept_cells(kept, by)
        assert sum(c.mandated_unplaced for c in rows) == kept.mandated_unplaced
        assert sum(c.placed for c in rows) == run.result["summary"]["placed"]
    # Each fairness dimension counts every learner of the run once.
    for groups in figures.kept_groups(kept).values():
        assert figures.total(groups).learners == len(run.problem["learners"])


def _pages(client, rid, run_id):
    fair = client.get(f"/officer/insights/runs/{run_id}/fairness").get_data(as_text=True)
    table = fair[fair.index('id="groups-recorded"'):]
    table = table[table.index("</p>"):]
    return {
        "area": csv_rows(client, f"/officer/insights/supply-demand.csv?round={rid}"),
        "region": csv_rows(client,
                           f"/officer/insights/supply-demand.csv?round={rid}&by=region"),
        "page": client.get(f"/officer/insights/supply-demand?round={rid}").get_data(
            as_text=True).split('id="mandated-unplaced">')[1][:3],
        "what-if": re.findall(r"(\d+) of (\d+) mandated learners placed", client.get(
            f"/officer/insights/rounds/{rid}/what-if").get_data(as_text=True)),
        "fairness": table,
    }


def test_pages_show_the_same_numbers_from_kept_figures_as_from_documents(client, auth,
                                                                        region):
    run = run_round(region)
    rid = region["round"].id
    auth.login("officer1@example.test")
    kept = _pages(client, rid, run.id)
    assert kept["what-if"] == [(str(run.result["summary"]["mandated_placed"]),
                                str(run.result["summary"]["mandated"]))]
    assert kept["page"].startswith(str(sum(1 for u in run.result["unplaced"]
                                           if u["mandated"])))
    fair = client.get(f"/officer/insights/runs/{run.id}/fairness").get_data(as_text=True)
    assert "groups they were recorded in when the run finished" in fair
    db.session.execute(sa.delete(AllocationFigures))
    db.session.commit()
    assert _pages(client, rid, run.id) == kept
    fair = client.get(f"/officer/insights/runs/{run.id}/fairness").get_data(as_text=True)
    assert "groups they are recorded in now" in fair


def test_the_pages_read_no_document_when_figures_are_kept(client, auth, region,
                                                          monkeypatch):
    run = run_round(region)
    rid = region["round"].id
    auth.login("officer1@example.test")

    def refuse(self):
        raise AssertionError("a page read an allocation's documents")

    monkeypatch.setattr(services.Source, "problem", property(refuse))
    monkeypatch.setattr(services.Source, "result", property(refuse))
    monkeypatch.setattr(figures, "fairness_groups", refuse)
    for url in (f"/officer/insights/supply-demand?round={rid}",
                f"/officer/insights/supply-demand?round={rid}&by=region",
                f"/officer/insights/supply-demand.csv?round={rid}",
                f"/officer/insights/rounds/{rid}/what-if",
                f"/officer/insights/runs/{run.id}/fairness"):
        assert client.get(url).status_code == 200, url


def test_an_unsaved_run_reads_no_other_allocations_figures(app, client, auth, region):
    app.config["JOB_WORKER"] = "inline"
    run = run_round(region)
    auth.login("officer1@example.test")
    client.post(f"/officer/insights/rounds/{region['round'].id}/baseline")
    assert figures.kept_for() is None
    six = {"assignments": [], "unplaced": [{"learner": lr["id"], "reason": "capacity"}
                                          for lr in run.problem["learners"][:6]]}
    assert len(run.problem["learners"]) > 6
    unsaved = AllocationRun(round_id=region["round"].id, result=six)
    tables = {t.key: t for t in services.fairness_report(unsaved)}
    assert tables["age_band"].total.counts["learners"] == 6


def test_changes_since_the_kept_allocation(client, auth, region):
    run = run_round(region)
    source = services.latest_source(region["round"])
    assert source.kept is not None
    assert source.run.id == run.id
    assert not services.changes_since(source).any
    add_learner(region, "LATE")
    prog1 = region["prog1"]
    elsewhere = Programme(provider=prog1.provider, title="HTQ Elsewhere", level=4,
                          standard=prog1.standard, route=prog1.route,
                          planned_total_hours=1200, start_date=prog1.start_date,
                          end_date=prog1.end_date)
    db.session.add(elsewhere)
    gone = db.session.scalar(sa.select(Learner).where(Learner.student_ref == "BL0"))
    gone.programme = elsewhere
    offer = db.session.get(PlacementOffer, region["o1"].id)
    offer.title = "Renamed"
    db.session.commit()
    changes = services.changes_since(services.latest_source(region["round"]))
    assert (changes.learners_added, changes.learners_gone) == (1, 1)
    assert changes.offers_changed == 1
    assert (changes.offers_added, changes.offers_gone) == (0, 0)


def test_offers_full_with_another_rounds_learners_are_no_change(region):
    """The problem leaves out an offer whose places another round holds: comparing with the
    round as it stands must not call it an offer the allocation did not include."""
    world = region
    start, end, deadline = (world["o1"].start_date, world["o1"].end_date,
                            world["round"].preference_deadline)
    full = PlacementOffer(employer=world["e1"], site=world["s1"], title="Taken elsewhere",
                          sector="Digital", capacity=1, start_date=start, end_date=end,
                          hours_per_week=30, requirements=[])
    other = AllocationRound(name="Other", provider=world["p1"], providers=[world["p1"]],
                            programmes=[], max_preferences=3,
                            preference_deadline=deadline)
    db.session.add_all([full, other])
    db.session.flush()
    db.session.add(Placement(round=other, learner=world["l1"], offer=full))
    db.session.commit()
    run = run_round(world)
    assert f"O{full.id}" not in {o["id"] for o in run.problem["offers"]}
    changes = services.changes_since(services.latest_source(world["round"]))
    assert (changes.offers_added, changes.offers_gone, changes.offers_changed) == (0, 0, 0)
    assert not changes.any
    # Once its place is free again, it is an offer the allocation did not include.
    db.session.execute(sa.delete(Placement).where(Placement.round_id == other.id))
    db.session.commit()
    changes = services.changes_since(services.latest_source(world["round"]))
    assert changes.offers_added == 1


def test_a_failed_run_keeps_no_figures(region, monkeypatch):
    from placements.rounds import jobs as round_jobs

    def fail(run, result):
        raise RuntimeError("disk full")

    monkeypatch.setattr(round_jobs, "apply_result", fail)
    run = run_round(region)
    assert run.status == "failed"
    assert db.session.scalar(sa.select(sa.func.count(AllocationFigures.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(FigureCell)) == 0


def test_figures_that_cannot_be_worked_out_fail_the_run(region, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("no figures")

    monkeypatch.setattr(figures, "work_out", fail)
    run = run_round(region)
    assert run.status == "failed"
    assert "no figures" in run.error
    assert run.result is None


def test_baselines_keep_figures_and_old_ones_drop_them(client, auth, app, region):
    app.config["JOB_WORKER"] = "inline"
    rid = region["round"].id
    auth.login("officer1@example.test")
    for _ in range(3):
        client.post(f"/officer/insights/rounds/{rid}/baseline")
    baselines = solves()
    kept = {f.solve_id for f in db.session.scalars(sa.select(AllocationFigures))}
    assert kept == {baselines[1].id, baselines[2].id}
    latest = figures.kept_for(solve_id=baselines[2].id)
    worked = figures.work_out(region["round"], baselines[2].problem, baselines[2].result,
                              fairness=False)
    assert cells_of(figures.kept_cells(latest, "area")) == cells_of(worked.cells["area"])
    assert db.session.scalar(sa.select(sa.func.count()).select_from(FigureGroup).where(
        FigureGroup.figures_id == latest.id)) == 0  # fairness is a run's report


def test_the_figures_command_keeps_what_older_allocations_lack(app, client, auth, runner,
                                                              region):
    app.config["JOB_WORKER"] = "inline"
    run_id = run_round(region).id
    round_id = region["round"].id
    auth.login("officer1@example.test")
    client.post(f"/officer/insights/rounds/{round_id}/baseline")
    db.session.execute(sa.delete(AllocationFigures))
    db.session.commit()
    result = runner.invoke(args=["insights", "figures"])
    assert result.exit_code == 0, result.output
    assert f"Run {run_id}: figures kept." in result.output
    assert "2 allocations given figures." in result.output
    run = db.session.get(AllocationRun, run_id)
    kept = figures.kept_for(run_id=run_id)
    worked = figures.work_out(run.round, run.problem, run.result, fairness=True)
    assert cells_of(figures.kept_cells(kept, "region")) == cells_of(worked.cells["region"])
    assert groups_of(figures.kept_groups(kept)) == groups_of(worked.groups)
    again = runner.invoke(args=["insights", "figures", "--round", str(round_id)])
    assert again.exit_code == 0
    assert "0 allocations given figures." in again.output
    bad = runner.invoke(args=["insights", "figures", "--round", "9999"])
    assert bad.exit_code == 2
    assert "there is no round 9999" in bad.output


def test_two_processes_keeping_the_same_figures_keep_them_once(app, region):
    run = run_round(region)
    db.session.execute(sa.delete(AllocationFigures))
    db.session.commit()
    run_id = run.id
    db.session.remove()
    barrier = threading.Barrier(2)
    outcomes: list[bool] = []

    def keep() -> None:
        with app.app_context():
            try:
                db.session.get(AllocationRun, run_id).round.programmes  # noqa: B018
                barrier.wait(timeout=20)
                outcomes.append(figures.keep_missing(run_id=run_id))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=keep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == [False, True]
    assert db.session.scalar(sa.select(sa.func.count(AllocationFigures.id)).where(
        AllocationFigures.run_id == run_id)) == 1
    assert db.session.scalar(sa.select(Job.status).join(
        AllocationRun, AllocationRun.job_id == Job.id).where(
        AllocationRun.id == run_id)) == "succeeded"
    assert solves() == []
    assert db.session.scalar(sa.select(sa.func.count(InsightSolve.id))) == 0
