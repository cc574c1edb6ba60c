/* dbutil.c — helpers of the database API suites; see dbutil.h. */
#include "dbutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *td_dir;

void td_setup(void)
{
	td_dir = tu_mkdtemp("db");
}

void td_teardown(void)
{
	tu_rmtree(td_dir);
	td_dir = NULL;
}

void td_small_options(lsm_options *o)
{
	lsm_options_init(o);
	o->memtable_bytes = 32 * 1024;
	o->block_bytes = 1024;
	o->target_file_bytes = 16 * 1024;
	o->level_base_bytes = 64 * 1024;
	o->level_multiplier = 4;
	o->block_cache_bytes = 64 * 1024;
}

lsm_db *td_open(const char *dir, const lsm_options *o)
{
	lsm_db *db = NULL;
	int rc = lsm_open(&db, dir, o);
	ck_assert_msg(rc == 0, "lsm_open: %s: %s", lsm_strerror(rc), lsm_errmsg());
	return db;
}

lsm_db *td_open_small(lsm_options *o)
{
	td_small_options(o);
	return td_open(td_dir, o);
}

void td_put(lsm_db *db, const char *k, const char *v)
{
	int rc = lsm_put(db, NULL, k, strlen(k), v, strlen(v));
	ck_assert_msg(rc == 0, "put %s: %s", k, lsm_errmsg());
}

void td_del(lsm_db *db, const char *k)
{
	int rc = lsm_delete(db, NULL, k, strlen(k));
	ck_assert_msg(rc == 0, "delete %s: %s", k, lsm_errmsg());
}

void td_check_get(lsm_db *db, const lsm_read_options *ro, const char *k, const char *v)
{
	void *val = NULL;
	size_t vlen = 0;
	int rc = lsm_get(db, ro, k, strlen(k), &val, &vlen);
	if (!v) {
		ck_assert_msg(rc == LSM_NOTFOUND, "get %s: expected absent, got rc %d (%.*s)", k,
			      rc, (int)vlen, val ? (char *)val : "");
	} else {
		ck_assert_msg(rc == 0, "get %s: rc %d %s", k, rc, lsm_errmsg());
		ck_assert_msg(vlen == strlen(v) && !memcmp(val, v, vlen),
			      "get %s: expected %s, got %.*s", k, v, (int)vlen, (char *)val);
		ck_assert_int_eq(((char *)val)[vlen], 0);
	}
	free(val);
}

void td_key(char *buf, size_t n, int i)
{
	snprintf(buf, n, "key%06d", i);
}

void td_val(char *buf, size_t n, int i, int gen)
{
	snprintf(buf, n, "value-%d-%d-%0*d", i, gen, 40, i);
}

void td_fill(lsm_db *db, int n, int gen)
{
	char k[32], v[96];
	for (int i = 0; i < n; i++) {
		td_key(k, sizeof(k), i);
		td_val(v, sizeof(v), i, gen);
		td_put(db, k, v);
	}
}

void td_check_fill(lsm_db *db, const lsm_read_options *ro, int n, int gen)
{
	char k[32], v[96];
	for (int i = 0; i < n; i++) {
		td_key(k, sizeof(k), i);
		td_val(v, sizeof(v), i, gen);
		td_check_get(db, ro, k, v);
	}
}

void td_model_free(td_model *m)
{
	for (int i = 0; i < TD_MODEL_KEYS; i++)
		free(m->val[i]);
}

void td_random_ops(lsm_db *db, td_model *m, tu_rng *r, int nops)
{
	char k[32], v[64];
	for (int op = 0; op < nops; op++) {
		int i = (int)tu_below(r, TD_MODEL_KEYS);
		td_key(k, sizeof(k), i);
		if (tu_below(r, 4) == 0) {
			td_del(db, k);
			free(m->val[i]);
			m->val[i] = NULL;
		} else {
			snprintf(v, sizeof(v), "v%d-%llu", i,
				 (unsigned long long)tu_below(r, 1000000));
			td_put(db, k, v);
			free(m->val[i]);
			m->val[i] = strdup(v);
		}
		if (tu_below(r, 500) == 0)
			ck_assert_int_eq(lsm_flush(db), 0);
	}
}

TCase *td_tcase(Suite *s, const char *name, double timeout)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, td_setup, td_teardown);
	tcase_set_timeout(tc, timeout);
	suite_add_tcase(s, tc);
	return tc;
}
