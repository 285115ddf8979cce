"""A recorded site served over real HTTP on 127.0.0.1, for tests, benchmarks and the demo.

Layout: ``ROOT/<host>/<path>?<query>`` holds the body the live site sent for
``http(s)://<host>/<path>?<query>`` (a path ending in ``/`` is ``index.html``); an optional
sidecar ``<file>.headers`` is JSON ``{"status": 200, "headers": {"Content-Type": …}}``.
Overlay directories with the same layout win over ROOT, so one site can serve a "later" version.

A request names its host by its first path segment (``/dp.bangkok.go.th/mobile/mykpi.php?…``, the
form ``--map-host dp.bangkok.go.th=http://127.0.0.1:8765/dp.bangkok.go.th`` produces) or, failing
that, by its ``Host`` header. Responses carry an ETag (content hash) and Last-Modified (sidecar
or file mtime) and answer conditional requests with 304. Faults (``--fault``, defined in
``kpi_archive.replay_faults``) inject what a real site sends on a bad night: statuses,
Retry-After, resets, truncated or close-delimited cut bodies, error text after a cut, same-host
redirects, per-response timestamps, empty or "no data" pages, a robots.txt disallowing
everything, drips and latency.
Every request is kept in ``ReplayServer.log`` with its host and monotonic start and end, so tests
can check politeness. Nothing outside the served directories is ever served: ``.`` and ``..``
segments are refused and every file is checked to resolve inside its directory.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import itertools
import json
import logging
import socket
import struct
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

from kpi_archive.replay_faults import FAULT_HELP, Fault, altered, parse_fault

log = logging.getLogger(__name__)

HEADERS_SUFFIX = ".headers"
# The recorded demo site ships in the package (see replay_site/make_site.py).
RECORDED_SITE = Path(__file__).resolve().parent / "replay_site" / "site"
RECORDED_LATER = RECORDED_SITE.with_name("later")
RECORDED_SEEDS = RECORDED_SITE.with_name("seeds.txt")
_TYPES = {".txt": "text/plain; charset=utf-8", ".json": "application/json"}

__all__ = ["FAULT_HELP", "Fault", "Hit", "ReplayServer", "parse_fault"]


@dataclass(frozen=True)
class Hit:
    """One request as the server saw it: monotonic start (request read), end (last write began)."""

    host: str
    target: str
    status: int
    start: float
    end: float
    headers: dict[str, str] = field(default_factory=dict)


class ReplayServer:
    """Serve ``root`` (plus overlays) on 127.0.0.1 in a background thread; a context manager."""

    def __init__(
        self,
        root: str | Path,
        *,
        overlays: Sequence[str | Path] = (),
        port: int = 0,
        latency: float = 0.0,
        faults: Iterable[Fault] = (),
    ) -> None:
        self.root = Path(root)
        self.overlays = [Path(p) for p in overlays]
        self.latency = latency
        self.faults = list(faults)
        self.log: list[Hit] = []
        self._lock = threading.Condition()
        self._in_flight: dict[str, int] = defaultdict(int)
        self._peak: dict[str, int] = defaultdict(int)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.replay = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port actually bound (useful with ``port=0``)."""
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL of the server, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    def base(self, host: str) -> str:
        """The ``--map-host`` base URL for ``host`` on this server."""
        return f"{self.url}/{host}"

    def host_map(self, hosts: Iterable[str] | None = None) -> dict[str, str]:
        """``{host: base URL}`` for every recorded host (or the given ones)."""
        return {host: self.base(host) for host in (hosts or self.hosts())}

    def hosts(self) -> list[str]:
        """Every host recorded in ``root`` and the overlays."""
        dirs = [d for d in [self.root, *self.overlays] if d.is_dir()]
        return sorted({p.name for d in dirs for p in d.iterdir() if p.is_dir()})

    def start(self) -> ReplayServer:
        """Start serving in a daemon thread."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted."""
        self._httpd.serve_forever()

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # What tests assert on.
    def hits(self, host: str | None = None) -> list[Hit]:
        """Requests served (to ``host``), in order of start; waits for requests in progress."""
        with self._lock:
            # A client can read the last byte before the handler has logged its hit.
            self._lock.wait_for(lambda: not any(self._in_flight.values()), timeout=2.0)
            return sorted((h for h in self.log if host in (None, h.host)), key=lambda h: h.start)

    def peak_in_flight(self, host: str) -> int:
        """Most requests to ``host`` ever in progress at once."""
        return self._peak[host]

    def gaps(self, host: str) -> list[float]:
        """Seconds from the end of each response to the start of the next request, per host."""
        hits = self.hits(host)
        return [b.start - a.end for a, b in itertools.pairwise(hits)]

    # Used by the handler.
    def enter(self, host: str) -> None:
        with self._lock:
            self._in_flight[host] += 1
            self._peak[host] = max(self._peak[host], self._in_flight[host])

    def leave(self, hit: Hit) -> None:
        with self._lock:
            self._in_flight[hit.host] -= 1
            self.log.append(hit)
            self._lock.notify_all()

    def take_fault(self, host: str, target: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(host, target):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def resolve(self, path: str, host_header: str | None) -> tuple[str, str] | None:
        """Split a request path into (host, site path) by first segment, else the Host header."""
        dirs = [*reversed(self.overlays), self.root]
        first, _, rest = path.lstrip("/").partition("/")
        if _is_host_name(first) and any((d / first).is_dir() for d in dirs):
            return first, "/" + rest
        name = (host_header or "").rsplit(":", 1)[0].strip("[]").lower()
        if _is_host_name(name) and any((d / name).is_dir() for d in dirs):
            return name, path
        return None

    def find(self, host: str, target: str) -> Path | None:
        """The file for ``target`` (path?query) on ``host``: overlays first, then root."""
        path, _, query = target.partition("?")
        parts = [p for p in path.split("/") if p]
        if target.endswith(HEADERS_SUFFIX) or not _is_host_name(host):
            return None
        name = "/".join(parts) if parts else ""
        if path.endswith("/") or not parts:
            name = (name + "/index.html").lstrip("/")
        if query:
            name += "?" + query
        # A query may hold '/' too, so the whole name is checked, not just the path.
        if any(p in (".", "..") for p in name.split("/")) or "\0" in name:
            return None
        for directory in [*reversed(self.overlays), self.root]:
            candidate = directory / host / name
            # A symlink could still point outside the directory.
            if candidate.is_file() and candidate.resolve().is_relative_to(directory.resolve()):
                return candidate
        return None


def _is_host_name(name: str) -> bool:
    return bool(name) and name not in (".", "..") and "\\" not in name


def read_sidecar(path: Path) -> tuple[int, dict[str, str]]:
    """Status and headers from ``<file>.headers`` (JSON), or (200, {})."""
    sidecar = path.with_name(path.name + HEADERS_SUFFIX)
    if not sidecar.is_file():
        return 200, {}
    data = json.loads(sidecar.read_text(encoding="utf-8"))
    headers = {str(k): str(v) for k, v in data.get("headers", {}).items()}
    return int(data.get("status", 200)), headers


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kpi-archive-replay/1"
    timeout = 30
    # Headers and body go out in separate writes; with Nagle on, the body waits for the client's
    # delayed ACK (~40 ms on Linux), which would look like a slow crawler in the benchmark.
    disable_nagle_algorithm = True

    @property
    def replay(self) -> ReplayServer:
        return self.server.replay  # type: ignore[attr-defined,no-any-return]

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    def _serve(self, *, head: bool) -> None:
        start = time.monotonic()
        self.final_write_at: float | None = None
        raw = self.path
        if raw.startswith(("http://", "https://")):
            parts = urlsplit(raw)
            raw = parts.path + ("?" + parts.query if parts.query else "")
        resolved = self.replay.resolve(raw, self.headers.get("Host"))
        host, target = resolved if resolved else ("", raw)
        self.replay.enter(host)
        status = 0
        try:
            status = self._respond(host, target, head=head, known=resolved is not None)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a timeout or a page deadline during a drip): nothing to report.
            self.close_connection = True
        finally:
            headers = {k.lower(): v for k, v in self.headers.items()}
            # The end is stamped before the last write, never after: a thread descheduled
            # after writing must not make the client's politeness gap look shorter than it was.
            end = self.final_write_at if self.final_write_at is not None else time.monotonic()
            self.replay.leave(Hit(host, target, status, start, end, headers))

    def _respond(self, host: str, target: str, *, head: bool, known: bool) -> int:
        fault = self.replay.take_fault(host, target) if known else None
        delay = self.replay.latency + (fault.latency if fault else 0.0)
        if delay:
            time.sleep(delay)
        if fault and fault.reset:
            # SO_LINGER 0 makes close() send RST: the client sees a connection reset.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return 0
        if fault and fault.status is not None:
            extra = {"Retry-After": fault.retry_after, "Location": fault.location}
            body = f"fault: {fault.status}\n".encode()
            present = {k: v for k, v in extra.items() if v}
            return self._send(fault.status, present, body, head, fault)
        if fault and fault.body is not None:
            kind = "text/plain; charset=utf-8" if fault.disallow_all else "text/html; charset=utf-8"
            return self._send(200, {"Content-Type": kind}, fault.body, head, fault)
        path = self.replay.find(host, target) if known else None
        if path is None:
            return self._send(404, {"Content-Type": "text/plain"}, b"not recorded\n", head, fault)
        recorded = path.read_bytes()
        status, headers = read_sidecar(path)
        # Before the validators, so a changed body never passes as "304 Not Modified".
        body = altered(recorded, fault, dt.datetime.now(dt.UTC)) if fault else recorded
        headers.setdefault("Content-Type", _TYPES.get(path.suffix, "text/html"))
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        if body == recorded:
            headers.setdefault("ETag", etag)
            mtime = email.utils.formatdate(path.stat().st_mtime, usegmt=True)
            headers.setdefault("Last-Modified", mtime)
        else:
            # Made for this response, like a dynamic page: it has no modification time.
            headers["ETag"] = etag
            headers.pop("Last-Modified", None)
        if status == 200 and self._not_modified(headers):
            keep: dict[str, str] = {
                k: headers[k] for k in ("ETag", "Last-Modified") if k in headers
            }
            return self._send(304, keep, b"", head=True, fault=None)
        return self._send(status, headers, body, head, fault)

    def _not_modified(self, headers: dict[str, str]) -> bool:
        tags = self.headers.get("If-None-Match")
        if tags is not None:
            return tags.strip() == "*" or headers["ETag"] in [t.strip() for t in tags.split(",")]
        since = self.headers.get("If-Modified-Since")
        if since is None or "Last-Modified" not in headers:
            return False
        try:
            asked = email.utils.parsedate_to_datetime(since)
            have = email.utils.parsedate_to_datetime(headers["Last-Modified"])
        except (TypeError, ValueError):
            return False
        return have <= asked

    def _send(
        self, status: int, headers: dict[str, str], body: bytes, head: bool, fault: Fault | None
    ) -> int:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "connection"):
                self.send_header(name, value)
        # Close-delimited: with no Content-Length the client cannot tell a cut body from a whole
        # one, as when a PHP script dies part-way with output buffering off.
        cut = fault is not None and fault.cut is not None
        if not cut:
            self.send_header("Content-Length", str(len(body)))
        if fault and (fault.truncate is not None or cut):
            self.send_header("Connection", "close")
            self.close_connection = True
        if head or status == 304:
            self.final_write_at = time.monotonic()
            self.end_headers()
            return status
        self.end_headers()
        if fault and fault.truncate is not None:
            body = body[: fault.truncate]
        if fault and fault.drip:
            size, every = fault.drip
            for i in range(0, len(body), size):
                self.final_write_at = time.monotonic()
                self.wfile.write(body[i : i + size])
                self.wfile.flush()
                time.sleep(every)
        else:
            self.final_write_at = time.monotonic()
            self.wfile.write(body)
        self.wfile.flush()
        return status
