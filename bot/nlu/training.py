"""Where the NLU files live, and training the Rasa model only when its inputs change.

The fingerprint is a hash of every training file under ``nlu/data``, of
``config.yml`` and of the pinned Rasa requirements. It is stored beside the
model; when it matches, training is skipped. A file lock stops two processes
(the bot and a test run) from training at the same time.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: The project root: the folder holding ``nlu/`` and ``config.yml``.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
MODEL_NAME = "nlu"


class NluSetupError(RuntimeError):
    """The Rasa environment or model is missing or broken."""


@dataclass(frozen=True)
class NluPaths:
    """Every file and folder the NLU needs, derived from the project root."""

    root: Path
    models_dir: Path
    venv: Path

    @classmethod
    def from_settings(cls, settings: Any) -> NluPaths:
        """Paths from the app settings (``models_dir`` and ``rasa_venv``)."""
        return cls(
            root=PROJECT_ROOT,
            models_dir=Path(getattr(settings, "models_dir", PROJECT_ROOT / "models")),
            venv=Path(getattr(settings, "rasa_venv", PROJECT_ROOT / ".venv-rasa")),
        )

    @property
    def training_dir(self) -> Path:
        """Rasa training data (one YAML file per topic)."""
        return self.root / "nlu" / "data"

    @property
    def test_file(self) -> Path:
        """The held-out NLU test set (never used for training)."""
        return self.root / "nlu" / "tests" / "test_nlu.yml"

    @property
    def config(self) -> Path:
        """The Rasa pipeline."""
        return self.root / "config.yml"

    @property
    def requirements(self) -> Path:
        """Pinned requirements of the Rasa environment."""
        return self.root / "nlu" / "requirements-rasa.txt"

    @property
    def setup_script(self) -> Path:
        """The script that builds the Rasa environment."""
        return self.root / "scripts" / "setup-rasa-venv.sh"

    @property
    def model(self) -> Path:
        """The trained model archive."""
        return self.models_dir / f"{MODEL_NAME}.tar.gz"

    @property
    def fingerprint_file(self) -> Path:
        """Where the fingerprint of the trained model's inputs is kept."""
        return self.models_dir / f"{MODEL_NAME}.fingerprint.json"

    @property
    def rasa_bin(self) -> Path:
        """The ``rasa`` command inside the Rasa environment."""
        return self.venv / "bin" / "rasa"

    def venv_ready(self) -> bool:
        """True when the Rasa environment exists and has the ``rasa`` command."""
        return self.rasa_bin.is_file() and os.access(self.rasa_bin, os.X_OK)


def rasa_env(paths: NluPaths) -> dict[str, str]:
    """Environment for Rasa commands: no telemetry, cache kept under ``models/``."""
    env = dict(os.environ)
    env.update(
        {
            "RASA_TELEMETRY_ENABLED": "false",
            "RASA_CACHE_DIRECTORY": str(paths.models_dir / ".rasa-cache"),
            "RASA_MAX_CACHE_SIZE": "300",
            "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONWARNINGS": "ignore",
        }
    )
    return env


def training_files(paths: NluPaths) -> list[Path]:
    """The YAML training files, in a stable order."""
    files = [*paths.training_dir.rglob("*.yml"), *paths.training_dir.rglob("*.yaml")]
    return sorted(files)


def fingerprint(paths: NluPaths) -> str:
    """Hash of the training data, the pipeline and the Rasa requirements."""
    digest = hashlib.sha256()
    inputs = [*training_files(paths), paths.config, paths.requirements]
    for path in inputs:
        label = path.relative_to(paths.root) if path.is_relative_to(paths.root) else path
        digest.update(str(label).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes() if path.exists() else b"<missing>")
        digest.update(b"\0")
    return digest.hexdigest()


def is_up_to_date(paths: NluPaths) -> bool:
    """True when the model exists and was trained from the current inputs."""
    if not paths.model.is_file() or not paths.fingerprint_file.is_file():
        return False
    try:
        stored = json.loads(paths.fingerprint_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(stored, dict) and stored.get("fingerprint") == fingerprint(paths)


@dataclass(frozen=True)
class TrainResult:
    """What ``ensure_trained`` did."""

    trained: bool
    seconds: float
    model: Path


@contextmanager
def _train_lock(paths: NluPaths) -> Iterator[None]:
    """Hold an exclusive file lock while training (other processes wait)."""
    paths.models_dir.mkdir(parents=True, exist_ok=True)
    with (paths.models_dir / f".{MODEL_NAME}.train.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def train_command(paths: NluPaths) -> list[str]:
    """The ``rasa train nlu`` command line."""
    return [
        str(paths.rasa_bin),
        "train",
        "nlu",
        "--nlu",
        str(paths.training_dir),
        "--config",
        str(paths.config),
        "--out",
        str(paths.models_dir),
        "--fixed-model-name",
        MODEL_NAME,
    ]


def ensure_trained(paths: NluPaths, *, force: bool = False) -> TrainResult:
    """Train the model unless it is already trained from the same inputs."""
    if not paths.venv_ready():
        raise NluSetupError(
            f"No Rasa environment at {paths.venv}: run `skillspark nlu setup` "
            "(scripts/setup-rasa-venv.sh)."
        )
    with _train_lock(paths):
        if not force and is_up_to_date(paths):
            log.debug("NLU model is up to date: %s", paths.model)
            return TrainResult(trained=False, seconds=0.0, model=paths.model)
        wanted = fingerprint(paths)
        log.info("Training the NLU model (about 20 seconds)...")
        started = time.monotonic()
        done = subprocess.run(
            train_command(paths),
            cwd=paths.root,
            env=rasa_env(paths),
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.monotonic() - started
        if done.returncode != 0 or not paths.model.is_file():
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise NluSetupError(f"rasa train nlu failed (exit {done.returncode}):\n{tail}")
        record = {"fingerprint": wanted, "seconds": round(seconds, 1), "trained_at": time.time()}
        paths.fingerprint_file.write_text(json.dumps(record, indent=2), encoding="utf-8")
        log.info("NLU model trained in %.1f s: %s", seconds, paths.model)
        return TrainResult(trained=True, seconds=seconds, model=paths.model)
