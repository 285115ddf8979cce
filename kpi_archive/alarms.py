"""Exit codes, and the judgement that turns a crawl's counts into an alarm.

Every exit code the project uses is a named constant here, so cron, systemd and the README agree
with the code. ``site_problem(evidence)`` is pure: it reads the counts of one run and says whether
they look like trouble with the whole site (a redesign, an outage, a block) rather than a few bad
pages. ``crawl_outcome`` picks a run's outcome and exit code from what happened, most serious
first.

A nightly crawl can only raise an alarm through its exit code and the ``runs`` row it leaves, so
"nothing archived" must never look like success: a site answering every page with an error page,
an empty 200 or "ไม่พบข้อมูล" (all unparseable), refusing every request, or disallowing every seed
in robots.txt, exits ``SITE_PROBLEM``.
"""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

# Exit codes of `kpi-archive crawl` (and `status`, which reuses the ones that apply to it).
OK = 0
PAGES_FAILED = 1  # crawl: some pages failed (retried next run); status: the last crawl failed
USAGE = 2  # a bad option or setting, or a file that is not an archive
LOCKED = 3  # another live crawl holds the archive's lock
SITE_PROBLEM = 4  # the run looks like trouble with the whole site, not with a few pages
DEADLINE = 5  # --deadline reached: the rest stays queued for the next run
STALE = 6  # status: no crawl has completed within --max-age
INTERRUPTED = 7  # status: the last crawl was stopped by a signal before it finished
SIGINT_EXIT = 128 + signal.SIGINT  # 130, the shell's convention for a process ended by Ctrl-C
SIGTERM_EXIT = 128 + signal.SIGTERM  # 143, ... and by SIGTERM (systemd stop, timeout)

EXIT_CODES: dict[int, str] = {
    OK: "ok",
    PAGES_FAILED: "some pages failed (crawl) / the last crawl failed (status)",
    USAGE: "usage error or not an archive",
    LOCKED: "another crawl holds the lock",
    SITE_PROBLEM: "site problem: most pages unusable, every host refusing or robots.txt blocks all",
    DEADLINE: "deadline reached; the rest stays queued",
    STALE: "status: no crawl completed within the maximum age",
    INTERRUPTED: "status: the last crawl was interrupted",
    SIGINT_EXIT: "crawl interrupted by SIGINT",
    SIGTERM_EXIT: "crawl interrupted by SIGTERM",
}

# Outcomes a finished run records beside its exit code; also "interrupted" (130 or 143) and
# "failed" (the crawl itself crashed). A run with no end recorded is "running" or "abandoned".
OUTCOMES: dict[str, int] = {
    "ok": OK,
    "pages_failed": PAGES_FAILED,
    "site_problem": SITE_PROBLEM,
    "deadline": DEADLINE,
}

# Fewer pages than this are too little evidence to blame the whole site; one bad seed of a
# one-seed crawl is "some pages failed".
MIN_PAGES = 3
# "Most" pages: more than this share of the pages that answered were unparseable or held.
UNUSABLE_SHARE = 0.5


@dataclass(frozen=True)
class RunEvidence:
    """What one run saw, as counts: the input of ``site_problem``."""

    fetched: int = 0  # pages requested
    parse_errors: int = 0  # answered with a body no parser understands (error page, empty 200)
    held: int = 0  # answered with a capture judged untrustworthy (truncated, foreign, ...)
    failed: int = 0  # no usable answer (connection error, timeout, 5xx, 403, 429)
    tried_by_host: Mapping[str, int] = field(default_factory=dict)  # pages requested per host
    failed_by_host: Mapping[str, int] = field(default_factory=dict)  # of those, failed
    seeds: int = 0  # seed URLs of the run
    seeds_blocked: int = 0  # seeds robots.txt disallowed


@dataclass(frozen=True)
class Verdict:
    """Whether a run looks like a site problem, and why in one sentence."""

    site_problem: bool
    reason: str | None = None


def site_problem(evidence: RunEvidence) -> Verdict:
    """Decide "site problem" vs "a few bad pages" from one run's counts (pure)."""
    e = evidence
    if e.seeds and e.seeds_blocked >= e.seeds:
        return Verdict(True, f"robots.txt disallows every seed ({e.seeds_blocked} of {e.seeds})")
    tried = {host: n for host, n in e.tried_by_host.items() if n > 0}
    if sum(tried.values()) >= MIN_PAGES and all(
        e.failed_by_host.get(host, 0) >= n for host, n in tried.items()
    ):
        hosts = ", ".join(sorted(tried))
        return Verdict(
            True, f"every host refused: {e.failed} of {e.fetched} pages failed ({hosts})"
        )
    answered = e.fetched - e.failed
    unusable = e.parse_errors + e.held
    if answered >= MIN_PAGES and unusable > UNUSABLE_SHARE * answered:
        return Verdict(
            True,
            f"most pages unusable: {unusable} of {answered} answered pages unparseable "
            f"({e.parse_errors}) or held ({e.held})",
        )
    return Verdict(False)


class Tally:
    """Collects a run's evidence page by page: ``record(url, outcome)`` after each page."""

    def __init__(self, seeds: Iterable[str] = ()) -> None:
        self.seeds = set(seeds)
        self.outcomes: Counter[str] = Counter()
        self.tried: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.seeds_blocked = 0

    def record(self, url: str, outcome: str) -> None:
        """One page's outcome: ``blocked`` (robots.txt), ``failed``, ``parse_error``, ``held``,
        ``error`` (a crash while handling it), any other status of ``archive.save``, or
        ``fresh`` / ``deferred`` (not fetched, no evidence either way)."""
        if outcome in ("fresh", "deferred"):
            return
        if outcome == "blocked":
            self.seeds_blocked += url in self.seeds
            return
        host = urlsplit(url).hostname or ""
        outcome = "failed" if outcome == "error" else outcome
        self.outcomes[outcome] += 1
        self.tried[host] += 1
        if outcome == "failed":
            self.failed[host] += 1

    def evidence(self) -> RunEvidence:
        """The counts so far, for ``site_problem``."""
        return RunEvidence(
            fetched=sum(self.tried.values()),
            parse_errors=self.outcomes["parse_error"],
            held=self.outcomes["held"],
            failed=self.outcomes["failed"],
            tried_by_host=dict(self.tried),
            failed_by_host=dict(self.failed),
            seeds=len(self.seeds),
            seeds_blocked=self.seeds_blocked,
        )


def crawl_outcome(
    *,
    verdict: Verdict,
    failed: int,
    deadline_reached: bool = False,
    signal_number: int | None = None,
    lock_lost: bool = False,
) -> tuple[str, int, str | None]:
    """A finished run's (outcome, exit code, reason), the most serious first."""
    if lock_lost:
        return "failed", PAGES_FAILED, "another crawl took the lock over; this one stopped early"
    if signal_number is not None:
        name = signal.Signals(signal_number).name
        return "interrupted", 128 + signal_number, f"stopped by {name}"
    if verdict.site_problem:
        return "site_problem", SITE_PROBLEM, verdict.reason
    if deadline_reached:
        return "deadline", DEADLINE, "the rest stays queued for the next run"
    if failed:
        return "pages_failed", PAGES_FAILED, f"{failed} page{'s' if failed > 1 else ''} failed"
    return "ok", OK, None


OUTCOME_LABELS = {
    "site_problem": "site problem",
    "deadline": "deadline reached",
    "interrupted": "interrupted",
    "failed": "crawl failed",
}


def outcome_of(exit_code: int | None, finished: str | None) -> str:
    """A run's outcome from its exit code alone (archives written before ``runs.outcome``)."""
    if finished is None and exit_code is None:
        return "unfinished"
    if exit_code in (SIGINT_EXIT, SIGTERM_EXIT):
        return "interrupted"
    for outcome, code in OUTCOMES.items():
        if code == exit_code:
            return outcome
    return "failed"
