"""Checks pgq's example workers and producers from the outside.

    client_test.py --check-dsn DSN --tmp DIR
                   --worker LANG=COMMAND [--worker ...]
                   --producer LANG=COMMAND [--producer ...]
                   PHASE...

Used by test/client/{python,node,pgbouncer}/run.  The workers (COMMAND QUEUE
[--wait S] [--lease S] [--once]) and producers (COMMAND "" QUEUE) connect
through the PG* variables of the environment (the server, or PgBouncer in
front of it); the checks use their own connection (DSN, to the server).
The test handler's contract is in test/client/python/worker.py.

Phases:
  crash      N messages through 4 workers (the --worker languages in turn),
             one SIGKILLed mid-job: every message done exactly once (one
             result row, written in the ack's transaction), the killed one
             redelivered only after its lease ended (attempt 2), no other
             redelivered; the others stop with exit 0 on SIGTERM
  heartbeat+failing  side by side, for each language:
             a 5 s job on a 2 s lease: nobody else can lease it meanwhile,
             locked_until moves on, acked with attempt 1; and a handler that
             always raises: dead after max_attempts = 3 with the error's
             text in error_detail
  shutdown   SIGTERM during a job: the job finishes, is acked, exit 0;
             SIGTERM while waiting in pgq_consume: exit 0 at once (the wait
             is cancelled, no lease taken); a second SIGTERM during a job:
             nacked at once ("worker stopped"), and a worker already waiting
             in pgq_consume gets it at once as attempt 2
  cancel     only the second part of shutdown
  outbox     the producer: committed orders have their messages, the
             rolled-back order has neither
  wait       a worker's consume waiting (wait => 5 s) in the server is woken
             by a publish from another client, well before the wait is over

--pooled: the clients go through a transaction-mode pooler; the crash phase
then checks that one worker's acks ran on several server connections (and,
without it, that each worker acked on its one connection).

Prints one "ok" or "FAILED" line per check; exits 1 if any failed.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
import traceback
from typing import Callable, Optional

import psycopg
from psycopg.types.json import Jsonb

N_MESSAGES = 200
LEASE = 2.0  # seconds: every test queue's lock_duration

failures: list[str] = []
T0 = time.monotonic()


def check(cond: bool, what: str, detail: str = "") -> bool:
    at = f"{time.monotonic() - T0:5.1f}s"
    if cond:
        print(f"ok     {at} {what}", flush=True)
    else:
        print(f"FAILED {at} {what}{': ' + detail if detail else ''}", flush=True)
        failures.append(what)
    return cond


def wait_for(cond: Callable[[], object], timeout: float, step: float = 0.05):
    """Poll cond() until it returns something true; that, or None on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            return None
        time.sleep(step)


class Proc:
    """A worker or producer process, its output in TMP/NAME.log."""

    seq = 0

    def __init__(self, tmp: str, lang: str, argv: list[str]):
        Proc.seq += 1
        self.name = f"{Proc.seq:02d}-{lang}-{os.path.basename(argv[1]) if len(argv) > 1 else argv[0]}"
        self.lang = lang
        self.log_path = os.path.join(tmp, self.name + ".log")
        self.log = open(self.log_path, "w")
        self.popen = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL)
        self.pid = self.popen.pid

    def signal(self, sig: int) -> None:
        if self.popen.poll() is None:
            os.kill(self.pid, sig)

    def wait(self, timeout: float) -> Optional[int]:
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()
        self.log.close()


class Test:
    def __init__(self, args: argparse.Namespace):
        self.tmp = args.tmp
        self.workers = dict(w.split("=", 1) for w in args.worker)
        self.producers = dict(p.split("=", 1) for p in args.producer)
        self.pooled = args.pooled
        self.db = psycopg.connect(args.check_dsn, autocommit=True)
        self.procs: list[Proc] = []

    # -------------------------------------------------------------- helpers

    def sql(self, query: str, params=()) -> list[tuple]:
        cur = self.db.execute(query, params)
        return cur.fetchall() if cur.description else []

    def one(self, query: str, params=()):
        return self.sql(query, params)[0][0]

    def setup(self) -> None:
        self.sql("""
            create table if not exists pgq_test_starts (
                queue text, msg_id uuid, attempt int, pid int, lang text,
                at timestamptz not null default clock_timestamp());
            create table if not exists pgq_test_results (
                queue text, msg_id uuid, attempt int, pid int, lang text, backend_pid int,
                at timestamptz not null default clock_timestamp())""")

    def queue(self, name: str, **opts) -> str:
        self.sql("select pgq_create_queue(%s, max_attempts => %s, lock_duration => %s,"
                 " retry_delay => %s)",
                 (name, opts.get("max_attempts", 3), f"{opts.get('lease', LEASE)} s",
                  opts.get("retry_delay", "0")))
        return name

    def publish(self, queue: str, payloads: list[dict]) -> list:
        return [r[0] for r in self.sql("select pgq_publish_batch(%s, %s)",
                                       (queue, [Jsonb(p) for p in payloads]))]

    def start_worker(self, lang: str, queue: str, *extra: str) -> Proc:
        argv = shlex.split(self.workers[lang]) + [queue, *extra]
        p = Proc(self.tmp, lang, argv)
        self.procs.append(p)
        return p

    def start_of(self, msg_id, attempt: int = 1):
        """(pid, at) of the handler's start of that attempt, once it started."""
        rows = self.sql("select pid, at from pgq_test_starts where msg_id = %s and attempt = %s",
                        (msg_id, attempt))
        return rows[0] if rows else None

    def finished(self, queue: str, msg_id) -> bool:
        return self.one(f"select processed_at is not null from {queue} where id = %s", (msg_id,))

    def stop_all(self, procs: list[Proc], what: str, timeout: float = 10) -> None:
        for p in procs:
            p.signal(signal.SIGTERM)
        codes = [p.wait(timeout) for p in procs]
        check(all(c == 0 for c in codes), f"{what}: workers stop with exit 0 on SIGTERM",
              f"exit codes {codes}")

    def consume_activity(self, queue: str) -> int:
        """Backends of the queue's workers sleeping in a pgq_consume.

        (The example workers set application_name 'pgq-worker QUEUE'.)"""
        return self.one("select count(*) from pg_stat_activity where state = 'active'"
                        " and wait_event_type = 'Extension' and query like '%%pgq_consume%%'"
                        " and application_name = %s", (f"pgq-worker {queue}",))

    # --------------------------------------------------------------- phases

    def phase_crash(self) -> None:
        langs = list(self.workers)
        tag = "_".join(langs)
        q = self.queue(f"crash_{tag}")
        print(f"--- crash: {N_MESSAGES} messages, 4 workers ({', '.join(langs)}), one SIGKILLed mid-job")
        # The victim first: FIFO, so a worker takes it at once.
        victim = self.publish(q, [{"n": -1, "sleep_first": 60}])[0]
        self.publish(q, [{"n": i, "sleep": 0.01} for i in range(N_MESSAGES)])
        workers = [self.start_worker(langs[i % len(langs)], q) for i in range(4)]
        started = wait_for(lambda: self.start_of(victim), 20)
        if not check(started is not None, "crash: a worker starts the long job"):
            return
        pid, _ = started
        victim_proc = next((p for p in workers if p.pid == pid), None)
        if not check(victim_proc is not None, "crash: the long job runs in one of our workers", str(pid)):
            return
        lease_end, killed_at = self.sql(f"select locked_until, clock_timestamp() from {q} where id = %s",
                                        (victim,))[0]
        t_kill = time.monotonic()
        victim_proc.signal(signal.SIGKILL)
        print(f"              SIGKILL to {victim_proc.lang} worker {pid}")
        done = wait_for(lambda: self.one(f"select count(*) = 0 from {q} where processed_at is null"), 40, 0.2)
        elapsed = time.monotonic() - t_kill
        check(bool(done), f"crash: all {N_MESSAGES + 1} messages finished ({elapsed:.1f} s after the kill)")
        check(victim_proc.wait(5) == -signal.SIGKILL, "crash: the victim died of SIGKILL")
        self.stop_all([p for p in workers if p is not victim_proc], "crash")

        rows = self.sql(f"""
            select (select count(*) from {q}),
                   (select count(*) from {q} where processed_at is not null and error_detail is null),
                   (select count(*) from pgq_test_results where queue = %s),
                   (select count(distinct msg_id) from pgq_test_results where queue = %s),
                   (select count(*) from {q} m join pgq_test_results r on r.msg_id = m.id
                     where r.attempt = m.consumed_count),
                   (select count(*) from {q} where id <> %s and consumed_count = 1),
                   (select consumed_count from {q} where id = %s)""", (q, q, victim, victim))[0]
        total, n_done, n_results, n_distinct, n_att, n_once, victim_count = rows
        n = N_MESSAGES + 1
        check(total == n and n_done == n, f"crash: {n} messages, all done (acked)", f"{total} rows, {n_done} done")
        check(n_results == n and n_distinct == n,
              "crash: exactly one result per message (handler effect committed with the ack)",
              f"{n_results} results for {n_distinct} messages")
        check(n_att == n, "crash: every result was written by the attempt that acked", f"{n_att} of {n}")
        check(n_once == N_MESSAGES, "crash: no message but the victim was delivered twice", f"{n_once} of {N_MESSAGES}")
        check(victim_count == 2, "crash: the victim was redelivered once (attempt 2)", f"consumed_count {victim_count}")
        check(lease_end > killed_at, "crash: the victim's lease was alive when it was killed",
              f"locked_until {lease_end}, killed at {killed_at}")
        # started_at: when the second consume leased it (server clock)
        second = self.one(f"select started_at from {q} where id = %s", (victim,))
        check(second >= lease_end, "crash: redelivered only after its lease ended",
              f"leased again at {second}, lease ended {lease_end}")
        s2 = self.start_of(victim, 2)
        check(s2 is not None and s2[0] != pid, "crash: redelivered to another worker", str(s2))
        per_worker = self.sql("select lang, pid, count(*) from pgq_test_results where queue = %s"
                              " group by 1, 2 order by 1, 2", (q,))
        print("              results per worker: " + ", ".join(f"{l}[{p}]={c}" for l, p, c in per_worker))
        check(len({l for l, _, _ in per_worker}) == len(langs), "crash: every language's workers did work")
        # The result row records pg_backend_pid() of the ack's transaction.
        backends = self.sql("select pid, count(distinct backend_pid) from pgq_test_results"
                            " where queue = %s group by pid", (q,))
        most = max(n for _, n in backends)
        if self.pooled:
            check(most > 1, "crash: a worker's acks ran on different server connections (transaction pooling)",
                  str(backends))
        else:
            check(most == 1, "crash: each worker acked on its one connection", str(backends))

    def phase_heartbeat(self, lang: str) -> None:
        q = self.queue(f"heartbeat_{lang}")
        print(f"--- heartbeat ({lang}): a 5 s job on a {LEASE:.0f} s lease")
        msg = self.publish(q, [{"sleep": 5}])[0]
        w = self.start_worker(lang, q)
        started = wait_for(lambda: self.start_of(msg), 20)
        if not check(started is not None, f"heartbeat ({lang}): the job starts"):
            return
        stolen = 0
        longest = 0.0
        t0 = time.monotonic()
        while not self.finished(q, msg) and time.monotonic() - t0 < 20:
            # Try to take it, in a transaction rolled back at once: harmless.
            with self.db.transaction(force_rollback=True):
                stolen += len(self.sql("select * from pgq_consume(%s, 1)", (q,)))
            ahead = self.sql(f"select extract(epoch from locked_until - started_at) from {q}"
                             " where id = %s and processed_at is null", (msg,))
            if ahead and ahead[0][0] is not None:  # (none once finished)
                longest = max(longest, float(ahead[0][0]))
            time.sleep(0.2)
        took = time.monotonic() - t0
        count, done, error = self.sql(f"select consumed_count, processed_at is not null, error_detail"
                                      f" from {q} where id = %s", (msg,))[0]
        results = self.sql("select attempt from pgq_test_results where msg_id = %s", (msg,))
        check(stolen == 0, f"heartbeat ({lang}): nobody else could lease it during the job", f"{stolen} times")
        check(longest > LEASE + 0.5, f"heartbeat ({lang}): the lease was extended",
              f"locked_until at most {longest:.1f} s after started_at")
        check(done and error is None and count == 1, f"heartbeat ({lang}): acked, attempt stays 1",
              f"done {done}, consumed_count {count}, error {error!r}")
        check(results == [(1,)], f"heartbeat ({lang}): the ack with attempt 1 succeeded", str(results))
        check(took >= 4, f"heartbeat ({lang}): the job ran past its initial lease ({took:.1f} s)")
        self.stop_all([w], f"heartbeat ({lang})")

    def phase_failing(self, lang: str) -> None:
        q = self.queue(f"failing_{lang}", max_attempts=3)
        print(f"--- failing ({lang}): a handler that always raises, max_attempts 3")
        text = f"boom: cannot process order 42 ({lang})"
        msg = self.publish(q, [{"fail": text}])[0]
        w = self.start_worker(lang, q)
        check(bool(wait_for(lambda: self.finished(q, msg), 20)), f"failing ({lang}): the message ends")
        count, error = self.sql(f"select consumed_count, error_detail from {q} where id = %s", (msg,))[0]
        check(count == 3, f"failing ({lang}): dead after 3 attempts", f"consumed_count {count}")
        check(error is not None and text in error, f"failing ({lang}): error_detail has the error text",
              repr(error))
        attempts = [r[0] for r in self.sql("select attempt from pgq_test_starts where msg_id = %s"
                                           " order by attempt", (msg,))]
        check(attempts == [1, 2, 3], f"failing ({lang}): handled at attempts 1, 2, 3", str(attempts))
        check(self.one("select count(*) from pgq_test_results where msg_id = %s", (msg,)) == 0,
              f"failing ({lang}): no result committed")
        self.stop_all([w], f"failing ({lang})")

    def stop_during_job(self, lang: str) -> None:
        """SIGTERM during a job: it finishes and is acked."""
        q = self.queue(f"shutdown_{lang}")
        msg = self.publish(q, [{"sleep": 2}])[0]
        w = self.start_worker(lang, q, "--wait", "30")
        if check(wait_for(lambda: self.start_of(msg), 20) is not None, f"shutdown ({lang}): the job starts"):
            signalled_at = self.one("select clock_timestamp()")
            w.signal(signal.SIGTERM)
            code = w.wait(10)
            check(code == 0, f"shutdown ({lang}): SIGTERM during a job: exit 0 after it", f"exit {code}")
            row = self.sql(f"select consumed_count, processed_at is not null, error_detail from {q}"
                           " where id = %s", (msg,))[0]
            check(row == (1, True, None), f"shutdown ({lang}): that job finished and was acked", str(row))
            results = self.sql("select at > %s from pgq_test_results where msg_id = %s", (signalled_at, msg))
            check(results == [(True,)], f"shutdown ({lang}): its result committed after the SIGTERM",
                  str(results))

    def stop_while_waiting(self, lang: str) -> None:
        """SIGTERM while a consume sleeps in the server: the wait is cancelled."""
        q = self.queue(f"idle_{lang}")
        before = self.consume_activity(q)
        w = self.start_worker(lang, q, "--wait", "30")
        waiting = wait_for(lambda: self.consume_activity(q) > before, 20)
        if check(bool(waiting), f"shutdown ({lang}): the idle worker waits in pgq_consume"):
            t0 = time.monotonic()
            w.signal(signal.SIGTERM)
            code = w.wait(10)
            took = time.monotonic() - t0
            check(code == 0 and took < 5, f"shutdown ({lang}): SIGTERM while waiting: exit 0 at once",
                  f"exit {code} after {took:.1f} s")
            check(bool(wait_for(lambda: self.consume_activity(q) == before, 5)),
                  f"shutdown ({lang}): the waiting consume was cancelled in the server")
        msg = self.publish(q, [{"n": 1}])[0]
        time.sleep(0.3)
        check(self.one(f"select consumed_count from {q} where id = %s", (msg,)) == 0,
              f"shutdown ({lang}): nothing leased after the stop")

    def stop_twice(self, lang: str) -> None:
        """A second SIGTERM during a job: nacked at once, and a worker already
        waiting in pgq_consume gets it at once.  (The queue's lease is long,
        so the waiter cannot just wake at the end of the old lease.)"""
        q = self.queue(f"forced_{lang}", lease=60)
        msg = self.publish(q, [{"sleep_first": 60}])[0]
        w = self.start_worker(lang, q, "--wait", "30")
        if not check(wait_for(lambda: self.start_of(msg), 20) is not None,
                     f"shutdown ({lang}): the long job starts"):
            return
        w2 = self.start_worker(lang, q, "--wait", "30")
        check(bool(wait_for(lambda: self.consume_activity(q) == 1, 20)),
              f"shutdown ({lang}): a second worker waits in pgq_consume")
        w.signal(signal.SIGTERM)
        time.sleep(0.3)
        w.signal(signal.SIGTERM)
        code = w.wait(10)
        t_exit = time.monotonic()
        check(code == 0, f"shutdown ({lang}): a second SIGTERM ends the worker at once", f"exit {code}")
        count, unfinished, error = self.sql(f"select consumed_count, processed_at is null, error_detail"
                                            f" from {q} where id = %s", (msg,))[0]
        if count == 1:  # (else the waiting worker has it already)
            check(unfinished and error is not None and "worker stopped" in error,
                  f"shutdown ({lang}): the abandoned job was nacked", repr(error))
        finished = wait_for(lambda: self.finished(q, msg), 5)
        if not finished:  # late, not lost: the waiter's 30 s wait ends
            finished = wait_for(lambda: self.finished(q, msg), 35)
        took = time.monotonic() - t_exit
        check(bool(finished) and took < 5,
              f"shutdown ({lang}): the waiting worker got the nacked message at once",
              f"finished: {bool(finished)}, {took:.1f} s after the nack (the worker's wait is 30 s)")
        s1, s2 = self.start_of(msg, 1), self.start_of(msg, 2)
        check(s1 is not None and s2 is not None and s2[0] == w2.pid and (s2[1] - s1[1]).total_seconds() < 60,
              f"shutdown ({lang}): handed back before its 60 s lease ended, as attempt 2", f"{s1} {s2}")
        check(self.sql("select attempt from pgq_test_results where msg_id = %s", (msg,)) == [(2,)],
              f"shutdown ({lang}): acked as attempt 2")
        self.stop_all([w2], f"shutdown ({lang})")

    def phase_outbox(self, lang: str) -> None:
        q = self.queue(f"outbox_{lang}")
        print(f"--- outbox ({lang}): publish together with a business row")
        argv = shlex.split(self.producers[lang]) + ["", q]
        p = Proc(self.tmp, lang, argv)
        code = p.wait(30)
        out = p.output()
        p.kill()
        check(code == 0, f"outbox ({lang}): the producer ran", f"exit {code}: {out}")
        msgs = self.sql(f"select payload from {q} order by created_at")
        orders = {r[0]: r[1] for r in self.sql("select id, customer from orders")}
        check(len(msgs) == 2, f"outbox ({lang}): two messages published", str(msgs))
        check(all(orders.get(m["order_id"]) == m["customer"] for (m,) in msgs),
              f"outbox ({lang}): each message names its committed order", f"{msgs} vs {orders}")
        check("mallory" not in orders.values()
              and not any(m["customer"] == "mallory" for (m,) in msgs),
              f"outbox ({lang}): the rolled-back order left no order and no message")
        check("rolled back" in out, f"outbox ({lang}): the producer saw its rollback", out)

    def phase_wait(self, waiter: str) -> None:
        q = self.queue(f"wake_{waiter}")
        print(f"--- wait: a {waiter} worker's consume waits 5 s; another client publishes")
        w = self.start_worker(waiter, q, "--wait", "5", "--once")
        waiting = wait_for(lambda: self.sql(
            "select query_start from pg_stat_activity where state = 'active'"
            " and wait_event_type = 'Extension' and query like '%%pgq_consume%%'"
            " and application_name = %s", (f"pgq-worker {q}",)), 20)
        if not check(bool(waiting), f"wait ({waiter}): the consume sleeps in the server"):
            return
        wait_began = waiting[0][0]
        time.sleep(0.5)
        # Another client: a connection of our own, through the same PG*
        # settings as the workers (the server, or PgBouncer).
        with psycopg.connect("", autocommit=True, prepare_threshold=None) as pub:
            msg = pub.execute("select pgq_publish(%s, %s)", (q, Jsonb({"n": 1}))).fetchone()[0]
        code = w.wait(10)
        check(code == 0, f"wait ({waiter}): the waiting worker handled a message and ended", f"exit {code}")
        row = self.sql(f"select consumed_count, processed_at is not null,"
                       f" extract(epoch from started_at - created_at),"
                       f" extract(epoch from started_at - %s) from {q} where id = %s", (wait_began, msg))
        if check(len(row) == 1 and row[0][:2] == (1, True), f"wait ({waiter}): it leased and acked the message",
                 str(row)):
            latency, since_wait = float(row[0][2]), float(row[0][3])
            check(latency < 1.0 and since_wait < 5,
                  f"wait ({waiter}): the same consume was woken by the publish"
                  f" ({latency:.2f} s after it, {since_wait:.1f} s into its 5 s wait)",
                  f"leased {latency:.2f} s after the publish, {since_wait:.1f} s after the wait began")

    # ------------------------------------------------------------------ run

    def run(self, phases: list[str]) -> None:
        self.setup()
        langs = list(self.workers)
        for phase in phases:
            t0 = time.monotonic()
            try:
                self.run_phase(phase, langs)
            except Exception as exc:  # a broken phase fails, the next ones run
                traceback.print_exc()
                check(False, f"{phase}: ran to its end", repr(exc))
            print(f"              ({phase}: {time.monotonic() - t0:.1f} s)", flush=True)

    def run_phase(self, phase: str, langs: list[str]) -> None:
        if phase == "crash":
            self.phase_crash()
        elif phase == "heartbeat+failing":
            self.side_by_side([(self.phase_heartbeat, lang) for lang in langs]
                              + [(self.phase_failing, lang) for lang in langs])
        elif phase == "shutdown":
            print(f"--- shutdown: SIGTERM during a job, while waiting, and twice ({', '.join(langs)})")
            self.side_by_side([(f, lang) for lang in langs
                               for f in (self.stop_during_job, self.stop_while_waiting, self.stop_twice)])
        elif phase == "cancel":
            print(f"--- cancel: SIGTERM while waiting in pgq_consume ({', '.join(langs)})")
            self.side_by_side([(self.stop_while_waiting, lang) for lang in langs])
        elif phase == "outbox":
            for lang in self.producers:
                self.phase_outbox(lang)
        elif phase == "wait":
            self.side_by_side([(self.phase_wait, lang) for lang in langs])
        else:
            raise SystemExit(f"unknown phase {phase}")

    def side_by_side(self, calls: list[tuple[Callable[[str], None], str]]) -> None:
        """Run checks that use different queues at once, each in a thread
        with a connection of its own."""
        def run(method, lang):
            sub = Test.__new__(Test)
            sub.__dict__.update(self.__dict__)  # shares procs, tmp, settings
            sub.db = psycopg.connect(self.db.info.dsn, autocommit=True)
            try:
                getattr(sub, method.__name__)(lang)
            except Exception as exc:
                traceback.print_exc()
                check(False, f"{method.__name__} ({lang}): ran to its end", repr(exc))
            finally:
                sub.db.close()
        threads = [threading.Thread(target=run, args=c) for c in calls]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def cleanup(self, show_logs: bool) -> None:
        for p in self.procs:
            p.kill()
        if show_logs:
            for p in self.procs:
                print(f"===== {p.name} (pid {p.pid}), last 30 lines of {p.log_path}")
                print("\n".join(p.output().splitlines()[-30:]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--check-dsn", required=True)
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--worker", action="append", default=[])
    ap.add_argument("--producer", action="append", default=[])
    ap.add_argument("--pooled", action="store_true",
                    help="clients go through a transaction-mode pooler")
    ap.add_argument("phases", nargs="+")
    args = ap.parse_args()
    t = Test(args)
    try:
        t.run(args.phases)
    finally:
        t.cleanup(show_logs=bool(failures))
    print(f"{len(failures)} check(s) failed" if failures else "all checks passed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
