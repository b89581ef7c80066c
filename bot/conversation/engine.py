"""The conversation engine: one deterministic walker over the flows in ``dialogues/``.

Channel-agnostic (no ``telegram`` import): a channel turns an update into an
:class:`~bot.types.Incoming`, calls :meth:`Engine.handle` and renders the
:class:`~bot.types.Reply` list. Every piece of conversation state lives in the
database (``conversation_states``); the same input in the same state gives the
same reply. Each call is one transaction: the answer, the new state and the
channel's dedup key are committed together, before any reply is sent.

:class:`Engine` is the one façade the channels call. It routes each input
(command, button, text) to the piece of the conversation that owns it:
:mod:`~bot.conversation.onboarding`, :mod:`~bot.conversation.topics`,
:mod:`~bot.conversation.confirm`, :mod:`~bot.conversation.session` and
:mod:`~bot.conversation.rights`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content import Content
from bot.conversation import preferences
from bot.conversation.confirm import Confirm
from bot.conversation.context import Extension, Turn, TurnContext, Understood
from bot.conversation.help import Help
from bot.conversation.onboarding import Onboarding
from bot.conversation.prompts import Prompts
from bot.conversation.rights import Rights
from bot.conversation.session import Session
from bot.conversation.state import (
    NOT_STARTED,
    ONBOARDING_FLOW,
    Interrupt,
    PromptKind,
    Status,
    as_utc,
    derive_phase,
    interrupt_of,
    load_data,
    prompt_choices,
    prompt_kind,
)
from bot.conversation.tables import (
    COMMAND_ACTIONS,
    INTERRUPTS,
    PREFERENCE_SAID,
    SETTINGS_TOGGLES,
    InterruptSpec,
    PromptSpec,
    typed_choice,
    waiting,
)
from bot.conversation.topics import Topics
from bot.conversation.words import (
    COMMAND_WORDS,
    clean_text,
    own_skill_words,
    plain_words,
    storable,
)
from bot.mood import detect_low_mood
from bot.nlu.safety import detect_distress
from bot.settings import Settings
from bot.types import (
    HEAR,
    HEAR_SHOWN,
    Button,
    Incoming,
    MemberKey,
    NluResult,
    Reply,
    SkillFinder,
    Understanding,
    is_hear,
)
from storage import repo
from storage.db import transaction
from storage.models import utcnow

log = logging.getLogger(__name__)

CardRenderer = Callable[[str, list[tuple[str, str, str]], list[str]], bytes]

#: Message keys the engine itself uses (validated at start-up).
ENGINE_KEYS: tuple[str, ...] = (
    "onboarding.consent_no",
    "confidence.start",
    "confidence.end",
    "confidence.thanks",
    "skill.is_that_right",
    "skill.also",
    "skill.found",
    "skill.confirmed",
    "skill.declined",
    "skill.unsure",
    "answer.no_thanks",
    "answer.skipped",
    "answer.thanks_text",
    "learn.saved",
    "clarify.pick",
    "topic.done",
    "topic.choose_first",
    "topic.choose",
    "topic.progress",
    "skill.several",
    "skill.several_confirmed",
    "skill.several_declined",
    "all.done",
    "all.thanks",
    "myskills.title",
    "myskills.title_no_name",
    "myskills.none",
    "myskills.category",
    "myskills.skill",
    "myskills.wishes_title",
    "myskills.wish",
    "help.text",
    "help.more",
    "back.first",
    "paused",
    "resume.welcome_back",
    "resume.welcome_back_no_name",
    "stop.bye",
    "input.empty",
    "input.too_long",
    "input.unsupported",
    "input.old_button",
    "input.not_understood",
    "safety.distress",
    "safety.carry_on",
    "button.yes",
    "button.a_bit",
    "button.no",
    "button.learn",
    "button.skip",
    "button.ok",
    "button.consent_yes",
    "button.consent_no",
    "button.skill_yes",
    "button.skill_no",
    "button.skill_unsure",
    "button.feel_low",
    "button.feel_ok",
    "button.feel_good",
    "button.something_else",
    "button.stop_for_now",
    "button.only_some",
    "button.pause",
    "button.carry_on",
    "stop.menu",
    "button.take_break",
    "button.delete_answers",
    "forget.confirm",
    "forget.done",
    "forget.kept",
    "forget.nothing",
    "button.forget_yes",
    "button.forget_no",
    "mydata.title",
    "mydata.none",
    "mydata.answers",
    "mydata.skills",
    "mydata.wishes",
    "mydata.ratings",
    "mydata.file",
    "mydata_pdf.file",
    "mood.low",
    "button.try_again",
    "button.resume",
    "button.my_skills",
    "button.add_skill",
    "button.chances",
    "button.add_back",
    "button.ask_staff",
    "next.menu",
    "own.ask",
    "own.finish_first",
    "button.not_now",
    "button.start_again",
    "own.kept",
    "own.known",
    "addback.offer",
    "addback.pick",
    "stuck.offer",
    "stuck.asked",
    "stuck.already",
    "input.voice",
    "button.hear",
    "settings.menu",
    "settings.read_on",
    "settings.read_off",
    "settings.fewer_pictures",
    "settings.more_pictures",
    "button.read_stop",
    "button.pictures_fewer",
    "button.pictures_more",
    "settings.finish_first",
    "button.settings_done",
)


def _read_aloud(replies: list[Reply]) -> None:
    """One voice note a turn: the last message reads every message of the turn before it.

    A "Hear it" reply already is its own note; a file (my data) is not read.
    """
    if any(r.voice for r in replies):
        return
    last = next((i for i in range(len(replies) - 1, -1, -1) if replies[i].document is None), None)
    if last is None:
        return
    before = tuple((r.key, r.text) for r in replies[:last] if r.document is None and r.text)
    replies[last] = replace(replies[last], voice=True, read_first=before)


class Engine(Prompts):
    """Walks members through onboarding and the topic flows, keeping all state in the database."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        content: Content,
        understanding: Understanding,
        finder: SkillFinder,
        settings: Settings,
        card_renderer: CardRenderer | None = None,
        extensions: tuple[Extension, ...] = (),
    ) -> None:
        """Wire the engine to storage, content, NLU, the skill finder and extensions."""
        super().__init__(content, settings)
        self.sessionmaker = sessionmaker
        self.understanding = understanding
        self.finder = finder
        self.card_renderer = card_renderer
        self._pictures: ThreadPoolExecutor | None = None
        self.extensions = extensions
        self._locks: dict[str, asyncio.Lock] = {}
        self._recent_keys: dict[str, bool] = {}
        bind = sessionmaker.kw.get("bind")
        on_sqlite = bind is not None and bind.dialect.name == "sqlite"
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if on_sqlite else None
        # The pieces of the conversation; each reaches the others through the engine.
        self.onboarding: Onboarding = Onboarding(self)
        self.topics: Topics = Topics(self)
        self.confirm: Confirm = Confirm(self)
        self.sessions: Session = Session(self)
        self.rights: Rights = Rights(self)
        self.help: Help = Help(self)

    async def handle(
        self, member: MemberKey, incoming: Incoming, *, dedup_key: str | None = None
    ) -> list[Reply]:
        """Handle one thing the member did; return what to say. ``[]`` for a repeat update."""
        understood = await self._understand(incoming) if incoming.kind == "text" else None
        lock_key = f"{member.channel}:{member.external_id}"
        lock = self._locks.setdefault(lock_key, asyncio.Lock())
        async with lock:
            try:
                return await self._turn(member, incoming, understood, dedup_key)
            except IntegrityError:
                # The update key was stored by another turn first: a repeated update.
                if dedup_key:
                    async with self.sessionmaker() as session:
                        if await repo.input_seen(session, dedup_key):
                            return []
                raise

    async def _turn(
        self,
        member: MemberKey,
        incoming: Incoming,
        understood: Understood | None,
        dedup_key: str | None,
    ) -> list[Reply]:
        """One transaction: member, state, dedup key, answer and new state together."""
        async with self._writer(), transaction(self.sessionmaker) as session:
            db_member, state = await repo.member_and_state(
                session,
                member.channel,
                member.external_id,
                network=self.settings.default_network,
                language=self.settings.default_language,
            )
            if dedup_key:
                if self._recent_keys.get(dedup_key):
                    return []
                await repo.record_input(session, dedup_key, db_member.id)
            turn = Turn(session, db_member, state, load_data(state.data))
            # read aloud before the turn counts too: "stop reading", "no" to consent
            # and "delete my answers" are heard by a member who listens
            reading = preferences.get(turn, preferences.READ_ALOUD)
            await self._dispatch(turn, incoming, understood)
            self._as_preferred(turn, reading)
            if not turn.erased:
                now = utcnow()
                state.phase = derive_phase(state.flow_id, turn.data)
                await repo.save_state(session, state, dict(turn.data), now)
                last = as_utc(db_member.last_active_at)
                if last is None or now - last > timedelta(minutes=1):
                    db_member.last_active_at = now
        if dedup_key:
            self._remember_key(dedup_key)
        if turn.drawings:
            await self._draw_pictures(turn)
        return turn.replies

    def _as_preferred(self, turn: Turn, reading: bool) -> None:
        """Shape the replies as the member prefers: read aloud (before or after), fewer pictures.

        Every message with buttons can be heard: one the engine composed (my
        skills, a menu of the nudges) gets a "🔊 Hear it" that the channel
        answers with that message read aloud.
        """
        turn.replies[:] = [self._hearable(turn, r) for r in turn.replies]
        read = reading or preferences.get(turn, preferences.READ_ALOUD)
        fewer = preferences.get(turn, preferences.FEWER_PICTURES)
        if fewer:  # one picture at the start of each message, plain buttons, no picture cards
            turn.replies[:] = [preferences.with_fewer_pictures(r) for r in turn.replies]
            turn.drawings[:] = [
                (i, draw) for i, draw in turn.drawings if turn.replies[i].document is not None
            ]
        if read:
            _read_aloud(turn.replies)

    def _hearable(self, turn: Turn, reply: Reply) -> Reply:
        """A composed message with buttons and no "Hear it" gets one (the last button)."""
        if not reply.buttons or reply.seq != 0 or reply.voice_only:
            return reply
        if any(is_hear(button.choice) for button in reply.buttons):
            return reply
        hear = Button(HEAR_SHOWN, self.text(turn, "button.hear"))
        return replace(reply, buttons=(*reply.buttons, hear))

    async def _draw_pictures(self, turn: Turn) -> None:
        """Draw the turn's pictures in a worker thread, after the transaction.

        A picture card takes 60-200 ms of CPU: inside the transaction it held up
        every other member's turn (SQLite has one writer), and on the event loop
        every reply. One thread of its own draws them one at a time (not the
        default pool, which exports use). A picture that fails is left out; the
        words still go.
        """
        if self._pictures is None:
            self._pictures = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pictures")
        loop = asyncio.get_running_loop()
        for index, draw in turn.drawings:
            try:
                image = await loop.run_in_executor(self._pictures, draw)
            except Exception:
                log.exception("could not draw %s", turn.replies[index].key)
                continue
            reply = turn.replies[index]
            if reply.document is not None:  # a file made after the transaction (the /mydata page)
                turn.replies[index] = replace(reply, document=(reply.document[0], image))
            else:
                turn.replies[index] = replace(reply, image_png=image)
        # a file that could not be made is left out (its words name it)
        turn.replies[:] = [r for r in turn.replies if r.document is None or r.document[1]]

    def _remember_key(self, key: str) -> None:
        """Keep recent update keys in memory so an obvious repeat costs no write."""
        self._recent_keys[key] = True
        if len(self._recent_keys) > 10_000:
            for old in list(self._recent_keys)[:5_000]:
                self._recent_keys.pop(old, None)

    @asynccontextmanager
    async def _writer(self) -> AsyncIterator[None]:
        """SQLite has one writer: queue turns here instead of busy-waiting in SQLite."""
        if self._write_lock is None:
            yield
            return
        async with self._write_lock:
            yield

    async def current_prompt(self, member: MemberKey) -> list[Reply]:
        """Show the member where they are (the "start" command does this too)."""
        return await self.handle(member, Incoming("command", "repeat"))

    async def _understand(self, incoming: Incoming) -> Understood:
        """Run the safety net, the NLU and the skill finder outside the transaction."""
        raw = incoming.value
        limited = raw[: self.settings.max_text_chars]
        text = clean_text(limited)
        if not text:
            return Understood(raw, "", None, [], False)
        distress = detect_distress(text)
        nlu: NluResult | None = None
        if not text.startswith("/"):
            try:
                nlu = await self.understanding.parse(text)
            except Exception:  # the NLU must never take the conversation down
                log.exception("understanding failed; going on without it")
        if nlu is not None and nlu.intent == "distress":
            distress = True
        try:
            skills = self.finder.find(text)
        except Exception:
            log.exception("skill finder failed; going on without it")
            skills = []
        return Understood(raw, text, nlu, skills, distress)

    def _intent(self, u: Understood) -> str | None:
        """The intent when the NLU is confident enough, else None."""
        if u.nlu is None or u.nlu.intent == "nlu_fallback":
            return None
        if u.nlu.confidence < self.settings.nlu_threshold:
            return None
        return u.nlu.intent

    # ------------------------------------------------------------------- dispatch

    async def _dispatch(self, turn: Turn, incoming: Incoming, u: Understood | None) -> None:
        """Route one input, then count it when the bot did not understand it."""
        own_wait = bool(turn.data.pop("own_wait", False))
        await self._route(turn, incoming, u, own_wait)
        if not turn.erased:
            self.help.count_stuck(turn)

    async def _route(
        self, turn: Turn, incoming: Incoming, u: Understood | None, own_wait: bool
    ) -> None:
        """Route one input by kind and state."""
        state = turn.state
        if incoming.kind == "unsupported":
            await self.store(turn, "unsupported", incoming.value[:64])
            self.help.not_understood(
                turn, "input.voice" if incoming.value == "voice" else "input.unsupported"
            )
            await self.show_where(turn)
            return
        if incoming.kind == "command":
            await self._command(turn, incoming.value.lstrip("/").strip().lower())
            return
        if incoming.kind == "button":
            await self._button(turn, incoming)
            return
        assert u is not None
        if not u.text:
            await self.store(turn, "text", storable(u.raw))
            if state.status == Status.NEW:
                await self.onboarding.start(turn)
                return
            self.say(turn, "input.empty")
            self.render_prompt(turn)
            return
        if len(u.raw) > self.settings.max_text_chars:
            self.say(turn, "input.too_long")
        if u.distress:
            await self.sessions.distress(turn, u)
            return
        if state.status in NOT_STARTED:
            command = COMMAND_WORDS.get(plain_words(u.text))
            if command is not None:  # "ask staff", "help": the command decides
                await self._command(turn, command)
                return
            await self.onboarding.start(turn)
            return
        if detect_low_mood(u.text) and not self._asks_feelings(turn):
            await self.store(turn, "text", storable(u.raw), intent="low_mood")
            self.say(turn, "mood.low")
            await self.show_where(turn)
            return
        words = plain_words(u.text)
        choice = self.label_choice(turn, words)
        if choice is not None:
            await self.store(turn, "text", storable(u.raw), choice=choice)
            await self.choose(turn, choice, u)
            return
        command = COMMAND_WORDS.get(words)
        intent = self._intent(u)
        if command is None and intent == "help":
            command = "help"
        if command is not None and not (
            command == "skip" and prompt_kind(turn.data) == PromptKind.QUESTION
        ):
            await self.store(turn, "text", storable(u.raw), intent=intent)
            await self._command(turn, command)
            return
        if (own_wait or own_skill_words(u.text)) and self.help.can_take_own_words(turn):
            await self.help.own_words(turn, u)
            return
        await self._text_answer(turn, u, intent)

    def _asks_feelings(self, turn: Turn) -> bool:
        """True when the waiting question is "how do you feel" (sad words answer it)."""
        spec = waiting(turn.data)
        return spec is not None and spec.feelings

    # ------------------------------------------------------------------- commands

    async def _command(self, turn: Turn, command: str) -> None:
        """An extension's command, or one of :data:`COMMAND_ACTIONS` (help, back, ...)."""
        state = turn.state
        name, _, args = command.partition(" ")
        extension = next((e for e in self.extensions if name in e.commands), None)
        if extension is not None and state.status not in NOT_STARTED:
            await extension.on_command(TurnContext(self, turn), name, args.strip())
            return
        action = COMMAND_ACTIONS.get(name)
        if state.status in NOT_STARTED and (action is None or action.before_consent is not None):
            if action is not None and action.before_consent:
                self.say(turn, action.before_consent)
                await self.show_where(turn)
            elif state.status == Status.NO_CONSENT:
                # the member said no: "stop" or "my skills" does not start it all again;
                # the answer stands, and "Try again" is one tap away
                await self.show_where(turn)
            else:
                await self.onboarding.start(turn)
            return
        if action is None:
            self.help.not_understood(turn, "input.not_understood")
            await self.show_where(turn)
            return
        await action.run(self, turn)
        if action.show_after:
            await self.show_where(turn)

    async def show_where(self, turn: Turn) -> None:
        """Show the prompt the member is on (or the right message when there is none)."""
        state = turn.state
        if state.status == Status.NEW:
            await self.onboarding.start(turn)
        elif state.status == Status.NO_CONSENT:
            self.say(turn, "onboarding.consent_no")
        elif state.status == Status.PAUSED:
            self.say(turn, "paused")
        elif state.status == Status.FINISHED:
            self.say(turn, "all.done")
            self.help.what_next(turn)
        elif turn.data.get("prompt"):
            self.render_prompt(turn)
        elif state.flow_id == ONBOARDING_FLOW and state.step_id:
            await self.onboarding.enter_step(turn, state.step_id)

    # -------------------------------------------------------------------- buttons

    async def _button(self, turn: Turn, incoming: Incoming) -> None:
        """A button press: stale ones get a kind note; current ones are answers."""
        state = turn.state
        if await self.help.go(turn, incoming.value):
            return
        extension = next((e for e in self.extensions if incoming.value.startswith(e.prefix)), None)
        if extension is not None and state.status not in NOT_STARTED:
            await self.store(turn, "button", incoming.value[:64], choice=incoming.value[:32])
            await extension.on_button(TurnContext(self, turn), incoming.value)
            return
        if state.status == Status.NEW:
            await self.onboarding.start(turn)
            return
        choices = prompt_choices(turn.data)
        stale = incoming.seq is not None and incoming.seq != state.seq
        if incoming.value == HEAR and not stale and self.hear(turn):
            return  # not an answer: nothing is stored and the prompt still waits
        if stale or incoming.value not in choices:
            await self.store(turn, "button", incoming.value[:64], choice="stale")
            self.say(turn, "input.old_button")
            await self.show_where(turn)
            return
        await self.store(turn, "button", incoming.value, choice=incoming.value)
        await self.choose(turn, incoming.value, None)

    async def choose(self, turn: Turn, choice: str, u: Understood | None) -> None:
        """Act on a chosen answer for whatever prompt is waiting."""
        spec = waiting(turn.data)
        if isinstance(spec, InterruptSpec):
            await spec.on_choice(self, turn, choice, u)
        elif turn.state.status != Status.ACTIVE and "own_return" not in turn.data:
            await self.show_where(turn)
        elif spec is not None:
            await spec.on_choice(self, turn, choice, u)
        elif turn.state.flow_id == ONBOARDING_FLOW:
            # A step with no buttons (the name): "skip" there asks again.
            await self.onboarding.choice(turn, choice)
        else:
            await self.show_where(turn)

    async def settings_choice(self, turn: Turn, choice: str) -> None:
        """A /settings button: turn one setting over and say so (the menu again), or done."""
        key = SETTINGS_TOGGLES.get(choice)
        if key is None:
            self.finish_interrupt(turn, show=False)
            await self.show_where(turn)
            return
        now_on = not preferences.get(turn, key)
        preferences.set_(turn, key, now_on)
        self.say(turn, PREFERENCE_SAID[key, now_on])
        spec = INTERRUPTS[Interrupt.SETTINGS]
        assert spec.buttons_for is not None
        self.prompt(turn, PromptKind.INTERRUPT, spec.key, spec.buttons_for(turn))

    # ----------------------------------------------------------------- typed text

    async def _text_answer(self, turn: Turn, u: Understood, intent: str | None) -> None:
        """Free text in any state: map it to a button, a skill, a wish, or ask kindly."""
        state = turn.state
        if state.status in (Status.PAUSED, Status.FINISHED) and "own_return" not in turn.data:
            await self.store(turn, "text", storable(u.raw), intent=intent)
            if state.status == Status.PAUSED and intent not in ("goodbye", "stop", "deny"):
                await self.sessions.start(turn)
            else:
                await self.show_where(turn)
            return
        spec = waiting(turn.data)
        if interrupt_of(turn.data) is None and await self.onboarding.typed(turn, u):
            return
        mapped = typed_choice(spec, u.text, intent)
        if isinstance(spec, PromptSpec) and spec.on_text is not None:
            answer_id = await self.store(
                turn, "text", storable(u.raw), choice=mapped, intent=intent
            )
            await spec.on_text(self, turn, u, intent, mapped, answer_id)
            return
        await self.store(turn, "text", storable(u.raw), choice=mapped, intent=intent)
        if mapped is not None:
            await self.choose(turn, mapped, u)
            return
        feelings = spec is not None and spec.feelings  # "stop" there is not a goodbye
        if intent in ("stop", "goodbye") and not feelings:
            await self.sessions.pause(turn, bye="paused")
            return
        self.help.not_understood(turn, "clarify.pick")
        self.render_prompt(turn)
