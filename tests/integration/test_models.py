"""Domain model constraints that the database itself enforces."""

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from placements.extensions import db
from placements.models import AuditEvent, Preference, Programme, Role, User
from tests.conftest import make_user


def test_password_is_hashed_with_scrypt(app, world):
    app.config["PASSWORD_HASH_METHOD"] = "scrypt"
    user = User(email="x@example.test", name="X", role=Role.ADMIN)
    user.set_password("a long enough password")
    assert user.password_hash.startswith("scrypt:")
    assert "a long enough password" not in user.password_hash
    assert user.check_password("a long enough password")
    assert not user.check_password("wrong password")


def test_set_password_rotates_session_token(world):
    user = world["admin"]
    before = user.get_id()
    user.set_password("another long password")
    assert user.get_id() != before


def test_officer_must_belong_to_a_provider(world):
    make_user("nobody@example.test", Role.OFFICER)
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_employer_user_must_belong_to_an_employer(world):
    make_user("loose@example.test", Role.EMPLOYER)
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_email_is_unique(world):
    make_user("admin@example.test", Role.ADMIN)
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_negative_capacity_rejected_by_database(world):
    world["o1"].capacity = -1
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_offer_end_before_start_rejected_by_database(world):
    world["o1"].end_date = date(2020, 1, 1)
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_programme_level_must_be_4_or_5(world):
    world["prog1"].level = 3
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_mandated_programme_needs_required_hours(world):
    world["prog1"].required_placement_hours = None
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_work_integration_target_defaults_to_twenty_percent(world):
    programme = db.session.get(Programme, world["prog2"].id)
    assert programme.work_integration_target_pct == 20


@pytest.mark.parametrize("clash", ["rank", "offer"])
def test_preferences_unique_per_learner_rank_and_offer(world, clash):
    r, l1 = world["round"], world["l1"]
    db.session.add(Preference(round_id=r.id, learner_id=l1.id, offer_id=world["o1"].id, rank=1))
    db.session.commit()
    if clash == "rank":
        db.session.add(Preference(round_id=r.id, learner_id=l1.id, offer_id=world["o2"].id,
                                  rank=1))
    else:
        db.session.add(Preference(round_id=r.id, learner_id=l1.id, offer_id=world["o1"].id,
                                  rank=2))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(Preference.id))) == 1


def test_timestamps_are_timezone_aware_utc(world):
    db.session.add(AuditEvent(action="test.event", object_type="x"))
    db.session.commit()
    db.session.expire_all()
    event = db.session.scalar(sa.select(AuditEvent))
    assert event.at.tzinfo is not None
    assert event.at.utcoffset().total_seconds() == 0


def test_naive_datetime_refused(world):
    world["round"].preference_deadline = datetime(2027, 1, 1)
    with pytest.raises(sa.exc.StatementError, match="naive"):
        db.session.commit()
    db.session.rollback()


def test_round_deadline(world):
    round_ = world["round"]
    assert not round_.deadline_passed()
    assert round_.deadline_passed(datetime(2100, 1, 1, tzinfo=UTC))
    assert round_.sectors() == {"Digital", "Health and science"}


def test_partner_ids(world):
    assert world["p1"].partner_ids() == {world["p1"].id, world["p2"].id}
