/*-------------------------------------------------------------------------
 *
 * pgq.c
 *	  Module entry point of the pgq extension and its GUCs.
 *
 * _PG_init runs in every process that loads pgq.so: the postmaster when pgq
 * is in shared_preload_libraries, or a backend on its first call to a pgq
 * function.  It defines the GUCs (pgq.* is reserved); only during preload
 * does it ask for shared memory and register the background launcher.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "pgq.h"

PG_MODULE_MAGIC;

bool		pgq_enabled = true;
int			pgq_reclaim_interval = 1000;
int			pgq_max_workers = 2;
bool		pgq_log_reclaims = false;
int			pgq_max_payload_bytes = 64 * 1024 * 1024;
int			pgq_max_queues = 1024;
int			pgq_history_interval = 60;
int			pgq_history_retention = 7 * 24 * 3600;
int			pgq_stats_rebuild_interval = 0;

void		_PG_init(void);

void
_PG_init(void)
{
	DefineCustomBoolVariable("pgq.enabled",
							 "Runs pgq's background worker, which reclaims expired leases.",
							 NULL,
							 &pgq_enabled,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("pgq.reclaim_interval",
							"Time between two reclaim passes of the background worker.",
							NULL,
							&pgq_reclaim_interval,
							1000,
							10,
							3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pgq.max_workers",
							"Maximum number of per-database pgq workers running at once.",
							"Each uses a slot of max_worker_processes while it runs.",
							&pgq_max_workers,
							2,
							1,
							64,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
	DefineCustomBoolVariable("pgq.log_reclaims",
							 "Logs every reclaimed message (queue, id, attempt) at LOG level.",
							 "When off, they are logged at DEBUG1.",
							 &pgq_log_reclaims,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("pgq.max_payload_bytes",
							"Largest message payload pgq_publish accepts, in bytes.",
							"0 means no limit other than PostgreSQL's own (1 GB).",
							&pgq_max_payload_bytes,
							64 * 1024 * 1024,
							0,
							INT_MAX,
							PGC_SUSET,
							GUC_UNIT_BYTE,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pgq.history_interval",
							"Time between two samples of every queue's statistics into pgq_history.",
							"0 turns sampling off.",
							&pgq_history_interval,
							60,
							0,
							24 * 3600,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pgq.history_retention",
							"How long samples are kept in pgq_history.",
							NULL,
							&pgq_history_retention,
							7 * 24 * 3600,
							60,
							INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pgq.stats_rebuild_interval",
							"Time after which the worker recounts each queue's rows exactly.",
							"0 recounts only after a restart or detected drift; set it when clients other than pgq (e.g. the Go library) finish messages.",
							&pgq_stats_rebuild_interval,
							0,
							0,
							INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);
#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("pgq");
#else
	EmitWarningsOnPlaceholders("pgq");
#endif

	if (!process_shared_preload_libraries_in_progress)
		return;

	/* sizes shared memory: only when preloaded, and fixed from then on */
	DefineCustomIntVariable("pgq.max_queues",
							"Number of queues whose statistics shared memory can hold.",
							NULL,
							&pgq_max_queues,
							1024,
							16,
							1024 * 1024,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);
	pgq_shmem_init();
	pgq_register_launcher();
}
