import os
import sys

from pipelines import EXIT_INTERRUPTED, INTERRUPTED_UNCHANGED

try:
    from pipelines.cli import main

    code = main()
except KeyboardInterrupt:  # Ctrl-C before main() took SIGINT over, or in the instant after it gave it back
    print(INTERRUPTED_UNCHANGED, file=sys.stderr)
    code = EXIT_INTERRUPTED
engine = sys.modules.get("pipelines.engine")
if engine is not None and engine.abandoned_pool():
    # Ctrl-C (or a failure) stopped the build's process pool: workers and their readers are killed and
    # the lock released. A normal exit would join the pool's manager thread and queue feeder thread,
    # which can block for good on the pipes of killed workers; leave without those joins (no exit
    # handler of ours has work left to do).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)
