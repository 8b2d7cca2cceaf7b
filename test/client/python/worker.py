"""The Python test worker: examples/python/pgq_worker.py with a test handler.

    worker.py QUEUE [--wait S] [--lease S] [--once]

Connects through the PG* environment variables.  The handler's contract,
shared with test/client/node/worker.js (test/client/lib/client_test.py
checks it):
  - at start it records (queue, msg_id, attempt, pid, lang) in pgq_test_starts
    (autocommit, a connection of its own);
  - it sleeps payload.sleep seconds, or payload.sleep_first on attempt 1;
  - it raises an error with the text payload.fail, if present;
  - else it records the result in pgq_test_results inside job.finish(), in
    the same transaction as the ack.
"""

import argparse
import logging
import os
import sys
import time
from datetime import timedelta

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "examples", "python"))

import psycopg  # noqa: E402
from pgq_worker import Worker  # noqa: E402

PID = os.getpid()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("queue")
    p.add_argument("--wait", type=float, default=1.0)
    p.add_argument("--lease", type=float)
    p.add_argument("--once", action="store_true", help="one consume (with --wait), then exit")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format=f"%(asctime)s python[{PID}] %(message)s")
    side = psycopg.connect("", autocommit=True, prepare_threshold=None)

    def handle(job):
        side.execute(
            "insert into pgq_test_starts (queue, msg_id, attempt, pid, lang)"
            " values (%s, %s, %s, %s, 'python')", (args.queue, job.id, job.attempt, PID))
        payload = job.payload
        seconds = payload.get("sleep", 0)
        if job.attempt == 1 and "sleep_first" in payload:
            seconds = payload["sleep_first"]
        time.sleep(seconds)
        if "fail" in payload:
            raise ValueError(payload["fail"])
        with job.finish() as cur:
            cur.execute(
                "insert into pgq_test_results (queue, msg_id, attempt, pid, lang, backend_pid)"
                " values (%s, %s, %s, %s, 'python', pg_backend_pid())",
                (args.queue, job.id, job.attempt, PID))

    w = Worker("", args.queue, handle, wait=timedelta(seconds=args.wait),
               lease=timedelta(seconds=args.lease) if args.lease else None)
    w.install_signal_handlers()
    if args.once:
        got = w.run_once()
        logging.info("once: %s", "handled a message" if got else "nothing")
        w.close()
    else:
        w.run_forever()
    side.close()


if __name__ == "__main__":
    main()
