/*-------------------------------------------------------------------------
 *
 * fuzz_match.c
 *	  Fuzz target for the name validator and the topic pattern matcher
 *	  (src/match.c), checking properties against naive reference versions.
 *
 * Input: a pattern, a newline, a routing key (anything after a second
 * newline is ignored; a NUL ends either string early, as it would in C).
 * The whole input is also fed to the name validator.  Every property that
 * fails prints both strings and aborts, so libFuzzer keeps the input.
 *
 * Properties:
 *	- match_name_is_valid agrees with a naive reference for several maximum
 *	  lengths;
 *	- match_split_words accepts exactly the well-formed patterns and keys of a
 *	  reference parser, and what it accepts re-joins (with '.') to its input;
 *	- a routing key it accepts is a valid name, and is a valid pattern that
 *	  matches the key itself;
 *	- '#' matches every key, and so does the pattern with "#." prepended or
 *	  ".#" appended whenever the pattern matched;
 *	- a pattern with more words other than '#' than the key has words never
 *	  matches, and a pattern without '#' only matches keys of as many words;
 *	- turning a word of a matching pattern into '*' (unless it is '#') or '#'
 *	  keeps it matching;
 *	- match_words agrees with a memoised recursive matcher that works on the
 *	  strings directly, without match_split_words.
 *
 * Two builds (see scripts/fuzz.sh):
 *	clang -fsanitize=fuzzer,address,undefined     libFuzzer target
 *	cc -DFUZZ_DRIVER [-fsanitize=address,undefined]
 *		plain program: runs the files and directories named on its command
 *		line, then FUZZ_RUNS (default 10000) generated inputs from a fixed
 *		FUZZ_SEED, and prints one summary line.
 *
 *-------------------------------------------------------------------------
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"

/* Same value as QUEUE_NAME_MAXLEN in src/util.h (which needs postgres.h). */
#define NAME_MAXLEN 48

static const char NAME_CHARS[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.";

/* Counters, reported by the plain driver. */
static unsigned long n_inputs;
static unsigned long n_valid_pairs;
static unsigned long n_matches;

static const char *cur_pattern = "";
static const char *cur_key = "";

static void
fail(const char *what)
{
	fprintf(stderr, "fuzz_match: property failed: %s\n", what);
	fprintf(stderr, "  pattern (%zu bytes): \"%s\"\n", strlen(cur_pattern), cur_pattern);
	fprintf(stderr, "  key     (%zu bytes): \"%s\"\n", strlen(cur_key), cur_key);
	abort();
}

#define CHECK(cond, what) do { if (!(cond)) fail(what); } while (0)

/* ---------------------------------------------------------------------
 * Reference versions
 * ---------------------------------------------------------------------
 */

static bool
ref_name_char(unsigned char c)
{
	return c != '\0' && memchr(NAME_CHARS, c, sizeof(NAME_CHARS) - 1) != NULL;
}

static bool
ref_word_char(unsigned char c)
{
	return c != '.' && ref_name_char(c);
}

static bool
ref_name_is_valid(const unsigned char *p, size_t len, long maxlen)
{
	size_t		i;

	if (len == 0 || (long) len > maxlen)
		return false;
	for (i = 0; i < len; i++)
		if (!ref_name_char(p[i]))
			return false;
	return true;
}

/* Length of the word of s (length len) that starts at offset at. */
static size_t
ref_word_len(const char *s, size_t len, size_t at)
{
	size_t		e = at;

	while (e < len && s[e] != '.')
		e++;
	return e - at;
}

/*
 * Is s a well-formed pattern (wildcards) or routing key?  On success *nwords
 * is its number of words.
 */
static bool
ref_well_formed(const char *s, bool wildcards, int *nwords)
{
	size_t		len = strlen(s);
	size_t		at = 0;

	*nwords = 0;
	if (len == 0)
		return !wildcards;
	if (len > PATTERN_MAXLEN)
		return false;
	for (;;)
	{
		size_t		wl = ref_word_len(s, len, at);
		size_t		i;

		if (wl == 0)
			return false;
		if (!(wildcards && wl == 1 && (s[at] == '*' || s[at] == '#')))
			for (i = 0; i < wl; i++)
				if (!ref_word_char((unsigned char) s[at + i]))
					return false;
		(*nwords)++;
		at += wl;
		if (at == len)
			return true;
		at++;					/* the dot */
	}
}

/*
 * Matching on the strings themselves.  A position is the offset where a
 * word starts; len + 1 means "no words left" (also the start of an empty
 * key).  Results are memoised, so that many '#' cannot make it exponential.
 */
typedef struct RefMatch
{
	const char *p;
	size_t		plen;
	const char *k;
	size_t		klen;
	signed char *memo;			/* 0 unknown, 1 false, 2 true */
} RefMatch;

static bool
ref_match_at(RefMatch *m, size_t pi, size_t ki)
{
	signed char *slot = &m->memo[pi * (m->klen + 2) + ki];
	bool		kend = ki > m->klen;
	bool		r;

	if (*slot)
		return *slot == 2;
	if (pi > m->plen)
		r = kend;
	else
	{
		size_t		pl = ref_word_len(m->p, m->plen, pi);
		size_t		pnext = pi + pl + 1;

		if (pl == 1 && m->p[pi] == '#')
			r = ref_match_at(m, pnext, ki) ||
				(!kend && ref_match_at(m, pi, ki + ref_word_len(m->k, m->klen, ki) + 1));
		else if (kend)
			r = false;
		else
		{
			size_t		kl = ref_word_len(m->k, m->klen, ki);

			r = ((pl == 1 && m->p[pi] == '*') ||
				 (pl == kl && memcmp(m->p + pi, m->k + ki, pl) == 0)) &&
				ref_match_at(m, pnext, ki + kl + 1);
		}
	}
	*slot = r ? 2 : 1;
	return r;
}

static bool
ref_match(const char *pattern, const char *key)
{
	RefMatch	m;
	bool		r;

	m.p = pattern;
	m.plen = strlen(pattern);
	m.k = key;
	m.klen = strlen(key);
	m.memo = calloc((m.plen + 2) * (m.klen + 2), 1);
	if (m.memo == NULL)
		abort();
	r = ref_match_at(&m, 0, m.klen == 0 ? 1 : 0);
	free(m.memo);
	return r;
}

/* ---------------------------------------------------------------------
 * Properties
 * ---------------------------------------------------------------------
 */

/* Do the words, joined with '.', give s back? */
static bool
rejoins_to(const Words *w, const char *s)
{
	size_t		at = 0;
	int			i;

	for (i = 0; i < w->n; i++)
	{
		size_t		wl = strlen(w->w[i]);

		if (wl == 0 || memchr(w->w[i], '.', wl) != NULL)
			return false;
		if (i > 0)
		{
			if (s[at] != '.')
				return false;
			at++;
		}
		if (strncmp(s + at, w->w[i], wl) != 0)
			return false;
		at += wl;
	}
	return s[at] == '\0';
}

static void
check_name(const unsigned char *p, size_t len)
{
	static const long fixed[] = {0, 1, NAME_MAXLEN, PATTERN_MAXLEN};
	size_t		i;

	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		CHECK(match_name_is_valid((const char *) p, (int) len, (int) fixed[i]) ==
			  ref_name_is_valid(p, len, fixed[i]),
			  "match_name_is_valid disagrees with the reference");
	CHECK(match_name_is_valid((const char *) p, (int) len, (int) len) ==
		  ref_name_is_valid(p, len, (long) len),
		  "match_name_is_valid disagrees with the reference (maxlen = len)");
	if (len > 0)
		CHECK(!match_name_is_valid((const char *) p, (int) len, (int) len - 1),
			  "match_name_is_valid accepts a name longer than maxlen");
}

/* Split s and check the result against the reference parser. */
static bool
check_split(const char *s, bool wildcards, Words *out)
{
	int			ref_n;
	bool		ref_ok = ref_well_formed(s, wildcards, &ref_n);
	bool		ok = match_split_words(s, wildcards, out);

	CHECK(ok == ref_ok, wildcards ? "match_split_words disagrees with the reference on a pattern"
		  : "match_split_words disagrees with the reference on a routing key");
	if (ok)
	{
		CHECK(out->n == ref_n, "match_split_words gives the wrong number of words");
		CHECK(rejoins_to(out, s), "the words do not re-join to the input");
	}
	return ok;
}

/* match_words, checked against the reference on the strings. */
static bool
check_match(const Words *p, const char *pattern, const Words *k, const char *key,
			const char *what)
{
	bool		r = match_words(p, k);

	if (r != ref_match(pattern, key))
		fail(what);
	return r;
}

static void
check_pair(const char *pattern, const char *key)
{
	Words		pw,
				kw,
				hash,
				kp,
				alt;
	bool		pattern_ok,
				key_ok;

	cur_pattern = pattern;
	cur_key = key;

	pattern_ok = check_split(pattern, true, &pw);
	key_ok = check_split(key, false, &kw);

	if (key_ok && kw.n > 0)
		CHECK(match_name_is_valid(key, (int) strlen(key), PATTERN_MAXLEN),
			  "a routing key match_split_words accepts is not a valid name");

	if (!(pattern_ok && key_ok))
	{
		/* Partial word lists: only that nothing breaks. */
		(void) match_words(&pw, &kw);
		match_free_words(&pw);
		match_free_words(&kw);
		return;
	}
	n_valid_pairs++;

	/* The matcher against the reference. */
	{
		bool		matched = check_match(&pw, pattern, &kw, key,
										  "match_words disagrees with the reference matcher");
		int			nonhash = 0;
		bool		has_hash = false;
		int			i;

		if (matched)
			n_matches++;

		for (i = 0; i < pw.n; i++)
		{
			if (strcmp(pw.w[i], "#") == 0)
				has_hash = true;
			else
				nonhash++;
		}
		if (nonhash > kw.n)
			CHECK(!matched, "a pattern with more non-'#' words than the key has words matches");
		if (!has_hash && matched)
			CHECK(pw.n == kw.n, "a pattern without '#' matches a key of another length");

		if (matched)
		{
			/*
			 * Generalising a matching pattern keeps it matching: a word made
			 * '*' (unless it was '#') or '#', "#." in front, ".#" behind.
			 * Words at the ends and one in the middle are tried.
			 */
			int			tries[3];
			int			t;

			alt.n = pw.n + 1;
			alt.w = malloc(sizeof(char *) * (pw.n + 1));
			if (alt.w == NULL)
				abort();
			tries[0] = 0;
			tries[1] = pw.n / 2;
			tries[2] = pw.n - 1;
			for (t = 0; t < 3; t++)
			{
				i = tries[t];
				memcpy(alt.w, pw.w, sizeof(char *) * pw.n);
				alt.n = pw.n;
				if (strcmp(pw.w[i], "#") != 0)
				{
					alt.w[i] = "*";
					CHECK(match_words(&alt, &kw), "a word made '*' stops a pattern matching");
				}
				alt.w[i] = "#";
				CHECK(match_words(&alt, &kw), "a word made '#' stops a pattern matching");
			}
			alt.n = pw.n + 1;
			alt.w[0] = "#";
			memcpy(alt.w + 1, pw.w, sizeof(char *) * pw.n);
			CHECK(match_words(&alt, &kw), "\"#.\" in front stops a pattern matching");
			memcpy(alt.w, pw.w, sizeof(char *) * pw.n);
			alt.w[pw.n] = "#";
			CHECK(match_words(&alt, &kw), "\".#\" behind stops a pattern matching");
			free(alt.w);
		}
	}

	/* '#' matches every key. */
	CHECK(match_split_words("#", true, &hash), "\"#\" is not a valid pattern");
	CHECK(match_words(&hash, &kw), "'#' does not match a key");
	match_free_words(&hash);

	/* A key is a pattern that matches itself (the empty key is no pattern). */
	if (kw.n > 0)
	{
		CHECK(check_split(key, true, &kp), "a valid routing key is not a valid pattern");
		check_match(&kp, key, &kw, key, "match_words disagrees with the reference (key as pattern)");
		CHECK(match_words(&kp, &kw), "a pattern equal to the key does not match it");
		match_free_words(&kp);
	}
	else
	{
		CHECK(!match_split_words(key, true, &kp), "the empty pattern is valid");
		match_free_words(&kp);
	}

	match_free_words(&pw);
	match_free_words(&kw);
}

static void
run_one(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t		plen = nl ? (size_t) (nl - data) : size;
	const uint8_t *k = nl ? nl + 1 : data + size;
	size_t		krest = size - (size_t) (k - data);
	const uint8_t *nl2 = memchr(k, '\n', krest);
	size_t		klen = nl2 ? (size_t) (nl2 - k) : krest;
	char	   *pattern = malloc(plen + 1);
	char	   *key = malloc(klen + 1);

	if (pattern == NULL || key == NULL)
		abort();
	memcpy(pattern, data, plen);
	pattern[plen] = '\0';
	memcpy(key, k, klen);
	key[klen] = '\0';

	n_inputs++;
	cur_pattern = pattern;
	cur_key = key;
	check_name(data, size);
	check_name((const unsigned char *) pattern, plen);
	check_name((const unsigned char *) key, klen);
	check_pair(pattern, key);

	cur_pattern = "";
	cur_key = "";
	free(pattern);
	free(key);
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Beyond a few times PATTERN_MAXLEN nothing new can happen. */
	if (size > 4 * PATTERN_MAXLEN + 8)
		return 0;
	run_one(data, size);
	return 0;
}

#ifdef FUZZ_DRIVER
/* ---------------------------------------------------------------------
 * Plain driver: corpus files, then generated inputs
 * ---------------------------------------------------------------------
 */
#include "fuzz_driver.h"

/*
 * Patterns and keys from a few short words, so that matches are common,
 * with now and then a one-character word of any printable character, a
 * damaged byte, an empty word or a length near PATTERN_MAXLEN.
 */
static size_t
gen_words(char *buf, size_t cap, bool wildcards)
{
	static const char *const words[] = {"a", "b", "ab", "x-y", "_", "Z9"};
	static const char *const wild[] = {"*", "#"};
	int			n = rng() % 7;
	size_t		len = 0;
	int			i;

	if (rng() % 16 == 0)
		n = 60 + rng() % 70;	/* around PATTERN_MAXLEN */
	for (i = 0; i < n; i++)
	{
		const char *w;
		size_t		wl;
		char		one[2] = {0, 0};

		if (rng() % 24 == 0)
		{
			/* a one-character word: any printable character */
			one[0] = (char) ('!' + rng() % 94);
			w = one;
		}
		else if (wildcards && rng() % 3 == 0)
			w = wild[rng() % 2];
		else
			w = words[rng() % (sizeof(words) / sizeof(words[0]))];
		wl = strlen(w);
		if (len + wl + 2 >= cap)
			break;
		if (i > 0)
			buf[len++] = '.';
		memcpy(buf + len, w, wl);
		len += wl;
	}
	if (len > 0 && len + 2 < cap && rng() % 8 == 0)
	{
		/* damage: a byte changed, or a dot in front, behind or doubled */
		unsigned char c = 1 + rng() % 255;
		size_t		at = rng() % len;

		switch (rng() % 4)
		{
			case 0:
				/* any byte but '\n' (the separator) and '\0' */
				buf[at] = (c == '\n') ? '.' : (char) c;
				break;
			case 1:
				memmove(buf + 1, buf, len++);
				buf[0] = '.';
				break;
			case 2:
				buf[len++] = '.';
				break;
			case 3:
				memmove(buf + at + 1, buf + at, len++ - at);
				buf[at] = '.';
				break;
		}
	}
	return len;
}

int
main(int argc, char **argv)
{
	const char *runs_env = getenv("FUZZ_RUNS");
	const char *seed_env = getenv("FUZZ_SEED");
	long		runs = runs_env ? strtol(runs_env, NULL, 10) : 10000;
	int			files = 0;
	long		i;
	int			a;

	rng_state = seed_env ? strtoull(seed_env, NULL, 10) : 20240601;
	if (rng_state == 0)
		rng_state = 1;

	for (a = 1; a < argc; a++)
		files += run_path(argv[a]);

	for (i = 0; i < runs; i++)
	{
		char		buf[2 * (PATTERN_MAXLEN + 16) + 2];
		size_t		len;

		len = gen_words(buf, PATTERN_MAXLEN + 16, true);
		buf[len++] = '\n';
		if (rng() % 4 == 0)
		{
			/* the key is the pattern with its wildcards replaced */
			size_t		j,
						plen = len - 1;

			for (j = 0; j < plen; j++)
				buf[len + j] = (buf[j] == '*' || buf[j] == '#') ? "ab"[rng() % 2] : buf[j];
			len += plen;
		}
		else
			len += gen_words(buf + len, PATTERN_MAXLEN + 16, false);
		LLVMFuzzerTestOneInput((const uint8_t *) buf, len);
	}

	printf("fuzz_match: %d corpus files, %ld generated inputs, %lu well-formed pairs, %lu matched: all properties held\n",
		   files, runs, n_valid_pairs, n_matches);
	return 0;
}
#endif							/* FUZZ_DRIVER */
