"""One table per kind of prompt, step type and interrupt: how each is asked and answered.

* :data:`PROMPTS`: for each :class:`PromptKind`, its buttons, how a typed
  answer maps to a choice (intents, or feeling words) and what follows a choice.
* :data:`INTERRUPTS`: the same for each :class:`Interrupt`, with its message.
* :data:`STEPS`: for each onboarding step type, the prompt it asks, the fields
  the flow must give (checked by ``bot.content`` at start-up) and what follows.
* :data:`INTENT_CHOICES`: every intent map above, by prompt kind or interrupt.
* :data:`COMMAND_ACTIONS`: what each command (``/help``, or "help" typed) does.

The engine and ``bot.content`` read these tables; adding a kind is one entry
here and the handler it names (see ``docs/flows.md``, "Adding a step kind").
This module imports nothing of the engine at run time, so ``bot.content`` can
read it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.conversation import preferences
from bot.conversation.state import (
    Interrupt,
    PromptKind,
    StateData,
    Status,
    interrupt_of,
    prompt_kind,
)
from bot.conversation.words import feeling_words

if TYPE_CHECKING:
    from bot.content import Step
    from bot.conversation.context import Turn, Understood
    from bot.conversation.engine import Engine

Buttons = tuple[tuple[str, str], ...]  # (choice id, label message key)
#: What follows a choice: (engine, turn, choice, understood text or None).
OnChoice = Callable[["Engine", "Turn", str, "Understood | None"], Awaitable[None]]
#: What follows typed text: (engine, turn, text, intent, mapped choice, answer id).
OnText = Callable[
    ["Engine", "Turn", "Understood", "str | None", "str | None", "int | None"], Awaitable[None]
]
#: What follows a "go" button: (engine, turn, what follows its name, e.g. a skill id).
OnGo = Callable[["Engine", "Turn", str], Awaitable[None]]
#: What follows a choice on an onboarding step: (engine, turn, step, choice).
OnStep = Callable[["Engine", "Turn", "Step", str], Awaitable[None]]
#: What follows free text on an onboarding step that has no buttons.
OnStepText = Callable[["Engine", "Turn", "Understood"], Awaitable[None]]

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
#: The topic choice's own buttons, after its topic buttons (``topic:<id>``).
MORE_BUTTONS: Buttons = (("more", "button.something_else"), ("pause", "button.stop_for_now"))
SEVERAL_BUTTONS: Buttons = (
    ("several_yes", "button.yes"),
    ("several_some", "button.only_some"),
    ("several_no", "button.no"),
)
CARRY_ON_BUTTONS: Buttons = (("carry_on", "button.carry_on"), ("pause", "button.pause"))
STOP_BUTTONS: Buttons = (
    ("pause", "button.take_break"),
    ("forget", "button.delete_answers"),
    ("carry_on", "button.carry_on"),
)
FORGET_BUTTONS: Buttons = (("forget_yes", "button.forget_yes"), ("forget_no", "button.forget_no"))
SETTINGS_DONE: tuple[str, str] = ("done", "button.settings_done")


#: What a /settings button turns over: choice -> preference.
SETTINGS_TOGGLES: dict[str, str] = {
    "toggle_read": preferences.READ_ALOUD,
    "toggle_pictures": preferences.FEWER_PICTURES,
}
#: What is said when a preference is set, by button or by words: (preference, on) -> key.
PREFERENCE_SAID: dict[tuple[str, bool], str] = {
    (preferences.READ_ALOUD, True): "settings.read_on",
    (preferences.READ_ALOUD, False): "settings.read_off",
    (preferences.FEWER_PICTURES, True): "settings.fewer_pictures",
    (preferences.FEWER_PICTURES, False): "settings.more_pictures",
}


def settings_buttons(turn: Turn) -> Buttons:
    """The /settings buttons; each label says what a tap does now."""
    read = preferences.get(turn, preferences.READ_ALOUD)
    fewer = preferences.get(turn, preferences.FEWER_PICTURES)
    return (
        ("toggle_read", "button.read_stop" if read else "button.read_to_me"),
        ("toggle_pictures", "button.pictures_more" if fewer else "button.pictures_fewer"),
        ("go:chances", "button.chances"),  # when to hear about chances (the nudges menu)
        SETTINGS_DONE,
    )


#: Intents that mean "how do I feel" when typed to a rating (after the feeling words).
FEELING_INTENTS = {"unsure": "feel_low", "skip": "skip"}


@dataclass(frozen=True)
class PromptSpec:
    """One kind of prompt: its buttons, how typed text answers it, what follows."""

    #: The buttons it is asked with (a ``choice`` step brings its own).
    buttons: Buttons
    #: What follows a choice (a button, a typed label, or typed text mapped to one).
    on_choice: OnChoice
    #: Understood intents that answer it: intent -> choice.
    intents: dict[str, str]
    #: Typed feeling words ("good", "worried", 🙂) answer it (a rating).
    feelings: bool = False
    #: Typed text that is not a button goes here instead (the text is kept first).
    on_text: OnText | None = None


@dataclass(frozen=True)
class InterruptSpec:
    """A question asked in between: its message, buttons, and what follows."""

    key: str
    buttons: Buttons
    on_choice: OnChoice
    intents: dict[str, str]
    feelings: bool = False
    #: Buttons that depend on the member (their labels say the current state).
    buttons_for: Callable[[Turn], Buttons] | None = None


@dataclass(frozen=True)
class StepSpec:
    """One onboarding step type: how it is asked and what follows."""

    #: The prompt it asks; ``None`` for a step with no buttons.
    prompt: PromptKind | None
    #: Fields of the step the flow must give (``next``, ``yes``, ``no``, ``buttons``).
    needs: tuple[str, ...]
    #: What follows a choice; ``None`` when it has no buttons.
    on_choice: OnStep | None = None
    #: What follows free text on a step with no buttons; ``None``: it does not wait.
    on_text: OnStepText | None = None
    #: The buttons come from the flow (``buttons:``), not the prompt kind.
    flow_buttons: bool = False
    #: Checks of the step's own fields beyond ``needs`` (problems, in words);
    #: run by the content validator at start-up and by ``skillspark dialogues check``.
    check: Callable[[Step], list[str]] | None = None

    @property
    def waits(self) -> bool:
        """True when the step waits for the member (it asks something)."""
        return self.prompt is not None or self.on_text is not None


def _onboarding_step(e: Engine, turn: Turn, choice: str, u: Understood | None) -> Awaitable[None]:
    """A choice on an onboarding prompt: what follows is the step type's (:data:`STEPS`)."""
    return e.onboarding.choice(turn, choice)


PROMPTS: dict[PromptKind, PromptSpec] = {
    PromptKind.CONSENT: PromptSpec(
        CONSENT_BUTTONS,
        _onboarding_step,
        {"affirm": "yes", "deny": "no"},
    ),
    PromptKind.OK: PromptSpec(
        (),
        _onboarding_step,
        {"affirm": "ok", "thanks": "ok", "greet": "ok"},
    ),
    PromptKind.CONFIDENCE: PromptSpec(
        CONFIDENCE_BUTTONS,
        _onboarding_step,
        FEELING_INTENTS,
        feelings=True,
    ),
    PromptKind.QUESTION: PromptSpec(
        QUESTION_BUTTONS,
        lambda e, turn, choice, u: e.topics.question_choice(turn, choice, u),
        {"affirm": "yes", "deny": "no", "skip": "skip", "want_to_learn": "learn"},
        on_text=lambda e, turn, u, intent, mapped, answer: e.topics.question_text(
            turn, u, intent, mapped, answer
        ),
    ),
    PromptKind.CONFIRM: PromptSpec(
        CONFIRM_BUTTONS,
        lambda e, turn, choice, u: e.confirm.choice(turn, choice),
        {"affirm": "skill_yes", "deny": "skill_no", "unsure": "skill_unsure"},
    ),
    PromptKind.CONFIRM_SEVERAL: PromptSpec(
        SEVERAL_BUTTONS,
        lambda e, turn, choice, u: e.confirm.several_choice(turn, choice),
        {"affirm": "several_yes", "deny": "several_no", "unsure": "several_some"},
    ),
    PromptKind.MORE: PromptSpec(
        MORE_BUTTONS,
        lambda e, turn, choice, u: e.topics.more_choice(turn, choice),
        {"deny": "pause", "goodbye": "pause", "stop": "pause"},
        on_text=lambda e, turn, u, intent, mapped, answer: e.topics.more_text(turn, u, mapped),
    ),
    PromptKind.FINAL_RATING: PromptSpec(
        RATING_BUTTONS,
        lambda e, turn, choice, u: e.sessions.final_rating(turn, choice),
        FEELING_INTENTS,
        feelings=True,
    ),
}


def _rating(moment: Interrupt, key: str, buttons: Buttons = CONFIDENCE_BUTTONS) -> InterruptSpec:
    """A "how do you feel" in between: at the start or the end of a session."""
    return InterruptSpec(
        key,
        buttons,
        lambda e, turn, choice, u: e.sessions.rating(turn, moment, choice),
        FEELING_INTENTS,
        feelings=True,
    )


INTERRUPTS: dict[Interrupt, InterruptSpec] = {
    Interrupt.SAFETY: InterruptSpec(
        "safety.carry_on",
        CARRY_ON_BUTTONS,
        lambda e, turn, choice, u: e.sessions.safety_choice(turn, choice),
        {"affirm": "carry_on", "deny": "pause", "goodbye": "pause"},
    ),
    Interrupt.CONFIDENCE_START: _rating(Interrupt.CONFIDENCE_START, "confidence.start"),
    Interrupt.CONFIDENCE_END: _rating(Interrupt.CONFIDENCE_END, "confidence.end", RATING_BUTTONS),
    Interrupt.STOP_MENU: InterruptSpec(
        "stop.menu",
        STOP_BUTTONS,
        lambda e, turn, choice, u: e.sessions.stop_choice(turn, choice),
        {"deny": "carry_on", "affirm": "pause"},
    ),
    Interrupt.FORGET_CONFIRM: InterruptSpec(
        "forget.confirm",
        FORGET_BUTTONS,
        lambda e, turn, choice, u: e.rights.forget_choice(turn, choice),
        {"affirm": "forget_yes", "deny": "forget_no"},
    ),
    Interrupt.SETTINGS: InterruptSpec(
        "settings.menu",
        (SETTINGS_DONE,),
        lambda e, turn, choice, u: e.settings_choice(turn, choice),
        {"affirm": "done", "deny": "done", "thanks": "done"},
        buttons_for=settings_buttons,
    ),
}

STEPS: dict[str, StepSpec] = {
    "say": StepSpec(None, needs=("next",)),
    "ask_name": StepSpec(
        None, needs=("next",), on_text=lambda e, turn, u: e.onboarding.name(turn, u)
    ),
    "choice": StepSpec(
        PromptKind.OK,
        needs=("buttons",),
        on_choice=lambda e, turn, step, choice: e.onboarding.follow_button(turn, step, choice),
        flow_buttons=True,
    ),
    "consent": StepSpec(
        PromptKind.CONSENT,
        needs=("yes", "no"),
        on_choice=lambda e, turn, step, choice: e.onboarding.consent(turn, step, choice == "yes"),
    ),
    "confidence": StepSpec(
        PromptKind.CONFIDENCE,
        needs=("next",),
        on_choice=lambda e, turn, step, choice: e.onboarding.rated(turn, step, choice),
    ),
    "preference": StepSpec(
        PromptKind.OK,
        needs=("preference", "buttons", "next"),
        on_choice=lambda e, turn, step, choice: e.onboarding.preference(turn, step, choice),
        flow_buttons=True,
        check=lambda step: (
            []
            if step.preference in preferences.KEYS
            else [f"sets unknown preference '{step.preference}'"]
        ),
    ),
}

#: How an understood intent answers each kind of prompt and each interrupt.
#: "Go" buttons (``go:<name>[:<arg>]``) are not an answer to the waiting prompt:
#: the member's status decides what they do, so a tap still works much later,
#: after a restart, when the prompt they came with is gone.
GO_PREFIX = "go:"


@dataclass(frozen=True)
class GoSpec:
    """One "go" button: the statuses it works in, and what it does."""

    statuses: tuple[Status, ...]
    on_go: OnGo
    #: The tap is kept as an answer ("Hear it" is not: it only reads aloud).
    stored: bool = True


ANY_STATUS = tuple(Status)
CONSENTED = (Status.ACTIVE, Status.PAUSED, Status.FINISHED)

GO: dict[str, GoSpec] = {
    "carry_on": GoSpec(CONSENTED, lambda e, turn, arg: e.help.carry_on(turn)),
    "try_again": GoSpec(ANY_STATUS, lambda e, turn, arg: e.help.try_again(turn)),
    "myskills": GoSpec(CONSENTED, lambda e, turn, arg: e.help.my_skills(turn)),
    "add_skill": GoSpec(CONSENTED, lambda e, turn, arg: e.help.ask_own_words(turn)),
    "chances": GoSpec(CONSENTED, lambda e, turn, arg: e.help.chances(turn)),
    "add_back": GoSpec(CONSENTED, lambda e, turn, arg: e.help.add_back(turn, arg)),
    "ask_staff": GoSpec(ANY_STATUS, lambda e, turn, arg: e.help.ask_staff(turn)),
    "hear": GoSpec(ANY_STATUS, lambda e, turn, arg: e.help.hear_offer(turn, arg), stored=False),
    "where": GoSpec(ANY_STATUS, lambda e, turn, arg: e.show_where(turn), stored=False),
}

#: Messages that end the conversation for now, and the button that carries on.
END_BUTTONS: dict[str, Buttons] = {
    "paused": (("go:carry_on", "button.resume"),),
    "stop.bye": (("go:carry_on", "button.resume"),),
    "onboarding.consent_no": (("go:try_again", "button.try_again"),),
    "forget.done": (("go:try_again", "button.start_again"),),
}
#: What a member who has answered every topic can do next.
WHAT_NEXT_BUTTONS: Buttons = (
    ("go:myskills", "button.my_skills"),
    ("go:add_skill", "button.add_skill"),
    ("go:chances", "button.chances"),
)
#: The buttons that offer a person.
ASK_STAFF_BUTTONS: Buttons = (("go:ask_staff", "button.ask_staff"),)
#: Under My skills, when the member said no to a skill before.
ADD_BACK_BUTTONS: Buttons = (("go:add_back", "button.add_back"),)
#: Messages that are not a question but carry buttons that work whatever the member
#: is asked: the end points and the offers. Each also has "🔊 Hear it"
#: (``go:hear:<key>``), which reads the message and its buttons aloud.
OFFERS: dict[str, Buttons] = {
    **END_BUTTONS,
    "next.menu": WHAT_NEXT_BUTTONS,
    "addback.offer": ADD_BACK_BUTTONS,
    "stuck.offer": ASK_STAFF_BUTTONS,
    "own.ask": (("go:where", "button.not_now"),),
}
#: The most declined skills offered back at once (then "Something else").
ADD_BACK_MAX = 5

INTENT_CHOICES: dict[str, dict[str, str]] = {
    **{kind: spec.intents for kind, spec in PROMPTS.items()},
    **{kind: spec.intents for kind, spec in INTERRUPTS.items()},
}


def waiting(data: StateData) -> PromptSpec | InterruptSpec | None:
    """The table entry of what a saved state is asking: its interrupt, else its prompt."""
    interrupt = interrupt_of(data)
    if interrupt is not None:
        return INTERRUPTS[interrupt]
    kind = prompt_kind(data)
    return PROMPTS.get(kind) if kind else None


def typed_choice(
    spec: PromptSpec | InterruptSpec | None, text: str, intent: str | None
) -> str | None:
    """The choice typed text makes: feeling words for a rating, else the intent's."""
    if spec is None:
        return None
    if spec.feelings:
        return feeling_words(text) or spec.intents.get(intent or "")
    return spec.intents.get(intent or "")


@dataclass(frozen=True)
class CommandSpec:
    """One command: what it does, and what happens before the member has consented."""

    run: Callable[[Engine, Turn], Awaitable[None]]
    #: Show the member's question again afterwards.
    show_after: bool = False
    #: Before consent: ``""`` starts onboarding instead (after a "no" to consent: shows
    #: that answer and its "Try again" again); a message key is said instead (then the
    #: member's question); ``None``: it runs as usual.
    before_consent: str | None = ""


async def _say_help(e: Engine, turn: Turn) -> None:
    """The help words, in 2 short lists (the member's question follows)."""
    e.say(turn, "help.text")
    e.say(turn, "help.more")


async def _nothing(e: Engine, turn: Turn) -> None:
    """Nothing but showing the member's question again."""


async def _what_next(e: Engine, turn: Turn) -> None:
    """The "what next" menu (a finished member also hears that all is done)."""
    if turn.state.status == Status.FINISHED:
        await e.show_where(turn)
    else:
        e.help.what_next(turn)


async def _hear(e: Engine, turn: Turn) -> None:
    """ "Hear it" typed: the waiting prompt read aloud, else the member's place again."""
    if not e.hear(turn):
        await e.show_where(turn)


async def _settings(e: Engine, turn: Turn) -> None:
    """/settings: how the bot talks to the member (read aloud, pictures).

    Inside another question in between (delete everything?, a worry, a rating)
    that one is finished first, so it is never dropped.
    """
    if interrupt_of(turn.data) not in (None, Interrupt.SETTINGS):
        e.say(turn, "settings.finish_first")
        await e.show_where(turn)
        return
    e.interrupt(turn, Interrupt.SETTINGS)


def _set_preference(key: str, value: bool) -> Callable[[Engine, Turn], Awaitable[None]]:
    """A command that sets one preference ("read to me"), says so, then shows the question."""

    async def run(e: Engine, turn: Turn) -> None:
        preferences.set_(turn, key, value)
        e.say(turn, PREFERENCE_SAID[key, value])

    return run


async def _add_skill(e: Engine, turn: Turn) -> None:
    """ "Add a skill": the next words the member types are a skill."""
    await e.help.ask_own_words(turn)


COMMAND_ACTIONS: dict[str, CommandSpec] = {
    "start": CommandSpec(lambda e, turn: e.sessions.start(turn), before_consent=None),
    "help": CommandSpec(_say_help, show_after=True, before_consent=None),
    "repeat": CommandSpec(_nothing, show_after=True),
    "pause": CommandSpec(lambda e, turn: e.sessions.pause(turn, bye="paused")),
    "stop": CommandSpec(lambda e, turn: e.sessions.stop(turn)),
    "resume": CommandSpec(lambda e, turn: e.sessions.start(turn)),
    "back": CommandSpec(lambda e, turn: e.topics.back(turn)),
    "skip": CommandSpec(lambda e, turn: e.choose(turn, "skip", None)),
    "myskills": CommandSpec(
        lambda e, turn: e.rights.my_skills(turn), show_after=True, before_consent="myskills.none"
    ),
    "mydata": CommandSpec(
        lambda e, turn: e.rights.my_data(turn), show_after=True, before_consent="mydata.none"
    ),
    "forget": CommandSpec(
        lambda e, turn: e.rights.ask_forget(turn), before_consent="forget.nothing"
    ),
    "whatnext": CommandSpec(_what_next),
    # a person, whenever the member asks (also before consent: asking is never refused)
    "askstaff": CommandSpec(
        lambda e, turn: e.help.ask_staff(turn, typed=True), before_consent=None
    ),
    "addskill": CommandSpec(_add_skill),
    "hear": CommandSpec(_hear, before_consent=None),
    "settings": CommandSpec(_settings),
    "read_on": CommandSpec(_set_preference(preferences.READ_ALOUD, True), show_after=True),
    "read_off": CommandSpec(_set_preference(preferences.READ_ALOUD, False), show_after=True),
    "pictures_fewer": CommandSpec(
        _set_preference(preferences.FEWER_PICTURES, True), show_after=True
    ),
    "pictures_more": CommandSpec(
        _set_preference(preferences.FEWER_PICTURES, False), show_after=True
    ),
}
