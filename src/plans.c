/*-------------------------------------------------------------------------
 *
 * plans.c
 *	  The SQL text of every hot-path statement pgq prepares per queue.
 *
 * All of it in one place so it can be audited at a glance: the table is
 * the quoted, schema-qualified name of the queue; every operator is written
 * OPERATOR(pg_catalog.x) and every function pg_catalog.f, so nothing a
 * caller puts on search_path can run; values arrive only as $n parameters.
 * Queue settings that shape a statement (max_attempts, retention = 0) are
 * baked into its text; pgq_alter_queue() invalidates the cached plans.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"

#include "pgq.h"

/*
 * A message is out of attempts once consumed_count reaches max_attempts
 * (0 = no limit).  Returns the SQL condition for the given table alias;
 * the reclaim sweep uses it too.
 */
char *
pgq_attempts_used_up(PgqQueue *queue, const char *alias)
{
	if (queue->max_attempts <= 0)
		return pstrdup("false");
	return psprintf("(%s.consumed_count OPERATOR(pg_catalog.>=) %d)",
					alias, queue->max_attempts);
}

/*
 * The fencing condition of ack, nack and discard: with an attempt, only the
 * holder of that attempt's lease (not reclaimed, not finished) may act.
 */
static char *
fence(int attempt_param)
{
	return psprintf("($%d IS NULL OR (q.consumed_count OPERATOR(pg_catalog.=) $%d"
					" AND q.lease_holder IS NOT NULL))",
					attempt_param, attempt_param);
}

/* Is the retention zero, so that finished rows are deleted at once? */
bool
pgq_delete_on_finish(PgqQueue *queue)
{
	return queue->has_retention && pgq_interval_sign(&queue->retention) == 0;
}

char *
pgq_plan_sql(PgqQueue *queue, PgqPlanId id, int *nargs, Oid *argtypes)
{
	const char *t = queue->qualname;
	char	   *used_up = pgq_attempts_used_up(queue, "q");

	switch (id)
	{
		case PGQ_PLAN_PUBLISH:
			*nargs = 3;
			argtypes[0] = JSONBOID;
			argtypes[1] = JSONBOID;
			argtypes[2] = TIMESTAMPTZOID;
			return psprintf("INSERT INTO %s (payload, metadata, scheduled_for)"
							" VALUES ($1, $2, $3) RETURNING id", t);

		case PGQ_PLAN_PUBLISH_BATCH:
			*nargs = 3;
			argtypes[0] = JSONBARRAYOID;
			argtypes[1] = JSONBOID;
			argtypes[2] = TIMESTAMPTZOID;
			return psprintf("INSERT INTO %s (payload, metadata, scheduled_for)"
							" SELECT p.payload, $2, $3"
							" FROM pg_catalog.unnest($1) WITH ORDINALITY AS p(payload, n)"
							" ORDER BY p.n RETURNING id", t);

		case PGQ_PLAN_CONSUME:
		case PGQ_PLAN_CONSUME_FILTERED:

			/*
			 * $1 batch size, $2 now, $3 lease end, $4 lease holder, $5 the
			 * metadata filter.  Ready rows are found through the partial
			 * index on available_at, oldest first; rows other consumers hold
			 * are skipped, never waited for.
			 */
			*nargs = (id == PGQ_PLAN_CONSUME_FILTERED) ? 5 : 4;
			argtypes[0] = INT8OID;
			argtypes[1] = TIMESTAMPTZOID;
			argtypes[2] = TIMESTAMPTZOID;
			argtypes[3] = TEXTOID;
			argtypes[4] = JSONBOID;
			/*
			 * The picked ids come as an array from an InitPlan, so that the
			 * generic plan (see pgq_plan) is an index scan of the dequeue
			 * index and a probe of the primary key whatever the batch size.
			 * A batch comes back in the order its messages became due.
			 */
			return psprintf("WITH leased AS ("
							" UPDATE %1$s q SET locked_until = $3, started_at = $2,"
							" consumed_count = q.consumed_count OPERATOR(pg_catalog.+) 1,"
							" lease_holder = $4"
							" WHERE q.id OPERATOR(pg_catalog.=) ANY (ARRAY("
							" SELECT p.id FROM %1$s p"
							" WHERE p.processed_at IS NULL"
							" AND p.available_at OPERATOR(pg_catalog.<=) $2"
							" AND NOT %2$s%3$s"
							" ORDER BY p.available_at LIMIT $1"
							" FOR UPDATE SKIP LOCKED))"
							" RETURNING q.id, q.payload, q.metadata, q.consumed_count,"
							" q.locked_until, q.created_at,"
							" GREATEST(q.created_at, q.scheduled_for) AS pos)"
							" SELECT id, payload, metadata, consumed_count, locked_until,"
							" created_at FROM leased ORDER BY pos",
							t, pgq_attempts_used_up(queue, "p"),
							id == PGQ_PLAN_CONSUME_FILTERED ?
							" AND p.metadata OPERATOR(pg_catalog.@>) $5" : "");

		case PGQ_PLAN_CONSUME_ONE:

			/*
			 * The same for the most common call, one message and no filter:
			 * a scalar subquery, so no array, no CTE and no sort.
			 */
			*nargs = 4;
			argtypes[0] = INT8OID;
			argtypes[1] = TIMESTAMPTZOID;
			argtypes[2] = TIMESTAMPTZOID;
			argtypes[3] = TEXTOID;
			return psprintf("UPDATE %1$s q SET locked_until = $3, started_at = $2,"
							" consumed_count = q.consumed_count OPERATOR(pg_catalog.+) 1,"
							" lease_holder = $4"
							" WHERE q.id OPERATOR(pg_catalog.=) ("
							" SELECT p.id FROM %1$s p"
							" WHERE p.processed_at IS NULL"
							" AND p.available_at OPERATOR(pg_catalog.<=) $2"
							" AND NOT %2$s"
							" ORDER BY p.available_at LIMIT $1"
							" FOR UPDATE SKIP LOCKED)"
							" RETURNING q.id, q.payload, q.metadata, q.consumed_count,"
							" q.locked_until, q.created_at",
							t, pgq_attempts_used_up(queue, "p"));

		case PGQ_PLAN_ACK:
			/* $1 id, $2 now, $3 attempt */
			*nargs = 3;
			argtypes[0] = UUIDOID;
			argtypes[1] = TIMESTAMPTZOID;
			argtypes[2] = INT4OID;
			if (pgq_delete_on_finish(queue))
				return psprintf("DELETE FROM %s q"
								" WHERE q.id OPERATOR(pg_catalog.=) $1"
								" AND q.processed_at IS NULL AND $2 IS NOT NULL AND %s",
								t, fence(3));
			return psprintf("UPDATE %s q SET processed_at = $2, locked_until = NULL,"
							" lease_holder = NULL, error_detail = NULL"
							" WHERE q.id OPERATOR(pg_catalog.=) $1"
							" AND q.processed_at IS NULL AND %s", t, fence(3));

		case PGQ_PLAN_ACK_BATCH:
			/* $1 ids, $2 now */
			*nargs = 2;
			argtypes[0] = UUIDARRAYOID;
			argtypes[1] = TIMESTAMPTZOID;
			if (pgq_delete_on_finish(queue))
				return psprintf("DELETE FROM %s q"
								" WHERE q.id OPERATOR(pg_catalog.=) ANY ($1)"
								" AND q.processed_at IS NULL AND $2 IS NOT NULL", t);
			return psprintf("UPDATE %s q SET processed_at = $2, locked_until = NULL,"
							" lease_holder = NULL, error_detail = NULL"
							" WHERE q.id OPERATOR(pg_catalog.=) ANY ($1)"
							" AND q.processed_at IS NULL", t);

		case PGQ_PLAN_NACK:

			/*
			 * $1 id, $2 now, $3 error, $4 retry_after (NULL: the queue's
			 * retry_delay doubled per earlier attempt), $5 attempt, $6 the
			 * queue's retry_delay.  Out of attempts: dead at once.
			 */
			*nargs = 6;
			argtypes[0] = UUIDOID;
			argtypes[1] = TIMESTAMPTZOID;
			argtypes[2] = TEXTOID;
			argtypes[3] = INTERVALOID;
			argtypes[4] = INT4OID;
			argtypes[5] = INTERVALOID;
			return psprintf("UPDATE %1$s q SET"
							" processed_at = CASE WHEN %2$s THEN $2 END,"
							" locked_until = CASE WHEN %2$s THEN NULL"
							" ELSE $2 OPERATOR(pg_catalog.+) COALESCE($4,"
							" $6 OPERATOR(pg_catalog.*) pg_catalog.power(2::pg_catalog.float8,"
							" LEAST(GREATEST(q.consumed_count OPERATOR(pg_catalog.-) 1, 0), %3$d)::pg_catalog.float8))"
							" END,"
							" error_detail = COALESCE($3, CASE WHEN %2$s THEN"
							" pg_catalog.concat('nacked after ', q.consumed_count,"
							" CASE WHEN q.consumed_count OPERATOR(pg_catalog.=) 1 THEN ' attempt' ELSE ' attempts' END) END),"
							" lease_holder = NULL"
							" WHERE q.id OPERATOR(pg_catalog.=) $1"
							" AND q.processed_at IS NULL AND %4$s"
							" RETURNING q.processed_at IS NOT NULL",
							t, used_up, PGQ_MAX_BACKOFF_DOUBLINGS, fence(5));

		case PGQ_PLAN_DISCARD:
			/* $1 id, $2 now, $3 error, $4 attempt */
			*nargs = 4;
			argtypes[0] = UUIDOID;
			argtypes[1] = TIMESTAMPTZOID;
			argtypes[2] = TEXTOID;
			argtypes[3] = INT4OID;
			return psprintf("UPDATE %s q SET processed_at = $2, locked_until = NULL,"
							" lease_holder = NULL,"
							" error_detail = COALESCE($3, 'discarded')"
							" WHERE q.id OPERATOR(pg_catalog.=) $1"
							" AND q.processed_at IS NULL AND %s", t, fence(4));

		case PGQ_PLAN_EXTEND:
			/* $1 id, $2 new lease end, $3 attempt */
			*nargs = 3;
			argtypes[0] = UUIDOID;
			argtypes[1] = TIMESTAMPTZOID;
			argtypes[2] = INT4OID;
			return psprintf("UPDATE %s q SET locked_until = $2"
							" WHERE q.id OPERATOR(pg_catalog.=) $1"
							" AND q.processed_at IS NULL AND q.lease_holder IS NOT NULL"
							" AND ($3 IS NULL OR q.consumed_count OPERATOR(pg_catalog.=) $3)"
							" RETURNING q.locked_until", t);

		case PGQ_PLAN_NEXT_DUE:
			/* $1 now: when does the next message become available? */
			*nargs = 1;
			argtypes[0] = TIMESTAMPTZOID;
			return psprintf("SELECT q.available_at FROM %s q"
							" WHERE q.processed_at IS NULL"
							" AND q.available_at OPERATOR(pg_catalog.>) $1"
							" ORDER BY q.available_at LIMIT 1", t);

		case PGQ_PLAN_STATS:

			/*
			 * $1 now.  Leased (and nack-delayed) and scheduled rows are the
			 * unfinished rows not available yet: a range of the dequeue
			 * index past now.  Expired pgq leases and the next lease end
			 * come from the lease index, the oldest ready row from the head
			 * of the dequeue index.
			 */
			*nargs = 1;
			argtypes[0] = TIMESTAMPTZOID;
			return psprintf("SELECT a.in_flight, a.pending, e.expired, o.oldest, n.next_expiry FROM"
							" (SELECT pg_catalog.count(*) FILTER (WHERE q.locked_until OPERATOR(pg_catalog.>) $1) AS in_flight,"
							" pg_catalog.count(*) AS pending FROM %1$s q"
							" WHERE q.processed_at IS NULL AND q.available_at OPERATOR(pg_catalog.>) $1) a,"
							" (SELECT pg_catalog.count(*) AS expired FROM %1$s q"
							" WHERE q.locked_until IS NOT NULL AND q.processed_at IS NULL"
							" AND q.locked_until OPERATOR(pg_catalog.<=) $1 AND q.lease_holder IS NOT NULL) e,"
							" (SELECT pg_catalog.min(q.available_at) AS oldest FROM %1$s q"
							" WHERE q.processed_at IS NULL AND q.available_at OPERATOR(pg_catalog.<=) $1) o,"
							" (SELECT pg_catalog.min(q.locked_until) AS next_expiry FROM %1$s q"
							" WHERE q.locked_until IS NOT NULL AND q.processed_at IS NULL"
							" AND q.locked_until OPERATOR(pg_catalog.>) $1) n", t);

		case PGQ_PLAN_COUNT:
			/* exact row counts: a scan of the table */
			*nargs = 0;
			return psprintf("SELECT pg_catalog.count(*) FILTER (WHERE q.processed_at IS NULL),"
							" pg_catalog.count(*) FILTER (WHERE q.processed_at IS NOT NULL AND q.error_detail IS NULL),"
							" pg_catalog.count(*) FILTER (WHERE q.processed_at IS NOT NULL AND q.error_detail IS NOT NULL)"
							" FROM %s q", t);

		case PGQ_PLAN_IN_FLIGHT:
			/* $1 now: live leases through the lease index */
			*nargs = 1;
			argtypes[0] = TIMESTAMPTZOID;
			return psprintf("SELECT q.id, q.consumed_count, q.started_at, q.locked_until,"
							" q.locked_until OPERATOR(pg_catalog.-) $1, q.lease_holder FROM %s q"
							" WHERE q.locked_until IS NOT NULL AND q.processed_at IS NULL"
							" AND q.locked_until OPERATOR(pg_catalog.>) $1 AND q.lease_holder IS NOT NULL"
							" ORDER BY q.locked_until", t);

		case PGQ_PLAN_FAILED:
			/* dead messages and messages waiting for a retry after a nack */
			*nargs = 0;
			return psprintf("SELECT q.id, q.consumed_count,"
							" CASE WHEN q.processed_at IS NULL THEN 'retrying' ELSE 'dead' END,"
							" q.error_detail, COALESCE(q.processed_at, q.started_at),"
							" CASE WHEN q.processed_at IS NULL THEN q.available_at END"
							" FROM %s q WHERE q.error_detail IS NOT NULL", t);

		case PGQ_PLAN_FINISHED_TIMES:

			/*
			 * $1, $2: time in queue (publish or due time to the last start)
			 * and processing time (last start to finish), in milliseconds,
			 * of the rows finished in ($1, $2].
			 */
			*nargs = 2;
			argtypes[0] = TIMESTAMPTZOID;
			argtypes[1] = TIMESTAMPTZOID;
			return psprintf("SELECT pg_catalog.count(*),"
							" pg_catalog.avg(w.wait), pg_catalog.percentile_cont(0.95) WITHIN GROUP (ORDER BY w.wait),"
							" pg_catalog.avg(w.run), pg_catalog.percentile_cont(0.95) WITHIN GROUP (ORDER BY w.run)"
							" FROM (SELECT"
							" pg_catalog.date_part('epoch', q.started_at OPERATOR(pg_catalog.-)"
							" GREATEST(q.created_at, q.scheduled_for)) OPERATOR(pg_catalog.*) 1000 AS wait,"
							" pg_catalog.date_part('epoch', q.processed_at OPERATOR(pg_catalog.-) q.started_at)"
							" OPERATOR(pg_catalog.*) 1000 AS run"
							" FROM %s q WHERE q.processed_at OPERATOR(pg_catalog.>) $1"
							" AND q.processed_at OPERATOR(pg_catalog.<=) $2 AND q.started_at IS NOT NULL) w", t);

		case PGQ_NUM_PLANS:
			break;
	}
	elog(ERROR, "pgq: unknown plan %d", (int) id);
	return NULL;				/* keep compiler quiet */
}
