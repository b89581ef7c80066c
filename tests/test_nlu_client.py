"""The Rasa client and the resilient mix, against a tiny fake Rasa HTTP server.

The fake answers on loopback like ``rasa run --enable-api`` would; the real
server is exercised in tests/test_nlu_rasa.py.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from bot.nlu.client import RasaUnavailable, RasaUnderstanding, ResilientUnderstanding
from bot.nlu.server import RasaServer
from bot.nlu.training import NluPaths

TOKEN = "s3cret-token-value"


@dataclass
class FakeRasa:
    """Behaviour of the fake server, changed by each test."""

    intent: str = "affirm"
    confidence: float = 0.93
    entities: list[dict[str, Any]] = field(default_factory=list)
    status: list[int] = field(default_factory=list)  # statuses to return first, in order
    delay_s: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""


def _handler(fake: FakeRasa) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to ``fake``."""

    class Handler(BaseHTTPRequestHandler):
        """Answers ``GET /`` and ``POST /model/parse`` like Rasa."""

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the test output quiet."""

        def _send(self, status: int, body: Any) -> None:
            """Write a JSON response (a client that gave up waiting is fine)."""
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and closed the connection

        def do_GET(self) -> None:
            """Readiness: ``GET /``."""
            self._send(200, {"version": "fake"})

        def do_POST(self) -> None:
            """``POST /model/parse?token=...``."""
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            query = parse_qs(urlparse(self.path).query)
            fake.requests.append({"path": urlparse(self.path).path, "query": query, "body": body})
            if fake.delay_s:
                time.sleep(fake.delay_s)
            if fake.status:
                status = fake.status.pop(0)
                if status != 200:
                    self._send(status, {"error": "fake"})
                    return
            if query.get("token") != [TOKEN]:
                self._send(401, {"reason": "NotAuthenticated"})
                return
            self._send(
                200,
                {
                    "text": body.get("text"),
                    "intent": {"name": fake.intent, "confidence": fake.confidence},
                    "entities": fake.entities,
                    "intent_ranking": [],
                },
            )

    return Handler


@pytest.fixture
def fake_rasa() -> Iterator[FakeRasa]:
    """A fake Rasa server on a free loopback port, for one test."""
    fake = FakeRasa()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def _closed_port_url() -> str:
    """A loopback URL where nothing listens."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()
    return f"http://127.0.0.1:{port}"


async def test_rasa_json_becomes_a_result(fake_rasa: FakeRasa) -> None:
    """Intent, confidence and entities are mapped; the source says ``rasa``."""
    fake_rasa.intent, fake_rasa.confidence = "tell_activity", 0.81
    fake_rasa.entities = [
        {"entity": "activity", "value": "cooking", "start": 11, "end": 17, "extractor": "X"},
        {"entity": "activity", "value": "cooking", "start": 11, "end": 17, "extractor": "Y"},
    ]
    async with RasaUnderstanding(fake_rasa.url, TOKEN) as rasa:
        result = await rasa.parse("i does the cookin for my mum")
    assert (result.intent, result.confidence, result.source) == ("tell_activity", 0.81, "rasa")
    assert [(e.entity, e.value, e.start, e.end) for e in result.entities] == [
        ("activity", "cooking", 11, 17)
    ]
    (request,) = fake_rasa.requests
    assert request["path"] == "/model/parse"
    assert request["body"] == {"text": "i does the cookin for my mum"}
    assert request["query"]["token"] == [TOKEN]


async def test_commands_never_reach_rasa(fake_rasa: FakeRasa) -> None:
    """Text starting with '/' is answered by the rules; nothing is sent."""
    async with RasaUnderstanding(fake_rasa.url, TOKEN) as rasa:
        result = await rasa.parse("/help")
    assert result.source == "rules"
    assert result.intent == "help"
    assert fake_rasa.requests == []


async def test_unknown_intent_becomes_fallback(fake_rasa: FakeRasa) -> None:
    """An intent the bot does not know (a shortcut, a typo) is ``nlu_fallback``."""
    fake_rasa.intent = "start"
    async with RasaUnderstanding(fake_rasa.url, TOKEN) as rasa:
        result = await rasa.parse("hello there")
    assert result.intent == "nlu_fallback"
    assert result.confidence == 0.0


async def test_one_retry_after_a_server_error(fake_rasa: FakeRasa) -> None:
    """A 500 is retried once; the second answer is used."""
    fake_rasa.status = [500]
    async with RasaUnderstanding(fake_rasa.url, TOKEN, retries=1) as rasa:
        result = await rasa.parse("yeh")
    assert result.intent == "affirm"
    assert len(fake_rasa.requests) == 2


async def test_gives_up_after_the_retry(fake_rasa: FakeRasa) -> None:
    """Two server errors in a row raise ``RasaUnavailable``."""
    fake_rasa.status = [500, 503]
    async with RasaUnderstanding(fake_rasa.url, TOKEN, retries=1) as rasa:
        with pytest.raises(RasaUnavailable):
            await rasa.parse("yeh")
    assert len(fake_rasa.requests) == 2


async def test_wrong_token_is_not_retried(fake_rasa: FakeRasa) -> None:
    """A refused token is a set-up problem: no retry, ``RasaUnavailable``."""
    async with RasaUnderstanding(fake_rasa.url, "wrong") as rasa:
        with pytest.raises(RasaUnavailable, match="token"):
            await rasa.parse("yeh")
    assert len(fake_rasa.requests) == 1


async def test_slow_server_times_out(fake_rasa: FakeRasa) -> None:
    """A server slower than the timeout raises ``RasaUnavailable``."""
    fake_rasa.delay_s = 0.5
    async with RasaUnderstanding(fake_rasa.url, TOKEN, timeout_s=0.1, retries=0) as rasa:
        with pytest.raises(RasaUnavailable):
            await rasa.parse("yeh")


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        """Start at zero."""
        self.now = 0.0

    def __call__(self) -> float:
        """The current time."""
        return self.now


async def test_distress_wins_over_rasa(fake_rasa: FakeRasa) -> None:
    """The safety net runs first: danger is distress whatever Rasa would say."""
    async with RasaUnderstanding(fake_rasa.url, TOKEN) as rasa:
        nlu = ResilientUnderstanding(rasa)
        result = await nlu.parse("yes my mate takes my money")
    assert result.intent == "distress"
    assert fake_rasa.requests == []


async def test_rasa_answers_while_healthy(fake_rasa: FakeRasa) -> None:
    """With a healthy server the answer (and its honest confidence) comes from Rasa."""
    fake_rasa.intent, fake_rasa.confidence = "deny", 0.42
    async with RasaUnderstanding(fake_rasa.url, TOKEN) as rasa:
        result = await ResilientUnderstanding(rasa).parse("i do that less now")
    assert (result.intent, result.confidence, result.source) == ("deny", 0.42, "rasa")


async def test_known_short_answers_come_from_the_word_list(fake_rasa: FakeRasa) -> None:
    """A whole known answer like "yep" is taken from the rules; free text goes to Rasa."""
    fake_rasa.intent, fake_rasa.confidence = "unsure", 0.91
    async with RasaUnderstanding(fake_rasa.url, TOKEN) as rasa:
        nlu = ResilientUnderstanding(rasa)
        known = await nlu.parse("yep")
        free = await nlu.parse("i might do some of that")
    assert (known.intent, known.source) == ("affirm", "rules")
    assert (free.intent, free.source) == ("unsure", "rasa")
    assert [r["body"]["text"] for r in fake_rasa.requests] == ["i might do some of that"]


async def test_down_server_falls_back_logs_once_and_backs_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Rasa down: rules answer, one warning, and Rasa is only probed after a pause."""
    caplog.set_level(logging.INFO, logger="bot.nlu")
    clock = FakeClock()
    calls: list[str] = []

    class Counting(RasaUnderstanding):
        """Counts calls that really try the network."""

        async def parse(self, text: str, *, retries: int | None = None) -> Any:
            """Record, then behave like the real client."""
            calls.append(text)
            return await super().parse(text, retries=retries)

    async with Counting(_closed_port_url(), TOKEN, timeout_s=0.5) as rasa:
        nlu = ResilientUnderstanding(rasa, first_pause_s=10, max_pause_s=40, clock=clock)
        texts = ("yeah i do that", "nah not me", "i dont know really", "i walk my dog")
        answers = [await nlu.parse(t) for t in texts]
        assert [a.intent for a in answers] == ["affirm", "deny", "unsure", "tell_activity"]
        assert {a.source for a in answers} == {"rules"}
        assert calls == ["yeah i do that"]  # later messages wait for the pause
        clock.now = 11
        await nlu.parse("yeah i do that")
        clock.now = 12
        await nlu.parse("yeah i do that")
        assert len(calls) == 2  # probed once after the pause, then a longer pause
        clock.now = 32
        await nlu.parse("yeah i do that")
        assert len(calls) == 3
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert nlu.degraded


async def test_recovers_by_itself_and_logs_it(
    fake_rasa: FakeRasa, caplog: pytest.LogCaptureFixture
) -> None:
    """After failures the next probe that succeeds brings Rasa back, logged once."""
    caplog.set_level(logging.INFO, logger="bot.nlu")
    clock = FakeClock()
    fake_rasa.status = [500, 500]
    async with RasaUnderstanding(fake_rasa.url, TOKEN) as rasa:
        nlu = ResilientUnderstanding(rasa, first_pause_s=5, clock=clock)
        first = await nlu.parse("yeah i do that")
        assert (first.source, nlu.degraded) == ("rules", True)
        clock.now = 6
        second = await nlu.parse("yeah i do that")
        third = await nlu.parse("nah not me")
    assert (second.source, third.source) == ("rasa", "rasa")
    assert not nlu.degraded
    messages = [r.getMessage() for r in caplog.records]
    assert sum("not answering" in m for m in messages) == 1
    assert sum("answering again" in m for m in messages) == 1


async def test_token_never_appears_in_logs(
    fake_rasa: FakeRasa, caplog: pytest.LogCaptureFixture
) -> None:
    """Failures are logged with their reason, never with the token (every logger at DEBUG)."""
    caplog.set_level(logging.DEBUG)
    for name in ("aiohttp.client", "aiohttp.internal", "bot.nlu"):
        caplog.set_level(logging.DEBUG, logger=name)  # other tests may have quietened them
    fake_rasa.status = [500, 500, 500]
    async with RasaUnderstanding(fake_rasa.url, TOKEN) as rasa:
        nlu = ResilientUnderstanding(rasa, first_pause_s=0)
        assert (await nlu.parse("yeah i do that")).source == "rules"
    async with RasaUnderstanding(fake_rasa.url, "wrong-token-123") as wrong:
        with pytest.raises(RasaUnavailable) as refused:
            await wrong.parse("yeh i do")
    assert "not answering" in caplog.text
    assert TOKEN not in caplog.text
    assert TOKEN not in str(refused.value) and "wrong-token-123" not in str(refused.value)


def test_server_command_keeps_a_dash_token_as_one_argument(tmp_path: Path) -> None:
    """A token starting with '-' cannot be mistaken for an option by ``rasa run``."""
    paths = NluPaths(root=tmp_path, models_dir=tmp_path / "models", venv=tmp_path / "venv")
    command = RasaServer(paths, port=5199, token="-abc").command()
    assert "--auth-token=-abc" in command
    assert "-abc" not in command
