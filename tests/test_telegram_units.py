"""Unit tests of the Telegram channel's pure parts: routing, rendering, lanes, log masking."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import secrets
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from telegram import Bot, Update
from typer.testing import CliRunner

from bot.cli import app as cli_app
from bot.content import MAX_CHOICE_BYTES, ContentError, load_content
from bot.easyread import check_text
from bot.engine import ENGINE_KEYS
from bot.logs import protect_logs
from bot.profile_edit import PREFIX as REMOVE_PREFIX
from bot.settings import Settings
from bot.skills.taxonomy import MAX_SKILL_ID, TaxonomyError, parse_taxonomy
from bot.telegram.app import api_base_urls, command_menus
from bot.telegram.channel import TELEGRAM_KEYS
from bot.telegram.lanes import Lanes
from bot.telegram.render import (
    MAX_TEXT,
    decode_callback,
    encode_callback,
    keyboard,
    keyboard_json,
    split_text,
    telegram_length,
)
from bot.telegram.routing import GroupChat, Ignore, ToEngine, route_update
from bot.types import Button, Incoming, MemberKey, Reply
from tests.botapi_peer import TOKEN, BotApiPeer
from tests.test_telegram_channel import ScriptedEngine, running_bot, until

ROOT = Path(__file__).resolve().parent.parent
DIALOGUES = ROOT / "dialogues"
SKILLSPARK = str(Path(sys.executable).parent / "skillspark")
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


@pytest.mark.parametrize(
    "data",
    ["²:yes", "١:yes", "٣٤:no", "1" * 11 + ":yes", "9" * 5000 + ":yes", "5:", ":", "", "-1:yes"],
)
def test_button_data_that_is_not_ours_is_refused_not_a_crash(data: str) -> None:
    assert decode_callback(data) is None


def test_the_longest_prompt_number_still_works() -> None:
    assert decode_callback("9999999999:yes") == (9_999_999_999, "yes")


def test_choices_and_skill_ids_allowed_at_load_time_fit_telegram_button_data() -> None:
    longest = "x" * MAX_CHOICE_BYTES
    assert decode_callback(encode_callback(9_999_999_999, longest)) == (9_999_999_999, longest)
    with pytest.raises(ValueError):
        encode_callback(9_999_999_999, longest + "x")
    remove = f"{REMOVE_PREFIX}{'s' * MAX_SKILL_ID}"  # the "remove this skill" button
    assert len(remove) <= 48  # bot.profile_edit keeps 48 characters of it
    assert decode_callback(encode_callback(9_999_999_999, remove)) == (9_999_999_999, remove)


@pytest.fixture
def dialogues(tmp_path: Path) -> Path:
    """A copy of the project's dialogues to spoil."""
    return Path(shutil.copytree(DIALOGUES, tmp_path / "dialogues"))


def test_a_button_choice_too_long_for_telegram_stops_loading(dialogues: Path) -> None:
    flow = dialogues / "flows" / "onboarding.yml"
    too_long = "c" * (MAX_CHOICE_BYTES + 1)
    text = flow.read_text(encoding="utf-8")
    text = text.replace(
        "{choice: ok, label: button.ok, next: howto_stop}",
        f"{{choice: {too_long}, label: button.ok, next: howto_stop}}",
    )
    text = text.replace("{choice: ok, label: button.ok, next: first_rating}",
                        "{choice: '', label: button.ok, next: first_rating}")  # fmt: skip
    flow.write_text(text, encoding="utf-8")
    with pytest.raises(ContentError) as error:
        load_content(dialogues, engine_keys=ENGINE_KEYS)
    assert error.value.problems == [
        f"onboarding.yml: step 'howto_buttons' button choice '{too_long}' is 54 bytes long; "
        "use at most 53 (Telegram button data is 64 bytes with the prompt number)",
        "onboarding.yml: step 'howto_stop' has a button with no 'choice'",
    ]
    result = CliRunner().invoke(cli_app, ["dialogues", "check", "--path", str(dialogues)])
    assert result.exit_code == 1
    assert "step 'howto_buttons' button choice" in result.output


def test_the_shipped_dialogues_load() -> None:
    content = load_content(DIALOGUES, engine_keys=ENGINE_KEYS)
    assert content.onboarding["howto_buttons"].buttons[0].choice == "ok"


def test_a_skill_id_too_long_for_a_button_stops_loading(dialogues: Path) -> None:
    data = yaml.safe_load((DIALOGUES / "skills.yml").read_text(encoding="utf-8"))
    first = data["skills"][0]
    fits = {**first, "id": "s" * MAX_SKILL_ID, "phrases": ["fits"], "related": []}
    assert parse_taxonomy({**data, "skills": [*data["skills"], fits]}).get("s" * MAX_SKILL_ID)
    long_id = "s" * (MAX_SKILL_ID + 1)
    too_long = {**fits, "id": long_id}
    with pytest.raises(TaxonomyError) as error:
        parse_taxonomy({**data, "skills": [*data["skills"], too_long]})
    assert error.value.problems == [
        f"skill '{long_id}' has an id of 46 characters; use at most 45 "
        "(it must fit in a Telegram button)"
    ]
    skills = dialogues / "skills.yml"
    skills.write_text(yaml.safe_dump({**data, "skills": [*data["skills"], too_long]}))
    with pytest.raises(ContentError, match="use at most 45"):
        load_content(dialogues, engine_keys=ENGINE_KEYS)


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


def test_hear_it_always_has_the_last_row_to_itself() -> None:
    """ "🔊 Hear it" is in the same place on every question, never beside an answer."""
    markup = keyboard((Button("ok", "👍 OK"), Button("hear", "🔊 Hear it")), 4)
    assert markup is not None
    assert [[b.text for b in row] for row in markup.inline_keyboard] == [["👍 OK"], ["🔊 Hear it"]]
    # under a message that is not a question (a break): the same
    markup = keyboard(
        (Button("go:carry_on", "▶️ Carry on"), Button("go:hear:paused", "🔊 Hear it")), 0
    )
    assert markup is not None
    rows = [[b.text for b in row] for row in markup.inline_keyboard]
    assert rows == [["▶️ Carry on"], ["🔊 Hear it"]]


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


def test_length_is_counted_as_telegram_does_in_utf16_units() -> None:
    assert telegram_length("Tea") == 3
    assert telegram_length("🙂") == 2  # outside the Basic Multilingual Plane
    assert telegram_length("é✅") == 2  # inside it: one unit each
    assert telegram_length("👍🏽") == 4


def test_an_emoji_heavy_text_splits_into_parts_telegram_accepts() -> None:
    # 3,839 characters but 5,279 UTF-16 units: one part, by a count of characters.
    text = " ".join(f"Yes {i:03d} 🙂🎉👍🌟🌱🚲." for i in range(240))
    assert len(text) < MAX_TEXT - 96 < MAX_TEXT < telegram_length(text)
    parts = split_text(text)
    assert len(parts) == 2
    assert all(telegram_length(p) <= MAX_TEXT - 96 for p in parts)
    assert " ".join(parts) == text
    assert all(p.endswith("🚲.") for p in parts)  # still cut at sentence ends


def test_a_long_word_of_emoji_is_cut_hard_but_never_inside_an_emoji() -> None:
    text = "👍🏽" * 3000  # thumbs up with a skin tone: two characters, four units
    parts = split_text(text, limit=1001)
    assert all(telegram_length(p) <= 1001 for p in parts)
    assert all(p == "👍🏽" * (len(p) // 2) for p in parts)
    assert "".join(parts) == text


def test_a_long_list_keeps_one_item_per_line_in_every_part() -> None:
    items = [f"• {i}. Looking after plants 🌱 and fixing bikes 🚲" for i in range(200)]
    text = "Your skills 🙂:\n" + "\n".join(items)
    parts = split_text(text, limit=1000)
    assert len(parts) > 1
    assert all(telegram_length(p) <= 1000 for p in parts)
    item = re.compile(r"• \d+\. Looking after plants 🌱 and fixing bikes 🚲")
    for part in parts:
        lines = part.split("\n")
        assert len(lines) > 1
        assert all(item.fullmatch(line) for line in lines if line != "Your skills 🙂:")
    assert "\n".join(parts).split("\n") == text.split("\n")  # nothing lost, same order


def test_a_blank_line_between_paragraphs_is_the_first_place_to_cut() -> None:
    first = "\n".join(f"Line {i} of the first part. It has two sentences." for i in range(40))
    second = "\n".join(f"Line {i} of the second part 🙂" for i in range(40))
    parts = split_text(f"{first}\n\n{second}", limit=3000)
    assert parts == [first, second]


async def test_a_long_emoji_reply_reaches_the_member_in_full() -> None:
    # 3,849 characters (one message by that count) but 5,249 UTF-16 units.
    text = "\n".join(f"• {i:03d} 🙂🌱🚲🎉" for i in range(350))
    assert len(text) < MAX_TEXT - 96 < MAX_TEXT < telegram_length(text)
    engine = ScriptedEngine()
    engine.replies_for["list"] = [Reply("myskills.list", text)]
    with BotApiPeer() as peer:
        ana = peer.user(4401, "Ana")
        async with running_bot(peer, engine):
            peer.text(ana, "list")
            await until(peer.wait_text, 4401, "• 349 ", timeout=10)
        sent = peer.sent(4401)
        refused = [c for c in peer.calls if c.method == "sendMessage" and c.status != 200]
    assert refused == []
    assert all(telegram_length(m["text"]) <= MAX_TEXT for m in sent)
    assert "\n".join(m["text"] for m in sent) == text


def post(peer: BotApiPeer, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Call the peer like the bot does; the HTTP status and the JSON answer."""
    request = urllib.request.Request(
        f"{peer.base_url}/bot{TOKEN}/{method}",
        data=json.dumps(params).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), json.loads(exc.read())


def test_the_test_peer_refuses_what_telegram_refuses_counting_utf16_units() -> None:
    with BotApiPeer() as peer:
        peer.user(4402)
        assert post(peer, "sendMessage", {"chat_id": 4402, "text": "🙂" * 2048})[0] == 200
        status, answer = post(peer, "sendMessage", {"chat_id": 4402, "text": "🙂" * 2049})
        assert (status, answer["description"]) == (400, "Bad Request: message is too long")
        document = {"chat_id": 4402, "caption": "🙂" * 513}
        boundary = "b0undary"
        body = "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
            for k, v in document.items()
        ) + (
            f'--{boundary}\r\nContent-Disposition: form-data; name="document"; '
            f'filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nhi\r\n--{boundary}--\r\n'
        )
        request = urllib.request.Request(
            f"{peer.base_url}/bot{TOKEN}/sendDocument",
            data=body.encode(),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 400
        assert "caption is too long" in json.loads(refused.value.read())["description"]


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


@pytest.mark.parametrize(
    "secret",
    [
        "hook-secret-123",  # 15: too short to be safe (and to be masked in logs)
        "x" * 257,  # Telegram takes at most 256
        "a secret with spaces",
        "secret.with.dots.123",
        "sécret-with-accents-123",
    ],
)
def test_a_webhook_secret_telegram_would_refuse_or_too_short_is_an_error(secret: str) -> None:
    with pytest.raises(ValidationError) as error:
        Settings(_env_file=None, SKILLSPARK_WEBHOOK_SECRET=secret)  # type: ignore[call-arg,arg-type]
    message = str(error.value)
    assert "SKILLSPARK_WEBHOOK_SECRET" in message
    assert "secrets.token_urlsafe(32)" in message  # says how to make a good one
    assert secret not in message  # and never prints the secret back


@pytest.mark.parametrize("secret", ["", "a" * 16, "Ab-_9" * 51 + "x", "made-by-python"])
def test_a_webhook_secret_telegram_accepts_is_kept(secret: str) -> None:
    if secret == "made-by-python":
        secret = secrets.token_urlsafe(32)
    settings = Settings(_env_file=None, SKILLSPARK_WEBHOOK_SECRET=secret)  # type: ignore[call-arg,arg-type]
    assert settings.webhook_secret.get_secret_value() == secret


def test_a_bad_webhook_secret_stops_start_up_with_a_plain_message(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9",  # never reached
        "SKILLSPARK_WEBHOOK_SECRET": "tiny-secret",
    }
    done = subprocess.run(
        [SKILLSPARK, "run"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30,
        check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "SKILLSPARK_WEBHOOK_SECRET: use 16 to 256 characters" in done.stderr
    assert "secrets.token_urlsafe(32)" in done.stderr
    assert "tiny-secret" not in done.stderr + done.stdout


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


def test_command_menu_has_the_seven_member_commands_with_their_descriptions() -> None:
    messages = yaml.safe_load(TELEGRAM_YML.read_text(encoding="utf-8"))
    menus = command_menus({"en": messages, "xx": {"unrelated": "x"}}, "en")
    assert len(menus) == 1
    language, commands = menus[0]
    assert language is None
    assert [c.command for c in commands] == [
        "start",
        "help",
        "myskills",
        "pause",
        "resume",
        "stop",
        "settings",
    ]
    assert [c.description for c in commands] == [
        messages[f"telegram.command.{c.command}"] for c in commands
    ]


async def test_draining_gives_up_in_time_even_when_jobs_keep_coming() -> None:
    lanes = Lanes()

    async def chain(n: int) -> None:
        await asyncio.sleep(0.1)
        if n:
            lanes.submit(("chain", n), lambda: chain(n - 1))  # a new job before this one ends

    lanes.submit("first", lambda: chain(30))  # 3 s of work in all
    loop = asyncio.get_running_loop()
    began = loop.time()
    assert not await lanes.drain(0.5)
    assert loop.time() - began < 2.5  # the time given, not 0.5 s again for every new job (3 s)
    assert await lanes.drain(10)  # (the rest, so nothing is left running)


async def test_cancelling_stops_running_and_queued_jobs_and_what_they_queue() -> None:
    lanes = Lanes()
    finished: list[str] = []

    async def slow(name: str) -> None:
        await asyncio.sleep(10)
        finished.append(name)

    async def queues_more() -> None:
        lanes.submit("late", lambda: slow("late"))
        await slow("first")

    lanes.submit("a", queues_more)
    lanes.submit("a", lambda: slow("second"))  # queued behind the first
    await asyncio.sleep(0.05)
    assert await lanes.cancel() == 3
    assert lanes.busy == 0 and finished == []
    assert await lanes.drain(0)


async def test_cancelling_gives_up_on_a_job_that_will_not_stop() -> None:
    lanes = Lanes()
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue  # ignores being cancelled

    lanes.submit("a", stubborn)
    await asyncio.sleep(0.05)
    loop = asyncio.get_running_loop()
    began = loop.time()
    assert await lanes.cancel(within=0.3) == 1
    assert loop.time() - began < 2.0 and lanes.busy == 1  # the stop goes on
    release.set()
    assert await lanes.drain(5)


def test_keyboard_json_is_the_same_keyboard_as_the_typed_one() -> None:
    """Messages sent raw carry the keyboard as JSON: the same rows, texts and data."""
    buttons = (
        Button("yes", "✅ Yes"),
        Button("no", "❌ No"),
        Button("learn", "📚 I want to learn this"),
        Button("hear", "🔊 Hear it"),
    )
    typed = keyboard(buttons, 7)
    assert typed is not None
    assert keyboard_json(buttons, 7) == typed.to_dict()
    assert keyboard_json((), 7) is None
