"""archive.judge: a damaged, foreign or error capture is told apart before it becomes the record."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from helpers import SEED_URL, get_fixture

from archive.judge import Baseline, Verdict, is_revisit, judge, normal_pid, page_identity
from kpi_archive.load import parse_or_error
from kpi_archive.replay import RECORDED_LATER, RECORDED_SITE
from parsers import parse_page
from parsers.detect import read
from scraper.models import FetchResult

COMPACT_URL = "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=2400-1060"
MOBILE62_URL = "http://monitor.bangkok.go.th/mobile62/mykpi.php?pid=0900-0981"
OTHER_URL = "http://monitor.bangkok.go.th/mobile/mykpi.php?pid=0200-0863"
SEED = get_fixture("kpi/dp_0411-2029.table.utf8.html")  # 17,841 bytes, 7 reports, 4 quarters
PHP_FATAL = (
    b"\n<br />\n<b>Fatal error</b>:  Allowed memory size of 134217728 bytes exhausted in "
    b"/var/www/mobile/mykpi.php on line 412<br />\n"
)
CUT_OFF = Verdict("partial", "หน้าถูกตัด: ไม่มีแท็กปิด </html>", "cut off: no closing </html>")


def fetched(
    body: bytes,
    url: str = SEED_URL,
    *,
    final_url: str | None = None,
    status: int = 200,
    length: int | None = None,
) -> FetchResult:
    """A response as the fetcher hands it on; ``length`` is the Content-Length sent, if any."""
    headers = {"Content-Type": "text/html; charset=utf-8"}
    if length is not None:
        headers["Content-Length"] = str(length)
    return FetchResult(
        url=url,
        final_url=final_url or url,
        status=status,
        headers=headers,
        body=body,
        fetched_at=dt.datetime(2026, 12, 3, 1, 0, tzinfo=dt.UTC),
    )


def verdict(body: bytes, baseline: Baseline | None = None, url: str = SEED_URL, **kw) -> Verdict:
    response = fetched(body, url, **kw)
    return judge(response, parse_or_error(parse_page, body, url, response.headers), baseline)


def seed_baseline(**changes) -> Baseline:
    record = parse_page(SEED, SEED_URL).model_dump(mode="json") | changes
    return Baseline(record, len(SEED), encoding="utf-8")


def test_the_whole_seed_page_is_complete() -> None:
    assert verdict(SEED, seed_baseline(), length=len(SEED)) == Verdict("complete")
    assert verdict(SEED) == Verdict("complete")


def test_a_body_shorter_than_its_content_length_is_partial() -> None:
    assert verdict(SEED[:17_000] + b"</html>", seed_baseline(), length=len(SEED)) == Verdict(
        "partial",
        "ได้รับ 17,007 จาก 17,841 ไบต์ตาม Content-Length",
        "17,007 of the 17,841 bytes its Content-Length promised",
    )


@pytest.mark.parametrize("size", [5_000, 17_000])
def test_a_close_delimited_page_cut_anywhere_is_partial(size: int) -> None:
    assert verdict(SEED[:size], seed_baseline()) == CUT_OFF


def test_a_page_cut_before_its_labels_is_partial_not_unparseable() -> None:
    assert verdict(SEED[:400], seed_baseline()) == Verdict(
        "partial",
        "หน้าถูกตัด: ไม่มีแท็กปิด </html>",
        "cut off: no closing </html> (no 'ค่าเป้าหมาย <unit> : <value>' line)",
    )


def test_a_first_capture_cut_off_is_partial_too() -> None:
    assert verdict(SEED[:15_000]) == CUT_OFF


def test_a_close_delimited_body_much_shorter_than_the_last_complete_one_is_partial() -> None:
    body = SEED[:5_000] + b"</td></tr></table></body></html>"
    assert verdict(body, seed_baseline()) == Verdict(
        "partial",
        "หน้าสั้นกว่าครั้งล่าสุดที่สมบูรณ์มาก (5,032 จาก 17,841 ไบต์)",
        "much shorter than the last complete capture (5,032 of 17,841 bytes) and no Content-Length",
    )


def test_a_page_ending_before_its_footer_when_the_last_did_not_is_partial() -> None:
    body = SEED[:5_000] + b"</td></tr></table></body></html>"
    assert verdict(body, seed_baseline(), length=len(body)) == Verdict(
        "partial",
        "หน้าจบก่อนส่วนท้ายของหน้า ขณะที่ครั้งล่าสุดที่สมบูรณ์ไม่เป็นเช่นนั้น",
        "the page ends before its footer; the last complete capture did not",
        by_sections=True,
    )


def test_a_section_shorter_than_in_the_last_complete_capture_is_partial() -> None:
    body = SEED[:5_000] + b"</td></tr></table></body></html>"
    assert verdict(body, seed_baseline(truncated=True), length=len(body)) == Verdict(
        "partial",
        "ส่วน รายงานผลฯ สั้นลง: 7 → 2 รายการ",
        "section reports shrank: 7 → 2 items",
        by_sections=True,
    )


def test_a_cut_page_followed_by_a_php_fatal_error_is_partial() -> None:
    assert verdict(SEED[:17_000] + PHP_FATAL, seed_baseline()) == Verdict(
        "partial",
        "หน้าจบด้วยข้อความผิดพลาดของ PHP/MySQL: 'Fatal error:'",
        "the page ends in PHP/MySQL error text: 'Fatal error:'",
    )


@pytest.mark.parametrize(
    ("tail", "found"),
    [
        (b"PHP Fatal error:  Uncaught Error: Call to undefined function", "PHP Fatal error"),
        (b"<b>Warning</b>:  mysql_fetch_array() expects parameter 1", "Warning:  mysql_"),
        (b"You have an error in your SQL syntax; check", "You have an error in your SQL syntax"),
    ],
)
def test_php_and_mysql_error_texts_at_the_end_are_recognised(tail: bytes, found: str) -> None:
    result = verdict(SEED[:17_000] + tail, seed_baseline())
    assert (result.capture_class, result.reason_en) == (
        "partial",
        f"the page ends in PHP/MySQL error text: {found!r}",
    )


def test_a_php_error_instead_of_the_page_is_an_error_page() -> None:
    assert verdict(PHP_FATAL, seed_baseline()) == Verdict(
        "error_page",
        "หน้าข้อผิดพลาด PHP/MySQL: 'Fatal error:'",
        "PHP/MySQL error page: 'Fatal error:'",
    )


def test_an_empty_200_is_an_error_page() -> None:
    assert verdict(b"", seed_baseline()) == Verdict("error_page", "หน้าว่าง ไม่มีเนื้อหา", "empty body")


@pytest.mark.parametrize("codec", ["utf-8", "cp874"])
def test_a_no_data_page_is_an_error_page(codec: str) -> None:
    body = "<html><body><p>ไม่พบข้อมูล</p></body></html>".encode(codec)
    assert verdict(body, seed_baseline()) == Verdict(
        "error_page", "หน้าแจ้งว่าไม่พบข้อมูล", "a 'no data found' page (ไม่พบข้อมูล)"
    )


def test_an_http_error_is_an_error_page() -> None:
    assert verdict(b"<html>busy</html>", status=503) == Verdict(
        "error_page", "สถานะ HTTP 503", "HTTP 503"
    )


def test_an_unrelated_page_is_unparseable() -> None:
    body = get_fixture("other/unrelated.utf8.html")
    result = verdict(body, seed_baseline())
    assert result.capture_class == "unparseable"
    assert (result.reason_th, result.reason_en) == (
        "อ่านหน้าไม่ได้: no รายละเอียดตัวชี้วัด heading",
        "could not be read: no รายละเอียดตัวชี้วัด heading",
    )


def test_a_redirect_to_another_indicator_is_foreign() -> None:
    body = get_fixture("kpi/monitor62_0900-0981.table.utf8.html")
    assert verdict(body, url=OTHER_URL, final_url=MOBILE62_URL) == Verdict(
        "foreign",
        f"ถูกเปลี่ยนเส้นทางไปยังหน้าอื่น (0900-0981): {MOBILE62_URL}",
        f"redirected to another page (0900-0981): {MOBILE62_URL}",
    )


def test_a_redirect_to_the_same_page_over_https_is_complete() -> None:
    final = SEED_URL.replace("https://", "http://")
    assert verdict(SEED, url=final, final_url=SEED_URL) == Verdict("complete")


def test_a_redirect_to_the_home_page_is_an_error_page() -> None:
    home = "https://dp.bangkok.go.th/mobile/index.php"
    assert verdict(b"<html>home</html>", final_url=home) == Verdict(
        "error_page",
        f"ถูกเปลี่ยนเส้นทางไปที่ {home} แทนหน้าที่ขอ",
        f"redirected to {home} instead of the page",
    )


def test_a_page_showing_another_pid_than_its_url_is_foreign() -> None:
    body = get_fixture("kpi/monitor62_0900-0981.table.utf8.html")
    assert verdict(body, url=OTHER_URL) == Verdict(
        "foreign",
        "รหัสบนหน้า (0900-0981) ไม่ตรงกับรหัสใน URL (0200-0863)",
        "the page shows pid 0900-0981, not the URL's 0200-0863",
    )


@pytest.mark.parametrize("shown", ["5035-0905", "5035-905", "๕๐๓๕-๙๐๕", " 5035 - 0905 "])
def test_a_pid_printed_in_another_form_is_the_same_pid(shown: str) -> None:
    assert normal_pid(shown) == normal_pid("5035-905") == "5035-905"


def test_page_identity_ignores_scheme_and_other_query_keys() -> None:
    assert page_identity("https://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2029&x=1") == (
        "dp.bangkok.go.th",
        "/mobile/mykpi.php",
        (("pid", "411-2029"),),
    )


def test_a_compact_rendering_after_a_full_capture_is_complete() -> None:
    full = get_fixture("kpi/monitor_2400-1060.table.utf8.html")
    record = parse_page(full, COMPACT_URL).model_dump(mode="json")
    body = get_fixture("kpi/monitor_2400-1060.alt.compact.utf8.html")
    baseline = Baseline(record, len(full), encoding="utf-8")
    assert verdict(body, baseline, url=COMPACT_URL) == Verdict("complete")


def test_a_full_capture_with_fewer_reports_than_the_last_complete_one_is_partial() -> None:
    seed = parse_page(SEED, SEED_URL).model_dump(mode="json")
    baseline = seed_baseline(reports=[*seed["reports"], seed["reports"][0]])
    assert verdict(SEED, baseline) == Verdict(
        "partial",
        "ส่วน รายงานผลฯ สั้นลง: 8 → 7 รายการ",
        "section reports shrank: 8 → 7 items",
        by_sections=True,
    )


def test_a_definition_cut_short_or_missing_is_partial() -> None:
    seed = parse_page(SEED, SEED_URL)
    longer = seed_baseline(definition=seed.definition + " และประชาชนทั่วไป")
    assert verdict(SEED, longer) == Verdict(
        "partial",
        "ส่วน นิยาม หรือความหมายของตัวชี้วัด ถูกตัด (427 → 410 ตัวอักษร)",
        "section definition is cut short (427 → 410 characters)",
        by_sections=True,
    )
    seed_data = seed.model_dump(mode="json")
    cut = SEED.replace(seed.definition.encode(), b"")  # type: ignore[union-attr]
    assert parse_page(cut, SEED_URL).definition is None
    assert verdict(cut, Baseline(seed_data, len(SEED), encoding="utf-8")) == Verdict(
        "partial",
        "ส่วน นิยาม หรือความหมายของตัวชี้วัด หายไป (410 → 0 ตัวอักษร)",
        "section definition is missing (410 → 0 characters)",
        by_sections=True,
    )


def test_a_definition_rewritten_shorter_is_a_change_not_a_cut() -> None:
    assert verdict(SEED, seed_baseline(definition="นิยามฉบับเดิมที่ยาวกว่าเล็กน้อย")) == Verdict("complete")


def test_a_page_the_site_never_closes_is_not_held_for_that() -> None:
    body = SEED.replace(b"</html>", b"")
    never_closed = Baseline(seed_baseline().record, len(body), ended=False, encoding="utf-8")
    assert verdict(body, never_closed) == Verdict("complete")


def later_pages() -> list[tuple[str, Path, Path]]:
    """(real URL, file in site/, file in site-later/) of every page the later site serves."""
    later = RECORDED_LATER
    cases = []
    for path in sorted(later.rglob("*")):
        sidecar = path.with_name(path.name + ".headers")
        if not path.is_file() or path.suffix == ".headers":
            continue
        if json.loads(sidecar.read_text())["status"] != 200:
            continue
        rel = path.relative_to(later)
        scheme = "https" if rel.parts[0] == "dp.bangkok.go.th" else "http"
        cases.append((f"{scheme}://{rel}", RECORDED_SITE / rel, path))
    return cases


@pytest.mark.parametrize(("url", "before", "after"), later_pages(), ids=lambda v: str(v)[-22:])
def test_every_page_of_the_later_site_is_complete(url: str, before: Path, after: Path) -> None:
    headers = json.loads(after.with_name(after.name + ".headers").read_text())["headers"]
    old = parse_page(before.read_bytes(), url, headers).model_dump(mode="json")
    response = fetched(after.read_bytes(), url, length=after.stat().st_size)
    new = parse_page(after.read_bytes(), url, headers)
    baseline = Baseline(old, before.stat().st_size, encoding=old["encoding"])
    assert judge(response, new, baseline) == Verdict("complete")


def lines(body: bytes) -> list[str]:
    return list(read(body, SEED_URL, None)[0].lines)


def test_a_timestamp_in_a_comment_or_script_is_a_revisit() -> None:
    record = parse_page(SEED, SEED_URL).model_dump(mode="json")
    stamped = SEED.replace(
        b"</body>", b"<!-- 2026-12-03T01:00:00Z --><script>var t=1764723600;</script></body>"
    )
    assert stamped != SEED
    again = parse_page(stamped, SEED_URL).model_dump(mode="json")
    assert is_revisit(record, again, lines(SEED), lines(stamped)) is True


def test_a_visible_timestamp_is_not_a_revisit() -> None:
    record = parse_page(SEED, SEED_URL).model_dump(mode="json")
    stamped = SEED.replace(b"</body>", b"<p>generated 2026-12-03 01:00</p></body>")
    again = parse_page(stamped, SEED_URL).model_dump(mode="json")
    assert is_revisit(record, again, lines(SEED), lines(stamped)) is False


def test_the_same_page_re_encoded_is_a_revisit() -> None:
    cp874 = get_fixture("kpi/dp_0411-2029.table.cp874.html")
    old = parse_page(SEED, SEED_URL).model_dump(mode="json")
    new = parse_page(cp874, SEED_URL).model_dump(mode="json")
    assert (old["encoding"], new["encoding"]) == ("utf-8", "cp874")
    assert is_revisit(old, new, lines(SEED), lines(cp874)) is True


def test_a_changed_target_is_not_a_revisit() -> None:
    record = parse_page(SEED, SEED_URL).model_dump(mode="json")
    assert is_revisit(record, record | {"target_text": "90"}, "a\nb", "a\n b ") is False
    assert is_revisit(None, None, "a\nb", "a\n b ") is True
