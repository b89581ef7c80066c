"""The words of a message as they are read aloud.

Pictures (emoji) are not read out, nor are marks that only help the eye
(bullets, stars, the slash of a command). Each line becomes a sentence of its
own, so the voice pauses where the eye would. The buttons are read at the end
("The buttons say: Yes. No.").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Protocol

from bot.easyread import pictures

#: The message key that introduces the buttons when they are read out.
SPEECH_PRESS = "speech.buttons"

_PICTURE_MARKS = re.compile("[\ufe0f\u200d\u20e3\U0001f3fb-\U0001f3ff]")
#: Marks that only help the eye: bullets, stars, underscores, hashes, pipes, braces.
_EYE_MARKS = re.compile(r"[•●▪◦·*_#|<>{}\[\]~^`\\]+")
_COMMAND = re.compile(r"(?<![\w/])/([a-z][a-z0-9_]*)\b")
_DASH_START = re.compile(r"^\s*[-–—]+\s*")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u3000]+")
_ENDS_SENTENCE = re.compile(r"[.!?:;,]$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_URL = re.compile(r"https?://\S+")


def _without_pictures(text: str) -> str:
    """``text`` with every whole picture (emoji, joiners, skin tones, keycaps) removed."""
    for picture in sorted(set(pictures(text)), key=len, reverse=True):
        text = text.replace(picture, " ")
    return _PICTURE_MARKS.sub("", text)


def _line(line: str) -> str:
    """One line made speakable; empty when nothing is left to say."""
    line = _without_pictures(line)
    line = _URL.sub(" ", line)
    line = _COMMAND.sub(r"\1", line)
    line = _DASH_START.sub("", line)
    line = _EYE_MARKS.sub(" ", line)
    line = _SPACES.sub(" ", line).strip(" -–—")
    # a lone mark left behind by a picture (" ." or "( )") is not worth saying
    line = re.sub(r"\s+([.,!?:;])", r"\1", line)
    line = re.sub(r"\(\s*\)", "", line).strip()
    if not re.search(r"\w", line):
        return ""
    return line


def speakable(text: str, buttons: Sequence[str] = (), press: str = "") -> str:
    """The words to read aloud for ``text`` and its ``buttons``.

    ``press`` introduces the buttons ("The buttons say:"); its own
    picture is dropped too. Empty when there is nothing to say (emoji only).
    """
    text = _CONTROL.sub("", text)
    sentences: list[str] = []
    for raw in text.splitlines():
        line = _line(raw)
        if not line:
            continue
        sentences.append(line if _ENDS_SENTENCE.search(line) else f"{line}.")
    labels = [_line(_CONTROL.sub("", label)) for label in buttons]
    labels = [label.rstrip(".!?:;,") for label in labels if label]
    if labels:
        intro = _line(press)
        if intro:
            sentences.append(intro if _ENDS_SENTENCE.search(intro) else f"{intro}:")
        sentences.append(". ".join(labels) + ".")
    return " ".join(sentences)


def personal_keys(content: _HasMessages) -> frozenset[str]:
    """Message keys with the member's name in them (their notes are not kept on disk)."""
    return frozenset(
        key
        for texts in content.messages.values()
        for key, template in texts.items()
        if "{name}" in template
    )


class _HasMessages(Protocol):
    """Anything with the dialogues' messages (``bot.content.Content``)."""

    @property
    def messages(self) -> Mapping[str, Mapping[str, str]]:
        """Language -> key -> template."""
        ...
