"""Turn a member's message into clean, lower-case, correctly spelt words with lemmas.

Each output word remembers which token of the member's own text it came from,
so the finder can quote the member's words as evidence.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.skills import lexicon as lx

#: Longest text looked at; the rest of a very long message is ignored.
MAX_CHARS = 20_000

# Control, format and surrogate characters become spaces (one for one, so offsets hold).
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ud800-\udfff]"
)
_CURLY = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "“": '"', "”": '"'})
_HYPHEN = re.compile(r"(?<=[^\W\d_])-(?=[^\W\d_])")
_CONTRACTIONS = {
    "n't": "not",
    "nt": "not",
    "'m": "am",
    "'d": "would",
    "'ve": "have",
    "'ll": "will",
    "'re": "are",
}
_AFTER_NOT = {"ca": "can", "wo": "will", "ai": "am", "sha": "shall"}
_AFTER_PRONOUN = {"m": "am", "d": "would", "ve": "have", "ll": "will", "re": "are"}
_PRONOUNS = frozenset({"i", "you", "we", "they", "he", "she"})


@dataclass(frozen=True)
class Normalised:
    """A message as normalised words, lemmas and the character span each came from."""

    text: str  # the cleaned text (same length as the part of the message looked at)
    words: tuple[str, ...]
    lemmas: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]  # (start, end) in ``text`` per word

    def quote(self, first: int, last: int) -> str:
        """The member's own text behind words ``first`` to ``last`` (inclusive)."""
        return self.text[self.spans[first][0] : self.spans[last][1]]


def clean(text: str) -> str:
    """Cut to :data:`MAX_CHARS`; make invisible characters spaces; straighten quotes."""
    text = text[:MAX_CHARS]
    text = _INVISIBLE.sub(" ", text).translate(_CURLY)
    return _HYPHEN.sub(" ", text)


def lower_same_length(text: str) -> str:
    """Lower-case ``text`` without changing its length (a few letters grow when lowered)."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def _read_lookup(name: str) -> Any:
    """Read one English table of spacy-lookups-data (stored gzipped)."""
    import spacy_lookups_data  # type: ignore[import-untyped]

    path = Path(str(spacy_lookups_data.en[name]))
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    with gzip.open(path.with_name(path.name + ".gz"), "rt", encoding="utf-8") as handle:
        return json.load(handle)


def load_english_tables() -> tuple[dict[str, str], frozenset[str]]:
    """The lemma lookup table (form -> lemma) and the set of English base words."""
    table: dict[str, str] = _read_lookup("lemma_lookup")
    index: dict[str, list[str]] = _read_lookup("lemma_index")
    words = frozenset(w for group in index.values() for w in group if w.isalpha())
    return table, words


def _deletes(word: str) -> set[str]:
    """The word and every form of it with one letter left out."""
    return {word} | {word[:i] + word[i + 1 :] for i in range(len(word))}


class Normaliser:
    """Spelling, text-speak and lemmas for the finder; built once, then cached per word."""

    def __init__(
        self,
        tokenize: Callable[[str], Any],
        lemma_table: Mapping[str, str],
        vocabulary: Iterable[str],
        known_words: Iterable[str] = (),
    ) -> None:
        """Keep the tokenizer and lemma table; index ``vocabulary`` for spelling fixes.

        Words in the table, in ``known_words`` or in the vocabulary are never
        "corrected"; unknown words one slip away from a vocabulary word are.
        """
        self._tokenize = tokenize
        self._table = dict(lemma_table)
        self._classes = lx.PEOPLE | lx.ANIMALS | lx.LANGUAGES
        vocab = {w for w in vocabulary if w.isalpha() and len(w) >= 3}
        vocab |= {w for w in self._classes if len(w) >= 3}
        wanted = {self.lemma(w) for w in vocab}
        vocab |= {form for form, lemma in self._table.items() if lemma in wanted and form.isalpha()}
        self._known = set(self._table) | set(self._table.values()) | set(lx.EXTRA_KNOWN) | vocab
        self._known.update(known_words)
        self._index: dict[str, set[str]] = {}
        for word in vocab:
            for key in _deletes(word):
                self._index.setdefault(key, set()).add(word)
        self._fixed: dict[str, str] = {}

    # ------------------------------------------------------------------ words

    def lemma(self, word: str) -> str:
        """The dictionary form of a lower-case word ("walked" -> "walk", "nans" -> "nan")."""
        fixed = lx.LEMMA_FIXES.get(word)
        if fixed is not None:
            return fixed
        found = self._table.get(word)
        if found is not None:
            return found
        if len(word) > 3 and word.endswith("s") and word[:-1] in self._classes:
            return word[:-1]
        return word

    def correct(self, word: str) -> str:
        """A likely intended word for an unknown word, or the word itself."""
        cached = self._fixed.get(word)
        if cached is None:
            cached = self._correct(word)
            if len(self._fixed) < 50_000:
                self._fixed[word] = cached
        return cached

    def _correct(self, word: str) -> str:
        """Work out :meth:`correct` (dropped final g, then one slip of the keyboard)."""
        if len(word) < 4 or not word.isalpha() or word in self._known:
            return word
        if word.endswith("in") and word + "g" in self._known:
            return word + "g"
        if word.endswith("s") and word[:-1] in self._known:
            return word
        tries = [word, word + "g"] if word.endswith("in") else [word]
        candidates: set[str] = set()
        for attempt in tries:
            for key in _deletes(attempt):
                candidates |= self._index.get(key, set())
        if not candidates:
            return word
        return min(candidates, key=lambda c: (c[0] != word[0], abs(len(c) - len(word)), c))

    # ------------------------------------------------------------------ messages

    def normalise(self, text: str) -> Normalised:
        """Clean, tokenize and normalise a whole message."""
        cleaned = clean(text)
        doc = self._tokenize(lower_same_length(cleaned))
        tokens = [(t.text, t.idx) for t in doc if not t.is_space]
        words: list[str] = []
        spans: list[tuple[int, int]] = []
        for i, (tok, start) in enumerate(tokens):
            prev = tokens[i - 1][0] if i else ""
            nxt = tokens[i + 1][0] if i + 1 < len(tokens) else ""
            for word in self._expand(tok, prev, nxt):
                words.append(word)
                spans.append((start, start + len(tok)))
        lemmas = tuple(self.lemma(w) for w in words)
        return Normalised(cleaned, tuple(words), lemmas, tuple(spans))

    def _expand(self, tok: str, prev: str, nxt: str) -> list[str]:
        """The normalised word(s) for one token, given its neighbours."""
        if tok in _CONTRACTIONS:
            return [_CONTRACTIONS[tok]]
        if tok in _AFTER_NOT and nxt in ("n't", "nt"):
            return [_AFTER_NOT[tok]]
        if tok in _AFTER_PRONOUN and prev in _PRONOUNS:
            return [_AFTER_PRONOUN[tok]]
        number = lx.NUMBER_WORDS.get(tok)
        if number is not None:
            after = lx.SPELLING.get(nxt, nxt).split()[:1] or [""]
            return [number[0]] if after[0] in number[1] or after[0] in lx.PEOPLE else [tok]
        spelt = lx.SPELLING.get(tok)
        if spelt is not None:
            return spelt.split()
        return [self.correct(tok)]
