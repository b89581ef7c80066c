"""The desk's forms (WTForms), each with a session CSRF token.

Validation of an opportunity is the service's own (``bot.nudges.opportunities.check``);
its problems are put next to the field they are about.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from wtforms import (
    BooleanField,
    Form,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.csrf.session import SessionCSRF
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from bot.types import CATEGORIES

#: The largest Telegram user id the database holds (BIGINT).
MAX_ID = 2**63 - 1
#: How long a page's form stays usable.
FORM_LIFETIME = timedelta(hours=8)


class DeskForm(Form):
    """A form whose CSRF token is tied to the signed session."""

    if TYPE_CHECKING:
        csrf_token: Any

    class Meta:
        csrf = True
        csrf_class = SessionCSRF
        csrf_time_limit = FORM_LIFETIME


def form_meta(secret: bytes, session: MutableMapping[str, Any]) -> dict[str, Any]:
    """The ``meta`` argument that ties a form to this session."""
    return {"csrf_secret": secret, "csrf_context": session}


class ActionForm(DeskForm):
    """A button that changes something (approve, close, seen, sign out): only the token."""


class SignInForm(DeskForm):
    """Sign in with a staff number and password."""

    telegram_id = IntegerField(
        "Your staff number (your Telegram user number)",
        validators=[
            InputRequired("Please write your staff number."),
            NumberRange(min=1, max=MAX_ID, message="Please write your staff number."),
        ],
    )
    password = PasswordField(
        "Your password",
        validators=[DataRequired("Please write your password."), Length(max=1024)],
    )


def category_choices(labels: Any) -> list[tuple[str, str]]:
    """Each skill category with its words."""
    return [(c, f"{labels.category_emoji(c)} {labels.category(c)}".strip()) for c in CATEGORIES]


class OpportunityForm(DeskForm):
    """Add or change an opportunity (the fields of an import file)."""

    title = StringField("Title (a few words)")
    description = TextAreaField("What it is about (short sentences)")
    emoji = StringField("Picture (1 emoji)", default="🌟")
    categories = SelectMultipleField("Kinds of skill it needs", choices=[])
    network = SelectField("Who it is for", choices=[])
    when = StringField("When (for example: Saturday 10 in the morning)")
    where = StringField("Where (for example: the community garden)")
    contact = StringField("Who to contact (a name and how)")
    places = StringField("How many places (a number, or leave empty)")
    closes = StringField("Last day to say yes (YEAR-MONTH-DAY, for example 2026-12-31)")
    ref = StringField("Your own short code for it (leave empty if you like)")


class StaffForm(DeskForm):
    """Add a staff member or change their network and role (admins only)."""

    telegram_id = IntegerField(
        "Their Telegram user number",
        validators=[
            InputRequired("Please write their Telegram user number."),
            NumberRange(min=1, max=MAX_ID, message="Please write a whole number."),
        ],
    )
    name = StringField("Their name", validators=[Optional(), Length(max=64)])
    network = StringField(
        "Their network", validators=[DataRequired("Please write a network."), Length(max=64)]
    )
    is_admin = BooleanField("They may see every network and manage staff")


class DeclineForm(DeskForm):
    """Decline a skill swap, with an optional note for the record."""

    note = StringField("Why (only staff see this)", validators=[Optional(), Length(max=200)])
