/*-------------------------------------------------------------------------
 *
 * consume.c
 *	  pgq_consume: lease ready messages.
 *
 * One statement picks the oldest ready rows through the partial index on
 * available_at (FOR UPDATE SKIP LOCKED: never waits behind another
 * consumer) and leases them: locked_until = now + lock duration, started_at
 * = now, consumed_count + 1, lease_holder = who.  The new consumed_count is
 * the attempt, the fencing token the consumer passes to ack/nack/extend.
 * A lease moves its row's available_at to the lease end, so in-flight rows
 * are never scanned again by consumers.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "pgq.h"

PG_FUNCTION_INFO_V1(pgq_consume);

/*
 * pgq_consume(queue regclass, batch_size int, lock_duration interval,
 *			   wait interval, metadata_filter jsonb)
 *	returns table(id uuid, payload jsonb, metadata jsonb, attempt int,
 *				  locked_until timestamptz, created_at timestamptz)
 */
Datum
pgq_consume(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			relid = pgq_arg_queue(fcinfo, 0);
	int32		batch_size;
	Interval   *lock_duration = NULL;
	Interval   *wait;
	bool		filtered = !PG_ARGISNULL(4);
	PgqQueue   *queue;
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	TimestampTz now;
	int			rc;

	pgq_arg_not_null(fcinfo, 1, "batch_size");
	batch_size = PG_GETARG_INT32(1);
	if (batch_size < 0 || batch_size > PGQ_MAX_BATCH_SIZE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("batch_size must be between 0 and %d", PGQ_MAX_BATCH_SIZE),
				 errdetail("batch_size was %d.", batch_size)));
	if (!PG_ARGISNULL(2))
	{
		lock_duration = PG_GETARG_INTERVAL_P(2);
		if (pgq_interval_sign(lock_duration) <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("lock_duration must be positive")));
	}
	pgq_arg_not_null(fcinfo, 3, "wait");
	wait = PG_GETARG_INTERVAL_P(3);
	if (pgq_interval_sign(wait) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("wait must be zero or positive")));
	if (filtered)
	{
		Jsonb	   *filter = PG_GETARG_JSONB_P(4);

		if (!JB_ROOT_IS_OBJECT(filter) || JB_ROOT_IS_SCALAR(filter))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("metadata_filter must be a JSON object"),
					 errdetail("A message matches when its metadata contains the filter (metadata @> filter).")));
		values[4] = JsonbPGetDatum(filter);
	}

	InitMaterializedSRF(fcinfo, 0);
	if (batch_size == 0)
		return (Datum) 0;

	pgq_begin_call();
	queue = pgq_open_queue(relid, RowExclusiveLock);
	pgq_check_writable("consume from", queue);
	if (lock_duration == NULL)
		lock_duration = &queue->lock_duration;

	now = pgq_now();
	values[0] = Int64GetDatum((int64) batch_size);
	values[1] = TimestampTzGetDatum(now);
	values[2] = TimestampTzGetDatum(pgq_add_interval(now, lock_duration));
	values[3] = CStringGetTextDatum(pgq_lease_holder());

	SPI_connect();
	rc = SPI_execute_plan(pgq_plan(queue, filtered ? PGQ_PLAN_CONSUME_FILTERED
								   : PGQ_PLAN_CONSUME),
						  values, nulls, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "pgq: consume from \"%s\" failed: %s", queue->relname,
			 SPI_result_code_string(rc));
	for (uint64 i = 0; i < SPI_processed; i++)
		tuplestore_puttuple(rsinfo->setResult, SPI_tuptable->vals[i]);
	SPI_finish();
	pgq_end_call();

	return (Datum) 0;
}
