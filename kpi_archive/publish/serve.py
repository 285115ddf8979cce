"""Serve an archive with Datasette, read-only: the plugin package supplies everything else.

The ``kpi_archive`` plugin (``kpi_archive.publish.plugin``) gives Datasette its metadata, templates,
static files, pages and SQL functions through hooks, so ``kpi-archive serve``, ``make_datasette``
(the tests) and a plain ``datasette data/demo.db`` are the same site; this module only adds the
settings.

Read-only without ``--immutable``: Datasette opens a mutable file's read connections with
``mode=ro`` and accepts only SELECT through ``?sql=``, so the served file cannot be written through
the web. ``--immutable`` would be wrong here: a nightly crawl rewrites the file while it is served,
and immutable mode also ignores a WAL file's not yet checkpointed pages.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from kpi_archive import config

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"


def database_name(db_path: str | Path) -> str:
    """Return the name Datasette gives a database file: its stem (``data/demo.db`` → ``demo``)."""
    return Path(db_path).stem


def settings(sql_time_limit_ms: int = config.SQL_TIME_LIMIT_MS) -> dict[str, Any]:
    """Datasette settings for publishing: the SQL time limit, no facet suggestions."""
    # Suggesting facets runs a query per column on every table page: most of a kpis page's time
    # at BMA scale (issue 12). The facets declared in the plugin's metadata are still computed.
    return {"sql_time_limit_ms": sql_time_limit_ms, "suggest_facets": False}


def datasette_args(
    db_path: str | Path,
    host: str = DEFAULT_HOST,
    port: int = config.SERVE_PORT,
    sql_time_limit_ms: int = config.SQL_TIME_LIMIT_MS,
) -> list[str]:
    """Build the ``datasette serve`` arguments for ``db_path`` (without the program name)."""
    args = ["serve", str(db_path), "--host", host, "--port", str(port)]
    for name, value in settings(sql_time_limit_ms).items():
        args += ["--setting", name, str(value)]
    return args


def make_datasette(db_path: str | Path) -> Any:
    """Return an in-process ``Datasette`` configured exactly as ``serve`` runs it (for tests)."""
    from datasette.app import Datasette

    return Datasette([str(db_path)], settings=settings())


def serve(
    db_path: str | Path,
    host: str = DEFAULT_HOST,
    port: int = config.SERVE_PORT,
    sql_time_limit_ms: int = config.SQL_TIME_LIMIT_MS,
) -> None:
    """Run Datasette on ``db_path`` until interrupted (blocks)."""
    from datasette.cli import cli as datasette_cli

    args = datasette_args(db_path, host, port, sql_time_limit_ms)
    log.info("datasette %s", " ".join(args))
    datasette_cli.main(args=args, prog_name="datasette", standalone_mode=False)
