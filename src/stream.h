/*-------------------------------------------------------------------------
 *
 * stream.h
 *	  Streams: the cache, segments, appends, scans (stream.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_STREAM_H
#define QUEUE_STREAM_H

#include "datatype/timestamp.h"
#include "fmgr.h"
#include "utils/palloc.h"
#include "dedup.h"
#include "perms.h"
#include "util.h"

/* Streams (stream.c): a stream as the per-backend cache knows it. */
typedef struct Segment
{
	int32		seg;
	Oid			relid;
	Oid			pkid;
} Segment;

typedef struct StreamInfo
{
	/* as NameCacheEntry */
	char		name[QUEUE_NAME_MAXLEN + 1];	/* hash key */
	uint64		generation;
	MemoryContext cxt;			/* segments live here */
	int32		id;
	int32		partitions;
	Interval	dedup_window;
	bool		has_max_age;
	Interval	max_age;
	int64		max_bytes;		/* 0: none */
	int64		max_messages;	/* 0: none */
	ObjectPerms perms;
	Oid			ident;			/* mq.s_<id>_groups: identity in shared memory */
	Oid			keysid;
	Oid			keys_pkid;
	int			nsegments;
	Segment    *segments;		/* oldest first */
} StreamInfo;

/*
 * Columns of a segment table: those of mq_record, in its order (stream_put_record
 * relies on it).
 */
#define Anum_rec_partition		1
#define Anum_rec_position		2
#define Anum_rec_key			3
#define Anum_rec_body			4
#define Anum_rec_headers		5
#define Anum_rec_appended_at	6
#define Natts_rec				6

/* Records read by stream_scan_partition go to a RecordFn; false stops the scan. */
struct TupleTableSlot;
typedef bool (*RecordFn) (void *arg, struct TupleTableSlot *slot);

typedef struct ReadState
{
	struct ReturnSetInfo *rsinfo;
	int			max;
	int			got;
	int64		last;			/* position of the last record put */
} ReadState;

extern StreamInfo *stream_lookup(const char *name);
extern StreamInfo *stream_open(const char *name, int privs);
extern void stream_arg(FunctionCallInfo fcinfo, int argno, char *out);
extern int32 stream_partition_arg(FunctionCallInfo fcinfo, int argno, const StreamInfo *s);
extern void stream_prevent_read_during_recovery(const char *fname);
extern void stream_init_result(FunctionCallInfo fcinfo);
extern int64 stream_scan_partition(StreamInfo *s, int32 partition, int64 from,
							RecordFn fn, void *arg);
extern bool stream_put_record(void *arg, struct TupleTableSlot *slot);
extern int64 stream_next_from_storage(void *arg, int32 partition);
extern int64 stream_floor(StreamInfo *s, int32 partition);
extern int64 stream_purge(StreamInfo *s);
extern void stream_create_segment(int32 id, int32 seg);


/* Appending to streams (stream.c). */
/* The newest segment of a stream, opened for appending. */
struct IndexInfo;
typedef struct Appender
{
	StreamInfo *info;
	int32		segno;			/* the segment seg is */
	Relation	seg;
	Relation	pk;
	struct IndexInfo *pkinfo;
	KeyTable	keys;
} Appender;

struct ReturnSetInfo;
extern void stream_appender_open(const char *name, const char *fname, Appender *a);
extern void stream_appender_close(Appender *a);
extern void stream_append_records(Appender *a, struct ReturnSetInfo *rsinfo, int n,
								  Datum *bodies, Datum *keys, bool *knulls,
								  Datum *headers, bool *hnulls, Datum *ikeys, bool *iknulls);

#endif							/* QUEUE_STREAM_H */
