"""Demo employer engagement: every demo employer on the board, some prospects, a log.

Called at the end of `seed.demo.load_demo`; built through the engagement services. Dates
are relative to today so the board always has overdue and upcoming next actions.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from placements.engagement.services import (
    ActivityData,
    ProspectData,
    add_prospect,
    complete_action,
    log_activity,
    set_stage,
    track_registered_employers,
)
from placements.models import ActivityKind, EngagementStage, User

#: (name, sector, postcode area, contact, stage, pledged places)
PROSPECTS = [
    ("Altrincham Robotics", "Engineering and manufacturing", "WA", "Dev Mistry",
     EngagementStage.PROSPECT, None),
    ("Bolton Cloud Services", "Digital", "BL", "Hannah Price", EngagementStage.CONTACTED, None),
    ("Rochdale Data Works", "Digital", "OL", "Marek Nowak", EngagementStage.INTERESTED, None),
    ("Stockport Smart Homes", "Construction", "SK", "Leah Byrne", EngagementStage.PLEDGED, 3),
    ("Wigan Family Health", "Health and science", "WN", "Tom Ashworth",
     EngagementStage.CONTACTED, None),
    ("Oldham Early Years", "Education and childcare", "OL", "Ayesha Rahman",
     EngagementStage.PLEDGED, 2),
    ("Trafford Logistics Tech", "Digital", "M", "Chris Doyle", EngagementStage.LAPSED, None),
    ("Bury Software Guild", "Digital", "BL", "Nadia Khan", EngagementStage.PROSPECT, None),
]

NOTES = {
    ActivityKind.CALL: "Introductory call about HTQ placements and the 80/20 model.",
    ActivityKind.VISIT: "Site visit: met the team lead, saw where learners would work.",
    ActivityKind.WORKSHOP: "Came to the employer workshop on hosting HTQ learners.",
    ActivityKind.ROUNDTABLE: "Joined the LSIP digital skills roundtable.",
    ActivityKind.EMAIL: "Sent the employer pack and the placement agreement.",
}
NEXT = ["Send the employer pack", "Book a site visit", "Confirm number of places",
        "Introduce to the programme lead", "Chase the signed agreement"]


def load_engagement_demo(officer: User, seed: int = 2026) -> int:
    """Put the demo employers on the board, add prospects and an activity log; return how
    many records there are."""
    rng = random.Random(seed)
    today = date.today()
    records = track_registered_employers(officer)
    for name, sector, area, contact, stage, pledged in PROSPECTS:
        record = add_prospect(officer, ProspectData(name=name, sector=sector,
                                                    postcode_area=area, contact_name=contact))
        records.append(record)
        if stage == EngagementStage.PROSPECT:
            continue
        kinds = [ActivityKind.CALL, ActivityKind.EMAIL]
        if stage in (EngagementStage.INTERESTED, EngagementStage.PLEDGED):
            kinds += [rng.choice([ActivityKind.WORKSHOP, ActivityKind.ROUNDTABLE]),
                      ActivityKind.VISIT]
        day = today - timedelta(days=rng.randint(40, 70))
        for i, kind in enumerate(kinds):
            last = i == len(kinds) - 1
            due = day + timedelta(days=rng.randint(5, 20))
            activity = log_activity(officer, record, ActivityData(
                kind=kind, happened_on=day, notes=NOTES[kind], next_action=rng.choice(NEXT),
                next_action_due=due), today=today)
            if not last:
                complete_action(officer, activity)
            day = min(today, day + timedelta(days=rng.randint(7, 15)))
        set_stage(officer, record, stage, pledged)
    # A few hosting employers with a recent visit and an upcoming review.
    hosting = [r for r in records if r.stage == EngagementStage.HOSTING]
    for record in rng.sample(hosting, min(4, len(hosting))):
        log_activity(officer, record, ActivityData(
            kind=ActivityKind.VISIT, happened_on=today - timedelta(days=rng.randint(1, 10)),
            notes="Placement review visit with the supervisor.",
            next_action="Mid-placement review call",
            next_action_due=today + timedelta(days=rng.randint(5, 30))), today=today)
    return len(records)
