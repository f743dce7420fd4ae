#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""stamp.py T0 -- copy stdin to stdout, each line prefixed with the seconds
since T0 (a CLOCK_REALTIME float, e.g. from `date +%s.%N`) at which the line
arrived.  etrnpoll writes its log and -v transcript to stderr unbuffered, so
the arrival time is the time the event happened (within a millisecond)."""
import sys
import time

t0 = float(sys.argv[1])
for line in sys.stdin:
    sys.stdout.write("%9.3f %s" % (time.time() - t0, line))
    sys.stdout.flush()
