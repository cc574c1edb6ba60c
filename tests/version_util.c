/*
 * version_util.c — what the version set's suites share (check_version,
 * check_version_damage, check_version_crash): a fresh directory per test,
 * edits in one call, and the logged state as text to compare.
 */
#include "version_util.h"

#include "env.h"
#include "error.h"
#include "testutil.h"
#include "version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *dir;
lsm_options opts;

void vu_setup(void)
{
	dir = tu_mkdtemp("version");
	memset(&opts, 0, sizeof(opts));
	opts.l0_compaction_trigger = 4;
	opts.level_base_bytes = UINT64_C(64) << 20;
	opts.level_multiplier = 10;
}

void vu_teardown(void)
{
	tu_rmtree(dir);
	dir = NULL;
}

/* Adds file number at level covering user keys [lo, hi] (sequences 1..100). */
void edit_add(lsm_version_edit *e, int level, uint64_t number, uint64_t size, const char *lo,
	      const char *hi)
{
	uint8_t a[128], b[128];
	size_t la = strlen(lo), lb = strlen(hi);
	ck_assert_uint_le(la, 120);
	ck_assert_uint_le(lb, 120);
	lsm_ikey_make(a, lo, la, 100, LSM_TYPE_VALUE);
	lsm_ikey_make(b, hi, lb, 1, LSM_TYPE_VALUE);
	ck_assert_int_eq(lsm_edit_add_file(e, level, number, size, lsm_slice_of(a, la + 8),
					   lsm_slice_of(b, lb + 8), 1, 100),
			 0);
}

static void put_hex(FILE *f, const lsm_buf *b)
{
	for (size_t i = 0; i < b->len; i++)
		fprintf(f, "%02x", b->data[i]);
}

/*
 * Everything recovery must reproduce, as text (manifest number excluded: it
 * moves). Of the file numbers, what the MANIFEST holds is the limit: the
 * numbers handed out below it are not logged one by one.
 */
char *dump(const lsm_version_set *vs)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);
	ck_assert_ptr_nonnull(f);
	fprintf(f, "log %llu limit %llu seq %llu\n", (unsigned long long)vs->log_number,
		(unsigned long long)vs->file_limit, (unsigned long long)vs->last_seq);
	for (int level = 0; level < LSM_MAX_LEVELS; level++) {
		for (int i = 0; i < vs->current->nfiles[level]; i++) {
			const lsm_file_meta *m = vs->current->files[level][i];
			fprintf(f, "L%d #%llu size %llu seq %llu..%llu ", level,
				(unsigned long long)m->number, (unsigned long long)m->size,
				(unsigned long long)m->smallest_seq,
				(unsigned long long)m->largest_seq);
			put_hex(f, &m->smallest);
			fputs("..", f);
			put_hex(f, &m->largest);
			fputc('\n', f);
		}
	}
	fclose(f);
	return s;
}

uint64_t file_size(const char *name)
{
	char *p = tu_path(dir, name);
	uint64_t size;
	ck_assert_int_eq(lsm_env_posix()->path_size(lsm_env_posix(), p, &size), 0);
	free(p);
	return size;
}

void apply(lsm_version_set *vs, lsm_version_edit *e)
{
	int rc = lsm_vset_log_and_apply(vs, e);
	ck_assert_msg(rc == 0, "log_and_apply: %s", lsm_errmsg());
	lsm_edit_free(e);
}

/*
 * A few edits touching every kind of field: L0 files, sorted levels,
 * deletions, a trivial move (delete + add of the same number one level down).
 */
void populate(lsm_version_set *vs)
{
	lsm_version_edit e;
	uint64_t a = vs->next_file++, b = vs->next_file++;
	lsm_edit_init(&e);
	edit_add(&e, 0, a, 1000, "apple", "mango");
	edit_add(&e, 0, b, 2000, "cherry", "zebra");
	e.has_log_number = 1;
	e.log_number = 3;
	e.has_last_seq = 1;
	e.last_seq = 50;
	apply(vs, &e);

	uint64_t c = vs->next_file++, d = vs->next_file++, f = vs->next_file++;
	lsm_edit_init(&e);
	edit_add(&e, 1, c, 3000, "a", "f");
	edit_add(&e, 1, d, 4000, "g", "p");
	edit_add(&e, 2, f, 5000, "a", "z");
	ck_assert_int_eq(lsm_edit_delete_file(&e, 0, a), 0);
	e.has_last_seq = 1;
	e.last_seq = 80;
	apply(vs, &e);

	uint64_t g = vs->next_file++;
	lsm_edit_init(&e);
	ck_assert_int_eq(lsm_edit_delete_file(&e, 0, b), 0);
	edit_add(&e, 1, g, 6000, "q", "t");
	e.has_log_number = 1;
	e.log_number = 7;
	apply(vs, &e);

	lsm_edit_init(&e);
	ck_assert_int_eq(lsm_edit_delete_file(&e, 1, g), 0);
	edit_add(&e, 3, g, 6000, "q", "t");
	apply(vs, &e);
}

void create(lsm_version_set *vs, lsm_env *env)
{
	int rc = lsm_vset_create(vs, env, dir, &opts);
	ck_assert_msg(rc == 0, "create: %s", lsm_errmsg());
}

void recover(lsm_version_set *vs, lsm_env *env)
{
	int rc = lsm_vset_recover(vs, env, dir, &opts);
	ck_assert_msg(rc == 0, "recover: %s", lsm_errmsg());
}

void expect_recovered(const char *state, lsm_env *env)
{
	lsm_version_set vs;
	recover(&vs, env);
	char *again = dump(&vs);
	ck_assert_str_eq(state, again);
	lsm_vset_destroy(&vs);
	free(again);
}
