"""`python -m simulator.server_guard SERVER ARGS...`: runs the time-skipping test server as
its child and ends it when the rehearsal that started it ends, however it ends.

The test server is started by the Temporal SDK, which gives no way to tie it to the
rehearsal's life: this guard stands in its place (the rehearsal hands its path to the
SDK), watches its own parent, and takes the server down with it."""

import os
import signal
import subprocess
import sys
import time

from cli.children import dying_with_parent


def main(argv: list[str]) -> int:
    server, *args = argv
    launcher = os.getppid()
    # The guard's main thread lives as long as the guard: the server dies with it.
    child = subprocess.Popen([server, *args], preexec_fn=dying_with_parent(signal.SIGKILL))

    def stop(*_: object) -> None:
        child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while child.poll() is None:
        if os.getppid() != launcher:  # the rehearsal is gone
            child.kill()
            break
        time.sleep(0.5)
    return child.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
