"""How fast staff exports are, and how much memory they take, on a large SQLite file.

Seeds its own database under /tmp (once; reused while the counts match):
10,000 members who said yes to sharing, each with 20 skills, 100 answers, 3
learning wishes and 6 confidence ratings (1 million answers), plus 500 members
who did not say yes (never exported). Then runs each export in a fresh process
through the same function the CLI uses and prints seconds and peak memory:

* CSV of every member (target: 3 s or less),
* XLSX of every member, all five sheets (target: 15 s or less),
* PDF of 500 one-page profiles (one network; target: 30 s or less),
* peak resident memory of each export process (target: 400 MB or less; the
  XLSX export's writer process counts too: both peaks are added up).

    .venv/bin/python bench/export_speed.py [--members 10000] [--reseed]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.content import load_content  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.staff.data import ExportFilter  # noqa: E402
from bot.staff.export import ExportRequest, export_members  # noqa: E402
from bot.staff.labels import Labels  # noqa: E402
from storage.db import load_all_models, make_engine, make_sessionmaker, upgrade  # noqa: E402
from storage.models import Base  # noqa: E402

WORK = Path("/tmp/staff-export-bench")
DB = WORK / "export.db"
SKILLS, ANSWERS, WISHES, RATINGS = 20, 100, 3, 6
NETWORK_SIZE = 500
#: 12 of 20 skills confirmed, the rest declined, unsure or not answered yet.
STATUSES = ("confirmed",) * 3 + ("declined", "unsure") + ("confirmed",) * 3 + ("suggested",)
TARGETS = {"csv": 3.0, "xlsx": 15.0, "pdf": 30.0}
MEMORY_TARGET_MB = 400
WORDS = (
    "I make tea for everyone in the house",
    "I walk my neighbour's dog on Sundays",
    "I help at the food bank = every week",
    "My friends say I am a good listener",
    "I fix bikes with my brother",
    "-I like to sing in the choir",
)


def seed(members: int) -> None:
    """Create the database with the project's migrations and fill it fast (executemany)."""
    DB.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{DB}{suffix}").unlink(missing_ok=True)

    async def migrate() -> None:
        engine = make_engine(f"sqlite+aiosqlite:///{DB}")
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(migrate())
    load_all_models()
    tables = Base.metadata.tables
    content = load_content(Settings(_env_file=None).dialogues_dir)  # type: ignore[call-arg]
    skills = list(content.taxonomy)
    questions = [q.full_id for t in content.topics for q in t.questions]
    rng = random.Random(7)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    engine = sa.create_engine(f"sqlite:///{DB}")
    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA synchronous=OFF")
        total = members + 500
        conn.execute(
            tables["members"].insert(),
            [
                {
                    "id": i,
                    "telegram_id": 10_000_000 + i,
                    "first_name": f"Member {i}",
                    "network": f"network-{(i - 1) // NETWORK_SIZE:02d}",
                    "language": "en",
                    "consent": i <= members,
                    "consent_at": start if i <= members else None,
                    "created_at": start,
                    "last_active_at": start + timedelta(days=i % 300),
                }
                for i in range(1, total + 1)
            ],
        )
        answer_id = 0
        for first in range(1, members + 1, 500):
            ids = range(first, min(first + 500, members + 1))
            answers, member_skills, wishes, ratings = [], [], [], []
            for mid in ids:
                base = answer_id + 1
                for n in range(ANSWERS):
                    answer_id += 1
                    text = n % 4 == 0
                    answers.append(
                        {
                            "id": answer_id,
                            "member_id": mid,
                            "question_id": questions[(mid + n) % len(questions)],
                            "kind": "text" if text else "button",
                            "choice": None if text else ("yes", "a_bit", "no", "skip")[n % 4],
                            "text": rng.choice(WORDS) if text else "yes",
                            "truncated": False,
                            "original_length": 20,
                            "intent": None,
                            "created_at": start + timedelta(minutes=mid * 7 + n),
                        }
                    )
                for n, skill in enumerate(rng.sample(skills, SKILLS)):
                    member_skills.append(
                        {
                            "member_id": mid,
                            "skill_id": skill.id,
                            "category": skill.category,
                            "label": skill.label,
                            "status": STATUSES[n % len(STATUSES)],
                            "source": "finder" if n % 2 else "question",
                            "evidence_answer_id": base + n * 4,
                            "created_at": start + timedelta(minutes=mid * 7 + n),
                            "updated_at": start + timedelta(minutes=mid * 7 + n + 1),
                        }
                    )
                for n in range(WISHES):
                    wishes.append(
                        {
                            "member_id": mid,
                            "skill_id": skills[(mid + n) % len(skills)].id,
                            "label": skills[(mid + n) % len(skills)].label,
                            "answer_id": base + n,
                            "created_at": start + timedelta(minutes=mid * 7 + n),
                        }
                    )
                for n in range(RATINGS):
                    ratings.append(
                        {
                            "member_id": mid,
                            "moment": "start" if n % 2 == 0 else "end",
                            "value": 1 + (mid + n) % 3,
                            "session_no": n // 2 + 1,
                            "created_at": start + timedelta(days=n * 10, minutes=mid),
                        }
                    )
            conn.execute(tables["answers"].insert(), answers)
            conn.execute(tables["member_skills"].insert(), member_skills)
            conn.execute(tables["learning_wishes"].insert(), wishes)
            conn.execute(tables["confidence_ratings"].insert(), ratings)
    engine.dispose()
    print(f"seeded {members} members, {answer_id} answers in {time.perf_counter() - t0:.1f} s")


def seeded_members() -> int:
    """How many consenting members the existing file holds (0 when none)."""
    if not DB.exists():
        return 0
    engine = sa.create_engine(f"sqlite:///{DB}")
    try:
        with engine.connect() as conn:
            return int(
                conn.exec_driver_sql("SELECT count(*) FROM members WHERE consent = 1").scalar_one()
            )
    except sa.exc.DBAPIError:
        return 0
    finally:
        engine.dispose()


class HelperMemory:
    """Samples the resident memory of this process's child processes (the XLSX writer).

    ``getrusage(RUSAGE_CHILDREN)`` is no use for memory here: Linux counts in it
    the parent's pages the child had before it started its own program.
    """

    def __init__(self, every: float = 0.02) -> None:
        """Start sampling every ``every`` seconds in a background thread."""
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)
        self._thread.start()

    def _run(self, every: float) -> None:
        """Sample until stopped."""
        while not self._stop.wait(every):
            for pid in self._children():
                with contextlib.suppress(OSError, ValueError):
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmRSS:"):
                            self.peak_kb = max(self.peak_kb, int(line.split()[1]))

    @staticmethod
    def _children() -> list[str]:
        """The ids of this process's children."""
        found: list[str] = []
        with contextlib.suppress(OSError):
            for task in Path("/proc/self/task").iterdir():
                found += (task / "children").read_text().split()
        return found

    def stop(self) -> float:
        """Stop sampling; the peak in MB."""
        self._stop.set()
        self._thread.join()
        return self.peak_kb / 1024


def run_one(fmt: str, network: str | None) -> None:
    """In a child process: one export; prints seconds, members and peak memory as JSON."""
    content = load_content(Settings(_env_file=None).dialogues_dir)  # type: ignore[call-arg]
    labels = Labels.from_content(content)
    out = WORK / f"members.{fmt}"

    async def go() -> tuple[int, int]:
        engine = make_engine(f"sqlite+aiosqlite:///{DB}")
        try:
            sm = make_sessionmaker(engine)
            request = ExportRequest(fmt=fmt, filt=ExportFilter(network=network), actor="bench")
            done = await export_members(sm, request, out, labels)
            return len(done.member_ids), done.size
        finally:
            await engine.dispose()

    usage = resource.getrusage(resource.RUSAGE_SELF)
    before, cpu_before = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    helper_memory = HelperMemory()
    start = time.perf_counter()
    members, size = asyncio.run(go())
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime - cpu_before
    # The XLSX export writes in a helper process of its own: its CPU time and memory.
    helper = resource.getrusage(resource.RUSAGE_CHILDREN)
    helper_peak_mb = helper_memory.stop()
    print(
        json.dumps(
            {
                "format": fmt,
                "seconds": seconds,
                "cpu_seconds": cpu,
                "members": members,
                "bytes": size,
                "peak_mb": peak / 1024,
                "helper_cpu_seconds": helper.ru_utime + helper.ru_stime,
                "helper_peak_mb": helper_peak_mb,
                "start_mb": before / 1024,
            }
        )
    )


def main() -> None:
    """Seed when needed, then run each export in its own process and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--only", choices=sorted(TARGETS), action="append")
    parser.add_argument("--child", choices=sorted(TARGETS), help=argparse.SUPPRESS)
    parser.add_argument("--network", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_one(args.child, args.network)
        return
    if args.reseed or seeded_members() != args.members:
        seed(args.members)
    results = []
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for fmt in args.only or ["csv", "xlsx", "pdf"]:
        cmd = [sys.executable, __file__, "--child", fmt]
        if fmt == "pdf":
            cmd += ["--network", "network-00"]  # 500 members
        found = subprocess.run(cmd, check=True, capture_output=True, text=True)
        result = json.loads(found.stdout.strip().splitlines()[-1])
        results.append(result)
        # Both processes run at once: their peaks added up bound the memory taken.
        memory = result["peak_mb"] + result["helper_peak_mb"]
        within = result["seconds"] <= TARGETS[fmt] and memory <= MEMORY_TARGET_MB
        helper = ""
        if result["helper_cpu_seconds"] > 0.05:
            helper = (
                f"  + writer process: CPU {result['helper_cpu_seconds']:.1f} s, "
                f"peak {result['helper_peak_mb']:.0f} MB"
            )
        print(
            f"{fmt:>4}: {result['members']:>6} members  {result['seconds']:6.1f} s "
            f"(target {TARGETS[fmt]:.0f} s; CPU {result['cpu_seconds']:.1f} s)  "
            f"peak {result['peak_mb']:5.0f} MB "
            f"(after imports {result['start_mb']:.0f} MB)  {result['bytes'] / 1e6:7.1f} MB file"
            f"{helper}  {'OK' if within else 'OVER TARGET'}"
        )


if __name__ == "__main__":
    main()
