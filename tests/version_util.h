/*
 * version_util.h — helpers of the version set's suites: each test runs in
 * its own directory (dir, made by vu_setup, removed by vu_teardown) with
 * the options in opts. Every helper fails the test on an error.
 */
#ifndef LSM_VERSION_UTIL_H
#define LSM_VERSION_UTIL_H

#include "lsm.h"
#include "version.h"

#include <stdint.h>

/* The test's directory and the version set's options; set by vu_setup. */
extern char *dir;
extern lsm_options opts;

/* A Check fixture: a fresh directory and options; removes the directory after. */
void vu_setup(void);
void vu_teardown(void);

/* Adds file number at level covering user keys [lo, hi] (sequences 1..100). */
void edit_add(lsm_version_edit *e, int level, uint64_t number, uint64_t size, const char *lo,
	      const char *hi);
/*
 * Everything recovery must reproduce, as text (manifest number excluded: it
 * moves); the caller frees it.
 */
char *dump(const lsm_version_set *vs);
/* The size of file name in dir. */
uint64_t file_size(const char *name);
/* Logs and applies e, then frees it. */
void apply(lsm_version_set *vs, lsm_version_edit *e);
/* A few edits touching every kind of field: L0 files, sorted levels, deletions, a move. */
void populate(lsm_version_set *vs);
/* lsm_vset_create and lsm_vset_recover of dir with opts through env. */
void create(lsm_version_set *vs, lsm_env *env);
void recover(lsm_version_set *vs, lsm_env *env);
/* Recovers dir through env into a version set of its own, which must dump as state. */
void expect_recovered(const char *state, lsm_env *env);

#endif
