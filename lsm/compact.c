/*
 * compact.c — the background thread: memtable flushes, leveled compaction,
 * manual compaction (lsm_compact_range) and deletion of obsolete files.
 *
 * One thread does all of it, one job at a time, so version edits are
 * naturally serialised and no two compactions can pick the same file. A
 * long compaction polls for immutable memtables and flushes them in
 * between, so writes are not stalled behind it.
 *
 * Compaction picking:
 *   L0 -> L1  every L0 file (they overlap each other; taking them all keeps
 *             the rule "an older version never sits above a newer one"
 *             trivially true) plus the L1 files overlapping their range.
 *   Ln -> Ln+1  one file, chosen round-robin by a per-level key pointer so
 *             the whole key space is rewritten evenly, plus the overlapping
 *             files of Ln+1.
 *   for deletions  when no level is over its target, a table whose
 *             deletions are worth carrying down (see pick_tombstones),
 *             as above (all of L0, or the one file); when the db has been
 *             idle, the memtable is first switched out if it holds
 *             deletions, so that they reach a table at all.
 * Output files are cut near target_file_bytes, only between two user keys,
 * so one user key never spans two files of a level >= 1. A single input
 * file with nothing to merge below is moved by a version edit alone (unless
 * it was picked for deletions that merging it would drop).
 *
 * Obsolete files go (obsolete.c) as soon as no version holds them: after
 * each flush and compaction, and when a reader drops the last view of an
 * old version (lsm_db_sv_release).
 *
 * What a compaction may drop (smallest = the oldest live snapshot, or the
 * last sequence when there is none):
 *   - an entry shadowed by a newer entry of the same user key whose
 *     sequence is <= smallest: no reader can see past that newer one;
 *   - a deletion with sequence <= smallest when no level below the output
 *     level has a file whose range holds the key: nothing older exists for
 *     it to hide.
 */
#include "db_impl.h"

#include "error.h"
#include "table.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Entries between polls for shutdown and pending memtable flushes. */
#define POLL_EVERY 256

/* Internal, never stored: a compaction abandoned because the db is closing. */
#define ERR_SHUTDOWN (-ECANCELED)

void lsm_db_table_options(const lsm_db *db, lsm_table_options *to)
{
	to->block_bytes = db->opts.block_bytes;
	to->restart_interval = 16;
	to->bloom_bits_per_key = db->opts.bloom_bits_per_key;
	to->compression = db->opts.compression;
}

/* ---- pending outputs ---- */

/* REQUIRES: db->mu held. */
static int pending_add(lsm_db *db, uint64_t number)
{
	if (db->npending == db->cap_pending) {
		int cap = db->cap_pending ? 2 * db->cap_pending : 8;
		uint64_t *p = realloc(db->pending, (size_t)cap * sizeof(*p));
		if (!p)
			return lsm_seterr(-ENOMEM, "out of memory");
		db->pending = p;
		db->cap_pending = cap;
	}
	db->pending[db->npending++] = number;
	return 0;
}

/* REQUIRES: db->mu held. */
static void pending_remove(lsm_db *db, uint64_t number)
{
	for (int i = 0; i < db->npending; i++) {
		if (db->pending[i] == number) {
			db->pending[i] = db->pending[--db->npending];
			return;
		}
	}
}

static int shutting_down(lsm_db *db)
{
	return __atomic_load_n(&db->shutting_down, __ATOMIC_ACQUIRE);
}

/* ---- table output ---- */

/* One table being written, and what the version edit needs to know about it. */
typedef struct out_table {
	uint64_t number;
	uint64_t size;
	uint64_t smallest_seq, largest_seq;
	uint64_t entries, deletions; /* from the finished table's properties */
	lsm_buf smallest, largest;
	lsm_blob_uses blobs; /* value files its blob references point into */
	lsm_table_builder *b;
	char *path;
} out_table;

/* REQUIRES: db->mu held. Allocates a number (kept pending) and creates the file. */
static int out_open(lsm_db *db, out_table *o)
{
	lsm_table_options to;
	memset(o, 0, sizeof(*o));
	lsm_buf_init(&o->smallest);
	lsm_buf_init(&o->largest);
	o->smallest_seq = UINT64_MAX;
	int rc = lsm_db_new_file_number(db, &o->number);
	if (!rc)
		rc = pending_add(db, o->number);
	if (rc)
		return rc;
	o->path = lsm_table_filename(db->dir, o->number);
	if (!o->path)
		return lsm_seterr(-ENOMEM, "out of memory");
	lsm_db_table_options(db, &to);
	pthread_mutex_unlock(&db->mu);
	rc = lsm_table_builder_new(db->env, o->path, &to, &o->b);
	pthread_mutex_lock(&db->mu);
	return rc;
}

static int out_add(out_table *o, lsm_slice ikey, lsm_slice value)
{
	int rc;
	if (!o->smallest.len) {
		rc = lsm_buf_append(&o->smallest, ikey.data, ikey.len);
		if (rc)
			return lsm_seterr(rc, "out of memory");
	}
	o->largest.len = 0;
	rc = lsm_buf_append(&o->largest, ikey.data, ikey.len);
	if (rc)
		return lsm_seterr(rc, "out of memory");
	uint64_t seq = lsm_ikey_seq(ikey);
	if (seq < o->smallest_seq)
		o->smallest_seq = seq;
	if (seq > o->largest_seq)
		o->largest_seq = seq;
	if (lsm_ikey_type(ikey) == LSM_TYPE_BLOB) {
		lsm_blob_ref ref;
		rc = lsm_blob_ref_decode(value, &ref);
		if (rc)
			return rc; /* a damaged reference must not reach a new table */
		if (lsm_blob_uses_add(&o->blobs, ref.file, ref.len))
			return lsm_seterr(-ENOMEM, "out of memory");
	}
	return lsm_table_builder_add(o->b, ikey, value);
}

/* Finishes (fsyncs) the table and makes its directory entry durable. */
static int out_finish(lsm_db *db, out_table *o)
{
	lsm_table_props props;
	memset(&props, 0, sizeof(props));
	lsm_buf_init(&props.smallest);
	lsm_buf_init(&props.largest);
	int rc = lsm_table_builder_finish(o->b, &o->size, &props);
	lsm_table_builder_free(o->b);
	o->b = NULL;
	o->entries = props.entries;
	o->deletions = props.deletions;
	lsm_table_props_free(&props);
	if (!rc)
		rc = db->env->sync_dir(db->env, db->dir);
	return rc;
}

/* Frees o; with discard also removes its (half-written or unused) file. */
static void out_free(lsm_db *db, out_table *o, int discard)
{
	if (o->b) {
		lsm_table_builder_free(o->b);
		o->b = NULL;
	}
	if (discard && o->path)
		db->env->unlink(db->env, o->path); /* best effort; reopen removes it anyway */
	free(o->path);
	o->path = NULL;
	lsm_buf_free(&o->smallest);
	lsm_buf_free(&o->largest);
	lsm_blob_uses_free(&o->blobs);
}

/* The meta an edit just added: the caller fills in what lsm_edit_add_file does not take. */
static void set_stats(lsm_version_edit *e, int has_stats, uint64_t entries, uint64_t deletions)
{
	lsm_file_meta *m = e->added[e->nadded - 1].meta;
	m->has_stats = has_stats;
	m->entries = entries;
	m->deletions = deletions;
}

static int out_to_edit(lsm_version_edit *e, int level, const out_table *o)
{
	int rc = lsm_edit_add_file(
		e, level, o->number, o->size, lsm_slice_of(o->smallest.data, o->smallest.len),
		lsm_slice_of(o->largest.data, o->largest.len), o->smallest_seq, o->largest_seq);
	if (!rc)
		set_stats(e, 1, o->entries, o->deletions);
	if (!rc)
		rc = lsm_edit_set_blobs(e, o->blobs.v, o->blobs.n);
	return rc;
}

/* ---- memtable flush ---- */

/*
 * A flushed table that overlaps nothing in L0 and L1 may go straight to
 * L1 or L2, as long as it would not overlap much of the level below: a
 * sequential load then skips the L0 -> L1 rewrite entirely. Deeper would
 * make later compactions of the level above it expensive.
 */
#define MAX_FLUSH_LEVEL		    2
#define MAX_FLUSH_GRANDPARENT_FILES 10

/* REQUIRES: db->mu held. The level a new table of [smallest, largest] may be placed at. */
static int pick_flush_level(lsm_db *db, lsm_slice smallest, lsm_slice largest)
{
	lsm_version *v = db->vs.current;
	lsm_slice lo = lsm_ikey_user(smallest), hi = lsm_ikey_user(largest);
	int level = 0, first, last;
	if (lsm_version_overlapping(v, 0, &lo, &hi, &first, &last))
		return 0;
	while (level < MAX_FLUSH_LEVEL) {
		if (lsm_version_overlapping(v, level + 1, &lo, &hi, &first, &last))
			break;
		if (level + 2 < LSM_MAX_LEVELS) {
			uint64_t bytes = 0;
			int n = lsm_version_overlapping(v, level + 2, &lo, &hi, &first, &last);
			for (int i = first; i < first + n; i++)
				bytes += v->files[level + 2][i]->size;
			if (bytes > MAX_FLUSH_GRANDPARENT_FILES * db->opts.target_file_bytes)
				break;
		}
		level++;
	}
	return level;
}

/*
 * REQUIRES: db->mu held. Writes m to a new table recorded in e; with deep,
 * at the level pick_flush_level allows. Only safe with deep when no
 * compaction is running: its outputs, not yet in the version, could
 * overlap the new table's level.
 */
static int write_memtable(lsm_db *db, lsm_memtable *m, lsm_version_edit *e, int deep)
{
	out_table o;
	lsm_it *it = NULL;
	int rc;
	if (lsm_memtable_count(m) == 0)
		return 0;
	rc = out_open(db, &o);
	pthread_mutex_unlock(&db->mu);
	if (!rc) {
		it = lsm_memtable_iter(m);
		if (!it)
			rc = lsm_seterr(-ENOMEM, "flush: out of memory");
	}
	if (!rc) {
		for (lsm_it_seek_first(it); !rc && lsm_it_valid(it); lsm_it_next(it))
			rc = out_add(&o, lsm_it_key(it), lsm_it_value(it));
		if (!rc)
			rc = lsm_it_status(it);
	}
	lsm_it_destroy(it);
	if (!rc)
		rc = out_finish(db, &o);
	pthread_mutex_lock(&db->mu);
	if (!rc) {
		int level =
			deep ? pick_flush_level(db, lsm_slice_of(o.smallest.data, o.smallest.len),
						lsm_slice_of(o.largest.data, o.largest.len))
			     : 0;
		rc = out_to_edit(e, level, &o);
	}
	if (!rc)
		lsm_db_count(&db->c.flush_bytes_written, o.size);
	/*
	 * On success the number stays pending until the edit is applied (the
	 * caller clears it); a failed table is removed now.
	 */
	if (rc)
		pending_remove(db, o.number);
	out_free(db, &o, rc != 0);
	return rc;
}

/* REQUIRES: db->mu held. */
int lsm_db_write_l0(lsm_db *db, lsm_memtable *m, lsm_version_edit *e)
{
	return write_memtable(db, m, e, 0);
}

/*
 * REQUIRES: db->mu held, db->nimm > 0. Flushes the oldest immutable
 * memtable; in_compaction: called from inside a running compaction.
 */
static int flush_oldest(lsm_db *db, int in_compaction)
{
	lsm_version_edit e;
	/* The table will refer to values in the WAL: they must be durable first. */
	int rc = lsm_db_sync_retired(db, db->imm[0].id + 1);
	if (rc)
		return rc;
	lsm_imm im = db->imm[0];

	lsm_edit_init(&e);
	lsm_memtable_ref(im.mem);
	rc = write_memtable(db, im.mem, &e, !in_compaction);
	if (!rc) {
		/* The WALs of the memtables still waiting (and the active one) stay. */
		e.has_log_number = 1;
		e.log_number = db->nimm > 1 ? db->imm[1].log_number : db->wal_number;
		rc = lsm_db_apply_edit(db, &e);
	}
	for (int i = 0; i < e.nadded; i++)
		pending_remove(db, e.added[i].meta->number);
	if (!rc) {
		assert(db->imm[0].mem == im.mem);
		memmove(db->imm, db->imm + 1, (size_t)(db->nimm - 1) * sizeof(*db->imm));
		db->nimm--;
		db->unlisted_log_bytes += im.log_bytes; /* until delete_obsolete lists it */
		__atomic_store_n(&db->imm_pending, db->nimm, __ATOMIC_RELEASE);
		db->flushed_id = im.id + 1;
		lsm_memtable_unref(im.mem); /* the list's reference */
		rc = lsm_db_install_sv(db);
		lsm_db_count(&db->c.flushes, 1);
	}
	lsm_memtable_unref(im.mem);
	lsm_edit_free(&e);
	if (!rc)
		lsm_db_delete_obsolete(db);
	pthread_cond_broadcast(&db->done_cv);
	return rc;
}

/* ---- compaction ---- */

typedef struct compaction {
	int out_level;
	lsm_version *v;
	lsm_file_meta **in[LSM_MAX_LEVELS]; /* inputs per level (NULL: none) */
	int nin[LSM_MAX_LEVELS];
	int manual;
	/* Picked for its deletions: a lone input is rewritten where that drops them. */
	int tombstones;
	/* A flush run from inside the merge failed: that error is the flush's, not ours. */
	int flush_failed;
	/* Failed with ENOSPC before its edit: inputs intact, outputs removed; retry later. */
	int retry;
	uint64_t smallest_snap;
	out_table *out;
	int nout, cap_out;
	/* Blob garbage collection: values in value file gc_file move to a new file (blob_gc.c). */
	uint64_t gc_file;
	lsm_relocator gc;
} compaction;

static void compaction_free(compaction *c)
{
	if (!c)
		return;
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		free(c->in[l]);
	lsm_version_unref(c->v);
	free(c->out);
	free(c);
}

static lsm_slice meta_small(const lsm_file_meta *f)
{
	return lsm_slice_of(f->smallest.data, f->smallest.len);
}

static lsm_slice meta_large(const lsm_file_meta *f)
{
	return lsm_slice_of(f->largest.data, f->largest.len);
}

/* User-key range covered by files[0..n). */
static void files_range(lsm_file_meta **files, int n, lsm_slice *lo, lsm_slice *hi)
{
	assert(n > 0);
	*lo = lsm_ikey_user(meta_small(files[0]));
	*hi = lsm_ikey_user(meta_large(files[0]));
	for (int i = 1; i < n; i++) {
		lsm_slice s = lsm_ikey_user(meta_small(files[i]));
		lsm_slice l = lsm_ikey_user(meta_large(files[i]));
		if (lsm_user_compare(s, *lo) < 0)
			*lo = s;
		if (lsm_user_compare(l, *hi) > 0)
			*hi = l;
	}
}

static lsm_file_meta **copy_files(lsm_file_meta *const *files, int n)
{
	lsm_file_meta **p = malloc((size_t)(n + 1) * sizeof(*p));
	if (p && n)
		memcpy(p, files, (size_t)n * sizeof(*p));
	return p;
}

/* REQUIRES: db->mu held. An empty compaction of the current version into out_level. */
static compaction *compaction_alloc(lsm_db *db, int out_level)
{
	compaction *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->out_level = out_level;
	c->v = db->vs.current;
	lsm_version_ref(c->v);
	return c;
}

/*
 * REQUIRES: db->mu held. Builds a compaction of files[0..n) of level (a
 * copy is taken) plus whatever overlaps them in level + 1. NULL on ENOMEM.
 */
static compaction *compaction_new(lsm_db *db, int level, lsm_file_meta *const *files, int n)
{
	compaction *c = compaction_alloc(db, level + 1);
	if (!c)
		return NULL;
	lsm_version *v = c->v;
	c->in[level] = copy_files(files, n);
	c->nin[level] = n;
	lsm_slice lo, hi;
	int first = 0, last = -1, k = 0;
	if (c->in[level]) {
		files_range(c->in[level], n, &lo, &hi);
		k = lsm_version_overlapping(v, level + 1, &lo, &hi, &first, &last);
		c->in[level + 1] = copy_files(v->files[level + 1] + first, k);
		c->nin[level + 1] = k;
	}
	if (!c->in[level] || !c->in[level + 1]) {
		compaction_free(c);
		return NULL;
	}
	return c;
}

/* ---- deletion-triggered compaction ---- */

/*
 * A deletion's space, and the space of the value it hides, only comes back
 * when a compaction carries the deletion down to the value and on to a
 * level with nothing below, where both are dropped. Level sizes alone do
 * not get it there: lsmfs deletes 64 KiB chunks with small tombstones, so
 * the levels holding them stay under their targets. So a table is also
 * compacted down for its deletions when
 *   - at least 1/TOMBSTONE_RATIO of its entries are deletions (and at
 *     least TOMBSTONE_MIN of them, so one stray deletion in a tiny table
 *     does not rewrite the level below it), or its deletions are guessed
 *     to hide a target file's worth of data; and the space they are
 *     guessed to free is at least 2/3 of what the compaction
 *     rewrites: without that, small deletions of random keys rewrote
 *     the whole of L1 after every flush (lsm-bench deleterandom, 1M
 *     keys: write amplification 26.5 without it, 6.3 with it; leveled
 *     compaction carries such deletions down soon enough anyway), or
 *   - no write has come for IDLE_MICROS (see bg_main) and the space they
 *     are guessed to free is at least 1/IDLE_MAX_AMP of what the
 *     compaction rewrites: a quiet db gives its space back, but a few
 *     small deletions do not rewrite a whole level each time writes pause.
 * The guess: each deletion hides an average entry of the levels below its
 * table, and frees its own share of the table.
 */
#define TOMBSTONE_RATIO 4
#define TOMBSTONE_MIN	16
#define IDLE_MICROS	(2 * 1000 * 1000)
/* The quiet wait after lsm_reclaim: long enough for a burst of deletions to end. */
#define RECLAIM_MICROS (250 * 1000)
#define IDLE_MAX_AMP   16

/* REQUIRES: db->mu held. Bytes a compaction of f (of level) into level + 1 reads and rewrites. */
static uint64_t rewrite_bytes(const lsm_version *v, const lsm_file_meta *f, int level)
{
	lsm_slice lo = lsm_ikey_user(meta_small(f)), hi = lsm_ikey_user(meta_large(f));
	uint64_t bytes = level ? f->size : lsm_version_level_bytes(v, 0);
	int first, last;
	int n = lsm_version_overlapping(v, level + 1, &lo, &hi, &first, &last);
	for (int i = first; n && i <= last; i++)
		bytes += v->files[level + 1][i]->size;
	return bytes;
}

/*
 * REQUIRES: db->mu held. The table whose deletions are most worth carrying
 * down now (idle: the db has had no write for a while), or NULL; its level
 * in *level. The last level is never picked: it has nowhere to go, and
 * deletions stay there only when a snapshot kept them.
 */
static lsm_file_meta *pick_tombstones(lsm_db *db, int idle, int *level)
{
	lsm_version *v = db->vs.current;
	uint64_t snap = lsm_db_smallest_snapshot(db);
	uint64_t bytes_below = 0, entries_below = 0, best_frees = 0;
	lsm_file_meta *best = NULL;
	/* From the bottom up, so the averages below each level are at hand. */
	for (int l = LSM_MAX_LEVELS - 1; l >= 0; l--) {
		uint64_t avg = entries_below ? bytes_below / entries_below : 0;
		for (int i = 0; l < LSM_MAX_LEVELS - 1 && i < v->nfiles[l]; i++) {
			lsm_file_meta *f = v->files[l][i];
			if (f->has_stats != 1 || !f->deletions || f->deletions > f->entries)
				continue;
			/* A snapshot may still see them: a rewrite would keep them, and loop. */
			if (f->largest_seq > snap) {
				db->snap_held_back = 1;
				continue;
			}
			uint64_t hidden = f->deletions * avg;
			uint64_t frees = hidden + f->size / f->entries * f->deletions;
			uint64_t rewrite = rewrite_bytes(v, f, l);
			int many = (f->deletions >= TOMBSTONE_MIN &&
				    f->deletions * TOMBSTONE_RATIO >= f->entries) ||
				   hidden >= db->opts.target_file_bytes;
			int worth = (many && frees * 3 >= rewrite * 2) ||
				    (idle && frees * IDLE_MAX_AMP >= rewrite);
			if (worth && frees > best_frees) {
				best = f;
				best_frees = frees;
				*level = l;
			}
		}
		for (int i = 0; i < v->nfiles[l]; i++) {
			if (v->files[l][i]->has_stats == 1) {
				bytes_below += v->files[l][i]->size;
				entries_below += v->files[l][i]->entries;
			}
		}
	}
	return best;
}

/* REQUIRES: db->mu held. A compaction carrying f (of level) and its deletions down. */
static compaction *tombstone_compaction(lsm_db *db, lsm_file_meta *f, int level)
{
	lsm_version *v = db->vs.current;
	/* L0 files overlap: an older one left above f's output would shadow it. */
	compaction *c = level == 0 ? compaction_new(db, 0, v->files[0], v->nfiles[0])
				   : compaction_new(db, level, &f, 1);
	if (c)
		c->tombstones = 1;
	return c;
}

/* REQUIRES: db->mu held. Picks the compaction the current version's score asks for. */
/*
 * REQUIRES: db->mu held. The table reads keep searching in vain
 * (lsm_db_charge_seek), compacted into the level below so that a read finds
 * its key in one table, or NULL if it is gone from the current version.
 */
static compaction *pick_seek(lsm_db *db)
{
	lsm_version *v = db->vs.current;
	uint64_t number = db->seek_file;
	int level = db->seek_level;
	db->seek_file = 0;
	if (!number || level >= LSM_MAX_LEVELS - 1)
		return NULL;
	if (level == 0)
		return v->nfiles[0] ? compaction_new(db, 0, v->files[0], v->nfiles[0]) : NULL;
	for (int i = 0; i < v->nfiles[level]; i++)
		if (v->files[level][i]->number == number)
			return compaction_new(db, level, &v->files[level][i], 1);
	return NULL;
}

static compaction *pick_auto(lsm_db *db)
{
	lsm_version *v = db->vs.current;
	int tlevel = 0;
	if (v->compaction_score < 1 && db->seek_file)
		return pick_seek(db);
	if (v->compaction_score < 1) {
		lsm_file_meta *f = pick_tombstones(db, 0, &tlevel);
		return f ? tombstone_compaction(db, f, tlevel) : NULL;
	}
	int level = v->compaction_level;
	assert(level >= 0 && level < LSM_MAX_LEVELS - 1);
	if (!v->nfiles[level])
		return NULL;
	if (level == 0)
		return compaction_new(db, 0, v->files[0], v->nfiles[0]);

	/* Round-robin: the first file past where the last compaction of this level ended. */
	lsm_buf *ptr = &db->compact_ptr[level];
	int i = 0;
	if (ptr->len) {
		lsm_slice p = lsm_slice_of(ptr->data, ptr->len);
		while (i < v->nfiles[level] &&
		       lsm_ikey_compare(meta_large(v->files[level][i]), p) <= 0)
			i++;
		if (i == v->nfiles[level])
			i = 0;
	}
	lsm_file_meta *f = v->files[level][i];
	ptr->len = 0;
	if (lsm_buf_append(ptr, f->largest.data, f->largest.len))
		ptr->len = 0; /* out of memory: start from the left next time */
	return compaction_new(db, level, &f, 1);
}

static int file_overlaps(const lsm_file_meta *f, const lsm_slice *lo, const lsm_slice *hi)
{
	if (lo && lsm_user_compare(lsm_ikey_user(meta_large(f)), *lo) < 0)
		return 0;
	if (hi && lsm_user_compare(lsm_ikey_user(meta_small(f)), *hi) > 0)
		return 0;
	return 1;
}

/*
 * REQUIRES: db->mu held. lsm_compact_range's compaction: every file of
 * every level overlapping the range, merged into the deepest level that
 * holds any of them (at least L1). The range grows to cover the files
 * taken until no file left out overlaps it, so no older version of a key
 * can stay above its newer output. NULL if nothing overlaps (or ENOMEM).
 */
static compaction *pick_range(lsm_db *db, lsm_manual *m)
{
	lsm_version *v = db->vs.current;
	lsm_slice lo = lsm_slice_of(m->begin.data, m->begin.len);
	lsm_slice hi = lsm_slice_of(m->end.data, m->end.len);
	const lsm_slice *lop = m->has_begin ? &lo : NULL, *hip = m->has_end ? &hi : NULL;
	int changed = 1, out_level = 0, total = 0;

	while (changed) {
		changed = 0;
		for (int l = 0; l < LSM_MAX_LEVELS; l++) {
			for (int i = 0; i < v->nfiles[l]; i++) {
				lsm_file_meta *f = v->files[l][i];
				if (!file_overlaps(f, lop, hip))
					continue;
				lsm_slice s = lsm_ikey_user(meta_small(f));
				lsm_slice b = lsm_ikey_user(meta_large(f));
				if (lop && lsm_user_compare(s, lo) < 0) {
					lo = s;
					changed = 1;
				}
				if (hip && lsm_user_compare(b, hi) > 0) {
					hi = b;
					changed = 1;
				}
			}
		}
	}
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		for (int i = 0; i < v->nfiles[l]; i++)
			if (file_overlaps(v->files[l][i], lop, hip)) {
				out_level = l;
				total++;
			}
	if (!total)
		return NULL;
	compaction *c = compaction_alloc(db, out_level ? out_level : 1);
	if (!c)
		return NULL;
	for (int l = 0; l < LSM_MAX_LEVELS; l++) {
		int n = 0;
		c->in[l] = malloc((size_t)(v->nfiles[l] + 1) * sizeof(*c->in[l]));
		if (!c->in[l]) {
			compaction_free(c);
			return NULL;
		}
		for (int i = 0; i < v->nfiles[l]; i++)
			if (file_overlaps(v->files[l][i], lop, hip))
				c->in[l][n++] = v->files[l][i];
		c->nin[l] = n;
	}
	c->manual = 1;
	return c;
}

/*
 * True if no level below the output level holds a file whose range
 * includes ukey: a deletion of ukey then has nothing left to hide.
 */
static int is_base_level_for_key(const compaction *c, lsm_slice ukey)
{
	for (int level = c->out_level + 1; level < LSM_MAX_LEVELS; level++) {
		int first, last;
		if (c->v->nfiles[level] &&
		    lsm_version_overlapping(c->v, level, &ukey, &ukey, &first, &last))
			return 0;
	}
	return 1;
}

/*
 * True if no level below the output level overlaps f at all: merging f
 * then drops every deletion it holds, where moving it would keep them.
 */
static int range_is_base(const compaction *c, const lsm_file_meta *f)
{
	lsm_slice lo = lsm_ikey_user(meta_small(f)), hi = lsm_ikey_user(meta_large(f));
	for (int level = c->out_level + 1; level < LSM_MAX_LEVELS; level++) {
		int first, last;
		if (lsm_version_overlapping(c->v, level, &lo, &hi, &first, &last))
			return 0;
	}
	return 1;
}

/* The merged input: one iterator per L0 file, one concatenating iterator per level >= 1. */
static lsm_it *compaction_input(lsm_db *db, compaction *c)
{
	int n = 0;
	lsm_it **children = calloc((size_t)c->nin[0] + LSM_MAX_LEVELS, sizeof(*children));
	if (!children)
		return NULL;
	for (int i = 0; i < c->nin[0]; i++)
		children[n++] = lsm_db_table_iter(db, c->in[0][i], 0);
	for (int l = 1; l < LSM_MAX_LEVELS; l++)
		if (c->nin[l])
			children[n++] = lsm_db_level_iter(db, c->v, c->in[l], c->nin[l], 0);
	for (int i = 0; i < n; i++) {
		if (!children[i]) {
			for (int j = 0; j < n; j++)
				lsm_it_destroy(children[j]);
			free(children);
			return NULL;
		}
	}
	lsm_it *it = lsm_it_merging(children, n);
	free(children);
	return it;
}

/* REQUIRES: db->mu held. Opens the next output table of c. */
static int compaction_open_output(lsm_db *db, compaction *c)
{
	if (c->nout == c->cap_out) {
		int cap = c->cap_out ? 2 * c->cap_out : 4;
		out_table *p = realloc(c->out, (size_t)cap * sizeof(*p));
		if (!p)
			return lsm_seterr(-ENOMEM, "compaction: out of memory");
		c->out = p;
		c->cap_out = cap;
	}
	out_table *o = &c->out[c->nout++];
	return out_open(db, o);
}

/*
 * REQUIRES: db->mu held (released while merging). Merges c's inputs into
 * new tables of level + 1. Outputs stay pending; the caller applies or
 * discards them.
 */
static int run_merge(lsm_db *db, compaction *c)
{
	lsm_buf cur;
	int has_cur = 0, rc = 0;
	uint64_t last_seq_for_key = 0, count = 0;
	out_table *o = NULL;

	lsm_buf_init(&cur);
	c->smallest_snap = lsm_db_smallest_snapshot(db);
	if (db->snapshots.next != &db->snapshots)
		db->snap_held_back = 1; /* entries it must keep for a snapshot may go later */
	pthread_mutex_unlock(&db->mu);
	lsm_it *it = compaction_input(db, c);
	if (!it)
		rc = lsm_seterr(-ENOMEM, "compaction: out of memory");

	if (it)
		lsm_it_seek_first(it);
	for (; !rc && it && lsm_it_valid(it); lsm_it_next(it)) {
		if (++count % POLL_EVERY == 0) {
			if (shutting_down(db)) {
				rc = ERR_SHUTDOWN;
				break;
			}
			/* Keep writers flowing: a waiting memtable goes first. */
			if (__atomic_load_n(&db->imm_pending, __ATOMIC_ACQUIRE)) {
				pthread_mutex_lock(&db->mu);
				while (!rc && db->nimm > 0 && !db->bg_error)
					rc = flush_oldest(db, 1);
				pthread_mutex_unlock(&db->mu);
				if (rc) {
					c->flush_failed = 1;
					break;
				}
			}
		}
		lsm_slice ikey = lsm_it_key(it);
		lsm_slice ukey = lsm_ikey_user(ikey);
		uint64_t seq = lsm_ikey_seq(ikey);
		int new_key = !has_cur || lsm_user_compare(ukey, lsm_slice_of(cur.data, cur.len));
		if (new_key) {
			cur.len = 0;
			rc = lsm_buf_append(&cur, ukey.data, ukey.len);
			if (rc) {
				rc = lsm_seterr(rc, "compaction: out of memory");
				break;
			}
			has_cur = 1;
			last_seq_for_key = UINT64_MAX;
		}
		int drop = 0;
		if (last_seq_for_key <= c->smallest_snap)
			drop = 1; /* a newer version every reader sees hides this one */
		else if (lsm_ikey_type(ikey) == LSM_TYPE_DELETE && seq <= c->smallest_snap &&
			 is_base_level_for_key(c, ukey))
			drop = 1; /* nothing older below for this tombstone to hide */
		last_seq_for_key = seq;
		if (drop)
			continue;

		/* Cut only between user keys: a level >= 1 never splits one across files. */
		if (o && new_key && lsm_table_builder_size(o->b) >= db->opts.target_file_bytes) {
			rc = out_finish(db, o);
			if (rc)
				break;
			o = NULL;
		}
		if (!o) {
			pthread_mutex_lock(&db->mu);
			rc = compaction_open_output(db, c);
			pthread_mutex_unlock(&db->mu);
			if (rc)
				break;
			o = &c->out[c->nout - 1];
		}
		lsm_slice value = lsm_it_value(it);
		uint8_t moved[LSM_BLOB_REF_MAX];
		if (c->gc_file && lsm_ikey_type(ikey) == LSM_TYPE_BLOB) {
			size_t n = 0;
			rc = lsm_relocator_move(&c->gc, value, moved, &n);
			if (rc)
				break;
			if (n)
				value = lsm_slice_of(moved, n);
		}
		rc = out_add(o, ikey, value);
	}
	if (!rc && it)
		rc = lsm_it_status(it);
	if (!rc && o)
		rc = out_finish(db, o);
	lsm_it_destroy(it);
	lsm_buf_free(&cur);
	pthread_mutex_lock(&db->mu);
	return rc;
}

/* REQUIRES: db->mu held. Runs c to the end: merge (or move), edit, cleanup. */
static int run_compaction(lsm_db *db, compaction *c)
{
	lsm_version_edit e;
	int rc = 0, total = 0, tried_apply = 0;
	uint64_t read = 0;
	lsm_file_meta *only = NULL;
	lsm_edit_init(&e);

	for (int l = 0; l < LSM_MAX_LEVELS; l++) {
		for (int i = 0; i < c->nin[l]; i++) {
			rc = lsm_edit_delete_file(&e, l, c->in[l][i]->number);
			if (rc)
				goto out;
			read += c->in[l][i]->size;
			only = c->in[l][i];
			total++;
		}
	}

	if (!c->manual && total == 1 && c->nin[c->out_level - 1] == 1 &&
	    !(c->tombstones && range_is_base(c, only))) {
		/* Trivial move: nothing to merge with, so no byte needs rewriting. */
		rc = lsm_edit_add_file(&e, c->out_level, only->number, only->size, meta_small(only),
				       meta_large(only), only->smallest_seq, only->largest_seq);
		if (!rc)
			set_stats(&e, only->has_stats, only->entries, only->deletions);
		if (!rc)
			rc = lsm_edit_set_blobs(&e, only->blobs, only->nblobs);
		tried_apply = 1;
		if (!rc)
			rc = lsm_db_apply_edit(db, &e);
		goto out;
	}

	if (c->gc_file) {
		uint64_t number;
		rc = lsm_db_new_file_number(db, &number);
		if (!rc)
			rc = pending_add(db, number);
		if (rc)
			goto out;
		lsm_relocator_init(&c->gc, db, c->gc_file, number);
	}
	rc = run_merge(db, c);
	if (!rc && c->gc_file) {
		/* The moved values are durable before any table that refers to them is. */
		pthread_mutex_unlock(&db->mu);
		rc = lsm_relocator_finish(&c->gc);
		pthread_mutex_lock(&db->mu);
	}
	for (int i = 0; !rc && i < c->nout; i++)
		rc = out_to_edit(&e, c->out_level, &c->out[i]);
	if (!rc) {
		/*
		 * From here a failure leaves the edit's fate unknown: its record
		 * may be in the MANIFEST even though the sync failed. The outputs
		 * must then stay; the next open deletes them if unreferenced.
		 */
		tried_apply = 1;
		rc = lsm_db_apply_edit(db, &e);
	}
	if (!rc) {
		uint64_t written = 0;
		for (int i = 0; i < c->nout; i++)
			written += c->out[i].size;
		lsm_db_count(&db->c.compaction_bytes_written, written);
		lsm_db_count(&db->c.compaction_bytes_read, read);
	}
out:
	for (int i = 0; i < c->nout; i++) {
		pending_remove(db, c->out[i].number);
		out_free(db, &c->out[i], rc != 0 && !tried_apply);
	}
	c->nout = 0;
	if (c->gc_file && c->gc.db) {
		if (!rc) {
			lsm_db_count(&db->c.blob_gc_runs, 1);
			lsm_db_count(&db->c.blob_gc_bytes_read, c->gc.bytes_read);
			lsm_db_count(&db->c.blob_gc_bytes_written, c->gc.bytes_written);
		}
		pending_remove(db, c->gc.number);
		lsm_relocator_free(&c->gc, rc != 0 && !tried_apply);
		c->gc.db = NULL;
		if (rc == -LSM_ECORRUPT && !tried_apply && !c->flush_failed) {
			/*
			 * A damaged value: nothing was changed, and the damage is
			 * the readers' to meet (as -LSM_ECORRUPT), not a reason to
			 * stop every write. The file is not collected again.
			 */
			if (db->ngc_damaged <
			    (int)(sizeof(db->gc_damaged) / sizeof(db->gc_damaged[0])))
				db->gc_damaged[db->ngc_damaged++] = c->gc_file;
			else
				db->opts.blob_gc_ratio = 0; /* too much damage: collect no more */
			rc = 0;
		}
	}
	/*
	 * A full disk met while writing the outputs, before the edit: the
	 * inputs are all there and the outputs are gone, so nothing is lost
	 * and the db can stay writable. bg_main tries again later.
	 */
	c->retry = rc == -ENOSPC && !tried_apply && !c->flush_failed && !db->bg_error;
	if (!rc)
		lsm_db_count(&db->c.compactions, 1);
	lsm_edit_free(&e);
	/* Our reference would keep the inputs alive: they can go at once. */
	lsm_version_unref(c->v);
	c->v = NULL;
	if (!rc)
		lsm_db_delete_obsolete(db);
	return rc;
}

/* ---- table stats after recovery ---- */

/* Tables whose properties one pass reads, so other work is not held up long. */
#define STATS_PER_PASS 16

/* REQUIRES: db->mu held. Whether a live table's stats are still unknown. */
static int stats_missing(lsm_db *db)
{
	lsm_version *v = db->vs.current;
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		for (int i = 0; i < v->nfiles[l]; i++)
			if (!v->files[l][i]->has_stats)
				return 1;
	return 0;
}

/*
 * REQUIRES: db->mu held (released for the reads). Reads the entry and
 * deletion counts of up to STATS_PER_PASS live tables from their
 * properties: a recovered MANIFEST does not hold them.
 */
static void load_stats(lsm_db *db)
{
	lsm_file_meta *todo[STATS_PER_PASS];
	uint64_t entries[STATS_PER_PASS], deletions[STATS_PER_PASS];
	int ok[STATS_PER_PASS], n = 0;
	lsm_version *v = db->vs.current;
	for (int l = 0; l < LSM_MAX_LEVELS && n < STATS_PER_PASS; l++)
		for (int i = 0; i < v->nfiles[l] && n < STATS_PER_PASS; i++)
			if (!v->files[l][i]->has_stats)
				todo[n++] = v->files[l][i];
	lsm_version_ref(v); /* keeps the metas alive meanwhile */
	pthread_mutex_unlock(&db->mu);
	for (int i = 0; i < n; i++) {
		lsm_table *t;
		/* A table that cannot be read is reported by the reads that need it. */
		ok[i] = lsm_tcache_get(db->tcache, todo[i]->number, todo[i]->size, &t) ? -1 : 1;
		if (ok[i] == 1) {
			const lsm_table_props *p = lsm_table_get_props(t);
			entries[i] = p->entries;
			deletions[i] = p->deletions;
			lsm_table_unref(t);
		}
	}
	pthread_mutex_lock(&db->mu);
	for (int i = 0; i < n; i++) {
		todo[i]->has_stats = ok[i];
		if (ok[i] == 1) {
			todo[i]->entries = entries[i];
			todo[i]->deletions = deletions[i];
		}
	}
	lsm_version_unref(v);
}

/* ---- the thread ---- */

static uint64_t now_micros(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/*
 * REQUIRES: db->mu held. Work for a quiet db (see pick_tombstones): 1 if
 * there is some, with *c the compaction to run or NULL when the memtable
 * holding deletions should be switched out (and so flushed) first.
 */
/* A quiet db merges two levels when the lower one refers to this many times their bytes in values.
 */
#define IDLE_MERGE_VALUE_RATIO 8

static int idle_work(lsm_db *db, compaction **c)
{
	int level = 0;
	lsm_file_meta *f;
	*c = NULL;
	/* Even if it cannot be switched just now: nothing would wake us to look again. */
	if (db->mem_deletes || lsm_db_wal_worth_retiring(db))
		return 1;
	/*
	 * A reference in an older table stays live, for the accounting, until
	 * a compaction meets the newer one that hides it: with values in value
	 * files, a quiet db merges L0 down, and a level into the next when the
	 * values the next refers to outweigh both levels' tables many times
	 * over, so that overwritten values' space comes back without more
	 * writes. (References are small: merging them is cheap next to the
	 * value files it may free.)
	 */
	lsm_version *v = db->vs.current;
	if (db->opts.blob_threshold && db->nvfiles && v->nfiles[0]) {
		*c = compaction_new(db, 0, v->files[0], v->nfiles[0]);
		return *c != NULL;
	}
	for (int l = 1; db->opts.blob_threshold && db->nvfiles && l < LSM_MAX_LEVELS - 1; l++) {
		if (!v->nfiles[l] || !v->nfiles[l + 1])
			continue;
		uint64_t values = 0;
		for (int i = 0; i < v->nfiles[l + 1]; i++)
			for (int k = 0; k < v->files[l + 1][i]->nblobs; k++)
				values += v->files[l + 1][i]->blobs[k].bytes;
		uint64_t tables = lsm_version_level_bytes(v, l) + lsm_version_level_bytes(v, l + 1);
		if (values < IDLE_MERGE_VALUE_RATIO * tables)
			continue;
		*c = compaction_new(db, l, v->files[l], v->nfiles[l]);
		return *c != NULL;
	}
	f = pick_tombstones(db, 1, &level);
	if (!f)
		return 0;
	*c = tombstone_compaction(db, f, level);
	return *c != NULL;
}

/*
 * REQUIRES: db->mu held. A job that moves live values out of the value file
 * most worth emptying (lsm_db_blob_pick): the table at a level >= 1 that
 * holds most of them, rewritten in place, or, while L0 tables refer to the
 * file, an L0 compaction that moves them on the way down. L0 tables are not
 * rewritten where they are: a new table number would reorder L0.
 */
static compaction *pick_blob_gc(lsm_db *db)
{
	uint64_t file;
	if (!lsm_db_blob_pick(db, &file))
		return NULL;
	lsm_version *v = db->vs.current;
	lsm_file_meta *best = NULL;
	uint64_t best_bytes = 0;
	int best_level = 0, in_l0 = 0;
	for (int l = 0; l < LSM_MAX_LEVELS; l++) {
		for (int i = 0; i < v->nfiles[l]; i++) {
			const lsm_file_meta *m = v->files[l][i];
			for (int k = 0; k < m->nblobs; k++) {
				if (m->blobs[k].file != file)
					continue;
				if (l == 0)
					in_l0 = 1;
				else if (m->blobs[k].bytes > best_bytes) {
					best_bytes = m->blobs[k].bytes;
					best = v->files[l][i];
					best_level = l;
				}
			}
		}
	}
	compaction *c = NULL;
	if (in_l0) {
		c = compaction_new(db, 0, v->files[0], v->nfiles[0]);
	} else if (best) {
		c = compaction_alloc(db, best_level);
		if (c) {
			c->in[best_level] = copy_files(&best, 1);
			c->nin[best_level] = 1;
			if (!c->in[best_level]) {
				compaction_free(c);
				c = NULL;
			}
		}
	}
	if (c)
		c->gc_file = file;
	return c;
}

/* REQUIRES: db->mu held. Sleeps on bg_cv until woken or, with a deadline, until then. */
static void bg_wait(lsm_db *db, uint64_t deadline_us)
{
	struct timespec ts;
	if (!deadline_us) {
		pthread_cond_wait(&db->bg_cv, &db->mu);
		return;
	}
	ts.tv_sec = (time_t)(deadline_us / 1000000u);
	ts.tv_nsec = (long)(deadline_us % 1000000u) * 1000;
	pthread_cond_timedwait(&db->bg_cv, &db->mu, &ts); /* bg_cv runs on CLOCK_MONOTONIC */
}

/* REQUIRES: db->mu held. */
void lsm_db_bg_schedule(lsm_db *db)
{
	if (db->bg_started)
		pthread_cond_signal(&db->bg_cv);
}

/*
 * After a compaction met a full disk, automatic compactions wait before
 * trying again (flushes do not: the space reserve of the caller is there
 * for them); space may be freed meanwhile. The wait starts at
 * ENOSPC_RETRY_MICROS and doubles with each failure in a row, up to
 * ENOSPC_RETRY_MAX_MICROS, so that a disk that stays full is not read and
 * rewritten every second by a compaction that cannot fit.
 */
#define ENOSPC_RETRY_MICROS	(1000 * 1000)
#define ENOSPC_RETRY_MAX_MICROS (16 * 1000 * 1000)

/*
 * REQUIRES: db->mu held. A job failed: shutdown is not an error, a
 * compaction that met a full disk (c->retry) sets *retry_at and doubles
 * *wait, anything else is a background error.
 */
static void job_failed(lsm_db *db, const compaction *c, int rc, uint64_t *retry_at, uint64_t *wait)
{
	if (!rc || rc == ERR_SHUTDOWN)
		return;
	if (c && c->retry) {
		*retry_at = now_micros() + *wait;
		if (*wait < ENOSPC_RETRY_MAX_MICROS)
			*wait *= 2;
		db->compact_nospace = 1;
		/* The writes it stops say why; this thread's message will not last. */
		snprintf(db->nospace_errmsg, sizeof(db->nospace_errmsg), "%s",
			 *lsm_errmsg() ? lsm_errmsg() : lsm_strerror(rc));
	} else
		lsm_db_set_bg_error(db, rc);
}

static void *bg_main(void *arg)
{
	lsm_db *db = arg;
	uint64_t retry_at = 0; /* no automatic compaction before (0: none waiting) */
	uint64_t retry_wait = ENOSPC_RETRY_MICROS;
	pthread_mutex_lock(&db->mu);
	while (!shutting_down(db)) {
		compaction *c = NULL;
		lsm_manual *m = db->manual && !db->manual->done ? db->manual : NULL;
		int rc = 0, backoff = retry_at && now_micros() < retry_at;
		if (db->bg_error) {
			if (m) {
				m->rc = lsm_db_readonly_error(db);
				m->done = 1;
				pthread_cond_broadcast(&db->done_cv);
				continue;
			}
			pthread_cond_wait(&db->bg_cv, &db->mu);
			continue;
		}
		lsm_clearerr(); /* what this job fails with is its own message */
		if (db->nimm > 0) {
			rc = flush_oldest(db, 0);
		} else if (m) {
			c = pick_range(db, m);
			if (c)
				rc = run_compaction(db, c);
			m->rc = rc;
			m->done = 1;
		} else if (!backoff && (c = pick_auto(db)) != NULL) {
			rc = run_compaction(db, c);
		} else if (!backoff && (c = pick_blob_gc(db)) != NULL) {
			rc = run_compaction(db, c);
		} else if (db->obsolete_pending) {
			lsm_db_delete_obsolete(db);
		} else if (stats_missing(db)) {
			load_stats(db);
		} else if (backoff) {
			pthread_cond_broadcast(&db->done_cv);
			bg_wait(db, retry_at);
			continue;
		} else if (idle_work(db, &c)) {
			uint64_t now = now_micros();
			uint64_t quiet = db->last_write_us +
					 (db->reclaim_soon ? RECLAIM_MICROS : IDLE_MICROS);
			if (now < quiet || (!c && !lsm_db_can_switch_idle(db))) {
				compaction_free(c);
				pthread_cond_broadcast(&db->done_cv);
				bg_wait(db, now < quiet ? quiet : now + IDLE_MICROS);
				continue;
			}
			if (c)
				rc = run_compaction(db, c);
			else
				rc = lsm_db_switch_idle(db);
		} else {
			db->reclaim_soon = 0; /* nothing left to give back */
			pthread_cond_broadcast(&db->done_cv);
			bg_wait(db, 0);
			continue;
		}
		if (c && !rc) {
			retry_at = db->compact_nospace = 0;
			retry_wait = ENOSPC_RETRY_MICROS;
		}
		job_failed(db, c, rc, &retry_at, &retry_wait);
		compaction_free(c);
		pthread_cond_broadcast(&db->done_cv);
	}
	pthread_mutex_unlock(&db->mu);
	return NULL;
}

/* REQUIRES: db->mu held. */
int lsm_db_bg_start(lsm_db *db)
{
	int rc = pthread_create(&db->bg_thread, NULL, bg_main, db);
	if (rc)
		return lsm_seterr(-rc, "starting the background thread failed");
	db->bg_started = 1;
	return 0;
}

void lsm_db_bg_stop(lsm_db *db)
{
	pthread_mutex_lock(&db->mu);
	__atomic_store_n(&db->shutting_down, 1, __ATOMIC_RELEASE);
	int started = db->bg_started;
	pthread_cond_broadcast(&db->bg_cv);
	pthread_mutex_unlock(&db->mu);
	if (started)
		pthread_join(db->bg_thread, NULL);
	db->bg_started = 0;
}

int lsm_db_manual_compact(lsm_db *db, const lsm_slice *begin, const lsm_slice *end)
{
	lsm_manual m;
	int rc = 0;
	memset(&m, 0, sizeof(m));
	lsm_buf_init(&m.begin);
	lsm_buf_init(&m.end);
	if (begin) {
		m.has_begin = 1;
		rc = lsm_buf_append(&m.begin, begin->data, begin->len);
	}
	if (!rc && end) {
		m.has_end = 1;
		rc = lsm_buf_append(&m.end, end->data, end->len);
	}
	if (rc) {
		rc = lsm_seterr(rc, "compact range: out of memory");
		goto out;
	}
	pthread_mutex_lock(&db->mu);
	while (db->manual && !db->bg_error)
		pthread_cond_wait(&db->done_cv, &db->mu);
	if (db->bg_error) {
		rc = lsm_db_readonly_error(db);
	} else {
		db->manual = &m;
		pthread_cond_signal(&db->bg_cv);
		while (!m.done)
			pthread_cond_wait(&db->done_cv, &db->mu);
		db->manual = NULL;
		rc = m.rc;
		if (rc && db->bg_error)
			rc = lsm_db_readonly_error(db);
		pthread_cond_broadcast(&db->done_cv);
	}
	pthread_mutex_unlock(&db->mu);
out:
	lsm_buf_free(&m.begin);
	lsm_buf_free(&m.end);
	return rc;
}

int lsm_compact_range(lsm_db *db, const void *begin, size_t blen, const void *end, size_t elen)
{
	lsm_slice b = lsm_slice_of(begin, blen), e = lsm_slice_of(end, elen);
	if (db->read_only)
		return lsm_seterr(-LSM_EREADONLY, "%s was opened read-only", db->dir);
	int rc = lsm_flush(db);
	if (!rc)
		rc = lsm_db_manual_compact(db, begin ? &b : NULL, end ? &e : NULL);
	return rc;
}
