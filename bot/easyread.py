"""The easy-read checker: every member-facing message must pass these rules.

Pure functions over text, no engine import. ``check_text`` checks one message;
``check_dialogues`` checks every ``dialogues/<lang>/*.yml`` message file and the
skill labels in ``dialogues/skills.yml``; ``run_check`` prints the findings for
``skillspark dialogues check``.

The reading grade is Flesch-Kincaid, computed here with a small syllable
counter: textstat 0.7.13 needs the NLTK ``cmudict`` corpus and downloads it on
first use, which would make a content check depend on the network and give
different grades on different machines.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# ------------------------------------------------------------------ rule ids
RULE_SENTENCE_MAX = "sentence-over-20-words"
RULE_SENTENCE_AVERAGE = "sentences-average-over-15-words"
RULE_CONTRACTION = "contraction"
RULE_JARGON = "jargon"
RULE_INITIALS = "initials"
RULE_METAPHOR = "metaphor"
RULE_NUMBER_WORD = "number-as-word"
RULE_EMOJI = "emoji-missing"
RULE_GRADE = "reading-grade"
RULE_LENGTH = "message-too-long"
RULE_NEGATIVE = "say-what-to-do"
RULE_DOUBLE_NEGATIVE = "double-negative"
RULE_PLACEHOLDER = "unknown-placeholder"
RULE_EMPTY = "empty-message"
RULE_FILE = "file-problem"
# House style (on for check_dialogues; see HOUSE_RULES and check_house_style).
RULE_PICTURE_FIRST = "picture-not-first"
RULE_PICTURES_SCATTERED = "pictures-scattered"
RULE_CHILDISH_PRAISE = "childish-praise"
RULE_EXCLAMATIONS = "too-many-exclamations"
RULE_QUESTIONS = "more-than-1-question"

#: Every rule id the checker can report.
RULES: tuple[str, ...] = (
    RULE_SENTENCE_MAX,
    RULE_SENTENCE_AVERAGE,
    RULE_CONTRACTION,
    RULE_JARGON,
    RULE_INITIALS,
    RULE_METAPHOR,
    RULE_NUMBER_WORD,
    RULE_EMOJI,
    RULE_GRADE,
    RULE_LENGTH,
    RULE_NEGATIVE,
    RULE_DOUBLE_NEGATIVE,
    RULE_PLACEHOLDER,
    RULE_EMPTY,
    RULE_FILE,
    RULE_PICTURE_FIRST,
    RULE_PICTURES_SCATTERED,
    RULE_CHILDISH_PRAISE,
    RULE_EXCLAMATIONS,
    RULE_QUESTIONS,
)

#: The house-style rules: one picture at the start, adult praise, 1 "!" and 1 "?" at most.
HOUSE_RULES: tuple[str, ...] = (
    RULE_PICTURE_FIRST,
    RULE_PICTURES_SCATTERED,
    RULE_CHILDISH_PRAISE,
    RULE_EXCLAMATIONS,
    RULE_QUESTIONS,
)

# ------------------------------------------------------------------ limits
SENTENCE_SOFT_MAX = 15
SENTENCE_HARD_MAX = 20
GRADE_MAX = 5.5
GRADE_MIN_WORDS = 8  # the formula is unstable on very short messages
MESSAGE_MAX_CHARS = 400  # about a phone screen of sentences
#: A list (every line after the first starts with a picture, each line short) is
#: measured in lines instead: a phone screen shows about 17 short lines.
LIST_MAX_LINES = 17
LIST_LINE_MAX_CHARS = 45

#: Placeholders the engine fills; anything else in braces is a mistake.
ALLOWED_PLACEHOLDERS: tuple[str, ...] = (
    "name",
    "label",
    "emoji",
    "topic",
    "category",
    "staff",
    "count",
    "number",  # a question's number in its topic
    "skills",  # several skill labels, "A, B and C"
    "link",  # a staff desk sign-in link (staff only)
    "kept_for",  # how long typed words are kept: "2 years" (SKILLSPARK_RETENTION_MONTHS)
)

#: Messages that may say "do not" / "never" as an instruction (safety text).
NEGATIVE_ALLOWED_KEYS: frozenset[str] = frozenset({"safety.distress"})

#: Words a member types to ask for something (bot/engine.py COMMAND_WORDS, Telegram
#: commands): named as they are typed, never reported as jargon ("my data").
COMMAND_PHRASES: tuple[str, ...] = ("delete my data", "my data", "/mydata")

#: Capital-letter words members know and use; never reported as initials.
INITIALS_ALLOWED: frozenset[str] = frozenset({"OK", "TV", "I"})

#: Words that are jargon, office talk or app talk, with an everyday word to use.
JARGON: dict[str, str] = {
    "utilise": "use",
    "utilize": "use",
    "facilitate": "help",
    "commence": "start",
    "regarding": "about",
    "leverage": "use",
    "obtain": "get",
    "prior": "before",
    "subsequently": "then",
    "approximately": "about",
    "terminate": "stop or end",
    "initiate": "start",
    "implement": "do",
    "functionality": "what it does",
    "optimise": "make better",
    "optimize": "make better",
    "interface": "screen",
    "submit": "send",
    "via": "by or through",
    "whilst": "while",
    "hence": "so",
    "thus": "so",
    "aforementioned": "this",
    "endeavour": "try",
    "assistance": "help",
    "consent": "say it is OK",
    "data": "your answers",
    "profile": "your list of skills",
    "username": "name",
    "login": "start",
    "proceed": "go on",
    "navigate": "go",
    "eligible": "can",
    "assessment": "a talk about what you need",
    "sufficient": "enough",
    "additional": "more",
    "require": "need",
    "notify": "tell",
    "modify": "change",
    "input": "answer",
}

#: Abbreviations written with dots or as short forms (always reported).
ABBREVIATIONS: tuple[str, ...] = ("e.g.", "i.e.", "etc", "a.m.", "p.m.", "approx", "info", "pls")

#: Common idioms members may read literally.
METAPHORS: tuple[str, ...] = (
    "piece of cake",
    "over the moon",
    "break the ice",
    "under the weather",
    "feeling blue",
    "feel blue",
    "feeling down",
    "feel down",
    "down in the dumps",
    "on cloud nine",
    "hit the road",
    "on the same page",
    "in a nutshell",
    "get the ball rolling",
    "the ball is in your court",
    "bite the bullet",
    "cost an arm and a leg",
    "hit the nail on the head",
    "let the cat out of the bag",
    "raining cats and dogs",
    "spill the beans",
    "heart of gold",
    "in a jiffy",
    "hang in there",
    "hold your horses",
    "breath of fresh air",
    "tip of the iceberg",
    "once in a blue moon",
    "sleep on it",
    "pull your socks up",
    "all ears",
    "my cup of tea",
    "your cup of tea",
    "light at the end of the tunnel",
    "pat on the back",
    "pat yourself on the back",
    "hands down",
    "up in the air",
    "on the ball",
    "break a leg",
    "top of the world",
    "green fingers",
    "green thumb",
    "gift of the gab",
    "keep an eye on",
    "a shoulder to cry on",
    "over the top",
    "walking on air",
    "the icing on the cake",
    "head, hands and heart",
)

#: Praise that speaks to an adult like a child (praise the doing instead).
CHILDISH_PRAISE: tuple[str, ...] = (
    "well done",
    "good job",
    "great job",
    "clever",
    "good girl",
    "good boy",
    "you did it",
    "great work",
    "good work",
    "nice work",
    "good effort",
    "great effort",
    "good try",
    "keep it up",
    "keep up the good work",
    "proud of you",
    "gold star",
    "superstar",
    "you are a star",
    "brilliant",
    "amazing",
    "fantastic",
    "awesome",
)

NUMBER_WORDS: tuple[str, ...] = (
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
    "eighteen", "nineteen", "twenty",
)  # fmt: skip

#: Words before "one" that make it a pronoun ("the one we are on"), not a number.
_ONE_AS_PRONOUN_AFTER: frozenset[str] = frozenset(
    {"the", "this", "that", "which", "each", "every", "no", "any", "a", "another",
     "last", "next", "new", "old", "other", "right", "wrong", "same", "first"}
)  # fmt: skip

# ------------------------------------------------------------------ patterns
_APOSTROPHE = "['’‘`]"
_CONTRACTIONS = re.compile(
    rf"\b[a-z]+n{_APOSTROPHE}t\b"
    rf"|\b[a-z]+{_APOSTROPHE}(?:m|re|ve|ll|d)\b"
    rf"|\b(?:it|that|what|there|here|let|he|she|who|where|how|when|why|everyone|"
    rf"everything|nothing|nobody|somebody){_APOSTROPHE}s\b"
    r"|\b(?:gonna|wanna|gotta|dunno|gimme|lemme|innit)\b",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)*")
_CAPS = re.compile(r"\b[A-Z]{2,}s?\b")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_NEGATIVE_START = re.compile(
    rf"^(?:please\s+)?(?:do\s+not|don{_APOSTROPHE}t|never)\b", re.IGNORECASE
)
_NEGATIVE_ANYWHERE = re.compile(
    rf"\byou\s+(?:must|should)\s+(?:not|never)\b"
    rf"|\byou\s+(?:mustn|shouldn){_APOSTROPHE}t\b"
    r"|\btry\s+not\s+to\b",
    re.IGNORECASE,
)
# Negations in a sentence; two make a double negative (COGA: avoid them). A "No," that
# answers (at the start of a sentence) is not one of them.
_NEGATION = re.compile(
    r"\b(?:not|no|never|nothing|nobody|none|neither|nor|cannot|without|nowhere)\b", re.IGNORECASE
)
_ANSWERING_NO = re.compile(r"^\W*no\b[,.!]?", re.IGNORECASE)
# Pictographs, symbols, dingbats, arrows and shapes used as emoji (▶️ ◀️), keycaps, flags.
_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\u2600-\u27bf\u2300-\u23ff\u2b00-\u2bff"
    "\u2190-\u21ff\u25a0-\u25ff\u203c\u2049\u2139\u24c2\u3030\u303d\u3297\u3299\u20e3]"
)
_VOWEL_GROUPS = re.compile(r"[aeiouy]+")
_CONSONANT_LE = re.compile(r"[^aeiouy]les?$")
_HISSING_ES = ("ses", "ces", "zes", "ges", "xes", "ches", "shes")


@dataclass(frozen=True)
class Finding:
    """One broken rule: which message, which rule (a stable id), and what is wrong."""

    key: str
    rule: str
    message: str


# ------------------------------------------------------------------ helpers
def strip_for_reading(text: str) -> str:
    """The text as read aloud for counting: placeholders become one word, emoji go."""
    text = _PLACEHOLDER.sub("Sam", text)
    text = _EMOJI.sub(" ", text)
    return text.replace("\ufe0f", "").replace("\u200d", "")


# A whole picture: one pictograph with its joiners, skin tones and variation selectors.
_PICTURE = re.compile(
    "[0-9#*]\ufe0f?\u20e3|" + _EMOJI.pattern + "[\ufe0f\U0001f3fb-\U0001f3ff\u20e3]*"
    "(?:\u200d" + _EMOJI.pattern + "[\ufe0f\U0001f3fb-\U0001f3ff]*)*"
)


def pictures(text: str) -> list[str]:
    """The pictures (emoji) in ``text``, in order, each as one whole picture."""
    return _PICTURE.findall(text)


def without_picture(text: str) -> str:
    """The text without the picture it starts with, if any."""
    first = next(iter(pictures(text)), "")
    stripped = text.lstrip()
    return stripped[len(first) :].lstrip() if first and stripped.startswith(first) else text


def fewer_pictures(text: str) -> str:
    """The text with only its first picture kept (for members who use a screen reader).

    Every later picture goes, with the space it leaves; words are never touched.
    """
    found = False

    def keep_first(match: re.Match[str]) -> str:
        nonlocal found
        if found:
            return ""
        found = True
        return match.group(0)

    kept = _PICTURE.sub(keep_first, text)
    kept = re.sub(r"[ \t]{2,}", " ", kept)
    return "\n".join(line.strip() for line in kept.split("\n"))


def words(text: str) -> list[str]:
    """The words of a text (placeholders count as one word, emoji as none)."""
    return _WORD.findall(strip_for_reading(text))


def sentences(text: str) -> list[str]:
    """Split a message into sentences (line breaks end a sentence too); skip empty ones."""
    parts = _SENTENCE_END.split(strip_for_reading(text))
    return [p.strip() for p in parts if _WORD.search(p)]


def syllables(word: str) -> int:
    """Estimate the syllables of one English word (digits count as 1).

    Vowel groups, less a silent final "e" or "-es" / "-ed"; "-ing" and a
    consonant before "-le" are their own syllable.
    """
    w = word.lower().replace("’", "'").split("'")[0]
    if not w.isalpha() or len(w) <= 3:
        return 1
    extra = 0
    if w.endswith("ing") and len(w) > 4:
        w, extra = w[:-3], 1
    elif w.endswith("ely"):
        w = w[:-3] + "ly"
    if extra or w.endswith(("ted", "ded")) or _CONSONANT_LE.search(w):
        pass
    elif w.endswith(("es", "ed")) and not w.endswith(_HISSING_ES):
        w = w[:-2]
    elif w.endswith("e") and not w.endswith(("ee", "ye")):
        w = w[:-1]
    return max(1, len(_VOWEL_GROUPS.findall(w)) + extra)


def reading_grade(text: str) -> float:
    """The Flesch-Kincaid grade of a text (placeholders and emoji ignored)."""
    sents = sentences(text)
    all_words = [w for s in sents for w in _WORD.findall(s)]
    if not sents or not all_words:
        return 0.0
    syl = sum(syllables(w) for w in all_words)
    return 0.39 * len(all_words) / len(sents) + 11.8 * syl / len(all_words) - 15.59


def _placeholder_names(text: str) -> tuple[list[str], bool]:
    """The placeholder names in a template, and whether the braces are well formed."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError:
        return [], False
    return names, True


def _phrase_in(phrase: str, lowered: str) -> bool:
    """True when ``phrase`` appears in ``lowered`` as whole words."""
    return re.search(r"(?<![a-z])" + re.escape(phrase) + r"(?![a-z])", lowered) is not None


# ------------------------------------------------------------------ rules
def _check_sentences(key: str, text: str) -> list[Finding]:
    """Sentences: none over 20 words; over 15 only when the average stays at 15 or less."""
    found: list[Finding] = []
    lengths = [(s, len(_WORD.findall(s))) for s in sentences(text)]
    for sentence, count in lengths:
        if count > SENTENCE_HARD_MAX:
            found.append(
                Finding(key, RULE_SENTENCE_MAX, f"{count} words in '{sentence[:60]}...'; split it")
            )
    if lengths and any(count > SENTENCE_SOFT_MAX for _, count in lengths):
        average = sum(count for _, count in lengths) / len(lengths)
        if average > SENTENCE_SOFT_MAX:
            found.append(
                Finding(
                    key,
                    RULE_SENTENCE_AVERAGE,
                    f"sentences average {average:.1f} words (at most {SENTENCE_SOFT_MAX})",
                )
            )
    return found


def _check_words(key: str, text: str) -> list[Finding]:
    """Contractions, jargon, initials, abbreviations and idioms."""
    found: list[Finding] = []
    plain = strip_for_reading(text)
    lowered = plain.lower().replace("’", "'")
    for phrase in COMMAND_PHRASES:
        lowered = re.sub(r"(?<![a-z/])" + re.escape(phrase) + r"(?![a-z])", " ", lowered)
    for match in _CONTRACTIONS.finditer(plain):
        found.append(Finding(key, RULE_CONTRACTION, f"'{match.group(0)}': write the words in full"))
    for word in sorted({w.lower() for w in _WORD.findall(lowered)} & JARGON.keys()):
        found.append(Finding(key, RULE_JARGON, f"'{word}': say '{JARGON[word]}'"))
    for abbreviation in ABBREVIATIONS:
        if _phrase_in(abbreviation, lowered):
            found.append(Finding(key, RULE_JARGON, f"'{abbreviation}': write it in words"))
    for caps in sorted(set(_CAPS.findall(plain))):
        if caps.rstrip("s") not in INITIALS_ALLOWED and caps not in INITIALS_ALLOWED:
            found.append(Finding(key, RULE_INITIALS, f"'{caps}': write it in words"))
    for idiom in METAPHORS:
        if _phrase_in(idiom, lowered):
            found.append(Finding(key, RULE_METAPHOR, f"'{idiom}': say what you mean plainly"))
    return found


def _check_numbers(key: str, text: str) -> list[Finding]:
    """Numbers as digits: 'two cats' fails, 'someone' and 'the one we are on' pass."""
    found: list[Finding] = []
    tokens = [w.lower() for w in _WORD.findall(strip_for_reading(text))]
    for i, token in enumerate(tokens):
        if token not in NUMBER_WORDS:
            continue
        if token == "one" and (
            (i > 0 and tokens[i - 1] in _ONE_AS_PRONOUN_AFTER)
            or (i + 1 < len(tokens) and tokens[i + 1] == "another")
        ):
            continue
        found.append(Finding(key, RULE_NUMBER_WORD, f"'{token}': write the number as digits"))
    return found


def _check_negative(key: str, text: str) -> list[Finding]:
    """Say what to do: an instruction starting 'do not' / 'never' is reported."""
    if key in NEGATIVE_ALLOWED_KEYS:
        return []
    found: list[Finding] = []
    for sentence in sentences(text):
        if _NEGATIVE_START.search(sentence) or _NEGATIVE_ANYWHERE.search(sentence):
            found.append(Finding(key, RULE_NEGATIVE, f"'{sentence[:50]}': say what to do instead"))
    return found


def _check_double_negative(key: str, text: str) -> list[Finding]:
    """One negation a sentence at most: "you cannot not ..." is hard to follow."""
    found: list[Finding] = []
    for sentence in sentences(text):
        negations = _NEGATION.findall(_ANSWERING_NO.sub("", sentence.strip()))
        if len(negations) >= 2:
            said = " ... ".join(n.lower() for n in negations)
            found.append(
                Finding(key, RULE_DOUBLE_NEGATIVE, f"'{sentence[:50]}': {said}; say it positively")
            )
    return found


def _check_placeholders(key: str, text: str) -> list[Finding]:
    """Only the placeholders the engine fills; braces must be balanced."""
    names, ok = _placeholder_names(text)
    if not ok:
        return [Finding(key, RULE_PLACEHOLDER, "the braces { } do not match")]
    return [
        Finding(
            key, RULE_PLACEHOLDER, f"'{{{name}}}' is not one of {', '.join(ALLOWED_PLACEHOLDERS)}"
        )
        for name in names
        if name not in ALLOWED_PLACEHOLDERS
    ]


# The {emoji} placeholder is filled with a picture, so it counts as one.
_PICTURE_OR_SLOT = re.compile(r"\{emoji\}|" + _PICTURE.pattern)


#: A topic title ("🍳 Food and drink") fills {topic}: at the very start it is the picture.
_TOPIC_FIRST = "{topic}"


def _starts_with_topic(text: str) -> bool:
    """True when the message starts with the {topic} slot (a title that begins with a picture)."""
    return text.lstrip().startswith(_TOPIC_FIRST)


def _check_pictures(key: str, text: str) -> list[Finding]:
    """One picture at the start; later pictures only at the start of a list line."""
    found: list[Finding] = []
    if _starts_with_topic(text):
        text = "🏷️" + text.lstrip()[len(_TOPIC_FIRST) :]
    for n, match in enumerate(_PICTURE_OR_SLOT.finditer(text)):
        before = text[: match.start()]
        line_start = before.rfind("\n") + 1
        if n == 0:
            if before.strip():
                found.append(
                    Finding(
                        key,
                        RULE_PICTURE_FIRST,
                        f"'{match.group(0)}' comes after words; put 1 picture at the start",
                    )
                )
        elif text[line_start : match.start()].strip():
            found.append(
                Finding(
                    key,
                    RULE_PICTURES_SCATTERED,
                    f"'{match.group(0)}' is inside a line; keep 1 picture, at the start",
                )
            )
    return found


def is_list(text: str) -> bool:
    """True for a list: 3 or more lines, each after the first starting with a picture."""
    lines = [line.strip() for line in text.strip().split("\n")]
    return len(lines) >= 3 and all(
        (match := _PICTURE_OR_SLOT.match(line)) is not None and match.start() == 0
        for line in lines[1:]
    )


def _check_length(key: str, text: str) -> list[Finding]:
    """A phone screen: 400 characters of sentences, or a list of up to 17 short lines."""
    if not is_list(text):
        if len(text) <= MESSAGE_MAX_CHARS:
            return []
        return [Finding(key, RULE_LENGTH, f"{len(text)} characters (at most {MESSAGE_MAX_CHARS})")]
    lines = text.strip().split("\n")
    found = [
        Finding(key, RULE_LENGTH, f"list line '{line[:30]}...' is over {LIST_LINE_MAX_CHARS}")
        for line in lines
        if len(line.strip()) > LIST_LINE_MAX_CHARS
    ]
    if len(lines) > LIST_MAX_LINES:
        found.append(Finding(key, RULE_LENGTH, f"{len(lines)} lines (at most {LIST_MAX_LINES})"))
    return found


def check_house_style(key: str, text: str) -> list[Finding]:
    """The house-style rules (HOUSE_RULES): pictures, adult praise, "!" and "?"."""
    found = _check_pictures(key, text)
    lowered = strip_for_reading(text).lower().replace("’", "'")
    for phrase in CHILDISH_PRAISE:
        if _phrase_in(phrase, lowered):
            found.append(
                Finding(key, RULE_CHILDISH_PRAISE, f"'{phrase}': say what the person does instead")
            )
    if text.count("!") > 1:
        found.append(Finding(key, RULE_EXCLAMATIONS, f"{text.count('!')} '!' (at most 1)"))
    if text.count("?") > 1:
        found.append(Finding(key, RULE_QUESTIONS, f"{text.count('?')} questions; ask 1 at a time"))
    return found


def check_text(
    key: str, text: str, *, is_button: bool = False, house_style: bool = False
) -> list[Finding]:
    """Check one message against every easy-read rule; buttons skip sentence and grade rules.

    With ``house_style`` the HOUSE_RULES are checked too (``check_dialogues`` does).
    """
    if not text.strip():
        return [Finding(key, RULE_EMPTY, "the message is empty")]
    found: list[Finding] = []
    if house_style:
        found += check_house_style(key, text)
    found += _check_length(key, text)
    if not _EMOJI.search(text) and "{emoji}" not in text and not _starts_with_topic(text):
        found.append(Finding(key, RULE_EMOJI, "add an emoji beside the idea"))
    found += _check_placeholders(key, text)
    found += _check_words(key, text)
    found += _check_numbers(key, text)
    found += _check_negative(key, text)
    found += _check_double_negative(key, text)
    if not is_button:
        found += _check_sentences(key, text)
        if len(words(text)) >= GRADE_MIN_WORDS:
            grade = reading_grade(text)
            if grade > GRADE_MAX:
                found.append(
                    Finding(key, RULE_GRADE, f"reading grade {grade:.1f} (at most {GRADE_MAX})")
                )
    return found


def check_label(key: str, text: str) -> list[Finding]:
    """Check a short label shown inside other messages (a skill or category name)."""
    if not text.strip():
        return [Finding(key, RULE_EMPTY, "the label is empty")]
    return _check_words(key, text) + _check_numbers(key, text) + _check_placeholders(key, text)


# ------------------------------------------------------------------ files
def _load_yaml(path: Path) -> tuple[Any, str | None]:
    """Read one YAML file; return the data or a problem."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")), None
    except (OSError, yaml.YAMLError) as exc:
        return None, f"cannot read YAML ({exc})"


def _check_message_file(path: Path, where: str) -> list[Finding]:
    """Check every message of one flat ``key: text`` file."""
    data, problem = _load_yaml(path)
    if problem:
        return [Finding(where, RULE_FILE, problem)]
    if data is None:
        return []
    if not isinstance(data, dict):
        return [Finding(where, RULE_FILE, "must be a mapping of key: text")]
    found: list[Finding] = []
    for key, value in data.items():
        if not isinstance(value, str):
            found.append(Finding(str(key), RULE_FILE, f"{where}: the message is not text"))
            continue
        found += check_text(
            str(key), value, is_button=str(key).startswith("button."), house_style=True
        )
    return found


def _check_taxonomy(path: Path) -> list[Finding]:
    """Check the category and skill labels members see inside messages."""
    if not path.exists():
        return []
    data, problem = _load_yaml(path)
    if problem or not isinstance(data, dict):
        return [Finding(path.name, RULE_FILE, problem or "must be a mapping")]
    found: list[Finding] = []
    for cid, cat in (data.get("categories") or {}).items():
        if isinstance(cat, dict):
            found += check_label(f"category.{cid}", str(cat.get("label", "")))
            if not _EMOJI.search(str(cat.get("emoji", ""))):
                found.append(Finding(f"category.{cid}", RULE_EMOJI, "the category needs an emoji"))
    for skill in data.get("skills") or []:
        if isinstance(skill, dict):
            sid = f"skill.{skill.get('id', '?')}"
            found += check_label(sid, str(skill.get("label", "")))
            if not _EMOJI.search(str(skill.get("emoji", ""))):
                found.append(Finding(sid, RULE_EMOJI, "the skill needs an emoji"))
    return found


def check_dialogues(dialogues_dir: Path) -> list[Finding]:
    """Check every message in ``dialogues/<lang>/*.yml`` and the labels in ``skills.yml``."""
    found: list[Finding] = []
    for lang_dir in sorted(p for p in dialogues_dir.iterdir() if p.is_dir()):
        if lang_dir.name == "flows":
            continue
        for path in sorted(lang_dir.glob("*.yml")):
            found += _check_message_file(path, f"{lang_dir.name}/{path.name}")
    found += _check_taxonomy(dialogues_dir / "skills.yml")
    return found


def run_check(dialogues_dir: Path) -> int:
    """Print every finding as ``key  rule  message``; return 0 when clean, 1 otherwise."""
    findings = check_dialogues(dialogues_dir)
    for f in findings:
        print(f"{f.key}\t{f.rule}\t{f.message}")
    if findings:
        print(f"easy-read: {len(findings)} finding(s)")
        return 1
    print("easy-read: all messages pass")
    return 0
