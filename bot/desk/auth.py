"""Who may come in: desk passwords (argon2), one-time sign-in links, lock-out.

Functions take an open ``AsyncSession`` inside the caller's transaction. A
password is only ever held as an argon2 hash; a sign-in link's token only as
its SHA-256. Neither is logged: the audit trail records who and what, never a
secret.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.staff.roles import Scope, get_staff
from storage import repo
from storage.models import utcnow
from storage.models_desk import DeskLink, DeskLogin
from storage.models_staff import Staff

#: Wrong passwords in a row before the account is locked.
MAX_TRIES = 10
#: How long a locked account stays locked.
LOCK_FOR = timedelta(minutes=15)
#: How long a sign-in link sent on Telegram works.
LINK_LIFETIME = timedelta(minutes=15)
#: Shortest password an admin may set.
MIN_PASSWORD = 10
MAX_PASSWORD = 1024

_hasher = PasswordHasher()
#: Checked against when the account is unknown, so both take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class PasswordProblem(ValueError):
    """A password that cannot be set; the message says why."""


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in: ``staff`` when it worked, else ``reason``."""

    staff: Staff | None
    #: "" | wrong | locked | expired: for the audit trail; pages show every failure alike.
    reason: str = ""


def aware(moment: datetime | None) -> datetime | None:
    """A stored time as UTC-aware (SQLite gives naive times back)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    from datetime import UTC

    return moment.replace(tzinfo=UTC)


def scope_of(staff: Staff) -> Scope:
    """What a staff member may see."""
    return Scope(staff.telegram_id, staff.network, staff.is_admin)


async def _login_row(session: AsyncSession, staff: Staff) -> DeskLogin:
    """The staff member's password row, created when missing."""
    row = await session.get(DeskLogin, staff.id, with_for_update=True)
    if row is None:
        row = DeskLogin(staff_id=staff.id, failed_count=0, updated_at=utcnow())
        session.add(row)
        await session.flush()
    return row


async def set_password(session: AsyncSession, telegram_id: int, password: str, *, by: str) -> Staff:
    """Set a staff member's desk password (stored as an argon2 hash only)."""
    if len(password) < MIN_PASSWORD:
        raise PasswordProblem(f"use {MIN_PASSWORD} or more characters")
    if len(password) > MAX_PASSWORD:
        raise PasswordProblem(f"use at most {MAX_PASSWORD} characters")
    staff = await get_staff(session, telegram_id)
    if staff is None:
        raise PasswordProblem(f"{telegram_id} is not staff: see 'skillspark staff list'")
    row = await _login_row(session, staff)
    row.password_hash = _hasher.hash(password)
    row.failed_count = 0
    row.locked_until = None
    row.updated_at = utcnow()
    await repo.audit(session, by[:64], "desk_password_set", None, {"telegram_id": telegram_id})
    return staff


async def check_password(
    session: AsyncSession, telegram_id: int, password: str, *, now: datetime | None = None
) -> SignIn:
    """Sign in with a password; the 10th wrong one in a row locks the account for a while."""
    now = now or utcnow()
    actor = f"desk:{telegram_id}"
    staff = await get_staff(session, telegram_id)
    if staff is None:
        _verify(_DUMMY_HASH, password)
        await repo.audit(session, "desk", "desk_sign_in_failed", None, {"reason": "unknown"})
        return SignIn(None, "wrong")
    row = await _login_row(session, staff)
    # One hash check on every path (unknown, locked, no password), so none answers faster.
    matches = _verify(row.password_hash or _DUMMY_HASH, password) and bool(row.password_hash)
    locked_until = aware(row.locked_until)
    if locked_until is not None and locked_until > now:
        await repo.audit(session, actor, "desk_sign_in_failed", None, {"reason": "locked"})
        return SignIn(None, "locked")
    if row.password_hash is None or not matches:
        row.failed_count += 1
        row.updated_at = now
        if row.failed_count >= MAX_TRIES:
            row.failed_count = 0
            row.locked_until = now + LOCK_FOR
            await repo.audit(session, actor, "desk_locked", None, {"minutes": 15})
            return SignIn(None, "locked")
        await repo.audit(session, actor, "desk_sign_in_failed", None, {"reason": "wrong"})
        return SignIn(None, "wrong")
    if _hasher.check_needs_rehash(row.password_hash):
        row.password_hash = _hasher.hash(password)
    row.failed_count = 0
    row.locked_until = None
    row.updated_at = now
    await repo.audit(session, actor, "desk_sign_in", None, {"with": "password"})
    return SignIn(staff)


def _verify(stored: str, password: str) -> bool:
    """True when the password matches the argon2 hash."""
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _token_hash(token: str) -> str:
    """What is stored for a link token."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


async def make_link(
    session: AsyncSession, telegram_id: int, *, now: datetime | None = None
) -> str | None:
    """A new one-time sign-in token for a staff member (``None`` when not staff)."""
    now = now or utcnow()
    staff = await get_staff(session, telegram_id)
    if staff is None:
        return None
    token = secrets.token_urlsafe(32)
    session.add(
        DeskLink(
            token_hash=_token_hash(token),
            staff_id=staff.id,
            created_at=now,
            expires_at=now + LINK_LIFETIME,
        )
    )
    await session.flush()
    await repo.audit(session, f"telegram:{telegram_id}", "desk_link_sent", None, {})
    return token


async def use_link(session: AsyncSession, token: str, *, now: datetime | None = None) -> SignIn:
    """Sign in with a link token: it works once, within 15 minutes."""
    now = now or utcnow()
    if not token or len(token) > 200:
        return SignIn(None, "expired")
    stmt = select(DeskLink).where(DeskLink.token_hash == _token_hash(token)).with_for_update()
    link = (await session.execute(stmt)).scalar_one_or_none()
    if link is None or link.used_at is not None or (aware(link.expires_at) or now) <= now:
        await repo.audit(session, "desk", "desk_sign_in_failed", None, {"reason": "link"})
        return SignIn(None, "expired")
    link.used_at = now
    staff = await session.get(Staff, link.staff_id)
    if staff is None:
        return SignIn(None, "expired")
    await repo.audit(session, f"desk:{staff.telegram_id}", "desk_sign_in", None, {"with": "link"})
    return SignIn(staff)


async def end_sessions(
    session: AsyncSession, staff_id: int, *, now: datetime | None = None
) -> None:
    """Sign out everywhere: every session of this staff member started before now is over."""
    staff = await session.get(Staff, staff_id)
    if staff is None:
        return
    row = await _login_row(session, staff)
    row.sessions_valid_from = now or utcnow()
    await repo.audit(session, f"desk:{staff.telegram_id}", "desk_sign_out", None, {})


async def session_valid(session: AsyncSession, staff_id: int, started: float) -> bool:
    """True when a session started at ``started`` (a UNIX time) has not been signed out."""
    row = await session.get(DeskLogin, staff_id)
    valid_from = aware(row.sessions_valid_from) if row is not None else None
    return valid_from is None or started > valid_from.timestamp()
