"""Pieces every page parser shares: line keys, headings, the quarterly table, reports, strategies.

Contract: pure functions over the visible text lines of a page (``parsers.text``), in order. They
anchor on the Thai labels, never on markup: a label matches whatever the bold marks (``*``),
spacing or digit script (๐–๙ / 0–9) around it. Values are returned as printed beside their
normalised form; recoverable oddities are appended to the ``warnings`` list passed in.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from itertools import compress, repeat
from operator import contains
from typing import NamedTuple

# Re-exported for the parser modules; the rules live in the ground module kpi_archive.web.
from kpi_archive.web import pid_from_url as pid_from_url
from kpi_archive.web import query_value as query_value
from parsers.models import ProjectRef, Quarter, Report, Strategy, validator
from parsers.thai import arabic_digits, find_dates, fiscal_year, parse_number, stamp_date

_SPACE = re.compile(r"\s+")
_KEY_MAX = 300
_SIMPLE_NUMBER = re.compile(r"\d{1,12}(?:\.\d{1,8})?").fullmatch
KindOf = Callable[[str], "str | None"]
_QUARTER = validator(Quarter)
_REPORT = validator(Report)
_STRATEGY_RECORD = validator(Strategy)
_PROJECT_REF = validator(ProjectRef)

# Section headings, keyed by the line with bold marks and all whitespace removed.
HEADINGS: dict[str, str] = {
    "ผลงานเทียบกับเป้าหมายรายไตรมาส": "table",
    "สรุปผลการดำเนินงาน": "summary",
    "นิยามหรือความหมายของตัวชี้วัด": "definition",
    "วิธีการคำนวณหรือเกณฑ์การประเมิน": "calculation",
    "วิธีการการเก็บข้อมูล/แหล่งข้อมูล": "data_sources",
    "วิธีการเก็บข้อมูล/แหล่งข้อมูล": "data_sources",
    "แหล่งข้อมูล/เจ้าของข้อมูล": "data_sources",
    "สนับสนุนยุทธศาสตร์กรุงเทพมหานครฯ": "strategies",
    "สนับสนุนยุทธศาสตร์กรุงเทพมหานคร": "strategies",
    "โครงการ/กิจกรรมที่สนับสนุนตัวชี้วัด": "projects",
    "ฐานข้อมูลประกอบตัวชี้วัดการพัฒนาเมือง": "footer",
    "หลักการและเหตุผล": "rationale",
    "วัตถุประสงค์ของโครงการ": "objectives",
    "เป้าหมายของโครงการ": "goals",
}
_HEADING_MAX = 45  # longer than any heading, with a two-character "1." prefix
# Every heading by its tight key, with the eight ways a report heading is printed
# ("รายงานผลฯ ไตรมาสที่ 1", "รายงานผล ไตรมาสที่ 1", …) and their quarters.
_HEADING_KEYS: dict[str, tuple[str, int | None]] = {
    **{tight: (name, None) for tight, name in HEADINGS.items()},
    **{f"รายงานผล{mark}ไตรมาสที่{q}": ("report", q) for mark in ("ฯ", "") for q in range(1, 5)},
}
# A heading may also carry a one-character list number ("1.ผลงานเทียบกับ…").
_HEADING_LENGTHS = frozenset((*map(len, _HEADING_KEYS), *(len(key) + 2 for key in HEADINGS)))
_CUT_HEADINGS = (*HEADINGS, "รายงานผลฯไตรมาสที่")

# Lines that carry no data: navigation, print links, chart placeholders.
SKIP = frozenset(
    {
        "BackHome",
        "HomeHomeSED",
        "FusionChartswillrenderhere",
        "รายละเอียดตัวชี้วัดฯ:พิมพ์ข้อมูล",
        "ดูโครงการแผนปีฯ:พิมพ์ข้อมูล",
        "0",
    }
)

PID = re.compile(r"^\d{2,8}(?:-\d{1,5})?$")
_AUDIT = re.compile(
    r"^สยป\.?\s*(?:ตรวจประเมินตัวชี้วัด|ประเมินโครงการ)\s*:?\s*ไตรมาสที่\s*([1-4])\s*:?\s*(.*)$"
)
_PAIR = re.compile(r"^(\d+(?:\.\d+)?)?\s*/\s*(\d+(?:\.\d+)?)?$")
_STAMP = re.compile(r"([0-9๐-๙]{1,2}/[0-9๐-๙]{1,2}/[0-9๐-๙]{4})\s*:")
_DIGIT_CHARS = frozenset("0123456789๐๑๒๓๔๕๖๗๘๙")
_STRATEGY = re.compile(
    r"^:?\s*(ด้านที่|มิติที่|เป้าหมายที่|เป้าประสงค์ที่|ยุทธศาสตร์ที่)?\s*"
    r"(\d+(?:\.\d+)*)\.?(?=\s|$|[-–—])\s*(?:[-–—]\s*)?(.*)$"
)
_LEVEL_WORDS = ("ด้านที่", "มิติที่", "เป้าหมายที่", "เป้าประสงค์ที่", "ยุทธศาสตร์ที่")
_SPLIT_WORDS = ("ด้านที่", "มิติที่", "เป้าหมายที่", "เป้าประสงค์ที่")
_STRATEGY_SPLIT = re.compile(rf"\s(?=(?:{'|'.join(_SPLIT_WORDS)})\s*\d)")
_INNER_CODE = re.compile(r"\s(\d+(?:\.\d+)+)\s")
# A project listed as "<pid> <name>" rather than "<name> : <pid>".
_LEADING_PROJECT_PID = re.compile(r"^(\d{8}-\d{3,5})\s*[:.\-–]?\s+(.+)$")
_ENGLISH_TAIL = re.compile(r"^(.*?)\s+:\s+([A-Za-z][\x20-\x7e]*)$")


class Lines:
    """A page's lines with their match keys: ``plain`` (bold marks removed), ``key`` (and Arabic
    digits, same length as ``plain``) and ``tight`` (``key`` without whitespace)."""

    __slots__ = ("key", "plain", "raw", "tight")

    def __init__(self, raw: Sequence[str]) -> None:
        self.raw = list(raw)
        # Every key is made for the whole page at once: C-level passes over the joined text,
        # then the few lines that need it are put right (a Python loop per line costs more).
        self.plain = list(self.raw)
        for i in compress(range(len(self.raw)), map(contains, self.raw, repeat("*"))):
            self.plain[i] = " ".join(self.raw[i].replace("*", "").split())
        # Labels, headings and strategy lines are short; long lines (report texts) are matched
        # by nothing, so they keep their digits and spaces and are left out of the passes.
        lengths = list(map(len, self.plain))
        long = list(compress(range(len(lengths)), map(_KEY_MAX.__le__, lengths)))
        text = "\n".join(compress(self.plain, map(_KEY_MAX.__gt__, lengths)))
        if len(long) == len(lengths) or text.count("\n") != len(lengths) - len(long) - 1:
            # no short line, or a line of several lines: line by line
            self.key = [arabic_digits(s) if len(s) < _KEY_MAX else s for s in self.plain]
            self.tight = [s.replace(" ", "") if len(s) < _KEY_MAX else s for s in self.key]
            return
        keys = arabic_digits(text)
        self.key = keys.split("\n")
        self.tight = keys.replace(" ", "").split("\n")
        for i in long:
            self.key.insert(i, self.plain[i])
            self.tight.insert(i, self.plain[i])

    def __len__(self) -> int:
        return len(self.raw)

    def text(self, start: int, end: int) -> str | None:
        """Non-empty lines of ``[start, end)`` joined by newlines; None when nothing (or ``-``)."""
        text = "\n".join([s for s in map(str.strip, self.raw[start:end]) if s])
        return None if text in ("", "-") else text


class Section(NamedTuple):
    """A heading and the line range ``[start, end)`` of its body."""

    name: str
    quarter: int | None
    heading: int
    start: int
    end: int


def heading_of(tight: str) -> tuple[str, int | None] | None:
    """The section a line opens (name, quarter), or None when it is not a heading."""
    found = _HEADING_KEYS.get(tight)
    if found is None and tight[1:2] == "." and tight[0].isdigit():
        name = HEADINGS.get(tight[2:])
        return (name, None) if name is not None else None
    return found


def split_sections(lines: Lines, start: int, end: int) -> tuple[int, list[Section]]:
    """Cut ``[start, end)`` at headings; return where the preamble ends and the sections."""
    tights = lines.tight[start:end]
    marks: list[tuple[int, tuple[str, int | None]]] = []
    # only a line as long as some heading can be one: lengths are compared in C and the few
    # lines left are looked at in Python (a Python loop over every line cost 3x as much)
    lengths = map(len, tights)
    for i in compress(range(len(tights)), map(_HEADING_LENGTHS.__contains__, lengths)):
        if (heading := heading_of(tights[i])) is not None:
            marks.append((start + i, heading))
    ends = [i for i, _ in marks[1:]]
    if marks:
        ends.append(end)
    sections = [
        Section(name, quarter, i, i + 1, stop)
        for (i, (name, quarter)), stop in zip(marks, ends, strict=True)
    ]
    return (marks[0][0] if marks else end), sections


def drop_cut_heading(lines: Lines, warnings: list[str]) -> int:
    """Length of the page without a last line that is a heading cut short (``นิยาม ห``)."""
    end = len(lines)
    while end and not lines.tight[end - 1]:
        end -= 1
    if end:
        last = lines.tight[end - 1]
        if len(last) >= 2 and heading_of(last) is None:
            for heading in _CUT_HEADINGS:
                if heading.startswith(last) or heading.startswith(last.split(".", 1)[-1] or "-"):
                    warnings.append(f"page ends inside a heading: {lines.plain[end - 1]!r}")
                    return end - 1
    return end


def split_title(text: str) -> tuple[str, str | None]:
    """``<title> : <pid>`` → (title, pid in Arabic digits); split on the last `` : ``."""
    head, sep, tail = text.rpartition(" : ")
    pid = arabic_digits(tail.strip())
    if sep and PID.match(pid):
        return head.strip(), pid
    return text.strip(), None


def label_value(plain: str, key: str, label: str) -> tuple[str | None, str | None] | None:
    """``<label> <unit> : <value>`` at line start → (unit, value), split on the first colon."""
    if not key.startswith(label):
        return None
    rest = plain[len(label) :]
    if rest and not (rest[0].isspace() or rest[0] == ":"):
        return None
    unit, colon, value = rest.partition(":")
    if not colon:
        return unit.strip() or None, None
    return unit.strip() or None, value.strip() or None


def number(text: str | None) -> float | None:
    """A float when the text is exactly one number, else None."""
    if not text:
        return None
    return float(text) if _SIMPLE_NUMBER(text) else parse_number(text)


def audit(plain: str, key: str) -> tuple[int, str | None, float | None] | None:
    """``*** สยป. ตรวจประเมินตัวชี้วัด : ไตรมาสที่ N: score`` → (quarter, score text, score)."""
    m = _AUDIT.match(key)
    if m is None:
        return None
    text = plain[m.start(2) :].strip() or None
    return int(m.group(1)), text, number(text)


def quarter_table(lines: Lines, start: int, end: int, warnings: list[str]) -> list[Quarter]:
    """Rows of the ``ผลงานเทียบกับเป้าหมายรายไตรมาส`` table; blank cells stay None."""
    tight = lines.tight
    i = start
    while i < end and not tight[i].endswith("2.1/2.2)"):
        i += 1
    if i == end:
        if any(tight[start:end]):
            warnings.append("quarterly table has no (2.1 / 2.2) header; rows not read")
        return []
    quarters: list[Quarter] = []
    expected = 1
    i += 1
    while i < end and expected <= 4:
        cell = tight[i]
        if not cell:
            i += 1
        elif cell == str(expected):
            cells: list[str] = []
            j = i + 1
            pair: str | None = None
            found: re.Match[str] | None = None
            while j < end:
                if "/" in tight[j] and (found := _PAIR.match(tight[j])):
                    pair = lines.plain[j]
                    j += 1
                    break
                if tight[j] == str(expected + 1) and sum(1 for c in cells if c) >= 2:
                    break
                cells.append(lines.plain[j])
                j += 1
            quarters.append(_row(expected, cells, pair, warnings, found))
            expected += 1
            i = j
        elif "/" in cell and (found := _PAIR.match(cell)):
            quarters.append(_row(expected, [], lines.plain[i], warnings, found))
            expected += 1
            i += 1
        else:
            warnings.append(f"unexpected line in the quarterly table: {lines.plain[i]!r}")
            i += 1
    return quarters


def _row(
    quarter: int,
    cells: list[str],
    pair: str | None,
    warnings: list[str],
    found: re.Match[str] | None = None,
) -> Quarter:
    """One quarter's record; ``found`` is ``_PAIR``'s match of the pair's tight key, which is
    the text matched below whenever the line is shorter than ``_KEY_MAX``."""
    while cells and not cells[-1]:
        cells.pop()
    if len(cells) > 2:
        warnings.append(f"quarter {quarter}: extra table cells {cells[2:]!r} ignored")
    result_text = (cells[0] if cells else "") or None
    assessment_text = (cells[1] if len(cells) > 1 else "") or None
    first = second = None
    if pair is not None:
        m = (
            found
            if found is not None and len(pair) < _KEY_MAX
            else _PAIR.match(arabic_digits(pair).replace(" ", ""))
        )
        if m:
            first, second = number(m.group(1)), number(m.group(2))
    return _QUARTER(
        {
            "quarter": quarter,
            "result": number(result_text),
            "result_text": result_text,
            "assessment": number(assessment_text),
            "assessment_text": assessment_text,
            "score_2_1": first,
            "score_2_2": second,
            "scores_text": pair,
        }
    )


def reports_in(
    text: str | None, quarter: int | None, seq: int, warnings: list[str]
) -> list[Report]:
    """One report per ``DD/MM/YYYY :`` stamp in ``text`` (undated text → one dateless report)."""
    if text is None or text.strip() in ("", "-"):
        return []
    stamps = _stamps(text)
    reports: list[Report] = []
    lead = text[: stamps[0].start()].strip() if stamps else text.strip()
    if lead and lead != "-":
        reports.append(_REPORT({"quarter": quarter, "seq": seq, "text": lead}))
        seq += 1
    for n, m in enumerate(stamps):
        stop = stamps[n + 1].start() if n + 1 < len(stamps) else len(text)
        date_text = text[m.start(1) : m.end(1)]
        value = stamp_date(date_text)
        if value is None:
            warnings.append(f"report date {date_text!r} is not a real date")
        entry = text[m.end() : stop].strip()
        dated = {"quarter": quarter, "seq": seq, "date": value, "date_text": date_text}
        dated["text"] = entry
        reports.append(_REPORT(dated))
        seq += 1
    return reports


def _stamps(text: str) -> list[re.Match[str]]:
    """``DD/MM/YYYY :`` stamps that start the text or follow whitespace, found from each ``/``
    (a regex scan of long Thai text costs more than the rest of the page)."""
    found: list[re.Match[str]] = []
    pos = text.find("/")
    while pos != -1:
        start = pos
        while start > 0 and start > pos - 2 and text[start - 1] in _DIGIT_CHARS:
            start -= 1
        if start < pos and (start == 0 or text[start - 1].isspace()):
            m = _STAMP.match(text, start)
            if m is not None:
                found.append(m)
                pos = text.find("/", m.end())
                continue
        pos = text.find("/", pos + 1)
    return found


def reports_year(reports: Iterable[Report]) -> int | None:
    """The BE fiscal year most dated reports fall in (ties: the first met)."""
    # a plain dict keeps first-met order for ties, as Counter.most_common does, without its cost
    years: dict[int, int] = {}
    for report in reports:
        if report.date is not None:
            year = fiscal_year(report.date)
            years[year] = years.get(year, 0) + 1
    return max(years, key=years.__getitem__) if years else None


# Fiscal years a KPI page can belong to: the BMA's system dates from the 2550s. A text's count
# can read as a two-digit year ("ก.พ. 15 ครั้ง": February 2515) and a typo as a far one (2663).
_KPI_FISCAL_YEARS = range(2550, 2600)


def reports_text_year(reports: Iterable[Report]) -> int | None:
    """The BE fiscal year the dates written in the reports' texts fall in most often (a month
    and a year at least: ``เดือนตุลาคม 2563``, ``ธ.ค. 63``, ``14 ธันวาคม 2563``); None when they
    name none in ``_KPI_FISCAL_YEARS``, or two years equally often."""
    years = Counter(
        year
        for report in reports
        for date in find_dates(report.text)
        if date.value is not None and (year := fiscal_year(date.value)) in _KPI_FISCAL_YEARS
    )
    ranked = years.most_common(2)
    if not ranked or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
        return None
    return ranked[0][0]


def strategies(
    lines: Lines, start: int, end: int, warnings: list[str]
) -> tuple[list[Strategy], bool]:
    """The lines of a ``สนับสนุนยุทธศาสตร์กรุงเทพมหานครฯ`` block, and whether the last was cut."""
    found: list[Strategy] = []
    for i in range(start, end):
        if lines.tight[i]:
            found.extend(strategy_line(lines.plain[i], lines.key[i]))
    if found and not found[-1].title:
        warnings.append(f"strategy line cut short: {found[-1].text!r}")
        found.pop()
        return found, True
    return found, False


def strategy_line(plain: str, key: str) -> list[Strategy]:
    """One printed strategy line → one or more strategies (department pages join two)."""
    # regex scans of Thai text are slow; the words and the dot they need are found first
    cuts = [0]
    if any(word in key for word in _SPLIT_WORDS):
        cuts.extend(m.start() + 1 for m in _STRATEGY_SPLIT.finditer(key))
    if len(cuts) == 1 and ("." not in key or _INNER_CODE.search(key) is None):
        # the usual case: one strategy per line
        stripped = key.strip()
        return [_strategy(plain.strip(), stripped)] if stripped else []
    previous: str | None = None
    for m in _INNER_CODE.finditer(key):
        if previous is None:
            head = _STRATEGY.match(key)
            previous = head.group(2) if head else ""
        if (
            previous
            and m.group(1).startswith(previous + ".")
            and not key[: m.start()].endswith(_LEVEL_WORDS)
        ):
            cuts.append(m.start() + 1)
    cuts = sorted(set(cuts))
    spans = zip(cuts, [*cuts[1:], len(key)], strict=True)
    return [_strategy(plain[a:b].strip(), key[a:b].strip()) for a, b in spans if key[a:b].strip()]


def _strategy(plain: str, key: str) -> Strategy:
    text = plain.lstrip(":").strip()
    m = _STRATEGY.match(key)
    if m is None:
        # A level word with nothing after it ("เป้าประสงค์ที่") is a line cut short: no title.
        cut = text.startswith(_LEVEL_WORDS) and len(text.split()) == 1
        title = "" if cut else text.rstrip("%").strip()
        return _STRATEGY_RECORD({"code": None, "title": title, "text": plain})
    title = plain[m.start(3) :].strip().rstrip("%").strip()
    title_en = None
    # the lazy regex backtracks over the whole title: only a title with a colon that ends in
    # ASCII can have an English name appended
    english = _ENGLISH_TAIL.match(title) if ":" in title and title[-1:] <= "~" else None
    if english:
        title, title_en = english.group(1).strip(), english.group(2).strip()
    code, level = m.group(2), m.group(1)
    return _STRATEGY_RECORD(
        {"code": code, "title": title, "title_en": title_en, "level": level, "text": plain}
    )


def is_strategy_line(key: str) -> bool:
    """Whether a line reads like a strategy line (``:๕.๔ - …``, ``มิติที่ ๓.๓ - …``)."""
    m = _STRATEGY.match(key)
    return bool(m and (m.group(1) or "." in m.group(2)) and m.group(3))


def project_refs(
    lines: Lines, start: int, end: int, links: dict[str, str], kind_of: KindOf
) -> list[ProjectRef]:
    """The ``โครงการ/กิจกรรมที่สนับสนุนตัวชี้วัด`` lines, with the project page each links to."""
    refs: list[ProjectRef] = []
    for i in range(start, end):
        text = lines.plain[i]
        if not text or text == "-":
            continue
        name, pid = split_title(text)
        if pid is None and (lead := _LEADING_PROJECT_PID.match(text)):
            pid, name = lead.group(1), lead.group(2)
        url = links.get(text) or links.get(name)
        if url is not None and kind_of(url) != "project":
            url = None
        refs.append(_PROJECT_REF({"pid": pid or pid_from_url(url), "name": name, "url": url}))
    return refs


def link_map(links: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Link text (bold marks removed, spaces collapsed) → first href with that text."""
    found: dict[str, str] = {}
    for href, text in links:
        key = _SPACE.sub(" ", text.replace("*", "")).strip()
        if key and key not in found:
            found[key] = href
    return found
