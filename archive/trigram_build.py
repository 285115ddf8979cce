"""The worker process of ``archive.search.IndexBuild``: ``python -m archive.trigram_build ARCHIVE
SCRATCH`` indexes every committed row of the archive file ARCHIVE for search into the empty file
SCRATCH (``archive.schema.build_trigram_file``) and exits 0; anything else is a failure, told on
stderr. A process, not a thread: folding the texts is Python, and beside the derived tables'
refresh (Python too) a thread would only take turns with it for the GIL.
"""

from __future__ import annotations

import sys

from archive.schema import build_trigram_file


def main(argv: list[str]) -> int:
    """Build the index of ``argv[0]`` into ``argv[1]``."""
    archive, scratch = argv
    build_trigram_file(archive, scratch)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
