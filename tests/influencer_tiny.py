"""A tiny influencer dataset whose KPIs are worked out by hand in tests/test_influencer.py.

March 2025 is the period of most tests; its previous period is 2025-01-29..2025-02-28.
I1 (Nano, Beauty, Instagram) is paid 100.00 per post; I2 (Mid, Tech, YouTube) 10% commission;
I3 (Micro, Beauty, Instagram) 25.00 per post.
"""

INFLUENCERS = """
influencer_id,name,category,gender,follower_count,platform,payout_basis
I1,Ann,Beauty,Female,5000,Instagram,Post
I2,Ben,Tech,Male,150000,YouTube,Order
I3,Cat,Beauty,Female,50000,Instagram,Post
"""

POSTS = """
post_id,influencer_id,platform,date,brand,campaign,reach,likes,comments
P1,I1,Instagram,2025-03-01,BrandA,CampA,1000,80,20
P2,I1,Instagram,2025-03-10,BrandA,CampA,500,30,10
P3,I2,YouTube,2025-03-05,BrandB,CampB,2000,100,0
P4,I3,Instagram,2025-02-20,BrandA,CampA,400,10,2
"""

TRACKING = """
order_id,source,campaign,influencer_id,user_id,product,brand,date,orders,revenue,attribution_type,post_id
O1,Instagram,CampA,I1,U1,Lipstick,BrandA,2025-03-02,1,100.00,Influenced,P1
O2,Instagram,CampA,I1,U2,Mascara,BrandA,2025-03-03,2,50.00,Influenced,P1
O3,YouTube,CampB,I2,U3,Phone,BrandB,2025-03-06,1,300.00,Influenced,P3
O4,Direct,,,U4,Lipstick,BrandA,2025-03-07,1,40.00,Organic,
O5,YouTube,CampB,I2,U5,Phone,BrandB,2025-02-25,1,200.00,Influenced,
"""

PAYOUTS = """
payout_id,influencer_id,basis,rate,orders,total_payout
PO1,I1,Post,100,,200.00
PO2,I2,Order,0.10,2,50.00
PO3,I3,Post,25,,25.00
"""

DATED_PAYOUTS = """
payout_id,influencer_id,basis,rate,orders,total_payout,date
PO1,I1,Post,100,,150.00,2025-03-15
PO2,I2,Order,0.10,,30.00,2025-03-20
PO3,I3,Post,25,,25.00,2025-02-21
"""

TOUCHPOINTS = """
user_id,post_id,timestamp
U1,P3,2025-02-28 12:00:00
U1,P1,2025-03-01 12:00:00
U3,P1,2025-03-03 00:00:00
U3,P4,2025-03-04 00:00:00
U3,P3,2025-03-05 00:00:00
"""


def tables(dated: bool = False, touchpoints: bool = True) -> dict[str, str]:
    out = {
        "influencers": INFLUENCERS,
        "posts": POSTS,
        "tracking_data": TRACKING,
        "payouts": DATED_PAYOUTS if dated else PAYOUTS,
    }
    if touchpoints:
        out["touchpoints"] = TOUCHPOINTS
    return out
