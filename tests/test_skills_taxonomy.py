"""The skills taxonomy: the shipped file is complete, and bad files fail clearly."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.settings import PROJECT_ROOT
from bot.skills.taxonomy import TaxonomyError, load_taxonomy, parse_taxonomy
from bot.types import CATEGORIES, SkillInfo

DIALOGUES = PROJECT_ROOT / "dialogues"


def shipped() -> dict[str, Any]:
    """The shipped skills.yml as plain data."""
    data: dict[str, Any] = yaml.safe_load((DIALOGUES / "skills.yml").read_text(encoding="utf-8"))
    return data


def minimal() -> dict[str, Any]:
    """A small valid taxonomy: all 19 categories and two skills."""
    return {
        "categories": {c: {"label": c.replace("_", " "), "emoji": "⭐"} for c in CATEGORIES},
        "skills": [
            {
                "id": "baking",
                "category": "cooking",
                "label": "baking",
                "emoji": "🧁",
                "phrases": ["bake cakes"],
                "related": ["making_tea"],
            },
            {
                "id": "making_tea",
                "category": "cooking",
                "label": "making tea",
                "emoji": "☕",
                "phrases": ["make tea"],
                "related": [],
            },
        ],
    }


def problems_of(data: dict[str, Any]) -> list[str]:
    """The problems parse_taxonomy reports for ``data``."""
    with pytest.raises(TaxonomyError) as caught:
        parse_taxonomy(data)
    return caught.value.problems


# ---------------------------------------------------------------- the shipped file


def test_shipped_taxonomy_loads_with_all_categories() -> None:
    """The project's taxonomy has the 19 categories, each with a label and an emoji."""
    tax = load_taxonomy(DIALOGUES / "skills.yml")
    assert list(tax.categories) == list(CATEGORIES)
    assert all(label and emoji for label, emoji in tax.categories.values())


def test_shipped_taxonomy_is_big_enough() -> None:
    """At least 120 skills, at least 4 in every category."""
    tax = load_taxonomy(DIALOGUES / "skills.yml")
    per_category = Counter(s.category for s in tax.skills.values())
    assert len(tax.skills) >= 120
    assert {c: n for c, n in per_category.items() if n < 4} == {}
    assert set(per_category) == set(CATEGORIES)


def test_every_skill_has_many_phrases_and_fits_the_sentence() -> None:
    """Each skill has several phrases and a lower-case label that fits "You are good at"."""
    tax = load_taxonomy(DIALOGUES / "skills.yml")
    for skill in tax.skills.values():
        assert isinstance(skill, SkillInfo)
        assert len(skill.phrases) >= 5, skill.id
        assert skill.label == skill.label.strip() and not skill.label.endswith("."), skill.id
        assert skill.label[0].islower(), skill.id


def test_skills_used_by_the_flows_exist() -> None:
    """Every skill id a topic flow names is in the taxonomy."""
    tax = load_taxonomy(DIALOGUES / "skills.yml")
    used: set[str] = set()
    for path in (DIALOGUES / "flows").glob("*.yml"):
        flow = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for question in flow.get("questions") or []:
            used.update(question.get("skills") or [])
    assert used, "the topic flows name no skills"
    assert sorted(used - set(tax.skills)) == []


def test_reference_ids_look_right() -> None:
    """ESCO ids are skill URIs and O*NET ids are content-model element ids."""
    tax = load_taxonomy(DIALOGUES / "skills.yml")
    escos = [s.esco for s in tax.skills.values() if s.esco]
    onets = [s.onet for s in tax.skills.values() if s.onet]
    assert escos and onets
    assert all(e.startswith("http://data.europa.eu/esco/skill/") for e in escos)
    assert all(o[0] in "1234" and o.count(".") >= 2 for o in onets)


def test_no_phrase_belongs_to_two_skills() -> None:
    """A phrase reveals one skill only."""
    seen: Counter[str] = Counter()
    for skill in shipped()["skills"]:
        seen.update({p.lower() for p in skill["phrases"]})
    assert [p for p, n in seen.items() if n > 1] == []


# ---------------------------------------------------------------- validation errors


def test_minimal_taxonomy_is_valid() -> None:
    """The helper's small taxonomy passes, so each error test changes one thing."""
    tax = parse_taxonomy(minimal())
    assert tax.get("baking") is not None
    assert tax.get("nothing") is None
    assert [s.id for s in tax.in_category("cooking")] == ["baking", "making_tea"]


def test_unknown_category_is_an_error() -> None:
    """A skill in a category outside the fixed 19 fails."""
    data = minimal()
    data["skills"][0]["category"] = "juggling"
    assert any("juggling" in p for p in problems_of(data))


def test_missing_or_extra_category_is_an_error() -> None:
    """The categories mapping must hold exactly the 19 ids."""
    data = minimal()
    del data["categories"]["humour"]
    data["categories"]["space"] = {"label": "space", "emoji": "🚀"}
    problems = problems_of(data)
    assert any("humour" in p for p in problems)
    assert any("space" in p for p in problems)


def test_duplicate_skill_id_is_an_error() -> None:
    """Two skills with one id fail."""
    data = minimal()
    data["skills"].append(dict(data["skills"][0]))
    assert any("duplicate skill id 'baking'" in p for p in problems_of(data))


def test_unknown_related_id_is_an_error() -> None:
    """A related id that names no skill fails."""
    data = minimal()
    data["skills"][0]["related"] = ["flying"]
    assert any("flying" in p for p in problems_of(data))


def test_bad_reference_ids_are_errors() -> None:
    """Made-up ESCO or O*NET ids in the wrong shape fail."""
    data = minimal()
    data["skills"][0]["esco"] = "https://example.org/skill/1"
    data["skills"][1]["onet"] = "cooking"
    problems = problems_of(data)
    assert any("ESCO" in p for p in problems)
    assert any("O*NET" in p for p in problems)


def test_missing_label_and_bad_id_are_errors() -> None:
    """A skill needs a lower_case id, a label and an emoji."""
    data = minimal()
    data["skills"][0]["id"] = "Bad Id"
    del data["skills"][1]["label"]
    problems = problems_of(data)
    assert any("bad id" in p for p in problems)
    assert any("label" in p for p in problems)


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    """Several problems come back together, so one fix round is enough."""
    data = minimal()
    data["skills"][0]["category"] = "juggling"
    data["skills"][1]["related"] = ["flying"]
    assert len(problems_of(data)) >= 2


def test_duplicate_yaml_key_is_an_error(tmp_path: Path) -> None:
    """A category written twice in the file fails instead of silently keeping one."""
    text = (DIALOGUES / "skills.yml").read_text(encoding="utf-8")
    text = text.replace(
        "categories:\n", 'categories:\n  cooking: {label: "food", emoji: "🍳"}\n', 1
    )
    path = tmp_path / "skills.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TaxonomyError, match="duplicate key 'cooking'"):
        load_taxonomy(path)


def test_broken_yaml_is_an_error(tmp_path: Path) -> None:
    """A file that is not YAML fails with a clear error."""
    path = tmp_path / "skills.yml"
    path.write_text("categories: [unclosed\n", encoding="utf-8")
    with pytest.raises(TaxonomyError, match="not valid YAML"):
        load_taxonomy(path)
