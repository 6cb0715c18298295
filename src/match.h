/*-------------------------------------------------------------------------
 *
 * match.h
 *	  Names, routing keys and topic patterns: pure functions with no server
 *	  state, so that the fuzz target (test/fuzz) can build them alone.
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_MATCH_H
#define QUEUE_MATCH_H

#include <stdbool.h>

/* Longest pattern or routing key, in bytes. */
#define PATTERN_MAXLEN 255

/* A pattern or routing key split into words (palloc'd). */
typedef struct Words
{
	int			n;
	char	  **w;
} Words;

extern bool match_name_is_valid(const char *p, int len, int maxlen);
extern bool match_split_words(const char *s, bool wildcards, Words *out);
extern bool match_words(const Words *p, const Words *k);
extern void match_free_words(Words *w);

#endif							/* QUEUE_MATCH_H */
