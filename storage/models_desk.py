"""Tables of the staff desk (``bot/desk``): passwords, sign-in links, alerts seen.

Kept apart from the ``staff`` and ``staff_alerts`` tables so those stay as the
chat commands and the alert sweep use them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, utcnow


class DeskLogin(Base):
    """A staff member's desk password (an argon2 hash) and wrong tries."""

    __tablename__ = "desk_logins"

    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True
    )
    password_hash: Mapped[str | None] = mapped_column(String(255))
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    #: Sessions started before this are over (sign-out ends every copy of the cookie).
    sessions_valid_from: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeskLink(Base):
    """A one-time sign-in link sent on Telegram; only a hash of its token is kept."""

    __tablename__ = "desk_links"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class AlertSeen(Base):
    """A staff member said "I have seen this" about a safety or help alert."""

    __tablename__ = "alerts_seen"

    alert_id: Mapped[int] = mapped_column(
        ForeignKey("staff_alerts.id", ondelete="CASCADE"), primary_key=True
    )
    seen_by: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)
