/*-------------------------------------------------------------------------
 *
 * grant.c
 *	  pgq_grant and pgq_revoke: the three roles of a queue.
 *
 *	  publish  INSERT on the table and SELECT on its id column (for
 *			   RETURNING id); nothing that reads payloads.
 *	  consume  SELECT and UPDATE on the table (consume, ack, nack, discard,
 *			   extend), and DELETE when the queue's retention is zero (ack
 *			   deletes the row then; pgq_alter_queue keeps this up to date).
 *	  admin    SELECT, UPDATE and DELETE on the table, EXECUTE on the admin
 *			   functions (pgq_alter_queue, pgq_drop_queue, pgq_purge,
 *			   pgq_requeue, pgq_reclaim), which PUBLIC may not run, and the
 *			   right to alter and drop this queue, recorded in pgq_grants.
 *
 * Every grant also gives USAGE on the table's schema, without which no
 * table privilege is usable; pgq_revoke leaves schema USAGE alone.  Since
 * 1.1, pgq_grants records what was granted, so that revoking one role set
 * re-grants what the grantee's other sets still need (PostgreSQL's REVOKE
 * SELECT would also take the column SELECT of publish, for example).
 * The GRANT statements run as the caller: only the table's owner (or a
 * role with grant options) can grant.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
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

static bool
valid_privilege(const char *privilege)
{
	return strcmp(privilege, "publish") == 0 ||
		strcmp(privilege, "consume") == 0 ||
		strcmp(privilege, "admin") == 0;
}

/* GRANT (or REVOKE) the table privileges of one role set. */
static void
append_table_privileges(StringInfo sql, bool grant, const char *privilege,
						PgqQueue *queue, const char *grantee)
{
	const char *verb = grant ? "GRANT" : "REVOKE";
	const char *prep = grant ? "TO" : "FROM";

	if (strcmp(privilege, "publish") == 0)
		appendStringInfo(sql, "%s INSERT ON %s %s %s;\n"
						 "%s SELECT (id) ON %s %s %s;\n",
						 verb, queue->qualname, prep, grantee,
						 verb, queue->qualname, prep, grantee);
	else if (strcmp(privilege, "consume") == 0)
		appendStringInfo(sql, "%s SELECT, UPDATE%s ON %s %s %s;\n", verb,
						 !grant || pgq_delete_on_finish(queue) ? ", DELETE" : "",
						 queue->qualname, prep, grantee);
	else
		appendStringInfo(sql, "%s SELECT, UPDATE, DELETE ON %s %s %s;\n",
						 verb, queue->qualname, prep, grantee);
}

static void
append_admin_functions(StringInfo sql, bool grant, const char *grantee)
{
	const char *nsp = quote_identifier(get_namespace_name(pgq_extension_schema(NULL)));

	for (int i = 0; i < lengthof(admin_functions); i++)
		appendStringInfo(sql, "%s EXECUTE ON FUNCTION %s.%s %s %s;\n",
						 grant ? "GRANT" : "REVOKE", nsp, admin_functions[i],
						 grant ? "TO" : "FROM", grantee);
}

/* Record or forget a grant in pgq_grants (absent before 1.1). */
static void
record_grant(Oid relid, Oid grantee, const char *privilege, bool add)
{
	Oid			types[3] = {REGCLASSOID, REGROLEOID, TEXTOID};
	Datum		values[3];

	if (!OidIsValid(get_relname_relid(PGQ_GRANTS_TABLE, pgq_extension_schema(NULL))))
		return;
	values[0] = ObjectIdGetDatum(relid);
	values[1] = ObjectIdGetDatum(grantee);
	values[2] = CStringGetTextDatum(privilege);
	if (add)
		pgq_catalog_write(PGQ_GRANTS_TABLE,
						  "INSERT INTO %s (queue, grantee, privilege) VALUES ($1, $2, $3)"
						  " ON CONFLICT DO NOTHING", 3, types, values, NULL);
	else
		pgq_catalog_write(PGQ_GRANTS_TABLE,
						  "DELETE FROM %s WHERE queue OPERATOR(pg_catalog.=) $1"
						  " AND grantee OPERATOR(pg_catalog.=) $2"
						  " AND privilege OPERATOR(pg_catalog.=) $3", 3, types, values, NULL);
}

/*
 * pgq_grant(queue regclass, role name, privilege text) returns void
 * pgq_revoke(queue regclass, role name, privilege text) returns void
 */
static void
change_privileges(FunctionCallInfo fcinfo, bool grant)
{
	Oid			relid = pgq_arg_queue(fcinfo, 0);
	char	   *role;
	char	   *privilege;
	PgqQueue   *queue;
	bool		is_public;
	Oid			grantee_oid = InvalidOid;
	const char *grantee;
	StringInfoData sql;
	ListCell   *lc;

	pgq_arg_not_null(fcinfo, 1, "role");
	pgq_arg_not_null(fcinfo, 2, "privilege");
	role = NameStr(*PG_GETARG_NAME(1));
	privilege = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (!valid_privilege(privilege))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unrecognized queue privilege \"%s\"", privilege),
				 errhint("The privileges are publish, consume and admin.")));
	is_public = pg_strcasecmp(role, "public") == 0;
	if (is_public && strcmp(privilege, "admin") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_GRANT_OPERATION),
				 errmsg("cannot make PUBLIC an admin of a queue")));
	if (!is_public)
		grantee_oid = get_role_oid(role, false);
	grantee = is_public ? "PUBLIC" : quote_identifier(role);

	pgq_begin_call();
	queue = pgq_open_queue(relid, ShareUpdateExclusiveLock);
	pgq_check_writable(grant ? "grant on" : "revoke on", queue);
	initStringInfo(&sql);
	SPI_connect();
	if (grant)
	{
		Oid			nspid = get_rel_namespace(relid);

		/* a schema owner needs no USAGE grant, and may not be able to give one */
		if (pg_namespace_aclcheck(nspid, GetUserId(), ACL_GRANT_OPTION_FOR(ACL_USAGE)) == ACLCHECK_OK)
			appendStringInfo(&sql, "GRANT USAGE ON SCHEMA %s TO %s;\n",
							 quote_identifier(get_namespace_name(nspid)), grantee);
		append_table_privileges(&sql, true, privilege, queue, grantee);
		if (strcmp(privilege, "admin") == 0)
			append_admin_functions(&sql, true, grantee);
		pgq_run_sql(sql.data);
		if (!is_public)
			record_grant(relid, grantee_oid, privilege, true);
	}
	else
	{
		append_table_privileges(&sql, false, privilege, queue, grantee);
		if (!is_public)
		{
			record_grant(relid, grantee_oid, privilege, false);
			/* what the grantee's other role sets on this queue still need */
			foreach(lc, pgq_granted(relid, grantee_oid, NULL))
				append_table_privileges(&sql, true, ((PgqGrant *) lfirst(lc))->privilege,
										queue, grantee);
			/* EXECUTE on the admin functions goes with the last admin grant */
			if (strcmp(privilege, "admin") == 0 &&
				pgq_granted(InvalidOid, grantee_oid, "admin") == NIL)
				append_admin_functions(&sql, false, grantee);
		}
		pgq_run_sql(sql.data);
	}
	SPI_finish();
	pgq_end_call();
}

Datum
pgq_grant(PG_FUNCTION_ARGS)
{
	change_privileges(fcinfo, true);
	PG_RETURN_VOID();
}

Datum
pgq_revoke(PG_FUNCTION_ARGS)
{
	change_privileges(fcinfo, false);
	PG_RETURN_VOID();
}

/*
 * The GRANT statements that give a queue's consume grantees the DELETE an
 * ack needs once its retention is zero; NULL when there are none.  The
 * caller runs them as the table's owner.
 */
char *
pgq_consumer_delete_grants(PgqQueue *queue)
{
	StringInfoData sql;
	ListCell   *lc;
	List	   *consumers = pgq_granted(queue->relid, InvalidOid, "consume");

	if (consumers == NIL)
		return NULL;
	initStringInfo(&sql);
	foreach(lc, consumers)
		appendStringInfo(&sql, "GRANT DELETE ON %s TO %s;\n", queue->qualname,
						 quote_identifier(GetUserNameFromId(((PgqGrant *) lfirst(lc))->grantee, false)));
	return sql.data;
}
