/*
 * space.h — the space reserve: the fs core refuses, with -ENOSPC and
 * before the engine sees anything, an operation that adds data when the
 * data directory's filesystem would be left with less than the reserve
 * free. Operations that free or shrink are never refused: they may dip
 * into the reserve, which exists so that the engine can always flush its
 * memtables and run the compactions that give deleted space back (a flush
 * or WAL append meeting ENOSPC makes the engine read-only until remount).
 *
 * What is charged (the rest is never refused):
 *   write                     the bytes written
 *   copy_file_range           the bytes copied (even where chunks are shared)
 *   setxattr                  SPACE_META_BYTES + name + value
 *   create, mknod, mkdir,
 *   symlink, link             SPACE_META_BYTES
 *   fallocate (allocating)    checked against len but not charged: lsmfs
 *                             allocates nothing (holes), so it only tells
 *                             the caller the space is not there now
 * Never refused: unlink, rmdir, rename, truncate (up: takes no space; down:
 * frees), punch hole and zero range (no zero byte is stored: like a punch,
 * and growing the file as truncate does), removexattr, chmod/chown/utimes,
 * fsync, release.
 *
 * Free space is the data dir filesystem's f_bavail * f_frsize (through the
 * engine env's free_space, so the fault env's limit is seen by tests). It
 * is read again when the last look is older than SPACE_LOOK_NS or more
 * than SPACE_LOOK_BYTES were accepted since; between looks the bytes
 * accepted are subtracted. A refusal always looks again first.
 */
#ifndef LSMFS_SPACE_H
#define LSMFS_SPACE_H

#include "lsm.h"

#include <pthread.h>
#include <stdint.h>

#define SPACE_LOOK_NS	 (50 * 1000 * 1000)
#define SPACE_LOOK_BYTES (4u << 20)
/* A new inode, directory entry or link: far more than its keys take, so never too little. */
#define SPACE_META_BYTES 4096u
/* The default reserve never takes more than 1/SPACE_MAX_SHARE of the host filesystem. */
#define SPACE_MAX_SHARE 2

struct lsmfs;

struct lsmfs_space {
	uint64_t reserve; /* immutable after mount; 0: no guard */
	void *env;	  /* lsm_env *, immutable */
	pthread_mutex_t mu;
	/* protected by mu */
	int looked;	     /* free_bytes is valid */
	uint64_t free_bytes; /* host free space at the last look */
	uint64_t taken;	     /* bytes accepted since the last look */
	int64_t looked_ns;   /* CLOCK_MONOTONIC time of the last look */
	uint64_t looks;	     /* how many looks (for tests and measurements) */
};

/*
 * The default reserve for an engine with options lo on a host filesystem
 * of host_bytes (0: unknown). The worst case of extra bytes the engine
 * writes before it can delete anything:
 *   flushes     (max_immutable_memtables + 1) * memtable_bytes * 5/4
 *               (every memtable, with the table's index and filters)
 *   compaction  the largest one it picks, whose output is written before
 *               its inputs go: max(l0_stop_trigger * memtable_bytes +
 *               level_base_bytes (all of L0 into a full L1),
 *               target_file_bytes * (level_multiplier + 1) (one file into
 *               the files of the level below that its range usually spans))
 *   MANIFEST    SPACE_MANIFEST_BYTES (a rollover writes a new snapshot
 *               while the old file, up to 4 MiB, still exists)
 * capped at host_bytes / SPACE_MAX_SHARE so that a small filesystem stays
 * usable; on such a filesystem a large compaction may meet ENOSPC, which
 * the engine survives (it deletes its outputs and retries later), but
 * space given back by deletions may then only come after the compaction
 * that needs more than is free can run.
 */
#define SPACE_MANIFEST_BYTES (8u << 20)
uint64_t space_default_reserve(const lsm_options *lo, uint64_t host_bytes);

/*
 * Sets up fs->space. reserve < 0: the default for lo and the size of the
 * filesystem holding dir; 0: no guard. env: the engine's env (NULL: POSIX).
 */
void space_init(struct lsmfs *fs, const char *dir, int64_t reserve, const lsm_options *lo,
		void *env);
void space_destroy(struct lsmfs *fs);

/*
 * 0 if bytes more may be written without the host's free space falling
 * below the reserve, and (with charge) counts them as taken; else -ENOSPC.
 */
int space_need(struct lsmfs *fs, uint64_t bytes, int charge);

#endif
