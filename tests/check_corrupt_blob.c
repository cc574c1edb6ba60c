/*
 * check_corrupt_blob.c — damage to value files (retired WALs holding
 * separated values, and the collector's .blob files): flipped bytes, a cut,
 * a deleted file. The rule is the same as for every other file: the open
 * is refused naming the file, or every read gives the exact value or
 * -LSM_ECORRUPT naming the file, never wrong or older bytes; lsm_verify
 * reports damage to any value a table refers to, naming the file.
 */
#include "lsm.h"
#include "testutil.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NKEYS 240
#define KiB   1024u

static uint64_t g_seed;

/* Value of key k: 0.5 .. 40 KiB of bytes that depend on k and the seed. */
static size_t value_of(uint32_t k, uint8_t *buf)
{
	tu_rng r;
	tu_rng_init(&r, g_seed * 31 + k + 1);
	size_t len = 512 + tu_below(&r, 40 * KiB);
	tu_fill(&r, buf, len);
	return len;
}

static void key_of(uint32_t k, char out[16])
{
	snprintf(out, 16, "key%06u", k);
}

static void opts_of(lsm_options *o)
{
	lsm_options_init(o);
	o->create_if_missing = 0;
	o->blob_threshold = 256;
	o->blob_file_bytes = 512 * KiB;
	o->blob_gc_ratio = 0.3;
	o->blob_gc_bytes_per_sec = 0;
}

/*
 * The database: every key written, then a third of them overwritten with
 * the same bytes (so old files are partly dead and collection makes .blob
 * files), compacted, and left idle until collection is done.
 */
static char *build_db(void)
{
	char *dir = tu_mkdtemp("corrupt-blob");
	uint8_t *buf = malloc(64 * KiB);
	lsm_options o;
	opts_of(&o);
	o.create_if_missing = 1;
	lsm_db *db;
	ck_assert_int_eq(lsm_open(&db, dir, &o), 0);
	for (int pass = 0; pass < 2; pass++)
		for (uint32_t k = 0; k < NKEYS; k++) {
			if (pass && k % 3)
				continue;
			char key[16];
			key_of(k, key);
			size_t len = value_of(k, buf);
			ck_assert_int_eq(lsm_put(db, NULL, key, strlen(key), buf, len), 0);
		}
	ck_assert_int_eq(lsm_flush(db), 0);
	ck_assert_int_eq(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
	lsm_stats st;
	for (int i = 0; i < 100; i++) {
		lsm_stats_get(db, &st);
		if (st.blob_gc_runs &&
		    (double)st.blob_file_bytes <= 1.6 * (double)st.blob_live_bytes)
			break;
		usleep(50 * 1000);
	}
	ck_assert_int_eq(lsm_close(db), 0);
	free(buf);
	return dir;
}

/* The value files of dir (.log below the newest, and .blob), as base names. */
static int value_files(const char *dir, char names[][32], int max)
{
	int n = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	while ((e = readdir(d)) && n < max) {
		size_t l = strlen(e->d_name);
		if ((l > 4 && !strcmp(e->d_name + l - 4, ".log")) ||
		    (l > 5 && !strcmp(e->d_name + l - 5, ".blob")))
			snprintf(names[n++], 32, "%s", e->d_name);
	}
	closedir(d);
	return n;
}

static char *copy_db(const char *from)
{
	char *to = tu_mkdtemp("corrupt-blob-case");
	char cmd[8192];
	snprintf(cmd, sizeof(cmd), "cp -a '%s'/. '%s'/", from, to);
	ck_assert_int_eq(system(cmd), 0);
	return to;
}

enum { FLIP, CUT, DELETE };
static const char *const op_name[] = {"flip", "cut", "delete"};

static void damage(const char *dir, const char *name, int op, tu_rng *rng, char *what, size_t n)
{
	char *path = tu_path(dir, name);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	if (op == DELETE) {
		ck_assert_int_eq(unlink(path), 0);
		snprintf(what, n, "delete %s", name);
	} else if (op == CUT) {
		off_t len = st.st_size ? (off_t)tu_below(rng, (uint64_t)st.st_size) : 0;
		ck_assert_int_eq(truncate(path, len), 0);
		snprintf(what, n, "cut %s to %lld of %lld bytes", name, (long long)len,
			 (long long)st.st_size);
	} else {
		int fd = open(path, O_RDWR);
		ck_assert_int_ge(fd, 0);
		int flips = 1 + (int)tu_below(rng, 8);
		off_t at = st.st_size ? (off_t)tu_below(rng, (uint64_t)st.st_size) : 0;
		for (int i = 0; i < flips && at + i < st.st_size; i++) {
			uint8_t b;
			ck_assert_int_eq(pread(fd, &b, 1, at + i), 1);
			b ^= (uint8_t)(1 + tu_below(rng, 255));
			ck_assert_int_eq(pwrite(fd, &b, 1, at + i), 1);
		}
		close(fd);
		snprintf(what, n, "flip %d byte(s) of %s at %lld", flips, name, (long long)at);
	}
	free(path);
}

/* lsm_verify_problems: counts problems, and those of kind CORRUPT naming name. */
struct vcount {
	const char *name;
	int all, naming;
};

static void count_problem(void *arg, const lsm_verify_problem *p)
{
	struct vcount *vc = arg;
	vc->all++;
	if (p->kind == LSM_VERIFY_CORRUPT && strstr(p->file, vc->name))
		vc->naming++;
}

/* Every get and one iteration: exact, or an error naming name. Returns the errors seen. */
static int check_reads(lsm_db *db, const char *name, const char *what)
{
	uint8_t *buf = malloc(64 * KiB), *into = malloc(64 * KiB);
	int errors = 0;
	for (uint32_t k = 0; k < NKEYS; k++) {
		char key[16];
		key_of(k, key);
		void *v;
		size_t vl;
		int rc = lsm_get(db, NULL, key, strlen(key), &v, &vl);
		if (rc < 0) {
			ck_assert_msg(rc == -LSM_ECORRUPT, "%s: get %s: %s", what, key,
				      lsm_strerror(rc));
			ck_assert_msg(strstr(lsm_errmsg(), name), "%s: get %s: '%s' names no %s",
				      what, key, lsm_errmsg(), name);
			errors++;
			continue;
		}
		ck_assert_msg(rc == 0, "%s: get %s: not found", what, key);
		size_t want = value_of(k, buf);
		ck_assert_msg(vl == want && !memcmp(v, buf, vl), "%s: get %s: wrong bytes", what,
			      key);
		free(v);
		/* The same value read straight into a buffer (lsm_get_into). */
		rc = lsm_get_into(db, NULL, key, strlen(key), into, 64 * KiB, &vl);
		ck_assert_msg(rc == 0 || (rc == -LSM_ECORRUPT && strstr(lsm_errmsg(), name)),
			      "%s: get_into %s: %s (%s)", what, key, lsm_strerror(rc),
			      lsm_errmsg());
		ck_assert_msg(rc || (vl == want && !memcmp(into, buf, vl)),
			      "%s: get_into %s: wrong bytes", what, key);
	}
	lsm_iter *it = lsm_iter_new(db, NULL);
	uint32_t k = 0;
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it), k++) {
		size_t vl;
		const void *v = lsm_iter_value(it, &vl);
		if (!v)
			break;
		size_t want = value_of(k, buf);
		ck_assert_msg(vl == want && !memcmp(v, buf, vl), "%s: scan key %u: wrong bytes",
			      what, k);
	}
	int rc = lsm_iter_status(it);
	if (k < NKEYS) {
		ck_assert_msg(rc == -LSM_ECORRUPT, "%s: scan stopped at %u of %u: %s", what, k,
			      NKEYS, lsm_strerror(rc));
		errors++;
	}
	lsm_iter_free(it);
	free(buf);
	free(into);
	return errors;
}

START_TEST(test_damaged_value_files_are_refused_or_read_as_errors_never_wrong)
{
	g_seed = tu_seed();
	tu_rng rng;
	tu_rng_init(&rng, g_seed);
	char *base = build_db();
	char names[256][32];
	int nfiles = value_files(base, names, 256);
	int blobs = 0;
	for (int i = 0; i < nfiles; i++)
		blobs += strstr(names[i], ".blob") != NULL;
	ck_assert_int_gt(nfiles, 3);
	ck_assert_int_gt(blobs, 0); /* collection ran: both kinds are damaged */
	int ncases = 60 * tu_scale(), refused = 0, erred = 0, clean = 0;
	for (int c = 0; c < ncases; c++) {
		char *dir = copy_db(base);
		const char *name = names[c % nfiles];
		int op = c % 5 == 4 ? DELETE : c % 5 == 3 ? CUT : FLIP;
		char what[256];
		damage(dir, name, op, &rng, what, sizeof(what));
		lsm_options o;
		opts_of(&o);
		for (int ro = 1; ro >= 0; ro--) {
			o.read_only = ro;
			lsm_db *db;
			int rc = lsm_open(&db, dir, &o);
			if (rc) {
				/* Only a value file a table needs may be refused, and by name. */
				ck_assert_msg(rc == -LSM_ECORRUPT, "%s: open: %s", what,
					      lsm_strerror(rc));
				ck_assert_msg(strstr(lsm_errmsg(), name), "%s: '%s' names no %s",
					      what, lsm_errmsg(), name);
				refused++;
				continue;
			}
			int e = check_reads(db, name, what);
			if (e)
				erred++;
			else
				clean++;
			/* A value a read could not get is damage verify must name. */
			struct vcount vc = {name, 0, 0};
			int vrc = lsm_verify_problems(db, count_problem, &vc);
			if (e)
				ck_assert_msg(vrc == -LSM_ECORRUPT && vc.naming > 0,
					      "%s: reads failed but verify named %s %d times", what,
					      name, vc.naming);

			/* Collection or a compaction may meet the damage too, but may not hide it.
			 */
			rc = lsm_close(db);
			ck_assert_msg(rc == 0 || rc == -LSM_ECORRUPT, "%s: close: %s", what,
				      lsm_strerror(rc));
		}
		(void)op_name;
		tu_rmtree(dir);
	}
	fprintf(stderr, "%d cases: %d opens refused, %d served errors, %d served every value\n",
		ncases, refused, erred, clean);
	ck_assert_int_gt(refused + erred, 0);
	tu_rmtree(base);
}
END_TEST

START_TEST(test_lsmctl_verify_names_a_damaged_value_file)
{
	const char *top = getenv("top_builddir");
	if (!top || !*top) {
		printf("top_builddir is not set (not run by make check): lsmctl not tested\n");
		return;
	}
	char *lsmctl = tu_path(top, "lsm/lsmctl");
	ck_assert_msg(access(lsmctl, X_OK) == 0, "%s is not built", lsmctl);
	g_seed = tu_seed();
	char *base = build_db();
	static char out[1 << 16];
	int st = tu_lsmctl_verify(lsmctl, base, out, sizeof(out));
	ck_assert_msg(st == 0, "lsmctl verify of an intact db exited %d:\n%s", st, out);
	/* Zero the middle third of every value file: live values are hit. */
	char names[256][32];
	int n = value_files(base, names, 256);
	for (int i = 0; i < n; i++) {
		char *p = tu_path(base, names[i]);
		struct stat sb;
		ck_assert_int_eq(stat(p, &sb), 0);
		int fd = open(p, O_RDWR);
		ck_assert_int_ge(fd, 0);
		size_t len = (size_t)sb.st_size / 3;
		uint8_t *zero = calloc(1, len + 1);
		ck_assert_int_eq(pwrite(fd, zero, len, sb.st_size / 3), (ssize_t)len);
		free(zero);
		close(fd);
		free(p);
	}
	st = tu_lsmctl_verify(lsmctl, base, out, sizeof(out));
	ck_assert_msg(st == 1, "lsmctl verify of damaged value files exited %d:\n%s", st, out);
	ck_assert_msg(strstr(out, ".log") || strstr(out, ".blob"),
		      "lsmctl verify names no value file:\n%s", out);
	ck_assert_msg(strstr(out, "checksum"), "lsmctl verify does not say what is wrong:\n%s",
		      out);
	tu_rmtree(base);
	free(lsmctl);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("corrupt_blob");
	TCase *tc = tcase_create("damage");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_damaged_value_files_are_refused_or_read_as_errors_never_wrong);
	tcase_add_test(tc, test_lsmctl_verify_names_a_damaged_value_file);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
