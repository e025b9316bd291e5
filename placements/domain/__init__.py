"""The domain core: one home for every rule and every lifecycle of Placements.

Features (views, services, reports, imports, jobs, the problem builder) never restate a
rule; they call the module that owns it:

- `placements.domain.errors`: DomainError and its kinds, raised by services and shown to
  people by the views;
- `placements.domain.lifecycle`: the machinery every state machine uses (a table of allowed
  transitions, and transitions applied by a conditional UPDATE so that two concurrent
  requests can never both pass the check);
- `placements.domain.placements`: the placement lifecycle and the rule of places held;
- `placements.domain.rounds`: the allocation round lifecycle and its phase;
- `placements.domain.eligibility`: whether a learner may take an offer, and why not;
- `placements.domain.offers`: which offers are open to learners' choices;
- `placements.domain.access`: who may see what (officers by provider and partnership,
  employers by organisation, learners by self).

Where a rule must run inside the database (lists, dashboards, the problem builder at 50,000
learners) its SQL form sits beside its Python form in the same module, and a test feeds
both the same fixtures.
"""

from placements.domain.errors import ConcurrentChange, DomainError, IllegalTransition, NotAllowed

__all__ = ["ConcurrentChange", "DomainError", "IllegalTransition", "NotAllowed"]
