"""Two bot processes on one PostgreSQL behind one webhook, one killed -9 halfway (issue 16).

Starts two real ``skillspark run`` processes in webhook mode against the
loopback Bot API peer (tests/botapi_peer.py), sends 2,000 updates for 200 chats
alternately through both (a chat's next update once the last was answered 200,
as Telegram does), SIGKILLs one halfway and starts it again, then prints:

* updates/s: updates answered per second, kill and restart included;
* lost: updates never stored, or chats left without a reply after their last update;
* doubled: turns a chat was shown twice (a reply sent before the kill, shown again after);
* replayed: updates taken over from the killed process once its leases ran out;
* merged: stored-but-unsent turns of one chat answered by one "here is where you are".

Needs PostgreSQL: ``SKILLSPARK_TEST_DATABASE_URL`` (or ``--database``); it
creates and drops a schema of its own. Usage:
``.venv/bin/python bench/multi_process.py [--chats 200] [--per-chat 10]``
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.botapi_peer import running_peer  # noqa: E402
from tests.multi_bots import pg_schema, run_load  # noqa: E402


def main() -> int:
    """Run the load once and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--per-chat", type=int, default=10)
    parser.add_argument("--no-kill", action="store_true", help="no process is killed")
    parser.add_argument("--database", default=os.environ.get("SKILLSPARK_TEST_DATABASE_URL", ""))
    args = parser.parse_args()
    if not args.database:
        print("multi_process: skipped (set SKILLSPARK_TEST_DATABASE_URL to a PostgreSQL URL)")
        return 0
    with (
        tempfile.TemporaryDirectory() as workdir,
        running_peer() as peer,
        pg_schema(args.database) as url,
    ):
        result = run_load(
            peer,
            url,
            Path(workdir),
            chats=args.chats,
            per_chat=args.per_chat,
            kill=not args.no_kill,
        )
    print(f"updates      {result.updates} for {args.chats} chats, 2 processes"
          f"{'' if args.no_kill else ', one killed -9 halfway and restarted'}")  # fmt: skip
    print(f"seconds      {result.seconds:.1f}")
    print(f"updates/s    {result.per_second:.1f}")
    print(f"lost         {result.lost}")
    print(f"doubled      {result.doubled}")
    print(f"replayed     {result.replayed}")
    print(f"merged       {result.merged}")
    print(f"stored once  {result.answered_once}; order kept per chat {result.order_kept}; "
          f"inbox left {result.inbox_left}; exit codes {result.exit_codes}")  # fmt: skip
    for problem in result.problems[:20]:
        print(f"problem      {problem}")
    ok = result.answered_once and result.order_kept and result.lost == 0
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
