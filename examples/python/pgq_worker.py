"""A pgq worker with psycopg 3.

    from pgq_worker import Worker

    def handle(job):
        send_email(job.payload["to"])          # the work; raise to retry

    Worker("dbname=app", "jobs", handle).run_forever()

The loop, one short statement each, on an autocommit connection (so it also
works through PgBouncer in transaction pooling mode):

    select * from pgq_consume('jobs', 1, wait => '10 s')  -- sleeps in the server
    ... run the handler; a heartbeat thread calls pgq_extend(...) meanwhile ...
    select pgq_ack('jobs', id, attempt => 1)                -- or pgq_nack(...)

- The attempt returned by pgq_consume fences ack, nack and extend: once the
  lease has been lost (expired and taken by another consumer, or reclaimed),
  they change nothing, so a stale worker never finishes someone else's message.
- A handler that raises gets its message nacked with the exception's text
  (retried after the queue's retry_delay, dead after max_attempts).
- A heartbeat thread, on a connection of its own, extends the lease every
  third of its length while the handler runs, so a job may take longer than
  the queue's lock_duration.  If the worker dies, the lease simply runs out
  and another worker gets the message (attempt + 1).
- job.finish() gives exactly-once effects: the handler's last writes and the
  ack commit in one transaction, or not at all.
- SIGTERM / SIGINT: stop taking messages; the current job finishes and is
  acked (the handler may look at job.stopping to end early).  A second
  signal raises WorkerStopped inside the handler; its message is nacked for
  an immediate retry elsewhere.  A message is never lost either way.

Run it as a script to try it:  python3 pgq_worker.py "dbname=app" jobs
(the example handler logs each payload and sleeps payload["seconds"]).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Callable, Iterator, Optional

import psycopg

log = logging.getLogger("pgq.worker")

CONSUME = "select * from pgq_consume(%s, 1, lock_duration => %s, wait => %s)"
ACK = "select pgq_ack(%s, %s, attempt => %s)"
NACK = "select pgq_nack(%s, %s, error => %s, retry_after => %s, attempt => %s)"
EXTEND = "select pgq_extend(%s, %s, %s, attempt => %s)"
QUEUE_LEASE = "select lock_duration from pgq_queues where queue = %s::regclass"


class WorkerStopped(BaseException):
    """Raised inside a handler when the worker is told to stop a second time.

    A BaseException, like KeyboardInterrupt, so that a handler's
    ``except Exception`` does not swallow it.
    """


class LeaseLost(Exception):
    """The message's lease is no longer ours: it was not acked."""


@dataclass
class Job:
    """A leased message, handed to the handler."""

    id: Any  # uuid.UUID
    payload: Any  # the JSON payload, decoded
    metadata: dict
    attempt: int  # 1 on first delivery; the fencing token
    stopping: threading.Event = field(repr=False)  # the worker was asked to stop
    lease_lost: threading.Event = field(repr=False)  # the heartbeat could not extend
    _worker: "Worker" = field(repr=False, default=None)
    _beat: "_Heartbeat" = field(repr=False, default=None)
    finished: bool = field(repr=False, default=False)  # acked through finish()

    @contextlib.contextmanager
    def finish(self) -> Iterator[psycopg.Cursor]:
        """A transaction on the worker's connection that also acks the job.

        The handler's writes inside it commit together with the ack, or not
        at all: if the lease was lost, LeaseLost is raised and they roll back.

            with job.finish() as cur:
                cur.execute("insert into results ...", ...)
        """
        yield from self._worker._finish_in_transaction(self)


Handler = Callable[[Job], None]


class Worker:
    """Consume one queue, one message at a time, until stopped.

    conninfo  a libpq connection string or URI ("" = the PG* variables)
    queue     the queue's name, as regclass input reads it ('jobs', 'app.jobs')
    handler   called with each Job; returns when done, raises to retry
    wait      how long one pgq_consume may sleep in the server for a message
    lease     the lease a consume takes (None: the queue's lock_duration)
    heartbeat how often to extend the lease while a job runs (None: lease/3)
    """

    def __init__(
        self,
        conninfo: str,
        queue: str,
        handler: Handler,
        *,
        wait: timedelta = timedelta(seconds=10),
        lease: Optional[timedelta] = None,
        heartbeat: Optional[timedelta] = None,
        retry_after: Optional[timedelta] = None,
    ):
        self.conninfo = conninfo
        self.queue = queue
        self.handler = handler
        self.wait = wait
        self.lease = lease
        self.heartbeat = heartbeat
        self.retry_after = retry_after  # None: the queue's retry_delay back-off
        self.stopping = threading.Event()
        self._conn: Optional[psycopg.Connection] = None
        self._beat_conn: Optional[psycopg.Connection] = None
        self._state = "idle"  # idle (maybe waiting in consume), handling, finishing
        self._lease_length: Optional[timedelta] = None

    # ------------------------------------------------------------ connections

    def _connect(self) -> psycopg.Connection:
        # autocommit: every statement is its own short transaction, so no
        # transaction stays open while a job runs.  prepare_threshold=None:
        # no named prepared statements, so a transaction-mode pooler may send
        # each statement to a different server connection.  (pgq caches its
        # own plans inside the server.)
        return psycopg.connect(
            self.conninfo,
            autocommit=True,
            prepare_threshold=None,
            application_name=f"pgq-worker {self.queue}",
        )

    @property
    def conn(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = self._connect()
        return self._conn

    def close(self) -> None:
        """Close the worker's connections (run_forever does it when it ends)."""
        for c in (self._conn, self._beat_conn):
            if c is not None and not c.closed:
                c.close()
        self._conn = self._beat_conn = None

    # ---------------------------------------------------------------- running

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT stop the worker (call from the main thread)."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if not self.stopping.is_set():
            log.info("%s: stopping after the current job", name)
            self.stop()
        elif self._state == "handling":
            log.warning("%s again: abandoning the current job", name)
            raise WorkerStopped(name)

    def stop(self) -> None:
        """Ask the loop to end; a consume sleeping in the server is cancelled."""
        self.stopping.set()
        conn = self._conn
        if self._state == "idle" and conn is not None and not conn.closed:
            # Cancels the waiting pgq_consume (its lease, if any, rolls back
            # with it).  Harmless when nothing runs: the server ignores it.
            conn.cancel()

    def run_forever(self) -> None:
        """Consume until stop() or a signal; reconnects after connection loss."""
        backoff = 1.0
        try:
            while not self.stopping.is_set():
                try:
                    self.run_once()
                    backoff = 1.0
                except psycopg.OperationalError as exc:
                    if self.stopping.is_set():
                        break
                    log.warning("connection problem: %s; retrying in %.0f s", exc, backoff)
                    self.close()
                    self.stopping.wait(backoff)
                    backoff = min(backoff * 2, 30.0)
        finally:
            self.close()
        log.info("stopped")

    def run_once(self) -> bool:
        """Wait up to `wait` for one message and handle it; False if none came."""
        job = self._consume()
        if job is None:
            return False
        self._handle(job)
        return True

    def _consume(self) -> Optional[Job]:
        if self._lease_length is None:
            self._lease_length = self.lease or self._queue_lease()
        self._state = "idle"
        if self.stopping.is_set():
            return None
        try:
            row = self.conn.execute(CONSUME, (self.queue, self.lease, self.wait)).fetchone()
        except psycopg.errors.QueryCanceled:
            if self.stopping.is_set():
                return None  # stop() cancelled the wait
            raise
        if row is None:
            return None
        msg_id, payload, metadata, attempt, _locked_until, _created_at = row
        return Job(msg_id, payload, metadata, attempt, self.stopping, threading.Event(), self)

    def _queue_lease(self) -> timedelta:
        row = self.conn.execute(QUEUE_LEASE, (self.queue,)).fetchone()
        if row is None:
            raise RuntimeError(f"{self.queue} is not a pgq queue (or not readable)")
        return row[0]

    # ------------------------------------------------------------- one job

    def _handle(self, job: Job) -> None:
        log.debug("job %s attempt %d", job.id, job.attempt)
        beat = _Heartbeat(self, job)
        self._state = "handling"
        try:
            with beat:
                try:
                    self.handler(job)
                except WorkerStopped:
                    self._state = "finishing"
                    beat.stop()
                    self._nack(job, "worker stopped during the job", timedelta(0))
                    raise
                except Exception as exc:  # the handler failed: retry later
                    self._state = "finishing"
                    beat.stop()
                    if isinstance(exc, LeaseLost):
                        log.warning("job %s attempt %d: %s", job.id, job.attempt, exc)
                    elif not job.finished:
                        log.warning("job %s attempt %d failed: %s", job.id, job.attempt, exc)
                        self._nack(job, f"{type(exc).__name__}: {exc}", self.retry_after)
                    return
                self._state = "finishing"
                beat.stop()
                if not job.finished:
                    if not self.conn.execute(ACK, (self.queue, job.id, job.attempt)).fetchone()[0]:
                        log.warning("job %s attempt %d: lease lost, not acked", job.id, job.attempt)
        except WorkerStopped:
            self.stopping.set()
        finally:
            self._state = "idle"

    def _nack(self, job: Job, error: str, retry_after: Optional[timedelta]) -> None:
        ok = self.conn.execute(
            NACK, (self.queue, job.id, error, retry_after, job.attempt)
        ).fetchone()[0]
        if not ok:
            log.warning("job %s attempt %d: lease lost, not nacked", job.id, job.attempt)

    def _finish_in_transaction(self, job: Job) -> Iterator[psycopg.Cursor]:
        if job.finished:
            raise RuntimeError("job.finish() used twice")
        self._state = "finishing"  # a second signal no longer interrupts
        job._beat.stop()
        with self.conn.transaction(), self.conn.cursor() as cur:
            yield cur
            cur.execute(ACK, (self.queue, job.id, job.attempt))
            if not cur.fetchone()[0]:
                raise LeaseLost(f"lease of {job.id} attempt {job.attempt} was lost")
        # Committed.  (If anything above raised, the handler's writes rolled
        # back and the exception, out of the handler, nacks the message.)
        job.finished = True

    # -------------------------------------------------------------- heartbeat

    def _extend(self, job: Job) -> Optional[Any]:
        if self._beat_conn is None or self._beat_conn.closed:
            self._beat_conn = self._connect()
        return self._beat_conn.execute(
            EXTEND, (self.queue, job.id, self._lease_length, job.attempt)
        ).fetchone()[0]


class _Heartbeat:
    """Extends one job's lease from a thread until stop() (a context manager)."""

    def __init__(self, worker: Worker, job: Job):
        self.worker = worker
        self.job = job
        job._beat = self
        every = worker.heartbeat or worker._lease_length / 3
        self.every = max(every.total_seconds(), 0.05)
        self.done = threading.Event()
        self.lock = threading.Lock()  # held while an extend runs
        self.thread = threading.Thread(target=self._run, name=f"pgq-heartbeat {job.id}", daemon=True)

    def __enter__(self) -> "_Heartbeat":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def stop(self) -> None:
        """No extend after this returns (waits for one in progress)."""
        self.done.set()
        with self.lock:
            pass
        if self.thread.is_alive() and self.thread is not threading.current_thread():
            self.thread.join()

    def _run(self) -> None:
        job = self.job
        while not self.done.wait(self.every):
            with self.lock:
                if self.done.is_set():
                    return
                try:
                    until = self.worker._extend(job)
                except psycopg.Error as exc:
                    # Try again next beat (on a new connection): the lease
                    # still has two thirds of its length to go.
                    log.warning("job %s: extending the lease failed: %s", job.id, exc)
                    if self.worker._beat_conn is not None:
                        self.worker._beat_conn.close()
                    continue
            if until is None:
                log.warning("job %s attempt %d: lease lost", job.id, job.attempt)
                job.lease_lost.set()
                return


# ------------------------------------------------------------------ example


def example_handler(job: Job) -> None:
    """Logs the payload and sleeps payload["seconds"] (stops early if asked)."""
    log.info("job %s attempt %d: %s", job.id, job.attempt, job.payload)
    seconds = float(job.payload.get("seconds", 0)) if isinstance(job.payload, dict) else 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if job.stopping.is_set() or job.lease_lost.is_set():
            raise RuntimeError("interrupted")
        time.sleep(min(0.2, max(deadline - time.monotonic(), 0)))


def main() -> None:
    p = argparse.ArgumentParser(description="Run a pgq worker with an example handler.")
    p.add_argument("conninfo", help='libpq connection string, e.g. "dbname=app" ("" = PG* variables)')
    p.add_argument("queue")
    p.add_argument("--wait", type=float, default=10.0, help="seconds one consume may wait")
    p.add_argument("--lease", type=float, help="lease seconds (default: the queue's lock_duration)")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s [{os.getpid()}] %(message)s")
    w = Worker(
        args.conninfo,
        args.queue,
        example_handler,
        wait=timedelta(seconds=args.wait),
        lease=timedelta(seconds=args.lease) if args.lease else None,
    )
    w.install_signal_handlers()
    w.run_forever()


if __name__ == "__main__":
    main()
