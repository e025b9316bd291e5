"""Demo data: loads through the services, is idempotent, and scales."""

import sqlalchemy as sa

from placements.extensions import db
from placements.models import (
    Employer,
    Learner,
    OccupationalStandard,
    PlacementOffer,
    Preference,
    Programme,
    Role,
    User,
)
from seed.demo import DEMO_PASSWORD, demo_logins, demo_summary, load_demo, load_standards


def test_reference_standards_load_and_refresh(app):
    assert load_standards() == 101
    assert load_standards() == 101
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(OccupationalStandard.id))) == 101
    st = db.session.scalar(sa.select(OccupationalStandard).where(
        OccupationalStandard.reference == "ST0116"))
    assert (st.title, st.level, st.route) == ("Software developer", 4, "Digital")


def test_demo_is_idempotent(app):
    report = load_demo(learners=60)
    db.session.commit()
    assert report.created
    first = demo_summary()
    again = load_demo(learners=60)
    db.session.commit()
    assert not again.created
    assert demo_summary() == first


def test_demo_shape(app):
    load_demo()
    db.session.commit()
    counts = demo_summary()
    assert counts["provider"] == 3
    assert counts["programme"] == 8
    assert 35 <= db.session.scalar(sa.select(sa.func.count(Employer.id))) <= 45
    assert 100 <= db.session.scalar(sa.select(sa.func.count(PlacementOffer.id))) <= 140
    assert counts["learner"] == 300
    assert counts["preference"] > 600
    mandated = db.session.scalar(sa.select(sa.func.count(Programme.id)).where(
        Programme.placement_mandated.is_(True)))
    assert 0 < mandated < 8
    # Every learner and site is in Greater Manchester.
    regions = {row for row in db.session.scalars(sa.select(Employer.region).distinct())}
    assert regions == {"North West"}
    # Preferences are within the learner's sector.
    mismatched = db.session.scalar(
        sa.select(sa.func.count(Preference.id))
        .join(Learner, Preference.learner_id == Learner.id)
        .join(Programme, Learner.programme_id == Programme.id)
        .join(PlacementOffer, Preference.offer_id == PlacementOffer.id)
        .where(PlacementOffer.sector != Programme.route))
    assert mismatched == 0


def test_demo_logins_work(app, client):
    load_demo(learners=20)
    db.session.commit()
    for role, email, password in demo_logins():
        assert password == DEMO_PASSWORD
        response = client.post("/auth/login", data={"email": email, "password": password})
        assert response.status_code == 302, role
        assert client.get(response.headers["Location"]).status_code == 200, role
        client.post("/auth/logout")
    user = db.session.scalar(sa.select(User).where(User.email == demo_logins()[0][1]))
    assert user.role == Role.ADMIN


def test_seed_command(runner):
    result = runner.invoke(args=["seed", "demo", "--learners", "30"])
    assert result.exit_code == 0, result.output
    assert "Demo data loaded" in result.output
    assert "officer@demo.placements.test" in result.output
    result = runner.invoke(args=["seed", "demo", "--learners", "30"])
    assert "nothing changed" in result.output


def test_seed_command_rejects_bad_count(runner):
    result = runner.invoke(args=["seed", "demo", "--learners", "0"])
    assert result.exit_code == 2
    assert "--learners" in result.output
