"""The KSB rules on plain values (placements.domain.ksb): gaps, progress, outstanding KSBs,
an offer's coverage, problem codes, and the link lifecycles' tables."""

from __future__ import annotations

import pytest

from placements.domain import ksb as rules
from placements.domain.errors import IllegalTransition
from placements.models import KsbKind, LinkStatus
from placements.models.ksb import Delivery, ksb_sort_key


def test_only_confirmed_links_count():
    assert rules.counts(LinkStatus.CONFIRMED)
    assert not rules.counts(LinkStatus.SUGGESTED)
    assert not rules.counts(LinkStatus.REJECTED)


def test_skills_and_behaviours_are_framed_as_workplace():
    assert rules.framed_as_workplace(KsbKind.SKILL)
    assert rules.framed_as_workplace("behaviour")
    assert not rules.framed_as_workplace(KsbKind.KNOWLEDGE)


@pytest.mark.parametrize(("kind", "classroom", "wil", "gap"), [
    (KsbKind.SKILL, 0, 0, rules.Gap.NOWHERE),
    (KsbKind.KNOWLEDGE, 0, 0, rules.Gap.NOWHERE),
    (KsbKind.SKILL, 2, 0, rules.Gap.CLASSROOM_ONLY),
    (KsbKind.BEHAVIOUR, 1, 0, rules.Gap.CLASSROOM_ONLY),
    (KsbKind.KNOWLEDGE, 1, 0, None),
    (KsbKind.SKILL, 1, 1, None),
    (KsbKind.BEHAVIOUR, 0, 1, None),
])
def test_gaps(kind, classroom, wil, gap):
    assert rules.gap_of(kind, classroom, wil) is gap


def test_progress_confirmed_beats_evidenced_beats_outstanding():
    expected, claimed, confirmed = {1, 2, 3}, {2, 4, 1}, {1}
    states = {k: rules.progress_of(k, expected=expected, claimed=claimed, confirmed=confirmed)
              for k in range(1, 6)}
    assert states == {1: rules.Progress.CONFIRMED, 2: rules.Progress.EVIDENCED,
                      3: rules.Progress.OUTSTANDING, 4: rules.Progress.EVIDENCED, 5: None}
    assert rules.outstanding(expected, confirmed) == {2, 3}
    assert rules.offer_covers({2, 3, 9}, rules.outstanding(expected, confirmed)) == {2, 3}


def test_problem_codes_are_qualified_by_their_standard():
    assert rules.problem_code("ST0116", "S4") == "ST0116:S4"
    assert rules.problem_code("ST0116", "S4") != rules.problem_code("ST0118", "S4")


def test_link_lifecycle_table():
    link = rules.MODULE_LINK
    assert link.verbs(LinkStatus.SUGGESTED) == ["confirm", "reject"]
    assert link.verbs(LinkStatus.CONFIRMED) == ["reject"]
    assert link.verbs(LinkStatus.REJECTED) == ["confirm"]
    with pytest.raises(IllegalTransition, match="already been confirmed"):
        link.check("confirm", LinkStatus.CONFIRMED)
    assert rules.EVIDENCE.verbs(rules.EvidenceStatus.CLAIMED) == ["confirm", "decline"]
    assert rules.EVIDENCE.verbs(rules.EvidenceStatus.CONFIRMED) == []


def test_work_integrated_deliveries_and_code_order():
    assert [d.work_integrated for d in Delivery] == [False, True, True, True]
    codes = ["B1", "S10", "K2", "S2", "K10", "CK1", "K1.2", "K1", "X"]
    assert sorted(codes, key=ksb_sort_key) == ["CK1", "K1", "K1.2", "K2", "K10", "S2", "S10",
                                               "B1", "X"]
