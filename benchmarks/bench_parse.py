"""Parser throughput on the whole seed page; merged into benchmarks/results.json.

    python benchmarks/bench_parse.py [--seconds 3]

Four variants run on the same four bodies (the seed page as table / <br> markup, UTF-8 / cp874):

- ``parse``: ``parsers.parse_page`` — bytes → validated ``KpiPage``.
- ``bs4``: the same extraction with BeautifulSoup + lxml doing the HTML → lines step, then the same
  line-level parser (its records are checked equal to ours before timing).
- ``lexbor``: selectolax lexbor's bare parse + ``body.text()`` of the decoded bytes, the ceiling
  for any parser on this stack.
- ``ceiling``: ``parse_page`` with a walk that costs nothing: the decode and the lexbor parse of
  the bytes, then the same line parser on the page's lines read beforehand (its records are
  checked equal to ours). Its share of bare lexbor is the most any faster walk could give while
  the line parser stays as it is.

Two more figures for the crawl (#14, #9):

- ``parse_with_links``: ``parsers.parse`` (record and links from one reading) against the old
  crawl's ``parse_page`` + ``extract_links`` (two decodes and two parses of the same bytes).
- ``deep_10000_s``: seconds to read a page of 10,000 nested tables (was 68 s before #9; the
  walk is linear in depth, ``tests/test_text.py`` proves it by counting work).

Rates are pages per CPU second, the variants taking turns (``rates``), so that a busy shared
machine slows every variant alike. Written keys: ``parse_pages_per_s``, ``parse_vs_bs4``,
``parse_share_of_bare_lexbor`` (and the two baselines' pages/s),
``parse_ceiling_share_of_bare_lexbor``, ``parse_with_links_pages_per_s``,
``parse_with_links_vs_two_parses``, ``deep_10000_s``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bs4 import BeautifulSoup, NavigableString, Tag  # noqa: E402
from selectolax.lexbor import LexborHTMLParser  # noqa: E402

from parsers import extract_links, parse, parse_page  # noqa: E402
from parsers.detect import read  # noqa: E402
from parsers.encoding import decode, decode_for_parser  # noqa: E402
from parsers.kpi import parse_kpi_lines  # noqa: E402
from parsers.models import KpiPage  # noqa: E402
from parsers.text import BLOCK_TAGS, CELL_TAGS, HIDDEN_TAGS  # noqa: E402
from parsers.thai import collapse_space  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results.json"
URL = "https://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2029"
# Each variant's time is cut into this many turns, taken in rotation with the others.
SLICES = 10
SEED = [
    ROOT / "tests/fixtures/kpi" / f"dp_0411-2029.{markup}.{encoding}.html"
    for markup in ("table", "br")
    for encoding in ("utf8", "cp874")
]


def bs4_lines(html: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Visible lines and links with BeautifulSoup + lxml, by the rules of ``parsers.text``."""
    soup = BeautifulSoup(html, "lxml")
    lines: list[str] = []
    pieces: list[str] = []
    links: list[tuple[str, str]] = []

    def flush() -> None:
        if pieces:
            line = collapse_space("".join(pieces))
            pieces.clear()
            if line:
                lines.append(line)

    def walk(node: Tag) -> None:
        for child in node.children:
            if isinstance(child, NavigableString):
                if type(child) is NavigableString:
                    pieces.append(str(child))
                continue
            if not isinstance(child, Tag) or child.name in HIDDEN_TAGS:
                continue
            if child.name == "br":
                lines.append(collapse_space("".join(pieces)))
                pieces.clear()
                continue
            if child.name == "a" and child.get("href"):
                links.append((str(child["href"]), collapse_space(child.get_text())))
            block = child.name in BLOCK_TAGS or child.name in CELL_TAGS
            if block:
                flush()
            before = len(lines)
            walk(child)
            if block:
                flush()
                if child.name in CELL_TAGS and len(lines) == before:
                    lines.append("")

    walk(soup.body or soup)
    flush()
    tidy: list[str] = []
    for line in lines:
        if line or (tidy and tidy[-1]):
            tidy.append(line)
    return tidy, links


def parse_bs4(body: bytes) -> KpiPage:
    """bytes → validated record, with bs4 + lxml for the HTML step."""
    html, encoding = decode(body)
    lines, links = bs4_lines(html)
    return parse_kpi_lines(lines, links, URL, encoding)


def parse_ours(body: bytes) -> object:
    return parse_page(body, URL)


def parse_once(body: bytes) -> object:
    return parse(body, URL)


def parse_twice(body: bytes) -> object:
    return parse_page(body, URL), extract_links(body, URL)


def deep_seconds(depth: int = 10_000) -> float:
    """Seconds for ``parse_page`` on ``depth`` nested tables (a ParseError: no heading)."""
    body = ("<table><tr><td>" * depth + "x" + "</td></tr></table>" * depth).encode()
    start = time.perf_counter()
    with contextlib.suppress(ValueError):
        parse_page(body, None)
    return time.perf_counter() - start


def bare_lexbor(body: bytes) -> object:
    html, _ = decode(body)
    tree = LexborHTMLParser(html)
    return tree.body.text() if tree.body is not None else ""


def walk_free(bodies: list[bytes]) -> Callable[[bytes], KpiPage]:
    """``parse_page`` with the walk taken out: each body's lines and links are read here, once,
    and the variant only decodes, parses with lexbor and runs the line parser."""
    readings = {body: read(body, URL)[0] for body in bodies}

    def parse_walk_free(body: bytes) -> KpiPage:
        html, encoding = decode_for_parser(body)
        LexborHTMLParser(html)
        page = readings[body]
        return parse_kpi_lines(page.lines, page.links, URL, encoding)

    return parse_walk_free


def rates(
    variants: dict[str, Callable[[bytes], object]], bodies: list[bytes], seconds: float
) -> dict[str, float]:
    """Pages per CPU second of each variant, over at least ``seconds`` of round-robin calls.

    CPU time (``time.process_time``), not wall time, and the variants take turns in short
    slices: on a shared machine, other processes' load then falls on every variant alike
    instead of on whichever ran while a neighbour was busy."""
    for func in variants.values():
        for body in bodies:
            func(body)
    done = dict.fromkeys(variants, 0)
    spent = dict.fromkeys(variants, 0.0)
    for _ in range(SLICES):
        for name, func in variants.items():
            start = time.process_time()
            while (elapsed := time.process_time() - start) < seconds / SLICES:
                for body in bodies:
                    func(body)
                done[name] += len(bodies)
            spent[name] += elapsed
    return {name: done[name] / spent[name] for name in variants}


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--seconds", type=float, default=3.0, help="CPU seconds per variant")
    seconds = options.parse_args().seconds
    bodies = [path.read_bytes() for path in SEED]
    ceiling = walk_free(bodies)
    for body in bodies:
        ours = parse_page(body, URL).model_dump(exclude={"warnings", "encoding"})
        assert parse_bs4(body).model_dump(exclude={"warnings", "encoding"}) == ours
        assert ceiling(body) == parse_page(body, URL)
    found = rates(
        {
            "parse": parse_ours,
            "bs4": parse_bs4,
            "lexbor": bare_lexbor,
            "ceiling": ceiling,
            "once": parse_once,
            "twice": parse_twice,
        },
        bodies,
        seconds,
    )
    parse_rate, bs4_rate, lexbor_rate = found["parse"], found["bs4"], found["lexbor"]
    once_rate, twice_rate, ceiling_rate = found["once"], found["twice"], found["ceiling"]
    deep = min(deep_seconds() for _ in range(3))
    figures = {
        "parse_pages_per_s": round(parse_rate, 1),
        "parse_bs4_pages_per_s": round(bs4_rate, 1),
        "bare_lexbor_pages_per_s": round(lexbor_rate, 1),
        "parse_vs_bs4": round(parse_rate / bs4_rate, 2),
        "parse_share_of_bare_lexbor": round(parse_rate / lexbor_rate, 3),
        "parse_ceiling_share_of_bare_lexbor": round(ceiling_rate / lexbor_rate, 3),
        "parse_with_links_pages_per_s": round(once_rate, 1),
        "parse_with_links_vs_two_parses": round(once_rate / twice_rate, 2),
        "deep_10000_s": round(deep, 3),
    }
    print(f"parse_page (bytes → KpiPage)    {parse_rate:9.1f} pages/CPU s")
    print(f"bs4 + lxml, same line parser    {bs4_rate:9.1f} pages/CPU s")
    print(f"bare lexbor parse + body.text() {lexbor_rate:9.1f} pages/CPU s")
    print(
        f"parse / bs4: {figures['parse_vs_bs4']}×   parse / bare lexbor: "
        f"{figures['parse_share_of_bare_lexbor']:.1%}"
    )
    print(
        f"walk costing nothing (decode + lexbor + line parser) {ceiling_rate:9.1f} pages/CPU s = "
        f"{figures['parse_ceiling_share_of_bare_lexbor']:.1%} of bare lexbor"
    )
    print(f"parse (record + links, 1 read)  {once_rate:9.1f} pages/CPU s")
    print(f"parse_page + extract_links      {twice_rate:9.1f} pages/CPU s")
    print(f"10,000 nested tables            {deep:9.3f} s")
    results = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    results.update(figures)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
