"""Named points where a test can make the build die as if killed (SIGKILL), to prove crash safety.

Set ``PIPELINES_FAILPOINT=<name>``; the process kills itself with SIGKILL on reaching that point.
``PIPELINES_FAILPOINT=<name>:SIGINT`` sends it a real SIGINT there instead (Ctrl-C at that point).
Inert when the variable is unset.
"""

from __future__ import annotations

import os
import signal

NAMES = ("walk", "parse", "after_first_part", "label", "publish", "before_swap", "after_swap")


def failpoint(name: str) -> None:
    spec = os.environ.get("PIPELINES_FAILPOINT")
    if not spec:
        return
    point, _, sig = spec.partition(":")
    if point == name:
        os.kill(os.getpid(), signal.SIGINT if sig == "SIGINT" else signal.SIGKILL)
