"""What the fetcher hands on: one HTTP response, as raw as it came, with when and where."""

from __future__ import annotations

import datetime as dt
import hashlib
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, computed_field


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
    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup."""
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None
