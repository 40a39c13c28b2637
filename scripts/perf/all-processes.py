#!/usr/bin/env python3
"""Sums CPU and RSS over every process of a running kafka-broker, per round of the shared harness.

The harness (side-by-side.sh) reads CPU and RSS of one pid: the newest process whose command line
names its manifests folder. `kafka-broker start` on Kafka is one process (the ingress in a worker
thread), but with --ingress-workers 2 or more the ingress runs in node:cluster worker processes and
that one pid is an ingress worker alone. This reads the harness's output
on stdin, prints it unchanged, and after each `ours` row adds the same figures for all of the
broker's processes over that round: from the harness's previous line to this one (the round's
load and drain; the other system's round runs between two of ours).

  side-by-side.sh ... | all-processes.py
"""
import os
import re
import sys
import threading
import time

PATTERN = re.compile(r"start --manifests /tmp/[^ ]*/manifests")
HZ = os.sysconf("SC_CLK_TCK")
samples = []  # (time, ticks, rss_kb, count)
lock = threading.Lock()


def broker_pids():
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        # npm exec and the shells that start the broker are the launcher, not the broker.
        if PATTERN.search(cmd) and not re.match(r"(npm exec|sh -c|bash)", cmd) and "npm-cli" not in cmd:
            pids.append(pid)
    return pids


def totals(pids):
    ticks = rss = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
            with open(f"/proc/{pid}/status") as f:
                rss += next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))
        except (OSError, StopIteration, ValueError, IndexError):
            pass
    return ticks, rss


def sample():
    while True:
        pids = broker_pids()
        ticks, rss = totals(pids)
        with lock:
            samples.append((time.monotonic(), ticks, rss, len(pids)))
        time.sleep(0.2)


threading.Thread(target=sample, daemon=True).start()
previous = time.monotonic()
for line in sys.stdin:
    sys.stdout.write(line)
    now = time.monotonic()
    columns = line.split()
    if len(columns) >= 5 and columns[0].isdigit() and columns[1] == "ours":
        with lock:
            window = [s for s in samples if previous <= s[0] <= now]
        accepted = int(columns[4])
        if len(window) >= 2 and accepted > 0:
            cpu_us = (window[-1][1] - window[0][1]) * 1e6 / HZ / accepted
            rss_mb = max(s[2] for s in window) / 1024
            sys.stdout.write(f"{'':6} {'ours, all processes (' + str(window[-1][3]) + ')':<40} rss_MB {rss_mb:.0f}  cpu_us/event {cpu_us:.0f}\n")
    sys.stdout.flush()
    previous = now
