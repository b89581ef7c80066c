"""When nudges may go out (quiet hours, clock changes, back-off), pacing, and ranking."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections.abc import Coroutine
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.nudges.pacer import Pacer
from bot.nudges.ranking import Catalogue, MemberFacts, OpenOpportunity, rank
from bot.nudges.schedule import (
    Timing,
    backoff,
    in_quiet,
    is_quiet,
    next_slot,
    quiet_begins,
)

LONDON = ZoneInfo("Europe/London")
SUNDAY = 1 << 6
MONDAY = 1


def utc(*parts: int) -> datetime:
    """A UTC instant."""
    return datetime(*parts, tzinfo=UTC)


def test_quiet_hours_wrap_midnight() -> None:
    """Default quiet hours are 20:00 to 09:00: 19:59 and 09:00 are fine, 20:00 and 08:59 not."""
    assert not in_quiet(19 * 60 + 59, 1200, 540)
    assert in_quiet(20 * 60, 1200, 540)
    assert in_quiet(3 * 60, 1200, 540)
    assert in_quiet(8 * 60 + 59, 1200, 540)
    assert not in_quiet(9 * 60, 1200, 540)
    assert not in_quiet(12 * 60, 1200, 1200)  # equal start and end: no quiet hours


def test_quiet_hours_follow_the_local_clock_when_the_clocks_change() -> None:
    """19:30 UTC is 19:30 in London before spring forward, but 20:30 (quiet) the day after."""
    timing = Timing()
    assert not is_quiet(utc(2026, 3, 28, 19, 30), timing)  # Saturday, still GMT
    assert is_quiet(utc(2026, 3, 29, 19, 30), timing)  # Sunday, now BST: 20:30
    assert is_quiet(utc(2026, 10, 24, 19, 30), timing)  # Saturday, still BST: 20:30
    assert not is_quiet(utc(2026, 10, 25, 19, 30), timing)  # Sunday, GMT again: 19:30
    assert is_quiet(utc(2026, 3, 28, 8, 30), timing)  # 08:30 GMT
    assert not is_quiet(utc(2026, 3, 29, 8, 30), timing)  # 09:30 BST


def test_quiet_hours_begin_at_local_20_on_change_days() -> None:
    """The window for a nudge ends when local quiet hours begin, on both change days."""
    assert quiet_begins(utc(2026, 3, 29, 10, 0), Timing()) == utc(2026, 3, 29, 19, 0)
    assert quiet_begins(utc(2026, 10, 25, 11, 0), Timing()) == utc(2026, 10, 25, 20, 0)
    # Just before the clocks go back (01:30 BST), quiet hours began the evening before:
    # the next start is 20:00 GMT that day.
    assert quiet_begins(utc(2026, 10, 25, 0, 30), Timing()) == utc(2026, 10, 25, 20, 0)


def test_chosen_time_stays_11_local_across_clock_changes() -> None:
    """A Sunday 11:00 member: 10:00 UTC in summer time, 11:00 UTC in winter."""
    sunday = Timing(days_mask=SUNDAY)
    assert next_slot(utc(2026, 3, 28, 12, 0), sunday) == utc(2026, 3, 29, 10, 0)
    assert next_slot(utc(2026, 10, 24, 12, 0), sunday) == utc(2026, 10, 25, 11, 0)
    monday = Timing(days_mask=MONDAY)
    first = next_slot(utc(2026, 3, 22, 12, 0), monday)
    second = next_slot(first, monday)
    assert (first, second) == (utc(2026, 3, 23, 11, 0), utc(2026, 3, 30, 10, 0))
    assert second.astimezone(LONDON).hour == 11


def test_a_time_in_quiet_hours_moves_to_the_morning() -> None:
    """A member's time can never fall in quiet hours: 21:00 becomes 09:00."""
    late = Timing(days_mask=0b1111111, time_minutes=21 * 60)
    slot = next_slot(utc(2026, 1, 14, 12, 0), late)
    assert slot.astimezone(LONDON).hour == 9
    assert not is_quiet(slot, late)


def test_other_time_zones_use_their_own_clock() -> None:
    """New York changes clocks on another day: 11:00 there is 15:00 or 16:00 UTC."""
    ny = Timing(timezone="America/New_York", days_mask=SUNDAY)
    assert next_slot(utc(2026, 3, 7, 12, 0), ny) == utc(2026, 3, 8, 15, 0)
    assert next_slot(utc(2026, 2, 28, 12, 0), ny) == utc(2026, 3, 1, 16, 0)


def test_not_now_waits_longer_each_time() -> None:
    """1 week, then 2, then 4, and never longer."""
    assert [backoff(n).days for n in (0, 1, 2, 3, 4, 9)] == [0, 7, 14, 28, 28, 28]


class VirtualClock:
    """Virtual time for the pacer: sleepers wake in time order, nobody waits for real."""

    def __init__(self) -> None:
        """Start at 0."""
        self.t = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._count = itertools.count()

    def __call__(self) -> float:
        """Now."""
        return self.t

    async def sleep(self, seconds: float) -> None:
        """Sleep in virtual time."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.t + seconds, next(self._count), future))
        await future

    def run(self, *coros: Coroutine[Any, Any, None]) -> None:
        """Run coroutines to the end, moving time to the next waking sleeper when all wait."""

        async def drive() -> None:
            tasks = [asyncio.ensure_future(c) for c in coros]
            while not all(t.done() for t in tasks):
                for _ in range(20):
                    await asyncio.sleep(0)
                if self._sleepers:
                    wake, _, future = heapq.heappop(self._sleepers)
                    self.t = max(self.t, wake)
                    future.set_result(None)
            for task in tasks:
                task.result()

        asyncio.run(drive())


def test_pacer_keeps_30_a_second_overall() -> None:
    """90 nudges to 90 members take 3 seconds; never more than 30 in any second."""
    clock = VirtualClock()
    pacer = Pacer(30, clock=clock, sleep=clock.sleep)
    times: list[float] = []

    async def send(chat: int) -> None:
        await pacer.wait(chat)
        times.append(clock())

    clock.run(*(send(chat) for chat in range(90)))
    assert abs(max(times) - 89 / 30) < 1e-6
    assert all(sum(1 for t in times if s <= t < s + 1 - 1e-9) <= 30 for s in times)


def test_pacer_keeps_1_a_second_per_chat_without_holding_others_up() -> None:
    """Three to one chat are a second apart; another chat is not kept waiting behind them."""
    clock = VirtualClock()
    pacer = Pacer(30, clock=clock, sleep=clock.sleep)
    seen: list[tuple[int, float]] = []

    async def send(chat: int) -> None:
        await pacer.wait(chat)
        seen.append((chat, clock()))

    clock.run(send(1), send(1), send(1), send(2))
    ones = sorted(t for c, t in seen if c == 1)
    assert [round(b - a, 3) for a, b in itertools.pairwise(ones)] == [1.0, 1.0]
    assert next(t for c, t in seen if c == 2) < 0.1


def test_pacer_pause_holds_everything() -> None:
    """After a 429 with retry_after 5, nothing goes out for 5 seconds."""
    clock = VirtualClock()
    pacer = Pacer(30, clock=clock, sleep=clock.sleep)
    seen: list[float] = []

    async def go() -> None:
        await pacer.wait(1)
        pacer.pause(5)
        for chat in (2, 3):
            await pacer.wait(chat)
            seen.append(clock())

    clock.run(go())
    assert seen and min(seen) >= 5


TODAY = date(2026, 1, 14)


def opp(id: int, *categories: str, network: str | None = None, **kw: object) -> OpenOpportunity:
    """An open opportunity for ranking."""
    return OpenOpportunity(
        id=id, categories=frozenset(categories), kind=categories[0], network=network, **kw
    )  # type: ignore[arg-type]


def test_rank_by_fit_network_and_closing_date() -> None:
    """Fit first; own network before everyone; closing soon helps; other networks never."""
    member = MemberFacts(1, "north", skills=frozenset({"cooking", "caring"}))
    ranked = rank(
        member,
        [
            opp(1, "gardening"),
            opp(2, "cooking"),
            opp(3, "cooking", network="north"),
            opp(4, "cooking", network="south"),
            opp(5, "caring", closes_on=TODAY + timedelta(days=3)),
        ],
        TODAY,
    )
    assert [p.opportunity_id for p in ranked] == [5, 3, 2]


def test_rank_balances_giving_and_receiving() -> None:
    """A member who has given more is offered a chance to learn first (and the other way)."""
    both = [opp(1, "cooking"), opp(2, "music")]
    giver = MemberFacts(1, "n", skills=frozenset({"cooking"}), wishes=frozenset({"music"}), gave=4)
    learner = MemberFacts(2, "n", skills=frozenset({"cooking"}), wishes=frozenset({"music"}))
    learner.received = 4
    assert rank(giver, both, TODAY)[0].opportunity_id == 2
    assert rank(giver, both, TODAY)[0].direction == "learn"
    assert rank(learner, both, TODAY)[0].opportunity_id == 1


def test_rank_skips_what_was_answered_and_rotates_ties() -> None:
    """Answered offers are not repeated; equal offers go to the one asked least."""
    member = MemberFacts(1, "n", skills=frozenset({"cooking"}), seen={1})
    ranked = rank(member, [opp(1, "cooking"), opp(2, "cooking"), opp(3, "cooking")], TODAY, {2: 5})
    assert [p.opportunity_id for p in ranked] == [3, 2]


def test_fast_best_pick_agrees_with_the_full_ranking() -> None:
    """The planner's fast pick is always the first of the full ranking that has room."""
    rng = random.Random(5)
    cats = ["cooking", "caring", "music", "sport", "gardening", "arts"]
    opps = [
        opp(
            i,
            *rng.sample(cats, rng.randint(1, 2)),
            network=rng.choice([None, "n1", "n2"]),
            closes_on=rng.choice([None, TODAY + timedelta(days=rng.randint(0, 20))]),
        )
        for i in range(1, 25)
    ]
    catalogue = Catalogue(opps, TODAY)
    for _ in range(300):
        member = MemberFacts(
            rng.randint(1, 99),
            rng.choice(["n1", "n2", "n3"]),
            skills=frozenset(rng.sample(cats, rng.randint(0, 3))),
            wishes=frozenset(rng.sample(cats, rng.randint(0, 2))),
            declines={rng.choice(cats): rng.randint(0, 7)},
            gave=rng.randint(0, 3),
            received=rng.randint(0, 3),
            seen=set(rng.sample(range(1, 25), 3)),
            later=set(rng.sample(range(1, 25), 2)),
        )
        load = {i: rng.randint(0, 4) for i in range(1, 25)}
        full = set(rng.sample(range(1, 25), 8))
        ranked = [p for p in rank(member, opps, TODAY, load) if p.opportunity_id not in full]
        best = catalogue.best(member, load, lambda i, full=full: i not in full)
        expected = ranked[0] if ranked else None
        assert (best and (best.opportunity_id, best.direction)) == (
            expected and (expected.opportunity_id, expected.direction)
        )
        if best and expected:
            assert abs(best.score - expected.score) < 1e-9


def test_calls_after_a_stall_never_exceed_the_rate_in_any_second() -> None:
    """Slots taken early but used late (a slow commit) still give at most 30 calls a second."""
    clock = VirtualClock()
    pacer = Pacer(30, clock=clock, sleep=clock.sleep)
    calls: list[float] = []

    async def go() -> None:
        for chat in range(60):
            await pacer.wait(chat)
        clock.t += 2.0  # everything stalls; 60 slots are now in the past
        for _ in range(60):
            await pacer.before_call()
            calls.append(clock())

    clock.run(go())
    assert all(sum(1 for t in calls if s <= t < s + 1 - 1e-9) <= 30 for s in calls)
    assert max(calls) - min(calls) >= 1.0
