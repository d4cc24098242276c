"""Child processes that end when the process that started them dies, even by SIGKILL.

A parent that stops normally stops its children itself (``Stack.stop``); this module
covers the parent that cannot: killed, crashed, or a test harness SIGKILLed mid-run.
On Linux the kernel does it: ``prctl(PR_SET_PDEATHSIG)`` in the child, between fork and
exec, asks for a signal when the parent dies, and the setting survives exec. The signal
is SIGTERM, so each child still runs its own orderly stop (a worker hands its running
steps back to the queue, Redis flushes its AOF). Elsewhere nothing is armed.

The kernel watches the *thread* that forked, not the process: spawn from a thread that
lives as long as the children (the main thread, as the CLI and the tests do).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

# From <linux/prctl.h>.
PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` for ``subprocess.Popen`` that arms the parent-death signal, or
    None where the platform has none (Popen then runs nothing in the child)."""
    if not sys.platform.startswith("linux"):
        return None
    # Resolved here, in the parent: the child between fork and exec should do little.
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
        # The parent may have died between fork and prctl: then no signal will come.
        if os.getppid() != parent:
            os.kill(os.getpid(), sig)

    return arm
