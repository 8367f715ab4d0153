import os
import sys

from pipelines.cli import EXIT_INTERRUPTED, main

try:
    code = main()
except KeyboardInterrupt:  # Ctrl-C before main() took SIGINT over, or in the instant after it gave it back
    code = EXIT_INTERRUPTED
if code == EXIT_INTERRUPTED:
    # Ctrl-C: the build has killed its workers and released the lock. A normal exit would join the
    # process pool's manager and queue feeder threads, which can block for good on pipes the killed
    # workers were using; leave without those joins (no exit handler of ours has work left to do).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)
