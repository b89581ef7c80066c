"""Load and check the skills taxonomy in ``dialogues/skills.yml``.

The file has two parts: ``categories`` (exactly the 19 fixed ids of
:data:`bot.types.CATEGORIES`, each with a label and an emoji) and ``skills`` (a
list of entries, each read into a :class:`bot.types.SkillInfo`). Every problem
found is collected and raised at once in a :class:`TaxonomyError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.types import CATEGORIES, SkillInfo

_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_ESCO = re.compile(
    r"^http://data\.europa\.eu/esco/skill/"
    r"([0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}|[A-Z][0-9]+(\.[0-9]+)*)$"
)
_ONET = re.compile(r"^[1-6](\.[A-Za-z0-9]+)+$")
#: The longest skill id. A skill id is a button choice, ``rm:<id>`` ("remove this
#: skill", ``bot.profile_edit``, which keeps 48 characters of it), and must fit in
#: Telegram's 64 bytes of button data after a prompt number of up to 10 digits and
#: ":". Ids are ASCII, so characters are bytes.
MAX_SKILL_ID = 48 - len("rm:")
_KNOWN_KEYS = ("id", "category", "label", "emoji", "phrases", "related", "esco", "onet")


class TaxonomyError(ValueError):
    """The taxonomy file has problems; ``problems`` lists each one."""

    def __init__(self, problems: list[str]) -> None:
        """Keep the problems and build one readable message."""
        self.problems = problems
        super().__init__("skills taxonomy has problems: " + "; ".join(problems))


@dataclass(frozen=True)
class Taxonomy:
    """The categories (id -> (label, emoji)) and the skills (id -> SkillInfo)."""

    categories: dict[str, tuple[str, str]]
    skills: dict[str, SkillInfo]

    def get(self, skill_id: str) -> SkillInfo | None:
        """The skill with this id, or None."""
        return self.skills.get(skill_id)

    def in_category(self, category: str) -> list[SkillInfo]:
        """The skills of one category, in file order."""
        return [s for s in self.skills.values() if s.category == category]

    def __iter__(self) -> Iterator[SkillInfo]:
        """Iterate over the skills in file order."""
        return iter(self.skills.values())


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a mapping with the same key twice."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    """Build a mapping, failing on a duplicate key."""
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise TaxonomyError([f"duplicate key {key!r} (line {key_node.start_mark.line + 1})"])
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def _text_list(value: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    """A list of non-empty strings, or a problem noted."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(f"{where} must be a list of words")
        return ()
    return tuple(v.strip() for v in value)


def _read_categories(raw: Any, problems: list[str]) -> dict[str, tuple[str, str]]:
    """Read and check the ``categories`` mapping."""
    if not isinstance(raw, dict):
        problems.append("'categories' must be a mapping of the 19 category ids")
        return {}
    categories: dict[str, tuple[str, str]] = {}
    for cid, entry in raw.items():
        if cid not in CATEGORIES:
            problems.append(f"unknown category {cid!r} (allowed: {', '.join(CATEGORIES)})")
            continue
        if not isinstance(entry, dict) or not entry.get("label") or not entry.get("emoji"):
            problems.append(f"category {cid!r} needs a label and an emoji")
            continue
        categories[cid] = (str(entry["label"]), str(entry["emoji"]))
    missing = [c for c in CATEGORIES if c not in raw]
    if missing:
        problems.append(f"missing categories: {', '.join(missing)}")
    return categories


def _read_skill(entry: Any, index: int, problems: list[str]) -> SkillInfo | None:
    """Read one skill entry; note problems and return None when unusable."""
    where = f"skill #{index + 1}"
    if not isinstance(entry, dict):
        problems.append(f"{where} must be a mapping")
        return None
    sid = entry.get("id")
    if not isinstance(sid, str) or not _ID.match(sid):
        problems.append(f"{where} has a bad id {sid!r} (use lower_case_words)")
        return None
    where = f"skill {sid!r}"
    if len(sid) > MAX_SKILL_ID:
        problems.append(
            f"{where} has an id of {len(sid)} characters; use at most {MAX_SKILL_ID} "
            "(it must fit in a Telegram button)"
        )
        return None
    ok = True
    category = entry.get("category")
    if category not in CATEGORIES:
        problems.append(f"{where} has unknown category {category!r}")
        ok = False
    for key in ("label", "emoji"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            problems.append(f"{where} needs a {key}")
            ok = False
    esco, onet = entry.get("esco"), entry.get("onet")
    if esco is not None and not (isinstance(esco, str) and _ESCO.match(esco)):
        problems.append(f"{where} has a malformed ESCO skill URI {esco!r}")
    if onet is not None and not (isinstance(onet, str) and _ONET.match(onet)):
        problems.append(f"{where} has a malformed O*NET element id {onet!r}")
    phrases = _text_list(entry.get("phrases"), f"{where} phrases", problems)
    related = _text_list(entry.get("related"), f"{where} related", problems)
    extra = {str(k): str(v) for k, v in entry.items() if k not in _KNOWN_KEYS}
    if not ok:
        return None
    return SkillInfo(
        id=sid,
        category=str(category),
        label=str(entry["label"]).strip(),
        emoji=str(entry["emoji"]).strip(),
        phrases=phrases,
        related=related,
        esco=esco if isinstance(esco, str) else None,
        onet=onet if isinstance(onet, str) else None,
        extra=extra,
    )


def parse_taxonomy(data: Any) -> Taxonomy:
    """Build a :class:`Taxonomy` from already-parsed YAML; raise TaxonomyError on problems."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise TaxonomyError(["the file must hold 'categories' and 'skills'"])
    categories = _read_categories(data.get("categories"), problems)
    raw_skills = data.get("skills")
    if not isinstance(raw_skills, list) or not raw_skills:
        problems.append("'skills' must be a non-empty list")
        raw_skills = []
    skills: dict[str, SkillInfo] = {}
    for index, entry in enumerate(raw_skills):
        info = _read_skill(entry, index, problems)
        if info is None:
            continue
        if info.id in skills:
            problems.append(f"duplicate skill id {info.id!r}")
            continue
        skills[info.id] = info
    for info in skills.values():
        for rid in info.related:
            if rid not in skills:
                problems.append(f"skill {info.id!r} names an unknown related skill {rid!r}")
            elif rid == info.id:
                problems.append(f"skill {info.id!r} names itself as related")
    if problems:
        raise TaxonomyError(problems)
    return Taxonomy(categories=categories, skills=skills)


def load_taxonomy(path: str | Path) -> Taxonomy:
    """Read ``skills.yml`` at ``path`` and check it (raises TaxonomyError, OSError)."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise TaxonomyError([f"not valid YAML: {exc}"]) from exc
    return parse_taxonomy(data)
