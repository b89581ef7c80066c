"""End to end on Telegram: a member stuck twice asks for a person; staff get the help alert.

The real ``skillspark run`` process against the loopback Bot API peer (as in
``tests/test_telegram_e2e.py``). Each step is a small helper so the steps can be
joined with other end-to-end journeys.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.content import Content
from tests.botapi_peer import BotApiPeer
from tests.test_telegram_e2e import BotProcess, content, onboard, say, start_bot, wait_polling

pytestmark = pytest.mark.slow

__all__ = ["content"]  # the module-scoped dialogues fixture, shared with the e2e suite

MEMBER_ID, STAFF_ID = 5105, 7101
NOT_UNDERSTOOD = "zzqx blorp"


@pytest.fixture
def peer() -> Iterator[BotApiPeer]:
    """A running Bot API peer."""
    with BotApiPeer() as running:
        yield running


def add_staff_member(tmp_path: Path, user_id: int, network: str = "default") -> None:
    """Put a staff member on the bot's database before it starts."""
    from bot.staff.roles import add_staff
    from storage.db import make_engine, make_sessionmaker, upgrade

    async def add() -> None:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'skillspark.db'}")
        try:
            await upgrade(engine)
            async with make_sessionmaker(engine).begin() as session:
                await add_staff(session, user_id, network, name="Jo", added_by="test")
        finally:
            await engine.dispose()

    asyncio.run(add())


def get_stuck_twice(peer: BotApiPeer, user: dict[str, Any], content: Content) -> dict[str, Any]:
    """Send two messages the bot does not understand; return the "Ask staff" offer.

    The offer returned is the second turn's (after its "sorry"): a voice note just
    before counts as not understood too, so the first turn may offer it already.
    """
    offer_text = say(content, "stuck.offer")
    sorry = say(content, "clarify.pick")
    chat = user["id"]
    mark = peer.mark()
    peer.text(user, NOT_UNDERSTOOD)
    peer.wait_text(chat, sorry, mark, timeout=60)
    peer.text(user, NOT_UNDERSTOOD)

    def second_turns_offer() -> dict[str, Any] | None:
        sent = peer.sent(chat, mark)
        sorries = [i for i, m in enumerate(sent) if m.get("text") == sorry]
        if len(sorries) < 2:
            return None
        return next((m for m in sent[sorries[1] :] if m.get("text") == offer_text), None)

    try:
        return peer.wait_for(second_turns_offer, 60, "the offer in the second turn")
    except AssertionError:
        print([m.get("text") for m in peer.sent(chat, 0)])
        raise


def ask_staff(
    peer: BotApiPeer, user: dict[str, Any], offer: dict[str, Any], content: Content
) -> None:
    """Tap "Ask staff" and wait for the member's easy-read answer."""
    mark = peer.mark()
    peer.tap_button(user, offer, "go:ask_staff")
    peer.wait_text(user["id"], say(content, "stuck.asked"), mark, timeout=60)


def staff_get_help_alert(peer: BotApiPeer, staff_id: int, member_name: str) -> str:
    """Wait for the help alert in the staff member's chat; return its text."""
    message = peer.wait_text(staff_id, "asked for help", timeout=60)
    text = str(message["text"])
    assert member_name in text
    return text


def test_a_stuck_member_asks_for_staff_and_staff_get_the_help_alert(
    peer: BotApiPeer, tmp_path: Path, content: Content
) -> None:
    """Stuck twice, "Ask staff", and the staff member's chat receives the help alert."""
    add_staff_member(tmp_path, STAFF_ID)
    dee = peer.user(MEMBER_ID, "Dee")
    peer.user(STAFF_ID, "Jo")
    bot: BotProcess = start_bot(peer, tmp_path, "help", SKILLSPARK_ALERT_SWEEP_SECONDS="1")
    try:
        wait_polling(peer, bot)
        onboard(peer, dee, "Dee", topic="food")
        offer = get_stuck_twice(peer, dee, content)
        ask_staff(peer, dee, offer, content)
        text = staff_get_help_alert(peer, STAFF_ID, "Dee")
        assert "safeguarding" not in text.lower()
        # marked delivered once sent (the mark follows the send: waited for, not raced)
        delivered = "SELECT kind, delivered_at IS NOT NULL FROM staff_alerts"
        peer.wait_for(lambda: bot.rows(delivered) == [("help", 1)] or None, 30, "marked sent")
    finally:
        assert bot.stop() == 0
    assert bot.rows("SELECT kind, delivered_at IS NOT NULL FROM staff_alerts") == [("help", 1)]
