"""Unit tests of the Telegram channel's pure parts: routing, rendering, lanes, log masking."""

from __future__ import annotations

import asyncio
import io
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml
from telegram import Bot, Update

from bot.easyread import check_text
from bot.logs import protect_logs
from bot.telegram.app import api_base_urls, command_menus
from bot.telegram.channel import TELEGRAM_KEYS
from bot.telegram.lanes import Lanes
from bot.telegram.render import decode_callback, encode_callback, keyboard, split_text
from bot.telegram.routing import GroupChat, Ignore, ToEngine, route_update
from bot.types import Button, Incoming, MemberKey

ROOT = Path(__file__).resolve().parent.parent
TELEGRAM_YML = ROOT / "dialogues" / "en" / "telegram.yml"
BOT = Bot("123:abc")
USER = {"id": 42, "is_bot": False, "first_name": "Ana"}
PRIVATE = {"id": 42, "type": "private", "first_name": "Ana"}
GROUP = {"id": -100, "type": "group", "title": "House"}


def update(**content: Any) -> Update:
    """An update from JSON as Telegram would send it."""
    data = {"update_id": 1, **content}
    result = Update.de_json(data, BOT)
    assert result is not None
    return result


def message(chat: dict[str, Any] = PRIVATE, **content: Any) -> dict[str, Any]:
    """A message JSON from Ana."""
    return {"message_id": 5, "date": 1, "chat": chat, "from": USER, **content}


# ------------------------------------------------------------------- routing


def test_text_goes_to_the_engine_as_the_member() -> None:
    route = route_update(update(message=message(text="I make tea")))
    assert route == ToEngine(42, MemberKey("telegram", "42", "Ana"), Incoming("text", "I make tea"))


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("/start", "start"),
        ("/Start@SkillSparkTestBot", "start"),
        ("/start abc123", "start"),
        ("/myskills", "myskills"),
        ("/dance", "dance"),
    ],
)
def test_commands_lose_the_slash_mention_and_payload(text: str, command: str) -> None:
    route = route_update(update(message=message(text=text)), "SkillSparkTestBot")
    assert isinstance(route, ToEngine)
    assert route.incoming == Incoming("command", command)


@pytest.mark.parametrize("text", ["/", "/ hello", "/start@OtherBot"])
def test_things_that_are_not_our_commands_stay_text(text: str) -> None:
    route = route_update(update(message=message(text=text)), "SkillSparkTestBot")
    assert isinstance(route, ToEngine)
    assert route.incoming == Incoming("text", text)


@pytest.mark.parametrize(
    ("field", "payload", "kind"),
    [
        ("sticker", {"file_id": "s", "file_unique_id": "s", "type": "regular", "width": 1,
                     "height": 1, "is_animated": False, "is_video": False}, "sticker"),
        ("photo", [{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}], "photo"),
        ("voice", {"file_id": "v", "file_unique_id": "v", "duration": 3}, "voice"),
        ("video", {"file_id": "v", "file_unique_id": "v", "width": 1, "height": 1,
                   "duration": 3}, "video"),
        ("video_note", {"file_id": "v", "file_unique_id": "v", "length": 1, "duration": 3},
         "video_note"),
        ("location", {"latitude": 51.5, "longitude": -0.1}, "location"),
        ("contact", {"phone_number": "+44 7700 900000", "first_name": "Bo"}, "contact"),
        ("document", {"file_id": "d", "file_unique_id": "d"}, "document"),
        ("poll", {"id": "1", "question": "Tea?", "options": [], "total_voter_count": 0,
                  "is_closed": False, "is_anonymous": True, "type": "regular",
                  "allows_multiple_answers": False, "allows_revoting": False,
                  "members_only": False}, "poll"),
        ("audio", {"file_id": "a", "file_unique_id": "a", "duration": 3}, "audio"),
    ],
)  # fmt: skip
def test_things_that_are_not_text_are_named_for_the_engine(
    field: str, payload: Any, kind: str
) -> None:
    route = route_update(update(message=message(**{field: payload})))
    assert isinstance(route, ToEngine)
    assert route.incoming == Incoming("unsupported", kind)


def test_an_animation_is_an_animation_not_a_document() -> None:
    gif = {"file_id": "g", "file_unique_id": "g", "width": 1, "height": 1, "duration": 1}
    route = route_update(update(message=message(animation=gif, document=gif)))
    assert isinstance(route, ToEngine)
    assert route.incoming == Incoming("unsupported", "animation")


def test_edited_messages_and_service_messages_are_ignored() -> None:
    assert route_update(update(edited_message={**message(text="hi"), "edit_date": 2})) == Ignore()
    assert route_update(update(message=message(pinned_message=message(text="x")))) == Ignore()


def test_group_messages_and_being_added_to_a_group_are_group_chat() -> None:
    assert route_update(update(message=message(chat=GROUP, text="hi"))) == GroupChat(-100)
    bot_user = {"id": 9, "is_bot": True, "first_name": "SkillSpark"}
    added = {
        "chat": GROUP,
        "from": USER,
        "date": 1,
        "old_chat_member": {"status": "left", "user": bot_user},
        "new_chat_member": {"status": "member", "user": bot_user},
    }
    assert route_update(update(my_chat_member=added)) == GroupChat(-100)
    removed = {**added, "new_chat_member": {"status": "left", "user": bot_user}}
    assert route_update(update(my_chat_member=removed)) == Ignore()


def test_a_button_press_carries_the_prompt_number_and_choice() -> None:
    query = {
        "id": "q1",
        "from": USER,
        "chat_instance": "c",
        "message": message(text="Tea?"),
        "data": "7:yes",
    }
    route = route_update(update(callback_query=query))
    assert route == ToEngine(
        42, MemberKey("telegram", "42", "Ana"), Incoming("button", "yes", 7), "q1", 5
    )


def test_a_button_with_data_that_is_not_ours_shows_where_the_member_is() -> None:
    query = {"id": "q1", "from": USER, "chat_instance": "c", "message": message(text="x"),
             "data": "garbage"}  # fmt: skip
    route = route_update(update(callback_query=query))
    assert isinstance(route, ToEngine)
    assert route.incoming is None
    assert route.query_id == "q1"


# ----------------------------------------------------------------- rendering


def test_callback_data_round_trips_and_fits_64_bytes() -> None:
    for seq, choice in [(0, "yes"), (123456789, "skill_unsure"), (None, "ok")]:
        data = encode_callback(seq, choice)
        assert len(data.encode()) <= 64
        assert decode_callback(data) == (seq, choice)
    with pytest.raises(ValueError):
        encode_callback(1, "x" * 70)
    assert decode_callback("nonsense") is None
    assert decode_callback("x:yes") is None


def test_keyboard_puts_two_short_buttons_on_a_row_and_long_ones_alone() -> None:
    buttons = (
        Button("yes", "✅ Yes"),
        Button("a_bit", "🤏 A bit"),
        Button("no", "❌ No"),
        Button("learn", "📚 I want to learn this"),
        Button("skip", "⏭️ Skip"),
    )
    markup = keyboard(buttons, 3)
    assert markup is not None
    rows = [[b.text for b in row] for row in markup.inline_keyboard]
    assert rows == [["✅ Yes", "🤏 A bit"], ["❌ No"], ["📚 I want to learn this"], ["⏭️ Skip"]]
    data = [b.callback_data for row in markup.inline_keyboard for b in row]
    assert data == ["3:yes", "3:a_bit", "3:no", "3:learn", "3:skip"]
    assert keyboard((), 3) is None


def test_long_text_is_split_at_sentence_ends_below_the_limit() -> None:
    sentences = [f"Sentence number {i} is here 🙂." for i in range(400)]
    text = " ".join(sentences)
    parts = split_text(text)
    assert len(parts) > 1
    assert all(len(p) < 4096 for p in parts)
    assert all(p.endswith("🙂.") for p in parts)
    assert " ".join(parts) == text


def test_a_sentence_longer_than_the_limit_is_cut_at_spaces() -> None:
    text = "word " * 2000
    parts = split_text(text, limit=1000)
    assert all(len(p) <= 1000 for p in parts)
    assert " ".join(parts).split() == text.split()
    assert split_text("   ") == []


# --------------------------------------------------------------------- lanes


async def test_lanes_keep_order_per_key_and_run_keys_side_by_side() -> None:
    lanes = Lanes(limit=8)
    done: list[str] = []
    release_a = asyncio.Event()

    async def job(name: str, wait: asyncio.Event | None = None) -> None:
        if wait is not None:
            await wait.wait()
        done.append(name)

    lanes.submit("a", lambda: job("a1", release_a))
    lanes.submit("a", lambda: job("a2"))
    b = lanes.submit("b", lambda: job("b1"))
    await b  # b is not stuck behind a's first job
    assert done == ["b1"]
    release_a.set()
    assert await lanes.drain(5)
    assert done == ["b1", "a1", "a2"]


async def test_a_failing_job_does_not_block_its_lane() -> None:
    lanes = Lanes()
    results: list[int] = []

    async def boom() -> None:
        raise RuntimeError("x")

    async def ok() -> None:
        results.append(1)

    failing = lanes.submit("a", boom)
    lanes.submit("a", ok)
    assert await lanes.drain(5)
    assert results == [1]
    assert isinstance(failing.exception(), RuntimeError)


# ---------------------------------------------------------------- log safety


def test_the_token_is_masked_in_every_log_line_and_traceback() -> None:
    token = "123456:SECRET-token-value-abcdef"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    try:
        protect_logs(token)
        assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING
        logging.getLogger("telegram.test").info("POST https://x/bot%s/getMe", token)
        logging.getLogger("httpx").warning("HTTP Request: https://x/bot" + token + "/getMe")
        try:
            raise RuntimeError(f"failed at /bot{token}/sendMessage")
        except RuntimeError:
            logging.getLogger("bot.test").exception("boom")
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    output = stream.getvalue()
    assert token not in output
    assert output.count("[secret]") == 3  # the message, the httpx line, the exception


# ------------------------------------------------------------------ settings


def test_the_api_base_url_works_with_or_without_bot_suffix() -> None:
    assert api_base_urls("http://127.0.0.1:8601") == (
        "http://127.0.0.1:8601/bot",
        "http://127.0.0.1:8601/file/bot",
    )
    assert api_base_urls("http://127.0.0.1:8601/bot/")[0] == "http://127.0.0.1:8601/bot"


def test_channel_messages_exist_and_pass_the_easy_read_rules() -> None:
    messages = yaml.safe_load(TELEGRAM_YML.read_text(encoding="utf-8"))
    assert set(TELEGRAM_KEYS) <= set(messages)
    for key, text in messages.items():
        assert check_text(key, text, is_button=key.startswith("button.")) == [], key


def test_command_menu_has_the_six_member_commands_with_their_descriptions() -> None:
    messages = yaml.safe_load(TELEGRAM_YML.read_text(encoding="utf-8"))
    menus = command_menus({"en": messages, "xx": {"unrelated": "x"}}, "en")
    assert len(menus) == 1
    language, commands = menus[0]
    assert language is None
    assert [c.command for c in commands] == ["start", "help", "myskills", "pause", "resume", "stop"]
    assert [c.description for c in commands] == [
        messages[f"telegram.command.{c.command}"] for c in commands
    ]
