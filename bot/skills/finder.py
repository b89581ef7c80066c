"""Find skills in what a member says: spaCy's English tokenizer, lookup lemmas, phrases.

How a message is read (docs/skills.md has the reasons):

1. Clean and normalise: control characters out, text-speak and common
   misspellings fixed ("cookin" -> "cooking", "4 my mum" -> "for my mum"),
   lemmas from the spacy-lookups-data English table ("walked" -> "walk").
2. Match every taxonomy phrase (and skill label) on lemmas
   (:class:`~bot.skills.patterns.GapMatcher`); small words may differ and up
   to 3 extra words may sit in between. Where matches overlap the longest wins,
   then the most exact.
3. Split the message into clauses ("but", commas, "and i" ...). In its clause a
   match is dropped when negated ("i dont cook", "i never", "i hate"), or when
   someone else does it ("my mum cooks"); it is a learning wish after "i want
   to", "i would like to", "teach me", "learn to" ...
4. Doing it for another person ("for my mum", "my neighbour's dog") adds the
   looking-after-people skill.

Past habits ("i used to knit") are proposed like any other skill: know-how
stays, and the member always confirms before anything is kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import spacy

from bot.skills import lexicon as lx
from bot.skills.normalise import Normalised, Normaliser, load_english_tables
from bot.skills.patterns import GAP_STOPS, NOT_A_SKILL, GapMatcher, compile_phrases
from bot.skills.taxonomy import Taxonomy
from bot.types import FoundSkill, SkillInfo

#: Categories that are about other people already; doing them "for someone" adds nothing.
PEOPLE_CATEGORIES = frozenset({"caring", "listening", "teaching", "community", "humour"})

_POSSESSIVES = frozenset({"my", "the", "our", "his", "her", "their", "your", "a", "an"})
_SELF = frozenset({"me", "myself", "us", "ourselves", "i"})
#: Verbs where "to someone" means for them ("i read to my niece"); "send to" does not.
_TO_VERBS = frozenset({"read", "sing", "play", "perform", "dance", "tell", "bring", "take"})
_PREPOSITIONS = frozenset({"for", "to", "with", "at", "from", "about", "by", "of", "on", "like"})


@dataclass(frozen=True)
class _Hit:
    """A phrase match in the normalised words: ``[start, end)`` and its skill id."""

    start: int
    end: int
    skill: str


@dataclass
class _Found:
    """A skill found at a word position, before it becomes a FoundSkill."""

    pos: int
    skill: str
    evidence: str
    wish: bool


class SpacySkillFinder:
    """Finds taxonomy skills in free text; build once, then call :meth:`find` freely."""

    def __init__(self, taxonomy: Taxonomy, *, for_others_skill: str = "looking_after_people"):
        """Build the tokenizer, spelling fixes and phrase matcher from ``taxonomy``."""
        self.taxonomy = taxonomy
        self._nlp = spacy.blank("en")
        table, known = load_english_tables()
        vocabulary = {
            word.lower()
            for info in taxonomy
            for text in (*info.phrases, info.label)
            for word in text.split()
        }
        vocabulary |= lx.WISH_WORDS | lx.MODAL_WISH_VERBS | {"volunteer", "listen", "neighbour"}
        self._norm = Normaliser(self._nlp.make_doc, table, vocabulary, known)
        pairs: list[tuple[str, str]] = []
        for info in taxonomy:
            labels = () if info.label.startswith("being ") else (info.label,)
            pairs.extend((info.id, phrase) for phrase in (*info.phrases, *labels))
        pairs.extend((NOT_A_SKILL, phrase) for phrase in lx.NOT_SKILLS)
        self._matcher = GapMatcher(compile_phrases(pairs, lambda p: self._norm.normalise(p).lemmas))
        self._order = {sid: i for i, sid in enumerate(taxonomy.skills)}
        self._order[NOT_A_SKILL] = -1
        self._for_others = self._pick_for_others(for_others_skill)
        #: How many phrase patterns the matcher holds.
        self.pattern_count = len(self._matcher.patterns)

    def _pick_for_others(self, wanted: str) -> SkillInfo | None:
        """The caring skill added when something is done for someone else."""
        info = self.taxonomy.get(wanted)
        if info is not None:
            return info
        caring = self.taxonomy.in_category("caring")
        return caring[0] if caring else None

    # ------------------------------------------------------------------ public

    def find(self, text: str) -> list[FoundSkill]:
        """Return the skills found in ``text``, in order of appearance, no duplicates."""
        if not isinstance(text, str) or not text.strip():
            return []
        norm = self._norm.normalise(text)
        if not norm.words:
            return []
        hits = self._hits(norm)
        if not hits:
            return []
        clauses = _clauses(norm.words)
        found = self._judge(norm, hits, clauses)
        return self._to_skills(found)

    # ------------------------------------------------------------------ steps

    def _hits(self, norm: Normalised) -> list[_Hit]:
        """All phrase matches, overlaps settled: the longest span wins, then the most exact."""
        words = norm.words
        stops = [w in GAP_STOPS or not any(ch.isalnum() for ch in w) for w in words]
        shortest: dict[tuple[int, int], int] = {}
        for number, start, end in self._matcher(norm.lemmas, stops):
            if words[start] in lx.TEACH_ME and start + 1 < len(words) and words[start + 1] == "me":
                continue  # "teach me", "help me": the member asks, it is not their skill
            key = (number, start)
            if key not in shortest or end < shortest[key]:
                shortest[key] = end
        patterns = self._matcher.patterns

        def rank(item: tuple[tuple[int, int], int]) -> tuple[int, int, int, int, int]:
            """Sort key: longer span, fewer class words, more words, earlier, file order."""
            (number, start), end = item
            pattern = patterns[number]
            order = self._order.get(pattern.skill, 0)
            return (-pattern.size, end - start, pattern.generic, start, order)

        kept: list[_Hit] = []
        reach: dict[int, int] = {}  # start -> furthest end of a kept span starting there
        longest = 0
        spans: list[tuple[int, int]] = []
        for (number, start), end in sorted(shortest.items(), key=rank):
            longest = max(longest, end - start)
            if any(reach.get(k, -1) >= end for k in range(start - longest, start + 1)):
                continue  # inside a longer (or more exact) match already kept
            gapped = end - start > patterns[number].size
            if gapped and any(start < e and end > b for b, e in spans):
                continue  # a loose match across words another skill already claimed
            reach[start] = max(reach.get(start, -1), end)
            spans.append((start, end))
            kept.append(_Hit(start, end, patterns[number].skill))
        return sorted((h for h in kept if h.skill != NOT_A_SKILL), key=lambda h: h.start)

    def _judge(self, norm: Normalised, hits: list[_Hit], clauses: _Clauses) -> list[_Found]:
        """Apply negation, someone-else, wishes and for-others to each match."""
        words, lemmas = norm.words, norm.lemmas
        marks = _Marks.of(words, lemmas, clauses)
        found: list[_Found] = []
        negated_in: dict[int, list[_Hit]] = {}
        matched_clauses: set[int] = set()
        for hit in hits:
            clause = clauses.ids[hit.start]
            first = clauses.starts[hit.start]
            matched_clauses.add(clause)
            if marks.count(marks.negations, first, hit.end):
                negated_in.setdefault(clause, []).append(hit)
                continue
            if _someone_else(marks, first, hit):
                continue
            wish = marks.first_wish.get(clause, hit.start) < hit.start
            found.append(_Found(hit.start, hit.skill, norm.quote(hit.start, hit.end - 1), wish))
            if not wish:
                extra = self._for_others_at(norm, hit, clauses)
                if extra is not None:
                    found.append(extra)
        for clause in sorted(marks.first_wish):
            if clause in matched_clauses:
                continue
            for hit in negated_in.get(clause - 2, []):  # the clause before the break
                quote = norm.quote(hit.start, hit.end - 1)
                found.append(_Found(hit.start, hit.skill, quote, True))
        return found

    def _for_others_at(self, norm: Normalised, hit: _Hit, clauses: _Clauses) -> _Found | None:
        """The looking-after skill when the match is done for another person."""
        info = self.taxonomy.get(hit.skill)
        if self._for_others is None or info is None or info.category in PEOPLE_CATEGORIES:
            return None
        span = _beneficiary(norm.words, norm.lemmas, hit, clauses)
        if span is None:
            return None
        first, last = span
        return _Found(first, self._for_others.id, norm.quote(first, last), False)

    def _to_skills(self, found: Iterable[_Found]) -> list[FoundSkill]:
        """FoundSkills in order of position, each skill once."""
        out: list[FoundSkill] = []
        seen: set[str] = set()
        for item in sorted(found, key=lambda f: f.pos):
            info = self.taxonomy.get(item.skill)
            if info is None or item.skill in seen:
                continue
            seen.add(item.skill)
            out.append(
                FoundSkill(
                    skill=info.id,
                    label=info.label,
                    category=info.category,
                    emoji=info.emoji,
                    evidence=item.evidence.strip(),
                    learning_wish=item.wish,
                )
            )
        return out


# ---------------------------------------------------------------------- clause helpers


def _is_break(prev: str, word: str, nxt: str) -> bool:
    """Whether ``word`` ends a clause (punctuation, "but", "and i" ...)."""
    if word in lx.CLAUSE_BREAKS:
        return True
    if word in ("and", "then", "plus") and nxt in lx.SUBJECT_WORDS:
        return prev not in ("me", "i")  # "me and my mum bake": one subject
    return bool(word) and all(ch in lx.CLAUSE_PUNCT for ch in word)


@dataclass(frozen=True)
class _Clauses:
    """Clause numbers per word and the first word index of each word's clause."""

    ids: tuple[int, ...]
    starts: tuple[int, ...]


def _clauses(words: tuple[str, ...]) -> _Clauses:
    """Split into clauses; a break word is a clause of its own."""
    ids: list[int] = []
    starts: list[int] = []
    clause, start = 0, 0
    for i, word in enumerate(words):
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if _is_break(words[i - 1] if i else "", word, nxt):
            ids.append(clause + 1)
            starts.append(i)
            clause, start = clause + 2, i + 1
        else:
            ids.append(clause)
            starts.append(start)
    return _Clauses(tuple(ids), tuple(starts))


def _live_negation(words: tuple[str, ...], j: int) -> bool:
    """Whether word ``j`` negates what follows ("not", "never", "no good", "hate")."""
    if words[j] not in lx.NEGATIONS:
        return False
    nxt = words[j + 1] if j + 1 < len(words) else ""
    if nxt in lx.NEGATION_UNDO:
        return False  # "do not mind", "can not stop"
    return not (words[j] == "no" and (nxt in lx.FIRST_PERSON or nxt in lx.OPENERS))


def _wish_cue(words: tuple[str, ...], first: int, j: int) -> bool:
    """Whether word ``j`` starts a learning wish said by the member."""
    word = words[j]
    if word in lx.WISH_WORDS:
        return _said_by_member(words, first, j)
    if word in lx.MODAL_WISH_VERBS and j > first and words[j - 1] in lx.MODAL_WISH:
        return _said_by_member(words, first, j - 1)
    return word in lx.TEACH_ME and j + 1 < len(words) and words[j + 1] == "me"


@dataclass(frozen=True)
class _Marks:
    """Running counts of words that matter, so each rule is one subtraction per match."""

    negations: tuple[int, ...]  # live negations in words[0:i]
    members: tuple[int, ...]  # "i", "we", "me" ... in words[0:i]
    others: tuple[int, ...]  # another person as subject in words[0:i]
    first_wish: dict[int, int]  # clause -> position of its first wish cue

    @staticmethod
    def count(running: tuple[int, ...], start: int, end: int) -> int:
        """How many marked words lie in ``words[start:end]``."""
        return running[end] - running[start]

    @classmethod
    def of(cls, words: tuple[str, ...], lemmas: tuple[str, ...], clauses: _Clauses) -> _Marks:
        """Mark every word once."""
        negations, members, others = [0], [0], [0]
        first_wish: dict[int, int] = {}
        for j, word in enumerate(words):
            first = clauses.starts[j]
            prev = words[j - 1] if j > first else ""
            other = word in lx.OTHER_SUBJECTS or (
                lemmas[j] in lx.PEOPLE and prev not in _PREPOSITIONS
            )
            negations.append(negations[-1] + _live_negation(words, j))
            members.append(members[-1] + (word in lx.FIRST_PERSON))
            others.append(others[-1] + other)
            if clauses.ids[j] not in first_wish and _wish_cue(words, first, j):
                first_wish[clauses.ids[j]] = j
        return cls(tuple(negations), tuple(members), tuple(others), first_wish)


def _someone_else(marks: _Marks, first: int, hit: _Hit) -> bool:
    """Whether another person, not the member, does it ("my mum cooks my tea")."""
    if marks.count(marks.members, hit.start, hit.end):
        return False  # "people tell me their problems": the member is in the phrase
    if marks.count(marks.members, first, hit.start):
        return False
    return marks.count(marks.others, first, hit.start) > 0


def _said_by_member(words: tuple[str, ...], first: int, j: int) -> bool:
    """Whether word ``j`` belongs to "i ..." or opens the clause (a fragment answer)."""
    k = j - 1
    while k >= max(first, j - 8):
        if words[k] in ("i", "we"):
            return True
        if words[k] not in lx.WISH_FILLERS and words[k] not in lx.OPENERS:
            return False
        k -= 1
    return words[j] in lx.FRAGMENT_WISH_START or words[j] in lx.MODAL_WISH_VERBS


def _is_person(words: tuple[str, ...], lemmas: tuple[str, ...], j: int) -> bool:
    """Whether word ``j`` names another person (not the member)."""
    if words[j] in _SELF:
        return False
    return lemmas[j] in lx.PEOPLE or words[j] in lx.OTHER_PRONOUNS


def _with_owner(words: tuple[str, ...], j: int, floor: int) -> int:
    """Step back over "my"/"the" before a person word, not below ``floor``."""
    return j - 1 if j - 1 >= floor and words[j - 1] in _POSSESSIVES else j


def _beneficiary(
    words: tuple[str, ...], lemmas: tuple[str, ...], hit: _Hit, clauses: _Clauses
) -> tuple[int, int] | None:
    """The words naming who the skill is used for, as (first, last), or None."""
    for j in range(hit.start, hit.end):
        if _is_person(words, lemmas, j) and words[j] != "us":
            return _with_owner(words, j, hit.start), j
    before = hit.start - 1
    if before >= 0 and words[before] == "'s":
        before -= 1
    owned = before >= 1 and lemmas[before] in lx.PEOPLE and words[before - 1] in _POSSESSIVES
    if owned and (words[before].endswith("s") or words[before + 1] == "'s"):
        return before - 1, before
    clause = clauses.ids[hit.start]
    to_counts = lemmas[hit.start] in _TO_VERBS
    for j in range(hit.start + 1, min(len(words), hit.end + 8)):
        if clauses.ids[j] != clause:
            break
        is_for = words[j] == "for"
        if not is_for and not (words[j] == "to" and to_counts and j <= hit.end + 1):
            continue
        for k in range(j + 1, min(j + 1 + (3 if is_for else 2), len(words))):
            if clauses.ids[k] != clause:
                break
            if _is_person(words, lemmas, k) and words[k] != "us":
                return j, k
    return None
