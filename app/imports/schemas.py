"""The import report returned by the upload endpoints."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from app.imports.service import ImportReport


class LineErrorOut(BaseModel):
    line: int = Field(description="1-based line number in the file")
    message: str


class ImportReportOut(BaseModel):
    ok: bool
    lines: int = Field(description="records read (blank lines are skipped)")
    valid: int
    error_count: int = Field(description="every error found; `errors` lists at most 100")
    errors: list[LineErrorOut]
    stored: int = Field(description="0 on a dry run or when there are errors")
    items: int = Field(description="work items created")
    preview: list[dict[str, Any]]

    @classmethod
    def of(cls, report: ImportReport) -> ImportReportOut:
        return cls(
            ok=report.ok,
            lines=report.lines,
            valid=report.valid,
            error_count=report.error_count,
            errors=[LineErrorOut(line=e.line, message=e.message) for e in report.errors],
            stored=report.stored,
            items=report.items,
            preview=report.preview,
        )
