/*
 * db_verify.c — lsm_verify: reads every block of every live table and every
 * record of every live WAL, checks every separated value a table refers to
 * against its reference, and reports each problem found.
 *
 * Tables are checked from the read view taken at the start, so a
 * compaction meanwhile cannot delete them under us. WALs are read while
 * holding the lead of the write queue: the active WAL then has no append in
 * flight, so a strict reader (which calls a torn tail corruption) sees
 * only whole records.
 */
#include "db_impl.h"

#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct verify_ctx {
	lsm_verify_problem_fn report;
	void *arg;
	int problems;
} verify_ctx;

/* Counts p and passes it on. Also the callback of a table's own reports. */
static void count_and_pass(void *arg, const lsm_verify_problem *p)
{
	verify_ctx *vc = arg;
	vc->problems++;
	if (vc->report)
		vc->report(vc->arg, p);
}

/* Reports what failed with rc: corruption, or a file that could not be checked. */
static void problem(verify_ctx *vc, int rc, const char *file, uint64_t off, const char *msg)
{
	lsm_verify_problem p = {rc == -LSM_ECORRUPT ? LSM_VERIFY_CORRUPT : LSM_VERIFY_ERROR, rc,
				file, off, msg};
	count_and_pass(vc, &p);
}

static void verify_table(lsm_db *db, const lsm_file_meta *f, verify_ctx *vc)
{
	lsm_table *t;
	char *path = lsm_table_filename(db->dir, f->number);
	int before = vc->problems;
	int rc = lsm_tcache_get(db->tcache, f->number, f->size, &t);
	if (rc) {
		problem(vc, rc, path ? path : "table", 0, lsm_errmsg());
		goto out;
	}
	rc = lsm_table_verify_problems(t, count_and_pass, vc);
	lsm_table_unref(t);
	/* A failure the table did not report itself (an I/O error) still counts. */
	if (rc && vc->problems == before)
		problem(vc, rc, path ? path : "table", 0, lsm_errmsg());
out:
	free(path);
}

/* The path of value file number: NNNNNN.log, or NNNNNN.blob if that is what exists. */
static char *value_file_path(lsm_db *db, uint64_t number)
{
	char *p = lsm_log_filename(db->dir, number);
	if (p && db->env->exists(db->env, p) == -ENOENT) {
		free(p);
		p = lsm_blob_filename(db->dir, number);
	}
	return p;
}

/*
 * The value bytes per value file that f's references add up to (found)
 * against what its meta says (the MANIFEST's BLOB_USE entries, from which
 * the collector counts live and dead bytes): a mismatch would make it
 * delete a file still referred to, or never collect a dead one.
 */
static void check_accounting(lsm_db *db, const lsm_file_meta *f, const lsm_blob_uses *found,
			     verify_ctx *vc)
{
	/* Both lists are sorted by file number (lsm_blob_uses_add keeps found so). */
	int same = found->n == f->nblobs;
	for (int k = 0; same && k < f->nblobs; k++)
		same = found->v[k].file == f->blobs[k].file &&
		       found->v[k].bytes == f->blobs[k].bytes;
	if (same)
		return;
	char *path = lsm_table_filename(db->dir, f->number);
	char msg[160];
	snprintf(msg, sizeof(msg),
		 "the MANIFEST counts %d value file(s) this table refers to, its references "
		 "name %d, or their byte counts differ",
		 f->nblobs, found->n);
	problem(vc, -LSM_ECORRUPT, path ? path : "table", 0, msg);
	free(path);
}

/*
 * Reads every value table f's blob references point at and checks it
 * against its reference (length, checksum): one problem per damaged value,
 * naming the value file and the value's offset in it. Then checks the
 * table's value accounting (check_accounting).
 */
static void verify_table_values(lsm_db *db, const lsm_file_meta *f, verify_ctx *vc)
{
	if (!f->nblobs && !db->opts.blob_threshold)
		return; /* no value file, nor a reason to look for references */
	lsm_it *it = lsm_db_table_iter(db, f, 0);
	lsm_blob_uses found;
	lsm_buf val;
	lsm_blob_ahead ahead;
	int failed = 0;
	memset(&ahead, 0, sizeof(ahead));
	lsm_buf_init(&val);
	lsm_blob_uses_init(&found);
	for (lsm_it_seek_first(it); lsm_it_valid(it); lsm_it_next(it)) {
		if (lsm_ikey_type(lsm_it_key(it)) != LSM_TYPE_BLOB)
			continue;
		lsm_blob_ref ref;
		lsm_slice enc = lsm_it_value(it);
		int rc = lsm_blob_ref_decode(enc, &ref);
		if (rc) {
			failed = 1;
			continue; /* the table's own check reports a malformed reference */
		}
		failed |= lsm_blob_uses_add(&found, ref.file, ref.len) != 0;
		rc = lsm_blob_read_ahead(db->blob_files, enc, &val, &ahead);
		if (!rc)
			continue;
		char *path = value_file_path(db, ref.file);
		problem(vc, rc, path ? path : "value file", ref.offset, lsm_errmsg());
		free(path);
	}
	/* The table's own errors are verify_table's to report. */
	if (!failed && lsm_it_status(it) == 0)
		check_accounting(db, f, &found, vc);
	lsm_it_destroy(it);
	lsm_buf_free(&val);
	lsm_blob_uses_free(&found);
}

static int ignore_entry(void *arg, uint64_t seq, int type, lsm_slice key, lsm_slice val)
{
	(void)arg;
	(void)seq;
	(void)type;
	(void)key;
	(void)val;
	return 0;
}

static void verify_wal(lsm_db *db, uint64_t number, verify_ctx *vc)
{
	lsm_wal_reader *r = NULL;
	lsm_slice rec;
	uint64_t off = 0;
	char *path = lsm_log_filename(db->dir, number);
	if (!path) {
		problem(vc, -ENOMEM, "WAL", 0, "out of memory");
		return;
	}
	int rc = lsm_wal_reader_open(db->env, path, 1, &r);
	if (rc == -ENOENT)
		goto out; /* flushed and deleted since we listed it: nothing to check */
	if (rc) {
		problem(vc, rc, path, 0, lsm_errmsg());
		goto out;
	}
	while ((rc = lsm_wal_read(r, &rec, &off)) == 1) {
		rc = lsm_batch_iterate_at(rec, path, off, ignore_entry, NULL);
		if (rc) {
			problem(vc, rc, path, off, lsm_errmsg());
			goto out;
		}
	}
	if (rc < 0 && lsm_wal_reader_refused_torn_tail(r, &off)) {
		/* The strict reader refuses a torn tail; it is a crash's mark, not damage. */
		lsm_verify_problem p = {LSM_VERIFY_TORN_TAIL, rc, path, off, lsm_errmsg()};
		count_and_pass(vc, &p);
	} else if (rc < 0)
		problem(vc, rc, path, off, lsm_errmsg());
out:
	if (r)
		lsm_wal_reader_close(r);
	free(path);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* REQUIRES: db->mu held. The WALs recovery would replay, oldest first. */
static int live_wals(lsm_db *db, uint64_t **out, int *n)
{
	char **names = NULL;
	size_t count = 0;
	uint64_t log_number = db->vs.log_number;
	int rc = db->env->list_dir(db->env, db->dir, &names, &count);
	if (rc)
		return rc;
	uint64_t *l = malloc((count + 1) * sizeof(*l));
	if (!l) {
		lsm_env_free_names(names, count);
		return lsm_seterr(-ENOMEM, "verify: out of memory");
	}
	*n = 0;
	for (size_t i = 0; i < count; i++) {
		uint64_t num;
		if (lsm_parse_filename(names[i], &num) == LSM_FILE_LOG && num >= log_number)
			l[(*n)++] = num;
	}
	qsort(l, (size_t)*n, sizeof(*l), cmp_u64);
	lsm_env_free_names(names, count);
	*out = l;
	return 0;
}

int lsm_verify(lsm_db *db, lsm_verify_report_fn report, void *arg)
{
	lsm_verify_report_only r = {report, arg};
	return lsm_verify_problems(db, report ? lsm_verify_drop_kind : NULL, &r);
}

int lsm_verify_problems(lsm_db *db, lsm_verify_problem_fn report, void *arg)
{
	verify_ctx vc = {report, arg, 0};
	uint64_t *wals = NULL;
	int nwals = 0;

	pthread_mutex_lock(&db->mu);
	lsm_sv *sv = lsm_db_sv_get(db);
	pthread_mutex_unlock(&db->mu);
	for (int level = 0; level < LSM_MAX_LEVELS; level++)
		for (int i = 0; i < sv->v->nfiles[level]; i++) {
			verify_table(db, sv->v->files[level][i], &vc);
			verify_table_values(db, sv->v->files[level][i], &vc);
		}
	lsm_db_sv_release(db, sv);

	lsm_writer w = {.batch = NULL};
	lsm_db_writer_enter(db, &w);
	int rc = live_wals(db, &wals, &nwals);
	if (rc) {
		problem(&vc, rc, db->dir, 0, lsm_errmsg());
	} else {
		/* Leading the queue: no writer appends while we read. */
		pthread_mutex_unlock(&db->mu);
		for (int i = 0; i < nwals; i++)
			verify_wal(db, wals[i], &vc);
		pthread_mutex_lock(&db->mu);
	}
	lsm_db_writer_leave(db, &w);
	pthread_mutex_unlock(&db->mu);
	pthread_cond_destroy(&w.cv);
	free(wals);

	if (vc.problems)
		return lsm_seterr(-LSM_ECORRUPT, "%s: verify found %d problem%s", db->dir,
				  vc.problems, vc.problems == 1 ? "" : "s");
	return 0;
}
