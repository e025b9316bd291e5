"""KSB services: programme modules and their mapping, suggestions confirmed or rejected,
the coverage matrix, the KSBs of placement offers, learners' evidence and progress.

Services flush, never commit, and raise DomainError (naming the form field). The rules
(what counts, gaps, outstanding KSBs, the lifecycles) are `placements.domain.ksb`'s.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from placements import audit
from placements.domain import ConcurrentChange, DomainError, NotAllowed, access
from placements.domain import ksb as rules
from placements.domain.offers import open_to_choices_sql
from placements.extensions import db
from placements.ksb import catalogue, engine
from placements.models import (
    Delivery,
    Employer,
    EmployerSite,
    EvidenceStatus,
    HoursEntry,
    HoursStatus,
    Ksb,
    KsbEvidence,
    KsbEvidenceItem,
    Learner,
    LinkStatus,
    ModuleKsb,
    OccupationalStandard,
    OfferKsb,
    PlacementOffer,
    Programme,
    ProgrammeModule,
    Role,
    User,
    utcnow,
)

#: Longest reflection a learner writes on one entry of hours.
MAX_REFLECTION = 2000


def no_ksbs_message(standard: OccupationalStandard) -> str:
    """Why nothing can be suggested or mapped for a standard without statements."""
    return (f"No KSBs are loaded for {standard.reference} {standard.title}: import them from a "
            "CSV file or Skills England's JSON first")


def _text_error(exc: Exception, what: str) -> str:
    if isinstance(exc, engine.EmptyText):
        return f"Enter the {what}"
    if isinstance(exc, engine.TextTooLong):
        return (f"The {what} must be {engine.MAX_TEXT_CHARS:,} characters or fewer (about "
                "3,000 words): split them into smaller parts")
    return str(exc)


# --- programme modules ------------------------------------------------------------------------

@dataclass(frozen=True)
class ModuleData:
    """A module (or work-integrated part) of a programme as a form or import row gives it."""

    code: str
    title: str
    delivery: Delivery
    outcomes: str = ""


def modules_of(programme: Programme) -> list[ProgrammeModule]:
    """A programme's modules, taught modules first, then work-integrated parts, by code,
    with their links and KSBs loaded."""
    order = {d: i for i, d in enumerate(Delivery)}
    modules = list(db.session.scalars(
        sa.select(ProgrammeModule).where(ProgrammeModule.programme_id == programme.id)
        .options(selectinload(ProgrammeModule.links).joinedload(ModuleKsb.ksb))))
    return sorted(modules, key=lambda m: (order[m.delivery], m.code.lower()))


def _check_module(programme: Programme, data: ModuleData,
                  module: ProgrammeModule | None = None) -> ModuleData:
    code, title = data.code.strip(), " ".join(data.title.split())
    if not code:
        raise DomainError("Enter the module's code", field="code")
    if len(code) > 40:
        raise DomainError("The code must be 40 characters or fewer", field="code")
    if not title:
        raise DomainError("Enter the module's title", field="title")
    if len(title) > 200:
        raise DomainError("The title must be 200 characters or fewer", field="title")
    outcomes = data.outcomes.strip()
    if len(outcomes) > engine.MAX_TEXT_CHARS:
        raise DomainError(_text_error(engine.TextTooLong(""), "learning outcomes"),
                          field="outcomes")
    clash = db.session.scalar(sa.select(ProgrammeModule.id).where(
        ProgrammeModule.programme_id == programme.id,
        sa.func.lower(ProgrammeModule.code) == code.lower()))
    if clash is not None and (module is None or clash != module.id):
        raise DomainError(f"{programme.title} already has a module with the code {code}",
                          field="code")
    return ModuleData(code, title, Delivery(data.delivery), outcomes)


def _require_programme(officer: User, programme: Programme) -> None:
    if officer.role != Role.OFFICER or not access.officer_sees_programme(officer, programme):
        raise NotAllowed("You can only map your own provider's programmes")


def add_module(officer: User, programme: Programme, data: ModuleData) -> ProgrammeModule:
    """Add a module (or a work-integrated part) to one of the officer's programmes."""
    _require_programme(officer, programme)
    data = _check_module(programme, data)
    module = ProgrammeModule(programme_id=programme.id, code=data.code, title=data.title,
                             delivery=data.delivery, outcomes=data.outcomes)
    db.session.add(module)
    try:
        db.session.flush()
    except IntegrityError:
        raise ConcurrentChange(f"{programme.title} already has a module with the code "
                               f"{data.code}") from None
    audit.record(officer, "ksb.module_added", module, programme_id=programme.id,
                 code=module.code, delivery=module.delivery)
    return module


def update_module(officer: User, module: ProgrammeModule, data: ModuleData) -> bool:
    """Change a module's code, title, delivery or outcomes; return whether anything changed."""
    _require_programme(officer, module.programme)
    data = _check_module(module.programme, data, module)
    wanted = {"code": data.code, "title": data.title, "delivery": data.delivery,
              "outcomes": data.outcomes}
    changed = sorted(k for k, v in wanted.items() if getattr(module, k) != v)
    if not changed:
        return False
    for key in changed:
        setattr(module, key, wanted[key])
    db.session.flush()
    audit.record(officer, "ksb.module_changed", module, programme_id=module.programme_id,
                 changed=changed)
    return True


def remove_module(officer: User, module: ProgrammeModule) -> None:
    """Remove a module and its links (its confirmed KSBs stop counting)."""
    _require_programme(officer, module.programme)
    audit.record(officer, "ksb.module_removed", None, id=module.id,
                 programme_id=module.programme_id, code=module.code,
                 confirmed=sorted(link.ksb.code for link in module.links
                                  if rules.counts(link.status)))
    db.session.delete(module)
    db.session.flush()


# --- suggestions and decisions ---------------------------------------------------------------

def _store_suggestions(model: Any, owner: dict[str, int], standard_refs: Sequence[str],
                       text: str, shown: int) -> int:
    """Run the engine on a text for each standard, drop the owner's undecided suggestions and
    store the new ones (decided links keep their decision); return how many are new."""
    suggestions: list[tuple[str, engine.Suggestion]] = []
    for reference in standard_refs:
        suggestions += [(reference, s) for s in engine.suggest(reference, text, shown)]
    key, owner_id = next(iter(owner.items()))
    owner_col = getattr(model, key)
    db.session.execute(sa.delete(model).where(owner_col == owner_id,
                                              model.status == LinkStatus.SUGGESTED.value))
    decided = set(db.session.scalars(sa.select(model.ksb_id).where(owner_col == owner_id)))
    ids = {f"{reference}:{code}": ksb_id for reference, code, ksb_id in db.session.execute(
        sa.select(OccupationalStandard.reference, Ksb.code, Ksb.id)
        .join(OccupationalStandard, OccupationalStandard.id == Ksb.standard_id)
        .where(OccupationalStandard.reference.in_(list(standard_refs))))}
    now = utcnow()
    new = 0
    for reference, s in suggestions:
        ksb_id = ids.get(f"{reference}:{s.code}")
        if ksb_id is None or ksb_id in decided:
            continue
        db.session.add(model(**{key: owner_id}, ksb_id=ksb_id, status=LinkStatus.SUGGESTED,
                             score=round(s.score, 4), matched=list(s.matched),
                             created_at=now))
        decided.add(ksb_id)
        new += 1
    try:
        db.session.flush()
    except IntegrityError:
        raise ConcurrentChange("Someone else asked for suggestions at the same moment: look "
                               "at the suggestions again") from None
    return new


def _shown() -> int:
    return int(current_app.config["KSB_SUGGESTIONS_SHOWN"])


def suggest_for_module(officer: User, module: ProgrammeModule, text: str) -> int:
    """Keep the pasted learning outcomes (or planned activities) as the module's, and store
    the KSBs they most likely cover as suggestions; return how many are new."""
    _require_programme(officer, module.programme)
    what = "learning outcomes" if module.delivery is Delivery.MODULE else "planned activities"
    try:
        text = engine.check_text(text)
    except (engine.EmptyText, engine.TextTooLong) as exc:
        raise DomainError(_text_error(exc, what), field="text") from None
    standard = module.programme.standard
    if catalogue.version_of(standard.id) is None:
        raise DomainError(no_ksbs_message(standard), field="text")
    if module.outcomes != text:
        module.outcomes = text
    new = _store_suggestions(ModuleKsb, {"module_id": module.id}, [standard.reference], text,
                             _shown())
    audit.record(officer, "ksb.module_suggested", module, programme_id=module.programme_id,
                 suggestions=new)
    return new


def _decide_links(lifecycle: Any, user: User, links: Sequence[Any], verb: str,
                  **detail: Any) -> int:
    """Apply confirm/reject to each link (each a conditional UPDATE); return how many."""
    now = utcnow()
    for link in links:
        lifecycle.apply(link, verb, actor=user, code=link.ksb.code,
                        values={"decided_by_id": user.id, "decided_at": now}, **detail)
    db.session.flush()
    return len(links)


def module_link(module: ProgrammeModule, link_id: int) -> ModuleKsb | None:
    """One of a module's links, or None."""
    link = db.session.get(ModuleKsb, link_id)
    return link if link is not None and link.module_id == module.id else None


def decide_module_links(officer: User, module: ProgrammeModule, verb: str,
                        link_ids: Iterable[int]) -> int:
    """Confirm or reject some of a module's links ("confirm" or "reject"); return how many.

    Every link named must be the module's. Two officers deciding the same suggestion at
    once: the second is refused (ConcurrentChange) and changes nothing.
    """
    _require_programme(officer, module.programme)
    if verb not in ("confirm", "reject"):
        raise DomainError("Choose to confirm or reject", field="ksb")
    links = []
    for link_id in dict.fromkeys(link_ids):
        link = module_link(module, link_id)
        if link is None:
            raise DomainError("Choose KSBs of this module", field="ksb")
        links.append(link)
    if not links:
        raise DomainError("Tick the KSBs to " + verb, field="ksb")
    return _decide_links(rules.MODULE_LINK, officer, links, verb, module_id=module.id,
                         programme_id=module.programme_id)


def add_module_ksb(officer: User, module: ProgrammeModule, ksb_id: int) -> ModuleKsb:
    """Confirm a KSB for a module by hand (or confirm its existing suggestion)."""
    _require_programme(officer, module.programme)
    ksb = db.session.get(Ksb, ksb_id)
    if ksb is None or ksb.standard_id != module.programme.standard_id:
        raise DomainError("Choose a KSB of the programme's standard", field="ksb")
    link = db.session.scalar(sa.select(ModuleKsb).where(ModuleKsb.module_id == module.id,
                                                        ModuleKsb.ksb_id == ksb.id))
    if link is not None:
        if link.status == LinkStatus.CONFIRMED:
            raise DomainError(f"{ksb.code} is already confirmed for this module", field="ksb")
        _decide_links(rules.MODULE_LINK, officer, [link], "confirm", module_id=module.id,
                      programme_id=module.programme_id)
        return link
    link = ModuleKsb(module_id=module.id, ksb_id=ksb.id, status=LinkStatus.CONFIRMED,
                     decided_by_id=officer.id, decided_at=utcnow())
    db.session.add(link)
    try:
        db.session.flush()
    except IntegrityError:
        raise ConcurrentChange(f"{ksb.code} was added to this module meanwhile") from None
    audit.record(officer, "module_ksb.confirmed", link, code=ksb.code, module_id=module.id,
                 programme_id=module.programme_id, by_hand=True)
    return link


# --- the coverage matrix -----------------------------------------------------------------------

@dataclass
class MatrixRow:
    """One KSB of the programme's standard across its modules."""

    ksb: Ksb
    covered_by: set[int]  # module ids with a confirmed link
    classroom: int
    work_integrated: int
    gap: rules.Gap | None


@dataclass
class Matrix:
    """A programme's KSBs x modules and work-integrated learning (confirmed links only)."""

    programme: Programme
    modules: list[ProgrammeModule]
    rows: list[MatrixRow]
    #: Suggestions not decided yet, per module (they do not count until confirmed).
    undecided: dict[int, int] = field(default_factory=dict)

    def gaps(self, gap: rules.Gap) -> list[MatrixRow]:
        return [r for r in self.rows if r.gap is gap]

    @property
    def work_integrated_ksbs(self) -> int:
        return sum(1 for r in self.rows if r.work_integrated)

    @property
    def covered(self) -> int:
        return sum(1 for r in self.rows if r.covered_by)


def coverage_matrix(programme: Programme) -> Matrix:
    """The programme's coverage matrix: every KSB of its standard, which modules and
    work-integrated parts cover it (confirmed links), and its gap (`domain.ksb.gap_of`)."""
    modules = modules_of(programme)
    by_ksb: dict[int, set[int]] = defaultdict(set)
    undecided: dict[int, int] = defaultdict(int)
    delivery = {m.id: m.delivery for m in modules}
    for module in modules:
        for link in module.links:
            if rules.counts(link.status):
                by_ksb[link.ksb_id].add(module.id)
            elif link.status == LinkStatus.SUGGESTED:
                undecided[module.id] += 1
    rows = []
    for ksb in catalogue.ksbs_of(programme.standard_id):
        covering = by_ksb.get(ksb.id, set())
        wil = sum(1 for m in covering if delivery[m].work_integrated)
        classroom = len(covering) - wil
        rows.append(MatrixRow(ksb, covering, classroom, wil,
                              rules.gap_of(ksb.kind, classroom, wil)))
    return Matrix(programme, modules, rows, dict(undecided))


def matrix_table(matrix: Matrix) -> tuple[list[str], list[list[Any]]]:
    """The matrix as a header and rows for CSV or Excel."""
    header = ["code", "kind", "statement"] + [
        f"{m.code} {m.title} ({m.delivery.label})" for m in matrix.modules] + [
        "taught modules", "work-integrated", "gap"]
    rows: list[list[Any]] = []
    for r in matrix.rows:
        rows.append([r.ksb.code, r.ksb.kind.value, r.ksb.statement]
                    + ["yes" if m.id in r.covered_by else "" for m in matrix.modules]
                    + [r.classroom, r.work_integrated, r.gap.value if r.gap else ""])
    return header, rows


# --- placement offers -------------------------------------------------------------------------

def offer_standards_with_ksbs(offer: PlacementOffer) -> list[OccupationalStandard]:
    """The offer's standards that have KSB statements loaded."""
    loaded = {s.standard.id for s in catalogue.standards_with_ksbs(
        [s.reference for s in offer.standards])}
    return [s for s in offer.standards if s.id in loaded]


def offer_links(offer: PlacementOffer) -> list[OfferKsb]:
    """An offer's links to KSBs (every status), best suggestion first within each."""
    return list(db.session.scalars(
        sa.select(OfferKsb).where(OfferKsb.offer_id == offer.id)
        .options(joinedload(OfferKsb.ksb).joinedload(Ksb.standard))
        .order_by(OfferKsb.score.desc().nulls_last(), OfferKsb.id)))


def _require_offer(user: User, offer: PlacementOffer) -> None:
    if user.role != Role.EMPLOYER or user.employer_id != offer.employer_id:
        raise NotAllowed("You can only describe your own organisation's offers")


def suggest_for_offer(user: User, offer: PlacementOffer) -> int:
    """Suggest the KSBs the placement develops, from its title and description, for each of
    its standards with KSBs; return how many suggestions are new."""
    _require_offer(user, offer)
    if not offer.standards:
        raise DomainError("Add the occupational standards this placement suits (change the "
                          "offer) to get suggestions", field="ksb")
    standards = offer_standards_with_ksbs(offer)
    if not standards:
        raise DomainError("No KSBs are loaded for this offer's standards yet: ask a "
                          "placement officer to import them", field="ksb")
    text = f"{offer.title}.\n{offer.description or ''}"
    if len((offer.description or "").split()) < 3:
        raise DomainError("Describe what the learner will do on this placement (change the "
                          "offer) to get suggestions", field="ksb")
    try:
        new = _store_suggestions(OfferKsb, {"offer_id": offer.id},
                                 [s.reference for s in standards], text, _shown())
    except (engine.EmptyText, engine.TextTooLong) as exc:
        raise DomainError(_text_error(exc, "description"), field="ksb") from None
    audit.record(user, "ksb.offer_suggested", offer, suggestions=new)
    return new


def decide_offer_links(user: User, offer: PlacementOffer, verb: str,
                       link_ids: Iterable[int]) -> int:
    """The employer confirms or rejects some of an offer's KSB links."""
    _require_offer(user, offer)
    if verb not in ("confirm", "reject"):
        raise DomainError("Choose to confirm or reject", field="ksb")
    links = []
    for link_id in dict.fromkeys(link_ids):
        link = db.session.get(OfferKsb, link_id)
        if link is None or link.offer_id != offer.id:
            raise DomainError("Choose KSBs of this offer", field="ksb")
        links.append(link)
    if not links:
        raise DomainError("Tick the KSBs to " + verb, field="ksb")
    return _decide_links(rules.OFFER_LINK, user, links, verb, offer_id=offer.id)


def add_offer_ksb(user: User, offer: PlacementOffer, ksb_id: int) -> OfferKsb:
    """The employer adds a KSB the placement develops by hand (confirmed)."""
    _require_offer(user, offer)
    ksb = db.session.get(Ksb, ksb_id)
    if ksb is None or ksb.standard_id not in {s.id for s in offer.standards}:
        raise DomainError("Choose a KSB of the offer's standards", field="ksb")
    link = db.session.scalar(sa.select(OfferKsb).where(OfferKsb.offer_id == offer.id,
                                                       OfferKsb.ksb_id == ksb.id))
    if link is not None:
        if link.status == LinkStatus.CONFIRMED:
            raise DomainError(f"{ksb.code} is already confirmed for this offer", field="ksb")
        _decide_links(rules.OFFER_LINK, user, [link], "confirm", offer_id=offer.id)
        return link
    link = OfferKsb(offer_id=offer.id, ksb_id=ksb.id, status=LinkStatus.CONFIRMED,
                    decided_by_id=user.id, decided_at=utcnow())
    db.session.add(link)
    try:
        db.session.flush()
    except IntegrityError:
        raise ConcurrentChange(f"{ksb.code} was added to this offer meanwhile") from None
    audit.record(user, "offer_ksb.confirmed", link, code=ksb.code, offer_id=offer.id,
                 by_hand=True)
    return link


@dataclass(frozen=True)
class OfferCoverage:
    """How an offer covers a learner's programme's work-integrated KSBs."""

    covered: tuple[Ksb, ...]  # expected KSBs the offer develops (confirmed)
    expected: int  # the programme's work-integrated KSBs
    outstanding: int  # of the covered, how many the learner still has to show

    @property
    def any(self) -> bool:
        return bool(self.covered)


def expected_ids(programme: Programme) -> set[int]:
    """The programme's work-integrated KSBs (ids)."""
    return rules.expected_of(modules_of(programme))


def learner_confirmed_ids(learner: Learner) -> set[int]:
    """The KSBs confirmed for a learner (ids)."""
    _, confirmed = rules.learner_evidence_sets(learner_evidence(learner))
    return confirmed


def offer_coverage(learner: Learner, offer_ids: Sequence[int]) -> dict[int, OfferCoverage]:
    """For each offer, the learner's programme's work-integrated KSBs it develops, and how
    many of them the learner has still to show (one query for the offers' links)."""
    expected = expected_ids(learner.programme)
    if not expected or not offer_ids:
        return {}
    confirmed = learner_confirmed_ids(learner)
    remaining = rules.outstanding(expected, confirmed)
    by_offer: dict[int, set[int]] = defaultdict(set)
    for offer_id, ksb_id in db.session.execute(
            rules.offer_ksbs_sql().where(OfferKsb.offer_id.in_(list(offer_ids)))):
        by_offer[offer_id].add(ksb_id)
    ksbs = {k.id: k for k in db.session.scalars(sa.select(Ksb).where(
        Ksb.id.in_(sorted(expected))))}
    out = {}
    for offer_id in offer_ids:
        covered = rules.offer_covers(by_offer.get(offer_id, set()), expected)
        out[offer_id] = OfferCoverage(
            tuple(sorted((ksbs[i] for i in covered), key=lambda k: k.position)),
            len(expected), len(rules.offer_covers(covered, remaining)))
    return out


@dataclass(frozen=True)
class OfferMatch:
    """An open offer of a programme's sector, and the KSBs it covers."""

    offer: PlacementOffer
    covered: tuple[Ksb, ...]


def offers_by_ksb(programme: Programme, ksb_ids: Sequence[int] = (),
                  *, only_covering: bool = False) -> list[OfferMatch]:
    """Open offers of the programme's sector, those covering more of the wanted KSBs first
    (the wanted ones: `ksb_ids`, else the programme's work-integrated KSBs)."""
    wanted = set(ksb_ids) or expected_ids(programme)
    offers = list(db.session.scalars(
        sa.select(PlacementOffer).join(Employer, Employer.id == PlacementOffer.employer_id)
        .join(EmployerSite, EmployerSite.id == PlacementOffer.site_id)
        .where(open_to_choices_sql(), PlacementOffer.sector == programme.route)
        .options(joinedload(PlacementOffer.employer), joinedload(PlacementOffer.site))
        .order_by(PlacementOffer.title, PlacementOffer.id)))
    by_offer: dict[int, set[int]] = defaultdict(set)
    if wanted and offers:
        for offer_id, ksb_id in db.session.execute(
                rules.offer_ksbs_sql().where(OfferKsb.ksb_id.in_(sorted(wanted)))):
            by_offer[offer_id].add(ksb_id)
    ksbs = {k.id: k for k in db.session.scalars(sa.select(Ksb).where(
        Ksb.id.in_(sorted(wanted))))} if wanted else {}
    matches = []
    for offer in offers:
        covered = rules.offer_covers(by_offer.get(offer.id, set()), wanted)
        if only_covering and not covered:
            continue
        matches.append(OfferMatch(offer, tuple(sorted((ksbs[i] for i in covered),
                                                      key=lambda k: k.position))))
    matches.sort(key=lambda m: -len(m.covered))  # stable: then by title
    return matches


# --- evidence: learners tag hours, verifiers confirm -----------------------------------------

def learner_evidence(learner: Learner) -> list[KsbEvidence]:
    """A learner's evidence records with their entries and items."""
    return list(db.session.scalars(
        sa.select(KsbEvidence).where(KsbEvidence.learner_id == learner.id)
        .options(joinedload(KsbEvidence.entry),
                 selectinload(KsbEvidence.items).joinedload(KsbEvidenceItem.ksb))
        .order_by(KsbEvidence.id)))


def evidence_by_entry(entry_ids: Iterable[int]) -> dict[int, KsbEvidence]:
    """Evidence records of some hours entries, by entry id."""
    ids = sorted(set(entry_ids))
    if not ids:
        return {}
    return {e.hours_entry_id: e for e in db.session.scalars(
        sa.select(KsbEvidence).where(KsbEvidence.hours_entry_id.in_(ids))
        .options(selectinload(KsbEvidence.items).joinedload(KsbEvidenceItem.ksb)))}


def evidence_choices(learner: Learner) -> list[tuple[Ksb, bool]]:
    """The KSBs a learner may tag: their programme's standard's, each with whether the
    programme expects it at work (those first)."""
    expected = expected_ids(learner.programme)
    ksbs = catalogue.ksbs_of(learner.programme.standard_id)
    return sorted(((k, k.id in expected) for k in ksbs), key=lambda p: (not p[1],
                                                                      p[0].position))


def save_evidence(user: User, entry: HoursEntry, ksb_ids: Iterable[int], reflection: str,
                  seen_version: int | None = None) -> KsbEvidence | None:
    """Tag an entry of the learner's own pending work-integrated hours with the KSBs they
    practised and a short reflection (replacing what they tagged before).

    `seen_version` is the evidence version the learner's form showed (None: the form was
    for new hours). While a verifier confirms the tags, a change is refused, and the other
    way round (`domain.ksb.touch_evidence`). Returns the record (None when there is
    nothing to keep).
    """
    learner = user.learner
    if user.role != Role.LEARNER or learner is None or entry.learner_id != learner.id:
        raise NotAllowed("You can only describe your own hours")
    if not entry.kind.work_integrated:
        raise DomainError("Only work-integrated hours show KSBs", field="ksbs")
    if entry.status != HoursStatus.PENDING:
        raise DomainError(f"These hours are {entry.status.value}: the KSBs practised can no "
                          "longer change", field="ksbs")
    chosen = list(dict.fromkeys(int(i) for i in ksb_ids))
    reflection = (reflection or "").strip()
    if len(reflection) > MAX_REFLECTION:
        raise DomainError(f"The reflection must be {MAX_REFLECTION:,} characters or fewer",
                          field="reflection")
    if chosen and not reflection:
        raise DomainError("Say briefly what you did that shows these KSBs",
                          field="reflection")
    allowed = {k.id: k for k, _ in evidence_choices(learner)}
    if any(i not in allowed for i in chosen):
        raise DomainError("Choose KSBs of your programme's standard", field="ksbs")
    evidence = rules.evidence_of(entry.id)
    if evidence is None:
        if not chosen and not reflection:
            return None
        if seen_version:
            raise ConcurrentChange("These hours changed meanwhile: look at them again")
        evidence = KsbEvidence(hours_entry_id=entry.id, learner_id=learner.id,
                               reflection=reflection, version=1)
        db.session.add(evidence)
        try:
            db.session.flush()
        except IntegrityError:
            raise ConcurrentChange("These hours changed meanwhile: look at them "
                                   "again") from None
        before: set[int] = set()
    else:
        rules.touch_evidence(evidence, seen_version if seen_version is not None
                             else evidence.version, entry_pending=True)
        evidence.reflection = reflection
        before = {i.ksb_id for i in evidence.items}
        db.session.execute(sa.delete(KsbEvidenceItem).where(
            KsbEvidenceItem.evidence_id == evidence.id,
            KsbEvidenceItem.ksb_id.notin_(chosen or [-1])))
    for ksb_id in chosen:
        if ksb_id not in before:
            db.session.add(KsbEvidenceItem(evidence_id=evidence.id, ksb_id=ksb_id,
                                           status=EvidenceStatus.CLAIMED))
    db.session.flush()
    db.session.expire(evidence, ["items"])
    audit.record(user, "ksb_evidence.tagged", evidence, learner_id=learner.id,
                 hours_entry_id=entry.id, codes=sorted(allowed[i].code for i in chosen))
    return evidence


def suggest_for_reflection(learner: Learner, text: str, top: int = 5) -> list[int]:
    """The KSBs (ids) of the learner's standard a reflection most likely shows."""
    standard = learner.programme.standard
    try:
        suggestions = engine.suggest(standard.reference, text, top, min_score=0.2)
    except (engine.EmptyText, engine.TextTooLong) as exc:
        raise DomainError(_text_error(exc, "reflection"), field="reflection") from None
    except engine.UnknownStandard:
        raise DomainError(no_ksbs_message(standard), field="reflection") from None
    codes = catalogue.ksbs_by_code(standard.id)
    return [codes[s.code].id for s in suggestions if s.code in codes]


def decide_entry_evidence(user: User, entry: HoursEntry, decision: rules.KsbDecision) -> tuple[
        int, int]:
    """Confirm the KSBs tagged on hours already verified (verified by someone who did not
    decide on them, such as a supervisor's e-mailed link). Officers of the learner's
    provider, or the employer for placement hours."""
    if not access.may_verify_hours(user, entry):
        raise NotAllowed("You cannot confirm these KSBs")
    if entry.status != HoursStatus.VERIFIED:
        raise DomainError("Verify the hours to confirm their KSBs", field="ksb")
    return rules.decide_evidence(user, entry, decision)


# --- progress: one learner, a programme's learners ---------------------------------------------

@dataclass(frozen=True)
class ProgressRow:
    """One KSB of a learner's standard and where they stand on it."""

    ksb: Ksb
    expected: bool
    state: rules.Progress | None
    entries: int  # hours entries tagged with it (not rejected)
    last: date | None  # the latest of those entries


@dataclass
class LearnerProgress:
    """A learner's KSBs: expected at work, evidenced, confirmed, outstanding."""

    learner: Learner
    rows: list[ProgressRow]

    def count(self, state: rules.Progress, expected_only: bool = False) -> int:
        return sum(1 for r in self.rows if r.state is state
                   and (r.expected or not expected_only))

    @property
    def expected(self) -> int:
        return sum(1 for r in self.rows if r.expected)

    @property
    def confirmed_expected(self) -> int:
        return sum(1 for r in self.rows if r.expected and r.state is rules.Progress.CONFIRMED)


def learner_progress(learner: Learner) -> LearnerProgress:
    """Where a learner stands on each KSB of their programme's standard."""
    evidence = learner_evidence(learner)
    claimed, confirmed = rules.learner_evidence_sets(evidence)
    expected = expected_ids(learner.programme)
    entries: dict[int, int] = defaultdict(int)
    last: dict[int, date] = {}
    for record in evidence:
        if record.entry.status == HoursStatus.REJECTED:
            continue
        for item in record.items:
            if item.status == EvidenceStatus.NOT_CONFIRMED:
                continue
            entries[item.ksb_id] += 1
            day = record.entry.entry_date
            if item.ksb_id not in last or day > last[item.ksb_id]:
                last[item.ksb_id] = day
    rows = [ProgressRow(k, k.id in expected,
                        rules.progress_of(k.id, expected=expected, claimed=claimed,
                                          confirmed=confirmed),
                        entries.get(k.id, 0), last.get(k.id))
            for k in catalogue.ksbs_of(learner.programme.standard_id)]
    return LearnerProgress(learner, rows)


@dataclass(frozen=True)
class LearnerCoverageRow:
    """One learner of a programme: how many of its work-integrated KSBs they have shown."""

    learner_id: int
    confirmed: int
    evidenced: int
    outstanding: int


@dataclass
class ProgrammeCoverage:
    """A programme's KSB coverage across its learners."""

    programme: Programme
    expected: list[Ksb]
    rows: list[LearnerCoverageRow]
    #: ksb id -> learners with it confirmed / evidenced (awaiting confirmation)
    confirmed_by: dict[int, int]
    evidenced_by: dict[int, int]


def programme_coverage(programme: Programme) -> ProgrammeCoverage:
    """Every learner of the programme against its work-integrated KSBs (SQL group-bys)."""
    expected_set = expected_ids(programme)
    ksbs = [k for k in catalogue.ksbs_of(programme.standard_id) if k.id in expected_set]
    learner_ids = list(db.session.scalars(sa.select(Learner.id).where(
        Learner.programme_id == programme.id).order_by(Learner.id)))
    confirmed: dict[int, set[int]] = defaultdict(set)
    claimed: dict[int, set[int]] = defaultdict(set)
    if expected_set:
        confirmed_q = rules.confirmed_sql().subquery()
        for learner_id, ksb_id in db.session.execute(
                sa.select(confirmed_q.c.learner_id, confirmed_q.c.ksb_id)
                .join(Learner, Learner.id == confirmed_q.c.learner_id)
                .where(Learner.programme_id == programme.id,
                       confirmed_q.c.ksb_id.in_(sorted(expected_set)))):
            confirmed[learner_id].add(ksb_id)
        claimed_q = rules.claimed_sql().subquery()
        for learner_id, ksb_id in db.session.execute(
                sa.select(claimed_q.c.learner_id, claimed_q.c.ksb_id)
                .join(Learner, Learner.id == claimed_q.c.learner_id)
                .where(Learner.programme_id == programme.id,
                       claimed_q.c.ksb_id.in_(sorted(expected_set)))):
            claimed[learner_id].add(ksb_id)
    rows = []
    confirmed_by: dict[int, int] = defaultdict(int)
    evidenced_by: dict[int, int] = defaultdict(int)
    for learner_id in learner_ids:
        done = confirmed.get(learner_id, set())
        waiting = claimed.get(learner_id, set()) - done
        for k in done:
            confirmed_by[k] += 1
        for k in waiting:
            evidenced_by[k] += 1
        rows.append(LearnerCoverageRow(learner_id, len(done), len(waiting),
                                       len(rules.outstanding(expected_set, done))))
    return ProgrammeCoverage(programme, ksbs, rows, dict(confirmed_by), dict(evidenced_by))


def outstanding_codes(programme: Programme, codes: dict[int, str]) -> dict[int, list[str]]:
    """Each learner's outstanding KSB codes (`codes`: the programme's work-integrated KSBs
    in the standard's order), from the SQL form of the rule."""
    order = {ksb_id: i for i, ksb_id in enumerate(codes)}
    out: dict[int, list[int]] = defaultdict(list)
    for learner_id, ksb_id in db.session.execute(rules.outstanding_sql([programme.id])):
        if ksb_id in codes:
            out[learner_id].append(ksb_id)
    return {lid: [codes[k] for k in sorted(ks, key=order.__getitem__)] for lid, ks in
            out.items()}


def learners_by_id(ids: Iterable[int]) -> dict[int, Learner]:
    """Learners (with their accounts) by id."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    return {lrn.id: lrn for lrn in db.session.scalars(
        sa.select(Learner).where(Learner.id.in_(ids)).options(joinedload(Learner.user)))}


def provider_programmes(officer: User) -> list[Programme]:
    """The officer's provider's programmes, by title."""
    return list(db.session.scalars(sa.select(Programme).where(
        access.officer_programmes_sql(officer)).order_by(Programme.title)))


@dataclass(frozen=True)
class ProgrammeSummary:
    """A programme's mapping at a glance."""

    programme: Programme
    has_ksbs: bool
    modules: int
    work_integrated_parts: int
    covered: int
    total: int
    gaps: int
    undecided: int


def programme_summaries(officer: User) -> list[ProgrammeSummary]:
    """Each of the officer's programmes with how far its mapping has got."""
    out = []
    for programme in provider_programmes(officer):
        matrix = coverage_matrix(programme)
        out.append(ProgrammeSummary(
            programme, bool(matrix.rows), len(matrix.modules),
            sum(1 for m in matrix.modules if m.delivery.work_integrated), matrix.covered,
            len(matrix.rows), sum(1 for r in matrix.rows if r.gap is not None),
            sum(matrix.undecided.values())))
    return out
