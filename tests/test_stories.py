"""Every story in stories/ replays step by step through the engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Database, make_settings, runtime_for
from tests.stories import STORIES_DIR, Story, StoryFailed, load_stories, replay

STORIES = load_stories()


def test_every_flow_has_a_story() -> None:
    """Onboarding and each topic flow appear in at least one story."""
    from bot.app import load_app_content

    content = load_app_content(make_settings(Database("sqlite", "sqlite://", None), Path("/tmp")))
    text = "\n".join(p.read_text(encoding="utf-8") for p in STORIES_DIR.glob("*.yml"))
    assert "onboarding.consent" in text
    missing = [t.id for t in content.topics if t.intro not in text]
    assert missing == [], f"topics without a story: {missing}"


@pytest.mark.parametrize("story", STORIES, ids=[f"{s.file}:{s.name}" for s in STORIES])
async def test_story_replays(story: Story, sqlite_db: Database, tmp_path: Path) -> None:
    """The bot says exactly what the story says, step by step."""
    async with runtime_for(sqlite_db, tmp_path) as rt:
        await replay(rt.engine, story, member_id="story")


async def test_a_deviating_story_fails(sqlite_db: Database, tmp_path: Path) -> None:
    """The replayer really catches a bot that says something else."""
    story = Story("inline", "wrong", [{"intent": "start"}, {"action": "onboarding.ask_name"}])
    async with runtime_for(sqlite_db, tmp_path) as rt:
        with pytest.raises(StoryFailed, match=r"onboarding\.welcome"):
            await replay(rt.engine, story, member_id="story")
