"""The desk's web application (Starlette): pages, forms and downloads for staff.

Every request after sign-in reads the staff row again, so a removed staff
member is out at once. A staff member sees their own network only (an admin
every network); anything else is "not found". Changes go through the same
service functions as the command line.
"""

from __future__ import annotations

import csv
import io
import logging
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot import health as checks
from bot.desk import auth, views
from bot.desk.chart import confidence_chart
from bot.desk.forms import (
    MAX_ID,
    ActionForm,
    DeclineForm,
    DeskForm,
    OpportunityForm,
    SignInForm,
    StaffForm,
    category_choices,
    form_meta,
)
from bot.nudges import matches as swaps
from bot.nudges import opportunities as opps
from bot.nudges.data import outbox_status
from bot.settings import Settings
from bot.staff import roles
from bot.staff.data import ExportFilter
from bot.staff.export import ExportError, ExportRequest, export_members
from bot.staff.labels import Labels
from storage import repo
from storage.models import utcnow
from storage.models_nudges import Opportunity, PeerMatch
from storage.models_staff import Staff

log = logging.getLogger(__name__)

#: The readiness check the desk answers ``/readyz`` with.
Health = Callable[[], Awaitable[checks.Readiness]]
#: Liveness and readiness paths: the short ones, and the webhook server's.
LIVE_PATHS = ("/healthz", "/healthz/live")
READY_PATHS = ("/readyz", "/healthz/ready")

HERE = Path(__file__).resolve().parent
#: How long a signed-in session lasts.
SESSION_SECONDS = 8 * 3600
#: Largest opportunities file accepted.
MAX_IMPORT_BYTES = 1024 * 1024
MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
#: The one answer to every failed password sign-in: an unknown staff number, a wrong
#: password and a locked account look alike, so the page tells nobody which numbers exist.
SIGN_IN_FAILED = (
    "The staff number or the password is not right, or the account is locked. "
    "After 10 wrong passwords an account is locked for 15 minutes. "
    "Please try again later, or ask an admin."
)
ALERT_WORDS = {
    "distress": "🛟 A member may need help",
    "erasure": "🗑️ A member asked to delete their data",
    "peer_meet": "🤝 Two members want to meet",
    "help": "🙋 A member asked for help",
}


@dataclass
class Desk:
    """What every page needs: the database, the words, the settings (and the readiness check)."""

    sessionmaker: async_sessionmaker[AsyncSession]
    labels: Labels
    settings: Settings
    templates: Jinja2Templates
    health: Health

    @property
    def secret(self) -> bytes:
        """The secret that signs cookies and form tokens."""
        return self.settings.desk_secret.get_secret_value().encode()

    @property
    def zone(self) -> ZoneInfo:
        """The time zone dates are shown in."""
        return ZoneInfo(self.settings.nudge_timezone)


class SecurityHeaders:
    """Headers on every answer: no framing, no sniffing, nothing cached."""

    def __init__(self, app: ASGIApp) -> None:
        """Wrap the application."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Add the headers to each response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"x-frame-options", b"DENY"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cache-control", b"no-store"),
                    (
                        b"content-security-policy",
                        b"default-src 'self'; img-src 'self' data:; style-src 'self'; "
                        b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
                    ),
                ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, sending)


def desk_of(request: Request) -> Desk:
    """The desk this request belongs to."""
    desk: Desk = request.app.state.desk
    return desk


def actor_of(staff: Staff) -> str:
    """How a staff member is named in the audit trail."""
    return f"desk:{staff.telegram_id}"


def who(staff: Staff) -> str:
    """A staff member's name for pages (their number when they have no name)."""
    return staff.name or f"staff {staff.telegram_id}"


async def signed_in(request: Request) -> Staff | None:
    """The staff member of this session, read again from the database."""
    staff_id = request.session.get("staff_id")
    started = request.session.get("started")
    if not isinstance(staff_id, int) or not isinstance(started, float):
        return None
    async with desk_of(request).sessionmaker() as session:
        staff = await session.get(Staff, staff_id)
        if staff is not None and not await auth.session_valid(session, staff_id, started):
            staff = None
    if staff is None:
        request.session.clear()
    return staff


Handler = Callable[[Request, Staff], Awaitable[Response]]


def page(handler: Handler, *, admin: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """A page for signed-in staff: others go to the sign-in page (POSTs are refused)."""

    async def endpoint(request: Request) -> Response:
        staff = await signed_in(request)
        if staff is None:
            if request.method != "GET":
                raise HTTPException(403, "Please sign in first.")
            return RedirectResponse("/signin", status_code=303)
        if admin and not staff.is_admin:
            raise HTTPException(403, "Only admins can open this page.")
        if request.method == "POST":
            await check_token(request)
        return await handler(request, staff)

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


async def check_token(request: Request) -> FormData:
    """Refuse a form sent without this session's CSRF token."""
    form = await request.form(max_files=1, max_fields=100)
    if "csrf" not in request.session:
        raise HTTPException(403, "This form has run out. Please go back and try again.")
    action = ActionForm(form, meta=form_meta(desk_of(request).secret, request.session))
    action.validate()
    if action.csrf_token.errors:
        raise HTTPException(403, "This form has run out. Please go back and try again.")
    return form


def render(
    request: Request, name: str, staff: Staff | None, status: int = 200, **context: Any
) -> Response:
    """A page from its template; every page gets a sign-out button and its title."""
    desk = desk_of(request)
    meta = form_meta(desk.secret, request.session)
    context.update(
        request=request,
        staff=staff,
        action=ActionForm(meta=meta),
        zone=desk.zone,
        labels=desk.labels,
    )
    return desk.templates.TemplateResponse(request, name, context, status_code=status)


#: The largest id of an ``Integer`` column (row ids); Telegram ids are ``BigInteger``.
MAX_ROW_ID = 2**31 - 1


def int_param(request: Request, name: str, *, largest: int = MAX_ROW_ID) -> int:
    """A whole-number path parameter up to ``largest`` (anything else is not found)."""
    value = request.path_params.get(name)
    if isinstance(value, int) and 0 < value <= largest:
        return value
    raise HTTPException(404, "There is nothing here.")


def local(moment: datetime | None, zone: ZoneInfo) -> str:
    """A time as staff read it: ``6 December 2026, 14:05``."""
    if moment is None:
        return ""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).strftime("%-d %B %Y, %H:%M")


def local_day(moment: datetime | None, zone: ZoneInfo) -> str:
    """A date as staff read it: ``6 December 2026``."""
    if moment is None:
        return ""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).strftime("%-d %B %Y")


# ---------------------------------------------------------------------- signing in


async def signin(request: Request) -> Response:
    """Sign in with a staff number and password."""
    desk = desk_of(request)
    meta = form_meta(desk.secret, request.session)
    if request.method == "GET":
        if await signed_in(request) is not None:
            return RedirectResponse("/", status_code=303)
        return render(request, "signin.html", None, form=SignInForm(meta=meta))
    data = await request.form(max_files=0, max_fields=10)
    if "csrf" not in request.session:
        raise HTTPException(403, "This form has run out. Please go back and try again.")
    form = SignInForm(data, meta=meta)
    if not form.validate():
        if form.csrf_token.errors:
            raise HTTPException(403, "This form has run out. Please go back and try again.")
        return render(request, "signin.html", None, 400, form=form)
    async with desk.sessionmaker.begin() as session:
        result = await auth.check_password(
            session, int(form.telegram_id.data or 0), form.password.data or ""
        )
    if result.staff is None:
        form.password.errors = [SIGN_IN_FAILED]
        return render(request, "signin.html", None, 401, form=form)
    return _start_session(request, result.staff)


def _start_session(request: Request, staff: Staff) -> Response:
    """A fresh session for this staff member (the old one, and its tokens, are gone)."""
    request.session.clear()
    request.session["staff_id"] = staff.id
    request.session["started"] = time.time()
    return RedirectResponse("/", status_code=303)


async def signin_link(request: Request) -> Response:
    """A one-time link from Telegram: a button to press (link previews do not sign in)."""
    desk = desk_of(request)
    token = str(request.path_params.get("token", ""))
    meta = form_meta(desk.secret, request.session)
    if request.method == "GET":
        return render(request, "signin_link.html", None, token=token, form=ActionForm(meta=meta))
    await check_token(request)
    async with desk.sessionmaker.begin() as session:
        result = await auth.use_link(session, token)
    if result.staff is None:
        return render(request, "signin_link.html", None, 400, token="", form=ActionForm(meta=meta))
    return _start_session(request, result.staff)


async def signout(request: Request) -> Response:
    """Sign out: the session is emptied, and every copy of its cookie stops working."""
    staff = await signed_in(request)
    if staff is not None:
        await check_token(request)
        async with desk_of(request).sessionmaker.begin() as session:
            await auth.end_sessions(session, staff.id)
    request.session.clear()
    return RedirectResponse("/signin", status_code=303)


# ---------------------------------------------------------------------- members


async def home(request: Request, staff: Staff) -> Response:
    """The first page: members who have not answered for a while, then all my members."""
    desk = desk_of(request)
    weeks = desk.settings.desk_inactive_weeks
    async with desk.sessionmaker.begin() as session:
        lines = await views.member_lines(
            session, auth.scope_of(staff), inactive_weeks=weeks, now=utcnow()
        )
        await roles_audit(session, staff, "desk_members_read", {"members": len(lines)})
    charts = {line.id: confidence_chart(line.ratings) for line in lines}
    return render(
        request,
        "home.html",
        staff,
        lines=lines,
        inactive=[line for line in lines if line.inactive],
        weeks=weeks,
        charts=charts,
        local_day=local_day,
    )


async def roles_audit(
    session: AsyncSession, staff: Staff, action: str, detail: dict[str, object]
) -> None:
    """Write a desk read to the audit trail."""
    await repo.audit(session, actor_of(staff), action, None, detail)


def _shown(member_ids: list[int]) -> dict[str, object]:
    """An audit detail naming the members a page showed."""
    return {"members": sorted(set(member_ids))}


async def member_page(request: Request, staff: Staff) -> Response:
    """One member's profile: the same as their PDF page, with download buttons."""
    desk = desk_of(request)
    member_id = int_param(request, "member_id")
    async with desk.sessionmaker.begin() as session:
        profile = await views.load_profile(
            session, auth.scope_of(staff), member_id, desk.labels, actor=actor_of(staff)
        )
    if profile is None:
        raise HTTPException(404, "There is no member with this number in your network.")
    rows = profile.batch.ratings.get(member_id, [])
    ratings = [(r.value, views.aware(r.created_at)) for r in rows]
    return render(
        request,
        "member.html",
        staff,
        profile=profile,
        chart=confidence_chart(ratings),
        ratings=ratings,
        local=local,
        local_day=local_day,
    )


async def member_download(request: Request, staff: Staff) -> Response:
    """A member's profile as CSV, XLSX or PDF (the export, audited as such)."""
    desk = desk_of(request)
    member_id = int_param(request, "member_id")
    fmt = str(request.path_params.get("fmt", ""))
    if fmt not in MEDIA:
        raise HTTPException(404, "There is no such file.")
    scope = auth.scope_of(staff)
    async with desk.sessionmaker.begin() as session:
        if not await views.member_in_scope(session, scope, member_id):
            await roles_audit(session, staff, "export_refused", {"member_id": member_id})
            raise HTTPException(404, "There is no member with this number in your network.")
    request_ = ExportRequest(
        fmt=fmt,
        filt=ExportFilter(network=scope.networks, member_ids=(member_id,)),
        actor=actor_of(staff),
        channel="desk",
        timezone=desk.settings.nudge_timezone,
    )
    with tempfile.TemporaryDirectory(prefix="skillspark-desk-") as folder:
        out = Path(folder) / f"skillspark-member-{member_id}.{fmt}"
        try:
            done = await export_members(desk.sessionmaker, request_, out, desk.labels)
        except ExportError as exc:
            log.warning("desk export of member %d failed: %s", member_id, exc.message)
            raise HTTPException(404, "There is nothing to download for this member.") from None
        content = done.path.read_bytes()
    return Response(
        content,
        media_type=MEDIA[fmt],
        headers={"content-disposition": f'attachment; filename="{out.name}"'},
    )


# ---------------------------------------------------------------------- skill swaps


async def swaps_page(request: Request, staff: Staff) -> Response:
    """Skill swap ideas waiting for a staff decision."""
    desk = desk_of(request)
    async with desk.sessionmaker.begin() as session:
        waiting = await swaps.list_matches(
            session, status="proposed", network=auth.scope_of(staff).networks
        )
        shown = [m for match in waiting for m in (match.teacher_id, match.learner_id)]
        await roles_audit(session, staff, "desk_swaps_read", _shown(shown))
    meta = form_meta(desk.secret, request.session)
    notice = request.session.pop("notice", "")
    return render(
        request,
        "swaps.html",
        staff,
        waiting=waiting,
        decline=DeclineForm(meta=meta),
        notice=notice,
        local_day=local_day,
    )


async def swap_decide(request: Request, staff: Staff) -> Response:
    """Approve or decline one skill swap idea of my network."""
    desk = desk_of(request)
    match_id = int_param(request, "match_id")
    choice = str(request.path_params.get("choice"))
    if choice not in ("approve", "decline"):
        raise HTTPException(404, "There is nothing here.")
    form = await request.form()
    scope = auth.scope_of(staff)
    async with desk.sessionmaker.begin() as session:
        match = await session.get(PeerMatch, match_id)
        if match is None or (scope.networks is not None and match.network != scope.networks):
            raise HTTPException(404, "There is no skill swap idea with this number.")
        try:
            if choice == "approve":
                await swaps.approve(session, match_id, by=actor_of(staff))
                notice = "✅ Approved. Both members will get a message asking if they want to meet."
            else:
                note = DeclineForm(form, meta=form_meta(desk.secret, request.session)).note.data
                await swaps.decline(session, match_id, by=actor_of(staff), note=note or "")
                notice = "👍 Declined. The members will not hear about it."
        except swaps.MatchError as exc:
            notice = f"⚠️ This skill swap cannot go ahead: {exc}"
    request.session["notice"] = notice
    return RedirectResponse("/swaps", status_code=303)


# ---------------------------------------------------------------------- opportunities


def _network_choices(request: Request, staff: Staff) -> list[tuple[str, str]]:
    """Who an opportunity can be for: my own network (admins: everyone, or any network)."""
    if not staff.is_admin:
        return [(staff.network, f"My network ({staff.network})")]
    known: list[str] = getattr(request.state, "networks", [])
    return [("everyone", "Everyone (all networks)")] + [
        (n, n) for n in sorted(known) if n not in ("everyone",)
    ]


def _network_allowed(request: Request, staff: Staff, form: OpportunityForm) -> bool:
    """Check who the form is for (staff who are not admins: their own network only)."""
    allowed = {value for value, _ in _network_choices(request, staff)}
    if form.network.data not in allowed:
        form.network.errors = [*form.network.errors, "Please choose who it is for."]
        return False
    return True


def _mine_only(staff: Staff, items: list[opps.OpportunityIn], where: str) -> list[opps.Problem]:
    """Problems when staff who are not admins add for everyone or another network."""
    if staff.is_admin:
        return []
    return [
        opps.Problem(where, "network", f"use {staff.network}: only admins add for other networks")
        for item in items
        if item.network != staff.network
    ][:1]


async def _codes_taken(
    session: AsyncSession, staff: Staff, items: list[opps.OpportunityIn], where: str
) -> list[opps.Problem]:
    """Problems for codes (``ref``) of opportunities this staff member may not change."""
    refs = [item.ref for item in items if item.ref]
    if staff.is_admin or not refs:
        return []
    rows = await session.execute(
        select(Opportunity.ref, Opportunity.network).where(Opportunity.ref.in_(refs))
    )
    return [
        opps.Problem(where, "ref", f"'{ref}' is the code of another network's opportunity")
        for ref, network in rows.all()
        if network != staff.network
    ]


def _opportunity_form(
    request: Request, staff: Staff, data: FormData | None, opp: Opportunity | None = None
) -> OpportunityForm:
    """The opportunity form, filled from the page or from the stored row."""
    desk = desk_of(request)
    form = OpportunityForm(data, meta=form_meta(desk.secret, request.session))
    form.categories.choices = category_choices(desk.labels)
    form.network.choices = _network_choices(request, staff)
    if data is None and opp is not None:
        form.title.data = opp.title
        form.description.data = opp.description
        form.emoji.data = opp.emoji
        form.categories.data = list(opp.categories)
        form.network.data = opp.network or "everyone"
        form.when.data = opp.when_text
        form.where.data = opp.where_text
        form.contact.data = opp.contact
        form.places.data = "" if opp.places is None else str(opp.places)
        form.closes.data = opp.closes_on.isoformat() if opp.closes_on else ""
        form.ref.data = opp.ref or ""
    return form


def _checked(form: OpportunityForm, staff: Staff) -> opps.OpportunityIn | None:
    """Check the form with the opportunities' own rules; problems go next to their field."""
    raw = {name: getattr(form, name).data for name in opps.FIELDS}
    item, problems = opps.check(raw, "desk", today=date.today())
    if item is not None and not form.network.errors:
        problems = _mine_only(staff, [item], "desk")
        item = None if problems else item
    for problem in problems:
        field = getattr(form, problem.field, None)
        target = field if field is not None else form.title
        target.errors = [*target.errors, _plain(problem.message)]
    return item


def _plain(message: str) -> str:
    """A problem said as a sentence."""
    text = message.removeprefix("easy-read: ")
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


async def _networks(session: AsyncSession) -> list[str]:
    """Every known network (for an admin's choices)."""
    return await roles.known_networks(session)


async def _own_opportunity(session: AsyncSession, staff: Staff, opp_id: int) -> Opportunity:
    """An opportunity this staff member may change (their network's; admins: any)."""
    opp = await session.get(Opportunity, opp_id)
    if opp is None or (not staff.is_admin and opp.network != staff.network):
        raise HTTPException(404, "There is no opportunity with this number that you can change.")
    return opp


async def opportunities_page(request: Request, staff: Staff) -> Response:
    """Opportunities of my network and for everyone, with an add form and a file import."""
    desk = desk_of(request)
    async with desk.sessionmaker() as session:
        found = await opps.list_opportunities(
            session, include_closed=True, network=auth.scope_of(staff).networks
        )
        request.state.networks = await _networks(session) if staff.is_admin else []
    notice = request.session.pop("notice", "")
    return render(
        request,
        "opportunities.html",
        staff,
        found=found,
        notice=notice,
        import_problems=[],
        local_day=local_day,
    )


async def opportunity_new(request: Request, staff: Staff) -> Response:
    """Add an opportunity: the form, and its check."""
    desk = desk_of(request)
    async with desk.sessionmaker() as session:
        request.state.networks = await _networks(session) if staff.is_admin else []
    if request.method == "GET":
        form = _opportunity_form(request, staff, None)
        return render(request, "opportunity_form.html", staff, form=form, opp=None)
    form = _opportunity_form(request, staff, await request.form())
    allowed = _network_allowed(request, staff, form)
    item = _checked(form, staff)
    if item is None or not allowed:
        return render(request, "opportunity_form.html", staff, 400, form=form, opp=None)
    async with desk.sessionmaker.begin() as session:
        try:
            taken = await _codes_taken(session, staff, [item], "desk")
            if taken:
                raise opps.OpportunityError(taken)
            (saved,), _ = await opps.save(session, [item], by=actor_of(staff))
        except opps.OpportunityError as exc:
            form.ref.errors = [_plain(p.message) for p in exc.problems]
            return render(request, "opportunity_form.html", staff, 400, form=form, opp=None)
    request.session["notice"] = f"✅ Added: {saved.title}."
    return RedirectResponse("/opportunities", status_code=303)


async def opportunity_edit(request: Request, staff: Staff) -> Response:
    """Change an opportunity."""
    desk = desk_of(request)
    opp_id = int_param(request, "opp_id")
    async with desk.sessionmaker() as session:
        opp = await _own_opportunity(session, staff, opp_id)
        request.state.networks = await _networks(session) if staff.is_admin else []
    if request.method == "GET":
        form = _opportunity_form(request, staff, None, opp)
        return render(request, "opportunity_form.html", staff, form=form, opp=opp)
    form = _opportunity_form(request, staff, await request.form(), opp)
    allowed = _network_allowed(request, staff, form)
    item = _checked(form, staff)
    if item is None or not allowed:
        return render(request, "opportunity_form.html", staff, 400, form=form, opp=opp)
    async with desk.sessionmaker.begin() as session:
        await _own_opportunity(session, staff, opp_id)
        try:
            await opps.edit(session, opp_id, item, by=actor_of(staff))
        except opps.OpportunityError as exc:
            form.ref.errors = [_plain(p.message) for p in exc.problems]
            return render(request, "opportunity_form.html", staff, 400, form=form, opp=opp)
    request.session["notice"] = f"✅ Saved: {item.title}."
    return RedirectResponse("/opportunities", status_code=303)


async def opportunity_close(request: Request, staff: Staff) -> Response:
    """Close an opportunity: nudges about it that are still waiting are not sent."""
    desk = desk_of(request)
    opp_id = int_param(request, "opp_id")
    async with desk.sessionmaker.begin() as session:
        await _own_opportunity(session, staff, opp_id)
        opp = await opps.close(session, opp_id, by=actor_of(staff))
    request.session["notice"] = f"✅ Closed: {opp.title}. Nobody else will be asked about it."
    return RedirectResponse("/opportunities", status_code=303)


def _for_my_network(
    staff: Staff, items: list[opps.OpportunityIn], name: str, text: str, suffix: str
) -> list[opps.OpportunityIn]:
    """A file from staff who are not admins: rows with no network are for theirs; others fail."""
    if _names_everyone(text, suffix):
        raise opps.OpportunityError(
            [opps.Problem(name, "network", f"use {staff.network}: only admins add for everyone")]
        )
    mine = [replace(i, network=staff.network) if i.network is None else i for i in items]
    problems = _mine_only(staff, mine, name)
    if problems:
        raise opps.OpportunityError(problems)
    return mine


def _names_everyone(text: str, suffix: str) -> bool:
    """True when a row of a (checked) file says it is for everyone, such as ``all``."""
    rows: Any
    if suffix == ".csv":
        rows = list(csv.DictReader(io.StringIO(text)))
    else:
        rows = yaml.safe_load(text)
        if isinstance(rows, dict):
            rows = rows.get("opportunities")
    said = {
        str(value).strip().lower()
        for row in (rows if isinstance(rows, list) else [])
        if isinstance(row, dict)
        for key, value in row.items()
        if str(key).strip().lower() == "network" and value is not None
    }
    return bool(said & (set(opps.EVERYONE) - {""}))


async def opportunity_import(request: Request, staff: Staff) -> Response:
    """Import a CSV or YAML file of opportunities: all of it, or nothing with every problem."""
    desk = desk_of(request)
    form = await request.form(max_files=1, max_fields=10)
    upload = form.get("file")
    problems: list[str] = []
    items: list[opps.OpportunityIn] = []
    saved: list[Opportunity] = []
    updated = 0
    name = "the file"
    if not isinstance(upload, UploadFile) or not upload.filename:
        problems = ["Please choose a file that ends in .csv, .yml or .yaml."]
    else:
        name = Path(upload.filename).name[:100]
        content = await upload.read(MAX_IMPORT_BYTES + 1)
        try:
            if len(content) > MAX_IMPORT_BYTES:
                raise opps.OpportunityError([opps.Problem(name, "file", "is over 1 MB")])
            text = content.decode("utf-8-sig")
            suffix = Path(name).suffix.lower()
            if suffix == ".csv":
                items = opps.read_csv(text, name, today=date.today())
            elif suffix in (".yml", ".yaml"):
                items = opps.read_yaml(text, name, today=date.today())
            else:
                raise opps.OpportunityError(
                    [opps.Problem(name, "file", "must end in .csv, .yml or .yaml")]
                )
            if not staff.is_admin:
                items = _for_my_network(staff, items, name, text, suffix)
        except UnicodeDecodeError:
            problems = ["The file is not plain text (UTF-8). Please save it as CSV or YAML."]
        except opps.OpportunityError as exc:
            problems = [str(p) for p in exc.problems]
    if not problems:
        async with desk.sessionmaker.begin() as session:
            taken = await _codes_taken(session, staff, items, name)
            problems = [str(p) for p in taken]
            if not problems:
                saved, updated = await opps.save(session, items, by=actor_of(staff))
    if problems:
        async with desk.sessionmaker() as session:
            found = await opps.list_opportunities(
                session, include_closed=True, network=auth.scope_of(staff).networks
            )
        return render(
            request,
            "opportunities.html",
            staff,
            400,
            found=found,
            notice="",
            import_problems=problems,
            local_day=local_day,
        )
    request.session["notice"] = (
        f"✅ Imported {len(saved)} opportunities ({len(saved) - updated} new, {updated} changed)."
    )
    return RedirectResponse("/opportunities", status_code=303)


# ---------------------------------------------------------------------- alerts, nudges, staff


async def alerts_page(request: Request, staff: Staff) -> Response:
    """Safety and help alerts of my network, newest first."""
    desk = desk_of(request)
    async with desk.sessionmaker.begin() as session:
        alerts = await views.list_alerts(session, auth.scope_of(staff))
        shown = [a.alert.member_id for a in alerts if a.alert.member_id is not None]
        await roles_audit(session, staff, "desk_alerts_read", _shown(shown))
    return render(request, "alerts.html", staff, alerts=alerts, words=ALERT_WORDS, local=local)


async def alert_seen(request: Request, staff: Staff) -> Response:
    """Say "I have seen this" about an alert."""
    desk = desk_of(request)
    alert_id = int_param(request, "alert_id")
    async with desk.sessionmaker.begin() as session:
        seen = await views.mark_seen(
            session, auth.scope_of(staff), alert_id, actor=actor_of(staff), name=who(staff)
        )
    if seen is None:
        raise HTTPException(404, "There is no alert with this number in your network.")
    return RedirectResponse(f"/alerts#alert-{alert_id}", status_code=303)


async def nudges_page(request: Request, staff: Staff) -> Response:
    """Nudges of the last 7 days: how many sent, answered, and any that may not have arrived."""
    desk = desk_of(request)
    since = utcnow() - timedelta(days=7)
    network = auth.scope_of(staff).networks
    async with desk.sessionmaker.begin() as session:
        status = await outbox_status(session, since=since, network=network)
        answered = await views.answered_nudges(session, since=since, network=network)
        shown = [n.member_id for n in status.unknown]
        await roles_audit(session, staff, "desk_nudges_read", _shown(shown))
    counts = status.counts
    return render(
        request,
        "nudges.html",
        staff,
        outbox=status,
        sent=counts.get("sent", 0),
        answered=answered,
        waiting=counts.get("pending", 0) + counts.get("claimed", 0),
        local=local,
    )


async def staff_page(request: Request, staff: Staff) -> Response:
    """Admins: everyone with a staff role; add, change or remove."""
    desk = desk_of(request)
    form = StaffForm(
        await request.form() if request.method == "POST" else None,
        meta=form_meta(desk.secret, request.session),
    )
    status = 200
    if request.method == "POST":
        if form.validate():
            async with desk.sessionmaker.begin() as session:
                try:
                    _, created = await roles.add_staff(
                        session,
                        int(form.telegram_id.data or 0),
                        form.network.data or "",
                        is_admin=bool(form.is_admin.data),
                        name=form.name.data or None,
                        added_by=actor_of(staff),
                    )
                except roles.RoleError as exc:
                    form.network.errors = [_plain(str(exc))]
                    status = 400
                else:
                    request.session["notice"] = "✅ Added." if created else "✅ Changed."
                    return RedirectResponse("/staff", status_code=303)
        else:
            status = 400
    async with desk.sessionmaker() as session:
        everyone = await roles.list_staff(session)
    notice = request.session.pop("notice", "")
    return render(request, "staff.html", staff, status, everyone=everyone, form=form, notice=notice)


async def staff_remove(request: Request, staff: Staff) -> Response:
    """Admins: take away someone's staff role (not your own)."""
    desk = desk_of(request)
    telegram_id = int_param(request, "telegram_id", largest=MAX_ID)
    if telegram_id == staff.telegram_id:
        request.session["notice"] = "⚠️ You cannot remove yourself. Ask another admin."
        return RedirectResponse("/staff", status_code=303)
    async with desk.sessionmaker.begin() as session:
        removed = await roles.remove_staff(session, telegram_id, removed_by=actor_of(staff))
    request.session["notice"] = "✅ Removed." if removed else "⚠️ They were not staff."
    return RedirectResponse("/staff", status_code=303)


# ---------------------------------------------------------------------- health (no session)


async def live(request: Request) -> Response:
    """``GET /healthz``: 200 while the desk answers (no sign-in, no cookie)."""
    return JSONResponse(checks.liveness())


async def ready(request: Request) -> Response:
    """``GET /readyz``: 200 when the desk can work (database, migrations), else 503."""
    result = await desk_of(request).health()
    return JSONResponse(result.as_json(), status_code=200 if result.ok else 503)


def database_health(sessionmaker: async_sessionmaker[AsyncSession]) -> Health:
    """The desk's own readiness: its database answers at this code's migration head."""

    async def health() -> checks.Readiness:
        return await checks.readiness(sessionmaker.kw.get("bind"), None, nlu=False)

    return health


async def not_found_or_refused(request: Request, exc: Exception) -> Response:
    """A plain page for 403 and 404 (and other refusals)."""
    code = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "Something went wrong."
    return render(request, "problem.html", None, code, code=code, detail=detail)


def make_desk(
    sessionmaker: async_sessionmaker[AsyncSession],
    labels: Labels,
    settings: Settings,
    *,
    health: Health | None = None,
) -> Starlette:
    """The desk application; ``settings.desk_secret`` must be set.

    ``health`` is the readiness check of ``/readyz``: in the bot process the
    bot's own (database, migrations, NLU); by default the desk's database.
    """
    secret = settings.desk_secret.get_secret_value()
    if not secret:
        raise RuntimeError(
            "SKILLSPARK_DESK_SECRET is not set: the staff desk needs it to sign its cookies"
        )
    templates = Jinja2Templates(directory=HERE / "templates")
    routes = [
        Route("/", page(home)),
        Route("/signin", signin, methods=["GET", "POST"]),
        Route("/signin/link/{token}", signin_link, methods=["GET", "POST"]),
        Route("/signout", signout, methods=["POST"]),
        Route("/members/{member_id:int}", page(member_page)),
        Route("/members/{member_id:int}/profile.{fmt}", page(member_download)),
        Route("/swaps", page(swaps_page)),
        Route("/swaps/{match_id:int}/{choice:str}", page(swap_decide), methods=["POST"]),
        Route("/opportunities", page(opportunities_page)),
        Route("/opportunities/new", page(opportunity_new), methods=["GET", "POST"]),
        Route("/opportunities/import", page(opportunity_import), methods=["POST"]),
        Route("/opportunities/{opp_id:int}/edit", page(opportunity_edit), methods=["GET", "POST"]),
        Route("/opportunities/{opp_id:int}/close", page(opportunity_close), methods=["POST"]),
        Route("/alerts", page(alerts_page)),
        Route("/alerts/{alert_id:int}/seen", page(alert_seen), methods=["POST"]),
        Route("/nudges", page(nudges_page)),
        Route("/staff", page(staff_page, admin=True), methods=["GET", "POST"]),
        Route(
            "/staff/{telegram_id:int}/remove",
            page(staff_remove, admin=True),
            methods=["POST"],
        ),
        *(Route(path, live) for path in LIVE_PATHS),
        *(Route(path, ready) for path in READY_PATHS),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(
            SessionMiddleware,
            secret_key=secret,
            session_cookie="skillspark_desk",
            max_age=SESSION_SECONDS,
            same_site="lax",
            https_only=settings.desk_url().startswith("https://"),
        ),
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={HTTPException: not_found_or_refused},
    )
    app.state.desk = Desk(
        sessionmaker, labels, settings, templates, health or database_health(sessionmaker)
    )
    return app


__all__ = ["DeskForm", "make_desk"]
