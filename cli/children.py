"""Child processes that end with the process that started them, even when it is killed
(SIGKILL leaves no chance to clean up): the kernel signals them when their parent dies."""

import ctypes
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1


def dying_with_parent(signum: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A `preexec_fn` for subprocess.Popen: the child gets `signum` when the thread that
    started it dies (start children from a thread that lives as long as the process: the
    main thread). None where the kernel cannot do it (not Linux)."""
    if not sys.platform.startswith("linux"):
        return None

    def arm() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)

    return arm
