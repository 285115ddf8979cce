"""Fixtures shared by the test modules; a module that needs a filled archive overrides ``db``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlite_utils import Database

import archive


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """A fresh archive file; after the test it must still be intact and its foreign keys kept."""
    database = archive.open_db(tmp_path / "kpi.db")
    yield database
    assert database.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert database.execute("PRAGMA foreign_key_check").fetchall() == []
    database.close()
