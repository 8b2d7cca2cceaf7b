/*-------------------------------------------------------------------------
 *
 * names.c
 *	  Queue names: parsing, length rules and quoting.
 *
 * pgq_create_queue reads its name exactly as regclass input does ('Jobs' is
 * jobs, '"Jobs"' is Jobs, 'app.jobs' is schema app), so the same string names
 * the queue in every function.  Unlike regclass input it never truncates: an
 * identifier longer than NAMEDATALEN - 1 bytes, or a table name that would
 * not fit once pgq's longest suffix is appended, is an error, so two long
 * names can never collide after truncation.
 *
 * No locking here; callers hold what they need.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "parser/scansup.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "pgq.h"

static void
reject_name(const char *input, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_NAME),
			 errmsg("invalid queue name \"%s\"", input),
			 errdetail("%s", detail),
			 errhint("Write the name as a table name, for example jobs, \"Jobs\" or app.jobs.")));
}

/*
 * Split a possibly qualified, possibly quoted name into schema (NULL when not
 * given) and table name, following the rules of SplitIdentifierString but
 * refusing identifiers that are empty or too long instead of truncating them.
 */
void
pgq_parse_queue_name(const char *input, char **schemaname, char **relname)
{
	const char *p = input;
	List	   *parts = NIL;

	for (;;)
	{
		StringInfoData ident;
		bool		quoted = false;

		initStringInfo(&ident);
		while (scanner_isspace(*p))
			p++;
		if (*p == '"')
		{
			quoted = true;
			p++;
			for (;;)
			{
				if (*p == '\0')
					reject_name(input, "A quoted identifier is not closed.");
				if (*p == '"')
				{
					if (p[1] != '"')
						break;
					p++;		/* doubled quote: keep one */
				}
				appendStringInfoChar(&ident, *p);
				p++;
			}
			p++;				/* past the closing quote */
		}
		else
		{
			const char *start = p;
			char	   *down;

			while (*p != '\0' && *p != '.' && !scanner_isspace(*p))
				p++;
			down = downcase_identifier(start, p - start, false, false);
			appendStringInfoString(&ident, down);
		}

		if (ident.len == 0)
			reject_name(input, quoted ? "A quoted identifier is empty."
						: "The name or one of its parts is empty.");
		if (ident.len > NAMEDATALEN - 1)
			ereport(ERROR,
					(errcode(ERRCODE_NAME_TOO_LONG),
					 errmsg("queue name \"%s\" is too long", input),
					 errdetail("Identifier \"%s\" is %d bytes long; the limit is %d.",
							   ident.data, ident.len, NAMEDATALEN - 1)));
		parts = lappend(parts, ident.data);

		while (scanner_isspace(*p))
			p++;
		if (*p == '\0')
			break;
		if (*p != '.')
			reject_name(input, "Unexpected characters after an identifier.");
		p++;
	}

	if (list_length(parts) > 2)
		reject_name(input, "A queue name has at most two parts: schema and table.");
	if (list_length(parts) == 2)
	{
		*schemaname = linitial(parts);
		*relname = lsecond(parts);
	}
	else
	{
		*schemaname = NULL;
		*relname = linitial(parts);
	}
}

/*
 * Refuse a table name whose derived object names (indexes, constraint) would
 * exceed NAMEDATALEN - 1 bytes and so be truncated.
 */
void
pgq_check_name_fits(const char *relname)
{
	int			limit = NAMEDATALEN - 1 - (int) strlen(PGQ_LONGEST_SUFFIX);

	if ((int) strlen(relname) > limit)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("queue name \"%s\" is too long", relname),
				 errdetail("A queue table name may be at most %d bytes, so that the names of its indexes (suffix \"%s\") fit in %d bytes.",
						   limit, PGQ_LONGEST_SUFFIX, NAMEDATALEN - 1)));
}

/* The name of an object derived from a queue table, e.g. jobs_ready_idx. */
char *
pgq_derived_name(const char *relname, const char *suffix)
{
	pgq_check_name_fits(relname);
	return psprintf("%s%s", relname, suffix);
}

/* schema.table of a relation, each part quoted as needed, for SQL text. */
char *
pgq_quote_qualified(Oid relid)
{
	char	   *relname = get_rel_name(relid);
	Oid			nspid = get_rel_namespace(relid);
	char	   *nspname = get_namespace_name(nspid);

	if (relname == NULL || nspname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	return quote_qualified_identifier(nspname, relname);
}
