"""The deploy files agree with the code: services, health checks, grace period (issue 16).

There is no container engine on the build machine, so this reads the files
instead of running them (docs/deploy.md says how to run them).
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot import preflight
from bot.nudges.jobs import NudgeJobs
from bot.preflight import StartupError
from bot.settings import Settings
from bot.telegram.serve import LIVE_PATH, READY_PATH

ROOT = Path(__file__).resolve().parent.parent


def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def env_example() -> dict[str, str]:
    """The variables .env.example sets (commented ones left out)."""
    found: dict[str, str] = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            found[name.strip()] = value.strip()
    return found


def bot_stage_packages() -> set[str]:
    """The Debian packages the Dockerfile's bot stage installs."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    stage = text.split("FROM python:3.11-slim AS bot", 1)[1].split("\nFROM ", 1)[0]
    joined = stage.replace("\\\n", " ")
    packages: set[str] = set()
    for match in re.finditer(r"apt-get install ([^&\n]+)", joined):
        packages |= {w for w in match[1].split() if not w.startswith("-")}
    return packages


def seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)(s|m)", value)
    assert match, value
    return int(match[1]) * (60 if match[2] == "m" else 1)


def test_two_bots_postgres_rasa_and_one_webhook() -> None:
    services = compose()["services"]
    assert {"bot1", "bot2", "postgres", "rasa", "webhook"} <= set(services)
    for name in ("bot1", "bot2"):
        bot = services[name]
        assert bot["build"]["target"] == "bot"
        env = bot["environment"]
        assert env["SKILLSPARK_DATABASE_URL"].startswith("postgresql://")
        assert env["SKILLSPARK_RASA_URL"] == "http://rasa:5005"
        assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["rasa"]["build"]["target"] == "rasa"
    nginx = compose()["configs"]["webhook_nginx"]["content"]
    assert "server bot1:8443" in nginx and "server bot2:8443" in nginx


def test_every_service_has_a_healthcheck_and_the_bots_use_readiness() -> None:
    services = compose()["services"]
    for name, service in services.items():
        assert "healthcheck" in service, name
    port = services["bot1"]["environment"]["SKILLSPARK_WEBHOOK_PORT"]
    assert f"127.0.0.1:{port}{READY_PATH}" in " ".join(services["bot1"]["healthcheck"]["test"])
    assert LIVE_PATH in " ".join(services["webhook"]["healthcheck"]["test"])


def test_no_fixed_process_ids_so_each_process_makes_its_own() -> None:
    # Two containers with one id would both count as the holder of every lease.
    for name, service in compose()["services"].items():
        assert "SKILLSPARK_PROCESS_ID" not in (service.get("environment") or {}), name
    assert "SKILLSPARK_PROCESS_ID" not in env_example()
    assert Settings.model_fields["process_id"].default == ""  # empty: host:pid:random


def test_both_bots_share_one_required_webhook_secret() -> None:
    services = compose()["services"]
    envs = [services[name]["environment"] for name in ("bot1", "bot2")]
    assert envs[0] == envs[1]
    for key in ("SKILLSPARK_WEBHOOK_SECRET", "SKILLSPARK_WEBHOOK_URL"):
        assert envs[0][key].startswith(f"${{{key}:?"), key  # compose refuses it empty
    as_deployed = Settings(
        _env_file=None,
        SKILLSPARK_DATABASE_URL=envs[0]["SKILLSPARK_DATABASE_URL"],
        SKILLSPARK_WEBHOOK_URL="https://bots.example.org/hook",
        SKILLSPARK_WEBHOOK_SECRET="",
    )
    with pytest.raises(StartupError, match="SKILLSPARK_WEBHOOK_SECRET is empty"):
        preflight.check_webhook_secret(as_deployed)  # why compose must require it


def test_the_bot_image_has_what_the_start_up_checks_ask_for() -> None:
    packages = bot_stage_packages()
    assert {"fonts-dejavu-core", "fonts-noto-color-emoji"} <= packages
    speech = env_example().get("SKILLSPARK_SPEECH_ENABLED", "").lower()
    default_on = Settings.model_fields["speech_enabled"].default
    if speech in {"1", "true", "yes", "on"} or (not speech and default_on):
        assert "espeak-ng" in packages  # else following docs/deploy.md exits 2 at start


def test_the_stop_grace_period_covers_the_drain_and_the_nudge_senders_stop() -> None:
    nudge_stop = inspect.signature(NudgeJobs.stop).parameters["within"].default
    assert isinstance(nudge_stop, float)
    services = compose()["services"]
    for name in ("bot1", "bot2"):
        bot = services[name]
        drain = float(bot["environment"]["SKILLSPARK_STOP_SECONDS"])
        assert drain == Settings.model_fields["stop_seconds"].default  # what the code does
        # drain, then the nudge calls on the wire, then shutdown (docs/deploy.md "Stopping")
        assert seconds(bot["stop_grace_period"]) >= drain + nudge_stop + 10
    deploy = " ".join((ROOT / "docs" / "deploy.md").read_text(encoding="utf-8").split())
    period = services["bot1"]["stop_grace_period"]
    assert f"stop_grace_period: {period}" in deploy
    assert f"terminationGracePeriodSeconds: {int(seconds(period))}" in deploy
    assert f"at most {int(nudge_stop)} s" in deploy


def test_the_dockerfile_has_a_python_310_rasa_stage_and_a_bot_stage() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "FROM python:3.10-slim AS rasa" in text
    assert "FROM python:3.11-slim AS bot" in text
    assert "nlu/requirements-rasa.txt" in text
    assert READY_PATH in text
    assert 'CMD ["skillspark", "run"]' in text
