"""Reconciliation as a workflow (issue 19): confirmed matches in every number, worked out by hand
on the tiny dataset (tests/recon_tiny.py) and held to the cent on generated data (hypothesis);
suggestions, status changes, reopening and aging by hand; sign-off snapshots and differences."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data import state
from data.engine import open_source
from data.generate import generate
from data.state import StaleEdit, open_store
from models import review
from models.reconciliation import BRIDGE_STEPS, REVIEW_STEP, ReconciliationModel
from models.review_session import ReviewSession
from tests import recon_reference, recon_tiny
from tests.conftest import SharedRoot, write_tables

MARCH = {"start": dt.date(2025, 3, 1), "end": dt.date(2025, 3, 31)}
D = Decimal
WITH_REVIEW = [*BRIDGE_STEPS[:5], REVIEW_STEP, *BRIDGE_STEPS[5:]]


def _model(root: Path, **params: object) -> ReconciliationModel:
    write_tables(root, "reconciliation", recon_tiny.tables())
    return ReconciliationModel(open_source(root), **{**MARCH, **params})


@pytest.fixture
def model(shared_root: SharedRoot) -> Iterator[ReconciliationModel]:
    root, cache = shared_root("reconciliation", recon_tiny.tables())
    yield ReconciliationModel(open_source(root, cache), **MARCH)
    state.dispose_all()  # the sessions' SQLite files


def steps(m: ReconciliationModel) -> dict[str, Decimal]:
    return dict(zip(m.bridge["step"], m.bridge["amount"], strict=True))


# ------------------------------------------------------------------ confirmed pairs, by hand
def test_confirmed_pair_by_hand(model: ReconciliationModel) -> None:
    # A3: claimed 30.00 by CampB on 03-07, not in finance. F1: booked 25.00 on 03-15, claimed
    # by nobody. Confirmed as one sale: A3 is matched, F1 is no longer finance only.
    model.confirmed = [("A3", "F1")]
    assert list(model.bridge["step"]) == WITH_REVIEW
    assert list(model.bridge["amount"]) == [
        D("320.00"),  # claims in March, unchanged
        D("-20.00"),  # A5's second claim
        D("0.00"),  # missing in finance: A3 (-30) is matched now
        D("-40.00"),  # A4 refunded
        D("5.00"),  # A2: 55 - 50
        D("-5.00"),  # matched on review: F1 25 booked - A3 30 claimed
        D("10.00"),  # timing, unchanged: - A6 60 + A7 70
        D("0.00"),  # finance only: F1 (25) is A3's booking now
        D("270.00"),  # finance revenue, unchanged: F1 was counted already
    ]
    assert model.bridge_check == D("0.00")
    k = model.kpis
    assert k["orders_matched"] == 4  # A1, A5, A6 + A3
    assert k["orders_missing_in_finance"] == 0
    assert k["orders_finance_only"] == 0
    assert k["orders_timing"] == 2  # A6, and A3 -> F1: 8 days apart > 3
    assert k["match_rate"] == pytest.approx(4 / 6)
    assert k["revenue_finance"] == D("270.00")
    assert model.lag_days == 3.5  # median of 0 (A5), 1 (A1), 6 (A6), 8 (A3 -> F1)
    bc = model.by_campaign.set_index("campaign")
    assert bc.loc["CampB", "revenue_finance"] == D("35.00")  # half of A5 10 + F1 25
    assert bc.loc["CampA", "revenue_finance"] == D("225.00")  # unchanged
    ex = model.exceptions.set_index("order_id")
    assert "F1" not in ex.index
    assert ex.loc["A3", "class"] == "matched"
    assert ex.loc["A3", "flags"] == "matched_on_review,timing"
    assert ex.loc["A3", "finance_revenue"] == pytest.approx(25.0)
    assert ex.loc["A3", "finance_date"] == dt.date(2025, 3, 15)
    assert [s["step"] for s in k["bridge"]] == WITH_REVIEW
    model.confirmed = []  # undone: the bridge is as before, without the step
    assert list(model.bridge["step"]) == list(BRIDGE_STEPS)
    assert model.kpis["orders_missing_in_finance"] == 1


def test_confirmed_pair_under_a_campaign_filter_by_hand(model: ReconciliationModel) -> None:
    model.param.update(campaigns=["CampB"], confirmed=[("A3", "F1")])
    # Claims by CampB in March: A3 30, A4 40, A5 20. F1 is A3's booking and A3 is CampB's, so
    # F1 joins CampB's finance revenue: A5 20 + A7 70 + F1 25 = 115.
    assert list(model.bridge["amount"]) == [
        D("90.00"),
        D("0.00"),
        D("0.00"),  # A3 no longer missing
        D("-40.00"),
        D("0.00"),
        D("-5.00"),  # 25 - 30
        D("70.00"),  # A7: claimed by CampB in February, booked in March
        D("0.00"),
        D("115.00"),
    ]
    assert model.kpis["roas_finance"] == pytest.approx(115 / 50)
    model.campaigns = ["CampA"]  # A3 is not CampA's: the pair changes nothing there
    assert steps(model)[REVIEW_STEP] == D("0.00")
    # booked in March, claimed by CampA: A1 100 + A2 55 + A5 20 (A6 is booked in April)
    assert model.kpis["revenue_finance"] == D("175.00")
    assert model.bridge_check == D("0.00")


def test_confirmed_pair_across_the_period_edge_by_hand(model: ReconciliationModel) -> None:
    # Claimed in the period, booked after it: A3 (03-07) -> F1 (03-15), period 03-01..03-10.
    before = steps(_period(model, dt.date(2025, 3, 1), dt.date(2025, 3, 10), []))
    after = steps(_period(model, dt.date(2025, 3, 1), dt.date(2025, 3, 10), [("A3", "F1")]))
    assert after["missing_in_finance"] - before["missing_in_finance"] == D("30.00")
    assert after[REVIEW_STEP] == D("-5.00")
    assert after["timing"] - before["timing"] == D("-25.00")  # booked outside the period
    assert after["finance_revenue"] == before["finance_revenue"]
    # Booked in the period, claimed before it: period 03-11..03-31.
    before = steps(_period(model, dt.date(2025, 3, 11), dt.date(2025, 3, 31), []))
    after = steps(_period(model, dt.date(2025, 3, 11), dt.date(2025, 3, 31), [("A3", "F1")]))
    assert after["finance_only"] - before["finance_only"] == D("-25.00")
    assert after["timing"] - before["timing"] == D("25.00")
    assert after[REVIEW_STEP] == D("0.00")  # A3 is not claimed in this period
    assert model.bridge_check == D("0.00")


def _period(
    m: ReconciliationModel, start: dt.date, end: dt.date, pairs: list[tuple[str, str]]
) -> ReconciliationModel:
    m.param.update(start=start, end=end, confirmed=pairs)
    return m


def test_pairs_the_data_does_not_allow_are_ignored_and_said(model: ReconciliationModel) -> None:
    model.confirmed = [("A1", "F1"), ("A3", "A4"), ("A3", "F2"), ("NOPE", "F1"), ("A3", "F1")]
    why = {(a, b): w for a, b, w in model.confirmed_ignored}
    assert why[("A1", "F1")] == "A1 is in the finance data now"
    assert why[("A3", "A4")] == "A4 is refunded, not booked"
    assert why[("A3", "F2")] == "F2 is cancelled, not booked"
    assert why[("NOPE", "F1")] == "NOPE has no claim in the data"
    assert ("A3", "F1") not in why  # the one usable pair counts
    assert model.kpis["orders_missing_in_finance"] == 0
    assert model.bridge_check == D("0.00")


# ------------------------------------------------------------------ suggestions, by hand
def _missing(*rows: tuple[str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        [(o, float(a), dt.date.fromisoformat(d)) for o, a, d in rows],
        columns=["order_id", "claimed_revenue", "claim_date"],
    )


def _fin_only(*rows: tuple[str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        [(o, float(a), dt.date.fromisoformat(d)) for o, a, d in rows],
        columns=["order_id", "finance_revenue", "finance_date"],
    )


def test_suggestions_by_hand() -> None:
    missing = _missing(
        ("A3", "30.00", "2025-03-07"),
        ("ORD-0042", "80.00", "2025-03-01"),
        ("X 17", "12.00", "2025-03-01"),
        ("Q1", "99.00", "2025-03-01"),
    )
    fin = _fin_only(
        ("F1", "30.00", "2025-03-09"),  # A3: equal amount, 2 days later
        ("F9", "30.00", "2025-03-12"),  # A3: equal amount but 5 days > 3
        ("ord-42", "80.50", "2025-06-01"),  # ORD-0042: case and leading zeros; amounts differ
        ("x17", "11.00", "2025-03-02"),  # X 17: case and spaces
        ("Q2", "50.00", "2025-03-03"),  # Q1: one character, 2 days apart, amounts $49 apart
        ("Q7", "10.00", "2025-06-01"),  # Q1: one character, but amounts and dates far apart
        ("Q3", "99.00", "2025-09-01"),  # Q1: one character, equal amounts, 184 days apart
    )
    s = review.suggest(missing, fin, abs_tol=0.01, rel_tol=0.0, timing_days=3)
    got = {(r.claim_id, r.finance_id): r.reason for r in s.itertuples()}
    assert got == {
        ("A3", "F1"): "equal amounts, 2 days apart",
        ("ORD-0042", "ord-42"): (
            "Order IDs differ only in case and leading zeros; amounts differ by $0.50, "
            "92 days apart"
        ),
        ("X 17", "x17"): "Order IDs differ only in case and spaces; amounts differ by $1.00, "
        "1 day apart",
        # one character apart needs equal amounts (within $0.01): Q3, not Q2 (close dates)
        ("Q1", "Q3"): "Order IDs differ in one character (Q1 / Q3); equal amounts, 184 days apart",
    }
    # a wider window finds F9 too; a rejected pair is not suggested again
    s = review.suggest(
        missing, fin, abs_tol=0.01, rel_tol=0.0, timing_days=5, decided=[("A3", "F1")]
    )
    assert ("A3", "F9") in set(zip(s["claim_id"], s["finance_id"], strict=True))
    assert ("A3", "F1") not in set(zip(s["claim_id"], s["finance_id"], strict=True))
    # orders already in a confirmed pair are not suggested
    s = review.suggest(missing, fin, 0.01, 0.0, 3, used=["F1", "Q1"])
    assert not {"F1", "Q1"} & (set(s["claim_id"]) | set(s["finance_id"]))


def test_id_reasons_by_hand() -> None:
    assert review.id_reason("A1", "a1") == "Order IDs differ only in case"
    assert review.id_reason("A 1", "A1") == "Order IDs differ only in spaces"
    assert review.id_reason("000123", "123") == "Order IDs differ only in leading zeros"
    assert review.id_reason("AB12", "AB1") == "Order IDs differ in one character (AB12 / AB1)"
    assert review.id_reason("AB12", "AB21") is None  # two characters
    assert review.id_reason("A1", "A1") is None


def test_suggestions_on_the_tiny_dataset(model: ReconciliationModel) -> None:
    ex = model.exceptions
    missing = ex[ex["class"] == "missing_in_finance"]
    s = review.suggest(
        missing, model.finance_only_orders(), model.abs_tol, model.rel_tol, model.timing_days
    )
    # A3 (30.00, 03-07) and F1 (25.00, 03-15): neither amounts nor ids alike. No suggestion.
    assert s.empty
    s = review.suggest(missing, model.finance_only_orders(), 5.0, 0.0, 8)
    assert list(zip(s["claim_id"], s["finance_id"], s["reason"], strict=True)) == [
        ("A3", "F1", "amounts $5.00 apart (within tolerance), 8 days apart")
    ]


# ------------------------------------------------------------------ status changes, by hand
def _work(model: ReconciliationModel, items: dict | None = None) -> pd.DataFrame:
    return review.worklist(model.exceptions, items or {}, as_of=model.end)


def test_worklist_and_value_at_stake_by_hand(model: ReconciliationModel) -> None:
    w = _work(model).set_index("order_id")
    assert set(w.index) == {"A2", "A3", "A4", "A5", "A6", "F1"}
    assert (w["status"] == "open").all() and (w["version"] == 0).all()
    assert w.loc["A2", "value_at_stake"] == D("5.00")  # |55 - 50|
    assert w.loc["A3", "value_at_stake"] == D("30.00")  # the claim
    assert w.loc["A4", "value_at_stake"] == D("40.00")  # refunded claim
    assert w.loc["A5", "value_at_stake"] == D("20.00")  # the second claim
    assert w.loc["A6", "value_at_stake"] == D("60.00")  # booked 6 days later
    assert w.loc["F1", "value_at_stake"] == D("25.00")  # the booking
    assert w.loc["A3", "age_days"] == 24  # 03-07 to 03-31
    assert w.loc["F1", "age_days"] == 16  # no claim: from the booking, 03-15


def test_status_changes_by_hand(model: ReconciliationModel) -> None:
    w = _work(model)
    two = w[w["order_id"].isin(["A2", "A3"])]
    edits = review.change_status(two, {}, "investigating", note="asked finance", owner="ana")
    assert [(e.order_id, e.cls, e.expected, e.status, e.owner) for e in edits] == [
        ("A2", "amount_mismatch", 0, "investigating", "ana"),
        ("A3", "missing_in_finance", 0, "investigating", "ana"),
    ]
    assert edits[0].log == (
        ("status", "open", "investigating", "asked finance"),
        ("owner", "", "ana", ""),
    )
    assert edits[0].amounts == "claimed=5000;finance=5500"
    with pytest.raises(ValueError, match="a note is needed"):
        review.change_status(two, {}, "written_off")
    items = {
        ("A2", "amount_mismatch"): {"status": "resolved", "version": 3, "owner": "", "note": ""}
    }
    with pytest.raises(ValueError, match="A2 \\(resolved cannot become explained\\)"):
        review.change_status(two, items, "explained", note="x")
    only_note = review.change_status(two.iloc[:1], items, note="checked again")
    assert only_note[0].status == "resolved" and only_note[0].expected == 0  # as loaded
    assert only_note[0].log == (("note", "", "", "checked again"),)


def test_reopened_when_amounts_change(model: ReconciliationModel) -> None:
    items = {
        ("A2", "amount_mismatch"): {
            "status": "resolved",
            "version": 2,
            "owner": "ana",
            "note": "credit note",
            "amounts": "claimed=5000;finance=5200",  # finance was 52.00 when resolved
        },
        ("A3", "missing_in_finance"): {
            "status": "investigating",
            "version": 1,
            "owner": "",
            "note": "",
            "amounts": "claimed=2900;finance=",
        },
        ("A4", "refunded"): {
            "status": "resolved",
            "version": 1,
            "owner": "",
            "note": "",
            "amounts": "claimed=4000;finance=4000",  # unchanged
        },
    }
    edits = {e.order_id: e for e in review.reopened(model.exceptions, items)}
    assert set(edits) == {"A2", "A3"}
    assert edits["A2"].status == "open" and edits["A2"].expected == 2
    assert edits["A2"].log == (
        (
            "reopened",
            "resolved",
            "open",
            "reopened: the amounts changed since it was resolved (finance 52.00 -> 55.00)",
        ),
    )
    assert edits["A3"].status == "investigating"  # not closed: only the amounts are recorded
    assert edits["A3"].log[0][0] == "amounts"


# ------------------------------------------------------------------ aging, by hand
def test_aging_by_hand(model: ReconciliationModel) -> None:
    items = {("A4", "refunded"): {"status": "resolved", "version": 1}}
    w = _work(model, items)
    a = review.aging(w, model.channel_of())
    # As of 03-31: A2 (03-06) 25 days, A3 (03-07) 24, A5 (03-09) 22 -> 8-30; A6 (03-28) 3 and
    # F1 (03-15) 16 -> 0-7 and 8-30. A4 is resolved: not aged.
    rows = {
        (r.age_bucket, r.campaign): (r.open_exceptions, r.value_at_stake) for r in a.itertuples()
    }
    assert rows == {
        ("0-7", "CampA"): (1, D("60.00")),  # A6
        ("8-30", "CampA"): (2, D("25.00")),  # A2 5 + A5 20 (first campaign of "CampA, CampB")
        ("8-30", "CampB"): (1, D("30.00")),  # A3
        ("8-30", "(no campaign)"): (1, D("25.00")),  # F1
    }
    assert dict(zip(a["campaign"], a["channel"], strict=False))["CampB"] == "Social"
    t = review.aging_totals(a).set_index("age_bucket")
    assert list(t.index) == list(review.AGING_BUCKETS)
    assert t.loc["8-30", "open_exceptions"] == 4
    assert t.loc["8-30", "value_at_stake"] == D("80.00")
    assert t.loc["over 60", "open_exceptions"] == 0
    assert [review.age_bucket(d) for d in (0, 7, 8, 30, 31, 60, 61)] == [
        "0-7",
        "0-7",
        "8-30",
        "8-30",
        "31-60",
        "31-60",
        "over 60",
    ]


# ------------------------------------------------------------------ sign-off
def test_snapshot_and_its_differences(model: ReconciliationModel) -> None:
    def snap() -> dict:
        return review.snapshot(
            model.period(),
            model.filters(),
            {s: getattr(model, s) for s in model.SETTINGS},
            model.input_digests(),
            model.kpis,
            model.bridge,
            _work(model),
            model.confirmed,
        )

    signed = snap()
    assert signed["kpis"]["revenue_finance"] == "270.00"
    assert set(signed["files"]) >= {"revenue_marketing", "revenue_finance"}
    assert len(signed["open_exceptions"]) == 6
    assert review.snapshot_differences(signed, snap()).empty
    model.confirmed = [("A3", "F1")]
    diff = review.snapshot_differences(signed, snap()).set_index("item")
    assert diff.loc["KPI orders_matched", "signed"] == "3"
    assert diff.loc["KPI orders_matched", "now"] == "4"
    assert diff.loc[f"bridge {REVIEW_STEP}", "now"] == "-5.00"
    assert diff.loc["bridge missing_in_finance", "signed"] == "-30.00"
    assert diff.loc["open exceptions", "now"] == "4"  # A3 and F1 matched on review
    assert "A3 (missing_in_finance)" in diff.loc["open exceptions no longer open", "signed"]


def test_approver_rules() -> None:
    review.check_approver("ana", "ben", server=True)
    review.check_approver("ana", "ana", server=False)  # the desktop: one person
    with pytest.raises(ValueError, match="another person must approve"):
        review.check_approver("ana", "ana", server=True)


# ------------------------------------------------------------------ generated data, hypothesis
@pytest.fixture(scope="module")
def generated_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("gen")
    generate(root, rows=20_000, seed=19, domains=("reconciliation",))
    return root, tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def candidates(generated_files: tuple[Path, Path]) -> tuple[list[str], list[str]]:
    """Orders claimed but not in finance, and booked orders claimed by nobody (whole data)."""
    t = recon_reference.load(generated_files[0])
    claims, fin = t["claims"], t["finance"]
    missing = sorted(set(claims["order_id"]) - set(fin["order_id"]))
    only = fin[(fin["status"] == "booked") & ~fin["order_id"].isin(claims["order_id"])]
    return missing, sorted(only["order_id"])


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_bridge_with_confirmed_pairs_ties_to_the_cent(
    generated_files: tuple[Path, Path],
    candidates: tuple[list[str], list[str]],
    data: st.DataObject,
) -> None:
    """Any confirmed pairs, filters, period and tolerances: the bridge ties to the cent, and
    it is the plain reading of the definitions (tests/recon_reference.py) on data where each
    confirmed finance order carries its claim's order id, the review step folded into the
    amount differences (a confirmed pair is matched whatever its amounts)."""
    root, cache = generated_files
    m = ReconciliationModel(open_source(root, cache))
    missing, only = candidates
    n = data.draw(st.integers(0, min(6, len(missing), len(only))))
    claims = data.draw(st.lists(st.sampled_from(missing), min_size=n, max_size=n, unique=True))
    fins = data.draw(st.lists(st.sampled_from(only), min_size=n, max_size=n, unique=True))
    pairs = list(zip(claims, fins, strict=True))
    span = (m.data_end - m.data_start).days
    a = data.draw(st.integers(0, span))
    b = data.draw(st.integers(a, span))
    m.param.update(
        start=m.data_start + dt.timedelta(days=a),
        end=m.data_start + dt.timedelta(days=b),
        campaigns=data.draw(
            st.lists(st.sampled_from(m.param.campaigns.objects), max_size=3, unique=True)
        ),
        abs_tol=data.draw(st.sampled_from([0.0, 0.01, 1.0, 25.0])),
        timing_days=data.draw(st.integers(0, 10)),
        confirmed=pairs,
    )
    assert m.confirmed_ignored == []
    amounts = list(m.bridge["amount"])
    assert sum(amounts[:-1]) == amounts[-1] == m.kpis["revenue_finance"]
    assert amounts[0] == m.kpis["revenue_marketing"]
    assert m.bridge_check == D("0.00")
    k = m.kpis
    classes = ("matched", "amount_mismatch", "missing_in_finance", "refunded")
    assert sum(k[f"orders_{c}"] for c in classes) == k["orders_claimed"]
    # the reference: the finance order of each pair renamed to its claim's order id
    t = recon_reference.load(root)
    rename = {f: c for c, f in pairs}
    t["finance"]["order_id"] = t["finance"]["order_id"].map(lambda o: rename.get(o, o))
    ref = recon_reference.reconcile(
        t,
        m.start,
        m.end,
        m._passing(),
        abs_tol=m.abs_tol,
        rel_tol=m.rel_tol,
        timing_days=m.timing_days,
    )
    cents = [int(v * 100) for v in amounts]
    names = list(m.bridge["step"])
    if pairs:
        i = names.index(REVIEW_STEP)
        cents[i - 1] += cents.pop(i)  # the review step is an amount difference in the reference
    assert cents == ref["bridge"]
    for key in (
        "orders_claimed",
        "orders_missing_in_finance",
        "orders_refunded",
        "orders_timing",
        "orders_finance_only",
        "orders_duplicate_claims",
    ):
        assert k[key] == ref[key]
    assert k["orders_matched"] + k["orders_amount_mismatch"] == (
        ref["orders_matched"] + ref["orders_amount_mismatch"]
    )


# ------------------------------------------------------------------ a review session, end to end
def _session(
    model: ReconciliationModel, tmp_path: Path, who: str = "ana", server: bool = True
) -> ReviewSession:
    return ReviewSession(model, open_store(f"sqlite:///{tmp_path / 'r.sqlite'}"), who, server)


def test_session_confirm_a_suggestion_changes_every_number(
    model: ReconciliationModel, tmp_path: Path
) -> None:
    model.param.update(abs_tol=5.0, timing_days=8)  # A3 30.00 / F1 25.00, 8 days apart
    s = _session(model, tmp_path)
    sug = s.suggestions()
    assert list(zip(sug["claim_id"], sug["finance_id"], strict=True)) == [("A3", "F1")]
    n = model.computations
    s.decide("A3", "F1", "confirmed")
    assert model.computations == n + 1  # one recomputation
    assert model.confirmed == [("A3", "F1")]
    assert model.kpis["orders_missing_in_finance"] == 0
    assert model.bridge_check == D("0.00")
    assert s.suggestions().empty
    w = s.worklist().set_index("order_id")
    assert "A3" not in w.index and "F1" not in w.index  # matched on review: worked
    log = s.log()
    assert list(log["action"]) == ["matched", "matched"]
    assert set(log["order_id"]) == {"A3", "F1"}
    sheets = model.extra_sheets()
    assert list(sheets["review_matches"]["decision"]) == ["confirmed"]
    # a second session (another person) sees the pair in its numbers at once
    other = ReconciliationModel(model._source, **MARCH, abs_tol=5.0, timing_days=8)
    _session(other, tmp_path, who="ben")
    assert other.kpis["orders_missing_in_finance"] == 0
    s.decide("A3", "F1", "undone")
    assert model.confirmed == [] and model.kpis["orders_missing_in_finance"] == 1
    assert set(s.worklist()["order_id"]) >= {"A3", "F1"}


def test_session_bulk_status_and_two_sessions(model: ReconciliationModel, tmp_path: Path) -> None:
    ana, ben = _session(model, tmp_path, "ana"), _session(model, tmp_path, "ben")
    w_ana, w_ben = ana.worklist(), ben.worklist()  # both load the same versions
    three = w_ana[w_ana["order_id"].isin(["A2", "A4", "F1"])]
    assert ana.set_status(three, "investigating", note="<script>x</script>", owner="ana") == 3
    with pytest.raises(StaleEdit, match=r"A4 \(refunded\) was changed by ana"):
        ben.set_status(w_ben[w_ben["order_id"] == "A4"], "resolved")
    w = ben.worklist().set_index("order_id")  # reloaded by the refusal
    assert w.loc["A4", "status"] == "investigating" and w.loc["A4", "version"] == 1
    assert ben.set_status(ben.worklist().query("order_id == 'A4'"), "resolved") == 1
    assert w.loc["A2", "note"] == "<script>x</script>"  # text, escaped where it is shown


def test_session_signoff_and_changed_numbers(tmp_path: Path) -> None:
    root = tmp_path / "data"
    m = _model(root)
    ana = _session(m, tmp_path, "ana")
    sid = ana.prepare()
    with pytest.raises(ValueError, match="another person must approve"):
        ana.approve(sid)
    ben = _session(m, tmp_path, "ben")
    assert ben.changed_signoffs() == []
    ben.approve(sid)
    assert ben.signoff_table()["state"].tolist() == ["approved"]
    # new files for March: A2's booking is now 57.00
    fin = recon_tiny.FINANCE.replace("A2,2025-03-07,55.00", "A2,2025-03-07,57.00")
    write_tables(root, "reconciliation", recon_tiny.tables(revenue_finance=fin))
    m2 = ReconciliationModel(open_source(root), **MARCH)
    changed = _session(m2, tmp_path, "cy").changed_signoffs()
    assert len(changed) == 1
    diff = changed[0][1].set_index("item")
    assert diff.loc["KPI revenue_finance", "signed"] == "270.00"
    assert diff.loc["KPI revenue_finance", "now"] == "272.00"
    assert diff.loc["bridge amount_differences", "now"] == "7.00"
    assert diff.loc["file revenue_finance", "signed"] != diff.loc["file revenue_finance", "now"]


def test_session_signoff_on_the_desktop_one_person(
    model: ReconciliationModel, tmp_path: Path
) -> None:
    s = _session(model, tmp_path, "ana", server=False)
    s.approve(s.prepare())
    assert s.signoff_table()["reviewer"].tolist() == ["ana"]
