"""The one Thai text module: digits, numbers, dates, the fiscal calendar, search folding, words.

Parse, archive and publish all import from here. Every function is pure and total: given any
``str`` it returns a value (``None`` for "not a number / not a date") and never raises, so a parser
can call it on whatever a page printed. Dates keep the text they came from; an impossible date
(``31/02/2566``) keeps its text, has ``value=None`` and a ``warning``.

Importing this module reads no file and writes none: the month names are written out below, and
the word segmenter (nlpo3, on PyThaiNLP's bundled ``newmm`` dictionary) loads on first use. So the
crawl never makes PyThaiNLP create ``~/pythainlp-data`` (which a read-only home forbids).
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.util
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")
BE_OFFSET = 543
# A four-digit year below this is already Common Era (a page printing 2022 means 2022).
_FIRST_BE_YEAR = 2400
_ZERO_WIDTH = ("\u200b", "\ufeff")

Precision = Literal["day", "month"]

# As PyThaiNLP's ``pythainlp.util.date`` spells them; written out so importing us loads nothing.
THAI_FULL_MONTHS = (
    "มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน",
    "กรกฎาคม", "สิงหาคม", "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม",
)  # fmt: skip
THAI_ABBR_MONTHS = (
    "ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.",
    "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.", "พ.ย.", "ธ.ค.",
)  # fmt: skip


_DIGIT_PAIRS = tuple(zip("๐๑๒๓๔๕๖๗๘๙", "0123456789", strict=True))


def arabic_digits(text: str) -> str:
    """Replace Thai digits ๐–๙ by 0–9, leaving everything else unchanged."""
    # str.translate (and pythainlp's digit converter, built on it) looks every character up in a
    # dict, ~70 ns each on Thai text; ten C-level searches are ~5x faster on a typical line.
    for thai, arabic in _DIGIT_PAIRS:
        if thai in text:
            text = text.replace(thai, arabic)
    return text


def collapse_space(text: str) -> str:
    """Collapse every run of Unicode whitespace (NBSP, zero-width space too) to one space."""
    for char in _ZERO_WIDTH:
        if char in text:
            text = text.replace(char, " ")
    return " ".join(text.split())


_NUMBER = re.compile(r"[+\-\u2212]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?(?:\.-)?")


def parse_number(text: str | None) -> float | None:
    """The value of a text that is exactly one number (``1,407.52``, ``๑๐๐``, ``200.-``)."""
    if not text:
        return None
    candidate = arabic_digits(text.strip())
    if not _NUMBER.fullmatch(candidate):
        return None
    candidate = candidate.removesuffix(".-").replace(",", "").replace("\u2212", "-")
    value = float(candidate)
    return value if math.isfinite(value) else None


def be_to_ce(year: int) -> int:
    """Buddhist-Era year → Common-Era year (2566 → 2023)."""
    return year - BE_OFFSET


def ce_to_be(year: int) -> int:
    """Common-Era year → Buddhist-Era year (2023 → 2566)."""
    return year + BE_OFFSET


def fiscal_year(d: dt.date) -> int:
    """The BE fiscal year (1 Oct–30 Sep) holding ``d``, named by the BE year in which it ends."""
    return ce_to_be(d.year) + (1 if d.month >= 10 else 0)


def fiscal_quarter(d: dt.date) -> int:
    """The fiscal quarter of ``d``: 1 = Oct–Dec, 2 = Jan–Mar, 3 = Apr–Jun, 4 = Jul–Sep."""
    return (d.month - 10) % 12 // 3 + 1


@dataclass(frozen=True)
class ThaiDate:
    """A date as printed (``text``) and its CE value; ``value`` is None when impossible."""

    text: str
    value: dt.date | None
    precision: Precision
    warning: str | None = None


# pythainlp's thai_strptime needs one exact format per call and raises IndexError on
# abbreviated months and D/M/Y stamps, so only its month tables are used; the grammar is ours.
def _month_pattern() -> tuple[str, dict[str, int]]:
    numbers: dict[str, int] = {}
    by_initial: dict[str, list[str]] = {}
    for number, (full, abbr) in enumerate(zip(THAI_FULL_MONTHS, THAI_ABBR_MONTHS, strict=True), 1):
        numbers[full] = numbers[abbr.replace(".", "")] = number
        first, second = abbr.rstrip(".").split(".")
        by_initial.setdefault(full[0], []).append(re.escape(full[1:]))
        by_initial.setdefault(first[0], []).append(rf"{re.escape(first[1:])}\.\s?{second}\.?")
    # Grouped by first letter, Python's re scans for those letters in C instead of trying
    # 24 alternatives at every position: find_dates runs on every report text.
    groups = (
        f"{initial}(?:{'|'.join(sorted(rests, key=len, reverse=True))})"
        for initial, rests in by_initial.items()
    )
    return "|".join(groups), numbers


_MONTHS, _MONTH_NUMBERS = _month_pattern()
_NUMERIC = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4}|[0-9]{2})(?![0-9/])")
_NAMED = re.compile(
    rf"(?P<month>{_MONTHS})\s*(?:พ\.\s?ศ\.\s*)?(?P<year>[0-9]{{4}}|[0-9]{{2}})(?![0-9])"
)
_BEFORE_MONTH = re.compile(r"(?:(?<![0-9.,])(?P<day>[0-9]{1,2})\s*)?(?:เดือน\s*)?$")
_STAMP_ONLY = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})").fullmatch
_LOOKBACK = 24
_NOT_BEFORE_NUMERIC = frozenset("0123456789/.,")


def _year_ce(digits: str) -> int:
    year = int(digits)
    if len(digits) == 2:
        year += 2500
    return be_to_ce(year) if year >= _FIRST_BE_YEAR else year


def _date(printed: str, year: str, month: int, day: int, precision: Precision) -> ThaiDate:
    try:
        return ThaiDate(printed, dt.date(_year_ce(year), month, day), precision)
    except ValueError as exc:
        return ThaiDate(printed, None, precision, f"impossible date {printed!r}: {exc}")


def _scan(original: str, digits: str) -> list[tuple[int, int, ThaiDate]]:
    """Every date in ``digits`` (``original`` with Arabic digits) as (start, end, date)."""
    found: list[tuple[int, int, ThaiDate]] = []
    for match in _NUMERIC.finditer(digits):
        start, end = match.span()
        if start and digits[start - 1] in _NOT_BEFORE_NUMERIC:
            continue
        day, month, year = match.groups()
        found.append((start, end, _date(original[start:end], year, int(month), int(day), "day")))
    for match in _NAMED.finditer(digits):
        start, end = match.span()
        month = _MONTH_NUMBERS[re.sub(r"[.\s]", "", match["month"])]
        before = _BEFORE_MONTH.search(digits, max(0, start - _LOOKBACK), start)
        day = before["day"] if before else None
        if before:
            start = before.start()
        printed = original[start:end]
        date = _date(printed, match["year"], month, int(day), "day") if day else None
        found.append((start, end, date or _date(printed, match["year"], month, 1, "month")))
    return sorted(found, key=lambda item: item[0])


def parse_date(text: str) -> ThaiDate | None:
    """The date a text consists of (``28/02/2566 :``, ``21 พ.ย. 65``, ``ธ.ค. 62``), else None."""
    stripped = text.strip().removesuffix(":").rstrip()
    # Report stamps are nearly all ``DD/MM/YYYY``: skip the general scan for them.
    if stamp := _STAMP_ONLY(stripped):
        day, month, year = stamp.groups()
        return _date(stripped, year, int(month), int(day), "day")
    found = _scan(stripped, arabic_digits(stripped))
    if len(found) == 1 and found[0][:2] == (0, len(stripped)):
        return found[0][2]
    return None


def stamp_date(stamp: str) -> dt.date | None:
    """The date of a report stamp ``DD/MM/YYYY`` (either digit script); None when impossible.

    ``parse_date(stamp).value`` without the general scan and the ``ThaiDate`` around it: a page
    carries a stamp per report entry."""
    day, month, year = arabic_digits(stamp).split("/")
    try:
        return dt.date(_year_ce(year), int(month), int(day))
    except ValueError:
        return None


def find_dates(text: str) -> list[ThaiDate]:
    """Every date mentioned in a free text, in order of appearance."""
    return [date for _, _, date in _scan(text, arabic_digits(text))]


# --- Search folding -------------------------------------------------------------------------

# Legacy Thai fonts (Windows-874 era) typed shifted tone marks and vowels from the Private Use
# Area U+F700–U+F71A; the real pages show them as ``ต่อ`` that no search for ``ต่อ`` finds.
_PUA_THAI = str.maketrans(
    {
        0xF700: "ฐ", 0xF701: "ิ", 0xF702: "ี", 0xF703: "ึ", 0xF704: "ื",
        0xF705: "่", 0xF706: "้", 0xF707: "๊", 0xF708: "๋", 0xF709: "์",
        0xF70A: "่", 0xF70B: "้", 0xF70C: "๊", 0xF70D: "๋", 0xF70E: "์",
        0xF70F: "ญ", 0xF710: "ั", 0xF711: "ํ", 0xF712: "็", 0xF713: "่",
        0xF714: "้", 0xF715: "๊", 0xF716: "๋", 0xF717: "์", 0xF718: "ุ",
        0xF719: "ู", 0xF71A: "ฺ",
        0x200B: None, 0x200C: None, 0x200D: None, 0x2060: None, 0xFEFF: None, 0x00AD: None,
    }
)  # fmt: skip
# Where ``_PUA_THAI`` changes a text. ``str.translate`` looks every character of a Thai text up in
# the table's dict; replacing only these matches is ~15x faster (the 88,555 texts of a 32,500-page
# archive that folding changes, 44 M characters: 3.5 -> 0.22 s, and ``fold`` 7.8 -> 2.6-3.2 s).
_PUA_OR_HIDDEN = re.compile("[" + "".join(chr(code) for code in _PUA_THAI) + "]")
_PUA_REPLACEMENT = {chr(code): target or "" for code, target in _PUA_THAI.items()}
# ``ดำารง`` (sara am typed, then sara aa again) and ``ดํา`` (nikhahit + sara aa) both mean ``ดำ``.
_SARA_AM = re.compile("\u0e4d\u0e32|\u0e33\u0e32")
# The same vowel or tone mark typed twice renders as one; fold it to one.
_REPEATED_MARK = re.compile("([\u0e31\u0e34-\u0e3a\u0e47-\u0e4e])\\1+")
# ``PM 2.5`` and ``PM2.5``, ``COVID 19`` and ``COVID19``: an acronym and its number are one term.
# Spelled with the letter class first and the word boundary checked behind it: a pattern that
# opens with ``\b`` is tried at every character, one that opens with a class skips to a letter
# (the same texts: 1.24 -> 0.61 s).
_ACRONYM_NUMBER = re.compile(r"([A-Za-z](?<!\w.)[A-Za-z]{1,4})[\s\-]+(?=[0-9])")


def fold(text: str | None) -> str:
    """Fold ``text`` for search: the same on index and query side, never shown to readers.

    Legacy PUA tone marks become standard ones, zero-width characters go, ``ำา``/``ํา`` become
    ``ำ``, a repeated mark is kept once, Thai digits become Arabic, ``PM 2.5`` becomes ``pm2.5``,
    whitespace collapses and case folds.
    """
    if not text:
        return ""
    text = unicodedata.normalize("NFC", text)
    text = _PUA_OR_HIDDEN.sub(_replace_pua, text)
    text = _SARA_AM.sub("\u0e33", text)
    text = _REPEATED_MARK.sub(r"\1", text)
    text = _ACRONYM_NUMBER.sub(r"\1", arabic_digits(text))
    return collapse_space(text).casefold()


def _replace_pua(match: re.Match[str]) -> str:
    return _PUA_REPLACEMENT[match.group()]


_ZERO_WIDTH_CLASS = "[\u200b\u200c\u200d\u2060\ufeff\u00ad]*"
_COMBINING = frozenset(
    "\u0e31\u0e34\u0e35\u0e36\u0e37\u0e38\u0e39\u0e3a\u0e47\u0e48\u0e49\u0e4a\u0e4b\u0e4c\u0e4d\u0e4e"
)


@functools.lru_cache(maxsize=1)
def _variants() -> dict[str, set[str]]:
    """Every character that ``fold`` turns into a given one (PUA marks, Thai digits)."""
    out: dict[str, set[str]] = {}
    for code, target in _PUA_THAI.items():
        if isinstance(target, str):
            out.setdefault(target, set()).add(chr(code))
    for thai_digit, digit in _DIGIT_PAIRS:
        out.setdefault(digit, set()).add(thai_digit)
    return out


@functools.lru_cache(maxsize=256)
def fold_pattern(query: str) -> re.Pattern[str] | None:
    """A regex finding ``query`` in the *original* text, whatever ``fold`` would have hidden.

    Used to highlight a hit in the text as printed: ``ดำรง`` matches ``ดำารง``, ``PM2.5`` matches
    ``PM 2.5``, ``2566`` matches ``๒๕๖๖``. None for an empty query.
    """
    folded = fold(query)
    if not folded:
        return None
    parts = []
    for i, char in enumerate(folded):
        if char == " ":
            parts.append(r"\s+")
            continue
        if char == "\u0e33":
            piece = "(?:\u0e33\u0e32?|\u0e4d\u0e32)"
        else:
            options = sorted({char, *_variants().get(char, ())})
            piece = "[" + "".join(re.escape(o) for o in options) + "]"
        if char in _COMBINING:
            piece += "+"
        parts.append(piece + _ZERO_WIDTH_CLASS)
        following = folded[i + 1] if i + 1 < len(folded) else ""
        if char.isascii() and char.isalpha() and following.isdigit():
            parts.append(r"[\s\-]*")
    return re.compile("".join(parts), re.IGNORECASE)


# --- Word segmentation -----------------------------------------------------------------------

# nlpo3 segments with the same newmm algorithm and dictionary as PyThaiNLP, about 30x faster
# (benchmarks/), and reads the dictionary from the file we give it, so nothing is downloaded or
# written. PyThaiNLP stays the fallback where nlpo3 has no wheel.
_NLPO3_DICT = "kpi_archive_th"


def _pythainlp_words_file() -> Path | None:
    spec = importlib.util.find_spec("pythainlp")  # locates the package without importing it
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / "corpus" / "words_th.txt"
        if candidate.is_file():
            return candidate
    return None


@functools.lru_cache(maxsize=1)
def _segmenter() -> Callable[[str], list[str]]:
    words_file = _pythainlp_words_file()
    if words_file is not None and importlib.util.find_spec("nlpo3") is not None:
        import nlpo3

        nlpo3.load_dict(str(words_file), _NLPO3_DICT)
        return functools.partial(nlpo3.segment, dict_name=_NLPO3_DICT)
    from pythainlp.tokenize import word_tokenize

    return functools.partial(word_tokenize, engine="newmm", keep_whitespace=True)


@functools.lru_cache(maxsize=8192)
def words(text: str) -> tuple[str, ...]:
    """Cut ``text`` into newmm words; whitespace runs are tokens too, so lengths add up."""
    return tuple(_segmenter()(text)) if text else ()


def segment(text: str | None) -> str:
    """Thai text as newmm words joined by single spaces (whitespace inside the text dropped)."""
    if not text:
        return ""
    return " ".join(w for w in (token.strip() for token in words(text)) if w)


# BMA titles carry list numbers, years and negotiation tags before the indicator's name.
_PREFIXES = [
    re.compile(p)
    for p in (
        r"ปี\s*\d{4}\s*",
        r"\((?:ตัวชี้วัด)?(?:เจรจา|เจราจา)[^)]{0,20}\)\s*",
        r"\(new\)\s*",
        r"สปท\.\s*\d+\s*/\s*",
        r"\d+\s*/\s*สปท\.\s*",
        r"มิติที่\s*(?:\d+\s*(?=\(\d)|\d+\.\d+\s+)",
        r"ตัวชี้วัดที่\s*\d+(?:\.\d+)*\s*(?::\s*)?",
        r"ตัวชี้วัดยุทธศาสตร์\s*(?=\(\d)",
        r"\(\d+(?:\.\d+)*\)\s*",
        r"\d+(?:\.\d+)+(?:_\d+)?\s*(?=\D)",
        r"\d+\.\s*(?=\D)",
        r"[-–]\s*",
    )
]
# Every prefix above starts with one of these characters or a decimal digit (``\d``): a title
# starting with anything else (most do) has no prefix, without trying the twelve patterns.
_PREFIX_FIRST = frozenset("ป(สมต-–")
_TITLE_YEAR = re.compile(r"^ปี\s*(\d{4})(?!\d)")
_TRAILING_NUMBER = re.compile(r"\s*\(\d+(?:\.\d+)+\)$")
_SECOND_ITEM = re.compile(r"\s2\.\s*\D")


def name_of(title: str | None) -> str | None:
    """The title without its leading ``ปี 2564`` and list-number prefixes (never whole words)."""
    if not title:
        return title
    key = arabic_digits(title).lower()
    first = key[:1]
    if first not in _PREFIX_FIRST and not first.isdecimal():
        return title.strip() or title
    pos = 0
    while True:
        for pattern in _PREFIXES:
            m = pattern.match(key, pos)
            if m and m.end() > pos:
                # "1.… 2.…" lists several indicators: their numbers are content, keep them.
                if pattern.pattern.startswith(r"\d+\.") and _SECOND_ITEM.search(key, m.end()):
                    continue
                pos = m.end()
                break
        else:
            break
    name = title[pos:].strip()
    name = _TRAILING_NUMBER.sub("", name) if pos else name
    return name or title


def title_year(title: str | None) -> int | None:
    """The BE year of a ``ปี 2564`` title prefix."""
    m = _TITLE_YEAR.match(arabic_digits(title or ""))
    return int(m.group(1)) if m else None
