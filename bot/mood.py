"""Low mood: sad or lonely messages get a kind word, not a skills question.

This is not the distress safety net (``bot.nlu.safety``), which alerts staff.
A member who says they feel sad or lonely is answered warmly, told who they
can talk to, and then shown their question again; the answer is kept with the
intent ``low_mood`` so staff can see it in the export.
"""

from __future__ import annotations

import re

_LOW_MOOD = re.compile(
    r"\b(?:"
    r"(?:i|im|i am|i'm|i feel|feel|feeling|i feel so|i am so|im so|i'm so)\s+"
    r"(?:really\s+|very\s+|so\s+|a bit\s+)?"
    r"(?:sad|lonely|alone|down|low|upset|unhappy|miserable|depressed|fed up|rubbish|awful|"
    r"terrible|horrible|crap|gutted|heartbroken)"
    r"|nobody likes me|no one likes me|noone likes me|nobody loves me|no one loves me"
    r"|i have no friends|i got no friends|ive got no friends|i've got no friends|no mates"
    r"|i keep crying|i cry all the time|i cant stop crying|i can't stop crying"
    r"|bad day|rough day|horrible day|awful day"
    r")\b",
    re.IGNORECASE,
)


def detect_low_mood(text: str) -> bool:
    """True when the member says they feel sad, lonely or low."""
    return bool(_LOW_MOOD.search(" ".join(text.replace("’", "'").split())))
