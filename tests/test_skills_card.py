"""The skills picture card: a readable PNG of sensible size, with or without emoji."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.settings import PROJECT_ROOT
from bot.skills import card
from bot.skills.taxonomy import load_taxonomy
from bot.types import FoundSkill, SkillInfo
from tests.conftest import needs_tool


def some_skills(ids: list[str]) -> list[SkillInfo]:
    """Taxonomy entries for ``ids``."""
    tax = load_taxonomy(PROJECT_ROOT / "dialogues" / "skills.yml")
    found = [tax.get(i) for i in ids]
    assert all(found)
    return [s for s in found if s is not None]


def open_png(data: bytes) -> Image.Image:
    """Decode PNG bytes (fails if they are not a PNG)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def colours(image: Image.Image) -> int:
    """How many different colours the picture uses (a blank one uses 1)."""
    found = image.convert("RGB").getcolors(maxcolors=1_000_000)
    return len(found) if found else 1_000_000


def test_card_is_a_wide_readable_png() -> None:
    """A 1080 px wide PNG, taller with more skills, with lots of drawn detail."""
    three = open_png(
        card.render_card("Sam", some_skills(["baking", "walking_dogs", "singing"]), ["swimming"])
    )
    six = open_png(
        card.render_card(
            "Sam",
            some_skills(["baking", "walking_dogs", "singing", "cleaning", "reading", "driving"]),
            [],
        )
    )
    assert three.width == 1080
    assert 600 < three.height < 4000
    assert six.height > three.height - 300  # no wishes section, but 3 more rows
    assert colours(three) > 50


def test_card_accepts_found_skills_and_long_text() -> None:
    """FoundSkills work too; a long name and long labels are fitted, not crashed on."""
    found = [FoundSkill("baking", "baking " * 12, "cooking", "🧁", "i bake")]
    image = open_png(card.render_card("Bartholomew-Alexander " * 3, found, ["x" * 200]))
    assert image.width == 1080


def test_many_skills_are_cut_with_a_note() -> None:
    """More than 10 skills: the card stays a sensible size."""
    many = some_skills(["baking"]) * 25
    image = open_png(card.render_card("Sam", many, ["a"] * 10))
    assert image.height < 4000


def test_card_without_emoji_font_draws_circles(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no colour emoji font the card still draws, with coloured circles."""
    monkeypatch.setattr(card, "_emoji_font", lambda: None)
    assert not card.has_emoji_font()
    image = open_png(card.render_card("Sam", some_skills(["baking", "walking_dogs"]), []))
    assert image.width == 1080
    assert colours(image) > 20
    # a drawn circle puts a category colour on the card
    rgb = image.convert("RGB")
    assert any(
        rgb.getpixel((x, y)) in card.CIRCLES for x in range(80, 200, 4) for y in range(150, 600, 4)
    )


@needs_tool(card.has_emoji_font(), "no colour emoji font on this machine (make fonts installs it)")
def test_emoji_are_drawn_in_colour() -> None:
    """With the emoji font, the emoji area holds many colours (a picture, not a circle)."""
    image = open_png(card.render_card("Sam", some_skills(["walking_dogs"]), []))
    rgb = image.convert("RGB")
    row_top = 200  # header and gap sit above the first row
    box = rgb.crop((card.MARGIN + 20, row_top, card.MARGIN + 130, row_top + 140))
    assert colours(box) > 30


def test_card_without_name_or_skills() -> None:
    """An empty name and no skills still give a picture."""
    image = open_png(card.render_card("", [], []))
    assert image.width == 1080


def test_card_words_come_from_the_dialogues() -> None:
    """The card's captions are messages in dialogues/en/skills.yml."""
    texts = card.load_card_texts("en")
    assert {"card.title", "card.wishes", "card.more"} <= set(texts)
    assert "{name}" in texts["card.title"]
