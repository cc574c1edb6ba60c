/*
 * db_impl.h — the inside of an lsm_db, shared by db.c (open, writes,
 * reads), db_recover.c (recovery at open), db_iter.c (iterators), compact.c
 * (the background thread) and db_verify.c.
 *
 * Locking: one mutex, db->mu, protects the db's mutable state. It is never
 * held across WAL or table I/O except inside lsm_vset_log_and_apply (a
 * MANIFEST append and sync), which needs it to install the new version.
 * Only the front writer of the write queue (the "leader") touches the WAL
 * and inserts into the active memtable, and it does so with db->mu
 * released; every other writer waits on its own condition variable.
 * Only the background thread (or lsm_open before it starts) builds tables
 * and deletes files. Version edits come from it too, with one exception:
 * the write leader may log an edit of counters only, to cover the number of
 * a new WAL (lsm_db_new_file_number); db->mu serialises all edits.
 */
#ifndef LSM_DB_IMPL_H
#define LSM_DB_IMPL_H

#include "batch_internal.h"
#include "blob.h"
#include "cache.h"
#include "env.h"
#include "lsm.h"
#include "memtable.h"
#include "tcache.h"
#include "version.h"
#include "wal.h"

#include <pthread.h>
#include <stdint.h>

/*
 * The read view: the active memtable, the immutable ones and the version,
 * each referenced. A new one is installed (under db->mu) whenever any of
 * them changes, so a reader takes one reference under the lock and then
 * reads with no lock at all.
 */
typedef struct lsm_sv {
	int refs;	    /* atomic */
	lsm_memtable *mem;  /* active memtable when the view was made */
	lsm_memtable **imm; /* immutable memtables, newest first */
	int nimm;	    /* entries in imm */
	lsm_version *v;	    /* the current version */
} lsm_sv;

/* One lsm_write (or flush, or verify) waiting in the write queue. */
typedef struct lsm_writer {
	const lsm_batch *batch; /* NULL: not a write, the caller only wants to lead */
	int sync;
	int done; /* set by the leader that wrote this batch; protected by db->mu */
	int rc;	  /* the result, valid once done */
	pthread_cond_t cv;
	struct lsm_writer *next;
} lsm_writer;

struct lsm_snapshot {
	uint64_t seq;
	struct lsm_snapshot *prev, *next; /* db->snapshots list, oldest first; db->mu */
};

/* An immutable memtable waiting to be flushed, and the WAL that holds its data. */
typedef struct lsm_imm {
	lsm_memtable *mem;
	uint64_t log_number;
	uint64_t id; /* increasing, so lsm_flush can wait for "its" memtable */
	/*
	 * Its WAL, still open because it has not been synced since the switch
	 * (NULL once it has: lsm_db_sync_retired). Changes under db->mu with
	 * db->retire_mu held too.
	 */
	lsm_wal_writer *wal;
	uint64_t log_bytes; /* the size of its WAL */
} lsm_imm;

/* A lsm_compact_range request handed to the background thread. */
typedef struct lsm_manual {
	int has_begin, has_end;
	lsm_buf begin, end; /* user keys */
	int done;	    /* protected by db->mu */
	int rc;
} lsm_manual;

/* A value file the db keeps: a retired WAL or a .blob file (blob_gc.c). */
typedef struct lsm_vfile {
	uint64_t number;
	uint64_t size;
} lsm_vfile;

/* Counters kept with atomic adds; lsm_stats_get reads them. */
typedef struct lsm_counters {
	uint64_t puts, deletes, gets, batches, syncs;
	uint64_t user_bytes_written, wal_bytes_written, flush_bytes_written;
	uint64_t compaction_bytes_read, compaction_bytes_written;
	uint64_t flushes, compactions;
	uint64_t stall_slowdowns, stall_stops, stall_micros;
	uint64_t bloom_useful;
	uint64_t blob_gc_runs, blob_gc_bytes_read, blob_gc_bytes_written;
} lsm_counters;

struct lsm_db {
	/* Immutable after open. */
	char *dir;
	lsm_options opts; /* sanitised copy; vs.opts points here */
	lsm_env *env;
	lsm_file *lock;
	lsm_cache *block_cache; /* NULL when block_cache_bytes is 0 */
	lsm_tcache *tcache;
	lsm_blob_files *blob_files; /* open value files, for reading separated values */
	int read_only;

	pthread_mutex_t mu;
	/* Serialises syncing and closing retired WALs (lsm_db_sync_retired); taken before mu. */
	pthread_mutex_t retire_mu;
	pthread_cond_t bg_cv;	/* wakes the background thread; db->mu */
	pthread_cond_t done_cv; /* background progress: flush, compaction, error; db->mu */

	lsm_version_set vs; /* current and next_file: db->mu; last_seq: atomic */

	/* The active memtable and its WAL. The pointers change under db->mu,
	 * only by the leader; the leader uses them without the lock. */
	lsm_memtable *mem;
	lsm_wal_writer *wal; /* NULL when read-only */
	uint64_t wal_number;
	uint64_t wal_bytes; /* the active WAL's size as of the last write; db->mu */
	/*
	 * Bytes the entries in mem take, estimated from their encoding: the
	 * arena's usage moves in 64 KiB blocks, too coarse to honour a small
	 * memtable_bytes. Leader only.
	 */
	uint64_t mem_fill;
	/* Deletions in mem, so an idle db flushes them out (compact.c). db->mu. */
	uint64_t mem_deletes;
	/* CLOCK_MONOTONIC microseconds of the last write, or of open. db->mu. */
	uint64_t last_write_us;
	/* lsm_reclaim asked: idle work starts after a short quiet wait. db->mu. */
	int reclaim_soon;

	/* Immutable memtables, oldest first. db->mu. */
	lsm_imm *imm;
	int nimm, cap_imm;
	int imm_pending;      /* atomic copy of nimm for the compaction loop's polls */
	uint64_t imm_next_id; /* id the next immutable memtable gets */
	uint64_t flushed_id;  /* every immutable with id < this has been flushed */

	lsm_sv *sv; /* the current read view, db->mu */

	/* Write queue, FIFO; the head is the leader. db->mu. */
	lsm_writer *wq_head, *wq_tail;
	lsm_batch *group; /* the leader's merge buffer */

	lsm_snapshot snapshots; /* list head (sentinel); db->mu */
	/*
	 * Background work ran or was skipped while a snapshot held entries
	 * back: releasing the oldest snapshot wakes the background thread
	 * only then (not on every point read's snapshot). db->mu.
	 */
	int snap_held_back;

	/*
	 * Every version the db has made current, each holding one reference,
	 * so obsolete-file deletion can see every file a reader may still
	 * read. Pruned when only our reference is left. db->mu.
	 */
	lsm_version **versions;
	int nversions, cap_versions;

	/* Table numbers being written by flush or compaction. db->mu. */
	uint64_t *pending;
	int npending, cap_pending;

	/* Where the next round-robin compaction of each level starts (internal key). bg thread. */
	lsm_buf compact_ptr[LSM_MAX_LEVELS];

	/*
	 * The value files on disk, sorted by number, with their sizes: made
	 * anew by lsm_db_delete_obsolete from the directory. Written by the
	 * background thread with db->mu held; read under db->mu.
	 */
	lsm_vfile *vfiles;
	int nvfiles;
	/*
	 * Bytes of the WALs flushed since vfiles was last made (db->mu): still
	 * on disk, as value files or until deleted, but in neither the
	 * immutable list nor vfiles, so lsm_stats counts them with log_bytes.
	 */
	uint64_t unlisted_log_bytes;
	/*
	 * Value files collection met damage in: not picked again (until the
	 * next open), so one bad value neither stops the db nor loops the
	 * collector. Reads of that value still fail as they should. db->mu.
	 */
	uint64_t gc_damaged[16];
	int ngc_damaged;

	/* A table that reads searched in vain too often (lsm_db_charge_seek): compact it. db->mu.
	 */
	uint64_t seek_file;
	int seek_level;

	lsm_manual *manual; /* db->mu */
	/* A reader dropped an old version: obsolete files may be deletable. db->mu. */
	int obsolete_pending;

	pthread_t bg_thread;
	int bg_started;
	int shutting_down; /* atomic; set by lsm_close */
	int bg_error;	   /* first background error, 0 if none; db->mu */
	/*
	 * Its message, copied when it happened from the failing thread's
	 * lsm_errmsg(): other threads, and lsm_close, read it from here. db->mu.
	 */
	char bg_errmsg[512];
	/*
	 * The last compaction met a full disk and waits to be retried: a write
	 * stopped behind it gets -ENOSPC rather than wait for space, and the
	 * compaction's message, kept in nospace_errmsg. Both db->mu.
	 */
	int compact_nospace;
	char nospace_errmsg[512];

	lsm_counters c;
};

/* ---- db.c ---- */

/* REQUIRES: db->mu held. Makes a new read view from mem, imm and current. */
int lsm_db_install_sv(lsm_db *db);
/* REQUIRES: db->mu held. References the current read view. */
lsm_sv *lsm_db_sv_get(lsm_db *db);
void lsm_db_sv_put(lsm_sv *sv);
/*
 * REQUIRES: db->mu not held. A reader's lsm_db_sv_put: when it drops the
 * last reference to a view whose version is no longer current, it has the
 * background thread delete the files no version holds any more.
 */
void lsm_db_sv_release(lsm_db *db, lsm_sv *sv);
/*
 * REQUIRES: db->mu held. Applies e via the version set, tracks the new
 * version and installs a new read view.
 */
int lsm_db_apply_edit(lsm_db *db, lsm_version_edit *e);
/*
 * REQUIRES: db->mu held. Hands out the number of a file about to be created.
 * The MANIFEST covers it first: when the last logged NEXT_FILE is used up,
 * an edit moving it on is logged (db->mu stays held across that I/O), so no
 * file is ever numbered past what the MANIFEST records, and recovery can
 * take one that is as proof of lost edits. A failure is a background error.
 */
int lsm_db_new_file_number(lsm_db *db, uint64_t *number);
/*
 * REQUIRES: db->mu not held. A read searched table f (at level) in vain and
 * went on to another: counts it down, and when it has cost more than its
 * compaction would, asks the background thread to compact it.
 */
void lsm_db_charge_seek(lsm_db *db, lsm_file_meta *f, int level);
/* REQUIRES: db->mu held. Records the first background error (db turns read-only). */
void lsm_db_set_bg_error(lsm_db *db, int rc);
/* REQUIRES: db->mu held. The error later writes get, naming the background error. */
int lsm_db_readonly_error(lsm_db *db);
/* REQUIRES: db->mu held. Sequence number below which no snapshot can see a difference. */
uint64_t lsm_db_smallest_snapshot(lsm_db *db);
/*
 * REQUIRES: db->mu held. Whether the background thread may switch out the
 * active memtable, to flush the deletions it holds, without waiting for
 * anything (no writer queued, room for another immutable memtable).
 */
int lsm_db_can_switch_idle(lsm_db *db);
/*
 * With value separation, an idle db also switches out a memtable whose WAL
 * holds this much: only a retired WAL's dead values are counted and
 * collected, so without it the space of the last overwrites before a pause
 * would stay until more writes came.
 */
#define IDLE_RETIRE_WAL_BYTES (UINT64_C(1) << 20)
/* REQUIRES: db->mu held. Whether the active WAL is worth retiring when the db is idle. */
int lsm_db_wal_worth_retiring(lsm_db *db);
/* REQUIRES: db->mu held, background thread, lsm_db_can_switch_idle(). Errors are bg errors. */
/*
 * REQUIRES: db->mu held; released during the I/O and retaken. Syncs and
 * closes the retired WALs of the immutable memtables with id < below_id,
 * oldest first, so that every byte written before them is durable: what a
 * flush needs before its table may refer to values in that WAL, and what a
 * synced write needs before its own WAL is synced (the prefix rule, db.c).
 */
int lsm_db_sync_retired(lsm_db *db, uint64_t below_id);
int lsm_db_switch_idle(lsm_db *db);
/*
 * Waits to become the leader of the write queue (returns with db->mu held)
 * and leaves it again, waking the next writer.
 */
void lsm_db_writer_enter(lsm_db *db, lsm_writer *w);
void lsm_db_writer_leave(lsm_db *db, lsm_writer *w);

/* REQUIRES: db->mu held. Makes room in db->imm for one more immutable memtable. */
int lsm_db_reserve_imm_slot(lsm_db *db);
/*
 * REQUIRES: db->mu held, lsm_db_reserve_imm_slot() succeeded. Moves mem (whose
 * WAL is log_number, 0 for none) to the immutable list; wal, if not NULL, is
 * that WAL's writer, not synced since its last write, which the list now owns.
 */
void lsm_db_push_imm(lsm_db *db, lsm_memtable *mem, uint64_t log_number, lsm_wal_writer *wal);

/*
 * What lsm_db_insert_one inserts into, and the puts and deletes it counted.
 * With blob_threshold set, a value at least that long is inserted as a
 * reference to where it lies in the WAL: rep is the batch as logged, whose
 * first fragment header is at offset header of WAL number log.
 */
typedef struct lsm_insert_ctx {
	lsm_memtable *mem;
	uint64_t puts, deletes;
	size_t blob_threshold; /* 0: every value goes into the memtable */
	uint64_t log, header;
	const uint8_t *rep;
	uint64_t separated; /* value bytes replaced by references */
	uint64_t ref_bytes; /* bytes of those references */
} lsm_insert_ctx;
/* A lsm_batch_iterate callback: adds one entry to ((lsm_insert_ctx *)arg)->mem. */
int lsm_db_insert_one(void *arg, uint64_t seq, int type, lsm_slice key, lsm_slice val);

/* What an entry costs in a memtable beyond its key and value: node, tower, trailer, varints. */
#define LSM_DB_ENTRY_OVERHEAD 40

/* The memtable bytes a batch of count entries, encoded as rep, will take (db->mem_fill). */
static inline uint64_t lsm_db_fill_of(lsm_slice rep, uint64_t count)
{
	return rep.len + count * LSM_DB_ENTRY_OVERHEAD;
}
/* The same for a batch whose separated values went in as references (ctx after the insert). */
static inline uint64_t lsm_db_fill_after(lsm_slice rep, uint64_t count, const lsm_insert_ctx *ctx)
{
	return lsm_db_fill_of(rep, count) - ctx->separated + ctx->ref_bytes;
}

static inline uint64_t lsm_db_last_seq(lsm_db *db)
{
	return __atomic_load_n(&db->vs.last_seq, __ATOMIC_ACQUIRE);
}

static inline void lsm_db_count(uint64_t *counter, uint64_t n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

/* ---- db_recover.c ---- */

/*
 * REQUIRES: db->mu held (the db is not shared yet). Recovers the db in
 * db->dir (or creates it, as the options allow): reads the MANIFEST, checks
 * the directory against it, replays the WALs it has not retired and, unless
 * read-only, writes them to a table and starts a fresh WAL (read-only, the
 * replay stays in memtables). 0 or a negative error, with lsm_seterr's
 * message set; corruption is -LSM_ECORRUPT.
 */
int lsm_db_recover(lsm_db *db);

/* ---- compact.c ---- */

int lsm_db_bg_start(lsm_db *db);
/* Stops the background thread after its current job. REQUIRES: db->mu not held. */
void lsm_db_bg_stop(lsm_db *db);
/* REQUIRES: db->mu held. Wakes the background thread if it has work. */
void lsm_db_bg_schedule(lsm_db *db);
/*
 * Writes every entry of m to a new table at level 0 and records it in e
 * (nothing is recorded for an empty memtable). Adds its number to the
 * pending outputs while it is built. REQUIRES: db->mu held (released
 * during the I/O).
 */
int lsm_db_write_l0(lsm_db *db, lsm_memtable *m, lsm_version_edit *e);
/*
 * obsolete.c: deletes WALs, tables, MANIFESTs and temporary files no longer needed.
 * REQUIRES: db->mu held (released while it lists and unlinks).
 */
void lsm_db_delete_obsolete(lsm_db *db);
/* Runs a lsm_compact_range compaction through the background thread and waits. */
int lsm_db_manual_compact(lsm_db *db, const lsm_slice *begin, const lsm_slice *end);
void lsm_db_table_options(const lsm_db *db, lsm_table_options *to);

/* ---- blob_gc.c ---- */

/* Sums the BLOB_USE entries of v's tables per value file (sorted). -ENOMEM. */
int lsm_db_blob_live(const lsm_version *v, lsm_blob_uses *live);
/* REQUIRES: db->mu held. Value files kept, their bytes, and the bytes the current version uses. */
void lsm_db_blob_stats(lsm_db *db, uint64_t *files, uint64_t *file_bytes, uint64_t *live_bytes);
/*
 * REQUIRES: db->mu held. The value file most worth emptying: the one with
 * the most garbage among those whose garbage is at least blob_gc_ratio of
 * their size and that still hold a live byte. 1 with *file set, or 0.
 */
int lsm_db_blob_pick(lsm_db *db, uint64_t *file);

/* Moves the live values of one value file into a new .blob file, reference by reference. */
typedef struct lsm_relocator {
	lsm_db *db;
	uint64_t from;	 /* the value file being emptied */
	uint64_t number; /* the .blob file being written (created at the first move) */
	char *path;
	lsm_wal_writer *w;
	uint64_t bytes_read, bytes_written;
	uint64_t start_us; /* when the first value moved: blob_gc_bytes_per_sec paces from it */
	lsm_buf val;
} lsm_relocator;

void lsm_relocator_init(lsm_relocator *r, lsm_db *db, uint64_t from, uint64_t number);
/*
 * REQUIRES: db->mu not held. For the blob reference enc: if it points into
 * r->from, reads and checks the value, appends it to the new file and
 * writes the new reference to out (LSM_BLOB_REF_MAX bytes, *outlen its
 * length); otherwise sets *outlen to 0. Sleeps as the rate limit asks.
 */
int lsm_relocator_move(lsm_relocator *r, lsm_slice enc, uint8_t *out, size_t *outlen);
/* Makes the new file and its directory entry durable (before an edit refers to it). */
int lsm_relocator_finish(lsm_relocator *r);
/* Closes; with discard also removes the new file. */
void lsm_relocator_free(lsm_relocator *r, int discard);

/* ---- db_iter.c ---- */

/*
 * Concatenates the tables files[0..n) (sorted, disjoint, all of one level
 * >= 1 of version v), opening each lazily through the table cache. Holds a
 * reference on v until destroyed. NULL on out of memory.
 */
lsm_it *lsm_db_level_iter(lsm_db *db, lsm_version *v, lsm_file_meta **files, int n, int fill_cache);
/* One table's iterator through the table cache (an error iterator if it cannot open). */
lsm_it *lsm_db_table_iter(lsm_db *db, const lsm_file_meta *f, int fill_cache);

#endif
