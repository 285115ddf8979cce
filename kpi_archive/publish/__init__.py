"""Publishing: the Datasette plugin package for the archive, and ``serve`` and ``demo``.

Nothing here writes to the archive. ``plugin`` is the Datasette plugin package (the ``kpi_archive``
entry point of the ``datasette`` group): metadata, templates, static files, the journalist pages,
feeds and Thai SQL functions, all through Datasette hooks. ``serve`` adds the settings and runs
Datasette; ``demo`` runs ``make demo``.
"""
