"""Read-aloud on for every member: the Telegram throughput bench with voice notes.

The same 200 members, polling loop, PTB application, channel (with the inbox),
real engine and SQLite file as ``bench/telegram_throughput.py`` (its code is
reused), run twice: read-aloud off, then on for all members. "On" is the
member's own setting: every member answers "🔊 Read to me" in onboarding, so
the engine asks for a voice note with every reply (``Reply.voice``); the
channel makes each note with espeak-ng (in its worker thread), uploads it once
and sends it by file id after that. The Bot API is answered in memory.

    .venv/bin/python bench/read_aloud.py [--members 200] [--turns 8] [--seconds 12]
        [--workers 1] [--only-on] [--cache DIR]

Prints for each run: 200 messages at once, members chatting, sustained updates
a second (first reply call, as in the throughput bench), then for "on" how long
until the voice note of the new question is sent, and the voice notes made,
read from the cache, uploaded and sent by file id.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import telegram_throughput as tt
from telegram.request import RequestData

from bot.app import open_runtime, settle_memory
from bot.settings import Settings
from bot.speech import Speech, personal_keys
from bot.speech.text import SPEECH_PRESS
from bot.telegram.app import build_application, engine_limit
from bot.telegram.channel import TelegramChannel
from bot.telegram.serve import poll_updates
from storage.inbox import SqlInbox


@dataclass
class VoiceTelegram(tt.InstantTelegram):
    """The in-memory Bot API, also taking voice notes (uploads and file ids)."""

    uploads: int = 0
    by_id: int = 0
    #: chat -> resolved with the time the voice note of the new question is sent
    heard: dict[int, asyncio.Future[float]] = field(default_factory=dict)
    prompted: set[int] = field(default_factory=set)
    voice_ms: list[float] = field(default_factory=list)

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        """Count voice uploads (multipart) apart from sends by file id."""
        if url.endswith("/sendVoice") and request_data is not None:
            if request_data.contains_files:
                self.uploads += 1
            else:
                self.by_id += 1
        return await super().do_request(url, method, request_data)

    async def _answer(self, name: str, params: dict[str, Any]) -> Any:
        """A voice note after the new question ends the member's wait."""
        chat_id = int(params.get("chat_id") or 0)
        if name == "sendVoice":
            if chat_id in self.prompted:
                self.prompted.discard(chat_id)
                future = self.heard.get(chat_id)
                if future is not None and not future.done():
                    future.set_result(time.perf_counter())
            voice = {"file_id": f"v{self.uploads}", "file_unique_id": "u", "duration": 1}
            return self._message(chat_id, next(self.message_ids), {"voice": voice})
        result = await super()._answer(name, params)
        if name == "sendMessage" and params.get("reply_markup"):
            self.prompted.add(chat_id)
        return result


async def voice_turn(tg: VoiceTelegram, member: tt.Member) -> float:
    """One member message: ms until the first reply; waits for the new question's voice note."""
    tg.heard[member.chat_id] = asyncio.get_running_loop().create_future()
    tg.prompted.discard(member.chat_id)
    wait = tg.push(member.chat_id, member.next_update())
    first = await asyncio.wait_for(wait.first_reply, 60)
    member.prompt = await asyncio.wait_for(wait.prompt, 60)
    heard = await asyncio.wait_for(tg.heard[member.chat_id], 60)
    tg.voice_ms.append((heard - wait.sent_at) * 1000)
    return (first - wait.sent_at) * 1000


async def run(args: argparse.Namespace, read_aloud: bool) -> None:
    """One run in a fresh folder (fresh database and an empty voice note cache)."""
    with tempfile.TemporaryDirectory(prefix="skillspark-bench-") as folder:
        workdir = Path(folder)
        env: dict[str, Any] = {
            "TELEGRAM_BOT_TOKEN": tt.TOKEN,
            "SKILLSPARK_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
            "SKILLSPARK_DATA_DIR": workdir,
            "SKILLSPARK_NLU_ENABLED": False,
            "SKILLSPARK_LOG_LEVEL": "WARNING",
        }
        settings = Settings(_env_file=None, **env)  # type: ignore[call-arg]
        members = [tt.Member(9_000_000 + i) for i in range(args.members)]
        label = "read-aloud on: " if read_aloud else "read-aloud off:"
        async with open_runtime(settings) as runtime:
            logging.getLogger().setLevel(logging.WARNING)
            await tt.onboard(
                runtime.engine, members, read="read_to_me" if read_aloud else "read_myself"
            )
            settle_memory()
            speech = None
            tg: tt.InstantTelegram = tt.InstantTelegram()
            if read_aloud:
                speech = Speech(
                    cache_dir=Path(args.cache) if args.cache else workdir / "speech",
                    workers=args.workers,
                    press=runtime.content.text(SPEECH_PRESS),
                )
                if not speech.available:
                    raise SystemExit("espeak-ng is not installed (make deps installs it)")
                tg = VoiceTelegram()
            channel = TelegramChannel(
                runtime.engine,
                lambda key: key,
                engine_limit=engine_limit(settings),
                inbox=SqlInbox(runtime.sessionmaker),
                speech=speech,
                personal_keys=personal_keys(runtime.content),
            )
            app = build_application(settings, channel, request=tg, rate_limiter=False)
            stop = asyncio.Event()
            await app.initialize()
            await app.start()
            poller = asyncio.create_task(poll_updates(app.bot, channel, stop, poll_s=1))
            original = tt.turn
            if read_aloud:
                tt.turn = voice_turn  # type: ignore[assignment]
            try:
                _, sent = await tt.run_phases(tg, members, args, label)
            finally:
                tt.turn = original
                stop.set()
                await poller
                await channel.drain(10)
                await app.stop()
                await app.shutdown()
            if isinstance(tg, VoiceTelegram) and speech is not None:
                print(f"{label} voice note of the new question sent: {tt.percentiles(tg.voice_ms)}")
                s = speech.stats
                print(
                    f"{label} voice notes: {s.made} made, {s.from_disk} from disk, "
                    f"{s.from_memory + s.shared} from memory or shared, {s.failed} failed; "
                    f"{tg.uploads} uploaded, {tg.by_id} sent by file id"
                )
                speech.close()
                if tg.uploads + tg.by_id == 0:
                    raise SystemExit("no voice notes were sent: read aloud did not turn on")
        tt.check_nothing_lost(workdir / "bench.db", sent)


def main() -> None:
    """Parse arguments and run off, then on."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--turns", type=int, default=8, help="messages per member, sustained")
    parser.add_argument("--seconds", type=float, default=12, help="length of the chatting phase")
    parser.add_argument("--think", type=float, nargs=2, default=(0.5, 1.5))
    parser.add_argument("--workers", type=int, default=1, help="voice notes made at once")
    parser.add_argument("--only-on", action="store_true", help="skip the read-aloud off run")
    parser.add_argument("--cache", default="", help="voice note cache to use (default: a new one)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if not args.only_on:
        asyncio.run(run(args, read_aloud=False))
    asyncio.run(run(args, read_aloud=True))


if __name__ == "__main__":
    main()
