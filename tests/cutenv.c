/* cutenv.c — an env whose power goes off at the Nth call that changes the disk; see cutenv.h. */
#include "cutenv.h"

#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOT_ARMED (1L << 60)

static cut_env *CE(lsm_env *env)
{
	return (cut_env *)env;
}

/* A file's kind: its base name without digits ("000012.sst" -> ".sst"). */
static void kind_of(char *out, size_t cap, const char *path)
{
	const char *base = strrchr(path, '/');
	size_t o = 0;

	for (base = base ? base + 1 : path; *base && o + 1 < cap; base++)
		if (*base < '0' || *base > '9')
			out[o++] = *base;
	out[o] = 0;
}

static void track(cut_env *ce, lsm_file *f, const char *path)
{
	pthread_mutex_lock(&ce->mu);
	for (int i = 0; i < CUT_ENV_MAX_OPEN; i++) {
		if (!ce->open[i].f) {
			ce->open[i].f = f;
			kind_of(ce->open[i].kind, sizeof(ce->open[i].kind), path);
			break;
		}
	}
	pthread_mutex_unlock(&ce->mu);
}

static void untrack(cut_env *ce, lsm_file *f)
{
	pthread_mutex_lock(&ce->mu);
	for (int i = 0; i < CUT_ENV_MAX_OPEN; i++)
		if (ce->open[i].f == f)
			ce->open[i].f = NULL;
	pthread_mutex_unlock(&ce->mu);
}

/* "append .log": the call and the kind of file it was on. */
static void describe_call(cut_env *ce, const char *op, lsm_file *f, const char *path, char *out,
			  size_t cap)
{
	char kind[16] = "?";

	if (path) {
		kind_of(kind, sizeof(kind), path);
	} else if (f) {
		pthread_mutex_lock(&ce->mu);
		for (int i = 0; i < CUT_ENV_MAX_OPEN; i++)
			if (ce->open[i].f == f)
				memcpy(kind, ce->open[i].kind, sizeof(kind));
		pthread_mutex_unlock(&ce->mu);
	}
	snprintf(out, cap, "%s %s", op, kind);
}

/* REQUIRES: lk held for writing. */
static void cut_locked(cut_env *ce, const char *where)
{
	ce->pending = 0;
	if (atomic_load(&ce->dead))
		return;
	ce->cut_rc = lsm_fault_power_cut(ce->fault);
	snprintf(ce->where, sizeof(ce->where), "%s", where);
	atomic_store(&ce->dead, 1);
}

void cut_env_cut(cut_env *ce, const char *where)
{
	pthread_rwlock_wrlock(&ce->lk);
	cut_locked(ce, ce->pending ? ce->pending_where : where);
	pthread_rwlock_unlock(&ce->lk);
}

/*
 * Enters a call: 0 to go on (then leave()), else -EIO. op (NULL for calls
 * that change nothing on disk), f and path say what it is. The call that
 * takes the countdown to zero marks the cut pending before it lets go of
 * the read lock: whoever takes the write lock next (it, or cut_env_disarm)
 * cuts, so that no cut can land after the test has looked.
 */
static int enter(cut_env *ce, const char *op, lsm_file *f, const char *path)
{
	pthread_rwlock_rdlock(&ce->lk);
	if (atomic_load(&ce->dead)) {
		pthread_rwlock_unlock(&ce->lk);
		return -EIO;
	}
	if (op) {
		atomic_fetch_add(&ce->calls, 1);
		if (atomic_fetch_sub(&ce->countdown, 1) == 1) {
			describe_call(ce, op, f, path, ce->pending_where,
				      sizeof(ce->pending_where));
			ce->pending = 1;
			pthread_rwlock_unlock(&ce->lk);
			pthread_rwlock_wrlock(&ce->lk);
			if (ce->pending)
				cut_locked(ce, ce->pending_where);
			pthread_rwlock_unlock(&ce->lk);
			return -EIO;
		}
	}
	return 0;
}

static void leave(cut_env *ce)
{
	pthread_rwlock_unlock(&ce->lk);
}

/* Forwards a call; op (NULL for calls that change nothing on disk) names it for the log. */
#define FWD(op, f, path, call)                          \
	do {                                            \
		cut_env *ce = CE(env);                  \
		int rc_ = enter(ce, (op), (f), (path)); \
		if (rc_)                                \
			return rc_;                     \
		rc_ = ce->fault->call;                  \
		leave(ce);                              \
		return rc_;                             \
	} while (0)

static int ce_open(lsm_env *env, const char *path, int flags, lsm_file **out)
{
	cut_env *ce = CE(env);
	int rc = enter(ce, (flags & (LSM_O_CREATE | LSM_O_TRUNC)) ? "create" : NULL, NULL, path);

	if (rc)
		return rc;
	rc = ce->fault->open_file(ce->fault, path, flags, out);
	if (!rc)
		track(ce, *out, path);
	leave(ce);
	return rc;
}

/* A handle is freed whatever the state of the machine. */
static int ce_close(lsm_env *env, lsm_file *f)
{
	cut_env *ce = CE(env);
	int rc;

	untrack(ce, f);
	pthread_rwlock_rdlock(&ce->lk);
	rc = ce->fault->close(ce->fault, f);
	if (atomic_load(&ce->dead))
		rc = -EIO;
	pthread_rwlock_unlock(&ce->lk);
	return rc;
}

static int ce_pread(lsm_env *env, lsm_file *f, void *buf, size_t n, uint64_t off, size_t *nread)
{
	FWD(NULL, f, NULL, pread(ce->fault, f, buf, n, off, nread));
}

static int ce_pwrite(lsm_env *env, lsm_file *f, const void *buf, size_t n, uint64_t off)
{
	FWD("pwrite", f, NULL, pwrite(ce->fault, f, buf, n, off));
}

static int ce_append(lsm_env *env, lsm_file *f, const void *buf, size_t n)
{
	FWD("append", f, NULL, append(ce->fault, f, buf, n));
}

static int ce_sync(lsm_env *env, lsm_file *f)
{
	FWD("sync", f, NULL, sync(ce->fault, f));
}

static int ce_datasync(lsm_env *env, lsm_file *f)
{
	FWD("datasync", f, NULL, datasync(ce->fault, f));
}

static int ce_file_size(lsm_env *env, lsm_file *f, uint64_t *size)
{
	FWD(NULL, f, NULL, file_size(ce->fault, f, size));
}

static int ce_truncate(lsm_env *env, lsm_file *f, uint64_t size)
{
	FWD("truncate", f, NULL, truncate(ce->fault, f, size));
}

static int ce_readahead(lsm_env *env, lsm_file *f, uint64_t off, uint64_t len)
{
	FWD(NULL, f, NULL, readahead(ce->fault, f, off, len));
}

static int ce_path_size(lsm_env *env, const char *path, uint64_t *size)
{
	FWD(NULL, NULL, path, path_size(ce->fault, path, size));
}

static int ce_exists(lsm_env *env, const char *path)
{
	FWD(NULL, NULL, path, exists(ce->fault, path));
}

static int ce_rename(lsm_env *env, const char *from, const char *to)
{
	FWD("rename", NULL, to, rename(ce->fault, from, to));
}

static int ce_unlink(lsm_env *env, const char *path)
{
	FWD("unlink", NULL, path, unlink(ce->fault, path));
}

static int ce_mkdir(lsm_env *env, const char *path, mode_t mode)
{
	FWD("mkdir", NULL, path, mkdir(ce->fault, path, mode));
}

static int ce_rmdir(lsm_env *env, const char *path)
{
	FWD("rmdir", NULL, path, rmdir(ce->fault, path));
}

static int ce_list_dir(lsm_env *env, const char *dir, char ***names, size_t *count)
{
	FWD(NULL, NULL, dir, list_dir(ce->fault, dir, names, count));
}

static int ce_sync_dir(lsm_env *env, const char *dir)
{
	FWD("sync_dir", NULL, "dir", sync_dir(ce->fault, dir));
}

static int ce_lock_file(lsm_env *env, const char *path, lsm_file **lock, pid_t *holder)
{
	FWD(NULL, NULL, path, lock_file(ce->fault, path, lock, holder));
}

/* The lock goes whatever the state of the machine, or the next mount could not take it. */
static int ce_unlock_file(lsm_env *env, lsm_file *lock)
{
	cut_env *ce = CE(env);
	int rc;

	pthread_rwlock_rdlock(&ce->lk);
	rc = ce->fault->unlock_file(ce->fault, lock);
	pthread_rwlock_unlock(&ce->lk);
	return rc;
}

static int ce_free_space(lsm_env *env, const char *path, uint64_t *bytes)
{
	FWD(NULL, NULL, path, free_space(ce->fault, path, bytes));
}

static void ce_destroy(lsm_env *env)
{
	cut_env *ce = CE(env);

	ce->fault->destroy(ce->fault);
	pthread_rwlock_destroy(&ce->lk);
	pthread_mutex_destroy(&ce->mu);
	free(ce);
}

cut_env *cut_env_new(void)
{
	cut_env *ce = calloc(1, sizeof(*ce));

	ck_assert_ptr_nonnull(ce);
	ce->iface = (lsm_env){
		.open_file = ce_open,
		.close = ce_close,
		.pread = ce_pread,
		.pwrite = ce_pwrite,
		.append = ce_append,
		.sync = ce_sync,
		.datasync = ce_datasync,
		.file_size = ce_file_size,
		.truncate = ce_truncate,
		.readahead = ce_readahead,
		.path_size = ce_path_size,
		.exists = ce_exists,
		.rename = ce_rename,
		.unlink = ce_unlink,
		.mkdir = ce_mkdir,
		.rmdir = ce_rmdir,
		.list_dir = ce_list_dir,
		.sync_dir = ce_sync_dir,
		.lock_file = ce_lock_file,
		.unlock_file = ce_unlock_file,
		.free_space = ce_free_space,
		.destroy = ce_destroy,
	};
	ce->fault = lsm_env_fault_new(lsm_env_posix());
	ck_assert_ptr_nonnull(ce->fault);
	pthread_rwlock_init(&ce->lk, NULL);
	pthread_mutex_init(&ce->mu, NULL);
	atomic_store(&ce->countdown, NOT_ARMED);
	return ce;
}

void cut_env_arm(cut_env *ce, long n)
{
	atomic_store(&ce->countdown, n);
}

void cut_env_disarm(cut_env *ce)
{
	pthread_rwlock_wrlock(&ce->lk);
	atomic_store(&ce->countdown, NOT_ARMED);
	if (ce->pending)
		cut_locked(ce, ce->pending_where);
	pthread_rwlock_unlock(&ce->lk);
}

void cut_env_revive(cut_env *ce)
{
	pthread_rwlock_wrlock(&ce->lk);
	atomic_store(&ce->countdown, NOT_ARMED);
	ce->pending = 0;
	atomic_store(&ce->dead, 0);
	pthread_rwlock_unlock(&ce->lk);
}

int cut_env_dead(cut_env *ce)
{
	return atomic_load(&ce->dead);
}

void cut_tally_add(cut_tally *t, const char *what)
{
	int cap = (int)(sizeof(t->v) / sizeof(t->v[0]));

	for (int i = 0; i < cap; i++) {
		if (!t->v[i].n) {
			snprintf(t->v[i].what, sizeof(t->v[i].what), "%s", what);
			t->v[i].n = 1;
			return;
		}
		if (!strcmp(t->v[i].what, what)) {
			t->v[i].n++;
			return;
		}
	}
}
