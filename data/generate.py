"""Demo data for all three domains: vectorised numpy, written in chunks, the same bytes per seed.

`generate(out, rows=...)` writes ``out/influencer``, ``out/payments`` and ``out/reconciliation``
with the columns declared in `data.schemas`. ``rows`` is the number of payments transactions; the
other domains scale from it (tracking rows = rows / 5, claimed orders = rows / 5) unless given.
The reconciliation folder also gets ``_truth.parquet`` (order_id, class, flags): the exceptions
injected on purpose, so tests can check that detection finds exactly them.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from data import schemas
from data.domains import NAMES, REGISTRY, resolve

DEFAULT_START = dt.date(2025, 1, 1)
DEFAULT_END = dt.date(2025, 12, 31)
CHUNK = 1_000_000
MARKER = ".tieout-demo"

Progress = Callable[[int], None]

# --------------------------------------------------------------------------- vocabularies
FIRST = [
    "Ava",
    "Liam",
    "Maya",
    "Noah",
    "Zoe",
    "Ethan",
    "Lena",
    "Omar",
    "Iris",
    "Kai",
    "Nora",
    "Leo",
    "Sara",
    "Yuki",
    "Ines",
    "Theo",
    "Mila",
    "Ravi",
    "Chloe",
    "Jonas",
]
LAST = [
    "Stone",
    "Rivera",
    "Chen",
    "Okafor",
    "Novak",
    "Haddad",
    "Berg",
    "Silva",
    "Kim",
    "Rossi",
    "Moreau",
    "Patel",
    "Ito",
    "Larsen",
    "Costa",
    "Weber",
]
CATEGORIES = ["Beauty", "Fitness", "Food", "Tech", "Travel", "Fashion", "Gaming"]
PLATFORMS = ["Instagram", "YouTube", "Twitter"]
PLATFORM_P = [0.70, 0.25, 0.05]
BRANDS = {
    "Lumina": ["Serum", "Face Mask", "Sunscreen"],
    "Peakform": ["Protein Bar", "Yoga Mat", "Shaker"],
    "Nordbyte": ["Earbuds", "Smartwatch"],
    "Verde": ["Meal Kit", "Cold Brew"],
    "Atlas": ["Backpack", "Travel Pillow"],
}
PRICES = {
    "Serum": 34,
    "Face Mask": 18,
    "Sunscreen": 22,
    "Protein Bar": 12,
    "Yoga Mat": 45,
    "Shaker": 15,
    "Earbuds": 89,
    "Smartwatch": 199,
    "Meal Kit": 59,
    "Cold Brew": 14,
    "Backpack": 120,
    "Travel Pillow": 29,
}
SEASONS = ["Spring Launch", "Summer Push", "Back to School", "Holiday"]

INDUSTRIES = [
    "Retail",
    "Travel",
    "Food & Drink",
    "Software",
    "Health",
    "Education",
    "Gaming",
    "Home",
    "Fashion",
    "Services",
]
SEGMENTS = ["Enterprise", "Mid-market", "SMB"]
REGIONS = ["North America", "EMEA", "APAC", "LATAM"]
MANAGERS = [
    "A. Jensen",
    "B. Osei",
    "C. Moreno",
    "D. Tanaka",
    "E. Novak",
    "F. Dubois",
    "G. Singh",
    "H. Walsh",
    "I. Kowalski",
    "J. Adeyemi",
    "K. Larsen",
    "L. Ferreira",
]
CHANNELS = ["online", "pos", "mobile"]
CHANNEL_P = [0.55, 0.30, 0.15]
APPROVAL_BY_CHANNEL = [0.88, 0.95, 0.91]
METHODS = ["card", "wallet", "bank_transfer"]
METHOD_P = [0.7, 0.2, 0.1]
DECLINE_REASONS = [
    "insufficient_funds",
    "do_not_honor",
    "suspected_fraud",
    "stolen_card",
    "expired_card",
    "invalid_card_number",
    "incorrect_cvc",
    "issuer_unavailable",
    "processing_error",
]
# Decline reason mix differs by channel (rows: online, pos, mobile).
DECLINE_P = np.array(
    [
        [0.30, 0.15, 0.14, 0.03, 0.08, 0.10, 0.10, 0.05, 0.05],
        [0.45, 0.20, 0.04, 0.04, 0.10, 0.02, 0.01, 0.08, 0.06],
        [0.28, 0.14, 0.10, 0.02, 0.06, 0.08, 0.12, 0.08, 0.12],
    ]
)
SOFT = {0, 7, 8}  # reasons worth a retry

RECON_CAMPAIGNS = {
    "Brand Search": "Search",
    "Generic Search": "Search",
    "Shopping Ads": "Search",
    "Reels Prospecting": "Social",
    "Retargeting Social": "Social",
    "Creator Collab": "Social",
    "Display Awareness": "Display",
    "Programmatic": "Display",
    "Newsletter": "Email",
    "Winback Email": "Email",
    "Coupon Partners": "Affiliate",
    "Cashback Portal": "Affiliate",
}
#: Injected exception rates of claimed orders (classes are exclusive; flags on top).
RECON_RATES = {
    "amount_mismatch": 0.03,
    "missing_in_finance": 0.02,
    "refunded": 0.02,
    "duplicate_claim": 0.02,
    "timing": 0.03,
    "finance_only": 0.02,
}


# --------------------------------------------------------------------------- helpers


def _ids(prefix: str, ints: np.ndarray, width: int) -> pa.Array:
    digits = pc.utf8_lpad(pc.cast(pa.array(ints, pa.int64()), pa.string()), width, "0")
    return pc.binary_join_element_wise(pa.scalar(prefix), digits, pa.scalar(""))


def _dict(idx: np.ndarray, labels: list[str]) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(idx.astype(np.int32)), pa.array(labels))


def _dates(days: np.ndarray, start: dt.date) -> pa.Array:
    base = np.datetime64(start, "D")
    return pa.array((base + days.astype("timedelta64[D]")).astype("datetime64[D]"), pa.date32())


def _money(cents: np.ndarray) -> pa.Array:
    return pa.array(np.round(cents.astype(np.float64)) / 100.0, pa.float64())


def _season(n_days: int, start: dt.date) -> np.ndarray:
    """Day weights with a weekly and a yearly cycle and mild growth."""
    days = np.arange(n_days)
    weekday = (np.datetime64(start, "D") + days).astype("datetime64[D]").view("int64") % 7
    # 1970-01-01 was a Thursday: index 2,3 are Saturday, Sunday.
    weekly = np.where(np.isin(weekday, [2, 3]), 0.75, 1.05)
    doy = np.datetime64(start, "D") + days - np.datetime64(start, "Y").astype("datetime64[D]")
    yearly = 1.0 + 0.25 * np.cos(2 * np.pi * (doy.astype(np.int64) - 340) / 365.25)
    growth = 1.0 + 0.3 * days / max(n_days, 1)
    return weekly * yearly * growth


class _Writer:
    """Writes a table chunk by chunk as Parquet or CSV."""

    def __init__(self, path_base: Path, fmt: str, schema: pa.Schema):
        self.fmt = fmt
        self.path = path_base.with_suffix("." + fmt)
        if fmt == "parquet":
            self._w = pq.ParquetWriter(self.path, schema, compression="zstd")
        else:
            plain = pa.schema(
                [
                    pa.field(
                        f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type
                    )
                    for f in schema
                ]
            )
            self._plain = plain
            self._w = pacsv.CSVWriter(self.path, plain)

    def write(self, table: pa.Table) -> None:
        if self.fmt == "csv":
            table = table.cast(self._plain)
        self._w.write_table(table)

    def close(self) -> None:
        self._w.close()


def _write(folder: Path, name: str, fmt: str, table: pa.Table) -> None:
    w = _Writer(folder / name, fmt, table.schema)
    w.write(table)
    w.close()


def _check_columns(domain: str, name: str, table: pa.Table) -> None:
    """The generator writes exactly the declared columns (in declaration order)."""
    declared = [c.name for c in schemas.table(domain, name).columns]
    present = [c for c in declared if c in table.column_names]
    assert table.column_names == present, (name, table.column_names, declared)


# --------------------------------------------------------------------------- payments


def generate_payments(
    out: Path,
    rows: int,
    rng: np.random.Generator,
    start: dt.date,
    end: dt.date,
    fmt: str,
    progress: Progress,
) -> None:
    folder = out / "payments"
    folder.mkdir(parents=True, exist_ok=True)
    n_days = (end - start).days + 1
    m = max(60, rows // 2000)
    seg = rng.choice(3, m, p=[0.08, 0.27, 0.65])
    size = (rng.pareto(1.1, m) + 1.0) * np.array([30.0, 6.0, 1.0])[seg]
    # Onboarding cohorts: two years before the start up to a month before the end.
    onboard = rng.integers(-730, n_days - 30, m)
    onboard[: max(1, m // 20)] = -900  # some long-standing merchants
    churn = np.full(m, n_days + 10**6)
    churners = rng.random(m) < 0.10
    churn[churners] = rng.integers(60, n_days + 60, churners.sum())
    lo = np.clip(onboard, 0, n_days - 1)
    hi = np.clip(churn, 0, n_days) - 1
    active_len = np.maximum(hi - lo + 1, 0)
    weight = size * active_len
    cum = np.cumsum(weight / weight.sum())
    merchants = pa.table(
        {
            "merchant_id": _ids("M", np.arange(m), 6),
            "merchant_name": pa.array(
                [
                    f"{LAST[i % 16]} {INDUSTRIES[i % 10].split()[0]} {i:04d}"
                    for i in rng.permutation(m)
                ]
            ),
            "industry": _dict(rng.integers(0, 10, m), INDUSTRIES),
            "segment": _dict(seg, SEGMENTS),
            "region": _dict(rng.choice(4, m, p=[0.45, 0.3, 0.17, 0.08]), REGIONS),
            "onboard_date": _dates(onboard, start),
            "account_manager": _dict(rng.integers(0, len(MANAGERS), m), MANAGERS),
        }
    )
    _check_columns("payments", "merchants", merchants)
    _write(folder, "merchants", fmt, merchants)

    season = _season(n_days, start)
    accept = season / season.max()
    fee_rate = np.array([0.019, 0.024, 0.029])
    writer: _Writer | None = None
    done = 0
    intent_base = 0
    while done < rows:
        n = min(CHUNK, rows - done)
        merch = np.minimum(np.searchsorted(cum, rng.random(n)), m - 1)
        day = np.empty(n, dtype=np.int64)
        todo = np.arange(n)
        while len(todo):  # rejection sampling gives the seasonal shape inside each window
            mm = merch[todo]
            cand = lo[mm] + (rng.random(len(todo)) * active_len[mm]).astype(np.int64)
            ok = rng.random(len(todo)) < accept[cand]
            day[todo[ok]] = cand[ok]
            todo = todo[~ok]
        secs = np.clip(rng.normal(14 * 3600, 4 * 3600, n), 0, 86399).astype(np.int64)
        channel = rng.choice(3, n, p=CHANNEL_P)
        method = rng.choice(3, n, p=METHOD_P)
        segm = seg[merch]
        amount = np.round(rng.lognormal(np.log([9000, 6000, 3500])[segm], 0.9)).astype(np.int64)
        approved = rng.random(n) < np.array(APPROVAL_BY_CHANNEL)[channel]
        reason = np.full(n, -1)
        # Retries: a row that retries the row before it shares its intent and most attributes.
        retry = rng.random(n) < 0.05
        retry[0] = False
        retry[1:] &= ~retry[:-1]
        prev = np.flatnonzero(retry) - 1
        cur = prev + 1
        for arr in (merch, day, channel, method, amount, segm):
            arr[cur] = arr[prev]
        approved[prev] = False
        secs[cur] = np.minimum(secs[prev] + rng.integers(60, 1800, len(cur)), 86399)
        approved[cur] = rng.random(len(cur)) < 0.6
        declined = ~approved
        cdf = np.cumsum(DECLINE_P, axis=1)
        u = rng.random(n)
        reason[declined] = (u[declined, None] > cdf[channel[declined]]).sum(axis=1)
        reason[prev] = rng.choice(sorted(SOFT), len(prev))
        fee = np.where(approved, np.round(amount * fee_rate[segm]) + 30, 0).astype(np.int64)
        intent = intent_base + np.arange(n) - np.cumsum(retry)
        intent_base = int(intent[-1]) + 1
        ts = np.datetime64(start, "s") + (day * 86400 + secs).astype("timedelta64[s]")
        table = pa.table(
            {
                "txn_id": _ids("T", done + np.arange(n), 10),
                "ts": pa.array(ts, pa.timestamp("s")),
                "merchant_id": _ids("M", merch, 6),
                "amount": _money(amount),
                "currency": _dict(np.zeros(n, np.int32), ["USD"]),
                "channel": _dict(channel, CHANNELS),
                "status": _dict(np.where(approved, 0, 1), ["approved", "declined"]),
                "decline_reason": pa.DictionaryArray.from_arrays(
                    pa.array(reason.astype(np.int32), mask=reason < 0), pa.array(DECLINE_REASONS)
                ),
                "fee": _money(fee),
                "customer_id": _ids("C", rng.integers(0, max(rows // 4, 10), n), 8),
                "payment_method": _dict(method, METHODS),
                "intent_id": _ids("I", intent, 10),
            }
        )
        if writer is None:
            _check_columns("payments", "transactions", table)
            writer = _Writer(folder / "transactions", fmt, table.schema)
        writer.write(table)
        done += n
        progress(n)
    assert writer is not None
    writer.close()


# --------------------------------------------------------------------------- influencer


def generate_influencer(
    out: Path,
    tracking_rows: int,
    rng: np.random.Generator,
    start: dt.date,
    end: dt.date,
    fmt: str,
    progress: Progress,
) -> None:
    folder = out / "influencer"
    folder.mkdir(parents=True, exist_ok=True)
    n_days = (end - start).days + 1
    k = int(np.clip(tracking_rows // 1000, 40, 400))
    followers = np.round(np.exp(rng.uniform(np.log(2_000), np.log(3_000_000), k))).astype(np.int64)
    platform = rng.choice(3, k, p=PLATFORM_P)
    basis = rng.choice(2, k, p=[0.6, 0.4])  # 0 = Post, 1 = Order
    category = rng.integers(0, len(CATEGORIES), k)
    names = [f"{FIRST[i % 20]} {LAST[(i * 7) % 16]}" for i in range(k)]
    influencers = pa.table(
        {
            "influencer_id": _ids("INF", np.arange(k), 4),
            "name": pa.array(names),
            "category": _dict(category, CATEGORIES),
            "gender": _dict(rng.integers(0, 3, k), ["Female", "Male", "Non-binary"]),
            "follower_count": pa.array(followers),
            "platform": _dict(platform, PLATFORMS),
            "payout_basis": _dict(basis, ["Post", "Order"]),
        }
    )
    _check_columns("influencer", "influencers", influencers)
    _write(folder, "influencers", fmt, influencers)

    brands = list(BRANDS)
    products = [p for b in brands for p in BRANDS[b]]
    brand_of_product = np.array([brands.index(b) for b in brands for _ in BRANDS[b]])
    price = np.array([PRICES[p] for p in products]) * 100
    campaigns = [f"{b} {s}" for b in brands for s in SEASONS]
    n_posts = k * 12
    p_inf = rng.integers(0, k, n_posts)
    p_day = rng.integers(0, max(n_days - 7, 1), n_posts)
    p_brand = rng.integers(0, len(brands), n_posts)
    p_season = np.minimum(p_day * 4 // n_days, 3)
    reach = np.round(followers[p_inf] * rng.uniform(0.05, 0.5, n_posts)).astype(np.int64)
    likes = np.round(reach * rng.uniform(0.01, 0.09, n_posts)).astype(np.int64)
    comments = np.round(likes * rng.uniform(0.02, 0.1, n_posts)).astype(np.int64)
    posts = pa.table(
        {
            "post_id": _ids("P", np.arange(n_posts), 6),
            "influencer_id": _ids("INF", p_inf, 4),
            "platform": _dict(platform[p_inf], PLATFORMS),
            "date": _dates(p_day, start),
            "brand": _dict(p_brand, brands),
            "campaign": _dict(p_brand * 4 + p_season, campaigns),
            "reach": pa.array(reach),
            "likes": pa.array(likes),
            "comments": pa.array(comments),
        }
    )
    _check_columns("influencer", "posts", posts)
    _write(folder, "posts", fmt, posts)

    n = tracking_rows
    influenced = rng.random(n) < 0.65
    # Influenced sales follow a post (bigger reach sells more) 1-7 days later.
    post_cum = np.cumsum(reach / reach.sum())
    post = np.minimum(np.searchsorted(post_cum, rng.random(n)), n_posts - 1)
    s_brand = np.where(influenced, p_brand[post], rng.integers(0, len(brands), n))
    first_prod = np.array([products.index(BRANDS[b][0]) for b in brands])
    n_prod = np.array([len(BRANDS[b]) for b in brands])
    s_prod = first_prod[s_brand] + (rng.random(n) * n_prod[s_brand]).astype(np.int64)
    season = _season(n_days, start)
    organic_day = rng.choice(n_days, n, p=season / season.sum())
    s_day = np.where(
        influenced, np.minimum(p_day[post] + rng.integers(1, 8, n), n_days - 1), organic_day
    )
    orders = rng.choice([1, 1, 1, 2, 2, 3], n)
    revenue = (orders * price[s_prod] * rng.uniform(0.85, 1.0, n)).round().astype(np.int64)
    sources = ["Instagram", "YouTube", "Twitter", "Direct", "Search", "Email"]
    s_source = np.where(influenced, platform[p_inf[post]], rng.integers(3, 6, n))
    inf_idx = np.where(influenced, p_inf[post], -1)
    post_idx = np.where(influenced, post, -1)
    tracking = pa.table(
        {
            "order_id": _ids("O", np.arange(n), 8),
            "source": _dict(s_source, sources),
            "campaign": pa.DictionaryArray.from_arrays(
                pa.array(
                    np.where(influenced, p_brand[post] * 4 + p_season[post], 0).astype(np.int32),
                    mask=~influenced,
                ),
                pa.array(campaigns),
            ),
            "influencer_id": pc.if_else(
                pa.array(influenced),
                _ids("INF", np.maximum(inf_idx, 0), 4),
                pa.nulls(n, pa.string()),
            ),
            "user_id": _ids("U", np.arange(n), 8),
            "product": _dict(s_prod, products),
            "brand": _dict(brand_of_product[s_prod], brands),
            "date": _dates(s_day, start),
            "orders": pa.array(orders.astype(np.int64)),
            "revenue": _money(revenue),
            "attribution_type": _dict(np.where(influenced, 0, 1), ["Influenced", "Organic"]),
            "post_id": pc.if_else(
                pa.array(influenced),
                _ids("P", np.maximum(post_idx, 0), 6),
                pa.nulls(n, pa.string()),
            ),
        }
    )
    _check_columns("influencer", "tracking_data", tracking)
    _write(folder, "tracking_data", fmt, tracking)
    progress(n // 2)

    # Payouts: per influencer terms; total_payout is the derived cost over the whole data
    # (so the warning stays quiet), except three influencers reported slightly off.
    rate = np.where(basis == 0, np.round(followers * 0.004 + 50, 0), rng.uniform(0.05, 0.2, k))
    rate = np.where(basis == 0, rate, np.round(rate, 3))
    post_count = np.bincount(p_inf, minlength=k)
    infl_rev = np.bincount(inf_idx[influenced], weights=revenue[influenced], minlength=k)
    infl_orders = np.bincount(inf_idx[influenced], weights=orders[influenced], minlength=k)
    # Order-basis cost is rate x revenue per sale, rounded to the cent sale by sale.
    # Half up on exact integers, as data.marts does (rate at six decimals).
    rate_micro = np.round(rate * 1_000_000).astype(np.int64)
    sale_cost = (rate_micro[inf_idx[influenced]] * revenue[influenced] + 500_000) // 1_000_000
    order_cost = np.bincount(inf_idx[influenced], weights=sale_cost, minlength=k)
    total = np.where(basis == 0, rate * 100 * post_count, order_cost)
    total[:3] += np.array([2500, -1200, 999])[: min(3, k)]
    total = np.maximum(total, 0)
    del infl_rev
    payouts = pa.table(
        {
            "payout_id": _ids("PO", np.arange(k), 5),
            "influencer_id": _ids("INF", np.arange(k), 4),
            "basis": _dict(basis, ["Post", "Order"]),
            "rate": pa.array(rate.astype(np.float64)),
            "orders": pa.array(np.where(basis == 1, infl_orders, 0).astype(np.int64)),
            "total_payout": _money(total),
        }
    )
    _check_columns("influencer", "payouts", payouts)
    _write(folder, "payouts", fmt, payouts)

    # Touchpoints: 1-4 exposures per influenced sale, the last one its own post.
    sales = np.flatnonzero(influenced)
    extra = rng.integers(0, 4, len(sales))
    owner = np.repeat(sales, extra + 1)
    last = np.r_[np.cumsum(extra + 1) - 1]
    t_post = rng.integers(0, n_posts, len(owner))
    t_post[last] = post[sales]
    before = rng.uniform(0.1, 14.0, len(owner)) * 86400
    before[last] = rng.uniform(0.05, 1.0, len(sales)) * 86400
    t_ts = (
        np.datetime64(start, "s")
        + (s_day[owner] * 86400).astype("timedelta64[s]")
        - before.astype("timedelta64[s]")
    )
    touch = pa.table(
        {
            "user_id": _ids("U", owner, 8),
            "post_id": _ids("P", t_post, 6),
            "timestamp": pa.array(t_ts, pa.timestamp("s")),
        }
    )
    _check_columns("influencer", "touchpoints", touch)
    _write(folder, "touchpoints", fmt, touch)
    progress(n - n // 2)


# --------------------------------------------------------------------------- reconciliation


def generate_reconciliation(
    out: Path,
    orders: int,
    rng: np.random.Generator,
    start: dt.date,
    end: dt.date,
    fmt: str,
    progress: Progress,
) -> None:
    folder = out / "reconciliation"
    folder.mkdir(parents=True, exist_ok=True)
    n_days = (end - start).days + 1
    camps = list(RECON_CAMPAIGNS)
    channels = sorted(set(RECON_CAMPAIGNS.values()))
    camp_channel = np.array([channels.index(RECON_CAMPAIGNS[c]) for c in camps])
    season = _season(n_days, start)

    # Spend: every campaign every day.
    d = np.repeat(np.arange(n_days), len(camps))
    c = np.tile(np.arange(len(camps)), n_days)
    budget = rng.uniform(400, 4_000, len(camps)) * 100 * max(orders / 200_000, 0.01)
    spend = np.round(budget[c] * season[d] / season.mean() * rng.uniform(0.7, 1.3, len(d)))
    spend_t = pa.table(
        {
            "date": _dates(d, start),
            "campaign": _dict(c, camps),
            "channel": _dict(camp_channel[c], channels),
            "spend": _money(spend.astype(np.int64)),
        }
    )
    _check_columns("reconciliation", "marketing_spend", spend_t)
    _write(folder, "marketing_spend", fmt, spend_t)

    # Orders and their injected class. Claims land at least 12 days before the end so every
    # finance date (claim + up to 10 days) stays inside the data.
    n = orders
    o_day = rng.choice(max(n_days - 12, 1), n, p=(s := season[: max(n_days - 12, 1)]) / s.sum())
    o_camp = rng.integers(0, len(camps), n)
    o_rev = np.round(rng.lognormal(np.log(6000), 0.8, n)).astype(np.int64) + 100
    u = rng.random(n)
    r = RECON_RATES
    edges = np.cumsum([r["amount_mismatch"], r["missing_in_finance"], r["refunded"]])
    cls = np.searchsorted(edges, u, side="right")  # 0 mismatch, 1 missing, 2 refunded, 3 matched
    booked = (cls == 0) | (cls == 3)
    timing = booked & (rng.random(n) < r["timing"])
    dup = rng.random(n) < r["duplicate_claim"]
    fin_day = o_day + np.where(timing, rng.integers(4, 11, n), rng.integers(0, 3, n))
    fin_rev = o_rev.copy()
    bump = rng.integers(100, 5000, n) * np.where(rng.random(n) < 0.5, -1, 1)
    claim_rev = np.where(cls == 0, np.maximum(o_rev + bump, 0), o_rev)
    claim_rev = np.where((cls == 0) & (claim_rev == fin_rev), fin_rev + 500, claim_rev)
    order_ids = _ids("R", np.arange(n), 8)

    # Claims: one per order, plus a duplicate (same or later day, later in the file).
    dup_idx = np.flatnonzero(dup)
    dup_day = np.minimum(o_day[dup_idx] + rng.integers(0, 3, len(dup_idx)), n_days - 1)
    dup_camp = np.where(
        rng.random(len(dup_idx)) < 0.5, o_camp[dup_idx], rng.integers(0, len(camps), len(dup_idx))
    )
    claim_order = np.r_[np.arange(n), dup_idx]
    claims = pa.table(
        {
            "order_id": pc.take(order_ids, pa.array(claim_order)),
            "date": _dates(np.r_[o_day, dup_day], start),
            "campaign": _dict(np.r_[o_camp, dup_camp], camps),
            "revenue": _money(np.r_[claim_rev, claim_rev[dup_idx]]),
        }
    )
    _check_columns("reconciliation", "revenue_marketing", claims)
    _write(folder, "revenue_marketing", fmt, claims)

    # Finance: every order but the missing ones, plus finance-only orders.
    in_fin = cls != 1
    n_only = round(n * r["finance_only"])
    only_day = rng.integers(0, n_days, n_only)
    status = np.where(cls == 2, np.where(rng.random(n) < 0.7, 1, 2), 0)
    finance = pa.table(
        {
            "order_id": pa.concat_arrays(
                [order_ids.filter(pa.array(in_fin)), _ids("F", np.arange(n_only), 8)]
            ),
            "date": _dates(np.r_[fin_day[in_fin], only_day], start),
            "revenue": _money(
                np.r_[
                    fin_rev[in_fin], np.round(rng.lognormal(np.log(6000), 0.8, n_only)).astype(int)
                ]
            ),
            "status": _dict(
                np.r_[status[in_fin], np.zeros(n_only, int)], ["booked", "refunded", "cancelled"]
            ),
        }
    )
    _check_columns("reconciliation", "revenue_finance", finance)
    _write(folder, "revenue_finance", fmt, finance)

    # Funnel: page views from users of every campaign; some add to cart, fewer check out.
    users = n
    f_camp = rng.integers(0, len(camps), users)
    f_day = rng.integers(0, n_days, users)
    cart = rng.random(users) < 0.4
    checkout = cart & (rng.random(users) < 0.6)
    ev_user = np.r_[np.arange(users), np.flatnonzero(cart), np.flatnonzero(checkout)]
    ev_type = np.r_[np.zeros(users, int), np.ones(cart.sum(), int), np.full(checkout.sum(), 2)]
    ev_secs = f_day[ev_user] * 86400 + rng.integers(0, 60_000, len(ev_user)) + ev_type * 600
    camp_known = rng.random(len(ev_user)) < 0.97
    funnel = pa.table(
        {
            "timestamp": pa.array(
                np.datetime64(start, "s") + ev_secs.astype("timedelta64[s]"), pa.timestamp("s")
            ),
            "user_id": _ids("V", ev_user, 8),
            "event_type": _dict(ev_type, ["page_view", "add_to_cart", "checkout"]),
            "campaign": pa.DictionaryArray.from_arrays(
                pa.array(f_camp[ev_user].astype(np.int32), mask=~camp_known), pa.array(camps)
            ),
        }
    )
    _check_columns("reconciliation", "funnel_events", funnel)
    _write(folder, "funnel_events", fmt, funnel)

    anomalies = pa.table(
        {
            "date": _dates(np.array([n_days // 3]), start),
            "campaign": pa.array([camps[3]]),
            "description": pa.array(["Tracking pixel outage reported by the web team"]),
        }
    )
    _write(folder, "anomalies", fmt, anomalies)

    class_names = np.array(["amount_mismatch", "missing_in_finance", "refunded", "matched"])
    flags = np.where(
        dup & timing,
        "duplicate_claim,timing",
        np.where(dup, "duplicate_claim", np.where(timing, "timing", "")),
    )
    truth = pa.table(
        {
            "order_id": pa.concat_arrays([order_ids, _ids("F", np.arange(n_only), 8)]),
            "class": pa.array(np.r_[class_names[cls], np.full(n_only, "finance_only")]),
            "flags": pa.array(np.r_[flags, np.full(n_only, "")]),
        }
    )
    pq.write_table(truth, folder / "_truth.parquet")
    progress(n)


# --------------------------------------------------------------------------- entry point


def generate(
    out: str | Path,
    rows: int = 1_000_000,
    seed: int = 7,
    start: dt.date = DEFAULT_START,
    end: dt.date = DEFAULT_END,
    fmt: str = "parquet",
    domains: tuple[str, ...] = NAMES,
    tracking_rows: int | None = None,
    claimed_orders: int | None = None,
    progress: Progress | None = None,
) -> Path:
    """Write demo data for ``domains`` under ``out`` and return it.

    Each domain gets its own random stream derived from ``seed``, so the bytes of one domain do
    not depend on which others are generated. A marker file is written last: its presence means
    the folder is complete.
    """
    if end < start:
        raise ValueError(f"--end {end} is before --start {start}")
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"--format must be parquet or csv, not {fmt!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).unlink(missing_ok=True)
    tick = progress or (lambda _n: None)
    seeds = np.random.SeedSequence(seed).spawn(len(REGISTRY))
    overrides = {"influencer": tracking_rows, "reconciliation": claimed_orders}
    for name in domains:
        d = REGISTRY[name]
        shutil.rmtree(out / name, ignore_errors=True)
        units = overrides.get(name) or d.demo_units(rows)
        rng = np.random.default_rng(seeds[d.seed_stream])
        resolve(d.generator)(out, units, rng, start, end, fmt, tick)
    (out / MARKER).write_text(f"rows={rows} seed={seed} start={start} end={end} format={fmt}\n")
    return out


def total_units(
    rows: int,
    domains: tuple[str, ...] = NAMES,
    tracking_rows: int | None = None,
    claimed_orders: int | None = None,
) -> int:
    """How many progress units `generate` reports (for a progress bar's total)."""
    overrides = {"influencer": tracking_rows, "reconciliation": claimed_orders}
    return sum(overrides.get(d) or REGISTRY[d].demo_units(rows) for d in domains)
