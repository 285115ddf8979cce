"""Render a page's visible text in markup families an old PHP site (or its redesign) could emit.

Each family writes the same lines a reader sees; ``parse_page`` must give the same record for
every family and encoding (tests/test_markup_families.py), and Chromium must show the same
non-empty lines (tests/test_browser_markup.py). A "label : value" line is cut at its ``" : "``
into the pieces each family puts in separate cells or elements; an empty line stays an empty
line (an empty cell, or a ``<br>``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from html import escape
from pathlib import Path

from helpers import FIXTURES

import parsers

REALPAGES = Path(__file__).resolve().parents[2] / "shared" / "realpages"
ENCODINGS = ("utf-8", "cp874")
DECOYS = (
    "<script>var s = 'ค่าเป้าหมาย ร้อยละ : 999<br>รายละเอียดตัวชี้วัด';</script>"
    "<style>.x:after{content:'ผลงานที่ทำได้ ร้อยละ : 999'}</style>"
    "<!-- *** สยป. ตรวจประเมินตัวชี้วัด : ไตรมาสที่ 4: 0 -->"
)


def _e(text: str) -> str:
    return escape(text, quote=False)


def split_label(line: str) -> tuple[str, str] | None:
    """``label : value`` → (label, value), cut at the last `` : ``; ``label :`` → (label, "")."""
    if line.endswith(" :"):
        return line[:-2], ""
    label, sep, value = line.rpartition(" : ")
    return (label, value) if sep and label else None


def legacy_cells(lines: list[str]) -> str:
    """Uppercase, unclosed ``<TR><TD>``: a label row is three cells ``label | : | value``."""
    rows = []
    for line in lines:
        parts = split_label(line)
        if parts is None:
            rows.append(f"<TR><TD COLSPAN=3><FONT FACE=Tahoma>{_e(line)}</FONT>\r\n")
        else:
            rows.append(f"<TR><TD><B>{_e(parts[0])}</B><TD>:<TD>{_e(parts[1])}\r\n")
    return "<TABLE BORDER=0 WIDTH=100%>\r\n" + "".join(rows) + "</TABLE>"


def definition_list(lines: list[str]) -> str:
    """``<dl>`` with ``<dt>label :</dt><dd>value</dd>`` pairs; other lines as ``<p>``."""
    out = ["<dl>"]
    for line in lines:
        parts = split_label(line)
        if parts is None:
            out.append(f"<dt>{_e(line)}</dt>" if line else "<br>")
        else:
            out.append(f"<dt>{_e(parts[0])} :</dt> <dd>{_e(parts[1])}</dd>")
    return "\n".join([*out, "</dl>"])


def card_grid(lines: list[str]) -> str:
    """Cards: a ``<th>``/``<td>`` row for label lines, or a three-``<div>`` key/colon/value grid;
    other lines as ``<div class="card-body">``."""
    out = []
    for n, line in enumerate(lines):
        parts = split_label(line)
        if parts is None:
            out.append(f'<div class="card-body">{_e(line)}</div>' if line else "<br>")
        elif n % 2 and ":" not in parts[0]:
            out.append(f"<table><tr><th>{_e(parts[0])}</th><td>{_e(parts[1])}</td></tr></table>")
        else:
            label, value = parts
            out.append(
                '<div class="row"><div class="col-4 card-header">'
                f'{_e(label)}</div><div class="col-1">:</div><div class="col-7">{_e(value)}</div>'
                "</div>"
            )
    return '<div class="container">' + "\n".join(out) + "</div>"


def listview(lines: list[str]) -> str:
    """A jQuery-Mobile listview, with decoy labels in script, style, comments and hidden nodes."""
    items = []
    for n, line in enumerate(lines):
        decoy = '<span style="display:none"> : 999</span>' if n % 3 == 0 else ""
        items.append(f"<li>{_e(line)}{decoy}</li>" if line else "<li><br></li>")
        if n % 7 == 0:
            items.append(DECOYS)
            items.append("<li hidden>ค่าเป้าหมาย ร้อยละ : 999</li><template><li>x</li></template>")
    return (
        '<div data-role="page"><div data-role="header"></div><div data-role="content">'
        '<ul data-role="listview" data-inset="true">' + "\n".join(items) + "</ul></div></div>"
    )


def inline_split(lines: list[str]) -> str:
    """``<br>``-separated lines split by ``<font>``/``<b>``, ``&#58;``, ``<wbr>``, tabs, spaces."""
    out = []
    for line in lines:
        parts = split_label(line)
        text = _e(line)
        if parts is not None:
            label, value = (_e(p) for p in parts)
            head, _, unit = label.rpartition(" ")
            label = f"{head} <font color=red>{unit}</font>" if head else f"<b>{label}</b>"
            text = f"{label}\t &#58;  <b>{value}</b>" if value else f"{label} &#58;"
        if len(line) > 8 and " " not in line[:6]:
            text = (
                text[:3] + "<wbr>" + text[3:]
                if "<" not in text[:4] and "&" not in text[:4]
                else text
            )
        out.append(text)
    return "<div>" + "<br>\n".join(out) + "<br></div>"


FAMILIES: dict[str, Callable[[list[str]], str]] = {
    "legacy-cells": legacy_cells,
    "definition-list": definition_list,
    "card-grid": card_grid,
    "listview": listview,
    "inline-split": inline_split,
}


def plain(lines: list[str]) -> str:
    """The reference rendering: one ``<br>``-separated line each."""
    return "<br>\n".join(_e(line) for line in lines)


def page(body: str, encoding: str) -> bytes:
    """A whole page around ``body`` in ``encoding`` (declared in a ``<meta>``)."""
    charset = "tis-620" if encoding == "cp874" else "utf-8"
    html = (
        f'<HTML><HEAD><META http-equiv="Content-Type" content="text/html; charset={charset}">'
        f"<TITLE>ค่าเป้าหมาย ร้อยละ : 1</TITLE></HEAD><BODY>\r\n{body}\r\n</BODY></HTML>"
    )
    return html.encode(encoding, errors="xmlcharrefreplace")


def text_lines(text: str) -> list[str]:
    """A stored page text as lines: whitespace collapsed, runs of blank lines as one."""
    lines: list[str] = []
    for raw in text.split("\n"):
        line = " ".join(raw.split())
        if line or (lines and lines[-1]):
            lines.append(line)
    return lines[:-1] if lines and not lines[-1] else lines


def sources() -> Iterator[tuple[str, str | None, list[str]]]:
    """(name, url, lines) for every parser fixture and every real page text found."""
    for path in sorted(FIXTURES.glob("*/*.html")):
        if path.parent.name in ("site", "site-later"):
            continue
        try:
            reading = parsers.read(path.read_bytes(), None)
        except parsers.ParseError:
            continue
        yield f"fixture:{path.parent.name}/{path.name}", None, reading.lines
    seed = REALPAGES / "seed-0411-2029.txt"
    if seed.exists():
        url = "https://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2029"
        yield "real:seed", url, text_lines(seed.read_text(encoding="utf-8"))
    pages = REALPAGES / "pages.jsonl"
    if pages.exists():
        for n, raw in enumerate(pages.read_text(encoding="utf-8").splitlines()):
            item = json.loads(raw)
            texts = [item["text"], *item.get("alt_texts", [])]
            for k, text in enumerate(texts):
                yield f"real:{n}:{k}:{item['url']}", item["url"], text_lines(text)
