/*
 * lsm.h — liblsm, a log-structured merge-tree key-value engine.
 *
 * This header is the manual. Every function returns 0 on success or a
 * negative error code: either a negated errno value (-EIO, -ENOSPC,
 * -ENOMEM, -EINVAL, ...) or one of the negated LSM_E* codes below.
 * lsm_strerror() names any code; lsm_errmsg() gives the detailed message
 * (which file, which offset, what was expected) of the last failure in the
 * calling thread.
 *
 * Keys and values are byte strings of any content. Keys order bytewise
 * (memcmp, shorter first on a tie). Keys may be up to LSM_MAX_KEY bytes,
 * values up to LSM_MAX_VALUE bytes.
 *
 * Threads: an lsm_db may be used from any number of threads at once.
 * An lsm_batch or lsm_iter belongs to one thread at a time.
 */
#ifndef LSM_H
#define LSM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes beyond errno, returned negated (-LSM_ECORRUPT). */
enum {
	LSM_ECORRUPT = 10000, /* stored data failed a checksum or format check */
	LSM_EBUSY,	      /* the database is locked by another process */
	LSM_EREADONLY,	      /* a background error made the db read-only */
	LSM_ENOTDB,	      /* the directory holds no database */
	LSM_EEXIST,	      /* the database exists and error_if_exists was set */
	LSM_EVERSION,	      /* a file uses a format version this build does not know */
	/*
	 * 10006 is never returned: it once named "used after lsm_close()",
	 * which no code can detect (lsm_close frees the handle). It stays
	 * unused so that no value here ever changes meaning (ABI).
	 */
	LSM_ECODE_END = LSM_EVERSION + 2
};

/* lsm_get() and lsm_batch_get-style lookups return this when a key is absent. */
#define LSM_NOTFOUND 1

#define LSM_MAX_KEY   (64u * 1024u)
#define LSM_MAX_VALUE (256u * 1024u * 1024u)

typedef struct lsm_db lsm_db;
typedef struct lsm_batch lsm_batch;
typedef struct lsm_iter lsm_iter;
typedef struct lsm_snapshot lsm_snapshot;
typedef struct lsm_env lsm_env;

enum lsm_compression { LSM_COMPRESS_NONE = 0, LSM_COMPRESS_LZ4 = 1, LSM_COMPRESS_ZSTD = 2 };

typedef struct lsm_options {
	int create_if_missing;	  /* create the database if the directory holds none (default 1) */
	int error_if_exists;	  /* fail with -LSM_EEXIST if it already exists (default 0) */
	int paranoid_checks;	  /* verify every table's checksums at open and fail open on any WAL
				     damage, torn tail included (default 0) */
	int read_only;		  /* open without writing anything; writes give -LSM_EREADONLY */
	size_t memtable_bytes;	  /* a memtable turns immutable at this size (default 4 MiB) */
	size_t block_bytes;	  /* target uncompressed data block size (default 4 KiB) */
	size_t block_cache_bytes; /* block cache capacity (default 8 MiB; 0 disables) */
	int bloom_bits_per_key;	  /* 0 disables bloom filters (default 10) */
	int compression;	  /* enum lsm_compression (default none) */
	int max_open_tables;	  /* table cache bound, in open files (default 1000) */
	int l0_compaction_trigger;   /* L0 files that start a compaction (default 4) */
	int l0_slowdown_trigger;     /* L0 files at which each write is delayed 1 ms (default 8) */
	int l0_stop_trigger;	     /* L0 files at which writes wait for compaction (default 12) */
	int max_immutable_memtables; /* writes wait when this many await flush (default 2) */
	uint64_t level_base_bytes;   /* L1 size target (default 64 MiB) */
	int level_multiplier;	     /* each level is this many times the one above (default 10) */
	uint64_t target_file_bytes;  /* compaction output file size (default 8 MiB) */
	/*
	 * Value separation: a value of at least this many bytes is written to
	 * disk once, in the WAL, and tables keep only a small reference to it,
	 * so compaction never copies it (default 0: off). Reads, iterators,
	 * snapshots and batches behave the same either way. It trades reads
	 * for writes: measured from 256 B to 64 KiB values, writes ran 1.1 to
	 * 12 times as fast and wrote 2 to 5 times fewer bytes, but point reads
	 * and scans of a compacted db held in the page cache ran at 0.2 to 0.6
	 * of their speed (a pread per value instead of a block in memory); so
	 * it is off unless asked for. Write-heavy users of values of a few KiB
	 * and more want it (lsmfs sets 4 KiB). docs/BENCHMARKS.md has the run.
	 */
	size_t blob_threshold;
	/* With value separation on, a WAL is closed and a new one started past this size
	 * (default 64 MiB): the unit in which separated values' space comes back. */
	uint64_t blob_file_bytes;
	/*
	 * A value file whose dead bytes reach this share of its size has its
	 * live values moved to a new file in the background, and is then
	 * deleted (default 0.5; 0 never moves values: only files with no live
	 * value at all are deleted).
	 */
	double blob_gc_ratio;
	/* The pace of that moving, in bytes written per second (default 128 MiB; 0: unpaced). */
	uint64_t blob_gc_bytes_per_sec;
	lsm_env *env; /* file I/O; NULL means the POSIX env */
} lsm_options;

/* Fills *opts with the defaults documented above. */
void lsm_options_init(lsm_options *opts);

typedef struct lsm_write_options {
	int sync; /* 1: fsync the WAL before returning, so the write survives a power cut */
} lsm_write_options;

typedef struct lsm_read_options {
	const lsm_snapshot *snapshot; /* NULL: read the latest state */
	int verify_checksums;	      /* always on for blocks; kept for API symmetry */
	/*
	 * 1: lsm_get_into does not check a separated value against the
	 * checksum in its reference, because the caller checks the bytes
	 * itself (lsmfs compares each chunk with its SHA-256). A damaged
	 * value is then the caller's to catch. Default 0: checked.
	 */
	int caller_checks_values;
	int fill_cache; /* 0: do not insert blocks read into the cache (scans) */
} lsm_read_options;

/*
 * Opens (or creates) the database in directory dir. On success *dbp owns the
 * database until lsm_close(). opts may be NULL for the defaults.
 * Errors: -LSM_EBUSY (another process holds the LOCK; lsm_errmsg() names its
 * pid), -LSM_ENOTDB (no database and create_if_missing is 0), -LSM_EEXIST,
 * -LSM_ECORRUPT (a MANIFEST, CURRENT or WAL before its tail is damaged),
 * -LSM_EVERSION, or an I/O error.
 */
int lsm_open(lsm_db **dbp, const char *dir, const lsm_options *opts);

/*
 * Waits for background work, writes nothing new to disk that is not already
 * in the WAL, releases the LOCK and frees db. Every write acknowledged before
 * the call stays durable in the WAL. Returns the first background error, if
 * any was pending, and lsm_errmsg() then gives its message as recorded when
 * it happened (see lsm_background_error). db is freed in every case.
 *
 * Every iterator of db must be freed first (lsm_iter_free reaches into db);
 * snapshots not yet released are released here. No other thread may be in
 * a call on db, or make one after: db is freed memory then, which no error
 * code can report.
 */
int lsm_close(lsm_db *db);

/* Removes every file of the database in dir (and dir itself if then empty). */
int lsm_destroy(const char *dir, const lsm_options *opts);

/* Single-key writes; each is an atomic batch of one. wopts may be NULL (no sync). */
int lsm_put(lsm_db *db, const lsm_write_options *wopts, const void *key, size_t klen,
	    const void *val, size_t vlen);
int lsm_delete(lsm_db *db, const lsm_write_options *wopts, const void *key, size_t klen);

/*
 * Looks key up. On 0, *val is a malloc'd copy of the value (caller frees; a
 * NUL byte follows the value so text can be used directly) and *vlen its
 * length. Returns LSM_NOTFOUND (positive) if the key is absent, a negative
 * code on error (-LSM_ECORRUPT when a block on the way fails its checksum:
 * never a wrong value). ropts may be NULL.
 */
int lsm_get(lsm_db *db, const lsm_read_options *ropts, const void *key, size_t klen, void **val,
	    size_t *vlen);
/*
 * lsm_get into the caller's buffer buf of cap bytes: on 0 the value is in
 * buf[0..*vlen) (no NUL added). A separated value is read straight into
 * buf, with no copy. -ERANGE when the value is longer than cap (*vlen then
 * gives its length, buf holds nothing of it); otherwise the returns of
 * lsm_get. On an error buf may have been written.
 */
int lsm_get_into(lsm_db *db, const lsm_read_options *ropts, const void *key, size_t klen, void *buf,
		 size_t cap, size_t *vlen);
/*
 * Reads bytes [from, from + n) of key's value into buf: *got of them (fewer
 * when the value ends sooner, 0 when it ends before from), *vlen the whole
 * value's length. A separated value's bytes come with one read of just
 * that range, so they are NOT checked: its checksum covers the whole
 * value, and the caller must check what it reads (lsmfs keeps a checksum
 * per 4 KiB of a chunk). A value held in a table comes from a checked
 * block, as ever. Otherwise the returns of lsm_get.
 */
int lsm_get_part(lsm_db *db, const lsm_read_options *ropts, const void *key, size_t klen,
		 uint64_t from, void *buf, size_t n, size_t *got, size_t *vlen);

/* ---- write batches: applied all or nothing, in order ---- */

/* Creates an empty batch; returns NULL only when out of memory. */
lsm_batch *lsm_batch_new(void);
void lsm_batch_free(lsm_batch *b);
void lsm_batch_clear(lsm_batch *b);
/* Both copy key and value into the batch; -ENOMEM or -EINVAL (too long). */
int lsm_batch_put(lsm_batch *b, const void *key, size_t klen, const void *val, size_t vlen);
int lsm_batch_delete(lsm_batch *b, const void *key, size_t klen);
/* Number of operations in the batch. */
size_t lsm_batch_count(const lsm_batch *b);
/* Bytes the batch will occupy in the WAL. */
size_t lsm_batch_bytes(const lsm_batch *b);

/*
 * Applies the batch atomically: after a crash either all of it or none of it
 * is visible. With wopts->sync the WAL is fsync'd before return. Concurrent
 * writers are grouped: one thread writes all queued batches with one write()
 * and at most one fsync. The batch is not consumed. Errors: -LSM_EREADONLY
 * (a background error happened earlier; lsm_errmsg() says which), I/O errors.
 */
int lsm_write(lsm_db *db, const lsm_write_options *wopts, const lsm_batch *b);

/* ---- snapshots ---- */

/* A consistent read view of the current state; NULL on out of memory. */
const lsm_snapshot *lsm_snapshot_new(lsm_db *db);
void lsm_snapshot_release(lsm_db *db, const lsm_snapshot *snap);

/* ---- iterators ---- */

/*
 * Creates an iterator over a consistent view (the snapshot in ropts, or the
 * state at creation). The iterator starts unpositioned (not valid). It keeps
 * the files and memtables it reads alive until lsm_iter_free(). NULL on
 * out of memory.
 */
lsm_iter *lsm_iter_new(lsm_db *db, const lsm_read_options *ropts);
void lsm_iter_free(lsm_iter *it);
void lsm_iter_seek_first(lsm_iter *it);
void lsm_iter_seek_last(lsm_iter *it);
/* Positions at the first key >= key. */
void lsm_iter_seek(lsm_iter *it, const void *key, size_t klen);
/* Positions at the last key <= key. */
void lsm_iter_seek_for_prev(lsm_iter *it, const void *key, size_t klen);
void lsm_iter_next(lsm_iter *it);
void lsm_iter_prev(lsm_iter *it);
int lsm_iter_valid(const lsm_iter *it);
/* Valid until the iterator moves or is freed. Only when lsm_iter_valid(). */
const void *lsm_iter_key(const lsm_iter *it, size_t *klen);
/*
 * Same validity. A value kept apart (blob_threshold) is read from its file
 * here, not when the iterator moves, so a walk over keys alone never reads
 * it. If that read fails the result is NULL (*vlen 0) and the iterator
 * stops: it is no longer valid and lsm_iter_status() gives the error
 * (-LSM_ECORRUPT for damage, never a wrong value); lsm_iter_next and
 * lsm_iter_prev leave it so, so a loop that reads the value and then
 * steps simply ends.
 */
const void *lsm_iter_value(const lsm_iter *it, size_t *vlen);
/* 0, or the error that stopped the iterator (it is then not valid). */
int lsm_iter_status(const lsm_iter *it);

/* ---- maintenance ---- */

/* fsyncs the WAL: every write acknowledged so far survives a power cut. */
int lsm_sync(lsm_db *db);
/* Writes the memtable to an L0 table and waits for it. */
int lsm_flush(lsm_db *db);
/*
 * A hint: the writes just made deleted much data (a big file, say). The
 * background thread then gives the space back (flush, the merges that drop
 * the deleted values, the files they emptied) once writes pause for a
 * quarter of a second, instead of the 2 s an idle db otherwise waits.
 * Returns at once.
 */
void lsm_reclaim(lsm_db *db);
/*
 * Compacts every table overlapping [begin, end] down the levels and waits.
 * NULL begin/end means unbounded on that side.
 */
int lsm_compact_range(lsm_db *db, const void *begin, size_t blen, const void *end, size_t elen);

/*
 * Reads and checks every block of every live table, and the WAL. Each problem
 * is passed to report (file, offset, message) if it is non-NULL. Returns 0
 * when all is well, -LSM_ECORRUPT if any problem was found.
 */
typedef void (*lsm_verify_report_fn)(void *arg, const char *file, uint64_t offset, const char *msg);
int lsm_verify(lsm_db *db, lsm_verify_report_fn report, void *arg);

/* What kind of problem lsm_verify_problems found. */
enum lsm_verify_kind {
	/* Stored data is damaged: a checksum or format check failed, or a
	 * record does not parse. */
	LSM_VERIFY_CORRUPT = 1,
	/*
	 * A WAL ends in a record a crash cut short, with nothing valid after
	 * it. Not damage: the next read-write open drops it, as recovery
	 * always does (only a read-only open, which rewrites nothing, leaves
	 * one for verify to find).
	 */
	LSM_VERIFY_TORN_TAIL = 2,
	/* A file could not be checked: an I/O error, a missing file, no
	 * memory; code says which. */
	LSM_VERIFY_ERROR = 3,
};

/* One problem; the pointers are valid only during the callback. */
typedef struct lsm_verify_problem {
	int kind;	  /* enum lsm_verify_kind */
	int code;	  /* the negative error behind it (-LSM_ECORRUPT, -EIO, -ENOENT, ...) */
	const char *file; /* the file's path */
	uint64_t offset;  /* where in it (0 when the whole file is concerned) */
	const char *msg;  /* what is wrong, for people: never parse it */
} lsm_verify_problem;
typedef void (*lsm_verify_problem_fn)(void *arg, const lsm_verify_problem *p);

/*
 * lsm_verify, with each problem passed to fn (if non-NULL) with its kind, so
 * that a caller can tell a crash's torn WAL tail from damage without reading
 * the message. Same checks and return value as lsm_verify.
 */
int lsm_verify_problems(lsm_db *db, lsm_verify_problem_fn fn, void *arg);

#define LSM_MAX_LEVELS 7

typedef struct lsm_stats {
	uint64_t puts, deletes, gets, batches, syncs;
	uint64_t user_bytes_written; /* keys + values handed to writes */
	uint64_t wal_bytes_written;
	uint64_t flush_bytes_written;
	uint64_t compaction_bytes_read, compaction_bytes_written;
	uint64_t flushes, compactions;
	uint64_t stall_slowdowns, stall_stops; /* writes delayed / made to wait */
	uint64_t stall_micros;
	uint64_t block_cache_hits, block_cache_misses;
	uint64_t bloom_useful; /* table lookups a bloom filter answered "absent" */
	uint64_t memtable_bytes, immutable_memtables;
	/* Bytes of the WALs not flushed yet (the memtables'): with value separation
	 * the values written since the last flush are there. Also those flushed
	 * but not yet counted among the value files (blob_file_bytes) or deleted. */
	uint64_t log_bytes;
	uint64_t last_sequence;
	uint64_t live_bytes; /* sum of live table sizes */
	/* Separated values: value files kept, their bytes, the bytes tables still refer to. */
	uint64_t blob_files, blob_file_bytes, blob_live_bytes;
	/* Value files emptied by garbage collection, and the value bytes it read and wrote. */
	uint64_t blob_gc_runs, blob_gc_bytes_read, blob_gc_bytes_written;
	int level_files[LSM_MAX_LEVELS];
	uint64_t level_bytes[LSM_MAX_LEVELS];
	int background_error; /* 0, or the error that made the db read-only (its
				 message: lsm_background_error) */
} lsm_stats;

/* Fills *st with the current numbers. */
void lsm_stats_get(lsm_db *db, lsm_stats *st);
/* Writes a human-readable report into buf (always NUL-terminated); returns its length. */
size_t lsm_stats_text(lsm_db *db, char *buf, size_t buflen);

/* ---- errors ---- */

/* A short static name for any code this library returns ("corruption", "I/O error"). */
const char *lsm_strerror(int code);
/*
 * The detailed message of the last failure in the calling thread (file,
 * offset, expected vs found). Valid until the thread's next failing call.
 */
const char *lsm_errmsg(void);
/*
 * The background error that made db read-only (a failed flush or
 * compaction, say): 0 if there is none, else its negative code. Its
 * message (which file, what failed), recorded when it happened in the
 * thread where it happened, is copied into buf (NUL-terminated, never
 * empty after an error) unless buf is NULL or buflen 0. Callable from any
 * thread at any time before lsm_close; lsm_errmsg() plays no part.
 */
int lsm_background_error(lsm_db *db, char *buf, size_t buflen);

#ifdef __cplusplus
}
#endif
#endif /* LSM_H */
