"""The easy-read /mydata page: a real PDF with everything kept, read back with pypdf."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml
from pypdf import PdfReader

from bot.logs import protect_logs
from bot.mydata_pdf import MYDATA_PDF_KEYS, member_data_pdf
from tests.chat import Chat
from tests.conftest import Database, runtime_for

ROOT = Path(__file__).resolve().parent.parent
MESSAGES: dict[str, str] = {}
for name in ("rights.yml", "messages.yml"):
    MESSAGES.update(yaml.safe_load((ROOT / "dialogues" / "en" / name).read_text(encoding="utf-8")))


def text(key: str, **values: str) -> str:
    """The English message, placeholders filled ("" when there is none)."""
    template = MESSAGES.get(key)
    return template.format(**values) if template is not None else ""


def read(pdf: bytes) -> tuple[int, str]:
    """Pages and the words on them (whitespace made single spaces)."""
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    words = " ".join(page.extract_text() or "" for page in reader.pages)
    return len(reader.pages), " ".join(words.split())


def data(**more: Any) -> dict[str, Any]:
    """A /mydata dictionary like storage.repo.member_data makes."""
    return {
        "member": {
            "id": 7,
            "first_name": "Priya",
            "network": "Oak House",
            "language": "en",
            "consent": True,
            "consent_at": "2026-11-02T10:15:00+00:00",
            "created_at": "2026-11-01T09:00:00+00:00",
        },
        "answers": [
            {
                "question": "food.cook",
                "kind": "button",
                "choice": "yes",
                "text": None,
                "at": "2026-11-02T10:16:00+00:00",
            },
            {
                "question": "food.bake",
                "kind": "text",
                "choice": None,
                "text": "I bake bread for my neighbours",
                "at": "2026-11-02T10:17:00+00:00",
            },
        ],
        "skills": [
            {"skill": "cooking", "label": "cooking", "category": "cooking", "status": "confirmed"},
            {
                "skill": "baking",
                "label": "baking bread",
                "category": "cooking",
                "status": "confirmed",
            },
            {
                "skill": "sport",
                "label": "playing football",
                "category": "sport",
                "status": "declined",
            },
        ],
        "learning_wishes": ["swimming"],
        "confidence_ratings": [{"moment": "start", "value": 3, "at": "2026-11-02T10:15:30"}],
        **more,
    }


def test_making_the_page_logs_nothing_of_it(caplog: pytest.LogCaptureFixture) -> None:
    """The font subsetting logs each letter used (the member's words): quiet once set up."""
    protect_logs()  # what setup_logging does at start
    caplog.set_level(logging.INFO)
    member_data_pdf(data(), text, {})
    assert [r.name for r in caplog.records if r.levelno < logging.WARNING] == []


def test_every_key_is_in_the_dialogues() -> None:
    assert [key for key in MYDATA_PDF_KEYS if key not in MESSAGES] == []


def test_the_page_has_everything_kept() -> None:
    questions = {"food.cook": "🍳 Do you like cooking, {name}?"}
    pages, words = read(member_data_pdf(data(), text, questions))
    assert pages >= 1
    for expected in (
        "What SkillSpark keeps about you",
        "Your name is Priya.",
        "Your group is Oak House.",
        "You said yes to SkillSpark on 2 November 2026.",
        "cooking. You said you are good at this.",
        "baking bread. You said you are good at this.",
        "playing football. You said no to this.",
        "swimming",
        "I asked: Do you like cooking, Priya?",
        "You said: Yes",
        "You said: I bake bread for my neighbours",
        "On 2 November 2026 you said: Good.",
    ):
        assert expected in words, expected


def test_what_extensions_keep_is_there_too_and_nothing_is_cut() -> None:
    long = "I help at the community garden every Saturday morning with " * 30 + "THE-END"
    answers = [
        {"question": f"q{n}", "kind": "text", "choice": None, "text": f"answer number {n}",
         "at": "2026-11-02T10:16:00"} for n in range(60)
    ]  # fmt: skip
    answers.append({"question": "x", "kind": "text", "choice": None, "text": long, "at": ""})
    extra = {"nudge_settings": {"on": False, "quiet_hours": "20:00-09:00"}, "nudges": []}
    pages, words = read(member_data_pdf(data(answers=answers, **extra), text))
    assert pages > 2  # more pages as needed, never cut off
    assert all(f"answer number {n}" in words for n in range(60))
    assert "THE-END" in words and words.count("community garden") == 30
    assert "Other things I keep" in words
    assert "nudge settings, on: False" in words and "quiet hours: 20:00-09:00" in words


def test_odd_input_is_drawn_without_breaking() -> None:
    odd = [
        "🙂🙂🙂", "", "<script>alert(1)</script>", "'; DROP TABLE members; --",
        "\u202eevil\u202c", "ｆｕｌｌ width", "a" * 3000, "tab\tand\rreturn",
    ]  # fmt: skip
    answers = [
        {"question": "q", "kind": "text", "choice": None, "text": t, "at": "bad date"} for t in odd
    ]
    member = {"first_name": "Zoë 🌻", "network": None, "consent_at": None, "created_at": None}
    _, words = read(member_data_pdf(data(answers=answers, member=member), text))
    assert "<script>alert(1)</script>" in words and "DROP TABLE members" in words
    assert "Your name is Zoë" in words and "bad date" in words


def test_nothing_yet_is_said_kindly() -> None:
    empty = {"member": {}, "answers": [], "skills": [], "learning_wishes": []}
    _, words = read(member_data_pdf(empty, text))
    assert words.count("Nothing here yet.") == 4


async def test_mydata_sends_the_page_besides_the_json(sqlite_db: Database, tmp_path: Path) -> None:
    async with runtime_for(sqlite_db, tmp_path) as rt:
        chat = Chat(rt.engine)
        await chat.onboard()
        await chat.say("i walk my neighbours dog")
        await chat.press("skill_yes")
        replies = await chat.cmd("mydata")
    files = {r.key: r.document for r in replies if r.document is not None}
    assert list(files) == ["mydata", "mydata_pdf"]
    (json_name, content), (pdf_name, pdf) = files["mydata"], files["mydata_pdf"]
    assert json_name.endswith(".json") and pdf_name.endswith(".pdf")
    kept = json.loads(content)
    _, words = read(pdf)
    assert "Your name is Sam." in words
    assert "You said: i walk my neighbours dog" in words
    for skill in kept["skills"]:
        assert skill["label"] in words
    assert words.count("You said:") == len(kept["answers"])
    caption = next(r.text for r in replies if r.key == "mydata_pdf")
    assert caption == MESSAGES["mydata_pdf.file"]
