"""Load and validate everything members read: messages, flows and the taxonomy.

Validation runs at start-up (and in ``skillspark dialogues check``) and fails
with every problem listed: unknown step type, a link to no step, a missing
message key, a duplicate id, a skill missing from the taxonomy, a button choice
too long for Telegram's button data.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.conversation.tables import STEPS
from bot.skills.taxonomy import Taxonomy, load_taxonomy

#: The onboarding step types: one entry each in ``bot.conversation.tables.STEPS``.
STEP_TYPES = tuple(STEPS)
ACTIONS = ("@topics", "@end_no_consent")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
#: A button's choice travels in Telegram's 64 bytes of callback data after the
#: prompt number (up to 10 digits) and ":" (``bot.telegram.render.encode_callback``).
MAX_CHOICE_BYTES = 64 - 10 - 1


#: A topic has at most this many questions (a short path; "Question 7 of 7").
MAX_QUESTIONS = 7


class ContentError(Exception):
    """The dialogues folder has problems; ``problems`` lists each one."""

    def __init__(self, problems: list[str]) -> None:
        """Keep the list of problems and build a readable message."""
        self.problems = problems
        super().__init__("dialogues have problems:\n  - " + "\n  - ".join(problems))


@dataclass(frozen=True)
class ChoiceButton:
    """A button of a ``choice`` step: its id, label key and where it leads."""

    choice: str
    label: str
    next: str
    #: The value a ``preference`` step keeps when this button is pressed.
    value: bool = False


@dataclass(frozen=True)
class Step:
    """One onboarding step."""

    id: str
    type: str
    text: str
    next: str = ""
    retry: str = ""
    yes: str = ""
    no: str = ""
    buttons: tuple[ChoiceButton, ...] = ()
    #: The member preference a ``preference`` step sets (``read_aloud``).
    preference: str = ""


@dataclass(frozen=True)
class Question:
    """One topic question (standard buttons, free text accepted)."""

    id: str  # short id inside the topic
    topic: str
    text: str
    skills: tuple[str, ...]
    reflect: str

    @property
    def full_id(self) -> str:
        """The id stored with answers: ``topic.question``."""
        return f"{self.topic}.{self.id}"


@dataclass(frozen=True)
class Topic:
    """A topic flow: a title, an intro and its questions in order."""

    id: str
    order: int
    title: str
    intro: str
    questions: tuple[Question, ...]
    #: A topic about things to learn: "yes" keeps a learning wish, not a skill.
    wishes: bool = False

    def question(self, qid: str) -> Question | None:
        """The question with this short id, if any."""
        return next((q for q in self.questions if q.id == qid), None)


@dataclass(frozen=True)
class Content:
    """Everything loaded from ``dialogues/``."""

    messages: dict[str, dict[str, str]]  # language -> key -> text
    onboarding: dict[str, Step]
    onboarding_start: str
    topics: tuple[Topic, ...]
    taxonomy: Taxonomy
    default_language: str = "en"
    _topic_index: dict[str, Topic] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        """Index topics by id."""
        self._topic_index.update({t.id: t for t in self.topics})

    def topic(self, topic_id: str) -> Topic | None:
        """The topic with this id, if any."""
        return self._topic_index.get(topic_id)

    def has(self, key: str, language: str | None = None) -> bool:
        """True when a message key exists (in the language or the default)."""
        lang = language or self.default_language
        return key in self.messages.get(lang, {}) or key in self.messages.get(
            self.default_language, {}
        )

    def text(self, key: str, language: str | None = None, **values: str) -> str:
        """The message for ``key``, placeholders filled; falls back to the default language."""
        lang = language or self.default_language
        template = self.messages.get(lang, {}).get(key)
        if template is None:
            template = self.messages[self.default_language][key]
        return template.format_map(_Defaults(values)) if values or "{" in template else template


class _Defaults(dict[str, str]):
    """Leaves unknown placeholders as they are instead of raising."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def placeholders(template: str) -> set[str]:
    """The placeholder names used in a message template."""
    names: set[str] = set()
    for _, name, _, _ in string.Formatter().parse(template):
        if name:
            names.add(name)
    return names


def _load_yaml(path: Path, problems: list[str]) -> Any:
    """Read one YAML file; record a problem instead of raising."""
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except (OSError, yaml.YAMLError) as exc:
        problems.append(f"{path.name}: cannot read YAML ({exc})")
        return None


def load_messages(dialogues_dir: Path, problems: list[str]) -> dict[str, dict[str, str]]:
    """Merge every ``dialogues/<lang>/*.yml`` into one mapping per language."""
    result: dict[str, dict[str, str]] = {}
    for lang_dir in sorted(p for p in dialogues_dir.iterdir() if p.is_dir()):
        if lang_dir.name == "flows":
            continue
        merged: dict[str, str] = {}
        seen_in: dict[str, str] = {}
        for path in sorted(lang_dir.glob("*.yml")):
            data = _load_yaml(path, problems)
            if data is None:
                continue
            if not isinstance(data, dict):
                problems.append(f"{lang_dir.name}/{path.name}: must be a mapping of key: text")
                continue
            for key, value in data.items():
                where = f"{lang_dir.name}/{path.name}"
                if not isinstance(value, str):
                    problems.append(f"{where}: message '{key}' is not text")
                    continue
                if key in merged:
                    problems.append(
                        f"{where}: duplicate message key '{key}' (also in {seen_in[key]})"
                    )
                    continue
                merged[str(key)] = value
                seen_in[str(key)] = where
        result[lang_dir.name] = merged
    return result


def _parse_step(raw: Any, problems: list[str]) -> Step | None:
    """Turn one onboarding step mapping into a Step."""
    if not isinstance(raw, dict) or "id" not in raw:
        problems.append(f"onboarding.yml: a step has no id: {raw!r}")
        return None
    sid = str(raw["id"])
    stype = str(raw.get("type", ""))
    if stype not in STEP_TYPES:
        problems.append(f"onboarding.yml: step '{sid}' has unknown type '{stype}'")
        return None
    buttons = tuple(
        ChoiceButton(
            str(b.get("choice", "")),
            str(b.get("label", "")),
            str(b.get("next", "")),
            b.get("value") is True,
        )
        for b in raw.get("buttons", []) or []
        if isinstance(b, dict)
    )
    return Step(
        id=sid,
        type=stype,
        text=str(raw.get("text", "")),
        next=str(raw.get("next", "")),
        retry=str(raw.get("retry", "")),
        yes=str(raw.get("yes", "")),
        no=str(raw.get("no", "")),
        buttons=buttons,
        preference=str(raw.get("preference", "")),
    )


def _parse_topic(path: Path, data: Any, problems: list[str]) -> Topic | None:
    """Turn one topic file into a Topic."""
    if not isinstance(data, dict):
        problems.append(f"{path.name}: must be a mapping")
        return None
    tid = str(data.get("id", ""))
    if tid != path.stem:
        problems.append(f"{path.name}: id '{tid}' must match the file name '{path.stem}'")
    if not _ID.match(tid):
        problems.append(f"{path.name}: id '{tid}' must be lower case letters, digits and _")
    questions: list[Question] = []
    seen: set[str] = set()
    for raw in data.get("questions", []) or []:
        if not isinstance(raw, dict) or not raw.get("id"):
            problems.append(f"{path.name}: a question has no id")
            continue
        qid = str(raw["id"])
        if qid in seen:
            problems.append(f"{path.name}: duplicate question id '{qid}'")
            continue
        seen.add(qid)
        skills = raw.get("skills", []) or []
        if not isinstance(skills, list):
            problems.append(f"{path.name}: question '{qid}' skills must be a list")
            skills = []
        questions.append(
            Question(
                id=qid,
                topic=tid,
                text=str(raw.get("text", "")),
                skills=tuple(str(s) for s in skills),
                reflect=str(raw.get("reflect", "")),
            )
        )
    if not questions:
        problems.append(f"{path.name}: topic '{tid}' has no questions")
    if len(questions) > MAX_QUESTIONS:
        problems.append(
            f"{path.name}: topic '{tid}' has {len(questions)} questions; "
            f"a topic has at most {MAX_QUESTIONS} questions"
        )
    try:
        order = int(data.get("order", 100))
    except (TypeError, ValueError):
        problems.append(f"{path.name}: order must be a whole number")
        order = 100
    return Topic(
        id=tid,
        order=order,
        title=str(data.get("title", "")),
        intro=str(data.get("intro", "")),
        questions=tuple(questions),
        wishes=bool(data.get("wishes", False)),
    )


def _check_links(onboarding: dict[str, Step], start: str, problems: list[str]) -> None:
    """Every ``next`` / ``yes`` / ``no`` names a step or an action."""
    if start not in onboarding:
        problems.append(f"onboarding.yml: start step '{start}' does not exist")
    for step in onboarding.values():
        targets = [step.next, step.yes, step.no, *(b.next for b in step.buttons)]
        for target in targets:
            if target and target not in onboarding and target not in ACTIONS:
                problems.append(
                    f"onboarding.yml: step '{step.id}' links to unknown step '{target}'"
                )
        _check_needs(step, problems)
        _check_choices(step, problems)
        check = STEPS[step.type].check
        if check is not None:
            problems += [f"onboarding.yml: step '{step.id}' {p}" for p in check(step)]


def _check_needs(step: Step, problems: list[str]) -> None:
    """The step has every field its type needs (``needs`` in the step table)."""
    needs = STEPS[step.type].needs
    missing = [name for name in needs if not getattr(step, name)]
    if not missing:
        return
    if missing == ["buttons"]:
        problems.append(f"onboarding.yml: {step.type} step '{step.id}' has no buttons")
    else:
        wanted = " and ".join(f"'{name}'" for name in missing)
        article = "a " if len(missing) == 1 else ""
        problems.append(f"onboarding.yml: {step.type} step '{step.id}' needs {article}{wanted}")


def _check_choices(step: Step, problems: list[str]) -> None:
    """Every button has a choice that fits in a button's data on Telegram."""
    for button in step.buttons:
        size = len(button.choice.encode("utf-8"))
        if not size:
            problems.append(f"onboarding.yml: step '{step.id}' has a button with no 'choice'")
        elif size > MAX_CHOICE_BYTES:
            problems.append(
                f"onboarding.yml: step '{step.id}' button choice '{button.choice}' is "
                f"{size} bytes long; use at most {MAX_CHOICE_BYTES} (Telegram button data is "
                "64 bytes with the prompt number)"
            )


def _check_keys(content: Content, engine_keys: tuple[str, ...], problems: list[str]) -> None:
    """Every key the flows and the engine use exists in the default language."""
    needed: list[tuple[str, str]] = [(k, "engine") for k in engine_keys]
    for step in content.onboarding.values():
        needed += [(k, f"onboarding step '{step.id}'") for k in (step.text, step.retry) if k]
        needed += [(b.label, f"onboarding step '{step.id}'") for b in step.buttons]
    for topic in content.topics:
        needed += [(topic.title, f"topic '{topic.id}'"), (topic.intro, f"topic '{topic.id}'")]
        for q in topic.questions:
            needed += [(q.text, f"question '{q.full_id}'")]
            if q.reflect:
                needed += [(q.reflect, f"question '{q.full_id}'")]
    for key, where in needed:
        if not key:
            problems.append(f"{where}: a message key is empty")
        elif not content.has(key):
            problems.append(f"{where}: missing message key '{key}'")


def check_keys(content: Content, keys: tuple[str, ...], where: str) -> None:
    """Raise :class:`ContentError` naming every key of ``keys`` with no message."""
    problems = [f"{where}: missing message key '{k}'" for k in keys if not content.has(k)]
    if problems:
        raise ContentError(problems)


def load_content(
    dialogues_dir: Path, *, engine_keys: tuple[str, ...] = (), default_language: str = "en"
) -> Content:
    """Load and validate ``dialogues/``; raise :class:`ContentError` listing every problem."""
    problems: list[str] = []
    messages = load_messages(dialogues_dir, problems)
    if default_language not in messages:
        problems.append(f"no messages for the default language '{default_language}'")
        messages.setdefault(default_language, {})
    try:
        taxonomy = load_taxonomy(dialogues_dir / "skills.yml")
    except Exception as exc:  # the taxonomy loader raises its own clear errors
        raise ContentError([*problems, f"skills.yml: {exc}"]) from exc

    flows_dir = dialogues_dir / "flows"
    onboarding: dict[str, Step] = {}
    start = ""
    topics: list[Topic] = []
    for path in sorted(flows_dir.glob("*.yml")):
        data = _load_yaml(path, problems)
        if data is None:
            continue
        kind = data.get("kind") if isinstance(data, dict) else None
        if kind == "onboarding":
            start = str(data.get("start", ""))
            for raw in data.get("steps", []) or []:
                step = _parse_step(raw, problems)
                if step is None:
                    continue
                if step.id in onboarding:
                    problems.append(f"onboarding.yml: duplicate step id '{step.id}'")
                    continue
                onboarding[step.id] = step
        elif kind == "topic":
            topic = _parse_topic(path, data, problems)
            if topic is not None:
                if any(t.id == topic.id for t in topics):
                    problems.append(f"{path.name}: duplicate flow id '{topic.id}'")
                else:
                    topics.append(topic)
        else:
            problems.append(f"{path.name}: unknown flow kind '{kind}'")
    if not onboarding:
        problems.append("flows: no onboarding flow")
    else:
        _check_links(onboarding, start, problems)
    for topic in topics:
        for q in topic.questions:
            for sid in q.skills:
                if taxonomy.get(sid) is None:
                    problems.append(f"question '{q.full_id}': unknown skill '{sid}'")
    topics.sort(key=lambda t: (t.order, t.id))
    content = Content(
        messages=messages,
        onboarding=onboarding,
        onboarding_start=start,
        topics=tuple(topics),
        taxonomy=taxonomy,
        default_language=default_language,
    )
    _check_keys(content, engine_keys, problems)
    if problems:
        raise ContentError(problems)
    return content
