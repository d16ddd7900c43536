"""A rehearsal stopped halfway leaves nothing running: its `oms worker` processes and its
time-skipping server end with it, whether it is asked to stop or killed outright."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
SCENARIO = Path(__file__).parents[2] / "scenarios" / "quick-rehearsal.json"


def running_descendants(pid: int) -> set[int]:
    """Processes below `pid` that still run (zombies waiting to be reaped do not count)."""
    children: dict[int, list[int]] = {}
    states: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        states[int(entry.name)] = fields[0]
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return {p for p in found if states.get(p) != "Z"}


def still_running(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["killed", "terminated"])
def test_a_stopped_rehearsal_leaves_no_process_behind(tmp_path: Path, stop: int):
    rehearsal = subprocess.Popen(
        [str(BIN / "oms"), "simulate", str(SCENARIO)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    try:
        assert rehearsal.stdout is not None
        for line in rehearsal.stdout:  # the first progress line: workers and server run
            if "placed" in line:
                break
        helpers = running_descendants(rehearsal.pid)
        assert len(helpers) >= 4, helpers  # two workers, the server and its guard
        rehearsal.send_signal(stop)
        rehearsal.wait(timeout=60)
        deadline = time.monotonic() + 30
        while still_running(helpers) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert still_running(helpers) == set()
    finally:
        if rehearsal.poll() is None:
            rehearsal.kill()
