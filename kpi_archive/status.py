"""Is the nightly crawl healthy? ``status(db, max_age, now)`` reads an archive and says.

Pure over an open ``sqlite_utils.Database`` and the ``now`` it is given: it writes nothing, prints
nothing and reads no clock, so cron, systemd, a monitor and the tests see the same report. It reads
the crawl's own tables (``runs``, ``frontier``, ``crawl_lock``) and ``pages`` / ``captures``, and
copes with archives written before ``runs.outcome``, ``runs.reason``, ``runs.held``,
``crawl_lock.heartbeat`` or ``captures.capture_class`` existed (each is read only when present).

Unhealthy, with the exit code each implies (``kpi_archive.alarms``), most serious first:

- the last crawl looked like a site problem → ``SITE_PROBLEM`` (4);
- the last crawl failed: it crashed, or ended without recording its end → ``PAGES_FAILED`` (1);
- the last crawl was interrupted by a signal → ``INTERRUPTED`` (7);
- no crawl completed (ok, some pages failed, or deadline reached) within ``max_age`` → ``STALE``
  (6).

A crawl that is running right now (its lock's heartbeat is fresh) is reported and not judged: the
run before it is. Some pages failing, or a deadline reached, are notes, not alarms: the next run
retries them, and pages that keep failing show up in the failing and not-refreshed lists. So are
pages whose current record an older parser wrote (``parser_version``, after an upgrade): a crawl
re-reads only the pages that changed, ``kpi-archive reparse`` reads them all again.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from archive import check_archive_file
from archive.schema import PAGE_TABLES, utc_iso
from kpi_archive import alarms
from kpi_archive.errors import ArchiveError
from parsers import PARSER_VERSION

DEFAULT_MAX_AGE = dt.timedelta(hours=36)  # a nightly job plus half a day of slack
PAGE_MAX_AGE = dt.timedelta(days=7)  # pages not fetched for this long are listed
LOCK_FRESH = dt.timedelta(minutes=10)  # a lock whose heartbeat is newer is a running crawl
RECENT_RUNS = 7  # runs the parse-error share is computed over
LIST_LIMIT = 10  # pages listed per kind; the counts cover them all

COMPLETED = ("ok", "pages_failed", "deadline")
COUNT_COLUMNS = ("fetched", "unchanged", "new", "changed", "failed", "gone", "missing",
                 "parse_error", "held", "skipped")  # fmt: skip
# Reason kind -> exit code, in the order of seriousness that picks the exit code.
SEVERITY = (
    ("site_problem", alarms.SITE_PROBLEM),
    ("failed", alarms.PAGES_FAILED),
    ("interrupted", alarms.INTERRUPTED),
    ("stale", alarms.STALE),
)


@dataclass(frozen=True)
class RunInfo:
    """One ``runs`` row as the report shows it."""

    id: int
    started: str | None
    finished: str | None
    outcome: str
    exit_code: int | None
    reason: str | None
    counts: dict[str, int]
    seconds: float | None


@dataclass(frozen=True)
class PageIssue:
    """A page that needs a look: held, failing or not refreshed."""

    url: str
    state: str
    reason: str | None
    since: str | None


@dataclass(frozen=True)
class PageList:
    """How many pages are in a list, and the first ``LIST_LIMIT`` of them."""

    count: int
    pages: list[PageIssue]


@dataclass(frozen=True)
class Problem:
    """One reason the archive is unhealthy, and the exit code it implies."""

    kind: str
    message: str
    exit_code: int


@dataclass(frozen=True)
class StatusReport:
    """The whole report; ``as_dict()`` is its JSON form, ``text()`` its human one."""

    checked_at: str
    max_age_hours: float
    healthy: bool
    exit_code: int
    problems: list[Problem]
    notes: list[str]
    running: RunInfo | None
    last_run: RunInfo | None
    last_completed: RunInfo | None
    held: PageList
    failing: PageList
    not_refreshed: PageList
    not_refreshed_days: float
    parse_errors: dict[str, Any]
    archive: dict[str, int]
    older_parser_pages: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: only dicts, lists, strings, numbers, booleans and None."""
        return asdict(self)

    def text(self) -> str:
        """A few lines for a terminal or a cron mail."""
        verdict = "healthy" if self.healthy else f"UNHEALTHY (exit {self.exit_code})"
        lines = [f"archive status at {self.checked_at}: {verdict}"]
        lines += [f"- {p.message}" for p in self.problems]
        lines += [f"note: {note}" for note in self.notes]
        completed = self.last_completed
        if completed is not None and self.last_run is not None and completed.id == self.last_run.id:
            completed = None  # the same run: said once
        for label, run in (("running", self.running), ("last run", self.last_run),
                           ("last completed run", completed)):  # fmt: skip
            if run is not None:
                lines.append(f"{label}: {_run_line(run)}")
        for label, pages in (
            ("held pages", self.held),
            ("failing pages", self.failing),
            (f"pages not refreshed for {self.not_refreshed_days:g} days", self.not_refreshed),
        ):
            lines.append(f"{label}: {pages.count}")
            lines += [f"  {_page_line(p)}" for p in pages.pages]
            if pages.count > len(pages.pages):
                lines.append(f"  … and {pages.count - len(pages.pages)} more")
        pe = self.parse_errors
        share = "n/a" if pe["share"] is None else f"{pe['share']:.1%}"
        lines.append(
            f"parse errors over the last {pe['runs']} runs: {pe['parse_errors']} of "
            f"{pe['fetched']} pages fetched ({share}), held {pe['held']}"
        )
        a = self.archive
        lines.append(
            f"archive: {a['bytes'] / 1e6:.1f} MB, {a['pages']} pages, {a['snapshots']} snapshots, "
            f"{a['captures']} captures"
        )
        return "\n".join(lines)


def open_readonly(path: str | Path) -> Database:
    """The archive at ``path``, read-only: a health check writes nothing, even beside a crawl."""
    path = Path(path)
    check_archive_file(path)
    try:
        db = Database(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True))
        db.execute("PRAGMA busy_timeout = 10000")
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise ArchiveError(f"cannot read the archive: {exc}", path=str(path)) from exc
    return db


def status(
    db: Database,
    max_age: dt.timedelta = DEFAULT_MAX_AGE,
    now: dt.datetime | None = None,
    *,
    page_max_age: dt.timedelta = PAGE_MAX_AGE,
    lock_fresh: dt.timedelta = LOCK_FRESH,
    recent_runs: int = RECENT_RUNS,
) -> StatusReport:
    """Read ``db`` and judge the crawl's health as of ``now`` (default: the current time)."""
    now = _aware(now or dt.datetime.now(dt.UTC))
    runs = _runs(db, limit=max(recent_runs, 50))
    running = runs[0] if runs and _is_running(db, runs[0], now - lock_fresh) else None
    judged = runs[1:] if running is not None else runs
    last = judged[0] if judged else None
    if last is not None and last.outcome == "unfinished":
        last = _replace(last, outcome="abandoned")
    completed = next((r for r in judged if r.outcome in COMPLETED and r.finished), None)
    problems, notes = _judge(last, completed, running, max_age, now)
    older = _older_parser_pages(db)
    if older:
        notes.append(
            f"{older} page(s) read by an older parser: `kpi-archive reparse` reads every "
            f"stored page again with this one (parser {PARSER_VERSION})"
        )
    exit_code = alarms.OK
    for kind, code in SEVERITY:
        if any(p.kind == kind for p in problems):
            exit_code = code
            break
    return StatusReport(
        checked_at=utc_iso(now),
        max_age_hours=round(max_age.total_seconds() / 3600, 3),
        healthy=not problems,
        exit_code=exit_code,
        problems=sorted(problems, key=lambda p: [k for k, _ in SEVERITY].index(p.kind)),
        notes=notes,
        running=running,
        last_run=last,
        last_completed=completed,
        held=_held(db),
        failing=_failing(db),
        not_refreshed=_not_refreshed(db, now - page_max_age),
        not_refreshed_days=round(page_max_age.total_seconds() / 86400, 3),
        parse_errors=_parse_error_share(judged[:recent_runs]),
        archive=_archive_size(db),
        older_parser_pages=older,
    )


def _judge(
    last: RunInfo | None,
    completed: RunInfo | None,
    running: RunInfo | None,
    max_age: dt.timedelta,
    now: dt.datetime,
) -> tuple[list[Problem], list[str]]:
    problems: list[Problem] = []
    notes: list[str] = []
    if running is not None:
        notes.append(f"a crawl is running: run {running.id}, started {running.started}")
    if last is not None:
        run = f"run {last.id} (started {last.started})"
        why = f": {last.reason}" if last.reason else ""
        if last.outcome == "site_problem":
            problems.append(
                Problem("site_problem", f"site problem in {run}{why}", alarms.SITE_PROBLEM)
            )
        elif last.outcome == "abandoned":
            message = f"{run} ended without recording its end (killed or crashed)"
            problems.append(Problem("failed", message, alarms.PAGES_FAILED))
        elif last.outcome == "interrupted":
            message = f"{run} was interrupted{why or f' (exit {last.exit_code})'}"
            problems.append(Problem("interrupted", message, alarms.INTERRUPTED))
        elif last.outcome not in COMPLETED:
            message = f"{run} failed with exit {last.exit_code}{why}"
            problems.append(Problem("failed", message, alarms.PAGES_FAILED))
        elif last.outcome == "pages_failed":
            notes.append(f"{run}: {last.counts.get('failed', 0)} pages failed")
        elif last.outcome == "deadline":
            notes.append(f"{run} reached its deadline; the rest stays queued")
    if completed is None:
        problems.append(Problem("stale", "no crawl has completed yet", alarms.STALE))
    else:
        finished = _parse(completed.finished)
        if finished is not None and now - finished > max_age:
            hours = (now - finished).total_seconds() / 3600
            limit = max_age.total_seconds() / 3600
            message = (
                f"stale: the last completed crawl (run {completed.id}) finished "
                f"{completed.finished}, {hours:.1f} h ago (max age {limit:g} h)"
            )
            problems.append(Problem("stale", message, alarms.STALE))
    return problems, notes


def _runs(db: Database, *, limit: int) -> list[RunInfo]:
    if not db["runs"].exists():
        return []
    columns = set(db["runs"].columns_dict)
    wanted = ["id", "started", "finished", "exit_code", "seconds", "hostname", "pid"]
    wanted += [c for c in ("outcome", "reason", *COUNT_COLUMNS) if c in columns]
    runs = []
    for row in db["runs"].rows_where(order_by="id desc", limit=limit, select=", ".join(wanted)):
        outcome = row.get("outcome") or alarms.outcome_of(row["exit_code"], row["finished"])
        counts = {c: int(row[c] or 0) for c in COUNT_COLUMNS if c in row}
        runs.append(RunInfo(int(row["id"]), row["started"], row["finished"], outcome,
                            row["exit_code"], row.get("reason"), counts,
                            row["seconds"]))  # fmt: skip
    return runs


def _is_running(db: Database, run: RunInfo, fresh_since: dt.datetime) -> bool:
    """The latest run is running if it is unfinished and the lock it holds is fresh."""
    if run.finished is not None or not db["crawl_lock"].exists():
        return False
    columns = set(db["crawl_lock"].columns_dict)
    beat = "heartbeat" if "heartbeat" in columns else "started_at"
    row = db.execute(f"SELECT run_id, [{beat}] FROM crawl_lock WHERE id = 1").fetchone()
    if row is None:
        return False
    run_id, last_beat = row
    at = _parse(last_beat)
    return (run_id is None or run_id == run.id) and at is not None and at >= fresh_since


def _held(db: Database) -> PageList:
    if not db["captures"].exists() or "capture_class" not in db["captures"].columns_dict:
        return PageList(0, [])
    reason = "c.capture_reason" if "capture_reason" in db["captures"].columns_dict else "NULL"
    rows = db.execute(
        f"""
        SELECT c.url, c.capture_class, {reason}, c.fetched_at
        FROM captures c
        JOIN (SELECT url, max(fetched_at) AS at FROM captures GROUP BY url) latest
          ON latest.url = c.url AND latest.at = c.fetched_at
        WHERE coalesce(c.capture_class, 'complete') != 'complete'
        ORDER BY c.fetched_at DESC, c.url
        """
    ).fetchall()
    return _page_list([PageIssue(*row) for row in rows])


def _failing(db: Database) -> PageList:
    found: dict[str, PageIssue] = {}
    if db["pages"].exists():
        # A known page keeps status "ok" on a 5xx (its last good record stays current); the error
        # is newer than its last good fetch. A parse error stays one until a parseable body comes.
        for row in db.execute(
            """
            SELECT url, status, last_error, last_error_at FROM pages
            WHERE status = 'parse_error'
               OR (last_error IS NOT NULL AND coalesce(status, '') NOT IN ('missing', 'gone')
                   AND (last_fetched IS NULL OR last_error_at >= last_fetched))
            """
        ):
            state = row[1] if row[1] == "parse_error" else "failed"
            found[row[0]] = PageIssue(row[0], state, row[2], row[3])
    if db["frontier"].exists():
        # A connection error or timeout leaves no trace in pages, only in the frontier.
        for url, error, at in db.execute(
            "SELECT url, last_error, updated_at FROM frontier WHERE state = 'failed'"
        ):
            known = found.get(url)
            if known is None or (at or "") > (known.since or ""):
                found[url] = PageIssue(url, "failed", error, at)
    issues = sorted(found.values(), key=lambda p: p.url)
    issues.sort(key=lambda p: p.since or "", reverse=True)
    return _page_list(issues)


def _not_refreshed(db: Database, before: dt.datetime) -> PageList:
    if not db["pages"].exists():
        return PageList(0, [])
    rows = db.execute(
        """
        SELECT url, coalesce(status, 'unknown'), last_fetched FROM pages
        WHERE last_fetched < ? AND coalesce(status, '') NOT IN ('missing', 'gone')
        ORDER BY last_fetched, url
        """,
        [utc_iso(before)],
    ).fetchall()
    return _page_list([PageIssue(url, state, None, since) for url, state, since in rows])


def _parse_error_share(runs: list[RunInfo]) -> dict[str, Any]:
    finished = [r for r in runs if r.finished is not None]
    fetched = sum(r.counts.get("fetched", 0) for r in finished)
    errors = sum(r.counts.get("parse_error", 0) for r in finished)
    held = sum(r.counts.get("held", 0) for r in finished)
    share = round(errors / fetched, 4) if fetched else None
    return {"runs": len(finished), "fetched": fetched, "parse_errors": errors, "held": held,
            "share": share}  # fmt: skip


def _older_parser_pages(db: Database) -> int:
    """Pages whose current record (a row of a ``PAGE_TABLES`` table) an older parser wrote."""
    older = 0
    for table in PAGE_TABLES:
        if db[table].exists():
            sql = f"SELECT count(*) FROM [{table}] WHERE parser_version IS NOT ?"
            older += db.execute(sql, [PARSER_VERSION]).fetchone()[0]
    return older


def _archive_size(db: Database) -> dict[str, int]:
    page_count = db.execute("PRAGMA page_count").fetchone()[0]
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    sizes = {"bytes": int(page_count) * int(page_size)}
    for table in ("pages", "snapshots", "captures"):
        sizes[table] = db[table].count if db[table].exists() else 0
    return sizes


def _page_list(issues: list[PageIssue]) -> PageList:
    return PageList(len(issues), issues[:LIST_LIMIT])


def _run_line(run: RunInfo) -> str:
    counts = ", ".join(f"{k} {v}" for k, v in run.counts.items() if v)
    end = run.finished or "not finished"
    reason = f": {run.reason}" if run.reason else ""
    exit_code = "" if run.exit_code is None else f", exit {run.exit_code}"
    return f"run {run.id}, {run.started} → {end}, {run.outcome}{exit_code}{reason}" + (
        f" ({counts})" if counts else ""
    )


def _page_line(page: PageIssue) -> str:
    reason = f": {page.reason}" if page.reason else ""
    return f"{page.url} {page.state}{reason} (since {page.since})"


def _replace(run: RunInfo, **changes: Any) -> RunInfo:
    return RunInfo(**{**asdict(run), **changes})


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _parse(value: str | None) -> dt.datetime | None:
    return _aware(dt.datetime.fromisoformat(value)) if value else None
