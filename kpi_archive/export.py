"""A data release: every public table as CSV, the SQLite file, a Frictionless data package.

``export(db_path, outdir, excel=False)`` writes into ``outdir``:

- ``<table>.csv`` for every public table (UTF-8; with ``excel`` a BOM, so Excel reads Thai);
  ``kpi_versions.record``, compressed in the archive, is written as its JSON text;
- ``kpi-archive.db``: a consistent copy of the archive made with ``VACUUM INTO`` (never a copy of
  the live file, whose last commits may still sit in its WAL);
- ``datapackage.json``: a Frictionless Data Package (tabular-data-resource per CSV) with every
  column's type and description, keys, the capture date range and the licence and credit line;
- ``data-dictionary.md``: the same descriptions as a readable page.

Descriptions come from the publishing metadata (``publish/plugin/metadata.yml``: what Datasette
shows) and, for what it leaves out, from ``columns.yml`` beside this module. Public means: not
hidden there, not a full-text index. The descriptor is written as plain JSON: the format is a few
keys per resource, and the ``frictionless`` package would add some thirty dependencies to write it.
"""

from __future__ import annotations

import csv
import json
import logging
import sqlite3
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from archive import versions
from archive.schema import PRIVATE_TABLES
from kpi_archive.errors import ArchiveError

log = logging.getLogger(__name__)

DB_NAME = "kpi-archive.db"
PACKAGE_NAME = "bangkok-kpi-archive"
FIELD_TYPES = {"INTEGER": "integer", "FLOAT": "number", "REAL": "number", "TEXT": "string"}
# Columns stored compressed, written to CSV as the text the SQL function gives (archive.versions).
READ_AS = {("kpi_versions", "record"): versions.SQL_FUNCTION}


@dataclass
class TableDoc:
    """One public table: its description and each column's (type, description)."""

    name: str
    description: str
    columns: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    primary_key: list[str] = field(default_factory=list)
    foreign_keys: list[tuple[str, str, str]] = field(default_factory=list)


def _yaml(name: str) -> dict[str, Any]:
    text = files("kpi_archive").joinpath(name).read_text(encoding="utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def metadata() -> dict[str, Any]:
    """The publishing metadata (title, licence, source, per-table descriptions)."""
    from kpi_archive.publish.plugin.metadata import template

    return template()


def table_docs(conn: sqlite3.Connection) -> list[TableDoc]:
    """Every public table of the archive with its descriptions, in the archive's table order."""
    meta_tables = metadata()["databases"]["archive"].get("tables", {})
    extra = _yaml("columns.yml")
    docs = []
    tables = conn.execute(
        "SELECT name, sql LIKE 'CREATE VIRTUAL%' FROM sqlite_master "
        "WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
    ).fetchall()
    # A full-text index is a virtual table plus shadow tables named after it (``<index>_data``…).
    indexes = tuple(f"{name}_" for name, virtual in tables if virtual)
    for name, virtual in tables:
        meta = meta_tables.get(name) or {}
        mine = extra.get(name) or {}
        internal = virtual or name.startswith(indexes) or name in PRIVATE_TABLES
        if internal or meta.get("hidden") or mine.get("hidden"):
            continue
        described = {
            **extra["_common"]["columns"],
            **(mine.get("columns") or {}),
            **(meta.get("columns") or {}),
        }
        doc = TableDoc(
            name, " ".join(str(meta.get("description") or mine.get("description") or "").split())
        )
        for _, column, declared, _, _, pk in conn.execute(f"PRAGMA table_info([{name}])"):
            if declared.upper() == "BLOB":
                continue
            # A column exported decompressed is described as the CSV holds it (columns.yml).
            text = (mine.get("columns") or {}).get(column) if (name, column) in READ_AS else None
            doc.columns[column] = (
                FIELD_TYPES.get(declared.upper(), "string"),
                text or described.get(column),
            )
            if pk:
                doc.primary_key.append(column)
        for row in conn.execute(f"PRAGMA foreign_key_list([{name}])"):
            doc.foreign_keys.append((row[3], row[2], row[4]))
        docs.append(doc)
    return docs


def capture_range(conn: sqlite3.Connection) -> tuple[str | None, str | None]:
    """The first and last capture times (UTC ISO), or (None, None) for an empty archive."""
    row = conn.execute("SELECT min(fetched_at), max(fetched_at) FROM captures").fetchone()
    return row[0], row[1]


def export(db_path: str | Path, outdir: str | Path, *, excel: bool = False) -> dict[str, int]:
    """Write the release into ``outdir``; return rows written per table."""
    db_path, outdir = Path(db_path), Path(outdir)
    if not db_path.is_file():
        raise ArchiveError("no such archive", path=str(db_path))
    outdir.mkdir(parents=True, exist_ok=True)
    copy = outdir / DB_NAME
    copy.unlink(missing_ok=True)
    conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
    versions.register(conn)
    try:
        conn.execute("VACUUM INTO ?", [str(copy)])
        docs = table_docs(conn)
        counts = {doc.name: _write_csv(conn, doc, outdir, excel) for doc in docs}
        first, last = capture_range(conn)
    except sqlite3.DatabaseError as exc:
        raise ArchiveError(f"cannot export: {exc}", path=str(db_path)) from exc
    finally:
        conn.close()
    package = datapackage(docs, first, last, excel=excel)
    (outdir / "datapackage.json").write_text(
        json.dumps(package, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    (outdir / "data-dictionary.md").write_text(data_dictionary(docs), encoding="utf-8")
    log.info("exported %d tables to %s", len(docs), outdir)
    return counts


def _write_csv(conn: sqlite3.Connection, doc: TableDoc, outdir: Path, excel: bool) -> int:
    columns = ", ".join(
        f"{READ_AS[doc.name, c]}([{c}]) AS [{c}]" if (doc.name, c) in READ_AS else f"[{c}]"
        for c in doc.columns
    )
    order = ", ".join(f"[{c}]" for c in doc.primary_key) or "rowid"
    cursor = conn.execute(f"SELECT {columns} FROM [{doc.name}] ORDER BY {order}")
    count = 0
    with (outdir / f"{doc.name}.csv").open(
        "w", encoding="utf-8-sig" if excel else "utf-8", newline=""
    ) as handle:
        writer = csv.writer(handle)
        writer.writerow(doc.columns)
        for row in cursor:
            writer.writerow(row)
            count += 1
    return count


def datapackage(
    docs: list[TableDoc], first: str | None, last: str | None, *, excel: bool = False
) -> dict[str, Any]:
    """The Frictionless Data Package descriptor for ``docs``."""
    meta = metadata()
    resources: list[dict[str, Any]] = []
    for doc in docs:
        schema: dict[str, Any] = {
            "fields": [
                {"name": name, "type": kind, "description": text or ""}
                for name, (kind, text) in doc.columns.items()
            ]
        }
        if doc.primary_key:
            schema["primaryKey"] = doc.primary_key
        keys = [
            {"fields": [column], "reference": {"resource": other, "fields": [target]}}
            for column, other, target in doc.foreign_keys
            if other in {d.name for d in docs}
        ]
        if keys:
            schema["foreignKeys"] = keys
        resources.append(
            {
                "name": doc.name,
                "path": f"{doc.name}.csv",
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8-sig" if excel else "utf-8",
                "description": doc.description,
                "schema": schema,
            }
        )
    resources.append(
        {
            "name": "archive",
            "path": DB_NAME,
            "format": "sqlite",
            "mediatype": "application/vnd.sqlite3",
            "description": "The whole archive as one SQLite file, raw captures included",
        }
    )
    return {
        "profile": "tabular-data-package",
        "name": PACKAGE_NAME,
        "title": meta["title"],
        "description": " ".join(meta["databases"]["archive"]["description"].split()),
        "homepage": meta.get("about_url"),
        "licenses": [{"name": "other-at", "title": meta["license"], "path": meta["license_url"]}],
        "sources": [{"title": meta["source"], "path": meta["source_url"]}],
        "contributors": [{"title": "kpi-archive", "role": "wrangler", "path": meta["about_url"]}],
        "temporal": {"start": first, "end": last},
        "resources": resources,
    }


def data_dictionary(docs: list[TableDoc]) -> str:
    """The data dictionary as Markdown: one section per table, one row per column."""
    lines = [
        "# Data dictionary",
        "",
        "Every public table and column of a KPI archive, as `kpi-archive export` writes them.",
        "Generated from the same descriptions as `datapackage.json` and the Datasette pages: do",
        "not edit by hand; run `python -m kpi_archive.export` to regenerate.",
    ]
    for doc in docs:
        lines += ["", f"## {doc.name}", "", doc.description or "", ""]
        lines += ["| column | type | description |", "|---|---|---|"]
        for name, (kind, text) in doc.columns.items():
            lines.append(f"| `{name}` | {kind} | {(text or '').replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Regenerate docs/data-dictionary.md from an empty archive of the current schema."""
    import tempfile

    import archive

    with tempfile.TemporaryDirectory() as tmp:
        db = archive.open_db(Path(tmp) / "schema.db")
        archive.refresh_derived(db)
        docs = table_docs(db.conn)
        db.close()
    target = Path(__file__).resolve().parents[1] / "docs" / "data-dictionary.md"
    target.write_text(data_dictionary(docs), encoding="utf-8")


if __name__ == "__main__":
    main()
