"""Judge a capture before it becomes the record: can what the site sent be trusted?

Contract: pure functions, no I/O. ``judge(response, parsed, baseline)`` classifies one fetched
page, given the new parse (a record or the ``ParseError``) and what the last ``complete`` capture
of the same URL left (``Baseline``: its record as stored in ``kpi_versions.record`` and its body
size), as one of:

- ``complete``: the page as the site meant to send it; only these replace current values.
- ``partial``: cut short (a body shorter than its Content-Length, no closing ``</html>``, a
  close-delimited body much shorter than the last complete one, PHP/MySQL error text at the end)
  or a section the last complete capture had is now missing or cut (reports, quarters,
  definition, strategies …). A short rendering (``compact``, ``flattened``) is not partial: it is
  complete for the fields it shows (``archive.changes.merge`` keeps the others).
- ``foreign``: the final URL after redirects, or the pid printed on the page, names another page.
- ``error_page``: an HTTP error, an empty body, a PHP/MySQL error or "no data" page.
- ``unparseable``: none of the above, but the parser could not read it.

Every class but ``complete`` carries a reason in Thai and in English for the ``held_captures``
query. ``is_revisit`` tells when a new body differs from the last one only in what no reader can
see, so the capture can point at the earlier snapshot instead of storing a new one.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from archive.changes import label
from kpi_archive.errors import ParseError
from kpi_archive.web import query_value
from parsers.models import DepartmentPage, KpiPage, ProjectPage
from scraper.models import FetchResult

CaptureClass = Literal["complete", "partial", "foreign", "error_page", "unparseable"]
AnyRecord = KpiPage | ProjectPage | DepartmentPage

# A close-delimited body under half the last complete one was cut, not edited: a KPI page
# grows by reports and never loses half its text between two nights.
SHORT_BODY_RATIO = 0.5
SHORT_BODY_FLOOR = 1024  # below a kilobyte the last body is no yardstick (a KPI page is ~20 KB)
# PHP prints its errors where the script died, so only the end of the body is searched.
ERROR_TAIL_BYTES = 2048
# Lists whose length the site only grows; text sections a cut page ends inside. A full capture
# that has fewer items or a cut-off prefix of the last complete text is partial.
LIST_SECTIONS = ("quarters", "reports", "strategies", "projects", "entries")
TEXT_SECTIONS = (
    "summary",
    "definition",
    "calculation",
    "data_sources",
    "rationale",
    "objectives",
    "goals",
)
# The fields (and query keys) that say which page a URL or a record is.
IDENTITY_KEYS = ("pid", "selDEP", "selYear", "project_id")

_ERROR_TEXT = re.compile(
    rb"PHP (?:Fatal|Parse) error|PHP Warning|\bFatal error\s*:|\bParse error\s*:"
    rb"|Warning\s*:\s*mysqli?_|You have an error in your SQL syntax|MySQL server has gone away"
    rb"|Too many connections|Uncaught (?:mysqli_sql_)?exception",
    re.IGNORECASE,
)
_ERROR_HINTS = (b"error", b"warning", b"exception", b"connections", b"gone away")
_TAGS = re.compile(rb"<[^>]*>")
_START_OF_PAGE = re.compile(rb"<html[\s>]", re.IGNORECASE)
_END_OF_PAGE = re.compile(rb"</html\s*>", re.IGNORECASE)
# "no data found", as a removed or unknown pid answers, in the two encodings the site uses.
_NO_DATA = tuple("ไม่พบข้อมูล".encode(codec) for codec in ("utf-8", "cp874"))
_THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")


@dataclass(frozen=True)
class Baseline:
    """What the last complete capture of a URL left: its record and its body's size."""

    record: Mapping[str, Any]
    body_length: int
    ended: bool = True  # its body had a closing </html>
    encoding: str | None = None  # sizes compare only in one codec (cp874 is a third of UTF-8)


@dataclass(frozen=True)
class Verdict:
    """A capture's class and, unless it is complete, why (in Thai and in English)."""

    capture_class: CaptureClass
    reason_th: str | None = None
    reason_en: str | None = None
    by_sections: bool = False  # held for what the record lacks, not for what the bytes show

    @property
    def complete(self) -> bool:
        """Whether this capture may replace current values and write a version."""
        return self.capture_class == "complete"

    @property
    def reason(self) -> str | None:
        """``"<Thai> / <English>"``, as the ``captures.capture_reason`` column keeps it."""
        if self.reason_th is None:
            return None
        return f"{self.reason_th} / {self.reason_en}"


COMPLETE = Verdict("complete")


def judge(
    response: FetchResult,
    parsed: AnyRecord | ParseError | None,
    baseline: Baseline | None = None,
) -> Verdict:
    """Classify one fetched page before it becomes the record (see the module docstring)."""
    body = response.body
    if not 200 <= response.status < 300:
        return _error(f"HTTP {response.status}", f"สถานะ HTTP {response.status}")
    moved = _redirected(response.url, response.final_url)
    if moved is not None:
        return moved
    error_text = _error_tail(body)
    if isinstance(parsed, ParseError):
        return _unreadable(body, error_text, parsed, _cut(response, baseline, None))
    if parsed is None:
        return COMPLETE  # not a page we read (robots.txt, an IT report): nothing to judge
    wrong = _foreign_record(response.url, parsed)
    if wrong is not None:
        return wrong
    if error_text is not None:
        return Verdict(
            "partial",
            f"หน้าจบด้วยข้อความผิดพลาดของ PHP/MySQL: {error_text!r}",
            f"the page ends in PHP/MySQL error text: {error_text!r}",
        )
    cut = _cut(response, baseline, parsed.encoding)
    if cut is not None:
        return cut
    if baseline is None:
        return COMPLETE
    return _missing_sections(parsed, baseline.record)


def is_revisit(
    old_record: Mapping[str, Any] | None,
    new_record: Mapping[str, Any] | None,
    old_text: Sequence[str] | str,
    new_text: Sequence[str] | str,
) -> bool:
    """Whether a new body shows a reader exactly what the last one did (a WARC revisit).

    True when the visible texts are equal (lines or whole text, spacing ignored) and the parsed
    records are equal but for what describes the parse (``warnings``, ``encoding``). A timestamp
    in a comment or a script, or a session id in a link, changes neither.
    """
    return fingerprint(old_record, old_text) == fingerprint(new_record, new_text)


def fingerprint(record: Mapping[str, Any] | None, visible: Sequence[str] | str) -> str:
    """A digest of what a reader sees: the visible lines (spacing ignored) and the record."""
    shown = {"visible": _visible(visible), "record": record and _without_parse_notes(record)}
    text = json.dumps(shown, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def ends_page(body: bytes) -> bool:
    """Whether ``body`` closes the ``<html>`` it opened (a body that opened none counts as closed).

    Whitespace, comments or a script may follow the closing tag.
    """
    if _START_OF_PAGE.search(body[:ERROR_TAIL_BYTES]) is None:
        return True
    return _END_OF_PAGE.search(body[-ERROR_TAIL_BYTES:]) is not None


def page_identity(url: str | None) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """(host, path, identifying query values) of a URL; scheme and other parameters ignored."""
    parts = urlsplit(url or "")
    host = (parts.hostname or "").removeprefix("www.")
    values = ((k, query_value(url, k)) for k in IDENTITY_KEYS)
    keys = tuple((k, normal_pid(v)) for k, v in values if v is not None)
    return host, parts.path.rstrip("/").lower() or "/", keys


def normal_pid(pid: str | None) -> str:
    """A pid as it compares: Thai digits as Arabic, no spaces, no leading zeros per part.

    ``5035-0905``, ``5035-905`` and ``๕๐๓๕-๙๐๕`` are one pid; the site prints both forms.
    """
    text = "".join((pid or "").translate(_THAI_DIGITS).split()).upper()
    return "-".join(str(int(p)) if p.isdigit() else p for p in text.split("-"))


def _error(en: str, th: str) -> Verdict:
    return Verdict("error_page", th, en)


def _redirected(url: str, final_url: str) -> Verdict | None:
    if url == final_url or page_identity(url) == page_identity(final_url):
        return None
    named = query_value(final_url, "pid") or query_value(final_url, "selDEP")
    if named:
        return Verdict(
            "foreign",
            f"ถูกเปลี่ยนเส้นทางไปยังหน้าอื่น ({named}): {final_url}",
            f"redirected to another page ({named}): {final_url}",
        )
    return _error(
        f"redirected to {final_url} instead of the page",
        f"ถูกเปลี่ยนเส้นทางไปที่ {final_url} แทนหน้าที่ขอ",
    )


def _foreign_record(url: str, record: AnyRecord) -> Verdict | None:
    if isinstance(record, DepartmentPage):
        shown, wanted = record.agency_code, query_value(url, "selDEP")
    else:
        shown, wanted = record.pid, query_value(url, "pid")
    if not shown or not wanted or shown == wanted or normal_pid(shown) == normal_pid(wanted):
        return None
    return Verdict(
        "foreign",
        f"รหัสบนหน้า ({shown}) ไม่ตรงกับรหัสใน URL ({wanted})",
        f"the page shows pid {shown}, not the URL's {wanted}",
    )


def _error_tail(body: bytes) -> str | None:
    tail = body[-ERROR_TAIL_BYTES:]
    lowered = tail.lower()
    if not any(hint in lowered for hint in _ERROR_HINTS):
        return None  # most pages: a few substring scans instead of a regex over the tail
    tail = _TAGS.sub(b"", tail)
    match = _ERROR_TEXT.search(tail)
    return match.group(0).decode("ascii", "replace") if match else None


def _unreadable(
    body: bytes, error_text: str | None, error: ParseError, cut: Verdict | None
) -> Verdict:
    if not body.strip():
        return _error("empty body", "หน้าว่าง ไม่มีเนื้อหา")
    if error_text is not None:
        en, th = "PHP/MySQL error page", "หน้าข้อผิดพลาด PHP/MySQL"
        return _error(f"{en}: {error_text!r}", f"{th}: {error_text!r}")
    if any(marker in body for marker in _NO_DATA):
        return _error("a 'no data found' page (ไม่พบข้อมูล)", "หน้าแจ้งว่าไม่พบข้อมูล")
    if cut is not None:
        assert cut.reason_th is not None and cut.reason_en is not None
        return Verdict("partial", cut.reason_th, cut.reason_en + f" ({error.reason})")
    return Verdict(
        "unparseable", f"อ่านหน้าไม่ได้: {error.reason}", f"could not be read: {error.reason}"
    )


def _cut(response: FetchResult, baseline: Baseline | None, codec: str | None) -> Verdict | None:
    size = len(response.body)
    declared = response.header("content-length")
    # With a Content-Encoding the length counted the compressed bytes; the body here is decoded.
    counted = declared is not None and not response.header("content-encoding")
    if counted and declared is not None and declared.strip().isdigit() and size < int(declared):
        return Verdict(
            "partial",
            f"ได้รับ {size:,} จาก {int(declared):,} ไบต์ตาม Content-Length",
            f"{size:,} of the {int(declared):,} bytes its Content-Length promised",
        )
    if not ends_page(response.body) and (baseline is None or baseline.ended):
        return Verdict("partial", "หน้าถูกตัด: ไม่มีแท็กปิด </html>", "cut off: no closing </html>")
    if (
        declared is None
        and baseline is not None
        and codec == baseline.encoding
        and baseline.body_length >= SHORT_BODY_FLOOR
        and size < baseline.body_length * SHORT_BODY_RATIO
    ):
        return Verdict(
            "partial",
            f"หน้าสั้นกว่าครั้งล่าสุดที่สมบูรณ์มาก ({size:,} จาก {baseline.body_length:,} ไบต์)",
            f"much shorter than the last complete capture ({size:,} of {baseline.body_length:,}"
            " bytes) and no Content-Length",
        )
    return None


def _missing_sections(record: AnyRecord, last: Mapping[str, Any]) -> Verdict:
    if record.rendering != "full" or last.get("rendering", "full") != "full":
        return COMPLETE
    new = record.model_dump(mode="json")
    if record.truncated and not last.get("truncated", False):
        return Verdict(
            "partial",
            "หน้าจบก่อนส่วนท้ายของหน้า ขณะที่ครั้งล่าสุดที่สมบูรณ์ไม่เป็นเช่นนั้น",
            "the page ends before its footer; the last complete capture did not",
            by_sections=True,
        )
    for name in LIST_SECTIONS:
        before, after = len(last.get(name) or []), len(new.get(name) or [])
        if after < before:
            return Verdict(
                "partial",
                f"ส่วน {label(name)} สั้นลง: {before} → {after} รายการ",
                f"section {name} shrank: {before} → {after} items",
                by_sections=True,
            )
    for name in TEXT_SECTIONS:
        before_text, after_text = _squash(last.get(name)), _squash(new.get(name))
        if before_text and before_text != after_text and before_text.startswith(after_text):
            what = "หายไป" if not after_text else "ถูกตัด"
            gone = "is missing" if not after_text else "is cut short"
            return Verdict(
                "partial",
                f"ส่วน {label(name)} {what} ({len(before_text)} → {len(after_text)} ตัวอักษร)",
                f"section {name} {gone} ({len(before_text)} → {len(after_text)} characters)",
                by_sections=True,
            )
    return COMPLETE


def _squash(value: object) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


def _visible(text: Sequence[str] | str) -> list[str]:
    lines = text.splitlines() if isinstance(text, str) else text
    return [squashed for line in lines if (squashed := " ".join(line.split()))]


def _without_parse_notes(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in ("warnings", "encoding")}
