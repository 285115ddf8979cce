"""The markup-independent view of a page: visible lines and links."""

from __future__ import annotations

from urllib.parse import urljoin

import pytest

from kpi_archive.errors import ParseError
from parsers.text import MAX_NODES, links, parse_html, visible_lines

TABLE_MARKUP = """<html><head><title>KPI</title><style>p {color: red}</style>
<script>document.write("<p>hidden</p>");</script></head>
<body><div class="head"><h3>รายละเอียดตัวชี้วัด</h3></div>
<p><a href="index.php">Back Home</a></p>
<p>ค่าเป้าหมาย <b>ร้อยละ</b> :&nbsp;100</p>
<table border="1">
  <tr><th>ไตรมาสที่<br>(1 - 4)</th><th><b>ผลงาน</b><br>(ร้อยละ)</th></tr>
  <tr><td>1</td><td>10.00</td><td>100</td><td>100 / 100</td></tr>
  <tr><td>2</td><td>30.00</td><td>&nbsp;</td><td>0 / 0</td></tr>
</table>
<div>รายงานผลฯ ไตรมาสที่ 1</div><div>-</div>
<noscript>enable javascript</noscript>
</body></html>"""

BR_MARKUP = """<html><body><font face="Tahoma">รายละเอียดตัวชี้วัด<br><br>
<a href="index.php">Back Home</a><br><br>ค่าเป้าหมาย ร้อยละ :
100<br><br>ไตรมาสที่<br>(1 - 4)<br><b>ผลงาน</b><br>(ร้อยละ)<br>1<br>10.00<br>100<br>100 / 100<br>
2<br>30.00<br><br>0 / 0<br><br>รายงานผลฯ ไตรมาสที่ 1<br>-<br></font></body></html>"""

EXPECTED = [
    "รายละเอียดตัวชี้วัด",
    "Back Home",
    "ค่าเป้าหมาย ร้อยละ : 100",
    "ไตรมาสที่",
    "(1 - 4)",
    "ผลงาน",
    "(ร้อยละ)",
    "1",
    "10.00",
    "100",
    "100 / 100",
    "2",
    "30.00",
    "",
    "0 / 0",
    "รายงานผลฯ ไตรมาสที่ 1",
    "-",
]


def test_table_markup_gives_the_visible_lines() -> None:
    assert visible_lines(TABLE_MARKUP) == EXPECTED


def test_both_markups_give_the_same_lines_and_blank_score_cell() -> None:
    table, br = visible_lines(TABLE_MARKUP), visible_lines(BR_MARKUP)
    assert [line for line in table if line] == [line for line in br if line]
    assert table[table.index("30.00") + 1] == br[br.index("30.00") + 1] == ""


def test_bytes_in_utf8_give_the_same_lines() -> None:
    assert visible_lines(TABLE_MARKUP.encode("utf-8")) == EXPECTED


def test_inline_markup_does_not_split_a_line() -> None:
    html = "<table><tr><td>*<b>ผลงาน</b>* <span>(ร้อยละ)</span></td><td><i>x</i>y</td></tr></table>"
    assert visible_lines(html) == ["*ผลงาน* (ร้อยละ)", "xy"]


def test_nbsp_and_zero_width_spaces_collapse() -> None:
    assert visible_lines("<p>&nbsp;ผลงาน&nbsp;&nbsp;\u200bที่ทำได้ \n :&#160;</p>") == [
        "ผลงาน ที่ทำได้ :"
    ]


def test_scripts_styles_and_head_are_dropped() -> None:
    html = (
        "<head><title>T</title></head><body><script>var a = 1;</script>a<style>b{}</style>"
        "<template><p>t</p></template>b<noscript>n</noscript></body>"
    )
    assert visible_lines(html) == ["ab"]


def test_blank_table_cell_is_one_empty_line() -> None:
    html = "<table><tr><td>1</td><td></td><td> <span> </span> </td><td>4</td></tr></table>"
    assert visible_lines(html) == ["1", "", "4"]


def test_blank_cells_without_end_tags_are_empty_lines() -> None:
    assert visible_lines("<table><tr><td>1<td><td>3</table>") == ["1", "", "3"]


def test_double_br_gives_one_empty_line_and_edges_are_trimmed() -> None:
    assert visible_lines("<br><br>a<br><br><br><br>b<br><br>") == ["a", "", "b"]


def test_block_boundaries_do_not_make_empty_lines() -> None:
    assert visible_lines("<div><p>a</p>\n\n<p>b<br></p></div><div></div><p>c</p>") == [
        "a",
        "b",
        "c",
    ]


def test_newlines_collapse_except_in_pre() -> None:
    html = "<p>ค่าเป้าหมาย\nร้อยละ</p><pre>ก\n  ข\n\nค</pre>after"
    assert visible_lines(html) == ["ค่าเป้าหมาย ร้อยละ", "ก", "ข", "", "ค", "after"]


def test_block_inside_inline_still_ends_the_line() -> None:
    assert visible_lines("<span>a<div>b</div>c</span>") == ["a", "b", "c"]


def test_links_are_absolute_without_script_mail_or_anchor_links() -> None:
    html = (
        '<a href="mykpi.php?pid=0411-2029">ร้อยละ <b>ความสำเร็จ</b></a>'
        '<a href="javascript:print()">พิมพ์ข้อมูล</a><a href="mailto:x@bangkok.go.th">m</a>'
        '<a href="#top">top</a><a name="x">no href</a>'
        '<a href=" /mobile/index11.php?selDEP=50350000#q1 ">Home</a>'
    )
    assert links(html, "https://dp.bangkok.go.th/mobile/index.php") == [
        ("https://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2029", "ร้อยละ ความสำเร็จ"),
        ("https://dp.bangkok.go.th/mobile/index11.php?selDEP=50350000", "Home"),
    ]


def test_base_element_sets_the_link_base() -> None:
    html = '<head><base href="http://monitor.bangkok.go.th/mobile62/"></head><a href="a.php">x</a>'
    assert links(html, "https://dp.bangkok.go.th/") == [
        ("http://monitor.bangkok.go.th/mobile62/a.php", "x")
    ]


def test_parse_html_gives_lines_and_links_from_one_parse() -> None:
    page = parse_html(TABLE_MARKUP, "https://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2029")
    assert page.lines == EXPECTED
    assert page.links == [("https://dp.bangkok.go.th/mobile/index.php", "Back Home")]


def test_empty_and_textless_documents_give_no_lines() -> None:
    assert visible_lines("") == []
    assert visible_lines("<html><head><title>x</title></head></html>") == []


def test_hidden_attribute_and_display_none_never_count() -> None:
    html = (
        '<p>a<span hidden>x</span></p><div style="color:red; display: none">y</div>'
        '<p style="display:block">b</p>'
    )
    assert visible_lines(html) == ["a", "b"]


def test_hidden_written_in_capitals_never_counts_either() -> None:
    # attribute names and CSS keywords are case-insensitive; a page-wide "hidden"/"none" text
    # test used to decide whether attributes were read at all, and missed these
    html = '<p>a</p><DIV HIDDEN>b</DIV><p STYLE="DISPLAY: NONE">c</p><p>d</p>'
    assert visible_lines(html) == ["a", "d"]


def test_visible_view_puts_a_rows_cells_on_one_line_like_inner_text() -> None:
    page = parse_html("<p>head</p><table><tr><td>1</td><td>10.00</td><td></td><td>0 / 0</td></tr>")
    assert page.visible == ["head", "1\t10.00\t\t0 / 0"]
    assert page.lines == ["head", "1", "10.00", "", "0 / 0"]


def test_label_row_of_cells_is_one_line() -> None:
    html = (
        "<table><tr><td>ค่าเป้าหมาย ร้อยละ</td><td>:</td><td>100</td></tr>"
        "<tr><td>ผลงานที่ทำได้ ร้อยละ :</td><td>96</td></tr>"
        "<tr><td>ลักษณะข้อมูล</td><td>: ตัวชี้วัดเป้าประสงค์</td></tr>"
        "<tr><th>ประเภทตัวชี้วัด</th><td>ตัวชี้วัดงานประจำ</td></tr></table>"
        '<div class="card"><div>รายละเอียดตัวชี้วัดฯ</div><div>:</div><div><a href="p">พิมพ์ข้อมูล</a>'
        "</div></div><dl><dt>สำนักงานเขตลาดพร้าว :</dt><dd>(2564)</dd>"
        "<dt>หน่วยนับ</dt><dd>แห่ง</dd></dl>"
    )
    assert visible_lines(html) == [
        "ค่าเป้าหมาย ร้อยละ : 100",
        "ผลงานที่ทำได้ ร้อยละ : 96",
        "ลักษณะข้อมูล : ตัวชี้วัดเป้าประสงค์",
        "ประเภทตัวชี้วัด : ตัวชี้วัดงานประจำ",
        "รายละเอียดตัวชี้วัดฯ : พิมพ์ข้อมูล",
        "สำนักงานเขตลาดพร้าว : (2564)",
        "หน่วยนับ : แห่ง",
    ]


def test_label_with_empty_value_is_not_glued_to_the_next_label_line() -> None:
    html = "<div><p>ผลงานที่ทำได้ ร้อยละ :</p><p>ประเภทตัวชี้วัด : ตัวชี้วัดงานประจำ</p></div>"
    assert visible_lines(html) == ["ผลงานที่ทำได้ ร้อยละ :", "ประเภทตัวชี้วัด : ตัวชี้วัดงานประจำ"]


def test_quarterly_grid_rows_stay_one_cell_a_line() -> None:
    html = "<table><tr><td>1</td><td>10.00</td><td>100 / 100</td></tr></table>"
    assert visible_lines(html) == ["1", "10.00", "100 / 100"]


def nested_tables(depth: int) -> str:
    return "<table><tr><td>" * depth + "x" + "</td></tr></table>" * depth


def test_work_per_nesting_level_does_not_grow_with_depth() -> None:
    # 10,000 nested tables took 68 s when each block's end was found by walking up its parents:
    # work per level grew with depth (quadratic); now it is the same at 100 and 10,000 levels.
    shallow, deep = parse_html(nested_tables(100)), parse_html(nested_tables(10_000))
    assert shallow.lines == deep.lines == ["x"]
    assert deep.work / 10_000 <= 1.1 * shallow.work / 100


def test_page_over_the_node_budget_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="nodes"):
        parse_html("<b>x</b>" * (MAX_NODES // 2 + 1), "http://dp.bangkok.go.th/mobile/index.php")


def test_poisoned_href_is_skipped() -> None:
    html = '<a href="http://[object Object]">x</a><a href="mykpi.php?pid=1">y</a>'
    assert links(html, "http://dp.bangkok.go.th/mobile/") == [
        ("http://dp.bangkok.go.th/mobile/mykpi.php?pid=1", "y")
    ]


def test_poisoned_href_is_skipped_without_a_base_url_too() -> None:
    html = '<a href="http://[::1">x</a><a href="http://[object Object]">y</a><a href="a.php">z</a>'
    assert links(html) == [("a.php", "z")]


def test_hidden_link_is_neither_a_line_nor_a_link() -> None:
    page = parse_html('<p>a</p><a hidden href="mykpi.php?pid=1">x</a>', "http://dp.bangkok.go.th/")
    assert (page.lines, page.links) == (["a"], [])


def test_links_of_one_path_segment_resolve_against_the_base_directory() -> None:
    page = parse_html(
        '<a href="mykpi.php?pid=0411-2029">a</a><a href="..">b</a><a href="../x.php">c</a>'
        '<a href="index.php?">d</a><a href="a;p">e</a>',
        "https://dp.bangkok.go.th/mobile/mykpi.php?pid=1",
    )
    assert page.links == [
        ("https://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2029", "a"),
        ("https://dp.bangkok.go.th/", "b"),
        ("https://dp.bangkok.go.th/x.php", "c"),
        ("https://dp.bangkok.go.th/mobile/index.php", "d"),
        ("https://dp.bangkok.go.th/mobile/a;p", "e"),
    ]


@pytest.mark.parametrize(
    "base",
    [
        *("http://a", "http://a/b/./c/../d.php", "http://a//b//c.php", "mailto:x@y", "dir/"),
        *("x:y/z", "https://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2029", "http://a/b/"),
        *("HTTP://A/b/c", "http://a/b/c#f", "http://a/b;p/c", "http://a?q", "http://a/b/c/.."),
    ],
)
@pytest.mark.parametrize("href", ["index.php", "p.php?pid=1", ".", "...", "a?t=10:30", "ไทย?x"])
def test_the_one_segment_shortcut_agrees_with_urljoin(base: str, href: str) -> None:
    [(url, _)] = parse_html(f'<a href="{href}">x</a>', base).links
    assert url == urljoin(base, href)


@pytest.mark.parametrize("base", ["https://dp.bangkok.go.th/mobile/mykpi.php?pid=1", "http://a/b"])
@pytest.mark.parametrize(
    "href",
    [
        *("http://dp1.bangkok.go.th/mobile/myproject.php?pid=04110000-3766", "https://x/y?"),
        *("http://x/a;b", "http://x/a/../b", "http://x", "http://x?q=1", "https://x/ไทย"),
        *("HTTP://x/y", "http://x/%7e/y", "http://a:b@x:80/y", "//x/y", "/p", "ftp://x/y"),
    ],
)
def test_absolute_hrefs_resolve_as_urljoin_resolves_them(base: str, href: str) -> None:
    [(url, _)] = parse_html(f'<a href="{href}">x</a>', base).links
    assert url == urljoin(base, href)
