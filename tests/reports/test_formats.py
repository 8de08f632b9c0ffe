"""How each figure reads: `crm.reports.formats` on its own, no database."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from crm.reports.formats import (
    Kind,
    change_text,
    csv_frame,
    describe,
    display_rows,
    excel_cells,
    text,
)

MINUS = "\u2212"


@pytest.mark.parametrize(
    ("value", "kind", "change", "shown"),
    [
        (4.0, Kind.AVERAGE, False, "4.00"),  # not "4" beside "3.88"
        (3.875, Kind.AVERAGE, False, "3.88"),
        (2.1, Kind.AVERAGE, False, "2.10"),
        (0.21, Kind.AVERAGE, True, "+0.21"),
        (-0.2, Kind.AVERAGE, True, f"{MINUS}0.20"),
        (0.0, Kind.AVERAGE, True, "0.00"),
        (0.27, Kind.RATE, False, "27%"),
        (0.959, Kind.RATE, False, "96%"),
        (1.0, Kind.RATE, False, "100%"),
        (0.0, Kind.RATE, False, "0%"),
        (0.069, Kind.RATE, True, "+7 pts"),  # a rate's change, in percentage points
        (-0.083, Kind.RATE, True, f"{MINUS}8 pts"),
        (0.01, Kind.RATE, True, "+1 pt"),
        (0.0, Kind.RATE, True, "0 pts"),
        (42993, Kind.COUNT, False, "42,993"),
        (np.int64(1200), Kind.COUNT, False, "1,200"),
        (3, Kind.COUNT, True, "+3"),
        (-29888, Kind.COUNT, True, f"{MINUS}29,888"),
        (0, Kind.COUNT, True, "0"),
        (None, Kind.RATE, False, "—"),
        (math.nan, Kind.AVERAGE, False, "—"),
        (np.float64("nan"), Kind.AVERAGE, True, "—"),
        (pd.NA, Kind.COUNT, False, "—"),
        ("Brand / retailer", Kind.COUNT, False, "Brand / retailer"),
    ],
)
def test_text(value, kind, change, shown):
    assert text(value, kind, change) == shown


def test_change_text():
    assert change_text(5, 2) == "+3"
    assert change_text(2, 5) == f"{MINUS}3"
    assert change_text(2, 2) == "0"
    assert change_text(None, 2) == "—"
    assert change_text(0.37, 0.30, Kind.RATE) == "+7 pts"


def comparison() -> pd.DataFrame:
    frame = pd.DataFrame(
        [("Messages sent", 293, 442, -149), ("Open rate", 0.37, 0.301, 0.069),
         ("Click rate", 0.107, None, None)],
        columns=["Campaigns", "This quarter", "Previous quarter", "Change"],
        dtype=object,
    )  # fmt: skip
    return describe(frame, rows={"Open rate": Kind.RATE, "Click rate": Kind.RATE},
                    changes=["Change"])  # fmt: skip


def test_display_rows_by_row_and_column():
    assert display_rows(comparison()) == [
        ["Messages sent", "293", "442", f"{MINUS}149"],
        ["Open rate", "37%", "30%", "+7 pts"],
        ["Click rate", "11%", "—", "—"],
    ]
    averages = describe(
        pd.DataFrame({"Principle": ["P1", "P2"], "Verified": [3, 0], "Average": [4.0, np.nan]}),
        columns={"Average": Kind.AVERAGE},
    )
    assert display_rows(averages) == [["P1", "3", "4.00"], ["P2", "0", "—"]]


def test_a_frame_without_a_description_shows_counts():
    assert display_rows(pd.DataFrame({"Kind": ["NGO"], "Pledges": [1234]})) == [["NGO", "1,234"]]


def test_excel_cells_keep_numbers_and_give_formats():
    cells = excel_cells(comparison())
    assert cells[0] == [("Messages sent", None), (293, "#,##0"), (442, "#,##0"),
                        (-149, "+#,##0;-#,##0;0")]  # fmt: skip
    label, now, before, change = cells[1]
    assert now == (0.37, "0%") and before == (0.301, "0%")
    assert change[0] == pytest.approx(6.9) and change[1].startswith('+0" pts"')
    assert cells[2][2] == (None, None) and cells[2][3] == (None, None)


def test_csv_frame_gives_rates_in_percent_marked_in_the_label():
    out = csv_frame(comparison())
    assert out.to_csv(index=False).splitlines() == [
        "Campaigns,This quarter,Previous quarter,Change",
        "Messages sent,293,442,-149",  # counts stay whole numbers
        "Open rate (%),37.0,30.1,6.9",
        "Click rate (%),10.7,,",
    ]
    rates = describe(pd.DataFrame({"Event": ["A"], "Attendance rate": [0.667]}),
                     columns={"Attendance rate": Kind.RATE})  # fmt: skip
    assert csv_frame(rates).to_csv(index=False).splitlines() == [
        "Event,Attendance rate (%)",
        "A,66.7",
    ]
