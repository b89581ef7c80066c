"""The conversation engine: one deterministic walker over the flows in ``dialogues/``.

Channel-agnostic (no ``telegram`` import): a channel turns an update into an
:class:`~bot.types.Incoming`, calls :meth:`Engine.handle` and renders the
:class:`~bot.types.Reply` list. Every piece of conversation state lives in the
database (``conversation_states``); the same input in the same state gives the
same reply. Each call is one transaction: the answer, the new state and the
channel's dedup key are committed together, before any reply is sent.
"""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, timedelta
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.content import Content, Question, Step, Topic
from bot.mood import detect_low_mood
from bot.nlu.safety import detect_distress
from bot.settings import Settings
from bot.types import (
    Button,
    FoundSkill,
    Incoming,
    MemberKey,
    NluResult,
    Reply,
    SkillFinder,
    Understanding,
)
from storage import repo
from storage.models import ConversationState, Member, utcnow

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
    "topic.next_or_pause",
    "all.done",
    "all.thanks",
    "myskills.title",
    "myskills.none",
    "myskills.category",
    "myskills.skill",
    "myskills.wishes_title",
    "myskills.wish",
    "help.text",
    "back.first",
    "paused",
    "resume.welcome_back",
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
    "button.more",
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
)

QUESTION_BUTTONS = (
    ("yes", "button.yes"),
    ("a_bit", "button.a_bit"),
    ("no", "button.no"),
    ("learn", "button.learn"),
    ("skip", "button.skip"),
)
WISH_BUTTONS = tuple(b for b in QUESTION_BUTTONS if b[0] != "learn")
CONFIRM_BUTTONS = (
    ("skill_yes", "button.skill_yes"),
    ("skill_no", "button.skill_no"),
    ("skill_unsure", "button.skill_unsure"),
)
CONFIDENCE_BUTTONS = (
    ("feel_low", "button.feel_low"),
    ("feel_ok", "button.feel_ok"),
    ("feel_good", "button.feel_good"),
)
CONFIDENCE_VALUES = {"feel_low": 1, "feel_ok": 2, "feel_good": 3}
CONSENT_BUTTONS = (("yes", "button.consent_yes"), ("no", "button.consent_no"))
MORE_BUTTONS = (("more", "button.more"), ("pause", "button.pause"))
CARRY_ON_BUTTONS = (("carry_on", "button.carry_on"), ("pause", "button.pause"))
STOP_BUTTONS = (
    ("pause", "button.take_break"),
    ("forget", "button.delete_answers"),
    ("carry_on", "button.carry_on"),
)
FORGET_BUTTONS = (("forget_yes", "button.forget_yes"), ("forget_no", "button.forget_no"))

#: How an understood intent answers each kind of prompt.
INTENT_CHOICES: dict[str, dict[str, str]] = {
    "consent": {"affirm": "yes", "deny": "no"},
    "ok": {"affirm": "ok", "thanks": "ok", "greet": "ok"},
    "question": {"affirm": "yes", "deny": "no", "skip": "skip", "want_to_learn": "learn"},
    "confirm": {"affirm": "skill_yes", "deny": "skill_no", "unsure": "skill_unsure"},
    "more": {"affirm": "more", "deny": "pause", "goodbye": "pause"},
    "carry_on": {"affirm": "carry_on", "deny": "pause", "goodbye": "pause"},
    "confidence": {"unsure": "feel_low", "skip": "skip"},
}
#: Words that answer a confidence question when typed.
FEELING_WORDS = {
    "feel_good": ("good", "great", "happy", "brilliant", "proud", "confident", "amazing"),
    "feel_ok": ("ok", "okay", "fine", "alright", "all right", "not bad"),
    "feel_low": ("bad", "sad", "worried", "low", "unsure", "not good", "not great"),
}
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
    "forget me": "forget",
    "delete my answers": "forget",
    "delete my data": "forget",
}
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


class TurnContext:
    """What an engine extension may use during one turn (same transaction)."""

    def __init__(self, engine: Engine, turn: Turn) -> None:
        """Wrap one turn for an extension."""
        self._engine = engine
        self._turn = turn

    @property
    def session(self) -> AsyncSession:
        """The open database session (the turn's transaction)."""
        return self._turn.session

    @property
    def member(self) -> Member:
        """The member this turn is about."""
        return self._turn.member

    @property
    def consented(self) -> bool:
        """True once the member said yes to what is kept."""
        return self._turn.consented

    def text(self, key: str, **values: str) -> str:
        """A message in the member's language."""
        return self._engine._text(self._turn, key, **values)

    def say(self, key: str, **values: str) -> None:
        """Add a message without buttons."""
        self._engine._say(self._turn, key, **values)

    def reply(self, reply: Reply) -> None:
        """Add a message the extension composed itself (text from several message keys)."""
        self._turn.replies.append(reply)

    def offer(self, key: str, buttons: tuple[tuple[str, str], ...], **values: str) -> None:
        """Add a message with the extension's own buttons (choice ids carry its prefix).

        These buttons are not the member's current question: pressing one later is
        routed back to the extension, whatever question the member is on.
        """
        self.reply(
            Reply(
                key=key,
                text=self.text(key, **values),
                buttons=tuple(Button(c, self.text(label)) for c, label in buttons),
                seq=0,
            )
        )

    def offer_labels(self, key: str, buttons: tuple[tuple[str, str], ...], **values: str) -> None:
        """Like :meth:`offer`, with button labels already written (member's own words)."""
        self.reply(
            Reply(
                key=key,
                text=self.text(key, **values),
                buttons=tuple(Button(c, label) for c, label in buttons),
                seq=0,
            )
        )

    async def show_where(self) -> None:
        """Show the member's current question again (after the extension's reply)."""
        await self._engine._show_where(self._turn)


class Extension(Protocol):
    """A feature plugged into the engine: its own commands and button prefix."""

    @property
    def prefix(self) -> str:
        """Button choice ids starting with this prefix go to the extension."""
        ...

    @property
    def commands(self) -> tuple[str, ...]:
        """Command names (without a slash) the extension answers."""
        ...

    async def on_button(self, ctx: TurnContext, choice: str) -> None:
        """A press on one of the extension's buttons."""
        ...

    async def on_command(self, ctx: TurnContext, command: str, args: str) -> None:
        """One of the extension's commands, with whatever followed it."""
        ...


@dataclass
class Understood:
    """What the engine knows about a text message before opening a transaction."""

    raw: str
    text: str
    nlu: NluResult | None
    skills: list[FoundSkill]
    distress: bool


@dataclass
class Turn:
    """One unit of work: the member, their state and the replies so far."""

    session: AsyncSession
    member: Member
    state: ConversationState
    data: dict[str, Any]
    replies: list[Reply] = field(default_factory=list)
    erased: bool = False
    last_answer_id: int | None = None
    #: pictures to draw once the transaction is over: (index in replies, draw)
    drawings: list[tuple[int, Callable[[], bytes]]] = field(default_factory=list)

    @property
    def lang(self) -> str:
        """The member's language."""
        return self.member.language

    @property
    def consented(self) -> bool:
        """True once the member said yes to what is kept."""
        return bool(self.member.consent)


class Engine:
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
        self.sessionmaker = sessionmaker
        self.content = content
        self.understanding = understanding
        self.finder = finder
        self.settings = settings
        self.card_renderer = card_renderer
        self._pictures: ThreadPoolExecutor | None = None
        self.extensions = extensions
        self._locks: dict[str, asyncio.Lock] = {}
        self._recent_keys: dict[str, bool] = {}
        bind = sessionmaker.kw.get("bind")
        on_sqlite = bind is not None and bind.dialect.name == "sqlite"
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if on_sqlite else None

    # ------------------------------------------------------------------ public API

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
        async with self._writer(), self.sessionmaker.begin() as session:
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
            turn = Turn(session, db_member, state, dict(state.data or {}))
            await self._dispatch(turn, incoming, understood)
            if not turn.erased:
                now = utcnow()
                await repo.save_state(session, state, turn.data, now)
                last = db_member.last_active_at
                if last is not None and last.tzinfo is None:
                    last = last.replace(tzinfo=UTC)
                if last is None or now - last > timedelta(minutes=1):
                    db_member.last_active_at = now
        if dedup_key:
            self._remember_key(dedup_key)
        if turn.drawings:
            await self._draw_pictures(turn)
        return turn.replies

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

    # ------------------------------------------------------------ understanding

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

    # ------------------------------------------------------------------ rendering

    def _text(self, turn: Turn, key: str, **values: str) -> str:
        """A message in the member's language with placeholders filled."""
        values.setdefault("name", turn.member.first_name or turn.data.get("name", ""))
        values.setdefault("staff", self.settings.staff_contact)
        return self.content.text(key, turn.lang, **values)

    def _say(self, turn: Turn, key: str, **values: str) -> None:
        """Add a message without buttons."""
        turn.replies.append(Reply(key=key, text=self._text(turn, key, **values)))

    def _prompt(
        self,
        turn: Turn,
        kind: str,
        key: str,
        buttons: tuple[tuple[str, str], ...],
        **values: str,
    ) -> None:
        """Ask something with buttons; a new prompt number makes older buttons stale."""
        turn.state.seq += 1
        turn.data["prompt"] = {
            "kind": kind,
            "key": key,
            "values": values,
            "buttons": [list(b) for b in buttons],
        }
        self._render_prompt(turn)

    def _render_prompt(self, turn: Turn) -> None:
        """Show the current prompt again (same number, so its buttons still work)."""
        prompt = turn.data.get("prompt")
        if not prompt:
            return
        buttons = tuple(Button(c, self._text(turn, label)) for c, label in prompt["buttons"])
        turn.replies.append(
            Reply(
                key=prompt["key"],
                text=self._text(turn, prompt["key"], **prompt.get("values", {})),
                buttons=buttons,
                seq=turn.state.seq,
            )
        )

    def _prompt_kind(self, turn: Turn) -> str | None:
        """The kind of the prompt waiting for an answer."""
        prompt = turn.data.get("prompt")
        return str(prompt["kind"]) if prompt else None

    def _prompt_choices(self, turn: Turn) -> list[str]:
        """The button ids of the waiting prompt."""
        prompt = turn.data.get("prompt")
        return [str(c) for c, _ in prompt["buttons"]] if prompt else []

    def _question_id(self, turn: Turn) -> str:
        """The id stored with an answer: where the member is now."""
        interrupt = turn.data.get("interrupt")
        if interrupt:
            return f"{interrupt}"
        state = turn.state
        if state.phase == "confirm":
            return f"{state.flow_id}.{state.step_id}.confirm"
        if state.step_id:
            return f"{state.flow_id}.{state.step_id}"
        return state.flow_id

    # ------------------------------------------------------------------- dispatch

    async def _dispatch(self, turn: Turn, incoming: Incoming, u: Understood | None) -> None:
        """Route one input by kind and state."""
        state = turn.state
        if incoming.kind == "unsupported":
            await self._store(turn, "unsupported", incoming.value[:64])
            self._say(turn, "input.unsupported")
            await self._show_where(turn)
            return
        if incoming.kind == "command":
            await self._command(turn, incoming.value.lstrip("/").strip().lower())
            return
        if incoming.kind == "button":
            await self._button(turn, incoming)
            return
        assert u is not None
        if not u.text:
            await self._store(turn, "text", storable(u.raw))
            if state.status == "new":
                await self._start_onboarding(turn)
                return
            self._say(turn, "input.empty")
            self._render_prompt(turn)
            return
        if len(u.raw) > self.settings.max_text_chars:
            self._say(turn, "input.too_long")
        if u.distress:
            await self._distress(turn, u)
            return
        if state.status in ("new", "no_consent"):
            await self._start_onboarding(turn)
            return
        if detect_low_mood(u.text) and not self._asks_feelings(turn):
            await self._store(turn, "text", storable(u.raw), intent="low_mood")
            self._say(turn, "mood.low")
            await self._show_where(turn)
            return
        words = plain_words(u.text)
        choice = self._label_choice(turn, words)
        if choice is not None:
            await self._store(turn, "text", storable(u.raw), choice=choice)
            await self._choose(turn, choice, u)
            return
        command = COMMAND_WORDS.get(words)
        intent = self._intent(u)
        if command is None and intent == "help":
            command = "help"
        if command is not None and not (
            command == "skip" and self._prompt_kind(turn) == "question"
        ):
            await self._store(turn, "text", storable(u.raw), intent=intent)
            await self._command(turn, command)
            return
        await self._text_answer(turn, u, intent)

    def _asks_feelings(self, turn: Turn) -> bool:
        """True when the waiting question is "how do you feel" (sad words answer it)."""
        return self._prompt_kind(turn) in ("confidence", "final_rating") or turn.data.get(
            "interrupt"
        ) in ("confidence_start", "confidence_end")

    def _label_choice(self, turn: Turn, words: str) -> str | None:
        """The button whose label the member typed, if any (emoji and case ignored)."""
        prompt = turn.data.get("prompt")
        if not prompt or not words:
            return None
        for choice, label_key in prompt["buttons"]:
            if plain_words(self._text(turn, label_key)) == words:
                return str(choice)
        return None

    async def _store(
        self,
        turn: Turn,
        kind: str,
        text: str,
        *,
        choice: str | None = None,
        intent: str | None = None,
        question_id: str | None = None,
    ) -> int | None:
        """Keep an answer verbatim, but only once the member has consented."""
        if not turn.consented:
            return None
        answer_id = await repo.add_answer(
            turn.session,
            turn.member.id,
            question_id or self._question_id(turn),
            kind,
            text,
            choice=choice,
            intent=intent,
            max_chars=self.settings.max_text_chars,
        )
        turn.last_answer_id = answer_id
        return answer_id

    # ------------------------------------------------------------------- commands

    async def _command(self, turn: Turn, command: str) -> None:
        """Handle help, repeat, back, skip, pause, stop, resume, start and my skills."""
        state = turn.state
        name, _, args = command.partition(" ")
        extension = next((e for e in self.extensions if name in e.commands), None)
        if extension is not None and state.status not in ("new", "no_consent"):
            await extension.on_command(TurnContext(self, turn), name, args.strip())
            return
        command = name
        if command == "start":
            await self._start(turn)
        elif state.status in ("new", "no_consent") and command in ("mydata", "forget"):
            self._say(turn, "mydata.none" if command == "mydata" else "forget.nothing")
            await self._show_where(turn)
        elif state.status in ("new", "no_consent") and command != "help":
            await self._start_onboarding(turn)
        elif command == "help":
            self._say(turn, "help.text")
            await self._show_where(turn)
        elif command == "repeat":
            await self._show_where(turn)
        elif command == "pause":
            await self._pause(turn, bye="paused")
        elif command == "stop":
            if turn.consented and state.status == "active":
                self._interrupt(turn, "stop_menu", "stop.menu", STOP_BUTTONS)
            else:
                await self._pause(turn, bye="stop.bye")
        elif command == "mydata":
            await self._my_data(turn)
            await self._show_where(turn)
        elif command == "forget":
            await self._ask_forget(turn)
        elif command == "resume":
            await self._start(turn)
        elif command == "myskills":
            await self._my_skills(turn)
            await self._show_where(turn)
        elif command == "back":
            await self._back(turn)
        elif command == "skip":
            await self._choose(turn, "skip", None)
        else:
            self._say(turn, "input.not_understood")
            await self._show_where(turn)

    async def _start(self, turn: Turn) -> None:
        """Begin, or welcome a member back where they were."""
        state = turn.state
        if state.status in ("new", "no_consent"):
            await self._start_onboarding(turn)
            return
        if state.status == "paused" or self._session_expired(turn):
            state.status = "active" if state.status == "paused" else state.status
            state.session_no += 1
            self._say(turn, "resume.welcome_back")
            if turn.consented and state.status == "active":
                self._interrupt(turn, "confidence_start", "confidence.start", CONFIDENCE_BUTTONS)
                return
            await self._show_where(turn)
            return
        self._say(turn, "resume.welcome_back")
        await self._show_where(turn)

    def _session_expired(self, turn: Turn) -> bool:
        """True when the member has been away longer than one session."""
        last = turn.member.last_active_at
        if last is None:
            return False
        if last.tzinfo is None:  # SQLite hands back naive UTC times
            last = last.replace(tzinfo=UTC)
        return utcnow() - last > timedelta(hours=self.settings.session_gap_hours)

    async def _show_where(self, turn: Turn) -> None:
        """Show the prompt the member is on (or the right message when there is none)."""
        state = turn.state
        if state.status == "new":
            await self._start_onboarding(turn)
        elif state.status == "no_consent":
            self._say(turn, "onboarding.consent_no")
        elif state.status == "paused":
            self._say(turn, "paused")
        elif state.status == "finished":
            self._say(turn, "all.done")
        elif turn.data.get("prompt"):
            self._render_prompt(turn)
        elif state.flow_id == "onboarding" and state.step_id:
            await self._enter_step(turn, state.step_id)

    async def _pause(self, turn: Turn, *, bye: str) -> None:
        """Stop for now; ask how the member feels first when they have consented."""
        state = turn.state
        if state.status == "paused":
            self._say(turn, bye)
            return
        if (
            turn.consented
            and state.status == "active"
            and turn.data.get("interrupt") not in ("confidence_end", "confidence_start")
            and state.flow_id != "onboarding"
        ):
            turn.data["after_rating"] = bye
            self._interrupt(
                turn,
                "confidence_end",
                "confidence.end",
                (*CONFIDENCE_BUTTONS, ("skip", "button.skip")),
            )
            return
        self._finish_interrupt(turn, show=False)
        if state.status == "active":
            state.status = "paused"
        self._say(turn, bye)

    async def _back(self, turn: Turn) -> None:
        """Go back to the question before this one."""
        history: list[list[str]] = list(turn.data.get("history", []))
        state = turn.state
        if turn.data.get("interrupt") or state.flow_id == "onboarding" or state.status != "active":
            self._say(turn, "back.first")
            await self._show_where(turn)
            return
        current = [state.flow_id, state.step_id]
        if state.phase == "confirm" or state.phase == "topic_end":
            target = current if state.phase == "confirm" else (history[-1] if history else None)
        else:
            while history and history[-1] == current:
                history.pop()
            target = history[-1] if history else None
        if target is None or target[0] != state.flow_id:
            self._say(turn, "back.first")
            self._render_prompt(turn)
            return
        while history and history[-1] == target:
            history.pop()
        turn.data["history"] = history
        topic = self.content.topic(target[0])
        question = topic.question(target[1]) if topic else None
        if topic is None or question is None:
            self._render_prompt(turn)
            return
        turn.data.pop("pending", None)
        self._ask_question(turn, topic, question)

    # -------------------------------------------------------------------- buttons

    async def _button(self, turn: Turn, incoming: Incoming) -> None:
        """A button press: stale ones get a kind note; current ones are answers."""
        state = turn.state
        extension = next((e for e in self.extensions if incoming.value.startswith(e.prefix)), None)
        if extension is not None and state.status not in ("new", "no_consent"):
            await self._store(turn, "button", incoming.value[:64], choice=incoming.value[:32])
            await extension.on_button(TurnContext(self, turn), incoming.value)
            return
        if state.status == "new":
            await self._start_onboarding(turn)
            return
        choices = self._prompt_choices(turn)
        stale = incoming.seq is not None and incoming.seq != state.seq
        if stale or incoming.value not in choices:
            await self._store(turn, "button", incoming.value[:64], choice="stale")
            self._say(turn, "input.old_button")
            await self._show_where(turn)
            return
        await self._store(turn, "button", incoming.value, choice=incoming.value)
        await self._choose(turn, incoming.value, None)

    async def _choose(self, turn: Turn, choice: str, u: Understood | None) -> None:
        """Act on a chosen answer for whatever prompt is waiting."""
        interrupt = turn.data.get("interrupt")
        kind = self._prompt_kind(turn)
        state = turn.state
        if interrupt == "safety":
            if choice == "pause":
                # No "how do you feel" question straight after a worrying message.
                self._finish_interrupt(turn, show=False)
                if turn.state.status == "active":
                    turn.state.status = "paused"
                self._say(turn, "paused")
            else:
                self._finish_interrupt(turn, show=True)
            return
        if interrupt in ("confidence_start", "confidence_end"):
            await self._rating(turn, interrupt, choice)
            return
        if interrupt == "stop_menu":
            if choice == "forget":
                await self._ask_forget(turn)  # replaces this interrupt, same way back
            elif choice == "pause":
                self._finish_interrupt(turn, show=False)
                await self._pause(turn, bye="stop.bye")
            else:
                self._finish_interrupt(turn, show=True)
            return
        if interrupt == "forget_confirm":
            if choice == "forget_yes":
                await self._forget(turn)
            else:
                self._say(turn, "forget.kept")
                self._finish_interrupt(turn, show=True)
                if not turn.data.get("prompt"):
                    await self._show_where(turn)
            return
        if state.status != "active":
            await self._show_where(turn)
            return
        if state.flow_id == "onboarding":
            await self._onboarding_choice(turn, choice)
        elif kind == "question":
            await self._question_choice(turn, choice, u)
        elif kind == "confirm":
            await self._confirm_choice(turn, choice)
        elif kind == "more":
            if choice == "more":
                await self._next_topic(turn)
            else:
                await self._pause(turn, bye="paused")
        elif kind == "final_rating":
            await self._final_rating(turn, choice)
        else:
            await self._show_where(turn)

    # ------------------------------------------------------------------ interrupts

    def _interrupt(
        self, turn: Turn, kind: str, key: str, buttons: tuple[tuple[str, str], ...]
    ) -> None:
        """Ask something in between; the member returns to where they were after it."""
        if not turn.data.get("interrupt"):
            turn.data["saved_prompt"] = turn.data.get("prompt")
        turn.data["interrupt"] = kind
        self._prompt(turn, "interrupt", key, buttons)

    def _finish_interrupt(self, turn: Turn, *, show: bool) -> None:
        """Leave an interrupt and, when asked, show the member's question again."""
        if not turn.data.get("interrupt"):
            return
        turn.data.pop("interrupt", None)
        turn.data["prompt"] = turn.data.pop("saved_prompt", None)
        turn.state.seq += 1
        if show:
            self._render_prompt(turn)

    async def _rating(self, turn: Turn, moment: str, choice: str) -> None:
        """Keep a start or end-of-session confidence rating."""
        value = CONFIDENCE_VALUES.get(choice)
        if value is not None and turn.consented:
            await repo.add_rating(
                turn.session,
                turn.member.id,
                "start" if moment == "confidence_start" else "end",
                value,
                turn.state.session_no,
            )
        if value is not None:
            self._say(turn, "confidence.thanks")
        if moment == "confidence_end":
            bye = str(turn.data.pop("after_rating", "paused"))
            self._finish_interrupt(turn, show=False)
            turn.state.status = "paused"
            self._say(turn, bye)
            return
        self._finish_interrupt(turn, show=True)
        if not turn.data.get("prompt"):
            await self._show_where(turn)

    async def _distress(self, turn: Turn, u: Understood) -> None:
        """Stop the flow, answer with warmth and help, and queue an alert for staff."""
        await self._store(turn, "text", storable(u.raw), intent="distress")
        await repo.add_staff_alert(turn.session, "distress", turn.member, storable(u.raw))
        log.warning("safety alert queued for member %s", turn.member.id)
        self._say(turn, "safety.distress")
        if turn.state.status in ("new", "no_consent", "paused", "finished"):
            return
        self._interrupt(turn, "safety", "safety.carry_on", CARRY_ON_BUTTONS)

    # ------------------------------------------------------------------ onboarding

    async def _start_onboarding(self, turn: Turn) -> None:
        """Start (or restart) onboarding from the first step."""
        state = turn.state
        state.status = "active"
        state.flow_id = "onboarding"
        state.phase = "step"
        turn.data = {}
        await self._enter_step(turn, self.content.onboarding_start)

    async def _enter_step(self, turn: Turn, step_id: str) -> None:
        """Walk onboarding steps from ``step_id`` until one waits for the member."""
        for _ in range(len(self.content.onboarding) + 1):
            if step_id.startswith("@"):
                await self._action(turn, step_id)
                return
            step = self.content.onboarding[step_id]
            turn.state.flow_id = "onboarding"
            turn.state.step_id = step.id
            turn.state.phase = "step"
            if step.type == "say":
                self._say(turn, step.text)
                step_id = step.next
                continue
            self._ask_step(turn, step)
            return

    def _ask_step(self, turn: Turn, step: Step) -> None:
        """Ask one onboarding step that waits for an answer."""
        if step.type == "ask_name":
            turn.data.pop("prompt", None)
            turn.state.seq += 1
            self._say(turn, step.text)
        elif step.type == "consent":
            self._prompt(turn, "consent", step.text, CONSENT_BUTTONS)
        elif step.type == "confidence":
            self._prompt(turn, "confidence", step.text, CONFIDENCE_BUTTONS)
        else:
            self._prompt(turn, "ok", step.text, tuple((b.choice, b.label) for b in step.buttons))

    async def _action(self, turn: Turn, action: str) -> None:
        """Run a flow action (``@topics``, ``@end_no_consent``)."""
        if action == "@topics":
            await self._next_topic(turn)
        elif action == "@end_no_consent":
            turn.state.status = "no_consent"
            turn.data = {}
            self._say(turn, "onboarding.consent_no")

    async def _onboarding_choice(self, turn: Turn, choice: str) -> None:
        """An answer to a consent, confidence or OK step."""
        step = self.content.onboarding.get(turn.state.step_id)
        if step is None:
            await self._start_onboarding(turn)
            return
        if step.type == "consent":
            await self._consent(turn, step, choice == "yes")
        elif step.type == "confidence":
            value = CONFIDENCE_VALUES.get(choice)
            if value is not None and turn.consented:
                await repo.add_rating(
                    turn.session, turn.member.id, "start", value, turn.state.session_no
                )
                self._say(turn, "confidence.thanks")
            await self._enter_step(turn, step.next)
        elif step.type == "choice":
            target = next((b.next for b in step.buttons if b.choice == choice), None)
            if target is None:
                self._render_prompt(turn)
                return
            await self._enter_step(turn, target)
        else:
            self._render_prompt(turn)

    async def _consent(self, turn: Turn, step: Step, yes: bool) -> None:
        """Record consent (or its refusal) with the time; only then keep the name."""
        member = turn.member
        member.consent = yes
        member.consent_at = utcnow()
        await repo.add_answer(
            turn.session,
            member.id,
            "onboarding.consent",
            "button",
            "yes" if yes else "no",
            choice="yes" if yes else "no",
        )
        await repo.audit(
            turn.session, "member", "consent_given" if yes else "consent_refused", member.id
        )
        if yes:
            member.first_name = str(turn.data.get("name", ""))[:64] or member.first_name
            await self._enter_step(turn, step.yes)
        else:
            member.first_name = None
            await repo.forget_pre_consent(turn.session, member.id)
            await self._enter_step(turn, step.no)

    async def _name(self, turn: Turn, u: Understood) -> None:
        """Take the first name the member typed, or kindly ask again."""
        step = self.content.onboarding[turn.state.step_id]
        name = extract_name(u.text)
        if name is None:
            self._say(turn, step.retry or step.text)
            return
        turn.data["name"] = name
        if turn.consented:
            turn.member.first_name = name
        await self._enter_step(turn, step.next)

    # ---------------------------------------------------------------------- topics

    async def _next_topic(self, turn: Turn) -> None:
        """Start the next topic not yet done, or finish."""
        done: list[str] = list(turn.data.get("topics_done", []))
        topic = next((t for t in self.content.topics if t.id not in done), None)
        if topic is None:
            turn.state.flow_id = "end"
            turn.state.step_id = ""
            turn.state.phase = "final_rating"
            self._prompt(
                turn,
                "final_rating",
                "confidence.end",
                (*CONFIDENCE_BUTTONS, ("skip", "button.skip")),
            )
            return
        self._say(turn, topic.intro)
        self._ask_question(turn, topic, topic.questions[0])

    def _ask_question(self, turn: Turn, topic: Topic, question: Question) -> None:
        """Ask one topic question with the standard buttons."""
        state = turn.state
        state.flow_id = topic.id
        state.step_id = question.id
        state.phase = "question"
        history: list[list[str]] = list(turn.data.get("history", []))
        if not history or history[-1] != [topic.id, question.id]:
            history.append([topic.id, question.id])
        turn.data["history"] = history[-100:]
        buttons = WISH_BUTTONS if topic.wishes else QUESTION_BUTTONS
        self._prompt(turn, "question", question.text, buttons)

    def _current_question(self, turn: Turn) -> tuple[Topic, Question] | None:
        """The topic and question the member is on."""
        topic = self.content.topic(turn.state.flow_id)
        question = topic.question(turn.state.step_id) if topic else None
        if topic is None or question is None:
            return None
        return topic, question

    async def _advance(self, turn: Turn) -> None:
        """Go to the next question, or close the topic."""
        current = self._current_question(turn)
        turn.data.pop("pending", None)
        if current is None:
            await self._next_topic(turn)
            return
        topic, question = current
        index = topic.questions.index(question)
        if index + 1 < len(topic.questions):
            self._ask_question(turn, topic, topic.questions[index + 1])
            return
        done = list(turn.data.get("topics_done", []))
        if topic.id not in done:
            done.append(topic.id)
        turn.data["topics_done"] = done
        self._say(turn, "topic.done", topic=self._text(turn, topic.title))
        if len(done) >= len(self.content.topics):
            await self._next_topic(turn)
            return
        turn.state.phase = "topic_end"
        self._prompt(turn, "more", "topic.next_or_pause", MORE_BUTTONS)

    async def _question_choice(self, turn: Turn, choice: str, u: Understood | None) -> None:
        """Yes / A bit / No / I want to learn / Skip for a topic question."""
        current = self._current_question(turn)
        if current is None:
            await self._next_topic(turn)
            return
        topic, question = current
        answer_id = turn.last_answer_id
        if topic.wishes and choice in ("yes", "a_bit", "learn"):
            if question.reflect:
                self._say(turn, question.reflect)
            await self._learning_wish(turn, question, u, answer_id)
            self._say(turn, "learn.saved")
            await self._advance(turn)
        elif choice in ("yes", "a_bit"):
            statuses = await repo.skill_statuses(turn.session, turn.member.id)
            pending = [
                s for s in question.skills if statuses.get(s) not in ("confirmed", "declined")
            ]
            extra = [
                f.skill
                for f in (u.skills if u else [])
                if not f.learning_wish
                and f.skill not in pending
                and statuses.get(f.skill) not in ("confirmed", "declined")
            ]
            items = [
                {
                    "skill": s,
                    "key": "skill.is_that_right" if i == 0 and question.reflect else "skill.also",
                    "source": "question",
                }
                for i, s in enumerate(pending)
            ]
            items += [
                {"skill": s, "key": "skill.also" if items else "skill.found", "source": "finder"}
                for s in extra
            ]
            if not items:
                self._say(turn, "answer.thanks_text")
                await self._advance(turn)
                return
            if question.reflect and pending and pending[0] == question.skills[0]:
                self._say(turn, question.reflect)
            elif items[0]["key"] == "skill.is_that_right":
                items[0]["key"] = "skill.found"
            await self._propose(turn, items, answer_id)
        elif choice == "no":
            self._say(turn, "answer.no_thanks")
            await self._advance(turn)
        elif choice == "learn":
            await self._learning_wish(turn, question, u, answer_id)
            self._say(turn, "learn.saved")
            await self._advance(turn)
        else:
            self._say(turn, "answer.skipped")
            await self._advance(turn)

    async def _learning_wish(
        self, turn: Turn, question: Question | None, u: Understood | None, answer_id: int | None
    ) -> None:
        """Keep what the member would like to learn: from their words or the question."""
        wishes = [f for f in (u.skills if u else []) if f.learning_wish]
        if wishes:
            for found in wishes:
                await repo.add_wish(
                    turn.session,
                    turn.member.id,
                    label=found.label,
                    skill_id=found.skill,
                    answer_id=answer_id,
                )
            return
        entity = None
        if u and u.nlu:
            entity = next((e.value for e in u.nlu.entities if e.entity == "activity"), None)
        if entity:
            await repo.add_wish(
                turn.session, turn.member.id, label=entity, skill_id=None, answer_id=answer_id
            )
            return
        if question and question.skills:
            info = self.content.taxonomy.get(question.skills[0])
            if info is not None:
                await repo.add_wish(
                    turn.session,
                    turn.member.id,
                    label=info.label,
                    skill_id=info.id,
                    answer_id=answer_id,
                )
                return
        if u and u.text:
            await repo.add_wish(
                turn.session, turn.member.id, label=u.text, skill_id=None, answer_id=answer_id
            )

    async def _text_answer(self, turn: Turn, u: Understood, intent: str | None) -> None:
        """Free text in any state: map it to a button, a skill, a wish, or ask kindly."""
        state = turn.state
        kind = self._prompt_kind(turn)
        if state.status in ("paused", "finished"):
            await self._store(turn, "text", storable(u.raw), intent=intent)
            if state.status == "paused" and intent not in ("goodbye", "stop", "deny"):
                await self._start(turn)
            else:
                await self._show_where(turn)
            return
        if state.flow_id == "onboarding" and state.step_id:
            step = self.content.onboarding.get(state.step_id)
            if step is not None and step.type == "ask_name" and not turn.data.get("interrupt"):
                await self._name(turn, u)
                return
        if (
            kind == "confidence"
            or turn.data.get("interrupt")
            in (
                "confidence_start",
                "confidence_end",
            )
            or kind == "final_rating"
        ):
            choice = self._feeling(u, intent)
            await self._store(turn, "text", storable(u.raw), choice=choice, intent=intent)
            if choice is None:
                self._say(turn, "clarify.pick")
                self._render_prompt(turn)
                return
            await self._choose(turn, choice, u)
            return
        mapped = INTENT_CHOICES.get(kind or "", {}).get(intent or "")
        interrupt = turn.data.get("interrupt")
        if interrupt == "safety":
            mapped = INTENT_CHOICES["carry_on"].get(intent or "")
        elif interrupt == "forget_confirm":
            mapped = {"affirm": "forget_yes", "deny": "forget_no"}.get(intent or "")
        elif interrupt == "stop_menu":
            mapped = {"deny": "carry_on", "affirm": "pause"}.get(intent or "")
        if kind == "question":
            answer_id = await self._store(
                turn, "text", storable(u.raw), choice=mapped, intent=intent
            )
            await self._question_text(turn, u, intent, mapped, answer_id)
            return
        await self._store(turn, "text", storable(u.raw), choice=mapped, intent=intent)
        if mapped is not None:
            await self._choose(turn, mapped, u)
            return
        if intent == "stop" or intent == "goodbye":
            await self._pause(turn, bye="paused")
            return
        self._say(turn, "clarify.pick")
        self._render_prompt(turn)

    def _feeling(self, u: Understood, intent: str | None) -> str | None:
        """A confidence rating from typed words ("good", "ok", "worried")."""
        words = f" {plain_words(u.text)} "
        for choice in ("feel_low", "feel_good", "feel_ok"):
            if any(f" {w} " in words for w in FEELING_WORDS[choice]):
                return choice
        if "🙂" in u.text:
            return "feel_ok"
        if "😀" in u.text or "😃" in u.text or "😊" in u.text:
            return "feel_good"
        if "😟" in u.text or "😢" in u.text:
            return "feel_low"
        return INTENT_CHOICES["confidence"].get(intent or "")

    async def _question_text(
        self,
        turn: Turn,
        u: Understood,
        intent: str | None,
        mapped: str | None,
        answer_id: int | None,
    ) -> None:
        """Free text answering a topic question."""
        if mapped in ("no", "skip"):
            await self._question_choice(turn, mapped, u)
            return
        current = self._current_question(turn)
        if mapped == "learn" or any(f.learning_wish for f in u.skills):
            await self._learning_wish(turn, current[1] if current else None, u, answer_id)
            self._say(turn, "learn.saved")
            await self._advance(turn)
            return
        if mapped == "yes":
            await self._question_choice(turn, "yes", u)
            return
        statuses = await repo.skill_statuses(turn.session, turn.member.id)
        found = [
            f.skill
            for f in u.skills
            if not f.learning_wish and statuses.get(f.skill) not in ("confirmed", "declined")
        ]
        if found:
            items = [
                {"skill": s, "key": "skill.found" if i == 0 else "skill.also", "source": "finder"}
                for i, s in enumerate(dict.fromkeys(found))
            ]
            await self._propose(turn, items, answer_id)
            return
        if intent == "tell_activity" or (u.skills and not found):
            self._say(turn, "answer.thanks_text")
            await self._advance(turn)
            return
        if intent in ("stop", "goodbye"):
            await self._pause(turn, bye="paused")
            return
        self._say(turn, "clarify.pick")
        self._render_prompt(turn)

    # -------------------------------------------------------------- confirmations

    async def _propose(
        self, turn: Turn, items: list[dict[str, str]], answer_id: int | None
    ) -> None:
        """Start asking the member to confirm each proposed skill in turn."""
        for item in items:
            info = self.content.taxonomy.get(item["skill"])
            if info is None:
                continue
            if turn.consented:
                await repo.set_skill(
                    turn.session,
                    turn.member.id,
                    skill_id=info.id,
                    category=info.category,
                    label=info.label,
                    status="suggested",
                    source=item["source"],
                    evidence_answer_id=answer_id,
                )
        turn.data["pending"] = [i for i in items if self.content.taxonomy.get(i["skill"])]
        turn.data["pending_answer"] = answer_id
        await self._ask_pending(turn)

    async def _ask_pending(self, turn: Turn) -> None:
        """Ask about the next pending skill, or move on when none is left."""
        pending: list[dict[str, str]] = list(turn.data.get("pending", []))
        if not pending:
            turn.data.pop("pending_answer", None)
            await self._advance(turn)
            return
        item = pending[0]
        info = self.content.taxonomy.get(item["skill"])
        if info is None:
            turn.data["pending"] = pending[1:]
            await self._ask_pending(turn)
            return
        turn.state.phase = "confirm"
        self._prompt(
            turn, "confirm", item["key"], CONFIRM_BUTTONS, label=info.label, emoji=info.emoji
        )

    async def _confirm_choice(self, turn: Turn, choice: str) -> None:
        """The member's word on one proposed skill: all answers are kept."""
        pending: list[dict[str, str]] = list(turn.data.get("pending", []))
        if not pending:
            await self._advance(turn)
            return
        item = pending.pop(0)
        turn.data["pending"] = pending
        info = self.content.taxonomy.get(item["skill"])
        if choice == "skip":
            self._say(turn, "answer.skipped")
            await self._ask_pending(turn)
            return
        status = {"skill_yes": "confirmed", "skill_no": "declined"}.get(choice, "unsure")
        if info is not None and turn.consented:
            await repo.set_skill(
                turn.session,
                turn.member.id,
                skill_id=info.id,
                category=info.category,
                label=info.label,
                status=status,
                source=item["source"],
                evidence_answer_id=turn.data.get("pending_answer"),
            )
        self._say(
            turn,
            {"confirmed": "skill.confirmed", "declined": "skill.declined"}.get(
                status, "skill.unsure"
            ),
        )
        await self._ask_pending(turn)

    async def _final_rating(self, turn: Turn, choice: str) -> None:
        """The last confidence check after every topic, then a summary."""
        value = CONFIDENCE_VALUES.get(choice)
        if value is not None and turn.consented:
            await repo.add_rating(turn.session, turn.member.id, "end", value, turn.state.session_no)
            self._say(turn, "confidence.thanks")
        turn.state.status = "finished"
        turn.data.pop("prompt", None)
        self._say(turn, "all.done")
        await self._my_skills(turn)
        self._say(turn, "all.thanks")

    # ----------------------------------------------------------------- data rights

    async def _ask_forget(self, turn: Turn) -> None:
        """Ask the member to confirm that everything should be deleted."""
        if not turn.consented:
            self._say(turn, "forget.nothing")
            await self._show_where(turn)
            return
        self._interrupt(turn, "forget_confirm", "forget.confirm", FORGET_BUTTONS)

    async def _forget(self, turn: Turn) -> None:
        """Erase everything about the member; staff are told; a tombstone stays."""
        member_id = await repo.erase_member(turn.session, turn.member, asked_by="member")
        log.info("member %s erased their data", member_id)
        turn.erased = True
        turn.data = {}
        self._say(turn, "forget.done")

    async def _my_data(self, turn: Turn) -> None:
        """Show the member what is kept about them, in easy-read and as a file."""
        if not turn.consented:
            self._say(turn, "mydata.none")
            return
        import json

        data = await repo.member_data(turn.session, turn.member)
        for extension in self.extensions:
            # An extension that keeps member data of its own adds it to the file.
            collect = getattr(extension, "member_data", None)
            if collect is not None:
                data.update(await collect(turn.session, turn.member.id))
        lines = [
            self._text(turn, "mydata.title"),
            self._text(turn, "mydata.answers", count=str(len(data["answers"]))),
            self._text(turn, "mydata.skills", count=str(len(data["skills"]))),
            self._text(turn, "mydata.wishes", count=str(len(data["learning_wishes"]))),
            self._text(turn, "mydata.ratings", count=str(len(data["confidence_ratings"]))),
            self._text(turn, "mydata.file"),
        ]
        content = json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")
        turn.replies.append(
            Reply(
                key="mydata", text="\n".join(lines), document=("my-skillspark-data.json", content)
            )
        )
        self._my_data_page(turn, data)

    def _my_data_page(self, turn: Turn, data: dict[str, Any]) -> None:
        """The same data as an easy-read PDF page, made after the transaction in a thread."""
        from bot.mydata_pdf import member_data_pdf, question_texts

        content, lang = self.content, turn.lang
        questions = question_texts(content.topics)

        def text(key: str, **values: str) -> str:
            return content.text(key, lang, **values) if content.has(key, lang) else ""

        turn.drawings.append((len(turn.replies), lambda: member_data_pdf(data, text, questions)))
        caption = self._text(turn, "mydata_pdf.file")
        turn.replies.append(
            Reply(key="mydata_pdf", text=caption, document=("my-skillspark-data.pdf", b""))
        )

    # -------------------------------------------------------------------- profile

    async def _my_skills(self, turn: Turn) -> None:
        """Show confirmed skills by category, learning wishes, and a picture card."""
        profile = await repo.load_profile(turn.session, turn.member)
        lines = [self._text(turn, "myskills.title")]
        if not profile.skills:
            lines.append(self._text(turn, "myskills.none"))
        by_category: dict[str, list[tuple[str, str]]] = {}
        for skill_id, category, label in profile.skills:
            by_category.setdefault(category, []).append((skill_id, label))
        for category, skills in by_category.items():
            cat_label, cat_emoji = self.content.taxonomy.categories.get(category, (category, "⭐"))
            lines.append("")
            lines.append(self._text(turn, "myskills.category", category=cat_label, emoji=cat_emoji))
            for skill_id, label in skills:
                if label == cat_label and len(skills) == 1:
                    continue  # the heading already says it
                info = self.content.taxonomy.get(skill_id)
                lines.append(
                    self._text(
                        turn, "myskills.skill", label=label, emoji=info.emoji if info else "⭐"
                    )
                )
        if profile.wishes:
            lines.append("")
            lines.append(self._text(turn, "myskills.wishes_title"))
            for _, label in profile.wishes:
                lines.append(self._text(turn, "myskills.wish", label=label))
        buttons: tuple[Button, ...] = ()
        if profile.skills and any(e.prefix == "rm:" for e in self.extensions):
            buttons = (Button("rm:list", self._text(turn, "button.remove_skill")),)
        renderer = self.card_renderer
        if renderer is not None and profile.skills:
            name = profile.first_name or str(turn.data.get("name", ""))
            card_skills = list(profile.skills)
            card_wishes = [label for _, label in profile.wishes]
            turn.drawings.append(  # drawn after the transaction, off the event loop
                (len(turn.replies), lambda: renderer(name, card_skills, card_wishes))
            )
        turn.replies.append(Reply(key="myskills", text="\n".join(lines), buttons=buttons, seq=0))
