/*-------------------------------------------------------------------------
 *
 * finish.c
 *	  Ending and changing leases: pgq_ack, pgq_nack, pgq_discard,
 *	  pgq_extend, pgq_ack_batch, and the admin calls pgq_requeue and
 *	  pgq_purge.
 *
 * The attempt is the fencing token: with it, a call succeeds only while the
 * message is unfinished, its consumed_count equals the attempt and its pgq
 * lease was neither reclaimed nor ended (lease_holder is set); otherwise it
 * returns false (NULL for extend) and changes nothing.  Without it, the call
 * acts on the message as it is, like the Go library's unfenced updates.
 * Concurrent calls on one message serialize on its row lock, and the loser
 * re-checks these conditions on the winner's row version.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/uuid.h"

#include "pgq.h"

PG_FUNCTION_INFO_V1(pgq_ack);
PG_FUNCTION_INFO_V1(pgq_nack);
PG_FUNCTION_INFO_V1(pgq_discard);
PG_FUNCTION_INFO_V1(pgq_extend);
PG_FUNCTION_INFO_V1(pgq_ack_batch);
PG_FUNCTION_INFO_V1(pgq_requeue);
PG_FUNCTION_INFO_V1(pgq_purge);

/* The optional attempt argument: a positive integer or NULL. */
static void
read_attempt(FunctionCallInfo fcinfo, int argno, Datum *value, char *null)
{
	if (PG_ARGISNULL(argno))
	{
		*value = (Datum) 0;
		*null = 'n';
		return;
	}
	if (PG_GETARG_INT32(argno) < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("attempt must be positive"),
				 errdetail("The attempt is the value pgq_consume returned for the message.")));
	*value = PG_GETARG_DATUM(argno);
	*null = ' ';
}

/* Open a queue for a message statement; ends with end_message_plan(). */
static PgqQueue *
open_message_queue(Oid relid, const char *action)
{
	PgqQueue   *queue;

	pgq_begin_call();
	queue = pgq_open_queue(relid, RowExclusiveLock);
	pgq_check_writable(action, queue);
	return queue;
}

/*
 * Run a hot-path statement of an open queue; returns the number of rows it
 * changed and leaves SPI connected for the caller to read RETURNING output
 * until end_message_plan().
 */
static uint64
run_message_plan(PgqQueue *queue, PgqPlanId id, Datum *values, char *nulls)
{
	int			rc;

	SPI_connect();
	rc = SPI_execute_plan(pgq_plan(queue, id), values, nulls, false, 0);
	if (rc < 0)
		elog(ERROR, "pgq: statement on queue \"%s\" failed: %s", queue->relname,
			 SPI_result_code_string(rc));
	return SPI_processed;
}

static void
end_message_plan(void)
{
	SPI_finish();
	pgq_end_call();
}

/* pgq_ack(queue regclass, id uuid, attempt int) returns boolean */
Datum
pgq_ack(PG_FUNCTION_ARGS)
{
	Oid			relid = pgq_arg_queue(fcinfo, 0);
	PgqQueue   *queue;
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	uint64		done;

	pgq_arg_not_null(fcinfo, 1, "id");
	values[0] = PG_GETARG_DATUM(1);
	values[1] = TimestampTzGetDatum(pgq_now());
	read_attempt(fcinfo, 2, &values[2], &nulls[2]);

	queue = open_message_queue(relid, "ack in");
	done = run_message_plan(queue, PGQ_PLAN_ACK, values, nulls);
	if (done == 1)
		pgq_note_finished(relid, PGQ_C_ACKED, 1, false, pgq_delete_on_finish(queue));
	end_message_plan();
	PG_RETURN_BOOL(done == 1);
}

/*
 * pgq_nack(queue regclass, id uuid, error text, retry_after interval,
 *			attempt int) returns boolean
 */
Datum
pgq_nack(PG_FUNCTION_ARGS)
{
	Oid			relid = pgq_arg_queue(fcinfo, 0);
	PgqQueue   *queue;
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	uint64		done;

	pgq_arg_not_null(fcinfo, 1, "id");
	values[0] = PG_GETARG_DATUM(1);
	values[1] = TimestampTzGetDatum(pgq_now());
	values[2] = PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2);
	nulls[2] = PG_ARGISNULL(2) ? 'n' : ' ';
	if (PG_ARGISNULL(3))
		nulls[3] = 'n';
	else
	{
		if (pgq_interval_sign(PG_GETARG_INTERVAL_P(3)) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("retry_after must be zero or positive")));
		values[3] = PG_GETARG_DATUM(3);
	}
	read_attempt(fcinfo, 4, &values[4], &nulls[4]);

	queue = open_message_queue(relid, "nack in");
	values[5] = IntervalPGetDatum(&queue->retry_delay);
	done = run_message_plan(queue, PGQ_PLAN_NACK, values, nulls);
	if (done == 1)
	{
		bool		isnull;
		bool		dead = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
													  SPI_tuptable->tupdesc, 1,
													  &isnull));

		if (dead)
			pgq_note_finished(relid, PGQ_C_NACKED, 1, true, false);
		else
		{
			pgq_note_count(relid, PGQ_C_NACKED, 1);
			/* waiting consumers must learn its new due time */
			pgq_note_wake(relid, 1);
		}
	}
	end_message_plan();
	PG_RETURN_BOOL(done == 1);
}

/* pgq_discard(queue regclass, id uuid, error text, attempt int) returns boolean */
Datum
pgq_discard(PG_FUNCTION_ARGS)
{
	Oid			relid = pgq_arg_queue(fcinfo, 0);
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	uint64		done;

	pgq_arg_not_null(fcinfo, 1, "id");
	values[0] = PG_GETARG_DATUM(1);
	values[1] = TimestampTzGetDatum(pgq_now());
	values[2] = PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2);
	nulls[2] = PG_ARGISNULL(2) ? 'n' : ' ';
	read_attempt(fcinfo, 3, &values[3], &nulls[3]);

	done = run_message_plan(open_message_queue(relid, "discard in"),
							PGQ_PLAN_DISCARD, values, nulls);
	if (done == 1)
		pgq_note_finished(relid, PGQ_C_DISCARDED, 1, true, false);
	end_message_plan();
	PG_RETURN_BOOL(done == 1);
}

/*
 * pgq_extend(queue regclass, id uuid, lock_duration interval, attempt int)
 *	returns timestamptz
 *
 * The lease now ends lock_duration from now; NULL when the caller does not
 * hold the lease.
 */
Datum
pgq_extend(PG_FUNCTION_ARGS)
{
	Oid			relid = pgq_arg_queue(fcinfo, 0);
	Interval   *duration;
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	uint64		done;
	Datum		until = (Datum) 0;

	pgq_arg_not_null(fcinfo, 1, "id");
	pgq_arg_not_null(fcinfo, 2, "lock_duration");
	duration = PG_GETARG_INTERVAL_P(2);
	if (pgq_interval_sign(duration) <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lock_duration must be positive")));
	values[0] = PG_GETARG_DATUM(1);
	values[1] = TimestampTzGetDatum(pgq_add_interval(pgq_now(), duration));
	read_attempt(fcinfo, 3, &values[2], &nulls[2]);

	done = run_message_plan(open_message_queue(relid, "extend a lease in"),
							PGQ_PLAN_EXTEND, values, nulls);
	if (done == 1)
	{
		until = values[1];
		pgq_note_count(relid, PGQ_C_EXTENDED, 1);
	}
	end_message_plan();
	if (done != 1)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(until);
}

/* Check an array of message ids: not null, one-dimensional, bounded. */
static ArrayType *
read_ids(FunctionCallInfo fcinfo, int argno)
{
	ArrayType  *ids;
	int			count;

	pgq_arg_not_null(fcinfo, argno, "ids");
	ids = PG_GETARG_ARRAYTYPE_P(argno);
	if (ARR_NDIM(ids) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("ids must be a one-dimensional array")));
	count = ArrayGetNItems(ARR_NDIM(ids), ARR_DIMS(ids));
	if (count > PGQ_MAX_BATCH_SIZE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot finish %d messages in one call", count),
				 errdetail("The limit is %d messages per batch.", PGQ_MAX_BATCH_SIZE)));
	return ids;
}

/* pgq_ack_batch(queue regclass, ids uuid[]) returns integer */
Datum
pgq_ack_batch(PG_FUNCTION_ARGS)
{
	Oid			relid = pgq_arg_queue(fcinfo, 0);
	PgqQueue   *queue;
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	uint64		done;

	values[0] = PointerGetDatum(read_ids(fcinfo, 1));
	values[1] = TimestampTzGetDatum(pgq_now());
	queue = open_message_queue(relid, "ack in");
	done = run_message_plan(queue, PGQ_PLAN_ACK_BATCH, values, nulls);
	pgq_note_finished(relid, PGQ_C_ACKED, (int64) done, false,
					  pgq_delete_on_finish(queue));
	end_message_plan();
	PG_RETURN_INT32((int32) done);
}

/*
 * Run a cold-path statement on a queue as the caller; %s in sql is the
 * queue table.  The statement returns one row of two counts, put into
 * *first and *second.
 */
static void
run_admin_sql(Oid relid, const char *action, const char *sql, int nargs,
			  Oid *types, Datum *values, const char *nulls, int64 *first,
			  int64 *second)
{
	PgqQueue   *queue;
	int			rc;
	bool		isnull;

	pgq_begin_call();
	queue = pgq_open_queue(relid, RowExclusiveLock);
	pgq_check_writable(action, queue);
	SPI_connect();
	rc = SPI_execute_with_args(psprintf(sql, queue->qualname), nargs, types,
							   values, nulls, false, 0);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "pgq: %s \"%s\" failed: %s", action, queue->relname,
			 SPI_result_code_string(rc));
	*first = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										 SPI_tuptable->tupdesc, 1, &isnull));
	*second = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										  SPI_tuptable->tupdesc, 2, &isnull));
	SPI_finish();
	pgq_end_call();
}

/*
 * pgq_requeue(queue regclass, ids uuid[]) returns integer
 *
 * Dead messages (finished with an error) become ready again with their
 * attempts and error reset; ids NULL means every dead message.
 */
Datum
pgq_requeue(PG_FUNCTION_ARGS)
{
	Oid			relid = pgq_arg_queue(fcinfo, 0);
	Oid			types[1] = {UUIDARRAYOID};
	Datum		values[1];
	char		nulls[1] = {'n'};
	int64		requeued;
	int64		unused;
	const char *sql =
		"WITH r AS (UPDATE %s q SET processed_at = NULL, locked_until = NULL,"
		" lease_holder = NULL, consumed_count = 0, error_detail = NULL"
		" WHERE q.processed_at IS NOT NULL AND q.error_detail IS NOT NULL"
		" AND ($1 IS NULL OR q.id OPERATOR(pg_catalog.=) ANY ($1)) RETURNING 1)"
		" SELECT pg_catalog.count(*), 0::pg_catalog.int8 FROM r";

	if (!PG_ARGISNULL(1))
	{
		values[0] = PointerGetDatum(read_ids(fcinfo, 1));
		nulls[0] = ' ';
	}
	run_admin_sql(relid, "requeue in", sql, 1, types, values, nulls,
				  &requeued, &unused);
	pgq_note_count(relid, PGQ_C_REQUEUED, requeued);
	pgq_note_gauge(relid, PGQ_G_DEAD, -requeued);
	pgq_note_gauge(relid, PGQ_G_UNFINISHED, requeued);
	pgq_note_wake(relid, (int) Min(requeued, PGQ_WAKE_ALL_THRESHOLD));
	PG_RETURN_INT32((int32) requeued);
}

/*
 * pgq_purge(queue regclass, older_than interval) returns bigint
 *
 * Delete finished messages (done and dead) finished at least older_than ago.
 */
Datum
pgq_purge(PG_FUNCTION_ARGS)
{
	Oid			relid = pgq_arg_queue(fcinfo, 0);
	Interval   *older_than;
	Oid			types[1] = {TIMESTAMPTZOID};
	Datum		values[1];
	int64		done;
	int64		dead;

	pgq_arg_not_null(fcinfo, 1, "older_than");
	older_than = PG_GETARG_INTERVAL_P(1);
	if (pgq_interval_sign(older_than) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("older_than must be zero or positive")));
	values[0] = TimestampTzGetDatum(pgq_sub_interval(pgq_now(), older_than));
	run_admin_sql(relid, "purge", "WITH d AS (DELETE FROM %s q"
				  " WHERE q.processed_at IS NOT NULL"
				  " AND q.processed_at OPERATOR(pg_catalog.<=) $1"
				  " RETURNING q.error_detail IS NULL AS done)"
				  " SELECT pg_catalog.count(*) FILTER (WHERE d.done),"
				  " pg_catalog.count(*) FILTER (WHERE NOT d.done) FROM d",
				  1, types, values, NULL, &done, &dead);
	pgq_note_deleted(relid, done, dead);
	PG_RETURN_INT64(done + dead);
}
