"""Thai word segmentation: nlpo3 (what ``parsers.thai`` uses) against PyThaiNLP newmm, same run.

Both segment the real seed page's text (``../shared/realpages`` is not needed: the fixture's
visible lines are used) with the same newmm dictionary; the figure is the speed ratio, and the
word lists must be identical. Merged into results.json.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from parsers import thai
from parsers.text import visible_lines

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results.json"
SEED = ROOT / "tests" / "fixtures" / "kpi" / "dp_0411-2029.table.utf8.html"
ROUNDS = 20


def _rate(segment, lines: list[str]) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    for _ in range(ROUNDS):
        for line in lines:
            segment(line)
    return ROUNDS * len(lines) / (time.perf_counter() - started)


def main() -> None:
    from pythainlp.tokenize import word_tokenize

    lines = [line for line in visible_lines(SEED.read_bytes()) if line]
    nlpo3 = thai._segmenter()
    pythainlp = lambda text: word_tokenize(text, engine="newmm", keep_whitespace=True)  # noqa: E731

    def thai_words(tokens: list[str]) -> list[str]:
        return [t for t in tokens if re.search("[ก-๛]", t)]

    same = sum(thai_words(list(nlpo3(line))) == thai_words(pythainlp(line)) for line in lines)
    pythainlp("ค้นหา")  # load its dictionary outside the timer
    nlpo3_rate, pythainlp_rate = _rate(nlpo3, lines), _rate(pythainlp, lines)
    print(f"segment nlpo3      {nlpo3_rate:10,.0f} lines/s")
    print(f"segment pythainlp  {pythainlp_rate:10,.0f} lines/s")
    ratio = nlpo3_rate / pythainlp_rate
    print(f"nlpo3 / pythainlp: {ratio:.1f}x  (same Thai words on {same} of {len(lines)} lines)")
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["segment_nlpo3_over_pythainlp"] = round(nlpo3_rate / pythainlp_rate, 2)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
