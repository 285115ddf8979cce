"""Bangkok KPI archive: fetch → parse → archive → publish the BMA's KPI pages."""

from __future__ import annotations

__version__ = "0.1.0"
