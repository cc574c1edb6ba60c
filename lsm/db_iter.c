/*
 * db_iter.c — iterators over the database.
 *
 * Three layers:
 *   level iterator   concatenates the sorted, disjoint tables of one level
 *                    (>= 1), opening each through the table cache only when
 *                    the iteration reaches it;
 *   merging iterator (iter.c) over the memtables, every L0 table and one
 *                    level iterator per deeper level: all internal keys in
 *                    order;
 *   user iterator    turns that stream of versions into the view of one
 *                    sequence number: for each user key the newest entry
 *                    with sequence <= the view's, and nothing for a key
 *                    whose newest such entry is a deletion.
 *
 * The user iterator in reverse is the subtle part. Internal keys sort a
 * user key's versions newest first, so walking backwards meets the oldest
 * version first; it therefore reads a whole user key's run, remembering the
 * newest visible entry (key and value copied, since the inner iterator has
 * moved past it), and stops at the first entry of the previous user key.
 * So in reverse the inner iterator sits just before the current key's
 * entries, and in forward on the current entry itself; next/prev switch
 * between the two positions.
 */
#include "db_impl.h"

#include "error.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* ---- one table ---- */

lsm_it *lsm_db_table_iter(lsm_db *db, const lsm_file_meta *f, int fill_cache)
{
	lsm_table *t;
	int rc = lsm_tcache_get(db->tcache, f->number, f->size, &t);
	if (rc)
		return lsm_it_empty(rc);
	lsm_it *it = lsm_table_iter(t, fill_cache);
	lsm_table_unref(t); /* the iterator holds its own reference */
	return it ? it : lsm_it_empty(lsm_seterr(-ENOMEM, "table iterator: out of memory"));
}

/* ---- concatenation of one level ---- */

typedef struct level_it {
	lsm_it base;
	lsm_db *db;
	lsm_version *v;	       /* referenced: keeps files[] and their metas alive */
	lsm_file_meta **files; /* sorted by key, disjoint */
	int n;
	int fill_cache;
	int idx; /* the file cur iterates, or -1 / n when before / past all */
	lsm_it *cur;
	int status; /* an error opening a table */
} level_it;

static void li_set_file(level_it *li, int idx)
{
	lsm_it_destroy(li->cur);
	li->cur = NULL;
	li->idx = idx;
	if (idx < 0 || idx >= li->n)
		return;
	li->cur = lsm_db_table_iter(li->db, li->files[idx], li->fill_cache);
	if (!li->cur)
		li->status = lsm_seterr(-ENOMEM, "level iterator: out of memory");
}

static int li_valid(lsm_it *it)
{
	level_it *li = (level_it *)it;
	return !li->status && li->cur && lsm_it_valid(li->cur);
}

/* Moves to the next non-empty file while cur is exhausted (not failed). */
static void li_skip_forward(level_it *li)
{
	while (!li->status && (!li->cur || !lsm_it_valid(li->cur))) {
		if (li->cur && lsm_it_status(li->cur))
			return;
		if (li->idx + 1 >= li->n) {
			li_set_file(li, li->n);
			return;
		}
		li_set_file(li, li->idx + 1);
		if (li->cur)
			lsm_it_seek_first(li->cur);
	}
}

static void li_skip_backward(level_it *li)
{
	while (!li->status && (!li->cur || !lsm_it_valid(li->cur))) {
		if (li->cur && lsm_it_status(li->cur))
			return;
		if (li->idx <= 0) {
			li_set_file(li, -1);
			return;
		}
		li_set_file(li, li->idx - 1);
		if (li->cur)
			lsm_it_seek_last(li->cur);
	}
}

static void li_seek_first(lsm_it *it)
{
	level_it *li = (level_it *)it;
	li->status = 0;
	li_set_file(li, 0);
	if (li->cur)
		lsm_it_seek_first(li->cur);
	li_skip_forward(li);
}

static void li_seek_last(lsm_it *it)
{
	level_it *li = (level_it *)it;
	li->status = 0;
	li_set_file(li, li->n - 1);
	if (li->cur)
		lsm_it_seek_last(li->cur);
	li_skip_backward(li);
}

static void li_seek(lsm_it *it, lsm_slice target)
{
	level_it *li = (level_it *)it;
	int lo = 0, hi = li->n;
	/* The first file whose largest key is >= target holds the answer, if any does. */
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		lsm_slice large =
			lsm_slice_of(li->files[mid]->largest.data, li->files[mid]->largest.len);
		if (lsm_ikey_compare(large, target) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	li->status = 0;
	li_set_file(li, lo);
	if (li->cur)
		lsm_it_seek(li->cur, target);
	li_skip_forward(li);
}

static void li_next(lsm_it *it)
{
	level_it *li = (level_it *)it;
	assert(li_valid(it));
	lsm_it_next(li->cur);
	li_skip_forward(li);
}

static void li_prev(lsm_it *it)
{
	level_it *li = (level_it *)it;
	assert(li_valid(it));
	lsm_it_prev(li->cur);
	li_skip_backward(li);
}

static lsm_slice li_key(lsm_it *it)
{
	level_it *li = (level_it *)it;
	assert(li_valid(it));
	return lsm_it_key(li->cur);
}

static lsm_slice li_value(lsm_it *it)
{
	level_it *li = (level_it *)it;
	assert(li_valid(it));
	return lsm_it_value(li->cur);
}

static int li_status(lsm_it *it)
{
	level_it *li = (level_it *)it;
	if (li->status)
		return li->status;
	return li->cur ? lsm_it_status(li->cur) : 0;
}

static void li_destroy(lsm_it *it)
{
	level_it *li = (level_it *)it;
	lsm_it_destroy(li->cur);
	lsm_version_unref(li->v);
	free(li);
}

static const lsm_it_ops level_ops = {
	.valid = li_valid,
	.seek_first = li_seek_first,
	.seek_last = li_seek_last,
	.seek = li_seek,
	.next = li_next,
	.prev = li_prev,
	.key = li_key,
	.value = li_value,
	.status = li_status,
	.destroy = li_destroy,
};

lsm_it *lsm_db_level_iter(lsm_db *db, lsm_version *v, lsm_file_meta **files, int n, int fill_cache)
{
	level_it *li = calloc(1, sizeof(*li));
	if (!li)
		return NULL;
	li->base.ops = &level_ops;
	li->db = db;
	li->v = v;
	lsm_version_ref(v);
	li->files = files;
	li->n = n;
	li->fill_cache = fill_cache;
	li->idx = -1;
	return &li->base;
}

/* ---- the user iterator ---- */

enum { DIR_FORWARD, DIR_REVERSE };

struct lsm_iter {
	lsm_db *db;
	lsm_sv *sv;   /* memtables and version the view reads */
	lsm_it *in;   /* merged internal keys */
	uint64_t seq; /* the view: entries above it are invisible */
	int dir;
	int valid;
	int status; /* our own error (out of memory); else the inner one */
	/*
	 * Forward: skey is scratch (the key being skipped past).
	 * Reverse: skey/sval hold the current entry.
	 */
	lsm_buf skey, sval;
	int stype;	/* reverse: the type of the entry in skey/sval */
	lsm_buf target; /* seek key scratch */
	/*
	 * A separated value (LSM_TYPE_BLOB) is read only when the caller asks
	 * for it (lsm_iter_value), into blob; blob_ok says it holds the
	 * current entry's value. Every move clears blob_ok.
	 */
	lsm_buf blob;
	int blob_ok;
	lsm_blob_ahead ahead; /* read-ahead of values met in file order */
	/*
	 * Read sampling: about every READ_SAMPLE_BYTES of entries walked, the
	 * key under the iterator is checked against the version; if two tables
	 * or more hold it, the first is charged a seek, as a point read that
	 * searched it in vain would be. A scan that keeps walking two tables
	 * for the same keys so gets them compacted together.
	 */
	int64_t sample_left;
	uint64_t sample_rng;
};

#define READ_SAMPLE_BYTES (1 << 20)

/* The next sampling distance: uniform in [0, 2 * READ_SAMPLE_BYTES). */
static int64_t next_sample(lsm_iter *it)
{
	it->sample_rng = it->sample_rng * 6364136223846793005u + 1442695040888963407u;
	return (int64_t)((it->sample_rng >> 33) % (2u * READ_SAMPLE_BYTES));
}

/*
 * Each entry counts as its key plus a nominal SAMPLE_VALUE_BYTES: asking the
 * merging iterator for every value's length cost 15% of readseq with 100-byte
 * values, and the distance between samples is random anyway.
 */
#define SAMPLE_VALUE_BYTES 64

static void sample_read(lsm_iter *it, lsm_slice ikey)
{
	it->sample_left -= (int64_t)(ikey.len + SAMPLE_VALUE_BYTES);
	if (it->sample_left > 0)
		return;
	it->sample_left = next_sample(it);
	int level;
	lsm_file_meta *f = lsm_version_first_of_several(it->sv->v, lsm_ikey_user(ikey), &level);
	if (f)
		lsm_db_charge_seek(it->db, f, level);
}

static int save(lsm_iter *it, lsm_buf *b, lsm_slice s)
{
	b->len = 0;
	if (lsm_buf_append(b, s.data, s.len)) {
		it->status = lsm_seterr(-ENOMEM, "iterator: out of memory");
		it->valid = 0;
		return -ENOMEM;
	}
	return 0;
}

static lsm_slice buf_slice(const lsm_buf *b)
{
	return lsm_slice_of(b->data, b->len);
}

/*
 * Forward: from the inner position, finds the first visible live entry,
 * skipping every version of a key deleted (or, with skipping, of keys up to
 * skey).
 */
static void find_next_user_entry(lsm_iter *it, int skipping)
{
	assert(it->dir == DIR_FORWARD);
	it->blob_ok = 0;
	while (lsm_it_valid(it->in)) {
		lsm_slice ikey = lsm_it_key(it->in);
		lsm_slice ukey = lsm_ikey_user(ikey);
		sample_read(it, ikey);
		if (lsm_ikey_seq(ikey) <= it->seq) {
			if (lsm_ikey_type(ikey) == LSM_TYPE_DELETE) {
				/* Every older version of this key is hidden by the deletion. */
				if (save(it, &it->skey, ukey))
					return;
				skipping = 1;
			} else if (!skipping || lsm_user_compare(ukey, buf_slice(&it->skey)) > 0) {
				it->valid = 1;
				return;
			}
		}
		lsm_it_next(it->in);
	}
	it->valid = 0;
}

/*
 * Reverse: walks back over whole user keys until it has one whose newest
 * visible entry is a value; leaves it in skey/sval and the inner iterator
 * just before its entries.
 */
static void find_prev_user_entry(lsm_iter *it)
{
	assert(it->dir == DIR_REVERSE);
	int type = LSM_TYPE_DELETE;
	it->blob_ok = 0;
	while (lsm_it_valid(it->in)) {
		lsm_slice ikey = lsm_it_key(it->in);
		lsm_slice ukey = lsm_ikey_user(ikey);
		sample_read(it, ikey);
		if (lsm_ikey_seq(ikey) <= it->seq) {
			if (type != LSM_TYPE_DELETE &&
			    lsm_user_compare(ukey, buf_slice(&it->skey)) < 0)
				break; /* past the run of the key we hold */
			type = lsm_ikey_type(ikey);
			if (type == LSM_TYPE_DELETE) {
				it->skey.len = 0;
				it->sval.len = 0;
			} else if (save(it, &it->skey, ukey) ||
				   save(it, &it->sval, lsm_it_value(it->in))) {
				return;
			} else {
				it->stype = type;
			}
		}
		lsm_it_prev(it->in);
	}
	if (lsm_it_status(it->in)) {
		/*
		 * An error stopped the walk inside a run: a newer version of
		 * the key we hold (or a deletion of it) may lie beyond the
		 * damage, so what we hold may be stale. The error ends the
		 * iteration; lsm_iter_status() reports it.
		 */
		it->valid = 0;
		it->skey.len = 0;
		it->sval.len = 0;
		return;
	}
	if (type == LSM_TYPE_DELETE) {
		it->valid = 0;
		it->skey.len = 0;
		it->sval.len = 0;
		it->dir = DIR_FORWARD;
	} else {
		it->valid = 1;
	}
}

lsm_iter *lsm_iter_new(lsm_db *db, const lsm_read_options *ropts)
{
	int fill_cache = ropts ? ropts->fill_cache : 1;
	lsm_it **children = NULL;
	int n = 0;
	lsm_iter *it = calloc(1, sizeof(*it));
	if (!it)
		return NULL;
	lsm_buf_init(&it->skey);
	lsm_buf_init(&it->sval);
	lsm_buf_init(&it->target);
	lsm_buf_init(&it->blob);
	it->db = db;

	pthread_mutex_lock(&db->mu);
	it->seq = ropts && ropts->snapshot ? ropts->snapshot->seq : lsm_db_last_seq(db);
	it->sv = lsm_db_sv_get(db);
	pthread_mutex_unlock(&db->mu);
	it->sample_rng = (uint64_t)(uintptr_t)it ^ it->seq;
	it->sample_left = next_sample(it);

	lsm_sv *sv = it->sv;
	lsm_version *v = sv->v;
	int max = 1 + sv->nimm + v->nfiles[0] + LSM_MAX_LEVELS;
	children = calloc((size_t)max, sizeof(*children));
	if (!children)
		goto fail;
	children[n++] = lsm_memtable_iter(sv->mem);
	for (int i = 0; i < sv->nimm; i++)
		children[n++] = lsm_memtable_iter(sv->imm[i]);
	for (int i = 0; i < v->nfiles[0]; i++)
		children[n++] = lsm_db_table_iter(db, v->files[0][i], fill_cache);
	for (int level = 1; level < LSM_MAX_LEVELS; level++)
		if (v->nfiles[level])
			children[n++] = lsm_db_level_iter(db, v, v->files[level], v->nfiles[level],
							  fill_cache);
	for (int i = 0; i < n; i++)
		if (!children[i])
			goto fail;
	it->in = lsm_it_merging(children, n);
	free(children);
	children = NULL;
	if (!it->in)
		goto fail;
	return it;
fail:
	for (int i = 0; children && i < n; i++)
		lsm_it_destroy(children[i]);
	free(children);
	lsm_iter_free(it);
	return NULL;
}

void lsm_iter_free(lsm_iter *it)
{
	if (!it)
		return;
	lsm_it_destroy(it->in);
	if (it->sv)
		lsm_db_sv_release(it->db, it->sv);
	lsm_buf_free(&it->skey);
	lsm_buf_free(&it->sval);
	lsm_buf_free(&it->target);
	lsm_buf_free(&it->blob);
	free(it);
}

static void reset(lsm_iter *it, int dir)
{
	it->dir = dir;
	it->status = 0;
	it->valid = 0;
	it->blob_ok = 0;
	it->skey.len = 0;
	it->sval.len = 0;
}

void lsm_iter_seek_first(lsm_iter *it)
{
	reset(it, DIR_FORWARD);
	lsm_it_seek_first(it->in);
	find_next_user_entry(it, 0);
}

void lsm_iter_seek_last(lsm_iter *it)
{
	reset(it, DIR_REVERSE);
	lsm_it_seek_last(it->in);
	find_prev_user_entry(it);
}

void lsm_iter_seek(lsm_iter *it, const void *key, size_t klen)
{
	reset(it, DIR_FORWARD);
	it->target.len = 0;
	if (lsm_buf_reserve(&it->target, klen + LSM_TRAILER)) {
		it->status = lsm_seterr(-ENOMEM, "iterator: out of memory");
		return;
	}
	/* (key, view seq) sorts before every version of key the view can see. */
	lsm_ikey_make(it->target.data, key, klen, it->seq, LSM_TYPE_FOR_SEEK);
	it->target.len = klen + LSM_TRAILER;
	lsm_it_seek(it->in, buf_slice(&it->target));
	find_next_user_entry(it, 0);
}

void lsm_iter_seek_for_prev(lsm_iter *it, const void *key, size_t klen)
{
	lsm_iter_seek(it, key, klen);
	if (lsm_iter_status(it))
		return;
	if (!it->valid) {
		lsm_iter_seek_last(it);
		return;
	}
	size_t cl;
	const void *ck = lsm_iter_key(it, &cl);
	if (lsm_user_compare(lsm_slice_of(ck, cl), lsm_slice_of(key, klen)) > 0)
		lsm_iter_prev(it);
}

void lsm_iter_next(lsm_iter *it)
{
	/* An iterator a failed value read stopped stays stopped: the usual loop
	 * (value, then next) then ends and finds the error in lsm_iter_status. */
	assert(it->valid || it->status);
	if (!it->valid)
		return;
	if (it->dir == DIR_REVERSE) {
		/* The inner iterator is just before the current key's run: step into it. */
		it->dir = DIR_FORWARD;
		if (!lsm_it_valid(it->in))
			lsm_it_seek_first(it->in);
		else
			lsm_it_next(it->in);
		/* skey already holds the current key, the one to skip past. */
	} else {
		if (save(it, &it->skey, lsm_ikey_user(lsm_it_key(it->in))))
			return;
		lsm_it_next(it->in);
	}
	find_next_user_entry(it, 1);
}

void lsm_iter_prev(lsm_iter *it)
{
	assert(it->valid || it->status); /* as lsm_iter_next */
	if (!it->valid)
		return;
	if (it->dir == DIR_FORWARD) {
		/* Back out of the current key's run to the previous key's last entry. */
		if (save(it, &it->skey, lsm_ikey_user(lsm_it_key(it->in))))
			return;
		for (;;) {
			lsm_it_prev(it->in);
			if (!lsm_it_valid(it->in)) {
				it->valid = 0;
				it->skey.len = 0;
				it->sval.len = 0;
				return;
			}
			if (lsm_user_compare(lsm_ikey_user(lsm_it_key(it->in)),
					     buf_slice(&it->skey)) < 0)
				break;
		}
		it->dir = DIR_REVERSE;
	}
	find_prev_user_entry(it);
}

int lsm_iter_valid(const lsm_iter *it)
{
	return it->valid;
}

const void *lsm_iter_key(const lsm_iter *it, size_t *klen)
{
	assert(it->valid);
	lsm_slice k =
		it->dir == DIR_FORWARD ? lsm_ikey_user(lsm_it_key(it->in)) : buf_slice(&it->skey);
	*klen = k.len;
	return k.data;
}

const void *lsm_iter_value(const lsm_iter *cit, size_t *vlen)
{
	/* Reading a separated value changes only the iterator's own buffers. */
	lsm_iter *it = (lsm_iter *)cit;
	assert(it->valid);
	int fwd = it->dir == DIR_FORWARD;
	lsm_slice v = fwd ? lsm_it_value(it->in) : buf_slice(&it->sval);
	int type = fwd ? lsm_ikey_type(lsm_it_key(it->in)) : it->stype;
	if (type == LSM_TYPE_BLOB) {
		if (!it->blob_ok) {
			int rc = lsm_blob_read_ahead(it->db->blob_files, v, &it->blob, &it->ahead);
			if (rc) {
				/* The value cannot be served: the iteration ends with the error. */
				it->status = rc;
				it->valid = 0;
				*vlen = 0;
				return NULL;
			}
			it->blob_ok = 1;
		}
		v = buf_slice(&it->blob);
	}
	*vlen = v.len;
	return v.data;
}

int lsm_iter_status(const lsm_iter *it)
{
	if (it->status)
		return it->status;
	return lsm_it_status(it->in);
}
