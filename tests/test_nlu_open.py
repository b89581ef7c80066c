"""``open_understanding``: the composition API the app uses (no Rasa process here)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.nlu import open_understanding
from bot.nlu.client import ResilientUnderstanding
from bot.nlu.rules import RuleUnderstanding
from bot.settings import Settings


def _settings(tmp_path: Path, **values: object) -> Settings:
    """Settings isolated from the machine's environment and .env."""
    base: dict[str, object] = {
        "SKILLSPARK_RASA_URL": "",
        "SKILLSPARK_RASA_VENV": tmp_path / "no-venv",
        "SKILLSPARK_MODELS_DIR": tmp_path / "models",
        "SKILLSPARK_NLU_ENABLED": True,
    }
    base.update(values)
    return Settings(**base)  # type: ignore[arg-type]


async def test_switched_off_means_rules_only(tmp_path: Path) -> None:
    """``SKILLSPARK_NLU_ENABLED=false``: the rules answer, nothing is started."""
    async with open_understanding(_settings(tmp_path, SKILLSPARK_NLU_ENABLED=False)) as nlu:
        assert isinstance(nlu, RuleUnderstanding)
        assert (await nlu.parse("yeh")).intent == "affirm"


async def test_missing_rasa_environment_warns_once_and_uses_rules(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """No .venv-rasa: one loud warning saying what to run, then the rules answer."""
    caplog.set_level(logging.WARNING, logger="bot.nlu")
    async with open_understanding(_settings(tmp_path)) as nlu:
        for text in ("yeh", "nah", "dunno"):
            await nlu.parse(text)
        result = await nlu.parse("i does the cookin for my mum")
    assert isinstance(nlu, RuleUnderstanding)
    assert result.intent == "tell_activity"
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "skillspark nlu setup" in warnings[0].getMessage()


async def test_configured_url_gets_a_resilient_client(tmp_path: Path) -> None:
    """With ``SKILLSPARK_RASA_URL`` set, the client uses it and survives its absence."""
    settings = _settings(
        tmp_path, SKILLSPARK_RASA_URL="http://127.0.0.1:9/", SKILLSPARK_NLU_TIMEOUT=0.2
    )
    async with open_understanding(settings) as nlu:
        assert isinstance(nlu, ResilientUnderstanding)
        assert nlu.rasa.base_url == "http://127.0.0.1:9"
        result = await nlu.parse("nope")
    assert (result.intent, result.source) == ("deny", "rules")
