"""The data release: CSV per public table, a consistent SQLite copy, datapackage.json."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest
from archive_factories import JUNE, MARCH, response, seed_kpi
from click.testing import CliRunner

import archive
from kpi_archive.cli import cli
from kpi_archive.errors import ArchiveError
from kpi_archive.export import data_dictionary, export, table_docs

DICTIONARY = Path(__file__).resolve().parents[1] / "docs" / "data-dictionary.md"
PUBLIC = [
    "pages",
    "projects",
    "department_pages",
    "agency_reports",
    "quarters",
    "agency_report_quarters",
    "reports",
    "project_kpis",
    "agencies",
    "kpi_versions",
    "kpis",  # rebuilt by the migration that made agency_code a foreign key: schema order
    "strategies",  # rebuilt by the migration that gave them numbers for ids
    "kpi_strategies",
    "measures",
    "indicators",
    "observations",
]


@pytest.fixture
def db_path(tmp_path):
    path = tmp_path / "kpi.db"
    db = archive.open_db(path)
    archive.save(db, response(at=MARCH), seed_kpi())
    archive.save(db, response(body=b"v2", at=JUNE), seed_kpi(result_value=90.0))
    archive.refresh_derived(db)
    db.close()
    return path


@pytest.fixture
def empty_docs(tmp_path):
    db = archive.open_db(tmp_path / "schema.db")
    archive.refresh_derived(db)
    return table_docs(db.conn)


def test_every_public_table_is_exported_and_nothing_private(empty_docs):
    assert [doc.name for doc in empty_docs] == PUBLIC


def test_search_indexes_and_their_shadow_tables_are_never_exported(db_path, tmp_path):
    archive.open_db(db_path).close()
    out = tmp_path / "release"
    export(db_path, out)
    assert sorted(p.stem for p in out.glob("*.csv")) == sorted(PUBLIC)


def test_every_public_column_is_described(empty_docs):
    missing = [
        f"{doc.name}.{column}"
        for doc in empty_docs
        for column, (_, text) in doc.columns.items()
        if not (text or "").strip()
    ]
    assert missing == []
    assert [doc.name for doc in empty_docs if not doc.description.strip()] == []


def test_the_committed_data_dictionary_is_current(empty_docs):
    assert DICTIONARY.read_text(encoding="utf-8") == data_dictionary(empty_docs)


def test_export_writes_csv_copy_and_package(db_path, tmp_path):
    out = tmp_path / "release"
    counts = export(db_path, out)
    assert counts["kpis"] == 1 and counts["kpi_versions"] == 2 and counts["observations"] == 12
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{t}.csv" for t in PUBLIC] + ["kpi-archive.db", "datapackage.json", "data-dictionary.md"]
    )
    with (out / "quarters.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:4] == ["url", "quarter", "result", "result_text"]
    assert rows[1][:4] == [
        "https://dp.bangkok.go.th/mobile/mykpi.php?pid=0411-2029",
        "1",
        "10.0",
        "10.00",
    ]
    assert not (out / "kpis.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    copy = sqlite3.connect(out / "kpi-archive.db")
    assert copy.execute("SELECT count(*) FROM kpi_versions").fetchone() == (2,)
    assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_the_versions_csv_holds_each_record_as_plain_json(db_path, tmp_path):
    export(db_path, tmp_path)
    with (tmp_path / "kpi_versions.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    records = [json.loads(row["record"]) for row in rows]
    assert [(r["pid"], r["result_value"]) for r in records] == [
        ("0411-2029", 100.0),
        ("0411-2029", 90.0),
    ]


def test_the_package_describes_every_csv_column_with_its_type(db_path, tmp_path):
    out = tmp_path / "release"
    export(db_path, out)
    package = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    assert package["name"] == "bangkok-kpi-archive"
    assert package["temporal"] == {
        "start": "2023-03-31T10:00:00.000000Z",
        "end": "2023-06-30T10:00:00.000000Z",
    }
    assert package["licenses"][0]["title"].startswith("Software: Apache-2.0. Data: public BMA")
    resources = {r["name"]: r for r in package["resources"]}
    assert sorted(resources) == sorted([*PUBLIC, "archive"])
    for name in PUBLIC:
        with (out / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
            header = next(csv.reader(handle))
        fields = resources[name]["schema"]["fields"]
        assert [f["name"] for f in fields] == header, name
        assert all(f["description"] for f in fields), name
    observations = resources["observations"]["schema"]
    assert {f["name"]: f["type"] for f in observations["fields"]}["value"] == "number"
    assert {
        "fields": ["indicator_id"],
        "reference": {"resource": "indicators", "fields": ["id"]},
    } in (observations["foreignKeys"])
    assert resources["quarters"]["schema"]["primaryKey"] == ["url", "quarter"]


def test_excel_flag_adds_a_bom_to_every_csv(db_path, tmp_path):
    out = tmp_path / "release"
    export(db_path, out, excel=True)
    assert all(p.read_bytes().startswith(b"\xef\xbb\xbf") for p in out.glob("*.csv"))
    package = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    assert {r.get("encoding") for r in package["resources"]} == {"utf-8-sig", None}


def test_exporting_twice_replaces_the_release(db_path, tmp_path):
    out = tmp_path / "release"
    export(db_path, out)
    assert export(db_path, out)["kpis"] == 1


def test_a_missing_archive_is_one_clear_error(tmp_path):
    with pytest.raises(ArchiveError, match="no such archive"):
        export(tmp_path / "nope.db", tmp_path / "out")


def test_the_export_command_reports_what_it_wrote(db_path, tmp_path):
    out = tmp_path / "release"
    result = CliRunner().invoke(cli, ["export", str(db_path), str(out), "--excel"])
    assert result.exit_code == 0, result.output
    assert result.output == f"Wrote 16 tables (28 rows) to {out}\n"


def test_the_copy_holds_commits_still_in_the_wal_of_an_open_archive(tmp_path):
    path = tmp_path / "kpi.db"
    db = archive.open_db(path)
    db.execute("PRAGMA wal_autocheckpoint = 0")
    archive.save(db, response(at=MARCH), seed_kpi())
    assert Path(f"{path}-wal").stat().st_size > 0
    export(path, tmp_path / "release")
    copy = sqlite3.connect(tmp_path / "release" / "kpi-archive.db")
    assert copy.execute("SELECT pid FROM kpis").fetchall() == [("0411-2029",)]
    db.close()
