/*-------------------------------------------------------------------------
 *
 * publish.c
 *	  pgq_publish and pgq_publish_batch: insert messages into a queue.
 *
 * A publish is a plain INSERT in the caller's transaction, through a plan
 * prepared once per queue and backend: it is seen by consumers when the
 * transaction commits and never if it rolls back.  Columns not given come
 * from the table's defaults, exactly as for the Go library's INSERT.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/async.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/uuid.h"

#include "pgq.h"

PG_FUNCTION_INFO_V1(pgq_publish);
PG_FUNCTION_INFO_V1(pgq_publish_batch);

/*
 * For LISTEN clients of a queue with notify on: NOTIFY pgq_<table>, sent
 * at commit like any NOTIFY (and serialized like any NOTIFY: a global lock
 * at commit, which is why it is off by default).
 */
static void
notify_publish(PgqQueue *queue)
{
	if (queue->notify)
		Async_Notify(psprintf("pgq_%s", queue->relname), NULL);
}

/* The common arguments of both: metadata (2) and scheduled_for (3). */
static void
read_publish_args(FunctionCallInfo fcinfo, Datum *values, char *nulls)
{
	pgq_arg_not_null(fcinfo, 2, "metadata");
	pgq_check_metadata(PG_GETARG_DATUM(2));
	values[1] = PG_GETARG_DATUM(2);
	nulls[1] = ' ';
	values[2] = PG_ARGISNULL(3) ? (Datum) 0 : PG_GETARG_DATUM(3);
	nulls[2] = PG_ARGISNULL(3) ? 'n' : ' ';
}

/*
 * pgq_publish(queue regclass, payload jsonb, metadata jsonb,
 *			   scheduled_for timestamptz) returns uuid
 */
Datum
pgq_publish(PG_FUNCTION_ARGS)
{
	Oid			relid = pgq_arg_queue(fcinfo, 0);
	PgqQueue   *queue;
	Datum		values[3];
	char		nulls[3];
	int			rc;
	bool		isnull;
	Datum		id;

	pgq_arg_not_null(fcinfo, 1, "payload");
	pgq_check_payload_size(PG_GETARG_DATUM(1));
	values[0] = PG_GETARG_DATUM(1);
	nulls[0] = ' ';
	read_publish_args(fcinfo, values, nulls);

	pgq_begin_call();
	queue = pgq_open_queue(relid, RowExclusiveLock);
	pgq_check_writable("publish to", queue);

	SPI_connect();
	rc = SPI_execute_plan(pgq_plan(queue, PGQ_PLAN_PUBLISH), values, nulls,
						  false, 1);
	if (rc != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "pgq: publish to \"%s\" inserted no row", queue->relname);
	id = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	id = SPI_datumTransfer(id, false, UUID_LEN);
	SPI_finish();
	pgq_note_published(relid, 1);
	notify_publish(queue);
	pgq_end_call();

	PG_RETURN_DATUM(id);
}

/*
 * pgq_publish_batch(queue regclass, payloads jsonb[], metadata jsonb,
 *					 scheduled_for timestamptz) returns setof uuid
 *
 * One INSERT for the whole array; ids come back in the array's order.
 */
Datum
pgq_publish_batch(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			relid = pgq_arg_queue(fcinfo, 0);
	ArrayType  *payloads;
	int			count;
	PgqQueue   *queue;
	Datum		values[3];
	char		nulls[3];
	int			rc;

	pgq_arg_not_null(fcinfo, 1, "payloads");
	payloads = PG_GETARG_ARRAYTYPE_P(1);
	if (ARR_NDIM(payloads) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("payloads must be a one-dimensional array")));
	if (array_contains_nulls(payloads))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("payloads must not contain nulls")));
	count = ArrayGetNItems(ARR_NDIM(payloads), ARR_DIMS(payloads));
	if (count > PGQ_MAX_BATCH_SIZE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot publish %d messages in one call", count),
				 errdetail("The limit is %d messages per batch.", PGQ_MAX_BATCH_SIZE),
				 errhint("Split the array into smaller batches.")));
	if (pgq_max_payload_bytes > 0)
	{
		ArrayIterator it = array_create_iterator(payloads, 0, NULL);
		Datum		elem;
		bool		isnull;

		while (array_iterate(it, &elem, &isnull))
			pgq_check_payload_size(elem);
		array_free_iterator(it);
	}
	values[0] = PointerGetDatum(payloads);
	nulls[0] = ' ';
	read_publish_args(fcinfo, values, nulls);

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	pgq_begin_call();
	queue = pgq_open_queue(relid, RowExclusiveLock);
	pgq_check_writable("publish to", queue);
	if (count == 0)
	{
		/* nothing to insert, but the same rules as for something */
		if (pg_class_aclcheck(relid, GetUserId(), ACL_INSERT) != ACLCHECK_OK)
			aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, queue->relname);
		pgq_end_call();
		return (Datum) 0;
	}

	SPI_connect();
	rc = SPI_execute_plan(pgq_plan(queue, PGQ_PLAN_PUBLISH_BATCH), values,
						  nulls, false, 0);
	if (rc != SPI_OK_INSERT_RETURNING || SPI_processed != (uint64) count)
		elog(ERROR, "pgq: batch publish to \"%s\" inserted " UINT64_FORMAT " of %d rows",
			 queue->relname, SPI_processed, count);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		id = SPI_getbinval(SPI_tuptable->vals[i],
									   SPI_tuptable->tupdesc, 1, &isnull);

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &id, &isnull);
	}
	SPI_finish();
	pgq_note_published(relid, count);
	notify_publish(queue);
	pgq_end_call();

	return (Datum) 0;
}
