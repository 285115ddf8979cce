"""The archive's commands: reparse, import, export-warc (click's CliRunner, real SQLite files)."""

from __future__ import annotations

import pytest
from archive_factories import JUNE, SEED_URL, response, seed_kpi
from click.testing import CliRunner

import archive
from kpi_archive.cli import cli


@pytest.fixture
def db_path(tmp_path):
    path = tmp_path / "kpi.db"
    db = archive.open_db(path)
    archive.save(db, response(), seed_kpi())
    archive.save(db, response(body=b"v2", at=JUNE), seed_kpi(result_value=1.0))
    db.close()
    return path


@pytest.mark.parametrize("command", ["reparse", "import", "export-warc"])
def test_every_archive_command_has_help(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert "DB" in result.output


def test_reparse_prints_counts(db_path):
    result = CliRunner().invoke(cli, ["reparse", str(db_path)])
    assert result.exit_code == 0, result.output
    # the real parser does not read these hand-made bodies: both captures become parse errors
    assert result.output == "Reparsed 2 captures: 0 records, 1 changed, 1 parse errors\n"


def test_export_then_import_round_trips(db_path, tmp_path):
    warc = tmp_path / "kpi.warc.gz"
    result = CliRunner().invoke(cli, ["export-warc", str(db_path), str(warc)])
    assert (result.exit_code, result.output) == (0, f"Wrote 2 WARC records to {warc}\n")
    fresh = tmp_path / "fresh" / "kpi.db"
    result = CliRunner().invoke(cli, ["import", str(fresh), str(warc)])
    assert (result.exit_code, result.output) == (0, "Imported 2 responses: 2 parse_error\n")
    assert archive.open_db(fresh).table("snapshots").count == 2


def test_import_of_html_needs_url(tmp_path):
    page = tmp_path / "page.html"
    page.write_bytes(b"<html></html>")
    result = CliRunner().invoke(cli, ["import", str(tmp_path / "kpi.db"), str(page)])
    assert result.exit_code == 2
    assert "an HTML file needs its page URL (--url)" in result.output
    result = CliRunner().invoke(
        cli, ["import", str(tmp_path / "kpi.db"), str(page), "--url", SEED_URL]
    )
    assert (result.exit_code, result.output) == (0, "Imported 1 responses: 1 parse_error\n")


def test_a_file_that_is_not_an_archive_is_an_error(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n")
    for args in (["reparse", str(notes)], ["export-warc", str(notes), str(tmp_path / "o.warc")]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1
        assert f"Error: {notes}: not an SQLite database; refusing to touch it" in result.output
    assert notes.read_text() == "not a database\n"
