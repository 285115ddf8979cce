"""The worker process of ``archive.search.IndexBuild``: ``python -m archive.trigram_build ARCHIVE
SCRATCH TABLE...`` indexes every committed row of the tables named (``kpis``, ``reports``) of the
archive file ARCHIVE for search into the empty file SCRATCH (``archive.schema.build_trigram_file``)
and exits 0; anything else is a failure, told on stderr.

A process, not a thread: folding the texts is Python, and so is much of the derived tables'
refresh it runs beside. As a thread it took turns with it for the GIL: at 2,000 pages the
refresh went from 0.9 to 2.0 s and the two together saved 0.15 s of 2.65.
"""

from __future__ import annotations

import sys

from archive.schema import build_trigram_file


def main(argv: list[str]) -> int:
    """Build the index of ``argv[0]``'s tables ``argv[2:]`` into ``argv[1]``."""
    archive, scratch, *tables = argv
    build_trigram_file(archive, scratch, tables)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
