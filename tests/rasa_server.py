"""Pytest plugin: a real Rasa NLU server on loopback for the whole test session.

Fixtures:
- ``rasa_paths``  (session) the project's NLU paths; skips when ``.venv-rasa`` (or
  ``$SKILLSPARK_RASA_VENV``) is missing, fails instead when
  ``SKILLSPARK_REQUIRE_RASA=1`` (CI);
- ``rasa_model``  (session) the trained model (trains only if inputs changed);
- ``rasa_server`` (session) a started :class:`RasaServer` on a free port in 5105-5199;
- ``rasa_client`` (function) a :class:`RasaUnderstanding` for that server;
- ``rasa_port``   (function) another free port in 5105-5199 for a test's own server.

Tests that use any of them are marked ``rasa`` automatically.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.nlu.client import RasaUnderstanding
from bot.nlu.server import RasaServer, free_port
from bot.nlu.training import PROJECT_ROOT, NluPaths, TrainResult, ensure_trained

PORTS = (5105, 5199)
RASA_FIXTURES = {"rasa_paths", "rasa_model", "rasa_server", "rasa_client", "rasa_port"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs the Rasa server with ``@pytest.mark.rasa``."""
    for item in items:
        if RASA_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.rasa)


@pytest.fixture(scope="session")
def rasa_paths() -> NluPaths:
    """The project's NLU paths, or a skip (a failure in CI) without ``.venv-rasa``."""
    venv = os.environ.get("SKILLSPARK_RASA_VENV") or str(PROJECT_ROOT / ".venv-rasa")
    paths = NluPaths(root=PROJECT_ROOT, models_dir=PROJECT_ROOT / "models", venv=Path(venv))
    if not paths.venv_ready():
        reason = (
            f"Rasa environment missing at {paths.venv}; "
            "build it with: bash scripts/setup-rasa-venv.sh"
        )
        if os.environ.get("SKILLSPARK_REQUIRE_RASA") == "1":
            pytest.fail(f"SKILLSPARK_REQUIRE_RASA=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return paths


@pytest.fixture(scope="session")
def rasa_model(rasa_paths: NluPaths) -> TrainResult:
    """The trained model (trained now only when the data or config changed)."""
    return ensure_trained(rasa_paths)


@pytest.fixture(scope="session")
def rasa_server(rasa_paths: NluPaths, rasa_model: TrainResult) -> Iterator[RasaServer]:
    """One real Rasa server for the session, stopped at the end."""
    server = RasaServer(rasa_paths, port=free_port(*PORTS))
    asyncio.run(server.start())
    try:
        yield server
    finally:
        asyncio.run(server.stop())


@pytest.fixture
async def rasa_client(rasa_server: RasaServer) -> AsyncIterator[RasaUnderstanding]:
    """A client for the session's Rasa server (generous timeout on a busy machine)."""
    if not rasa_server.running:
        await rasa_server.start()
    async with RasaUnderstanding(rasa_server.url, rasa_server.token, timeout_s=10.0) as client:
        yield client


@pytest.fixture
def rasa_port(rasa_paths: NluPaths) -> int:
    """A free port in the NLU range for a test that runs its own server."""
    return free_port(*PORTS)
