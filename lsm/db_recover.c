/*
 * db_recover.c — opening what is on disk: lsm_open's recovery of the
 * MANIFEST, the check of the directory against it, and the replay of the
 * WALs it has not retired.
 *
 * What recovery promises (with the write path's durability rule in db.c):
 *   - the db it opens holds a prefix of the acknowledged writes and
 *     everything that was synced: the WALs numbered at or past the
 *     MANIFEST's log_number are replayed in order, each record all or
 *     nothing, and a torn tail left by a crash ends the replay of its WAL
 *     (with paranoid_checks it is reported as corruption instead);
 *   - it never opens an older state than the one last synced: a MANIFEST
 *     that lost synced edits is caught by the traces those edits left in
 *     the directory (check_files), and the open fails as corrupt instead
 *     of bringing old values back or deleting newer files as obsolete;
 *   - it never creates a fresh db over the remains of an old one
 *     (check_no_leftovers);
 *   - read-write, what was replayed is written to a level-0 table and a
 *     fresh WAL takes over before the db is used; read-only, nothing is
 *     written and the replay stays in memtables;
 *   - new files are numbered past every file in the directory, so a file
 *     a crash left behind is never clobbered.
 */
#include "db_impl.h"

#include "error.h"

#include <stdlib.h>

typedef struct replay_state {
	lsm_db *db;
	lsm_memtable *mem;
	lsm_version_edit *edit;
	uint64_t max_seq;
	uint64_t fill; /* like db->mem_fill, for mem */
} replay_state;

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* REQUIRES: db->mu held. The replay memtable is full: write it out (or keep it, read-only). */
static int replay_rotate(replay_state *st)
{
	lsm_db *db = st->db;
	int rc;
	lsm_memtable *nm = lsm_memtable_new();
	if (!nm)
		return lsm_seterr(-ENOMEM, "recovery: out of memory");
	if (db->read_only) {
		/* Nothing may be written: keep it as an immutable memtable. */
		rc = lsm_db_reserve_imm_slot(db);
		if (rc) {
			lsm_memtable_unref(nm);
			return rc;
		}
		lsm_db_push_imm(db, st->mem, 0, NULL);
	} else {
		rc = lsm_db_write_l0(db, st->mem, st->edit);
		if (rc) {
			lsm_memtable_unref(nm);
			return rc;
		}
		lsm_memtable_unref(st->mem);
	}
	st->mem = nm;
	st->fill = 0;
	return 0;
}

/*
 * The WAL being replayed may be only in the page cache (the process died,
 * the machine did not). Its separated values are about to be referred to
 * by tables that will be synced, so it is made durable first.
 */
static int sync_log(lsm_db *db, const char *path)
{
	lsm_file *f;
	int rc = db->env->open_file(db->env, path, LSM_O_WRITE, &f);
	if (rc)
		return rc;
	rc = db->env->datasync(db->env, f);
	int crc = db->env->close(db->env, f);
	return rc ? rc : crc;
}

/* REQUIRES: db->mu held. Replays WAL number into st->mem. */
/* Replays one WAL; *torn gets whether it ended with a torn tail. */
static int replay_log(replay_state *st, uint64_t number, int *torn)
{
	lsm_db *db = st->db;
	lsm_wal_reader *r = NULL;
	lsm_slice rec;
	uint64_t off = 0;
	char *path = lsm_log_filename(db->dir, number);
	int rc;
	if (!path)
		return lsm_seterr(-ENOMEM, "recovery: out of memory");
	rc = lsm_wal_reader_open(db->env, path, db->opts.paranoid_checks, &r);
	if (!rc && db->opts.blob_threshold && !db->read_only)
		rc = sync_log(db, path);
	if (rc)
		goto out;
	while ((rc = lsm_wal_read(r, &rec, &off)) == 1) {
		if (rec.len < LSM_BATCH_HEADER) {
			rc = LSM_CORRUPT(path, off,
					 "WAL record of %zu bytes is too short for a batch",
					 rec.len);
			goto out;
		}
		uint64_t seq = lsm_get_le64(rec.data);
		uint32_t count = lsm_get_le32(rec.data + 8);
		lsm_insert_ctx ctx = {
			.mem = st->mem,
			.blob_threshold = db->opts.blob_threshold,
			.log = number,
			.header = off,
			.rep = rec.data,
		};
		/* Validated whole before the first insert: a record replays all or nothing. */
		rc = lsm_batch_iterate_at(rec, path, off, lsm_db_insert_one, &ctx);
		if (rc)
			goto out;
		if (count && seq + count - 1 > st->max_seq)
			st->max_seq = seq + count - 1;
		st->fill += lsm_db_fill_after(rec, count, &ctx);
		if (st->fill >= db->opts.memtable_bytes) {
			rc = replay_rotate(st);
			if (rc)
				goto out;
		}
	}
	if (rc == 0)
		*torn = lsm_wal_reader_torn_tail(r, NULL, NULL);
out:
	if (r)
		lsm_wal_reader_close(r);
	free(path);
	return rc;
}

/* True if sorted[0..n) holds x. */
static int has_number(const uint64_t *sorted, int n, uint64_t x)
{
	return bsearch(&x, sorted, (size_t)n, sizeof(x), cmp_u64) != NULL;
}

/*
 * Checks the recovered version against the directory. A MANIFEST that lost
 * its last synced edits (a damaged or cut record that a crash cannot
 * explain) reads as an older, self-consistent version; opening it would
 * bring old values back and, read-write, delete the newer tables as
 * obsolete. What those edits did leaves traces:
 *   - a compaction deleted its inputs: a live table of the older version
 *     is missing;
 *   - a flush moved log_number on and deleted the WALs below it: the WAL
 *     log_number names is missing (recovery makes that WAL, and syncs its
 *     directory entry, before any edit names it; none is deleted before an
 *     edit has moved log_number past it);
 *   - any file made after them is numbered at or past the recovered
 *     NEXT_FILE (a file is only made once an edit covers its number: see
 *     lsm_db_new_file_number).
 * A crash's torn last record leaves none of these: that edit was not
 * synced, so nothing it would have allowed has happened.
 */
static int check_files(lsm_db *db, const uint64_t *tables, int ntables, const uint64_t *logs,
		       int nlogs)
{
	lsm_version *v = db->vs.current;
	char *manifest = lsm_manifest_filename(db->dir, db->vs.manifest_number);
	char *file = NULL;
	int rc = 0;
	if (!manifest)
		return lsm_seterr(-ENOMEM, "recovery: out of memory");
	for (int l = 0; l < LSM_MAX_LEVELS && !rc; l++) {
		for (int i = 0; i < v->nfiles[l] && !rc; i++) {
			uint64_t num = v->files[l][i]->number;
			if (has_number(tables, ntables, num))
				continue;
			file = lsm_table_filename(db->dir, num);
			rc = file ? LSM_CORRUPT(manifest, 0,
						"table %s of level %d is missing (deleted, or the "
						"MANIFEST lost the edits that replaced it)",
						file, l)
				  : lsm_seterr(-ENOMEM, "recovery: out of memory");
		}
	}
	/* A value file a table refers to is as necessary as the table. */
	for (int l = 0; l < LSM_MAX_LEVELS && !rc; l++) {
		for (int i = 0; i < v->nfiles[l] && !rc; i++) {
			const lsm_file_meta *m = v->files[l][i];
			for (int k = 0; k < m->nblobs && !rc; k++) {
				if (has_number(logs, nlogs, m->blobs[k].file))
					continue;
				/* A reference does not say which of the two names its file has. */
				rc = LSM_CORRUPT(manifest, 0,
						 "value file %s/%06llu.log (or %06llu.blob), "
						 "which table %06llu refers to, is missing",
						 db->dir, (unsigned long long)m->blobs[k].file,
						 (unsigned long long)m->blobs[k].file,
						 (unsigned long long)m->number);
			}
		}
	}
	if (!rc && db->vs.log_number && !has_number(logs, nlogs, db->vs.log_number)) {
		file = lsm_log_filename(db->dir, db->vs.log_number);
		rc = file ? LSM_CORRUPT(manifest, 0,
					"its WAL %s is missing (deleted, or the MANIFEST lost "
					"the edits that retired it)",
					file)
			  : lsm_seterr(-ENOMEM, "recovery: out of memory");
	}
	/*
	 * log_number 0: no edit since the creating open named its first WAL
	 * survived. A crash there leaves at most that WAL, empty (open returns
	 * before anything is written to it), and no table: a table, or a WAL
	 * holding records, proves lost edits (a MANIFEST cut after its first
	 * records), and opening would show an empty db and delete the tables.
	 */
	if (!rc && !db->vs.log_number) {
		if (ntables) {
			file = lsm_table_filename(db->dir, tables[0]);
		} else {
			for (int i = 0; i < nlogs && !file; i++) {
				uint64_t size = 0;
				char *p = lsm_log_filename(db->dir, logs[i]);
				if (p && db->env->path_size(db->env, p, &size) == 0 && size > 0)
					file = p;
				else
					free(p);
			}
		}
		if (file)
			rc = LSM_CORRUPT(manifest, 0,
					 "it names no WAL yet %s holds data: the MANIFEST lost the "
					 "edits made after the database was created (refusing to "
					 "open an empty state, or delete it)",
					 file);
	}
	uint64_t last_table = ntables ? tables[ntables - 1] : 0;
	uint64_t last_log = nlogs ? logs[nlogs - 1] : 0;
	uint64_t last = last_table > last_log ? last_table : last_log;
	if (!rc && (ntables || nlogs) && last >= db->vs.file_limit) {
		file = last == last_table ? lsm_table_filename(db->dir, last)
					  : lsm_log_filename(db->dir, last);
		if (file && last != last_table && db->env->exists(db->env, file) == -ENOENT) {
			free(file); /* a value file of the collector's, not a WAL */
			file = lsm_blob_filename(db->dir, last);
		}
		rc = file ? LSM_CORRUPT(manifest, 0,
					"%s is numbered at or past the MANIFEST's next file "
					"number %llu: the MANIFEST lost edits made before that "
					"file (refusing to open an older state, or delete it)",
					file, (unsigned long long)db->vs.file_limit)
			  : lsm_seterr(-ENOMEM, "recovery: out of memory");
	}
	free(file);
	free(manifest);
	return rc;
}

/*
 * Lists the directory, checks it against the recovered version
 * (check_files), and returns the WALs to replay (number >= log_number,
 * sorted) and the highest file number in use, so new files never reuse a
 * number that a crash left behind.
 */
static int scan_dir(lsm_db *db, uint64_t **logs, int *nlogs, uint64_t *max_number)
{
	char **names = NULL;
	size_t count = 0;
	int n = 0, nall = 0, ntables = 0;
	uint64_t *l = NULL, *all = NULL, *tables = NULL;
	int rc = db->env->list_dir(db->env, db->dir, &names, &count);
	if (rc)
		return rc;
	l = malloc((count + 1) * sizeof(*l));
	all = malloc((count + 1) * sizeof(*all));
	tables = malloc((count + 1) * sizeof(*tables));
	if (!l || !all || !tables) {
		rc = lsm_seterr(-ENOMEM, "recovery: out of memory");
		goto out;
	}
	*max_number = 0;
	for (size_t i = 0; i < count; i++) {
		uint64_t num = 0;
		enum lsm_file_kind k = lsm_parse_filename(names[i], &num);
		if (k == LSM_FILE_LOG || k == LSM_FILE_TABLE || k == LSM_FILE_MANIFEST ||
		    k == LSM_FILE_BLOB) {
			if (num > *max_number)
				*max_number = num;
		}
		if (k == LSM_FILE_TABLE)
			tables[ntables++] = num;
		if (k == LSM_FILE_LOG || k == LSM_FILE_BLOB)
			all[nall++] = num; /* the value files tables may refer to */
		if (k == LSM_FILE_LOG && num >= db->vs.log_number)
			l[n++] = num;
	}
	qsort(l, (size_t)n, sizeof(*l), cmp_u64);
	qsort(all, (size_t)nall, sizeof(*all), cmp_u64);
	qsort(tables, (size_t)ntables, sizeof(*tables), cmp_u64);
	rc = check_files(db, tables, ntables, all, nall);
	if (rc)
		goto out;
	*logs = l;
	*nlogs = n;
	l = NULL;
out:
	free(l);
	free(all);
	free(tables);
	lsm_env_free_names(names, count);
	return rc;
}

/*
 * With no CURRENT, creating a fresh db is only safe if nothing of an old
 * one is there: tables or WALs without CURRENT mean a damaged db, and
 * creating over it would delete them as obsolete.
 */
static int check_no_leftovers(lsm_db *db)
{
	char **names = NULL;
	size_t count = 0;
	int rc = db->env->list_dir(db->env, db->dir, &names, &count);
	if (rc)
		return rc;
	for (size_t i = 0; i < count && !rc; i++) {
		uint64_t num;
		enum lsm_file_kind k = lsm_parse_filename(names[i], &num);
		if (k == LSM_FILE_TABLE || k == LSM_FILE_LOG || k == LSM_FILE_BLOB)
			rc = lsm_seterr(-LSM_ECORRUPT,
					"%s/CURRENT is missing but %s is present: the database "
					"is damaged (refusing to create a new one over it)",
					db->dir, names[i]);
	}
	lsm_env_free_names(names, count);
	return rc;
}

/* Checks every live table's blocks at open (paranoid_checks). */
static int verify_tables_at_open(lsm_db *db)
{
	lsm_version *v = db->vs.current;
	for (int level = 0; level < LSM_MAX_LEVELS; level++) {
		for (int i = 0; i < v->nfiles[level]; i++) {
			lsm_table *t;
			int rc = lsm_tcache_get(db->tcache, v->files[level][i]->number,
						v->files[level][i]->size, &t);
			if (!rc) {
				rc = lsm_table_verify(t, NULL, NULL);
				lsm_table_unref(t);
			}
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* REQUIRES: db->mu held (the db is not shared yet). */
int lsm_db_recover(lsm_db *db)
{
	lsm_version_edit edit;
	replay_state st = {.db = db, .edit = &edit};
	uint64_t *logs = NULL, max_number = 0;
	int nlogs = 0;
	int rc;

	lsm_edit_init(&edit);
	rc = lsm_vset_recover(&db->vs, db->env, db->dir, &db->opts);
	if (rc == -LSM_ENOTDB) {
		if (!db->opts.create_if_missing || db->read_only) {
			rc = lsm_seterr(-LSM_ENOTDB, "%s holds no database (no CURRENT file)",
					db->dir);
			goto out;
		}
		rc = check_no_leftovers(db);
		if (!rc)
			rc = lsm_vset_create(&db->vs, db->env, db->dir, &db->opts);
	} else if (!rc && db->opts.error_if_exists) {
		rc = lsm_seterr(-LSM_EEXIST, "a database already exists in %s", db->dir);
	}
	if (rc)
		goto out;
	/* Before verify_tables_at_open: a missing table is the MANIFEST's fault. */
	rc = scan_dir(db, &logs, &nlogs, &max_number);
	if (!rc && db->opts.paranoid_checks)
		rc = verify_tables_at_open(db);
	if (rc)
		goto out;
	/*
	 * Past every file there is, live or left by a crash. Below the logged
	 * limit that may mean handing out numbers again: only ones no file
	 * has now, so nothing is clobbered, and an open that makes a WAL or
	 * two needs no edit first just to cover their numbers.
	 */
	db->vs.next_file = max_number + 1;
	st.max_seq = db->vs.last_seq;
	st.mem = lsm_memtable_new();
	if (!st.mem) {
		rc = lsm_seterr(-ENOMEM, "recovery: out of memory");
		goto out;
	}
	/*
	 * A torn tail ends the replay: a later WAL may hold writes made after
	 * the lost ones, and none of them was synced (a retired WAL is synced
	 * before any later one is, db.c), so they go too, keeping a prefix.
	 */
	for (int i = 0, torn = 0; i < nlogs && !rc && !torn; i++)
		rc = replay_log(&st, logs[i], &torn);
	if (rc)
		goto out;
	__atomic_store_n(&db->vs.last_seq, st.max_seq, __ATOMIC_RELEASE);

	if (db->read_only) {
		db->mem = st.mem;
		st.mem = NULL;
		rc = lsm_db_install_sv(db);
		goto out;
	}

	/* Everything replayed goes to a table, then a fresh WAL takes over. */
	rc = lsm_db_write_l0(db, st.mem, &edit);
	if (rc)
		goto out;
	db->mem = lsm_memtable_new();
	if (!db->mem) {
		rc = lsm_seterr(-ENOMEM, "recovery: out of memory");
		goto out;
	}
	uint64_t number;
	rc = lsm_db_new_file_number(db, &number);
	if (rc)
		goto out;
	char *path = lsm_log_filename(db->dir, number);
	if (!path) {
		rc = lsm_seterr(-ENOMEM, "recovery: out of memory");
		goto out;
	}
	rc = lsm_wal_writer_open(db->env, path, &db->wal);
	free(path);
	if (!rc)
		rc = db->env->sync_dir(db->env, db->dir);
	if (rc)
		goto out;
	db->wal_number = number;
	edit.has_log_number = 1;
	edit.log_number = number;
	edit.has_last_seq = 1;
	edit.last_seq = st.max_seq;
	rc = lsm_db_apply_edit(db, &edit);
	db->npending = 0; /* the replay tables are in the version now (or orphans) */
	if (rc)
		goto out;
	lsm_db_delete_obsolete(db);
out:
	if (st.mem)
		lsm_memtable_unref(st.mem);
	lsm_edit_free(&edit);
	free(logs);
	return rc;
}
