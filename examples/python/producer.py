"""Publishing with pgq from Python: the transactional outbox.

pgq_publish runs in the caller's transaction.  Write the business row and
publish its message in one transaction: both commit, or neither does.  No
dual write, no message about an order that was never stored, no order whose
message got lost.

    with conn.transaction():
        order_id = conn.execute("insert into orders ... returning id").fetchone()[0]
        conn.execute("select pgq_publish(%s, %s)", ("jobs", Jsonb({"order_id": order_id})))

Run it as a script to see a commit and a rollback:

    python3 producer.py "dbname=app" jobs

It creates table `orders` if missing, stores two orders with their messages,
and shows that an order whose transaction fails after publishing leaves
neither an order nor a message behind.
"""

from __future__ import annotations

import argparse
from typing import Any, Optional

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

ORDERS_DDL = """
create table if not exists orders (
    id bigint generated always as identity primary key,
    customer text not null,
    amount numeric not null,
    created_at timestamptz not null default now()
)
"""


def publish(conn: psycopg.Connection, queue: str, payload: Any,
            metadata: Optional[dict] = None) -> Any:
    """Publish one message in the connection's current transaction; its id."""
    return conn.execute(
        "select pgq_publish(%s, %s, %s)", (queue, Jsonb(payload), Jsonb(metadata or {}))
    ).fetchone()[0]


def place_order(conn: psycopg.Connection, queue: str, customer: str, amount: float,
                fail_after_publish: bool = False) -> int:
    """Store an order and publish "order placed", atomically."""
    with conn.transaction():
        order_id = conn.execute(
            "insert into orders (customer, amount) values (%s, %s) returning id",
            (customer, amount),
        ).fetchone()[0]
        publish(conn, queue, {"event": "order_placed", "order_id": order_id,
                              "customer": customer, "amount": amount},
                {"type": "order_placed"})
        if fail_after_publish:
            # Anything that fails before the commit (a constraint, a crash,
            # a bug) rolls back the order and its message together.
            raise RuntimeError(f"payment for {customer} declined")
    return order_id


def main() -> None:
    p = argparse.ArgumentParser(description="Outbox demo: publish with a business row.")
    p.add_argument("conninfo", help='libpq connection string ("" = PG* variables)')
    p.add_argument("queue")
    args = p.parse_args()

    # prepare_threshold=None: no named prepared statements (PgBouncer's
    # transaction pooling).  autocommit: nothing runs in a transaction except
    # the explicit conn.transaction() blocks, so none is left open.
    with psycopg.connect(args.conninfo, prepare_threshold=None, autocommit=True) as conn:
        conn.execute(ORDERS_DDL)
        for customer, amount in (("alice", 12.5), ("bob", 99.0)):
            order_id = place_order(conn, args.queue, customer, amount)
            print(f"order {order_id} for {customer}: stored and published")
        try:
            place_order(conn, args.queue, "mallory", 1.0, fail_after_publish=True)
        except RuntimeError as exc:
            print(f"order for mallory: {exc}; rolled back, nothing published")
        table = conn.execute("select %s::regclass::text", (args.queue,)).fetchone()[0]
        n_orders, n_messages = conn.execute(
            sql.SQL("select (select count(*) from orders where customer = 'mallory'),"
                    " (select count(*) from {} where payload->>'customer' = 'mallory')"
                    ).format(sql.SQL(table))
        ).fetchone()
        print(f"mallory: {n_orders} orders, {n_messages} messages")


if __name__ == "__main__":
    main()
