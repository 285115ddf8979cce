"""The same page text in two markups and two encodings gives the same record."""

from __future__ import annotations

import pytest
from helpers import SEED_URL, get_fixture

from parsers import ParseError, parse_page

SAME_TEXT = [
    (
        SEED_URL,
        [
            "kpi/dp_0411-2029.table.utf8.html",
            "kpi/dp_0411-2029.br.utf8.html",
            "kpi/dp_0411-2029.table.cp874.html",
            "kpi/dp_0411-2029.br.cp874.html",
        ],
    ),
]


def comparable(path: str, url: str | None) -> dict[str, object]:
    record = parse_page(get_fixture(path), url).model_dump(mode="json")
    record.pop("warnings")
    record.pop("encoding")
    return record


@pytest.mark.parametrize(("url", "paths"), SAME_TEXT)
def test_markups_and_encodings_give_identical_records(url: str, paths: list[str]) -> None:
    first = comparable(paths[0], url)
    for path in paths[1:]:
        assert comparable(path, url) == first, path


@pytest.mark.parametrize(
    ("path", "encoding"),
    [
        ("kpi/dp_0411-2029.table.utf8.html", "utf-8"),
        ("kpi/dp_0411-2029.table.cp874.html", "cp874"),  # <meta charset="windows-874">
        ("kpi/dp_0411-2029.br.cp874.html", "cp874"),  # <meta http-equiv … charset=tis-620>
        ("kpi/monitor_0406-0752.br.cp874.html", "cp874"),  # nothing declared: sniffed
    ],
)
def test_encoding_used_is_recorded(path: str, encoding: str) -> None:
    assert parse_page(get_fixture(path)).encoding == encoding


def test_http_charset_header_is_honoured() -> None:
    body = get_fixture("kpi/monitor_0406-0752.br.cp874.html")
    record = parse_page(body, headers={"Content-Type": "text/html; charset=TIS-620"})
    assert (record.encoding, record.page_kind) == ("cp874", "kpi")


def test_private_use_glyphs_survive_cp874_character_references() -> None:
    record = parse_page(get_fixture("kpi/dp_0411-2029.br.cp874.html"), SEED_URL)
    assert record.page_kind == "kpi"
    assert "\uf70a" in (record.definition or "")


@pytest.mark.parametrize(
    ("path", "missing"),
    [
        ("other/empty.html", "content"),
        ("other/image.png", "text"),
        ("other/unrelated.utf8.html", "page heading"),
        ("other/dp2_reportprojectit662.utf8.html", "page heading"),
        ("other/policy_bs2568_15000000-2677.utf8.html", "page heading"),
    ],
)
def test_pages_that_are_not_ours_raise_parse_error(path: str, missing: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_page(get_fixture(path), "https://example.org/" + path)
    assert caught.value.missing == missing
    assert isinstance(caught.value, ValueError)


def test_whitespace_only_body_is_empty() -> None:
    with pytest.raises(ParseError, match="empty body"):
        parse_page(b" \r\n\t ")


def test_labels_and_values_in_separate_cells_give_the_same_record() -> None:
    body = get_fixture("kpi/dp_0411-2029.br.utf8.html")
    cells = body
    for label in ("ค่าเป้าหมาย ร้อยละ", "ผลงานที่ทำได้ ร้อยละ"):
        cells = cells.replace(
            f"{label} : 100<br>".encode(),
            f"<table><tr><td>{label} :</td><td>100</td></tr></table>".encode(),
        )
    cells = cells.replace(
        "ประเภทตัวชี้วัด : ตัวชี้วัดเชิงยุทธศาสตร์<br>".encode(),
        "<table><tr><td>ประเภทตัวชี้วัด</td><td>:</td><td>ตัวชี้วัดเชิงยุทธศาสตร์</td></tr></table>".encode(),
    )
    assert cells.count(b"<td>") == 7
    split, whole = parse_page(cells, SEED_URL), parse_page(body, SEED_URL)
    assert (split.unit, split.target_text, split.result_text, split.kpi_type) == (
        "ร้อยละ",
        "100",
        "100",
        "ตัวชี้วัดเชิงยุทธศาสตร์",
    )
    assert split.model_dump() == whole.model_dump()


def test_an_empty_value_does_not_take_the_next_line() -> None:
    body = get_fixture("kpi/dp_0411-2029.br.utf8.html").replace(
        "ผลงานที่ทำได้ ร้อยละ : 100<br>".encode(), "ผลงานที่ทำได้ ร้อยละ :<br>".encode()
    )
    record = parse_page(body, SEED_URL)
    assert (record.result_text, record.result_value, record.kpi_type) == (
        None,
        None,
        "ตัวชี้วัดเชิงยุทธศาสตร์",
    )
