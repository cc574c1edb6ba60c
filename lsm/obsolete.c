/*
 * obsolete.c — deleting the files no version needs any more: WALs below
 * the log number (unless tables still refer to their separated values),
 * tables no live version holds, value files no table refers to, old
 * MANIFESTs and temporary files; and keeping db->vfiles, the list of value
 * files with their sizes, up to date while the directory is listed.
 * Runs in the background thread (or in lsm_open before it starts).
 */
#include "db_impl.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/*
 * REQUIRES: db->mu held. Drops our reference to every old version no
 * reader holds any more, then collects the table numbers still reachable
 * from any live version or being written.
 */
static uint64_t *live_tables(lsm_db *db, int *nlive)
{
	int n = 0, cap = db->npending;
	int keep = 0;
	for (int i = 0; i < db->nversions; i++) {
		lsm_version *v = db->versions[i];
		/* Only ours left, and not current: no one can take a new reference. */
		if (v != db->vs.current && __atomic_load_n(&v->refs, __ATOMIC_ACQUIRE) == 1) {
			lsm_version_unref(v);
			continue;
		}
		db->versions[keep++] = v;
		for (int l = 0; l < LSM_MAX_LEVELS; l++)
			cap += v->nfiles[l];
	}
	db->nversions = keep;
	lsm_version *cur = db->vs.current;
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		cap += cur->nfiles[l];
	uint64_t *live = malloc((size_t)(cap + 1) * sizeof(*live));
	if (!live)
		return NULL;
	for (int i = 0; i < db->npending; i++)
		live[n++] = db->pending[i];
	for (int i = 0; i <= db->nversions; i++) {
		lsm_version *v = i < db->nversions ? db->versions[i] : cur;
		for (int l = 0; l < LSM_MAX_LEVELS; l++)
			for (int j = 0; j < v->nfiles[l]; j++)
				live[n++] = v->files[l][j]->number;
	}
	assert(n <= cap);
	qsort(live, (size_t)n, sizeof(*live), cmp_u64);
	*nlive = n;
	return live;
}

/*
 * REQUIRES: db->mu held, after live_tables pruned db->versions. The value
 * files (WALs below log_number kept for their separated values) that some
 * table of a live version refers to, sorted, with duplicates. *log_floor
 * gets the lowest WAL number that must stay whatever the tables say: with
 * value separation on, a reader's memtables may refer to any WAL from its
 * version's log_number on.
 */
static uint64_t *live_value_files(lsm_db *db, int *nlive, uint64_t *log_floor)
{
	lsm_version *cur = db->vs.current;
	int n = 0, cap = 0;
	*log_floor = db->vs.log_number;
	for (int i = 0; i <= db->nversions; i++) {
		lsm_version *v = i < db->nversions ? db->versions[i] : cur;
		if (db->opts.blob_threshold && v->log_number < *log_floor)
			*log_floor = v->log_number;
		for (int l = 0; l < LSM_MAX_LEVELS; l++)
			for (int j = 0; j < v->nfiles[l]; j++)
				cap += v->files[l][j]->nblobs;
	}
	uint64_t *live = malloc((size_t)(cap + 1) * sizeof(*live));
	if (!live)
		return NULL;
	for (int i = 0; i <= db->nversions; i++) {
		lsm_version *v = i < db->nversions ? db->versions[i] : cur;
		for (int l = 0; l < LSM_MAX_LEVELS; l++)
			for (int j = 0; j < v->nfiles[l]; j++)
				for (int k = 0; k < v->files[l][j]->nblobs; k++)
					live[n++] = v->files[l][j]->blobs[k].file;
	}
	qsort(live, (size_t)n, sizeof(*live), cmp_u64);
	*nlive = n;
	return live;
}

/*
 * REQUIRES: db->mu not held; the background thread (the only writer of
 * db->vfiles). Makes db->vfiles the value files kept[0..n), with sizes
 * from the old list or, for new ones, from the file system.
 */
static void update_vfiles(lsm_db *db, uint64_t *kept, size_t n)
{
	lsm_vfile *nv = malloc((n + 1) * sizeof(*nv));
	if (!nv)
		return; /* the old list stays: stats and collection are a little stale */
	qsort(kept, n, sizeof(*kept), cmp_u64);
	int j = 0;
	for (size_t i = 0; i < n; i++) {
		nv[i].number = kept[i];
		nv[i].size = 0;
		while (j < db->nvfiles && db->vfiles[j].number < kept[i])
			j++;
		if (j < db->nvfiles && db->vfiles[j].number == kept[i] && db->vfiles[j].size) {
			nv[i].size = db->vfiles[j].size;
			continue;
		}
		char *p = lsm_log_filename(db->dir, kept[i]);
		if (p && db->env->path_size(db->env, p, &nv[i].size) == -ENOENT) {
			free(p);
			p = lsm_blob_filename(db->dir, kept[i]);
			if (p)
				db->env->path_size(db->env, p, &nv[i].size);
		}
		free(p);
	}
	pthread_mutex_lock(&db->mu);
	lsm_vfile *old = db->vfiles;
	db->vfiles = nv;
	db->nvfiles = (int)n;
	db->unlisted_log_bytes = 0; /* each WAL flushed before this call is listed or gone */
	pthread_mutex_unlock(&db->mu);
	free(old);
}

void lsm_db_delete_obsolete(lsm_db *db)
{
	char **names = NULL;
	size_t count = 0;
	int nlive = 0;
	/* After a background error the state on disk is uncertain: keep everything. */
	if (db->read_only || db->bg_error)
		return;
	/* A reader dropping a version from here on asks again. */
	db->obsolete_pending = 0;
	int nvalues = 0;
	uint64_t log_number = 0;
	uint64_t *live = live_tables(db, &nlive);
	uint64_t *values = live ? live_value_files(db, &nvalues, &log_number) : NULL;
	if (!values) {
		free(live);
		return; /* out of memory: try again after the next job */
	}
	uint64_t manifest_number = db->vs.manifest_number;
	uint64_t retired = db->vs.log_number;
	uint64_t *kept = calloc(1, sizeof(*kept));
	size_t nkept = 0;
	/*
	 * Safe without the lock: only this thread (or lsm_open before the
	 * thread starts) creates tables; WALs created meanwhile are numbered
	 * above log_number, and a MANIFEST the write leader may start meanwhile
	 * (lsm_db_new_file_number) above manifest_number.
	 */
	pthread_mutex_unlock(&db->mu);
	if (kept && db->env->list_dir(db->env, db->dir, &names, &count) == 0) {
		uint64_t *k = realloc(kept, (count + 1) * sizeof(*kept));
		if (k)
			kept = k;
		for (size_t i = 0; k && i < count; i++) {
			uint64_t num = 0;
			int del = 0;
			enum lsm_file_kind kind = lsm_parse_filename(names[i], &num);
			switch (kind) {
			case LSM_FILE_LOG:
				del = num < log_number && !bsearch(&num, values, (size_t)nvalues,
								   sizeof(*values), cmp_u64);
				break;
			case LSM_FILE_TABLE:
				del = !bsearch(&num, live, (size_t)nlive, sizeof(*live), cmp_u64);
				break;
			case LSM_FILE_BLOB: /* pending ones (being written) are among live */
				del = !bsearch(&num, values, (size_t)nvalues, sizeof(*values),
					       cmp_u64) &&
				      !bsearch(&num, live, (size_t)nlive, sizeof(*live), cmp_u64);
				break;
			case LSM_FILE_MANIFEST:
				del = num < manifest_number;
				break;
			case LSM_FILE_TEMP:
				del = 1;
				break;
			default:
				break;
			}
			if (!del) {
				/* A .blob file no table refers to yet may still be growing. */
				if ((kind == LSM_FILE_LOG && num < retired) ||
				    (kind == LSM_FILE_BLOB && bsearch(&num, values, (size_t)nvalues,
								      sizeof(*values), cmp_u64)))
					kept[nkept++] = num;
				continue;
			}
			char *p = NULL;
			if (asprintf(&p, "%s/%s", db->dir, names[i]) < 0)
				break;
			if (kind == LSM_FILE_TABLE)
				lsm_tcache_evict(db->tcache, num);
			if (kind == LSM_FILE_LOG || kind == LSM_FILE_BLOB)
				lsm_blob_files_evict(db->blob_files, num);
			db->env->unlink(db->env,
					p); /* a failure only leaves garbage for next time */
			free(p);
		}
		lsm_env_free_names(names, count);
		update_vfiles(db, kept, nkept);
	}
	free(kept);
	free(live);
	free(values);
	pthread_mutex_lock(&db->mu);
}
