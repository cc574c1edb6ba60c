/*
 * blob_gc.c — the space of separated values: which value files hold how
 * much live data, and moving the live values out of mostly dead files.
 *
 * A value file (a retired WAL, NNNNNN.log, or a file this collector wrote,
 * NNNNNN.blob) is never rewritten in place. Its live bytes are the sum of
 * the BLOB_USE entries of the current version's tables that point into it;
 * the rest of its size is garbage: values overwritten or deleted (their
 * references dropped by compaction), and everything else a WAL held
 * (small values, keys, deletions, framing).
 *
 * A file with no live byte is deleted by lsm_db_delete_obsolete as soon as
 * no version a reader holds refers to it. A file whose garbage reaches
 * blob_gc_ratio of its size is emptied by the background thread: one table
 * that refers to it is rewritten at its own level (compact.c), and while it
 * is, every value it holds in that file is read, checked and appended to a
 * new NNNNNN.blob file, and the table gets the new reference. Sequence
 * numbers do not change, so snapshots and iterators see exactly what they
 * saw; they keep the old file alive until they are done with it.
 *
 * A .blob file has the WAL's format (wal.c): one record per value, so the
 * same reader (blob.c) serves both kinds, and a torn tail is never
 * referenced: the file is synced, and its directory entry too, before the
 * version edit that refers to it is logged.
 */
#include "db_impl.h"

#include "checksum.h"
#include "error.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- accounting ---- */

static int cmp_use_file(const void *a, const void *b)
{
	uint64_t x = ((const lsm_blob_use *)a)->file, y = ((const lsm_blob_use *)b)->file;
	return x < y ? -1 : x > y;
}

int lsm_db_blob_live(const lsm_version *v, lsm_blob_uses *live)
{
	lsm_blob_uses_init(live);
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		for (int i = 0; i < v->nfiles[l]; i++) {
			const lsm_file_meta *m = v->files[l][i];
			for (int k = 0; k < m->nblobs; k++)
				if (lsm_blob_uses_add(live, m->blobs[k].file, m->blobs[k].bytes)) {
					lsm_blob_uses_free(live);
					return lsm_seterr(-ENOMEM, "out of memory");
				}
		}
	return 0;
}

static uint64_t live_of(const lsm_blob_uses *live, uint64_t file)
{
	lsm_blob_use key = {.file = file};
	const lsm_blob_use *u =
		live->n ? bsearch(&key, live->v, (size_t)live->n, sizeof(key), cmp_use_file) : NULL;
	return u ? u->bytes : 0;
}

void lsm_db_blob_stats(lsm_db *db, uint64_t *files, uint64_t *file_bytes, uint64_t *live_bytes)
{
	lsm_blob_uses live;
	*files = *file_bytes = *live_bytes = 0;
	if (lsm_db_blob_live(db->vs.current, &live))
		return;
	for (int i = 0; i < db->nvfiles; i++) {
		(*files)++;
		*file_bytes += db->vfiles[i].size;
	}
	for (int i = 0; i < live.n; i++)
		*live_bytes += live.v[i].bytes;
	lsm_blob_uses_free(&live);
}

int lsm_db_blob_pick(lsm_db *db, uint64_t *file)
{
	lsm_blob_uses live;
	double ratio = db->opts.blob_gc_ratio;
	uint64_t best_garbage = 0;
	int found = 0;
	if (ratio <= 0 || !db->nvfiles || lsm_db_blob_live(db->vs.current, &live))
		return 0;
	for (int i = 0; i < db->nvfiles; i++) {
		const lsm_vfile *f = &db->vfiles[i];
		int damaged = 0;
		for (int k = 0; k < db->ngc_damaged; k++)
			damaged |= db->gc_damaged[k] == f->number;
		if (damaged)
			continue;
		uint64_t l = live_of(&live, f->number);
		/* No live byte: deletion, not collection, gives it back. */
		if (!l || !f->size || l >= f->size)
			continue;
		uint64_t garbage = f->size - l;
		if ((double)garbage < ratio * (double)f->size || garbage <= best_garbage)
			continue;
		best_garbage = garbage;
		*file = f->number;
		found = 1;
	}
	lsm_blob_uses_free(&live);
	return found;
}

/* ---- moving values ---- */

static uint64_t now_micros(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void lsm_relocator_init(lsm_relocator *r, lsm_db *db, uint64_t from, uint64_t number)
{
	memset(r, 0, sizeof(*r));
	r->db = db;
	r->from = from;
	r->number = number;
	lsm_buf_init(&r->val);
}

/* Holds the copy to the configured rate: sleeps while ahead of it. */
static void pace(lsm_relocator *r)
{
	uint64_t rate = r->db->opts.blob_gc_bytes_per_sec;
	if (!rate)
		return;
	uint64_t due_us = r->bytes_written * 1000000u / rate;
	uint64_t spent = now_micros() - r->start_us;
	if (due_us > spent)
		usleep((useconds_t)(due_us - spent < 100000 ? due_us - spent : 100000));
}

int lsm_relocator_move(lsm_relocator *r, lsm_slice enc, uint8_t *out, size_t *outlen)
{
	lsm_blob_ref ref;
	int rc = lsm_blob_ref_decode(enc, &ref);
	if (rc)
		return rc;
	if (ref.file != r->from) {
		*outlen = 0; /* not ours to move */
		return 0;
	}
	rc = lsm_blob_read(r->db->blob_files, &ref, &r->val);
	if (rc)
		return rc;
	if (!r->w) {
		r->path = lsm_blob_filename(r->db->dir, r->number);
		if (!r->path)
			return lsm_seterr(-ENOMEM, "out of memory");
		rc = lsm_wal_writer_open(r->db->env, r->path, &r->w);
		if (rc)
			return rc;
		r->start_us = now_micros();
	}
	uint64_t before = lsm_wal_size(r->w);
	rc = lsm_wal_add_record(r->w, r->val.data, r->val.len);
	if (rc)
		return rc;
	r->bytes_read += ref.len;
	r->bytes_written += lsm_wal_size(r->w) - before;
	ref.file = r->number;
	ref.offset = lsm_blob_payload_offset(lsm_wal_next_header(before), 0);
	*outlen = lsm_blob_ref_encode(&ref, out);
	pace(r);
	return 0;
}

int lsm_relocator_finish(lsm_relocator *r)
{
	if (!r->w)
		return 0;
	int rc = lsm_wal_sync(r->w);
	if (!rc)
		rc = r->db->env->sync_dir(r->db->env, r->db->dir);
	return rc;
}

void lsm_relocator_free(lsm_relocator *r, int discard)
{
	if (r->w)
		lsm_wal_writer_close(r->w);
	if (discard && r->path)
		r->db->env->unlink(r->db->env,
				   r->path); /* best effort: unreferenced, it goes later */
	free(r->path);
	lsm_buf_free(&r->val);
	r->w = NULL;
	r->path = NULL;
}
