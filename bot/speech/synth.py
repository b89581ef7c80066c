"""Offline speech: espeak-ng makes the sound, libsndfile (``soundfile``) makes OGG/Opus.

Making a voice note takes tens of milliseconds of CPU, so it runs in a small
thread pool (bounded: ``workers`` at a time), never on the event loop. The same
words are made once: a note being made is shared by everyone who asks for it
meanwhile, the newest notes stay in memory, and the fixed texts are kept on
disk by the hash of their words (voice and speed included). A text with a
member's name in it (``personal=True``) is made on demand and never written to
disk.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import os
import shutil
import subprocess
import tempfile
from collections import OrderedDict
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.speech.text import speakable
from bot.types import Reply

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

#: Opus is made at 48 kHz (libsndfile's Opus takes 8, 12, 16, 24 or 48 kHz).
RATE = 48_000
#: The most characters read aloud in one note (an easy-read message is far shorter).
MAX_WORDS_CHARS = 2_000
#: How long espeak-ng may take for one note.
ESPEAK_TIMEOUT = 30.0


@dataclass(frozen=True)
class VoiceNote:
    """One voice note: its cache key, the OGG/Opus bytes and its length in seconds."""

    key: str
    ogg: bytes
    duration: float
    words: str


@dataclass
class SpeechStats:
    """What the speech service did (for logs and the bench)."""

    made: int = 0
    from_disk: int = 0
    from_memory: int = 0
    shared: int = 0
    failed: int = 0


class SpeechError(Exception):
    """espeak-ng or the encoder failed on one text."""


def note_key(words: str, voice: str, speed: int) -> str:
    """The cache key of a note: a hash of the words, the voice and the speed."""
    return hashlib.sha256(f"{voice}\n{speed}\n{words}".encode()).hexdigest()


def _resample(samples: object, rate: int) -> object:
    """Mono float samples at ``rate`` Hz, resampled (linear) to :data:`RATE`."""
    import numpy as np

    data = np.asarray(samples, dtype=np.float32)
    if data.ndim > 1:
        data = data.mean(axis=1)
    if rate == RATE or len(data) == 0:
        return data
    count = round(len(data) * RATE / rate)
    return np.interp(np.arange(count) * (rate / RATE), np.arange(len(data)), data).astype(
        np.float32
    )


def encode_ogg_opus(samples: object, rate: int) -> tuple[bytes, float]:
    """OGG/Opus bytes for mono samples at ``rate`` Hz, and their length in seconds."""
    import soundfile

    data = _resample(samples, rate)
    out = io.BytesIO()
    soundfile.write(out, data, RATE, format="OGG", subtype="OPUS")
    return out.getvalue(), len(data) / RATE  # type: ignore[arg-type]


def decode_ogg(ogg: bytes) -> tuple[object, int]:
    """Samples and sample rate of an OGG file (Opus or Vorbis); raises for bad audio."""
    import soundfile

    samples, rate = soundfile.read(io.BytesIO(ogg), dtype="float32")
    return samples, int(rate)


def ogg_seconds(ogg: bytes) -> float:
    """How long an OGG/Opus note plays, from its pages; raises for a file that is not one."""
    import soundfile

    info = soundfile.info(io.BytesIO(ogg))
    if info.format != "OGG" or info.subtype != "OPUS" or info.frames <= 0:
        raise SpeechError(f"not an OGG/Opus note ({info.format}/{info.subtype})")
    return float(info.duration)


def _espeak(espeak: str, words: str, voice: str, speed: int) -> tuple[object, int]:
    """Run espeak-ng (words on stdin, so nothing is read as an option); WAV samples back."""
    import soundfile

    try:
        done = subprocess.run(
            [espeak, "-v", voice, "-s", str(speed), "-b", "1", "--stdout"],
            input=words.encode("utf-8"),
            capture_output=True,
            timeout=ESPEAK_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SpeechError(f"espeak-ng did not run: {exc}") from exc
    if done.returncode != 0 or not done.stdout:
        raise SpeechError(f"espeak-ng failed ({done.returncode}): {done.stderr[:200]!r}")
    try:
        samples, rate = soundfile.read(io.BytesIO(done.stdout), dtype="float32")
    except (RuntimeError, soundfile.LibsndfileError) as exc:
        raise SpeechError(f"espeak-ng gave no audio: {exc}") from exc
    return samples, int(rate)


class Speech:
    """Makes voice notes for texts, once each, off the event loop."""

    def __init__(
        self,
        *,
        cache_dir: Path | None,
        voice: str = "en-gb",
        speed: int = 140,
        workers: int = 1,
        espeak: str | None = None,
        press: str = "",
        memory_items: int = 256,
    ) -> None:
        """Speak with espeak-ng's ``voice`` at ``speed`` words a minute.

        ``espeak`` is the program (found on the PATH when not given, none when
        ``""``); without it the service is not :attr:`available` and says so once in the log.
        ``press`` introduces the buttons when they are read out.
        """
        self.voice, self.speed, self.press = voice, speed, press
        self.cache_dir = cache_dir
        found = espeak if espeak is not None else shutil.which("espeak-ng")
        self.espeak = found or None  # "" means: none here
        if self.espeak is None:
            log.warning(
                "espeak-ng is not installed: replies are sent as text only, "
                "without voice notes (`make deps` installs it)"
            )
        self.stats = SpeechStats()
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="speech")
        self._making: dict[str, asyncio.Future[VoiceNote | None]] = {}
        self._memory: OrderedDict[str, VoiceNote] = OrderedDict()
        self._memory_items = memory_items
        self._file_ids: OrderedDict[str, str] = OrderedDict()
        self._warned_disk = False
        self._words: dict[tuple[str, tuple[str, ...]], tuple[str, str]] = {}

    @property
    def available(self) -> bool:
        """True when voice notes can be made here."""
        return self.espeak is not None

    def words(self, text: str, buttons: Sequence[str] = ()) -> str:
        """What is read aloud for a text and its button labels (and the note's key)."""
        return self._words_and_key(text, tuple(buttons))[0]

    def _words_and_key(self, text: str, buttons: tuple[str, ...]) -> tuple[str, str]:
        """The words and the cache key, remembered for the texts seen lately."""
        known = self._words.get((text, buttons))
        if known is not None:
            return known
        words = speakable(text, buttons, self.press)
        if len(words) > MAX_WORDS_CHARS:
            cut = words.rfind(". ", 0, MAX_WORDS_CHARS)
            words = words[: cut + 1 if cut > 0 else MAX_WORDS_CHARS]
        found = (words, note_key(words, self.voice, self.speed))
        if len(self._words) >= 4096:
            self._words.clear()
        self._words[(text, buttons)] = found
        return found

    async def reply_note(
        self, reply: Reply, personal_keys: Collection[str] = ()
    ) -> VoiceNote | None:
        """The voice note of a reply: its turn's words and its buttons.

        A note that reads a message with the member's name (``personal_keys``)
        is made on demand and never kept on disk.
        """
        keys = (reply.key, *(key for key, _ in reply.read_first))
        return await self.voice_note(
            reply.spoken(),
            [button.label for button in reply.buttons],
            personal=any(key in personal_keys for key in keys),
        )

    async def voice_note(
        self, text: str, buttons: Sequence[str] = (), *, personal: bool = False
    ) -> VoiceNote | None:
        """The voice note for ``text`` (and its buttons); ``None`` when none can be made.

        Never raises for a text: a failure is logged and the caller sends text.
        """
        if not self.available:
            return None
        words, key = self._words_and_key(text, tuple(buttons))
        if not words:
            return None
        note = self._memory.get(key)
        if note is not None:
            self._memory.move_to_end(key)
            self.stats.from_memory += 1
            return note
        making = self._making.get(key)
        if making is not None:
            self.stats.shared += 1
            return await asyncio.shield(making)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[VoiceNote | None] = loop.create_future()
        self._making[key] = future
        note = None
        try:
            note = await loop.run_in_executor(self._pool, self._make, key, words, not personal)
        except Exception as exc:
            log.warning("voice note not made: %s", exc)
            self.stats.failed += 1
        finally:
            del self._making[key]
            if not future.done():  # those waiting for it get it (None when cancelled)
                future.set_result(note)
        if note is not None:
            self._memory[key] = note
            while len(self._memory) > self._memory_items:
                self._memory.popitem(last=False)
        return note

    def _path(self, key: str) -> Path | None:
        """Where a fixed text's note is kept on disk."""
        return None if self.cache_dir is None else self.cache_dir / key[:2] / f"{key}.ogg"

    def _make(self, key: str, words: str, keep: bool) -> VoiceNote:
        """Read the note from disk or make it (in a worker thread)."""
        path = self._path(key) if keep else None
        if path is not None and path.is_file():
            try:
                ogg = path.read_bytes()
                seconds = ogg_seconds(ogg)  # the header, not a decode (90 ms a note)
                self.stats.from_disk += 1
                return VoiceNote(key, ogg, seconds, words)
            except Exception as exc:  # a damaged file is made again
                log.warning("cached voice note %s unreadable (%s); making it again", path, exc)
        assert self.espeak is not None
        samples, rate = _espeak(self.espeak, words, self.voice, self.speed)
        ogg, duration = encode_ogg_opus(samples, rate)
        self.stats.made += 1
        if path is not None:
            self._write(path, ogg)
        return VoiceNote(key, ogg, duration, words)

    def _write(self, path: Path, ogg: bytes) -> None:
        """Keep a note on disk (atomically); a disk problem is logged once."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
            with os.fdopen(fd, "wb") as out:
                out.write(ogg)
            os.replace(tmp, path)
        except OSError as exc:
            if not self._warned_disk:
                self._warned_disk = True
                log.warning("voice notes not kept on disk (%s): %s", path.parent, exc)

    # ------------------------------------------------------------ uploaded files

    def file_id(self, key: str) -> str | None:
        """The channel's id for a note it uploaded before, if any."""
        return self._file_ids.get(key)

    def remember_file_id(self, key: str, file_id: str) -> None:
        """Keep the channel's id for an uploaded note (sent by id next time)."""
        self._file_ids[key] = file_id
        self._file_ids.move_to_end(key)
        while len(self._file_ids) > 50_000:
            self._file_ids.popitem(last=False)

    def forget_file_id(self, key: str) -> None:
        """The channel refused an id (e.g. another bot's): upload again next time."""
        self._file_ids.pop(key, None)

    def close(self) -> None:
        """Stop the worker threads (notes being made are finished first)."""
        self._pool.shutdown(wait=True)


def speech_from_settings(settings: Settings, press: str = "") -> Speech | None:
    """The speech service the settings ask for; ``None`` when read-aloud is off."""
    if not settings.speech_enabled:
        return None
    cache = settings.speech_cache_dir or settings.data_dir / "speech"
    return Speech(
        cache_dir=cache,
        voice=settings.speech_voice,
        speed=settings.speech_speed,
        workers=settings.speech_workers,
        press=press,
    )
