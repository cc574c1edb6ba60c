/*
 * fscheck.c — lsmfs_check: the offline check and repair of a data directory
 * (fsck.lsmfs). The rules it checks are those of fs/keys.h; fscheck.h says
 * what each report code means and how repairs are written.
 *
 * How it works. One iterator reads every key into memory (inodes, entries,
 * chunk references; chunk bytes are hashed as they pass and not kept). The
 * passes then look at that picture in an order where each one can rely on
 * the decisions of the ones before it (check_fs below runs them):
 *
 *   superblock -> inodes (damaged, root, reservation) -> stray keys ->
 *   symlinks, xattr flags -> entries -> orphans -> link counts, parents ->
 *   reachability (/lost+found) -> chunks -> chunk references -> final counts
 *
 * Every pass reports what it finds against the state as found, and records
 * its repair in the picture (an entry marked dropped, an inode's new
 * attributes). Counts that change only because of an earlier repair (a
 * reference count when a dangling reference goes, the link count of the
 * directory a lost inode is moved into) are recomputed at the end, silently:
 * they belong to the repair that caused them. Nothing is written until the
 * whole picture is settled; emit_all() then turns it into batches.
 *
 * This file is the driver (open the engine, run the passes, close); each
 * job has its own file, listed in fscheck_impl.h: fscheck_scan.c reads the
 * keys, fscheck_tree.c checks the namespace up to /lost+found,
 * fscheck_chunks.c the file data, fscheck_repair.c writes the repairs, and
 * fscheck_util.c holds the helpers they share.
 */
#include "fscheck_impl.h"

/* ---- the check ---- */

static void engine_report(void *arg, const lsm_verify_problem *p)
{
	struct ck *st = arg;

	/* A read-only open leaves a crash's torn WAL tail in place; recovery drops it. */
	if (!st->repair && p->kind == LSM_VERIFY_TORN_TAIL)
		ck_report(st, LSMFS_CK_TORN_WAL, LSMFS_CK_NOTE, 0, NULL,
			  "%s ends in a write a crash cut short (offset %" PRIu64
			  "); the next mount drops it",
			  p->file, p->offset);
	else
		ck_report(st, LSMFS_CK_ENGINE, LSMFS_CK_PROBLEM, 0, NULL,
			  "%s, offset %" PRIu64 ": %s", p->file, p->offset, p->msg);
}

/* Opens the engine as lsmfs_mount does, mapping refusals to its errno values. */
static int open_engine(struct ck *st, const char *dir, const char **msgp, char *msg)
{
	lsm_options lo;
	struct stat sbuf;
	char path[4096];
	int rc;

	if (stat(dir, &sbuf) != 0) {
		rc = -errno;
		snprintf(msg, MSG_LEN, "cannot use %s: %s", dir, strerror(errno));
		goto fail;
	}
	if (!S_ISDIR(sbuf.st_mode)) {
		rc = -ENOTDIR;
		snprintf(msg, MSG_LEN, "%s is not a directory", dir);
		goto fail;
	}
	/* Without CURRENT there is no database, and lsm_open would leave a LOCK file. */
	snprintf(path, sizeof(path), "%s/CURRENT", dir);
	if (access(path, F_OK) != 0) {
		char name[128];
		const char *left = lsmfs_engine_file_in(dir, name, sizeof(name));

		rc = left ? -EUCLEAN : -EMEDIUMTYPE;
		if (left)
			snprintf(msg, MSG_LEN,
				 "%.600s is damaged: its CURRENT file is missing, but the engine's "
				 "%.127s is there (fsck.lsmfs cannot repair this)",
				 dir, left);
		else
			snprintf(msg, MSG_LEN, "%s is not an lsmfs data directory (no database)",
				 dir);
		goto fail;
	}
	lsm_options_init(&lo);
	lo.create_if_missing = 0;
	lo.read_only = !st->repair;
	lo.env = st->o->engine_env;
	lo.block_cache_bytes = 8u << 20;
	rc = lsm_open(&st->db, dir, &lo);
	if (rc == 0)
		return 0;
	switch (-rc) {
	case LSM_EBUSY:
		rc = -EBUSY;
		snprintf(msg, MSG_LEN, "%s is in use (mounted?): %s", dir, lsm_errmsg());
		break;
	case LSM_ENOTDB:
		rc = -EMEDIUMTYPE;
		snprintf(msg, MSG_LEN, "%s is not an lsmfs data directory: %s", dir, lsm_errmsg());
		break;
	case LSM_EVERSION:
		rc = -EPROTONOSUPPORT;
		snprintf(msg, MSG_LEN, "%s was written by a newer engine: %s", dir, lsm_errmsg());
		break;
	case LSM_ECORRUPT:
		rc = -EUCLEAN;
		snprintf(msg, MSG_LEN, "%s: the engine's files are too damaged to open: %s", dir,
			 lsm_errmsg());
		break;
	default:
		rc = rc < 0 && -rc < LSM_ECORRUPT ? rc : -EIO;
		snprintf(msg, MSG_LEN, "cannot open %s: %s", dir, lsm_errmsg());
	}
fail:
	*msgp = msg;
	return rc;
}

static void ck_free(struct ck *st)
{
	for (size_t i = 0; i < st->nch; i++)
		free(st->ch[i].data);
	for (size_t i = 0; i < st->ndel; i++)
		free(st->del[i].k);
	free(st->in);
	free(st->de);
	free(st->pool);
	for (size_t i = 0; i < st->nf; i++)
		free(st->f[i].idata);
	free(st->f);
	free(st->ps);
	free(st->ch);
	free(st->ronly);
	free(st->del);
	free(st->stray);
}

/* The filesystem level: every pass, in order (see the top of this file). */
static void check_fs(struct ck *st)
{
	st->nsorted = st->nde;
	ck_progress(st, 3, "checking inodes and entries", 0, st->nsorted + st->nin);
	fsck_index_paths(st);
	fsck_check_inodes(st);
	fsck_count_raw(st);
	fsck_check_strays(st);
	fsck_check_symlinks_xattrs(st);
	fsck_check_entries(st);
	fsck_count_links(st);
	fsck_check_orphans(st);
	fsck_check_counts(st);
	fsck_check_reachable(st);
	ck_progress(st, 4, "checking chunks", 0, st->nch + st->nf);
	fsck_check_chunks(st);
	fsck_check_frefs(st);
	fsck_final_counts(st);
	fsck_check_icount(st);
	ck_progress(st, 4, "checking chunks", st->nch + st->nf, st->nch + st->nf);
}

int lsmfs_check(const char *dir, const lsmfs_check_opts *opts, lsmfs_check_result *res,
		const char **msgp)
{
	static __thread char msg[MSG_LEN];
	static const lsmfs_check_opts defaults;
	const char *ignored;
	struct ck st;
	int rc;

	memset(res, 0, sizeof(*res));
	memset(&st, 0, sizeof(st));
	st.o = opts ? opts : &defaults;
	st.res = res;
	st.repair = st.o->repair;
	if (!msgp)
		msgp = &ignored;
	*msgp = NULL;
	rc = open_engine(&st, dir, msgp, msg);
	if (rc)
		return rc;
	if (!st.o->skip_engine) {
		ck_progress(&st, 1, "verifying the engine's tables and WAL", 0, 0);
		lsm_verify_problems(st.db, engine_report, &st);
	}
	rc = fsck_scan(&st);
	if (rc == -ENOMEM)
		goto out;
	if (rc) {
		/* What cannot be read cannot be judged: no filesystem-level verdict, no repair. */
		snprintf(msg, MSG_LEN,
			 "a key could not be read (%s): the filesystem was not checked",
			 lsm_errmsg());
		*msgp = msg;
		res->incomplete = 1;
		if (!res->count[LSMFS_CK_ENGINE])
			ck_report(&st, LSMFS_CK_ENGINE, LSMFS_CK_PROBLEM, 0, NULL, "%s",
				  lsm_errmsg());
		rc = 0;
		goto out;
	}
	rc = fsck_check_super(&st, dir, msgp, msg);
	if (rc < 0)
		goto out;
	if (rc > 0) {
		res->incomplete = 1;
		snprintf(msg, MSG_LEN, "the superblock is damaged: the filesystem was not checked");
		*msgp = msg;
		rc = 0;
		goto out;
	}
	check_fs(&st);
	rc = st.err;
	if (!rc && st.repair)
		rc = fsck_write_repairs(&st, msgp, msg);
out:
	if (rc == -ENOMEM && !*msgp) {
		snprintf(msg, MSG_LEN, "out of memory");
		*msgp = msg;
	}
	if (st.db) {
		int crc = lsm_close(st.db);

		/* Only a close after writing can lose what the check did. */
		if (!rc && crc && res->modified) {
			rc = crc < 0 && -crc < LSM_ECORRUPT ? crc : -EIO;
			snprintf(msg, MSG_LEN, "closing the engine: %s", lsm_errmsg());
			*msgp = msg;
		}
	}
	ck_free(&st);
	return rc;
}

const char *lsmfs_check_code_name(int code)
{
	static const char *const names[LSMFS_CK_NCODES] = {
		[LSMFS_CK_ENGINE] = "engine-damage",
		[LSMFS_CK_SUPER] = "bad-superblock",
		[LSMFS_CK_KEY] = "malformed-key",
		[LSMFS_CK_RESERVATION] = "inode-reservation",
		[LSMFS_CK_ROOT] = "bad-root",
		[LSMFS_CK_INODE] = "damaged-inode",
		[LSMFS_CK_STRAY] = "stray-keys",
		[LSMFS_CK_DENT] = "malformed-entry",
		[LSMFS_CK_DANGLING] = "dangling-entry",
		[LSMFS_CK_DENT_HASH] = "entry-hash",
		[LSMFS_CK_DENT_TYPE] = "entry-type",
		[LSMFS_CK_DIR_LINK] = "directory-link",
		[LSMFS_CK_UNREACHABLE] = "unreachable",
		[LSMFS_CK_NLINK] = "link-count",
		[LSMFS_CK_PARENT] = "directory-parent",
		[LSMFS_CK_SYMLINK] = "symlink",
		[LSMFS_CK_XATTR_FLAG] = "xattr-flag",
		[LSMFS_CK_ORPHAN] = "stale-orphan",
		[LSMFS_CK_CHUNK_COUNT] = "chunk-count",
		[LSMFS_CK_STORED] = "stored-bytes",
		[LSMFS_CK_FREF] = "malformed-reference",
		[LSMFS_CK_CHUNK_MISSING] = "missing-chunk",
		[LSMFS_CK_CHUNK_DIGEST] = "chunk-digest",
		[LSMFS_CK_CHUNK_LEN] = "chunk-length",
		[LSMFS_CK_PAST_EOF] = "past-eof",
		[LSMFS_CK_REFCOUNT] = "reference-count",
		[LSMFS_CK_LEAK] = "leaked-chunk",
		[LSMFS_CK_PATCH] = "bad-patch",
		[LSMFS_CK_SUMS] = "block-sums",
		[LSMFS_CK_ICOUNT] = "inode-count",
		[LSMFS_CK_PENDING_ORPHAN] = "pending-orphan",
		[LSMFS_CK_TORN_WAL] = "torn-wal",
	};

	return code >= 0 && code < LSMFS_CK_NCODES ? names[code] : "unknown";
}
