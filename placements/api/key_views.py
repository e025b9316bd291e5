"""Pages where officers (for their provider) and administrators (for any provider) create,
list and revoke API keys. A new key is shown once, on the page that answers its creation,
and never again."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from placements.api import keys
from placements.api.forms import AdminKeyForm, KeyForm
from placements.domain import DomainError
from placements.extensions import db
from placements.formkit import EmptyForm, require_button_post, show_domain_error
from placements.models import SCOPE_LABELS, ApiKey, Role
from placements.navigation import render_form
from placements.security import restrict

officer_bp = Blueprint("api_keys", __name__, url_prefix="/officer/api-keys")
admin_bp = Blueprint("admin_api_keys", __name__, url_prefix="/admin/api-keys")


restrict(officer_bp, Role.OFFICER)
restrict(admin_bp, Role.ADMIN)


def _context(bp_name: str) -> dict:
    return {"area": bp_name, "scope_labels": {s.value: label
                                              for s, label in SCOPE_LABELS.items()},
            "shown_status": keys.shown_status, "refusal": keys.refusal}


def _index(bp_name: str):
    rows = list(db.session.scalars(keys.keys_stmt(current_user)))
    return render_template("api/keys.html", keys=rows, **_context(bp_name))


def _new(bp_name: str, form: KeyForm, provider_id: int | None):
    if form.validate_on_submit():
        try:
            made = keys.create_key(current_user, provider_id=provider_id or form.provider.data,
                                   name=form.name.data, scopes=form.scopes.data,
                                   days=form.days.data)
        except DomainError as exc:
            db.session.rollback()
            show_domain_error(form, exc, "name")
        else:
            db.session.commit()
            # Shown on this page only: nothing stores the key itself.
            return render_template("api/key_created.html", key=made.key, token=made.token,
                                   **_context(bp_name))
    return render_form("api/key_new.html", form, **_context(bp_name))


def _key_or_404(key_id: int) -> ApiKey:
    key = keys.get_key(current_user, key_id)
    if key is None:
        abort(404)
    return key


def _revoke(bp_name: str, key_id: int):
    key = _key_or_404(key_id)
    require_button_post()
    try:
        keys.revoke_key(current_user, key)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(f"The key “{key.name}” ({key.prefix}…) has been revoked: it stops working "
              "at once.", "success")
    return redirect(url_for(f"{bp_name}.index"), 303)


def _confirm(bp_name: str, key_id: int):
    key = _key_or_404(key_id)
    return render_template("api/key_revoke.html", key=key, form=EmptyForm(),
                           **_context(bp_name))


# --- officers ----------------------------------------------------------------------------------

@officer_bp.get("/")
def index():
    """The provider's API keys: what each may do, when it expires and was last used."""
    return _index("api_keys")


@officer_bp.route("/new", methods=["GET", "POST"])
def new():
    """Create a key for the officer's provider."""
    return _new("api_keys", KeyForm(), current_user.provider_id)


@officer_bp.get("/<int:key_id>/revoke")
def revoke_confirm(key_id: int):
    """Ask before revoking a key."""
    return _confirm("api_keys", key_id)


@officer_bp.post("/<int:key_id>/revoke")
def revoke(key_id: int):
    """Revoke a key: calls with it are refused from now on."""
    return _revoke("api_keys", key_id)


# --- administrators ----------------------------------------------------------------------------

@admin_bp.get("/", endpoint="index")
def index_all():
    """Every provider's API keys."""
    return _index("admin_api_keys")


@admin_bp.route("/new", methods=["GET", "POST"], endpoint="new")
def new_for_provider():
    """Create a key for a provider."""
    return _new("admin_api_keys", AdminKeyForm(), None)


@admin_bp.get("/<int:key_id>/revoke", endpoint="revoke_confirm")
def revoke_confirm_any(key_id: int):
    """Ask before revoking a key."""
    return _confirm("admin_api_keys", key_id)


@admin_bp.post("/<int:key_id>/revoke", endpoint="revoke")
def revoke_any(key_id: int):
    """Revoke a key."""
    return _revoke("admin_api_keys", key_id)
