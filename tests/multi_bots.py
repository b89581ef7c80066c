"""Several real ``skillspark run`` processes on one PostgreSQL behind one webhook (issue 16).

Shared by ``tests/test_multi_process.py`` and ``bench/multi_process.py``. The
harness plays Telegram and the load balancer: it POSTs each update to one of
the processes' webhook ports, alternately, keeps one chat's updates in order
(the next is sent once the last was answered 200, as Telegram does), and
sends to the other process while one is down.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.botapi_peer import TOKEN, BotApiPeer, running_peer

ROOT = Path(__file__).resolve().parent.parent
SKILLSPARK = ROOT / ".venv" / "bin" / "skillspark"
SECRET = "multi-process-webhook-secret"
PUBLIC_URL = "https://bots.example.internal/skillspark/hook"


#: The test PostgreSQL (CI sets it); the tests that use these fixtures skip without it.
PG_URL = os.environ.get("SKILLSPARK_TEST_DATABASE_URL", "")


@pytest.fixture
def peer() -> Iterator[BotApiPeer]:
    """A running loopback Bot API peer."""
    with running_peer() as p:
        yield p


@pytest.fixture
def db_url() -> Iterator[str]:
    """A fresh schema on the test PostgreSQL: the URL whose connections use it."""
    with pg_schema(PG_URL) as url:
        yield url


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sync_url(url: str) -> str:
    """The psycopg (sync) form of a PostgreSQL URL."""
    return url.replace("postgresql+psycopg://", "postgresql+psycopg://", 1)


@contextmanager
def pg_schema(url: str) -> Iterator[str]:
    """A fresh schema; yields the URL whose connections use it (dropped afterwards)."""
    schema = f"mp_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(sync_url(url), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Read the database."""
    engine = sa.create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql)).all()]
    finally:
        engine.dispose()


@dataclass
class Bot:
    """One ``skillspark run`` process."""

    name: str
    port: int
    log: Path
    proc: subprocess.Popen[bytes]

    def alive(self) -> bool:
        """Still running."""
        return self.proc.poll() is None

    def output(self) -> str:
        """What it printed."""
        return self.log.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        """SIGKILL, like a power cut."""
        if self.alive():
            self.proc.kill()
            self.proc.wait()

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM and wait; the exit code."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"{self.name} did not stop on SIGTERM") from None
        return int(self.proc.returncode)


def start_bot(
    peer: BotApiPeer, workdir: Path, name: str, db_url: str, port: int, **env: str
) -> Bot:
    """Start ``skillspark run`` in webhook mode on ``port`` against the peer and ``db_url``."""
    log = workdir / f"{name}.log"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SKILLSPARK_", "TELEGRAM_"))}
    clean.update(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": peer.base_url,
            "SKILLSPARK_DATABASE_URL": db_url,
            "SKILLSPARK_DATA_DIR": str(workdir / "data"),
            "SKILLSPARK_NLU_ENABLED": "false",
            "SKILLSPARK_WEBHOOK_URL": PUBLIC_URL,
            "SKILLSPARK_WEBHOOK_SECRET": SECRET,
            "SKILLSPARK_WEBHOOK_LISTEN": "127.0.0.1",
            "SKILLSPARK_WEBHOOK_PORT": str(port),
            "SKILLSPARK_LEASE_SECONDS": "3",
            "SKILLSPARK_INBOX_SWEEP_SECONDS": "0.2",
            "SKILLSPARK_PROCESS_ID": f"{name}-{uuid.uuid4().hex[:6]}",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
    )
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [str(SKILLSPARK), "run"], cwd=workdir, env=clean, stdout=out, stderr=subprocess.STDOUT
        )
    return Bot(name, port, log, proc)


def get(port: int, path: str, timeout: float = 5) -> tuple[int, Any]:
    """GET a path on a bot's server: status and JSON body (0 when it does not answer)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return int(r.status), json.loads(r.read() or b"null")
    except urllib.error.HTTPError as exc:
        return int(exc.code), json.loads(exc.read() or b"null")
    except (OSError, ValueError):
        return 0, None


def wait_ready(bot: Bot, timeout: float = 120) -> None:
    """Wait until ``/healthz/ready`` answers 200."""
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        if not bot.alive():
            raise AssertionError(f"{bot.name} stopped:\n{bot.output()[-4000:]}")
        if get(bot.port, "/healthz/ready")[0] == 200:
            return
        time.sleep(0.2)
    raise AssertionError(f"{bot.name} not ready:\n{bot.output()[-4000:]}")


def post(port: int, update: dict[str, Any], timeout: float = 30) -> int:
    """POST one update to a bot's webhook like Telegram; the HTTP status (0: no answer)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/skillspark/hook",
        data=json.dumps(update).encode(),
        headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


@dataclass
class Result:
    """What a load run measured."""

    updates: int
    seconds: float
    lost: int
    doubled: int
    replayed: int
    merged: int
    answered_once: bool
    order_kept: bool
    inbox_left: int
    exit_codes: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        """Updates answered per second."""
        return self.updates / self.seconds if self.seconds else 0.0


def run_load(
    peer: BotApiPeer,
    db_url: str,
    workdir: Path,
    *,
    chats: int = 200,
    per_chat: int = 10,
    kill: bool = True,
    workers: int = 24,
) -> Result:
    """Two processes, ``chats * per_chat`` updates alternately through both, one killed halfway."""
    ports = [free_port(), free_port()]
    bots = [start_bot(peer, workdir, f"bot{i}", db_url, ports[i]) for i in range(2)]
    try:
        for bot in bots:
            wait_ready(bot)
        users = [peer.user(900_000 + c, f"M{c}") for c in range(chats)]
        plan: list[list[dict[str, Any]]] = []
        for user in users:
            mine = [peer.command(user, "start")]
            mine += [peer.text(user, f"Hello {k}") for k in range(1, per_chat)]
            plan.append(mine)
        peer.take_pending()
        total = chats * per_chat
        sent = 0
        lock = threading.Lock()
        killed = threading.Event()
        restarted = threading.Event()
        up = [True, True]

        def deliver(c: int, k: int, update: dict[str, Any]) -> None:
            nonlocal sent
            turn = (c + k) % 2
            for attempt in range(400):
                target = turn if up[turn] else 1 - turn
                if attempt % 2 == 1:
                    target = 1 - target
                if post(bots[target].port, update) == 200:
                    break
                time.sleep(0.05)
            else:
                raise AssertionError(f"update {update['update_id']} was never accepted")
            with lock:
                sent += 1
                halfway = sent == total // 2
            if halfway and kill:
                up[0] = False
                bots[0].kill()
                killed.set()

        def chat_job(c: int) -> None:
            for k, update in enumerate(plan[c]):
                deliver(c, k, update)

        began = time.monotonic()
        with ThreadPoolExecutor(workers) as pool:
            futures = [pool.submit(chat_job, c) for c in range(chats)]
            if kill:
                killed.wait(300)
                bots[0] = start_bot(peer, workdir, "bot0-again", db_url, ports[0])
                wait_ready(bots[0])
                up[0] = True
                restarted.set()
            for future in futures:
                future.result()
        keys = {f"tg:{u['update_id']}" for mine in plan for u in mine}
        give_up = time.monotonic() + 120
        while time.monotonic() < give_up:
            done = rows(db_url, "SELECT count(*) FROM processed_inputs")[0][0]
            left = rows(db_url, "SELECT count(*) FROM inbound_updates")[0][0]
            if done >= total and left == 0:
                break
            time.sleep(0.2)
        seconds = time.monotonic() - began
        time.sleep(1.0)  # the last replies
        return _measure(peer, db_url, bots, plan, keys, users, seconds, per_chat)
    finally:
        for bot in bots:  # a failed run leaves no bot process behind
            bot.kill()


def _measure(
    peer: BotApiPeer,
    db_url: str,
    bots: list[Bot],
    plan: list[list[dict[str, Any]]],
    keys: set[str],
    users: list[dict[str, Any]],
    seconds: float,
    per_chat: int,
) -> Result:
    """Count lost, doubled, replayed; check the database; stop the processes."""
    problems: list[str] = []
    stored = rows(
        db_url,
        "SELECT p.key, p.created_at, m.telegram_id FROM processed_inputs p "
        "JOIN members m ON m.id = p.member_id",
    )
    by_key: dict[str, tuple[Any, int]] = {}
    doubles_in_db = 0
    for key, at, telegram_id in stored:
        if key in by_key:
            doubles_in_db += 1
        by_key[key] = (at, int(telegram_id))
    missing = keys - set(by_key)
    answered_once = not missing and doubles_in_db == 0 and len(stored) == len(keys)
    order_kept = True
    for mine in plan:
        times = [
            by_key[f"tg:{u['update_id']}"][0] for u in mine if f"tg:{u['update_id']}" in by_key
        ]
        if times != sorted(times):
            order_kept = False
            problems.append(f"chat {mine[0]['message']['chat']['id']} out of order")
    typing = {u["id"]: 0 for u in users}
    last_reply: dict[int, float] = {}
    wall_minus_mono = time.time() - time.monotonic()
    with peer._cond:  # a snapshot of the calls
        calls = list(peer.calls)
    for call in calls:
        chat = call.chat_id
        if chat in typing and call.method == "sendChatAction":
            typing[chat] += 1
        if chat in typing and call.method == "sendMessage":
            last_reply[chat] = call.at + wall_minus_mono
    # Lost: an update never stored, or a chat whose last update had no reply after it
    # was stored (after a crash, several stored-but-unsent turns of one chat are
    # answered by showing the member where they are, once: "merged" counts those).
    lost = len(missing)
    for mine in plan:
        key = f"tg:{mine[-1]['update_id']}"
        chat = int(mine[-1]["message"]["chat"]["id"])
        if key in by_key and last_reply.get(chat, 0.0) < by_key[key][0].timestamp() - 0.5:
            lost += 1
            problems.append(f"chat {chat}: no reply after its last update")
    merged = sum(max(0, per_chat - n) for n in typing.values())
    doubled = sum(max(0, n - per_chat) for n in typing.values())
    replayed = 0
    for bot in bots:
        for line in bot.output().splitlines():
            if "took over" in line and "updates from a bot process" in line:
                replayed += int(line.split("took over ")[1].split()[0])
    inbox_left = rows(db_url, "SELECT count(*) FROM inbound_updates")[0][0]
    codes = [bot.stop() for bot in bots]
    return Result(
        updates=len(keys),
        seconds=seconds,
        lost=lost,
        doubled=doubled,
        replayed=replayed,
        merged=merged,
        answered_once=answered_once,
        order_kept=order_kept,
        inbox_left=int(inbox_left),
        exit_codes=codes,
        problems=problems,
    )
