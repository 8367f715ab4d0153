"""Processes the build forks (parse/label workers, their readers, the walk's stat helpers): they must
never outlive the process that forked them, and Ctrl-C is handled by the build's main process only."""

from __future__ import annotations

import contextlib
import os
import signal
import sys


def die_with_parent(parent: int) -> None:
    """Have the kernel SIGKILL this process when ``parent`` (which forked it) dies (Linux; elsewhere a no-op).

    A parent that died before the request was made is caught by the ``getppid`` check: the child has
    already been handed to another process and leaves at once.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(0)


def init_pool_child(parent: int) -> None:
    """Initializer of a pool process forked by ``parent``: no Ctrl-C of its own, and dies with ``parent``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent)
