/*-------------------------------------------------------------------------
 *
 * pgq.c
 *	  Module entry point of the pgq extension.
 *
 * _PG_init runs in every process that loads pgq.so: the postmaster when pgq
 * is in shared_preload_libraries, or a backend on its first call to a pgq
 * function.  It defines the GUCs; everything else is set up lazily.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "pgq.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("pgq");
#else
	EmitWarningsOnPlaceholders("pgq");
#endif
}
