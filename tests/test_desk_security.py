"""Desk security over plain HTTP: sessions, networks, CSRF, downloads, passwords, lock-out."""

from __future__ import annotations

import csv
import io
import logging
import re
from datetime import timedelta
from pathlib import Path

import httpx
import openpyxl
import pytest
from sqlalchemy import select

from bot.desk import auth
from bot.staff import roles
from storage.models import AuditEvent, Member, StaffAlert, utcnow
from storage.models_desk import AlertSeen, DeskLink, DeskLogin
from storage.models_nudges import Opportunity, PeerMatch
from storage.models_staff import Staff
from tests.conftest import Database
from tests.desk_support import (
    ADMIN,
    ADMIN_PASSWORD,
    NORTH_STAFF,
    PASSWORD,
    SOUTH_STAFF,
    RunningDesk,
    desk_for,
)

TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def token_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = TOKEN.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def client(desk: RunningDesk) -> httpx.AsyncClient:
    """A plain HTTP client that does not follow redirects."""
    return httpx.AsyncClient(base_url=desk.url, follow_redirects=False, timeout=10)


async def sign_in(http: httpx.AsyncClient, telegram_id: int, password: str) -> httpx.Response:
    """Sign in through the form, as a browser would."""
    page = await http.get("/signin")
    data = {
        "csrf_token": token_of(page.text),
        "telegram_id": str(telegram_id),
        "password": password,
    }
    return await http.post("/signin", data=data)


PAGES = ["/", "/members/1", "/swaps", "/opportunities", "/opportunities/new", "/alerts"]
PAGES += ["/nudges", "/staff", "/members/1/profile.csv", "/members/1/profile.xlsx"]
PAGES += ["/members/1/profile.pdf", "/opportunities/1/edit"]
POSTS = ["/swaps/1/approve", "/swaps/1/decline", "/opportunities/new", "/opportunities/1/close"]
POSTS += ["/alerts/1/seen", "/staff", "/staff/501/remove", "/opportunities/import"]


async def test_nothing_without_a_session(database: Database, tmp_path: Path) -> None:
    """Every page and download sends a stranger to sign in; every change is refused."""
    async with desk_for(database, tmp_path) as desk, client(desk) as http:
        for path in PAGES:
            answer = await http.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"] == "/signin"
            assert "Ann" not in answer.text
        for path in POSTS:
            answer = await http.post(path, data={"note": "x"})
            assert answer.status_code == 403, path
        async with desk.sessionmaker() as session:
            match = await session.get(PeerMatch, desk.seeded.match_id)
            assert match is not None and match.status == "proposed"
            assert (await session.execute(select(AlertSeen))).first() is None
        async with client(desk) as fresh:
            signin = await fresh.get("/signin")
            cookie = signin.headers["set-cookie"].lower()
            assert "httponly" in cookie and "samesite=lax" in cookie
            assert signin.headers["x-frame-options"] == "DENY"


async def test_other_networks_are_not_found(database: Database, tmp_path: Path) -> None:
    """Staff of the south network get 404 for every north member, swap and alert."""
    async with desk_for(database, tmp_path) as desk, client(desk) as http:
        assert (await sign_in(http, SOUTH_STAFF, PASSWORD)).status_code == 303
        home = await http.get("/")
        assert home.status_code == 200 and "Dan" in home.text and "Ann" not in home.text
        north = [desk.seeded.members[n] for n in ("Ann", "Bob", "Cat")]
        for member_id in [*north, 99999]:
            for path in ("", "/profile.csv", "/profile.xlsx", "/profile.pdf"):
                answer = await http.get(f"/members/{member_id}{path}")
                assert answer.status_code == 404, (member_id, path)
                assert "Ann" not in answer.text and "cooking" not in answer.text
        token = token_of(home.text)
        answer = await http.post(
            f"/swaps/{desk.seeded.match_id}/approve", data={"csrf_token": token}
        )
        assert answer.status_code == 404
        answer = await http.post(f"/alerts/{desk.seeded.alert_id}/seen", data={"csrf_token": token})
        assert answer.status_code == 404
        assert (await http.get("/staff")).status_code == 403  # not an admin
        alerts = await http.get("/alerts")
        assert "Dan said" in alerts.text and "unsafe" not in alerts.text
        async with desk.sessionmaker() as session:
            match = await session.get(PeerMatch, desk.seeded.match_id)
            assert match is not None and match.status == "proposed"
            refused = await session.execute(
                select(AuditEvent).where(AuditEvent.action == "desk_profile_refused")
            )
            assert {e.member_id for e in refused.scalars()} >= set(north)
        dan = desk.seeded.members["Dan"]
        assert (await http.get(f"/members/{dan}")).status_code == 200
        async with desk.sessionmaker() as session:
            reads = await session.execute(
                select(AuditEvent).where(
                    AuditEvent.action == "desk_profile_read", AuditEvent.member_id == dan
                )
            )
            assert [e.actor for e in reads.scalars()] == [f"desk:{SOUTH_STAFF}"]


async def test_posts_without_the_token_are_refused(sqlite_db: Database, tmp_path: Path) -> None:
    """Signed in, a form sent without (or with another session's) token changes nothing."""
    async with desk_for(sqlite_db, tmp_path) as desk, client(desk) as http, client(desk) as other:
        await sign_in(http, NORTH_STAFF, PASSWORD)
        await sign_in(other, ADMIN, ADMIN_PASSWORD)
        foreign = token_of((await other.get("/swaps")).text)
        match = f"/swaps/{desk.seeded.match_id}/approve"
        for data in ({}, {"csrf_token": ""}, {"csrf_token": "x##y"}, {"csrf_token": foreign}):
            assert (await http.post(match, data=data)).status_code == 403
        bad_signin = await httpx.AsyncClient(base_url=desk.url).post(
            "/signin", data={"telegram_id": str(NORTH_STAFF), "password": PASSWORD}
        )
        assert bad_signin.status_code == 403
        async with desk.sessionmaker() as session:
            row = await session.get(PeerMatch, desk.seeded.match_id)
            assert row is not None and row.status == "proposed"
        token = token_of((await http.get("/swaps")).text)
        assert (await http.post(match, data={"csrf_token": token})).status_code == 303
        async with desk.sessionmaker() as session:
            row = await session.get(PeerMatch, desk.seeded.match_id)
            assert row is not None and row.status == "approved"


async def test_downloads_neutralise_formulas(database: Database, tmp_path: Path) -> None:
    """A member named like a formula is written as words in the CSV and XLSX files."""
    async with desk_for(database, tmp_path) as desk, client(desk) as http:
        await sign_in(http, NORTH_STAFF, PASSWORD)
        cat = desk.seeded.members["Cat"]
        answer = await http.get(f"/members/{cat}/profile.csv")
        assert answer.status_code == 200
        assert "attachment" in answer.headers["content-disposition"]
        cells = [c for row in csv.reader(io.StringIO(answer.text.lstrip("\ufeff"))) for c in row]
        assert '\'=HYPERLINK("http://x")' in cells
        assert not any(c.startswith("=") for c in cells)
        answer = await http.get(f"/members/{cat}/profile.xlsx")
        book = openpyxl.load_workbook(io.BytesIO(answer.content))
        values = [c.value for s in book.worksheets for row in s.iter_rows() for c in row]
        texts = [v for v in values if isinstance(v, str)]
        assert '\'=HYPERLINK("http://x")' in texts
        assert not any(v.startswith("=") for v in texts)
        assert all(c.data_type != "f" for s in book.worksheets for r in s.iter_rows() for c in r)
        pdf = await http.get(f"/members/{cat}/profile.pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


async def test_passwords_are_never_logged_or_stored(
    database: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The stored password is an argon2 hash; no log line and no audit row holds it."""
    caplog.set_level(logging.DEBUG)
    async with desk_for(database, tmp_path) as desk, client(desk) as http:
        assert (await sign_in(http, NORTH_STAFF, "a wrong password 9")).status_code == 401
        assert (await sign_in(http, NORTH_STAFF, PASSWORD)).status_code == 303
        async with desk.sessionmaker() as session:
            rows = list((await session.execute(select(DeskLogin))).scalars())
            events = list((await session.execute(select(AuditEvent))).scalars())
        assert len(rows) == 3
        for row in rows:
            assert row.password_hash is not None and row.password_hash.startswith("$argon2id$")
            assert PASSWORD not in row.password_hash and ADMIN_PASSWORD not in row.password_hash
        for event in events:
            text = f"{event.actor} {event.action} {event.detail}"
            assert PASSWORD not in text and "a wrong password 9" not in text
        assert {"desk_sign_in", "desk_sign_in_failed", "desk_password_set"} <= {
            e.action for e in events
        }
    logged = caplog.text + " ".join(str(r.args) for r in caplog.records)
    assert PASSWORD not in logged and "a wrong password 9" not in logged


async def test_ten_wrong_passwords_lock_the_account(database: Database, tmp_path: Path) -> None:
    """After 10 wrong passwords even the right one is refused for 15 minutes."""
    async with desk_for(database, tmp_path) as desk, client(desk) as http:
        for n in range(9):
            answer = await sign_in(http, NORTH_STAFF, f"wrong password {n}")
            assert answer.status_code == 401 and "not right" in answer.text
        answer = await sign_in(http, NORTH_STAFF, "wrong password 10")
        assert answer.status_code == 401 and "locked" in answer.text
        answer = await sign_in(http, NORTH_STAFF, PASSWORD)
        assert answer.status_code == 401 and "locked" in answer.text
        assert (await http.get("/")).status_code == 303
        # other staff are not locked out
        assert (await sign_in(http, ADMIN, ADMIN_PASSWORD)).status_code == 303
        async with desk.sessionmaker.begin() as session:
            later = utcnow() + auth.LOCK_FOR + timedelta(seconds=1)
            result = await auth.check_password(session, NORTH_STAFF, PASSWORD, now=later)
            assert result.staff is not None
            assert (
                await session.execute(select(AuditEvent).where(AuditEvent.action == "desk_locked"))
            ).first() is not None


async def test_a_sign_in_link_works_once(database: Database, tmp_path: Path) -> None:
    """A link opens a page with a button; it signs in once, and never after 15 minutes."""
    async with desk_for(database, tmp_path) as desk, client(desk) as http:
        async with desk.sessionmaker.begin() as session:
            token = await auth.make_link(session, NORTH_STAFF)
            old = await auth.make_link(session, NORTH_STAFF, now=utcnow() - timedelta(minutes=16))
            assert await auth.make_link(session, 424242) is None  # not staff
        assert token is not None and old is not None
        async with desk.sessionmaker() as session:
            stored = [r.token_hash for r in (await session.execute(select(DeskLink))).scalars()]
        assert token not in stored and len(stored) == 2
        page = await http.get(f"/signin/link/{token}")
        assert page.status_code == 200 and "Press the button" in page.text
        assert (await http.get("/")).status_code == 303  # opening the link alone signs nobody in
        answer = await http.post(f"/signin/link/{token}", data={"csrf_token": token_of(page.text)})
        assert answer.status_code == 303
        assert (await http.get("/")).status_code == 200
        async with client(desk) as again:
            for used in (token, old, "made-up"):
                page = await again.get(f"/signin/link/{used}")
                answer = await again.post(
                    f"/signin/link/{used}", data={"csrf_token": token_of(page.text)}
                )
                assert answer.status_code == 400 and "does not work any more" in answer.text
                assert (await again.get("/")).status_code == 303


async def test_admins_manage_staff(sqlite_db: Database, tmp_path: Path) -> None:
    """An admin adds a staff member and removes one; wrong input is said next to the field."""
    async with desk_for(sqlite_db, tmp_path) as desk, client(desk) as http:
        await sign_in(http, ADMIN, ADMIN_PASSWORD)
        page = await http.get("/staff")
        assert page.status_code == 200 and "Nora" in page.text and "Sid" in page.text
        token = token_of(page.text)
        bad = await http.post("/staff", data={"csrf_token": token, "telegram_id": "abc"})
        assert bad.status_code == 400 and "Telegram user number" in bad.text
        added = await http.post(
            "/staff",
            data={"csrf_token": token, "telegram_id": "777", "network": "east", "name": "Eve"},
        )
        assert added.status_code == 303
        removed = await http.post(f"/staff/{SOUTH_STAFF}/remove", data={"csrf_token": token})
        assert removed.status_code == 303
        async with desk.sessionmaker() as session:
            ids = {s.telegram_id for s in (await session.execute(select(Staff))).scalars()}
        assert ids == {NORTH_STAFF, ADMIN, 777}


ODD = [
    "99999999999999999999999",
    "-5",
    "😀😀😀",
    "1; DROP TABLE staff;--",
    "\u202e\u0000x",
    "x" * 5000,
]


async def test_odd_input_gets_a_kind_answer(sqlite_db: Database, tmp_path: Path) -> None:
    """Huge, emoji-only, injection and control-character input never crashes a page."""
    async with desk_for(sqlite_db, tmp_path) as desk, client(desk) as http:
        for odd in ODD:
            answer = await sign_in(http, NORTH_STAFF, odd)
            assert answer.status_code in (400, 401), odd[:40]
            assert "Your password" in answer.text
            page = await http.get("/signin")
            data = {"csrf_token": token_of(page.text), "telegram_id": odd, "password": "x"}
            answer = await http.post("/signin", data=data)
            assert answer.status_code in (400, 401) and "staff number" in answer.text
        await sign_in(http, NORTH_STAFF, PASSWORD)
        token = token_of((await http.get("/opportunities/new")).text)
        for odd in ODD:
            data = {"csrf_token": token, "title": odd, "description": odd, "closes": odd}
            data.update({"categories": odd, "network": odd, "places": odd, "contact": odd})
            answer = await http.post("/opportunities/new", data=data)
            assert answer.status_code == 400 and "Please fix the boxes" in answer.text
        for path in ("/members/99999999999999999999", "/members/abc", "/swaps/0/approve"):
            assert (await http.get(path)).status_code in (404, 405)


async def test_import_is_all_or_nothing(database: Database, tmp_path: Path) -> None:
    """A file with a mistake adds nothing and says where; a good file adds every row."""
    header = "title,description,categories,contact,closes\n"
    bad = header + "Garden day,🌻 Come and help.,gardening,Priya,2030-01-01\n"
    bad += "Bake sale,🍰 Bring a cake.,cooking,Priya,soon\n"
    good = bad.replace("soon", "2030-02-01")
    async with desk_for(database, tmp_path) as desk, client(desk) as http:
        await sign_in(http, NORTH_STAFF, PASSWORD)
        token = token_of((await http.get("/opportunities")).text)
        files = {"file": ("list.csv", bad.encode(), "text/csv")}
        answer = await http.post("/opportunities/import", data={"csrf_token": token}, files=files)
        assert answer.status_code == 400 and "line 3" in answer.text and "closes" in answer.text
        assert "Nothing was added" in answer.text
        files = {"file": ("list.csv", good.encode(), "text/csv")}
        answer = await http.post("/opportunities/import", data={"csrf_token": token}, files=files)
        assert answer.status_code == 303
        listed = await http.get("/opportunities")
        assert "Imported 2 opportunities" in listed.text and "Bake sale" in listed.text
        no_token = await http.post("/opportunities/import", files=files)
        assert no_token.status_code == 403


async def test_opportunities_are_changed_only_by_their_network(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """North staff change their opportunity; south staff cannot open, change or close it."""
    form = {"title": "Garden day", "description": "🌻 Come and help.", "categories": "gardening"}
    form.update({"contact": "Priya", "network": "north", "emoji": "🌻"})
    async with desk_for(sqlite_db, tmp_path) as desk, client(desk) as north, client(desk) as south:
        await sign_in(north, NORTH_STAFF, PASSWORD)
        token = token_of((await north.get("/opportunities/new")).text)
        assert (
            await north.post("/opportunities/new", data={**form, "csrf_token": token})
        ).status_code == 303
        async with desk.sessionmaker() as session:
            (opp,) = (await session.execute(select(Opportunity))).scalars()
        edit = await north.get(f"/opportunities/{opp.id}/edit")
        assert edit.status_code == 200 and 'value="Garden day"' in edit.text
        changed = {**form, "title": "Garden morning", "csrf_token": token}
        assert (await north.post(f"/opportunities/{opp.id}/edit", data=changed)).status_code == 303
        await sign_in(south, SOUTH_STAFF, PASSWORD)
        south_token = token_of((await south.get("/opportunities")).text)
        assert (await south.get(f"/opportunities/{opp.id}/edit")).status_code == 404
        for path in (f"/opportunities/{opp.id}/edit", f"/opportunities/{opp.id}/close"):
            answer = await south.post(path, data={**form, "csrf_token": south_token})
            assert answer.status_code == 404
        async with desk.sessionmaker() as session:
            row = await session.get(Opportunity, opp.id)
            assert row is not None and row.title == "Garden morning" and row.status == "open"


async def test_a_swap_is_decided_once(sqlite_db: Database, tmp_path: Path) -> None:
    """Declined with a note, a swap cannot then be approved (an old page's button)."""
    async with desk_for(sqlite_db, tmp_path) as desk, client(desk) as http:
        await sign_in(http, NORTH_STAFF, PASSWORD)
        page = await http.get("/swaps")
        token = token_of(page.text)
        swap = f"/swaps/{desk.seeded.match_id}"
        assert (await http.post(f"{swap}/maybe", data={"csrf_token": token})).status_code == 404
        answer = await http.post(f"{swap}/decline", data={"csrf_token": token, "note": "too soon"})
        assert answer.status_code == 303
        assert "Declined" in (await http.get("/swaps")).text
        answer = await http.post(f"{swap}/approve", data={"csrf_token": token})
        assert answer.status_code == 303
        assert "cannot go ahead" in (await http.get("/swaps")).text
        async with desk.sessionmaker() as session:
            match = await session.get(PeerMatch, desk.seeded.match_id)
            assert match is not None and match.status == "declined" and match.note == "too soon"
            outbox = await session.execute(
                select(AuditEvent).where(AuditEvent.action == "match_approved")
            )
            assert outbox.first() is None


async def test_sign_out_ends_every_copy_of_the_cookie(database: Database, tmp_path: Path) -> None:
    """A cookie copied before sign-out no longer opens any page."""
    async with desk_for(database, tmp_path) as desk, client(desk) as http:
        await sign_in(http, NORTH_STAFF, PASSWORD)
        copied = dict(http.cookies)
        page = await http.get("/")
        assert page.status_code == 200
        assert (
            await http.post("/signout", data={"csrf_token": token_of(page.text)})
        ).status_code == 303
        async with client(desk) as thief:
            thief.cookies.update(copied)
            assert (await thief.get("/")).status_code == 303
            assert (await thief.get(f"/members/{desk.seeded.members['Ann']}")).status_code == 303
        assert (await sign_in(http, NORTH_STAFF, PASSWORD)).status_code == 303
        assert (await http.get("/")).status_code == 200


async def test_member_text_is_shown_as_text(sqlite_db: Database, tmp_path: Path) -> None:
    """A name or alert holding HTML is escaped on every page, never run."""
    script = "<script>alert(1)</script>"
    async with desk_for(sqlite_db, tmp_path) as desk, client(desk) as http:
        async with desk.sessionmaker.begin() as session:
            bob = await session.get(Member, desk.seeded.members["Bob"])
            alert = await session.get(StaffAlert, desk.seeded.alert_id)
            assert bob is not None and alert is not None
            bob.first_name = script
            alert.text = script
        await sign_in(http, NORTH_STAFF, PASSWORD)
        for path in ("/", f"/members/{desk.seeded.members['Bob']}", "/swaps", "/alerts"):
            page = await http.get(path)
            assert page.status_code == 200 and script not in page.text, path
            assert "&lt;script&gt;" in page.text, path


def without_token_and_number(html: str) -> str:
    """A page with its CSRF tokens and typed-in numbers blanked, to compare two pages."""
    html = TOKEN.sub('name="csrf_token" type="hidden" value=""', html)
    return re.sub(r'value="\d+"', 'value=""', html)


async def test_unknown_wrong_and_locked_look_alike(database: Database, tmp_path: Path) -> None:
    """An unknown staff number, a wrong password and a locked account get the same page."""
    async with desk_for(database, tmp_path) as desk, client(desk) as http:
        unknown = await sign_in(http, 424242, "a wrong password 9")
        wrong = await sign_in(http, NORTH_STAFF, "a wrong password 9")
        async with desk.sessionmaker.begin() as session:
            south = await session.scalar(select(Staff).where(Staff.telegram_id == SOUTH_STAFF))
            assert south is not None
            login = await session.get(DeskLogin, south.id)
            assert login is not None
            login.locked_until = utcnow() + timedelta(minutes=5)
        locked = await sign_in(http, SOUTH_STAFF, PASSWORD)  # the right password, but locked
        assert unknown.status_code == wrong.status_code == locked.status_code == 401
        assert "not right" in unknown.text
        assert without_token_and_number(unknown.text) == without_token_and_number(wrong.text)
        assert without_token_and_number(locked.text) == without_token_and_number(wrong.text)
        assert (await http.get("/")).status_code == 303


async def test_every_sign_in_checks_one_hash(
    sqlite_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unknown, wrong, locked and no-password sign-ins all do the same hash work."""
    checked: list[str] = []
    real = auth._verify

    def counting(stored: str, password: str) -> bool:
        checked.append(password)
        return real(stored, password)

    monkeypatch.setattr(auth, "_verify", counting)
    async with desk_for(sqlite_db, tmp_path) as desk, desk.sessionmaker.begin() as session:
        await roles.add_staff(session, 777, "north", added_by="test")  # no password yet
        later = utcnow()
        for telegram_id, password in ((424242, "x"), (NORTH_STAFF, "y"), (777, "z")):
            assert (await auth.check_password(session, telegram_id, password)).staff is None
        south = await session.scalar(select(Staff).where(Staff.telegram_id == SOUTH_STAFF))
        assert south is not None
        login = await session.get(DeskLogin, south.id)
        assert login is not None
        login.locked_until = later + timedelta(minutes=5)
        result = await auth.check_password(session, SOUTH_STAFF, PASSWORD, now=later)
        assert result.staff is None and result.reason == "locked"
    assert checked == ["x", "y", "z", PASSWORD]


async def test_staff_with_a_large_telegram_number_can_be_removed(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """Real Telegram numbers pass 2**31: such staff are added and removed on the page."""
    big = 6_000_000_000
    async with desk_for(sqlite_db, tmp_path) as desk, client(desk) as http:
        await sign_in(http, ADMIN, ADMIN_PASSWORD)
        token = token_of((await http.get("/staff")).text)
        data = {"csrf_token": token, "telegram_id": str(big), "network": "east", "name": "Big"}
        assert (await http.post("/staff", data=data)).status_code == 303
        page = await http.get("/staff")
        assert f'action="/staff/{big}/remove"' in page.text
        answer = await http.post(f"/staff/{big}/remove", data={"csrf_token": token})
        assert answer.status_code == 303
        assert "Removed" in (await http.get("/staff")).text
        too_big = await http.post(f"/staff/{2**63}/remove", data={"csrf_token": token})
        assert too_big.status_code == 404
        async with desk.sessionmaker() as session:
            ids = {s.telegram_id for s in (await session.execute(select(Staff))).scalars()}
            removed = await session.scalar(
                select(AuditEvent).where(AuditEvent.action == "staff_removed")
            )
        assert big not in ids and ids == {NORTH_STAFF, SOUTH_STAFF, ADMIN}
        assert removed is not None and removed.actor == f"desk:{ADMIN}"
        assert removed.detail["telegram_id"] == big


async def audit_rows(desk: RunningDesk, action: str) -> list[AuditEvent]:
    """The audit rows of one action, oldest first."""
    async with desk.sessionmaker() as session:
        rows = await session.execute(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
        return list(rows.scalars())


async def test_reads_downloads_and_changes_are_audited_by_staff_number(
    database: Database, tmp_path: Path
) -> None:
    """Pages with member data, a download and an alert seen are audited as ``desk:ID``."""
    actor = f"desk:{NORTH_STAFF}"
    async with desk_for(database, tmp_path) as desk, client(desk) as http:
        await sign_in(http, NORTH_STAFF, PASSWORD)
        ann, bob = desk.seeded.members["Ann"], desk.seeded.members["Bob"]
        download = await http.get(f"/members/{ann}/profile.xlsx")
        assert download.status_code == 200
        (export,) = await audit_rows(desk, "export")
        assert export.actor == actor and export.detail["members"] == [ann]
        assert export.detail["channel"] == "desk" and export.detail["format"] == "xlsx"

        for path, action in (
            ("/alerts", "desk_alerts_read"),
            ("/swaps", "desk_swaps_read"),
            ("/nudges", "desk_nudges_read"),
        ):
            assert (await http.get(path)).status_code == 200, path
            (read,) = await audit_rows(desk, action)
            assert read.actor == actor, path
        (alerts_read,) = await audit_rows(desk, "desk_alerts_read")
        assert alerts_read.detail["members"] == [bob]  # north's alert only
        (swaps_read,) = await audit_rows(desk, "desk_swaps_read")
        assert swaps_read.detail["members"] == sorted([ann, bob])

        token = token_of((await http.get("/alerts")).text)
        seen = await http.post(f"/alerts/{desk.seeded.alert_id}/seen", data={"csrf_token": token})
        assert seen.status_code == 303
        (acknowledged,) = await audit_rows(desk, "alert_seen")
        assert acknowledged.actor == actor and acknowledged.member_id == bob
        assert acknowledged.detail == {"alert_id": desk.seeded.alert_id}
        assert "Seen by Nora" in (await http.get("/alerts")).text  # the page still says who
        async with desk.sessionmaker() as session:
            actors = set((await session.execute(select(AuditEvent.actor))).scalars())
        assert "Nora" not in actors


def network_choices(html: str) -> list[str]:
    """The values offered in the "Who it is for" list of the opportunity form."""
    found = re.search(r'<select id="network" name="network">(.*?)</select>', html, re.S)
    assert found, "no network list on the page"
    return re.findall(r'value="([^"]*)"', found.group(1))


GARDEN = {"title": "Garden day", "description": "🌻 Come and help.", "categories": "gardening"}
GARDEN |= {"contact": "Priya", "emoji": "🌻"}


async def test_only_admins_post_for_everyone(database: Database, tmp_path: Path) -> None:
    """Staff post for their own network only (form, server and file); admins for everyone."""
    async with desk_for(database, tmp_path) as desk, client(desk) as north, client(desk) as admin:
        await sign_in(north, NORTH_STAFF, PASSWORD)
        form = await north.get("/opportunities/new")
        assert network_choices(form.text) == ["north"]
        token = token_of(form.text)
        for network in ("everyone", "south", ""):
            data = {**GARDEN, "network": network, "csrf_token": token}
            answer = await north.post("/opportunities/new", data=data)
            assert answer.status_code == 400 and "Please choose who it is for" in answer.text
        for network in ("everyone", "all", "south"):
            text = "title,description,categories,contact,network\n"
            text += f"Bake sale,🍰 Bring a cake.,cooking,Priya,{network}\n"
            files = {"file": ("list.csv", text.encode(), "text/csv")}
            answer = await north.post(
                "/opportunities/import", data={"csrf_token": token}, files=files
            )
            assert answer.status_code == 400 and "only admins add" in answer.text, network
        async with desk.sessionmaker() as session:
            assert (await session.execute(select(Opportunity))).first() is None

        data = {**GARDEN, "network": "north", "ref": "garden", "csrf_token": token}
        assert (await north.post("/opportunities/new", data=data)).status_code == 303
        async with desk.sessionmaker() as session:
            (opp,) = (await session.execute(select(Opportunity))).scalars()
        assert opp.network == "north"
        assert (await north.get(f"/opportunities/{opp.id}/edit")).status_code == 200
        close = await north.post(f"/opportunities/{opp.id}/close", data={"csrf_token": token})
        assert close.status_code == 303

        await sign_in(admin, ADMIN, ADMIN_PASSWORD)
        form = await admin.get("/opportunities/new")
        assert network_choices(form.text)[0] == "everyone"
        assert {"north", "south"} <= set(network_choices(form.text))
        admin_token = token_of(form.text)
        data = {**GARDEN, "title": "Bake sale", "network": "everyone", "csrf_token": admin_token}
        assert (await admin.post("/opportunities/new", data=data)).status_code == 303
        async with desk.sessionmaker() as session:
            row = await session.scalar(select(Opportunity).where(Opportunity.title == "Bake sale"))
        assert row is not None and row.network is None
        assert (await north.get(f"/opportunities/{row.id}/edit")).status_code == 404
        listed = await north.get("/opportunities")
        assert "Bake sale" in listed.text and f"/opportunities/{row.id}/edit" not in listed.text


async def test_a_file_without_a_network_is_for_my_network(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """Rows with no network are for the importer's network; another network's code is refused."""
    header = "ref,title,description,categories,contact\n"
    mine = header + "garden,Garden day,🌻 Come and help.,gardening,Priya\n"
    taken = header + "garden,Garden takeover,🌻 Come and help.,gardening,Sid\n"
    async with desk_for(sqlite_db, tmp_path) as desk, client(desk) as north, client(desk) as south:
        await sign_in(north, NORTH_STAFF, PASSWORD)
        token = token_of((await north.get("/opportunities")).text)
        files = {"file": ("list.csv", mine.encode(), "text/csv")}
        answer = await north.post("/opportunities/import", data={"csrf_token": token}, files=files)
        assert answer.status_code == 303
        async with desk.sessionmaker() as session:
            (opp,) = (await session.execute(select(Opportunity))).scalars()
        assert opp.network == "north" and opp.ref == "garden"
        assert (await north.get(f"/opportunities/{opp.id}/edit")).status_code == 200

        await sign_in(south, SOUTH_STAFF, PASSWORD)
        south_token = token_of((await south.get("/opportunities")).text)
        files = {"file": ("list.csv", taken.encode(), "text/csv")}
        answer = await south.post(
            "/opportunities/import", data={"csrf_token": south_token}, files=files
        )
        assert answer.status_code == 400 and "another network" in answer.text
        data = {**GARDEN, "network": "south", "ref": "garden", "csrf_token": south_token}
        answer = await south.post("/opportunities/new", data=data)
        assert answer.status_code == 400 and "another network" in answer.text
        async with desk.sessionmaker() as session:
            (row,) = (await session.execute(select(Opportunity))).scalars()
        assert row.title == "Garden day" and row.network == "north" and row.contact == "Priya"
