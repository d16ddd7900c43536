"""A rehearsal whose workers freeze halfway (SIGSTOP: their tasks taken, never finished, as
the test server sees a lost task) says within about a minute which workflows hold the
virtual clock, then stops with an error and leaves nothing running, instead of waiting out
its call to the server (issue 18)."""

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from simulator.run import STALL_AFTER, RehearsalStalled, simulate
from tests.simulator.test_nothing_left_behind import running_descendants, still_running
from tests.simulator.test_simulation import two_carrier_scenario


def workers_of(pid: int) -> list[int]:
    found = []
    for child in running_descendants(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if command[-2:-1] == [b"worker"] or command[-1:] == [b"worker"]:
            found.append(child)
    return found


@pytest.mark.timeout(240)
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
async def test_a_rehearsal_whose_workers_freeze_says_what_it_waits_for_and_stops():
    lines: list[tuple[float, str]] = []
    frozen: list[int] = []
    frozen_at = 0.0

    def show(line: str) -> None:
        nonlocal frozen_at
        lines.append((time.monotonic(), line))
        # The first progress line after the morning's orders: they are in flight (picks,
        # shipments, carrier bookings to come); from now on nothing the workers take comes back.
        if not frozen and "placed      6/6" in line:
            frozen.extend(workers_of(os.getpid()))
            assert len(frozen) == 2, frozen
            for pid in frozen:
                os.kill(pid, signal.SIGSTOP)
            frozen_at = time.monotonic()

    helpers_before = running_descendants(os.getpid())
    with pytest.raises(RehearsalStalled) as stalled:
        await simulate(two_carrier_scenario(), show=show)
    stopped_at = time.monotonic()

    assert frozen, ("no order was placed", lines)
    [(said_at, said)] = [(at, line) for at, line in lines if "stall?" in line]
    # Said about a minute after the clock's last move (it may still move a while after the
    # freeze: activities of the frozen workers time out and are tried again), naming who
    # holds it.
    frozen_for = float(said.split("has not moved for ")[1].split(" s")[0])
    assert frozen_for < STALL_AFTER.total_seconds() + 10, said
    assert said_at - frozen_at < 180, said
    assert "order-" in said and "holding the clock" in said, said
    assert "never completed" in said or "no worker has taken it" in said or "activity" in said
    assert stopped_at - said_at < 45
    assert "order-" in str(stalled.value) and "stopped at" in str(stalled.value)
    # The workers (frozen ones too) and the test server end with the rehearsal.
    deadline = time.monotonic() + 30
    left = still_running(running_descendants(os.getpid()) - helpers_before)
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = still_running(left)
    assert left == set()
    assert still_running(set(frozen)) == set()
