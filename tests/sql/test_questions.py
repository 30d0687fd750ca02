"""The analyst's first questions of sql/QUESTIONS.md run as written on both backends
and answer what the scenario of tests/support/warehouse_builder.py was built to answer."""
from __future__ import annotations

import re

import sqlalchemy as sa

from observatoire import warehouse


from tests.support import warehouse_builder as build


def _questions() -> list[str]:
    text = (warehouse.SQL_DIR / "QUESTIONS.md").read_text("utf-8")
    return re.findall(r"```sql\n(.*?)```", text, flags=re.S)


def test_the_questions_answer_on_the_scenario(engine):
    warehouse.migrate(engine)
    warehouse.load_campaign(engine, build.scenario_2023())
    warehouse.load_campaign(engine, build.scenario_2024())
    questions = _questions()
    assert len(questions) == 6
    with engine.connect() as connection:
        answers = [[tuple(row) for row in connection.execute(sa.text(q.strip().rstrip(";")))] for q in questions]
    missing_69, rates, late_twice, deficits, to_call, changed = answers
    assert [(r[0], r[2], r[3]) for r in missing_69] == [(build.C, "0478000003", "c-2023@cds-c.fr")]
    # 69: 2 of 4 in 2024 (A on time, B late) vs 3 of 4 in 2023; 01: E and F of E F G both years.
    assert rates == [("01", round(200 / 3, 1), round(200 / 3, 1)), ("69", 50.0, 75.0)]
    assert [(r[0], r[2], r[3]) for r in late_twice] == [(build.B, 10, 3)]
    assert [(r[0], r[2]) for r in deficits] == [(build.A, -5000.0), (build.E, -100.0)]
    assert [(r[0], r[1].split()[-1], r[2], r[4], r[5]) for r in to_call] == [
        ("01", build.G, "missing", "0474000007", None),
        ("69", build.D, "invalid", "0478000004", "d@cds-d.fr"),
        ("69", build.B, "late", "0478000002", "b@cds-b.fr"),
        ("69", build.C, "missing", "0478000003", "c-2023@cds-c.fr"),
    ]
    # region 84's changes (I is region 11's), by département: E (01) then A (69), with the
    # centre's name and département from its status row
    assert [(r[0], r[1], r[2], r[3], r[4], r[5], r[6]) for r in changed] == [
        ("01", build.E, f"CENTRE DE SANTE {build.E}", "type de centre", "exercice précédent", "médical", "polyvalent"),
        ("69", build.A, f"CENTRE DE SANTE {build.A}", "adresse", "FINESS", "69123", "69266"),
    ]
