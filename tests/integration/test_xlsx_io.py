"""Excel next to CSV: every import kind takes an .xlsx upload with the same rules and row
numbers; the main exports come as workbooks too."""

from __future__ import annotations

import io

import openpyxl
import sqlalchemy as sa

from placements.csvio import XLSX_MIMETYPE
from placements.extensions import db
from placements.models import Job, Learner, Placement, PlacementStatus


def _workbook(rows: list[list]) -> bytes:
    wb = openpyxl.Workbook()
    for row in rows:
        wb.active.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _upload(client, kind: str, data: bytes, name: str):
    return client.post(f"/officer/imports/{kind}", data={f"{kind}-file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_learners_import_from_a_workbook(client, auth, world):
    world["prog1"].code = "DIG4"
    db.session.commit()
    auth.login("officer1@example.test")
    header = ["student_ref", "name", "email", "programme_code", "home_postcode",
              "max_travel_km", "first_in_family_he"]
    bad = _workbook([header, ["X1", "Xavier", "x1@example.test", "DIG4", "M1 1AA", 900, True],
                     ["X2", "Yan", "nope", "DIG4", "M1 1AA", 20, None]])
    response = _upload(client, "learners", bad, "learners.xlsx")
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "Enter a number of at most 500" in text
    assert "e-mail address like" in text
    good = _workbook([header, ["X1", "Xavier", "x1@example.test", "DIG4", "M1 1AA", 30, True],
                      ["X2", "Yan", "x2@example.test", "dig4", "M1 1AA", None, False]])
    # The name does not matter: the content says it is a workbook.
    response = _upload(client, "learners", good, "export-from-sits.csv")
    assert response.status_code == 303
    job = db.session.scalar(sa.select(Job).order_by(Job.id.desc()))
    assert job.status.value == "succeeded", job.error
    assert job.result["created"] == 2
    assert "content" not in job.payload  # the upload is dropped once written
    learners = {lrn.student_ref: lrn for lrn in db.session.scalars(sa.select(Learner))}
    assert learners["X1"].max_travel_km == 30
    assert learners["X1"].first_in_family_he is True
    assert learners["X2"].max_travel_km == 25


def test_exports_come_as_workbooks(client, auth, world):
    db.session.add(Placement(round_id=world["round"].id, learner_id=world["l1"].id,
                             offer_id=world["o1"].id, status=PlacementStatus.PUBLISHED,
                             rank=1, distance_m=2500))
    world["l1"].user.name = "=cmd|' /C calc'!A0"
    db.session.commit()
    auth.login("officer1@example.test")
    response = client.get(f"/officer/rounds/{world['round'].id}/placements.xlsx")
    assert response.status_code == 200
    assert response.mimetype == XLSX_MIMETYPE
    assert "round-" in response.headers["Content-Disposition"]
    ws = openpyxl.load_workbook(io.BytesIO(response.data)).active
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows[0][:3] == ["student_ref", "learner", "employer"]
    assert rows[1][0] == "A1"
    assert rows[1][1] == "'=cmd|' /C calc'!A0"  # never a formula
    assert rows[1][5] == 2.5
    for path in ("/hours/officer/hours.xlsx",
                 f"/hours/officer/programmes/{world['prog1'].id}/hours.xlsx",
                 "/officer/insights/supply-demand.xlsx"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.mimetype == XLSX_MIMETYPE
        openpyxl.load_workbook(io.BytesIO(response.data))
    csv = client.get(f"/officer/rounds/{world['round'].id}/placements.csv")
    assert csv.mimetype.startswith("text/csv")
