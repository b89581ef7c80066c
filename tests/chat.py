"""A small driver that plays a member against the real engine (tests only)."""

from __future__ import annotations

from datetime import timedelta

from bot.engine import Engine
from bot.types import Incoming, MemberKey, Reply
from storage import repo
from storage.models import utcnow

#: What saying yes means, said one idea a message between the name and the consent question.
CONSENT_EXPLAINED: tuple[str, ...] = (
    "onboarding.consent_kept",
    "onboarding.consent_worries",
    "onboarding.consent_nudges",
    "onboarding.consent_share",
    "onboarding.consent_swaps",
    "onboarding.consent_how_long",
    "onboarding.consent_choice",
)


class Chat:
    """Sends what a member would send and remembers what the bot said."""

    def __init__(self, engine: Engine, member_id: str = "t1", channel: str = "local") -> None:
        """Talk to ``engine`` as one member."""
        self.engine = engine
        self.member = MemberKey(channel, member_id)  # type: ignore[arg-type]
        self.last: list[Reply] = []
        self.seq: int | None = None
        self.transcript: list[tuple[str, str]] = []

    async def _send(self, incoming: Incoming, dedup_key: str | None = None) -> list[Reply]:
        """Send one input and keep the replies."""
        self.transcript.append(("member", f"{incoming.kind}:{incoming.value}"))
        self.last = await self.engine.handle(self.member, incoming, dedup_key=dedup_key)
        for reply in self.last:
            self.transcript.append(("bot", reply.key))
            if reply.buttons:
                self.seq = reply.seq
        return self.last

    async def say(self, text: str, dedup_key: str | None = None) -> list[Reply]:
        """Type some text."""
        return await self._send(Incoming("text", text), dedup_key)

    async def press(self, choice: str, seq: int | None = None) -> list[Reply]:
        """Press a button of the latest prompt (or of an older one, with ``seq``)."""
        return await self._send(Incoming("button", choice, self.seq if seq is None else seq))

    async def cmd(self, name: str) -> list[Reply]:
        """Send a command (start, help, pause, ...)."""
        return await self._send(Incoming("command", name))

    async def other(self, what: str) -> list[Reply]:
        """Send something that is not text (a sticker, a photo)."""
        return await self._send(Incoming("unsupported", what))

    async def away(self, minutes: float) -> None:
        """The member was away this long: their last message and their break's rating."""
        before = utcnow() - timedelta(minutes=minutes)
        async with self.engine.sessionmaker.begin() as session:
            member = await repo.find_member(session, self.member.channel, self.member.external_id)
            assert member is not None
            member.last_active_at = before
            state = await repo.load_state(session, member.id)
            if "rated_at_break" in (state.data or {}):
                state.data = {**state.data, "rated_at_break": before.isoformat()}

    @property
    def keys(self) -> list[str]:
        """The message keys of the latest replies."""
        return [r.key for r in self.last]

    @property
    def choices(self) -> list[str]:
        """The button ids offered in the latest replies."""
        return [b.choice for r in self.last for b in r.buttons]

    async def to_consent(self, name: str = "Sam", read: str = "read_myself") -> None:
        """Start, answer "Shall I read my messages to you?" with ``read``, give the name."""
        await self.cmd("start")
        await self.press(read)
        await self.say(name)

    async def onboard(self, name: str = "Sam", topic: str | None = "food") -> None:
        """Go through onboarding with consent, then choose ``topic`` (its first question).

        ``topic=None`` stops at the topic choice.
        """
        await self.to_consent(name)
        await self.press("yes")
        await self.press("ok")
        await self.press("ok")
        await self.press("feel_ok")
        if topic is not None:
            await self.pick(topic)

    async def pick(self, topic: str) -> list[Reply]:
        """Choose a topic at the topic choice, pressing "Something else" until it shows."""
        for _ in range(len(self.engine.content.topics)):
            if f"topic:{topic}" in self.choices:
                return await self.press(f"topic:{topic}")
            if "more" not in self.choices:
                break
            await self.press("more")
        raise AssertionError(f"topic {topic!r} is not offered: {self.choices}")
