"""The report: a self-contained HTML page with charts, the same numbers as JSON, a terminal table."""

from steerlab.report.page import Report, build_report, write_report
from steerlab.report.summary import summary_table

__all__ = ["Report", "build_report", "summary_table", "write_report"]
