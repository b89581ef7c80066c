"""Replays conversation stories (Rasa's YAML story format) through the real engine.

Story steps:
- ``intent: <command>`` with a command name (start, help, pause, ...): a command.
- ``intent: button`` with ``entities: [{choice: <id>}]``: a button press on the latest prompt.
- ``intent: <any>`` with ``user: "text"``: typed text (the intent is what we expect it means).
- ``intent: unsupported`` with ``entities: [{kind: sticker}]``: a sticker, photo, ...
- ``action: <message key>``: the bot says that message next.
- ``away: <minutes>``: the member is away this long before their next step.
- ``checkpoint: onboarded`` (first step only): a member who finished onboarding and
  chose the first topic; the story continues from its intro.
- ``checkpoint: choosing`` (first step only): a member who finished onboarding and is
  at the first topic choice (nothing chosen yet).
- ``checkpoint: topic_<id>`` (first step only): an onboarded member who chose that
  topic first; the story continues from its intro.
- ``checkpoint: last_topic_<id>`` (first step only): an onboarded member who chose and
  skipped every other topic first; the story continues from that topic's intro.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.engine import Engine
from bot.types import COMMANDS, Incoming
from tests.chat import Chat

STORIES_DIR = Path(__file__).resolve().parent.parent / "stories"


@dataclass(frozen=True)
class Story:
    """One named story from a file."""

    file: str
    name: str
    steps: list[dict[str, Any]]


def load_stories(folder: Path = STORIES_DIR) -> list[Story]:
    """Every story in every ``stories/*.yml`` file."""
    stories: list[Story] = []
    for path in sorted(folder.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for story in data.get("stories", []):
            stories.append(Story(path.name, str(story["story"]), list(story["steps"])))
    return stories


class StoryFailed(AssertionError):
    """The bot deviated from the story."""


def _entity(step: dict[str, Any], name: str) -> str | None:
    """The value of an entity named in a user step."""
    for entity in step.get("entities", []) or []:
        if isinstance(entity, dict) and name in entity:
            return str(entity[name])
    return None


async def _checkpoint(chat: Chat, name: str) -> list[str]:
    """Bring the member to a checkpoint; return the bot keys still to be matched."""
    content = chat.engine.content
    if name == "choosing":
        await chat.onboard(topic=None)
        if chat.keys[-1] != "topic.choose_first":
            raise StoryFailed(f"checkpoint 'choosing' did not reach the topic choice: {chat.keys}")
        return []
    if name == "onboarded":
        target = content.topics[0]
    elif name.startswith(("topic_", "last_topic_")):
        found = content.topic(name.removeprefix("last_").removeprefix("topic_"))
        if found is None:
            raise StoryFailed(f"unknown topic checkpoint {name!r}")
        target = found
    else:
        raise StoryFailed(f"unknown checkpoint {name!r}")
    if name.startswith("last_"):
        await chat.onboard(topic=None)
        for topic in content.topics:
            if topic.id != target.id:
                await chat.pick(topic.id)
                for _ in topic.questions:
                    await chat.press("skip")
        await chat.pick(target.id)
    else:
        await chat.onboard(topic=target.id)
    keys = chat.keys
    if target.intro not in keys:
        raise StoryFailed(f"checkpoint {name!r} did not reach {target.intro}: {keys}")
    return keys[keys.index(target.intro) :]


async def replay(engine: Engine, story: Story, member_id: str) -> None:
    """Play the story; raise StoryFailed at the first step where the bot deviates."""
    chat = Chat(engine, member_id)
    queue: list[str] = []
    for number, step in enumerate(story.steps, start=1):
        where = f"{story.file} / {story.name} / step {number}"
        if "checkpoint" in step:
            if number != 1:
                raise StoryFailed(f"{where}: a checkpoint must be the first step")
            queue = await _checkpoint(chat, str(step["checkpoint"]))
            continue
        if "action" in step:
            expected = str(step["action"])
            if not queue:
                raise StoryFailed(
                    f"{where}: expected the bot to say {expected!r}, it said nothing more"
                )
            said = queue.pop(0)
            if said != expected:
                raise StoryFailed(f"{where}: expected {expected!r}, the bot said {said!r}")
            continue
        if "away" in step:
            await chat.away(float(step["away"]))
            continue
        if "intent" not in step:
            raise StoryFailed(f"{where}: a step needs intent, action, away or checkpoint")
        if queue:
            raise StoryFailed(f"{where}: the bot also said {queue} before the member spoke")
        intent = str(step["intent"])
        if "user" in step:
            await chat.say(str(step["user"]))
        elif intent == "button":
            choice = _entity(step, "choice")
            if choice is None:
                raise StoryFailed(f"{where}: a button step needs entities: [{{choice: ...}}]")
            await chat.press(choice)
        elif intent == "unsupported":
            await chat.other(_entity(step, "kind") or "sticker")
        elif intent in COMMANDS:
            await chat._send(Incoming("command", intent))
        else:
            raise StoryFailed(f"{where}: intent {intent!r} needs a 'user' text")
        queue = chat.keys
    if queue:
        raise StoryFailed(f"{story.file} / {story.name}: the bot also said {queue} at the end")
