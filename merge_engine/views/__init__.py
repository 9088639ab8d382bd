"""What people read: the self-contained HTML report and the notebook views.

``_html_report`` renders one page for reviewers; ``_notebook`` renders rosters,
plans and audits in Jupyter and as pandas frames; ``_svg`` draws their charts.
"""

from __future__ import annotations

from ._html_report import render_report, write_report

__all__ = ["render_report", "write_report"]
