"""kpi_archive.alarms: exit codes, and a site problem told apart from a few bad pages."""

from __future__ import annotations

import signal

import pytest

from kpi_archive import alarms
from kpi_archive.alarms import RunEvidence, Verdict, crawl_outcome, outcome_of, site_problem

HOSTS = {"dp.bangkok.go.th": 20, "monitor.bangkok.go.th": 20}


def test_exit_codes_are_distinct_and_each_is_described() -> None:
    codes = [
        alarms.OK,
        alarms.PAGES_FAILED,
        alarms.USAGE,
        alarms.LOCKED,
        alarms.SITE_PROBLEM,
        alarms.DEADLINE,
        alarms.STALE,
        alarms.INTERRUPTED,
        alarms.SIGINT_EXIT,
        alarms.SIGTERM_EXIT,
    ]
    assert codes == [0, 1, 2, 3, 4, 5, 6, 7, 130, 143]
    assert sorted(alarms.EXIT_CODES) == codes


def test_every_page_unparseable_is_a_site_problem() -> None:
    verdict = site_problem(RunEvidence(fetched=40, parse_errors=40, tried_by_host=HOSTS))
    assert verdict == Verdict(
        True, "most pages unusable: 40 of 40 answered pages unparseable (40) or held (0)"
    )


def test_most_pages_unparseable_or_held_together_is_a_site_problem() -> None:
    evidence = RunEvidence(fetched=40, parse_errors=12, held=10, failed=2, tried_by_host=HOSTS)
    assert site_problem(evidence) == Verdict(
        True, "most pages unusable: 22 of 38 answered pages unparseable (12) or held (10)"
    )


def test_a_few_bad_pages_are_not_a_site_problem() -> None:
    evidence = RunEvidence(
        fetched=40,
        parse_errors=3,
        held=2,
        failed=5,
        tried_by_host=HOSTS,
        failed_by_host={"dp.bangkok.go.th": 5},
    )
    assert site_problem(evidence) == Verdict(False)


def test_half_the_pages_unusable_is_not_yet_most() -> None:
    assert site_problem(RunEvidence(fetched=40, parse_errors=20)).site_problem is False


def test_every_host_refusing_is_a_site_problem() -> None:
    evidence = RunEvidence(fetched=40, failed=40, tried_by_host=HOSTS, failed_by_host=HOSTS)
    assert site_problem(evidence) == Verdict(
        True, "every host refused: 40 of 40 pages failed (dp.bangkok.go.th, monitor.bangkok.go.th)"
    )


def test_one_host_down_while_another_answers_is_not_a_site_problem() -> None:
    evidence = RunEvidence(
        fetched=40, failed=20, tried_by_host=HOSTS, failed_by_host={"dp.bangkok.go.th": 20}
    )
    assert site_problem(evidence).site_problem is False


def test_robots_disallowing_every_seed_is_a_site_problem_even_with_nothing_fetched() -> None:
    assert site_problem(RunEvidence(seeds=6, seeds_blocked=6)) == Verdict(
        True, "robots.txt disallows every seed (6 of 6)"
    )
    assert site_problem(RunEvidence(seeds=6, seeds_blocked=5)) == Verdict(False)


@pytest.mark.parametrize(
    "evidence",
    [
        RunEvidence(fetched=1, parse_errors=1),
        RunEvidence(
            fetched=2,
            failed=2,
            tried_by_host={"dp.bangkok.go.th": 2},
            failed_by_host={"dp.bangkok.go.th": 2},
        ),
        RunEvidence(),
    ],
)
def test_too_few_pages_are_no_evidence_against_the_whole_site(evidence: RunEvidence) -> None:
    assert site_problem(evidence) == Verdict(False)


def test_the_most_serious_outcome_decides_the_exit_code() -> None:
    problem = Verdict(True, "robots.txt disallows every seed (6 of 6)")
    fine = Verdict(False)
    assert crawl_outcome(
        verdict=problem, failed=3, deadline_reached=True, signal_number=signal.SIGTERM
    ) == ("interrupted", 143, "stopped by SIGTERM")
    assert crawl_outcome(verdict=fine, failed=0, signal_number=signal.SIGINT) == (
        "interrupted",
        130,
        "stopped by SIGINT",
    )
    assert crawl_outcome(verdict=problem, failed=3, deadline_reached=True) == (
        "site_problem",
        4,
        "robots.txt disallows every seed (6 of 6)",
    )
    assert crawl_outcome(verdict=fine, failed=3, deadline_reached=True) == (
        "deadline",
        5,
        "the rest stays queued for the next run",
    )
    assert crawl_outcome(verdict=fine, failed=3) == ("pages_failed", 1, "3 pages failed")
    assert crawl_outcome(verdict=fine, failed=1) == ("pages_failed", 1, "1 page failed")
    assert crawl_outcome(verdict=fine, failed=0) == ("ok", 0, None)


@pytest.mark.parametrize(
    ("exit_code", "finished", "outcome"),
    [
        (0, "2026-11-24T01:00:00Z", "ok"),
        (1, "2026-11-24T01:00:00Z", "pages_failed"),
        (4, "2026-11-24T01:00:00Z", "site_problem"),
        (5, "2026-11-24T01:00:00Z", "deadline"),
        (130, "2026-11-24T01:00:00Z", "interrupted"),
        (143, "2026-11-24T01:00:00Z", "interrupted"),
        (2, "2026-11-24T01:00:00Z", "failed"),
        (None, None, "unfinished"),
    ],
)
def test_an_old_run_row_gets_its_outcome_from_its_exit_code(
    exit_code: int | None, finished: str | None, outcome: str
) -> None:
    assert outcome_of(exit_code, finished) == outcome


def test_a_tally_turns_page_outcomes_into_evidence() -> None:
    seeds = ["http://dp.bangkok.go.th/a", "http://dp.bangkok.go.th/b"]
    tally = alarms.Tally(seeds)
    for url, outcome in [
        ("http://dp.bangkok.go.th/a", "blocked"),
        ("http://dp.bangkok.go.th/c", "blocked"),
        ("http://dp.bangkok.go.th/b", "parse_error"),
        ("http://dp.bangkok.go.th/d", "held"),
        ("http://dp.bangkok.go.th/e", "new"),
        ("http://monitor.bangkok.go.th/f", "failed"),
        ("http://monitor.bangkok.go.th/g", "error"),
        ("http://monitor.bangkok.go.th/h", "fresh"),
        ("http://monitor.bangkok.go.th/i", "deferred"),
    ]:
        tally.record(url, outcome)
    assert tally.evidence() == RunEvidence(
        fetched=5,
        parse_errors=1,
        held=1,
        failed=2,
        tried_by_host={"dp.bangkok.go.th": 3, "monitor.bangkok.go.th": 2},
        failed_by_host={"monitor.bangkok.go.th": 2},
        seeds=2,
        seeds_blocked=1,
    )


def test_a_crawl_that_lost_its_lock_failed_whatever_else_happened() -> None:
    assert crawl_outcome(
        verdict=Verdict(True, "robots.txt disallows every seed (6 of 6)"),
        failed=0,
        signal_number=signal.SIGTERM,
        lock_lost=True,
    ) == ("failed", 1, "another crawl took the lock over; this one stopped early")
