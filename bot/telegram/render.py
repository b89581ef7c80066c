"""Pure helpers that shape engine replies for Telegram: text parts, keyboards, button data."""

from __future__ import annotations

import re
from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.types import Button

#: Telegram's limits: message text, photo/document caption, callback data (bytes).
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_BYTES = 64
#: Labels up to this many characters may share a keyboard row with a neighbour.
SHORT_LABEL = 16

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")


def split_text(text: str, limit: int = MAX_TEXT - 96) -> list[str]:
    """Split text into parts below ``limit`` characters, at sentence ends where possible.

    Sentences are packed greedily; a single sentence longer than the limit is cut
    at spaces, and a single word longer than the limit is cut hard.
    """
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    parts: list[str] = []
    current = ""
    for sentence in _pieces(text, limit):
        joined = f"{current} {sentence}" if current else sentence
        if len(joined) <= limit:
            current = joined
            continue
        if current:
            parts.append(current)
        current = sentence
    if current:
        parts.append(current)
    return parts


def _pieces(text: str, limit: int) -> list[str]:
    """Sentences of the text, each no longer than ``limit`` (long ones cut at spaces)."""
    pieces: list[str] = []
    for sentence in (s.strip() for s in _SENTENCE_END.split(text)):
        while len(sentence) > limit:
            cut = sentence.rfind(" ", 0, limit + 1)
            if cut <= 0:
                cut = limit
            pieces.append(sentence[:cut].rstrip())
            sentence = sentence[cut:].lstrip()
        if sentence:
            pieces.append(sentence)
    return pieces


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
    if not head.isdigit():
        return None
    return int(head), choice


def keyboard(buttons: Sequence[Button], seq: int | None) -> InlineKeyboardMarkup | None:
    """An inline keyboard: two short buttons share a row, longer ones get a row each."""
    if not buttons:
        return None
    rows: list[list[InlineKeyboardButton]] = []
    index = 0
    while index < len(buttons):
        first = buttons[index]
        row = [InlineKeyboardButton(first.label, callback_data=encode_callback(seq, first.choice))]
        nxt = buttons[index + 1] if index + 1 < len(buttons) else None
        if nxt is not None and _short(first.label) and _short(nxt.label):
            row.append(
                InlineKeyboardButton(nxt.label, callback_data=encode_callback(seq, nxt.choice))
            )
            index += 1
        rows.append(row)
        index += 1
    return InlineKeyboardMarkup(rows)


def _short(label: str) -> bool:
    """True when a label is short enough to share a row."""
    return len(label) <= SHORT_LABEL
