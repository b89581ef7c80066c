"""The desk's liveness and readiness endpoints over real HTTP (issue 16 part 2).

``/healthz`` and ``/readyz`` (and the webhook server's ``/healthz/live`` and
``/healthz/ready``) answer without a session and never set a cookie.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import text

from bot.desk.app import LIVE_PATHS, READY_PATHS
from bot.desk.serve import running_desk
from bot.health import Readiness, head_revision, readiness
from bot.nlu.rules import RuleUnderstanding
from bot.staff.labels import Labels
from tests.conftest import Database, shared_parts
from tests.desk_support import desk_for


def no_cookie(answer: httpx.Response) -> None:
    """A health answer starts no session."""
    assert "set-cookie" not in answer.headers, answer.headers


async def test_liveness_and_readiness_without_a_session(database: Database, tmp_path: Path) -> None:
    async with (
        desk_for(database, tmp_path) as desk,
        httpx.AsyncClient(base_url=desk.url, follow_redirects=False, timeout=10) as http,
    ):
        assert LIVE_PATHS == ("/healthz", "/healthz/live")
        assert READY_PATHS == ("/readyz", "/healthz/ready")
        for path in LIVE_PATHS:
            answer = await http.get(path)
            assert answer.status_code == 200, path
            assert answer.json() == {"status": "alive"}
            no_cookie(answer)
        for path in READY_PATHS:
            answer = await http.get(path)
            assert answer.status_code == 200, (path, answer.text)
            body = answer.json()
            assert body["status"] == "ready"
            assert set(body["checks"]) == {"database", "migrations"}  # the desk alone: no NLU
            assert body["checks"]["migrations"]["detail"] == f"at {head_revision()}"
            no_cookie(answer)
        assert (await http.post("/readyz")).status_code == 405
        # the pages still need a session
        assert (await http.get("/")).status_code == 303


async def test_readiness_fails_when_the_schema_is_behind(
    database: Database, tmp_path: Path
) -> None:
    """A database whose schema is not at this code's head: 503, and the body says why."""
    async with (
        desk_for(database, tmp_path) as desk,
        httpx.AsyncClient(base_url=desk.url, timeout=10) as http,
    ):
        async with desk.sessionmaker.begin() as session:
            await session.execute(text("UPDATE alembic_version SET version_num = '0001'"))
        answer = await http.get("/readyz")
        assert answer.status_code == 503
        body = answer.json()
        assert body["status"] == "not ready"
        assert body["checks"]["database"]["ok"] is True
        assert body["checks"]["migrations"] == {
            "ok": False,
            "detail": f"database at 0001, code at {head_revision()}",
        }
        no_cookie(answer)
        assert (await http.get("/healthz")).status_code == 200  # alive all the same


async def test_in_the_bot_process_readiness_is_the_bots(database: Database, tmp_path: Path) -> None:
    """``skillspark run`` hands the desk its own check (with the NLU), as run_telegram does."""
    async with desk_for(database, tmp_path) as desk:
        engine = desk.sessionmaker.kw["bind"]
        understanding = RuleUnderstanding()

        async def health() -> Readiness:
            return await readiness(engine, understanding)

        labels = Labels.from_content(shared_parts()[0])
        async with running_desk(
            desk.sessionmaker, labels, desk.settings, port=0, health=health
        ) as server:
            host, port = server.servers[0].sockets[0].getsockname()[:2]
            async with httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=10) as http:
                answer = await http.get("/readyz")
        assert answer.status_code == 200, answer.text
        checks = answer.json()["checks"]
        assert set(checks) == {"database", "migrations", "nlu"}
        assert checks["nlu"] == {"ok": True, "detail": "simple rules"}
