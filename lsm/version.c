/*
 * version.c — versions (the table files of each level), version edits, and
 * the MANIFEST that logs every edit so the file set survives a restart.
 *
 * MANIFEST-NNNNNN is a file in the WAL format (wal.c draws its records).
 * Each record's payload is one encoded version edit. The first record of
 * every MANIFEST is a snapshot: an edit that adds every live file to an
 * empty version and sets every counter, so a MANIFEST never depends on an
 * older one. Replaying all records in order rebuilds the current version.
 *
 * An encoded edit is a sequence of tagged fields closed by an end tag:
 *
 *   edit  := field* [varint 0]          nothing may follow the end tag
 *   field := [varint tag][payload]
 *
 *   tag  field          payload
 *   ---  -------------  -------------------------------------------------
 *    1   FORMAT         [varint format version]   first in every edit: 1, or 2
 *    2   LOG_NUMBER     [varint n]   WALs numbered below n are not needed
 *    3   NEXT_FILE      [varint n]   no file numbered n or above exists yet
 *    4   LAST_SEQ       [varint s]   last sequence number made visible
 *    5   DELETED_FILE   [varint level][varint file number]
 *    6   NEW_FILE       [varint level][varint file number][varint file size]
 *                       [varint smallest_seq][varint largest_seq]
 *                       [varint n][n bytes: smallest internal key]
 *                       [varint m][m bytes: largest internal key]
 *    7   BLOB_USE       [varint table number][varint n]
 *                       n x ([varint value file number][varint value bytes])
 *                       the value files the table's blob references point
 *                       into (blob.c), files rising; right after the
 *                       NEW_FILE of that table; only in FORMAT 2 edits
 *    0   END            (no payload)
 *
 * Scalar fields (1-4) appear at most once. The end tag makes every strict
 * prefix of an edit invalid, so a truncation is caught even where the WAL
 * checksum cannot help (a bug writing a short record). A FORMAT newer than
 * ours means a newer build wrote the MANIFEST: -LSM_EVERSION, not corruption.
 *
 * Example, the snapshot a brand-new database writes (9 bytes):
 *
 *   01 01   02 00   03 02   04 00   00
 *   FORMAT  LOG 0   NEXT 2  SEQ 0   END
 *
 * CURRENT holds the name of the live MANIFEST and a newline, nothing else:
 *
 *   "MANIFEST-000001\n"
 *
 * and is only ever replaced whole (lsm_env_write_atomic), after the MANIFEST
 * it names holds a synced snapshot.
 */
#include "version.h"

#include "coding.h"
#include "error.h"
#include "wal.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The newest edit format we read. An edit is written in the lowest format
 * that can hold it: 1, or 2 when it has a BLOB_USE field, so a database that
 * never separates a value stays readable by builds that know only 1.
 */
#define MANIFEST_FORMAT 2

/*
 * A MANIFEST grows by one record per flush or compaction; past this size the
 * next edit starts a fresh one holding only a snapshot, so recovery replays a
 * bounded amount and the old file can be deleted.
 */
#define MANIFEST_ROLL_BYTES (UINT64_C(4) << 20)

/*
 * Every edit logs NEXT_FILE this far past the numbers handed out so far, so
 * the db can create that many files (a WAL, a flush's table, compaction
 * outputs) before it must log an edit just to cover the next number: a file
 * is only ever created under a logged NEXT_FILE (see lsm_vset_log_and_apply).
 */
#define FILE_NUMBER_SLACK 64

enum edit_tag {
	TAG_END = 0,
	TAG_FORMAT = 1,
	TAG_LOG_NUMBER = 2,
	TAG_NEXT_FILE = 3,
	TAG_LAST_SEQ = 4,
	TAG_DELETED_FILE = 5,
	TAG_NEW_FILE = 6,
	TAG_BLOB_USE = 7,
};

/* ---- file metadata ---- */

static lsm_file_meta *meta_new(void)
{
	lsm_file_meta *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->refs = 1;
	lsm_buf_init(&m->smallest);
	lsm_buf_init(&m->largest);
	return m;
}

static void meta_ref(lsm_file_meta *m)
{
	int old = __atomic_fetch_add(&m->refs, 1, __ATOMIC_RELAXED);
	assert(old > 0);
	(void)old;
}

static void meta_unref(lsm_file_meta *m)
{
	int old = __atomic_fetch_sub(&m->refs, 1, __ATOMIC_ACQ_REL);
	assert(old > 0);
	if (old != 1)
		return;
	lsm_buf_free(&m->smallest);
	lsm_buf_free(&m->largest);
	free(m->blobs);
	free(m);
}

static lsm_slice meta_smallest(const lsm_file_meta *m)
{
	return lsm_slice_of(m->smallest.data, m->smallest.len);
}

static lsm_slice meta_largest(const lsm_file_meta *m)
{
	return lsm_slice_of(m->largest.data, m->largest.len);
}

/* ---- versions ---- */

static lsm_version *version_new(void)
{
	lsm_version *v = calloc(1, sizeof(*v));
	if (v)
		v->refs = 1;
	return v;
}

void lsm_version_ref(lsm_version *v)
{
	int old = __atomic_fetch_add(&v->refs, 1, __ATOMIC_RELAXED);
	assert(old > 0);
	(void)old;
}

void lsm_version_unref(lsm_version *v)
{
	if (!v)
		return;
	int old = __atomic_fetch_sub(&v->refs, 1, __ATOMIC_ACQ_REL);
	assert(old > 0);
	if (old != 1)
		return;
	for (int level = 0; level < LSM_MAX_LEVELS; level++) {
		for (int i = 0; i < v->nfiles[level]; i++)
			meta_unref(v->files[level][i]);
		free(v->files[level]);
	}
	free(v);
}

uint64_t lsm_version_level_bytes(const lsm_version *v, int level)
{
	assert(level >= 0 && level < LSM_MAX_LEVELS);
	uint64_t sum = 0;
	for (int i = 0; i < v->nfiles[level]; i++)
		sum += v->files[level][i]->size;
	return sum;
}

/* True if user key k sorts after every key of f (so f cannot hold k or anything above). */
static int key_after_file(const lsm_slice *k, const lsm_file_meta *f)
{
	return k && lsm_user_compare(*k, lsm_ikey_user(meta_largest(f))) > 0;
}

static int key_before_file(const lsm_slice *k, const lsm_file_meta *f)
{
	return k && lsm_user_compare(*k, lsm_ikey_user(meta_smallest(f))) < 0;
}

/*
 * Level 0 files overlap each other and are ordered by age, not key, so every
 * file is tested; [*first, *last] then spans all the overlapping ones (files
 * in between that do not overlap are possible) and the count is exact.
 * Levels >= 1 are sorted and disjoint: two binary searches give the run.
 */
int lsm_version_overlapping(const lsm_version *v, int level, const lsm_slice *begin,
			    const lsm_slice *end, int *first, int *last)
{
	assert(level >= 0 && level < LSM_MAX_LEVELS);
	lsm_file_meta *const *files = v->files[level];
	int n = v->nfiles[level];

	if (level == 0) {
		int count = 0;
		*first = 0;
		*last = -1;
		for (int i = 0; i < n; i++) {
			if (key_after_file(begin, files[i]) || key_before_file(end, files[i]))
				continue;
			if (!count)
				*first = i;
			*last = i;
			count++;
		}
		return count;
	}

	/* lo: first file whose largest user key >= begin. */
	int lo = 0, hi = n;
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		if (key_after_file(begin, files[mid]))
			lo = mid + 1;
		else
			hi = mid;
	}
	int start = lo;
	/* hi: first file whose smallest user key > end. */
	lo = 0;
	hi = n;
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		if (key_before_file(end, files[mid]))
			hi = mid;
		else
			lo = mid + 1;
	}
	int stop = lo;
	*first = start;
	if (stop <= start) {
		*last = start - 1;
		return 0;
	}
	*last = stop - 1;
	return stop - start;
}

static int holds_user_key(const lsm_file_meta *f, lsm_slice ukey)
{
	return lsm_user_compare(ukey, lsm_ikey_user(meta_smallest(f))) >= 0 &&
	       lsm_user_compare(ukey, lsm_ikey_user(meta_largest(f))) <= 0;
}

lsm_file_meta *lsm_version_first_of_several(const lsm_version *v, lsm_slice ukey, int *level)
{
	lsm_file_meta *first = NULL;
	int n = 0;
	for (int i = 0; i < v->nfiles[0]; i++) {
		if (!holds_user_key(v->files[0][i], ukey))
			continue;
		if (!n++) {
			first = v->files[0][i];
			*level = 0;
		}
		if (n >= 2)
			return first;
	}
	for (int l = 1; l < LSM_MAX_LEVELS; l++) {
		int lo = 0, hi = v->nfiles[l];
		while (lo < hi) { /* first file whose largest user key >= ukey */
			int mid = lo + (hi - lo) / 2;
			if (lsm_user_compare(lsm_ikey_user(meta_largest(v->files[l][mid])), ukey) <
			    0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo >= v->nfiles[l] || !holds_user_key(v->files[l][lo], ukey))
			continue;
		if (!n++) {
			first = v->files[l][lo];
			*level = l;
		}
		if (n >= 2)
			return first;
	}
	return NULL;
}

int lsm_version_find_file(const lsm_version *v, int level, lsm_slice ikey)
{
	assert(level >= 1 && level < LSM_MAX_LEVELS);
	int lo = 0, hi = v->nfiles[level];
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		if (lsm_ikey_compare(meta_largest(v->files[level][mid]), ikey) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* ---- compaction score ---- */

/*
 * L0 is scored by file count, not bytes: every L0 file is searched by every
 * read, so the count is what costs. Deeper levels are scored by bytes
 * against a target that grows geometrically. The last level has nowhere to
 * compact to, so it is never picked.
 */
static void version_score(lsm_version *v, const lsm_options *opts)
{
	int trigger = opts && opts->l0_compaction_trigger > 0 ? opts->l0_compaction_trigger : 4;
	double target = opts && opts->level_base_bytes ? (double)opts->level_base_bytes
						       : (double)(UINT64_C(64) << 20);
	double mult = opts && opts->level_multiplier > 0 ? opts->level_multiplier : 10;

	v->compaction_level = 0;
	v->compaction_score = (double)v->nfiles[0] / trigger;
	for (int level = 1; level < LSM_MAX_LEVELS - 1; level++) {
		double score = (double)lsm_version_level_bytes(v, level) / target;
		if (score > v->compaction_score) {
			v->compaction_score = score;
			v->compaction_level = level;
		}
		target *= mult;
	}
}

/* ---- edits ---- */

void lsm_edit_init(lsm_version_edit *e)
{
	memset(e, 0, sizeof(*e));
}

void lsm_edit_free(lsm_version_edit *e)
{
	for (int i = 0; i < e->nadded; i++)
		meta_unref(e->added[i].meta);
	free(e->added);
	free(e->deleted);
	lsm_edit_init(e);
}

/* Takes over the caller's reference on meta, or drops it on failure. */
static int edit_push_added(lsm_version_edit *e, int level, lsm_file_meta *meta)
{
	if (e->nadded == e->cap_added) {
		int cap = e->cap_added ? 2 * e->cap_added : 8;
		lsm_new_file *p = realloc(e->added, (size_t)cap * sizeof(*p));
		if (!p) {
			meta_unref(meta);
			return lsm_seterr(-ENOMEM, "version edit: out of memory");
		}
		e->added = p;
		e->cap_added = cap;
	}
	e->added[e->nadded].level = level;
	e->added[e->nadded].meta = meta;
	e->nadded++;
	return 0;
}

int lsm_edit_add_file(lsm_version_edit *e, int level, uint64_t number, uint64_t size,
		      lsm_slice smallest, lsm_slice largest, uint64_t smallest_seq,
		      uint64_t largest_seq)
{
	if (level < 0 || level >= LSM_MAX_LEVELS || smallest.len < LSM_TRAILER ||
	    largest.len < LSM_TRAILER)
		return lsm_seterr(-EINVAL, "version edit: bad new file %llu at level %d",
				  (unsigned long long)number, level);
	assert(lsm_ikey_compare(smallest, largest) <= 0);
	assert(smallest_seq <= largest_seq);
	lsm_file_meta *m = meta_new();
	if (!m || lsm_buf_append(&m->smallest, smallest.data, smallest.len) ||
	    lsm_buf_append(&m->largest, largest.data, largest.len)) {
		if (m)
			meta_unref(m);
		return lsm_seterr(-ENOMEM, "version edit: out of memory");
	}
	m->number = number;
	m->size = size;
	m->allowed_seeks = lsm_file_allowed_seeks(size);
	m->smallest_seq = smallest_seq;
	m->largest_seq = largest_seq;
	return edit_push_added(e, level, m);
}

int lsm_edit_delete_file(lsm_version_edit *e, int level, uint64_t number)
{
	if (level < 0 || level >= LSM_MAX_LEVELS)
		return lsm_seterr(-EINVAL, "version edit: bad level %d", level);
	if (e->ndeleted == e->cap_deleted) {
		int cap = e->cap_deleted ? 2 * e->cap_deleted : 8;
		lsm_deleted_file *p = realloc(e->deleted, (size_t)cap * sizeof(*p));
		if (!p)
			return lsm_seterr(-ENOMEM, "version edit: out of memory");
		e->deleted = p;
		e->cap_deleted = cap;
	}
	e->deleted[e->ndeleted].level = level;
	e->deleted[e->ndeleted].number = number;
	e->ndeleted++;
	return 0;
}

static int cmp_use(const void *a, const void *b)
{
	uint64_t x = ((const lsm_blob_use *)a)->file, y = ((const lsm_blob_use *)b)->file;
	return x < y ? -1 : x > y;
}

int lsm_edit_set_blobs(lsm_version_edit *e, const lsm_blob_use *uses, int n)
{
	assert(e->nadded > 0);
	lsm_file_meta *m = e->added[e->nadded - 1].meta;
	free(m->blobs);
	m->blobs = NULL;
	m->nblobs = 0;
	if (n <= 0)
		return 0;
	m->blobs = malloc((size_t)n * sizeof(*m->blobs));
	if (!m->blobs)
		return lsm_seterr(-ENOMEM, "version edit: out of memory");
	memcpy(m->blobs, uses, (size_t)n * sizeof(*m->blobs));
	qsort(m->blobs, (size_t)n, sizeof(*m->blobs), cmp_use);
	m->nblobs = n;
	return 0;
}

static int put_field(lsm_buf *out, int tag, uint64_t v)
{
	int rc = lsm_buf_append_varint(out, (uint64_t)tag);
	return rc ? rc : lsm_buf_append_varint(out, v);
}

static int put_new_file(lsm_buf *out, int level, const lsm_file_meta *m)
{
	int rc = put_field(out, TAG_NEW_FILE, (uint64_t)level);
	if (!rc)
		rc = lsm_buf_append_varint(out, m->number);
	if (!rc)
		rc = lsm_buf_append_varint(out, m->size);
	if (!rc)
		rc = lsm_buf_append_varint(out, m->smallest_seq);
	if (!rc)
		rc = lsm_buf_append_varint(out, m->largest_seq);
	if (!rc)
		rc = lsm_buf_append_lenprefixed(out, m->smallest.data, m->smallest.len);
	if (!rc)
		rc = lsm_buf_append_lenprefixed(out, m->largest.data, m->largest.len);
	if (!rc && m->nblobs) {
		rc = put_field(out, TAG_BLOB_USE, m->number);
		if (!rc)
			rc = lsm_buf_append_varint(out, (uint64_t)m->nblobs);
		for (int i = 0; !rc && i < m->nblobs; i++) {
			rc = lsm_buf_append_varint(out, m->blobs[i].file);
			if (!rc)
				rc = lsm_buf_append_varint(out, m->blobs[i].bytes);
		}
	}
	return rc;
}

/* Appends the encoding of e to out; on failure out is left as it was. */
int lsm_edit_encode(const lsm_version_edit *e, lsm_buf *out)
{
	size_t start = out->len;
	int format = 1;
	for (int i = 0; i < e->nadded; i++)
		if (e->added[i].meta->nblobs)
			format = 2;
	int rc = put_field(out, TAG_FORMAT, (uint64_t)format);
	if (!rc && e->has_log_number)
		rc = put_field(out, TAG_LOG_NUMBER, e->log_number);
	if (!rc && e->has_next_file)
		rc = put_field(out, TAG_NEXT_FILE, e->next_file);
	if (!rc && e->has_last_seq)
		rc = put_field(out, TAG_LAST_SEQ, e->last_seq);
	for (int i = 0; !rc && i < e->ndeleted; i++) {
		rc = put_field(out, TAG_DELETED_FILE, (uint64_t)e->deleted[i].level);
		if (!rc)
			rc = lsm_buf_append_varint(out, e->deleted[i].number);
	}
	for (int i = 0; !rc && i < e->nadded; i++)
		rc = put_new_file(out, e->added[i].level, e->added[i].meta);
	if (!rc)
		rc = lsm_buf_append_varint(out, TAG_END);
	if (rc) {
		out->len = start;
		return lsm_seterr(rc, "encoding version edit: out of memory");
	}
	return 0;
}

/* Where decoding stands, so every complaint can say file, record and byte. */
typedef struct edit_cursor {
	const uint8_t *p, *start, *limit;
	const char *file; /* NULL: a bare edit with no file around it */
	uint64_t off;	  /* offset of the record in file */
} edit_cursor;

static int cursor_bad(const edit_cursor *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int cursor_bad(const edit_cursor *c, const char *fmt, ...)
{
	char what[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return LSM_CORRUPT(c->file ? c->file : "version edit", c->off, "version edit byte %zu: %s",
			   (size_t)(c->p - c->start), what);
}

static int cursor_varint(edit_cursor *c, uint64_t *v, const char *what)
{
	const uint8_t *q = lsm_get_varint64(c->p, c->limit, v);
	if (!q)
		return cursor_bad(c, "%s truncated or not a valid varint", what);
	c->p = q;
	return 0;
}

static int cursor_level(edit_cursor *c, int *level)
{
	uint64_t v;
	int rc = cursor_varint(c, &v, "level");
	if (rc)
		return rc;
	if (v >= LSM_MAX_LEVELS)
		return cursor_bad(c, "level %llu, expected below %d", (unsigned long long)v,
				  LSM_MAX_LEVELS);
	*level = (int)v;
	return 0;
}

static int cursor_ikey(edit_cursor *c, lsm_buf *out, const char *what)
{
	uint64_t len;
	int rc = cursor_varint(c, &len, what);
	if (rc)
		return rc;
	if (len < LSM_TRAILER || len > LSM_MAX_KEY + LSM_TRAILER)
		return cursor_bad(c, "%s of %llu bytes is not an internal key", what,
				  (unsigned long long)len);
	if (len > (uint64_t)(c->limit - c->p))
		return cursor_bad(c, "%s of %llu bytes runs past the end", what,
				  (unsigned long long)len);
	if (lsm_buf_append(out, c->p, (size_t)len))
		return lsm_seterr(-ENOMEM, "decoding version edit: out of memory");
	c->p += len;
	return 0;
}

static int decode_new_file(edit_cursor *c, lsm_version_edit *e)
{
	int level = 0; /* set by cursor_level; gcc -O2 cannot see it */
	lsm_file_meta *m = meta_new();
	if (!m)
		return lsm_seterr(-ENOMEM, "decoding version edit: out of memory");
	int rc = cursor_level(c, &level);
	if (!rc)
		rc = cursor_varint(c, &m->number, "file number");
	if (!rc)
		rc = cursor_varint(c, &m->size, "file size");
	if (!rc)
		rc = cursor_varint(c, &m->smallest_seq, "smallest sequence");
	if (!rc)
		rc = cursor_varint(c, &m->largest_seq, "largest sequence");
	if (!rc && (m->smallest_seq > m->largest_seq || m->largest_seq > LSM_MAX_SEQ))
		rc = cursor_bad(c, "file %llu has sequence range %llu..%llu",
				(unsigned long long)m->number, (unsigned long long)m->smallest_seq,
				(unsigned long long)m->largest_seq);
	if (!rc)
		rc = cursor_ikey(c, &m->smallest, "smallest key");
	if (!rc)
		rc = cursor_ikey(c, &m->largest, "largest key");
	if (!rc && lsm_ikey_compare(meta_smallest(m), meta_largest(m)) > 0)
		rc = cursor_bad(c, "file %llu has smallest key above largest",
				(unsigned long long)m->number);
	m->allowed_seeks = lsm_file_allowed_seeks(m->size);
	if (rc) {
		meta_unref(m);
		return rc;
	}
	return edit_push_added(e, level, m);
}

/* BLOB_USE: belongs to the table the edit added last, which it must name. */
static int decode_blob_use(edit_cursor *c, lsm_version_edit *e, uint64_t format)
{
	uint64_t number, n, file, bytes, prev = 0;
	lsm_blob_uses u;
	lsm_blob_uses_init(&u);
	int rc = cursor_varint(c, &number, "table number");
	if (!rc && format < 2)
		rc = cursor_bad(c, "blob uses in an edit of format %llu",
				(unsigned long long)format);
	if (!rc && (!e->nadded || e->added[e->nadded - 1].meta->number != number ||
		    e->added[e->nadded - 1].meta->nblobs))
		rc = cursor_bad(c, "blob uses of table %llu do not follow its new-file field",
				(unsigned long long)number);
	if (!rc)
		rc = cursor_varint(c, &n, "blob use count");
	if (!rc && (n == 0 || n > (uint64_t)(c->limit - c->p) / 2))
		rc = cursor_bad(c, "%llu blob uses cannot fit", (unsigned long long)n);
	for (uint64_t i = 0; !rc && i < n; i++) {
		rc = cursor_varint(c, &file, "value file number");
		if (!rc)
			rc = cursor_varint(c, &bytes, "value bytes");
		if (!rc && i && file <= prev)
			rc = cursor_bad(c, "value files out of order");
		if (!rc && lsm_blob_uses_add(&u, file, bytes))
			rc = lsm_seterr(-ENOMEM, "decoding version edit: out of memory");
		prev = file;
	}
	if (!rc)
		rc = lsm_edit_set_blobs(e, u.v, u.n);
	lsm_blob_uses_free(&u);
	return rc;
}

/*
 * Decodes in into e (which it initialises). *format gets the FORMAT field,
 * or 0 if the edit has none. On error e is left empty.
 */
static int edit_decode(lsm_version_edit *e, lsm_slice in, const char *file, uint64_t off,
		       uint64_t *format)
{
	edit_cursor c = {in.data, in.data, in.data + in.len, file, off};
	int rc = 0, ended = 0;
	uint64_t tag, v;

	lsm_edit_init(e);
	*format = 0;
	while (!rc && c.p < c.limit && !ended) {
		const uint8_t *field = c.p;
		rc = cursor_varint(&c, &tag, "field tag");
		if (rc)
			break;
		switch (tag) {
		case TAG_END:
			ended = 1;
			break;
		case TAG_FORMAT:
			rc = cursor_varint(&c, &v, "format version");
			if (rc)
				break;
			if (*format || !v) {
				c.p = field;
				rc = cursor_bad(&c, "repeated or zero format version");
			} else if (v > MANIFEST_FORMAT) {
				rc = lsm_seterr(-LSM_EVERSION,
						"%s: MANIFEST format version %llu, this build "
						"reads up to %d",
						file ? file : "version edit", (unsigned long long)v,
						MANIFEST_FORMAT);
			}
			*format = v;
			break;
		case TAG_LOG_NUMBER:
		case TAG_NEXT_FILE:
		case TAG_LAST_SEQ: {
			int *has = tag == TAG_LOG_NUMBER  ? &e->has_log_number
				   : tag == TAG_NEXT_FILE ? &e->has_next_file
							  : &e->has_last_seq;
			uint64_t *dst = tag == TAG_LOG_NUMBER  ? &e->log_number
					: tag == TAG_NEXT_FILE ? &e->next_file
							       : &e->last_seq;
			rc = cursor_varint(&c, dst, "counter");
			if (rc)
				break;
			if (*has) {
				c.p = field;
				rc = cursor_bad(&c, "field %llu repeated", (unsigned long long)tag);
			}
			*has = 1;
			break;
		}
		case TAG_DELETED_FILE: {
			int level = 0;
			rc = cursor_level(&c, &level);
			if (!rc)
				rc = cursor_varint(&c, &v, "deleted file number");
			if (!rc)
				rc = lsm_edit_delete_file(e, level, v);
			break;
		}
		case TAG_NEW_FILE:
			rc = decode_new_file(&c, e);
			break;
		case TAG_BLOB_USE:
			rc = decode_blob_use(&c, e, *format);
			break;
		default:
			c.p = field;
			rc = cursor_bad(&c, "unknown field tag %llu", (unsigned long long)tag);
			break;
		}
	}
	if (!rc && !ended)
		rc = cursor_bad(&c, "edit ends without its end tag (truncated)");
	if (!rc && c.p != c.limit)
		rc = cursor_bad(&c, "%zu bytes after the end tag", (size_t)(c.limit - c.p));
	if (rc)
		lsm_edit_free(e);
	return rc;
}

/*
 * e need not be initialised; on success the caller frees it with
 * lsm_edit_free(), on failure it is left empty.
 */
int lsm_edit_decode(lsm_version_edit *e, lsm_slice in)
{
	uint64_t format;
	return edit_decode(e, in, NULL, 0, &format);
}

/* ---- building a version from base + edit ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int cmp_deleted(const void *a, const void *b)
{
	const lsm_deleted_file *x = a, *y = b;
	if (x->level != y->level)
		return x->level < y->level ? -1 : 1;
	return cmp_u64(&x->number, &y->number);
}

/* Level 0: newest (highest number) first, the order reads must search it in. */
static int cmp_newest_first(const void *a, const void *b)
{
	const lsm_file_meta *x = *(lsm_file_meta *const *)a, *y = *(lsm_file_meta *const *)b;
	return cmp_u64(&y->number, &x->number);
}

static int cmp_smallest(const void *a, const void *b)
{
	const lsm_file_meta *x = *(lsm_file_meta *const *)a, *y = *(lsm_file_meta *const *)b;
	int c = lsm_ikey_compare(meta_smallest(x), meta_smallest(y));
	return c ? c : cmp_u64(&x->number, &y->number);
}

/* Debug check of what every installed version promises its readers. */
static void version_check(const lsm_version *v)
{
#ifndef NDEBUG
	for (int level = 0; level < LSM_MAX_LEVELS; level++) {
		for (int i = 1; i < v->nfiles[level]; i++) {
			const lsm_file_meta *a = v->files[level][i - 1], *b = v->files[level][i];
			if (level == 0)
				assert(a->number > b->number);
			else
				assert(lsm_ikey_compare(meta_largest(a), meta_smallest(b)) < 0);
		}
	}
#else
	(void)v;
#endif
}

typedef struct apply_ctx {
	const char *file; /* names the source in messages */
	uint64_t off;
	lsm_deleted_file *dels; /* sorted by (level, number) */
	uint64_t *adds;		/* added file numbers, sorted */
	int ndels, nadds;
} apply_ctx;

static int apply_sort_inputs(apply_ctx *a, const lsm_version_edit *e)
{
	a->ndels = e->ndeleted;
	a->nadds = e->nadded;
	a->dels = malloc((size_t)(a->ndels + 1) * sizeof(*a->dels));
	a->adds = malloc((size_t)(a->nadds + 1) * sizeof(*a->adds));
	if (!a->dels || !a->adds)
		return lsm_seterr(-ENOMEM, "applying version edit: out of memory");
	if (a->ndels)
		memcpy(a->dels, e->deleted, (size_t)a->ndels * sizeof(*a->dels));
	qsort(a->dels, (size_t)a->ndels, sizeof(*a->dels), cmp_deleted);
	for (int i = 1; i < a->ndels; i++)
		if (!cmp_deleted(&a->dels[i - 1], &a->dels[i]))
			return LSM_CORRUPT(a->file, a->off, "edit deletes file %llu twice",
					   (unsigned long long)a->dels[i].number);
	for (int i = 0; i < a->nadds; i++)
		a->adds[i] = e->added[i].meta->number;
	qsort(a->adds, (size_t)a->nadds, sizeof(*a->adds), cmp_u64);
	for (int i = 1; i < a->nadds; i++)
		if (a->adds[i - 1] == a->adds[i])
			return LSM_CORRUPT(a->file, a->off, "edit adds file %llu twice",
					   (unsigned long long)a->adds[i]);
	return 0;
}

static int is_deleted(const apply_ctx *a, int level, uint64_t number)
{
	lsm_deleted_file key = {level, number};
	return bsearch(&key, a->dels, (size_t)a->ndels, sizeof(key), cmp_deleted) != NULL;
}

/* Fills one level of v from base minus deletions plus additions; *matched counts deletions. */
static int apply_level(const apply_ctx *a, const lsm_version *base, const lsm_version_edit *e,
		       int level, lsm_version *v, int *matched)
{
	int n = 0, cap = 0;
	for (int i = 0; i < e->nadded; i++)
		cap += e->added[i].level == level;
	cap += base->nfiles[level];
	if (!cap)
		return 0;
	lsm_file_meta **files = malloc((size_t)cap * sizeof(*files));
	if (!files)
		return lsm_seterr(-ENOMEM, "applying version edit: out of memory");
	v->files[level] = files;

	for (int i = 0; i < base->nfiles[level]; i++) {
		lsm_file_meta *f = base->files[level][i];
		if (is_deleted(a, level, f->number)) {
			(*matched)++;
			continue;
		}
		if (bsearch(&f->number, a->adds, (size_t)a->nadds, sizeof(uint64_t), cmp_u64))
			return LSM_CORRUPT(a->file, a->off, "edit adds file %llu, already live",
					   (unsigned long long)f->number);
		meta_ref(f);
		files[n++] = f;
		v->nfiles[level] = n;
	}
	for (int i = 0; i < e->nadded; i++) {
		if (e->added[i].level != level)
			continue;
		meta_ref(e->added[i].meta);
		files[n++] = e->added[i].meta;
		v->nfiles[level] = n;
	}
	assert(n <= cap);

	qsort(files, (size_t)n, sizeof(*files), level ? cmp_smallest : cmp_newest_first);
	for (int i = 1; level && i < n; i++)
		if (lsm_ikey_compare(meta_largest(files[i - 1]), meta_smallest(files[i])) >= 0)
			return LSM_CORRUPT(a->file, a->off,
					   "files %llu and %llu overlap in level %d",
					   (unsigned long long)files[i - 1]->number,
					   (unsigned long long)files[i]->number, level);
	return 0;
}

/*
 * Builds the version base + e into *out (one reference). Every inconsistency
 * (deleting a file that is not there, adding one that already is, keys
 * overlapping in a sorted level) is -LSM_ECORRUPT naming file and off.
 */
static int version_apply(const lsm_version *base, const lsm_version_edit *e, const char *file,
			 uint64_t off, lsm_version **out)
{
	apply_ctx a = {.file = file, .off = off};
	lsm_version *v = version_new();
	int matched = 0;
	int rc = v ? apply_sort_inputs(&a, e) : lsm_seterr(-ENOMEM, "out of memory");
	for (int level = 0; !rc && level < LSM_MAX_LEVELS; level++)
		rc = apply_level(&a, base, e, level, v, &matched);
	if (!rc && matched != a.ndels) {
		/* Name a deletion that found nothing: the first is enough to debug. */
		for (int i = 0; i < a.ndels; i++) {
			const lsm_deleted_file *d = &a.dels[i];
			int found = 0;
			for (int j = 0; j < base->nfiles[d->level]; j++)
				found |= base->files[d->level][j]->number == d->number;
			if (!found) {
				rc = LSM_CORRUPT(file, off,
						 "edit deletes file %llu, not in level %d",
						 (unsigned long long)d->number, d->level);
				break;
			}
		}
		assert(rc);
	}
	if (rc)
		goto out;
	version_check(v);
	*out = v;
	v = NULL;
out:
	lsm_version_unref(v);
	free(a.dels);
	free(a.adds);
	return rc;
}

/* ---- file names ---- */

static char *make_name(const char *dir, const char *prefix, uint64_t number, const char *suffix)
{
	char *p;
	if (asprintf(&p, "%s/%s%06llu%s", dir, prefix, (unsigned long long)number, suffix) < 0)
		return NULL;
	return p;
}

char *lsm_table_filename(const char *dir, uint64_t number)
{
	return make_name(dir, "", number, ".sst");
}

char *lsm_log_filename(const char *dir, uint64_t number)
{
	return make_name(dir, "", number, ".log");
}

char *lsm_blob_filename(const char *dir, uint64_t number)
{
	return make_name(dir, "", number, ".blob");
}

char *lsm_manifest_filename(const char *dir, uint64_t number)
{
	return make_name(dir, "MANIFEST-", number, "");
}

/* Parses exactly n decimal digits (n >= 1) without overflow. */
static int parse_digits(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		uint64_t d = (uint64_t)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	*out = v;
	return 1;
}

static int has_suffix(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);
	return len >= n && !memcmp(s + len - n, suffix, n);
}

enum lsm_file_kind lsm_parse_filename(const char *name, uint64_t *number)
{
	size_t len = strlen(name);
	uint64_t n = 0;
	enum lsm_file_kind kind = LSM_FILE_OTHER;

	if (has_suffix(name, len, ".tmp"))
		kind = LSM_FILE_TEMP;
	else if (!strcmp(name, "CURRENT"))
		kind = LSM_FILE_CURRENT;
	else if (!strcmp(name, "LOCK"))
		kind = LSM_FILE_LOCK;
	else if (!strncmp(name, "MANIFEST-", 9) && parse_digits(name + 9, len - 9, &n))
		kind = LSM_FILE_MANIFEST;
	else if (has_suffix(name, len, ".log") && parse_digits(name, len - 4, &n))
		kind = LSM_FILE_LOG;
	else if (has_suffix(name, len, ".sst") && parse_digits(name, len - 4, &n))
		kind = LSM_FILE_TABLE;
	else if (has_suffix(name, len, ".blob") && parse_digits(name, len - 5, &n))
		kind = LSM_FILE_BLOB;
	if (number)
		*number = n;
	return kind;
}

/* ---- the version set ---- */

static int vset_init(lsm_version_set *vs, lsm_env *env, const char *dir, const lsm_options *opts)
{
	memset(vs, 0, sizeof(*vs));
	vs->env = env ? env : lsm_env_posix();
	vs->opts = opts;
	vs->dir = strdup(dir);
	vs->current = version_new();
	if (!vs->dir || !vs->current)
		return lsm_seterr(-ENOMEM, "opening %s: out of memory", dir);
	return 0;
}

void lsm_vset_destroy(lsm_version_set *vs)
{
	if (vs->manifest)
		lsm_wal_writer_close(vs->manifest);
	lsm_version_unref(vs->current);
	free(vs->dir);
	memset(vs, 0, sizeof(*vs));
}

int lsm_vset_is_live(const lsm_version_set *vs, uint64_t number)
{
	const lsm_version *v = vs->current;
	for (int level = 0; level < LSM_MAX_LEVELS; level++)
		for (int i = 0; i < v->nfiles[level]; i++)
			if (v->files[level][i]->number == number)
				return 1;
	return 0;
}

/* The first record of a MANIFEST: every live file of v plus every counter. */
static int encode_snapshot(const lsm_version *v, uint64_t log_number, uint64_t next_file,
			   uint64_t last_seq, lsm_buf *out)
{
	lsm_version_edit snap;
	int n = 0, rc;
	lsm_edit_init(&snap);
	snap.has_log_number = snap.has_next_file = snap.has_last_seq = 1;
	snap.log_number = log_number;
	snap.next_file = next_file;
	snap.last_seq = last_seq;
	for (int level = 0; level < LSM_MAX_LEVELS; level++)
		n += v->nfiles[level];
	/* The snapshot borrows v's metas: it takes no references and must not free them. */
	snap.added = malloc((size_t)(n + 1) * sizeof(*snap.added));
	if (!snap.added)
		return lsm_seterr(-ENOMEM, "writing MANIFEST snapshot: out of memory");
	for (int level = 0; level < LSM_MAX_LEVELS; level++) {
		for (int i = 0; i < v->nfiles[level]; i++) {
			snap.added[snap.nadded].level = level;
			snap.added[snap.nadded].meta = v->files[level][i];
			snap.nadded++;
		}
	}
	rc = lsm_edit_encode(&snap, out);
	free(snap.added);
	return rc;
}

/* A MANIFEST record costs about this much per live file (for the rollover rule). */
static uint64_t snapshot_estimate(const lsm_version *v)
{
	uint64_t bytes = 64;
	for (int level = 0; level < LSM_MAX_LEVELS; level++)
		for (int i = 0; i < v->nfiles[level]; i++)
			bytes += 48 + v->files[level][i]->smallest.len +
				 v->files[level][i]->largest.len;
	return bytes;
}

static int write_current(lsm_version_set *vs, uint64_t manifest_number)
{
	char text[40];
	char *path = NULL;
	int len = snprintf(text, sizeof(text), "MANIFEST-%06llu\n",
			   (unsigned long long)manifest_number);
	assert(len > 0 && (size_t)len < sizeof(text));
	if (asprintf(&path, "%s/CURRENT", vs->dir) < 0)
		return lsm_seterr(-ENOMEM, "writing CURRENT: out of memory");
	int rc = lsm_env_write_atomic(vs->env, vs->dir, path, text, (size_t)len);
	free(path);
	return rc;
}

/*
 * Creates MANIFEST-<number> holding recs (a snapshot first), syncs it and
 * its directory entry, then points CURRENT at it. Before CURRENT is touched a failure removes the
 * new file; once the rename may have happened the file must stay, since CURRENT could already name
 * it.
 */
static int start_manifest(lsm_version_set *vs, uint64_t number, const lsm_slice *recs, int nrecs,
			  lsm_wal_writer **out)
{
	lsm_wal_writer *w = NULL;
	char *path = lsm_manifest_filename(vs->dir, number);
	int rc, current_touched = 0;
	if (!path)
		return lsm_seterr(-ENOMEM, "starting a MANIFEST: out of memory");
	rc = lsm_wal_writer_open(vs->env, path, &w);
	if (rc)
		goto out;
	rc = lsm_wal_add_records(w, recs, nrecs);
	if (!rc)
		rc = lsm_wal_sync(w);
	/* The new name must be durable before CURRENT can point at it. */
	if (!rc)
		rc = vs->env->sync_dir(vs->env, vs->dir);
	if (rc)
		goto out;
	current_touched = 1;
	rc = write_current(vs, number);
	if (rc)
		goto out;
	*out = w;
	w = NULL;
out:
	if (w)
		lsm_wal_writer_close(w);
	if (rc && !current_touched)
		vs->env->unlink(vs->env, path); /* best effort: the first error is what counts */
	free(path);
	return rc;
}

int lsm_vset_create(lsm_version_set *vs, lsm_env *env, const char *dir, const lsm_options *opts)
{
	lsm_buf rec;
	lsm_wal_writer *w = NULL;
	lsm_buf_init(&rec);
	int rc = vset_init(vs, env, dir, opts);
	if (rc)
		goto out;
	vs->manifest_number = 1;
	vs->next_file = 2;
	vs->file_limit = 2;
	version_score(vs->current, opts);
	rc = encode_snapshot(vs->current, 0, vs->next_file, 0, &rec);
	if (rc)
		goto out;
	lsm_slice s = lsm_slice_of(rec.data, rec.len);
	rc = start_manifest(vs, vs->manifest_number, &s, 1, &w);
	if (rc)
		goto out;
	vs->manifest = w;
	vs->manifest_bytes = lsm_wal_size(w);
out:
	lsm_buf_free(&rec);
	if (rc)
		lsm_vset_destroy(vs);
	return rc;
}

int lsm_vset_log_and_apply(lsm_version_set *vs, lsm_version_edit *e)
{
	lsm_version *nv = NULL;
	lsm_wal_writer *neww = NULL;
	lsm_buf snap, rec;
	uint64_t new_manifest = 0;
	int rc;

	lsm_buf_init(&snap);
	lsm_buf_init(&rec);
	assert(vs->current);
	/*
	 * Roll to a new MANIFEST when none is open (just recovered: the old one
	 * may end in a torn record we must not append after) or the live one is
	 * big. The second test keeps a state whose snapshot alone is near the
	 * limit from starting a new MANIFEST at every edit.
	 */
	if (!vs->manifest || (vs->manifest_bytes > MANIFEST_ROLL_BYTES &&
			      vs->manifest_bytes > 2 * snapshot_estimate(vs->current)))
		new_manifest = vs->next_file++;

	if (!e->has_log_number)
		e->log_number = vs->log_number;
	/* A file number handed out must never be handed out again after a restart. */
	uint64_t used = vs->next_file;
	if (e->has_next_file && e->next_file > used)
		used = e->next_file;
	/* Recovery does the same (see replay_manifest): memory and disk agree. */
	for (int i = 0; i < e->nadded; i++)
		if (e->added[i].meta->number >= used)
			used = e->added[i].meta->number + 1;
	/*
	 * What is logged runs ahead of what is used: the numbers in between
	 * may be handed out, and their files created, before the next edit.
	 * It never goes back, or a file made under an older limit would lie
	 * beyond the new one.
	 */
	e->next_file = used + FILE_NUMBER_SLACK;
	if (e->next_file < vs->file_limit)
		e->next_file = vs->file_limit;
	if (!e->has_last_seq || e->last_seq < vs->last_seq)
		e->last_seq = vs->last_seq;
	e->has_log_number = e->has_next_file = e->has_last_seq = 1;

	rc = version_apply(vs->current, e, "version edit", 0, &nv);
	if (rc)
		goto out;
	version_score(nv, vs->opts);
	rc = lsm_edit_encode(e, &rec);
	if (rc)
		goto out;

	if (new_manifest) {
		rc = encode_snapshot(vs->current, vs->log_number, e->next_file, vs->last_seq,
				     &snap);
		if (rc)
			goto out;
		lsm_slice recs[2] = {lsm_slice_of(snap.data, snap.len),
				     lsm_slice_of(rec.data, rec.len)};
		rc = start_manifest(vs, new_manifest, recs, 2, &neww);
		if (vs->manifest && (rc || neww)) {
			/*
			 * Whether or not it succeeded, CURRENT may now name the new
			 * MANIFEST: appending to the old one could log edits that
			 * recovery never reads.
			 */
			lsm_wal_writer_close(vs->manifest);
			vs->manifest = NULL;
		}
		if (rc)
			goto out;
		vs->manifest = neww;
		vs->manifest_number = new_manifest;
	} else {
		rc = lsm_wal_add_record(vs->manifest, rec.data, rec.len);
		if (!rc)
			rc = lsm_wal_sync(vs->manifest);
		if (rc) {
			/*
			 * The MANIFEST may now end in a partial or unsynced record:
			 * never append to it again; a retry starts a fresh one.
			 */
			lsm_wal_writer_close(vs->manifest);
			vs->manifest = NULL;
			goto out;
		}
	}
	vs->manifest_bytes = lsm_wal_size(vs->manifest);

	lsm_version_unref(vs->current);
	vs->current = nv;
	nv = NULL;
	vs->log_number = e->log_number;
	vs->current->log_number = vs->log_number;
	vs->next_file = used;
	vs->file_limit = e->next_file;
	__atomic_store_n(&vs->last_seq, e->last_seq, __ATOMIC_RELEASE);
out:
	lsm_version_unref(nv);
	lsm_buf_free(&snap);
	lsm_buf_free(&rec);
	return rc;
}

/* Reads CURRENT: "MANIFEST-<digits>\n" exactly, else corruption naming it. */
static int read_current(lsm_version_set *vs, uint64_t *number)
{
	char *path = NULL;
	uint8_t *data = NULL;
	size_t len = 0;
	int rc;
	if (asprintf(&path, "%s/CURRENT", vs->dir) < 0)
		return lsm_seterr(-ENOMEM, "reading CURRENT: out of memory");
	rc = lsm_env_read_all(vs->env, path, &data, &len);
	if (rc == -ENOENT) {
		rc = lsm_seterr(-LSM_ENOTDB, "%s: no CURRENT file, no database here", vs->dir);
		goto out;
	}
	if (rc)
		goto out;
	if (len < 11 || memcmp(data, "MANIFEST-", 9) || data[len - 1] != '\n' ||
	    !parse_digits((const char *)data + 9, len - 10, number))
		rc = LSM_CORRUPT(path, 0, "expected \"MANIFEST-<number>\\n\" (%zu bytes found)",
				 len);
out:
	free(data);
	free(path);
	return rc;
}

/* Replays every edit of the MANIFEST at path into vs. */
static int replay_manifest(lsm_version_set *vs, const char *path)
{
	lsm_wal_reader *r = NULL;
	lsm_version_edit e;
	lsm_slice rec;
	uint64_t off = 0, format, max_number = 0;
	int rc, nrecs = 0, has_log = 0, has_next = 0, has_seq = 0;
	int strict = vs->opts ? vs->opts->paranoid_checks : 0;

	lsm_edit_init(&e);
	rc = vs->env->exists(vs->env, path);
	if (rc == -ENOENT)
		return LSM_CORRUPT(path, 0, "the MANIFEST named by CURRENT is missing");
	if (!rc)
		rc = lsm_wal_reader_open(vs->env, path, strict, &r);
	if (rc == -ENOENT)
		return LSM_CORRUPT(path, 0, "the MANIFEST named by CURRENT is missing");
	if (rc)
		return rc;

	while ((rc = lsm_wal_read(r, &rec, &off)) == 1) {
		lsm_version *nv;
		rc = edit_decode(&e, rec, path, off, &format);
		if (rc)
			goto out;
		if (!nrecs && !format) {
			rc = LSM_CORRUPT(path, off, "first record is not a snapshot");
			goto out;
		}
		rc = version_apply(vs->current, &e, path, off, &nv);
		if (rc)
			goto out;
		lsm_version_unref(vs->current);
		vs->current = nv;
		if (e.has_log_number) {
			vs->log_number = e.log_number;
			has_log = 1;
		}
		if (e.has_next_file) {
			vs->next_file = e.next_file;
			has_next = 1;
		}
		if (e.has_last_seq) {
			vs->last_seq = e.last_seq;
			has_seq = 1;
		}
		for (int i = 0; i < e.nadded; i++)
			if (e.added[i].meta->number > max_number)
				max_number = e.added[i].meta->number;
		lsm_edit_free(&e);
		nrecs++;
	}
	if (rc)
		goto out;
	if (!nrecs || !has_log || !has_next || !has_seq) {
		rc = LSM_CORRUPT(path, off, "MANIFEST lacks %s",
				 !nrecs ? "any record" : "a counter (log, next file or sequence)");
		goto out;
	}
	/* Never reuse a number that is live or that names the MANIFEST itself. */
	if (vs->next_file <= max_number)
		vs->next_file = max_number + 1;
	if (vs->next_file <= vs->manifest_number)
		vs->next_file = vs->manifest_number + 1;
	/* Numbers below the logged limit may name files already: hand out none of them. */
	vs->file_limit = vs->next_file;
out:
	lsm_edit_free(&e);
	lsm_wal_reader_close(r);
	return rc;
}

int lsm_vset_recover(lsm_version_set *vs, lsm_env *env, const char *dir, const lsm_options *opts)
{
	char *path = NULL;
	int rc = vset_init(vs, env, dir, opts);
	if (!rc)
		rc = read_current(vs, &vs->manifest_number);
	if (rc)
		goto out;
	path = lsm_manifest_filename(vs->dir, vs->manifest_number);
	if (!path) {
		rc = lsm_seterr(-ENOMEM, "opening %s: out of memory", dir);
		goto out;
	}
	rc = replay_manifest(vs, path);
	if (rc)
		goto out;
	version_score(vs->current, opts);
	vs->current->log_number = vs->log_number;
	/* No writer: the next log_and_apply starts a new MANIFEST (see there). */
	vs->manifest = NULL;
	vs->manifest_bytes = 0;
out:
	free(path);
	if (rc)
		lsm_vset_destroy(vs);
	return rc;
}
