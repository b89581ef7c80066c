"""The ``skillspark`` command line: run, chat, db, dialogues, nlu, skills."""

from __future__ import annotations

import asyncio
import getpass
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from bot.settings import Settings, get_settings

app = typer.Typer(
    help="SkillSpark: helps members find and share the things they are good at.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
dialogues_app = typer.Typer(help="Member-facing content in dialogues/.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(dialogues_app, name="dialogues")


def _register_subapps() -> None:
    """Mount the NLU, skills, staff, opportunities, matches and nudges command groups."""
    from bot.nlu.cli import nlu_app
    from bot.skills.cli import skills_app
    from bot.staff.cli import export_command, staff_app

    app.add_typer(nlu_app, name="nlu")
    app.add_typer(skills_app, name="skills")
    app.command("export")(export_command)
    app.add_typer(staff_app, name="staff")

    from bot.nudges.cli import matches_app, nudges_app, opportunities_app

    app.add_typer(opportunities_app, name="opportunities")
    app.add_typer(matches_app, name="matches")
    app.add_typer(nudges_app, name="nudges")


@app.command()
def run() -> None:
    """Run the bot: on Telegram when TELEGRAM_BOT_TOKEN is set, else as a terminal chat."""
    from bot import preflight
    from storage.db import check_url

    settings = get_settings()
    check_url(settings.effective_database_url())
    preflight.use_font_dirs(settings)
    if not settings.telegram_bot_token.get_secret_value():
        typer.echo(
            "No TELEGRAM_BOT_TOKEN is set, so SkillSpark runs as a chat in this terminal.",
            err=True,
        )
        code = asyncio.run(_chat(settings, _default_member(), None))
        raise typer.Exit(code)
    preflight.check_webhook_secret(settings)
    from bot.telegram.app import main_run

    main_run(settings)


@app.command()
def chat(
    member: Annotated[str, typer.Option("--member", help="Member id for this terminal chat.")] = "",
    name: Annotated[str, typer.Option("--name", help="First name to give when asked.")] = "",
    audio: Annotated[
        str,
        typer.Option("--audio", help="Save voice notes (read-aloud replies) in this folder."),
    ] = "",
) -> None:
    """Chat with SkillSpark in this terminal (scriptable through a pipe)."""
    from bot.preflight import use_font_dirs

    settings = get_settings()
    use_font_dirs(settings)
    audio_dir = Path(audio) if audio else None
    code = asyncio.run(_chat(settings, member or _default_member(), name or None, audio_dir))
    raise typer.Exit(code)


async def _chat(
    settings: Settings, member: str, name: str | None, audio_dir: Path | None = None
) -> int:
    """Run the terminal chat."""
    from bot.console import run_chat

    return await run_chat(settings, member, name, audio_dir=audio_dir)


def _default_member() -> str:
    """The terminal user's name as the local member id."""
    try:
        return getpass.getuser() or "local"
    except Exception:
        return "local"


@app.command()
def desk() -> None:
    """Serve the staff desk alone (web pages for staff; the bot serves it too when enabled)."""
    from bot.desk.serve import DeskNotConfigured, serve_desk_alone
    from bot.preflight import use_font_dirs

    settings = get_settings()
    use_font_dirs(settings)
    try:
        asyncio.run(serve_desk_alone(settings))
    except DeskNotConfigured as exc:
        typer.echo(f"The staff desk cannot start: {exc}", err=True)
        raise typer.Exit(2) from None


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or update the database tables (also done at every start)."""
    from storage.db import current_revision, make_engine, upgrade

    settings = get_settings()

    async def go() -> str | None:
        engine = make_engine(settings.effective_database_url())
        try:
            await upgrade(engine)
            return await current_revision(engine)
        finally:
            await engine.dispose()

    revision = asyncio.run(go())
    typer.echo(f"database is at revision {revision}")


@dialogues_app.command("check")
def dialogues_check(
    path: Annotated[
        Path | None, typer.Option("--path", help="The dialogues folder (default: the project's).")
    ] = None,
) -> None:
    """Check every flow and message: links, keys, and the easy-read rules."""
    from bot.app import default_extensions
    from bot.content import ContentError, load_content
    from bot.conversation.engine import ENGINE_KEYS
    from bot.easyread import run_check

    settings = get_settings()
    folder = path or settings.dialogues_dir
    code = 0
    try:
        keys = (*ENGINE_KEYS, *(k for e in default_extensions(settings) for k in e.message_keys))
        content = load_content(folder, engine_keys=keys)
        questions = sum(len(t.questions) for t in content.topics)
        typer.echo(
            f"flows OK: {len(content.topics)} topics, {questions} questions, "
            f"{len(content.taxonomy.skills)} skills, "
            f"{sum(len(m) for m in content.messages.values())} messages"
        )
    except ContentError as exc:
        for problem in exc.problems:
            typer.echo(f"flow problem: {problem}", err=True)
        code = 1
    code = max(code, run_check(folder))
    raise typer.Exit(code)


def settings_problems(exc: ValidationError) -> str:
    """A wrong setting, said plainly: which variable and what to do (never its value)."""
    lines = ["SkillSpark cannot start because a setting is wrong:"]
    for error in exc.errors(include_url=False, include_input=False):
        name = ".".join(str(part) for part in error["loc"]) or "settings"
        lines.append(f"  {name}: {error['msg'].removeprefix('Value error, ')}")
    return "\n".join(lines)


def main() -> None:
    """Console-script entry point."""
    from bot.preflight import StartupError
    from storage.db import UnsupportedDatabase

    _register_subapps()
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except (StartupError, UnsupportedDatabase) as exc:
        typer.echo(f"SkillSpark cannot start: {exc}", err=True)
        sys.exit(2)
    except ValidationError as exc:
        if exc.title != Settings.__name__:
            raise
        typer.echo(settings_problems(exc), err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
