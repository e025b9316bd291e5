"""Tokenizer for the KSB suggestion engine: words, stop words and a light stemmer.

The same function turns a KSB statement and a person's text into terms, so that
"tested", "tests" and "testing" meet on "test", and "organisation" meets
"organization". Written for English as assessors and learners write it: British and
American spellings, bullet lists, codes such as "GDPR" or "C#" and numbers are kept.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

# Words carrying no subject of their own: common English function words, and the
# boilerplate of KSB statements ("understand the principles of ...", "including,
# for example, ...", "relevant", "appropriate") that a text covering a KSB need not
# repeat. Subject words that are merely frequent ("data", "care") stay: BM25's IDF
# weighs them within each standard.
_STOP_WORDS = """
    a about above across after again against all almost also although always am among an
    and another any anyone anything are around as at be became because become been before
    being below between both but by can could did do does doing done during each either
    else etc even ever every for from further get gets getting given had has have having
    he her here hers herself him himself his how however i if in into is it its itself
    just least less let like made make makes many may me might more most much must my
    myself namely near need needed needs neither no nor not of off often on once one only
    onto or other others otherwise our ours ourselves out over own per perhaps rather
    same she should since so some such than that the their theirs them themselves then
    there these they this those though through throughout thus to too toward towards
    under until up upon us very via was we well were what whatever when whenever where
    whereas wherever whether which while who whom whose why will with within without would
    yet you your yours yourself yourselves
    eg e g ie i.e e.g etc able ability abilities
    understand understands understanding understood know knows knowing knowledge
    include includes including included example examples instance
    relevant appropriate appropriately range various different relating related relation
    ensure ensures ensuring using use used uses way ways key main
"""
STOP_WORDS: frozenset[str] = frozenset(_STOP_WORDS.split())

_WORD = re.compile(r"[a-z0-9]+(?:[+#]+|(?:['’][a-z]+))?")
_NUMBER = re.compile(r"\d+")


def normalise(text: str) -> str:
    """Lower case without accents or ligatures: "Café ﬁle" -> "cafe file"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


# Spellings and irregular forms met before any rule: US -> UK, and words whose
# inflections the rules below would not bring together.
_IRREGULAR: dict[str, str] = {
    "analysis": "analyse",
    "analyses": "analyse",
    "diagnosis": "diagnose",
    "diagnoses": "diagnose",
    "hypothesis": "hypothesise",
    "hypotheses": "hypothesise",
    "children": "child",
    "women": "woman",
    "men": "man",
    "behavior": "behaviour",
    "behaviors": "behaviour",
    "behavioral": "behaviour",
    "behavioural": "behaviour",
    "color": "colour",
    "favor": "favour",
    "labor": "labour",
    "honor": "honour",
    "neighbor": "neighbour",
    "center": "centre",
    "centers": "centre",
    "catalog": "catalogue",
    "defense": "defence",
    "license": "licence",
    "licenses": "licence",
    "practise": "practice",
    "practising": "practice",
    "practised": "practice",
    "practiced": "practice",
    "practicing": "practice",
}
# Words ending in "s" that are not plurals.
_NOT_PLURALS = (
    "business news series species always perhaps gas bus plus bias lens canvas atlas "
    "chaos alias thanks across unless less"
)
_KEEP_S = frozenset(_NOT_PLURALS.split())
# Derivational endings, applied repeatedly (longest first) while the stem keeps
# at least the given number of letters: "organisational" -> "organise",
# "environmental" -> "environment" -> "environ", "effectiveness" -> "effective".
_DERIVATIONAL: tuple[tuple[str, str, int], ...] = (
    ("ciliation", "cile", 3),
    ("isational", "ise", 3),
    ("isation", "ise", 3),
    ("ational", "ate", 3),
    ("fulness", "ful", 3),
    ("iveness", "ive", 3),
    ("ousness", "ous", 3),
    ("ation", "ate", 3),
    ("ively", "ive", 3),
    ("fully", "ful", 3),
    ("ility", "le", 3),
    ("ator", "ate", 3),
    ("ally", "al", 4),
    ("ness", "", 4),
    ("ment", "", 4),
    ("ity", "", 4),
    ("ly", "", 5),
    ("al", "", 5),
)
_VOWEL = re.compile(r"[aeiouy]")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light English stemmer: "testing" -> "test", "organisations" -> "organis".

    Inflections go first (plurals, -ed, -ing), then derivational endings
    ("-ation", "-ment", "-ness", "-ity", "-ly", "-al") while a stem of a few letters
    remains, then a final "e" and "-at" ("evaluation", "evaluated" and "evaluate"
    all give "evalu"). American spellings are written the British way first
    ("organization" -> "organisation", "behavior" -> "behaviour"), so both meet. It
    is smaller than Porter's and errs towards keeping words apart.
    """
    w = word.replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    w = w.replace("'", "")
    w = _IRREGULAR.get(w, w)
    if len(w) <= 3 or not w.isalpha() or w in _KEEP_S:
        return w
    # US -> UK: -ize/-ization/-yze -> -ise/-isation/-yse.
    w = re.sub(r"([iy])z(e|ed|es|ing|ation|ations|ational|er|ers)$", r"\1s\2", w)
    # Inflections.
    if w.endswith("sses"):
        w = w[:-2]
    elif w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("es") and w[:-2].endswith(("ss", "x", "z", "ch", "sh")):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    if w.endswith("eed"):
        w = w[:-1]
    elif w.endswith("ied") and len(w) > 4:
        w = w[:-3] + "y"
    else:
        for ending in ("ing", "ed"):
            rest = w[: -len(ending)]
            if w.endswith(ending) and len(rest) >= 3 and _VOWEL.search(rest):
                w = rest
                if len(w) > 4 and w[-1] == w[-2] and w[-1] not in "aeious":
                    w = w[:-1]  # planned -> plann -> plan
                break
    # Derivational endings, repeatedly.
    changed = True
    while changed:
        changed = False
        for suffix, replacement, min_stem in _DERIVATIONAL:
            if w.endswith(suffix) and len(w) - len(suffix) >= min_stem:
                w = w[: len(w) - len(suffix)] + replacement
                changed = True
                break
    if len(w) > 4 and w[-1] == w[-2] and w[-1] not in "aeious":
        w = w[:-1]  # skill, skills, skilled -> skil
    if w.endswith("e") and len(w) >= 4:
        w = w[:-1]
    if w.endswith("at") and len(w) >= 6:
        w = w[:-2]  # evaluat -> evalu, communicat -> communic
    return w


def words(text: str) -> Iterator[tuple[str, str]]:
    """(surface word, term) for each word of the text that is not a stop word."""
    for match in _WORD.finditer(normalise(text)):
        word = match.group()
        if word in STOP_WORDS or (len(word) == 1 and not word.isdigit()):
            continue
        if _NUMBER.fullmatch(word) and len(word) > 4:
            continue  # long numbers (phone numbers, references) match nothing useful
        yield word, stem(word)


def terms(text: str) -> list[str]:
    """The terms of a text, in order, repeats kept."""
    return [term for _, term in words(text)]
