"""The project's one error hierarchy.

KpiArchiveError
├── FetchError      a page could not be fetched (carries url, status)
├── ParseError      bytes are not a page we understand (also a ValueError; carries url, missing)
├── ArchiveError    the SQLite archive refused or is unusable (carries path)
│   └── LockError   another crawl holds the archive's lock
└── ConfigError     a setting or command-line value is invalid
"""

from __future__ import annotations

from typing import Any


class KpiArchiveError(Exception):
    """Base class of every error this project raises on purpose."""


class FetchError(KpiArchiveError):
    """A page could not be fetched."""

    def __init__(self, message: str, *, url: str, status: int | None = None) -> None:
        self.url = url
        self.status = status
        super().__init__(f"{url}: {message}")


class ParseError(KpiArchiveError, ValueError):
    """The bytes are not a page of a kind we parse, or a required label is missing."""

    def __init__(self, message: str, *, url: str | None = None, missing: str | None = None) -> None:
        self.url = url
        self.missing = missing
        self.reason = message
        where = url or "<no url>"
        super().__init__(f"{where}: {message}")

    def __reduce__(self) -> tuple[Any, ...]:
        # An exception pickles as its args alone: from a parse worker (kpi_archive.readahead) the
        # url and the missing label would be lost.
        return (_parse_error, (self.reason, self.url, self.missing))


def _parse_error(message: str, url: str | None, missing: str | None) -> ParseError:
    return ParseError(message, url=url, missing=missing)


class ArchiveError(KpiArchiveError):
    """The archive database could not be read or written."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.path = path
        self.reason = message
        super().__init__(f"{path}: {message}" if path else message)

    def __reduce__(self) -> tuple[Any, ...]:
        # A WARC file's error, raised in a parse worker, keeps its path (and class) here.
        return (_archive_error, (type(self), self.reason, self.path))


def _archive_error(kind: type[ArchiveError], message: str, path: str | None) -> ArchiveError:
    return kind(message, path=path)


class LockError(ArchiveError):
    """Another crawl holds the archive's lock."""


class ConfigError(KpiArchiveError):
    """A setting or option value is invalid."""
