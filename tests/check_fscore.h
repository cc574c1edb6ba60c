/*
 * check_fscore.h — helpers shared by the fs core's Check suites: a fresh
 * filesystem, remounting, files in one call, and an offline consistency
 * check of every key (links, chunk references) through the engine.
 */
#ifndef LSMFS_CHECK_FSCORE_H
#define LSMFS_CHECK_FSCORE_H

#include "fscheck.h"
#include "keys.h"
#include "lsm.h"
#include "lsmfs.h"
#include "testutil.h"

#include <stddef.h>
#include <stdint.h>

extern const lsmfs_ctx tf_root; /* uid 0, umask 022 */
extern const lsmfs_ctx tf_user; /* uid 1000, gid 1000, umask 022 */
/* lsmfs_opts.inline_bytes of tf_mount (-1: the default; a suite of C and R keys sets 0). */
extern int64_t tf_inline_bytes;
/*
 * lsmfs_opts.inode_cache of tf_mount: 4, so that every suite also runs on
 * light records (inode.c) of the inodes it looked up and left idle.
 */
extern size_t tf_inode_cache;

/* mkfs (chunk size cs, 0 = default) in a new temp dir and mount it. */
lsmfs *tf_new(char **dir, uint32_t cs);
lsmfs *tf_mount(const char *dir);
lsmfs *tf_remount(lsmfs *fs, const char *dir);

/* The decoded F key of chunk idx of ino in an unmounted data dir (asserted present). */
struct fref tf_fref(const char *dir, uint64_t ino, uint64_t idx);
/* The file holds exactly want[0..n) (the first differing byte is named). */
void tf_expect(lsmfs *fs, uint64_t ino, const uint8_t *want, size_t n);
/* Writes src[0..n) at off of ino, and the same into mirror. */
void tf_put(lsmfs *fs, uint64_t ino, uint8_t *mirror, const void *src, size_t n, size_t off);
/* lsmfs_check of dir (repair or not), asserted to run to its end. */
lsmfs_check_result tf_fsck(const char *dir, int repair);

/* Creates parent/name with the bytes (the file is released and forgotten). */
uint64_t tf_file(lsmfs *fs, uint64_t parent, const char *name, const void *data, size_t n);
uint64_t tf_mkdir(lsmfs *fs, uint64_t parent, const char *name);
/* Looks name up and forgets it again: the inode number, or 0. */
uint64_t tf_ino(lsmfs *fs, uint64_t parent, const char *name);
/* Reads the whole file into a malloc'd buffer; *n gets its size. */
uint8_t *tf_slurp(lsmfs *fs, uint64_t ino, size_t *n);

/* Every entry of a directory, read with a buffer of at most batch entries per call. */
typedef struct tf_dirent {
	char name[LSMFS_NAME_MAX + 1];
	uint64_t ino, cookie;
	mode_t mode;
} tf_dirent;
int tf_list(lsmfs *fs, uint64_t dir, int batch, tf_dirent **out);
/* The same, but a failing readdir is returned (-errno, and *out is left alone), not asserted. */
int tf_list_try(lsmfs *fs, uint64_t dir, int batch, tf_dirent **out);

/* Data to write: random, zeros (holes), or a repeating pattern (deduplication). */
void tf_data(tu_rng *r, uint8_t *p, size_t n);

/* The engine of an unmounted data dir, opened as it is (never created). */
lsm_db *tf_open_db(const char *dir);
/* Flips bytes at 10%, 20% and 30% of the largest table of an unmounted data dir (its data
 * blocks, where the chunk keys sort first). */
void tf_damage_largest_table(const char *dir);
/* Puts one key into the engine of dir (created if missing), bypassing the fs. */
void tf_raw_put(const char *dir, const void *k, size_t klen, const void *v, size_t vlen);
/* lsm_get of one key of an unmounted data dir: 0 (*v malloc'd), LSM_NOTFOUND or -error. */
int tf_raw_get(const char *dir, const void *k, size_t klen, void **v, size_t *vlen);
/* Keys of one tag in an unmounted data dir. */
size_t tf_count_keys(const char *dir, char tag);
/*
 * Reads every key of an unmounted data dir and checks links, parents,
 * orphans, chunk counts, references and chunk digests. Prints each problem;
 * returns how many.
 */
int tf_check(const char *dir);

TCase *fscore_model_tcase(void);

#endif
