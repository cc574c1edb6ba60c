/*
 * env.h — every file operation the engine performs, behind a table of
 * function pointers.
 *
 * Nothing else in lsm/ calls open/pwrite/fsync: it calls these, so a test can
 * swap in the fault env (env_fault.c) that forgets unsynced bytes on a
 * simulated power cut, fails the Nth write or fsync, or fills the disk.
 *
 * Conventions: each call returns 0 or a negative code (-errno, or
 * -LSM_EBUSY for a held lock) and, on failure, records a message naming the
 * call and the file (lsm_errmsg()). Paths are full paths. A lsm_file belongs
 * to the env that opened it.
 */
#ifndef LSM_ENV_H
#define LSM_ENV_H

#include "lsm.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* The most buffers one preadv call of an env takes. */
#define LSM_ENV_IOV_MAX 64

typedef struct lsm_file lsm_file;

/* Flags for open_file. */
enum {
	LSM_O_READ = 1,	  /* open for reading */
	LSM_O_WRITE = 2,  /* open for writing (append and pwrite) */
	LSM_O_CREATE = 4, /* create if missing */
	LSM_O_EXCL = 8,	  /* with CREATE: fail with -EEXIST if it exists */
	LSM_O_TRUNC = 16, /* truncate to zero on open */
};

struct lsm_env {
	/* Opens path; *out is owned by the caller until close. */
	int (*open_file)(lsm_env *env, const char *path, int flags, lsm_file **out);
	/* Closes f and frees it, even on error. Does not sync. */
	int (*close)(lsm_env *env, lsm_file *f);
	/*
	 * Reads up to n bytes at off into buf; *nread gets the count, which is
	 * less than n only at end of file.
	 */
	int (*pread)(lsm_env *env, lsm_file *f, void *buf, size_t n, uint64_t off, size_t *nread);
	/*
	 * pread into iovcnt buffers (at most LSM_ENV_IOV_MAX), filled in order;
	 * *nread as for pread. May be NULL: callers then pread and move the
	 * bytes themselves.
	 */
	int (*preadv)(lsm_env *env, lsm_file *f, const struct iovec *iov, int iovcnt, uint64_t off,
		      size_t *nread);
	/* Writes all n bytes at off (a partial write is an error). */
	int (*pwrite)(lsm_env *env, lsm_file *f, const void *buf, size_t n, uint64_t off);
	/* Writes all n bytes at the end of what this handle has written/found. */
	int (*append)(lsm_env *env, lsm_file *f, const void *buf, size_t n);
	/* fsync: data and metadata of f are durable. */
	int (*sync)(lsm_env *env, lsm_file *f);
	/* fdatasync: data of f (and its size) are durable. */
	int (*datasync)(lsm_env *env, lsm_file *f);
	int (*file_size)(lsm_env *env, lsm_file *f, uint64_t *size);
	int (*truncate)(lsm_env *env, lsm_file *f, uint64_t size);
	/* Hints that [off, off+len) will be read soon (may do nothing). */
	int (*readahead)(lsm_env *env, lsm_file *f, uint64_t off, uint64_t len);
	/*
	 * Maps bytes [0, size) of f read-only; *addr gets their address, valid
	 * until unmap (closing f does not end it). Only for files that never
	 * change again (tables): the mapping shows later writes, and touching a
	 * page past the end of a file that has shrunk kills the process
	 * (SIGBUS), so the caller checks the size before the first access.
	 * size > 0. Either pointer may be NULL in an env that cannot map; a
	 * caller then reads with pread, as it does when map fails (address
	 * space exhausted: -ENOMEM).
	 */
	int (*map)(lsm_env *env, lsm_file *f, uint64_t size, const void **addr);
	/* Ends a mapping: addr and size as map gave and took them. */
	int (*unmap)(lsm_env *env, const void *addr, uint64_t size);
	/*
	 * Takes the pages of [addr, addr + len), inside a mapping map made,
	 * out of the process: they stay in the page cache, and the next access
	 * maps them again, with the same bytes. Advice (may do nothing); NULL
	 * in an env that cannot map.
	 */
	int (*drop_pages)(lsm_env *env, const void *addr, uint64_t len);

	/* Size of the file at path, without opening it for long. */
	int (*path_size)(lsm_env *env, const char *path, uint64_t *size);
	/* 0 if path exists, -ENOENT if not, other negative codes on error. */
	int (*exists)(lsm_env *env, const char *path);
	/* Atomically replaces to with from (durable after sync_dir). */
	int (*rename)(lsm_env *env, const char *from, const char *to);
	int (*unlink)(lsm_env *env, const char *path);
	/* Creates a directory; an existing directory is not an error. */
	int (*mkdir)(lsm_env *env, const char *path, mode_t mode);
	int (*rmdir)(lsm_env *env, const char *path);
	/*
	 * Lists the names in dir (without "." and ".."). *names is a malloc'd
	 * array of malloc'd strings; free with lsm_env_free_names().
	 */
	int (*list_dir)(lsm_env *env, const char *dir, char ***names, size_t *count);
	/* fsync of the directory: creates, renames and unlinks in it are durable. */
	int (*sync_dir)(lsm_env *env, const char *dir);
	/*
	 * Takes an exclusive lock on path (creating it), writing our pid into it.
	 * -LSM_EBUSY if another process holds it; *holder then has its pid (or 0
	 * if unknown). The lock lives until unlock_file or process exit.
	 */
	int (*lock_file)(lsm_env *env, const char *path, lsm_file **lock, pid_t *holder);
	int (*unlock_file)(lsm_env *env, lsm_file *lock);
	/* Bytes free for an unprivileged writer on the filesystem holding path. */
	int (*free_space)(lsm_env *env, const char *path, uint64_t *bytes);
	/* Frees the env itself (the posix env is static: does nothing). */
	void (*destroy)(lsm_env *env);
	/*
	 * lock_file for a read-only open, which must change no file: the same
	 * exclusive lock, but our pid is not written (path is still created if
	 * missing). May be NULL: lock_file is used instead.
	 */
	int (*lock_file_ro)(lsm_env *env, const char *path, lsm_file **lock, pid_t *holder);
};

/* The process-wide POSIX env. */
lsm_env *lsm_env_posix(void);

void lsm_env_free_names(char **names, size_t count);

/* Reads a whole (small) file into a malloc'd buffer; *len gets its size. */
int lsm_env_read_all(lsm_env *env, const char *path, uint8_t **data, size_t *len);
/*
 * Writes data to path via a temporary file, fsync, rename and sync_dir of
 * dir: after a crash path holds either the old or the new contents.
 */
int lsm_env_write_atomic(lsm_env *env, const char *dir, const char *path, const void *data,
			 size_t len);

/* ---- the fault-injecting env (tests and benchmarks) ---- */

typedef struct lsm_fault_counters {
	uint64_t bytes_written; /* every byte passed to pwrite/append */
	uint64_t writes;	/* pwrite/append calls */
	uint64_t syncs;		/* sync/datasync calls */
	uint64_t dir_syncs;	/* sync_dir calls */
	uint64_t bytes_read;
} lsm_fault_counters;

/*
 * Wraps base (not owned). Until a fault is armed it only counts and records
 * what is durable. Free with env->destroy(env).
 */
lsm_env *lsm_env_fault_new(lsm_env *base);

/*
 * Simulated power cut: every file loses the bytes written since its last
 * sync/datasync (overwritten ranges get their synced contents back), files
 * created and renames made since the last sync_dir of their directory are
 * undone, and every open handle is invalidated (later calls on it give
 * -EIO). Unlinks are treated as durable at once (a crash may legally keep
 * them). Afterwards the env works normally again on the surviving files.
 */
int lsm_fault_power_cut(lsm_env *env);
/* The nth pwrite/append from now (1 = the next) fails with -EIO, writing nothing. */
void lsm_fault_fail_write(lsm_env *env, uint64_t nth);
/* The nth sync/datasync/sync_dir from now fails with -EIO. */
void lsm_fault_fail_sync(lsm_env *env, uint64_t nth);
/* After n more bytes are written, writes fail with -ENOSPC (the part that fits is written). */
void lsm_fault_enospc_after(lsm_env *env, uint64_t nbytes);
/* The nth write from now writes only its first half, then fails with -EIO. */
void lsm_fault_short_write(lsm_env *env, uint64_t nth);
/* Every armed fault off; the disk has room again. */
void lsm_fault_clear(lsm_env *env);
void lsm_fault_counters_get(lsm_env *env, lsm_fault_counters *c);

#endif
