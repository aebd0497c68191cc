"""Top N and "Other", worked out by hand."""

from __future__ import annotations

from decimal import Decimal as D

import pandas as pd
import pytest

from models.topn import other_label, top_and_other


def campaigns() -> pd.DataFrame:
    # five campaigns; spend and finance revenue in exact dollars
    return pd.DataFrame(
        {
            "campaign": ["A", "B", "C", "D", "E"],
            "spend": [D("100.00"), D("400.00"), D("50.00"), D("300.00"), D("0.00")],
            "revenue_finance": [D("150.00"), D("200.00"), D("75.00"), D("900.00"), D("10.00")],
            "roas_finance": [1.5, 0.5, 1.5, 3.0, None],
        }
    )


def test_other_is_the_sum_of_the_rest_and_its_ratio_is_pooled() -> None:
    out = top_and_other(
        campaigns(),
        "campaign",
        by="spend",
        sums=["spend", "revenue_finance"],
        ratios={"roas_finance": ("revenue_finance", "spend")},
        noun="campaign",
        n=2,
        slack=0,
    )
    # by spend: B 400, D 300 | rest A 100 + C 50 + E 0 = 150.00; revenue 150 + 75 + 10 = 235.00
    assert list(out["campaign"]) == ["B", "D", "Other (3 campaigns)"]
    other = out.iloc[2]
    assert other["spend"] == D("150.00") and other["revenue_finance"] == D("235.00")
    # pooled: 235 / 150 = 1.5667, not the mean of 1.5, 1.5 and nothing
    assert other["roas_finance"] == pytest.approx(235 / 150)
    assert out["roas_finance"].dtype.kind == "f"


def test_few_categories_are_all_kept_ranked() -> None:
    out = top_and_other(campaigns(), "campaign", by="spend", sums=["spend"], n=3, slack=2)
    assert list(out["campaign"]) == ["B", "D", "A", "C", "E"]  # 5 <= 3 + 2: no Other


def test_split_keeps_the_other_rows_apart_and_ranks_by_the_total() -> None:
    df = pd.DataFrame(
        {
            "product": ["P", "P", "Q", "R", "R", "S"],
            "platform": ["X", "Y", "X", "X", "Y", "Y"],
            "revenue": [5.0, 1.0, 10.0, 2.0, 2.0, 3.0],
        }
    )
    out = top_and_other(df, "product", by="revenue", sums=["revenue"], noun="product", n=1, slack=0)
    # totals: Q 10, P 6, R 4, S 3 -> Q kept; the rest in one row: 6 + 4 + 3 = 13
    assert out.to_dict("records") == [
        {"product": "Q", "platform": "X", "revenue": 10.0},
        {"product": "Other (3 products)", "platform": None, "revenue": 13.0},
    ]
    out = top_and_other(
        df,
        "product",
        by="revenue",
        sums=["revenue"],
        noun="product",
        n=1,
        slack=0,
        split="platform",
    )
    # the rest by platform: X = P 5 + R 2 = 7; Y = P 1 + R 2 + S 3 = 6
    assert out.to_dict("records") == [
        {"product": "Q", "platform": "X", "revenue": 10.0},
        {"product": "Other (3 products)", "platform": "X", "revenue": 7.0},
        {"product": "Other (3 products)", "platform": "Y", "revenue": 6.0},
    ]


def test_missing_values_stay_missing_and_labels_count() -> None:
    df = pd.DataFrame({"k": ["a", "b", "c"], "v": [3, 2, 1], "p": [None, None, None]})
    out = top_and_other(df, "k", by="v", sums=["v", "p"], n=1, slack=0, noun="merchant")
    assert out.iloc[1]["v"] == 3 and out.iloc[1]["p"] is None  # 2 + 1; nothing to add up
    assert other_label(1, "merchant") == "Other (1 merchant)"
    assert top_and_other(None, "k", by="v", sums=[]).empty


def test_columns_not_summed_are_missing_in_other_without_a_pandas_warning() -> None:
    # pytest turns warnings into errors: pandas deprecates concatenating all-missing columns
    df = pd.DataFrame({"k": list("abcd"), "v": [4.0, 3.0, 2.0, 1.0], "w": [1.0, 2.0, 3.0, 4.0]})
    out = top_and_other(df, "k", by="v", sums=["v"], n=2, slack=0)
    assert out["v"].tolist() == [4.0, 3.0, 3.0]  # 2 + 1
    assert out["w"].tolist()[:2] == [1.0, 2.0] and pd.isna(out["w"].iloc[2])
