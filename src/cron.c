/*-------------------------------------------------------------------------
 *
 * cron.c
 *	  Schedule expressions: five-field cron and 'N seconds'.
 *
 * The five fields are minute (0-59), hour (0-23), day of month (1-31),
 * month (1-12 or jan-dec) and day of week (0-7 or sun-sat, 0 and 7 both
 * Sunday).  Each is a comma-separated list of "*", a value, or a range
 * "a-b", each optionally with a step "/n" ("a/n" is "a-max/n").  As in
 * Vixie cron, when both day fields are restricted a day matches if either
 * does; when one of them starts with "*", both must.  The usual macros
 * @yearly (@annually), @monthly, @weekly, @daily (@midnight) and @hourly
 * stand for their five fields.  'N seconds' (1-59) repeats every N
 * seconds instead.
 *
 * Everything here is calendar arithmetic, with no server state: the fuzz
 * target builds it alone.  An expression that can never fire (February
 * 30th) is refused.
 *
 * Time zones come in as a function giving the offset from UTC at an
 * instant (cron_next_instant).  Daylight-saving changes neither skip nor
 * repeat a run:
 *	- a local time that does not exist (clocks go forward over it) runs at
 *	  the first instant after the gap; several such times run once;
 *	- a local time that occurs twice (clocks go back) runs at its first
 *	  occurrence only -- except in schedules whose hour field is every hour
 *	  (every value from 0 to 23): those run by the clock in both passes of the repeated
 *	  hour, as "every 10 minutes" means every 10 minutes of real time.
 *
 *-------------------------------------------------------------------------
 */
#ifdef MATCH_STANDALONE
#include "fuzz_shim.h"
#else
#include "postgres.h"
#endif

#include <ctype.h>

#include "cron.h"

typedef struct FieldDef
{
	const char *name;
	int			min;
	int			max;
	const char *const *names;	/* names of min, min + 1, ... or NULL */
} FieldDef;

static const char *const month_names[] = {
	"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", NULL
};
static const char *const day_names[] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL
};

static const FieldDef fields[5] = {
	{"minute", 0, 59, NULL},
	{"hour", 0, 23, NULL},
	{"day of month", 1, 31, NULL},
	{"month", 1, 12, month_names},
	{"day of week", 0, 7, day_names},
};

static const struct
{
	const char *macro;
	const char *fields;
}			macros[] = {
	{"@yearly", "0 0 1 1 *"},
	{"@annually", "0 0 1 1 *"},
	{"@monthly", "0 0 1 * *"},
	{"@weekly", "0 0 * * 0"},
	{"@daily", "0 0 * * *"},
	{"@midnight", "0 0 * * *"},
	{"@hourly", "0 * * * *"},
};

static bool
fail(char *err, size_t errlen, const char *what, const char *field)
{
	if (err == NULL || errlen == 0)
		return false;
	if (field != NULL)
		snprintf(err, errlen, "%s in the %s field", what, field);
	else
		snprintf(err, errlen, "%s", what);
	return false;
}

/* Does [s, s + len) spell word, in any case? */
static bool
word_is(const char *s, size_t len, const char *word)
{
	size_t		i;

	if (len != strlen(word))
		return false;
	for (i = 0; i < len; i++)
		if (tolower((unsigned char) s[i]) != word[i])
			return false;
	return true;
}

/* A value at *p: a number or (for fields with names) a name. */
static bool
parse_value(const char **p, const FieldDef *f, int *value)
{
	const char *s = *p;

	if (isdigit((unsigned char) *s))
	{
		int			v = 0;

		while (isdigit((unsigned char) *s))
		{
			v = v * 10 + (*s - '0');
			if (v > 1000)
				return false;
			s++;
		}
		*value = v;
		*p = s;
		return true;
	}
	if (f->names != NULL && isalpha((unsigned char) s[0]) &&
		isalpha((unsigned char) s[1]) && isalpha((unsigned char) s[2]) &&
		!isalpha((unsigned char) s[3]))
	{
		int			i;

		for (i = 0; f->names[i] != NULL; i++)
			if (tolower((unsigned char) s[0]) == f->names[i][0] &&
				tolower((unsigned char) s[1]) == f->names[i][1] &&
				tolower((unsigned char) s[2]) == f->names[i][2])
			{
				*value = f->min + i;
				*p = s + 3;
				return true;
			}
	}
	return false;
}

/* One field, text [s, end), into the bit set *bits. */
static bool
parse_field(const char *s, const char *end, const FieldDef *f, uint64_t *bits,
			char *err, size_t errlen)
{
	*bits = 0;
	for (;;)
	{
		int			lo;
		int			hi;
		int			step = 1;
		int			v;

		if (s < end && *s == '*')
		{
			lo = f->min;
			hi = f->max;
			s++;
		}
		else
		{
			if (!parse_value(&s, f, &lo))
				return fail(err, errlen, "a value is missing or not valid", f->name);
			hi = lo;
			if (s < end && *s == '-')
			{
				s++;
				if (!parse_value(&s, f, &hi))
					return fail(err, errlen, "a range has no valid end", f->name);
			}
			else if (s < end && *s == '/')
				hi = f->max;
		}
		if (s < end && *s == '/')
		{
			s++;
			if (!isdigit((unsigned char) *s) || !parse_value(&s, &fields[0], &step) ||
				step < 1)
				return fail(err, errlen, "a step is not a positive number", f->name);
		}
		if (lo < f->min || hi > f->max || lo > f->max || hi < f->min)
			return fail(err, errlen, "a value is out of range", f->name);
		if (lo > hi)
			return fail(err, errlen, "a range ends before it starts", f->name);
		if (step > f->max - f->min + 1)
			return fail(err, errlen, "a step is larger than the field", f->name);
		for (v = lo; v <= hi; v += step)
			*bits |= UINT64_C(1) << v;
		if (s == end)
			return true;
		if (*s != ',' || s + 1 == end)
			return fail(err, errlen, "unexpected text", f->name);
		s++;
	}
}

/* 'N seconds' (or 'N second'), N 1-59; -1 if text is not one. */
static int
parse_seconds(const char *text, char *err, size_t errlen, bool *bad)
{
	const char *s = text;
	int			n = 0;
	int			digits = 0;
	const char *word;
	size_t		len;

	*bad = false;
	while (isspace((unsigned char) *s))
		s++;
	while (isdigit((unsigned char) *s))
	{
		if (n < 1000)
			n = n * 10 + (*s - '0');
		s++;
		digits++;
	}
	if (digits == 0 || !isspace((unsigned char) *s))
		return -1;
	while (isspace((unsigned char) *s))
		s++;
	word = s;
	while (isalpha((unsigned char) *s))
		s++;
	len = s - word;
	while (isspace((unsigned char) *s))
		s++;
	if (*s != '\0' || !(word_is(word, len, "seconds") || word_is(word, len, "second")))
		return -1;
	if (n < 1 || n > 59)
	{
		*bad = true;
		fail(err, errlen, "an interval in seconds must be from 1 to 59 seconds", NULL);
		return -1;
	}
	return n;
}

/*
 * Parse text into *spec; false (with a message in err) if it is not a
 * valid expression, or one that never fires.
 */
bool
cron_parse(const char *text, CronSpec *spec, char *err, size_t errlen)
{
	const char *s = text;
	const char *starts[5];
	const char *ends[5];
	uint64_t	bits[5];
	bool		bad;
	int			n = 0;
	int			i;
	CronTime	t = {2000, 1, 1, 0, 0};

	memset(spec, 0, sizeof(*spec));
	spec->seconds = parse_seconds(text, err, errlen, &bad);
	if (bad)
		return false;
	if (spec->seconds > 0)
		return true;
	spec->seconds = 0;

	while (isspace((unsigned char) *s))
		s++;
	if (*s == '@')
	{
		const char *e = s;

		while (*e != '\0' && !isspace((unsigned char) *e))
			e++;
		for (i = 0; i < (int) (sizeof(macros) / sizeof(macros[0])); i++)
			if (word_is(s, e - s, macros[i].macro))
				break;
		while (isspace((unsigned char) *e))
			e++;
		if (i == (int) (sizeof(macros) / sizeof(macros[0])) || *e != '\0')
			return fail(err, errlen, "unknown macro (allowed: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)", NULL);
		return cron_parse(macros[i].fields, spec, err, errlen);
	}
	while (*s != '\0')
	{
		if (n == 5)
			return fail(err, errlen, "more than five fields", NULL);
		starts[n] = s;
		while (*s != '\0' && !isspace((unsigned char) *s))
			s++;
		ends[n++] = s;
		while (isspace((unsigned char) *s))
			s++;
	}
	if (n != 5)
		return fail(err, errlen, "a cron expression has five fields (minute hour day-of-month month day-of-week), or is 'N seconds'", NULL);
	for (i = 0; i < 5; i++)
		if (!parse_field(starts[i], ends[i], &fields[i], &bits[i], err, errlen))
			return false;
	spec->minutes = bits[0];
	spec->hours = (uint32_t) bits[1];
	spec->mdays = (uint32_t) bits[2];
	spec->months = (uint32_t) bits[3];
	/* 7 is Sunday too */
	spec->wdays = (uint32_t) ((bits[4] | (bits[4] >> 7)) & 0x7f);
	spec->mday_any = *starts[2] == '*';
	spec->wday_any = *starts[4] == '*';

	/* Some minute within the calendar's cycle must match. */
	if (!cron_next(spec, &t))
		return fail(err, errlen, "the expression never fires (no such day)", NULL);
	return true;
}

int
cron_days_in_month(int year, int month)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool		leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

/* 0 Sunday ... 6 Saturday, in the proleptic Gregorian calendar. */
int
cron_weekday(int year, int month, int day)
{
	static const int t[12] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};

	if (month < 3)
		year--;
	return (year + year / 4 - year / 100 + year / 400 + t[month - 1] + day) % 7;
}

static bool
day_matches(const CronSpec *spec, int year, int month, int day)
{
	bool		mday = (spec->mdays >> day) & 1;
	bool		wday = (spec->wdays >> cron_weekday(year, month, day)) & 1;

	if (spec->mday_any || spec->wday_any)
		return mday && wday;
	return mday || wday;
}

/* Does the calendar minute t match (a five-field) spec? */
bool
cron_matches(const CronSpec *spec, const CronTime *t)
{
	return ((spec->months >> t->month) & 1) &&
		day_matches(spec, t->year, t->month, t->day) &&
		((spec->hours >> t->hour) & 1) &&
		((spec->minutes >> t->minute) & 1);
}

/*
 * Move *t to the first calendar minute after it that matches a five-field
 * spec.  False (t unchanged) if there is none within CRON_HORIZON_YEARS.
 */
bool
cron_next(const CronSpec *spec, CronTime *t)
{
	CronTime	c = *t;
	int			last_year = t->year + CRON_HORIZON_YEARS;

	/* The minute after t. */
	c.minute++;
	for (;;)
	{
		if (c.minute > 59)
		{
			c.minute = 0;
			c.hour++;
		}
		if (c.hour > 23)
		{
			c.hour = 0;
			c.day++;
		}
		if (c.day > cron_days_in_month(c.year, c.month))
		{
			c.day = 1;
			c.month++;
		}
		if (c.month > 12)
		{
			c.month = 1;
			c.year++;
		}
		if (c.year > last_year)
			return false;
		if (!((spec->months >> c.month) & 1))
		{
			c.month++;
			c.day = 1;
			c.hour = 0;
			c.minute = 0;
			if (c.month > 12)
			{
				c.month = 1;
				c.year++;
			}
			continue;
		}
		if (!day_matches(spec, c.year, c.month, c.day))
		{
			c.day++;
			c.hour = 0;
			c.minute = 0;
			continue;
		}
		if (!((spec->hours >> c.hour) & 1))
		{
			c.hour++;
			c.minute = 0;
			continue;
		}
		if (!((spec->minutes >> c.minute) & 1))
		{
			c.minute++;
			continue;
		}
		*t = c;
		return true;
	}
}

/* Seconds since 1970-01-01 of a calendar minute read as UTC. */
static int64_t
epoch_of(const CronTime *t)
{
	/* days from civil, proleptic Gregorian */
	int			y = t->year - (t->month <= 2);
	int			era = (y >= 0 ? y : y - 399) / 400;
	int			yoe = y - era * 400;
	int			mp = (t->month + 9) % 12;
	int			doy = (153 * mp + 2) / 5 + t->day - 1;
	int			doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	int64_t		days = (int64_t) era * 146097 + doe - 719468;

	return days * 86400 + t->hour * 3600 + t->minute * 60;
}

/* The calendar minute of seconds since 1970-01-01 (floored). */
static void
time_of(int64_t secs, CronTime *t)
{
	int64_t		days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	int64_t		rem = secs - days * 86400;
	int64_t		z = days + 719468;
	int64_t		era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t		doe = z - era * 146097;
	int64_t		yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t		doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t		mp = (5 * doy + 2) / 153;

	t->day = (int) (doy - (153 * mp + 2) / 5 + 1);
	t->month = (int) (mp < 10 ? mp + 3 : mp - 9);
	t->year = (int) (yoe + era * 400 + (t->month <= 2));
	t->hour = (int) (rem / 3600);
	t->minute = (int) (rem % 3600 / 60);
}

/*
 * The first instant (seconds since 1970-01-01 UTC) strictly after "after"
 * at which spec runs, with local time given by offset; false if there is
 * none within CRON_HORIZON_YEARS.
 */
bool
cron_next_instant(const CronSpec *spec, int64_t after, CronOffsetFn offset, void *arg,
				  int64_t *next)
{
	CronTime	local;
	bool		every_hour = spec->hours == 0xFFFFFF;
	long		lo_off,
				hi_off;
	int64_t		second_pass = INT64_MAX;	/* earliest second-pass run found */
	int			i;

	if (spec->seconds > 0)
	{
		int64_t		n = spec->seconds;
		int64_t		q = after >= 0 ? after / n : -((-after + n - 1) / n);

		*next = (q + 1) * n;
		return true;
	}

	/*
	 * Start from the minute before the earliest local time "after" may be
	 * read as: when clocks went back lately, the repeated hour's second
	 * pass lies before after's own local time.
	 */
	lo_off = offset(after - 129600, arg);
	hi_off = offset(after + 129600, arg);
	time_of(after + (lo_off < hi_off ? lo_off : hi_off) - 60, &local);
	for (i = 0; i < 4096; i++)
	{
		int64_t		naive;
		long		before_off,
					after_off;
		int64_t		valid[2];
		int			nvalid = 0;

		if (!cron_next(spec, &local))
			break;
		naive = epoch_of(&local);

		/*
		 * The offsets in force a day and a half either side: the instant
		 * of this local time, if there is one, has one of them.
		 */
		before_off = offset(naive - 129600, arg);
		after_off = offset(naive + 129600, arg);
		if (offset(naive - before_off, arg) == before_off)
			valid[nvalid++] = naive - before_off;
		if (after_off != before_off && offset(naive - after_off, arg) == after_off)
			valid[nvalid++] = naive - after_off;
		if (nvalid == 2 && valid[1] < valid[0])
		{
			int64_t		t = valid[0];

			valid[0] = valid[1];
			valid[1] = t;
		}

		if (nvalid == 0)
		{
			/*
			 * In a gap: run when it ends, the first instant with the
			 * offset after the change.
			 */
			int64_t		lo = naive - (before_off > after_off ? before_off : after_off);
			int64_t		hi = naive - (before_off < after_off ? before_off : after_off);

			if (offset(hi, arg) != after_off)
				continue;		/* not a simple change: skip this time */
			while (hi - lo > 1)
			{
				int64_t		mid = lo + (hi - lo) / 2;

				if (offset(mid, arg) == after_off)
					hi = mid;
				else
					lo = mid;
			}
			valid[nvalid++] = hi;
		}
		/*
		 * Local times come in order, and so do their first instants; a
		 * second pass (every-hour schedules only) may come before a later
		 * local time's first.
		 */
		if (nvalid == 2 && every_hour && valid[1] > after && valid[1] < second_pass)
			second_pass = valid[1];
		if (valid[0] > after)
		{
			*next = valid[0] < second_pass ? valid[0] : second_pass;
			return true;
		}
	}
	if (second_pass != INT64_MAX)
	{
		*next = second_pass;
		return true;
	}
	return false;
}
