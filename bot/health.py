"""Liveness and readiness, with no web framework (the webhook server and the desk serve them).

* *live*: the process answers at all (its event loop runs). An orchestrator
  restarts a process that stops being live.
* *ready*: it can do its work: the database answers, its schema is at the
  migration head this code knows, and the NLU (Rasa, or the simple rules when
  Rasa is away) can understand members. An orchestrator sends traffic only to a
  ready process.

:func:`readiness` never raises; each check has a time limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

#: Seconds each check may take before it counts as failed.
CHECK_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Check:
    """One readiness check: its name, whether it passed, and a short plain detail."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Readiness:
    """The result of every check; ``ok`` only when all passed."""

    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return all(c.ok for c in self.checks)

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready body: ``status`` ("ready"/"not ready") and each check."""
        return {
            "status": "ready" if self.ok else "not ready",
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in self.checks},
        }


def liveness() -> dict[str, Any]:
    """The liveness body: answering at all is the check."""
    return {"status": "alive"}


def head_revision() -> str | None:
    """The newest migration this code knows."""
    from alembic.script import ScriptDirectory

    from storage.db import alembic_config

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def _timed(name: str, work: Awaitable[Check], timeout_s: float) -> Check:
    """Run one check; a failure or a timeout is a failed check, never an exception."""
    try:
        return await asyncio.wait_for(work, timeout_s)
    except TimeoutError:
        return Check(name, False, f"no answer within {timeout_s:g} s")
    except Exception as exc:
        return Check(name, False, type(exc).__name__)


async def _database(db: AsyncEngine) -> Check:
    """The database answers ``SELECT 1``."""
    async with db.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return Check("database", True, db.dialect.name)


async def _migrations(db: AsyncEngine, head: str | None) -> Check:
    """The schema is at the head revision."""
    from storage.db import current_revision

    current = await current_revision(db)
    if current == head:
        return Check("migrations", True, f"at {current}")
    return Check("migrations", False, f"database at {current}, code at {head}")


async def _nlu(understanding: Any) -> Check:
    """Rasa answers, or the rules stand in (the bot still understands members)."""
    if understanding is None:
        return Check("nlu", False, "not started")
    if getattr(understanding, "degraded", False):
        return Check("nlu", True, "simple rules (Rasa is not answering)")
    rasa = getattr(understanding, "rasa", None)
    if rasa is not None:
        return Check("nlu", True, "rasa")
    return Check("nlu", True, "simple rules")


async def readiness(
    db: AsyncEngine | None,
    understanding: Any,
    *,
    timeout_s: float = CHECK_TIMEOUT_S,
    nlu: bool = True,
) -> Readiness:
    """Check the database, the migrations and the NLU (all at once, each within ``timeout_s``).

    ``nlu=False`` leaves the NLU out: the staff desk served alone (``skillspark
    desk``) needs only the database.
    """
    if db is None:
        return Readiness([Check("database", False, "not started")])
    head = head_revision()
    work = [
        _timed("database", _database(db), timeout_s),
        _timed("migrations", _migrations(db, head), timeout_s),
    ]
    if nlu:
        work.append(_timed("nlu", _nlu(understanding), timeout_s))
    checks = await asyncio.gather(*work)
    return Readiness(list(checks))
