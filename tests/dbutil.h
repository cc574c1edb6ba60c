/*
 * dbutil.h — what the suites of the database API share: a fresh directory
 * per test (the checked fixture td_setup/td_teardown), small options that
 * make a few thousand keys flush and compact, opening with a message on
 * failure, string puts and gets that assert, and numbered keys whose value
 * says which generation wrote it.
 */
#ifndef LSM_DBUTIL_H
#define LSM_DBUTIL_H

#include "lsm.h"
#include "testutil.h"

#include <stddef.h>

/* The test's database directory: made by td_setup, removed by td_teardown. */
extern char *td_dir;
void td_setup(void);
void td_teardown(void);

/* Small sizes (32 KiB memtable, 1 KiB blocks, 64 KiB level base) on top of the defaults. */
void td_small_options(lsm_options *o);
/* Opens the database in dir with o (NULL: defaults); a failure fails the test. */
lsm_db *td_open(const char *dir, const lsm_options *o);
/* td_small_options into o, then opens td_dir with them (o is kept for reopening). */
lsm_db *td_open_small(lsm_options *o);

/* Put and delete of NUL-terminated strings with default write options; failures fail. */
void td_put(lsm_db *db, const char *k, const char *v);
void td_del(lsm_db *db, const char *k);
/* Asserts key k holds v (NULL: absent), as seen by ro (NULL: the latest). */
void td_check_get(lsm_db *db, const lsm_read_options *ro, const char *k, const char *v);

/* Key i ("key000042") and the value generation gen gives it, into buf of n bytes. */
void td_key(char *buf, size_t n, int i);
void td_val(char *buf, size_t n, int i, int gen);
/* Puts keys 0..n-1 with generation gen's values; td_check_fill asserts they read back. */
void td_fill(lsm_db *db, int n, int gen);
void td_check_fill(lsm_db *db, const lsm_read_options *ro, int n, int gen);

/* A model of what keys 0..TD_MODEL_KEYS-1 hold: the value of key i, NULL when absent. */
#define TD_MODEL_KEYS 600
typedef struct td_model {
	char *val[TD_MODEL_KEYS];
} td_model;
void td_model_free(td_model *m);
/* nops random puts and deletes, with flushes now and then, applied to db and m alike. */
void td_random_ops(lsm_db *db, td_model *m, tu_rng *r, int nops);

/* A test case of s, with the td_setup/td_teardown fixture and a timeout in seconds. */
TCase *td_tcase(Suite *s, const char *name, double timeout);

#endif
