"""What the fetcher hands on: one HTTP response, as raw as it came, with when and where."""

from __future__ import annotations

import datetime as dt
import hashlib
from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field, computed_field

from kpi_archive.web import header


class FetchResult(BaseModel):
    """One response: ``url`` is the page's identity (the real site URL, never a mapped one)."""

    model_config = ConfigDict(frozen=True)

    url: str
    final_url: str
    status: int
    headers: dict[str, str] = Field(default_factory=dict)
    body: bytes = b""
    fetched_at: dt.datetime
    elapsed_ms: float | None = None

    @computed_field  # type: ignore[prop-decorator]
    @cached_property  # a save asks five times; the body is hashed once
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup."""
        return header(self.headers, name)
