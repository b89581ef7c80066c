"""The webhook server's health endpoints on a running bot (issue 16, docs/deploy.md).

A real ``skillspark run`` in webhook mode on PostgreSQL, against the loopback
Bot API peer. Its database connections go through a small TCP relay the test
can cut, so "the database cannot be reached" is real; "an older migration" is
the ``alembic_version`` row set back one revision.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from bot.telegram.serve import LIVE_PATH, READY_PATH
from storage.db import alembic_config
from tests.botapi_peer import BotApiPeer
from tests.multi_bots import (
    PG_URL,
    Bot,
    db_url,
    free_port,
    get,
    peer,
    start_bot,
    sync_url,
    wait_ready,
)

__all__ = ["db_url", "peer"]  # fixtures shared with the other multi-process tests
pytestmark = pytest.mark.skipif(not PG_URL, reason="needs SKILLSPARK_TEST_DATABASE_URL")


class Relay:
    """A TCP relay on loopback to ``target``; :meth:`cut` refuses and drops every connection."""

    def __init__(self, target: tuple[str, int]) -> None:
        """Relay to ``target`` (host, port) once :meth:`open` is called."""
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()

    def open(self) -> None:
        """Accept connections and relay them."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Stop listening (new connections are refused) and drop the open ones."""
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept()
            self._listener.close()
            self._listener = None
        with self._lock:
            dropping, self._open = self._open, []
        for sock in dropping:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open += [client, server]
            for src, dst in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def until_status(bot: Bot, path: str, status: int, timeout: float = 90) -> Any:
    """Poll ``path`` until it answers ``status``; the JSON body then."""
    give_up = time.monotonic() + timeout
    last: tuple[int, Any] = (0, None)
    while time.monotonic() < give_up:
        assert bot.alive(), bot.output()[-4000:]
        last = get(bot.port, path)
        if last[0] == status:
            return last[1]
        time.sleep(0.2)
    raise AssertionError(f"{path} gave {last}, not {status}:\n{bot.output()[-4000:]}")


def execute(url: str, sql: str, **params: Any) -> None:
    """Run one statement in its own transaction."""
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(sql), params)
    finally:
        engine.dispose()


def test_webhook_server_health_live_always_ready_only_when_all_is_ready(
    peer: BotApiPeer, db_url: str, tmp_path: Path
) -> None:
    direct = make_url(db_url)
    relay = Relay((direct.host or "127.0.0.1", direct.port or 5432))
    relay.open()
    through_relay = direct.set(host="127.0.0.1", port=relay.port)
    bot = start_bot(
        peer,
        tmp_path,
        "health",
        through_relay.render_as_string(hide_password=False),
        free_port(),
    )
    try:
        wait_ready(bot)
        assert get(bot.port, LIVE_PATH) == (200, {"status": "alive"})
        body = until_status(bot, READY_PATH, 200)
        assert body["status"] == "ready"
        assert {name for name, c in body["checks"].items() if c["ok"]} == {
            "database",
            "migrations",
            "nlu",
        }

        # The database at an older migration than the code: not ready, still live.
        script = ScriptDirectory.from_config(alembic_config())
        head = script.get_revision(script.get_current_head())
        older = head.down_revision
        assert isinstance(older, str)
        execute(db_url, "UPDATE alembic_version SET version_num = :v", v=older)
        body = until_status(bot, READY_PATH, 503)
        assert body["status"] == "not ready"
        assert body["checks"]["migrations"]["ok"] is False
        assert older in body["checks"]["migrations"]["detail"]
        assert body["checks"]["database"]["ok"] is True
        assert get(bot.port, LIVE_PATH)[0] == 200
        execute(db_url, "UPDATE alembic_version SET version_num = :v", v=head.revision)
        until_status(bot, READY_PATH, 200)

        # The database cannot be reached: not ready, still live; ready again when it is back.
        relay.cut()
        body = until_status(bot, READY_PATH, 503)
        assert body["checks"]["database"]["ok"] is False
        assert get(bot.port, LIVE_PATH) == (200, {"status": "alive"})
        relay.open()
        body = until_status(bot, READY_PATH, 200)
        assert body["status"] == "ready"
        assert get(bot.port, LIVE_PATH)[0] == 200
        assert bot.stop() == 0
    finally:
        bot.kill()
        relay.cut()
