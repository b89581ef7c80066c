"""``skillspark nlu ...``: set up, train, serve, try and evaluate the Rasa NLU."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.nlu.client import RasaUnavailable, RasaUnderstanding
from bot.nlu.evaluation import Evaluation, evaluate
from bot.nlu.server import RasaServer, RasaServerError, free_port, new_token
from bot.nlu.training import NluPaths, NluSetupError, ensure_trained

nlu_app = typer.Typer(help="The Rasa NLU: set up, train, serve, parse, evaluate.")

#: Exit code when the Rasa environment is missing (same as the set-up script's).
EXIT_NO_RASA = 3


def _settings() -> Any:
    """The app settings (imported late so ``--help`` stays fast)."""
    from bot.settings import get_settings

    return get_settings()


def _paths() -> NluPaths:
    """NLU paths from the settings."""
    return NluPaths.from_settings(_settings())


def _need_venv(paths: NluPaths) -> None:
    """Exit with a clear message when the Rasa environment is missing."""
    if not paths.venv_ready():
        typer.echo(f"No Rasa environment at {paths.venv}. Run: skillspark nlu setup", err=True)
        raise typer.Exit(EXIT_NO_RASA)


def _quiet_logs() -> None:
    """Show our own progress lines, not every HTTP request."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)


@nlu_app.command()
def setup(
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if up to date.")] = False,
) -> None:
    """Build the Python 3.10 Rasa environment (.venv-rasa); safe to run again."""
    paths = _paths()
    command = ["bash", str(paths.setup_script), *(["--force"] if force else [])]
    code = subprocess.call(command, cwd=paths.root)
    raise typer.Exit(code)


@nlu_app.command()
def train(
    force: Annotated[bool, typer.Option("--force", help="Train even if nothing changed.")] = False,
) -> None:
    """Train models/nlu.tar.gz when the training data or config.yml changed."""
    _quiet_logs()
    paths = _paths()
    _need_venv(paths)
    try:
        result = ensure_trained(paths, force=force)
    except NluSetupError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    if result.trained:
        typer.echo(f"trained {result.model} in {result.seconds:.1f} s")
    else:
        typer.echo(f"up to date: {result.model}")


@nlu_app.command()
def serve(
    port: Annotated[int, typer.Option("--port", help="Port (default: SKILLSPARK_RASA_PORT).")] = 0,
) -> None:
    """Run the Rasa NLU server in the foreground until Ctrl-C."""
    _quiet_logs()
    settings = _settings()
    paths = NluPaths.from_settings(settings)
    _need_venv(paths)
    token = settings.rasa_token.get_secret_value()

    async def go() -> None:
        """Train, start, wait forever; stop on cancel."""
        await asyncio.to_thread(ensure_trained, paths)
        server = RasaServer(paths, port=port or settings.rasa_port, token=token or new_token())
        async with server:
            where = (
                "SKILLSPARK_RASA_TOKEN" if token else "a random token (set SKILLSPARK_RASA_TOKEN)"
            )
            typer.echo(f"Rasa NLU at {server.url} (API token: {where}). Ctrl-C stops it.")
            await asyncio.Event().wait()

    try:
        asyncio.run(go())
    except KeyboardInterrupt:
        typer.echo("stopped")
    except NluSetupError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc


@asynccontextmanager
async def _client(url: str) -> AsyncIterator[RasaUnderstanding]:
    """A client for ``url`` or, when empty, for a temporary local server."""
    settings = _settings()
    timeout = max(float(settings.nlu_timeout_s), 5.0)
    if url:
        token = settings.rasa_token.get_secret_value() or None
        async with RasaUnderstanding(url, token, timeout_s=timeout) as client:
            yield client
        return
    paths = NluPaths.from_settings(settings)
    await asyncio.to_thread(ensure_trained, paths)
    async with (
        RasaServer(paths, port=free_port()) as server,
        RasaUnderstanding(server.url, server.token, timeout_s=timeout) as client,
    ):
        yield client


@nlu_app.command()
def parse(
    text: Annotated[str, typer.Argument(help="The member message to understand.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    url: Annotated[str, typer.Option("--url", help="Rasa server (default: settings).")] = "",
) -> None:
    """Ask the live Rasa server what TEXT means (starts a temporary one if needed)."""
    logging.basicConfig(level=logging.WARNING)
    url = url or _settings().rasa_url
    if not url:
        _need_venv(_paths())

    async def go() -> dict[str, Any]:
        """Parse once."""
        async with _client(url) as client:
            result = await client.parse(text)
        return {
            "intent": result.intent,
            "confidence": round(result.confidence, 4),
            "entities": [
                {"entity": e.entity, "value": e.value, "start": e.start, "end": e.end}
                for e in result.entities
            ],
        }

    try:
        answer = asyncio.run(go())
    except (NluSetupError, RasaUnavailable, RasaServerError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps(answer, ensure_ascii=False))
        return
    typer.echo(f"{answer['intent']}  ({answer['confidence']:.2f})")
    for entity in answer["entities"]:
        typer.echo(f"  {entity['entity']}: {entity['value']}")


def _print_evaluation(result: Evaluation) -> None:
    """Print the per-intent table, macro-F1 and distress recall."""
    typer.echo(f"{'intent':<16}{'precision':>10}{'recall':>8}{'F1':>7}{'n':>5}")
    for s in result.scores:
        typer.echo(f"{s.intent:<16}{s.precision:>10.2f}{s.recall:>8.2f}{s.f1:>7.2f}{s.support:>5}")
    typer.echo(f"macro-F1: {result.macro_f1:.3f}   accuracy: {result.accuracy:.3f}")
    typer.echo(
        f"distress recall: Rasa {result.distress_recall_rasa:.3f}, "
        f"with the safety net {result.distress_recall_with_safety_net:.3f} "
        f"(n={result.distress_support})"
    )
    for text in result.distress_missed_overall:
        typer.echo(f"  missed distress: {text!r}")


@nlu_app.command("evaluate")
def evaluate_command(
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder for Rasa's reports (default: temp).")
    ] = None,
    test_file: Annotated[
        Path | None, typer.Option("--test-file", help="Test set (default: nlu/tests).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Score the model on the held-out test set: per-intent F1, macro-F1, distress recall."""
    _quiet_logs()
    paths = _paths()
    _need_venv(paths)
    try:
        ensure_trained(paths)
        if out is None:
            with tempfile.TemporaryDirectory(prefix="skillspark-nlu-test-") as tmp:
                result = evaluate(paths, Path(tmp), test_file)
        else:
            result = evaluate(paths, out, test_file)
    except NluSetupError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "macro_f1": result.macro_f1,
                    "accuracy": result.accuracy,
                    "distress_recall_rasa": result.distress_recall_rasa,
                    "distress_recall_with_safety_net": result.distress_recall_with_safety_net,
                    "intents": {s.intent: s.__dict__ for s in result.scores},
                }
            )
        )
        return
    _print_evaluation(result)
