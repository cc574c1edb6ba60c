/*
 * version.h — which table files make up the database, level by level, and
 * the MANIFEST that records every change to that set.
 *
 * A version is an immutable snapshot of the file set; readers and
 * iterators hold a reference to the version they started on, so a
 * compaction can install a new one without waiting for them. Each change is
 * a version edit, appended to the MANIFEST (records in the WAL format of
 * wal.h) and synced before it takes effect. CURRENT names the live MANIFEST
 * and is switched by atomic rename. Edit encoding: see version.c.
 *
 * File names in the db directory:
 *   NNNNNN.log  write-ahead logs (kept as value files while tables refer to them)
 *   NNNNNN.sst  tables                NNNNNN.blob values moved by garbage collection
 *   MANIFEST-NNNNNN, CURRENT, LOCK
 */
#ifndef LSM_VERSION_H
#define LSM_VERSION_H

#include "blob_use.h"
#include "buf.h"
#include "dbformat.h"
#include "env.h"
#include "lsm.h"

#include <pthread.h>
#include <stdint.h>

typedef struct lsm_file_meta {
	int refs; /* versions holding it; atomic */
	uint64_t number;
	uint64_t size;
	uint64_t smallest_seq, largest_seq;
	lsm_buf smallest;    /* internal key */
	lsm_buf largest;     /* internal key */
	int being_compacted; /* protected by the db mutex */
	/*
	 * From the table's properties, for deletion-triggered compaction:
	 * valid when has_stats is 1. Set when the table is written, or (for
	 * tables named by a recovered MANIFEST, which does not store them)
	 * loaded by the background thread; -1 when they could not be read.
	 * Once the meta is in a version only the background thread touches
	 * them, with the db mutex held.
	 */
	int has_stats;
	uint64_t entries, deletions;
	/*
	 * The value files this table's blob references point into, and how
	 * many value bytes in each (blob.h); sorted by file, immutable once
	 * the meta is in an edit. Logged in the MANIFEST with the table.
	 */
	lsm_blob_use *blobs;
	int nblobs;
	/*
	 * Reads that searched this table in vain before finding their key
	 * deeper may still pass before it is compacted for them (atomic;
	 * lsm_file_allowed_seeks() when the meta is made, then counted down).
	 */
	int64_t allowed_seeks;
} lsm_file_meta;

/*
 * A search that misses a table and goes on to the next costs about as much
 * as compacting 16 KiB of it (one random read against merging ~16 KiB,
 * the estimate LevelDB's seek compaction rests on): once a table has cost
 * more in such misses than compacting it would, it is compacted. At least
 * 100, so small tables are not rewritten for a handful of reads.
 */
static inline int64_t lsm_file_allowed_seeks(uint64_t size)
{
	int64_t n = (int64_t)(size / 16384);
	return n < 100 ? 100 : n;
}

typedef struct lsm_version {
	int refs; /* atomic */
	/* Level 0 newest file first (files may overlap); levels >= 1 sorted by key, disjoint. */
	lsm_file_meta **files[LSM_MAX_LEVELS];
	int nfiles[LSM_MAX_LEVELS];
	/* Compaction score computed when the version is installed: >= 1 means compact. */
	double compaction_score;
	int compaction_level;
	/*
	 * The set's log_number when this version was made current: a reader
	 * of this version may also hold memtables whose blob references point
	 * into WALs from here on.
	 */
	uint64_t log_number;
} lsm_version;

void lsm_version_ref(lsm_version *v);
void lsm_version_unref(lsm_version *v);
uint64_t lsm_version_level_bytes(const lsm_version *v, int level);
/*
 * Indices [*first, *last] of the files in level whose key range overlaps
 * user keys [begin, end] (NULL = unbounded). Returns the count (0: none).
 * Works for level 0 too: the count is exact and [first, last] spans the
 * overlapping files (L0 files may overlap each other).
 */
int lsm_version_overlapping(const lsm_version *v, int level, const lsm_slice *begin,
			    const lsm_slice *end, int *first, int *last);
/*
 * If v holds ukey in two tables or more, the first (newest) of them and its
 * level: the table a read of ukey searches in vain. NULL otherwise.
 */
lsm_file_meta *lsm_version_first_of_several(const lsm_version *v, lsm_slice ukey, int *level);
/* Index of the first file in level >= 1 whose largest key >= ikey, or nfiles. */
int lsm_version_find_file(const lsm_version *v, int level, lsm_slice ikey);

typedef struct lsm_new_file {
	int level;
	lsm_file_meta *meta; /* the edit holds one reference */
} lsm_new_file;

typedef struct lsm_deleted_file {
	int level;
	uint64_t number;
} lsm_deleted_file;

typedef struct lsm_version_edit {
	int has_log_number, has_next_file, has_last_seq;
	uint64_t log_number; /* WALs older than this are no longer needed */
	uint64_t next_file;
	uint64_t last_seq;
	lsm_new_file *added;
	int nadded, cap_added;
	lsm_deleted_file *deleted;
	int ndeleted, cap_deleted;
} lsm_version_edit;

void lsm_edit_init(lsm_version_edit *e);
void lsm_edit_free(lsm_version_edit *e);
/* Copies smallest/largest into a new meta (refs = 1 held by the edit). */
int lsm_edit_add_file(lsm_version_edit *e, int level, uint64_t number, uint64_t size,
		      lsm_slice smallest, lsm_slice largest, uint64_t smallest_seq,
		      uint64_t largest_seq);
int lsm_edit_delete_file(lsm_version_edit *e, int level, uint64_t number);
/* Gives the meta the edit added last a copy of uses[0..n) (any order). -ENOMEM. */
int lsm_edit_set_blobs(lsm_version_edit *e, const lsm_blob_use *uses, int n);
int lsm_edit_encode(const lsm_version_edit *e, lsm_buf *out);
/* -LSM_ECORRUPT (file and offset given by the caller's context) on malformed input. */
int lsm_edit_decode(lsm_version_edit *e, lsm_slice in);

typedef struct lsm_version_set {
	lsm_env *env;
	char *dir;
	const lsm_options *opts;
	lsm_version *current; /* protected by the db mutex; readers ref it */
	uint64_t manifest_number;
	uint64_t next_file; /* the next number to hand out; db mutex */
	/*
	 * NEXT_FILE as last logged: no file numbered at or above it was ever
	 * created, so recovery takes such a file as proof of lost edits. A
	 * number >= file_limit may only be handed out once an edit has moved
	 * the limit past it. db mutex.
	 */
	uint64_t file_limit;
	uint64_t last_seq;   /* last sequence made visible; atomic loads by readers */
	uint64_t log_number; /* oldest WAL still needed */
	void *manifest;	     /* lsm_wal_writer of the live MANIFEST */
	uint64_t manifest_bytes;
} lsm_version_set;

/*
 * Reads CURRENT and replays its MANIFEST into vs. -LSM_ENOTDB if there is no
 * CURRENT, -LSM_ECORRUPT naming the file and offset if CURRENT or the
 * MANIFEST is damaged (a torn last record of the MANIFEST is tolerated
 * unless paranoid_checks), -LSM_ECORRUPT naming a missing MANIFEST.
 */
int lsm_vset_recover(lsm_version_set *vs, lsm_env *env, const char *dir, const lsm_options *opts);
/* Initialises vs for a brand-new empty database and writes MANIFEST-000001 + CURRENT. */
int lsm_vset_create(lsm_version_set *vs, lsm_env *env, const char *dir, const lsm_options *opts);
/*
 * Applies edit to the current version: writes it to the MANIFEST (starting
 * a new MANIFEST holding a full snapshot first if there is none open or the
 * live one is over 4 MiB), syncs it, then installs the new version.
 * Fills in next_file/last_seq/log_number from vs where the edit lacks them;
 * the logged next_file runs FILE_NUMBER_SLACK (version.c) past every number
 * handed out so far, and file_limit follows it.
 * REQUIRES: the caller serialises calls (db mutex held, or the only thread).
 * On error nothing is installed and the caller must turn read-only.
 */
int lsm_vset_log_and_apply(lsm_version_set *vs, lsm_version_edit *e);
/* Frees everything; unrefs current. */
void lsm_vset_destroy(lsm_version_set *vs);
/* True if file number is referenced by the current version. */
int lsm_vset_is_live(const lsm_version_set *vs, uint64_t number);

/* "dir/000012.sst" etc., malloc'd. */
char *lsm_table_filename(const char *dir, uint64_t number);
char *lsm_log_filename(const char *dir, uint64_t number);
char *lsm_blob_filename(const char *dir, uint64_t number);
char *lsm_manifest_filename(const char *dir, uint64_t number);

enum lsm_file_kind {
	LSM_FILE_LOG,
	LSM_FILE_TABLE,
	LSM_FILE_MANIFEST,
	LSM_FILE_CURRENT,
	LSM_FILE_LOCK,
	LSM_FILE_TEMP,
	LSM_FILE_BLOB,
	LSM_FILE_OTHER
};
/* Classifies a directory entry name; *number gets its number where it has one. */
enum lsm_file_kind lsm_parse_filename(const char *name, uint64_t *number);

#endif
