"""The worker process of ``archive.search.IndexBuild``: ``python -m archive.trigram_build
[--follow] ARCHIVE SCRATCH TABLE...`` indexes every committed row of the tables named (``kpis``,
``reports``) of the archive file ARCHIVE for search into the empty file SCRATCH
(``archive.schema.build_trigram_file``) and exits 0; anything else is a failure, told on stderr.

``--follow``: the archive is still being loaded. The worker indexes rows as they are committed
and goes on until a line ``finish`` on its standard input says the saves are over; then it indexes
the rest and exits. Its input closing without that line (the load stopped or its process died)
ends it at once, with nothing kept.

A process, not a thread: folding the texts is Python, and so is much of the derived tables'
refresh it runs beside. As a thread it took turns with it for the GIL: at 2,000 pages the
refresh went from 0.9 to 2.0 s and the two together saved 0.15 s of 2.65.
"""

from __future__ import annotations

import os
import select
import sys

from archive.schema import FOLLOW_FINISH, build_trigram_file

FOLLOW_NICENESS = 10


def saves_over(seconds: float) -> bool:
    """Whether the load's process has said its saves are over, waiting up to ``seconds``."""
    ready, _, _ = select.select([sys.stdin.buffer], [], [], seconds)
    if not ready:
        return False
    if sys.stdin.buffer.readline().strip() == FOLLOW_FINISH:
        return True
    raise SystemExit("the load ended before its finish: index abandoned")


def main(argv: list[str]) -> int:
    """Build the index of ``argv[0]``'s tables ``argv[2:]`` into ``argv[1]`` (after ``--follow``:
    following the load, until ``saves_over``)."""
    follow = argv[:1] == ["--follow"]
    if follow:
        # The load's own processes come first: this one takes the time they leave (a following
        # worker that catches up later costs only the finish's wait).
        os.nice(FOLLOW_NICENESS)
    archive, scratch, *tables = argv[follow:]
    build_trigram_file(archive, scratch, tables, until=saves_over if follow else None)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
