"""The staff roles repository: add, remove, list and look up staff members.

Functions take an open ``AsyncSession`` inside the caller's transaction, like
:mod:`storage.repo`. Adding or removing staff is written to the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import repo
from storage.models import Member
from storage.models_staff import Staff

MAX_NETWORK = 64


class RoleError(ValueError):
    """A staff change that cannot be made; the message says what to fix."""


@dataclass(frozen=True)
class Scope:
    """What one staff member may export: a network, or every network for an admin."""

    telegram_id: int
    network: str
    is_admin: bool

    @property
    def networks(self) -> str | None:
        """The network to limit an export to (``None``: every network)."""
        return None if self.is_admin else self.network


def clean_network(network: str) -> str:
    """A network name as stored: trimmed, non-empty, at most 64 characters."""
    name = network.strip()
    if not name:
        raise RoleError("the network name is empty: give one with --network NAME")
    if len(name) > MAX_NETWORK:
        raise RoleError(f"the network name is longer than {MAX_NETWORK} characters")
    return name


async def add_staff(
    session: AsyncSession,
    telegram_id: int,
    network: str,
    *,
    is_admin: bool = False,
    name: str | None = None,
    added_by: str,
) -> tuple[Staff, bool]:
    """Add a staff member, or update their network and role; True when new."""
    if telegram_id <= 0:
        raise RoleError("a Telegram user id is a positive whole number")
    network = clean_network(network)
    row = await get_staff(session, telegram_id)
    created = row is None
    if row is None:
        row = Staff(telegram_id=telegram_id, added_by=added_by[:64])
        session.add(row)
    row.network = network
    row.is_admin = is_admin
    if name is not None:
        row.name = name.strip()[:64] or None
    await session.flush()
    await repo.audit(
        session,
        added_by[:64],
        "staff_added" if created else "staff_changed",
        None,
        {"telegram_id": telegram_id, "network": network, "is_admin": is_admin},
    )
    return row, created


async def remove_staff(session: AsyncSession, telegram_id: int, *, removed_by: str) -> bool:
    """Take away a staff role; False when there was none."""
    row = await get_staff(session, telegram_id)
    if row is None:
        return False
    detail = {"telegram_id": telegram_id, "network": row.network, "is_admin": row.is_admin}
    await session.delete(row)
    await session.flush()
    await repo.audit(session, removed_by[:64], "staff_removed", None, detail)
    return True


async def get_staff(session: AsyncSession, telegram_id: int) -> Staff | None:
    """The staff row for a Telegram user, if they are staff."""
    stmt = select(Staff).where(Staff.telegram_id == telegram_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def staff_scope(session: AsyncSession, telegram_id: int) -> Scope | None:
    """What this Telegram user may export, or ``None`` when they are not staff."""
    row = await get_staff(session, telegram_id)
    if row is None:
        return None
    return Scope(row.telegram_id, row.network, row.is_admin)


async def list_staff(session: AsyncSession, network: str | None = None) -> list[Staff]:
    """Every staff member (of one network, when given), by network then id."""
    stmt = select(Staff).order_by(Staff.network, Staff.telegram_id)
    if network is not None:
        stmt = stmt.where(Staff.network == network)
    return list((await session.execute(stmt)).scalars())


async def recipients(session: AsyncSession, network: str) -> list[int]:
    """Telegram ids to alert about a network: its staff, then every admin.

    Fits ``bot.jobs.Recipients`` for the staff-alert sweep.
    """
    stmt = (
        select(Staff.telegram_id)
        .where(or_(Staff.network == network, Staff.is_admin.is_(True)))
        .order_by(Staff.is_admin, Staff.telegram_id)
    )
    return [int(t) for t in (await session.execute(stmt)).scalars()]


async def known_networks(session: AsyncSession) -> list[str]:
    """Every network with members or staff, sorted."""
    members = select(Member.network).distinct()
    staff = select(Staff.network).distinct()
    found = set((await session.execute(members)).scalars()) | set(
        (await session.execute(staff)).scalars()
    )
    return sorted(found)
