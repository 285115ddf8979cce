"""The plugin's copies of Datasette's result tables write the same bytes as Datasette's own.

``rows.query_rows`` and ``rows.table_rows`` replace the row loops of ``query.html`` and
``_table.html`` (issue 12: rendering cost); each is compared here with the template text of the
installed Datasette, rendered by the same kind of Jinja environment Datasette makes.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import datasette
from datasette.utils import to_css_class
from datasette.views.table import Row
from jinja2 import DictLoader, Environment
from markupsafe import Markup

from kpi_archive.publish import serve
from kpi_archive.publish.plugin import rows

TEMPLATES = Path(datasette.__file__).parent / "templates"
PLUGIN_TEMPLATES = Path(rows.__file__).parent / "templates"

COLUMNS = ["pid", "title", "fiscal year", "_hidden", "score"]
DISPLAY_ROWS: list[list[Any]] = [
    [Markup('<a href="/kpi/0411-2029">0411-2029</a>'), 'ฝุ่น <PM> & "2.5"', 2566, "x", 1.5],
    [Markup("&nbsp;"), "", 0, "'quoted'", -2.25],
]


async def _render(source: str, **context: Any) -> str:
    env = Environment(loader=DictLoader({"t": source}), autoescape=True, enable_async=True)
    env.filters["to_css_class"] = to_css_class
    return await env.get_template("t").render_async(
        zip=zip, query_rows=rows.query_rows, table_rows=rows.table_rows, **context
    )


def _tbody(template: str) -> str:
    found = re.search(r"<tbody>.*?</tbody>", template, re.DOTALL)
    assert found is not None
    return found.group(0)


async def test_query_rows_writes_the_bytes_of_datasettes_query_row_loop() -> None:
    loop = _tbody((TEMPLATES / "query.html").read_text(encoding="utf-8"))
    ours = _tbody((PLUGIN_TEMPLATES / "query.html").read_text(encoding="utf-8"))
    context = {"columns": COLUMNS, "display_rows": DISPLAY_ROWS}

    expected = await _render(loop, **context)

    assert await _render(ours, **context) == expected
    assert '<td class="col-title">ฝุ่น &lt;PM&gt; &amp; &#34;2.5&#34;</td>' in expected
    assert f'<td class="col-fiscal-year-{to_css_class("fiscal year")[-6:]}">2566</td>' in expected


async def test_no_rows_write_no_table_rows() -> None:
    assert rows.query_rows(COLUMNS, []) == ""
    assert rows.table_rows([]) == ""


async def test_table_rows_write_the_bytes_of_datasettes_table_template() -> None:
    columns = [
        {
            "name": name,
            "sortable": False,
            "description": None,
            "type": "text",
            "notnull": 0,
            "is_pk": False,
        }
        for name in COLUMNS
    ]
    cells = [
        Row(
            [
                {"column": column, "value": value, "raw": value, "value_type": type(value).__name__}
                for column, value in zip(COLUMNS, row, strict=True)
            ]
        )
        for row in DISPLAY_ROWS
    ]
    context = {"display_columns": columns, "display_rows": cells}
    theirs = (TEMPLATES / "_table.html").read_text(encoding="utf-8")
    ours = (PLUGIN_TEMPLATES / "_table.html").read_text(encoding="utf-8")

    expected = await _render(theirs, **context)

    assert await _render(ours, **context) == expected
    assert '<td class="col-score type-float">-2.25</td>' in expected


async def test_query_page_escapes_text_and_keeps_links(tmp_path: Path) -> None:
    path = tmp_path / "plain.db"
    sqlite3.connect(path).close()
    ds = serve.make_datasette(path)
    sql = "select '0411-2029' as pid, '<b>ฝุ่น</b>' as text, null as gap, 2.5 as score"

    response = await ds.client.get("/plain", params={"sql": sql})

    assert response.status_code == 200
    body = _tbody(response.text)
    assert re.findall(r"<td[^>]*>.*?</td>", body) == [
        '<td class="col-pid"><a href="/kpi/0411-2029">0411-2029</a></td>',
        '<td class="col-text">&lt;b&gt;ฝุ่น&lt;/b&gt;</td>',
        '<td class="col-gap">&nbsp;</td>',
        '<td class="col-score">2.5</td>',
    ]


async def test_table_page_escapes_text_and_keeps_links(tmp_path: Path) -> None:
    path = tmp_path / "plain.db"
    with sqlite3.connect(path) as conn:
        conn.execute("create table t (id integer primary key, pid text, text text, score real)")
        conn.execute("insert into t values (7, '0411-2029', '<b>ฝุ่น</b>', null)")
    ds = serve.make_datasette(path)

    response = await ds.client.get("/plain/t")

    assert response.status_code == 200
    assert re.findall(r"<td[^>]*>.*?</td>", _tbody(response.text)) == [
        '<td class="col-id type-pk"><a href="/plain/t/7">7</a></td>',
        '<td class="col-pid type-str"><a href="/kpi/0411-2029">0411-2029</a></td>',
        '<td class="col-text type-str">&lt;b&gt;ฝุ่น&lt;/b&gt;</td>',
        '<td class="col-score type-none">&nbsp;</td>',
    ]
