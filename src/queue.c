/*-------------------------------------------------------------------------
 *
 * queue.c
 *	  Queue DDL: pgq_create_queue, pgq_register_queue, pgq_alter_queue and
 *	  pgq_drop_queue.
 *
 * Table DDL runs through SPI as the calling user, so PostgreSQL's own rules
 * decide who may create (CREATE on the schema), change or drop (ownership)
 * a queue table.  The catalog row is written by pgq_config_write() after an
 * explicit ownership check.  Everything happens in the caller's transaction:
 * an error anywhere leaves nothing behind.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/index.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "pgq.h"

PG_FUNCTION_INFO_V1(pgq_create_queue);
PG_FUNCTION_INFO_V1(pgq_register_queue);
PG_FUNCTION_INFO_V1(pgq_alter_queue);
PG_FUNCTION_INFO_V1(pgq_alter_queue_1_1);
PG_FUNCTION_INFO_V1(pgq_drop_queue);


static void
check_queue_owner(Oid relid)
{
#if PG_VERSION_NUM >= 160000
	if (!object_ownercheck(RelationRelationId, relid, GetUserId()))
#else
	if (!pg_class_ownercheck(relid, GetUserId()))
#endif
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, get_rel_name(relid));
}

/*
 * May the current user administer this queue (alter, drop)?  Its owner may,
 * and so may a role given pgq_grant(..., 'admin') on this queue (recorded
 * in pgq_grants).  Errors otherwise.  Returns the role table DDL must run
 * as: the owner.
 */
static Oid
check_queue_admin(Oid relid)
{
	Oid			owner = pgq_rel_owner(relid);

	if (has_privs_of_role(GetUserId(), owner))
		return GetUserId();
	if (pgq_is_queue_admin(relid))
		return owner;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("must be owner or admin of queue \"%s\"", get_rel_name(relid)),
			 errhint("The owner can grant it with pgq_grant(queue, role, 'admin').")));
	return InvalidOid;			/* keep compiler quiet */
}

/* Run table DDL as the given role (the queue's owner, for an admin). */
static void
run_sql_as(Oid role, const char *sql)
{
	Oid			save_userid;
	int			save_sec;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	if (role != save_userid)
		SetUserIdAndSecContext(role, save_sec | SECURITY_LOCAL_USERID_CHANGE |
							   SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		pgq_run_sql(sql);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec);
	}
	PG_END_TRY();
}

static void
check_interval_option(const char *name, const Interval *span, bool allow_zero)
{
	int			sign = pgq_interval_sign(span);

	if (sign < 0 || (sign == 0 && !allow_zero))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be %s", name,
						allow_zero ? "zero or positive" : "positive")));
}

/* Check the values of the options that are set. */
void
pgq_validate_options(PgqQueueOptions *opts)
{
	if (opts->has_max_attempts && opts->max_attempts < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_attempts must be zero or positive"),
				 errdetail("Zero means no limit.")));
	if (opts->has_lock_duration)
		check_interval_option("lock_duration", &opts->lock_duration, false);
	if (opts->has_retry_delay)
		check_interval_option("retry_delay", &opts->retry_delay, true);
	if (opts->has_retention)
		check_interval_option("retention", &opts->retention, true);
}

/*
 * Read the option arguments starting at argument first: max_attempts,
 * lock_duration, retry_delay, retention, and (when with_unlogged) unlogged.
 * With required, a NULL is an error (retention excepted: NULL keeps finished
 * rows until purged); otherwise NULL leaves the setting as it is.
 */
static void
read_options(FunctionCallInfo fcinfo, int first, bool required,
			 bool with_unlogged, PgqQueueOptions *opts)
{
	memset(opts, 0, sizeof(*opts));
	if (required)
	{
		pgq_arg_not_null(fcinfo, first, "max_attempts");
		pgq_arg_not_null(fcinfo, first + 1, "lock_duration");
		pgq_arg_not_null(fcinfo, first + 2, "retry_delay");
		if (with_unlogged)
			pgq_arg_not_null(fcinfo, first + 4, "unlogged");
	}
	if (!PG_ARGISNULL(first))
	{
		opts->has_max_attempts = true;
		opts->max_attempts = PG_GETARG_INT32(first);
	}
	if (!PG_ARGISNULL(first + 1))
	{
		opts->has_lock_duration = true;
		opts->lock_duration = *PG_GETARG_INTERVAL_P(first + 1);
	}
	if (!PG_ARGISNULL(first + 2))
	{
		opts->has_retry_delay = true;
		opts->retry_delay = *PG_GETARG_INTERVAL_P(first + 2);
	}
	if (!PG_ARGISNULL(first + 3))
	{
		opts->has_retention = true;
		opts->retention = *PG_GETARG_INTERVAL_P(first + 3);
	}
	if (with_unlogged && !PG_ARGISNULL(first + 4))
	{
		opts->has_unlogged = true;
		opts->unlogged = PG_GETARG_BOOL(first + 4);
	}
	pgq_validate_options(opts);
}

static bool has_index_named(Oid relid, Oid nspid, const char *name);

/*
 * CREATE INDEX statements of the indexes pgq needs on a queue table; with a
 * valid relid, only of those the table does not have yet.
 */
static void
append_queue_indexes(StringInfo buf, const char *relname, const char *table,
					 Oid relid, Oid nspid)
{
	static const struct
	{
		const char *suffix;
		const char *definition;
	}			indexes[] = {
		/* the dequeue index: ready rows, oldest first */
		{PGQ_SUFFIX_READY_IDX, "(available_at) WHERE processed_at IS NULL"},
		/* the Go library checks for an index on created_at */
		{PGQ_SUFFIX_CREATED_IDX, "(created_at) WHERE processed_at IS NULL"},
		/* finished rows: purge and retention */
		{PGQ_SUFFIX_DONE_IDX, "(processed_at) WHERE processed_at IS NOT NULL"},
		/* leases: reclaim, pgq_in_flight */
		{PGQ_SUFFIX_LEASE_IDX, "(locked_until) WHERE locked_until IS NOT NULL AND processed_at IS NULL"},
		/* failures: pgq_failures */
		{PGQ_SUFFIX_FAILED_IDX, "(processed_at) WHERE error_detail IS NOT NULL"},
	};

	for (int i = 0; i < lengthof(indexes); i++)
	{
		char	   *name = pgq_derived_name(relname, indexes[i].suffix);

		if (!has_index_named(relid, nspid, name))
			appendStringInfo(buf, "CREATE INDEX %s ON %s %s;\n",
							 quote_identifier(name), table, indexes[i].definition);
	}
}

/* Insert the catalog row of a new queue. */
static void
insert_config(Oid relid, PgqQueueOptions *opts)
{
	Oid			types[5] = {REGCLASSOID, INT4OID, INTERVALOID, INTERVALOID, INTERVALOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};

	values[0] = ObjectIdGetDatum(relid);
	values[1] = Int32GetDatum(opts->max_attempts);
	values[2] = IntervalPGetDatum(&opts->lock_duration);
	values[3] = IntervalPGetDatum(&opts->retry_delay);
	values[4] = IntervalPGetDatum(&opts->retention);
	if (!opts->has_retention)
		nulls[4] = 'n';
	pgq_config_write("INSERT INTO %s (queue, max_attempts, lock_duration,"
					 " retry_delay, retention) VALUES ($1, $2, $3, $4, $5)",
					 5, types, values, nulls);
}

/*
 * pgq_create_queue(queue text, max_attempts, lock_duration, retry_delay,
 *					retention, unlogged) returns regclass
 */
Datum
pgq_create_queue(PG_FUNCTION_ARGS)
{
	char	   *input;
	char	   *schemaname;
	char	   *relname;
	Oid			nspid;
	Oid			relid;
	char	   *table;
	PgqQueueOptions opts;
	StringInfoData ddl;

	pgq_arg_not_null(fcinfo, 0, "queue");
	input = text_to_cstring(PG_GETARG_TEXT_PP(0));
	read_options(fcinfo, 1, true, true, &opts);

	pgq_parse_queue_name(input, &schemaname, &relname);
	pgq_check_name_fits(relname);
	if (schemaname != NULL)
		nspid = LookupCreationNamespace(schemaname);
	else
		nspid = RangeVarGetCreationNamespace(makeRangeVar(NULL, relname, -1));

	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot create queue \"%s\" during recovery", relname)));
	if (isAnyTempNamespace(nspid))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a queue cannot be a temporary table"),
				 errdetail("Its settings would outlive the session that owns the table."),
				 errhint("Create the queue in a permanent schema; use unlogged => true for a queue that need not survive a crash.")));

	relid = get_relname_relid(relname, nspid);
	if (OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_TABLE),
				 pgq_is_queue(relid) ?
				 errmsg("queue \"%s\" already exists", relname) :
				 errmsg("relation \"%s\" already exists", relname),
				 errhint("Adopt an existing table of the right shape with pgq_register_queue().")));

	table = quote_qualified_identifier(get_namespace_name(nspid), relname);
	initStringInfo(&ddl);
	appendStringInfo(&ddl,
					 "CREATE %sTABLE %s (\n"
					 " id pg_catalog.uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid(),\n"
					 " created_at pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),\n"
					 " started_at pg_catalog.timestamptz,\n"
					 " locked_until pg_catalog.timestamptz,\n"
					 " scheduled_for pg_catalog.timestamptz,\n"
					 " processed_at pg_catalog.timestamptz,\n"
					 " consumed_count pg_catalog.int4 NOT NULL DEFAULT 0,\n"
					 " error_detail pg_catalog.text,\n"
					 " payload pg_catalog.jsonb NOT NULL,\n"
					 " metadata pg_catalog.jsonb NOT NULL DEFAULT '{}'::pg_catalog.jsonb,\n"
					 " lease_holder pg_catalog.text,\n"
					 " available_at pg_catalog.timestamptz GENERATED ALWAYS AS (" PGQ_AVAILABLE_AT_EXPR ") STORED,\n"
					 " CONSTRAINT %s PRIMARY KEY (id)\n"
					 ");\n",
					 opts.unlogged ? "UNLOGGED " : "", table,
					 quote_identifier(pgq_derived_name(relname, PGQ_SUFFIX_PKEY)));
	append_queue_indexes(&ddl, relname, table, InvalidOid, nspid);

	SPI_connect();
	pgq_run_sql(ddl.data);
	relid = get_relname_relid(relname, nspid);
	if (!OidIsValid(relid))
		elog(ERROR, "pgq: queue table \"%s\" vanished after creation", relname);
	/* the same string must name the new table in every other function */
	if (schemaname == NULL && RelnameGetRelid(relname) != relid)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_TABLE),
				 errmsg("queue name \"%s\" would refer to another relation", input),
				 errdetail("Relation \"%s\" earlier on the search path has that name.",
						   get_rel_name(RelnameGetRelid(relname))),
				 errhint("Qualify the name with a schema.")));
	insert_config(relid, &opts);
	SPI_finish();
	pgq_note_created(relid);

	PG_RETURN_OID(relid);
}

/* Is name among the missing column names? */
static bool
has_missing(List *missing, const char *name)
{
	ListCell   *lc;

	foreach(lc, missing)
		if (strcmp((const char *) lfirst(lc), name) == 0)
			return true;
	return false;
}

/* Is there an index named name on the table relid? */
static bool
has_index_named(Oid relid, Oid nspid, const char *name)
{
	Oid			indexid;

	if (!OidIsValid(relid))
		return false;			/* a new table has none */
	indexid = get_relname_relid(name, nspid);
	if (!OidIsValid(indexid))
		return false;
	if (get_rel_relkind(indexid) != RELKIND_INDEX)
		return false;
	return IndexGetRelation(indexid, true) == relid;
}

/* Does the table have a unique, non-partial index on id alone? */
static bool
has_unique_id(Relation rel, AttrNumber id_attnum)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	bool		found = false;

	foreach(lc, indexes)
	{
		HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
		Form_pg_index index;

		if (!HeapTupleIsValid(tup))
			continue;
		index = (Form_pg_index) GETSTRUCT(tup);
		if (index->indisunique && index->indisvalid && index->indnkeyatts == 1 &&
			index->indkey.values[0] == id_attnum &&
			heap_attisnull(tup, Anum_pg_index_indpred, NULL))
			found = true;
		ReleaseSysCache(tup);
	}
	list_free(indexes);
	return found;
}

/*
 * pgq_register_queue(queue regclass, max_attempts, lock_duration,
 *					  retry_delay, retention) returns regclass
 *
 * Adopt an existing table of the Go library's shape: check its columns, add
 * scheduled_for (older Go schemas lack it), lease_holder, available_at and
 * pgq's indexes, and register it.
 */
Datum
pgq_register_queue(PG_FUNCTION_ARGS)
{
	Oid			relid = pgq_arg_queue(fcinfo, 0);
	PgqQueueOptions opts;
	Relation	rel;
	TupleDesc	desc;
	char	   *relname;
	Oid			nspid;
	char	   *table;
	StringInfoData ddl;
	AttrNumber	id_attnum = InvalidAttrNumber;
	bool		has_lease_holder = false;
	bool		has_available_at = false;
	bool		id_has_default = false;
	bool		add_scheduled_for = false;
	List	   *missing;

	read_options(fcinfo, 1, true, false, &opts);

	/* the privilege check comes before a lock that would block others */
	check_queue_owner(relid);
	rel = table_open(relid, AccessExclusiveLock);
	relname = pstrdup(RelationGetRelationName(rel));
	nspid = RelationGetNamespace(rel);
	if (rel->rd_rel->relkind != RELKIND_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", relname),
				 errdetail("A queue is a plain table; partitioned tables, views and foreign tables are not supported.")));
	if (rel->rd_rel->relpersistence == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a queue cannot be a temporary table"),
				 errdetail("Its settings would outlive the session that owns the table.")));
	if (pgq_is_queue(relid))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("table \"%s\" is already a queue", relname)));
	if (rel->rd_rel->relrowsecurity)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("table \"%s\" has row-level security enabled", relname),
				 errdetail("pgq does not serve queues whose rows some consumers cannot see."),
				 errhint("Disable it with ALTER TABLE ... DISABLE ROW LEVEL SECURITY, or use one queue per audience.")));
	pgq_check_name_fits(relname);

	pgq_check_queue_shape(rel, true, &missing);
	add_scheduled_for = has_missing(missing, "scheduled_for");
	has_lease_holder = !has_missing(missing, "lease_holder");
	has_available_at = !has_missing(missing, "available_at");
	desc = RelationGetDescr(rel);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), "id") == 0)
		{
			id_attnum = att->attnum;
			id_has_default = att->atthasdef;
		}
	}

	table = quote_qualified_identifier(get_namespace_name(nspid), relname);
	initStringInfo(&ddl);
	if (!id_has_default)
		appendStringInfo(&ddl, "ALTER TABLE %s ALTER COLUMN id SET DEFAULT pg_catalog.gen_random_uuid();\n", table);
	if (!has_unique_id(rel, id_attnum))
		appendStringInfo(&ddl, "ALTER TABLE %s ADD CONSTRAINT %s PRIMARY KEY (id);\n", table,
						 quote_identifier(pgq_derived_name(relname, PGQ_SUFFIX_PKEY)));
	if (add_scheduled_for)
		appendStringInfo(&ddl, "ALTER TABLE %s ADD COLUMN scheduled_for pg_catalog.timestamptz;\n", table);
	if (!has_lease_holder)
		appendStringInfo(&ddl, "ALTER TABLE %s ADD COLUMN lease_holder pg_catalog.text;\n", table);
	if (!has_available_at)
		appendStringInfo(&ddl, "ALTER TABLE %s ADD COLUMN available_at pg_catalog.timestamptz"
						 " GENERATED ALWAYS AS (" PGQ_AVAILABLE_AT_EXPR ") STORED;\n", table);
	table_close(rel, NoLock);

	append_queue_indexes(&ddl, relname, table, relid, nspid);

	SPI_connect();
	pgq_run_sql(ddl.data);
	insert_config(relid, &opts);
	SPI_finish();
	CacheInvalidateRelcacheByRelid(relid);

	PG_RETURN_OID(relid);
}

/*
 * pgq_alter_queue(queue regclass, max_attempts, lock_duration, retry_delay,
 *				   retention, unlogged, reset_retention [, notify]) returns void
 *
 * NULL leaves a setting unchanged; reset_retention => true keeps finished
 * rows until purged again.
 */
/*
 * After max_attempts was lowered, a waiting message that already used the
 * new number of attempts can never be delivered: make it dead, with the
 * reason, so that it shows as a failure and pgq_requeue can bring it back.
 * Leased ones are left to the reclaim at their lease end.  Runs as the
 * table's owner, restricted.
 */
static void
kill_used_up(PgqQueue *queue, int32 max_attempts)
{
	PgqSavedUser saved;
	Oid			types[2] = {TIMESTAMPTZOID, INT4OID};
	Datum		values[2];
	int			rc;

	values[0] = TimestampTzGetDatum(pgq_now());
	values[1] = Int32GetDatum(max_attempts);
	pgq_become_owner(queue->relid, &saved);
	rc = SPI_execute_with_args(psprintf("UPDATE %s q SET processed_at = $1, locked_until = NULL,"
										" lease_holder = NULL,"
										" error_detail = pg_catalog.concat('attempts used up: max_attempts lowered to ', $2)"
										" WHERE q.processed_at IS NULL"
										" AND q.consumed_count OPERATOR(pg_catalog.>=) $2"
										" AND (q.locked_until IS NULL OR q.locked_until OPERATOR(pg_catalog.<=) $1)",
										queue->qualname),
							   2, types, values, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "pgq: dead-lettering in \"%s\" failed", queue->relname);
	pgq_note_gauge(queue->relid, PGQ_G_UNFINISHED, -(int64) SPI_processed);
	pgq_note_gauge(queue->relid, PGQ_G_DEAD, (int64) SPI_processed);
	pgq_note_count(queue->relid, PGQ_C_DIED, (int64) SPI_processed);
	pgq_restore_user(&saved);
}

static void
alter_queue(FunctionCallInfo fcinfo, bool with_notify)
{
	Oid			relid = pgq_arg_queue(fcinfo, 0);
	PgqQueue   *queue;
	PgqQueueOptions opts;
	Oid			ddl_role;
	Oid			types[7] = {REGCLASSOID, INT4OID, INTERVALOID, INTERVALOID,
	INTERVALOID, BOOLOID, BOOLOID};
	Datum		values[7];
	char		nulls[7] = {' ', 'n', 'n', 'n', 'n', ' ', 'n'};

	read_options(fcinfo, 1, false, true, &opts);
	opts.reset_retention = !PG_ARGISNULL(6) && PG_GETARG_BOOL(6);
	if (with_notify && !PG_ARGISNULL(7))
	{
		opts.has_notify = true;
		opts.notify = PG_GETARG_BOOL(7);
	}
	if (opts.reset_retention && opts.has_retention)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("retention and reset_retention cannot both be given")));

	ddl_role = check_queue_admin(relid);
	queue = pgq_open_queue(relid, ShareUpdateExclusiveLock);
	pgq_check_writable("alter", queue);

	values[0] = ObjectIdGetDatum(relid);
	if (opts.has_max_attempts)
	{
		values[1] = Int32GetDatum(opts.max_attempts);
		nulls[1] = ' ';
	}
	if (opts.has_lock_duration)
	{
		values[2] = IntervalPGetDatum(&opts.lock_duration);
		nulls[2] = ' ';
	}
	if (opts.has_retry_delay)
	{
		values[3] = IntervalPGetDatum(&opts.retry_delay);
		nulls[3] = ' ';
	}
	if (opts.has_retention)
	{
		values[4] = IntervalPGetDatum(&opts.retention);
		nulls[4] = ' ';
	}
	values[5] = BoolGetDatum(opts.reset_retention);
	if (opts.has_notify)
	{
		values[6] = BoolGetDatum(opts.notify);
		nulls[6] = ' ';
	}

	SPI_connect();
	pgq_config_write("UPDATE %s SET"
					 " max_attempts = COALESCE($2, max_attempts),"
					 " lock_duration = COALESCE($3, lock_duration),"
					 " retry_delay = COALESCE($4, retry_delay),"
					 " retention = CASE WHEN $6 THEN NULL ELSE COALESCE($5, retention) END"
					 " WHERE queue OPERATOR(pg_catalog.=) $1",
					 6, types, values, nulls);
	if (with_notify)
		pgq_config_write("UPDATE %s SET notify = COALESCE($7, notify)"
						 " WHERE queue OPERATOR(pg_catalog.=) $1",
						 7, types, values, nulls);
	if (opts.has_max_attempts && opts.max_attempts > 0)
		kill_used_up(queue, opts.max_attempts);
	if (opts.has_retention && pgq_interval_sign(&opts.retention) == 0)
	{
		/* acks now delete: consumers need DELETE */
		char	   *grants = pgq_consumer_delete_grants(queue);

		if (grants != NULL)
			run_sql_as(ddl_role, grants);
	}
	if (opts.has_unlogged &&
		opts.unlogged != (get_rel_persistence(relid) == RELPERSISTENCE_UNLOGGED))
		run_sql_as(ddl_role, psprintf("ALTER TABLE %s SET %s", queue->qualname,
									  opts.unlogged ? "UNLOGGED" : "LOGGED"));
	SPI_finish();

	/* other backends drop their plans and settings of this queue */
	CacheInvalidateRelcacheByRelid(relid);
}

/* 1.0's signature, kept for databases not updated yet */
Datum
pgq_alter_queue(PG_FUNCTION_ARGS)
{
	alter_queue(fcinfo, false);
	PG_RETURN_VOID();
}

/* since 1.1: notify as the last argument */
Datum
pgq_alter_queue_1_1(PG_FUNCTION_ARGS)
{
	alter_queue(fcinfo, true);
	PG_RETURN_VOID();
}

/* pgq_drop_queue(queue regclass) returns void */
Datum
pgq_drop_queue(PG_FUNCTION_ARGS)
{
	Oid			relid = pgq_arg_queue(fcinfo, 0);
	Oid			ddl_role = check_queue_admin(relid);	/* before the lock */
	PgqQueue   *queue = pgq_open_queue(relid, AccessExclusiveLock);
	Oid			types[1] = {REGCLASSOID};
	Datum		values[1];
	char	   *qualname = pstrdup(queue->qualname);

	pgq_check_writable("drop", queue);
	values[0] = ObjectIdGetDatum(relid);

	SPI_connect();
	run_sql_as(ddl_role, psprintf("DROP TABLE %s", qualname));
	/* the sql_drop event trigger also does this; be explicit */
	pgq_config_write("DELETE FROM %s WHERE queue OPERATOR(pg_catalog.=) $1",
					 1, types, values, NULL);
	SPI_finish();
	PG_RETURN_VOID();
}
