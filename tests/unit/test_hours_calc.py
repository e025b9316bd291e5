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
    assert calc.project(10, 0, 100) == 10  # before the start: as it stands
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


def test_planned_classroom_hours_are_the_plan_less_the_target():
    assert TERMS.planned_classroom_qh == 3200
    assert ProgrammeTerms(START, START, 10, target_pct=33).planned_classroom_qh == 26


@pytest.mark.parametrize(("wi", "status"), [(400, Status.ON_TRACK), (399, Status.AT_RISK)])
def test_share_threshold_is_exact_halfway(wi, status):
    # Halfway, classroom on plan (1600 qh): projected classroom = 1600 + half the planned
    # 3200 = 3200; other WI at the pace so far doubles; so on track needs 2 * wi >= 800.
    a = calc.assess(Logged(classroom=1600, work_integrated=wi), TERMS, HALFWAY)
    assert a.status is status
    assert a.share_short is (status is Status.AT_RISK)
    assert a.projected_wi_qh == 2 * wi
    assert a.projected_classroom_qh == 3200


@pytest.mark.parametrize(("wi", "status"), [(575, Status.ON_TRACK), (574, Status.AT_RISK)])
def test_projected_total_grows_past_planned_hours(wi, status):
    # Classroom well ahead of plan (3000 qh halfway, then the planned 1600 still to come):
    # the projected total is 2 * wi + 4600 > 4000, and 20% of that is needed:
    # 100 * 2 * wi >= 20 * (2 * wi + 4600) <=> wi >= 575.
    a = calc.assess(Logged(classroom=3000, work_integrated=wi), TERMS, HALFWAY)
    assert a.status is status
    assert a.projected_classroom_qh == 4600


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
    assert not a.started
    assert a.share is None
    assert a.projected_wi_qh == 0
    assert a.projected_classroom_qh == 3200
    assert calc.reasons(a, TERMS) == []


def test_no_hours_at_all_after_the_start_is_at_risk():
    a = calc.assess(Logged(), TERMS, START + timedelta(days=1))
    assert a.status is Status.AT_RISK
    [why] = calc.reasons(a, TERMS)
    assert why.concern is calc.Concern.SHARE_SHORT
    assert why.for_officer() == ("No work-integrated hours so far and none scheduled: 20% "
                                 "of planned hours (200 h) expected by 11 April 2026")
    assert why.for_learner().startswith("You have no work-integrated hours yet and none are "
                                        "scheduled. About 20% of your planned hours "
                                        "(200 hours) should be work-integrated by 11 April")


def test_at_the_end_projection_equals_actual():
    end = START + timedelta(days=100)
    a = calc.assess(Logged(classroom=3200, work_integrated=799), TERMS, end)
    assert a.projected_wi_qh == 799
    assert a.projected_classroom_qh == 3200
    assert a.status is Status.AT_RISK


# --- scheduled placement hours ----------------------------------------------------------------

MON = date(2026, 2, 23)  # a Monday of the programme above


@pytest.mark.parametrize(("first", "last", "days"), [
    (MON, MON + timedelta(days=4), 5),  # Monday to Friday
    (MON + timedelta(days=5), MON + timedelta(days=6), 0),  # a weekend
    (MON + timedelta(days=4), MON + timedelta(days=7), 2),  # Friday to Monday
    (MON, MON, 1),
    (MON + timedelta(days=2), MON + timedelta(days=4), 3),  # a part week: Wed to Fri
    (MON, MON + timedelta(days=27), 20),  # four weeks
    (MON, MON - timedelta(days=1), 0),  # the last day before the first
    (date(1970, 1, 1), date(1970, 1, 4), 2),  # Thursday to Sunday, by the epoch
])
def test_weekdays_between_two_days(first, last, days):
    assert calc.weekdays(first, last) == days


def test_day_numbers_count_from_1970():
    assert calc.day_number(date(1970, 1, 1)) == 0
    assert calc.day_number(calc.MONDAY_EPOCH) == -3
    assert calc.MONDAY_EPOCH.weekday() == 0


def placement(first: date, last: date, per_week: int = 30) -> calc.Scheduled:
    return calc.Scheduled(first, last, per_week, "Junior developer", "Acme Digital")


def test_a_part_week_counts_its_weekdays():
    wed_to_fri = placement(MON + timedelta(days=2), MON + timedelta(days=4))
    assert calc.scheduled_qh(wed_to_fri, TERMS, MON - timedelta(days=7)) == 30 * 4 * 3 // 5


def test_only_days_after_today_count():
    weeks = placement(MON, MON + timedelta(days=27))  # 4 weeks, 20 weekdays
    assert calc.scheduled_days(weeks, TERMS, MON - timedelta(days=1)) == 20
    assert calc.scheduled_days(weeks, TERMS, MON) == 19  # today is not still to come
    assert calc.scheduled_days(weeks, TERMS, MON + timedelta(days=27)) == 0
    assert calc.scheduled_qh(weeks, TERMS, MON) == 30 * 4 * 19 // 5


def test_placement_ending_on_the_programme_end_counts_that_day_and_no_later():
    end = TERMS.end_date  # 11 April 2026, a Saturday; Friday 10 April is its last weekday
    on_end = placement(end - timedelta(days=5), end)  # Monday 6 to Saturday 11 April
    after = placement(end - timedelta(days=5), end + timedelta(days=30))
    assert calc.scheduled_days(on_end, TERMS, HALFWAY) == 5
    assert calc.scheduled_days(after, TERMS, HALFWAY) == 5
    friday_end = ProgrammeTerms(START, date(2026, 4, 10), 1000)
    assert calc.scheduled_days(placement(date(2026, 4, 6), date(2026, 4, 10)), friday_end,
                               HALFWAY) == 5
    assert calc.scheduled_days(placement(date(2026, 4, 6), date(2026, 4, 17)), friday_end,
                               HALFWAY) == 5


def test_the_issues_learner_with_an_accepted_placement_is_on_track():
    # Programme 14 Sep 2026 to 2 Jul 2027, 150 placement hours mandated; accepted placement
    # 1 Feb to 28 May 2027 at 30 hours a week; no placement hours logged yet on 30 Nov.
    terms = ProgrammeTerms(date(2026, 9, 14), date(2027, 7, 2), 1200, 20, 150)
    today = date(2026, 11, 30)
    logged = Logged(classroom=11 * 24 * 4, work_integrated=11 * 6 * 4)
    a = calc.assess(logged, terms, today, [placement(date(2027, 2, 1), date(2027, 5, 28))])
    assert a.scheduled_days == 85  # 17 weeks
    assert a.scheduled_qh == 510 * 4
    assert not a.placement_short
    assert a.status is Status.ON_TRACK
    without = calc.assess(logged, terms, today)
    assert without.status is Status.AT_RISK
    assert without.placement_short


@pytest.mark.parametrize(("placement_qh", "status"), [(40, Status.ON_TRACK),
                                                      (39, Status.AT_RISK)])
def test_mandated_placement_threshold_with_a_schedule(placement_qh, status):
    # 400 qh required: logged + 5 weeks at 18 h a week (360 qh) must reach it.
    five_weeks = placement(MON, MON + timedelta(days=32), per_week=18)
    logged = Logged(classroom=1600, work_integrated=300, placement=placement_qh)
    a = calc.assess(logged, MANDATED, HALFWAY, [five_weeks])
    assert a.scheduled_qh == 360
    assert a.projected_placement_qh == placement_qh + 360
    assert a.status is status
    assert a.placement_short is (status is Status.AT_RISK)
    assert a.share_short is False


def test_mandated_met_needs_the_required_hours_too():
    short = Logged(classroom=3000, work_integrated=900, placement=399)
    assert calc.assess(short, MANDATED, HALFWAY).status is Status.AT_RISK
    done = Logged(classroom=3000, work_integrated=900, placement=400)
    assert calc.assess(done, MANDATED, HALFWAY).status is Status.MET


def test_an_ended_placement_schedules_nothing():
    ended = placement(START + timedelta(days=7), START + timedelta(days=20))
    a = calc.assess(Logged(1600, 500, 100), MANDATED, HALFWAY, [ended])
    assert a.scheduled_qh == 0
    assert a.placements == 1
    assert a.status is Status.AT_RISK
    [why] = calc.reasons(a, MANDATED)
    assert why.concern is calc.Concern.PLACEMENT_SHORT
    assert why.for_officer() == ("Logged 25 h of 100 placement hours and the placement "
                                 "ended on 21 January 2026: 75 h short")
    assert "your placement has ended" in why.for_learner()


# --- reasons --------------------------------------------------------------------------------

@pytest.mark.parametrize(("days", "text"), [(0, "0 days"), (1, "1 day"), (4, "4 days"),
                                            (5, "1 week"), (7, "1 week and 2 days"),
                                            (20, "4 weeks")])
def test_weeks_text(days, text):
    assert calc.weeks_text(days) == text


def test_no_placement_yet_in_both_voices():
    a = calc.assess(Logged(1600, 500), MANDATED, HALFWAY)
    [why] = calc.reasons(a, MANDATED)
    assert why.concern is calc.Concern.NO_PLACEMENT
    assert why.for_officer() == ("No placement yet and mandated: 100 placement hours needed "
                                 "by 11 April 2026")
    assert why.for_learner() == ("You have no placement yet, and your programme needs 100 "
                                 "placement hours by 11 April 2026.")
    some = calc.assess(Logged(1600, 500, 48), MANDATED, HALFWAY)
    assert calc.reasons(some, MANDATED)[0].for_officer() == (
        "No placement scheduled and mandated: 12 of 100 placement hours logged, 88 more "
        "needed by 11 April 2026")


def test_placement_short_with_weeks_left_in_both_voices():
    four_weeks = placement(MON, MON + timedelta(days=27), per_week=15)  # 60 h
    a = calc.assess(Logged(1600, 500, 48), MANDATED, HALFWAY, [four_weeks])
    [why] = calc.reasons(a, MANDATED)
    assert why.for_officer() == ("Logged 12 h of 100 placement hours with 4 weeks of "
                                 "placement left (60 h scheduled): 28 h short")
    assert why.for_learner() == (
        "You have 12 hours of verified placement time of the 100 hours your programme "
        "needs, and 4 weeks of placement left (60 hours), which leaves you 28 hours short. "
        "Log your placement hours and talk to your placement officer.")


def test_share_short_and_waiting_entries_in_both_voices():
    a = calc.assess(Logged(1600, 399), TERMS, HALFWAY)
    share, waiting = calc.reasons(a, TERMS, waiting=3, waiting_days=14)
    assert share.for_officer() == ("Work-integrated share heading for 20.0% by 11 April "
                                   "2026, below the 20% target")
    assert "below the 20% target." in share.for_learner()
    assert waiting.for_officer() == "3 entries waiting for verification over 14 days"
    assert waiting.for_learner().startswith("3 of your entries have waited more than 14 days")
    [one] = calc.reasons(calc.assess(Logged(1600, 800), TERMS, HALFWAY), TERMS, waiting=1)
    assert one.for_officer() == "1 entry waiting for verification over 14 days"
    assert one.for_learner().startswith("One of your entries has waited")


def test_nothing_to_say_when_on_track_and_nothing_waits():
    a = calc.assess(Logged(1600, 400), TERMS, HALFWAY)
    assert calc.reasons(a, TERMS) == []


def test_pending_changes_are_for_officers_only():
    removal = calc.Change("removal", "Junior developer, Acme Digital", scheduled_qh=360)
    move = calc.Change("move", "Junior developer, Acme Digital", "Tester, Beta Ltd")
    five_weeks = placement(MON, MON + timedelta(days=32), per_week=18)
    on_track = calc.assess(Logged(1600, 300, 40), MANDATED, HALFWAY, [five_weeks])
    # A removal of a mandated learner's placement is a reason of its own ...
    [why] = calc.reasons(on_track, MANDATED, changes=[removal])
    assert why.officer_only
    assert why.for_officer() == ("Removal from Junior developer, Acme Digital waiting to be "
                                 "published: its 90 h still to come are counted until then")
    assert why.for_learner() == ""
    # ... a move only a note beside other reasons.
    assert calc.reasons(on_track, MANDATED, changes=[move]) == []
    noted = calc.reasons(on_track, MANDATED, waiting=2, changes=[move])
    assert noted[-1].for_officer() == (
        "Move from Junior developer, Acme Digital to Tester, Beta Ltd waiting to be "
        "published: the figures count Junior developer, Acme Digital until then")
    # Not mandated, or already met: a removal changes nothing that matters here.
    assert calc.reasons(calc.assess(Logged(1600, 400), TERMS, HALFWAY), TERMS,
                        changes=[removal]) == []


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
