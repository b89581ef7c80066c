"""The conversation engine's old home: the names now live in :mod:`bot.conversation`.

Kept so that ``from bot.engine import Engine`` (and the other public names) keeps
working; new code imports from the package.
"""

from __future__ import annotations

from bot.conversation.context import Extension, Turn, TurnContext, Understood
from bot.conversation.engine import ENGINE_KEYS, CardRenderer, Engine
from bot.conversation.tables import (
    CARRY_ON_BUTTONS,
    CONFIDENCE_BUTTONS,
    CONFIDENCE_VALUES,
    CONFIRM_BUTTONS,
    CONSENT_BUTTONS,
    FORGET_BUTTONS,
    INTENT_CHOICES,
    MORE_BUTTONS,
    QUESTION_BUTTONS,
    STOP_BUTTONS,
    WISH_BUTTONS,
)
from bot.conversation.words import (
    COMMAND_WORDS,
    FEELING_WORDS,
    clean_text,
    extract_name,
    plain_words,
    storable,
)

__all__ = [
    "CARRY_ON_BUTTONS",
    "COMMAND_WORDS",
    "CONFIDENCE_BUTTONS",
    "CONFIDENCE_VALUES",
    "CONFIRM_BUTTONS",
    "CONSENT_BUTTONS",
    "ENGINE_KEYS",
    "FEELING_WORDS",
    "FORGET_BUTTONS",
    "INTENT_CHOICES",
    "MORE_BUTTONS",
    "QUESTION_BUTTONS",
    "STOP_BUTTONS",
    "WISH_BUTTONS",
    "CardRenderer",
    "Engine",
    "Extension",
    "Turn",
    "TurnContext",
    "Understood",
    "clean_text",
    "extract_name",
    "plain_words",
    "storable",
]
