"""Pure text helpers: how member text is cleaned, stored and matched.

Nothing here touches the database or the engine; every function is a plain
decision on a string, tested on its own in ``tests/test_conversation_units.py``.
"""

from __future__ import annotations

import re
import unicodedata

#: Words that answer a confidence question when typed.
FEELING_WORDS = {
    "feel_good": ("good", "great", "happy", "brilliant", "proud", "confident", "amazing"),
    "feel_ok": ("ok", "okay", "fine", "alright", "all right", "not bad"),
    "feel_low": ("bad", "sad", "worried", "low", "unsure", "not good", "not great"),
}
#: Picture answers to a confidence question, looked at after the words.
FEELING_EMOJI = (
    ("feel_ok", ("🙂",)),
    ("feel_good", ("😀", "😃", "😊")),
    ("feel_low", ("😟", "😢")),
)
#: Whole-message words that act like commands in any state.
COMMAND_WORDS = {
    "help": "help",
    "repeat": "repeat",
    "again": "repeat",
    "say again": "repeat",
    "back": "back",
    "go back": "back",
    "skip": "skip",
    "next": "skip",
    "pause": "pause",
    "stop": "stop",
    "resume": "resume",
    "carry on": "resume",
    "my skills": "myskills",
    "myskills": "myskills",
    "my data": "mydata",
    "mydata": "mydata",
    "what next": "whatnext",
    "whats next": "whatnext",
    "what now": "whatnext",
    "add a skill": "addskill",
    "forget me": "forget",
    "delete my answers": "forget",
    "delete my data": "forget",
    "ask staff": "askstaff",
    "ask a person": "askstaff",
    "talk to a person": "askstaff",
    "settings": "settings",
    "hear it": "hear",
    "read to me": "read_on",
    "read it to me": "read_on",
    "stop reading": "read_off",
    "no reading": "read_off",
    "fewer pictures": "pictures_fewer",
    "less pictures": "pictures_fewer",
    "more pictures": "pictures_more",
}
#: How a member starts telling a skill in their own words ("I can also make cakes").
#: Longest first: "i can also" before "i can".
OWN_SKILL_WORDS = ("i can also", "i am good at", "i am also good at", "i m good at", "i can")
_NAME_PREFIX = re.compile(
    r"^(?:hi|hello|hiya)?[\s,!.]*(?:my name is|my names|my name's|name is|i am|i'm|im|"
    r"it is|it's|its|call me|this is|they call me|me is|me)\s+",
    re.IGNORECASE,
)
_WORDISH = re.compile(r"[^\w\s'-]", re.UNICODE)


def clean_text(raw: str) -> str:
    """Normalise member text for understanding: NFC, no control characters, trimmed."""
    text = unicodedata.normalize("NFC", raw)
    text = "".join(ch if ch in "\n\t" or unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return " ".join(text.split())


def storable(raw: str) -> str:
    """Member text as stored: verbatim except NUL, which no database keeps."""
    return raw.replace("\x00", "\ufffd")


def plain_words(text: str) -> str:
    """Lower-case words only (emoji and punctuation removed), for exact matching."""
    return " ".join(_WORDISH.sub(" ", text.casefold()).split())


def extract_name(text: str) -> str | None:
    """A first name from what the member typed ("my name is sam" -> "Sam"), if any."""
    cleaned = _NAME_PREFIX.sub("", clean_text(text)).strip(" .,!?:;\"'")
    words = [w for w in cleaned.split() if any(ch.isalpha() for ch in w)]
    if not words:
        return None
    name = " ".join(words[:2])
    name = "".join(ch for ch in name if ch.isalpha() or ch in " '-")[:40].strip()
    if not name:
        return None
    if name == name.lower():
        name = " ".join(part[:1].upper() + part[1:] for part in name.split())
    return name


def feeling_words(text: str) -> str | None:
    """A confidence rating from typed words or a face ("good", "worried", 🙂), if any.

    Low words win over good ones ("not good" is low), good over OK.
    """
    words = f" {plain_words(text)} "
    for choice in ("feel_low", "feel_good", "feel_ok"):
        if any(f" {w} " in words for w in FEELING_WORDS[choice]):
            return choice
    for choice, faces in FEELING_EMOJI:
        if any(face in text for face in faces):
            return choice
    return None


def own_skill_words(text: str) -> str | None:
    """What the member says they can do, when they start with "I can" and the like."""
    words = plain_words(text)
    for start in sorted(OWN_SKILL_WORDS, key=len, reverse=True):
        if words.startswith(start + " "):
            rest = words[len(start) :].strip()
            return rest or None
    return None


def skills_words(labels: list[str]) -> str:
    """Skill labels as one phrase: "A", "A and B", "A, B and C"."""
    if len(labels) <= 1:
        return "".join(labels)
    return f"{', '.join(labels[:-1])} and {labels[-1]}"


#: Words of a topic title that say nothing about the topic ("My home", "People I help").
TITLE_FILLER = frozenset(
    {"and", "i", "my", "me", "for", "what", "where", "things", "would", "like"}
)


def title_words(title: str) -> set[str]:
    """The words of a topic title that name it, without a plural "s"."""
    return {w.removesuffix("s") for w in plain_words(title).split() if w not in TITLE_FILLER}


def title_matches(typed: str, title: str) -> bool:
    """True when typed words name a topic: all of them are words of its title ("food")."""
    typed_words = title_words(typed)
    return bool(typed_words) and typed_words <= title_words(title)
