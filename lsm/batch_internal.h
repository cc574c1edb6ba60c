/*
 * batch_internal.h — the write batch's encoding, shared by db.c (which
 * logs and applies it) and wal replay.
 *
 *   batch = [seq: le64][count: le32] then count entries:
 *           [type: 1][varint klen][key] and, for LSM_TYPE_VALUE, [varint vlen][value]
 *
 * The same bytes are the WAL record, so logging a batch copies nothing.
 */
#ifndef LSM_BATCH_INTERNAL_H
#define LSM_BATCH_INTERNAL_H

#include "buf.h"
#include "dbformat.h"
#include "lsm.h"

#define LSM_BATCH_HEADER 12

struct lsm_batch {
	lsm_buf rep;	     /* always at least LSM_BATCH_HEADER bytes once used */
	uint64_t user_bytes; /* sum of key and value lengths, for stats */
};

/*
 * For a batch embedded in another struct (the db's group-commit batch):
 * init gives it an empty header (-ENOMEM), destroy frees its buffer.
 * lsm_batch_new() and lsm_batch_free() do the same for a heap batch.
 */
int lsm_batch_init(lsm_batch *b);
void lsm_batch_destroy(lsm_batch *b);

/* The encoded batch (header included), ready to log. */
lsm_slice lsm_batch_rep(const lsm_batch *b);
uint64_t lsm_batch_seq(const lsm_batch *b);
/* b must come from lsm_batch_new()/lsm_batch_init() (it has a header). */
void lsm_batch_set_seq(lsm_batch *b, uint64_t seq);
/*
 * Appends every entry of src to dst (group commit merges batches); dst keeps
 * its seq. dst may be src. -ENOMEM or -EOVERFLOW (count past 2^32-1), dst
 * unchanged.
 */
int lsm_batch_append(lsm_batch *dst, const lsm_batch *src);

/*
 * Called for each entry, in order, with its sequence number (the batch's
 * seq + the entry's index). type is LSM_TYPE_VALUE or LSM_TYPE_DELETE; val
 * is empty for a delete. key and val point into rep. Non-zero stops.
 */
typedef int (*lsm_batch_fn)(void *arg, uint64_t seq, int type, lsm_slice key, lsm_slice val);
/*
 * Walks an encoded batch (e.g. a WAL record). Returns 0, the callback's
 * non-zero value, or -LSM_ECORRUPT if rep is malformed (count mismatch,
 * truncated entry, unknown type; also trailing bytes, a key or value over
 * LSM_MAX_KEY/LSM_MAX_VALUE, sequence numbers past LSM_MAX_SEQ). All of rep
 * is checked before the first callback.
 */
int lsm_batch_iterate(lsm_slice rep, lsm_batch_fn fn, void *arg);
/*
 * lsm_batch_iterate() for a batch read from a file: a corruption message
 * names file and offset (where the record starts) and the byte within the
 * batch. The whole rep is validated before the first callback, so a
 * malformed batch calls fn for none of its entries: replay stays all or
 * nothing.
 */
int lsm_batch_iterate_at(lsm_slice rep, const char *file, uint64_t offset, lsm_batch_fn fn,
			 void *arg);
/*
 * Sets b's contents to a copy of rep after validating all of it
 * (-LSM_ECORRUPT, b unchanged) and recomputes user_bytes.
 */
int lsm_batch_set_rep(lsm_batch *b, lsm_slice rep);

#endif
