"""Seeds: the bundled lists and the enumeration helpers behind --agencies, --years, --pid-range."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from kpi_archive.errors import ConfigError
from parsers.thai import fiscal_year
from scraper import seeds

SHARED = Path(__file__).resolve().parents[2] / "shared" / "realpages" / "urls.txt"


def test_the_bundled_seed_list_has_every_real_url() -> None:
    urls = seeds.bundled_seed_urls()
    assert len(urls) == 413
    assert "https://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2029" in urls
    assert seeds.seed_hosts(urls) == {
        "bmavisions.com",
        "dp.bangkok.go.th",
        "dp1.bangkok.go.th",
        "dp2.bangkok.go.th",
        "monitor.bangkok.go.th",
        "policy.bangkok.go.th",
    }


@pytest.mark.skipif(not SHARED.is_file(), reason="../shared is not checked out")
def test_the_bundled_seed_list_is_a_copy_of_the_shared_one() -> None:
    assert seeds.bundled_seed_urls() == SHARED.read_text(encoding="utf-8").split()


def test_the_bundled_agencies_are_pid_prefixes_plus_four_zeros() -> None:
    agencies = seeds.bundled_agencies()
    assert len(agencies) == 73
    assert agencies[:3] == ["01000000", "02000000", "03000000"]
    assert "50350000" in agencies and "04110000" in agencies
    assert all(len(a) == 8 and a.endswith("0000") for a in agencies)


def test_agency_reports_cover_every_year_and_the_index10x_pages() -> None:
    urls = seeds.agency_report_urls(["50350000"], [2564, 2565], "http://monitor.bangkok.go.th")
    assert urls == [
        "http://monitor.bangkok.go.th/mobile/index11.php?selDEP=50350000&selYear=2564",
        "http://monitor.bangkok.go.th/mobile/index11.php?selDEP=50350000&selYear=2565",
        "http://monitor.bangkok.go.th/mobile/index101.php?selDEP=50350000",
        "http://monitor.bangkok.go.th/mobile/index102.php?selDEP=50350000",
        "http://monitor.bangkok.go.th/mobile/index103.php?selDEP=50350000",
    ]


def test_pid_ranges_keep_the_zero_padding_of_the_first_pid() -> None:
    prefix, first, last, digits = seeds.parse_pid_range("5001:0700-0702")
    assert (prefix, first, last, digits) == ("5001", 700, 702, 4)
    urls = seeds.pid_range_urls(prefix, first, last, "https://dp.bangkok.go.th", digits=digits)
    assert urls == [
        "https://dp.bangkok.go.th/mobile/mykpi.php?pid=5001-0700",
        "https://dp.bangkok.go.th/mobile/mykpi.php?pid=5001-0701",
        "https://dp.bangkok.go.th/mobile/mykpi.php?pid=5001-0702",
    ]


@pytest.mark.parametrize(
    ("spec", "years"),
    [("2564-2566", [2564, 2565, 2566]), ("2565", [2565]), (" 2566 - 2566 ", [2566])],
)
def test_years_parse(spec: str, years: list[int]) -> None:
    assert seeds.parse_years(spec) == years


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("2566-2564", "runs backwards"),
        ("2023", "Buddhist Era"),
        ("last year", "must look like"),
    ],
)
def test_bad_years_are_config_errors(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        seeds.parse_years(spec)


def test_agencies_parse_from_prefixes_codes_or_all() -> None:
    assert seeds.parse_agencies("5035, 04110000,5035") == ["50350000", "04110000"]
    assert seeds.parse_agencies("all") == seeds.bundled_agencies()
    with pytest.raises(ConfigError, match="'50x5' is not"):
        seeds.parse_agencies("50x5")


def test_bad_pid_ranges_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="must look like"):
        seeds.parse_pid_range("5001-0700")
    with pytest.raises(ConfigError, match="runs backwards"):
        seeds.parse_pid_range("5001:0900-0700")


def test_the_fiscal_year_turns_over_on_the_first_of_october() -> None:
    assert fiscal_year(dt.date(2023, 9, 30)) == 2566
    assert fiscal_year(dt.date(2023, 10, 1)) == 2567


def test_a_seeds_file_skips_comments_and_rejects_relative_urls(tmp_path: Path) -> None:
    good = tmp_path / "seeds.txt"
    good.write_text("# night list\nhttp://dp1.bangkok.go.th/mobile/mykpi.php?pid=0100-1\n\n")
    assert seeds.read_seeds_file(good) == ["http://dp1.bangkok.go.th/mobile/mykpi.php?pid=0100-1"]
    bad = tmp_path / "bad.txt"
    bad.write_text("/mobile/mykpi.php?pid=0100-1\n")
    with pytest.raises(ConfigError, match="not an absolute http"):
        seeds.read_seeds_file(bad)
    unreadable = tmp_path / "unreadable.txt"
    unreadable.write_text("http://[object Object]/mobile/mykpi.php?pid=0100-1\n")
    with pytest.raises(ConfigError, match=re.escape(f"seeds file {unreadable}: not an absolute")):
        seeds.read_seeds_file(unreadable)
    with pytest.raises(ConfigError, match="cannot read seeds file"):
        seeds.read_seeds_file(tmp_path / "absent.txt")
