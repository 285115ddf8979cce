"""Links worth crawling: parseable pages and index pages of the page's own site, one rule."""

from __future__ import annotations

from helpers import SEED_URL, get_fixture

from parsers import extract_links, parse
from parsers.links import follow


def test_kpi_page_links_its_index_but_not_a_project_on_another_host() -> None:
    assert extract_links(get_fixture("kpi/dp_0411-2029.table.utf8.html"), SEED_URL) == [
        "https://dp.bangkok.go.th/mobile/index.php",
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


def test_follow_keeps_kinds_and_index_pages_of_the_same_host_only() -> None:
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
        "https://dp.bangkok.go.th/mobile/index103.php?selDEP=50350000",
        "https://dp.bangkok.go.th/mobile62/index.php",
    ]


def test_poisoned_hrefs_are_skipped_not_raised() -> None:
    url = "http://dp.bangkok.go.th/mobile/index11.php"
    hrefs = ["http://[object Object]", "http://[::1/x", "mykpi.php?pid=0411-2029"]
    assert follow(url, hrefs) == ["http://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2029"]


def test_page_with_a_poisoned_link_still_gives_its_record_and_links() -> None:
    body = get_fixture("kpi/dp_0411-2029.table.utf8.html").replace(
        b"<p>0</p>", b'<p>0</p><a href="http://[object Object]">x</a><base href="http://[x">'
    )
    parsed = parse(body, SEED_URL)
    assert parsed.error is None
    assert parsed.record is not None and parsed.record.pid == "0411-2029"
    assert parsed.links == ["https://dp.bangkok.go.th/mobile/index.php"]


def test_department_page_read_without_its_url_skips_a_poisoned_link() -> None:
    body = get_fixture("department/monitor_index11_23000000_2564.table.utf8.html").replace(
        b"</body>", b'<a href="http://[::1">x</a></body>', 1
    )
    parsed = parse(body, None)
    assert parsed.error is None
    assert parsed.record is not None and parsed.record.page_kind == "department"


def test_page_that_does_not_parse_still_gives_its_links() -> None:
    body = (
        "<p>ไม่พบข้อมูล</p><a href=mykpi.php?pid=0411-2029>x</a><a href=index11.php>y</a>"
    ).encode()
    parsed = parse(body, "http://dp.bangkok.go.th/mobile/index.php")
    assert parsed.record is None
    assert parsed.error is not None and parsed.error.missing == "page heading"
    assert parsed.result is parsed.error
    assert parsed.links == [
        "http://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2029",
        "http://dp.bangkok.go.th/mobile/index11.php",
    ]
    assert parsed.encoding == "utf-8"


def test_empty_body_gives_an_error_and_no_links() -> None:
    parsed = parse(b"  ", SEED_URL)
    assert (parsed.record, parsed.links, parsed.encoding) == (None, [], None)
    assert parsed.error is not None and parsed.error.missing == "content"
