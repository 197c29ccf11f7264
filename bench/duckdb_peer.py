#!/usr/bin/env python3
"""Prices a JSON Lines or CSV invoice file with DuckDB, the peer a data
person would reach for first, the way `ledgerly invoice --format jsonl` does:
exact DECIMAL arithmetic, the same pipeline and rounding
(../shared/spec/DOMAIN.md), the same JSON Lines records in input order,
written to stdout. `scripts/bench invoice --peers` times it beside ledgerly on
the same files and checks its records against ledgerly's.

The pipeline, each step on the exact result of the one before: subtotal
(sum of price x quantity), tier discount (gold 15 %, silver 10 %, bronze 5 %,
any other tier none), loyalty 2 % off, tax 8 % on, late fee 5 % when
days_overdue > 30. Each running amount is rounded to cents half away from
zero (DuckDB's ROUND on a DECIMAL); the shown lines are the differences of
the rounded running amounts, so they add up to the total.

It runs in the bench's virtualenv (pip install duckdb), on all cores.

Usage: duckdb_peer.py --input-format jsonl|csv FILE
"""
import argparse

import duckdb

# Prices have at most four decimals and are at most 1e9, quantities at most
# 1e6: DECIMAL(38, 4) holds any sum of them exactly, and the four rate
# multiplications (two decimals each) end at scale 12, still within 38 digits.
PRICE = "DECIMAL(38, 4)"

JSONL_INVOICES = f"""
SELECT row_number() OVER () AS n, id, tier, loyalty_member, days_overdue,
       list_sum(list_transform(line_items,
           lambda item: CAST(item.price AS {PRICE}) * CAST(item.quantity AS DECIMAL(18, 0)))) AS a0
FROM read_json(?, format = 'newline_delimited', columns = {{
    id: 'VARCHAR', tier: 'VARCHAR', loyalty_member: 'BOOLEAN', days_overdue: 'BIGINT',
    line_items: 'STRUCT(price VARCHAR, quantity BIGINT)[]'}})
"""

# One row per line item; consecutive rows of one invoice_id are one invoice
# (the benchmark's ids are unique, so grouping by id is the same thing).
CSV_INVOICES = f"""
SELECT min(n) AS n, invoice_id AS id, any_value(tier) AS tier,
       any_value(loyalty_member) AS loyalty_member, any_value(days_overdue) AS days_overdue,
       sum(CAST(price AS {PRICE}) * CAST(quantity AS DECIMAL(18, 0))) AS a0
FROM (SELECT row_number() OVER () AS n, *
      FROM read_csv(?, header = true, columns = {{
          invoice_id: 'VARCHAR', tier: 'VARCHAR', loyalty_member: 'BOOLEAN',
          days_overdue: 'BIGINT', price: 'VARCHAR', quantity: 'BIGINT'}}))
GROUP BY invoice_id
"""

PIPELINE = """
WITH invoices AS ({invoices}),
steps AS (
    SELECT n, id, a0,
           a0 * CASE tier WHEN 'gold' THEN 0.85 WHEN 'silver' THEN 0.90
                          WHEN 'bronze' THEN 0.95 ELSE 1.00 END AS a1,
           CASE WHEN coalesce(loyalty_member, false) THEN 0.98 ELSE 1.00 END AS loyalty,
           CASE WHEN coalesce(days_overdue, 0) > 30 THEN 1.05 ELSE 1.00 END AS late
    FROM invoices),
amounts AS (
    SELECT n, id, a0, a1, a1 * loyalty AS a2, a1 * loyalty * 1.08 AS a3,
           a1 * loyalty * 1.08 * late AS a4
    FROM steps),
rounded AS (
    SELECT n, id, round(a0, 2) AS r0, round(a1, 2) AS r1, round(a2, 2) AS r2,
           round(a3, 2) AS r3, round(a4, 2) AS r4
    FROM amounts)
SELECT id, CAST(r0 AS VARCHAR) AS subtotal, CAST(r1 - r0 AS VARCHAR) AS tier_discount,
       CAST(r2 - r1 AS VARCHAR) AS loyalty_discount, CAST(r3 - r2 AS VARCHAR) AS tax,
       CAST(r4 - r3 AS VARCHAR) AS late_fee, CAST(r4 AS VARCHAR) AS total
FROM rounded
ORDER BY n
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file")
    parser.add_argument("--input-format", choices=["jsonl", "csv"], required=True)
    args = parser.parse_args()
    invoices = JSONL_INVOICES if args.input_format == "jsonl" else CSV_INVOICES
    # The path as an SQL string literal (COPY takes no parameters).
    path = "'" + args.file.replace("'", "''") + "'"
    query = PIPELINE.format(invoices=invoices.replace("?", path))
    # COPY writes the records itself, in query order, with no Python per row.
    duckdb.connect().execute(f"COPY ({query}) TO '/dev/stdout' (FORMAT JSON)")

if __name__ == "__main__":
    main()
