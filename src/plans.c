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
 * (0 = no limit).  Returns the SQL condition for table alias q.
 */
static char *
attempts_used_up(PgqQueue *queue)
{
	if (queue->max_attempts <= 0)
		return pstrdup("false");
	return psprintf("(q.consumed_count OPERATOR(pg_catalog.>=) %d)",
					queue->max_attempts);
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
static bool
delete_on_finish(PgqQueue *queue)
{
	return queue->has_retention && pgq_interval_sign(&queue->retention) == 0;
}

char *
pgq_plan_sql(PgqQueue *queue, PgqPlanId id, int *nargs, Oid *argtypes)
{
	const char *t = queue->qualname;
	char	   *used_up = attempts_used_up(queue);

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
			return psprintf("WITH picked AS ("
							" SELECT q.id, q.available_at FROM %1$s q"
							" WHERE q.processed_at IS NULL"
							" AND q.available_at OPERATOR(pg_catalog.<=) $2"
							" AND NOT %2$s%3$s"
							" ORDER BY q.available_at LIMIT $1"
							" FOR UPDATE SKIP LOCKED),"
							" leased AS ("
							" UPDATE %1$s q SET locked_until = $3, started_at = $2,"
							" consumed_count = q.consumed_count OPERATOR(pg_catalog.+) 1,"
							" lease_holder = $4"
							" FROM picked WHERE q.id OPERATOR(pg_catalog.=) picked.id"
							" RETURNING q.id, q.payload, q.metadata, q.consumed_count,"
							" q.locked_until, q.created_at, picked.available_at AS pos)"
							" SELECT id, payload, metadata, consumed_count, locked_until,"
							" created_at FROM leased ORDER BY pos",
							t, used_up,
							id == PGQ_PLAN_CONSUME_FILTERED ?
							" AND q.metadata OPERATOR(pg_catalog.@>) $5" : "");

		case PGQ_PLAN_ACK:
			/* $1 id, $2 now, $3 attempt */
			*nargs = 3;
			argtypes[0] = UUIDOID;
			argtypes[1] = TIMESTAMPTZOID;
			argtypes[2] = INT4OID;
			if (delete_on_finish(queue))
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
			if (delete_on_finish(queue))
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
							" pg_catalog.concat('nacked after ', q.consumed_count, ' attempts') END),"
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

		case PGQ_NUM_PLANS:
			break;
	}
	elog(ERROR, "pgq: unknown plan %d", (int) id);
	return NULL;				/* keep compiler quiet */
}
