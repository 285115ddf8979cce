"""Running and timing commands for the benchmarks: wall seconds and peak RSS of a process tree."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass
class Run:
    seconds: float
    peak_rss_mb: float
    stdout: str
    stopped: bool = False


def group_peak_rss_mb(group: int) -> float:
    """The largest VmHWM (peak RSS) among the live processes of a process group."""
    peak = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != group:
                continue
            status = stat.with_name("status").read_text()
        except (OSError, IndexError, ValueError):
            continue
        found = re.search(r"VmHWM:\s+(\d+) kB", status)
        peak = max(peak, int(found.group(1)) if found else 0)
    return peak / 1024


def group_rss_mb(group: int) -> float:
    """The RSS of every live process of a process group but its leader (/usr/bin/time), summed."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != group or int(stat.parent.name) == group:
                continue
            status = stat.with_name("status").read_text()
        except (OSError, IndexError, ValueError):
            continue
        found = re.search(r"VmRSS:\s+(\d+) kB", status)
        total += int(found.group(1)) if found else 0
    return total / 1024


# How often ``timed`` sums its command's processes' RSS: a worker process (the finish's search
# index) lives for seconds, beside a main process near its own peak.
RSS_SAMPLE_SECONDS = 0.1


def timed(command: list[str], timeout: float | None = None) -> Run:
    """Run ``command`` under /usr/bin/time -v: wall seconds, peak RSS, stdout.

    The peak RSS is the larger of /usr/bin/time's (the largest single process) and the largest
    sum over the command's processes sampled every ``RSS_SAMPLE_SECONDS``. Past ``timeout`` the
    command is stopped (its whole process group) and the run comes back with ``stopped`` set:
    its seconds and peak RSS are then lower bounds.
    """
    start = time.perf_counter()
    process = subprocess.Popen(
        ["/usr/bin/time", "-v", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    summed = 0.0
    while True:
        try:
            stdout, stderr = process.communicate(timeout=RSS_SAMPLE_SECONDS)
            break
        except subprocess.TimeoutExpired:
            summed = max(summed, group_rss_mb(process.pid))
            if timeout is not None and time.perf_counter() - start > timeout:
                peak = max(summed, group_peak_rss_mb(process.pid))
                os.killpg(process.pid, signal.SIGTERM)
                process.communicate()
                return Run(time.perf_counter() - start, peak, "", stopped=True)
    seconds = time.perf_counter() - start
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    if found is None or process.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{stderr[-2000:]}")
    return Run(seconds, max(int(found.group(1)) / 1024, summed), stdout)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, process: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=5)
            return
        except httpx.TransportError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer in {seconds:.0f} s")
