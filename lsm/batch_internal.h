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

/* The encoded batch (header included), ready to log. */
lsm_slice lsm_batch_rep(const lsm_batch *b);
uint64_t lsm_batch_seq(const lsm_batch *b);
void lsm_batch_set_seq(lsm_batch *b, uint64_t seq);
/* Appends every entry of src to dst (group commit merges batches). */
int lsm_batch_append(lsm_batch *dst, const lsm_batch *src);

/* Called for each entry, in order, with its sequence number. Non-zero stops. */
typedef int (*lsm_batch_fn)(void *arg, uint64_t seq, int type, lsm_slice key, lsm_slice val);
/*
 * Walks an encoded batch (e.g. a WAL record). Returns 0, the callback's
 * non-zero value, or -LSM_ECORRUPT if rep is malformed (count mismatch,
 * truncated entry, unknown type).
 */
int lsm_batch_iterate(lsm_slice rep, lsm_batch_fn fn, void *arg);
/* Sets b's contents to a copy of rep (after validating its header). */
int lsm_batch_set_rep(lsm_batch *b, lsm_slice rep);

#endif
