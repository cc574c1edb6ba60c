/*
 * db_get.c — point reads: lsm_get, lsm_get_into and lsm_get_part. A key is
 * looked for in the memtable, the immutable memtables, then the tables of
 * the current version, newest data first; a separated value (blob.c) is
 * then read from its value file, whole or (lsm_get_part) in part.
 */
#include "db_impl.h"

#include "error.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/*
 * Looks the seek key up in one table. Returns 1 (found, *type set, value in
 * buf), 0 (absent) or a negative error.
 */
static int table_lookup(lsm_db *db, const lsm_file_meta *f, lsm_slice ikey, int fill_cache,
			int *type, lsm_buf *buf, int *skipped)
{
	lsm_table *t;
	*skipped = 0;
	int rc = lsm_tcache_get(db->tcache, f->number, f->size, &t);
	if (rc)
		return rc;
	rc = lsm_table_get(t, ikey, fill_cache, type, buf, skipped);
	if (*skipped)
		lsm_db_count(&db->c.bloom_useful, 1);
	lsm_table_unref(t);
	return rc;
}

void lsm_db_charge_seek(lsm_db *db, lsm_file_meta *f, int level)
{
	if (__atomic_sub_fetch(&f->allowed_seeks, 1, __ATOMIC_RELAXED) != 0)
		return;
	pthread_mutex_lock(&db->mu);
	if (!db->seek_file) {
		db->seek_file = f->number;
		db->seek_level = level;
		lsm_db_bg_schedule(db);
	}
	pthread_mutex_unlock(&db->mu);
}

static int in_file_range(const lsm_file_meta *f, lsm_slice ukey)
{
	lsm_slice lo = lsm_ikey_user(lsm_slice_of(f->smallest.data, f->smallest.len));
	lsm_slice hi = lsm_ikey_user(lsm_slice_of(f->largest.data, f->largest.len));
	return lsm_user_compare(ukey, lo) >= 0 && lsm_user_compare(ukey, hi) <= 0;
}

/*
 * Searches the tables of v, newest data first. Same returns as table_lookup.
 * A table read in vain (its bloom filter let the key through) before the
 * search went on to another is charged a seek (lsm_db_charge_seek).
 */
static int version_get(lsm_db *db, lsm_version *v, lsm_slice ukey, lsm_slice ikey, int fill_cache,
		       int *type, lsm_buf *buf)
{
	int rc = 0, skipped, missed_level = 0, charged = 0;
	lsm_file_meta *missed = NULL;
	for (int level = 0; level < LSM_MAX_LEVELS && !rc; level++) {
		int n = v->nfiles[level];
		for (int k = 0; k < n && !rc; k++) {
			int i = k;
			if (level > 0) { /* one candidate per deeper level */
				i = lsm_version_find_file(v, level, ikey);
				k = n;
				if (i >= n)
					continue;
			}
			lsm_file_meta *f = v->files[level][i];
			if (!in_file_range(f, ukey))
				continue;
			if (missed && !charged) {
				lsm_db_charge_seek(db, missed, missed_level);
				charged = 1;
			}
			rc = table_lookup(db, f, ikey, fill_cache, type, buf, &skipped);
			if (rc == 0 && !skipped && !missed) {
				missed = f;
				missed_level = level;
			}
		}
	}
	return rc;
}

static int check_key(size_t klen)
{
	if (klen > LSM_MAX_KEY)
		return lsm_seterr(-EINVAL, "key of %zu bytes is over the %u-byte limit", klen,
				  LSM_MAX_KEY);
	return 0;
}

/* What lookup found. */
typedef struct found_value {
	lsm_sv *sv;  /* held until done_value: v may point into its memtables */
	lsm_buf buf; /* a value or reference read from a table */
	lsm_slice v; /* the value, or the encoded reference when blob */
	int blob;
} found_value;

static void done_value(lsm_db *db, found_value *fv)
{
	lsm_buf_free(&fv->buf);
	if (fv->sv)
		lsm_db_sv_release(db, fv->sv);
}

/*
 * Looks key up: 0 (found: fv->v, a separated value's reference when
 * fv->blob), LSM_NOTFOUND, or a negative error. done_value after, always.
 */
static int lookup(lsm_db *db, const lsm_read_options *ropts, const void *key, size_t klen,
		  found_value *fv)
{
	uint8_t small[256];
	uint8_t *ikbuf = small;
	lsm_slice ukey = lsm_slice_of(key, klen);
	int type = LSM_TYPE_DELETE, found = 0;
	int fill_cache = ropts ? ropts->fill_cache : 1;
	int rc;

	memset(fv, 0, sizeof(*fv));
	lsm_buf_init(&fv->buf);
	if (!db)
		return lsm_seterr(-EINVAL, "lsm_get: NULL db");
	rc = check_key(klen);
	if (rc)
		return rc;
	lsm_db_count(&db->c.gets, 1);

	pthread_mutex_lock(&db->mu);
	uint64_t seq = ropts && ropts->snapshot ? ropts->snapshot->seq : lsm_db_last_seq(db);
	lsm_sv *sv = fv->sv = lsm_db_sv_get(db);
	pthread_mutex_unlock(&db->mu);

	found = lsm_memtable_get(sv->mem, ukey, seq, &type, &fv->v);
	for (int i = 0; i < sv->nimm && !found; i++)
		found = lsm_memtable_get(sv->imm[i], ukey, seq, &type, &fv->v);
	if (!found) {
		if (klen + LSM_TRAILER > sizeof(small)) {
			ikbuf = malloc(klen + LSM_TRAILER);
			if (!ikbuf)
				return lsm_seterr(-ENOMEM, "lsm_get: out of memory");
		}
		lsm_ikey_make(ikbuf, key, klen, seq, LSM_TYPE_FOR_SEEK);
		rc = version_get(db, sv->v, ukey, lsm_slice_of(ikbuf, klen + LSM_TRAILER),
				 fill_cache, &type, &fv->buf);
		if (ikbuf != small)
			free(ikbuf);
		if (rc < 0)
			return rc;
		found = rc;
		fv->v = lsm_slice_of(fv->buf.data, fv->buf.len);
	}
	if (!found || type == LSM_TYPE_DELETE)
		return LSM_NOTFOUND;
	fv->blob = type == LSM_TYPE_BLOB;
	return 0;
}

int lsm_get(lsm_db *db, const lsm_read_options *ropts, const void *key, size_t klen, void **val,
	    size_t *vlen)
{
	found_value fv;
	lsm_buf out;
	int rc;

	*val = NULL;
	*vlen = 0;
	lsm_buf_init(&out);
	rc = lookup(db, ropts, key, klen, &fv);
	if (rc)
		goto out;
	if (fv.blob) {
		rc = lsm_blob_read_encoded(db->blob_files, fv.v, &out);
	} else if (fv.v.data == fv.buf.data) {
		out = fv.buf; /* read from a table: hand that buffer on, no copy */
		lsm_buf_init(&fv.buf);
	} else {
		rc = lsm_buf_append(&out, fv.v.data, fv.v.len);
		if (rc)
			rc = lsm_seterr(rc, "lsm_get: out of memory for a %zu-byte value",
					fv.v.len);
	}
	if (!rc)
		rc = lsm_buf_reserve(&out, 1); /* room for the NUL after the value */
	if (rc)
		goto out;
	out.data[out.len] = 0;
	*val = out.data;
	*vlen = out.len;
	lsm_buf_init(&out);
out:
	lsm_buf_free(&out);
	done_value(db, &fv);
	return rc;
}

/*
 * Copies bytes [from, from + n) of the value lookup found (fewer at its
 * end) into buf: *vlen is its length, *got what was copied. whole: the
 * value must fit in n (else -ERANGE, with *vlen set) and from is 0; a
 * separated value is then read with its checksum checked unless check is
 * 0. A part of a separated value is the caller's to check; a value in a
 * table or memtable was checked with its block.
 */
static int copy_found(lsm_db *db, const found_value *fv, uint64_t from, void *buf, size_t n,
		      int whole, int check, size_t *got, size_t *vlen)
{
	lsm_blob_ref ref;
	uint64_t len = fv->v.len;
	size_t take;
	int rc = 0;

	*got = 0;
	if (fv->blob) {
		rc = lsm_blob_ref_decode(fv->v, &ref);
		if (rc)
			return rc;
		len = ref.len;
	}
	*vlen = (size_t)len;
	if (whole && len > n)
		return -ERANGE;
	if (from >= len)
		return 0;
	take = len - from < n ? (size_t)(len - from) : n;
	if (!fv->blob)
		memcpy(buf, fv->v.data + from, take);
	else if (whole)
		rc = lsm_blob_read_into(db->blob_files, &ref, buf, check);
	else
		rc = lsm_blob_read_part(db->blob_files, &ref, from, take, buf);
	if (!rc)
		*got = take;
	return rc;
}

int lsm_get_into(lsm_db *db, const lsm_read_options *ropts, const void *key, size_t klen, void *buf,
		 size_t cap, size_t *vlen)
{
	found_value fv;
	size_t got;
	int rc;

	*vlen = 0;
	rc = lookup(db, ropts, key, klen, &fv);
	if (!rc)
		rc = copy_found(db, &fv, 0, buf, cap, 1, !(ropts && ropts->caller_checks_values),
				&got, vlen);
	done_value(db, &fv);
	return rc;
}

int lsm_get_part(lsm_db *db, const lsm_read_options *ropts, const void *key, size_t klen,
		 uint64_t from, void *buf, size_t n, size_t *got, size_t *vlen)
{
	found_value fv;
	int rc;

	*got = 0;
	*vlen = 0;
	rc = lookup(db, ropts, key, klen, &fv);
	if (!rc)
		rc = copy_found(db, &fv, from, buf, n, 0, 0, got, vlen);
	done_value(db, &fv);
	return rc;
}
