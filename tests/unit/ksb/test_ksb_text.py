"""The tokenizer and light stemmer behind the lexical ranker."""

from __future__ import annotations

import pytest

from placements.ksb.text import STOP_WORDS, normalise, stem, terms, words


@pytest.mark.parametrize(
    "forms",
    [
        ("test", "tests", "tested", "testing"),
        ("plan", "plans", "planned", "planning"),
        ("organisation", "organization", "organisational", "organised", "organize"),
        ("behaviour", "behaviours", "behavior", "behavioural"),
        ("evaluate", "evaluated", "evaluation", "evaluating"),
        ("communicate", "communication", "communicates"),
        ("analyse", "analysis", "analysed", "analyzing", "analyses"),
        ("diagnose", "diagnosis", "diagnosed"),
        ("centre", "center", "centres"),
        ("develop", "development", "developing", "developmental"),
        ("environment", "environmental"),
        ("effective", "effectively", "effectiveness"),
        ("policy", "policies"),
        ("process", "processes"),
        ("assess", "assessment", "assessed"),
        ("care", "cares", "caring", "cared"),
        ("reconcile", "reconciliation", "reconciled"),
        ("practice", "practise", "practising"),
    ],
)
def test_forms_of_a_word_meet(forms: tuple[str, ...]) -> None:
    assert len({stem(f) for f in forms}) == 1, {f: stem(f) for f in forms}


@pytest.mark.parametrize(
    "apart",
    [
        ("apply", "app"),
        ("supply", "sup"),
        ("family", "fami"),
        ("business", "busy"),
        ("data", "date"),
    ],
)
def test_unrelated_words_stay_apart(apart: tuple[str, str]) -> None:
    assert stem(apart[0]) != stem(apart[1])


def test_stop_words_and_boilerplate_go() -> None:
    assert terms("Understand the principles of the data, including e.g. its relevant uses") == [
        "principl",
        "data",
    ]
    assert {"the", "and", "understand", "including", "relevant"} <= STOP_WORDS


def test_unicode_is_normalised() -> None:
    assert normalise("Café ﬁle ÉCOLE") == "cafe file ecole"
    assert [w for w, _ in words("The learner’s naïve résumé")] == ["learner’s", "naive", "resume"]
    assert terms("Learner’s learners") == ["learner", "learner"]


def test_codes_and_numbers_are_kept() -> None:
    assert terms("C# and C++ on GDPR 2018, tel 01234567890") == ["c#", "c++", "gdpr", "2018", "tel"]


def test_words_keep_the_surface_form() -> None:
    assert list(words("Testing planned")) == [("testing", "test"), ("planned", "plan")]
