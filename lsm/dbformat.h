/*
 * dbformat.h — internal keys, the unit every engine layer sorts.
 *
 *   internal key = [user key][trailer: le64 (sequence << 8 | type)]
 *
 * Order: user key ascending (memcmp, shorter first on a tie), then sequence
 * descending, then type descending, so that a seek to (key, snapshot seq)
 * lands on the newest version visible to that snapshot.
 */
#ifndef LSM_DBFORMAT_H
#define LSM_DBFORMAT_H

#include "coding.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct lsm_slice {
	const uint8_t *data;
	size_t len;
} lsm_slice;

static inline lsm_slice lsm_slice_of(const void *p, size_t n)
{
	lsm_slice s = {(const uint8_t *)p, n};
	return s;
}

enum lsm_value_type {
	LSM_TYPE_DELETE = 0,
	LSM_TYPE_VALUE = 1,
	/* A value kept in a WAL: the entry holds its reference (blob.h), not its bytes. */
	LSM_TYPE_BLOB = 2,
};
/* Seeks use the highest type so they land before every entry of the same sequence. */
#define LSM_TYPE_FOR_SEEK LSM_TYPE_BLOB

#define LSM_MAX_SEQ ((UINT64_C(1) << 56) - 1)
#define LSM_TRAILER 8

static inline uint64_t lsm_pack_trailer(uint64_t seq, int type)
{
	return (seq << 8) | (uint64_t)type;
}

/* Writes key + trailer into out (which must have klen + 8 bytes). */
static inline void lsm_ikey_make(uint8_t *out, const void *ukey, size_t klen, uint64_t seq,
				 int type)
{
	if (klen)
		memcpy(out, ukey, klen);
	lsm_put_le64(out + klen, lsm_pack_trailer(seq, type));
}

static inline lsm_slice lsm_ikey_user(lsm_slice ikey)
{
	return lsm_slice_of(ikey.data, ikey.len - LSM_TRAILER);
}

static inline uint64_t lsm_ikey_trailer(lsm_slice ikey)
{
	return lsm_get_le64(ikey.data + ikey.len - LSM_TRAILER);
}

static inline uint64_t lsm_ikey_seq(lsm_slice ikey)
{
	return lsm_ikey_trailer(ikey) >> 8;
}

static inline int lsm_ikey_type(lsm_slice ikey)
{
	return (int)(lsm_ikey_trailer(ikey) & 0xff);
}

static inline int lsm_user_compare(lsm_slice a, lsm_slice b)
{
	size_t n = a.len < b.len ? a.len : b.len;
	int c = n ? memcmp(a.data, b.data, n) : 0;
	if (c)
		return c;
	return a.len < b.len ? -1 : a.len > b.len;
}

static inline int lsm_ikey_compare(lsm_slice a, lsm_slice b)
{
	int c = lsm_user_compare(lsm_ikey_user(a), lsm_ikey_user(b));
	if (c)
		return c;
	uint64_t ta = lsm_ikey_trailer(a), tb = lsm_ikey_trailer(b);
	return ta > tb ? -1 : ta < tb;
}

#endif
