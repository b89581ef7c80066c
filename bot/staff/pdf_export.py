"""The PDF export: an easy-read one-page profile per member, a page each, in large type.

Person-centred headings (what people like and admire about me, my skills, what
I want to learn, what I said yes to, how I feel about my skills over time) come
from ``dialogues/<lang>/staff.yml``. Text uses DejaVu Sans (Debian
``fonts-dejavu-core``); emoji use Noto Color Emoji (``fonts-noto-color-emoji``)
as a fallback font. With ``uharfbuzz`` installed, emoji made of several code
points (🧑‍🏫) are shaped into one picture. Member text is only ever written as
plain text (never markup), so fpdf2 escapes it.
"""

from __future__ import annotations

import importlib.util
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import lru_cache
from pathlib import Path

from fpdf import FPDF

from bot.staff.cells import local_time, printable
from bot.staff.data import Batch, MemberRow, Needs, RatingRow, SkillRow
from bot.staff.labels import Labels

log = logging.getLogger(__name__)

FONT_DIRS: tuple[Path, ...] = (
    Path("/usr/share/fonts"),
    Path("/usr/local/share/fonts"),
    Path.home() / ".fonts",
)
TEXT_FONTS = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf"}
EMOJI_FONT = "NotoColorEmoji.ttf"

#: Topics whose questions are about what other people see in the member.
ADMIRED_TOPICS = ("thanks", "people")
#: Categories about being good with people, used when those topics gave nothing.
ADMIRED_CATEGORIES = ("caring", "listening", "humour", "community", "teaching")

MAX_ADMIRED = 3
MAX_SKILLS = 14
MAX_WISHES = 4
MAX_SAID_YES = 3
MAX_RATINGS = 6
QUOTE_CHARS = 90

TITLE_PT, HEADING_PT, ITEM_PT, QUOTE_PT, SMALL_PT, FACE_PT = 28, 20, 17, 14, 12, 26
TEAL = (38, 92, 80)
CREAM = (255, 248, 231)
INK = (31, 41, 55)
GREY = (96, 96, 96)

#: Every message key a page uses (in ``dialogues/<lang>/staff.yml`` and ``messages.yml``).
PROFILE_KEYS = (
    "profile.title",
    "profile.title_no_name",
    "profile.admired",
    "profile.skills",
    "profile.learn",
    "profile.said_yes",
    "profile.feelings",
    "profile.nothing_yet",
    "profile.more",
    "profile.footer",
    "button.feel_low",
    "button.feel_ok",
    "button.feel_good",
)
FEEL_KEYS = {1: "button.feel_low", 2: "button.feel_ok", 3: "button.feel_good"}

_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\u2600-\u27bf\u2300-\u23ff\u2b00-\u2bff\u2190-\u21ff"
    "\u3030\u303d\u3297\u3299\u20e3\ufe0f\u200d]"
)


@dataclass(frozen=True)
class Fonts:
    """Font files found on this machine (``None``: not installed)."""

    text: dict[str, Path] | None
    emoji: Path | None


def use_font_dirs(folders: tuple[Path, ...]) -> None:
    """Look for the PDF pages' fonts in ``folders`` from now on (``SKILLSPARK_FONT_DIRS``)."""
    global FONT_DIRS
    FONT_DIRS = folders
    find_fonts.cache_clear()


@lru_cache(maxsize=1)
def find_fonts() -> Fonts:
    """Look for DejaVu Sans (regular, bold, oblique) and Noto Color Emoji."""
    found: dict[str, Path] = {}
    emoji: Path | None = None
    for folder in FONT_DIRS:
        if not folder.is_dir():
            continue
        for style, name in TEXT_FONTS.items():
            if style not in found:
                hit = next(iter(sorted(folder.rglob(name))), None)
                if hit is not None:
                    found[style] = hit
        if emoji is None:
            emoji = next(iter(sorted(folder.rglob(EMOJI_FONT))), None)
    return Fonts(found if len(found) == len(TEXT_FONTS) else None, emoji)


def _shaping_available() -> bool:
    """True when the text shaping engine (uharfbuzz) is installed."""
    return importlib.util.find_spec("uharfbuzz") is not None


@dataclass(frozen=True)
class Page:
    """What one member's page shows."""

    name: str
    admired: list[tuple[str, str, str]]  # (emoji, label, own words)
    skills: list[tuple[str, str]]  # (emoji, label)
    wishes: list[tuple[str, str]]  # (emoji, label)
    said_yes: list[str]
    ratings: list[tuple[int, datetime | None]]


def build_page(member: MemberRow, batch: Batch, labels: Labels, zone: tzinfo) -> Page:
    """Choose what goes on a member's page from their confirmed skills, wishes and ratings."""
    skills = [s for s in batch.skills.get(member.id, []) if s.status == "confirmed"]
    admired = [s for s in skills if _topic(s) in ADMIRED_TOPICS]
    if not admired:
        admired = [s for s in skills if s.category in ADMIRED_CATEGORIES]
    ratings: Sequence[RatingRow] = batch.ratings.get(member.id, [])
    return Page(
        name=printable(member.first_name or "").strip(),
        admired=[(labels.emoji(s.skill_id, s.category), s.label, s.words) for s in admired],
        skills=[(labels.emoji(s.skill_id, s.category), s.label) for s in skills],
        wishes=[
            (labels.emoji(w.skill_id) if w.skill_id else "🌱", w.label)
            for w in batch.wishes.get(member.id, [])
        ],
        said_yes=list(batch.opportunities.get(member.id, [])),
        ratings=[(r.value, local_time(r.created_at, zone)) for r in ratings],
    )


LINE, QUOTE_LINE, MORE_LINE, NOTHING_LINE = 8.5, 7.0, 8.0, 8.0
#: Height left for the four lists once the title, 5 headings and the faces are drawn.
LIST_SPACE = 297 - 16 - 38 - 5 * 13 - 27


@dataclass(frozen=True)
class Limits:
    """How many items of each list fit on the page."""

    admired: int
    skills: int
    wishes: int
    said_yes: int


def fit_limits(page: Page) -> Limits:
    """Item counts that fit one page: the longest list gives way first."""
    quotes = [bool(words) for _, _, words in page.admired]
    counts = {
        "admired": min(len(page.admired), MAX_ADMIRED),
        "skills": min(len(page.skills), MAX_SKILLS),
        "wishes": min(len(page.wishes), MAX_WISHES),
        "said_yes": min(len(page.said_yes), MAX_SAID_YES),
    }
    totals = {
        "admired": len(page.admired),
        "skills": len(page.skills),
        "wishes": len(page.wishes),
        "said_yes": len(page.said_yes),
    }

    def height(name: str) -> float:
        """The height of one list with its current count."""
        shown, total = counts[name], totals[name]
        if total == 0:
            return NOTHING_LINE
        more = MORE_LINE if total > shown else 0.0
        if name == "skills":
            return (shown + 1) // 2 * LINE + more
        if name == "admired":
            return shown * LINE + sum(quotes[:shown]) * QUOTE_LINE + more
        return shown * LINE + more

    while sum(height(n) for n in counts) > LIST_SPACE:
        tallest = max((n for n in counts if counts[n] > 1), key=height, default=None)
        if tallest is None:
            break
        counts[tallest] -= 2 if tallest == "skills" and counts[tallest] > 2 else 1
    return Limits(**counts)


def _topic(skill: SkillRow) -> str:
    """The topic of the question a skill came from (empty when unknown)."""
    return (skill.question_id or "").split(".", 1)[0]


def _short(text: str, limit: int) -> str:
    """Text cut to ``limit`` characters at a space, with an ellipsis when cut."""
    text = " ".join(printable(text).split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip() + "…"


class PdfExport:
    """Writes one easy-read page per member into a single PDF file."""

    needs = Needs(skill_statuses=("confirmed",))
    suffix = "pdf"

    def __init__(self, path: Path, labels: Labels, zone: tzinfo) -> None:
        """Set up the document, its fonts and its colours."""
        self.path = path
        self.labels = labels
        self.zone = zone
        self.pages = 0
        self.content_bottom = 0.0
        fonts = find_fonts()
        pdf = FPDF(orientation="portrait", unit="mm", format="A4")
        pdf.set_auto_page_break(False)
        pdf.set_margins(16, 14, 16)
        pdf.set_title("SkillSpark: all about me")
        pdf.set_creator("SkillSpark")
        self.unicode = fonts.text is not None
        self.emoji = self.unicode and fonts.emoji is not None
        if fonts.text is not None:
            for style, file in fonts.text.items():
                pdf.add_font("Text", style, str(file))
            self.family = "Text"
        else:
            log.warning("DejaVu Sans is not installed (fonts-dejavu-core): using a basic font")
            self.family = "helvetica"
        if self.emoji and fonts.emoji is not None:
            pdf.add_font("Emoji", "", str(fonts.emoji))
            pdf.set_fallback_fonts(["Emoji"], exact_match=False)
        #: Shaping joins emoji made of several code points; only emoji cells need it.
        self.shaping = self.emoji and _shaping_available()
        self.pdf = pdf

    # ------------------------------------------------------------------ words

    def _t(self, key: str, **values: str) -> str:
        """A heading or phrase from the dialogues, ready for this document's fonts."""
        return self._fit(self.labels.text(key, **values))

    def _fit(self, text: str) -> str:
        """Text the fonts can draw: emoji need the emoji font, the basic font needs Latin-1."""
        text = printable(text).replace("\n", " ").replace("\r", " ").replace("\t", " ")
        if not self.emoji:
            text = " ".join(_EMOJI.sub(" ", text).split())
        if not self.unicode:
            text = text.encode("latin-1", "replace").decode("latin-1")
        return text

    # ------------------------------------------------------------------ pages

    def add(self, batch: Batch) -> None:
        """Add a page for each member of the batch."""
        for member in batch.members:
            self.draw(build_page(member, batch, self.labels, self.zone))

    def draw(self, page: Page) -> None:
        """Draw one member's page."""
        pdf = self.pdf
        pdf.add_page()
        self.pages += 1
        pdf.set_fill_color(*CREAM)
        pdf.rect(0, 0, pdf.w, pdf.h, style="F")
        limits = fit_limits(page)
        self._title(page.name)
        self._section("profile.admired")
        self._admired(page.admired, limits.admired)
        self._section("profile.skills")
        self._skills(page.skills, limits.skills)
        self._section("profile.learn")
        self._items(page.wishes, limits.wishes)
        self._section("profile.said_yes")
        self._items([("🤝", s) for s in page.said_yes], limits.said_yes)
        self._section("profile.feelings")
        self._feelings(page.ratings)
        self.content_bottom = pdf.get_y()
        self._footer()

    def _title(self, name: str) -> None:
        """The coloured band with the member's name."""
        pdf = self.pdf
        pdf.set_fill_color(*TEAL)
        pdf.rect(0, 0, pdf.w, 32, style="F")
        pdf.set_text_color(255, 255, 255)
        title = self._t("profile.title", name=name) if name else self._t("profile.title_no_name")
        size = TITLE_PT
        pdf.set_font(self.family, "B", size)
        while size > HEADING_PT and pdf.get_string_width(title) > pdf.epw:
            size -= 1
            pdf.set_font(self.family, "B", size)
        pdf.set_xy(pdf.l_margin, 9)
        pdf.cell(pdf.epw, 14, self._clip(title, pdf.epw), new_x="LMARGIN", new_y="NEXT")
        pdf.set_y(38)
        pdf.set_text_color(*INK)

    def _section(self, key: str) -> None:
        """A section heading."""
        pdf = self.pdf
        pdf.ln(2)
        pdf.set_font(self.family, "B", HEADING_PT)
        pdf.set_text_color(*TEAL)
        pdf.cell(pdf.epw, 11, self._t(key), new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(*INK)

    def _line(
        self, emoji: str, text: str, *, x: float | None = None, w: float | None = None
    ) -> None:
        """One item: an emoji picture, then the words (cut to fit one line)."""
        pdf = self.pdf
        left = pdf.l_margin + 4 if x is None else x
        width = (pdf.epw - 4) if w is None else w
        pdf.set_x(left)
        self._picture(emoji, 10, LINE, ITEM_PT)
        pdf.set_font(self.family, "", ITEM_PT)
        pdf.cell(width - 10, LINE, self._clip(text, width - 12), new_x="LMARGIN", new_y="NEXT")

    def _clip(self, text: str, width: float) -> str:
        """Text in the current font cut at a word so it fits ``width`` (with an ellipsis)."""
        pdf = self.pdf
        text = " ".join(self._fit(text).split())
        if pdf.get_string_width(text) <= width:
            return text
        words = text.split(" ")
        while len(words) > 1:
            words.pop()
            shorter = " ".join(words) + "…"
            if pdf.get_string_width(shorter) <= width:
                return shorter
        while text and pdf.get_string_width(text + "…") > width:
            text = text[:-1]
        return text + "…"

    def _picture(self, emoji: str, w: float, h: float, size: float, align: str = "L") -> None:
        """An emoji alone in a cell, drawn with the emoji font (a dot without one)."""
        pdf = self.pdf
        emoji = self._fit(emoji)
        if emoji and self.emoji:
            pdf.set_font("Emoji", "", size)
        else:
            pdf.set_font(self.family, "", size)
            emoji = "•" if self.unicode else "-"
        if self.shaping:
            pdf.set_text_shaping(True)
        pdf.cell(w, h, emoji, align=align)
        if self.shaping:
            pdf.set_text_shaping(False)

    def _nothing(self) -> None:
        """Said when a section has nothing yet."""
        pdf = self.pdf
        pdf.set_x(pdf.l_margin + 4)
        pdf.set_font(self.family, "I", QUOTE_PT)
        pdf.set_text_color(*GREY)
        text = self._t("profile.nothing_yet")
        pdf.cell(pdf.epw - 4, NOTHING_LINE, text, new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(*INK)

    def _more(self, count: int) -> None:
        """Said when a section has more than fits."""
        pdf = self.pdf
        pdf.set_x(pdf.l_margin + 4)
        pdf.set_font(self.family, "", QUOTE_PT)
        pdf.cell(pdf.epw - 4, MORE_LINE, self._t("profile.more", count=str(count)))
        pdf.ln(MORE_LINE)

    def _admired(self, items: list[tuple[str, str, str]], limit: int) -> None:
        """Skills others see in the member, with the member's own words where given."""
        if not items:
            self._nothing()
            return
        pdf = self.pdf
        for emoji, label, words in items[:limit]:
            self._line(emoji, label)
            if words:
                pdf.set_x(pdf.l_margin + 14)
                pdf.set_font(self.family, "I", QUOTE_PT)
                pdf.set_text_color(*GREY)
                quote = self._clip(f"“{_short(words, QUOTE_CHARS)}”", pdf.epw - 16)
                pdf.cell(pdf.epw - 14, QUOTE_LINE, quote, new_x="LMARGIN", new_y="NEXT")
                pdf.set_text_color(*INK)
        if len(items) > limit:
            self._more(len(items) - limit)

    def _skills(self, skills: list[tuple[str, str]], limit: int) -> None:
        """Every confirmed skill with its emoji, in 2 columns."""
        if not skills:
            self._nothing()
            return
        pdf = self.pdf
        shown = skills[:limit]
        half = pdf.epw / 2
        rows = (len(shown) + 1) // 2
        top = pdf.get_y()
        for index, (emoji, label) in enumerate(shown):
            column, row = divmod(index, rows)
            pdf.set_y(top + row * LINE)
            self._line(emoji, label, x=pdf.l_margin + 4 + column * half, w=half - 4)
        pdf.set_y(top + rows * LINE)
        if len(skills) > limit:
            self._more(len(skills) - limit)

    def _items(self, items: list[tuple[str, str]], limit: int) -> None:
        """A short list, or "nothing yet"."""
        if not items:
            self._nothing()
            return
        for emoji, text in items[:limit]:
            self._line(emoji, text)
        if len(items) > limit:
            self._more(len(items) - limit)

    def _feelings(self, ratings: list[tuple[int, datetime | None]]) -> None:
        """The member's last few confidence ratings, oldest first: a face, its word, the date."""
        if not ratings:
            self._nothing()
            return
        pdf = self.pdf
        shown = ratings[-MAX_RATINGS:]
        box = pdf.epw / MAX_RATINGS
        top = pdf.get_y() + 1
        for index, (value, moment) in enumerate(shown):
            x = pdf.l_margin + index * box
            face, _, word = self._t(FEEL_KEYS.get(value, "button.feel_ok")).partition(" ")
            pdf.set_xy(x, top)
            self._picture(face, box, 12, FACE_PT, align="C")
            pdf.set_xy(x, top + 12)
            pdf.set_font(self.family, "", QUOTE_PT)
            pdf.cell(box, 7, _short(word, 12), align="C")
            pdf.set_xy(x, top + 19)
            pdf.set_font(self.family, "", SMALL_PT)
            pdf.set_text_color(*GREY)
            pdf.cell(box, 6, moment.strftime("%d %b %Y") if moment else "", align="C")
            pdf.set_text_color(*INK)
        pdf.set_y(top + 26)

    def _footer(self) -> None:
        """A small line at the foot of the page."""
        pdf = self.pdf
        pdf.set_xy(pdf.l_margin, pdf.h - 14)
        pdf.set_font(self.family, "", SMALL_PT)
        pdf.set_text_color(*GREY)
        pdf.cell(pdf.epw, 7, self._t("profile.footer"), align="R")
        pdf.set_text_color(*INK)

    # ------------------------------------------------------------------ file

    def close(self) -> None:
        """Write the document to its file."""
        if self.pages == 0:
            self.pdf.add_page()
        self.pdf.output(str(self.path))

    def abort(self) -> None:
        """Nothing to release: the document lives in memory until written."""
