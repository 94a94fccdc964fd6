#!/usr/bin/env python3
"""DuckDB reference for `ops/bench refresh`: the member set of every rule of the
suite, computed from the raw data segmentd holds (exported to CSV), written by
hand in SQL — not by segmentd's compiler — so the two engines agree only if both
implement the rule language's semantics (docs/rules.md).

usage: refresh_reference.py DATA_DIR NOWS_JSON THREADS REPEATS
NOWS_JSON maps each rule id to the instant segmentd evaluated it at (seconds
since 1970 with microseconds), so windows end at the same instant in both.
prints JSON: {"rule_id": {"count": n, "sha256": hex, "seconds": median}, ...,
              "load_seconds": s, "versions": "..."}
The hash is the SHA-256 of the members' external ids, sorted bytewise, each
followed by a newline.
"""
import datetime
import hashlib
import json
import statistics
import sys
import time

import duckdb

# Each query returns user_index; :now is the refresh's evaluation instant.
RULES = {
    "r01_count_window": """
        SELECT user_index FROM events WHERE event_name = 'app_open' AND time >= $now - INTERVAL 30 DAY
        GROUP BY user_index HAVING count(*) >= 5""",
    "r02_property_filter": """
        SELECT DISTINCT user_index FROM events
        WHERE event_name = 'purchase' AND time >= $now - INTERVAL 60 DAY
          AND json_type(properties, '$.amount') IN ('DOUBLE', 'UBIGINT', 'BIGINT')
          AND CAST(json_extract(properties, '$.amount') AS DOUBLE) > 200""",
    "r03_sum_aggregate": """
        SELECT user_index FROM events
        WHERE event_name = 'purchase' AND time >= $now - INTERVAL 30 DAY
          AND json_type(properties, '$.amount') IN ('DOUBLE', 'UBIGINT', 'BIGINT')
        GROUP BY user_index HAVING sum(CAST(json_extract(properties, '$.amount') AS DOUBLE)) >= 300""",
    "r04_did_not": """
        SELECT user_index FROM events WHERE event_name = 'view_item' AND time >= $now - INTERVAL 14 DAY
        GROUP BY user_index HAVING count(*) >= 3
        EXCEPT
        SELECT user_index FROM events WHERE event_name = 'purchase' AND time >= $now - INTERVAL 14 DAY""",
    "r05_profile": """
        SELECT user_index FROM profiles
        WHERE json_extract_string(attributes, '$.tier') IN ('gold', 'platinum')
          AND json_type(attributes, '$.age') IN ('DOUBLE', 'UBIGINT', 'BIGINT')
          AND CAST(json_extract(attributes, '$.age') AS DOUBLE) BETWEEN 25 AND 40""",
    "r06_responses": """
        SELECT DISTINCT user_index FROM responses WHERE kind = 'clicked' AND time >= $now - INTERVAL 30 DAY""",
    "r07_tags": """
        SELECT DISTINCT user_index FROM tags WHERE tag_id IN ('vip', 'beta')""",
    "r08_location": """
        SELECT user_index FROM profiles
        WHERE last_latitude IS NOT NULL
          AND 2 * 6371008.8 * asin(least(1, sqrt(
                sin(radians(last_latitude - 41.01) / 2) ^ 2
                + cos(radians(last_latitude)) * cos(radians(41.01)) * sin(radians(last_longitude - 28.97) / 2) ^ 2))) <= 25000""",
    "r09_first_time": """
        SELECT user_index FROM events WHERE event_name = 'app_open'
        GROUP BY user_index HAVING min(time) >= $now - INTERVAL 14 DAY""",
    "r10_nested": """
        (SELECT user_index FROM events WHERE event_name = 'add_to_cart' AND time >= $now - INTERVAL 7 DAY
         UNION
         SELECT user_index FROM responses
         WHERE kind = 'opened' AND campaign_id = (SELECT campaign_id FROM campaigns WHERE first_send_at IS NOT NULL
                                                  ORDER BY first_send_at DESC, campaign_id DESC LIMIT 1))
        EXCEPT
        (SELECT user_index FROM events WHERE event_name = 'purchase' AND time >= $now - INTERVAL 7 DAY
         UNION
         SELECT user_index FROM tags WHERE tag_id = 'newsletter')""",
    "r11_segment_reference": """
        SELECT r.user_index FROM r03 r JOIN profiles p USING (user_index)
        WHERE json_extract_string(p.attributes, '$.language') = 'tr'""",
    "r12_avg_filtered": """
        SELECT user_index FROM events
        WHERE event_name = 'purchase' AND json_extract_string(properties, '$.currency') = 'EUR'
          AND json_type(properties, '$.amount') IN ('DOUBLE', 'UBIGINT', 'BIGINT')
        GROUP BY user_index HAVING avg(CAST(json_extract(properties, '$.amount') AS DOUBLE)) BETWEEN 50 AND 150""",
}


def main(data, nows_path, threads, repeats):
    with open(nows_path) as f:
        nows = json.load(f)
    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads)}")
    con.execute("SET TimeZone = 'UTC'")
    started = time.perf_counter()
    con.execute(f"CREATE TABLE users AS SELECT * FROM read_csv('{data}/users.csv', header = true, columns = {{'user_index': 'BIGINT', 'external_id': 'VARCHAR'}})")
    con.execute(f"""CREATE TABLE events AS SELECT * FROM read_csv('{data}/events.csv', header = true, quote = '"', escape = '"',
                    columns = {{'user_index': 'BIGINT', 'event_name': 'VARCHAR', 'time': 'TIMESTAMPTZ', 'properties': 'JSON'}})""")
    con.execute(f"""CREATE TABLE profiles AS SELECT * FROM read_csv('{data}/profiles.csv', header = true, quote = '"', escape = '"',
                    columns = {{'user_index': 'BIGINT', 'attributes': 'JSON', 'last_latitude': 'DOUBLE', 'last_longitude': 'DOUBLE'}})""")
    con.execute(f"""CREATE TABLE responses AS SELECT * FROM read_csv('{data}/responses.csv', header = true,
                    columns = {{'user_index': 'BIGINT', 'campaign_id': 'VARCHAR', 'kind': 'VARCHAR', 'time': 'TIMESTAMPTZ'}})""")
    con.execute(f"""CREATE TABLE campaigns AS SELECT * FROM read_csv('{data}/campaigns.csv', header = true,
                    columns = {{'campaign_id': 'VARCHAR', 'first_send_at': 'TIMESTAMPTZ'}})""")
    con.execute(f"""CREATE TABLE tags AS SELECT * FROM read_csv('{data}/tags.csv', header = true,
                    columns = {{'tag_id': 'VARCHAR', 'user_index': 'BIGINT'}})""")
    load_seconds = time.perf_counter() - started
    results = {}
    for rule_id, body in RULES.items():
        if rule_id not in nows:
            continue
        now = datetime.datetime.fromtimestamp(float(nows[rule_id]), tz=datetime.timezone.utc).isoformat()
        sql = body.replace("$now", f"TIMESTAMPTZ '{now}'")
        timings = []
        for _ in range(int(repeats)):
            # Timed: computing and materializing the member set (segmentd's refresh also writes it).
            t0 = time.perf_counter()
            con.execute(f"CREATE OR REPLACE TEMP TABLE members AS {sql}")
            timings.append(time.perf_counter() - t0)
        members = con.execute("SELECT u.external_id FROM users u JOIN members m USING (user_index)").fetchall()
        ids = sorted(row[0].encode() for row in members)
        digest = hashlib.sha256(b"".join(i + b"\n" for i in ids)).hexdigest()
        results[rule_id] = {"count": len(ids), "sha256": digest, "seconds": statistics.median(timings)}
        if rule_id == "r03_sum_aggregate":
            con.execute(f"CREATE TABLE r03 AS {sql}")
    results["load_seconds"] = load_seconds
    results["versions"] = f"duckdb {duckdb.__version__}"
    print(json.dumps(results))


if __name__ == "__main__":
    main(*sys.argv[1:5])
