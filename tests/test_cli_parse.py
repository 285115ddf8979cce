"""``kpi-archive parse FILE... [--url URL]``: UTF-8 JSON lines out, exit 2 on pages not ours."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner
from helpers import FIXTURES, SEED_URL

from kpi_archive.cli import cli


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["parse", *args])
    return result.exit_code, result.stdout, result.stderr


def test_prints_the_record_as_utf8_json_with_thai_unescaped() -> None:
    code, out, err = run(str(FIXTURES / "kpi/dp_0411-2029.br.utf8.html"), "--url", SEED_URL)
    assert (code, err) == (0, "")
    assert "ร้อยละความสำเร็จของการรณรงค์" in out and "\\u0e" not in out
    record = json.loads(out)
    assert (record["page_kind"], record["pid"], record["fiscal_year"], record["url"]) == (
        "kpi",
        "0411-2029",
        2566,
        SEED_URL,
    )


def test_several_files_give_one_object_per_line() -> None:
    paths = [
        FIXTURES / "kpi/dp_0411-2029.table.cp874.html",
        FIXTURES / "project/monitor_01000000-2435.br.utf8.html",
        FIXTURES / "department/dp_index102_50350000.table.cp874.html",
    ]
    code, out, _ = run(*map(str, paths))
    assert code == 0
    kinds = [json.loads(line)["page_kind"] for line in out.splitlines()]
    assert kinds == ["kpi", "project", "department"]


def test_empty_file_exits_2_with_one_line_naming_it(tmp_path: Path) -> None:
    empty = tmp_path / "empty.html"
    empty.write_bytes(b"")
    code, out, err = run(str(empty))
    assert (code, out) == (2, "")
    assert err.splitlines() == [f"Error: {empty}: not a BMA KPI page: empty body"]


def test_binary_file_exits_2(tmp_path: Path) -> None:
    image = tmp_path / "chart.png"
    shutil.copy(FIXTURES / "other/image.png", image)
    code, _, err = run(str(image))
    assert code == 2
    assert err.splitlines() == [
        f"Error: {image}: not a BMA KPI page: binary body, not an HTML page"
    ]


def test_unrelated_page_exits_2_naming_what_was_missing() -> None:
    path = FIXTURES / "other/dp2_reportprojectit662.utf8.html"
    code, _, err = run(str(path))
    assert code == 2
    [line] = err.splitlines()
    assert line.startswith(
        f"Error: {path}: not a BMA KPI page: not a BMA KPI, project or department page"
    )
    assert "รายละเอียดตัวชี้วัด" in line


def test_a_url_that_is_not_one_is_a_usage_error_naming_it() -> None:
    code, out, err = run(str(FIXTURES / "kpi/dp_0411-2029.br.utf8.html"), "--url", "http://[::1")
    assert (code, out) == (2, "")
    assert "Error: --url not an absolute http(s) URL: 'http://[::1'" in err
