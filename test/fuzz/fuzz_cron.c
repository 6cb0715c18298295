/*-------------------------------------------------------------------------
 *
 * fuzz_cron.c
 *	  Fuzz target for schedule expressions (src/cron.c): parsing, the next
 *	  matching minute and the next instant in a time zone, checked against
 *	  a reference parser and matcher written here from the syntax alone.
 *
 * Input: an expression (the bytes before the first newline, at most
 * EXPR_MAXLEN of them; a NUL ends it early, as it would in C), then,
 * optionally, up to 8 bytes after the newline (more are ignored) that pick
 * one more start minute, start instant, fixed offset, time zone and
 * instant near one of its changes.  Without them only the fixed starts
 * below are used.  Every property that fails prints the expression and
 * where it failed, and aborts, so libFuzzer keeps the input.
 *
 * Only the interface of cron.h is under test: cron_parse, cron_matches,
 * cron_next, cron_next_instant, cron_days_in_month and cron_weekday.  The
 * reference knows of cron.c's rules only what the language needs: five
 * whitespace-separated fields (minute hour day-of-month month
 * day-of-week), each a comma list of "*", "N" or "A-B", each optionally
 * with "/S" ("A/S" is A to the field's maximum); jan-dec and sun-sat (any
 * case) in the last two fields; day of week 0-7, 7 is Sunday; the
 * macros; 'N seconds' / 'N second' (N 1-59, any number of digits);
 * values in range, A <= B, 1 <= S <= the field's span; and no expression
 * that matches no minute after 2000-01-01 00:00 within CRON_HORIZON_YEARS
 * years.  Vixie's rule: when the day-of-month or day-of-week field
 * starts with '*', a day matches if both do, otherwise if either does.
 *
 * Properties:
 *	- cron_parse never crashes; when it refuses an expression it writes a
 *	  non-empty, NUL-terminated message that stays within errlen (even a
 *	  short one), and its answer is the same without err (NULL, 0);
 *	- it accepts exactly what the reference parser accepts, and what it
 *	  accepts has the reference's minutes, hours, days, months, days of the
 *	  week (7 read as 0), '*' flags and seconds;
 *	- cron_days_in_month and cron_weekday agree with reference calendar
 *	  arithmetic, and cron_matches with the reference matcher;
 *	- cron_next, from start minutes from 1970 to 2100 (leap days, year
 *	  ends), finds the minute a reference search finds (a day at a time,
 *	  then minutes), or none exactly when the reference finds none by the
 *	  end of the start's year + 8 (cron_next's horizon); the minute it
 *	  finds matches, and a failed call leaves its argument alone;
 *	- cron_next_instant with a fixed offset (+5:30, -8:00, +14:00, ...)
 *	  gives cron_next's minute after the local time of "after", minus the
 *	  offset (or nothing where cron_next finds nothing), always > after;
 *	- cron_next_instant in synthetic daylight-saving zones (changes at
 *	  01:00 UTC on fixed days; northern and southern, changes of 30
 *	  minutes to 2 hours), in series of calls that each start from the
 *	  previous result: a result is > after; its local time is a matching
 *	  minute, or it is a forward change's instant and a minute of the gap
 *	  matches; a schedule whose hour field is not every hour never runs a
 *	  local minute twice, nor in the second pass of a repeated hour; and
 *	  every result is that of a reference built on the zone's known changes
 *	  (a repeated minute's first pass, both passes when every hour; a
 *	  gap's minutes at its end), whenever the reference finds one well
 *	  inside the horizon;
 *	- 'N seconds': the next multiple of N seconds since 1970 after "after",
 *	  whatever the zone.
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

#include "cron.h"

/* The longest expression tried; nothing new happens beyond it. */
#define EXPR_MAXLEN 256

/* Bytes after the newline that are used. */
#define EXTRA_LEN 8

/* cron_next gives up after the end of its start's year + this. */
#define HORIZON_YEARS CRON_HORIZON_YEARS

/* Calls in a series of cron_next_instant, each from the last result. */
#define SERIES_LEN 6
#define SERIES_MAX 8

#define MINUTES_1970_2100 (INT64_C(47482) * 1440)	/* 1970-01-01 to 2100-01-01 */

/* Counters, reported by the plain driver. */
static unsigned long n_inputs;
static unsigned long n_accepted;
static unsigned long n_seconds;
static unsigned long n_next;
static unsigned long n_instants;
static unsigned long n_gap_runs;
static unsigned long n_second_pass;

static const char *cur_expr = "";
static char cur_ctx[512];

static void
fail(const char *what)
{
	const unsigned char *p;

	fprintf(stderr, "fuzz_cron: property failed: %s\n", what);
	fprintf(stderr, "  expression (%zu bytes): \"", strlen(cur_expr));
	for (p = (const unsigned char *) cur_expr; *p != '\0'; p++)
	{
		if (*p == '"' || *p == '\\')
			fprintf(stderr, "\\%c", *p);
		else if (*p >= 0x20 && *p < 0x7f)
			fputc(*p, stderr);
		else
			fprintf(stderr, "\\%03o", *p);
	}
	fprintf(stderr, "\"\n");
	if (cur_ctx[0] != '\0')
		fprintf(stderr, "  %s\n", cur_ctx);
	abort();
}

#define CHECK(cond, what) do { if (!(cond)) fail(what); } while (0)

/* ---------------------------------------------------------------------
 * Reference calendar
 * ---------------------------------------------------------------------
 */

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t		q = a / b;

	if (a % b != 0 && a < 0)
		q--;
	return q;
}

static bool
ref_leap(int y)
{
	return y % 400 == 0 || (y % 4 == 0 && y % 100 != 0);
}

static int
ref_month_days(int y, int m)
{
	static const int len[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return len[m] + (m == 2 && ref_leap(y) ? 1 : 0);
}

/* Days from 1970-01-01 to y-m-d (y >= 1): whole years from 1 AD, months. */
static int64_t
ref_days(int y, int m, int d)
{
	int64_t		py = y - 1;
	int64_t		n = py * 365 + py / 4 - py / 100 + py / 400;
	int			i;

	for (i = 1; i < m; i++)
		n += ref_month_days(y, i);
	return n + d - 1 - 719162;	/* 719162: 0001-01-01 to 1970-01-01 */
}

/* 0 Sunday ... 6 Saturday; 1970-01-01 was a Thursday. */
static int
ref_weekday(int64_t days)
{
	return (int) (((days + 4) % 7 + 7) % 7);
}

static void
ref_date(int64_t days, int *y, int *m, int *d)
{
	int			yy = 1970 + (int) floor_div(days * 400, 146097);
	int64_t		rest;
	int			mm = 1;

	while (ref_days(yy, 1, 1) > days)
		yy--;
	while (ref_days(yy + 1, 1, 1) <= days)
		yy++;
	rest = days - ref_days(yy, 1, 1);
	while (rest >= ref_month_days(yy, mm))
		rest -= ref_month_days(yy, mm++);
	*y = yy;
	*m = mm;
	*d = (int) rest + 1;
}

/* A calendar minute from seconds since 1970 (UTC or naive local). */
static void
ref_split(int64_t secs, CronTime *t)
{
	int64_t		days = floor_div(secs, 86400);
	int64_t		rest = secs - days * 86400;

	ref_date(days, &t->year, &t->month, &t->day);
	t->hour = (int) (rest / 3600);
	t->minute = (int) (rest % 3600 / 60);
}

static int64_t
ref_join(const CronTime *t)
{
	return ref_days(t->year, t->month, t->day) * 86400 + t->hour * 3600 + t->minute * 60;
}

static bool
same_time(const CronTime *a, const CronTime *b)
{
	return a->year == b->year && a->month == b->month && a->day == b->day &&
		a->hour == b->hour && a->minute == b->minute;
}

static void
fmt_secs(char *buf, size_t len, int64_t t, const char *zone)
{
	CronTime	c;

	ref_split(t, &c);
	snprintf(buf, len, "%lld (%04d-%02d-%02d %02d:%02d:%02d %s)", (long long) t,
			 c.year, c.month, c.day, c.hour, c.minute,
			 (int) (t - floor_div(t, 60) * 60), zone);
}

/* ---------------------------------------------------------------------
 * Reference parser and matcher
 * ---------------------------------------------------------------------
 */

typedef struct RefField
{
	int			min;
	int			max;
	const char *names;			/* 3-letter names of min, min + 1, ... in a row */
} RefField;

static const RefField ref_fields[5] = {
	{0, 59, NULL},
	{0, 23, NULL},
	{1, 31, NULL},
	{1, 12, "janfebmaraprmayjunjulaugsepoctnovdec"},
	{0, 7, "sunmontuewedthufrisat"},
};

static const char *const ref_macros[][2] = {
	{"yearly", "0 0 1 1 *"},
	{"annually", "0 0 1 1 *"},
	{"monthly", "0 0 1 * *"},
	{"weekly", "0 0 * * 0"},
	{"daily", "0 0 * * *"},
	{"midnight", "0 0 * * *"},
	{"hourly", "0 * * * *"},
};

typedef struct RefSpec
{
	int			seconds;		/* 'N seconds', or 0 */
	bool		set[5][64];		/* minute, hour, mday, month, wday (0-7) */
	bool		mday_star;
	bool		wday_star;
} RefSpec;

/* isspace, isdigit, isalpha and tolower of the C locale */
static bool
ref_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static bool
ref_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
ref_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char
ref_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
}

/* Is [p, p + n) word, in any case? */
static bool
ref_word(const char *p, size_t n, const char *word)
{
	size_t		i;

	if (n != strlen(word))
		return false;
	for (i = 0; i < n; i++)
		if (ref_lower(p[i]) != word[i])
			return false;
	return true;
}

/* Digits only, at least one; large values stick at 100000. */
static bool
ref_number(const char *p, size_t n, int *v)
{
	size_t		i;

	*v = 0;
	if (n == 0)
		return false;
	for (i = 0; i < n; i++)
	{
		if (!ref_digit(p[i]))
			return false;
		if (*v < 100000)
			*v = *v * 10 + (p[i] - '0');
	}
	return true;
}

static bool
ref_value(const char *p, size_t n, const RefField *f, int *v)
{
	int			i;

	if (ref_number(p, n, v))
		return true;
	if (f->names == NULL || n != 3)
		return false;
	for (i = 0; f->names[3 * i] != '\0'; i++)
		if (ref_alpha(p[0]) && ref_alpha(p[1]) && ref_alpha(p[2]) &&
			ref_lower(p[0]) == f->names[3 * i] &&
			ref_lower(p[1]) == f->names[3 * i + 1] &&
			ref_lower(p[2]) == f->names[3 * i + 2])
		{
			*v = f->min + i;
			return true;
		}
	return false;
}

/* One list item, [p, p + n): base ("*", "A", "A-B") and an optional "/S". */
static bool
ref_item(const char *p, size_t n, const RefField *f, bool *set)
{
	const char *slash = memchr(p, '/', n);
	size_t		bn = slash != NULL ? (size_t) (slash - p) : n;
	const char *dash = memchr(p, '-', bn);
	int			lo,
				hi,
				step = 1,
				v;

	if (slash != NULL && !ref_number(slash + 1, n - bn - 1, &step))
		return false;
	if (bn == 1 && p[0] == '*')
	{
		lo = f->min;
		hi = f->max;
	}
	else if (dash != NULL)
	{
		if (!ref_value(p, (size_t) (dash - p), f, &lo) ||
			!ref_value(dash + 1, bn - (size_t) (dash - p) - 1, f, &hi))
			return false;
	}
	else
	{
		if (!ref_value(p, bn, f, &lo))
			return false;
		hi = slash != NULL ? f->max : lo;
	}
	if (lo < f->min || hi > f->max || lo > hi || step < 1 || step > f->max - f->min + 1)
		return false;
	for (v = lo; v <= hi; v += step)
		set[v] = true;
	return true;
}

static bool
ref_field(const char *p, size_t n, const RefField *f, bool *set)
{
	size_t		a = 0;

	for (;;)
	{
		size_t		b = a;

		while (b < n && p[b] != ',')
			b++;
		if (!ref_item(p + a, b - a, f, set))
			return false;
		if (b == n)
			return true;
		a = b + 1;
	}
}

/* 1: 'N seconds' with N 1-59; -1: that form, N out of range; 0: not it. */
static int
ref_seconds(const char *s, int *n)
{
	const char *digits;
	const char *word;

	*n = 0;
	while (ref_space(*s))
		s++;
	digits = s;
	while (ref_digit(*s))
	{
		if (*n < 100000)
			*n = *n * 10 + (*s - '0');
		s++;
	}
	if (s == digits || !ref_space(*s))
		return 0;
	while (ref_space(*s))
		s++;
	word = s;
	while (ref_alpha(*s))
		s++;
	if (!ref_word(word, (size_t) (s - word), "seconds") &&
		!ref_word(word, (size_t) (s - word), "second"))
		return 0;
	while (ref_space(*s))
		s++;
	if (*s != '\0')
		return 0;
	return *n >= 1 && *n <= 59 ? 1 : -1;
}

static bool
ref_day_ok(const RefSpec *r, int m, int d, int w)
{
	bool		md = r->set[2][d];
	bool		wd = r->set[4][w] || (w == 0 && r->set[4][7]);

	if (!r->set[3][m])
		return false;
	if (r->mday_star || r->wday_star)
		return md && wd;
	return md || wd;
}

static bool
ref_matches(const RefSpec *r, int64_t local)
{
	CronTime	t;

	ref_split(local, &t);
	return ref_day_ok(r, t.month, t.day,
					  ref_weekday(ref_days(t.year, t.month, t.day))) &&
		r->set[1][t.hour] && r->set[0][t.minute];
}

/*
 * The first local minute after "from" (naive seconds) that matches, a day at
 * a time and then a minute at a time; false if there is none by the end of
 * last_year.
 */
static bool
ref_next_local(const RefSpec *r, int64_t from, int last_year, int64_t *out)
{
	int64_t		start = floor_div(from, 60) * 60 + 60;
	int64_t		day = floor_div(start, 86400);
	int			mod = (int) ((start - day * 86400) / 60);
	int			w = ref_weekday(day);
	int			y,
				m,
				d;

	ref_date(day, &y, &m, &d);
	while (y <= last_year)
	{
		if (!r->set[3][m])
		{
			/* the rest of this month */
			int			left = ref_month_days(y, m) - d + 1;

			day += left;
			w = (w + left) % 7;
			d = 1;
			mod = 0;
			if (++m > 12)
			{
				m = 1;
				y++;
			}
			continue;
		}
		if (ref_day_ok(r, m, d, w))
			for (; mod < 1440; mod++)
				if (r->set[1][mod / 60] && r->set[0][mod % 60])
				{
					*out = day * 86400 + mod * 60;
					return true;
				}
		mod = 0;
		day++;
		w = (w + 1) % 7;
		if (++d > ref_month_days(y, m))
		{
			d = 1;
			if (++m > 12)
			{
				m = 1;
				y++;
			}
		}
	}
	return false;
}

static bool
ref_parse(const char *text, RefSpec *r)
{
	const char *s = text;
	const char *start[5];
	size_t		len[5];
	int			nf = 0;
	int			i,
				k;
	CronTime	t2000 = {2000, 1, 1, 0, 0};
	int64_t		found;

	memset(r, 0, sizeof(*r));
	k = ref_seconds(text, &r->seconds);
	if (k != 0)
		return k > 0;
	r->seconds = 0;

	while (ref_space(*s))
		s++;
	if (*s == '@')
	{
		const char *e = s;

		while (*e != '\0' && !ref_space(*e))
			e++;
		for (i = 0; i < (int) (sizeof(ref_macros) / sizeof(ref_macros[0])); i++)
			if (ref_word(s + 1, (size_t) (e - s - 1), ref_macros[i][0]))
				break;
		while (ref_space(*e))
			e++;
		if (i == (int) (sizeof(ref_macros) / sizeof(ref_macros[0])) || *e != '\0')
			return false;
		return ref_parse(ref_macros[i][1], r);
	}
	while (*s != '\0')
	{
		if (nf == 5)
			return false;
		start[nf] = s;
		while (*s != '\0' && !ref_space(*s))
			s++;
		len[nf] = (size_t) (s - start[nf]);
		nf++;
		while (ref_space(*s))
			s++;
	}
	if (nf != 5)
		return false;
	for (i = 0; i < 5; i++)
		if (!ref_field(start[i], len[i], &ref_fields[i], r->set[i]))
			return false;
	r->mday_star = start[2][0] == '*';
	r->wday_star = start[4][0] == '*';
	/* Refused: no minute after 2000-01-01 00:00 within the horizon matches. */
	return ref_next_local(r, ref_join(&t2000), 2000 + HORIZON_YEARS, &found);
}

static bool
ref_every_hour(const RefSpec *r)
{
	int			h;

	for (h = 0; h < 24; h++)
		if (!r->set[1][h])
			return false;
	return true;
}

/* ---------------------------------------------------------------------
 * Time zones
 * ---------------------------------------------------------------------
 */

/*
 * Offset "mid" from 01:00 UTC on day-of-year d1 to 01:00 UTC on d2 (days
 * from January 1st, 0-based), "base" the rest of the year.  mid > base is
 * a northern zone (forward at d1), mid < base a southern one.  The last
 * zone's gap and repeated hour span local midnight (23:30 to 00:30).
 */
typedef struct Zone
{
	const char *name;
	long		base;
	long		mid;
	int			d1;
	int			d2;
} Zone;

static const Zone zones[8] = {
	{"CET-like +1/+2", 3600, 7200, 88, 298},
	{"US-like -5/-4", -18000, -14400, 69, 308},
	{"Sydney-like +11/+10", 39600, 36000, 95, 277},
	{"Lord-Howe-like +11/+10:30", 39600, 37800, 95, 277},
	{"double summer +1/+3", 3600, 10800, 100, 250},
	{"Chatham-like +13:45/+12:45", 49500, 45900, 95, 270},
	{"-11/-10", -39600, -36000, 80, 300},
	{"-1:30/-0:30, across midnight", -5400, -1800, 88, 298},
};

static int64_t
zone_change(int y, int d)
{
	return (ref_days(y, 1, 1) + d) * 86400 + 3600;
}

static long
zone_offset(int64_t t, void *arg)
{
	const Zone *z = arg;
	CronTime	c;

	ref_split(t, &c);
	return t >= zone_change(c.year, z->d1) && t < zone_change(c.year, z->d2) ?
		z->mid : z->base;
}

static long
fixed_offset(int64_t t, void *arg)
{
	(void) t;
	return *(const long *) arg;
}

/* The instant of the forward (or backward) change of year y. */
static int64_t
zone_forward(const Zone *z, int y, bool forward)
{
	return zone_change(y, (z->mid > z->base) == forward ? z->d1 : z->d2);
}

/*
 * The instants at which local time reads "local" (sorted; none in a gap,
 * two in a repeated hour).
 */
static int
zone_instants(const Zone *z, int64_t local, int64_t *inst)
{
	int			n = 0;

	if (zone_offset(local - z->base, (void *) z) == z->base)
		inst[n++] = local - z->base;
	if (z->mid != z->base && zone_offset(local - z->mid, (void *) z) == z->mid)
		inst[n++] = local - z->mid;
	if (n == 2 && inst[1] < inst[0])
	{
		int64_t		t = inst[0];

		inst[0] = inst[1];
		inst[1] = t;
	}
	return n;
}

/* The forward change whose gap holds "local". */
static int64_t
zone_gap_end(const Zone *z, int64_t local)
{
	long		lo = z->base < z->mid ? z->base : z->mid;
	long		hi = z->base < z->mid ? z->mid : z->base;
	CronTime	c;
	int			y;

	ref_split(local, &c);
	for (y = c.year - 1; y <= c.year + 1; y++)
	{
		int64_t		t = zone_forward(z, y, true);

		if (local - hi < t && t <= local - lo)
			return t;
	}
	fail("reference: a local time in no gap has no instant");
	return 0;
}

/*
 * The reference next instant in zone z: over the matching local minutes
 * from a minute before the earliest local reading of "after", the first
 * instant of each (both of a repeated one when every hour; a gap's end for
 * one in a gap), the least that is > after.  *sure when one is found with
 * room to spare before the end of the start's year + 7: then cron.c, whose
 * horizon is a year longer, must find the same.
 */
static void
ref_zone_next(const RefSpec *r, const Zone *z, int64_t after, int64_t *res, bool *sure)
{
	long		lo = z->base < z->mid ? z->base : z->mid;
	long		hi = z->base < z->mid ? z->mid : z->base;
	int64_t		local = floor_div(after + lo, 60) * 60 - 60;
	CronTime	c;
	int			last_year;
	bool		every = ref_every_hour(r);
	bool		have = false;
	int64_t		best = 0;

	ref_split(local, &c);
	last_year = c.year + HORIZON_YEARS - 1;
	while (ref_next_local(r, local, last_year, &local))
	{
		int64_t		inst[2];
		int			n,
					k;

		if (have && local - hi > best)
			break;
		n = zone_instants(z, local, inst);
		if (n == 0)
		{
			inst[0] = zone_gap_end(z, local);
			n = 1;
		}
		for (k = 0; k < n && (k == 0 || every); k++)
			if (inst[k] > after && (!have || inst[k] < best))
			{
				best = inst[k];
				have = true;
			}
	}
	*res = best;
	*sure = have && best + hi + 86400 < ref_days(last_year + 1, 1, 1) * 86400;
}

/* ---------------------------------------------------------------------
 * Properties
 * ---------------------------------------------------------------------
 */

static bool
spec_matches_ref(const CronSpec *spec, const RefSpec *r)
{
	int			v;

	if (spec->seconds != r->seconds)
		return false;
	if (spec->seconds > 0)
		return spec->minutes == 0 && spec->hours == 0 && spec->mdays == 0 &&
			spec->months == 0 && spec->wdays == 0;
	for (v = 0; v < 64; v++)
	{
		if (((spec->minutes >> v) & 1) != (v < 60 && r->set[0][v]))
			return false;
		if (v < 32 && (((spec->hours >> v) & 1) != (v < 24 && r->set[1][v]) ||
					   ((spec->mdays >> v) & 1) != (v < 32 && r->set[2][v]) ||
					   ((spec->months >> v) & 1) != (v < 13 && r->set[3][v]) ||
					   ((spec->wdays >> v) & 1) !=
					   (v < 7 && (r->set[4][v] || (v == 0 && r->set[4][7])))))
			return false;
	}
	return spec->mday_any == r->mday_star && spec->wday_any == r->wday_star;
}

static bool
check_parse(const char *expr, CronSpec *spec, RefSpec *ref)
{
	char		err[256];
	char		small[64];
	CronSpec	other;
	bool		ok,
				ref_ok;
	size_t		i;

	cur_ctx[0] = '\0';
	memset(err, 'x', sizeof(err));
	ok = cron_parse(expr, spec, err, sizeof(err));
	if (!ok)
	{
		CHECK(memchr(err, '\0', sizeof(err)) != NULL,
			  "cron_parse refuses without a NUL-terminated message");
		CHECK(err[0] != '\0', "cron_parse refuses with an empty message");
		snprintf(cur_ctx, sizeof(cur_ctx), "cron_parse: %s", err);
	}

	/* A short buffer: the message is cut short, never overruns it. */
	memset(small, 'x', sizeof(small));
	CHECK(cron_parse(expr, &other, small, 8) == ok, "cron_parse's answer depends on errlen");
	if (!ok)
		CHECK(memchr(small, '\0', 8) != NULL && small[0] != '\0',
			  "cron_parse's message in 8 bytes is empty or not NUL-terminated");
	for (i = 8; i < sizeof(small); i++)
		CHECK(small[i] == 'x', "cron_parse writes past errlen");
	CHECK(cron_parse(expr, &other, NULL, 0) == ok, "cron_parse's answer depends on err");

	ref_ok = ref_parse(expr, ref);
	CHECK(ok == ref_ok, ok ? "cron_parse accepts what the reference refuses"
		  : "cron_parse refuses what the reference accepts");
	if (ok)
	{
		CHECK(spec_matches_ref(spec, ref), "cron_parse's spec differs from the reference's");
		CHECK(spec_matches_ref(&other, ref), "cron_parse's spec depends on err");
	}
	return ok;
}

/* cron_next (and the calendar, and cron_matches) from the minute t0. */
static void
check_next(const CronSpec *spec, const RefSpec *r, const CronTime *t0)
{
	CronTime	t = *t0;
	CronTime	back;
	int64_t		from = ref_join(t0);
	int64_t		found = 0;
	bool		ok,
				ref_ok;

	snprintf(cur_ctx, sizeof(cur_ctx), "cron_next from %04d-%02d-%02d %02d:%02d",
			 t0->year, t0->month, t0->day, t0->hour, t0->minute);
	CHECK(cron_days_in_month(t0->year, t0->month) == ref_month_days(t0->year, t0->month),
		  "cron_days_in_month disagrees with the reference");
	CHECK(cron_weekday(t0->year, t0->month, t0->day) ==
		  ref_weekday(ref_days(t0->year, t0->month, t0->day)),
		  "cron_weekday disagrees with the reference");
	CHECK(cron_matches(spec, t0) == ref_matches(r, from),
		  "cron_matches disagrees with the reference");

	ok = cron_next(spec, &t);
	ref_ok = ref_next_local(r, from, t0->year + HORIZON_YEARS, &found);
	ref_split(found, &back);
	if (ok)
		snprintf(cur_ctx + strlen(cur_ctx), sizeof(cur_ctx) - strlen(cur_ctx),
				 ": cron_next gives %04d-%02d-%02d %02d:%02d",
				 t.year, t.month, t.day, t.hour, t.minute);
	else
		snprintf(cur_ctx + strlen(cur_ctx), sizeof(cur_ctx) - strlen(cur_ctx),
				 ": cron_next gives up");
	if (ref_ok)
		snprintf(cur_ctx + strlen(cur_ctx), sizeof(cur_ctx) - strlen(cur_ctx),
				 ", the reference gives %04d-%02d-%02d %02d:%02d",
				 back.year, back.month, back.day, back.hour, back.minute);
	else
		snprintf(cur_ctx + strlen(cur_ctx), sizeof(cur_ctx) - strlen(cur_ctx),
				 ", the reference finds none by the end of %d", t0->year + HORIZON_YEARS);
	if (!ok)
	{
		CHECK(!ref_ok, "cron_next finds no minute where the reference finds one");
		CHECK(same_time(&t, t0), "cron_next fails but moves its argument");
		return;
	}
	CHECK(ref_ok, "cron_next finds a minute where the reference finds none");
	CHECK(same_time(&t, &back), "cron_next disagrees with the reference");
	CHECK(cron_matches(spec, &t), "cron_next's minute does not match (cron_matches)");
	CHECK(cron_days_in_month(t.year, t.month) == ref_month_days(t.year, t.month) &&
		  cron_weekday(t.year, t.month, t.day) == ref_weekday(ref_days(t.year, t.month, t.day)),
		  "cron_days_in_month or cron_weekday disagrees with the reference");
	n_next++;
}

static int64_t
next_multiple(int64_t after, int n)
{
	return (floor_div(after, n) + 1) * n;
}


/*
 * cron_next_instant with a fixed offset: cron_next's minute after the local
 * minute of "after", minus the offset.
 */
static void
check_fixed(const CronSpec *spec, const RefSpec *r, long off, int64_t after)
{
	char		a[64],
				b[64];
	int64_t		next = 0;
	int64_t		m = floor_div(after + off, 60) * 60;	/* after's local minute */
	int64_t		found = 0;
	CronTime	t,
				before;
	int			year;
	bool		ok,
				next_ok,
				ref_ok;

	ok = cron_next_instant(spec, after, fixed_offset, &off, &next);
	fmt_secs(a, sizeof(a), after, "UTC");
	fmt_secs(b, sizeof(b), next, "UTC");
	snprintf(cur_ctx, sizeof(cur_ctx),
			 "cron_next_instant, fixed offset %+ld s, after %s: %s %s",
			 off, a, ok ? "gives" : "gives up", ok ? b : "");
	n_instants++;
	if (spec->seconds > 0)
	{
		CHECK(ok && next == next_multiple(after, spec->seconds),
			  "'N seconds' does not run at the next multiple of N seconds");
		return;
	}
	if (ok)
		CHECK(next > after, "cron_next_instant gives an instant not after \"after\"");

	ref_split(m, &t);
	ref_split(m - 60, &before);
	year = t.year;
	next_ok = cron_next(spec, &t);
	ref_ok = ref_next_local(r, m, year + HORIZON_YEARS, &found);
	if (next_ok)
	{
		fmt_secs(b, sizeof(b), ref_join(&t), "local");
		snprintf(cur_ctx + strlen(cur_ctx), sizeof(cur_ctx) - strlen(cur_ctx),
				 "; cron_next from after's local minute gives %s", b);
	}
	CHECK(next_ok == ref_ok && (!next_ok || ref_join(&t) == found),
		  "cron_next (from after's local minute) disagrees with the reference");
	if (!next_ok)
		CHECK(!ok, "cron_next_instant (fixed offset) finds a run where cron_next finds none");
	else if (ok)
		CHECK(next == ref_join(&t) - off,
			  "cron_next_instant (fixed offset) is not cron_next's minute minus the offset");
	else
	{
		/*
		 * cron_next_instant starts from the minute before, so its horizon
		 * ends a year sooner when after is in a local year's first minute.
		 */
		CHECK(before.year < year && t.year == year + HORIZON_YEARS,
			  "cron_next_instant (fixed offset) finds nothing where cron_next finds a minute");
	}
}

/*
 * A series of cron_next_instant calls in zone z, each from the previous
 * result.
 */
static void
check_series(const CronSpec *spec, const RefSpec *r, const Zone *z, int64_t after, int count)
{
	int64_t		locals[SERIES_MAX];
	int			nlocals = 0;
	bool		every = spec->seconds == 0 && ref_every_hour(r);
	int			k;

	for (k = 0; k < count && k < SERIES_MAX; k++)
	{
		char		a[64],
					b[64];
		int64_t		next = 0,
					ref_next = 0,
					local;
		bool		ok,
					sure = false;
		int			j;

		ok = cron_next_instant(spec, after, zone_offset, (void *) z, &next);
		n_instants++;
		fmt_secs(a, sizeof(a), after, "UTC");
		fmt_secs(b, sizeof(b), next, "UTC");
		snprintf(cur_ctx, sizeof(cur_ctx),
				 "cron_next_instant in zone %s, call %d of a series, after %s: %s %s",
				 z->name, k + 1, a, ok ? "gives" : "gives up", ok ? b : "");
		if (spec->seconds > 0)
		{
			CHECK(ok && next == next_multiple(after, spec->seconds),
				  "'N seconds' does not run at the next multiple of N seconds");
			after = next;
			continue;
		}
		ref_zone_next(r, z, after, &ref_next, &sure);
		if (sure)
		{
			fmt_secs(b, sizeof(b), ref_next, "UTC");
			snprintf(cur_ctx + strlen(cur_ctx), sizeof(cur_ctx) - strlen(cur_ctx),
					 "; the reference gives %s", b);
			CHECK(ok && next == ref_next,
				  "cron_next_instant disagrees with the reference in a DST zone");
		}
		if (!ok)
			return;
		CHECK(next > after, "cron_next_instant gives an instant not after \"after\"");
		local = next + zone_offset(next, (void *) z);
		CHECK(floor_div(local, 60) * 60 == local, "a run is not on a local minute");
		if (!ref_matches(r, local))
		{
			long		off_before = zone_offset(next - 1, (void *) z);
			long		off_after = zone_offset(next, (void *) z);
			bool		gap_matches = false;
			int64_t		g;

			CHECK(off_before < off_after,
				  "a run's local time does not match, and it is not at a forward change");
			for (g = next + off_before; g < next + off_after; g += 60)
				if (ref_matches(r, g))
					gap_matches = true;
			CHECK(gap_matches, "a run at a forward change, but no minute of the gap matches");
			n_gap_runs++;
		}
		else
		{
			int64_t		inst[2];
			int			n = zone_instants(z, local, inst);

			CHECK(n >= 1 && (inst[0] == next || (n == 2 && inst[1] == next)),
				  "reference: a run's local time does not lead back to it");
			if (n == 2 && inst[1] == next)
			{
				CHECK(every, "a schedule that is not every hour runs in a repeated hour's second pass");
				n_second_pass++;
			}
		}
		if (!every)
		{
			for (j = 0; j < nlocals; j++)
				CHECK(locals[j] != local, "a schedule that is not every hour runs a local minute twice");
			locals[nlocals++] = local;
		}
		after = next;
	}
}

/* Fixed starts: the epoch, leap days, year and century ends. */
static const CronTime next_starts[] = {
	{1970, 1, 1, 0, 0},
	{1999, 12, 31, 23, 59},
	{2000, 2, 28, 23, 59},
	{2000, 2, 29, 23, 59},
	{2023, 2, 28, 23, 59},
	{2024, 2, 29, 0, 0},
	{2038, 1, 19, 3, 14},
	{2096, 2, 28, 12, 30},
	{2100, 2, 28, 23, 59},
	{2100, 12, 31, 23, 59},
};

/* +5:30, -8:00, +14:00, -12:00, +5:45, 0, +9:30, -0:44:30 (Monrovia to 1972) */
static const long fixed_offsets[8] = {
	19800, -28800, 50400, -43200, 20700, 0, 34200, -2670
};

/* year, month, day, hour, minute, second (UTC) */
static const int fixed_afters[][6] = {
	{1970, 1, 1, 0, 0, 0},
	{1969, 12, 31, 23, 59, 59},
	{2000, 2, 28, 23, 59, 59},
	{2024, 2, 29, 12, 0, 30},
	{2099, 12, 31, 23, 59, 59},
	{2100, 2, 28, 23, 59, 0},
};

static void
run_one(const char *expr, const uint8_t *extra, size_t extra_len)
{
	CronSpec	spec;
	RefSpec		ref;
	size_t		i;

	n_inputs++;
	cur_expr = expr;
	if (!check_parse(expr, &spec, &ref))
	{
		cur_expr = "";
		cur_ctx[0] = '\0';
		return;
	}
	n_accepted++;
	if (spec.seconds > 0)
		n_seconds++;

	if (spec.seconds == 0)
		for (i = 0; i < sizeof(next_starts) / sizeof(next_starts[0]); i++)
			check_next(&spec, &ref, &next_starts[i]);

	for (i = 0; i < sizeof(fixed_afters) / sizeof(fixed_afters[0]); i++)
	{
		const int  *f = fixed_afters[i];
		int64_t		after = ref_days(f[0], f[1], f[2]) * 86400 + f[3] * 3600 + f[4] * 60 + f[5];

		check_fixed(&spec, &ref, fixed_offsets[i], after);
		check_fixed(&spec, &ref, fixed_offsets[(i + 3) % 8], after);
	}

	/* A northern and a southern zone, before and in both changes. */
	for (i = 0; i < 2; i++)
	{
		const Zone *z = &zones[i == 0 ? 0 : 2];
		int			y = i == 0 ? 2024 : 2031;
		int64_t		fwd = zone_forward(z, y, true);
		int64_t		back = zone_forward(z, y, false);

		check_series(&spec, &ref, z, fwd - 86400 - 7, SERIES_LEN);
		check_series(&spec, &ref, z, fwd - 3600 - 7, SERIES_LEN);
		check_series(&spec, &ref, z, back - 5400 - 7, SERIES_LEN);
		check_series(&spec, &ref, z, back + 1200 - 7, SERIES_LEN);
	}

	if (extra_len > 0)
	{
		/*
		 * bits 0-31 a minute from 1970 to 2099, 32-37 a second, 38-40 a
		 * fixed offset, 41-43 a zone, 44-50 a year from 1971, 51 its forward
		 * or backward change, 52-63 minutes from that change (+-2048).
		 */
		uint64_t	x = 0;
		int64_t		minute;
		int			sec;
		const Zone *z;
		int64_t		change;
		CronTime	t;

		for (i = 0; i < extra_len && i < EXTRA_LEN; i++)
			x |= (uint64_t) extra[i] << (8 * i);
		minute = (int64_t) ((x & 0xffffffff) % MINUTES_1970_2100);
		sec = (int) (((x >> 32) & 63) % 60);
		z = &zones[(x >> 41) & 7];
		change = zone_forward(z, 1971 + (int) ((x >> 44) & 127), ((x >> 51) & 1) != 0);
		ref_split(minute * 60, &t);
		if (spec.seconds == 0)
			check_next(&spec, &ref, &t);
		check_fixed(&spec, &ref, fixed_offsets[(x >> 38) & 7], minute * 60 + sec);
		check_series(&spec, &ref, z,
					 change + ((int64_t) ((x >> 52) & 0xfff) - 2048) * 60 + sec - 30,
					 SERIES_MAX);
	}
	cur_expr = "";
	cur_ctx[0] = '\0';
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t		len = nl != NULL ? (size_t) (nl - data) : size;
	char		expr[EXPR_MAXLEN + 1];

	if (len > EXPR_MAXLEN)
		return 0;
	memcpy(expr, data, len);
	expr[len] = '\0';
	if (nl != NULL)
		run_one(expr, nl + 1, size - len - 1);
	else
		run_one(expr, NULL, 0);
	return 0;
}

#ifdef FUZZ_DRIVER
/* ---------------------------------------------------------------------
 * Plain driver: corpus files, then generated inputs
 * ---------------------------------------------------------------------
 */
#include "fuzz_driver.h"

static void
gen_put(char *buf, size_t cap, size_t *len, const char *s)
{
	size_t		n = strlen(s);

	if (*len + n < cap)
	{
		memcpy(buf + *len, s, n);
		*len += n;
	}
}

/* Mostly one space; now and then other whitespace. */
static void
gen_space(char *buf, size_t cap, size_t *len)
{
	static const char *const spaces[] = {"  ", "\t", " \t ", "\v", "\f", "\r", "   "};

	gen_put(buf, cap, len, rng() % 8 ? " " : spaces[rng() % 7]);
}

/* A word in random case. */
static void
gen_word(char *buf, size_t cap, size_t *len, const char *w, size_t n)
{
	size_t		i;

	for (i = 0; i < n && *len + 1 < cap; i++)
	{
		char		c = w[i];

		if (c >= 'a' && c <= 'z' && rng() % 4 == 0)
			c = (char) (c - 'a' + 'A');
		buf[(*len)++] = c;
	}
}

/* A value for field fi: mostly in range, often one of its edges. */
static void
gen_value(char *buf, size_t cap, size_t *len, int fi)
{
	static const int lo[5] = {0, 0, 1, 1, 0};
	static const int hi[5] = {59, 23, 31, 12, 7};
	static const int edges[5][4] = {
		{0, 30, 59, 1}, {1, 2, 3, 23}, {28, 29, 30, 31}, {2, 12, 1, 4}, {0, 6, 7, 1}
	};
	char		num[32];
	int			v;

	if (fi >= 3 && rng() % 3 == 0)
	{
		static const char *const bogus[] = {"xyz", "ja", "janu", "mo", "sunday", "1jan"};
		const char *names = fi == 3 ? "janfebmaraprmayjunjulaugsepoctnovdec"
			: "sunmontuewedthufrisat";
		int			count = fi == 3 ? 12 : 7;

		if (rng() % 12 == 0)
		{
			const char *b = bogus[rng() % 6];

			gen_word(buf, cap, len, b, strlen(b));
		}
		else if (rng() % 12 == 0)	/* the other field's names */
			gen_word(buf, cap, len, (fi == 3 ? "sunmontuewedthufrisat" : "janfebmar") +
					 3 * (rng() % 3), 3);
		else
			gen_word(buf, cap, len, names + 3 * (rng() % count), 3);
		return;
	}
	switch (rng() % 40)
	{
		case 0:
			v = lo[fi] > 0 ? lo[fi] - 1 : hi[fi] + 1;
			break;
		case 1:
			v = hi[fi] + 1 + (int) (rng() % 3);
			if (rng() % 8 == 0)
				v = 1000 + (int) (rng() % 3);
			break;
		case 2:
		case 3:
		case 4:
		case 5:
		case 6:
		case 7:
		case 8:
		case 9:
		case 10:
		case 11:
			v = edges[fi][rng() % 4];
			break;
		default:
			v = lo[fi] + (int) (rng() % (hi[fi] - lo[fi] + 1));
			break;
	}
	snprintf(num, sizeof(num), rng() % 12 == 0 ? "0%d" : "%d", v);
	gen_put(buf, cap, len, num);
}

/* "A-B": mostly numbers in order, else any two values. */
static void
gen_range(char *buf, size_t cap, size_t *len, int fi)
{
	static const int lo[5] = {0, 0, 1, 1, 0};
	static const int hi[5] = {59, 23, 31, 12, 7};
	char		num[32];

	if (rng() % 4 != 0)
	{
		int			a = lo[fi] + (int) (rng() % (hi[fi] - lo[fi] + 1));
		int			b = lo[fi] + (int) (rng() % (hi[fi] - lo[fi] + 1));

		snprintf(num, sizeof(num), "%d-%d", a < b ? a : b, a < b ? b : a);
		gen_put(buf, cap, len, num);
		return;
	}
	gen_value(buf, cap, len, fi);
	gen_put(buf, cap, len, "-");
	gen_value(buf, cap, len, fi);
}

static void
gen_step(char *buf, size_t cap, size_t *len, int fi)
{
	static const int span[5] = {60, 24, 31, 12, 8};
	char		num[32];
	int			s;

	switch (rng() % 40)
	{
		case 0:
			s = 0;
			break;
		case 1:
		case 2:
			s = span[fi];
			break;
		case 3:
			s = span[fi] + 1;
			break;
		default:
			s = 1 + (int) (rng() % (span[fi] < 15 ? span[fi] : 15));
			break;
	}
	snprintf(num, sizeof(num), "%d", s);
	gen_put(buf, cap, len, "/");
	if (rng() % 30 != 0)		/* else a step with no number */
		gen_put(buf, cap, len, num);
}

static void
gen_field(char *buf, size_t cap, size_t *len, int fi)
{
	int			n = rng() % 4 == 0 ? 2 + (int) (rng() % 3) : 1;
	int			i;

	for (i = 0; i < n; i++)
	{
		if (i > 0)
			gen_put(buf, cap, len, ",");
		switch (rng() % 9)
		{
			case 0:
			case 1:
			case 2:
				gen_put(buf, cap, len, "*");
				break;
			case 3:
				gen_put(buf, cap, len, "*");
				gen_step(buf, cap, len, fi);
				break;
			case 4:
			case 5:
				gen_value(buf, cap, len, fi);
				break;
			case 6:
				gen_range(buf, cap, len, fi);
				break;
			case 7:
				gen_range(buf, cap, len, fi);
				gen_step(buf, cap, len, fi);
				break;
			case 8:
				gen_value(buf, cap, len, fi);
				gen_step(buf, cap, len, fi);
				break;
		}
	}
	if (rng() % 40 == 0)		/* a stray comma or dash */
		gen_put(buf, cap, len, rng() % 2 ? "," : "-");
}

/*
 * Five-field expressions built from values near the fields' edges (and
 * now and then out of them), macros and 'N seconds', in random case and
 * whitespace, now and then with a damaged byte.
 */
static size_t
gen_expr(char *buf, size_t cap)
{
	static const char *const macros[] = {
		"yearly", "annually", "monthly", "weekly", "daily", "midnight", "hourly",
		"reboot", "", "day", "hourly2"
	};
	static const char *const units[] = {
		"seconds", "second", "seconds", "second", "sec", "secs", "minutes", "secondss"
	};
	size_t		len = 0;
	int			kind = rng() % 20;

	if (rng() % 4 == 0)
		gen_space(buf, cap, &len);
	if (kind == 0)
	{
		char		num[32];
		int			n;
		const char *u = units[rng() % 8];

		switch (rng() % 6)
		{
			case 0:
				n = (int) (rng() % 2) * 60;
				break;
			case 1:
				n = 60 + (int) (rng() % 40);
				break;
			default:
				n = 1 + (int) (rng() % 59);
				break;
		}
		snprintf(num, sizeof(num), rng() % 8 == 0 ? "%03d" : rng() % 16 == 0 ? "%05d" : "%d", n);
		gen_put(buf, cap, &len, num);
		if (rng() % 16 != 0)
			gen_space(buf, cap, &len);
		gen_word(buf, cap, &len, u, strlen(u));
	}
	else if (kind == 1)
	{
		const char *m = macros[rng() % 11];

		gen_put(buf, cap, &len, "@");
		gen_word(buf, cap, &len, m, strlen(m));
		if (rng() % 8 == 0)
		{
			gen_space(buf, cap, &len);
			gen_put(buf, cap, &len, rng() % 2 ? "*" : "x");
		}
	}
	else
	{
		int			nf = rng() % 16 ? 5 : (rng() % 2 ? 4 : 6);
		int			i;

		for (i = 0; i < nf; i++)
		{
			if (i > 0)
				gen_space(buf, cap, &len);
			gen_field(buf, cap, &len, i < 5 ? i : (int) (rng() % 5));
		}
	}
	if (rng() % 4 == 0)
		gen_space(buf, cap, &len);
	if (len > 0 && rng() % 16 == 0)
	{
		/* any byte but '\n' (the separator) */
		unsigned char c = (unsigned char) (rng() % 256);

		buf[rng() % len] = c == '\n' ? '*' : (char) c;
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
		uint8_t		buf[EXPR_MAXLEN + 1 + EXTRA_LEN];
		size_t		len = gen_expr((char *) buf, EXPR_MAXLEN);

		if (rng() % 2 == 0)
		{
			int			j;

			buf[len++] = '\n';
			for (j = 0; j < EXTRA_LEN; j++)
				buf[len++] = (uint8_t) rng();
		}
		LLVMFuzzerTestOneInput(buf, len);
	}

	printf("fuzz_cron: %d corpus files, %ld generated inputs, %lu accepted (%lu 'N seconds'), "
		   "%lu cron_next compared, %lu instants checked (%lu at a gap's end, "
		   "%lu in a repeated hour's second pass): all properties held\n",
		   files, runs, n_accepted, n_seconds, n_next, n_instants, n_gap_runs, n_second_pass);
	return 0;
}
#endif							/* FUZZ_DRIVER */
