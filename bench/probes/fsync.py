#!/usr/bin/env python3
"""How long a commit's sync takes on this disk, as SQLite's WAL does it.

Appends PAGES frames (a 24-byte header and a 4 KiB page each) to a file in
DIR, syncs, sleeps GAP milliseconds, and repeats; prints the sync's p50 and
p99. A long GAP shows what a lone message's commit costs on an idle disk.

    python3 bench/probes/fsync.py [--dir DIR] [--pages 4] [--gap 10] [--n 300] [--datasync]
"""
import argparse
import os
import tempfile
import time

ap = argparse.ArgumentParser()
ap.add_argument("--dir", default=None, help="where the test file goes (default: the temp dir)")
ap.add_argument("--pages", type=int, default=4)
ap.add_argument("--gap", type=float, default=10.0, help="milliseconds between commits")
ap.add_argument("--n", type=int, default=300)
ap.add_argument("--datasync", action="store_true", help="fdatasync instead of fsync")
a = ap.parse_args()
sync = os.fdatasync if a.datasync else os.fsync
frame = 24 + 4096
with tempfile.NamedTemporaryFile(dir=a.dir) as f:
    fd = f.fileno()
    # A log file that already has its size, as a WAL does once it wraps.
    os.write(fd, b"\0" * (a.pages * frame * a.n))
    os.fsync(fd)
    took = []
    off = 0
    for _ in range(a.n):
        for _ in range(a.pages):
            os.pwrite(fd, b"h" * 24, off)
            os.pwrite(fd, b"p" * 4096, off + 24)
            off += frame
        t = time.perf_counter()
        sync(fd)
        took.append(time.perf_counter() - t)
        time.sleep(a.gap / 1000)
took.sort()
print(
    f"{a.pages} pages, {sync.__name__} every {a.gap:g} ms: "
    f"p50 {took[len(took) // 2] * 1e3:.3f} ms, p99 {took[int(len(took) * 0.99)] * 1e3:.3f} ms"
)
