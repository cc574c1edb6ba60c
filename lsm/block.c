/*
 * block.c — sorted blocks with shared-prefix keys and restart points.
 *
 * A block, as stored (before the table's compression and trailer):
 *
 *   +---------+---------+-----+-----------+-----------+-----+-----------+---------+
 *   | entry 0 | entry 1 | ... | restart 0 | restart 1 | ... | restart   | n:      |
 *   |         |         |     | le32      | le32      |     | n-1: le32 | le32    |
 *   +---------+---------+-----+-----------+-----------+-----+-----------+---------+
 *   |<------ entry area ----->|<------------- restart array ------------------->|
 *
 *   entry = [varint32 shared][varint32 non_shared][varint32 vlen]
 *           [key bytes shared.. : non_shared bytes][value: vlen bytes]
 *
 * An entry's key is the first `shared` bytes of the previous entry's key
 * followed by its own `non_shared` bytes. Every `interval`-th entry (16 for
 * data blocks, 1 for the index) is a restart point: it stores its key in full
 * (shared = 0) and its offset is listed in the restart array, so a seek can
 * binary-search the restart keys in place and then scan at most one
 * interval. restart 0 is always 0. A block with no entries is just
 * [le32 n = 0]. Offsets are 32-bit: a block stays below 4 GiB.
 */
#include "block.h"

#include "error.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- builder ---- */

void lsm_block_builder_init(lsm_block_builder *b, int restart_interval)
{
	assert(restart_interval >= 1);
	lsm_buf_init(&b->buf);
	lsm_buf_init(&b->restarts);
	lsm_buf_init(&b->last_key);
	b->interval = restart_interval;
	lsm_block_builder_reset(b);
}

void lsm_block_builder_free(lsm_block_builder *b)
{
	lsm_buf_free(&b->buf);
	lsm_buf_free(&b->restarts);
	lsm_buf_free(&b->last_key);
}

void lsm_block_builder_reset(lsm_block_builder *b)
{
	b->buf.len = 0;
	b->restarts.len = 0;
	b->last_key.len = 0;
	b->counter = b->interval; /* the first entry starts a restart region */
	b->entries = 0;
	b->finished = 0;
}

size_t lsm_block_builder_estimate(const lsm_block_builder *b)
{
	return b->buf.len + b->restarts.len + 4;
}

int lsm_block_builder_add(lsm_block_builder *b, lsm_slice key, lsm_slice value)
{
	assert(!b->finished);
	assert(key.len >= LSM_TRAILER);
	assert(b->entries == 0 || lsm_ikey_compare(key, lsm_block_builder_last_key(b)) > 0);
	size_t shared = 0;
	int restart = b->counter >= b->interval;
	if (!restart) {
		size_t n = key.len < b->last_key.len ? key.len : b->last_key.len;
		while (shared < n && key.data[shared] == b->last_key.data[shared])
			shared++;
	}
	size_t non_shared = key.len - shared;
	size_t need = 3 * LSM_VARINT32_MAX + non_shared + value.len;
	/* The finished block, restart array included, must stay addressable by le32. */
	uint64_t after = (uint64_t)b->buf.len + need + b->restarts.len + 8;
	if (after > UINT32_MAX || key.len > UINT32_MAX || value.len > UINT32_MAX)
		return -E2BIG;
	int rc = lsm_buf_reserve(&b->buf, need);
	if (!rc && restart)
		rc = lsm_buf_reserve(&b->restarts, 4);
	if (!rc)
		rc = lsm_buf_reserve(&b->last_key, key.len);
	if (rc)
		return rc;
	/* Nothing below can fail: the block never holds half an entry. */
	if (restart) {
		lsm_put_le32(b->restarts.data + b->restarts.len, (uint32_t)b->buf.len);
		b->restarts.len += 4;
		b->counter = 0;
	}
	uint8_t *p = b->buf.data + b->buf.len;
	p += lsm_put_varint32(p, (uint32_t)shared);
	p += lsm_put_varint32(p, (uint32_t)non_shared);
	p += lsm_put_varint32(p, (uint32_t)value.len);
	memcpy(p, key.data + shared, non_shared);
	p += non_shared;
	if (value.len)
		memcpy(p, value.data, value.len);
	p += value.len;
	b->buf.len = (size_t)(p - b->buf.data);
	memcpy(b->last_key.data + shared, key.data + shared, non_shared);
	b->last_key.len = key.len;
	b->counter++;
	b->entries++;
	return 0;
}

int lsm_block_builder_finish(lsm_block_builder *b, lsm_slice *out)
{
	assert(!b->finished);
	int rc = lsm_buf_reserve(&b->buf, b->restarts.len + 4);
	if (rc)
		return rc;
	lsm_buf_append(&b->buf, b->restarts.data, b->restarts.len);
	lsm_buf_append_le32(&b->buf, (uint32_t)(b->restarts.len / 4));
	b->finished = 1;
	*out = lsm_slice_of(b->buf.data, b->buf.len);
	return 0;
}

/* ---- reader ---- */

static inline uint32_t restart_off(const uint8_t *restarts, uint32_t i)
{
	return lsm_get_le32(restarts + 4 * (size_t)i);
}

int lsm_block_init(lsm_block *blk, const uint8_t *data, size_t size, const char *file, uint64_t off)
{
	blk->data = data;
	blk->size = size;
	blk->owned = NULL;
	blk->restarts_off = 0;
	blk->nrestarts = 0;
	if (size < 4 || size > UINT32_MAX)
		return LSM_CORRUPT(file, off, "block of %zu bytes has no valid restart array",
				   size);
	uint32_t n = lsm_get_le32(data + size - 4);
	if (n > (size - 4) / 4)
		return LSM_CORRUPT(file, off, "block of %zu bytes claims %u restart points", size,
				   n);
	uint32_t end = (uint32_t)(size - 4 - 4 * (size_t)n);
	const uint8_t *r = data + end;
	if (n == 0 && end != 0)
		return LSM_CORRUPT(file, off, "block has %u bytes of entries but no restart point",
				   end);
	uint32_t prev = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t o = restart_off(r, i);
		if ((i == 0 && o != 0) || (i > 0 && o <= prev) || o >= end)
			return LSM_CORRUPT(file, off,
					   "restart point %u at %u is out of order or past the "
					   "entries (which end at %u)",
					   i, o, end);
		prev = o;
	}
	blk->restarts_off = end;
	blk->nrestarts = n;
	return 0;
}

void lsm_block_init_trusted(lsm_block *blk, const uint8_t *data, size_t size)
{
	assert(size >= 4 && size <= UINT32_MAX);
	uint32_t n = lsm_get_le32(data + size - 4);
	assert(n <= (size - 4) / 4);
	blk->data = data;
	blk->size = size;
	blk->owned = NULL;
	blk->restarts_off = (uint32_t)(size - 4 - 4 * (size_t)n);
	blk->nrestarts = n;
}

void lsm_block_release(lsm_block *blk)
{
	free(blk->owned);
	blk->owned = NULL;
	blk->data = NULL;
	blk->size = 0;
}

/* ---- iterator ---- */

static void invalidate(lsm_block_iter *it)
{
	it->cur = it->next = it->restarts_off;
	it->key = it->value = lsm_slice_of(NULL, 0);
}

static int corrupt(lsm_block_iter *it, uint32_t at, const char *what)
{
	if (!it->status)
		it->status = LSM_CORRUPT(it->file, it->file_off, "block entry at %u: %s", at, what);
	invalidate(it);
	return it->status;
}

static int nomem(lsm_block_iter *it)
{
	if (!it->status)
		it->status = lsm_seterr(-ENOMEM, "block in %s at %llu: out of memory for a key",
					it->file, (unsigned long long)it->file_off);
	invalidate(it);
	return it->status;
}

void lsm_block_iter_init(lsm_block_iter *it, const lsm_block *blk, const char *file,
			 uint64_t file_off)
{
	it->kbuf = it->kinline;
	it->kcap = sizeof(it->kinline);
	it->back = NULL;
	it->back_cap = 0;
	lsm_buf_init(&it->back_keys);
	it->file = file;
	lsm_block_iter_reset(it, blk, file_off);
}

void lsm_block_iter_reset(lsm_block_iter *it, const lsm_block *blk, uint64_t file_off)
{
	it->data = blk->data;
	it->restarts = blk->data + blk->restarts_off;
	it->restarts_off = blk->restarts_off;
	it->nrestarts = blk->nrestarts;
	it->file_off = file_off;
	it->ridx = 0;
	it->status = 0;
	it->back_region = UINT32_MAX;
	it->back_n = 0;
	invalidate(it);
}

void lsm_block_iter_free(lsm_block_iter *it)
{
	if (it->kbuf != it->kinline)
		free(it->kbuf);
	it->kbuf = it->kinline;
	it->kcap = sizeof(it->kinline);
	if (it->back) { /* most iterators never step back */
		free(it->back);
		it->back = NULL;
		it->back_cap = it->back_n = 0;
		it->back_region = UINT32_MAX;
		lsm_buf_free(&it->back_keys);
	}
}

/*
 * Decodes an entry header, [varint32 shared][varint32 non_shared][varint32
 * vlen], at p; NULL if it runs past limit. Each of the three is almost
 * always below 128 (a prefix, a key's tail, a short value): one byte,
 * decoded without the general loop.
 */
static inline __attribute__((always_inline)) const uint8_t *
decode_header(const uint8_t *p, const uint8_t *limit, uint32_t *shared, uint32_t *non_shared,
	      uint32_t *vlen)
{
	if (limit - p >= 3 && ((p[0] | p[1] | p[2]) & 0x80) == 0) {
		*shared = p[0];
		*non_shared = p[1];
		*vlen = p[2];
		return p + 3;
	}
	p = lsm_get_varint32(p, limit, shared);
	if (p)
		p = lsm_get_varint32(p, limit, non_shared);
	if (p)
		p = lsm_get_varint32(p, limit, vlen);
	return p;
}

/* Makes the current key the first shared bytes of the current key, then p[0, non_shared). */
static int assemble_key(lsm_block_iter *it, uint32_t shared, const uint8_t *p, uint32_t non_shared)
{
	size_t need = (size_t)shared + non_shared;
	if (need > it->kcap) {
		size_t cap = 2 * it->kcap > need ? 2 * it->kcap : need;
		uint8_t *nb = malloc(cap);
		if (!nb)
			return nomem(it);
		memcpy(nb, it->key.data, shared);
		if (it->kbuf != it->kinline)
			free(it->kbuf);
		it->kbuf = nb;
		it->kcap = cap;
	} else if (it->key.data != it->kbuf) {
		/* The previous key lives in the block: bring its prefix over. */
		memcpy(it->kbuf, it->key.data, shared);
	}
	memcpy(it->kbuf + shared, p, non_shared);
	it->key = lsm_slice_of(it->kbuf, need);
	return 0;
}

/*
 * Decodes the entry at off. Its key extends the current key; at a restart
 * point there is no previous key, so any shared prefix is corruption.
 */
static int decode_at(lsm_block_iter *it, uint32_t off, int at_restart)
{
	const uint8_t *p = it->data + off, *limit = it->data + it->restarts_off;
	uint32_t shared, non_shared, vlen;
	p = decode_header(p, limit, &shared, &non_shared, &vlen);
	if (!p)
		return corrupt(it, off, "truncated entry header");
	size_t prev = at_restart ? 0 : it->key.len;
	if (shared > prev)
		return corrupt(it, off, "shared prefix longer than the previous key");
	size_t room = (size_t)(limit - p);
	if (non_shared > room || vlen > room - non_shared)
		return corrupt(it, off, "entry runs past the end of the block");
	if ((size_t)shared + non_shared < LSM_TRAILER)
		return corrupt(it, off, "key shorter than its 8-byte trailer");
	if (shared == 0)
		it->key = lsm_slice_of(p, non_shared); /* in place: no copy */
	else if (assemble_key(it, shared, p, non_shared))
		return it->status;
	it->value = lsm_slice_of(p + non_shared, vlen);
	it->cur = off;
	it->next = (uint32_t)(p + non_shared + vlen - it->data);
	assert(it->next > it->cur && it->next <= it->restarts_off);
	return 0;
}

static int seek_restart(lsm_block_iter *it, uint32_t i)
{
	assert(i < it->nrestarts);
	it->ridx = i;
	return decode_at(it, restart_off(it->restarts, i), 1);
}

/* The full key stored at restart point i, read in place: *key, *klen. */
static int restart_key(lsm_block_iter *it, uint32_t i, const uint8_t **key, uint32_t *klen)
{
	uint32_t off = restart_off(it->restarts, i);
	const uint8_t *p = it->data + off, *limit = it->data + it->restarts_off;
	uint32_t shared, non_shared, vlen;
	p = decode_header(p, limit, &shared, &non_shared, &vlen);
	if (!p)
		return corrupt(it, off, "truncated entry header");
	if (shared != 0)
		return corrupt(it, off, "restart entry has a shared prefix");
	if (non_shared > (size_t)(limit - p) || non_shared < LSM_TRAILER)
		return corrupt(it, off, "restart key out of bounds or shorter than its trailer");
	*key = p;
	*klen = non_shared;
	return 0;
}

/* A seek target, split once so that each comparison reads only the entry's key. */
struct target {
	const uint8_t *user;
	size_t ulen;
	uint64_t trailer;
};

static inline uint64_t load_be64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

/*
 * lsm_ikey_compare(key, target) for key = k[0, klen) (klen >= 8): user
 * bytes eight at a time as big-endian words (their order is memcmp's),
 * which beats a call to memcmp on the short keys blocks hold.
 */
static inline int compare_target(const uint8_t *k, size_t klen, const struct target *t)
{
	size_t ulen = klen - LSM_TRAILER, n = ulen < t->ulen ? ulen : t->ulen;
	const uint8_t *a = k, *b = t->user;
	for (; n >= 8; n -= 8, a += 8, b += 8) {
		uint64_t x = load_be64(a), y = load_be64(b);
		if (x != y)
			return x < y ? -1 : 1;
	}
	for (; n; n--, a++, b++)
		if (*a != *b)
			return *a < *b ? -1 : 1;
	if (ulen != t->ulen)
		return ulen < t->ulen ? -1 : 1;
	uint64_t tr = lsm_get_le64(k + ulen);
	return tr > t->trailer ? -1 : tr < t->trailer;
}

void lsm_block_iter_seek_first(lsm_block_iter *it)
{
	if (it->status)
		return;
	if (it->nrestarts == 0) {
		invalidate(it);
		return;
	}
	seek_restart(it, 0);
}

void lsm_block_iter_next(lsm_block_iter *it)
{
	assert(lsm_block_iter_valid(it));
	uint32_t off = it->next;
	if (off >= it->restarts_off) {
		invalidate(it);
		return;
	}
	int at_restart = 0;
	if (it->ridx + 1 < it->nrestarts) {
		uint32_t r = restart_off(it->restarts, it->ridx + 1);
		if (off > r) {
			corrupt(it, off, "entry straddles a restart point");
			return;
		}
		at_restart = off == r;
	}
	if (decode_at(it, off, at_restart) == 0 && at_restart)
		it->ridx++;
}

/*
 * The keys kept for prev are bounded, so that a region of very many long
 * keys cannot make an iterator allocate without limit; such a region (the
 * builder never writes one: 16 keys of at most 64 KiB) is rescanned at each
 * step back instead.
 */
#define BACK_KEYS_MAX (2u << 20)

/*
 * Decodes restart region r from its start to its end and keeps its entries,
 * each key reassembled straight into back_keys from the key kept before
 * it. The checks are decode_at's and next's. 1 if the region is too big to
 * keep; otherwise 0 or the error (the iterator is then invalid).
 */
static int back_fill(lsm_block_iter *it, uint32_t r)
{
	const uint8_t *limit = it->data + it->restarts_off;
	uint32_t off = restart_off(it->restarts, r);
	uint32_t end = r + 1 < it->nrestarts ? restart_off(it->restarts, r + 1) : it->restarts_off;
	size_t prev_koff = 0, prev_klen = 0;
	it->back_region = UINT32_MAX;
	it->back_n = 0;
	it->back_keys.len = 0;
	while (off < end) {
		const uint8_t *p = it->data + off;
		uint32_t shared, non_shared, vlen;
		p = decode_header(p, limit, &shared, &non_shared, &vlen);
		if (!p)
			return corrupt(it, off, "truncated entry header");
		if (shared > prev_klen) /* 0 at the restart point */
			return corrupt(it, off, "shared prefix longer than the previous key");
		size_t room = (size_t)(limit - p), klen = (size_t)shared + non_shared;
		if (non_shared > room || vlen > room - non_shared)
			return corrupt(it, off, "entry runs past the end of the block");
		if (klen < LSM_TRAILER)
			return corrupt(it, off, "key shorter than its 8-byte trailer");
		if (klen > BACK_KEYS_MAX - it->back_keys.len)
			return 1;
		if (it->back_n == it->back_cap) {
			uint32_t cap = it->back_cap ? 2 * it->back_cap : 16;
			struct lsm_block_back_entry *nb = realloc(it->back, cap * sizeof(*nb));
			if (!nb)
				return nomem(it);
			it->back = nb;
			it->back_cap = cap;
		}
		if (lsm_buf_reserve(&it->back_keys, klen))
			return nomem(it);
		uint8_t *k = it->back_keys.data + it->back_keys.len;
		memcpy(k, it->back_keys.data + prev_koff, shared);
		memcpy(k + shared, p, non_shared);
		struct lsm_block_back_entry *e = &it->back[it->back_n++];
		e->off = off;
		e->next = (uint32_t)(p + non_shared + vlen - it->data);
		e->koff = (uint32_t)it->back_keys.len;
		e->klen = (uint32_t)klen;
		e->voff = (uint32_t)(p + non_shared - it->data);
		e->vlen = vlen;
		prev_koff = it->back_keys.len;
		prev_klen = klen;
		it->back_keys.len += klen;
		off = e->next;
	}
	if (off != end)
		return corrupt(it, it->back[it->back_n - 1].off, "entry straddles a restart point");
	it->back_region = r;
	return 0;
}

/* Moves onto entry i of the region kept for prev. */
static void back_enter(lsm_block_iter *it, uint32_t i)
{
	const struct lsm_block_back_entry *e = &it->back[i];
	assert(i < it->back_n);
	it->ridx = it->back_region;
	it->cur = e->off;
	it->next = e->next;
	it->key = lsm_slice_of(it->back_keys.data + e->koff, e->klen);
	it->value = lsm_slice_of(it->data + e->voff, e->vlen);
}

void lsm_block_iter_seek_last(lsm_block_iter *it)
{
	if (it->status)
		return;
	if (it->nrestarts == 0) {
		invalidate(it);
		return;
	}
	/* A scan backwards starts here: keep the last region for the steps that follow. */
	int rc = it->back_region == it->nrestarts - 1 ? 0 : back_fill(it, it->nrestarts - 1);
	if (rc == 0) {
		back_enter(it, it->back_n - 1);
		return;
	}
	if (rc < 0 || seek_restart(it, it->nrestarts - 1))
		return;
	while (lsm_block_iter_valid(it) && it->next < it->restarts_off)
		lsm_block_iter_next(it);
}

/* Steps back without keeping the region: decodes forward from its start up to orig. */
static void prev_by_rescan(lsm_block_iter *it, uint32_t r, uint32_t orig)
{
	if (seek_restart(it, r))
		return;
	while (lsm_block_iter_valid(it) && it->next < orig)
		lsm_block_iter_next(it);
	if (lsm_block_iter_valid(it) && it->next != orig)
		corrupt(it, orig, "entries do not line up when scanning backwards");
}

void lsm_block_iter_prev(lsm_block_iter *it)
{
	assert(lsm_block_iter_valid(it));
	uint32_t orig = it->cur, r = it->ridx;
	/* The region of the entry before orig: orig's own, or the one before if orig starts it. */
	while (restart_off(it->restarts, r) >= orig) {
		if (r == 0) {
			invalidate(it); /* orig was the first entry */
			return;
		}
		r--;
	}
	if (it->back_region != r) {
		int rc = back_fill(it, r);
		if (rc > 0)
			prev_by_rescan(it, r, orig);
		if (rc)
			return;
	}
	/* The last kept entry that starts before orig must end exactly at it. */
	uint32_t lo = 0, hi = it->back_n - 1;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo + 1) / 2;
		if (it->back[mid].off < orig)
			lo = mid;
		else
			hi = mid - 1;
	}
	if (it->back[lo].off >= orig || it->back[lo].next != orig) {
		corrupt(it, orig, "entries do not line up when scanning backwards");
		return;
	}
	back_enter(it, lo);
}

void lsm_block_iter_seek(lsm_block_iter *it, lsm_slice target)
{
	assert(target.len >= LSM_TRAILER);
	if (it->status)
		return;
	if (it->nrestarts == 0) {
		invalidate(it);
		return;
	}
	struct target t = {target.data, target.len - LSM_TRAILER, lsm_ikey_trailer(target)};
	/* The last restart point whose key is < target; the answer is in its region or the next. */
	uint32_t lo = 0, hi = it->nrestarts - 1;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo + 1) / 2, klen = 0;
		const uint8_t *k = NULL;
		if (restart_key(it, mid, &k, &klen))
			return;
		int c = compare_target(k, klen, &t);
		if (c < 0) {
			lo = mid;
		} else if (c > 0) {
			hi = mid - 1;
		} else {
			lo = hi = mid; /* the target itself starts this region */
		}
	}
	if (seek_restart(it, lo))
		return;
	while (lsm_block_iter_valid(it) && compare_target(it->key.data, it->key.len, &t) < 0)
		lsm_block_iter_next(it);
}

/* ---- lsm_it wrapper ---- */

struct block_it {
	lsm_it base;
	lsm_block_iter bi;
};

#define BI(it) (&((struct block_it *)(it))->bi)

static int bit_valid(lsm_it *it)
{
	return lsm_block_iter_valid(BI(it));
}
static void bit_seek_first(lsm_it *it)
{
	lsm_block_iter_seek_first(BI(it));
}
static void bit_seek_last(lsm_it *it)
{
	lsm_block_iter_seek_last(BI(it));
}
static void bit_seek(lsm_it *it, lsm_slice target)
{
	lsm_block_iter_seek(BI(it), target);
}
static void bit_next(lsm_it *it)
{
	lsm_block_iter_next(BI(it));
}
static void bit_prev(lsm_it *it)
{
	lsm_block_iter_prev(BI(it));
}
static lsm_slice bit_key(lsm_it *it)
{
	return lsm_block_iter_key(BI(it));
}
static lsm_slice bit_value(lsm_it *it)
{
	return lsm_block_iter_value(BI(it));
}
static int bit_status(lsm_it *it)
{
	return lsm_block_iter_status(BI(it));
}
static void bit_destroy(lsm_it *it)
{
	lsm_block_iter_free(BI(it));
	free(it);
}

static const lsm_it_ops block_it_ops = {
	.valid = bit_valid,
	.seek_first = bit_seek_first,
	.seek_last = bit_seek_last,
	.seek = bit_seek,
	.next = bit_next,
	.prev = bit_prev,
	.key = bit_key,
	.value = bit_value,
	.status = bit_status,
	.destroy = bit_destroy,
};

lsm_it *lsm_block_iter_new(const lsm_block *blk, const char *file, uint64_t file_off)
{
	struct block_it *it = malloc(sizeof(*it));
	if (!it)
		return NULL;
	it->base.ops = &block_it_ops;
	lsm_block_iter_init(&it->bi, blk, file, file_off);
	return &it->base;
}
