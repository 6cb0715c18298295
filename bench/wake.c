/*
 * wake.c -- latency of long polls, commit to receipt.
 *
 *   wake "<conninfo>" [messages] [interval-ms]
 *
 * A producer connection sends one message every interval (autocommit: the
 * send commits when the call returns) and notes the time its call
 * returned.  A consumer connection waits in mq_read(..., wait => '5 s') and
 * notes the time each message arrived.  The latency of a message is the
 * arrival time minus the producer's commit time (CLOCK_MONOTONIC, one
 * process, so both clocks are the same).  Afterwards a third connection
 * waits 10 s with nothing to read while /proc/<backend>/stat tells how much
 * CPU its backend used.
 *
 * Prints: "wake: N messages, p50 X ms, p99 Y ms, max Z ms, idle CPU W %".
 * The queue "bench_wake" is created (and emptied) by the program.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "libpq-fe.h"

#define MAX_MESSAGES 100000

static const char *conninfo;
static int	nmessages = 1000;
static int	interval_ms = 10;
static _Atomic double sent_at[MAX_MESSAGES + 1];	/* by message id offset */
static double latency[MAX_MESSAGES];
static long long first_id;

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static PGconn *
connect_or_die(void)
{
	PGconn	   *conn = PQconnectdb(conninfo);

	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "wake: %s", PQerrorMessage(conn));
		exit(1);
	}
	return conn;
}

static PGresult *
exec_or_die(PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);

	if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		fprintf(stderr, "wake: %s: %s", sql, PQerrorMessage(conn));
		exit(1);
	}
	return res;
}

static void *
producer(void *arg)
{
	PGconn	   *conn = connect_or_die();
	int			i;

	(void) arg;
	for (i = 0; i < nmessages; i++)
	{
		PGresult   *res;
		long long	id;
		double		t;

		usleep(interval_ms * 1000);
		res = exec_or_die(conn, "SELECT mq_send('bench_wake', '{\"n\": 1}')");
		t = now_ms();
		id = atoll(PQgetvalue(res, 0, 0));
		PQclear(res);
		if (id - first_id >= 0 && id - first_id < MAX_MESSAGES)
			atomic_store(&sent_at[id - first_id], t);
	}
	PQfinish(conn);
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return x < y ? -1 : x > y;
}

/* CPU ticks (utime + stime) of a process. */
static long
cpu_ticks(int pid)
{
	char		path[64];
	char		buf[1024];
	FILE	   *f;
	char	   *p;
	long		utime = 0,
				stime = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (f == NULL || fgets(buf, sizeof(buf), f) == NULL)
	{
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	p = strrchr(buf, ')');
	/* fields after the command: state(3) ... utime(14) stime(15) */
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld",
							&utime, &stime) != 2)
		return -1;
	return utime + stime;
}

int
main(int argc, char **argv)
{
	PGconn	   *consumer;
	PGconn	   *idle;
	PGresult   *res;
	pthread_t	thread;
	int			got = 0;
	int			pid;
	long		before,
				after;
	double		idle_pct;

	if (argc < 2)
	{
		fprintf(stderr, "usage: wake conninfo [messages] [interval-ms] [latency-file]\n");
		return 2;
	}
	conninfo = argv[1];
	if (argc > 2)
		nmessages = atoi(argv[2]);
	if (argc > 3)
		interval_ms = atoi(argv[3]);
	if (nmessages < 1 || nmessages > MAX_MESSAGES)
		nmessages = 1000;

	consumer = connect_or_die();
	PQclear(exec_or_die(consumer, "SET client_min_messages = warning"));
	PQclear(exec_or_die(consumer, "SELECT mq_drop_queue('bench_wake', if_exists => true)"));
	PQclear(exec_or_die(consumer, "SELECT mq_create_queue('bench_wake')"));
	/* The next id: ask the sequence through a first message. */
	res = exec_or_die(consumer, "SELECT mq_send('bench_wake', '{}')");
	first_id = atoll(PQgetvalue(res, 0, 0)) + 1;
	PQclear(res);
	PQclear(exec_or_die(consumer, "SELECT mq_purge('bench_wake')"));

	pthread_create(&thread, NULL, producer, NULL);
	while (got < nmessages)
	{
		double		t;
		long long	id;
		double		s;

		res = exec_or_die(consumer,
						  "SELECT id, mq_ack('bench_wake', receipt) FROM mq_read('bench_wake', 1, wait => '5 s')");
		t = now_ms();
		if (PQntuples(res) == 0)
		{
			PQclear(res);
			fprintf(stderr, "wake: a 5 s wait ended with nothing\n");
			continue;
		}
		id = atoll(PQgetvalue(res, 0, 0));
		PQclear(res);
		/* The producer notes its time right after its call returns. */
		while ((s = atomic_load(&sent_at[id - first_id])) == 0)
			usleep(10);
		latency[got++] = t > s ? t - s : 0;
	}
	pthread_join(thread, NULL);

	/* Idle CPU of a waiting backend. */
	idle = connect_or_die();
	res = exec_or_die(idle, "SELECT pg_backend_pid()");
	pid = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	before = cpu_ticks(pid);
	PQsendQuery(idle, "SELECT count(*) FROM mq_read('bench_wake', 1, wait => '10 s')");
	while ((res = PQgetResult(idle)) != NULL)
		PQclear(res);
	after = cpu_ticks(pid);
	idle_pct = (before < 0 || after < 0) ? -1 :
		100.0 * (after - before) / sysconf(_SC_CLK_TCK) / 10.0;

	qsort(latency, got, sizeof(double), cmp_double);
	printf("wake: %d messages, p50 %.3f ms, p99 %.3f ms, max %.3f ms, idle CPU %.2f %%\n",
		   got, latency[got / 2], latency[(int) (got * 0.99)], latency[got - 1], idle_pct);
	/* Every latency, sorted, one per line (milliseconds): for the chart. */
	if (argc > 4)
	{
		FILE	   *out = fopen(argv[4], "w");
		int			i;

		if (out == NULL)
		{
			perror(argv[4]);
			return 1;
		}
		for (i = 0; i < got; i++)
			fprintf(out, "%.4f\n", latency[i]);
		fclose(out);
	}

	PQclear(exec_or_die(consumer, "SELECT mq_drop_queue('bench_wake')"));
	PQfinish(idle);
	PQfinish(consumer);
	return 0;
}
