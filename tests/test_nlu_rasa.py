"""Integration: the real Rasa NLU server on loopback (fixtures in tests/rasa_server.py)."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.nlu import open_understanding
from bot.nlu.cli import nlu_app
from bot.nlu.client import RasaUnderstanding, ResilientUnderstanding
from bot.nlu.evaluation import evaluate
from bot.nlu.server import RasaServer
from bot.nlu.training import NluPaths, TrainResult
from bot.settings import Settings

pytestmark = pytest.mark.rasa


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("yeh", "affirm"),
        ("nah", "deny"),
        ("dunno", "unsure"),
        ("👍", "affirm"),
        ("skip this one", "skip"),
        ("hiya", "greet"),
        ("ta very much", "thanks"),
        ("r u a robot", "bot_challenge"),
        ("i wanna learn how to bake", "want_to_learn"),
    ],
)
async def test_member_text_speak_is_understood(
    rasa_client: RasaUnderstanding, text: str, intent: str
) -> None:
    """Short answers and text-speak come back as the intent a person would read."""
    result = await rasa_client.parse(text)
    assert result.source == "rasa"
    assert result.intent == intent, result


async def test_activity_is_found_with_its_entity(rasa_client: RasaUnderstanding) -> None:
    """A member describing what they do gets ``tell_activity`` and an ``activity`` entity."""
    text = "i does the cookin for my mum"
    result = await rasa_client.parse(text)
    assert result.intent == "tell_activity"
    activities = [e for e in result.entities if e.entity == "activity"]
    assert activities, result
    assert any(text[e.start : e.end] == "cookin" for e in activities)


async def test_rasa_recognises_distress_itself(rasa_client: RasaUnderstanding) -> None:
    """Rasa's own model labels a plain cry for help as distress."""
    result = await rasa_client.parse("im so scared of him")
    assert result.intent == "distress"


async def test_commands_are_never_sent_to_rasa(rasa_client: RasaUnderstanding) -> None:
    """A ``/command`` is answered by the rules, not by Rasa's intent shortcut."""
    result = await rasa_client.parse("/start")
    assert result.source == "rules"
    assert result.intent != "start"


async def test_wrong_token_is_refused(rasa_server: RasaServer) -> None:
    """The server's API needs the token; the bot's client falls back to rules."""
    async with RasaUnderstanding(rasa_server.url, "not-the-token", timeout_s=10.0) as bad:
        nlu = ResilientUnderstanding(bad)
        result = await nlu.parse("yes i really do")
    assert (result.intent, result.source) == ("affirm", "rules")
    assert nlu.degraded


async def test_held_out_scores_meet_the_targets(
    rasa_paths: NluPaths, rasa_model: TrainResult, tmp_path: Path
) -> None:
    """On the held-out set: macro-F1 at least 0.90, distress recall (with net) 0.98."""
    result = await asyncio.to_thread(evaluate, rasa_paths, tmp_path)
    assert result.macro_f1 >= 0.90, result.scores
    assert result.distress_recall_with_safety_net >= 0.98, result.distress_missed_overall


async def test_bot_keeps_answering_while_rasa_restarts(
    rasa_paths: NluPaths,
    rasa_model: TrainResult,
    rasa_port: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Mid-conversation the server stops: rules answer; after a restart Rasa is back."""
    caplog.set_level(logging.INFO, logger="bot.nlu")
    server = RasaServer(rasa_paths, port=rasa_port)
    async with server:
        rasa = RasaUnderstanding(server.url, server.token, timeout_s=10.0)
        nlu = ResilientUnderstanding(rasa, first_pause_s=0.2, max_pause_s=0.5)
        try:
            before = await nlu.parse("yes i really do")
            assert (before.intent, before.source) == ("affirm", "rasa")

            await server.stop()
            texts = ("yes i really do", "nah not me", "skip this one", "i walk my dog")
            answers = [await nlu.parse(text) for text in texts]
            assert [a.intent for a in answers] == ["affirm", "deny", "skip", "tell_activity"]
            assert {a.source for a in answers} == {"rules"}
            assert (await nlu.parse("someone is hurting me")).intent == "distress"

            await server.start()
            result = await nlu.parse("yes i really do")
            for _ in range(100):  # wait out the probe pause (bounded)
                if result.source == "rasa":
                    break
                await asyncio.sleep(0.1)
                result = await nlu.parse("yes i really do")
            assert result.source == "rasa"
            assert result.intent == "affirm"
            assert not nlu.degraded
        finally:
            await rasa.aclose()
    down = [r for r in caplog.records if "not answering" in r.getMessage()]
    back = [r for r in caplog.records if "answering again" in r.getMessage()]
    assert len(down) == 1
    assert len(back) == 1
    assert server.token not in caplog.text


async def test_open_understanding_starts_and_stops_its_own_server(
    rasa_paths: NluPaths, rasa_model: TrainResult, rasa_port: int
) -> None:
    """With no Rasa URL configured, the app trains if needed, starts Rasa, and stops it."""
    settings = Settings(SKILLSPARK_RASA_PORT=rasa_port, SKILLSPARK_RASA_URL="")
    async with open_understanding(settings) as nlu:
        result = await nlu.parse("yes i love doing that")
        assert isinstance(nlu, ResilientUnderstanding)
        url = nlu.rasa.base_url
    assert result.source == "rasa"
    assert result.intent == "affirm"
    assert url.endswith(f":{rasa_port}")
    async with RasaUnderstanding(url, None, timeout_s=1.0) as probe:
        assert not await probe.healthy()


def test_cli_parse_prints_json_from_the_live_server(
    rasa_server: RasaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``skillspark nlu parse TEXT --json`` prints intent, confidence and entities."""
    from bot.settings import get_settings

    monkeypatch.setenv("SKILLSPARK_RASA_URL", rasa_server.url)
    monkeypatch.setenv("SKILLSPARK_RASA_TOKEN", rasa_server.token)
    get_settings.cache_clear()
    try:
        outcome = CliRunner().invoke(nlu_app, ["parse", "i walk the dog every day", "--json"])
    finally:
        get_settings.cache_clear()
    assert outcome.exit_code == 0, outcome.output
    answer = json.loads(outcome.stdout.strip().splitlines()[-1])
    assert answer["intent"] == "tell_activity"
    assert set(answer) == {"intent", "confidence", "entities"}
    assert 0.0 <= answer["confidence"] <= 1.0
