"""A deterministic synthetic BMA-scale site, built from the real fixtures, for the benchmarks.

    python benchmarks/synth.py [--pages 30000] [--projects 2000] [--reports 500] [--nights 3]
                               [--out benchmarks/.synth]

Writes, under OUT (ignored by git):

- ``site/``: night 1 as a recorded site ``kpi-archive replay`` serves (``<host>/<path>?<query>``,
  a ``.headers`` sidecar for the cp874 pages, a ``robots.txt`` per host);
- ``night2/``, ``night3/``…: overlays (``replay --overlay``) holding every page whose body differs
  from night 1 by that night; each night about 5 % of the pages change (result, last report);
- ``seeds.txt``: every page URL, one a line; ``manifest.json``: the counts.

KPI pages are the seed page's ``table`` and ``br`` markups with every value varied (pid, title,
target, result, quarter table, four dated reports, definition), the text drawn from the words of
the fixtures' own reports; one KPI page in ten is instead a copy of another KPI fixture (compact,
citydb-era, truncated…) under a new pid. One page in five is served as cp874 (windows-874).
Projects and agency reports are copies of their fixtures under new ids with the numbers varied.
The same arguments give byte-identical files. ``site_pages`` reads a generated night back.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
DEFAULT_OUT = ROOT / "benchmarks" / ".synth"
HOSTS = ("dp.bangkok.go.th", "dp1.bangkok.go.th", "dp2.bangkok.go.th", "monitor.bangkok.go.th")
CHANGE_SHARE = 0.05
CP874_SHARE = 0.2
SEED_PID = "0411-2029"
SEED_PROJECT = "04110000-3766"
THAI_DIGITS = str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙")
DECIMAL = re.compile(r"(?<![\d/])(\d{1,3})\.(\d{2,4})(?![\d/])")
LABEL_WORDS = ("รายงานผล", "ไตรมาส", "ค่าเป้าหมาย", "ผลงาน", "นิยาม", "วิธีการ", "สนับสนุน", "ประเภท")
HOST_OF_PREFIX = {
    "dp": "dp.bangkok.go.th",
    "dp1": "dp1.bangkok.go.th",
    "dp2": "dp2.bangkok.go.th",
    "monitor": "monitor.bangkok.go.th",
}


@dataclass(frozen=True)
class Page:
    """One generated page: where it lives and what it holds on a given night."""

    url: str
    body: bytes
    cp874: bool


def decode_fixture(path: Path) -> str:
    return path.read_bytes().decode("cp874" if ".cp874." in path.name else "utf-8")


def _mark_after(template: str, label: str, marker: str) -> str:
    """Replace the text chunk that follows ``label`` (next ``<p>`` or the line after ``<br>``)."""
    pattern = re.compile(re.escape(label) + r"(</p>\n<p>|<br>\n<br>\n)(.*?)(</p>|\n?<br>)", re.S)
    found = pattern.search(template)
    if found is None:
        raise ValueError(f"seed template: no text after {label!r}")
    start, end = found.span(2)
    return template[:start] + marker + template[end:]


def kpi_templates() -> list[str]:
    """The seed page's table and br markups with @@markers@@ where the values go."""
    templates = []
    for markup in ("table", "br"):
        text = decode_fixture(FIXTURES / "kpi" / f"dp_0411-2029.{markup}.utf8.html")
        title = "ร้อยละความสำเร็จของการรณรงค์สร้างจิตสำนึกโปร่งใส สะอาด ปลอดภัย และสิ่งแวดล้อม"
        text = text.replace(title, "@@TITLE@@").replace(SEED_PID, "@@PID@@")
        text = text.replace(SEED_PROJECT, "@@PROJECT@@")
        text = text.replace("ค่าเป้าหมาย ร้อยละ : 100", "ค่าเป้าหมาย ร้อยละ : @@TARGET@@")
        text = text.replace("ผลงานที่ทำได้ ร้อยละ : 100", "ผลงานที่ทำได้ ร้อยละ : @@RESULT@@")
        for n, value in enumerate(("10.00", "30.00", "70.00", "100.00"), start=1):
            old = f"<td>{value}</td>" if markup == "table" else f"\n{value}<br>"
            new = f"<td>@@Q{n}@@</td>" if markup == "table" else f"\n@@Q{n}@@<br>"
            assert text.count(old) == 1, (markup, old)
            text = text.replace(old, new)
        for n in range(1, 5):
            text = _mark_after(text, f"รายงานผลฯ ไตรมาสที่ {n}", f"@@R{n}@@")
        text = _mark_after(text, "นิยาม หรือความหมายของตัวชี้วัด", "@@DEFINITION@@")
        templates.append(text)
    return templates


def word_pool() -> tuple[list[str], list[str]]:
    """(titles, words) from the fixtures: KPI titles and the words of every paragraph."""
    titles: list[str] = []
    words: list[str] = []
    for path in sorted((FIXTURES / "kpi").glob("*.html")) + sorted(
        (FIXTURES / "project").glob("*.html")
    ):
        text = re.sub(r"<[^>]+>", "\n", decode_fixture(path))
        for line in text.splitlines():
            line = line.strip()
            if " : " in line and re.search(r"\d{4}-\d{3,4}$", line):
                titles.append(line.rsplit(" : ", 1)[0].strip())
            elif len(line) > 80:
                words.extend(
                    w
                    for w in line.split()
                    if ":" not in w and not any(label in w for label in LABEL_WORDS)
                )
    return sorted(set(titles)), words


def fixture_copies(kind: str) -> list[tuple[str, str, str]]:
    """(host, path form with {pid}, text with {pid} holes) of every fixture of a kind."""
    copies = []
    for path in sorted((FIXTURES / kind).glob("*.html")):
        prefix, rest = path.name.split("_", 1)
        pid = rest.split(".", 1)[0]
        host = HOST_OF_PREFIX.get(prefix)
        if host is None or ".alt." in path.name:
            continue
        script = "mykpi.php" if kind == "kpi" else "myproject.php"
        text = decode_fixture(path).replace("{", "{{").replace("}", "}}")
        if pid in text:  # a copy that cannot carry its new pid would repeat another's body
            copies.append((host, f"/mobile/{script}?pid={{pid}}", text.replace(pid, "{pid}")))
    return copies


def vary_decimals(text: str, rng: random.Random) -> str:
    """Every ``12.34``-like number replaced by another with the same number of places."""

    def swap(found: re.Match[str]) -> str:
        places = len(found.group(2))
        return f"{rng.uniform(0, 100):.{places}f}"

    return DECIMAL.sub(swap, text)


class Synth:
    """Deterministic page generator: ``page(kind, i, version)`` is a pure function."""

    def __init__(self, pages: int, projects: int, reports: int) -> None:
        self.counts = {"kpi": pages, "project": projects, "department": reports}
        self.templates = kpi_templates()
        self.titles, self.words = word_pool()
        self.kpi_copies = fixture_copies("kpi")
        self.project_copies = fixture_copies("project")
        self.department = decode_fixture(
            FIXTURES / "department" / "monitor_index11_23000000_2564.table.utf8.html"
        )
        agencies = (ROOT / "scraper" / "data" / "agencies.txt").read_text().split()
        self.agencies = [a for a in agencies if a.isdigit() and len(a) == 8]

    def all_pages(self) -> Iterator[tuple[str, int]]:
        for kind, count in self.counts.items():
            for i in range(count):
                yield kind, i

    def version(self, kind: str, i: int, night: int) -> int:
        """How many times page ``i`` has changed by ``night`` (night 1 is version 0)."""
        return sum(
            random.Random(f"change:{kind}:{i}:{n}").random() < CHANGE_SHARE
            for n in range(2, night + 1)
        )

    def kpi_pid(self, i: int) -> str:
        agency = self.agencies[i % len(self.agencies)][:4]
        return f"{agency}-{1000 + i // len(self.agencies):04d}"

    def project_pid(self, j: int) -> str:
        agency = self.agencies[j % len(self.agencies)]
        return f"{agency}-{3000 + j // len(self.agencies):04d}"

    def text(self, rng: random.Random, low: int, high: int) -> str:
        return " ".join(rng.choices(self.words, k=rng.randint(low, high)))

    def page(self, kind: str, i: int, version: int) -> Page:
        rng = random.Random(f"{kind}:{i}")
        cp874 = rng.random() < CP874_SHARE
        later = random.Random(f"{kind}:{i}:v{version}")
        if kind == "kpi":
            url, text = self._kpi(i, rng, later, version)
        elif kind == "project":
            host, form, copy = self.project_copies[i % len(self.project_copies)]
            pid = self.project_pid(i)
            url = f"http://{host}{form.format(pid=pid)}"
            text = vary_decimals(copy.format(pid=pid), later)
        else:
            agency = self.agencies[i % len(self.agencies)]
            year = 2560 + i // len(self.agencies)
            url = f"http://monitor.bangkok.go.th/mobile/index11.php?selDEP={agency}&selYear={year}"
            text = self.department.replace("23000000", agency).replace(
                "ประจำปี : 2564", f"ประจำปี : {year}"
            )
            text = vary_decimals(text.replace("2300-", f"{agency[:4]}-"), later)
        if cp874:
            text = re.sub(r'<meta charset="[^"]*">', '<meta charset="windows-874">', text, count=1)
            return Page(url, text.encode("cp874", errors="xmlcharrefreplace"), True)
        return Page(url, text.encode("utf-8"), False)

    def _kpi(
        self, i: int, rng: random.Random, later: random.Random, version: int
    ) -> tuple[str, str]:
        host = HOSTS[i % len(HOSTS)]
        pid = self.kpi_pid(i)
        url = f"http://{host}/mobile/mykpi.php?pid={pid}"
        if i % 10 == 9:
            _, _, copy = self.kpi_copies[i // 10 % len(self.kpi_copies)]
            return url, vary_decimals(copy.format(pid=pid), later)
        year = rng.choice((2564, 2565, 2566, 2567))
        target = rng.choice((80, 85, 90, 100))
        quarters = sorted(round(rng.uniform(0, target), 2) for _ in range(4))
        result = quarters[-1] if version == 0 else round(later.uniform(0, 100), 2)
        values = {
            "TITLE": f"{rng.choice(self.titles)} {self.text(rng, 1, 3)}",
            "PID": pid,
            "PROJECT": self.project_pid(i % max(self.counts["project"], 1)),
            "TARGET": str(target),
            "RESULT": f"{result:g}",
            "DEFINITION": self.text(rng, 10, 40),
        }
        for n, value in enumerate(quarters, start=1):
            values[f"Q{n}"] = f"{value:.2f}"
        for n in range(1, 5):
            month = (12, 3, 6, 9)[n - 1]
            fiscal = year - 1 if n == 1 else year
            day = rng.randint(1, 28)
            report = self.text(later if n == 4 and version else rng, 10, 50)
            if rng.random() < 0.3:
                report = report.translate(THAI_DIGITS)
            values[f"R{n}"] = f"{day:02d}/{month:02d}/{fiscal} : {report}"
        text = self.templates[i % 2]
        for key, value in values.items():
            text = text.replace(f"@@{key}@@", value)
        return url, text


def url_path(root: Path, url: str) -> Path:
    """Where the recorded-site layout keeps ``url``'s body."""
    rest = url.split("://", 1)[1]
    return root / rest


def write_page(root: Path, page: Page) -> None:
    path = url_path(root, page.url)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(page.body)
    if page.cp874:
        headers = {"status": 200, "headers": {"Content-Type": "text/html; charset=tis-620"}}
        path.with_name(path.name + ".headers").write_text(json.dumps(headers))


def generate(out: Path, pages: int, projects: int, reports: int, nights: int) -> dict[str, int]:
    """Write the site and its later nights under ``out`` (replacing what was there)."""
    if out.exists():
        shutil.rmtree(out)
    synth = Synth(pages, projects, reports)
    site = out / "site"
    recorded = ROOT / "kpi_archive" / "replay_site" / "site"
    robots = (recorded / "dp.bangkok.go.th" / "robots.txt").read_bytes()
    for host in HOSTS:
        (site / host).mkdir(parents=True, exist_ok=True)
        (site / host / "robots.txt").write_bytes(robots)
    urls = []
    changed = dict.fromkeys(range(2, nights + 1), 0)
    for kind, i in synth.all_pages():
        page = synth.page(kind, i, 0)
        write_page(site, page)
        urls.append(page.url)
        for night in changed:
            version = synth.version(kind, i, night)
            if version:
                write_page(out / f"night{night}", synth.page(kind, i, version))
                changed[night] += 1
    (out / "seeds.txt").write_text("\n".join(urls) + "\n")
    manifest = {**synth.counts, "urls": len(urls)}
    manifest.update({f"night{n}_changed": count for n, count in changed.items()})
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def site_pages(out: Path, night: int = 1) -> Iterator[tuple[str, bytes, str]]:
    """(url, body, content type) of every page as served on ``night``, in seeds.txt order."""
    overlay = out / f"night{night}"
    for url in (out / "seeds.txt").read_text().split():
        path = url_path(overlay, url)
        if night == 1 or not path.exists():
            path = url_path(out / "site", url)
        sidecar = path.with_name(path.name + ".headers")
        content_type = "text/html"
        if sidecar.exists():
            content_type = json.loads(sidecar.read_text())["headers"]["Content-Type"]
        yield url, path.read_bytes(), content_type


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--pages", type=int, default=30_000, help="KPI pages")
    options.add_argument("--projects", type=int, default=None, help="default: pages / 15")
    options.add_argument("--reports", type=int, default=None, help="default: pages / 60")
    options.add_argument("--nights", type=int, default=3)
    options.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = options.parse_args()
    projects = args.projects if args.projects is not None else args.pages // 15
    reports = args.reports if args.reports is not None else args.pages // 60
    manifest = generate(args.out, args.pages, projects, reports, args.nights)
    print(json.dumps(manifest))


if __name__ == "__main__":
    main()
