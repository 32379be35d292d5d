#!/usr/bin/env python3
"""DuckDB baseline for the matching benchmark (recon/benches/matching.rs).

Loads ledger.csv and statement.csv (the engine's CSV format) into DuckDB tables -- not timed -- then times the
same passes as the engine's rules, done as SQL joins (best of 3 runs, each in a transaction rolled back after),
and prints one JSON object:
{"duckdb_version", "load_secs", "match_secs" (best), "run_secs", "matched_ledger", "breaks": {class: count}}.

Passes (each on what the previous ones left unmatched):
  1. exact one-to-one: hash join on currency + amount + reference within 3 days; pairs ranked by date distance
     and kept when each is the other's nearest (row_number over both sides);
  2. one-to-many: unmatched statement lines grouped by currency + reference (2..8 lines) whose sum equals an
     unmatched ledger transfer's amount, every line within 3 days of it;
  3. many-to-one: the mirror image (ledger transfers grouped, one statement line);
  4. by description: join on currency + amount within 1 day, Jaro-Winkler similarity of the lower-cased
     descriptions >= 0.8, mutual nearest;
  5. classification of the rest: duplicates (same side, same currency/amount/reference/description as a matched
     item, within 1 day), timing (same currency/amount/reference within 30 days), rounding (1 base unit),
     amount mismatch (same reference), after-period, mint, wipe/freeze, missing.
Amounts are DECIMAL(38, 6): exact for every scale in the data (at most 3).

Usage: duckdb_baseline.py LEDGER_CSV STATEMENT_CSV
"""

import json
import sys
import time

import duckdb

W = 3 * 86400          # rules' date window
W_DESC = 86400         # description rule's window
TIMING = 30 * 86400    # classification timing window
DUP = 86400            # duplicate window
PERIOD_END = "2026-12-31T23:59:59Z"
RUNS = 3               # best of, like the Rust bench


def load(con, name, path):
    con.execute(f"""
        CREATE TABLE {name} AS
        SELECT id,
               epoch(CAST(date AS TIMESTAMPTZ))::BIGINT AS ts,
               CAST(amount AS DECIMAL(38, 6)) AS amount,
               currency,
               upper(trim(reference)) AS ref,
               description,
               lower(kind) AS kind
        FROM read_csv(?, header = true, all_varchar = true, quote = '"', escape = '"')
    """, [path])


def main():
    ledger_csv, statement_csv = sys.argv[1], sys.argv[2]
    con = duckdb.connect()
    t0 = time.perf_counter()
    load(con, "ledger", ledger_csv)
    load(con, "stmt", statement_csv)
    con.execute("CREATE TABLE scales AS SELECT * FROM (VALUES ('USD', 0.01), ('EUR', 0.01), ('XAU', 0.001)) s(currency, unit)")
    load_secs = time.perf_counter() - t0

    # Best of RUNS, like the Rust side: each run starts from the loaded tables.
    times = []
    for _ in range(RUNS):
        con.execute("BEGIN")
        t0 = time.perf_counter()
        counts, matched_ledger = match(con)
        elapsed = time.perf_counter() - t0
        con.execute("ROLLBACK")
        times.append(elapsed)

    print(json.dumps({
        "duckdb_version": duckdb.__version__,
        "load_secs": load_secs,
        "match_secs": min(times),
        "run_secs": times,
        "matched_ledger": matched_ledger,
        "breaks": counts,
    }))


def match(con):
    """The matching passes; returns (break counts by class, matched ledger items)."""
    q = con.execute
    # 1. exact one-to-one
    q(f"""
        CREATE TEMP TABLE m_l AS
        WITH c AS (
            SELECT l.id AS lid, s.id AS sid, abs(s.ts - l.ts) AS dt
            FROM ledger l JOIN stmt s
              ON l.currency = s.currency AND l.amount = s.amount AND l.ref = s.ref
            WHERE l.ref <> '' AND abs(s.ts - l.ts) <= {W}
        ), r AS (
            SELECT lid, sid,
                   row_number() OVER (PARTITION BY lid ORDER BY dt, sid) AS rl,
                   row_number() OVER (PARTITION BY sid ORDER BY dt, lid) AS rs
            FROM c
        )
        SELECT lid, sid FROM r WHERE rl = 1 AND rs = 1
    """)
    q("CREATE TEMP TABLE m_s AS SELECT sid FROM m_l")
    q("CREATE TEMP TABLE ul AS SELECT * FROM ledger WHERE id NOT IN (SELECT lid FROM m_l)")
    q("CREATE TEMP TABLE us AS SELECT * FROM stmt WHERE id NOT IN (SELECT sid FROM m_s)")

    # 2. one-to-many: statement lines grouped by reference
    q(f"""
        CREATE TEMP TABLE g1 AS
        SELECT l.id AS lid, g.ids
        FROM ul l JOIN (
            SELECT currency, ref, sum(amount) AS total, min(ts) AS lo, max(ts) AS hi, list(id) AS ids
            FROM us WHERE ref <> '' GROUP BY currency, ref HAVING count(*) BETWEEN 2 AND 8
        ) g ON l.currency = g.currency AND l.ref = g.ref AND l.amount = g.total
        WHERE g.hi - l.ts <= {W} AND l.ts - g.lo <= {W}
    """)
    q("INSERT INTO m_l SELECT lid, NULL FROM g1")
    q("INSERT INTO m_s SELECT unnest(ids) FROM g1")
    # 3. many-to-one: ledger transfers grouped by reference
    q(f"""
        CREATE TEMP TABLE g2 AS
        SELECT s.id AS sid, g.ids
        FROM us s JOIN (
            SELECT currency, ref, sum(amount) AS total, min(ts) AS lo, max(ts) AS hi, list(id) AS ids
            FROM ul WHERE ref <> '' GROUP BY currency, ref HAVING count(*) BETWEEN 2 AND 8
        ) g ON s.currency = g.currency AND s.ref = g.ref AND s.amount = g.total
        WHERE g.hi - s.ts <= {W} AND s.ts - g.lo <= {W}
    """)
    q("INSERT INTO m_s SELECT sid FROM g2")
    q("INSERT INTO m_l SELECT unnest(ids), NULL FROM g2")
    q("DELETE FROM ul WHERE id IN (SELECT lid FROM m_l)")
    q("DELETE FROM us WHERE id IN (SELECT sid FROM m_s)")

    # 4. by description
    q(f"""
        CREATE TEMP TABLE m4 AS
        WITH c AS (
            SELECT l.id AS lid, s.id AS sid, abs(s.ts - l.ts) AS dt
            FROM ul l JOIN us s ON l.currency = s.currency AND l.amount = s.amount
            WHERE abs(s.ts - l.ts) <= {W_DESC}
              AND jaro_winkler_similarity(lower(l.description), lower(s.description)) >= 0.8
        ), r AS (
            SELECT lid, sid,
                   row_number() OVER (PARTITION BY lid ORDER BY dt, sid) AS rl,
                   row_number() OVER (PARTITION BY sid ORDER BY dt, lid) AS rs
            FROM c
        )
        SELECT lid, sid FROM r WHERE rl = 1 AND rs = 1
    """)
    q("INSERT INTO m_l SELECT lid, sid FROM m4")
    q("INSERT INTO m_s SELECT sid FROM m4")
    q("DELETE FROM ul WHERE id IN (SELECT lid FROM m4)")
    q("DELETE FROM us WHERE id IN (SELECT sid FROM m4)")

    # 5. classification
    q("CREATE TEMP TABLE cls (side VARCHAR, id VARCHAR, class VARCHAR)")
    for side, un, full, matched, key in (("ledger", "ul", "ledger", "m_l", "lid"), ("statement", "us", "stmt", "m_s", "sid")):
        q(f"""
            INSERT INTO cls
            SELECT DISTINCT '{side}', u.id, 'duplicate'
            FROM {un} u JOIN {full} t
              ON u.currency = t.currency AND u.amount = t.amount AND u.ref = t.ref
             AND lower(trim(u.description)) = lower(trim(t.description))
            WHERE t.id IN (SELECT {key} FROM {matched}) AND abs(u.ts - t.ts) <= {DUP}
        """)
    for class_, cond in (("timing_difference", "l.amount = s.amount"),
                         ("rounding", "l.amount <> s.amount AND abs(l.amount - s.amount) <= sc.unit")):
        q(f"""
            CREATE OR REPLACE TEMP TABLE pairs AS
            WITH c AS (
                SELECT l.id AS lid, s.id AS sid, abs(s.ts - l.ts) AS dt, abs(l.amount - s.amount) AS da
                FROM ul l JOIN us s ON l.currency = s.currency AND l.ref = s.ref
                JOIN scales sc ON sc.currency = l.currency
                WHERE {cond} AND abs(s.ts - l.ts) <= {TIMING}
                  AND l.id NOT IN (SELECT id FROM cls WHERE side = 'ledger')
                  AND s.id NOT IN (SELECT id FROM cls WHERE side = 'statement')
            ), r AS (
                SELECT lid, sid,
                       row_number() OVER (PARTITION BY lid ORDER BY da, dt, sid) AS rl,
                       row_number() OVER (PARTITION BY sid ORDER BY da, dt, lid) AS rs
                FROM c
            )
            SELECT lid, sid FROM r WHERE rl = 1 AND rs = 1
        """)
        q(f"INSERT INTO cls SELECT 'ledger', lid, '{class_}' FROM pairs")
        q(f"INSERT INTO cls SELECT 'statement', sid, '{class_}' FROM pairs")
    for side, un, other, oside in (("ledger", "ul", "us", "statement"), ("statement", "us", "ul", "ledger")):
        q(f"""
            INSERT INTO cls
            SELECT DISTINCT '{side}', u.id, 'amount_mismatch'
            FROM {un} u JOIN {other} o ON u.currency = o.currency AND u.ref = o.ref
            WHERE u.ref <> '' AND abs(u.ts - o.ts) <= {TIMING}
              AND u.id NOT IN (SELECT id FROM cls WHERE side = '{side}')
              AND o.id NOT IN (SELECT id FROM cls WHERE side = '{oside}' AND class <> 'amount_mismatch')
        """)
    for side, un, missing in (("ledger", "ul", "missing_in_statement"), ("statement", "us", "missing_in_ledger")):
        q(f"""
            INSERT INTO cls
            SELECT '{side}', id, CASE
                WHEN ts > epoch(TIMESTAMPTZ '{PERIOD_END}')::BIGINT THEN 'timing_difference'
                WHEN kind IN ('wipe', 'freeze') THEN 'frozen_or_wiped'
                WHEN kind = 'mint' AND '{side}' = 'statement' THEN 'unauthorised_mint'
                ELSE '{missing}' END
            FROM {un} WHERE id NOT IN (SELECT id FROM cls WHERE side = '{side}')
        """)
    counts = dict(q("SELECT class, count(*) FROM cls GROUP BY class").fetchall())
    matched_ledger = q("SELECT count(*) FROM m_l").fetchone()[0]
    return counts, matched_ledger


if __name__ == "__main__":
    main()
