"""Draw a member's skills as a picture card (PNG) with Pillow.

Large easy-read type, the member's first name, one emoji per skill beside its
label, and the things they want to learn. Emoji come from a colour emoji font
(Debian: ``fonts-noto-color-emoji``); without one, each skill gets a coloured
circle with the first letter of its category instead. Words on the card come
from ``dialogues/<lang>/skills.yml`` (keys ``card.*``).
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import yaml
from PIL import Image, ImageDraw, ImageFont

WIDTH = 1080
MARGIN = 56
MAX_SKILLS = 10
MAX_WISHES = 4
EMOJI_FONT_SIZE = 109  # the only size a bitmap colour emoji font offers

BACKGROUND = (255, 248, 231)
HEADER = (38, 92, 80)
HEADER_TEXT = (255, 255, 255)
ROW = (255, 255, 255)
ROW_EDGE = (226, 214, 190)
TEXT = (31, 41, 55)
WISH_ROW = (236, 246, 240)
FOOTER_TEXT = (96, 96, 96)
CIRCLES = ((230, 120, 60), (60, 130, 200), (90, 160, 90), (170, 90, 170), (200, 150, 40))

_DIALOGUES = Path(__file__).resolve().parents[2] / "dialogues"
_FONT_DIRS: tuple[Path, ...] = (
    Path("/usr/share/fonts"),
    Path("/usr/local/share/fonts"),
    Path.home() / ".fonts",
)
_TEXT_FONTS = ("DejaVuSans-Bold.ttf", "NotoSans-Bold.ttf", "LiberationSans-Bold.ttf")
_EMOJI_FONTS = ("NotoColorEmoji.ttf",)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


class CardSkill(Protocol):
    """Anything with a label, an emoji and a category (SkillInfo, FoundSkill)."""

    @property
    def label(self) -> str:
        """The easy-read label."""
        ...

    @property
    def emoji(self) -> str:
        """The skill's emoji."""
        ...

    @property
    def category(self) -> str:
        """The category id."""
        ...


# ---------------------------------------------------------------------- fonts and text


def use_font_dirs(folders: tuple[Path, ...]) -> None:
    """Look for the card's fonts in ``folders`` from now on (``SKILLSPARK_FONT_DIRS``)."""
    global _FONT_DIRS
    _FONT_DIRS = folders
    for cached in (find_font, _text_font, _emoji_font):
        cached.cache_clear()


@lru_cache(maxsize=8)
def find_font(names: tuple[str, ...]) -> Path | None:
    """The first font file with one of ``names`` in the usual font folders, or None."""
    for folder in _FONT_DIRS:
        if not folder.is_dir():
            continue
        for name in names:
            found = next(iter(sorted(folder.rglob(name))), None)
            if found is not None:
                return found
    return None


@lru_cache(maxsize=32)
def _text_font(size: int) -> Font:
    """A bold sans-serif font at ``size`` pixels (Pillow's own font as a last resort)."""
    path = find_font(_TEXT_FONTS)
    if path is not None:
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


@lru_cache(maxsize=1)
def _emoji_font() -> ImageFont.FreeTypeFont | None:
    """The colour emoji font, or None when the machine has none."""
    path = find_font(_EMOJI_FONTS)
    if path is None:
        return None
    try:
        return ImageFont.truetype(str(path), EMOJI_FONT_SIZE)
    except OSError:
        return None


def has_emoji_font() -> bool:
    """Whether emoji can be drawn in colour on this machine."""
    return _emoji_font() is not None


def _is_emoji_char(ch: str) -> bool:
    """Whether ``ch`` belongs to an emoji (pictograph, joiner, selector, skin tone)."""
    code = ord(ch)
    if code in (0x200D, 0xFE0F, 0x20E3) or 0x1F3FB <= code <= 0x1F3FF:
        return True
    if 0x1F000 <= code <= 0x1FAFF or 0x2600 <= code <= 0x27BF or 0x2B00 <= code <= 0x2BFF:
        return True
    return code >= 0x2190 and unicodedata.category(ch) == "So"


def split_runs(text: str) -> list[tuple[str, bool]]:
    """Split ``text`` into (run, is_emoji) pieces."""
    runs: list[tuple[str, bool]] = []
    for ch in text:
        emoji = _is_emoji_char(ch)
        if runs and runs[-1][1] == emoji:
            runs[-1] = (runs[-1][0] + ch, emoji)
        else:
            runs.append((ch, emoji))
    return runs


def _emoji_image(emoji: str, size: int) -> Image.Image | None:
    """``emoji`` drawn in colour, scaled to ``size`` pixels high, or None."""
    font = _emoji_font()
    if font is None or not emoji.strip():
        return None
    left, top, right, bottom = (int(v) for v in font.getbbox(emoji))
    if right <= left or bottom <= top:
        return None
    canvas = Image.new("RGBA", (right - left + 8, bottom - top + 8), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text((4 - left, 4 - top), emoji, font=font, embedded_color=True)
    box = canvas.getbbox()
    if box is None:
        return None
    canvas = canvas.crop(box)
    scale = size / max(canvas.height, 1)
    width = max(1, round(canvas.width * scale))
    return canvas.resize((width, size), Image.Resampling.LANCZOS)


def _text_width(text: str, font: Font) -> float:
    """Width of plain text in pixels."""
    return ImageDraw.Draw(Image.new("RGB", (1, 1))).textlength(text, font=font)


def _visible(text: str) -> str:
    """``text`` as it will be drawn: without emoji when no emoji font exists."""
    if has_emoji_font():
        return text
    return " ".join("".join(run for run, emoji in split_runs(text) if not emoji).split())


def _mixed_width(text: str, size: int) -> float:
    """Width of text with emoji (each emoji about one em wide)."""
    total = 0.0
    for run, emoji in split_runs(_visible(text)):
        if emoji:
            total += size * 1.1 if has_emoji_font() else 0
        else:
            total += _text_width(run, _text_font(size))
    return total


def _draw_mixed(
    canvas: Image.Image, xy: tuple[float, float], text: str, size: int, fill: tuple[int, int, int]
) -> None:
    """Draw text with emoji at ``xy`` (top left); emoji are left out without an emoji font."""
    draw = ImageDraw.Draw(canvas)
    x, y = xy
    for run, emoji in split_runs(_visible(text)):
        if emoji:
            picture = _emoji_image(run, size)
            if picture is not None:
                canvas.paste(picture, (round(x), round(y + size * 0.05)), picture)
                x += size * 1.1
            continue
        draw.text((x, y), run, font=_text_font(size), fill=fill)
        x += _text_width(run, _text_font(size))


def _fit(text: str, size: int, width: float, smallest: int) -> int:
    """The largest font size from ``size`` down to ``smallest`` at which ``text`` fits."""
    while size > smallest and _mixed_width(text, size) > width:
        size -= 2
    return size


def _wrap(text: str, size: int, width: float, max_lines: int = 2) -> list[str]:
    """Split ``text`` into at most ``max_lines`` lines that fit ``width`` (last line cut)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        trial = f"{current} {word}".strip()
        if current and _mixed_width(trial, size) > width:
            lines.append(current)
            current = word
        else:
            current = trial
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], " ".join(lines[max_lines - 1 :])]
    last = lines[-1] if lines else ""
    while len(last) > 1 and _mixed_width(last, size) > width:
        last = last[:-2] + "…"
    return [*lines[:-1], last] if lines else []


# ---------------------------------------------------------------------- texts


def load_card_texts(language: str = "en", dialogues_dir: Path | None = None) -> dict[str, str]:
    """The ``card.*`` messages from ``dialogues/<language>/skills.yml``."""
    path = (dialogues_dir or _DIALOGUES) / language / "skills.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(k): str(v) for k, v in data.items() if str(k).startswith("card.")}


def _say(texts: Mapping[str, str], key: str, **values: str) -> str:
    """One card message with its placeholders filled."""
    text = texts[key]
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text


# ---------------------------------------------------------------------- drawing


def _circle(canvas: Image.Image, xy: tuple[int, int], size: int, category: str) -> None:
    """A coloured circle with the category's first letter (no emoji font)."""
    draw = ImageDraw.Draw(canvas)
    colour = CIRCLES[sum(map(ord, category)) % len(CIRCLES)]
    x, y = xy
    draw.ellipse((x, y, x + size, y + size), fill=colour)
    letter = (category[:1] or "?").upper()
    font = _text_font(int(size * 0.55))
    box = draw.textbbox((0, 0), letter, font=font)
    draw.text(
        (x + (size - (box[2] - box[0])) / 2 - box[0], y + (size - (box[3] - box[1])) / 2 - box[1]),
        letter,
        font=font,
        fill=(255, 255, 255),
    )


def _row_height(label: str, size: int, base: int) -> int:
    """The height a row needs: ``base``, or more when the label takes 2 lines."""
    icon = int(base * 0.62)
    width = WIDTH - 2 * MARGIN - 28 - icon - 32 - 28
    lines = len(_wrap(label, size, width))
    return max(base, lines * int(size * 1.2) + 36)


def _row(
    canvas: Image.Image,
    top: int,
    height: int,
    base: int,
    item: tuple[str, str, str],
    size: int,
    fill: tuple[int, int, int],
) -> None:
    """One rounded row: the emoji (or a circle) and the label in large type."""
    label, emoji, category = item
    draw = ImageDraw.Draw(canvas)
    draw.rounded_rectangle(
        (MARGIN, top, WIDTH - MARGIN, top + height), radius=28, fill=fill, outline=ROW_EDGE, width=3
    )
    icon = int(base * 0.62)
    icon_x, icon_y = MARGIN + 28, top + (height - icon) // 2
    picture = _emoji_image(emoji, icon)
    if picture is not None:
        canvas.paste(picture, (icon_x + (icon - picture.width) // 2, icon_y), picture)
    else:
        _circle(canvas, (icon_x, icon_y), icon, category)
    text_x = icon_x + icon + 32
    lines = _wrap(label, size, WIDTH - MARGIN - 28 - text_x)
    line_height = int(size * 1.2)
    y = top + (height - line_height * len(lines)) // 2
    for line in lines:
        _draw_mixed(canvas, (text_x, y), line, size, TEXT)
        y += line_height


def render_card(
    first_name: str,
    skills: Sequence[CardSkill],
    wishes: Sequence[str],
    *,
    texts: Mapping[str, str] | None = None,
) -> bytes:
    """A PNG picture card of the member's skills and learning wishes (1080 px wide)."""
    texts = texts if texts is not None else load_card_texts()
    name = " ".join(str(first_name or "").split())[:40]
    shown = list(skills)[:MAX_SKILLS]
    more = max(0, len(skills) - len(shown))
    wish_list = [" ".join(str(w).split()) for w in wishes if str(w).strip()][:MAX_WISHES]

    title = _say(texts, "card.title", name=name) if name else texts["card.title_no_name"]
    title_size = _fit(title, 72, WIDTH - 2 * MARGIN - 40, 40)
    header_h = int(title_size * 1.3) + 80
    gap = 20
    rows = [((s.label, s.emoji, s.category), _row_height(s.label, 52, 132)) for s in shown]
    wish_rows = [((w, "🌱", "learning"), _row_height(w, 46, 108)) for w in wish_list]
    height = header_h + 40 + sum(h + gap for _, h in rows) + (70 if more else 0)
    if wish_rows:
        height += 100 + sum(h + gap for _, h in wish_rows)
    height += 90

    canvas = Image.new("RGB", (WIDTH, height), BACKGROUND)
    ImageDraw.Draw(canvas).rectangle((0, 0, WIDTH, header_h), fill=HEADER)
    _draw_mixed(
        canvas, (MARGIN + 20, (header_h - title_size * 1.2) / 2), title, title_size, HEADER_TEXT
    )
    y = header_h + 40
    for item, row_h in rows:
        _row(canvas, y, row_h, 132, item, 52, ROW)
        y += row_h + gap
    if more:
        _draw_mixed(canvas, (MARGIN + 20, y), _say(texts, "card.more", count=str(more)), 44, TEXT)
        y += 70
    if wish_rows:
        heading = _say(texts, "card.wishes", name=name) if name else texts["card.wishes_no_name"]
        size = _fit(heading, 56, WIDTH - 2 * MARGIN, 36)
        _draw_mixed(canvas, (MARGIN + 10, y + 20), heading, size, HEADER)
        y += 100
        for item, row_h in wish_rows:
            _row(canvas, y, row_h, 108, item, 46, WISH_ROW)
            y += row_h + gap
    footer = texts.get("card.footer", "")
    if footer:
        size = 32
        _draw_mixed(
            canvas,
            ((WIDTH - _mixed_width(footer, size)) / 2, height - 70),
            footer,
            size,
            FOOTER_TEXT,
        )

    out = io.BytesIO()
    canvas.save(out, format="PNG", optimize=True)
    return out.getvalue()
