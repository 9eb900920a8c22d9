"""python -m bench.run [--quick | --smoke] [--output docs/benchmarks.md]: the whole benchmark in one run.

`--only websocket` runs just the live feed's scenarios (2 workers, daphne), each `ws_repeats` times,
prints their medians and writes them to websocket.json in the work directory; `--only first_step` the
time to first step (2 workers), to first_step.json; the report is left alone.

Stages: in-process hot-path counts and profile; one worker: latency per layer (interleaved
repeats) and steps/s with pg_stat deltas, then memory over many engine steps; two workers:
steps/s, time to first step through the API, websocket fan-out through daphne, the load run.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from bench import config


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_const", const="quick", dest="size", help="a few minutes")
    size.add_argument("--smoke", action="store_const", const="smoke", dest="size", help="tiny (the smoke test)")
    parser.add_argument("--output", type=Path, default=config.ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--work-dir", type=Path, default=config.ROOT / "var" / "bench",
                        help="probe files, server logs and results.json")
    parser.add_argument("--only", choices=["websocket", "first_step"],
                        help="run one stage alone (its results: work dir)")
    parser.add_argument("--from-results", type=Path, metavar="RESULTS_JSON",
                        help="only rewrite the report from an earlier run's results.json")
    args = parser.parse_args(argv)
    args.size = args.size or "full"
    return args


def setup(work_dir: Path) -> tuple[Path, Path]:
    """Environment, Django, the noop tool, an empty bench database and Redis db; fresh probe/log dirs."""
    config.apply_environment()
    import django

    django.setup()
    import redis

    from bench import db, noop_tool

    noop_tool.register()
    db.ensure_database()
    db.migrate_and_reset()
    redis.Redis.from_url(config.REDIS_URL).flushdb()  # db 14 is the bench's own
    probe_dir, log_dir = work_dir / "probes", work_dir / "logs"
    for path in (probe_dir, log_dir):
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
    return probe_dir, log_dir


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.from_results:
        from bench import report

        earlier = json.loads(args.from_results.read_text())
        report.write(args.output, earlier)
        report.print_rich(earlier)
        return 0
    sizes = config.SIZES[args.size]
    probe_dir, log_dir = setup(args.work_dir)
    if args.only == "websocket":
        return websocket_alone(args, sizes, probe_dir, log_dir)
    if args.only == "first_step":
        return first_step_alone(args, sizes, probe_dir, log_dir)
    from bench import machine, report, sections, stages

    started, load_start = time.time(), machine.load_average()
    command = " ".join(["python -m bench.run", *(sys.argv[1:] if argv is None else argv)])
    results: dict[str, Any] = {"machine": machine.describe(), "load_start": load_start,
                               "busy": machine.busy_processes(), "sizes": vars(sizes), "command": command,
                               "profile_before": sections.load_before()}
    results.update(stages.run_all(sizes, probe_dir, log_dir))
    results.update(load_end=machine.load_average(), duration_s=time.time() - started)
    (args.work_dir / "results.json").write_text(stages.to_json(results))
    report.write(args.output, results)
    report.print_rich(results)
    print(f"report: {args.output}")
    return 0


def websocket_alone(args: argparse.Namespace, sizes: config.Sizes, probe_dir: Path, log_dir: Path) -> int:
    from bench import db, feeds, machine, stages

    started, load_start = time.time(), machine.load_average()
    owner = db.make_users("bench", 1)[0]
    results: dict[str, Any] = {"machine": machine.describe(), "load_start": load_start,
                               "busy": machine.busy_processes(), "sizes": vars(sizes)}
    results.update(feeds.alone(sizes, probe_dir, log_dir, owner))
    results.update(load_end=machine.load_average(), duration_s=time.time() - started)
    (args.work_dir / "websocket.json").write_text(stages.to_json(results))
    print(f"{sizes.name} sizes, {sizes.ws_repeats} repeats (medians), load {load_start:.2f} → "
          f"{results['load_end']:.2f}, {results['duration_s']:.0f} s; busy: {results['busy']}")
    print("| " + " | ".join(feeds.HEADER) + " |\n|" + "---|" * len(feeds.HEADER))
    for row in feeds.rows(results["ws"]):
        print("| " + " | ".join(row) + " |")
    print(f"results: {args.work_dir / 'websocket.json'}")
    return 0


def first_step_alone(args: argparse.Namespace, sizes: config.Sizes, probe_dir: Path, log_dir: Path) -> int:
    from bench import db, machine, stages

    load_start = machine.load_average()
    owner = db.make_users("bench", 1)[0]
    results: dict[str, Any] = {"first_step": stages.first_step_alone(sizes, probe_dir, log_dir, owner),
                               "load_start": load_start, "load_end": machine.load_average(),
                               "busy": machine.busy_processes()}
    (args.work_dir / "first_step.json").write_text(stages.to_json(results))
    first = results["first_step"]
    print(f"{sizes.name} sizes, {first['samples']} samples, load {load_start:.2f} → {results['load_end']:.2f}; "
          f"busy: {results['busy']}\nPOST /execute → first step p50 {first['p50']:.1f} ms, p99 {first['p99']:.1f} ms;"
          f" the POST p50 {first['post_p50']:.1f} ms ({first['post_statements']:.0f} statements, p50 "
          f"{first['post_db_p50']:.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
