/*-------------------------------------------------------------------------
 *
 * pgq.h
 *	  Shared declarations of the pgq extension: durable job queues kept in
 *	  plain tables.
 *
 * A queue is an ordinary table with the columns of Dataddo's Go library
 * (id, created_at, started_at, locked_until, scheduled_for, processed_at,
 * consumed_count, error_detail, payload, metadata) plus two of pgq's own:
 * lease_holder (who holds the current pgq lease) and the stored generated
 * column available_at = GREATEST(created_at, scheduled_for, locked_until)
 * that the dequeue index orders by.  Its settings live in the extension's
 * table pgq_queue_config, keyed by the table's regclass.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGQ_H
#define PGQ_H

#include "postgres.h"

#include "access/attnum.h"
#include "datatype/timestamp.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/pg_list.h"
#include "storage/condition_variable.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#define PGQ_EXTENSION_NAME		"pgq"
#define PGQ_CONFIG_TABLE		"pgq_queue_config"
#define PGQ_CONFIG_PKEY			"pgq_queue_config_pkey"
#define PGQ_GRANTS_TABLE		"pgq_grants"	/* since 1.1 */

/* A row of pgq_grants: what pgq_grant gave to whom on which queue. */
typedef struct PgqGrant
{
	Oid			queue;
	Oid			grantee;
	char		privilege[16];
} PgqGrant;

/*
 * Suffixes of the objects pgq_create_queue names after the queue table.  A
 * table name plus the longest of them must fit in NAMEDATALEN - 1 bytes.
 */
#define PGQ_SUFFIX_PKEY			"_pkey"
#define PGQ_SUFFIX_READY_IDX	"_ready_idx"
#define PGQ_SUFFIX_CREATED_IDX	"_created_idx"
#define PGQ_SUFFIX_DONE_IDX		"_done_idx"
#define PGQ_SUFFIX_LEASE_IDX	"_lease_idx"
#define PGQ_SUFFIX_FAILED_IDX	"_failed_idx"
#define PGQ_LONGEST_SUFFIX		PGQ_SUFFIX_CREATED_IDX

/* pgq's generated column, by which consumers find ready messages. */
#define PGQ_AVAILABLE_AT_EXPR	"GREATEST(created_at, scheduled_for, locked_until)"

/* Largest batch one call may consume, publish or finish. */
#define PGQ_MAX_BATCH_SIZE		10000

/* Rows the reclaim and retention sweeps touch per statement. */
#define PGQ_SWEEP_BATCH			1000

/* Default back-off doubles with each attempt up to this many doublings. */
#define PGQ_MAX_BACKOFF_DOUBLINGS 10

/* The prepared statements a queue keeps per backend (hot paths only). */
typedef enum PgqPlanId
{
	PGQ_PLAN_PUBLISH,
	PGQ_PLAN_PUBLISH_BATCH,
	PGQ_PLAN_CONSUME,
	PGQ_PLAN_CONSUME_FILTERED,
	PGQ_PLAN_CONSUME_ONE,
	PGQ_PLAN_ACK,
	PGQ_PLAN_ACK_BATCH,
	PGQ_PLAN_NACK,
	PGQ_PLAN_DISCARD,
	PGQ_PLAN_EXTEND,
	PGQ_PLAN_NEXT_DUE,
	PGQ_PLAN_STATS,
	PGQ_PLAN_COUNT,
	PGQ_PLAN_IN_FLIGHT,
	PGQ_PLAN_FAILED,
	PGQ_PLAN_FINISHED_TIMES,
	PGQ_NUM_PLANS
} PgqPlanId;

/*
 * A queue as this backend knows it: the table's name and settings, and the
 * plans prepared for it.  Entries live in a backend-local hash keyed by the
 * table's OID; a relcache invalidation of the table (any DDL on it, or
 * pgq_alter_queue) marks the entry stale and the next use rebuilds it.
 */
typedef struct PgqQueue
{
	Oid			relid;			/* hash key: the queue table */
	bool		valid;			/* false once invalidated */
	char	   *relname;		/* bare table name, for messages */
	char	   *qualname;		/* quoted schema.table, for SQL text */
	int32		max_attempts;	/* 0 = unlimited */
	Interval	lock_duration;
	Interval	retry_delay;
	bool		has_retention;
	Interval	retention;
	bool		notify;			/* NOTIFY pgq_<table> at each publish */
	SPIPlanPtr	plans[PGQ_NUM_PLANS];
} PgqQueue;

/* The parsed settings of pgq_create_queue and friends. */
typedef struct PgqQueueOptions
{
	bool		has_max_attempts;
	int32		max_attempts;
	bool		has_lock_duration;
	Interval	lock_duration;
	bool		has_retry_delay;
	Interval	retry_delay;
	bool		has_retention;
	Interval	retention;
	bool		reset_retention;
	bool		has_unlogged;
	bool		unlogged;
	bool		has_notify;
	bool		notify;
} PgqQueueOptions;

/* Shared memory (shmem.c), present only with shared_preload_libraries. */
#define PGQ_WAIT_SLOTS			128
#define PGQ_MAX_DATABASES		64
#define PGQ_WAKE_ALL_THRESHOLD	16
#define PGQ_ERROR_LEN			256

typedef struct PgqWaitSlot
{
	ConditionVariable plain;	/* consumers without a metadata filter */
	ConditionVariable filtered; /* consumers with one */
} PgqWaitSlot;

/* What the background worker did in one database. */
typedef struct PgqDbState
{
	Oid			dboid;			/* InvalidOid: entry free */
	bool		has_extension;	/* pgq installed there at the last check */
	int			pid;			/* per-database worker running now, or 0 */
	TimestampTz last_checked;	/* last visit of a worker */
	TimestampTz last_run;		/* end of the last complete pass */
	TimestampTz last_sampled;	/* last history sample */
	int64		passes;
	int64		last_reclaimed;
	int64		last_deleted;
	int64		total_reclaimed;
	int64		total_deleted;
	TimestampTz last_error_at;
	char		last_error[PGQ_ERROR_LEN];
} PgqDbState;

/* Events counted per queue since server start, applied at commit. */
typedef enum PgqCounter
{
	PGQ_C_PUBLISHED,
	PGQ_C_CONSUMED,
	PGQ_C_ACKED,
	PGQ_C_NACKED,
	PGQ_C_DISCARDED,
	PGQ_C_EXTENDED,
	PGQ_C_RECLAIMED,
	PGQ_C_EXPIRED_DEAD,
	PGQ_C_DIED,					/* all routes to dead: nack, discard, expiry */
	PGQ_C_REQUEUED,
	PGQ_C_DELETED,
	PGQ_NUM_COUNTERS
} PgqCounter;

/* Row counts per queue, kept exact by the same commit-time deltas. */
typedef enum PgqGauge
{
	PGQ_G_UNFINISHED,			/* processed_at is null */
	PGQ_G_DONE,
	PGQ_G_DEAD,
	PGQ_NUM_GAUGES
} PgqGauge;

typedef struct PgqQueueStatsKey
{
	Oid			dboid;
	Oid			relid;
} PgqQueueStatsKey;

typedef struct PgqQueueStats
{
	PgqQueueStatsKey key;
	slock_t		mutex;			/* guards everything below */
	int64		counters[PGQ_NUM_COUNTERS];
	int64		sampled[PGQ_NUM_COUNTERS];	/* counters at the last sample */
	int64		gauges[PGQ_NUM_GAUGES];
	bool		gauges_valid;	/* false until rebuilt, or after drift */
	TimestampTz rebuilt_at;
	TimestampTz last_sampled;
} PgqQueueStats;

typedef struct PgqShared
{
	LWLock	   *lock;			/* guards dbs[], launcher_pid, the stats hash */
	int			launcher_pid;
	TimestampTz started_at;
	PgqWaitSlot slots[PGQ_WAIT_SLOTS];
	PgqDbState	dbs[PGQ_MAX_DATABASES];
} PgqShared;

extern PgqShared *pgq_shared;

extern void pgq_shmem_init(void);
extern PgqWaitSlot *pgq_wait_slot(Oid relid);
extern void pgq_wake(Oid relid, int count);
extern void pgq_note_wake(Oid relid, int count);
extern void pgq_note_count(Oid relid, PgqCounter counter, int64 n);
extern void pgq_note_gauge(Oid relid, PgqGauge gauge, int64 n);
extern void pgq_note_created(Oid relid);
extern void pgq_note_published(Oid relid, int64 n);
extern void pgq_note_finished(Oid relid, PgqCounter why, int64 n, bool dead,
							  bool deleted);
extern void pgq_note_deleted(Oid relid, int64 done, int64 dead);
extern PgqDbState *pgq_db_state(Oid dboid, bool create);
extern bool pgq_stats_read(Oid dboid, Oid relid, PgqQueueStats *copy);
extern void pgq_stats_set_gauges(Oid relid, const int64 *gauges);
extern bool pgq_stats_take_sample(Oid relid, TimestampTz now, int64 *deltas,
								  TimestampTz *since);
extern void pgq_stats_forget_others(List *relids);

/* GUCs (pgq.c) */
extern bool pgq_enabled;
extern int	pgq_reclaim_interval;
extern int	pgq_max_workers;
extern bool pgq_log_reclaims;
extern int	pgq_max_payload_bytes;
extern int	pgq_max_queues;
extern int	pgq_history_interval;
extern int	pgq_history_retention;
extern int	pgq_stats_rebuild_interval;

/* worker.c */
extern void pgq_register_launcher(void);

/* names.c */
extern void pgq_parse_queue_name(const char *input, char **schemaname,
								 char **relname);
extern void pgq_check_name_fits(const char *relname);
extern char *pgq_quote_qualified(Oid relid);
extern char *pgq_derived_name(const char *relname, const char *suffix);

/* shape.c */
extern void pgq_check_queue_shape(Relation rel, bool adopting, List **missing);
extern bool pgq_has_queue_shape(Relation rel);

/* catalog.c */
extern Oid	pgq_extension_schema(Oid *ext_owner);
extern PgqQueue *pgq_open_queue(Oid relid, LOCKMODE lockmode);
extern bool pgq_is_queue(Oid relid);
extern SPIPlanPtr pgq_plan(PgqQueue *queue, PgqPlanId id);
extern void pgq_config_write(const char *sql, int nargs, Oid *argtypes,
							 Datum *values, const char *nulls);
extern void pgq_catalog_write(const char *catalog, const char *sql, int nargs,
							  Oid *argtypes, Datum *values, const char *nulls);
extern List *pgq_granted(Oid relid, Oid grantee, const char *privilege);
extern bool pgq_is_queue_admin(Oid relid);
extern List *pgq_all_queues(void);
extern void pgq_begin_call(void);
extern void pgq_end_call(void);

/* plans.c */
extern char *pgq_plan_sql(PgqQueue *queue, PgqPlanId id, int *nargs,
						  Oid *argtypes);

extern bool pgq_delete_on_finish(PgqQueue *queue);
extern char *pgq_attempts_used_up(PgqQueue *queue, const char *alias);

typedef struct PgqSavedUser
{
	Oid			userid;
	int			sec_context;
	int			nestlevel;
} PgqSavedUser;

typedef void (*PgqQueueWork) (Oid relid, void *arg);

extern Oid	pgq_rel_owner(Oid relid);
extern void pgq_run_sql(const char *sql);
extern void pgq_become_owner(Oid relid, PgqSavedUser *saved);
extern void pgq_restore_user(PgqSavedUser *saved);
extern bool pgq_try_queue(Oid relid, PgqQueueWork work, void *arg);

/* grant.c */
extern char *pgq_consumer_delete_grants(PgqQueue *queue);

/* queue.c */
extern void pgq_validate_options(PgqQueueOptions *opts);

/* common argument checks (catalog.c) */
extern Oid	pgq_arg_queue(FunctionCallInfo fcinfo, int argno);
extern void pgq_arg_not_null(FunctionCallInfo fcinfo, int argno,
							 const char *name);
extern void pgq_check_writable(const char *action, PgqQueue *queue);
extern TimestampTz pgq_now(void);
extern TimestampTz pgq_add_interval(TimestampTz ts, const Interval *span);
extern TimestampTz pgq_sub_interval(TimestampTz ts, const Interval *span);
extern int	pgq_interval_sign(const Interval *span);
extern char *pgq_lease_holder(void);
extern void pgq_check_metadata(Datum metadata);
extern void pgq_check_payload_size(Datum payload);

/* reclaim.c */
extern int64 pgq_reclaim_queue(PgqQueue *queue, int64 *deleted);

#endif							/* PGQ_H */
