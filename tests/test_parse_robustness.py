"""``parse_page`` on damaged pages: it returns a record or raises ParseError, never anything else.

Real captures arrive cut off at any byte, with lines missing, or wrapped in markup we have not
seen; a parser crash would only surface as a parse error in the night's crawl, so it is hunted
here with hypothesis over every fixture.
"""

from __future__ import annotations

from pathlib import Path

import fuzz_pages
import pytest
from helpers import FIXTURES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parsers import ParseError, parse_page

PAGES = sorted(
    p.relative_to(FIXTURES).as_posix()
    for kind in ("kpi", "citydb", "project", "department")
    for p in (FIXTURES / kind).glob("*.html")
)
BODIES = {name: (FIXTURES / name).read_bytes() for name in PAGES}
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _parse_or_refuse(body: bytes, url: str | None) -> None:
    try:
        record = parse_page(body, url)
    except ParseError:
        return
    assert record.page_kind in ("kpi", "citydb", "project", "department")


@SETTINGS
@given(name=st.sampled_from(PAGES), cut=st.floats(min_value=0.0, max_value=1.0))
def test_a_page_cut_off_at_any_byte_parses_or_is_refused(name: str, cut: float) -> None:
    body = BODIES[name]
    _parse_or_refuse(body[: int(len(body) * cut)], None)


@SETTINGS
@given(name=st.sampled_from(PAGES), data=st.data())
def test_a_page_with_lines_missing_parses_or_is_refused(name: str, data: st.DataObject) -> None:
    lines = BODIES[name].split(b"\n")
    keep = data.draw(st.lists(st.booleans(), min_size=len(lines), max_size=len(lines)))
    body = b"\n".join(line for line, kept in zip(lines, keep, strict=True) if kept)
    _parse_or_refuse(body, None)


@SETTINGS
@given(name=st.sampled_from(PAGES), data=st.data())
def test_a_page_with_lines_shuffled_parses_or_is_refused(name: str, data: st.DataObject) -> None:
    lines = BODIES[name].split(b"\n")
    _parse_or_refuse(b"\n".join(data.draw(st.permutations(lines))), None)


@pytest.mark.parametrize("name", PAGES)
def test_every_fixture_wrapped_in_a_layout_table_gives_the_same_record(name: str) -> None:
    body = BODIES[name]
    head, sep, rest = body.partition(b"<body>")
    inner, _, tail = rest.rpartition(b"</body>")
    wrapped = head + sep + b"<table><tr><td>" + inner + b"</td></tr></table>" + _ + tail
    url = None
    plain, nested = parse_page(body, url), parse_page(wrapped, url)
    assert nested.model_dump(exclude={"warnings"}) == plain.model_dump(exclude={"warnings"})


def test_the_fixture_set_covers_every_page_kind() -> None:
    assert {Path(p).parts[0] for p in PAGES} == {"kpi", "citydb", "project", "department"}


def test_five_hundred_mutated_pages_give_a_record_or_a_parse_error() -> None:
    outcomes = {"record": 0, "ParseError": 0}
    for _, body, url in fuzz_pages.cases(500, seed=14):
        outcomes[fuzz_pages.check(body, url)] += 1
    assert outcomes["record"] > 0
    assert outcomes["ParseError"] > 0
