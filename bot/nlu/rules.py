"""Rule-based understanding: the always-available fallback when Rasa is away.

Short answers are looked up whole ("yeh", "nah", "dunno", "👍"); longer messages
go through a few ordered phrase rules; free text about something the member
does becomes ``tell_activity``. Anything else is ``nlu_fallback`` with a low
confidence so the engine asks again gently. The safety net always runs first.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.nlu.safety import detect_distress
from bot.types import Entity, NluResult

__all__ = ["RuleUnderstanding", "parse_rules"]

#: Confidences the rules report (honest: a whole-message match is surer).
EXACT = 0.95
PHRASE = 0.85
LOOSE = 0.75
ACTIVITY = 0.7
FALLBACK = 0.3

# fmt: off
_SHORT_ANSWERS: dict[str, tuple[str, ...]] = {
    "affirm": (
        "yes", "yeh", "yeah", "yea", "ya", "yah", "yep", "yup", "yas", "ye", "y", "aye",
        "ok", "okay", "okey", "oki", "okie", "k", "kk", "sure", "of course", "ofc",
        "definitely", "deffo", "defo", "def", "correct", "right", "true", "that is right",
        "that is me", "that is true", "yes that is me", "yes i do", "yes i can", "yes i did",
        "i do", "i can", "i did", "i have", "i am", "uh huh", "mhm", "sounds good", "go on",
        "alright", "alrite", "fine", "cool", "indeed", "absolutely", "totally", "a bit",
        "a little", "a little bit", "sometimes", "kind of", "sort of", "kinda", "sorta",
        "yes please", "ok then", "okay then", "why not", "for sure", "you bet", "yessir",
        "👍", "✅", "👌", "🙂", "😀", "😊", "😃", "☑", "✔", "🆗", "💯",
    ),
    "deny": (
        "no", "nah", "nope", "naw", "na", "n", "nop", "nay", "no thanks", "no thank you",
        "not really", "not me", "never", "no way", "i do not", "i can not", "i did not",
        "i have not", "i am not", "not at all", "nothing", "none", "no i do not",
        "no i can not", "that is not me", "not true", "wrong", "no never", "nah not really",
        "not for me", "no not really", "no chance", "👎", "❌", "🙅", "✖", "⛔",
    ),
    "unsure": (
        "dunno", "i dunno", "do not know", "i do not know", "idk", "not sure", "i am not sure",
        "not sure really", "maybe", "perhaps", "possibly", "hm", "hmm", "um", "umm", "erm",
        "er", "uh",
        "no idea", "no clue", "i forget", "i can not remember", "can not remember",
        "do not remember", "i do not remember", "who knows", "i think so", "might do",
        "maybe not", "not really sure", "unsure", "hard to say", "depends", "it depends",
        "i am unsure", "dont no", "i dont no", "🤷", "🤔", "😕",
    ),
    "skip": (
        "skip", "pass", "next", "next one", "next question", "skip it", "skip this",
        "skip that", "skip this one", "move on", "something else", "another one",
        "another question", "rather not say", "i would rather not", "i would rather not say",
        "miss this one", "no comment", "pass please", "skip please", "⏭", "⏩", "➡",
    ),
    # the "📚 I want to learn" button, typed (no activity: the question says what)
    "want_to_learn": (
        "learn", "learn it", "learn this", "learn that", "want to learn", "i want to learn",
        "i want to learn it", "i want to learn this", "i would like to learn",
        "i would love to learn", "i would like to learn it", "i would like to learn this",
        "i want to try", "i would like to try", "teach me", "teach me please",
        "i want to know how", "id like to learn", "id love to learn", "id like to try", "📚",
    ),
    "stop": (
        "stop", "quit", "exit", "end", "cancel", "leave me alone", "stop it", "stop now",
        "enough", "that is enough", "finish", "i want to stop", "i want to finish",
        "pause", "no more", "no more questions", "unsubscribe", "go away", "stop talking",
        "shut up", "i am done", "done", "stop please", "please stop", "stop asking",
        "🛑", "✋", "🚫",
    ),
    "help": (
        "help", "help me", "help please", "please help", "what do i do", "what do i do now",
        "how does this work", "i do not understand", "do not understand", "confused",
        "i am confused", "what", "huh", "eh", "?", "what does that mean", "say again",
        "repeat", "again", "can you explain", "i need help", "instructions", "what now",
        "i am lost", "lost", "what is this", "how do i answer", "❓", "❔", "🆘",
    ),
    "greet": (
        "hi", "hello", "hey", "hiya", "heya", "hey there", "yo", "good morning", "morning",
        "good afternoon", "afternoon", "good evening", "evening", "howdy", "hi there",
        "hello there", "hullo", "helo", "hellow", "hallo", "sup", "wassup", "what is up",
        "hi bot", "hello bot", "hey hey", "alright mate", "hi mate", "hello mate",
        "how are you", "hi how are you", "start", "👋", "🙋",
    ),
    "goodbye": (
        "bye", "bye bye", "goodbye", "good bye", "see you", "see ya", "cya", "later",
        "laters", "see you later", "ttyl", "night", "good night", "goodnight", "nite",
        "night night", "gn", "ta ra", "tara", "cheerio", "bye for now", "i have to go",
        "got to go", "gtg", "g2g", "i am going now", "i am off", "speak soon",
        "talk later", "see you soon", "ttfn", "💤", "😴",
    ),
    "thanks": (
        "thanks", "thank you", "thankyou", "thx", "thnx", "thnks", "ty", "cheers", "ta",
        "thanks a lot", "many thanks", "thank you so much", "thanks so much", "tank you",
        "fanks", "thanx", "tanks", "nice one", "lovely thank you", "thanks mate",
        "cheers mate", "ta mate", "thank you very much", "🙏", "❤", "💖",
    ),
    "bot_challenge": (
        "are you a bot", "are you a robot", "are you human", "are you real",
        "are you a real person", "is this a person", "is this a robot", "who are you",
        "what are you", "am i talking to a computer", "are you a computer", "🤖",
    ),
}

# fmt: on

_LOOKUP: dict[str, str] = {
    phrase: intent for intent, phrases in _SHORT_ANSWERS.items() for phrase in phrases
}

#: Spelling and text-speak fixes for whole words.
# fmt: off
_FIXES: dict[str, str] = {
    "dont": "do not", "don't": "do not", "dnt": "do not", "doesnt": "does not",
    "didnt": "did not", "cant": "can not", "cannot": "can not", "carnt": "can not",
    "wont": "will not", "im": "i am", "ive": "i have", "isnt": "is not",
    "u": "you", "r": "are", "ur": "your", "wanna": "want to", "wana": "want to",
    "gonna": "going to", "2": "to", "luv": "love", "pls": "please", "plz": "please",
    "thats": "that is", "whats": "what is", "wats": "what is", "wot": "what", "wat": "what",
    "hows": "how is", "iam": "i am", "nt": "not",
    "okk": "ok", "yess": "yes", "yesh": "yes", "yeap": "yep", "noo": "no", "nahh": "nah",
    "thnk": "thank", "tnx": "thanks", "rly": "really", "relly": "really",
    "shure": "sure", "shur": "sure", "sur": "sure", "mayb": "maybe", "mabye": "maybe",
    "mebbe": "maybe", "maby": "maybe", "nxt": "next", "hlp": "help", "halp": "help",
    "helpp": "help", "stp": "stop", "byee": "bye", "byeee": "bye", "hii": "hi",
    "cookin": "cooking", "learnt": "learn", "lern": "learn", "larn": "learn",
}
# fmt: on

_QUOTES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'"})
_SKIN_TONES = re.compile("[\U0001f3fb-\U0001f3ff\ufe0f\u200d]")
_REPEATS = re.compile(r"([a-z])\1{2,}")
_POLITE_TAIL = re.compile(r"\s+(please|mate|thanks|thank you|then|really|lol|x+|haha)$")

_WANT_TO_LEARN = re.compile(
    r"\b(i (would|would really|really|so|do|really do)? ?(want|like|love|wish) (to )?"
    r"(learn|try|know|be able|get better at|improve|start|have a go)|"
    r"i want to|i wish i could|i would like to|i would love to|teach me|"
    r"can you teach me|show me how|help me learn|i want lessons|"
    r"i (want|would like|need) to learn|learn(ing)? (to|how to))"
    r"( (how )?(to|at|in|about|doing|with))?( how to)?\s+(?P<activity>.+)$"
)
_BOT_CHALLENGE = re.compile(
    r"\b(are you|r you|is this|am i talking to|am i speaking to) (a |an |the )?"
    r"(real )?(bot|robot|human|person|computer|machine|ai|real|people)\b"
)
_HELP = re.compile(
    r"\b(i do not understand|do not get it|how does this work|what do i (do|say|press)|"
    r"what do you mean|i am (confused|lost|stuck)|can you help|help me|i need help|"
    r"how do i|what does (that|this) mean|say (that|it) again)\b"
)
_STOP = re.compile(
    r"\b(i want to stop|stop (asking|the questions|this|now|talking|messaging)|"
    r"no more questions|leave me alone|i am done|i have had enough|i want to (quit|end)|"
    r"do not want to (talk|do this|carry on)|take a break|pause)\b"
)
_SKIP = re.compile(
    r"\b(skip|next question|rather not (say|answer)|do not want to answer|"
    r"(ask|give) me (something|another)|move on|pass on (this|that))\b"
)
_UNSURE = re.compile(
    r"\b(not sure|dunno|do not know|idk|no idea|no clue|maybe|can not remember|unsure)\b"
)
_CAN_NOT = re.compile(
    r"^(no )?(i )?(can not|do not|never|have never|am not good at|did not|not good at)\b"
)
_AFFIRM_START = re.compile(r"^(yes|yeh|yeah|yep|yup|ya|yea|ok|okay|sure|definitely|aye)\b")
_DENY_START = re.compile(r"^(no|nah|nope|naw)\b(?! (one|body|more|problem|worries))")
_GREET_START = re.compile(r"^(hi|hello|hey|hiya|heya|good (morning|afternoon|evening)|morning)\b")
_GOODBYE = re.compile(r"\b(bye|goodbye|good night|goodnight|see you|see ya|cya|ta ra)\b")
_THANKS = re.compile(r"\b(thanks|thank you|thankyou|thx|cheers|ta)\b")

#: Leading words that introduce an activity ("i like", "i can", "me and my mum").
_ACTIVITY_LEAD = re.compile(
    r"^(?:(?:i|we|me|me and (?:my )?\w+|my \w+ and (?:me|i))\s+"
    r"(?:(?:always|usually|sometimes|often|really|also|still|do|does|did|can|could|"
    r"like|likes|love|loves|enjoy|enjoys|am good at|'m good at|am|m|used to|like to|love to|"
    r"go|went)\s+)*)"
)
_ING_WORD = re.compile(r"\b[a-z]{3,}(ing|in)\b")
_HOBBY_WORD = re.compile(
    r"\b(football|rugby|cricket|tennis|darts|snooker|pool|bowls|music|art|arts|crafts|"
    r"guitar|piano|drums|karaoke|tea|coffee|cakes|gardening|garden|dogs?|cats?|pets?|"
    r"horses?|computers?|games|xbox|playstation|bike|books|poems|photos|lego|puzzles|"
    r"crosswords|quizzes|church|gym|yoga|boxing|bingo|maths|laundry|dishes|chess|cards|"
    r"films|movies|telly|tv|zumba|netball|basketball|golf|drama|choir|knitting|sewing)\b"
)
_FIRST_PERSON = re.compile(r"\b(i|me|my|we|us|our|myself)\b")
_STOPWORD_ONLY = re.compile(r"^(the|a|an|it|this|that|so|and|but|or|to|of|in|on|for)$")


@dataclass(frozen=True)
class _Text:
    """A message in two forms: original lowercased (for offsets) and canonical."""

    lowered: str
    canonical: str


def _canonical(text: str) -> str:
    """Lowercase, drop punctuation (keep emoji and '?'), squeeze repeats, fix words."""
    folded = _SKIN_TONES.sub("", unicodedata.normalize("NFKC", text)).lower()
    folded = folded.translate(_QUOTES).replace("'", "")
    chars: list[str] = []
    for ch in folded:
        if ch.isalnum() or ch == "?":
            chars.append(ch)
        elif unicodedata.category(ch) in ("So", "Sk"):
            chars.append(f" {ch} ")
        else:
            chars.append(" ")
    squeezed = _REPEATS.sub(r"\1", "".join(chars))
    words = [_FIXES.get(word, word) for word in squeezed.split()]
    canonical = " ".join(words)
    return re.sub(r"\s*\?+", " ?", canonical).strip() if canonical != "?" else "?"


def _whole(canonical: str) -> str | None:
    """The intent of a whole short answer, also without a polite tail or '?'."""
    candidates = [canonical, canonical.rstrip(" ?").strip()]
    trimmed = candidates[-1]
    while (shorter := _POLITE_TAIL.sub("", trimmed)) != trimmed:
        trimmed = shorter
        candidates.append(trimmed)
    for candidate in candidates:
        if candidate in _LOOKUP:
            return _LOOKUP[candidate]
    return None


def _entity(lowered: str, value: str) -> tuple[Entity, ...]:
    """An ``activity`` entity for ``value`` located inside the lowered message."""
    value = value.strip(" .!?,;:'\"")
    if not value or _STOPWORD_ONLY.match(value):
        return ()
    start = lowered.rfind(value)
    if start < 0:
        return ()
    return (Entity(entity="activity", value=value, start=start, end=start + len(value)),)


def _activity_phrase(lowered: str) -> str:
    """The activity part of a free-text message ("i does the cookin" -> "the cookin")."""
    body = re.sub(r"[.!?,;:]+$", "", lowered.strip())
    match = _ACTIVITY_LEAD.match(body)
    rest = body[match.end() :] if match else body
    rest = re.sub(r"^(the|a|an|some)\s+", "", rest)
    return rest or body


def _looks_like_activity(canonical: str) -> bool:
    """True for free text that probably describes something the member does."""
    words = canonical.replace("?", "").split()
    if not words or not any(word.isalpha() for word in words):
        return False
    if len(words) >= 2 and (_FIRST_PERSON.search(canonical) or _ING_WORD.search(canonical)):
        return True
    few = len(words) <= 3
    return few and bool(_ING_WORD.search(canonical) or _HOBBY_WORD.search(canonical))


def parse_rules(text: str) -> NluResult:
    """Understand ``text`` with rules only (pure function, never raises)."""
    raw = (text or "")[:2000]
    stripped = raw.strip().lstrip("/")
    if not stripped:
        return NluResult(intent="nlu_fallback", confidence=0.0)
    if detect_distress(stripped):
        return NluResult(intent="distress", confidence=1.0)
    message = _Text(lowered=stripped.lower(), canonical=_canonical(stripped))
    canonical = message.canonical
    if not canonical:
        return NluResult(intent="nlu_fallback", confidence=FALLBACK)

    intent = _whole(canonical)
    if intent is not None:
        return NluResult(intent=intent, confidence=EXACT)

    learn = _WANT_TO_LEARN.search(canonical)
    if learn:
        wish = learn["activity"]
        if wish not in message.lowered:
            wish = _last_words(message.lowered, wish)
        entities = _entity(message.lowered, wish)
        return NluResult(intent="want_to_learn", confidence=PHRASE, entities=entities)

    word_count = len(canonical.split())
    for pattern, name in (
        (_BOT_CHALLENGE, "bot_challenge"),
        (_STOP, "stop"),
        (_SKIP, "skip"),
        (_HELP, "help"),
    ):
        if pattern.search(canonical):
            return NluResult(intent=name, confidence=PHRASE)

    short = word_count <= 5
    answer = word_count <= 7
    checks: tuple[tuple[bool, str], ...] = (
        (short and bool(_UNSURE.search(canonical)), "unsure"),
        (short and bool(_CAN_NOT.search(canonical)), "deny"),
        (answer and bool(_DENY_START.search(canonical)), "deny"),
        (answer and bool(_AFFIRM_START.search(canonical)), "affirm"),
        (word_count <= 4 and bool(_THANKS.search(canonical)), "thanks"),
        (word_count <= 4 and bool(_GOODBYE.search(canonical)), "goodbye"),
        (word_count <= 4 and bool(_GREET_START.search(canonical)), "greet"),
    )
    for matched, name in checks:
        if matched:
            return NluResult(intent=name, confidence=LOOSE)

    if _looks_like_activity(canonical):
        phrase = _activity_phrase(message.lowered)
        return NluResult(
            intent="tell_activity",
            confidence=ACTIVITY,
            entities=_entity(message.lowered, phrase),
        )
    return NluResult(intent="nlu_fallback", confidence=FALLBACK)


def _last_words(lowered: str, canonical_tail: str) -> str:
    """Map the canonical tail of a match back to the same number of original words."""
    count = len(canonical_tail.split())
    words = re.sub(r"[.!?,;:]+$", "", lowered.strip()).split()
    return " ".join(words[-count:]) if count else ""


class RuleUnderstanding:
    """``Understanding`` made of rules: fast, offline, always available."""

    async def parse(self, text: str) -> NluResult:
        """Understand one member message with rules; never raises."""
        return parse_rules(text)
