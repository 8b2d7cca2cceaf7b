/*-------------------------------------------------------------------------
 *
 * grant.c
 *	  pgq_grant and pgq_revoke: the three roles of a queue.
 *
 *	  publish  INSERT on the table and SELECT on its id column (for
 *			   RETURNING id); nothing that reads payloads.
 *	  consume  SELECT and UPDATE on the table (consume, ack, nack, discard,
 *			   extend), and DELETE when the queue's retention is zero (ack
 *			   deletes the row then).
 *	  admin    SELECT, INSERT, UPDATE, DELETE and TRUNCATE on the table and
 *			   EXECUTE on the admin functions (pgq_alter_queue, pgq_drop_queue,
 *			   pgq_purge, pgq_requeue, pgq_reclaim), which PUBLIC may not run.
 *
 * Every grant also gives USAGE on the table's schema, without which no
 * table privilege is usable; pgq_revoke leaves schema USAGE alone, since
 * other grants may need it.  The statements run as the caller, so only the
 * table's owner (or a role with grant options) can grant.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "pgq.h"

PG_FUNCTION_INFO_V1(pgq_grant);
PG_FUNCTION_INFO_V1(pgq_revoke);

/*
 * The admin functions, named without argument types (each name is unique
 * in the extension), so that any installed version of the SQL matches.
 */
static const char *const admin_functions[] = {
	"pgq_alter_queue",
	"pgq_drop_queue",
	"pgq_purge",
	"pgq_requeue",
	"pgq_reclaim",
};

static void
change_privileges(FunctionCallInfo fcinfo, bool grant)
{
	Oid			relid = pgq_arg_queue(fcinfo, 0);
	char	   *role;
	char	   *privilege;
	PgqQueue   *queue;
	const char *verb = grant ? "GRANT" : "REVOKE";
	const char *prep = grant ? "TO" : "FROM";
	const char *grantee;
	StringInfoData sql;
	int			rc;

	pgq_arg_not_null(fcinfo, 1, "role");
	pgq_arg_not_null(fcinfo, 2, "privilege");
	role = NameStr(*PG_GETARG_NAME(1));
	privilege = text_to_cstring(PG_GETARG_TEXT_PP(2));
	grantee = pg_strcasecmp(role, "public") == 0 ? "PUBLIC" : quote_identifier(role);

	pgq_begin_call();
	queue = pgq_open_queue(relid, ShareUpdateExclusiveLock);
	initStringInfo(&sql);
	if (grant)
		appendStringInfo(&sql, "GRANT USAGE ON SCHEMA %s TO %s;\n",
						 quote_identifier(get_namespace_name(get_rel_namespace(relid))),
						 grantee);
	if (strcmp(privilege, "publish") == 0)
		appendStringInfo(&sql, "%s INSERT ON %s %s %s;\n"
						 "%s SELECT (id) ON %s %s %s;\n",
						 verb, queue->qualname, prep, grantee,
						 verb, queue->qualname, prep, grantee);
	else if (strcmp(privilege, "consume") == 0)
	{
		bool		deletes = queue->has_retention &&
			pgq_interval_sign(&queue->retention) == 0;

		appendStringInfo(&sql, "%s SELECT, UPDATE%s ON %s %s %s;\n",
						 verb, deletes || !grant ? ", DELETE" : "",
						 queue->qualname, prep, grantee);
	}
	else if (strcmp(privilege, "admin") == 0)
	{
		Oid			nspid = pgq_extension_schema(NULL);
		const char *nsp = quote_identifier(get_namespace_name(nspid));

		appendStringInfo(&sql, "%s SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON %s %s %s;\n",
						 verb, queue->qualname, prep, grantee);
		for (int i = 0; i < lengthof(admin_functions); i++)
			appendStringInfo(&sql, "%s EXECUTE ON FUNCTION %s.%s %s %s;\n",
							 verb, nsp, admin_functions[i], prep, grantee);
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unrecognized queue privilege \"%s\"", privilege),
				 errhint("The privileges are publish, consume and admin.")));

	SPI_connect();
	rc = SPI_execute(sql.data, false, 0);
	if (rc < 0)
		elog(ERROR, "pgq: %s failed: %s", verb, SPI_result_code_string(rc));
	SPI_finish();
	pgq_end_call();
}

/* pgq_grant(queue regclass, role name, privilege text) returns void */
Datum
pgq_grant(PG_FUNCTION_ARGS)
{
	change_privileges(fcinfo, true);
	PG_RETURN_VOID();
}

/* pgq_revoke(queue regclass, role name, privilege text) returns void */
Datum
pgq_revoke(PG_FUNCTION_ARGS)
{
	change_privileges(fcinfo, false);
	PG_RETURN_VOID();
}
