/*-------------------------------------------------------------------------
 *
 * args.c
 *	  Checks of the arguments of the SQL functions (SPEC section 2): NULLs,
 *	  names, ranges, intervals, arrays, headers, idempotency keys and the
 *	  reset list of the alter functions.  Each raises 22023 with a message
 *	  that names the argument.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "args.h"
#include "match.h"
#include "util.h"

int			queue_max_wait = 20000;	/* ms */

/* Raise 22023 if a required argument is NULL (no queue function is STRICT). */
void
args_not_null(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be NULL", argname)));
}

/*
 * Check an object name (SPEC section 2) and copy it, NUL-terminated, into
 * out (QUEUE_NAME_MAXLEN + 1 bytes).  "what" says what it names.
 */
void
args_name(const char *what, text *name, char *out)
{
	const char *p = VARDATA_ANY(name);
	int			len = VARSIZE_ANY_EXHDR(name);
	bool		ok = match_name_is_valid(p, len, QUEUE_NAME_MAXLEN);

	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s name \"%s\"", what, text_to_cstring(name)),
				 errdetail("Names are 1 to %d characters from A-Z, a-z, 0-9, \"_\", \".\" and \"-\".",
						   QUEUE_NAME_MAXLEN)));
	memcpy(out, p, len);
	out[len] = '\0';
}

/*
 * The object name in argument argno (named argname), checked as args_name
 * does; 22023 if it is NULL.
 */
void
args_name_arg(FunctionCallInfo fcinfo, int argno, const char *argname,
			  const char *what, char *out)
{
	args_not_null(fcinfo, argno, argname);
	args_name(what, PG_GETARG_TEXT_PP(argno), out);
}

/*
 * The reset text[] argument of an alter function: marks reset[i] for every
 * option names[i] it lists; 22023 for NULL elements, unknown names, and an
 * option that is also given a value (option i is argument argnos[i], or
 * i + 1 if argnos is NULL).
 */
void
args_reset(FunctionCallInfo fcinfo, int argno, const char *what,
			const char *const *names, int nnames, const int *argnos, bool *reset)
{
	Datum	   *elems;
	bool	   *elnulls;
	int			n;
	int			i;
	int			j;

	if (PG_ARGISNULL(argno))
		return;
	n = args_array(fcinfo, argno, "reset", TEXTOID, -1, false, TYPALIGN_INT, &elems, &elnulls);
	for (j = 0; j < n; j++)
	{
		char	   *opt;
		bool		known = false;

		if (elnulls[j])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("reset must not contain NULL")));
		opt = TextDatumGetCString(elems[j]);
		for (i = 0; i < nnames; i++)
			if (strcmp(opt, names[i]) == 0)
				reset[i] = known = true;
		if (!known)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown %s option \"%s\" in reset", what, opt)));
	}
	for (i = 0; i < nnames; i++)
		if (reset[i] && !PG_ARGISNULL(argnos ? argnos[i] : i + 1))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s option \"%s\" is both set and reset", what, names[i])));
}

int32
args_int_range(FunctionCallInfo fcinfo, int argno, const char *argname,
			  int32 min, int32 max)
{
	int32		v;

	args_not_null(fcinfo, argno, argname);
	v = PG_GETARG_INT32(argno);
	if (v < min || v > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be between %d and %d", argname, min, max),
				 errdetail("The value given was %d.", v)));
	return v;
}

/* A non-negative interval argument of any size; NULL allowed only if nullable. */
static Interval *
args_interval_any_size(FunctionCallInfo fcinfo, int argno, const char *argname,
					  bool nullable)
{
	Interval   *iv;

	if (PG_ARGISNULL(argno))
	{
		if (!nullable)
			args_not_null(fcinfo, argno, argname);
		return NULL;
	}
	iv = PG_GETARG_INTERVAL_P(argno);
	if (util_interval_is_negative(iv))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be negative", argname)));
	return iv;
}

/* A non-negative interval argument; NULL allowed only if nullable. */
Interval *
args_interval(FunctionCallInfo fcinfo, int argno, const char *argname,
			 bool nullable)
{
	Interval   *iv = args_interval_any_size(fcinfo, argno, argname, nullable);

	if (iv != NULL)
		util_interval_check_size(iv, argname);
	return iv;
}

/*
 * A wait argument (not NULL, not negative) in microseconds, capped at
 * queue.max_wait before any arithmetic; 0: no wait.
 */
int64
args_wait(FunctionCallInfo fcinfo, int argno)
{
	return util_interval_usecs_capped(args_interval_any_size(fcinfo, argno, "wait", false),
								 (int64) queue_max_wait * 1000);
}

/*
 * Headers are NULL or a JSON object whose top-level keys do not start with
 * "mq_" (reserved for the extension).  Returns the datum, or 0 for NULL.
 */
Datum
args_headers(Datum d, bool isnull)
{
	Jsonb	   *jb;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	if (isnull)
		return (Datum) 0;
	jb = DatumGetJsonbP(d);
	if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_IS_SCALAR(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("headers must be a JSON object or NULL")));
	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY && v.val.string.len >= 3 &&
			strncmp(v.val.string.val, "mq_", 3) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("header key \"%.*s\" is reserved",
							v.val.string.len, v.val.string.val),
					 errdetail("Header keys starting with \"mq_\" are set by the queue extension.")));
	}
	return PointerGetDatum(jb);
}

/* Deconstruct a one-dimensional array argument. */
int
args_array(FunctionCallInfo fcinfo, int argno, const char *argname,
		  Oid elemtype, int16 elmlen, bool elmbyval, char elmalign,
		  Datum **elems, bool **nulls)
{
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(argno);
	int			n;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a one-dimensional array", argname)));
	deconstruct_array(arr, elemtype, elmlen, elmbyval, elmalign, elems, nulls, &n);
	return n;
}

/*
 * A bigint[] argument (receipts, ids): not NULL, one-dimensional, without
 * NULL elements.  Returns the number of elements; *values is palloc'd.
 */
int
args_int8_array(FunctionCallInfo fcinfo, int argno, const char *argname, int64 **values)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;

	args_not_null(fcinfo, argno, argname);
	n = args_array(fcinfo, argno, argname, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
				   &elems, &nulls);
	*values = palloc(Max(n, 1) * sizeof(int64));
	for (i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must not contain NULL", argname),
					 errdetail("Element %d is NULL.", i + 1)));
		(*values)[i] = DatumGetInt64(elems[i]);
	}
	return n;
}

/*
 * The bodies of a batch: a one-dimensional array.  With null_at NULL, a NULL
 * element is 22023; otherwise NULL elements become (Datum) 0 and *null_at
 * is the first one's place, counted from 1 (0: none).
 */
int
args_bodies(FunctionCallInfo fcinfo, int argno, Datum **bodies, int *null_at)
{
	bool	   *nulls;
	int			n;
	int			i;

	args_not_null(fcinfo, argno, "bodies");
	n = args_array(fcinfo, argno, "bodies", JSONBOID, -1, false, TYPALIGN_INT, bodies, &nulls);
	if (null_at != NULL)
		*null_at = 0;
	for (i = 0; i < n; i++)
	{
		if (!nulls[i])
			continue;
		if (null_at == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("bodies must not contain NULL"),
					 errdetail("Element %d is NULL.", i + 1)));
		(*bodies)[i] = (Datum) 0;
		if (*null_at == 0)
			*null_at = i + 1;
	}
	return n;
}

/*
 * An optional array argument that must match another array argument
 * ("bodies", "ids": n elements) in length; headers are checked,
 * idempotency and group keys too.  Sets *elems to NULL when the argument is
 * NULL.
 */
void
args_parallel_array(FunctionCallInfo fcinfo, int argno, const char *argname,
					Oid elemtype, const char *against, int n, Datum **elems, bool **nulls)
{
	int16		len;
	bool		byval;
	char		align;
	int			m;
	int			i;

	*elems = NULL;
	*nulls = NULL;
	if (PG_ARGISNULL(argno))
		return;
	get_typlenbyvalalign(elemtype, &len, &byval, &align);
	m = args_array(fcinfo, argno, argname, elemtype, len, byval, align, elems, nulls);
	if (m != n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must have as many elements as %s", argname, against),
				 errdetail("%s has %d elements, %s has %d.", against, n, argname, m)));
	for (i = 0; i < n; i++)
	{
		if (elemtype == JSONBOID)
			(*elems)[i] = args_headers((*elems)[i], (*nulls)[i]);
		else if (strcmp(argname, "idempotency_keys") == 0 && !(*nulls)[i])
			args_idempotency_key(DatumGetTextPP((*elems)[i]));
		else if (strcmp(argname, "group_keys") == 0 && !(*nulls)[i])
			args_group_key(DatumGetTextPP((*elems)[i]));
	}
}

/*
 * An optional group key argument, checked: (Datum) 0 when NULL or absent
 * (a catalog from before 0.4.0).
 */
Datum
args_group_key_arg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return (Datum) 0;
	args_group_key(PG_GETARG_TEXT_PP(argno));
	return PG_GETARG_DATUM(argno);
}

/* Check a message group key argument. */
void
args_group_key(text *key)
{
	int			len = VARSIZE_ANY_EXHDR(key);

	if (len < 1 || len > QUEUE_GROUP_KEY_MAXLEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("group key must be 1 to %d bytes long", QUEUE_GROUP_KEY_MAXLEN),
				 errdetail("The key given is %d bytes long.", len)));
}

/* Check an idempotency key argument. */
void
args_idempotency_key(text *key)
{
	int			len = VARSIZE_ANY_EXHDR(key);

	if (len < 1 || len > DEDUP_KEY_MAXLEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("idempotency key must be 1 to %d bytes long", DEDUP_KEY_MAXLEN),
				 errdetail("The key given is %d bytes long.", len)));
}
