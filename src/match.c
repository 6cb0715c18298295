/*-------------------------------------------------------------------------
 *
 * match.c
 *	  Names, routing keys and topic patterns (SPEC sections 2 and 4).
 *
 * Nothing here touches server state: memory comes from palloc, which the
 * fuzz target (test/fuzz) maps onto malloc when it builds this file alone.
 *
 * Patterns follow AMQP topic exchanges: words separated by '.', where '*'
 * matches exactly one word and '#' zero or more.  A routing key is words of
 * the name alphabet without '.' (the empty key has no words).  Matching is a
 * small dynamic programme over the two word lists, O(pattern x key).
 *
 *-------------------------------------------------------------------------
 */
#ifdef MATCH_STANDALONE
#include "fuzz_shim.h"
#else
#include "postgres.h"
#endif

#include "match.h"

/* The name alphabet of SPEC section 2: [A-Za-z0-9_.-]. */
bool
match_name_is_valid(const char *p, int len, int maxlen)
{
	int			i;

	if (len < 1 || len > maxlen)
		return false;
	for (i = 0; i < len; i++)
	{
		char		c = p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

static bool
word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c == '_' || c == '-';
}

/*
 * Split s into words; with wildcards, '*' and '#' may be whole words.
 * Returns false if s is not well formed (out then holds the words so far).
 */
bool
match_split_words(const char *s, bool wildcards, Words *out)
{
	int			len = strlen(s);
	int			i;
	int			start = 0;

	out->n = 0;
	out->w = palloc(sizeof(char *) * (len / 2 + 2));
	if (len == 0)
		return !wildcards;		/* the empty routing key has no words */
	if (len > PATTERN_MAXLEN)
		return false;
	for (i = 0; i <= len; i++)
	{
		if (i == len || s[i] == '.')
		{
			int			wl = i - start;
			const char *w = s + start;
			int			j;

			if (wl == 0)
				return false;	/* empty word */
			if (wildcards && wl == 1 && (w[0] == '*' || w[0] == '#'))
				;
			else
				for (j = 0; j < wl; j++)
					if (!word_char(w[j]))
						return false;
			out->w[out->n++] = pnstrdup(w, wl);
			start = i + 1;
		}
	}
	return true;
}

void
match_free_words(Words *w)
{
	int			i;

	for (i = 0; i < w->n; i++)
		pfree(w->w[i]);
	pfree(w->w);
	w->n = 0;
	w->w = NULL;
}

/* Does the pattern match the routing key?  (AMQP topic semantics.) */
bool
match_words(const Words *p, const Words *k)
{
	/* next[j]: pattern suffix from i + 1 matches key suffix from j */
	bool	   *next = palloc((k->n + 1) * sizeof(bool));
	bool	   *cur = palloc((k->n + 1) * sizeof(bool));
	bool		result;
	int			i,
				j;

	for (j = 0; j <= k->n; j++)
		next[j] = (j == k->n);
	for (i = p->n - 1; i >= 0; i--)
	{
		const char *pw = p->w[i];

		for (j = k->n; j >= 0; j--)
		{
			if (strcmp(pw, "#") == 0)
				cur[j] = next[j] || (j < k->n && cur[j + 1]);
			else if (j < k->n && (strcmp(pw, "*") == 0 || strcmp(pw, k->w[j]) == 0))
				cur[j] = next[j + 1];
			else
				cur[j] = false;
		}
		memcpy(next, cur, (k->n + 1) * sizeof(bool));
	}
	result = next[0];
	pfree(next);
	pfree(cur);
	return result;
}
