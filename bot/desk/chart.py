"""A small confidence-over-time chart, drawn on the server as SVG coordinates.

The template draws the shapes; only numbers come from here, so member text never
goes into the picture.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

WIDTH, HEIGHT, PAD = 160, 48, 6
#: Ratings are 1 (not so good), 2 (okay) and 3 (good).
LOW, HIGH = 1, 3
WORDS = {1: "not so good", 2: "okay", 3: "good"}


@dataclass(frozen=True)
class Chart:
    """Points of a line chart and a sentence saying the same thing for screen readers."""

    points: list[tuple[float, float]]
    summary: str
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def polyline(self) -> str:
        """The ``points`` attribute of an SVG polyline."""
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in self.points)


def confidence_chart(ratings: Sequence[tuple[int, datetime]], most: int = 12) -> Chart | None:
    """The last ``most`` ratings as a line, oldest on the left (``None`` without ratings)."""
    shown = list(ratings)[-most:]
    if not shown:
        return None
    span = max(len(shown) - 1, 1)
    points = []
    for index, (value, _) in enumerate(shown):
        value = min(max(value, LOW), HIGH)
        x = PAD + (WIDTH - 2 * PAD) * (index / span if len(shown) > 1 else 0.5)
        y = HEIGHT - PAD - (HEIGHT - 2 * PAD) * (value - LOW) / (HIGH - LOW)
        points.append((x, y))
    first, last = shown[0], shown[-1]
    summary = (
        f"{len(shown)} answers about confidence. "
        f"First: {WORDS.get(first[0], str(first[0]))} on {first[1]:%d %B %Y}. "
        f"Latest: {WORDS.get(last[0], str(last[0]))} on {last[1]:%d %B %Y}."
    )
    return Chart(points, summary)
