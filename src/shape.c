/*-------------------------------------------------------------------------
 *
 * shape.c
 *	  The shape of a queue table: which columns, of which types, and pgq's
 *	  generated available_at column.
 *
 * Checked when a table is adopted (pgq_register_queue) and again each time
 * a backend (re)loads a queue after DDL on it, because every statement pgq
 * prepares, and the C code reading its results, relies on these exact
 * types: a table owner who changes a column's type must get an error, not
 * memory read as the wrong type or an implicit cast of theirs run by
 * whoever calls pgq next.  The caller holds a lock on the table.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_type.h"
#include "nodes/primnodes.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "pgq.h"

typedef struct QueueColumn
{
	const char *name;
	Oid			type;
	bool		added_on_adopt; /* pgq_register_queue adds it when missing */
} QueueColumn;

/* The Go library's columns, then pgq's own. */
static const QueueColumn queue_columns[] = {
	{"id", UUIDOID, false},
	{"created_at", TIMESTAMPTZOID, false},
	{"started_at", TIMESTAMPTZOID, false},
	{"locked_until", TIMESTAMPTZOID, false},
	{"scheduled_for", TIMESTAMPTZOID, true},	/* older Go schemas lack it */
	{"processed_at", TIMESTAMPTZOID, false},
	{"consumed_count", INT4OID, false},
	{"error_detail", TEXTOID, false},
	{"payload", JSONBOID, false},
	{"metadata", JSONBOID, false},
	{"lease_holder", TEXTOID, true},
	{"available_at", TIMESTAMPTZOID, true},
};

static Form_pg_attribute
find_column(TupleDesc desc, const char *name)
{
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return att;
	}
	return NULL;
}

/* Is expr GREATEST(created_at, scheduled_for, locked_until) of this table? */
static bool
is_available_at_expr(Node *expr, TupleDesc desc)
{
	static const char *const args[3] = {"created_at", "scheduled_for", "locked_until"};
	MinMaxExpr *mm;
	ListCell   *lc;
	int			i = 0;

	if (expr == NULL || !IsA(expr, MinMaxExpr))
		return false;
	mm = (MinMaxExpr *) expr;
	if (mm->op != IS_GREATEST || mm->minmaxtype != TIMESTAMPTZOID ||
		list_length(mm->args) != 3)
		return false;
	foreach(lc, mm->args)
	{
		Var		   *var = (Var *) lfirst(lc);
		Form_pg_attribute att = find_column(desc, args[i++]);

		if (!IsA(var, Var) || att == NULL || var->varattno != att->attnum)
			return false;
	}
	return true;
}

/* The generation expression of a stored generated column, or NULL. */
static Node *
generation_expr(Relation rel, AttrNumber attnum)
{
	TupleConstr *constr = RelationGetDescr(rel)->constr;

	if (constr == NULL)
		return NULL;
	for (int i = 0; i < constr->num_defval; i++)
		if (constr->defval[i].adnum == attnum)
			return stringToNode(constr->defval[i].adbin);
	return NULL;
}

typedef enum ShapeProblem
{
	SHAPE_OK,
	SHAPE_MISSING_COLUMN,
	SHAPE_WRONG_TYPE,
	SHAPE_NOT_GENERATED
} ShapeProblem;

/*
 * Compare rel with the queue shape without raising an error: the first
 * problem, with the column concerned in *col.  When adopting, the columns
 * pgq_register_queue adds may be missing; their names go to *missing.
 */
static ShapeProblem
shape_problem(Relation rel, bool adopting, List **missing,
			  const QueueColumn **col, Oid *found_type)
{
	TupleDesc	desc = RelationGetDescr(rel);

	for (int c = 0; c < lengthof(queue_columns); c++)
	{
		Form_pg_attribute att = find_column(desc, queue_columns[c].name);

		*col = &queue_columns[c];
		if (att == NULL)
		{
			if (adopting && queue_columns[c].added_on_adopt)
			{
				if (missing)
					*missing = lappend(*missing, (void *) queue_columns[c].name);
				continue;
			}
			return SHAPE_MISSING_COLUMN;
		}
		*found_type = att->atttypid;
		if (att->atttypid != queue_columns[c].type)
			return SHAPE_WRONG_TYPE;
		if (strcmp(queue_columns[c].name, "available_at") == 0 &&
			(att->attgenerated != ATTRIBUTE_GENERATED_STORED ||
			 !is_available_at_expr(generation_expr(rel, att->attnum), desc)))
			return SHAPE_NOT_GENERATED;
	}
	return SHAPE_OK;
}

/* Does rel have every column of a queue, pgq's own included? */
bool
pgq_has_queue_shape(Relation rel)
{
	const QueueColumn *col;
	Oid			type;

	return shape_problem(rel, false, NULL, &col, &type) == SHAPE_OK;
}

/*
 * Check that rel has the shape of a queue table; ereport otherwise.  When
 * adopting, the columns pgq_register_queue adds may be missing; their
 * names are returned in *missing.
 */
void
pgq_check_queue_shape(Relation rel, bool adopting, List **missing)
{
	const char *relname = RelationGetRelationName(rel);
	const QueueColumn *col;
	Oid			type = InvalidOid;

	if (missing)
		*missing = NIL;
	switch (shape_problem(rel, adopting, missing, &col, &type))
	{
		case SHAPE_OK:
			break;
		case SHAPE_MISSING_COLUMN:
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("table \"%s\" has no column \"%s\"", relname, col->name),
					 errdetail("A queue table needs the columns of the dataddo/pgq Go library and pgq's own.")));
			break;
		case SHAPE_WRONG_TYPE:
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of table \"%s\" has type %s, but a queue needs %s",
							col->name, relname, format_type_be(type),
							format_type_be(col->type))));
			break;
		case SHAPE_NOT_GENERATED:
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"available_at\" of table \"%s\" is not pgq's generated column", relname),
					 errdetail("pgq needs available_at timestamptz GENERATED ALWAYS AS (%s) STORED.",
							   PGQ_AVAILABLE_AT_EXPR)));
			break;
	}
}
