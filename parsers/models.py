"""The typed records the parsers return: the contract between ``parsers`` and ``archive``.

Every normalised value sits beside the text it came from (``target_text`` / ``target_value``,
``date_text`` / ``date``), so nothing the page printed is lost to normalisation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

# Raised when the parser reads a stored page differently (2: a KPI's fiscal year from the dates
# its reports name); `kpi-archive status` then counts the pages an older one read.
PARSER_VERSION = "2"

KpiLevel = Literal["output", "outcome"]
Rendering = Literal["full", "compact", "flattened"]
FiscalYearSource = Literal["title", "page", "reports", "report_text"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Quarter(_Record):
    """One row of the quarterly table ``ผลงานเทียบกับเป้าหมายรายไตรมาส``; blank cells are None."""

    quarter: int
    result: float | None = None
    result_text: str | None = None
    assessment: float | None = None
    assessment_text: str | None = None
    score_2_1: float | None = None
    score_2_2: float | None = None
    scores_text: str | None = None


class Report(_Record):
    """One dated (or undated) entry of a ``รายงานผลฯ ไตรมาสที่ N`` section."""

    quarter: int | None
    seq: int
    date: dt.date | None = None
    date_text: str | None = None
    text: str


class Strategy(_Record):
    """One line of the ``สนับสนุนยุทธศาสตร์กรุงเทพมหานครฯ`` block; ``code`` in Arabic digits."""

    code: str | None
    title: str
    title_en: str | None = None
    level: str | None = None
    text: str


class ProjectRef(_Record):
    """A project or activity a page names (``โครงการ/กิจกรรมที่สนับสนุนตัวชี้วัด``)."""

    pid: str | None = None
    name: str | None = None
    url: str | None = None


class PageRecord(_Record):
    """Fields shared by KPI, city-development-indicator and project pages."""

    url: str | None = None
    pid: str | None = None
    title: str | None = None
    name: str | None = None
    fiscal_year: int | None = None
    fiscal_year_source: FiscalYearSource | None = None
    unit: str | None = None
    target_text: str | None = None
    target_value: float | None = None
    result_text: str | None = None
    result_value: float | None = None
    kpi_type: str | None = None
    kpi_level: KpiLevel | None = None
    audit_quarter: int | None = None
    audit_score: float | None = None
    audit_score_text: str | None = None
    quarters: list[Quarter] = Field(default_factory=list)
    reports: list[Report] = Field(default_factory=list)
    summary: str | None = None
    definition: str | None = None
    calculation: str | None = None
    data_sources: str | None = None
    data_type: str | None = None
    strategies: list[Strategy] = Field(default_factory=list)
    projects: list[ProjectRef] = Field(default_factory=list)
    rendering: Rendering = "full"
    truncated: bool = False
    encoding: str | None = None
    warnings: list[str] = Field(default_factory=list)


class KpiPage(PageRecord):
    """A KPI detail page (``mykpi.php``) or a 2562–2563 city-development indicator (citydb)."""

    page_kind: Literal["kpi", "citydb"]


class ProjectPage(PageRecord):
    """A project progress page (``myproject.php``)."""

    page_kind: Literal["project"]
    owner_unit: str | None = None
    progress: float | None = None
    progress_text: str | None = None
    contact: str | None = None
    budget_code: str | None = None
    rationale: str | None = None
    objectives: str | None = None
    goals: str | None = None


class DepartmentEntry(_Record):
    """One ``(n) <title>`` block of an agency's annual report."""

    seq: int
    title: str | None = None
    name: str | None = None
    tag: str | None = None
    routine: bool = False
    dimension: str | None = None
    pid: str | None = None
    unit: str | None = None
    target_text: str | None = None
    target_value: float | None = None
    result_text: str | None = None
    result_value: float | None = None
    quarters: list[Quarter] = Field(default_factory=list)
    reports: list[Report] = Field(default_factory=list)
    strategies: list[Strategy] = Field(default_factory=list)
    summary: str | None = None
    projects: list[ProjectRef] = Field(default_factory=list)
    url: str | None = None


class DepartmentPage(_Record):
    """An agency's annual report (``index11.php?selDEP=…&selYear=…``, ``index101/102/103.php``)."""

    page_kind: Literal["department"]
    url: str | None = None
    agency_code: str | None = None
    fiscal_year: int | None = None
    fiscal_year_source: Literal["page", "url"] | None = None
    heading: str | None = None
    entries: list[DepartmentEntry] = Field(default_factory=list)
    rendering: Rendering = "full"
    truncated: bool = False
    encoding: str | None = None
    warnings: list[str] = Field(default_factory=list)


Record = Annotated[KpiPage | ProjectPage | DepartmentPage, Field(discriminator="page_kind")]

_Model = TypeVar("_Model", bound=BaseModel)


def validator(model: type[_Model]) -> Callable[[Mapping[str, Any]], _Model]:
    """``model``'s own validator as a function of a dict: the same checks and the same instance
    as ``model(**values)``, without ``BaseModel.__init__``'s keyword packing and Python frame,
    which cost about as much as the validation itself (a page builds 15–60 records)."""
    validate: Callable[[Mapping[str, Any]], _Model] = model.__pydantic_validator__.validate_python
    return validate
