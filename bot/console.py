"""The terminal chat: the same engine as Telegram, in a terminal or a pipe.

In a terminal it is interactive (rich). When standard input is not a terminal,
every input line is one member message; a line that is exactly a shown button's
label or its number presses that button. Bot messages go to standard output
with buttons as numbered options, so the chat can be scripted.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from rich.console import Console

from bot.app import open_runtime
from bot.engine import Engine, plain_words
from bot.settings import Settings
from bot.types import COMMANDS, Button, Incoming, MemberKey, Reply


class ConsoleChat:
    """Turns terminal lines into engine inputs and prints the replies."""

    def __init__(self, engine: Engine, member: MemberKey, out: TextIO, interactive: bool) -> None:
        """Remember the engine, who is chatting and where to print."""
        self.engine = engine
        self.member = member
        self.console = Console(file=out, highlight=False, soft_wrap=True, emoji=False)
        self.interactive = interactive
        self.buttons: tuple[Button, ...] = ()
        self.seq: int | None = None
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
        """Give one input to the engine and show what it says."""
        self.show(await self.engine.handle(self.member, incoming))


def _escape(text: str, interactive: bool) -> str:
    """Escape rich markup in interactive mode; plain text otherwise."""
    if not interactive:
        return text
    from rich.markup import escape

    return escape(text)


async def run_chat(
    settings: Settings,
    member_id: str,
    name: str | None = None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    """Run the terminal chat until the input ends; returns the exit code."""
    source = stdin or sys.stdin
    out = stdout or sys.stdout
    interactive = source.isatty() and out.isatty()
    async with open_runtime(settings) as runtime:
        member = MemberKey("local", member_id)
        chat = ConsoleChat(runtime.engine, member, out, interactive)
        if interactive:
            chat.console.print(
                "[dim]Type your answer, or the number of a button. Ctrl+D to leave.[/]"
            )
        first = await runtime.engine.handle(member, Incoming("command", "start"))
        chat.show(first)
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
    return 0
