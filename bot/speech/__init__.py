"""Read-aloud voice notes: speakable text, offline speech (espeak-ng), OGG/Opus, a cache.

Nothing here imports a channel library. A channel asks :class:`Speech` for a
:class:`VoiceNote` and remembers the file id its service gives back, so the same
audio is uploaded once. See ``docs/speech.md``.
"""

from bot.speech.recognize import Recognizer, Transcript
from bot.speech.synth import Speech, SpeechStats, VoiceNote, speech_from_settings
from bot.speech.text import personal_keys, speakable

__all__ = [
    "Recognizer",
    "Speech",
    "SpeechStats",
    "Transcript",
    "VoiceNote",
    "personal_keys",
    "speakable",
    "speech_from_settings",
]
