"""Publishing: Datasette configuration for the archive, and the ``serve`` and ``demo`` entry points.

Nothing here writes to the archive. ``metadata.yml`` describes the tables, facets, canned queries
and dashboard; ``serve.load_metadata(name)`` keys it by the database name Datasette will use (the
file's stem), so it applies whatever the file is called. ``plugin`` is the Datasette plugin module
(the ``kpi_archive`` entry point of the ``datasette`` group) with the Thai SQL functions;
``demo`` runs ``make demo``.
"""
