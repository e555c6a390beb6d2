"""axe-core's WCAG 2.2 AA rules on each course widget as JupyterLab draws it live.

Each run is scoped to one widget's output area, after the widget has drawn, so
what is checked is the widget a student meets, not the rest of JupyterLab.
"""

from __future__ import annotations

import pytest
from course_widgets import CELLS
from lab_page import WCAG_22_AA


def axe_violations(axe, course_page, name: str) -> list[str]:
    """``rule at target: why`` for every node of widget ``name``'s output that breaks a rule."""
    course_page.widget(name)
    results = axe.run(
        course_page.page,
        context={"include": [[course_page.area(name)]]},
        options={"runOnly": {"type": "tag", "values": WCAG_22_AA}},
    )
    return [
        f"{rule['id']} at {node['target']}: {node.get('failureSummary', '').splitlines()[-1:]}"
        for rule in results.response["violations"]
        for node in rule["nodes"]
    ]


@pytest.mark.parametrize("name", list(CELLS))
def test_each_live_widget_passes_axe_cores_wcag_2_2_aa_rules(axe, course_page, name):
    assert axe_violations(axe, course_page, name) == []
