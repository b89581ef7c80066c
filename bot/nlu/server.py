"""Start, watch and stop a local Rasa NLU server (``rasa run --enable-api``).

The server listens on loopback only and needs a token for the API. The token
is passed to Rasa on its command line and is never written to a log.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from bot.nlu.training import NluPaths, NluSetupError, rasa_env

log = logging.getLogger(__name__)

#: Ports tried when the configured one is busy (0 means "ask the system").
ANY_PORT = 0


class RasaServerError(NluSetupError):
    """The Rasa server did not start or died."""


def new_token() -> str:
    """A random API token for a server the bot starts itself."""
    return secrets.token_urlsafe(32)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on ``host:port`` and we may bind it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Like the server itself: closed connections in TIME_WAIT do not block it.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(start: int = ANY_PORT, end: int = ANY_PORT, host: str = "127.0.0.1") -> int:
    """A free port in ``start..end`` (inclusive), or any free port when 0."""
    if start:
        for port in range(start, (end or start) + 1):
            if port_is_free(port, host):
                return port
        raise RasaServerError(f"No free port in {start}-{end}.")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        chosen: int = sock.getsockname()[1]
        return chosen


def _die_with_parent() -> None:
    """In the child: ask Linux to send SIGTERM when the bot process dies (no orphans)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


_PR_SET_PDEATHSIG = 1


class RasaServer:
    """One ``rasa run`` process; an async context manager that starts and stops it."""

    def __init__(
        self,
        paths: NluPaths,
        *,
        port: int,
        token: str | None = None,
        host: str = "127.0.0.1",
        ready_timeout_s: float = 120.0,
        log_file: Path | None = None,
    ) -> None:
        """Describe the server; nothing starts until :meth:`start`."""
        self.paths = paths
        self.host = host
        self.port = port
        self.token = token or new_token()
        self.ready_timeout_s = ready_timeout_s
        self.log_file = log_file or paths.models_dir / "logs" / f"rasa-server-{port}.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._starts = 0
        self.ready_seconds: float | None = None

    @property
    def url(self) -> str:
        """The server's base URL (no token in it)."""
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The process id while running."""
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        """True while the process is alive."""
        return self._process is not None and self._process.poll() is None

    def command(self) -> list[str]:
        """The ``rasa run`` command line (holds the token: never log it)."""
        return [
            str(self.paths.rasa_bin),
            "run",
            "--enable-api",
            "-m",
            str(self.paths.model),
            "-i",
            self.host,
            "-p",
            str(self.port),
            # One argument: a random token may start with "-", which argparse
            # would otherwise read as an option.
            f"--auth-token={self.token}",
        ]

    async def start(self) -> None:
        """Start the server and wait until it answers ``GET /``."""
        if self.running:
            return
        if not self.paths.venv_ready():
            raise RasaServerError(f"No Rasa environment at {self.paths.venv}.")
        if not self.paths.model.is_file():
            raise RasaServerError(f"No NLU model at {self.paths.model}: train it first.")
        if not port_is_free(self.port, self.host):
            raise RasaServerError(f"Port {self.port} on {self.host} is already in use.")
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        log.info("Starting the Rasa NLU server on %s (log: %s)", self.url, self.log_file)
        started = time.monotonic()
        self._starts += 1
        # A plain Popen (not an asyncio subprocess) so the server can be started
        # in one event loop and stopped in another (pytest session fixtures).
        with self.log_file.open("wb" if self._starts == 1 else "ab") as out:
            self._process = subprocess.Popen(  # noqa: ASYNC220
                self.command(),
                cwd=self.paths.root,
                env=rasa_env(self.paths),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        try:
            await self._wait_ready()
        except BaseException:
            await self.stop()
            raise
        self.ready_seconds = time.monotonic() - started
        log.info("Rasa NLU server ready in %.1f s (pid %s)", self.ready_seconds, self.pid)

    async def _wait_ready(self) -> None:
        """Poll ``GET /`` until it answers 200, the process dies, or time runs out."""
        deadline = time.monotonic() + self.ready_timeout_s
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                if not self.running:
                    raise RasaServerError(
                        f"The Rasa server stopped while starting; see {self.log_file}:\n"
                        f"{self.log_tail()}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    response = await client.get(f"{self.url}/")
                    if response.status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise RasaServerError(
                        f"The Rasa server was not ready after {self.ready_timeout_s:.0f} s; "
                        f"see {self.log_file}."
                    )
                await asyncio.sleep(0.25)

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the server log (Rasa does not print the token)."""
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop the server: SIGTERM to its process group, SIGKILL after ``grace_s``."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            self._signal(process.pid, signal.SIGTERM)
            if not await self._exited(process, grace_s):
                log.warning("Rasa server did not stop in %.0f s; killing it", grace_s)
                self._signal(process.pid, signal.SIGKILL)
                await self._exited(process, grace_s)
            log.info("Rasa NLU server stopped (pid %s)", process.pid)
        self._process = None

    @staticmethod
    async def _exited(process: subprocess.Popen[bytes], within_s: float) -> bool:
        """Wait (without blocking the loop) up to ``within_s`` for the process to end."""
        deadline = time.monotonic() + within_s
        while process.poll() is None:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    @staticmethod
    def _signal(pid: int, sig: signal.Signals) -> None:
        """Send ``sig`` to the server's own process group (started in a new session)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)

    def rss_bytes(self) -> int | None:
        """Resident memory of the server process (Linux ``/proc``), if running."""
        if not self.running or self.pid is None:
            return None
        try:
            status = Path(f"/proc/{self.pid}/status").read_text(encoding="utf-8")
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return None

    async def __aenter__(self) -> RasaServer:
        """Start the server."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        await self.stop()
