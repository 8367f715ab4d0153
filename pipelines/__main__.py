import os
import sys

EXIT_INTERRUPTED = 130  # as pipelines.cli.EXIT_INTERRUPTED, which may not be imported yet

try:
    from pipelines.cli import main

    code = main()
except KeyboardInterrupt:  # Ctrl-C before main() took SIGINT over, or in the instant after it gave it back
    print("interrupted: the published dataset is unchanged; rerun build to finish", file=sys.stderr)
    code = EXIT_INTERRUPTED
if code == EXIT_INTERRUPTED:
    # Ctrl-C: the build has killed its workers and released the lock. A normal exit would join the
    # process pool's manager and queue feeder threads, which can block for good on pipes the killed
    # workers were using; leave without those joins (no exit handler of ours has work left to do).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)
