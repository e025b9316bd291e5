"""Allocation round services."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from placements import audit
from placements.domain import DomainError, NotAllowed
from placements.extensions import db
from placements.models import AllocationRound, Programme, Provider, RankCost, User


def create_round(officer: User, *, name: str, programmes: Sequence[Programme],
                 preference_deadline: datetime, max_preferences: int = 10,
                 rank_cost: RankCost = RankCost.SQUARED, fallback: bool = True,
                 time_limit_s: int = 60,
                 providers: Sequence[Provider] = ()) -> AllocationRound:
    """Create an allocation round over programmes of the officer's provider or partners."""
    if not programmes:
        raise DomainError("Choose at least one programme", field="programmes")
    if not 1 <= max_preferences <= 50:
        raise DomainError("Maximum choices must be between 1 and 50", field="max_preferences")
    if not 1 <= time_limit_s <= 3600:
        raise DomainError("Time limit must be between 1 and 3600 seconds", field="time_limit_s")
    own = db.session.get(Provider, officer.provider_id)
    allowed = own.partner_ids()
    scope = {p.id for p in providers} | {own.id}
    if not scope <= allowed:
        raise NotAllowed("A round can only include providers of your partnership",
                         field="providers")
    if any(p.provider_id not in scope for p in programmes):
        raise NotAllowed("Choose programmes of the providers in the round", field="programmes")
    round_ = AllocationRound(
        name=name.strip(), provider_id=own.id, preference_deadline=preference_deadline,
        max_preferences=max_preferences, rank_cost=rank_cost, fallback=fallback,
        time_limit_s=time_limit_s, created_by_id=officer.id,
        providers=[db.session.get(Provider, pid) for pid in sorted(scope)],
        programmes=list(programmes))
    db.session.add(round_)
    db.session.flush()
    audit.record(officer, "round.created", round_, round_id=round_.id, name=round_.name)
    return round_
