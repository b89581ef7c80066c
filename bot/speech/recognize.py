"""The seam for voice notes in: a :class:`Recognizer` turns speech into words.

No recogniser is set by default (see ``docs/speech.md`` for what was tried):
a channel without one passes a voice note on as ``Incoming("unsupported",
"voice")``, and the engine answers kindly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Transcript:
    """What a recogniser heard: the words (may be empty) and how sure it is (0-1)."""

    text: str
    confidence: float = 1.0


class Recognizer(Protocol):
    """Anything that turns a short voice note (OGG/Opus bytes) into words."""

    async def transcribe(self, ogg: bytes) -> Transcript | None:
        """The words in ``ogg``; ``None`` when it cannot tell (never raises for bad audio)."""
        ...
