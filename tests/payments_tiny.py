"""A tiny payments dataset whose KPIs are worked out by hand in tests/test_payments.py."""

MERCHANTS = """
merchant_id,merchant_name,industry,segment,region,onboard_date,account_manager
M1,Alpha Shop,Retail,SMB,EMEA,2025-01-01,Ann
M2,Beta Air,Travel,Enterprise,NA,2025-01-01,Bob
M3,Gamma Deli,Retail,SMB,EMEA,2025-02-01,Ann
"""

TRANSACTIONS = """
txn_id,ts,merchant_id,amount,currency,channel,status,decline_reason,fee,payment_method,intent_id
T1,2025-01-10 10:00:00,M1,200.00,USD,online,approved,,6.00,card,I1
T2,2025-02-03 09:00:00,M1,50.00,USD,online,declined,insufficient_funds,0,card,I2
T3,2025-02-03 09:05:00,M1,50.00,USD,online,approved,,1.50,card,I2
T4,2025-02-10 12:00:00,M2,1000.00,USD,pos,approved,,19.00,card,I3
T5,2025-02-11 12:00:00,M2,0.01,USD,pos,approved,,0.00,wallet,I4
T6,2025-02-20 08:00:00,M3,200.00,USD,mobile,declined,do_not_honor,0,card,I5
T7,2025-02-28 23:59:59,M3,10.00,USD,mobile,approved,,0.40,card,I6
"""
