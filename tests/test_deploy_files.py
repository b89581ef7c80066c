"""The deploy files agree with the code: services, health checks, grace period (issue 16).

There is no container engine on the build machine, so this reads the files
instead of running them (docs/deploy.md says how to run them).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from bot.settings import Settings
from bot.telegram.serve import LIVE_PATH, READY_PATH

ROOT = Path(__file__).resolve().parent.parent


def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


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
        assert env["SKILLSPARK_PROCESS_ID"] == name
        assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert (
        services["bot1"]["environment"]["SKILLSPARK_PROCESS_ID"]
        != (services["bot2"]["environment"]["SKILLSPARK_PROCESS_ID"])
    )
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


def test_the_stop_grace_period_covers_the_drain() -> None:
    services = compose()["services"]
    for name in ("bot1", "bot2"):
        bot = services[name]
        drain = float(bot["environment"]["SKILLSPARK_STOP_SECONDS"])
        assert drain == Settings.model_fields["stop_seconds"].default  # what the code does
        assert seconds(bot["stop_grace_period"]) >= drain + 5  # drain, then shutdown


def test_the_dockerfile_has_a_python_310_rasa_stage_and_a_bot_stage() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "FROM python:3.10-slim AS rasa" in text
    assert "FROM python:3.11-slim AS bot" in text
    assert "nlu/requirements-rasa.txt" in text
    assert READY_PATH in text
    assert 'CMD ["skillspark", "run"]' in text
