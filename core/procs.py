"""Child processes that never outlive us."""

from __future__ import annotations

import ctypes
import os
import signal

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGKILL, *, new_session: bool = False) -> None:
    """``preexec_fn``: the kernel sends ``sig`` to the child when its parent dies, however it dies.

    Without it a worker killed with SIGKILL leaves its ffmpeg (or Redis) running, and a new
    worker's run of the same step would race the orphan.
    """
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
    if new_session:
        os.setsid()  # the terminal's Ctrl-C goes to the parent, which stops the child in order
