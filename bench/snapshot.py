"""python -m bench.snapshot OUTPUT.json: the in-process hot path of this checkout, saved for later runs.

The hot path's statements (hotpath.db_cost) and a cProfile of engine steps (hotpath.profile_engine)
on the bench database, as the full run takes them. Run in a worktree of an earlier commit, it gives
bench/profile_before.json, the "before" that the report prints beside the current run's profile.
Only uses what bench/ had before that file existed, so it runs unchanged in an older checkout.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

STEPS = 40  # what the full run profiles (stages.run_all: at most 40)


def main(argv: list[str]) -> int:
    from bench import config
    from bench.run import setup

    output = Path(argv[0]) if argv else config.ROOT / "bench" / "profile_before.json"
    setup(config.ROOT / "var" / "bench-snapshot")
    from bench import db, hotpath, machine

    load_start = machine.load_average()
    user = db.make_users("snapshot", 1)[0][0]
    hot = hotpath.db_cost(user)
    profile = hotpath.profile_engine(user, steps=STEPS)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=config.ROOT, capture_output=True,
                            text=True).stdout.strip()
    snapshot = {"commit": commit, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "load": [load_start, machine.load_average()],
                "hot": hot["engine"], "profile": dict(profile, steps=STEPS - 1)}
    output.write_text(json.dumps(snapshot, indent=1) + "\n")
    print(f"{output}: commit {commit[:10]}, {hot['engine']['statements']} statements, "
          f"{profile['per_step_ms']:.1f} ms per step under the profiler")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
