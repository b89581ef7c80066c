"""Staff roles: who may review members' skill profiles, and for which network.

A staff member is known by their Telegram id. They see the members of their own
network; an admin sees every network. Members and staff are kept apart: being
staff gives no member row, and a member row gives no staff rights.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, utcnow


class Staff(Base):
    """A person allowed to export profiles (their own network, or all when admin)."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    name: Mapped[str | None] = mapped_column(String(64))
    network: Mapped[str] = mapped_column(String(64), index=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    added_by: Mapped[str] = mapped_column(String(64), default="")
