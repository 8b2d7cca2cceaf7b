/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  The queue catalog (pgq_queue_config) and the backend-local queue cache.
 *
 * Reading: pgq_open_queue() locks the queue table, then looks the table up
 * in a backend-local hash.  Taking the lock first matters: it processes
 * pending invalidation messages, so DDL on the table (rename, drop, ALTER)
 * or pgq_alter_queue() in another session is seen before a cached plan runs.
 * A missing or stale entry is rebuilt from pgq_queue_config, read directly
 * from the heap through its primary key (no SQL, no privilege check: the
 * settings are not secret and every caller needs them).
 *
 * Writing: pgq_config_write() runs fixed, fully qualified SQL against the
 * catalog as the extension's owner in a restricted security context.
 * Callers check first that the current user owns the queue table.
 *
 * Plans: pgq_plan() prepares a hot-path statement once per queue and
 * backend (SPI_keepplan).  Plans of an invalidated entry are retired, and
 * freed only when no pgq call is running in this backend, because a trigger
 * on a queue table may re-enter pgq while an outer plan executes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/genam.h"
#include "access/heapam.h"
#include "access/tableam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/pg_type.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/acl.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/resowner.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/jsonb.h"

#include "pgq.h"

/* Column numbers of pgq_queue_config (see sql/pgq--1.0.sql). */
#define Anum_config_queue			1
#define Anum_config_max_attempts	2
#define Anum_config_lock_duration	3
#define Anum_config_retry_delay		4
#define Anum_config_retention		5
#define Anum_config_notify			7	/* since 1.1 */

static HTAB *queue_cache = NULL;
static MemoryContext queue_cache_cxt = NULL;
static List *retired_plans = NIL;	/* SPIPlanPtr, freed when idle */
static int	pgq_call_depth = 0;
static bool xact_callback_registered = false;

/*
 * Relcache callback: any change to a queue table (or all tables, relid
 * InvalidOid) marks the cached entry stale.  Nothing is freed here.
 */
static void
queue_cache_invalidate(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	PgqQueue   *entry;

	if (queue_cache == NULL)
		return;
	if (OidIsValid(relid))
	{
		entry = hash_search(queue_cache, &relid, HASH_FIND, NULL);
		if (entry != NULL)
			entry->valid = false;
		return;
	}
	hash_seq_init(&status, queue_cache);
	while ((entry = hash_seq_search(&status)) != NULL)
		entry->valid = false;
}

/* At the end of a top-level transaction no pgq plan can be running. */
static void
pgq_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_PREPARE)
		pgq_call_depth = 0;
}

static void
queue_cache_init(void)
{
	HASHCTL		ctl;

	queue_cache_cxt = AllocSetContextCreate(CacheMemoryContext,
											"pgq queue cache",
											ALLOCSET_SMALL_SIZES);
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(PgqQueue);
	ctl.hcxt = queue_cache_cxt;
	queue_cache = hash_create("pgq queues", 32, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	CacheRegisterRelcacheCallback(queue_cache_invalidate, (Datum) 0);
	if (!xact_callback_registered)
	{
		RegisterXactCallback(pgq_xact_callback, NULL);
		xact_callback_registered = true;
	}
}

/* Mark the start and end of a pgq SQL function's use of cached plans. */
void
pgq_begin_call(void)
{
	if (pgq_call_depth == 0 && retired_plans != NIL)
	{
		ListCell   *lc;

		foreach(lc, retired_plans)
			SPI_freeplan((SPIPlanPtr) lfirst(lc));
		list_free(retired_plans);
		retired_plans = NIL;
	}
	pgq_call_depth++;
}

void
pgq_end_call(void)
{
	if (pgq_call_depth > 0)
		pgq_call_depth--;
}

/*
 * The schema pgq is installed in, and optionally its owner.  Errors when the
 * extension is not installed in this database (the library can be loaded
 * without it, e.g. by shared_preload_libraries).
 */
Oid
pgq_extension_schema(Oid *ext_owner)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid			nspid = InvalidOid;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum(PGQ_EXTENSION_NAME));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		Form_pg_extension ext = (Form_pg_extension) GETSTRUCT(tuple);

		nspid = ext->extnamespace;
		if (ext_owner)
			*ext_owner = ext->extowner;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	if (!OidIsValid(nspid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"%s\" is not installed in this database",
						PGQ_EXTENSION_NAME),
				 errhint("Run CREATE EXTENSION pgq.")));
	return nspid;
}

static Oid
config_relid(Oid nspid, Oid *pkey_relid)
{
	Oid			relid = get_relname_relid(PGQ_CONFIG_TABLE, nspid);

	*pkey_relid = get_relname_relid(PGQ_CONFIG_PKEY, nspid);
	if (!OidIsValid(relid) || !OidIsValid(*pkey_relid))
		elog(ERROR, "pgq catalog table %s.%s is missing",
			 get_namespace_name(nspid), PGQ_CONFIG_TABLE);
	return relid;
}

/*
 * Read the catalog row of a queue table into *entry's settings.  Returns
 * false when the table is not a queue.
 */
static bool
config_read(Oid relid, PgqQueue *entry)
{
	Oid			nspid = pgq_extension_schema(NULL);
	Oid			pkey;
	Oid			crelid = config_relid(nspid, &pkey);
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	bool		found = false;

	rel = table_open(crelid, AccessShareLock);
	ScanKeyInit(&key, Anum_config_queue, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	scan = systable_beginscan(rel, pkey, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple) && entry != NULL)
	{
		TupleDesc	desc = RelationGetDescr(rel);
		bool		isnull;
		Datum		d;

		entry->max_attempts = DatumGetInt32(heap_getattr(tuple, Anum_config_max_attempts, desc, &isnull));
		d = heap_getattr(tuple, Anum_config_lock_duration, desc, &isnull);
		entry->lock_duration = *DatumGetIntervalP(d);
		d = heap_getattr(tuple, Anum_config_retry_delay, desc, &isnull);
		entry->retry_delay = *DatumGetIntervalP(d);
		d = heap_getattr(tuple, Anum_config_retention, desc, &isnull);
		entry->has_retention = !isnull;
		if (!isnull)
			entry->retention = *DatumGetIntervalP(d);
		entry->notify = false;
		if (desc->natts >= Anum_config_notify)
		{
			d = heap_getattr(tuple, Anum_config_notify, desc, &isnull);
			entry->notify = !isnull && DatumGetBool(d);
		}
	}
	found = HeapTupleIsValid(tuple);
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/* Is relid registered as a queue?  Takes no lock on the table. */
bool
pgq_is_queue(Oid relid)
{
	return config_read(relid, NULL);
}

/* Every queue in the catalog, as a list of table OIDs. */
List *
pgq_all_queues(void)
{
	Oid			nspid = pgq_extension_schema(NULL);
	Oid			pkey;
	Oid			crelid = config_relid(nspid, &pkey);
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tuple;
	List	   *result = NIL;

	rel = table_open(crelid, AccessShareLock);
	scan = systable_beginscan(rel, pkey, true, NULL, 0, NULL);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		bool		isnull;
		Datum		d = heap_getattr(tuple, Anum_config_queue,
									 RelationGetDescr(rel), &isnull);

		result = lappend_oid(result, DatumGetObjectId(d));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return result;
}

static void
retire_plans(PgqQueue *entry)
{
	MemoryContext old = MemoryContextSwitchTo(queue_cache_cxt);

	for (int i = 0; i < PGQ_NUM_PLANS; i++)
	{
		if (entry->plans[i] != NULL)
			retired_plans = lappend(retired_plans, entry->plans[i]);
		entry->plans[i] = NULL;
	}
	MemoryContextSwitchTo(old);
	if (entry->relname)
		pfree(entry->relname);
	if (entry->qualname)
		pfree(entry->qualname);
	entry->relname = NULL;
	entry->qualname = NULL;
}

/*
 * A table with pgq's whole shape (its generated available_at, lease_holder
 * and dequeue index) but no catalog row is a queue whose settings were
 * lost: a schema-only dump restores the tables but not the rows of
 * pgq_queue_config, which are data.  Register it with the default
 * settings, with a NOTICE, and return true.  Only in a transaction that
 * may write.
 */
static bool
adopt_restored_queue(Oid relid, const char *relname)
{
	Relation	rel;
	Oid			types[1] = {REGCLASSOID};
	Datum		values[1];
	bool		ok;

	if (RecoveryInProgress() || XactReadOnly ||
		!OidIsValid(get_relname_relid(pgq_derived_name(relname, PGQ_SUFFIX_READY_IDX),
									  get_rel_namespace(relid))))
		return false;
	rel = relation_open(relid, NoLock);
	ok = pgq_has_queue_shape(rel);
	relation_close(rel, NoLock);
	if (!ok)
		return false;

	values[0] = ObjectIdGetDatum(relid);
	SPI_connect();
	pgq_config_write("INSERT INTO %s (queue) VALUES ($1)", 1, types, values, NULL);
	SPI_finish();
	ereport(NOTICE,
			(errmsg("table \"%s\" has the shape of a queue but no settings: registered with the defaults", relname),
			 errhint("A schema-only dump does not carry pgq_queue_config; set the settings again with pgq_alter_queue().")));
	return true;
}

/*
 * Lock a queue table and return its cache entry, rebuilt if stale.  Errors
 * when the relation is gone or is not a queue.
 */
PgqQueue *
pgq_open_queue(Oid relid, LOCKMODE lockmode)
{
	PgqQueue   *entry;
	bool		found;
	HeapTuple	classtup;
	Form_pg_class classform;
	char	   *relname;
	char		relkind;
	char		relpersistence;
	bool		relrowsecurity;
	Relation	rel;
	MemoryContext old;

	if (queue_cache == NULL)
		queue_cache_init();

	/* a standby takes no lock above RowExclusiveLock: say why, in our words */
	if (lockmode > RowExclusiveLock && RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot change queue \"%s\" during recovery",
						get_rel_name(relid) ? get_rel_name(relid) : "?"),
				 errdetail("This server is a standby; queues are read-only here."),
				 errhint("Connect to the primary server.")));
	LockRelationOid(relid, lockmode);
	entry = hash_search(queue_cache, &relid, HASH_ENTER, &found);
	if (!found)
	{
		memset(((char *) entry) + sizeof(Oid), 0, sizeof(PgqQueue) - sizeof(Oid));
		entry->valid = false;
	}
	if (entry->valid)
		return entry;			/* the lock has processed invalidations */

	classtup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(classtup))
	{
		UnlockRelationOid(relid, lockmode);
		hash_search(queue_cache, &relid, HASH_REMOVE, NULL);
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	}
	classform = (Form_pg_class) GETSTRUCT(classtup);
	relname = pstrdup(NameStr(classform->relname));
	relkind = classform->relkind;
	relpersistence = classform->relpersistence;
	relrowsecurity = classform->relrowsecurity;
	ReleaseSysCache(classtup);

	retire_plans(entry);
	if (relkind == RELKIND_RELATION && !config_read(relid, entry) &&
		relpersistence != RELPERSISTENCE_TEMP && adopt_restored_queue(relid, relname))
		(void) config_read(relid, entry);
	if (relkind != RELKIND_RELATION || !config_read(relid, entry))
	{
		hash_search(queue_cache, &relid, HASH_REMOVE, NULL);
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("relation \"%s\" is not a queue", relname),
				 errhint("Create a queue with pgq_create_queue() or adopt a table with pgq_register_queue().")));
	}
	if (relpersistence == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("queue \"%s\" is a temporary table", relname),
				 errdetail("A queue cannot be a temporary table.")));
	if (relrowsecurity)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("queue \"%s\" has row-level security enabled", relname),
				 errdetail("pgq does not serve queues whose rows some consumers cannot see."),
				 errhint("Disable it with ALTER TABLE ... DISABLE ROW LEVEL SECURITY, or use one queue per audience.")));

	/* the statements pgq prepares rely on the exact column types */
	rel = relation_open(relid, NoLock);
	pgq_check_queue_shape(rel, false, NULL);
	relation_close(rel, NoLock);

	old = MemoryContextSwitchTo(queue_cache_cxt);
	entry->relname = pstrdup(relname);
	entry->qualname = pgq_quote_qualified(relid);
	MemoryContextSwitchTo(old);
	entry->valid = true;
	return entry;
}

/* The prepared plan id of a queue, prepared on first use.  Needs SPI. */
SPIPlanPtr
pgq_plan(PgqQueue *queue, PgqPlanId id)
{
	if (queue->plans[id] == NULL)
	{
		Oid			argtypes[8];
		int			nargs;
		char	   *sql = pgq_plan_sql(queue, id, &nargs, argtypes);
		SPIPlanPtr	plan;

		/*
		 * Message statements use their generic plan from the first call:
		 * it is the right one whatever the parameters, and a custom plan
		 * would be planned again on each call.  The monitoring statements
		 * keep custom plans, planned for the actual clock.
		 */
		plan = SPI_prepare_cursor(sql, nargs, argtypes,
								  id < PGQ_PLAN_STATS ? CURSOR_OPT_GENERIC_PLAN : 0);
		if (plan == NULL)
			elog(ERROR, "pgq: SPI_prepare failed for \"%s\": %s",
				 sql, SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "pgq: SPI_keepplan failed");
		queue->plans[id] = plan;
		pfree(sql);
	}
	return queue->plans[id];
}

/*
 * Run fixed SQL that writes pgq_queue_config as the extension's owner, in a
 * restricted security context.  The caller is connected to SPI and has
 * already checked that the current user may change this queue.  The SQL
 * names the catalog as %s, replaced by its quoted qualified name.
 */
void
pgq_config_write(const char *sql, int nargs, Oid *argtypes, Datum *values,
				 const char *nulls)
{
	pgq_catalog_write(PGQ_CONFIG_TABLE, sql, nargs, argtypes, values, nulls);
}

/* The same for any of pgq's catalog tables, named by catalog. */
void
pgq_catalog_write(const char *catalog, const char *sql, int nargs,
				  Oid *argtypes, Datum *values, const char *nulls)
{
	Oid			ext_owner = InvalidOid;
	Oid			nspid = pgq_extension_schema(&ext_owner);
	char	   *table = quote_qualified_identifier(get_namespace_name(nspid),
												   catalog);
	char	   *text = psprintf(sql, table);
	Oid			save_userid;
	int			save_sec;
	int			rc;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(ext_owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		rc = SPI_execute_with_args(text, nargs, argtypes, values, nulls,
								   false, 0);
		if (rc < 0)
			elog(ERROR, "pgq: catalog write failed: %s",
				 SPI_result_code_string(rc));
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec);
	}
	PG_END_TRY();
}

/*
 * Argument helpers shared by the SQL functions.  No function is STRICT: a
 * NULL where a value is needed is error 22004.
 */
void
pgq_arg_not_null(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name)));
}

Oid
pgq_arg_queue(FunctionCallInfo fcinfo, int argno)
{
	pgq_arg_not_null(fcinfo, argno, "queue");
	return PG_GETARG_OID(argno);
}

/* Refuse work that writes a queue on a standby, with a clear message. */
void
pgq_check_writable(const char *action, PgqQueue *queue)
{
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot %s queue \"%s\" during recovery", action,
						queue->relname),
				 errdetail("This server is a standby; queues are read-only here."),
				 errhint("Connect to the primary server.")));
}

/* Leases and timestamps use the wall clock, not the transaction start. */
TimestampTz
pgq_now(void)
{
	return GetCurrentTimestamp();
}

TimestampTz
pgq_add_interval(TimestampTz ts, const Interval *span)
{
	return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
												   TimestampTzGetDatum(ts),
												   IntervalPGetDatum(span)));
}

TimestampTz
pgq_sub_interval(TimestampTz ts, const Interval *span)
{
	return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
												   TimestampTzGetDatum(ts),
												   IntervalPGetDatum(span)));
}

/* -1, 0 or 1 as the interval is negative, zero or positive. */
int
pgq_interval_sign(const Interval *span)
{
	Interval	zero;

	memset(&zero, 0, sizeof(zero));
	return DatumGetInt32(DirectFunctionCall2(interval_cmp,
											 IntervalPGetDatum(span),
											 IntervalPGetDatum(&zero)));
}

/* Who takes a lease: application_name[pid], shown by pgq_in_flight. */
char *
pgq_lease_holder(void)
{
	extern char *application_name;

	if (application_name != NULL && application_name[0] != '\0')
		return psprintf("%s[%d]", application_name, MyProcPid);
	return psprintf("[%d]", MyProcPid);
}

/*
 * Metadata is a flat map of strings, as the Go library reads it: a JSON
 * object whose values are all strings.
 */
void
pgq_check_metadata(Datum metadata)
{
	Jsonb	   *jb = DatumGetJsonbP(metadata);
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			depth = 0;

	if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_IS_SCALAR(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("metadata must be a JSON object"),
				 errdetail("Metadata is a flat map of string keys to string values, for example {\"tenant\": \"acme\"}.")));
	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		if (tok == WJB_BEGIN_OBJECT || tok == WJB_BEGIN_ARRAY)
			depth++;
		else if (tok == WJB_END_OBJECT || tok == WJB_END_ARRAY)
			depth--;
		else if (tok == WJB_VALUE && v.type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("metadata values must be strings"),
					 errdetail("Metadata is a flat map of string keys to string values, for example {\"tenant\": \"acme\"}.")));
		if (depth > 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("metadata values must be strings"),
					 errdetail("Metadata is a flat map of string keys to string values, for example {\"tenant\": \"acme\"}.")));
	}
}

/* Refuse a payload larger than pgq.max_payload_bytes (0: no limit). */
void
pgq_check_payload_size(Datum payload)
{
	Size		size;

	if (pgq_max_payload_bytes <= 0)
		return;
	size = toast_raw_datum_size(payload);
	if (size > (Size) pgq_max_payload_bytes)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("payload of %zu bytes exceeds the limit of %d bytes", size,
						pgq_max_payload_bytes),
				 errhint("Keep large data elsewhere and publish a reference to it, or raise pgq.max_payload_bytes.")));
}

/*
 * Act as a queue table's owner, in a restricted security context with
 * search_path = pg_catalog, pg_temp, as VACUUM does: whatever code the
 * owner attached to the table (triggers, index expressions) runs with the
 * owner's rights, never the caller's.  Undo with pgq_restore_user().
 */
void
pgq_become_owner(Oid relid, PgqSavedUser *saved)
{
	Oid			owner = pgq_rel_owner(relid);

	GetUserIdAndSecContext(&saved->userid, &saved->sec_context);
	SetUserIdAndSecContext(owner, saved->sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	saved->nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
}

void
pgq_restore_user(PgqSavedUser *saved)
{
	AtEOXact_GUC(false, saved->nestlevel);
	SetUserIdAndSecContext(saved->userid, saved->sec_context);
}

/*
 * Run work on one queue of a sweep over many (pgq_reclaim(), the views) in
 * a subtransaction: a queue its owner broke (a changed column, row-level
 * security, a trigger that fails) is skipped with a WARNING instead of
 * failing the call for everyone.  Cancels and shutdowns are not caught.
 * Returns false when the queue was skipped.
 */
bool
pgq_try_queue(Oid relid, PgqQueueWork work, void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		work(relid, arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) == ERRCODE_OPERATOR_INTERVENTION)
			PG_RE_THROW();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("skipped queue \"%s\": %s",
						get_rel_name(relid) ? get_rel_name(relid) : "?", edata->message)));
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/*
 * The rows of pgq_grants matching a queue, a grantee and a privilege, each
 * InvalidOid or NULL for any, as a list of PgqGrant.  Empty before 1.1,
 * which added the table.  Read directly like pgq_queue_config.
 */
List *
pgq_granted(Oid relid, Oid grantee, const char *privilege)
{
	Oid			nspid = pgq_extension_schema(NULL);
	Oid			grelid = get_relname_relid(PGQ_GRANTS_TABLE, nspid);
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tuple;
	List	   *result = NIL;

	if (!OidIsValid(grelid))
		return NIL;
	rel = table_open(grelid, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (HeapTupleIsValid(tuple = heap_getnext(scan, ForwardScanDirection)))
	{
		TupleDesc	desc = RelationGetDescr(rel);
		bool		isnull;
		Oid			q = DatumGetObjectId(heap_getattr(tuple, 1, desc, &isnull));
		Oid			g = DatumGetObjectId(heap_getattr(tuple, 2, desc, &isnull));
		char	   *p = TextDatumGetCString(heap_getattr(tuple, 3, desc, &isnull));
		PgqGrant   *row;

		if ((OidIsValid(relid) && q != relid) ||
			(OidIsValid(grantee) && g != grantee) ||
			(privilege != NULL && strcmp(p, privilege) != 0))
			continue;
		row = palloc0(sizeof(PgqGrant));
		row->queue = q;
		row->grantee = g;
		strlcpy(row->privilege, p, sizeof(row->privilege));
		result = lappend(result, row);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	return result;
}

/* Was the current user (or a role it has the rights of) made admin of it? */
bool
pgq_is_queue_admin(Oid relid)
{
	ListCell   *lc;
	List	   *admins = pgq_granted(relid, InvalidOid, "admin");

	foreach(lc, admins)
		if (has_privs_of_role(GetUserId(), ((PgqGrant *) lfirst(lc))->grantee))
			return true;
	return false;
}

/* The owner of a relation. */
Oid
pgq_rel_owner(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/* Run SQL text (DDL, GRANT) through SPI, which the caller has connected. */
void
pgq_run_sql(const char *sql)
{
	int			rc = SPI_execute(sql, false, 0);

	if (rc < 0)
		elog(ERROR, "pgq: SPI_execute failed: %s", SPI_result_code_string(rc));
}
