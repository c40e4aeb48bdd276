#!/usr/bin/env python3
# The activity log's chain computed apart from jitgated, from the canonical form doc/operator.md documents.
#   audit-chain.py check STATE        every chained entry's hash recomputed from its fields: exit 0 if all match
#   audit-chain.py rewrite STATE ID   a careful forger: entry ID's caller changed and every later hash and the
#                                     head written again, so only a head exported before can tell
#   audit-chain.py downgrade STATE ID every entry up to ID hashed again in form 1, as a jitgated before form 2
#                                     wrote them, and every later hash (form 2) and the head written again
#   audit-chain.py syslog STATE FILE  FILE's lines (datagrams audit_syslog sent) are RFC 5424 messages, one per
#                                     entry up to the newest, in order, each with the entry's seq, hash and fields
# The store is STATE/jitgate.db, or the PostgreSQL database of $JITGATE_TEST_PG (tests/e2e/on-pg.sh).
import hashlib
import json
import os
import re
import sqlite3
import struct
import subprocess
import sys

# form 1: the tag, then these eight fields; form 2 (entries written since): its own tag, and caller_subject last
TAGS = {1: b"jitgate-audit-v1\n", 2: b"jitgate-audit-v2\n"}
FIELDS = ["caller", "caller_addr", "operation", "resource_id", "status", "detail", "justification", "correlation_id",
          "caller_subject"]
PG = os.environ.get("JITGATE_TEST_PG")


def canonical(form, prev, seq, row):
    b = TAGS[form] + prev + struct.pack(">qq", seq, row["time_ns"])
    for f in FIELDS[:8] if form == 1 else FIELDS:
        e = row[f].encode()
        b += struct.pack(">I", len(e)) + e
    return b


def hashed(form, prev, row):
    return hashlib.sha256(canonical(form, prev, row["seq"], row)).digest()


def form_of(prev, row):
    """The form whose hash the entry holds after prev (form 2 first), or None."""
    for form in (2, 1):
        if hashed(form, prev, row).hex() == row["hash"].lower():
            return form
    return None


def psql(sql):
    return subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", PG, "-c", sql],
                          check=True, capture_output=True, text=True).stdout


def load(state):
    cols = "id, time_ns, seq, " + ", ".join(FIELDS)
    if PG:
        rows = json.loads(psql("SELECT coalesce(json_agg(json_build_object('id', id, 'time_ns', time_ns, 'seq', seq, "
                               "'hash', encode(hash, 'hex'), " + ", ".join("'%s', %s" % (f, f) for f in FIELDS) +
                               ") ORDER BY id), '[]') FROM activity"))
        a = psql("SELECT anchor_id || '|' || anchor_seq || '|' || encode(anchor_hash, 'hex') FROM audit_chain").strip()
    else:
        db = sqlite3.connect(state + "/jitgate.db")
        db.row_factory = sqlite3.Row
        rows = [dict(r) for r in db.execute("SELECT " + cols + ", hex(hash) AS hash FROM activity ORDER BY id")]
        a = "|".join(str(x) for x in db.execute("SELECT anchor_id, anchor_seq, hex(anchor_hash) FROM audit_chain").fetchone())
        db.close()
    anchor_id, anchor_seq, anchor_hash = a.split("|")
    return rows, int(anchor_id), int(anchor_seq), bytes.fromhex(anchor_hash)


def run(state, sql):
    if PG:
        psql(sql)
    else:
        db = sqlite3.connect(state + "/jitgate.db")
        db.executescript(sql)
        db.close()


def blob(h):
    return ("decode('%s', 'hex')" if PG else "X'%s'") % h.hex()


# RFC 5424: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG, TIMESTAMP with at most 6 fraction digits
SYSLOG = re.compile(r'^<85>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z \S+ jitgated \d+ activity '
                    r'\[jitgate@32473((?: [A-Za-z]+="(?:[^"\\\]]|\\["\\\]])*")+)\] .*$')
PARAM = re.compile(r' ([A-Za-z]+)="((?:[^"\\\]]|\\["\\\]])*)"')


def syslog(rows, path):
    by_seq = {r["seq"]: r for r in rows if r["seq"] is not None}
    got = []
    for line in open(path, encoding="utf-8"):
        m = SYSLOG.match(line.rstrip("\n"))
        if not m:
            print("audit-chain.py: not an RFC 5424 message of jitgated: %r" % line[:200])
            return 1
        p = {k: re.sub(r'\\(["\\\]])', r"\1", v) for k, v in PARAM.findall(m.group(1))}
        r = by_seq.get(int(p["seq"]))
        if not r or p["hash"] != r["hash"].lower() or p["caller"] != r["caller"] or p["detail"] != r["detail"] \
                or p["resourceId"] != r["resource_id"] or p["correlationId"] != r["correlation_id"] \
                or p.get("callerSubject") != r["caller_subject"]:
            print("audit-chain.py: message for seq %s does not match the store" % p.get("seq"))
            return 1
        got.append(int(p["seq"]))
    if not got or got != list(range(got[0], max(by_seq) + 1)):
        print("audit-chain.py: messages for seq %s, the store's newest is %d" % (got, max(by_seq, default=0)))
        return 1
    print("audit-chain.py: %d messages, seq %d to %d, each matching its entry" % (len(got), got[0], got[-1]))
    return 0


def main():
    cmd, state = sys.argv[1], sys.argv[2]
    rows, anchor_id, seq, prev = load(state)
    if cmd == "syslog":
        return syslog(rows, sys.argv[3])
    rows = [r for r in rows if r["id"] > anchor_id]
    forged = int(sys.argv[3]) if cmd == "rewrite" else None
    upto = int(sys.argv[3]) if cmd == "downgrade" else None
    sql, forms, was = [], {1: 0, 2: 0}, prev
    for r in rows:
        if r["seq"] is None or r["seq"] != seq + 1:
            print("audit-chain.py: entry id %d is not at place %d" % (r["id"], seq + 1))
            return 1
        form = form_of(was, r)  # against the chain as stored
        if form is None:
            print("audit-chain.py: entry id %d: hash %s is neither form's (form 2 recomputed: %s)"
                  % (r["id"], r["hash"].lower(), hashed(2, was, r).hex()))
            return 1
        forms[form] += 1
        was = bytes.fromhex(r["hash"])
        if r["id"] == forged:
            r["caller"] = "token:forger"
            sql.append("UPDATE activity SET caller = 'token:forger' WHERE id = %d;" % r["id"])
        if upto is not None and r["id"] <= upto:
            form = 1
        h = hashed(form, prev, r)
        if h != was:
            sql.append("UPDATE activity SET hash = %s WHERE id = %d;" % (blob(h), r["id"]))
        seq, prev = r["seq"], h
    if sql:
        sql.append("UPDATE audit_chain SET head_hash = %s;" % blob(prev))
        run(state, "\n".join(sql))
    print("audit-chain.py: %d entries (%d in form 1, %d in form 2), head %d:%s" % (len(rows), forms[1], forms[2],
                                                                                seq, prev.hex()))
    return 0


sys.exit(main())
