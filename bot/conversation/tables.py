"""The buttons and answer maps of every kind of prompt, as data."""

from __future__ import annotations

from bot.conversation.state import Interrupt, PromptKind

Buttons = tuple[tuple[str, str], ...]  # (choice id, label message key)

QUESTION_BUTTONS: Buttons = (
    ("yes", "button.yes"),
    ("a_bit", "button.a_bit"),
    ("no", "button.no"),
    ("learn", "button.learn"),
    ("skip", "button.skip"),
)
WISH_BUTTONS: Buttons = tuple(b for b in QUESTION_BUTTONS if b[0] != "learn")
CONFIRM_BUTTONS: Buttons = (
    ("skill_yes", "button.skill_yes"),
    ("skill_no", "button.skill_no"),
    ("skill_unsure", "button.skill_unsure"),
)
CONFIDENCE_BUTTONS: Buttons = (
    ("feel_low", "button.feel_low"),
    ("feel_ok", "button.feel_ok"),
    ("feel_good", "button.feel_good"),
)
#: A rating the member may also skip (end of a session, end of all topics).
RATING_BUTTONS: Buttons = (*CONFIDENCE_BUTTONS, ("skip", "button.skip"))
CONFIDENCE_VALUES = {"feel_low": 1, "feel_ok": 2, "feel_good": 3}
CONSENT_BUTTONS: Buttons = (("yes", "button.consent_yes"), ("no", "button.consent_no"))
MORE_BUTTONS: Buttons = (("more", "button.more"), ("pause", "button.pause"))
CARRY_ON_BUTTONS: Buttons = (("carry_on", "button.carry_on"), ("pause", "button.pause"))
STOP_BUTTONS: Buttons = (
    ("pause", "button.take_break"),
    ("forget", "button.delete_answers"),
    ("carry_on", "button.carry_on"),
)
FORGET_BUTTONS: Buttons = (("forget_yes", "button.forget_yes"), ("forget_no", "button.forget_no"))

#: How an understood intent answers each kind of prompt (and each interrupt).
INTENT_CHOICES: dict[str, dict[str, str]] = {
    PromptKind.CONSENT: {"affirm": "yes", "deny": "no"},
    PromptKind.OK: {"affirm": "ok", "thanks": "ok", "greet": "ok"},
    PromptKind.QUESTION: {"affirm": "yes", "deny": "no", "skip": "skip", "want_to_learn": "learn"},
    PromptKind.CONFIRM: {"affirm": "skill_yes", "deny": "skill_no", "unsure": "skill_unsure"},
    PromptKind.MORE: {"affirm": "more", "deny": "pause", "goodbye": "pause"},
    PromptKind.CONFIDENCE: {"unsure": "feel_low", "skip": "skip"},
    Interrupt.SAFETY: {"affirm": "carry_on", "deny": "pause", "goodbye": "pause"},
    Interrupt.FORGET_CONFIRM: {"affirm": "forget_yes", "deny": "forget_no"},
    Interrupt.STOP_MENU: {"deny": "carry_on", "affirm": "pause"},
}
