"""Reads (and, for the checker's self-test, writes) the SQLite files of an
`orderly up` data directory. Standard library only; run with Debian's
/usr/bin/python3 (tests/race/stores.mjs does).

  stores.py dump DATA_DIR        JSON on stdout: the items the race checker needs
  stores.py make DATA_DIR < SPEC  writes a fake store set from a JSON spec

Store files (hosts/embedded/src/embedded_host.cpp): one per service
(<name>.db), provider-simulator.db (the simulated provider's ledger) and bus.db.
A store is one table, items(pk, sk, version, attrs JSON text, ttl)
(adapters/embedded/src/sqlite_item_store.cpp); the bus has messages, dlq and
archive tables (adapters/embedded/src/durable_bus.cpp).
"""
import json
import os
import sqlite3
import sys
import time

SERVICES = ["orders", "inventory", "payments", "shipping", "notifications"]

# (file, pk condition) -> what the checker reads; the rest (inbox markers,
# mailboxes, catalogue copies) is not needed.
WANTED = {
    "orders": "pk LIKE 'ORDER#%' OR pk LIKE 'CUSTOMER#%' OR pk LIKE 'IDEMPOTENCY#%'",
    "inventory": "pk = 'PRODUCT' OR pk LIKE 'RESERVATION#%'",
    "payments": "pk LIKE 'PAYMENT#%'",
    "shipping": "pk LIKE 'SHIPMENT#%'",
    "provider-simulator": "pk = 'ACCOUNT'",
}


def connect(path):
    if not os.path.exists(path):
        raise SystemExit(f"missing store file {path}")
    db = sqlite3.connect(path, timeout=30)
    db.row_factory = sqlite3.Row
    return db


def items(db, where, now):
    out = []
    for r in db.execute(f"SELECT pk, sk, version, attrs, ttl FROM items WHERE ({where}) ORDER BY pk, sk"):
        # Expired items are absent to the store's readers (SqliteItemStore::load).
        if r["ttl"] is not None and r["ttl"] <= now:
            continue
        try:
            attrs = json.loads(r["attrs"])
        except ValueError:
            attrs = {"_unparsable": r["attrs"]}
        out.append({"pk": r["pk"], "sk": r["sk"], "version": r["version"], "attrs": attrs, "ttl": r["ttl"]})
    return out


def dump(data_dir):
    now = int(time.time())
    out = {"dataDir": data_dir, "stores": {}, "outbox": {}, "bus": {}}
    for name, where in WANTED.items():
        db = connect(os.path.join(data_dir, name + ".db"))
        out["stores"][name] = items(db, where, now)
        db.close()
    for name in SERVICES:
        db = connect(os.path.join(data_dir, name + ".db"))
        out["outbox"][name] = [
            {"sk": r["sk"], "type": json.loads(r["attrs"]).get("type"), "deliverAt": json.loads(r["attrs"]).get("deliverAt")}
            for r in db.execute("SELECT sk, attrs FROM items WHERE pk = 'OUTBOX' ORDER BY sk")
        ]
        db.close()
    bus = connect(os.path.join(data_dir, "bus.db"))
    out["bus"]["dlq"] = [
        dict(r)
        for r in bus.execute(
            "SELECT id, rule, event_id, type, body, receive_count, last_error, enqueued_at, dead_at FROM dlq ORDER BY id"
        )
    ]
    out["bus"]["messages"] = [
        dict(r)
        for r in bus.execute(
            "SELECT m.id, m.rule, m.event_id, m.type, m.visible_at, m.inflight, m.receive_count, m.last_error, "
            "m.enqueued_at, a.body FROM messages m LEFT JOIN archive a ON a.seq = m.seq ORDER BY m.id"
        )
    ]
    # Every event the services committed (the relay archives each event id
    # once): the event log, to count effects per order.
    archive = []
    for r in bus.execute("SELECT event_id, type, body FROM archive ORDER BY seq"):
        try:
            subject = json.loads(r["body"]).get("subject")
        except ValueError:
            subject = None
        archive.append({"eventId": r["event_id"], "type": r["type"], "subject": subject})
    out["bus"]["archive"] = archive
    bus.close()
    json.dump(out, sys.stdout)


def make(data_dir):
    """Spec: {"itemSchema": SQL, "busSchema": SQL,
              "stores": {file: [{pk, sk, attrs, version?, ttl?}]},
              "dlq": [{rule, event_id, type, body, receive_count, last_error}],
              "archive": [{event_id, type, subject}],
              "messages": [{rule, event_id, type, visible_at, body}]}"""
    spec = json.load(sys.stdin)
    os.makedirs(data_dir, exist_ok=True)
    for name in SERVICES + ["provider-simulator"]:
        db = sqlite3.connect(os.path.join(data_dir, name + ".db"))
        db.execute("PRAGMA synchronous = OFF")  # a throwaway fixture: no fsync
        db.executescript(spec["itemSchema"])
        for it in spec.get("stores", {}).get(name, []):
            db.execute(
                "INSERT OR REPLACE INTO items(pk, sk, version, attrs, ttl) VALUES (?, ?, ?, ?, ?)",
                (it["pk"], it["sk"], it.get("version", 1), json.dumps(it["attrs"]), it.get("ttl")),
            )
        db.commit()
        db.close()
    bus = sqlite3.connect(os.path.join(data_dir, "bus.db"))
    bus.execute("PRAGMA synchronous = OFF")
    bus.executescript(spec["busSchema"])
    now = int(time.time() * 1000)
    for d in spec.get("dlq", []):
        bus.execute(
            "INSERT INTO dlq(rule, event_id, type, body, receive_count, last_error, enqueued_at, dead_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (d["rule"], d["event_id"], d["type"], d.get("body", "{}"), d.get("receive_count", 1),
             d.get("last_error", "x"), now, now),
        )
    for a in spec.get("archive", []):
        bus.execute(
            "INSERT INTO archive(event_id, type, archived_at, body) VALUES (?, ?, ?, ?)",
            (a["event_id"], a["type"], now, json.dumps({"id": a["event_id"], "type": a["type"], "subject": a["subject"]})),
        )
    for m in spec.get("messages", []):
        cur = bus.execute(
            "INSERT INTO archive(event_id, type, archived_at, body) VALUES (?, ?, ?, ?)",
            (m["event_id"], m["type"], now, m.get("body", "{}")),
        )
        bus.execute(
            "INSERT INTO messages(rule, seq, event_id, type, visible_at, enqueued_at) VALUES (?, ?, ?, ?, ?, ?)",
            (m["rule"], cur.lastrowid, m["event_id"], m["type"], m.get("visible_at", now), now),
        )
    bus.commit()
    bus.close()


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("dump", "make"):
        raise SystemExit(__doc__)
    {"dump": dump, "make": make}[sys.argv[1]](sys.argv[2])
