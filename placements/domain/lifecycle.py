"""The machinery of every lifecycle: a table of named transitions, applied atomically.

A lifecycle is an enum of states held in one column of one model (optionally with a
sub-state in a second column, such as a placement's pending change), and one table of
transitions: each transition is a verb (``publish``, ``decline``, ``verify``) with the
states it may start from and the state it leads to. Nothing else assigns a state:

    PLACEMENT.apply(placement, "accept", actor=user)

checks the object's current state against the table (raising `IllegalTransition` with a
sentence for the person when the verb is not allowed), then changes the row with one
conditional statement::

    UPDATE placement SET status = 'accepted' WHERE id = :id AND status = 'published'
      AND pending_change IS NULL

and checks that exactly one row changed. Two concurrent requests that both read
"published" cannot both pass: the database runs the two UPDATEs one after the other, the
second finds the row no longer in the expected state, changes nothing and raises
`ConcurrentChange` (its request rolls back and tells the person what happened instead).
The transition is audited in the same transaction.

`apply_many` does the same for many rows in one round trip (allocation results, publication),
and raises `ConcurrentChange` unless every row was still in its expected state.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from placements import audit
from placements.domain.errors import ConcurrentChange, IllegalTransition
from placements.extensions import db
from placements.models import utcnow

S = TypeVar("S", bound=enum.Enum)


class _Keep(enum.Enum):
    """Marker: the transition leaves this column as it is."""

    KEEP = "keep"


#: In a transition's target: this column keeps its value.
KEEP = _Keep.KEEP
#: In a transition's target: the row is deleted (a proposal no run supports any more).
DELETE = "delete"


@dataclass(frozen=True)
class Transition(Generic[S]):
    """One named move: from any of `sources` (and `sub_sources`) to `target` (and `sub`)."""

    verb: str
    sources: frozenset[S]
    target: S | _Keep | str
    #: Sub-states it may start from (None in the set: no sub-state); None: any sub-state.
    sub_sources: frozenset[Any] | None = None
    #: Sub-state after the move: a value, None (cleared) or KEEP.
    sub_target: Any = KEEP
    #: What the audit trail calls it once done ("accepted" for "accept").
    event: str = ""

    def allows(self, state: S, sub: Any = None) -> bool:
        """Say whether the move may start from this state (and sub-state)."""
        return state in self.sources and (self.sub_sources is None or sub in self.sub_sources)


def move(verb: str, sources: Iterable[S], target: S | _Keep | str, *,
         sub_from: Iterable[Any] | None = None, sub_to: Any = KEEP,
         event: str = "") -> Transition[S]:
    """Build a row of a transition table (`event`: the audit's past tense of the verb)."""
    return Transition(verb, frozenset(sources), target,
                      frozenset(sub_from) if sub_from is not None else None, sub_to,
                      event or verb)


Refusal = Callable[[str, Any, Any], str]


def _default_refusal(verb: str, state: Any, sub: Any) -> str:
    return f"This cannot be done now: it is {getattr(state, 'value', state)}"


@dataclass
class Lifecycle(Generic[S]):
    """The states of one model's column and the transitions between them."""

    name: str
    model: Any
    transitions: Sequence[Transition[S]]
    column: str = "status"
    sub_column: str | None = None
    #: Words for a refused verb in a given state, for the person who asked.
    refusal: Refusal = _default_refusal
    table: dict[str, Transition[S]] = field(init=False)

    def __post_init__(self) -> None:
        self.table = {t.verb: t for t in self.transitions}
        if len(self.table) != len(self.transitions):
            raise ValueError(f"{self.name}: a verb appears twice in the transition table")

    # --- the table (pure) -------------------------------------------------------------------

    def can(self, verb: str, state: S, sub: Any = None) -> bool:
        """Say whether `verb` is allowed from `state` (and `sub`)."""
        return self.table[verb].allows(state, sub)

    def verbs(self, state: S, sub: Any = None) -> list[str]:
        """Return the verbs allowed from a state, in table order."""
        return [t.verb for t in self.transitions if t.allows(state, sub)]

    def check(self, verb: str, state: S, sub: Any = None) -> Transition[S]:
        """Return the transition for `verb`, or raise IllegalTransition saying why not."""
        transition = self.table[verb]
        if not transition.allows(state, sub):
            raise IllegalTransition(self.refusal(verb, state, sub))
        return transition

    def outcome(self, verb: str, state: S, sub: Any = None) -> tuple[Any, Any]:
        """Return (state, sub-state) after `verb` from (state, sub) (checked)."""
        t = self.check(verb, state, sub)
        target = state if t.target is KEEP else t.target
        new_sub = sub if t.sub_target is KEEP else t.sub_target
        return target, new_sub

    # --- applying it (atomic) -------------------------------------------------------------

    def _guard(self, ids: Any, state: S, sub: Any) -> list[sa.ColumnElement[bool]]:
        col = getattr(self.model, self.column)
        guard = [ids, col == state]
        if self.sub_column is not None:
            sub_col = getattr(self.model, self.sub_column)
            guard.append(sub_col.is_(None) if sub is None else sub_col == sub)
        return guard

    def _values(self, t: Transition[S], values: Mapping[str, Any] | None) -> dict[str, Any]:
        out = dict(values or {})
        if "updated_at" in self.model.__table__.c:
            out.setdefault("updated_at", utcnow())  # bulk statements skip ORM onupdate
        if t.target is not KEEP:
            out[self.column] = t.target
        if self.sub_column is not None and t.sub_target is not KEEP:
            out[self.sub_column] = t.sub_target
        return out

    def apply(self, obj: Any, verb: str, *, actor: Any = None,
              values: Mapping[str, Any] | None = None, round_id: int | None = None,
              where: Sequence[sa.ColumnElement[bool]] = (), record: bool = True,
              **detail: Any) -> None:
        """Apply `verb` to one object atomically (and audit it as "<name>.<event>").

        `values` are other columns set in the same UPDATE; `where` adds conditions the row
        must still meet (a version number, a deadline). Raises IllegalTransition when the
        object's state does not allow the verb, ConcurrentChange when another transaction
        changed it first (nothing is changed either way).
        """
        state = getattr(obj, self.column)
        sub = getattr(obj, self.sub_column) if self.sub_column else None
        t = self.check(verb, state, sub)
        guard = [*self._guard(self.model.id == obj.id, state, sub), *where]
        if t.target == DELETE:
            stmt: Any = sa.delete(self.model).where(*guard)
        else:
            stmt = sa.update(self.model).where(*guard).values(self._values(t, values))
        result = db.session.execute(stmt, execution_options={"synchronize_session": "fetch"})
        if result.rowcount != 1:  # type: ignore[attr-defined]
            db.session.expire(obj)
            now = getattr(obj, self.column, None)
            now_sub = getattr(obj, self.sub_column) if self.sub_column and now else None
            raise ConcurrentChange(self.refusal(verb, now, now_sub) if now is not None
                                   else "This was removed by someone else meanwhile")
        if record:
            audit.record(actor, f"{self.name}.{t.event}", obj if t.target != DELETE else None,
                         round_id=round_id, **({"id": obj.id} if t.target == DELETE else {}),
                         **detail)

    def apply_many(self, verb: str, rows: Sequence[tuple[int, S, Any, Mapping[str, Any]]]
                   ) -> int:
        """Apply `verb` to many rows: (id, expected state, expected sub-state, values).

        One executemany per group of rows with the same expected state; raises
        ConcurrentChange (the caller rolls back) unless every row changed. Not audited row by
        row: the caller records what the batch was (an allocation run, a publication).
        """
        if not rows:
            return 0
        t = self.table[verb]
        table = self.model.__table__
        changed = 0
        groups: dict[tuple[Any, Any, tuple[str, ...]], list[dict[str, Any]]] = {}
        for obj_id, state, sub, values in rows:
            if not t.allows(state, sub):
                raise IllegalTransition(self.refusal(verb, state, sub))
            new = self._values(t, values)
            key = (state, sub, tuple(sorted(new)))
            groups.setdefault(key, []).append({"b_id": obj_id, **{f"v_{k}": v
                                                                   for k, v in new.items()}})
        for (state, sub, names), params in groups.items():
            guard = [table.c.id == sa.bindparam("b_id"),
                     table.c[self.column] == _db_value(state)]
            if self.sub_column is not None:
                guard.append(table.c[self.sub_column].is_(None) if sub is None
                             else table.c[self.sub_column] == _db_value(sub))
            if t.target == DELETE:
                stmt: Any = table.delete().where(*guard)
                params = [{"b_id": p["b_id"]} for p in params]
            else:
                stmt = table.update().where(*guard).values(
                    {name: sa.bindparam(f"v_{name}") for name in names})
            result = db.session.execute(stmt, params)
            changed += result.rowcount  # type: ignore[attr-defined]
        if changed != len(rows):
            raise ConcurrentChange(f"Some {self.name}s changed while this was being done; "
                                   "nothing has been changed. Try again.")
        db.session.expire_all()
        return changed


def _db_value(value: Any) -> Any:
    """The stored value of an enum member (Core statements bypass the ORM's enum type)."""
    return value.value if isinstance(value, enum.Enum) else value
