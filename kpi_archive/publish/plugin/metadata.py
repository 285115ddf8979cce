"""The packaged ``metadata.yml``, keyed by the names of the databases being served.

Datasette keys metadata by database name (the file's stem), so the template's ``archive`` key, and
every dashboard's ``db: archive``, become the served names: the same file serves ``data/demo.db``,
``kpi.db`` or ``archive-2567.db``.
"""

from __future__ import annotations

import copy
import functools
from importlib.resources import files
from typing import Any

import yaml

TEMPLATE_KEY = "archive"
STATIC_URL = "/-/static-plugins/kpi_archive/"


@functools.lru_cache(maxsize=1)
def template() -> dict[str, Any]:
    """The packaged metadata as written, under its template key ``archive``."""
    text = (files("kpi_archive.publish.plugin") / "metadata.yml").read_text(encoding="utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


@functools.lru_cache(maxsize=16)
def _metadata(names: tuple[str, ...]) -> dict[str, Any]:
    metadata = copy.deepcopy(template())
    database = metadata.pop("databases", {}).get(TEMPLATE_KEY, {})
    metadata["databases"] = {name: copy.deepcopy(database) for name in names}
    dashboards = metadata.get("plugins", {}).get("datasette-dashboards", {})
    for dashboard in dashboards.values():
        for item in [*dashboard.get("charts", {}).values(), *dashboard.get("filters", {}).values()]:
            if item.get("db") == TEMPLATE_KEY and names:
                item["db"] = names[0]
    return metadata


def metadata_for(names: list[str]) -> dict[str, Any]:
    """The metadata with its database key (and dashboards' ``db``) set to each of ``names``."""
    return _metadata(tuple(names))
