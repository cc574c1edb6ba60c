/*
 * db.c — the database handle: options, open, the write path with group
 * commit, point reads, snapshots, sync, flush, stats, close and destroy.
 * Recovery (what lsm_open finds on disk) lives in db_recover.c, the
 * background thread in compact.c, iterators in db_iter.c, lsm_verify in
 * db_verify.c.
 *
 * Durability rule: after any crash the database holds a prefix of the
 * acknowledged writes and everything that was synced. Four things make
 * that hold across WAL files: a retired WAL is synced before any later one
 * is (lsm_db_sync_retired: so a synced write in WAL n+1 implies all of WAL
 * n survived; the switch itself does not wait for the sync, which the
 * flush of that WAL's memtable does in the background unless a synced
 * write needs it first), recovery stops at the first WAL with a torn tail
 * (what follows it was never synced), the directory is synced after a WAL
 * or table is created (so the file itself survives), and a WAL is deleted
 * only after the MANIFEST edit that moves log_number past it has been
 * synced.
 */
#include "db_impl.h"

#include "checksum.h"
#include "error.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)

/*
 * A group commit takes at most this much: enough to amortise one write()
 * and fsync over many small batches, small enough that the followers'
 * latency does not grow without bound.
 */
#define GROUP_MAX_BYTES (1 * MiB)
/* A small leader takes at most this much more, so one small write is not held up by a big group. */
#define GROUP_SMALL_EXTRA (128 * KiB)

void lsm_options_init(lsm_options *o)
{
	memset(o, 0, sizeof(*o));
	o->create_if_missing = 1;
	o->memtable_bytes = 4 * MiB;
	o->block_bytes = 4 * KiB;
	o->block_cache_bytes = 8 * MiB;
	o->bloom_bits_per_key = 10;
	o->compression = LSM_COMPRESS_NONE;
	o->max_open_tables = 1000;
	o->l0_compaction_trigger = 4;
	o->l0_slowdown_trigger = 8;
	o->l0_stop_trigger = 12;
	o->max_immutable_memtables = 2;
	o->level_base_bytes = 64 * MiB;
	o->level_multiplier = 10;
	o->target_file_bytes = 8 * MiB;
	o->blob_threshold = 0;
	o->blob_file_bytes = 64 * MiB;
	o->blob_gc_ratio = 0.5;
	o->blob_gc_bytes_per_sec = 128 * MiB;
	o->env = NULL;
}

/*
 * Zero in a size or count field means "the default" (a caller that
 * memset its options gets a working db); out-of-range values are clamped
 * so the engine's invariants (slowdown <= stop, at least one immutable
 * memtable) always hold.
 */
static int sanitize_options(lsm_options *o)
{
	lsm_options d;
	lsm_options_init(&d);
	if (!o->memtable_bytes)
		o->memtable_bytes = d.memtable_bytes;
	if (o->memtable_bytes < 4 * KiB)
		o->memtable_bytes = 4 * KiB;
	if (!o->block_bytes)
		o->block_bytes = d.block_bytes;
	if (o->block_bytes < 256)
		o->block_bytes = 256;
	if (o->block_bytes > 4 * MiB)
		o->block_bytes = 4 * MiB;
	if (o->bloom_bits_per_key < 0)
		o->bloom_bits_per_key = 0;
	if (o->compression < LSM_COMPRESS_NONE || o->compression > LSM_COMPRESS_ZSTD)
		return lsm_seterr(-EINVAL, "unknown compression method %d", o->compression);
	if (o->max_open_tables <= 0)
		o->max_open_tables = d.max_open_tables;
	if (o->l0_compaction_trigger <= 0)
		o->l0_compaction_trigger = d.l0_compaction_trigger;
	if (o->l0_slowdown_trigger <= 0)
		o->l0_slowdown_trigger = d.l0_slowdown_trigger;
	if (o->l0_slowdown_trigger < o->l0_compaction_trigger)
		o->l0_slowdown_trigger = o->l0_compaction_trigger;
	if (o->l0_stop_trigger <= 0)
		o->l0_stop_trigger = d.l0_stop_trigger;
	if (o->l0_stop_trigger < o->l0_slowdown_trigger)
		o->l0_stop_trigger = o->l0_slowdown_trigger;
	if (o->max_immutable_memtables <= 0)
		o->max_immutable_memtables = d.max_immutable_memtables;
	if (!o->level_base_bytes)
		o->level_base_bytes = d.level_base_bytes;
	if (o->level_base_bytes < 4 * KiB)
		o->level_base_bytes = 4 * KiB;
	if (o->level_multiplier < 2)
		o->level_multiplier = o->level_multiplier <= 0 ? d.level_multiplier : 2;
	if (!o->target_file_bytes)
		o->target_file_bytes = d.target_file_bytes;
	if (o->target_file_bytes < 4 * KiB)
		o->target_file_bytes = 4 * KiB;
	if (o->blob_threshold > LSM_MAX_VALUE)
		o->blob_threshold = LSM_MAX_VALUE;
	if (!o->blob_file_bytes)
		o->blob_file_bytes = d.blob_file_bytes;
	if (o->blob_file_bytes < 64 * KiB)
		o->blob_file_bytes = 64 * KiB;
	if (!(o->blob_gc_ratio >= 0)) /* NaN too */
		o->blob_gc_ratio = 0;
	if (o->blob_gc_ratio > 1)
		o->blob_gc_ratio = 1;
	return 0;
}

/* ---- read views ---- */

static void sv_free(lsm_sv *sv)
{
	lsm_memtable_unref(sv->mem);
	for (int i = 0; i < sv->nimm; i++)
		lsm_memtable_unref(sv->imm[i]);
	lsm_version_unref(sv->v);
	free(sv);
}

void lsm_db_sv_put(lsm_sv *sv)
{
	if (sv && __atomic_sub_fetch(&sv->refs, 1, __ATOMIC_ACQ_REL) == 0)
		sv_free(sv);
}

/* REQUIRES: db->mu not held. */
void lsm_db_sv_release(lsm_db *db, lsm_sv *sv)
{
	if (!sv || __atomic_sub_fetch(&sv->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	/*
	 * The last reader of a replaced view. If its version is no longer
	 * current, it may have been the last to hold the files a compaction
	 * retired: have them deleted now rather than after the next job. The
	 * extra reference lets us compare after the view is gone; it is
	 * dropped before the background thread can look (it needs db->mu).
	 */
	lsm_version *v = sv->v;
	lsm_version_ref(v);
	sv_free(sv);
	pthread_mutex_lock(&db->mu);
	if (v != db->vs.current && !db->read_only) {
		db->obsolete_pending = 1;
		lsm_db_bg_schedule(db);
	}
	lsm_version_unref(v);
	pthread_mutex_unlock(&db->mu);
}

/* REQUIRES: db->mu held. */
lsm_sv *lsm_db_sv_get(lsm_db *db)
{
	lsm_sv *sv = db->sv;
	__atomic_add_fetch(&sv->refs, 1, __ATOMIC_RELAXED);
	return sv;
}

/* REQUIRES: db->mu held. */
int lsm_db_install_sv(lsm_db *db)
{
	lsm_sv *sv = malloc(sizeof(*sv) + (size_t)db->nimm * sizeof(lsm_memtable *));
	if (!sv)
		return lsm_seterr(-ENOMEM, "installing a read view: out of memory");
	sv->refs = 1;
	sv->imm = (lsm_memtable **)(sv + 1);
	sv->nimm = db->nimm;
	sv->mem = db->mem;
	lsm_memtable_ref(sv->mem);
	for (int i = 0; i < db->nimm; i++) {
		sv->imm[i] = db->imm[db->nimm - 1 - i].mem; /* newest first */
		lsm_memtable_ref(sv->imm[i]);
	}
	sv->v = db->vs.current;
	lsm_version_ref(sv->v);
	lsm_sv *old = db->sv;
	db->sv = sv;
	lsm_db_sv_put(old);
	return 0;
}

/* ---- background errors ---- */

/* REQUIRES: db->mu held. */
void lsm_db_set_bg_error(lsm_db *db, int rc)
{
	assert(rc < 0);
	if (db->bg_error)
		return;
	db->bg_error = rc;
	/*
	 * The failing call left its detail in this thread's message, which is
	 * gone once the thread fails again: keep a copy with the code. A call
	 * that recorded none still gets a message that is not empty.
	 */
	const char *msg = lsm_errmsg();
	if (*msg)
		snprintf(db->bg_errmsg, sizeof(db->bg_errmsg), "%s", msg);
	else
		snprintf(db->bg_errmsg, sizeof(db->bg_errmsg), "%s (no detail recorded)",
			 lsm_strerror(rc));
	pthread_cond_broadcast(&db->done_cv);
}

int lsm_background_error(lsm_db *db, char *buf, size_t buflen)
{
	pthread_mutex_lock(&db->mu);
	int rc = db->bg_error;
	if (buf && buflen)
		snprintf(buf, buflen, "%s", rc ? db->bg_errmsg : "");
	pthread_mutex_unlock(&db->mu);
	return rc;
}

/* REQUIRES: db->mu held. */
int lsm_db_readonly_error(lsm_db *db)
{
	return lsm_seterr(-LSM_EREADONLY, "%s is read-only after a background error: %s: %s",
			  db->dir, lsm_strerror(db->bg_error), db->bg_errmsg);
}

/* REQUIRES: db->mu held. */
uint64_t lsm_db_smallest_snapshot(lsm_db *db)
{
	if (db->snapshots.next != &db->snapshots)
		return db->snapshots.next->seq;
	return lsm_db_last_seq(db);
}

/* REQUIRES: db->mu held. Reserves room to track one more version. */
static int reserve_version_slot(lsm_db *db)
{
	if (db->nversions < db->cap_versions)
		return 0;
	int cap = db->cap_versions ? 2 * db->cap_versions : 8;
	lsm_version **nv = realloc(db->versions, (size_t)cap * sizeof(*nv));
	if (!nv)
		return lsm_seterr(-ENOMEM, "tracking versions: out of memory");
	db->versions = nv;
	db->cap_versions = cap;
	return 0;
}

/* REQUIRES: db->mu held. */
int lsm_db_apply_edit(lsm_db *db, lsm_version_edit *e)
{
	/* Room first: a version we could not track might lose its files under a reader. */
	int rc = reserve_version_slot(db);
	if (rc)
		return rc;
	if (!e->has_last_seq) {
		e->has_last_seq = 1;
		e->last_seq = lsm_db_last_seq(db);
	}
	rc = lsm_vset_log_and_apply(&db->vs, e);
	if (rc)
		return rc;
	lsm_version_ref(db->vs.current);
	db->versions[db->nversions++] = db->vs.current;
	/* Recovery applies edits before there is a memtable; lsm_open installs the first view. */
	if (!db->mem)
		return 0;
	return lsm_db_install_sv(db);
}

/* REQUIRES: db->mu held. */
int lsm_db_new_file_number(lsm_db *db, uint64_t *number)
{
	int rc = 0;
	if (db->vs.next_file >= db->vs.file_limit) {
		/* An edit of counters only: log_and_apply moves NEXT_FILE ahead. */
		lsm_version_edit e;
		lsm_edit_init(&e);
		rc = lsm_db_apply_edit(db, &e);
		lsm_edit_free(&e);
		if (rc)
			lsm_db_set_bg_error(db, rc); /* the MANIFEST's end is unknown now */
	}
	if (!rc) {
		assert(db->vs.next_file < db->vs.file_limit);
		*number = db->vs.next_file++;
	}
	return rc;
}

/* ---- the write queue ---- */

void lsm_db_writer_enter(lsm_db *db, lsm_writer *w)
{
	pthread_cond_init(&w->cv, NULL);
	w->done = 0;
	w->rc = 0;
	w->next = NULL;
	pthread_mutex_lock(&db->mu);
	if (db->wq_tail)
		db->wq_tail->next = w;
	else
		db->wq_head = w;
	db->wq_tail = w;
	while (!w->done && db->wq_head != w)
		pthread_cond_wait(&w->cv, &db->mu);
}

/*
 * REQUIRES: db->mu held, leader at the head of the queue. Pops every
 * writer from leader to last (inclusive), hands each its result and wakes
 * the next leader.
 */
static void finish_group(lsm_db *db, lsm_writer *leader, lsm_writer *last, int rc)
{
	assert(db->wq_head == leader);
	for (;;) {
		lsm_writer *w = db->wq_head;
		db->wq_head = w->next;
		if (!db->wq_head)
			db->wq_tail = NULL;
		if (w != leader) {
			w->rc = rc;
			w->done = 1;
			pthread_cond_signal(&w->cv);
		}
		if (w == last)
			break;
	}
	if (db->wq_head)
		pthread_cond_signal(&db->wq_head->cv);
}

/* REQUIRES: db->mu held, w leads. */
void lsm_db_writer_leave(lsm_db *db, lsm_writer *w)
{
	finish_group(db, w, w, 0);
}

/* ---- switching memtables ---- */

/* REQUIRES: db->mu held. */
int lsm_db_reserve_imm_slot(lsm_db *db)
{
	if (db->nimm < db->cap_imm)
		return 0;
	int cap = db->cap_imm ? 2 * db->cap_imm : 4;
	lsm_imm *ni = realloc(db->imm, (size_t)cap * sizeof(*ni));
	if (!ni)
		return lsm_seterr(-ENOMEM, "switching memtables: out of memory");
	db->imm = ni;
	db->cap_imm = cap;
	return 0;
}

/*
 * REQUIRES: db->mu held. Moves mem (whose WAL is log_number) to the
 * immutable list; wal, if not NULL, is that WAL's writer, not yet synced,
 * which the list now owns.
 */
void lsm_db_push_imm(lsm_db *db, lsm_memtable *mem, uint64_t log_number, lsm_wal_writer *wal)
{
	assert(db->nimm < db->cap_imm);
	db->imm[db->nimm].mem = mem;
	db->imm[db->nimm].log_number = log_number;
	db->imm[db->nimm].wal = wal;
	db->imm[db->nimm].log_bytes = db->wal_bytes;
	db->imm[db->nimm].id = db->imm_next_id++;
	db->nimm++;
	__atomic_store_n(&db->imm_pending, db->nimm, __ATOMIC_RELEASE);
}

/*
 * REQUIRES: db->mu held, the caller leads the write queue. Starts a new WAL
 * and memtable and hands the old memtable to the background thread.
 */
static int switch_memtable(lsm_db *db)
{
	lsm_wal_writer *nw = NULL;
	char *path = NULL;
	lsm_memtable *nm = lsm_memtable_new();
	int rc = lsm_db_reserve_imm_slot(db);
	if (!rc && !nm)
		rc = lsm_seterr(-ENOMEM, "switching memtables: out of memory");
	if (rc)
		goto out;
	uint64_t number;
	rc = lsm_db_new_file_number(db, &number);
	if (rc)
		goto out;
	path = lsm_log_filename(db->dir, number);
	if (!path) {
		rc = lsm_seterr(-ENOMEM, "switching memtables: out of memory");
		goto out;
	}
	lsm_wal_writer *old = db->wal;
	pthread_mutex_unlock(&db->mu);
	/*
	 * The old WAL is not synced here (a stall of its whole size for every
	 * writer): it goes with its memtable, and the flush or the next synced
	 * write syncs it (lsm_db_sync_retired).
	 */
	rc = lsm_wal_writer_open(db->env, path, &nw);
	if (!rc)
		rc = db->env->sync_dir(db->env, db->dir);
	pthread_mutex_lock(&db->mu);
	if (rc) {
		lsm_db_set_bg_error(db, rc);
		goto out;
	}
	lsm_db_push_imm(db, db->mem, db->wal_number, old);
	db->mem = nm;
	nm = NULL;
	db->wal = nw;
	nw = NULL;
	db->wal_number = number;
	db->wal_bytes = 0;
	db->mem_fill = 0;
	db->mem_deletes = 0;
	rc = lsm_db_install_sv(db);
	if (rc)
		lsm_db_set_bg_error(db, rc); /* readers would not see the new memtable */
	lsm_db_bg_schedule(db);
out:
	if (nw) {
		lsm_wal_writer_close(nw);
		db->env->unlink(db->env, path);
	}
	if (nm)
		lsm_memtable_unref(nm);
	free(path);
	return rc;
}

static uint64_t now_micros(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* REQUIRES: db->mu held. */
int lsm_db_wal_worth_retiring(lsm_db *db)
{
	return db->opts.blob_threshold && db->wal && lsm_wal_size(db->wal) >= IDLE_RETIRE_WAL_BYTES;
}

/* REQUIRES: db->mu held. */
int lsm_db_can_switch_idle(lsm_db *db)
{
	/*
	 * Only with the write queue empty: the background thread must never
	 * wait behind a writer that may itself be waiting for it. And only
	 * when switching cannot stall (make_room would wait for a flush).
	 */
	return (db->mem_deletes || lsm_db_wal_worth_retiring(db)) && !db->wq_head &&
	       !db->bg_error && db->nimm < db->opts.max_immutable_memtables &&
	       db->vs.current->nfiles[0] < db->opts.l0_stop_trigger;
}

/* REQUIRES: db->mu held. The oldest immutable memtable below below_id whose WAL is unsynced. */
static lsm_imm *unsynced_retired(lsm_db *db, uint64_t below_id)
{
	for (int i = 0; i < db->nimm && db->imm[i].id < below_id; i++)
		if (db->imm[i].wal)
			return &db->imm[i];
	return NULL;
}

int lsm_db_sync_retired(lsm_db *db, uint64_t below_id)
{
	int rc = 0;
	if (!unsynced_retired(db, below_id))
		return 0;
	/* Lock order: retire_mu, then mu. An entry with a WAL is not removed without retire_mu. */
	pthread_mutex_unlock(&db->mu);
	pthread_mutex_lock(&db->retire_mu);
	pthread_mutex_lock(&db->mu);
	lsm_imm *im;
	while (!rc && (im = unsynced_retired(db, below_id)) != NULL) {
		lsm_wal_writer *w = im->wal;
		uint64_t id = im->id;
		pthread_mutex_unlock(&db->mu);
		rc = lsm_wal_sync(w);
		pthread_mutex_lock(&db->mu);
		if (rc)
			break;
		lsm_db_count(&db->c.syncs, 1);
		for (int i = 0; i < db->nimm; i++)
			if (db->imm[i].id == id)
				db->imm[i].wal = NULL;
		lsm_wal_writer_close(w);
	}
	pthread_mutex_unlock(&db->retire_mu);
	return rc;
}

/* REQUIRES: db->mu held, by the background thread, lsm_db_can_switch_idle(db). */
int lsm_db_switch_idle(lsm_db *db)
{
	lsm_writer w = {.batch = NULL};
	int rc;
	assert(lsm_db_can_switch_idle(db));
	/* Lead the empty queue; writers that come meanwhile wait behind us, never we for them. */
	pthread_cond_init(&w.cv, NULL);
	db->wq_head = db->wq_tail = &w;
	rc = switch_memtable(db);
	lsm_db_writer_leave(db, &w);
	pthread_cond_destroy(&w.cv);
	return rc;
}

/*
 * REQUIRES: db->mu held, the caller leads the write queue. Makes sure the
 * active memtable has room (or, with force, switches it anyway), delaying
 * or stopping the write while L0 or the immutable list is too long.
 */
/*
 * With value separation the memtable holds references only, so the WAL,
 * which holds the values, can outgrow it many times: it is cut at
 * blob_file_bytes, the size of a value file.
 */
static int wal_full(lsm_db *db)
{
	return db->opts.blob_threshold && db->wal &&
	       lsm_wal_size(db->wal) >= db->opts.blob_file_bytes;
}

static int make_room(lsm_db *db, int force)
{
	int allow_delay = !force, stopped = 0;
	for (;;) {
		if (db->bg_error)
			return lsm_db_readonly_error(db);
		int l0 = db->vs.current->nfiles[0];
		if (allow_delay && l0 >= db->opts.l0_slowdown_trigger) {
			/*
			 * Spread the slowdown over many writes: 1 ms each lets
			 * compaction catch up before the hard stop, instead of
			 * one write waiting seconds.
			 */
			pthread_mutex_unlock(&db->mu);
			usleep(1000);
			pthread_mutex_lock(&db->mu);
			allow_delay = 0;
			lsm_db_count(&db->c.stall_slowdowns, 1);
			lsm_db_count(&db->c.stall_micros, 1000);
			continue;
		}
		if (!force && db->mem_fill < db->opts.memtable_bytes && !wal_full(db))
			return 0;
		if (l0 >= db->opts.l0_stop_trigger && db->compact_nospace)
			return lsm_seterr(-ENOSPC,
					  "%s: writes stopped at %d L0 tables, and compacting "
					  "them needs more space than is free: %s",
					  db->dir, l0, db->nospace_errmsg);
		if (db->nimm >= db->opts.max_immutable_memtables ||
		    l0 >= db->opts.l0_stop_trigger) {
			uint64_t t0 = now_micros();
			if (!stopped++)
				lsm_db_count(&db->c.stall_stops, 1); /* writes, not waits */
			lsm_db_bg_schedule(db);
			pthread_cond_wait(&db->done_cv, &db->mu);
			lsm_db_count(&db->c.stall_micros, now_micros() - t0);
			continue;
		}
		return switch_memtable(db);
	}
}

/* ---- the write path ---- */

int lsm_db_insert_one(void *arg, uint64_t seq, int type, lsm_slice key, lsm_slice val)
{
	lsm_insert_ctx *ctx = arg;
	if (type == LSM_TYPE_VALUE)
		ctx->puts++;
	else
		ctx->deletes++;
	if (type == LSM_TYPE_VALUE && ctx->blob_threshold && val.len >= ctx->blob_threshold) {
		/* The value stays where the WAL wrote it; the memtable gets its address. */
		uint8_t enc[LSM_BLOB_REF_MAX];
		lsm_blob_ref ref = {
			.file = ctx->log,
			.offset = lsm_blob_payload_offset(ctx->header,
							  (uint64_t)(val.data - ctx->rep)),
			.len = val.len,
			.checksum = lsm_checksum(val.data, val.len),
		};
		size_t n = lsm_blob_ref_encode(&ref, enc);
		ctx->separated += val.len;
		ctx->ref_bytes += n;
		return lsm_memtable_add(ctx->mem, seq, LSM_TYPE_BLOB, key, lsm_slice_of(enc, n));
	}
	return lsm_memtable_add(ctx->mem, seq, type, key, val);
}

/*
 * REQUIRES: db->mu held, leader at the head of the queue. Merges the
 * leader's batch with those queued behind it, logs them as one WAL record
 * (one write, at most one sync), and inserts them into the memtable. db->mu
 * is released for the I/O; *last gets the last writer served.
 */
static int write_group(lsm_db *db, lsm_writer *leader, lsm_writer **last)
{
	lsm_batch *g = db->group;
	size_t first = lsm_batch_bytes(leader->batch);
	size_t max = first <= GROUP_SMALL_EXTRA ? first + GROUP_SMALL_EXTRA : GROUP_MAX_BYTES;
	size_t total = 0;
	uint64_t user_bytes = 0;
	int sync = 0, rc = 0;

	lsm_batch_clear(g);
	for (lsm_writer *w = leader; w && w->batch; w = w->next) {
		size_t n = lsm_batch_bytes(w->batch);
		if (w != leader && total + n > max)
			break;
		*last = w;
		rc = lsm_batch_append(g, w->batch);
		if (rc)
			return rc; /* nothing logged yet: the group simply fails */
		total += n;
		sync |= w->sync;
		user_bytes += w->batch->user_bytes;
	}
	/* Prefix rule: older WALs are durable before this one is synced. */
	if (sync) {
		rc = lsm_db_sync_retired(db, UINT64_MAX);
		if (rc) {
			lsm_db_set_bg_error(db, rc);
			return rc;
		}
	}

	uint64_t seq = db->vs.last_seq + 1;
	uint64_t count = lsm_batch_count(g);
	lsm_batch_set_seq(g, seq);
	lsm_wal_writer *wal = db->wal;
	lsm_slice rep = lsm_batch_rep(g);
	uint64_t before = lsm_wal_size(wal);
	lsm_insert_ctx ctx = {
		.mem = db->mem,
		.blob_threshold = db->opts.blob_threshold,
		.log = db->wal_number,
		.header = lsm_wal_next_header(before),
		.rep = rep.data,
	};
	pthread_mutex_unlock(&db->mu);

	rc = lsm_wal_add_records(wal, &rep, 1);
	lsm_db_count(&db->c.wal_bytes_written, lsm_wal_size(wal) - before);
	if (!rc && sync) {
		rc = lsm_wal_sync(wal);
		lsm_db_count(&db->c.syncs, 1);
	}
	if (!rc)
		rc = lsm_batch_iterate(rep, lsm_db_insert_one, &ctx);

	pthread_mutex_lock(&db->mu);
	if (rc) {
		/* The WAL may hold part of the group: nothing more may be appended. */
		lsm_db_set_bg_error(db, rc);
	} else {
		/* Readers take last_seq under db->mu or with an acquire load. */
		__atomic_store_n(&db->vs.last_seq, seq + count - 1, __ATOMIC_RELEASE);
		db->mem_fill += lsm_db_fill_after(rep, count, &ctx);
		/* A first deletion is idle work for the background thread: it sets a timer. */
		if (ctx.deletes && !db->mem_deletes)
			lsm_db_bg_schedule(db);
		db->mem_deletes += ctx.deletes;
		db->last_write_us = now_micros();
		db->wal_bytes = lsm_wal_size(wal);
		lsm_db_count(&db->c.puts, ctx.puts);
		lsm_db_count(&db->c.deletes, ctx.deletes);
		lsm_db_count(&db->c.user_bytes_written, user_bytes);
	}
	/* A huge batch should not pin its buffer for the life of the db. */
	if (g->rep.cap > 4 * MiB) {
		lsm_batch *fresh = lsm_batch_new();
		if (fresh) {
			lsm_batch_free(g);
			db->group = fresh;
		}
	}
	return rc;
}

int lsm_write(lsm_db *db, const lsm_write_options *wopts, const lsm_batch *b)
{
	if (!db || !b)
		return lsm_seterr(-EINVAL, "lsm_write: NULL argument");
	if (db->read_only)
		return lsm_seterr(-LSM_EREADONLY, "%s was opened read-only", db->dir);
	if (lsm_batch_count(b) == 0)
		return 0;
	lsm_db_count(&db->c.batches, 1);

	lsm_writer w = {.batch = b, .sync = wopts && wopts->sync};
	lsm_writer *last = &w;
	int rc;
	lsm_db_writer_enter(db, &w);
	if (w.done) {
		rc = w.rc;
		/* The leader's message is in its thread; give this one its own. */
		if (rc == -LSM_EREADONLY && db->bg_error)
			rc = lsm_db_readonly_error(db);
		else if (rc < 0)
			rc = lsm_seterr(rc, "%s: group write failed: %s", db->dir,
					db->bg_error ? db->bg_errmsg : lsm_strerror(rc));
		pthread_mutex_unlock(&db->mu);
		goto out;
	}
	rc = make_room(db, 0);
	if (!rc)
		rc = write_group(db, &w, &last);
	finish_group(db, &w, last, rc);
	pthread_mutex_unlock(&db->mu);
out:
	pthread_cond_destroy(&w.cv);
	return rc;
}

int lsm_put(lsm_db *db, const lsm_write_options *wopts, const void *key, size_t klen,
	    const void *val, size_t vlen)
{
	lsm_batch *b = lsm_batch_new();
	if (!b)
		return lsm_seterr(-ENOMEM, "lsm_put: out of memory");
	int rc = lsm_batch_put(b, key, klen, val, vlen);
	if (!rc)
		rc = lsm_write(db, wopts, b);
	lsm_batch_free(b);
	return rc;
}

int lsm_delete(lsm_db *db, const lsm_write_options *wopts, const void *key, size_t klen)
{
	lsm_batch *b = lsm_batch_new();
	if (!b)
		return lsm_seterr(-ENOMEM, "lsm_delete: out of memory");
	int rc = lsm_batch_delete(b, key, klen);
	if (!rc)
		rc = lsm_write(db, wopts, b);
	lsm_batch_free(b);
	return rc;
}

/* ---- snapshots ---- */

const lsm_snapshot *lsm_snapshot_new(lsm_db *db)
{
	lsm_snapshot *s = malloc(sizeof(*s));
	if (!s)
		return NULL;
	pthread_mutex_lock(&db->mu);
	s->seq = lsm_db_last_seq(db);
	/* Newest at the tail: sequence numbers only grow, so the list stays sorted. */
	s->next = &db->snapshots;
	s->prev = db->snapshots.prev;
	s->prev->next = s;
	db->snapshots.prev = s;
	pthread_mutex_unlock(&db->mu);
	return s;
}

void lsm_snapshot_release(lsm_db *db, const lsm_snapshot *snap)
{
	if (!snap)
		return;
	lsm_snapshot *s = (lsm_snapshot *)snap;
	pthread_mutex_lock(&db->mu);
	/* The oldest one held deletions back from compaction (compact.c): they may go now. */
	if (s->prev == &db->snapshots && db->snap_held_back) {
		db->snap_held_back = 0;
		lsm_db_bg_schedule(db);
	}
	s->prev->next = s->next;
	s->next->prev = s->prev;
	pthread_mutex_unlock(&db->mu);
	free(s);
}

/* ---- sync and flush ---- */

void lsm_reclaim(lsm_db *db)
{
	if (db->read_only)
		return;
	pthread_mutex_lock(&db->mu);
	db->reclaim_soon = 1;
	lsm_db_bg_schedule(db);
	pthread_mutex_unlock(&db->mu);
}

int lsm_sync(lsm_db *db)
{
	if (db->read_only)
		return 0; /* nothing unsynced can exist */
	lsm_writer w = {.batch = NULL};
	int rc = 0;
	lsm_db_writer_enter(db, &w);
	if (db->bg_error) {
		rc = lsm_db_readonly_error(db);
	} else {
		/* As leader we own the WAL; no one else writes it meanwhile. */
		lsm_wal_writer *wal = db->wal;
		rc = lsm_db_sync_retired(db, UINT64_MAX);
		if (!rc) {
			pthread_mutex_unlock(&db->mu);
			rc = lsm_wal_sync(wal);
			lsm_db_count(&db->c.syncs, 1);
			pthread_mutex_lock(&db->mu);
		}
		if (rc)
			lsm_db_set_bg_error(db, rc);
	}
	lsm_db_writer_leave(db, &w);
	pthread_mutex_unlock(&db->mu);
	pthread_cond_destroy(&w.cv);
	return rc;
}

int lsm_flush(lsm_db *db)
{
	if (db->read_only)
		return lsm_seterr(-LSM_EREADONLY, "%s was opened read-only", db->dir);
	lsm_writer w = {.batch = NULL};
	int rc = 0;
	lsm_db_writer_enter(db, &w);
	if (db->bg_error)
		rc = lsm_db_readonly_error(db);
	else if (lsm_memtable_count(db->mem) > 0)
		rc = make_room(db, 1);
	/* Wait for the memtable just switched and every older one. */
	uint64_t target = db->imm_next_id;
	lsm_db_writer_leave(db, &w);
	while (!rc && db->flushed_id < target) {
		if (db->bg_error) {
			rc = lsm_db_readonly_error(db);
			break;
		}
		lsm_db_bg_schedule(db);
		pthread_cond_wait(&db->done_cv, &db->mu);
	}
	pthread_mutex_unlock(&db->mu);
	pthread_cond_destroy(&w.cv);
	return rc;
}

static void db_free(lsm_db *db)
{
	if (db->sv)
		lsm_db_sv_put(db->sv);
	if (db->wal)
		lsm_wal_writer_close(db->wal);
	if (db->mem)
		lsm_memtable_unref(db->mem);
	for (int i = 0; i < db->nimm; i++) {
		lsm_memtable_unref(db->imm[i].mem);
		lsm_wal_writer_close(db->imm[i].wal); /* unsynced, as the active one: replayed */
	}
	free(db->imm);
	for (int i = 0; i < db->nversions; i++)
		lsm_version_unref(db->versions[i]);
	free(db->versions);
	free(db->pending);
	free(db->vfiles);
	lsm_vset_destroy(&db->vs);
	if (db->tcache)
		lsm_tcache_free(db->tcache);
	if (db->blob_files)
		lsm_blob_files_free(db->blob_files);
	if (db->block_cache)
		lsm_cache_free(db->block_cache);
	if (db->group)
		lsm_batch_free(db->group);
	for (int i = 0; i < LSM_MAX_LEVELS; i++)
		lsm_buf_free(&db->compact_ptr[i]);
	while (db->snapshots.next != &db->snapshots) {
		lsm_snapshot *s = db->snapshots.next;
		db->snapshots.next = s->next;
		free(s);
	}
	if (db->lock)
		db->env->unlock_file(db->env, db->lock);
	pthread_cond_destroy(&db->bg_cv);
	pthread_cond_destroy(&db->done_cv);
	pthread_mutex_destroy(&db->mu);
	pthread_mutex_destroy(&db->retire_mu);
	free(db->dir);
	free(db);
}

static int take_lock(lsm_db *db)
{
	pid_t holder = 0;
	char *path = NULL;
	if (asprintf(&path, "%s/LOCK", db->dir) < 0)
		return lsm_seterr(-ENOMEM, "open: out of memory");
	/* A read-only open changes no file: not even the pid in LOCK, where the env can. */
	int rc = db->read_only && db->env->lock_file_ro
			 ? db->env->lock_file_ro(db->env, path, &db->lock, &holder)
			 : db->env->lock_file(db->env, path, &db->lock, &holder);
	if (rc == -LSM_EBUSY && holder)
		rc = lsm_seterr(-LSM_EBUSY, "database %s is in use by process %ld (%s is locked)",
				db->dir, (long)holder, path);
	else if (rc == -LSM_EBUSY)
		rc = lsm_seterr(-LSM_EBUSY,
				"database %s is in use by another process (%s is locked; a "
				"read-only open records no pid)",
				db->dir, path);
	free(path);
	return rc;
}

int lsm_open(lsm_db **dbp, const char *dir, const lsm_options *opts)
{
	lsm_db *db;
	int rc;

	*dbp = NULL;
	if (!dir)
		return lsm_seterr(-EINVAL, "lsm_open: NULL directory");
	db = calloc(1, sizeof(*db));
	if (!db)
		return lsm_seterr(-ENOMEM, "lsm_open: out of memory");
	if (opts)
		db->opts = *opts;
	else
		lsm_options_init(&db->opts);
	pthread_mutex_init(&db->mu, NULL);
	pthread_mutex_init(&db->retire_mu, NULL);
	/* The background thread sleeps until a deadline on the monotonic clock. */
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&db->bg_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&db->done_cv, NULL);
	db->last_write_us = now_micros();
	db->snapshots.next = db->snapshots.prev = &db->snapshots;
	for (int i = 0; i < LSM_MAX_LEVELS; i++)
		lsm_buf_init(&db->compact_ptr[i]);
	db->env = db->opts.env ? db->opts.env : lsm_env_posix();
	db->opts.env = db->env;
	db->read_only = db->opts.read_only;
	db->dir = strdup(dir);
	db->group = lsm_batch_new();
	if (!db->dir || !db->group) {
		rc = lsm_seterr(-ENOMEM, "lsm_open: out of memory");
		goto fail;
	}
	rc = sanitize_options(&db->opts);
	if (rc)
		goto fail;

	rc = db->env->exists(db->env, dir);
	if (rc == -ENOENT) {
		if (!db->opts.create_if_missing || db->read_only) {
			rc = lsm_seterr(-LSM_ENOTDB, "%s does not exist", dir);
			goto fail;
		}
		rc = db->env->mkdir(db->env, dir, 0755);
	}
	if (rc)
		goto fail;
	if (!db->opts.create_if_missing || db->read_only) {
		/* Refuse a directory without a database before the LOCK file is created in it. */
		char *cur = NULL;
		if (asprintf(&cur, "%s/CURRENT", dir) < 0) {
			rc = lsm_seterr(-ENOMEM, "lsm_open: out of memory");
			goto fail;
		}
		rc = db->env->exists(db->env, cur);
		free(cur);
		if (rc == -ENOENT)
			rc = lsm_seterr(-LSM_ENOTDB, "%s holds no database (no CURRENT file)", dir);
		if (rc)
			goto fail;
	}
	rc = take_lock(db);
	if (rc)
		goto fail;

	if (db->opts.block_cache_bytes) {
		db->block_cache = lsm_cache_new(db->opts.block_cache_bytes);
		if (!db->block_cache) {
			rc = lsm_seterr(-ENOMEM, "lsm_open: out of memory");
			goto fail;
		}
	}
	db->tcache = lsm_tcache_new(db->env, dir, db->opts.max_open_tables, db->block_cache);
	/* Value files are large (blob_file_bytes), so few open ones cover much data. */
	db->blob_files = lsm_blob_files_new(
		db->env, dir, db->opts.max_open_tables < 256 ? db->opts.max_open_tables : 256);
	if (!db->tcache || !db->blob_files) {
		rc = lsm_seterr(-ENOMEM, "lsm_open: out of memory");
		goto fail;
	}

	pthread_mutex_lock(&db->mu);
	rc = lsm_db_recover(db);
	if (!rc && !db->sv)
		rc = lsm_db_install_sv(db);
	if (!rc && !db->read_only)
		rc = lsm_db_bg_start(db);
	if (!rc && !db->read_only)
		lsm_db_bg_schedule(db);
	pthread_mutex_unlock(&db->mu);
	if (rc)
		goto fail;
	*dbp = db;
	return 0;
fail:
	db_free(db);
	return rc;
}

int lsm_close(lsm_db *db)
{
	char msg[1024];
	if (!db)
		return 0;
	lsm_db_bg_stop(db);
	/* The background thread is gone: nothing changes bg_error any more. */
	int rc = db->bg_error;
	if (rc)
		snprintf(msg, sizeof(msg), "%s: background error: %s", db->dir, db->bg_errmsg);
	db_free(db);
	/* Set last: what db_free closes may record messages of its own. */
	if (rc)
		lsm_seterr(rc, "%s", msg);
	return rc;
}

int lsm_destroy(const char *dir, const lsm_options *opts)
{
	lsm_env *env = opts && opts->env ? opts->env : lsm_env_posix();
	lsm_file *lock = NULL;
	char **names = NULL;
	size_t count = 0;
	char *lockpath = NULL;
	pid_t holder = 0;
	int rc = env->exists(env, dir);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	if (asprintf(&lockpath, "%s/LOCK", dir) < 0)
		return lsm_seterr(-ENOMEM, "lsm_destroy: out of memory");
	rc = env->lock_file(env, lockpath, &lock, &holder);
	if (rc == -LSM_EBUSY)
		rc = lsm_seterr(-LSM_EBUSY, "database %s is in use by process %ld", dir,
				(long)holder);
	if (rc)
		goto out;
	rc = env->list_dir(env, dir, &names, &count);
	if (rc)
		goto out;
	for (size_t i = 0; i < count; i++) {
		uint64_t num;
		enum lsm_file_kind k = lsm_parse_filename(names[i], &num);
		if (k == LSM_FILE_OTHER || k == LSM_FILE_LOCK)
			continue;
		char *p = NULL;
		if (asprintf(&p, "%s/%s", dir, names[i]) < 0) {
			rc = lsm_seterr(-ENOMEM, "lsm_destroy: out of memory");
			goto out;
		}
		int r = env->unlink(env, p);
		if (r && !rc)
			rc = r;
		free(p);
	}
out:
	if (lock) {
		env->unlock_file(env, lock);
		if (!rc)
			rc = env->unlink(env, lockpath);
		if (!rc)
			env->rmdir(env, dir); /* fails, harmlessly, if other files remain */
	}
	lsm_env_free_names(names, count);
	free(lockpath);
	return rc;
}

/* ---- stats ---- */

static uint64_t ld(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

void lsm_stats_get(lsm_db *db, lsm_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->puts = ld(&db->c.puts);
	st->deletes = ld(&db->c.deletes);
	st->gets = ld(&db->c.gets);
	st->batches = ld(&db->c.batches);
	st->syncs = ld(&db->c.syncs);
	st->user_bytes_written = ld(&db->c.user_bytes_written);
	st->wal_bytes_written = ld(&db->c.wal_bytes_written);
	st->flush_bytes_written = ld(&db->c.flush_bytes_written);
	st->compaction_bytes_read = ld(&db->c.compaction_bytes_read);
	st->compaction_bytes_written = ld(&db->c.compaction_bytes_written);
	st->flushes = ld(&db->c.flushes);
	st->compactions = ld(&db->c.compactions);
	st->stall_slowdowns = ld(&db->c.stall_slowdowns);
	st->stall_stops = ld(&db->c.stall_stops);
	st->stall_micros = ld(&db->c.stall_micros);
	st->bloom_useful = ld(&db->c.bloom_useful);
	st->blob_gc_runs = ld(&db->c.blob_gc_runs);
	st->blob_gc_bytes_read = ld(&db->c.blob_gc_bytes_read);
	st->blob_gc_bytes_written = ld(&db->c.blob_gc_bytes_written);

	pthread_mutex_lock(&db->mu);
	lsm_version *v = db->vs.current;
	lsm_version_ref(v);
	st->memtable_bytes = lsm_memtable_bytes(db->mem);
	for (int i = 0; i < db->nimm; i++)
		st->memtable_bytes += lsm_memtable_bytes(db->imm[i].mem);
	st->immutable_memtables = (uint64_t)db->nimm;
	st->log_bytes = db->wal_bytes + db->unlisted_log_bytes;
	for (int i = 0; i < db->nimm; i++)
		st->log_bytes += db->imm[i].log_bytes;
	st->last_sequence = lsm_db_last_seq(db);
	st->background_error = db->bg_error;
	lsm_db_blob_stats(db, &st->blob_files, &st->blob_file_bytes, &st->blob_live_bytes);
	pthread_mutex_unlock(&db->mu);

	lsm_tcache_retired_stats(db->tcache, &st->block_cache_hits, &st->block_cache_misses);
	for (int level = 0; level < LSM_MAX_LEVELS; level++) {
		st->level_files[level] = v->nfiles[level];
		st->level_bytes[level] = lsm_version_level_bytes(v, level);
		st->live_bytes += st->level_bytes[level];
		for (int i = 0; i < v->nfiles[level]; i++) {
			uint64_t h, m;
			lsm_tcache_open_stats(db->tcache, v->files[level][i]->number, &h, &m);
			st->block_cache_hits += h;
			st->block_cache_misses += m;
		}
	}
	lsm_version_unref(v);
}

/* snprintf that keeps appending while there is room and counts what it wrote. */
static void put_text(char *buf, size_t buflen, size_t *pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void put_text(char *buf, size_t buflen, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	if (*pos >= buflen)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *pos, buflen - *pos, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	*pos += (size_t)n;
	if (*pos >= buflen)
		*pos = buflen - 1;
}

size_t lsm_stats_text(lsm_db *db, char *buf, size_t buflen)
{
	lsm_stats st;
	size_t pos = 0;
	if (!buflen)
		return 0;
	buf[0] = 0;
	lsm_stats_get(db, &st);
	uint64_t written = st.wal_bytes_written + st.flush_bytes_written +
			   st.compaction_bytes_written + st.blob_gc_bytes_written;
	double wamp = st.user_bytes_written ? (double)written / (double)st.user_bytes_written : 0;
	put_text(buf, buflen, &pos, "level  files        bytes\n");
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		put_text(buf, buflen, &pos, "L%-5d %5d %12" PRIu64 "\n", l, st.level_files[l],
			 st.level_bytes[l]);
	put_text(buf, buflen, &pos,
		 "live bytes: %" PRIu64 "\nmemtables: %" PRIu64 " bytes, %" PRIu64
		 " immutable; their WALs: %" PRIu64 " bytes\nlast sequence: %" PRIu64 "\n",
		 st.live_bytes, st.memtable_bytes, st.immutable_memtables, st.log_bytes,
		 st.last_sequence);
	put_text(buf, buflen, &pos,
		 "writes: %" PRIu64 " puts, %" PRIu64 " deletes, %" PRIu64 " batches, %" PRIu64
		 " syncs; gets: %" PRIu64 "\n",
		 st.puts, st.deletes, st.batches, st.syncs, st.gets);
	put_text(buf, buflen, &pos,
		 "bytes written: user %" PRIu64 ", wal %" PRIu64 ", flush %" PRIu64
		 ", compaction %" PRIu64 " (read %" PRIu64 ")\nwrite amplification: %.2f\n",
		 st.user_bytes_written, st.wal_bytes_written, st.flush_bytes_written,
		 st.compaction_bytes_written, st.compaction_bytes_read, wamp);
	put_text(buf, buflen, &pos,
		 "flushes: %" PRIu64 ", compactions: %" PRIu64 "\nstalls: %" PRIu64
		 " slowdowns, %" PRIu64 " stops, %" PRIu64 " us\n",
		 st.flushes, st.compactions, st.stall_slowdowns, st.stall_stops, st.stall_micros);
	put_text(buf, buflen, &pos,
		 "block cache: %" PRIu64 " hits, %" PRIu64 " misses; bloom filter useful: %" PRIu64
		 "\n",
		 st.block_cache_hits, st.block_cache_misses, st.bloom_useful);
	put_text(buf, buflen, &pos,
		 "value files: %" PRIu64 ", %" PRIu64 " bytes: %" PRIu64 " live, %" PRIu64
		 " dead\nblob gc: %" PRIu64 " runs, %" PRIu64 " bytes read, %" PRIu64 " written\n",
		 st.blob_files, st.blob_file_bytes, st.blob_live_bytes,
		 st.blob_file_bytes > st.blob_live_bytes ? st.blob_file_bytes - st.blob_live_bytes
							 : 0,
		 st.blob_gc_runs, st.blob_gc_bytes_read, st.blob_gc_bytes_written);
	char why[sizeof(db->bg_errmsg)];
	int bg = lsm_background_error(db, why, sizeof(why));
	if (bg)
		put_text(buf, buflen, &pos, "background error: %s: %s\n", lsm_strerror(bg), why);
	return pos;
}
