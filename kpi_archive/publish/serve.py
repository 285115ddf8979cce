"""Serve an archive with Datasette: the packaged metadata keyed by the file's name, read-only.

Datasette keys metadata by database name (the file's stem), so ``load_metadata(name)`` renames the
template's ``archive`` key, and every dashboard's ``db: archive``, to the name being served.

Read-only without ``--immutable``: Datasette opens a mutable file's read connections with
``mode=ro`` and accepts only SELECT through ``?sql=``, so the served file cannot be written through
the web. ``--immutable`` would be wrong here: a nightly crawl rewrites the file while it is served,
and immutable mode also ignores a WAL file's not yet checkpointed pages.
"""

from __future__ import annotations

import json
import logging
import tempfile
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from kpi_archive import config

log = logging.getLogger(__name__)

TEMPLATE_KEY = "archive"
STATIC_MOUNT = "kpi-archive-static"
PACKAGE_DIR = Path(str(files("kpi_archive.publish")))
STATIC_DIR = PACKAGE_DIR / "static"
TEMPLATES_DIR = PACKAGE_DIR / "templates"
DEFAULT_HOST = "127.0.0.1"


def database_name(db_path: str | Path) -> str:
    """Return the name Datasette gives a database file: its stem (``data/demo.db`` → ``demo``)."""
    return Path(db_path).stem


def load_metadata(database: str) -> dict[str, Any]:
    """Return the packaged metadata, its database key and dashboards' ``db`` set to ``database``."""
    text = (PACKAGE_DIR / "metadata.yml").read_text(encoding="utf-8")
    metadata: dict[str, Any] = yaml.safe_load(text)
    databases = metadata.get("databases", {})
    databases[database] = databases.pop(TEMPLATE_KEY)
    dashboards = metadata.get("plugins", {}).get("datasette-dashboards", {})
    for dashboard in dashboards.values():
        for item in [*dashboard.get("charts", {}).values(), *dashboard.get("filters", {}).values()]:
            if item.get("db") == TEMPLATE_KEY:
                item["db"] = database
    return metadata


def settings() -> dict[str, Any]:
    """Datasette settings for publishing: the SQL time limit from ``config``."""
    return {"sql_time_limit_ms": config.get("sql_time_limit_ms")}


def datasette_args(
    db_path: str | Path,
    metadata_path: str | Path,
    host: str = DEFAULT_HOST,
    port: int | None = None,
) -> list[str]:
    """Build the ``datasette serve`` arguments for ``db_path`` (without the program name)."""
    args = [
        "serve",
        str(db_path),
        "--metadata",
        str(metadata_path),
        "--template-dir",
        str(TEMPLATES_DIR),
        "--static",
        f"{STATIC_MOUNT}:{STATIC_DIR}",
        "--host",
        host,
        "--port",
        str(port if port is not None else config.get("serve_port")),
    ]
    for name, value in settings().items():
        args += ["--setting", name, str(value)]
    return args


def make_datasette(db_path: str | Path) -> Any:
    """Return an in-process ``Datasette`` configured exactly as ``serve`` runs it (for tests)."""
    from datasette.app import Datasette

    return Datasette(
        [str(db_path)],
        metadata=load_metadata(database_name(db_path)),
        template_dir=str(TEMPLATES_DIR),
        static_mounts=[(STATIC_MOUNT, str(STATIC_DIR))],
        settings=settings(),
    )


def serve(db_path: str | Path, host: str = DEFAULT_HOST, port: int | None = None) -> None:
    """Run Datasette on ``db_path`` until interrupted (blocks)."""
    from datasette.cli import cli as datasette_cli

    with tempfile.TemporaryDirectory(prefix="kpi-archive-") as tmp:
        metadata_path = Path(tmp) / "metadata.json"
        metadata_path.write_text(
            json.dumps(load_metadata(database_name(db_path)), ensure_ascii=False),
            encoding="utf-8",
        )
        args = datasette_args(db_path, metadata_path, host, port)
        log.info("datasette %s", " ".join(args))
        datasette_cli.main(args=args, prog_name="datasette", standalone_mode=False)
