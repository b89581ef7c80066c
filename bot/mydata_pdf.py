"""The easy-read ``/mydata`` page: everything kept about a member, as a PDF.

Made from the same dictionary as the JSON file (``storage.repo.member_data``
plus what extensions add), so nothing kept is left out. Easy-read layout: large
type, one idea per line, a picture at the start of each line. The fonts and the
emoji drawing are the staff profiles' (``bot.staff.pdf_export``). Words come
from ``dialogues/<lang>/rights.yml`` (the ``mydata_pdf.*`` keys). Pages are
added as needed; long words wrap, nothing is cut.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from fpdf import FPDF

from bot.easyread import pictures
from bot.staff.cells import printable
from bot.staff.pdf_export import INK, TEAL, _shaping_available, find_fonts

#: ``text(key, **values)``: a message from the dialogues, placeholders filled ("" if none).
Texts = Callable[..., str]

#: Every message key the page uses (checked by the easy-read checker with the rest).
MYDATA_PDF_KEYS: tuple[str, ...] = (
    "mydata_pdf.title",
    "mydata_pdf.about",
    "mydata_pdf.name",
    "mydata_pdf.group",
    "mydata_pdf.started",
    "mydata_pdf.consent",
    "mydata_pdf.skills",
    "mydata_pdf.skill_confirmed",
    "mydata_pdf.skill_declined",
    "mydata_pdf.skill_unsure",
    "mydata_pdf.skill_suggested",
    "mydata_pdf.wishes",
    "mydata_pdf.wish",
    "mydata_pdf.answers",
    "mydata_pdf.question",
    "mydata_pdf.answer",
    "mydata_pdf.when",
    "mydata_pdf.feelings",
    "mydata_pdf.feeling",
    "mydata_pdf.more",
    "mydata_pdf.none",
    "mydata_pdf.footer",
    "mydata_pdf.file",
)
SKILL_KEYS = {
    "confirmed": "mydata_pdf.skill_confirmed",
    "declined": "mydata_pdf.skill_declined",
    "unsure": "mydata_pdf.skill_unsure",
}
FEEL_KEYS = {1: "button.feel_low", 2: "button.feel_ok", 3: "button.feel_good"}
STANDARD = {"member", "answers", "skills", "learning_wishes", "confidence_ratings"}
TITLE_PT, HEADING_PT, BODY_PT = 26, 21, 16
LINE = 9.0
PICTURE_W = 12.0
_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\u2600-\u27bf\u2300-\u23ff\u2b00-\u2bff\u2190-\u21ff"
    "\u3030\u303d\u3297\u3299\u20e3\ufe0f\u200d]"
)


def _day(value: object) -> str:
    """An ISO time as an easy date ("5 December 2026"); the value itself when it is not one."""
    if not isinstance(value, str) or not value:
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return f"{moment.day} {moment:%B %Y}"


def _split_picture(line: str) -> tuple[str, str]:
    """A line's leading picture and the words after it."""
    found = pictures(line)
    if found and line.startswith(found[0]):
        return found[0], line[len(found[0]) :].strip()
    return "", line.strip()


class MyDataPage:
    """Draws the page; :meth:`render` gives the PDF bytes."""

    def __init__(self, text: Texts, questions: Mapping[str, str] | None = None) -> None:
        """``text`` looks up the dialogues; ``questions`` maps answer ids to question words."""
        self.text = text
        self.questions = questions or {}
        fonts = find_fonts()
        pdf = FPDF(orientation="portrait", unit="mm", format="A4")
        pdf.set_auto_page_break(True, margin=16)
        pdf.set_margins(16, 16, 16)
        pdf.set_creator("SkillSpark")
        self.unicode = fonts.text is not None
        self.emoji = self.unicode and fonts.emoji is not None
        if fonts.text is not None:
            for style, file in fonts.text.items():
                pdf.add_font("Text", style, str(file))
            self.family = "Text"
        else:
            self.family = "helvetica"
        if self.emoji and fonts.emoji is not None:
            pdf.add_font("Emoji", "", str(fonts.emoji))
        self.shaping = self.emoji and _shaping_available()
        self.pdf = pdf

    def _fit(self, words: str) -> str:
        """Words the fonts can draw (no emoji in the text font; Latin-1 for the basic one)."""
        words = printable(words).replace("\r", " ").replace("\t", " ")
        words = " ".join(_EMOJI.sub(" ", words).split())
        if not self.unicode:
            words = words.encode("latin-1", "replace").decode("latin-1")
        return words

    # ------------------------------------------------------------------ drawing

    def _picture(self, picture: str, size: float) -> None:
        """The picture of a line, in its own cell (a dot when there is no emoji font)."""
        pdf = self.pdf
        if picture and self.emoji:
            pdf.set_font("Emoji", "", size)
        else:
            pdf.set_font(self.family, "", size)
            picture = "•" if self.unicode else "-"
        if self.shaping:
            pdf.set_text_shaping(True)
        pdf.cell(PICTURE_W, LINE, picture)
        if self.shaping:
            pdf.set_text_shaping(False)

    def line(
        self, message: str, *, style: str = "", size: float = BODY_PT, indent: float = 0
    ) -> None:
        """One idea: its picture, then its words (wrapped onto more lines when long)."""
        pdf = self.pdf
        picture, words = _split_picture(message)
        if pdf.will_page_break(LINE):
            pdf.add_page()
        pdf.set_x(pdf.l_margin + indent)
        self._picture(picture, size)
        pdf.set_font(self.family, style, size)
        width = pdf.epw - indent - PICTURE_W
        pdf.multi_cell(width, LINE, self._fit(words) or "-", new_x="LMARGIN", new_y="NEXT")

    def heading(self, key: str) -> None:
        """A section heading."""
        pdf = self.pdf
        if pdf.will_page_break(LINE * 3):
            pdf.add_page()
        pdf.ln(4)
        pdf.set_text_color(*TEAL)
        self.line(self.text(key), style="B", size=HEADING_PT)
        pdf.set_text_color(*INK)

    def item(self, key: str, **values: str) -> None:
        """One line of a section."""
        self.line(self.text(key, **values), indent=4)

    def render(self, data: Mapping[str, Any]) -> bytes:
        """The PDF of everything in ``data`` (the ``/mydata`` dictionary)."""
        pdf = self.pdf
        member = data.get("member") or {}
        name = str(member.get("first_name") or "")
        pdf.set_title(self._fit(self.text("mydata_pdf.title")))
        pdf.add_page()
        pdf.set_text_color(*TEAL)
        self.line(self.text("mydata_pdf.title"), style="B", size=TITLE_PT)
        pdf.set_text_color(*INK)
        self._about(member, name)
        self._skills(data.get("skills") or [])
        self._wishes(data.get("learning_wishes") or [])
        self._answers(data.get("answers") or [], name)
        self._feelings(data.get("confidence_ratings") or [])
        self._more({k: v for k, v in data.items() if k not in STANDARD})
        pdf.ln(6)
        self.line(self.text("mydata_pdf.footer"))
        return bytes(pdf.output())

    def _about(self, member: Mapping[str, Any], name: str) -> None:
        self.heading("mydata_pdf.about")
        if name:
            self.item("mydata_pdf.name", name=name)
        if member.get("network"):
            self.item("mydata_pdf.group", label=str(member["network"]))
        if member.get("created_at"):
            self.item("mydata_pdf.started", label=_day(member["created_at"]))
        if member.get("consent_at"):
            self.item("mydata_pdf.consent", label=_day(member["consent_at"]))

    def _skills(self, skills: list[Mapping[str, Any]]) -> None:
        self.heading("mydata_pdf.skills")
        for skill in skills:
            key = SKILL_KEYS.get(str(skill.get("status")), "mydata_pdf.skill_suggested")
            self.item(key, label=str(skill.get("label") or skill.get("skill") or ""))
        if not skills:
            self.item("mydata_pdf.none")

    def _wishes(self, wishes: list[Any]) -> None:
        self.heading("mydata_pdf.wishes")
        for wish in wishes:
            self.item("mydata_pdf.wish", label=str(wish))
        if not wishes:
            self.item("mydata_pdf.none")

    def _answers(self, answers: list[Mapping[str, Any]], name: str) -> None:
        self.heading("mydata_pdf.answers")
        for answer in answers:
            question = self.questions.get(str(answer.get("question")))
            if question:
                self.item("mydata_pdf.question", label=question.replace("{name}", name))
            said = answer.get("text") or self._choice(answer.get("choice"))
            self.item("mydata_pdf.answer", label=str(said or answer.get("kind") or ""))
            if answer.get("at"):
                self.item("mydata_pdf.when", label=_day(answer["at"]))
            self.pdf.ln(2)
        if not answers:
            self.item("mydata_pdf.none")

    def _choice(self, choice: object) -> str:
        """A button the member pressed, in the words it showed."""
        if not choice:
            return ""
        label = self.text(f"button.{choice}")
        return _split_picture(label)[1] if label else str(choice)

    def _feelings(self, ratings: list[Mapping[str, Any]]) -> None:
        self.heading("mydata_pdf.feelings")
        for rating in ratings:
            key = FEEL_KEYS.get(int(rating.get("value") or 0))
            feeling = _split_picture(self.text(key))[1] if key else str(rating.get("value"))
            self.item("mydata_pdf.feeling", label=feeling, category=_day(rating.get("at")))
        if not ratings:
            self.item("mydata_pdf.none")

    def _more(self, extra: Mapping[str, Any]) -> None:
        """What extensions keep (nudges and the like), each value on a line of its own."""
        lines = [line for key, value in extra.items() for line in _flatten(key, value)]
        if not lines:
            return
        self.heading("mydata_pdf.more")
        for line in lines:
            self.line("📌 " + line, indent=4)


def _flatten(key: str, value: Any) -> list[str]:
    """``key: value`` lines for any JSON value (lists and mappings one item a line)."""
    label = key.replace("_", " ")
    if isinstance(value, Mapping):
        return [line for k, v in value.items() for line in _flatten(f"{label}, {k}", v)]
    if isinstance(value, list):
        if not value:
            return []
        return [line for v in value for line in _flatten(label, v)]
    if value is None or value == "":
        return []
    shown = (
        _day(value) if isinstance(value, str) and re.match(r"\d{4}-\d\d-\d\dT", value) else value
    )
    return [f"{label}: {shown}"]


def member_data_pdf(
    data: Mapping[str, Any], text: Texts, questions: Mapping[str, str] | None = None
) -> bytes:
    """The easy-read PDF of a member's ``/mydata`` (takes tens of milliseconds: use a thread)."""
    return MyDataPage(text, questions).render(data)


def question_texts(topics: Any) -> dict[str, str]:
    """Answer ids (``topic.question``) to the words of the question, from the content's topics."""
    return {q.full_id: q.text for topic in topics for q in topic.questions}
