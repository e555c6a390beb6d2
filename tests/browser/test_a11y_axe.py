"""axe-core's WCAG 2.2 AA rules on each course widget as JupyterLab draws it live.

Each run is scoped to one widget's output area, after the widget has drawn, so
what is checked is the widget a student meets, not the rest of JupyterLab. What
axe cannot decide alone ("incomplete": an id it finds twice, a field it finds two
labels for) counts as failing too: in this page each of those was a real fault.
"""

from __future__ import annotations

import pytest
from course_widgets import CELLS
from lab_page import WCAG_22_AA


def axe_violations(axe, course_page, name: str) -> list[str]:
    """``rule at target: why`` for every node of widget ``name``'s output that breaks or may break a rule."""
    course_page.widget(name)
    results = axe.run(
        course_page.page,
        context={"include": [[course_page.area(name)]]},
        options={
            "runOnly": {"type": "tag", "values": WCAG_22_AA},
            "resultTypes": ["violations", "incomplete"],
        },
    )
    return [
        f"{rule['id']} at {node['target']}: {node.get('failureSummary', '').splitlines()[-1:]}"
        for kind in ("violations", "incomplete")
        for rule in results.response[kind]
        for node in rule["nodes"]
    ]


@pytest.mark.parametrize("name", list(CELLS))
def test_each_live_widget_passes_axe_cores_wcag_2_2_aa_rules(axe, course_page, name):
    assert axe_violations(axe, course_page, name) == []


def test_the_explorer_passes_them_too_with_a_refused_setting_and_a_selected_cell(axe, course_page):
    view = course_page.fresh("explorer")
    view.get_by_role("application").focus()
    view.page.keyboard.press("ArrowRight")
    height = view.get_by_label("input height H", exact=True)
    height.focus()
    height.press("Home")  # one row under a 3-row kernel that padding 2 still fits: press on to refuse
    view.get_by_label("padding (rows)", exact=True).focus()
    view.page.keyboard.press("Home")
    view.locator(".ck-error").wait_for(state="visible", timeout=30_000)
    assert axe_violations(axe, course_page, "explorer") == []
