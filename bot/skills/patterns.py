"""Compile taxonomy phrases into lemma patterns, and match them with gaps.

A phrase such as "walk the dog" becomes: the lemma ``walk``, up to
:data:`~bot.skills.lexicon.MAX_GAP` other words, the lemma ``dog``. Small words
("the", "my", ...) may be left out or swapped. Generic words stand for a whole
class ("help people" finds "help my mum"; "feed my pet" finds "fed the cat");
a language name matches any language.

Why not spaCy's ``Matcher``: it tries every pattern at every token. With the
2,400 patterns the taxonomy gives, it managed about 700-1,000 sentences a
second (measured, bench/skill_finder.py); :class:`GapMatcher` indexes patterns
by their first lemma and checks the others only when all of them occur in the
message, which keeps the finder well above 2,000 a second.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from bot.skills import lexicon as lx

#: The pseudo skill id of phrases that are known not to be skills.
NOT_A_SKILL = "__not_a_skill__"

#: Words a gap may not step over: clause breaks, negations, "i" and "and".
GAP_STOPS = lx.CLAUSE_BREAKS | lx.NEGATIONS | {"i", "and"}


@dataclass(frozen=True)
class Pattern:
    """One compiled phrase: the skill it reveals and its allowed lemmas per word."""

    skill: str
    phrase: str
    tokens: tuple[tuple[str, ...], ...]  # one tuple of allowed lemmas per phrase word

    @property
    def generic(self) -> int:
        """How many words stand for a whole class (fewer is more exact)."""
        return sum(1 for allowed in self.tokens if len(allowed) > 1)

    @property
    def size(self) -> int:
        """How many words the phrase needs (more is more exact)."""
        return len(self.tokens)


def _allowed(lemma: str) -> tuple[str, ...]:
    """The lemmas a phrase word stands for: its class, or just itself."""
    group = lx.GENERIC_WORDS.get(lemma)
    if group is not None:
        return tuple(sorted(group))
    for members in lx.WORD_CLASSES:
        if lemma in members:
            return tuple(sorted(members))
    return (lemma,)


def compile_phrases(
    phrases: Iterable[tuple[str, str]], lemmatize: Callable[[str], tuple[str, ...]]
) -> list[Pattern]:
    """Turn (skill id, phrase) pairs into patterns; ``lemmatize`` gives a phrase's lemmas."""
    patterns: list[Pattern] = []
    seen: set[tuple[str, tuple[tuple[str, ...], ...]]] = set()
    for skill, phrase in phrases:
        lemmas = [lem for lem in lemmatize(phrase) if lem not in lx.OPTIONAL_WORDS]
        lemmas = [lem for lem in lemmas if any(ch.isalnum() for ch in lem)]
        if not lemmas:
            continue
        tokens = tuple(_allowed(lem) for lem in lemmas)
        if (skill, tokens) in seen:
            continue
        seen.add((skill, tokens))
        patterns.append(Pattern(skill, phrase, tokens))
    return patterns


class GapMatcher:
    """Finds patterns in a lemma list, allowing short gaps between their words."""

    def __init__(self, patterns: Iterable[Pattern]) -> None:
        """Index the patterns by every lemma their first word allows."""
        self.patterns: list[Pattern] = list(patterns)
        self._index: dict[str, list[int]] = {}
        self._needs: list[tuple[str, ...]] = []
        self._sets: list[tuple[frozenset[str], ...]] = []
        for number, pattern in enumerate(self.patterns):
            for lemma in pattern.tokens[0]:
                self._index.setdefault(lemma, []).append(number)
            self._needs.append(tuple(a[0] for a in pattern.tokens[1:] if len(a) == 1))
            self._sets.append(tuple(frozenset(a) for a in pattern.tokens))

    def __call__(self, lemmas: Sequence[str], stops: Sequence[bool]) -> list[tuple[int, int, int]]:
        """All (pattern number, start, end) matches; the shortest end for each start.

        ``stops[i]`` is True when word ``i`` may not sit inside a gap.
        """
        present = set(lemmas)
        found: list[tuple[int, int, int]] = []
        for start, lemma in enumerate(lemmas):
            for number in self._index.get(lemma, ()):
                if not all(need in present for need in self._needs[number]):
                    continue
                end = self._extend(self._sets[number], 1, start + 1, lemmas, stops)
                if end is not None:
                    found.append((number, start, end))
        return found

    def _extend(
        self,
        sets: tuple[frozenset[str], ...],
        word: int,
        pos: int,
        lemmas: Sequence[str],
        stops: Sequence[bool],
    ) -> int | None:
        """The end of the shortest match of ``sets[word:]`` starting at ``pos``, or None."""
        if word == len(sets):
            return pos
        last = min(len(lemmas), pos + lx.MAX_GAP + 1)
        for k in range(pos, last):
            if lemmas[k] in sets[word]:
                end = self._extend(sets, word + 1, k + 1, lemmas, stops)
                if end is not None:
                    return end
            if stops[k]:
                return None
        return None
