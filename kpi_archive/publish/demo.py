"""``make demo``: crawl the repository's recorded site twice into ``data/demo.db``, then serve it.

1. Serve ``kpi_archive/replay_site/site`` with the replay server on a free 127.0.0.1 port and run
   ``kpi-archive crawl`` on its seed list (``replay_site/seeds.txt``), every recorded host
   mapped to that server (``--map-host``), so no request leaves the machine while the archive
   keeps the real BMA URLs. Discovery never leaves the seed hosts.
2. Serve the site again with ``replay_site/later`` overlaid and crawl once more: the pages
   that differ become new versions, so ``changes``, the feed and the history have real rows.
3. ``kpi-archive serve data/demo.db`` on http://127.0.0.1:8001 until Ctrl-C.

Run as ``python -m kpi_archive.publish.demo [--db PATH] [--port N]``. The crawl runs as a
subprocess (the real command, exactly as a user would run it); Ctrl-C at any point stops it, the
replay server and Datasette, and exits 130.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from kpi_archive import config
from kpi_archive.replay import RECORDED_LATER, RECORDED_SEEDS, RECORDED_SITE

log = logging.getLogger(__name__)

SITE = RECORDED_SITE
LATER = RECORDED_LATER
# The recorded pages only: the bundled list of every known URL would add ~1,200 misses.
SITE_SEEDS = RECORDED_SEEDS
DEMO_DB = Path("data/demo.db")
# Our own loopback server: the politeness delay protects the BMA, not this process.
DEMO_DELAY = "0"
DEMO_MAX_DEPTH = "2"


def crawl_command(db: Path, host_map: dict[str, str]) -> list[str]:
    """The ``kpi-archive crawl`` command line for one demo crawl against the replay server."""
    command = [
        _kpi_archive(),
        "crawl",
        str(db),
        "--seeds-file",
        str(SITE_SEEDS),
        "--delay",
        DEMO_DELAY,
        "--max-depth",
        DEMO_MAX_DEPTH,
    ]
    for host, base in sorted(host_map.items()):
        command += ["--map-host", f"{host}={base}"]
    return command


def crawl_recorded_site(db: Path, site: Path, overlays: Sequence[Path] = ()) -> int:
    """Serve ``site`` (and ``overlays``) on loopback, crawl it into ``db``; return the exit code."""
    from kpi_archive.replay import ReplayServer

    with ReplayServer(site, overlays=overlays) as server:
        command = crawl_command(db, server.host_map())
        log.info("%s", " ".join(command))
        return subprocess.run(command, check=False).returncode


def build_demo(db: Path, site: Path = SITE, later: Path = LATER) -> None:
    """Recreate ``db`` from the recorded site: a first crawl, then one with the later overlay."""
    import archive

    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    db.parent.mkdir(parents=True, exist_ok=True)
    for overlays in ((), (later,)):
        code = crawl_recorded_site(db, site, overlays)
        # Exit 1 means some pages failed (the recorded site has deliberate misses); 2 and 3 do not.
        if code not in (0, 1):
            raise SystemExit(f"kpi-archive crawl exited with {code}")
    archive.refresh_agencies(archive.open_db(db))


def _kpi_archive() -> str:
    found = shutil.which("kpi-archive", path=str(Path(sys.executable).parent)) or shutil.which(
        "kpi-archive"
    )
    if found is None:
        raise SystemExit("kpi-archive is not installed: run `make install`")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Build the demo archive and serve it until Ctrl-C."""
    from kpi_archive.publish.serve import database_name, serve

    parser = argparse.ArgumentParser(prog="python -m kpi_archive.publish.demo")
    parser.add_argument("--db", type=Path, default=DEMO_DB)
    parser.add_argument("--port", type=int, default=config.get("serve_port"))
    parser.add_argument("--no-serve", action="store_true", help="build the archive, then exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        started = time.monotonic()
        build_demo(args.db)
        print(f"demo archive built in {time.monotonic() - started:.1f} s: {args.db}")
        print(f"data release (CSV, SQLite, datapackage.json): kpi-archive export {args.db} OUTDIR")
        if args.no_serve:
            return 0
        url = f"http://127.0.0.1:{args.port}/{database_name(args.db)}"
        print(f"\n  Serving the demo archive at {url}\n  Press Ctrl-C to stop.\n", flush=True)
        serve(args.db, host="127.0.0.1", port=args.port)
    except KeyboardInterrupt:
        print("\nstopped")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
