"""Unit tests of the hours arithmetic: share, projection, status at the edges (no app)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from placements.hours import calc
from placements.hours.calc import Logged, ProgrammeTerms, Status

START = date(2026, 1, 1)
#: 100 days long, 1000 planned hours (4000 qh), 20% target: met at 200 WI hours (800 qh).
TERMS = ProgrammeTerms(start_date=START, end_date=START + timedelta(days=100),
                       planned_total_hours=1000, target_pct=20)
#: The same with a mandated placement of 100 hours (400 qh).
MANDATED = ProgrammeTerms(start_date=START, end_date=START + timedelta(days=100),
                          planned_total_hours=1000, target_pct=20,
                          required_placement_hours=100)
HALFWAY = START + timedelta(days=50)


def test_share_is_wi_over_all_hours_logged():
    assert calc.share(0, 0) is None
    assert calc.share(1, 3) == 0.25
    assert calc.share(5, 0) == 1.0
    assert calc.share(0, 7) == 0.0


def test_projection_scales_to_the_whole_programme():
    assert calc.project(10, 50, 100) == 20
    assert calc.project(10, 30, 100) == 33  # rounded down
    assert calc.project(10, 0, 100) is None
    assert calc.project(0, 50, 100) == 0


def test_elapsed_days_are_clamped_to_the_programme():
    assert TERMS.total_days == 100
    assert TERMS.elapsed_days(START - timedelta(days=5)) == 0
    assert TERMS.elapsed_days(START) == 0
    assert TERMS.elapsed_days(HALFWAY) == 50
    assert TERMS.elapsed_days(START + timedelta(days=500)) == 100


def test_programme_of_zero_days_counts_as_one():
    terms = ProgrammeTerms(start_date=START, end_date=START, planned_total_hours=10)
    assert terms.total_days == 1


@pytest.mark.parametrize(("wi", "status"), [(400, Status.ON_TRACK), (399, Status.AT_RISK)])
def test_share_threshold_is_exact_halfway(wi, status):
    # Halfway, 300 classroom hours: the projected total is the planned 4000 qh, so on
    # track needs projected WI 2 * wi >= 800 qh, i.e. wi >= 400 qh (100 hours).
    a = calc.assess(Logged(classroom=1200, work_integrated=wi), TERMS, HALFWAY)
    assert a.status is status
    assert a.share_short is (status is Status.AT_RISK)
    assert a.projected_wi_qh == 2 * wi


def test_projected_total_grows_past_planned_hours():
    # Classroom hours at 1.5 times the planned pace: the projected total is the actual
    # pace, so 20% of that is needed, not 20% of the plan.
    short = Logged(classroom=3000, work_integrated=749)
    assert calc.assess(short, TERMS, HALFWAY).status is Status.AT_RISK
    enough = Logged(classroom=3000, work_integrated=750)  # 750 / 3750 = 20%
    a = calc.assess(enough, TERMS, HALFWAY)
    assert a.status is Status.ON_TRACK
    assert a.projected_share == pytest.approx(0.2)


@pytest.mark.parametrize(("wi", "met"), [(800, True), (799, False)])
def test_met_when_wi_reaches_target_share_of_planned_hours(wi, met):
    a = calc.assess(Logged(classroom=3000, work_integrated=wi), TERMS, HALFWAY)
    assert (a.status is Status.MET) is met


def test_met_before_the_end_and_even_before_the_start():
    logged = Logged(classroom=0, work_integrated=800)
    assert calc.assess(logged, TERMS, START).status is Status.MET


def test_nothing_to_judge_before_the_start():
    a = calc.assess(Logged(), TERMS, START - timedelta(days=1))
    assert a.status is Status.ON_TRACK
    assert a.share is None
    assert a.projected_wi_qh is None
    assert a.projected_share is None


def test_no_hours_at_all_after_the_start_is_at_risk():
    assert calc.assess(Logged(), TERMS, START + timedelta(days=1)).status is Status.AT_RISK


def test_at_the_end_projection_equals_actual():
    end = START + timedelta(days=100)
    a = calc.assess(Logged(classroom=3200, work_integrated=799), TERMS, end)
    assert a.projected_wi_qh == 799
    assert a.status is Status.AT_RISK


@pytest.mark.parametrize(("placement", "status"), [(200, Status.ON_TRACK),
                                                   (199, Status.AT_RISK)])
def test_mandated_placement_threshold_halfway(placement, status):
    # 400 qh required; halfway, 200 qh keeps the rate.
    logged = Logged(classroom=1200, work_integrated=600, placement=placement)
    a = calc.assess(logged, MANDATED, HALFWAY)
    assert a.status is status
    assert a.placement_short is (status is Status.AT_RISK)
    assert a.share_short is False
    assert a.projected_placement_qh == 2 * placement


def test_mandated_met_needs_the_required_hours_too():
    short = Logged(classroom=3000, work_integrated=900, placement=399)
    assert calc.assess(short, MANDATED, HALFWAY).status is Status.ON_TRACK
    done = Logged(classroom=3000, work_integrated=900, placement=400)
    assert calc.assess(done, MANDATED, HALFWAY).status is Status.MET


def test_zero_target_is_met_without_hours_when_not_mandated():
    terms = ProgrammeTerms(start_date=START, end_date=START + timedelta(days=100),
                           planned_total_hours=1000, target_pct=0)
    assert calc.assess(Logged(), terms, HALFWAY).status is Status.MET


@pytest.mark.parametrize(("wi", "cr", "band"), [
    (0, 0, calc.NO_HOURS_BAND), (0, 10, 0), (4, 96, 0), (5, 95, 1), (19, 81, 3),
    (20, 80, 4), (1, 3, 5), (39, 61, 6), (40, 60, 7), (10, 0, 7),
])
def test_share_band_edges(wi, cr, band):
    assert calc.share_band(wi, cr) == band


@pytest.mark.parametrize(("text", "qh"), [
    ("7.5", 30), ("7.25", 29), ("7.75", 31), ("0.25", 1), ("12", 48), (" 6 ", 24),
    ("7:30", 30), ("7:45", 31), ("0:15", 1),
])
def test_parse_hours_accepts_quarter_hours(text, qh):
    assert calc.parse_hours(text) == qh


@pytest.mark.parametrize(("text", "message"), [
    ("", "Enter the number of hours"),
    ("abc", "Enter hours as a number"),
    ("nan", "Enter hours as a number"),
    ("Infinity", "Enter hours as a number"),
    ("0", "more than 0"),
    ("-1", "more than 0"),
    ("12.25", "12 or fewer"),
    ("7.1", "quarter hours"),
    ("7:20", "quarter hours"),
    ("7:5", "Enter hours as a number"),
])
def test_parse_hours_rejects_bad_values(text, message):
    with pytest.raises(ValueError, match=message):
        calc.parse_hours(text)


def test_formatting():
    assert calc.format_hours(30) == "7.5"
    assert calc.format_hours(29) == "7.25"
    assert calc.format_hours(4800) == "1,200"
    assert calc.format_hours(None) == ""
    assert calc.format_pct(0.2) == "20.0%"
    assert calc.format_pct(None) == "No hours yet"
    assert calc.format_pct(float("nan")) == "No hours yet"
