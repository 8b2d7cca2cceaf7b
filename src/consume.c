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

#include "access/xact.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "pgq.h"

PG_FUNCTION_INFO_V1(pgq_consume);

/* Without shared memory a waiting consumer looks again this often (ms). */
#define PGQ_POLL_INTERVAL	100

/*
 * Lease what is ready now into the result tuplestore; returns how many.
 * values/nulls hold the plan's parameters; $2 (now) and $3 (lease end) are
 * filled in here.
 */
static uint64
consume_once(PgqQueue *queue, bool filtered, Interval *lock_duration,
			 Datum *values, char *nulls, ReturnSetInfo *rsinfo)
{
	TimestampTz now = pgq_now();
	uint64		n;
	int			rc;
	PgqPlanId	plan;

	values[1] = TimestampTzGetDatum(now);
	values[2] = TimestampTzGetDatum(pgq_add_interval(now, lock_duration));

	if (filtered)
		plan = PGQ_PLAN_CONSUME_FILTERED;
	else if (DatumGetInt64(values[0]) == 1)
		plan = PGQ_PLAN_CONSUME_ONE;
	else
		plan = PGQ_PLAN_CONSUME;
	SPI_connect();
	rc = SPI_execute_plan(pgq_plan(queue, plan), values, nulls, false, 0);
	if (rc != (plan == PGQ_PLAN_CONSUME_ONE ? SPI_OK_UPDATE_RETURNING : SPI_OK_SELECT))
		elog(ERROR, "pgq: consume from \"%s\" failed: %s", queue->relname,
			 SPI_result_code_string(rc));
	n = SPI_processed;
	for (uint64 i = 0; i < n; i++)
		tuplestore_puttuple(rsinfo->setResult, SPI_tuptable->vals[i]);
	SPI_finish();
	pgq_note_count(queue->relid, PGQ_C_CONSUMED, (int64) n);
	return n;
}

/*
 * When the next message that is not ready yet becomes ready: the earliest
 * lease end or scheduled time after now.  DT_NOEND when there is none.
 */
static TimestampTz
next_due(PgqQueue *queue, TimestampTz now)
{
	Datum		values[1];
	TimestampTz result = DT_NOEND;
	int			rc;

	values[0] = TimestampTzGetDatum(now);
	SPI_connect();
	rc = SPI_execute_plan(pgq_plan(queue, PGQ_PLAN_NEXT_DUE), values, NULL,
						  false, 1);
	if (rc == SPI_OK_SELECT && SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0],
									  SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			result = DatumGetTimestampTz(d);
	}
	SPI_finish();
	return result;
}

/*
 * Consume, sleeping while nothing is ready: until a publish to the queue
 * commits (pgq_wake at commit), the next lease ends or scheduled message
 * falls due, or the wait is over; then lease what is ready, maybe nothing.
 * The sleep is registered before looking, so a commit between the look and
 * the sleep still wakes us.  Cancel, statement_timeout and postmaster death
 * interrupt the sleep.
 */
static void
consume_waiting(PgqQueue *queue, bool filtered, Interval *lock_duration,
				Interval *wait, Datum *values, char *nulls,
				ReturnSetInfo *rsinfo)
{
	TimestampTz deadline = pgq_add_interval(pgq_now(), wait);
	PgqWaitSlot *slot = pgq_wait_slot(queue->relid);
	ConditionVariable *cv = NULL;

	if (slot != NULL)
		cv = filtered ? &slot->filtered : &slot->plain;
	for (;;)
	{
		TimestampTz now;
		TimestampTz wake_at;
		long		timeout_ms;

		if (cv != NULL)
			ConditionVariablePrepareToSleep(cv);
		if (consume_once(queue, filtered, lock_duration, values, nulls, rsinfo) > 0)
			break;
		now = pgq_now();
		if (now >= deadline)
			break;
		wake_at = Min(deadline, next_due(queue, now));
		timeout_ms = (long) ((wake_at - now + 999) / 1000);
		if (timeout_ms < 1)
			timeout_ms = 1;
		if (cv != NULL)
			(void) ConditionVariableTimedSleep(cv, timeout_ms, PG_WAIT_EXTENSION);
		else
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 Min(timeout_ms, PGQ_POLL_INTERVAL), PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
		CHECK_FOR_INTERRUPTS();
	}
	if (cv != NULL)
		ConditionVariableCancelSleep();
}

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

	if (pgq_interval_sign(wait) > 0 && IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot wait for messages in a %s transaction",
						IsolationIsSerializable() ? "SERIALIZABLE" : "REPEATABLE READ"),
				 errdetail("The transaction's snapshot would never show messages published after it started."),
				 errhint("Consume with wait => '0', or in a READ COMMITTED transaction.")));

	InitMaterializedSRF(fcinfo, 0);
	pgq_begin_call();
	queue = pgq_open_queue(relid, RowExclusiveLock);
	pgq_check_writable("consume from", queue);
	if (batch_size == 0)
	{
		/* nothing to lease, but the same rules as for something */
		if (pg_class_aclcheck(relid, GetUserId(), ACL_UPDATE) != ACLCHECK_OK)
			aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, queue->relname);
		pgq_end_call();
		return (Datum) 0;
	}
	if (lock_duration == NULL)
		lock_duration = &queue->lock_duration;
	values[0] = Int64GetDatum((int64) batch_size);
	values[3] = CStringGetTextDatum(pgq_lease_holder());

	if (pgq_interval_sign(wait) == 0)
		(void) consume_once(queue, filtered, lock_duration, values, nulls, rsinfo);
	else
		consume_waiting(queue, filtered, lock_duration, wait, values, nulls, rsinfo);
	pgq_end_call();

	return (Datum) 0;
}
