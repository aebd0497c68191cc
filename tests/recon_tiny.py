"""A tiny reconciliation dataset with every class and flag; the bridge is worked out by hand in
tests/test_reconciliation.py. Period of most tests: March 2025 (previous: 2025-01-29..02-28).

A1 matched; A2 amount mismatch (+5.00); A3 missing in finance; A4 refunded; A5 claimed twice
(CampA then CampB: duplicate claim); A6 matched but booked 6 days later in April (timing,
outside the period); A7 claimed in February only, booked in March; F1 finance only; F2
cancelled (never counted).
"""

SPEND = """
date,campaign,channel,spend
2025-03-01,CampA,Search,100.00
2025-03-02,CampB,Social,50.00
2025-02-15,CampA,Search,30.00
"""

CLAIMS = """
order_id,date,campaign,revenue
A1,2025-03-05,CampA,100.00
A2,2025-03-06,CampA,50.00
A3,2025-03-07,CampB,30.00
A4,2025-03-08,CampB,40.00
A5,2025-03-09,CampA,20.00
A5,2025-03-10,CampB,20.00
A6,2025-03-28,CampA,60.00
A7,2025-02-26,CampB,70.00
"""

FINANCE = """
order_id,date,revenue,status
A1,2025-03-06,100.00,booked
A2,2025-03-07,55.00,booked
A4,2025-03-08,40.00,refunded
A5,2025-03-09,20.00,booked
A6,2025-04-03,60.00,booked
A7,2025-03-02,70.00,booked
F1,2025-03-15,25.00,booked
F2,2025-03-16,10.00,cancelled
"""

FUNNEL = """
timestamp,user_id,event_type,campaign
2025-03-01 10:00:00,U1,page_view,CampA
2025-03-01 10:05:00,U1,add_to_cart,CampA
2025-03-01 10:10:00,U1,checkout,CampA
2025-03-02 11:00:00,U2,page_view,CampA
2025-03-03 12:00:00,U3,page_view,CampB
2025-03-03 12:05:00,U3,checkout,CampB
2025-03-04 09:00:00,U4,checkout,
"""

ANOMALIES = """
date,campaign,description
2025-03-05,CampA,<img src=x onerror=alert(1)> pixel outage
"""


def tables(**overrides: str) -> dict[str, str]:
    out = {
        "marketing_spend": SPEND,
        "revenue_marketing": CLAIMS,
        "revenue_finance": FINANCE,
        "funnel_events": FUNNEL,
        "anomalies": ANOMALIES,
    }
    out.update(overrides)
    return out
