"""jsonlog.py - the event log of the test servers in tests/helpers

log(logfile, **event) appends the event as one JSON line (sorted keys) with
one write() on an O_APPEND descriptor, so that lines of concurrent
connections, threads or processes never interleave. logfile is
positional-only: an event may have a field called "path" or "logfile". The
servers import it from their own directory (python3 tests/helpers/NAME.py
puts it on sys.path).
"""

import json
import os


def log(logfile, /, **event):
    line = (json.dumps(event, sort_keys=True) + "\n").encode()
    fd = os.open(logfile, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
