"""The packaged ``metadata.yml``, keyed by the names of the databases being served.

Datasette keys metadata by database name (the file's stem), so the template's ``archive`` key, and
every dashboard's ``db: archive``, become the served names: the same file serves ``data/demo.db``,
``kpi.db`` or ``archive-2567.db``.

Column descriptions have one source per column: ``metadata.yml`` where it gives one, else
``kpi_archive/columns.yml`` (which ``kpi_archive.export`` reads too, with the same precedence), so
the tables of issue 11 (``indicators``, ``measures``, ``observations``) show theirs on their
Datasette pages as well as in the data release.

The metadata is built once per set of names and shared read-only by every request. Its bulky
parts (table settings and descriptions, canned queries, dashboards) are ``Shared`` dicts that
``deepcopy`` returns as they are: Datasette 0.65.5 deep-copies the whole metadata on every table
permission check (``_table_permission_allows``), about 3 ms each, and the front page makes one
per table.
"""

from __future__ import annotations

import copy
import functools
from importlib.resources import files
from typing import Any

import yaml

TEMPLATE_KEY = "archive"
STATIC_URL = "/-/static-plugins/kpi_archive/"


class Shared(dict[str, Any]):
    """A metadata part nobody writes to: ``copy.deepcopy`` returns it instead of a copy."""

    def __deepcopy__(self, memo: dict[int, Any]) -> Shared:
        return self


@functools.lru_cache(maxsize=1)
def template() -> dict[str, Any]:
    """The packaged metadata as written, under its template key ``archive``."""
    text = (files("kpi_archive.publish.plugin") / "metadata.yml").read_text(encoding="utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


@functools.lru_cache(maxsize=1)
def column_notes() -> dict[str, Any]:
    """``kpi_archive/columns.yml``: descriptions ``metadata.yml`` does not give."""
    text = (files("kpi_archive") / "columns.yml").read_text(encoding="utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def with_column_notes(database: dict[str, Any]) -> dict[str, Any]:
    """``database`` metadata with every table's missing descriptions taken from ``columns.yml``."""
    notes = column_notes()
    common = notes.get("_common", {}).get("columns", {})
    tables = database.setdefault("tables", {})
    for name in {*tables, *notes} - {"_common"}:
        table = tables.setdefault(name, {})
        extra = notes.get(name) or {}
        if extra.get("description") and not table.get("description"):
            table["description"] = extra["description"]
        table["columns"] = {
            **common,
            **(extra.get("columns") or {}),
            **(table.get("columns") or {}),
        }
    return database


@functools.lru_cache(maxsize=16)
def _metadata(names: tuple[str, ...]) -> dict[str, Any]:
    metadata = copy.deepcopy(template())
    database = with_column_notes(metadata.pop("databases", {}).get(TEMPLATE_KEY, {}))
    for part in ("tables", "queries"):
        if part in database:
            database[part] = Shared(database[part])
    metadata["databases"] = {name: copy.copy(database) for name in names}
    dashboards = metadata.get("plugins", {}).get("datasette-dashboards", {})
    for dashboard in dashboards.values():
        for item in [*dashboard.get("charts", {}).values(), *dashboard.get("filters", {}).values()]:
            if item.get("db") == TEMPLATE_KEY and names:
                item["db"] = names[0]
    if "plugins" in metadata:
        metadata["plugins"] = Shared(metadata["plugins"])
    return metadata


def metadata_for(names: list[str]) -> dict[str, Any]:
    """The metadata with its database key (and dashboards' ``db``) set to each of ``names``."""
    return _metadata(tuple(names))
