/*
 * batch.c — write batches: the unit of atomicity, encoded as its WAL record.
 *
 *   batch = +-----------+-------------+------------------+
 *           | seq: le64 | count: le32 | count entries    |
 *           +-----------+-------------+------------------+
 *           byte 0      8             12
 *
 *   entry = [type: 1][klen: varint][key: klen]                      type 0
 * (delete) | [type: 1][klen: varint][key: klen][vlen: varint][value]  type 1
 * (value)
 *
 * The entry at index i gets sequence number seq + i when applied. The seq
 * field is 0 until the db assigns one just before logging, so building a
 * batch never touches shared state.
 *
 * An lsm_batch belongs to one thread at a time (lsm.h): no lock.
 */
#include "batch_internal.h"

#include "coding.h"
#include "error.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* What lsm_batch_rep() returns for a batch that never got a header. */
static const uint8_t empty_rep[LSM_BATCH_HEADER];

static int has_header(const lsm_batch *b)
{
	return b->rep.len >= LSM_BATCH_HEADER;
}

static uint32_t get_count(const lsm_batch *b)
{
	return has_header(b) ? lsm_get_le32(b->rep.data + 8) : 0;
}

static void set_count(lsm_batch *b, uint32_t n)
{
	assert(has_header(b));
	lsm_put_le32(b->rep.data + 8, n);
}

/* A zero-initialised batch gets its header on first use. */
static int ensure_header(lsm_batch *b)
{
	if (has_header(b))
		return 0;
	assert(b->rep.len == 0);
	int rc = lsm_buf_reserve(&b->rep, LSM_BATCH_HEADER);
	if (rc)
		return rc;
	memset(b->rep.data, 0, LSM_BATCH_HEADER);
	b->rep.len = LSM_BATCH_HEADER;
	b->user_bytes = 0;
	return 0;
}

int lsm_batch_init(lsm_batch *b)
{
	lsm_buf_init(&b->rep);
	b->user_bytes = 0;
	return ensure_header(b);
}

void lsm_batch_destroy(lsm_batch *b)
{
	lsm_buf_free(&b->rep);
	b->user_bytes = 0;
}

lsm_batch *lsm_batch_new(void)
{
	lsm_batch *b = malloc(sizeof(*b));
	if (!b)
		return NULL;
	if (lsm_batch_init(b)) {
		free(b);
		return NULL;
	}
	return b;
}

void lsm_batch_free(lsm_batch *b)
{
	if (!b)
		return;
	lsm_batch_destroy(b);
	free(b);
}

void lsm_batch_clear(lsm_batch *b)
{
	if (!has_header(b))
		return; /* already empty; it gets a header on first use */
	memset(b->rep.data, 0, LSM_BATCH_HEADER);
	b->rep.len = LSM_BATCH_HEADER;
	b->user_bytes = 0;
}

/* Adds one entry; the batch is unchanged on any error. */
static int add_entry(lsm_batch *b, int type, const void *key, size_t klen, const void *val,
		     size_t vlen)
{
	if (klen > LSM_MAX_KEY)
		return lsm_seterr(-EINVAL, "batch: key of %zu bytes exceeds the %u-byte limit",
				  klen, LSM_MAX_KEY);
	if (vlen > LSM_MAX_VALUE)
		return lsm_seterr(-EINVAL, "batch: value of %zu bytes exceeds the %u-byte limit",
				  vlen, LSM_MAX_VALUE);
	int rc = ensure_header(b);
	if (rc)
		return lsm_seterr(rc, "batch: out of memory");
	uint32_t count = get_count(b);
	if (count == UINT32_MAX)
		return lsm_seterr(-EOVERFLOW, "batch: more than %u entries", UINT32_MAX);
	size_t need = 1 + lsm_varint_len(klen) + klen;
	if (type == LSM_TYPE_VALUE)
		need += lsm_varint_len(vlen) + vlen;
	/* Reserve all of it first, so the appends below cannot fail half way. */
	rc = lsm_buf_reserve(&b->rep, need);
	if (rc)
		return lsm_seterr(rc, "batch: out of memory adding %zu bytes", need);
	uint8_t t = (uint8_t)type;
	rc = lsm_buf_append(&b->rep, &t, 1);
	if (!rc)
		rc = lsm_buf_append_lenprefixed(&b->rep, key, klen);
	if (!rc && type == LSM_TYPE_VALUE)
		rc = lsm_buf_append_lenprefixed(&b->rep, val, vlen);
	assert(rc == 0);
	set_count(b, count + 1);
	b->user_bytes += klen + (type == LSM_TYPE_VALUE ? vlen : 0);
	return 0;
}

int lsm_batch_put(lsm_batch *b, const void *key, size_t klen, const void *val, size_t vlen)
{
	return add_entry(b, LSM_TYPE_VALUE, key, klen, val, vlen);
}

int lsm_batch_delete(lsm_batch *b, const void *key, size_t klen)
{
	return add_entry(b, LSM_TYPE_DELETE, key, klen, NULL, 0);
}

size_t lsm_batch_count(const lsm_batch *b)
{
	return get_count(b);
}

size_t lsm_batch_bytes(const lsm_batch *b)
{
	return has_header(b) ? b->rep.len : LSM_BATCH_HEADER;
}

lsm_slice lsm_batch_rep(const lsm_batch *b)
{
	if (!has_header(b))
		return lsm_slice_of(empty_rep, sizeof(empty_rep));
	return lsm_slice_of(b->rep.data, b->rep.len);
}

uint64_t lsm_batch_seq(const lsm_batch *b)
{
	return has_header(b) ? lsm_get_le64(b->rep.data) : 0;
}

void lsm_batch_set_seq(lsm_batch *b, uint64_t seq)
{
	int rc = ensure_header(b);
	assert(rc == 0); /* callers pass batches made by lsm_batch_new()/init() */
	if (rc)
		return;
	lsm_put_le64(b->rep.data, seq);
}

int lsm_batch_append(lsm_batch *dst, const lsm_batch *src)
{
	uint32_t n = get_count(src);
	if (!has_header(src) || !n)
		return 0;
	int rc = ensure_header(dst);
	if (rc)
		return lsm_seterr(rc, "batch: out of memory");
	uint32_t have = get_count(dst);
	if (n > UINT32_MAX - have)
		return lsm_seterr(-EOVERFLOW, "batch: more than %u entries", UINT32_MAX);
	size_t body = src->rep.len - LSM_BATCH_HEADER;
	uint64_t ubytes = src->user_bytes;
	rc = lsm_buf_reserve(&dst->rep, body);
	if (rc)
		return lsm_seterr(rc, "batch: out of memory appending %zu bytes", body);
	/* Read src only now: when dst == src the reserve may have moved it. */
	memcpy(dst->rep.data + dst->rep.len, src->rep.data + LSM_BATCH_HEADER, body);
	dst->rep.len += body;
	set_count(dst, have + n);
	dst->user_bytes += ubytes;
	return 0;
}

/* Where a malformed batch is reported: the file and offset it was read from. */
typedef struct batch_origin {
	const char *file;
	uint64_t offset;
} batch_origin;

/* One decoded entry; p advances past it. Returns 0 or -LSM_ECORRUPT. */
static int decode_entry(const batch_origin *o, lsm_slice rep, const uint8_t **pp, int *type,
			lsm_slice *key, lsm_slice *val)
{
	const uint8_t *p = *pp, *end = rep.data + rep.len;
	size_t at = (size_t)(p - rep.data);
	uint32_t klen, vlen = 0;
	assert(p < end);
	*type = *p++;
	if (*type != LSM_TYPE_VALUE && *type != LSM_TYPE_DELETE)
		return LSM_CORRUPT(o->file, o->offset, "batch byte %zu: unknown entry type %d", at,
				   *type);
	p = lsm_get_varint32(p, end, &klen);
	if (!p)
		return LSM_CORRUPT(o->file, o->offset, "batch byte %zu: key length cut short", at);
	if (klen > LSM_MAX_KEY || klen > (size_t)(end - p))
		return LSM_CORRUPT(o->file, o->offset,
				   "batch byte %zu: key of %u bytes runs past the batch (%zu left)",
				   at, klen, (size_t)(end - p));
	*key = lsm_slice_of(p, klen);
	p += klen;
	*val = lsm_slice_of(NULL, 0);
	if (*type == LSM_TYPE_VALUE) {
		p = lsm_get_varint32(p, end, &vlen);
		if (!p)
			return LSM_CORRUPT(o->file, o->offset,
					   "batch byte %zu: value length cut short", at);
		if (vlen > LSM_MAX_VALUE || vlen > (size_t)(end - p))
			return LSM_CORRUPT(
				o->file, o->offset,
				"batch byte %zu: value of %u bytes runs past the batch (%zu left)",
				at, vlen, (size_t)(end - p));
		*val = lsm_slice_of(p, vlen);
		p += vlen;
	}
	*pp = p;
	return 0;
}

/*
 * Checks all of rep: header, every entry, the count and the sequence range.
 * *user_bytes (if not NULL) gets the sum of key and value lengths.
 */
static int validate(const batch_origin *o, lsm_slice rep, uint64_t *user_bytes)
{
	if (rep.len < LSM_BATCH_HEADER)
		return LSM_CORRUPT(o->file, o->offset,
				   "batch of %zu bytes is shorter than its header", rep.len);
	uint64_t seq = lsm_get_le64(rep.data);
	uint32_t count = lsm_get_le32(rep.data + 8);
	if (count && (seq > LSM_MAX_SEQ || count - 1 > LSM_MAX_SEQ - seq))
		return LSM_CORRUPT(o->file, o->offset,
				   "batch sequence %llu + %u entries passes the maximum sequence",
				   (unsigned long long)seq, count);
	const uint8_t *p = rep.data + LSM_BATCH_HEADER, *end = rep.data + rep.len;
	uint64_t ubytes = 0;
	uint32_t seen = 0;
	while (p < end) {
		int type;
		lsm_slice key, val;
		if (seen == count)
			return LSM_CORRUPT(
				o->file, o->offset,
				"batch byte %zu: %zu bytes follow the last of %u entries",
				(size_t)(p - rep.data), (size_t)(end - p), count);
		int rc = decode_entry(o, rep, &p, &type, &key, &val);
		if (rc)
			return rc;
		ubytes += key.len + val.len;
		seen++;
	}
	if (seen != count)
		return LSM_CORRUPT(o->file, o->offset, "batch holds %u entries, its header says %u",
				   seen, count);
	if (user_bytes)
		*user_bytes = ubytes;
	return 0;
}

int lsm_batch_iterate_at(lsm_slice rep, const char *file, uint64_t offset, lsm_batch_fn fn,
			 void *arg)
{
	batch_origin o = {file, offset};
	/* Validate first: a replayed batch must apply all of its entries or none. */
	int rc = validate(&o, rep, NULL);
	if (rc)
		return rc;
	uint64_t seq = lsm_get_le64(rep.data);
	const uint8_t *p = rep.data + LSM_BATCH_HEADER, *end = rep.data + rep.len;
	for (uint64_t i = 0; p < end; i++) {
		int type;
		lsm_slice key, val;
		rc = decode_entry(&o, rep, &p, &type, &key, &val);
		assert(rc == 0);
		rc = fn(arg, seq + i, type, key, val);
		if (rc)
			return rc;
	}
	return 0;
}

int lsm_batch_iterate(lsm_slice rep, lsm_batch_fn fn, void *arg)
{
	return lsm_batch_iterate_at(rep, "write batch", 0, fn, arg);
}

int lsm_batch_set_rep(lsm_batch *b, lsm_slice rep)
{
	batch_origin o = {"write batch", 0};
	uint64_t ubytes;
	int rc = validate(&o, rep, &ubytes);
	if (rc)
		return rc;
	lsm_buf copy;
	lsm_buf_init(&copy);
	rc = lsm_buf_append(&copy, rep.data, rep.len);
	if (rc)
		return lsm_seterr(rc, "batch: out of memory copying %zu bytes", rep.len);
	lsm_buf_free(&b->rep);
	b->rep = copy;
	b->user_bytes = ubytes;
	return 0;
}
