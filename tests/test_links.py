"""Links worth crawling: parseable pages from any host, index pages of the same site."""

from __future__ import annotations

from helpers import SEED_URL, get_fixture

from parsers import extract_links
from parsers.links import follow


def test_kpi_page_links_its_index_and_project_pages() -> None:
    assert extract_links(get_fixture("kpi/dp_0411-2029.table.utf8.html"), SEED_URL) == [
        "https://dp.bangkok.go.th/mobile/index.php",
        "http://dp1.bangkok.go.th/mobile/myproject.php?pid=04110000-3766",
    ]


def test_department_page_links_entries_and_deduplicates_index_pages() -> None:
    url = "http://monitor.bangkok.go.th/mobile/index11.php?selDEP=23000000&selYear=2564"
    body = get_fixture("department/monitor_index11_23000000_2564.table.utf8.html")
    assert extract_links(body, url) == [
        "http://monitor.bangkok.go.th/mobile/index.php",
        "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=2300-0813",
    ]


def test_relative_project_link_is_made_absolute() -> None:
    url = "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=5013-0904"
    body = get_fixture("kpi/monitor_5013-0904.br.utf8.html")
    assert "http://monitor.bangkok.go.th/mobile/myproject.php?pid=50010000-3418" in extract_links(
        body, url
    )


def test_follow_keeps_kinds_and_same_site_index_pages_only() -> None:
    url = "https://dp.bangkok.go.th/mobile/index102.php?selDEP=50350000"
    hrefs = [
        " mykpi.php?pid=5035-905#top ",
        "mykpi.php?pid=5035-905",
        "http://monitor.bangkok.go.th/mobile/mykpi2563.php?pid=181",
        "http://monitor.bangkok.go.th/mobile/index11.php?selDEP=1&selYear=2564",
        "index103.php?selDEP=50350000",
        "../mobile62/index.php",
        "print.php?pid=x",
        "mailto:someone@bangkok.go.th",
        "https://www.facebook.com/mykpi.php",
    ]
    assert follow(url, hrefs) == [
        "https://dp.bangkok.go.th/mobile/mykpi.php?pid=5035-905",
        "http://monitor.bangkok.go.th/mobile/mykpi2563.php?pid=181",
        "https://dp.bangkok.go.th/mobile/index103.php?selDEP=50350000",
        "https://dp.bangkok.go.th/mobile62/index.php",
    ]
