"""`oms run` keeps the OMS up: a worker or API that dies is started again (after a pause
that grows while it keeps dying), the Temporal server and the data are kept, and the
orders in flight resume. Everything stops only on Ctrl-C/SIGTERM, or when the Temporal
server itself cannot be kept up."""

import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from cli.children import dying_with_parent

FIRST_PAUSE = 1.0  # seconds before a part that died is started again
LONGEST_PAUSE = 30.0
STEADY = 60.0  # a part up this long that dies is started again at once
SERVER_RESTARTS = 3  # the Temporal server: this many restarts in STEADY seconds, then stop


@dataclass
class Part:
    name: str
    command: list[str]
    env: dict[str, str]
    stop_signal: int = signal.SIGTERM
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    pause: float = FIRST_PAUSE
    restart_at: float | None = None  # when a part that died starts again
    restarts: list[float] = field(default_factory=list)

    def start(self) -> None:
        # Started from the main thread: the part ends with `oms run` even if it is killed.
        self.process = subprocess.Popen(
            self.command, env=self.env, preexec_fn=dying_with_parent(signal.SIGTERM)
        )
        self.started_at = time.monotonic()
        self.restart_at = None

    def died(self) -> int | None:
        """Its exit code, if it died since it was last started."""
        if self.process is None or self.restart_at is not None:
            return None
        return self.process.poll()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(self.stop_signal)


class Supervisor:
    def __init__(self, server: Part, parts: list[Part]) -> None:
        self.server = server
        self.parts = parts

    def watch(self, poll: float = 0.5) -> int:
        """Keep every part up until the server cannot be kept up (1)."""
        while True:
            now = time.monotonic()
            code = self.server.died()
            if code is not None:
                recent = [at for at in self.server.restarts if now - at < STEADY]
                if len(recent) >= SERVER_RESTARTS:
                    say(f"the Temporal server keeps stopping (code {code}); stopping the OMS")
                    return 1
                say(f"the Temporal server stopped (code {code}); starting it again")
                self.server.restarts = [*recent, now]
                self.server.start()
            for part in self.parts:
                code = part.died()
                if code is not None:
                    if now - part.started_at >= STEADY:
                        part.pause = FIRST_PAUSE
                    say(f"{part.name} stopped (code {code}); again in {part.pause:.0f} s")
                    part.restart_at = now + part.pause
                    part.pause = min(part.pause * 2, LONGEST_PAUSE)
                elif part.restart_at is not None and now >= part.restart_at:
                    part.start()
                    say(f"{part.name} started again")
            time.sleep(poll)

    def stop(self, grace: float = 30.0) -> None:
        everything = [*reversed(self.parts), self.server]
        for part in everything:
            part.stop()
        deadline = time.monotonic() + grace
        for part in everything:
            if part.process is None:
                continue
            try:
                part.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                part.process.kill()


def say(words: str) -> None:
    print(f"oms run: {words}", file=sys.stderr, flush=True)
