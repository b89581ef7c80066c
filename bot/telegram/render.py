"""Pure helpers that shape engine replies for Telegram: text parts, keyboards, button data."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.types import Button, is_hear

#: Telegram's limits: message text, photo/document caption, callback data (bytes).
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_BYTES = 64
#: Labels up to this many characters may share a keyboard row with a neighbour.
SHORT_LABEL = 16

#: Prompt numbers in callback data have at most this many digits (longer is "not ours").
MAX_SEQ_DIGITS = 10

#: Where a long text may be cut, best first: a blank line, a line end, a sentence
#: end, a space. Each match is the whitespace dropped between two parts (the
#: indentation of the next line is kept).
_CUTS = (
    re.compile(r"[ \t\r]*\n(?:[ \t\r]*\n)+"),
    re.compile(r"[ \t\r]*\n(?:[ \t\r]*\n)*"),
    re.compile(r"(?<=[.!?…])[ \t]+"),
    re.compile(r"[ \t]+"),
)
_BLANK_LINES = re.compile(r"^(?:[ \t\r]*\n)+")


def telegram_length(text: str) -> int:
    """The length Telegram counts against its limits: UTF-16 code units.

    Characters beyond the Basic Multilingual Plane, such as most emoji (🙂),
    count 2. Use it for every check against :data:`MAX_TEXT` and :data:`MAX_CAPTION`.
    """
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_TEXT - 96) -> list[str]:
    """Split text into parts of at most ``limit`` UTF-16 units (Telegram's measure).

    Each part ends at the last blank line that fits, else the last line end,
    else the last sentence end, else the last space (looking only in the second
    half of what fits, so parts are not tiny), else it is cut hard. Line breaks
    inside a part are kept; only the whitespace at a cut is dropped.
    """
    if limit < 2:
        raise ValueError("the limit must be at least 2 (an emoji counts 2)")
    rest = text.strip()
    parts: list[str] = []
    while telegram_length(rest) > limit:
        part, rest = _cut(rest, limit)
        if part.strip():
            parts.append(part)
    if rest:
        parts.append(rest)
    return parts


def _cut(text: str, limit: int) -> tuple[str, str]:
    """The first part of ``text`` (at most ``limit`` UTF-16 units) and what follows it."""
    fits = _fitting_prefix(text, limit)
    for pattern in _CUTS:
        best: re.Match[str] | None = None
        for match in pattern.finditer(text, fits // 2, fits + 256):  # bounded: no rescans
            if match.start() > fits:
                break
            if match.start() > 0:
                best = match
        if best is not None:
            rest = _BLANK_LINES.sub("", text[best.end() :], count=1)
            return text[: best.start()].rstrip(), rest
    cut = fits
    while cut > 1 and (_joins(text[cut]) or text[cut - 1] == "\u200d"):
        cut -= 1  # keep an emoji with its skin tone, variation selector or joiner
    if cut <= 1:
        cut = fits
    return text[:cut], text[cut:].lstrip()


def _fitting_prefix(text: str, limit: int) -> int:
    """How many characters from the start of ``text`` fit in ``limit`` UTF-16 units."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return max(index, 1)
    return len(text)


def _joins(char: str) -> bool:
    """True for a character that belongs to the one before it (mark, joiner, skin tone)."""
    return (
        char == "\u200d"
        or 0x1F3FB <= ord(char) <= 0x1F3FF
        or unicodedata.category(char) in ("Mn", "Me")
    )


def encode_callback(seq: int | None, choice: str) -> str:
    """Callback data for a button: ``"{seq}:{choice}"``, at most 64 bytes."""
    prefix = "" if seq is None else str(seq)
    data = f"{prefix}:{choice}"
    if len(data.encode("utf-8")) > MAX_CALLBACK_BYTES:
        raise ValueError(f"button choice {choice!r} is too long for Telegram callback data")
    return data


def decode_callback(data: str | None) -> tuple[int | None, str] | None:
    """``(seq, choice)`` from callback data, or ``None`` when it is not ours."""
    if not data or ":" not in data:
        return None
    head, _, choice = data.partition(":")
    if not choice:
        return None
    if head == "":
        return None, choice
    if not (head.isascii() and head.isdigit() and len(head) <= MAX_SEQ_DIGITS):
        return None  # "²" and "١" are digits to str.isdigit() but not to int() or to us
    return int(head), choice


def keyboard(buttons: Sequence[Button], seq: int | None) -> InlineKeyboardMarkup | None:
    """An inline keyboard (see :func:`keyboard_rows`) for PTB's typed methods."""
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(b.label, callback_data=encode_callback(seq, b.choice))
                for b in row
            ]
            for row in keyboard_rows(buttons)
        ]
    )


def keyboard_json(buttons: Sequence[Button], seq: int | None) -> dict[str, object] | None:
    """The same keyboard as Bot API JSON, for calls sent raw (no PTB objects made and read)."""
    if not buttons:
        return None
    return {
        "inline_keyboard": [
            [{"text": b.label, "callback_data": encode_callback(seq, b.choice)} for b in row]
            for row in keyboard_rows(buttons)
        ]
    }


def keyboard_rows(buttons: Sequence[Button]) -> list[list[Button]]:
    """Keyboard rows: two short buttons share a row, longer ones get a row each.

    "🔊 Hear it" always has the last row to itself: the same place on every question.
    """
    rows: list[list[Button]] = []
    index = 0
    while index < len(buttons):
        first = buttons[index]
        nxt = buttons[index + 1] if index + 1 < len(buttons) else None
        if nxt is not None and _share_row(first, nxt):
            rows.append([first, nxt])
            index += 2
        else:
            rows.append([first])
            index += 1
    return rows


def _share_row(first: Button, second: Button) -> bool:
    """True when two buttons may share a row: both short, neither "Hear it"."""
    if is_hear(first.choice) or is_hear(second.choice):
        return False
    return _short(first.label) and _short(second.label)


def _short(label: str) -> bool:
    """True when a label is short enough to share a row."""
    return len(label) <= SHORT_LABEL
