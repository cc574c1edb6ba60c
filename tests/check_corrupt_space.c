/*
 * check_corrupt_space.c — a full disk loses nothing that was acknowledged
 * (the checks of contents: corrupt_util.c).
 *
 * With the fault env, ENOSPC hits a flush, a compaction, or any write of a
 * random workload: the error comes back as -ENOSPC, or -LSM_EREADONLY whose
 * message names ENOSPC; after close, freeing space and reopening, every
 * acknowledged write is there and the db takes writes again. A compaction
 * that meets ENOSPC is not fatal: its inputs are intact, so it removes its
 * outputs, the db stays writable, and it is retried later.
 */
#include "corrupt_util.h"
#include "env.h"
#include "error.h"
#include "lsm.h"
#include "testutil.h"
#include "version.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EKEYS 500

/* The db's acknowledged state, and one write that failed and may or may not have landed. */
typedef struct ack_model {
	int acked[EKEYS];
	int maybe[EKEYS];
	int nmaybe;
	int next_ver;
} ack_model;

static void ack_init(ack_model *m)
{
	for (int i = 0; i < EKEYS; i++)
		m->acked[i] = m->maybe[i] = -1;
	m->nmaybe = 0;
	m->next_ver = 0;
}

/* Returns the states the db is consistent with: bit 0 acknowledged, bit 1 with the failed write. */
static unsigned ack_check(lsm_db *db, const ack_model *m, const char *how)
{
	allowed a = {.st = {m->acked, m->maybe},
		     .name = {"acknowledged", "with the failed write"},
		     .n = m->nmaybe ? 2 : 1,
		     .nkeys = EKEYS};
	int errors = 0;
	return check_contents(db, &a, how, &errors);
}

/* The error of a full disk, as the caller sees it. */
static int is_enospc(int rc, const char *msg)
{
	return rc == -ENOSPC ||
	       (rc == -LSM_EREADONLY && (strstr(msg, strerror(ENOSPC)) || strstr(msg, "ENOSPC")));
}

/* One put or delete of a random key. Applies it to the model if acknowledged. */
static int ack_write(lsm_db *db, tu_rng *r, ack_model *m, int sync)
{
	uint32_t k = (uint32_t)tu_below(r, EKEYS);
	int ver = tu_below(r, 8) == 0 ? -1 : m->next_ver++;
	char key[16];
	uint8_t v[VMAX];
	lsm_write_options wo = {.sync = sync};
	key_of(k, key);
	int rc = ver < 0 ? lsm_delete(db, &wo, key, KEYLEN)
			 : lsm_put(db, &wo, key, KEYLEN, v, value_of(k, ver, v));
	if (!rc) {
		m->acked[k] = ver;
	} else {
		/* A write that failed may still be in the log: allow both outcomes. */
		memcpy(m->maybe, m->acked, sizeof(m->acked));
		m->maybe[k] = ver;
		m->nmaybe = 1;
	}
	return rc;
}

static void expect_enospc(int rc, const char *what)
{
	const char *msg = lsm_errmsg();
	EXPECT(rc < 0, "%s succeeded with the disk full", what);
	EXPECT(is_enospc(rc, msg), "%s failed with %s, not ENOSPC: %s", what, lsm_strerror(rc),
	       msg);
}

/* Every table file in dir is live: a failed flush or compaction left no orphan behind. */
static void expect_no_orphans(lsm_db *db, const char *dir)
{
	lsm_stats st;
	int live = 0, files = 0;
	lsm_stats_get(db, &st);
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		live += st.level_files[l];
	DIR *d = opendir(dir);
	struct dirent *e;
	EXPECT(d != NULL, "opendir %s", dir);
	while ((e = readdir(d)) != NULL) {
		uint64_t num;
		files += lsm_parse_filename(e->d_name, &num) == LSM_FILE_TABLE;
	}
	closedir(d);
	EXPECT(files == live, "%d table files on disk, %d live", files, live);
}

static void enospc_opts(lsm_options *o, lsm_env *fe)
{
	lsm_options_init(o);
	o->env = fe;
	o->block_bytes = 1024;
	o->memtable_bytes = 256 << 10;
}

/* A database directory under the fault env, and what the db acknowledged. */
typedef struct full_disk {
	char *dir;
	lsm_env *fe;
	lsm_options o;
	ack_model m;
} full_disk;

/* A new directory and fault env for the case named what; the model starts empty. */
static full_disk *full_disk_new(const char *what)
{
	full_disk *f = malloc(sizeof(*f));
	f->dir = tu_mkdtemp("corrupt-enospc");
	f->fe = lsm_env_fault_new(lsm_env_posix());
	snprintf(g_case, sizeof(g_case), "%s", what);
	enospc_opts(&f->o, f->fe);
	ack_init(&f->m);
	return f;
}

static lsm_db *full_disk_open(full_disk *f)
{
	lsm_db *db;
	EXPECT(lsm_open(&db, f->dir, &f->o) == 0, "%s", lsm_errmsg());
	return db;
}

static void full_disk_free(full_disk *f)
{
	f->fe->destroy(f->fe);
	tu_rmtree(f->dir);
	free(f);
}

/* Closes a db that met ENOSPC: the close may report it too. */
static void close_after_enospc(lsm_db *db)
{
	int rc = lsm_close(db);
	EXPECT(rc == 0 || is_enospc(rc, lsm_errmsg()), "close: %s", lsm_errmsg());
}

/*
 * After the failure: close, free the space, reopen. Nothing acknowledged is
 * lost; the db writes, flushes and compacts again; a second reopen agrees.
 */
static void recover_and_write_again(full_disk *f, tu_rng *r)
{
	const char *dir = f->dir;
	lsm_options *o = &f->o;
	lsm_env *fe = f->fe;
	ack_model *m = &f->m;
	lsm_db *db;
	int rc;
	lsm_fault_clear(fe);
	rc = lsm_open(&db, dir, o);
	EXPECT(rc == 0, "reopen after freeing space: %s", lsm_errmsg());
	/* Whichever way the failed write went, that is the acknowledged state now. */
	if (!(ack_check(db, m, "after reopen") & 1))
		memcpy(m->acked, m->maybe, sizeof(m->acked));
	m->nmaybe = 0;
	for (int i = 0; i < 50; i++)
		EXPECT(ack_write(db, r, m, i == 49) == 0, "writing after reopen: %s", lsm_errmsg());
	EXPECT(lsm_flush(db) == 0, "flush after reopen: %s", lsm_errmsg());
	EXPECT(lsm_compact_range(db, NULL, 0, NULL, 0) == 0, "compaction after reopen: %s",
	       lsm_errmsg());
	ack_check(db, m, "writing again");
	EXPECT(lsm_close(db) == 0, "close: %s", lsm_errmsg());
	o->env = NULL;
	EXPECT(lsm_open(&db, dir, o) == 0, "second reopen: %s", lsm_errmsg());
	ack_check(db, m, "after the second reopen");
	EXPECT(lsm_verify(db, NULL, NULL) == 0, "verify: %s", lsm_errmsg());
	expect_no_orphans(db, dir);
	EXPECT(lsm_close(db) == 0, "close: %s", lsm_errmsg());
	o->env = fe;
}

START_TEST(test_enospc_during_flush_is_reported_and_loses_nothing_acknowledged)
{
	tu_rng r;
	lsm_stats st;
	tu_rng_init(&r, g_seed ^ 201);
	full_disk *f = full_disk_new("ENOSPC during a flush");
	ack_model *m = &f->m;
	lsm_db *db = full_disk_open(f);
	for (int i = 0; i < 800; i++)
		EXPECT(ack_write(db, &r, m, i % 100 == 99) == 0, "%s", lsm_errmsg());
	lsm_stats_get(db, &st);
	EXPECT(st.flushes == 0 && st.immutable_memtables == 0, "the writes already flushed");
	/* The table of ~100 KiB cannot fit. */
	lsm_fault_enospc_after(f->fe, 4096);
	expect_enospc(lsm_flush(db), "lsm_flush");
	lsm_stats_get(db, &st);
	EXPECT(st.background_error == -ENOSPC, "background error %d", st.background_error);
	/* Later writes are refused, saying why; reads still work. */
	expect_enospc(ack_write(db, &r, m, 0), "a write after the failed flush");
	ack_check(db, m, "after the failed flush");
	close_after_enospc(db);
	recover_and_write_again(f, &r);
	full_disk_free(f);
}
END_TEST

START_TEST(test_enospc_during_a_manual_compaction_fails_it_only_and_loses_nothing)
{
	tu_rng r;
	lsm_stats st;
	tu_rng_init(&r, g_seed ^ 202);
	full_disk *f = full_disk_new("ENOSPC during a compaction");
	ack_model *m = &f->m;
	f->o.l0_compaction_trigger = 20;
	f->o.l0_slowdown_trigger = 20;
	f->o.l0_stop_trigger = 24;
	lsm_db *db = full_disk_open(f);
	for (int t = 0; t < 4; t++) {
		for (int i = 0; i < 300; i++)
			EXPECT(ack_write(db, &r, m, 0) == 0, "%s", lsm_errmsg());
		EXPECT(lsm_flush(db) == 0, "%s", lsm_errmsg());
	}
	lsm_stats_get(db, &st);
	int tables = 0;
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		tables += st.level_files[l];
	/* Wherever the flushes put them, overlapping tables are there to merge. */
	EXPECT(tables >= 2 && st.compactions == 0, "%d tables, %llu compactions", tables,
	       (unsigned long long)st.compactions);
	/* The merged output (~130 KiB) cannot fit. */
	lsm_fault_enospc_after(f->fe, 16 << 10);
	expect_enospc(lsm_compact_range(db, NULL, 0, NULL, 0), "lsm_compact_range");
	/* Its inputs are intact and its outputs gone: not a reason to stop writing. */
	lsm_stats_get(db, &st);
	EXPECT(st.background_error == 0, "background error %d", st.background_error);
	expect_no_orphans(db, f->dir);
	ack_check(db, m, "after the failed compaction");
	lsm_fault_clear(f->fe);
	for (int i = 0; i < 50; i++)
		EXPECT(ack_write(db, &r, m, i == 49) == 0,
		       "a write after the failed compaction: %s", lsm_errmsg());
	EXPECT(lsm_compact_range(db, NULL, 0, NULL, 0) == 0, "compaction with space back: %s",
	       lsm_errmsg());
	ack_check(db, m, "after the compaction with space back");
	EXPECT(lsm_close(db) == 0, "close: %s", lsm_errmsg());
	recover_and_write_again(f, &r);
	full_disk_free(f);
}
END_TEST

/* Key i of table t of the background compaction case: every table spans the same range. */
static void bg_kv(int t, int i, char key[32], uint8_t v[200])
{
	snprintf(key, 32, "%05d-t%d", i, t);
	memset(v, 'a' + (t * 31 + i) % 26, 200);
}

static void bg_table(lsm_db *db, int t)
{
	char key[32];
	uint8_t v[200];
	for (int i = 0; i < 400; i++) {
		bg_kv(t, i, key, v);
		EXPECT(lsm_put(db, NULL, key, strlen(key), v, sizeof(v)) == 0, "put: %s",
		       lsm_errmsg());
	}
	EXPECT(lsm_flush(db) == 0, "flush of table %d: %s", t, lsm_errmsg());
}

static void bg_check(lsm_db *db, int tables, const char *how)
{
	char key[32];
	uint8_t v[200];
	for (int t = 0; t < tables; t++) {
		for (int i = 0; i < 400; i++) {
			void *got = NULL;
			size_t n = 0;
			bg_kv(t, i, key, v);
			int rc = lsm_get(db, NULL, key, strlen(key), &got, &n);
			EXPECT(rc == 0 && n == sizeof(v) && !memcmp(got, v, n), "%s: %s: rc %d %s",
			       how, key, rc, rc < 0 ? lsm_errmsg() : "");
			free(got);
		}
	}
}

/*
 * A compaction the background thread starts on its own meets a full disk:
 * it removes its outputs, sets no background error (writes go on), and
 * once there is room again it is retried and done.
 */
START_TEST(test_enospc_in_a_background_compaction_is_retried_once_space_is_back)
{
	lsm_stats st;
	uint64_t room = 1;
	full_disk *f = full_disk_new("ENOSPC in a background compaction");
	lsm_env *fe = f->fe;
	/* Writes stop at the L0 size that starts a compaction. */
	f->o.l0_compaction_trigger = 4;
	f->o.l0_slowdown_trigger = 4;
	f->o.l0_stop_trigger = 4;
	lsm_db *db = full_disk_open(f);
	/* The first flushes may go below L0 (nothing overlaps them there yet). */
	int t = 0;
	for (st.level_files[0] = 0; t < 8 && st.level_files[0] < 3; t++) {
		bg_table(db, t);
		lsm_stats_get(db, &st);
	}
	EXPECT(st.level_files[0] == 3 && st.compactions == 0, "%d L0 tables, %llu compactions",
	       st.level_files[0], (unsigned long long)st.compactions);
	/* Room for the next table's log and flush, not for the merge of L0's four. */
	uint64_t table = st.level_bytes[0] / 3;
	lsm_fault_enospc_after(fe, 2 * table + table / 2);
	bg_table(db, t++);
	for (int i = 0; i < 500 && room; i++) {
		usleep(10000);
		EXPECT(fe->free_space(fe, f->dir, &room) == 0, "free_space");
	}
	EXPECT(room == 0, "the compaction never ran out of space");
	usleep(100000);
	lsm_stats_get(db, &st);
	EXPECT(st.background_error == 0, "background error %d", st.background_error);
	EXPECT(st.compactions == 0 && st.level_files[0] == 4, "%llu compactions, %d L0 tables",
	       (unsigned long long)st.compactions, st.level_files[0]);
	bg_check(db, t, "with the disk full");

	/*
	 * Space comes back. Until the retry (a second after the failure) a
	 * write that has to wait for that compaction fails with ENOSPC rather
	 * than wait for space; then the retry compacts L0 away.
	 */
	lsm_fault_clear(fe);
	EXPECT(lsm_put(db, NULL, "zz", 2, "v", 1) == 0, "a write that needs no room: %s",
	       lsm_errmsg());
	int rc = lsm_flush(db);
	EXPECT(rc == -ENOSPC, "a flush stopped behind the failed compaction: %d (%s)", rc,
	       lsm_errmsg());
	for (int i = 0; i < 500 && (st.compactions == 0 || st.level_files[0]); i++) {
		usleep(10000);
		lsm_stats_get(db, &st);
	}
	EXPECT(st.compactions > 0 && st.level_files[0] == 0,
	       "no compaction after space came back: %llu compactions, %d L0 tables",
	       (unsigned long long)st.compactions, st.level_files[0]);
	EXPECT(st.background_error == 0, "background error %d", st.background_error);
	bg_table(db, t++);
	bg_check(db, t, "after the retried compaction");
	expect_no_orphans(db, f->dir);
	EXPECT(lsm_close(db) == 0, "close: %s", lsm_errmsg());
	f->o.env = NULL;
	EXPECT(lsm_open(&db, f->dir, &f->o) == 0, "reopen: %s", lsm_errmsg());
	bg_check(db, t, "after reopen");
	EXPECT(lsm_close(db) == 0, "close: %s", lsm_errmsg());
	full_disk_free(f);
}
END_TEST

START_TEST(test_enospc_at_random_points_loses_nothing_acknowledged)
{
	int cycles = 10 * tu_scale(), hits = 0, in_table = 0, in_log = 0, in_manifest = 0;
	double t0 = now_secs();
	tu_rng r;
	tu_rng_init(&r, g_seed ^ 203);
	for (int c = 0; c < cycles; c++) {
		int failed = 0;
		char what[128];
		uint64_t budget = 2048 + tu_below(&r, 400 << 10);
		snprintf(what, sizeof(what), "ENOSPC after %llu bytes, cycle %d",
			 (unsigned long long)budget, c);
		full_disk *f = full_disk_new(what);
		ack_model *m = &f->m;
		f->o.memtable_bytes = 16 << 10;
		f->o.target_file_bytes = 16 << 10;
		f->o.level_base_bytes = 32 << 10;
		f->o.l0_compaction_trigger = 2;
		lsm_db *db = full_disk_open(f);
		for (int i = 0; i < 150; i++)
			EXPECT(ack_write(db, &r, m, 0) == 0, "%s", lsm_errmsg());
		lsm_fault_enospc_after(f->fe, budget);
		for (int i = 0; i < 4000 && !failed; i++) {
			int rc = ack_write(db, &r, m, tu_below(&r, 20) == 0);
			if (!rc && i % 250 == 249)
				rc = lsm_flush(db);
			if (rc) {
				const char *msg = lsm_errmsg();
				expect_enospc(rc, "a write or flush");
				in_table += strstr(msg, ".sst") != NULL;
				in_log += strstr(msg, ".log") != NULL;
				in_manifest += strstr(msg, "MANIFEST") != NULL;
				failed = 1;
			}
		}
		hits += failed;
		ack_check(db, m, "before close");
		close_after_enospc(db);
		recover_and_write_again(f, &r);
		full_disk_free(f);
	}
	printf("ENOSPC at random points (%.1f s): %d cycles, the disk filled in %d: "
	       "%d in a table, %d in a WAL, %d in a MANIFEST\n",
	       now_secs() - t0, cycles, hits, in_table, in_log, in_manifest);
	snprintf(g_case, sizeof(g_case), "ENOSPC at random points");
	EXPECT(hits >= cycles / 2, "the disk filled in only %d of %d cycles", hits, cycles);
	/*
	 * A compaction that fills the disk is silent (retried later): the next
	 * write then fails in the WAL. The two cases above cover compactions.
	 */
	EXPECT(in_table + in_log > 0, "the disk never filled during a write or flush");
}
END_TEST

int main(void)
{
	g_seed = tu_seed();
	Suite *s = suite_create("corrupt_space");
	TCase *te = tcase_create("enospc");
	tcase_set_timeout(te, 600);
	tcase_add_test(te, test_enospc_during_flush_is_reported_and_loses_nothing_acknowledged);
	tcase_add_test(te, test_enospc_during_a_manual_compaction_fails_it_only_and_loses_nothing);
	tcase_add_test(te, test_enospc_in_a_background_compaction_is_retried_once_space_is_back);
	tcase_add_test(te, test_enospc_at_random_points_loses_nothing_acknowledged);
	suite_add_tcase(s, te);
	return tu_run_suite(s);
}
