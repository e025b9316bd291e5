"""KSB pages, one blueprint per role under the `ksb` blueprint (whose CLI group is
`flask ksb`): officers map programmes and follow learners (`ksb.officer`), employers say
what their placements develop and check learners' KSBs with their hours (`ksb.employer`),
learners see their progress and tag their hours (`ksb.learner`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from placements.csvio import table_response
from placements.domain import DomainError, access
from placements.domain import ksb as rules
from placements.extensions import db
from placements.formkit import EmptyForm, choices, require_button_post, show_domain_error
from placements.ksb import catalogue, services
from placements.ksb.forms import (
    AddKsbForm,
    EvidenceForm,
    ModuleForm,
    OfferFilterForm,
    SuggestForm,
)
from placements.models import (
    Delivery,
    HoursEntry,
    Learner,
    LinkStatus,
    OccupationalStandard,
    PlacementOffer,
    Programme,
    ProgrammeModule,
    Role,
)
from placements.navigation import page_number, render_form
from placements.security import restrict

bp = Blueprint("ksb", __name__)
officer_bp = Blueprint("officer", __name__, url_prefix="/officer/ksbs")
employer_bp = Blueprint("employer", __name__, url_prefix="/employer/ksbs")
learner_bp = Blueprint("learner", __name__, url_prefix="/learner/ksbs")

PAGE_SIZE = 50


@bp.context_processor
def _words() -> dict[str, Any]:
    return {"workplace_rule": rules.WORKPLACE_RULE, "Gap": rules.Gap,
            "Progress": rules.Progress}


restrict(officer_bp, Role.OFFICER)
restrict(employer_bp, Role.EMPLOYER)
restrict(learner_bp, Role.LEARNER)


def _ids(name: str) -> list[int]:
    """Whole numbers posted under a name (400 for anything else)."""
    out = []
    for raw in request.form.getlist(name):
        if not raw.isdigit() or len(raw) > 18:
            abort(400)
        out.append(int(raw))
    return out


def _decision_from_form() -> tuple[str, list[int]] | None:
    """What a decide form asked for: ("confirm"|"reject", link ids), from a row's own
    button (confirm=<id>) or the ticked boxes with a bottom button (action=confirm)."""
    for verb in ("confirm", "reject"):
        raw = request.form.get(verb)
        if raw:
            if not raw.isdigit() or len(raw) > 18:
                abort(400)
            return verb, [int(raw)]
    action = request.form.get("action", "")
    if action in ("confirm", "reject"):
        return action, _ids("link")
    return None


# =============================================================================== officers

def _programme_or_404(programme_id: int) -> Programme:
    programme = db.session.get(Programme, programme_id)
    if programme is None or not access.officer_sees_programme(current_user, programme):
        abort(404)
    return programme


def _module_or_404(module_id: int) -> ProgrammeModule:
    module = db.session.get(ProgrammeModule, module_id)
    if module is None or not access.officer_sees_programme(current_user, module.programme):
        abort(404)
    return module


def _learner_or_404(learner_id: int) -> Learner:
    learner = db.session.get(Learner, learner_id)
    if learner is None or not access.officer_sees_learner(current_user, learner):
        abort(404)
    return learner


@officer_bp.get("/")
def index():
    """The officer's programmes and how far their KSB mapping has got."""
    return render_template("ksb/officer_index.html",
                           summaries=services.programme_summaries(current_user))


@officer_bp.get("/standards")
def standards():
    """Every standard with KSBs loaded: version, date, where from."""
    own = {p.standard_id for p in services.provider_programmes(current_user)}
    return render_template("ksb/standards.html", standards=catalogue.standards_with_ksbs(),
                           own=own)


@officer_bp.get("/standards/<reference>")
def standard(reference: str):
    """One standard's KSBs."""
    found = catalogue.standards_by_reference([reference.upper()]).get(reference.upper())
    version = catalogue.version_of(found.id) if found is not None else None
    if found is None or version is None:
        abort(404)
    return render_template("ksb/standard.html", standard=found, version=version,
                           ksbs=catalogue.ksbs_of(found.id))


@officer_bp.get("/programmes/<int:programme_id>")
def programme(programme_id: int):
    """A programme's mapping: its modules and work-integrated learning, and its gaps."""
    programme_ = _programme_or_404(programme_id)
    matrix = services.coverage_matrix(programme_)
    return render_template("ksb/programme.html", programme=programme_, matrix=matrix,
                           version=catalogue.version_of(programme_.standard_id))


@officer_bp.route("/programmes/<int:programme_id>/modules/new", methods=["GET", "POST"])
def module_new(programme_id: int):
    """Add a module with its learning outcomes, or a work-integrated part."""
    programme_ = _programme_or_404(programme_id)
    form = ModuleForm()
    if form.validate_on_submit():
        try:
            module = services.add_module(current_user, programme_, _module_data(form))
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "code")
        else:
            db.session.commit()
            flash(f"{module.code} {module.title} has been added. Paste its learning outcomes "
                  "to get suggested KSBs." if not module.outcomes else
                  f"{module.code} {module.title} has been added.", "success")
            return redirect(url_for(".module", module_id=module.id), 303)
    return render_form("ksb/module_form.html", form, programme=programme_, module=None)


def _module_data(form: ModuleForm) -> services.ModuleData:
    return services.ModuleData(code=form.code.data or "", title=form.title.data or "",
                               delivery=Delivery(form.delivery.data),
                               outcomes=form.outcomes.data or "")


def _module_page(module: ProgrammeModule, suggest_form: SuggestForm | None = None,
                 add_form: AddKsbForm | None = None, status: int = 200):
    links = sorted(module.links, key=lambda link: (-(link.score or 0), link.ksb.position))
    by_status = {s: [link for link in links if link.status == s] for s in LinkStatus}
    linked = {link.ksb_id for link in links if link.status == LinkStatus.CONFIRMED}
    ksbs = [k for k in catalogue.ksbs_of(module.programme.standard_id) if k.id not in linked]
    if suggest_form is None:
        suggest_form = SuggestForm(formdata=None, data={"text": module.outcomes})
    if add_form is None:
        add_form = AddKsbForm(ksbs, formdata=None)
    return render_template(
        "ksb/module.html", module=module, programme=module.programme, links=by_status,
        suggest_form=suggest_form, add_form=add_form, form=EmptyForm(),
        has_ksbs=catalogue.version_of(module.programme.standard_id) is not None), status


@officer_bp.get("/modules/<int:module_id>")
def module(module_id: int):
    """A module: its outcomes, suggested KSBs to confirm or reject, confirmed ones."""
    return _module_page(_module_or_404(module_id))


@officer_bp.post("/modules/<int:module_id>/suggest")
def module_suggest(module_id: int):
    """Keep the pasted outcomes and suggest the KSBs they most likely cover."""
    module_ = _module_or_404(module_id)
    form = SuggestForm()
    if form.validate_on_submit():
        try:
            new = services.suggest_for_module(current_user, module_, form.text.data or "")
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "text")
        else:
            db.session.commit()
            flash(f"{new} new suggestion{'s' if new != 1 else ''}: confirm the KSBs the module "
                  "covers and reject the others. Only confirmed KSBs count." if new else
                  "No new suggestions: every KSB suggested has been decided already.",
                  "success" if new else "info")
            return redirect(url_for(".module", module_id=module_.id, _anchor="suggestions"),
                            303)
    return _module_page(module_, suggest_form=form, status=400)


@officer_bp.post("/modules/<int:module_id>/decide")
def module_decide(module_id: int):
    """Confirm or reject suggested (or confirmed, or rejected) KSBs of a module."""
    require_button_post()
    module_ = _module_or_404(module_id)
    return _decide(lambda verb, ids: services.decide_module_links(current_user, module_, verb,
                                                                  ids),
                   url_for(".module", module_id=module_.id, _anchor="suggestions"))


def _decide(decide: Callable[[str, list[int]], int], back: str):
    """Apply the confirm/reject form's decision with `decide(verb, ids)` (a module's or an
    offer's links), say how many changed, and go back to the suggestions."""
    asked = _decision_from_form()
    if asked is None:
        abort(400)
    verb, ids = asked
    try:
        n = decide(verb, ids)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(f"{n} KSB{'s' if n != 1 else ''} "
              f"{'confirmed' if verb == 'confirm' else 'rejected'}.", "success")
    return redirect(back, 303)


@officer_bp.post("/modules/<int:module_id>/add")
def module_add(module_id: int):
    """Confirm a KSB for a module by hand."""
    module_ = _module_or_404(module_id)
    linked = {link.ksb_id for link in module_.links if link.status == LinkStatus.CONFIRMED}
    form = AddKsbForm([k for k in catalogue.ksbs_of(module_.programme.standard_id)
                       if k.id not in linked])
    if form.validate_on_submit():
        try:
            link = services.add_module_ksb(current_user, module_, form.ksb.data)
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "ksb")
        else:
            db.session.commit()
            flash(f"{link.ksb.code} confirmed for {module_.code}.", "success")
            return redirect(url_for(".module", module_id=module_.id, _anchor="confirmed"), 303)
    return _module_page(module_, add_form=form, status=400)


@officer_bp.route("/modules/<int:module_id>/edit", methods=["GET", "POST"])
def module_edit(module_id: int):
    """Change a module's code, title, delivery or outcomes."""
    module_ = _module_or_404(module_id)
    form = ModuleForm()
    form.submit.label.text = "Save changes"
    if request.method == "GET":
        form.code.data, form.title.data = module_.code, module_.title
        form.delivery.data, form.outcomes.data = module_.delivery.value, module_.outcomes
    if form.validate_on_submit():
        try:
            changed = services.update_module(current_user, module_, _module_data(form))
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "code")
        else:
            db.session.commit()
            flash("The module has been saved." if changed else "Nothing was changed.",
                  "success" if changed else "info")
            return redirect(url_for(".module", module_id=module_.id), 303)
    return render_form("ksb/module_form.html", form, programme=module_.programme,
                       module=module_)


@officer_bp.route("/modules/<int:module_id>/remove", methods=["GET", "POST"])
def module_remove(module_id: int):
    """Remove a module (after a page saying what that does)."""
    module_ = _module_or_404(module_id)
    form = EmptyForm()
    form.submit.label.text = "Remove module"
    if form.validate_on_submit():
        programme_id = module_.programme_id
        title = f"{module_.code} {module_.title}"
        services.remove_module(current_user, module_)
        db.session.commit()
        flash(f"{title} has been removed.", "success")
        return redirect(url_for(".programme", programme_id=programme_id), 303)
    confirmed = [link for link in module_.links if link.status == LinkStatus.CONFIRMED]
    return render_template("ksb/module_remove.html", module=module_, form=form,
                           confirmed=confirmed)


@officer_bp.get("/programmes/<int:programme_id>/matrix")
def matrix(programme_id: int):
    """The coverage matrix: KSBs x modules and work-integrated learning, gaps marked."""
    programme_ = _programme_or_404(programme_id)
    gap = request.args.get("gap", "")
    matrix_ = services.coverage_matrix(programme_)
    rows = matrix_.rows
    if gap == "any":
        rows = [r for r in rows if r.gap is not None]
    elif gap in ("nowhere", "classroom"):
        wanted = rules.Gap.NOWHERE if gap == "nowhere" else rules.Gap.CLASSROOM_ONLY
        rows = [r for r in rows if r.gap is wanted]
    else:
        gap = ""
    return render_template("ksb/matrix.html", programme=programme_, matrix=matrix_, rows=rows,
                           gap=gap)


@officer_bp.get("/programmes/<int:programme_id>/matrix.xlsx", defaults={"fmt": "xlsx"})
@officer_bp.get("/programmes/<int:programme_id>/matrix.csv", defaults={"fmt": "csv"})
def matrix_export(programme_id: int, fmt: str):
    """The coverage matrix as CSV or Excel, for QA and approval documents."""
    programme_ = _programme_or_404(programme_id)
    header, rows = services.matrix_table(services.coverage_matrix(programme_))
    return table_response(fmt, f"ksb-matrix-{programme_.code or programme_.id}", header, rows)


@officer_bp.get("/programmes/<int:programme_id>/learners")
def programme_learners(programme_id: int):
    """The programme's learners against its work-integrated KSBs."""
    programme_ = _programme_or_404(programme_id)
    coverage = services.programme_coverage(programme_)
    rows = sorted(coverage.rows, key=lambda r: (r.confirmed, -r.evidenced, r.learner_id))
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page = min(page_number(), pages)
    rows = rows[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]
    learners = services.learners_by_id(r.learner_id for r in rows)
    return render_template("ksb/programme_learners.html", programme=programme_,
                           coverage=coverage, rows=rows, learners=learners, page=page,
                           pages=pages, total=len(coverage.rows))


LEARNERS_HEADER = ["student_ref", "name", "programme_code", "programme",
                   "work_integrated_ksbs", "confirmed", "evidenced_awaiting_confirmation",
                   "outstanding", "outstanding_codes"]


@officer_bp.get("/programmes/<int:programme_id>/learners.xlsx", defaults={"fmt": "xlsx"})
@officer_bp.get("/programmes/<int:programme_id>/learners.csv", defaults={"fmt": "csv"})
def programme_learners_export(programme_id: int, fmt: str):
    """Every learner of the programme against its work-integrated KSBs, as CSV or Excel."""
    programme_ = _programme_or_404(programme_id)
    coverage = services.programme_coverage(programme_)
    learners = services.learners_by_id(r.learner_id for r in coverage.rows)
    codes = {k.id: k.code for k in coverage.expected}
    outstanding = services.outstanding_codes(programme_, codes)
    rows = [[learners[r.learner_id].student_ref, learners[r.learner_id].user.name,
             programme_.code, programme_.title, len(coverage.expected), r.confirmed,
             r.evidenced, r.outstanding, ";".join(outstanding.get(r.learner_id, []))]
            for r in coverage.rows]
    return table_response(fmt, f"ksb-learners-{programme_.code or programme_.id}",
                          LEARNERS_HEADER, rows)


@officer_bp.get("/learners/<int:learner_id>")
def learner(learner_id: int):
    """One learner's KSBs: expected at work, evidenced, confirmed, outstanding."""
    learner_ = _learner_or_404(learner_id)
    return render_template("ksb/learner_progress.html", learner=learner_,
                           progress=services.learner_progress(learner_), officer=True,
                           evidence=services.learner_evidence(learner_), form=EmptyForm())


def _decision(evidence_version_field: str = "ksb_version") -> rules.KsbDecision:
    raw = request.form.get(evidence_version_field, "")
    if not raw.isdigit() or len(raw) > 9:
        abort(400)
    return rules.KsbDecision(frozenset(_ids("ksb")), int(raw))


@officer_bp.post("/learners/<int:learner_id>/entries/<int:entry_id>")
def learner_entry_decide(learner_id: int, entry_id: int):
    """Confirm the KSBs tagged on verified hours whose verifier did not decide on them."""
    require_button_post()
    learner_ = _learner_or_404(learner_id)
    entry = db.session.get(HoursEntry, entry_id)
    if entry is None or entry.learner_id != learner_.id:
        abort(404)
    try:
        confirmed, declined = services.decide_entry_evidence(current_user, entry, _decision())
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(f"{confirmed} KSB{'s' if confirmed != 1 else ''} confirmed"
              f"{f', {declined} not confirmed' if declined else ''}.", "success")
    return redirect(url_for(".learner", learner_id=learner_.id, _anchor="evidence"), 303)


@officer_bp.get("/hours/<int:entry_id>")
def check_hours(entry_id: int):
    """Check the KSBs a learner tagged on pending hours, then verify (officers)."""
    entry = db.session.get(HoursEntry, entry_id)
    if entry is None or not access.may_verify_hours(current_user, entry):
        abort(404)
    return _check_page(entry, url_for("hours.officer.officer_verify", entry_id=entry.id),
                       url_for("hours.officer.learner", learner_id=entry.learner_id))


@officer_bp.get("/offers")
def offers() -> Any:
    """Open offers by the KSBs they develop, for one of the officer's programmes."""
    programmes = services.provider_programmes(current_user)
    form = OfferFilterForm(formdata=request.args if request.args else None)
    form.programme.choices = choices((p.id, p.title) for p in programmes)
    programme_: Programme | None = None
    matches: list[services.OfferMatch] = []
    wanted: list[int] = []
    status = 200
    expected = []
    if request.args:
        if form.validate():
            programme_ = next((p for p in programmes if p.id == form.programme.data), None)
    elif programmes:
        programme_ = programmes[0]
        form.programme.data = programme_.id
    if programme_ is not None:
        ids = services.expected_ids(programme_)
        expected = [k for k in catalogue.ksbs_of(programme_.standard_id) if k.id in ids]
        form.ksb.choices = choices([("", "Any of the programme's work-integrated KSBs")] + [
            (str(k.id), f"{k.code}: {k.statement[:90]}") for k in expected])
        if form.ksb.data and form.ksb.data not in {str(k.id) for k in expected}:
            form.ksb.errors = ["Select one of the programme's work-integrated KSBs"]
            status = 400
        else:
            wanted = [int(form.ksb.data)] if form.ksb.data else []
            matches = services.offers_by_ksb(programme_, wanted,
                                             only_covering=form.covering.data != "all")
    elif request.args:
        status = 400
    if not form.ksb.choices:
        form.ksb.choices = choices([("", "Any of the programme's work-integrated KSBs")])
    return render_template("ksb/officer_offers.html", form=form, programme=programme_,
                           matches=matches, expected=expected, wanted=wanted), status


# =============================================================================== employers

def _own_offer_or_404(offer_id: int) -> PlacementOffer:
    offer = db.session.get(PlacementOffer, offer_id)
    if offer is None or current_user.employer_id is None \
            or offer.employer_id != current_user.employer_id:
        abort(404)
    return offer


def _offer_page(offer: PlacementOffer, add_form: AddKsbForm | None = None, status: int = 200):
    links = services.offer_links(offer)
    by_status = {s: [link for link in links if link.status == s] for s in LinkStatus}
    standards = services.offer_standards_with_ksbs(offer)
    linked = {link.ksb_id for link in by_status[LinkStatus.CONFIRMED]}
    ksbs = [k for s in standards for k in catalogue.ksbs_of(s.id) if k.id not in linked]
    return render_template(
        "ksb/offer.html", offer=offer, links=by_status, standards=standards,
        add_form=add_form or AddKsbForm(ksbs, formdata=None), form=EmptyForm(),
        several=len(standards) > 1), status


@employer_bp.get("/offers/<int:offer_id>")
def offer(offer_id: int):
    """The KSBs a placement develops: suggested from its description, confirmed by you."""
    return _offer_page(_own_offer_or_404(offer_id))


@employer_bp.post("/offers/<int:offer_id>/suggest")
def offer_suggest(offer_id: int):
    """Suggest the KSBs the placement develops from its title and description."""
    require_button_post()
    offer_ = _own_offer_or_404(offer_id)
    try:
        new = services.suggest_for_offer(current_user, offer_)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(f"{new} KSB{'s' if new != 1 else ''} suggested from the description: confirm "
              "those the placement develops and reject the others." if new else
              "No new suggestions: every KSB suggested has been decided already.",
              "success" if new else "info")
    return redirect(url_for(".offer", offer_id=offer_.id, _anchor="suggestions"), 303)


@employer_bp.post("/offers/<int:offer_id>/decide")
def offer_decide(offer_id: int):
    """Confirm or reject suggested KSBs of the offer."""
    require_button_post()
    offer_ = _own_offer_or_404(offer_id)
    return _decide(lambda verb, ids: services.decide_offer_links(current_user, offer_, verb, ids),
                   url_for(".offer", offer_id=offer_.id, _anchor="suggestions"))


@employer_bp.post("/offers/<int:offer_id>/add")
def offer_add(offer_id: int):
    """Add a KSB the placement develops by hand."""
    offer_ = _own_offer_or_404(offer_id)
    linked = {link.ksb_id for link in services.offer_links(offer_)
              if link.status == LinkStatus.CONFIRMED}
    form = AddKsbForm([k for s in services.offer_standards_with_ksbs(offer_)
                       for k in catalogue.ksbs_of(s.id) if k.id not in linked])
    if form.validate_on_submit():
        try:
            link = services.add_offer_ksb(current_user, offer_, form.ksb.data)
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "ksb")
        else:
            db.session.commit()
            flash(f"{link.ksb.code} confirmed for this placement.", "success")
            return redirect(url_for(".offer", offer_id=offer_.id, _anchor="confirmed"), 303)
    return _offer_page(offer_, add_form=form, status=400)


@employer_bp.get("/hours/<int:entry_id>")
def check_hours_employer(entry_id: int):
    """Check the KSBs a learner tagged on placement hours, then verify."""
    entry = db.session.get(HoursEntry, entry_id)
    if entry is None or not access.may_verify_hours(current_user, entry):
        abort(404)
    return _check_page(entry, url_for("hours.employer.verify", entry_id=entry.id),
                       url_for("hours.employer.pending"))


def _check_page(entry: HoursEntry, action: str, back: str):
    evidence = rules.evidence_of(entry.id)
    return render_template("ksb/check_hours.html", entry=entry, evidence=evidence,
                           action=action, back=back, form=EmptyForm(),
                           reject_url=(url_for("hours.employer.reject", entry_id=entry.id)
                                       if current_user.role == Role.EMPLOYER else
                                       url_for("hours.officer.officer_reject",
                                               entry_id=entry.id)))


# =============================================================================== learners

def _own_learner() -> Learner:
    learner = current_user.learner
    if learner is None:
        abort(404)
    return learner


@learner_bp.get("/")
def progress():
    """Your KSBs: those your programme expects at work, what you have shown and what is
    confirmed."""
    learner_ = _own_learner()
    return render_template("ksb/learner_progress.html", learner=learner_,
                           progress=services.learner_progress(learner_), officer=False,
                           evidence=services.learner_evidence(learner_), form=EmptyForm())


@learner_bp.route("/entries/<int:entry_id>", methods=["GET", "POST"])
def entry(entry_id: int):
    """Tag an entry of your pending hours with the KSBs you practised."""
    learner_ = _own_learner()
    hours = db.session.get(HoursEntry, entry_id)
    if hours is None or hours.learner_id != learner_.id:
        abort(404)
    evidence = rules.evidence_of(hours.id)
    ksb_choices = services.evidence_choices(learner_)
    form = EvidenceForm(ksb_choices)
    if request.method == "GET" and evidence is not None:
        form.ksbs.data = [i.ksb_id for i in evidence.items]
        form.reflection.data = evidence.reflection
    seen = evidence.version if evidence is not None else 0
    if request.method == "POST":
        raw = request.form.get("version", "")
        if not raw.isdigit() or len(raw) > 9:
            abort(400)
        seen = int(raw)
    status = 200
    if form.validate_on_submit():
        if form.suggest.data:
            try:
                suggested = services.suggest_for_reflection(learner_, form.reflection.data or "")
            except DomainError as exc:
                show_domain_error(form, exc, "reflection")
                status = 400
            else:
                form.ksbs.data = list(dict.fromkeys([*(form.ksbs.data or []), *suggested]))
                flash("Suggested KSBs are ticked below: check them, then save." if suggested
                      else "No KSB stands out from your reflection: tick the ones you "
                           "practised.", "info")
        else:
            try:
                services.save_evidence(current_user, hours, form.ksbs.data or [],
                                       form.reflection.data or "", seen_version=seen or None)
            except DomainError as exc:
                db.session.rollback()
                show_domain_error(form, exc, "ksbs")
                status = 400
            else:
                db.session.commit()
                flash("The KSBs you practised have been saved. Whoever verifies your hours "
                      "confirms them.", "success")
                return redirect(url_for(".progress", _anchor="evidence"), 303)
    elif request.method == "POST":
        status = 400
    return render_template("ksb/learner_entry.html", form=form, entry=hours, seen=seen,
                           evidence=evidence, learner=learner_, choices=ksb_choices), status


# =============================================================================== shared

@bp.app_template_global()
def ksb_offer_coverage(learner: Learner | None, offer_ids: list[int]) -> dict[int, Any]:
    """How each offer covers the learner's programme's work-integrated KSBs (read only)."""
    if learner is None:
        return {}
    return services.offer_coverage(learner, list(offer_ids))


@bp.app_template_global()
def ksb_evidence_for(entry_ids: list[int]) -> dict[int, Any]:
    """Evidence records of some hours entries, for the hours pages (read only)."""
    return services.evidence_by_entry(entry_ids)


@bp.app_template_global()
def standard_has_ksbs(standard: OccupationalStandard) -> bool:
    """Say whether a standard has KSB statements loaded."""
    return catalogue.version_of(standard.id) is not None


bp.register_blueprint(officer_bp)
bp.register_blueprint(employer_bp)
bp.register_blueprint(learner_bp)
