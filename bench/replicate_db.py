#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""
replicate_db.py - a large capture database from a small one, for the report's scale benchmark:
K copies of every row of every table, each copy's sessions with new ids (id + 2 hex digits) and,
for IPv4, a shifted first octet so that sources multiply too. Same distributions as the small
capture (bench/gen_capture.py + relaytrap import), 1M sessions in minutes instead of hours.
Indexes are created after the copy.

Usage: bench/replicate_db.py SMALL.db BIG.db K
"""
import sqlite3
import sys
src, dst, K = sys.argv[1], sys.argv[2], int(sys.argv[3])
db = sqlite3.connect(dst)
db.execute("ATTACH ? AS s", (src,))
db.execute("PRAGMA journal_mode=OFF"); db.execute("PRAGMA synchronous=OFF"); db.execute("PRAGMA cache_size=-1000000")
tables = [r[0] for r in db.execute("SELECT name FROM s.sqlite_master WHERE type='table'")]
# schema: copy from the source
for (sql,) in db.execute("SELECT sql FROM s.sqlite_master WHERE type = 'table' AND sql IS NOT NULL").fetchall():
    db.execute(sql)
indexes = [r[0] for r in db.execute("SELECT sql FROM s.sqlite_master WHERE type = 'index' AND sql IS NOT NULL")]
db.execute("PRAGMA user_version = %d" % db.execute("PRAGMA s.user_version").fetchone()[0])
def ipx(col, k):
    return ("CASE WHEN instr({c}, ':') = 0 AND {c} IS NOT NULL THEN "
            "((CAST(substr({c}, 1, instr({c}, '.') - 1) AS INTEGER) + {k}) % 223 + 1) || substr({c}, instr({c}, '.')) "
            "ELSE {c} END").format(c=col, k=k)
for k in range(K):
    for t in tables:
        cols = [r[1] for r in db.execute("PRAGMA s.table_info(%s)" % t)]
        sel = []
        for c in cols:
            if c == "id":
                sel.append("NULL")
            elif c == "session" and k > 0:
                sel.append("session || printf('%%02x', %d)" % k)
            elif c in ("src_ip",) and t == "sessions" and k > 0:
                sel.append(ipx(c, k))
            elif c == "ip" and t in ("ip_intel", "enrichments", "ip_intel_history") and k > 0:
                sel.append(ipx(c, k))
            else:
                sel.append(c)
        db.execute("INSERT OR IGNORE INTO %s (%s) SELECT %s FROM s.%s" % (t, ",".join(cols), ",".join(sel), t))
    db.commit()
    print("copy", k, file=sys.stderr, flush=True)
for sql in indexes:
    db.execute(sql)
db.commit()
