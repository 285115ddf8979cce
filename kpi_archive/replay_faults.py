"""Faults the replay server injects (``--fault SPEC``): what a real site sends on a bad night.

Contract: ``parse_fault(spec) -> Fault`` turns one SPEC (keys listed in ``FAULT_HELP``, which is
also ``kpi-archive replay --help``'s epilog) into a ``Fault``, or raises ``ConfigError`` naming
the SPEC; ``altered(body, fault, now)`` is the page a body-rewriting fault serves. Faults that
rewrite pages (cut, append, stamp, empty, nodata) leave robots.txt alone unless ``path`` names it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from kpi_archive.errors import ConfigError

# What a PHP/MySQL site prints when a script dies part-way through a page.
ERROR_TEXTS = {
    "php": "\n<br />\n<b>PHP Fatal error</b>:  Allowed memory size of 134217728 bytes exhausted"
    " (tried to allocate 20480 bytes) in <b>/var/www/html/mobile/mykpi.php</b> on line <b>412</b>"
    "<br />\n",
    "mysql": "\n<br />\n<b>Warning</b>:  mysqli_query(): MySQL server has gone away in"
    " <b>/var/www/html/mobile/mykpi.php</b> on line <b>57</b><br />\nError: 2006 MySQL server has"
    " gone away\n",
}
NO_DATA_PAGE = (
    '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>KPI</title></head>'
    "<body><p>ไม่พบข้อมูล</p></body></html>\n"
).encode()
DISALLOW_ALL = b"User-agent: *\nDisallow: /\n"
STAMPS = ("comment", "script", "visible")

FAULT_HELP = """\b
Fault SPEC: keys joined by ':' (e.g. status=503:times=2:path=/mobile/mykpi.php)
  status=N          answer with status N and a short body
  retry-after=S     Retry-After seconds or HTTP date (status 503 unless given)
  reset             reset the connection before answering
  truncate=BYTES    send a Content-Length but only BYTES of the body, then close
  cut=PCT           send the first PCT % of the body, no Content-Length, then close
  append=php|mysql  add a PHP fatal error or MySQL error text after the (cut) body
  redirect=PATH     302 to another page of the same host (e.g. /mobile/mykpi.php?pid=0900-0981)
  location=URL      302 to URL (must come last: URLs contain ':')
  stamp=comment|script|visible  put this response's time in the page (a new body every time)
  empty             200 with an empty body
  nodata            200 with a page saying only "ไม่พบข้อมูล" (no data found)
  disallow-all      robots.txt says "Disallow: /" (applies to /robots.txt only)
  drip=BYTES/MS     send BYTES every MS milliseconds
  latency=MS        wait MS before answering
  times=N           apply to the first N matching requests only
  path=PREFIX       apply to requests whose path?query starts with PREFIX
  host=HOST         apply to requests for HOST only
cut, append, stamp, empty and nodata leave robots.txt alone unless path=/robots.txt."""


@dataclass
class Fault:
    """One injected misbehaviour, applied to matching requests (the first ``times`` of them)."""

    status: int | None = None
    retry_after: str | None = None
    location: str | None = None
    reset: bool = False
    truncate: int | None = None
    drip: tuple[int, float] | None = None
    latency: float = 0.0
    cut: float | None = None
    append: str | None = None
    stamp: str | None = None
    body: bytes | None = None
    disallow_all: bool = False
    times: int | None = None
    path: str | None = None
    host: str | None = None

    def matches(self, host: str, target: str) -> bool:
        """Whether this fault applies to a request for ``target`` (path?query) on ``host``."""
        if self.times is not None and self.times <= 0:
            return False
        if self.host is not None and self.host != host:
            return False
        if self.disallow_all and target != "/robots.txt":
            return False
        if self.path is None and target == "/robots.txt" and self.changes_page:
            # A static robots.txt does not die with the PHP page: only path=/robots.txt hits it.
            return False
        return self.path is None or target.startswith(self.path)

    @property
    def changes_page(self) -> bool:
        """Whether this fault rewrites a page's content (cut, append, stamp, empty, nodata)."""
        rewrites = self.body is not None and not self.disallow_all
        return rewrites or self.cut is not None or bool(self.append) or bool(self.stamp)


def parse_fault(spec: str) -> Fault:
    """Parse a fault SPEC such as ``status=503:times=2:path=/mobile/mykpi.php``.

    Keys: see ``FAULT_HELP`` (also shown by ``kpi-archive replay --help``).
    """
    fault = Fault()
    for part in filter(None, spec.split(":")):
        key, _, value = part.partition("=")
        key = key.strip().lower()
        try:
            if key == "status":
                fault.status = int(value)
            elif key == "retry-after":
                fault.retry_after = value
            elif key == "location":
                # URLs contain ':' themselves; everything after location= is the URL.
                fault.location = spec.split("location=", 1)[1]
                break
            elif key == "reset":
                fault.reset = True
            elif key == "truncate":
                fault.truncate = int(value)
            elif key == "drip":
                size, _, every = value.partition("/")
                fault.drip = (int(size), float(every or 100) / 1000)
            elif key == "latency":
                fault.latency = float(value) / 1000
            elif key == "cut":
                fault.cut = float(value)
                if not 0 <= fault.cut <= 100:
                    raise ValueError(value)
            elif key == "append":
                if value not in ERROR_TEXTS:
                    raise ValueError(value)
                fault.append = value
            elif key == "redirect":
                if not value.startswith("/"):
                    raise ValueError(value)
                fault.location = value
            elif key == "stamp":
                if value not in STAMPS:
                    raise ValueError(value)
                fault.stamp = value
            elif key == "empty":
                fault.body = b""
            elif key == "nodata":
                fault.body = NO_DATA_PAGE
            elif key == "disallow-all":
                fault.disallow_all = True
                fault.body = DISALLOW_ALL
            elif key == "times":
                fault.times = int(value)
            elif key == "path":
                fault.path = value
            elif key == "host":
                fault.host = value
            else:
                raise ConfigError(f"--fault {spec!r}: unknown key {key!r}")
        except ValueError as exc:
            raise ConfigError(f"--fault {spec!r}: bad value for {key}: {value!r}") from exc
    if fault.retry_after is not None and fault.status is None:
        fault.status = 503
    if fault.location is not None and fault.status is None:
        fault.status = 302
    return fault


def stamped(body: bytes, kind: str, now: dt.datetime) -> bytes:
    """``body`` with the time ``now`` put in before ``</body>`` (or at the end) as ``kind``."""
    when = now.isoformat(timespec="microseconds")
    mark = {
        "comment": f"<!-- generated {when} -->",
        "script": f'<script>var serverTime = "{when}";</script>',
        "visible": f"<p>ข้อมูล ณ {when}</p>",
    }[kind].encode()
    at = body.lower().rfind(b"</body>")
    if at < 0:
        return body + mark
    return body[:at] + mark + body[at:]


def altered(body: bytes, fault: Fault, now: dt.datetime) -> bytes:
    """``body`` as ``fault`` changes it: stamped, then cut, then an error text appended."""
    if fault.stamp:
        body = stamped(body, fault.stamp, now)
    if fault.cut is not None:
        body = body[: int(len(body) * fault.cut / 100)]
    if fault.append:
        body += ERROR_TEXTS[fault.append].encode()
    return body
