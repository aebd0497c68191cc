"""Payments KPIs on a seven-transaction dataset, every expected value worked out by hand."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.payments import PaymentsModel, gini, hhi, top_share
from tests.conftest import SharedRoot
from tests.payments_tiny import MERCHANTS, TRANSACTIONS

FEB = {"start": dt.date(2025, 2, 1), "end": dt.date(2025, 2, 28)}


@pytest.fixture
def model(shared_root: SharedRoot, engine: Callable[..., Any]) -> PaymentsModel:
    root, cache = shared_root("payments", {"merchants": MERCHANTS, "transactions": TRANSACTIONS})
    return PaymentsModel(engine(root, cache), **FEB)


def test_period_kpis_by_hand(model: PaymentsModel) -> None:
    k = model.kpis
    # February: T2..T7 pass (6 attempts); approved T3, T4, T5, T7.
    assert k["attempts"] == 6
    assert k["approved"] == 4
    assert k["approval_rate"] == pytest.approx(4 / 6)
    # attempted 50 + 50 + 1000 + 0.01 + 200 + 10 = 1310.01; approved 50 + 1000 + 0.01 + 10 = 1060.01
    assert k["gpv"] == Decimal("1060.01")
    assert k["approval_rate_value"] == pytest.approx(1060.01 / 1310.01)
    # intents I2 (retry approved), I3, I4, I5 (declined), I6: 4 of 5 approved
    assert k["approval_rate_dedup"] == pytest.approx(4 / 5)
    # fees of approved: 1.50 + 19.00 + 0.00 + 0.40 = 20.90
    assert k["fee_revenue"] == Decimal("20.90")
    assert k["fee_yield_bps"] == pytest.approx(2090 / 106001 * 10_000)
    # 1060.01 / 4 = 265.0025 -> 265.00
    assert k["avg_ticket"] == Decimal("265.00")
    assert k["active_merchants"] == 3


def test_tiny_day_does_not_distort_fee_yield(model: PaymentsModel) -> None:
    # T5 is a 0.01 sale with no fee: its day's yield is 0 bps. An average of daily yields
    # would be (300 + 190 + 0 + 400) / 4 = 222.5 bps; the ratio of sums is 197.17 bps.
    assert model.kpis["fee_yield_bps"] == pytest.approx(197.1679, abs=1e-3)
    daily = [150 / 5000 * 1e4, 1900 / 100000 * 1e4, 0.0, 40 / 1000 * 1e4]
    assert model.kpis["fee_yield_bps"] != pytest.approx(np.mean(daily))


def test_concentration_by_hand(model: PaymentsModel) -> None:
    k = model.kpis
    # merchant GPV in cents: M1 5,000, M2 100,001, M3 1,000; total 106,001
    assert k["top10_share"] == pytest.approx(1.0)
    # ceil(1% of 3) = 1 merchant: 100,001 / 106,001
    assert k["top1pct_share"] == pytest.approx(100001 / 106001)
    # (100 x share)^2 summed: 4.71693^2 + 94.33968^2 + 0.94339^2 = 8923.12
    assert k["hhi"] == pytest.approx(8923.12, abs=0.01)
    # sorted 1000, 5000, 100001: 2 x (1x1000 + 2x5000 + 3x100001) / (3 x 106001) - 4/3
    assert k["gini"] == pytest.approx(2 * 311003 / (3 * 106001) - 4 / 3)


def test_previous_period_and_churn(model: PaymentsModel) -> None:
    k = model.kpis
    # previous 28 days: 2025-01-04..2025-01-31 holds T1 (200.00 approved)
    assert model.previous_period() == (dt.date(2025, 1, 4), dt.date(2025, 1, 31))
    assert k["gpv_prev_period"] == Decimal("200.00")
    assert k["gpv_change_pct"] == pytest.approx((1060.01 - 200) / 200 * 100)
    # M1: 50.00 in the last 28 days vs 200.00 before: 25% <= 40% -> at risk.
    # M2 and M3 had no GPV in the earlier window, so they cannot be at risk.
    assert k["churn_risk_merchants"] == 1
    row = model.churn.iloc[0]
    assert row["merchant_id"] == "M1"
    assert row["account_manager"] == "Ann"
    # approval 1/2 now vs 1/1 before: more than 5 points lower
    assert row["reason"] == "approval_drop"


def test_filters(model: PaymentsModel) -> None:
    model.segments = ["SMB"]
    # M1 and M3: T2, T3, T6, T7; approved T3, T7 = 50.00 + 10.00; fees 1.50 + 0.40
    assert model.kpis["attempts"] == 4
    assert model.kpis["gpv"] == Decimal("60.00")
    assert model.kpis["fee_revenue"] == Decimal("1.90")
    assert model.kpis["approval_rate_dedup"] == pytest.approx(2 / 3)  # I2, I6 of I2, I5, I6
    model.param.update(segments=[], channels=["pos"])
    # T4 + T5
    assert model.kpis["gpv"] == Decimal("1000.01")
    assert model.kpis["gpv_prev_period"] == Decimal("0.00")
    assert model.kpis["gpv_change_pct"] is None  # zero denominator is null
    model.param.update(channels=[], payment_methods=["wallet"])
    assert model.kpis["attempts"] == 1


def test_filters_matching_nothing(model: PaymentsModel) -> None:
    model.param.update(start=dt.date(2025, 3, 1), end=dt.date(2025, 3, 5))
    k = model.kpis
    assert k["attempts"] == 0 and k["gpv"] == Decimal("0.00")
    for key in ("approval_rate", "fee_yield_bps", "avg_ticket", "hhi", "gini", "top10_share"):
        assert k[key] is None, key
    assert model.weekly.empty and model.declines.empty


def test_declines_with_classes(model: PaymentsModel) -> None:
    d = model.declines.set_index("decline_reason")
    assert d.loc["insufficient_funds", "channel"] == "online"
    assert d.loc["insufficient_funds", "decline_class"] == "soft"
    assert d.loc["do_not_honor", "decline_class"] == "hard"
    assert d["count"].sum() == 2
    assert model.tables()["declines"]["count"].sum() == 2


def test_decline_rate_is_of_the_channels_attempts(model: PaymentsModel) -> None:
    # January and February: online attempts T1, T2, T3 = 3, one declined (T2, insufficient
    # funds): 1 / 3; mobile attempts T6, T7 = 2, one declined (T6, do not honor): 1 / 2.
    model.param.update(start=dt.date(2025, 1, 1), end=dt.date(2025, 2, 28))
    d = model.declines.set_index(["decline_reason", "channel"])["decline_rate"]
    assert d.to_dict() == {
        ("insufficient_funds", "online"): pytest.approx(1 / 3),
        ("do_not_honor", "mobile"): pytest.approx(1 / 2),
    }
    # Card payments only: online T1, T2, T3 are cards (1 / 3); mobile T6 is a card, T7 a card
    # too (1 / 2); a wallet (T5, pos) never declined. Then Feb only: online T2, T3 (1 / 2).
    model.param.update(payment_methods=["card"])
    d = model.declines.set_index("channel")["decline_rate"]
    assert d.to_dict() == {"online": pytest.approx(1 / 3), "mobile": pytest.approx(1 / 2)}
    model.param.update(start=dt.date(2025, 2, 1))
    d = model.declines.set_index("channel")["decline_rate"]
    assert d.to_dict() == {"online": pytest.approx(1 / 2), "mobile": pytest.approx(1 / 2)}
    # January alone: no decline, no row.
    model.param.update(start=dt.date(2025, 1, 1), end=dt.date(2025, 1, 31))
    assert model.declines.empty


def test_cohorts_blank_when_not_observable(model: PaymentsModel) -> None:
    c = model.cohorts.set_index(["cohort", "k"])
    jan, feb = dt.date(2025, 1, 1), dt.date(2025, 2, 1)
    # January cohort (M1, M2): month 0 only M1 active (1/2), GPV 200.00
    assert c.loc[(jan, 0), "active_share"] == pytest.approx(0.5)
    # month 1: both active; GPV 50.00 + 1000.01 = 1050.01 -> 1050.01 / 200.00
    assert c.loc[(jan, 1), "active_share"] == pytest.approx(1.0)
    assert c.loc[(jan, 1), "gpv_retention"] == pytest.approx(105001 / 20000)
    # February cohort (M3): month 0 observed; month 1 (March) is after the data: no cell
    assert c.loc[(feb, 0), "active_share"] == pytest.approx(1.0)
    assert (feb, 1) not in c.index and (jan, 2) not in c.index


def test_weekly_series_sums_to_total(model: PaymentsModel) -> None:
    # Money in output tables is exact Decimal: the parts sum to the KPI to the cent.
    assert sum(model.weekly["gpv"]) == Decimal("1060.01") == model.kpis["gpv"]
    assert sum(model.monthly["gpv"]) == Decimal("1060.01")
    for dim in ("segment", "industry", "region"):
        assert sum(model.breakdowns[dim]["gpv"]) == Decimal("1060.01")


def test_one_computation_per_change(model: PaymentsModel, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = PaymentsModel.compute_staged
    monkeypatch.setattr(
        PaymentsModel, "compute_staged", lambda self: calls.append(1) or original(self)
    )
    model.param.update(segments=["SMB"], regions=["EMEA"], channels=["online"])
    assert len(calls) == 1
    model.regions = []
    assert len(calls) == 2


def test_unknown_filter_value_is_refused(model: PaymentsModel) -> None:
    with pytest.raises(ValueError):
        model.segments = ["Nope"]


def test_period_end_before_start_keeps_outputs(model: PaymentsModel) -> None:
    before = dict(model.kpis)
    with pytest.raises(ValueError, match="ends"):
        model.param.update(start=dt.date(2025, 2, 10), end=dt.date(2025, 2, 1))
    assert model.kpis == before


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=40))
def test_concentration_bounds(values: list[int]) -> None:
    x = np.array(values, dtype=np.int64)
    if x.sum() == 0:
        assert hhi(x) is None and gini(x) is None
        return
    assert 0 <= hhi(x) <= 10_000 + 1e-6
    assert -1e-9 <= gini(x) <= 1
    assert top_share(x, len(x)) == pytest.approx(1.0)
    equal = np.full(len(x), 7)
    assert gini(equal) == pytest.approx(0.0, abs=1e-12)
    assert hhi(equal) == pytest.approx(10_000 / len(x))


def test_decline_drill_down_by_hand(model: PaymentsModel) -> None:
    # Declined attempts in the tiny data: T2 (M1, online, insufficient_funds, 2025-02-03, 50.00)
    # and T6 (M3, mobile, do_not_honor, 2025-02-20, 200.00).
    cell = model.decline_drill("insufficient_funds", "online")
    m = cell["merchants"]
    assert m[["merchant_id", "declines", "share_of_cell"]].values.tolist() == [["M1", 1, 1.0]]
    assert m["account_manager"].tolist() == ["Ann"]
    tx = cell["transactions"]
    assert tx[["txn_id", "merchant_id", "payment_method"]].values.tolist() == [["T2", "M1", "card"]]
    assert tx["amount"].tolist() == [Decimal("50.00")] and cell["total"] == 1
    # The cell belongs to another channel: nothing.
    assert cell_empty(model.decline_drill("insufficient_funds", "mobile"))
    # Filters apply: M1 is SMB, so Enterprise sees nothing; a period ending 2025-02-02 neither.
    model.segments = ["Enterprise"]
    assert cell_empty(model.decline_drill("insufficient_funds", "online"))
    model.segments = []
    model.end = dt.date(2025, 2, 2)
    assert cell_empty(model.decline_drill("insufficient_funds", "online"))
    model.end = dt.date(2025, 2, 28)
    assert model.decline_drill("do_not_honor", "mobile")["transactions"]["txn_id"].tolist() == [
        "T6"
    ]


def cell_empty(cell: dict) -> bool:
    return cell["merchants"].empty and cell["transactions"].empty


def test_deferred_outputs_follow_the_kpis(model: PaymentsModel) -> None:
    """A page publishes a change's KPIs first and the tables when its deferred job runs; a
    change before that replaces the job, and reading the tables (exports) settles first."""
    weekly_before = model.weekly
    jobs: list[Any] = []
    model.defer = lambda job: jobs.append(job) or True
    try:
        model.segments = ["SMB"]
        smb_kpis = dict(model.kpis)
        assert model.weekly is weekly_before and len(jobs) == 1
        model.segments = []
        assert model.weekly is weekly_before
        jobs[-1]()
        all_weekly = model.weekly
        assert all_weekly is not weekly_before and sum(all_weekly["gpv"]) == model.kpis["gpv"]
        jobs[0]()  # the first change's job finds nothing left to do
        assert model.weekly is all_weekly
        model.segments = ["SMB"]
        assert model.kpis == smb_kpis
        assert sum(model.output_tables()["weekly"]["gpv"]) == smb_kpis["gpv"]
    finally:
        model.defer = None
