/*-------------------------------------------------------------------------
 *
 * successor.c
 *	  Where a message group's next rows are: hints in shared memory.
 *
 * When a row of a group's window leaves, storage.c promotes the group's
 * next row, which it finds through the group index: a descent of the index
 * and a read of the group's entries on a leaf page, on nearly every ack of
 * a grouped queue.  The entries after the one it promotes come with that
 * read, so it keeps the heap addresses of the next few here, under (queue,
 * hash of the group key, id of the row promoted); the ack of that row
 * takes them and tries them in order instead of searching the index.
 *
 * A hint is only a hint: the addresses are of index entries in id order
 * from the promoted row on, so they hold every row of the group up to the
 * last (a group's new rows have higher ids), but a row may have gone, or
 * changed its address, or be another group's of the same hash.  storage.c
 * checks each one and falls back to the index when none will do.  A slot
 * holds one group's hint; another group of the same slot overwrites it.
 * Nothing survives a restart.
 *
 * Locking: one spinlock per slot, held for a copy.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/shmem.h"
#include "storage/spin.h"

#include "successor.h"

#define SUCCESSOR_SLOTS 65536	/* a power of 2 */

/* 64 bytes, a cache line, with the 6 tids of SUCCESSOR_MAX. */
typedef struct SuccessorSlot
{
	slock_t		mutex;
	uint8		n;				/* tids held; 0: empty */
	Oid			dbid;
	Oid			relid;
	uint32		hash;
	int64		after;			/* the id of the row they follow */
	ItemPointerData tids[SUCCESSOR_MAX];
} SuccessorSlot;

static SuccessorSlot *slots = NULL;

Size
successor_shmem_size(void)
{
	return mul_size(SUCCESSOR_SLOTS, sizeof(SuccessorSlot));
}

void
successor_shmem_startup(void)
{
	bool		found;
	int			i;

	slots = ShmemInitStruct("queue group successors", successor_shmem_size(), &found);
	if (!found)
		for (i = 0; i < SUCCESSOR_SLOTS; i++)
		{
			SpinLockInit(&slots[i].mutex);
			slots[i].n = 0;
		}
}

static SuccessorSlot *
slot_of(Oid relid, uint32 hash)
{
	uint32		h = hash_combine(hash_combine(murmurhash32(MyDatabaseId), relid), hash);

	return &slots[murmurhash32(h) & (SUCCESSOR_SLOTS - 1)];
}

/*
 * Remember that tids[0..n-1] are, in id order, the rows after row after of
 * the group whose key hashes to hash, in queue storage relid.
 */
void
successor_put(Oid relid, uint32 hash, int64 after, const ItemPointerData *tids, int n)
{
	SuccessorSlot *s;

	if (slots == NULL)
		return;
	s = slot_of(relid, hash);
	n = Min(n, SUCCESSOR_MAX);
	SpinLockAcquire(&s->mutex);
	s->dbid = MyDatabaseId;
	s->relid = relid;
	s->hash = hash;
	s->after = after;
	memcpy(s->tids, tids, n * sizeof(ItemPointerData));
	s->n = (uint8) n;
	SpinLockRelease(&s->mutex);
}

/*
 * The rows remembered after row after of the group (into tids, at least
 * SUCCESSOR_MAX of them); how many, 0 if none.  They are taken out.
 */
int
successor_take(Oid relid, uint32 hash, int64 after, ItemPointerData *tids)
{
	SuccessorSlot *s;
	int			n = 0;

	if (slots == NULL)
		return 0;
	s = slot_of(relid, hash);
	SpinLockAcquire(&s->mutex);
	if (s->n > 0 && s->dbid == MyDatabaseId && s->relid == relid && s->hash == hash &&
		s->after == after)
	{
		n = s->n;
		memcpy(tids, s->tids, n * sizeof(ItemPointerData));
		s->n = 0;
	}
	SpinLockRelease(&s->mutex);
	return n;
}

/* Forget every hint of queue storage relid (its rows moved). */
void
successor_forget(Oid relid)
{
	int			i;

	if (slots == NULL)
		return;
	for (i = 0; i < SUCCESSOR_SLOTS; i++)
	{
		SuccessorSlot *s = &slots[i];

		SpinLockAcquire(&s->mutex);
		if (s->dbid == MyDatabaseId && s->relid == relid)
			s->n = 0;
		SpinLockRelease(&s->mutex);
	}
}
