"""The terminal chat: the same engine as Telegram, in a terminal or a pipe.

In a terminal it is interactive (rich). When standard input is not a terminal,
every input line is one member message; a line that is exactly a shown button's
label or its number presses that button. Bot messages go to standard output
with buttons as numbered options, so the chat can be scripted. With
``--audio DIR`` each reply the engine asks to be read aloud is saved there as
an OGG/Opus voice note (and played, in a terminal, when a player is installed).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from rich.console import Console

from bot.app import open_runtime
from bot.conversation.engine import Engine
from bot.conversation.words import plain_words
from bot.settings import Settings
from bot.speech import Speech, personal_keys, speech_from_settings
from bot.speech.text import SPEECH_PRESS
from bot.types import COMMANDS, HEAR_SHOWN, Button, Incoming, MemberKey, Reply


class ConsoleChat:
    """Turns terminal lines into engine inputs and prints the replies."""

    def __init__(
        self,
        engine: Engine,
        member: MemberKey,
        out: TextIO,
        interactive: bool,
        *,
        speech: Speech | None = None,
        audio_dir: Path | None = None,
        player: list[str] | None = None,
        personal: frozenset[str] = frozenset(),
    ) -> None:
        """Remember the engine, who is chatting and where to print.

        With ``speech`` and ``audio_dir``, voice replies are saved there (and
        played with ``player``, a command that takes the file last).
        """
        self.engine = engine
        self.speech = speech
        self.audio_dir = audio_dir
        self.player = player
        self.personal = personal
        self.saved: list[Path] = []
        self.member = member
        self.console = Console(file=out, highlight=False, soft_wrap=True, emoji=False)
        self.interactive = interactive
        self.buttons: tuple[Button, ...] = ()
        self.seq: int | None = None
        #: the last message with buttons (what "🔊 Hear it" under a composed message reads)
        self.shown: Reply | None = None
        #: Commands the engine's extensions add (``/nudges``), with their words kept.
        self.extension_commands = frozenset(
            name for extension in engine.extensions for name in extension.commands
        )

    def show(self, replies: list[Reply]) -> None:
        """Print replies; remember the last buttons so a number or label can press them."""
        for reply in replies:
            prefix = "[bold cyan]SkillSpark:[/] " if self.interactive else "SkillSpark: "
            self.console.print(prefix + _escape(reply.text, self.interactive))
            if reply.image_png is not None:
                self.console.print(f"  (picture card, {len(reply.image_png)} bytes)")
            if reply.buttons:
                self.buttons = reply.buttons
                self.seq = reply.seq
                self.shown = reply
                for number, button in enumerate(reply.buttons, start=1):
                    self.console.print(f"  {number}. {_escape(button.label, self.interactive)}")

    def to_incoming(self, line: str) -> Incoming:
        """Turn one typed line into an engine input."""
        stripped = line.strip()
        if stripped.startswith("/"):
            name, _, arguments = stripped[1:].partition(" ")
            name = name.lower()
            if name in COMMANDS:
                return Incoming("command", name)
            if name in self.extension_commands:  # these take words after them: /nudges off
                return Incoming("command", " ".join([name, *arguments.lower().split()]))
        if self.buttons:
            if stripped.isdigit() and 1 <= int(stripped) <= len(self.buttons):
                return Incoming("button", self.buttons[int(stripped) - 1].choice, self.seq)
            for button in self.buttons:
                if stripped == button.label or (
                    plain_words(stripped) and plain_words(stripped) == plain_words(button.label)
                ):
                    return Incoming("button", button.choice, self.seq)
        return Incoming("text", line.rstrip("\r\n"))

    async def send(self, incoming: Incoming) -> None:
        """Give one input to the engine and show what it says.

        "🔊 Hear it" under a message the engine composed is answered here, as
        the Telegram channel does: that message again, and its voice note.
        """
        if incoming == Incoming("button", HEAR_SHOWN, 0) and self.shown is not None:
            again = replace(self.shown, voice=True, read_first=())
            self.show([again])
            await self.speak([again])
            return
        replies = await self.engine.handle(self.member, incoming)
        self.show(replies)
        await self.speak(replies)

    async def speak(self, replies: list[Reply]) -> None:
        """Save (and play) the voice note of each reply that asks to be read aloud."""
        if self.speech is None or self.audio_dir is None:
            return
        for reply in replies:
            if not reply.voice:
                continue
            note = await self.speech.reply_note(reply, self.personal)
            if note is None:
                continue
            key = re.sub(r"[^A-Za-z0-9_.-]+", "_", reply.key)[:60]
            path = self.audio_dir / f"{len(self.saved) + 1:04d}-{key}.ogg"
            await asyncio.to_thread(path.write_bytes, note.ogg)
            self.saved.append(path)
            self.console.print(f"  (voice note: {path}, {note.duration:.1f} s)")
            if self.player:
                await asyncio.to_thread(_play, [*self.player, str(path)])


def _escape(text: str, interactive: bool) -> str:
    """Escape rich markup in interactive mode; plain text otherwise."""
    if not interactive:
        return text
    from rich.markup import escape

    return escape(text)


#: Players tried in this order for ``--audio`` in a terminal (the file is added last).
PLAYERS: tuple[tuple[str, ...], ...] = (
    ("paplay",),
    ("pw-play",),
    ("ogg123", "-q"),
    ("mpv", "--really-quiet", "--no-video"),
    ("ffplay", "-nodisp", "-autoexit", "-loglevel", "quiet"),
    ("play", "-q"),
)


def find_player() -> list[str] | None:
    """A command on this machine that plays an OGG/Opus file, if any."""
    for command in PLAYERS:
        if shutil.which(command[0]):
            return list(command)
    return None


def _play(command: list[str]) -> None:
    """Play one file; a player that fails is not the member's problem."""
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        subprocess.run(command, check=False, timeout=120, capture_output=True)


async def run_chat(
    settings: Settings,
    member_id: str,
    name: str | None = None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    audio_dir: Path | None = None,
) -> int:
    """Run the terminal chat until the input ends; returns the exit code."""
    source = stdin or sys.stdin
    out = stdout or sys.stdout
    interactive = source.isatty() and out.isatty()
    async with open_runtime(settings) as runtime:
        member = MemberKey("local", member_id)
        speech = None
        if audio_dir is not None:
            await asyncio.to_thread(audio_dir.mkdir, parents=True, exist_ok=True)
            speech = speech_from_settings(settings, runtime.content.text(SPEECH_PRESS))
        chat = ConsoleChat(
            runtime.engine,
            member,
            out,
            interactive,
            speech=speech,
            audio_dir=audio_dir,
            player=find_player() if interactive else None,
            personal=personal_keys(runtime.content),
        )
        if interactive:
            chat.console.print(
                "[dim]Type your answer, or the number of a button. Ctrl+D to leave.[/]"
            )
        first = await runtime.engine.handle(member, Incoming("command", "start"))
        chat.show(first)
        await chat.speak(first)
        if name and any(r.key == "onboarding.ask_name" for r in first):
            await chat.send(Incoming("text", name))
        while True:
            if interactive:
                try:
                    line = await asyncio.to_thread(chat.console.input, "[bold green]You:[/] ")
                except EOFError:
                    break
            else:
                line = await asyncio.to_thread(source.readline)
                if line == "":
                    break
            await chat.send(chat.to_incoming(line))
        out.flush()
        if speech is not None:
            speech.close()
    return 0
