#!/usr/bin/env python3
"""Run one command and write "START END CPU" (seconds) of it to a file.

    benches/measure.py OUT CMD [ARG...]

START and END are wall-clock timestamps (time.time(), the clock `date +%s.%N` reads)
taken right before the command is started and right after it exits, so the time does
not include this wrapper's own start-up; CPU is the command's user + system time from
wait4(2), which includes every descendant it waited for. The benchmark scripts use it
for the programs they start (clients, and the baselines' servers), whose CPU time they
cannot read from /proc once the process is gone. Exits with the command's status.
"""
import os
import subprocess
import sys


def main() -> int:
    out, cmd = sys.argv[1], sys.argv[2:]
    import time

    start = time.time()
    child = subprocess.Popen(cmd)
    _, status, usage = os.wait4(child.pid, 0)
    end = time.time()
    child.returncode = os.waitstatus_to_exitcode(status)
    with open(out, "w") as f:
        f.write(f"{start:.6f} {end:.6f} {usage.ru_utime + usage.ru_stime:.6f}\n")
    code = child.returncode
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
