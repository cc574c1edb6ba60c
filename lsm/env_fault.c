/*
 * env_fault.c — an env that wraps another and can break on command.
 *
 * What "durable" means here, modelled on what a journaling filesystem
 * guarantees after a power cut:
 *   - a file's bytes are durable up to the size it had at its last
 *     sync/datasync; bytes written after that are lost, and a synced range
 *     that was overwritten gets its synced contents back (we keep an undo
 *     copy of every synced byte we overwrite);
 *   - a created file, or a rename, is durable once its directory was
 *     sync_dir'd; until then a power cut deletes the new file / renames it
 *     back (restoring a replaced target from a copy taken at rename time);
 *   - an unlink counts as durable at once: after a crash either outcome is
 *     legal, and the engine never relies on an unlink being undone.
 *
 * All state sits behind one mutex: the engine calls the env from its
 * foreground and background threads.
 */
#include "env.h"
#include "error.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct undo_rec {
	struct undo_rec *next;
	uint64_t off;
	size_t len;
	uint8_t bytes[];
} undo_rec;

/* What we know of one path that has been written through this env. */
typedef struct fnode {
	struct fnode *next;
	char *path;
	uint64_t synced_size; /* durable length */
	uint64_t cur_size;    /* length now, as far as writes through us go */
	undo_rec *undo;	      /* synced bytes overwritten since the last sync, newest first */
} fnode;

enum dirop_kind { DIROP_CREATE, DIROP_RENAME };

typedef struct dirop {
	struct dirop *next; /* newest first */
	enum dirop_kind kind;
	char *path;	 /* CREATE: the new file; RENAME: the destination */
	char *from;	 /* RENAME: the source */
	uint8_t *old_to; /* RENAME: previous contents of the destination, if it existed */
	size_t old_to_len;
	int had_old_to;
} dirop;

typedef struct fault_env {
	lsm_env iface; /* first: a fault_env * is an lsm_env * */
	lsm_env *base;
	pthread_mutex_t mu;
	fnode *nodes;
	dirop *dirops;
	uint64_t generation; /* bumped by each power cut; older handles are dead */
	lsm_fault_counters counters;
	uint64_t fail_write_in, fail_sync_in, short_write_in; /* 0 = not armed */
	int enospc_armed;
	uint64_t enospc_budget;
} fault_env;

struct lsm_file {
	lsm_file *inner;
	fnode *node; /* NULL for read-only handles */
	uint64_t generation;
	uint64_t append_off;
	char path[];
};

static fault_env *FE(lsm_env *env)
{
	return (fault_env *)env;
}

static fnode *find_node(fault_env *fe, const char *path)
{
	for (fnode *n = fe->nodes; n; n = n->next)
		if (!strcmp(n->path, path))
			return n;
	return NULL;
}

static void free_undo(fnode *n)
{
	while (n->undo) {
		undo_rec *u = n->undo;
		n->undo = u->next;
		free(u);
	}
}

static void drop_node(fault_env *fe, const char *path)
{
	for (fnode **pp = &fe->nodes; *pp; pp = &(*pp)->next) {
		if (!strcmp((*pp)->path, path)) {
			fnode *n = *pp;
			*pp = n->next;
			free_undo(n);
			free(n->path);
			free(n);
			return;
		}
	}
}

static fnode *get_node(fault_env *fe, const char *path, uint64_t size_now)
{
	fnode *n = find_node(fe, path);
	if (n)
		return n;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->path = strdup(path);
	if (!n->path) {
		free(n);
		return NULL;
	}
	n->synced_size = n->cur_size = size_now;
	n->next = fe->nodes;
	fe->nodes = n;
	return n;
}

static void free_dirop(dirop *d)
{
	free(d->path);
	free(d->from);
	free(d->old_to);
	free(d);
}

static int push_dirop(fault_env *fe, enum dirop_kind kind, const char *path, const char *from)
{
	dirop *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->kind = kind;
	d->path = strdup(path);
	d->from = from ? strdup(from) : NULL;
	if (!d->path || (from && !d->from)) {
		free_dirop(d);
		return -ENOMEM;
	}
	d->next = fe->dirops;
	fe->dirops = d;
	return 0;
}

static int dead_handle(lsm_file *f)
{
	return lsm_seterr(-EIO, "%s: handle invalidated by a simulated power cut", f->path);
}

static int fe_open(lsm_env *env, const char *path, int flags, lsm_file **out)
{
	fault_env *fe = FE(env);
	lsm_env *b = fe->base;
	size_t plen = strlen(path);
	lsm_file *f = calloc(1, sizeof(*f) + plen + 1);
	if (!f)
		return -ENOMEM;
	memcpy(f->path, path, plen + 1);
	pthread_mutex_lock(&fe->mu);
	int existed = b->exists(b, path) == 0;
	/* Writers also read: the undo copy of overwritten synced bytes. */
	int inner_flags = (flags & LSM_O_WRITE) ? (flags | LSM_O_READ) : flags;
	int rc = b->open_file(b, path, inner_flags, &f->inner);
	if (rc)
		goto out;
	uint64_t size = 0;
	rc = b->file_size(b, f->inner, &size);
	if (rc)
		goto out;
	f->append_off = size;
	f->generation = fe->generation;
	if (flags & LSM_O_WRITE) {
		if ((flags & LSM_O_TRUNC) && existed)
			drop_node(fe, path); /* truncation on open counts as durable */
		f->node = get_node(fe, path, size);
		if (!f->node) {
			rc = -ENOMEM;
			goto out;
		}
	}
	if (!existed && (flags & LSM_O_CREATE)) {
		rc = push_dirop(fe, DIROP_CREATE, path, NULL);
		if (rc)
			goto out;
	}
out:
	pthread_mutex_unlock(&fe->mu);
	if (rc) {
		if (f->inner)
			b->close(b, f->inner);
		free(f);
		return rc;
	}
	*out = f;
	return 0;
}

static int fe_close(lsm_env *env, lsm_file *f)
{
	fault_env *fe = FE(env);
	int rc = fe->base->close(fe->base, f->inner);
	free(f);
	return rc;
}

static int fe_pread(lsm_env *env, lsm_file *f, void *buf, size_t n, uint64_t off, size_t *nread)
{
	fault_env *fe = FE(env);
	if (f->generation != __atomic_load_n(&fe->generation, __ATOMIC_ACQUIRE))
		return dead_handle(f);
	int rc = fe->base->pread(fe->base, f->inner, buf, n, off, nread);
	if (!rc)
		__atomic_add_fetch(&fe->counters.bytes_read, *nread, __ATOMIC_RELAXED);
	return rc;
}

/* Saves the synced bytes in [off, off+n) that a write or truncate is about to destroy. REQUIRES:
 * fe->mu */
static int save_undo(fault_env *fe, lsm_file *f, uint64_t off, uint64_t end)
{
	fnode *nd = f->node;
	if (!nd || off >= nd->synced_size)
		return 0;
	if (end > nd->synced_size)
		end = nd->synced_size;
	size_t len = (size_t)(end - off);
	undo_rec *u = malloc(sizeof(*u) + len);
	if (!u)
		return -ENOMEM;
	size_t got = 0;
	int rc = fe->base->pread(fe->base, f->inner, u->bytes, len, off, &got);
	if (rc) {
		free(u);
		return rc;
	}
	u->off = off;
	u->len = got;
	u->next = nd->undo;
	nd->undo = u;
	return 0;
}

static int fe_pwrite(lsm_env *env, lsm_file *f, const void *buf, size_t n, uint64_t off)
{
	fault_env *fe = FE(env);
	int rc = 0;
	size_t to_write = n;
	int fail_after = 0;
	pthread_mutex_lock(&fe->mu);
	if (f->generation != fe->generation) {
		rc = dead_handle(f);
		goto out;
	}
	fe->counters.writes++;
	if (fe->fail_write_in && --fe->fail_write_in == 0) {
		rc = lsm_seterr(-EIO, "pwrite %s: injected I/O error", f->path);
		goto out;
	}
	if (fe->short_write_in && --fe->short_write_in == 0) {
		to_write = n / 2;
		fail_after = -EIO;
	}
	if (fe->enospc_armed && to_write > fe->enospc_budget) {
		to_write = (size_t)fe->enospc_budget;
		fail_after = -ENOSPC;
	}
	if (fe->enospc_armed)
		fe->enospc_budget -= to_write;
	if (to_write) {
		rc = save_undo(fe, f, off, off + to_write);
		if (rc)
			goto out;
		rc = fe->base->pwrite(fe->base, f->inner, buf, to_write, off);
		if (rc)
			goto out;
		fe->counters.bytes_written += to_write;
		if (f->node && off + to_write > f->node->cur_size)
			f->node->cur_size = off + to_write;
		if (off + to_write > f->append_off)
			f->append_off = off + to_write;
	}
	if (fail_after)
		rc = lsm_seterr(fail_after, "pwrite %s: injected %s after %zu of %zu bytes",
				f->path, fail_after == -ENOSPC ? "ENOSPC" : "short write", to_write,
				n);
out:
	pthread_mutex_unlock(&fe->mu);
	return rc;
}

static int fe_append(lsm_env *env, lsm_file *f, const void *buf, size_t n)
{
	return fe_pwrite(env, f, buf, n, f->append_off);
}

static int fe_sync_common(lsm_env *env, lsm_file *f, int data_only)
{
	fault_env *fe = FE(env);
	int rc = 0;
	pthread_mutex_lock(&fe->mu);
	if (f->generation != fe->generation) {
		rc = dead_handle(f);
		goto out;
	}
	fe->counters.syncs++;
	if (fe->fail_sync_in && --fe->fail_sync_in == 0) {
		rc = lsm_seterr(-EIO, "fsync %s: injected I/O error", f->path);
		goto out;
	}
	rc = data_only ? fe->base->datasync(fe->base, f->inner)
		       : fe->base->sync(fe->base, f->inner);
	if (rc)
		goto out;
	if (f->node) {
		uint64_t size;
		rc = fe->base->file_size(fe->base, f->inner, &size);
		if (rc)
			goto out;
		f->node->synced_size = f->node->cur_size = size;
		free_undo(f->node);
	}
out:
	pthread_mutex_unlock(&fe->mu);
	return rc;
}

static int fe_sync(lsm_env *env, lsm_file *f)
{
	return fe_sync_common(env, f, 0);
}

static int fe_datasync(lsm_env *env, lsm_file *f)
{
	return fe_sync_common(env, f, 1);
}

static int fe_file_size(lsm_env *env, lsm_file *f, uint64_t *size)
{
	fault_env *fe = FE(env);
	if (f->generation != __atomic_load_n(&fe->generation, __ATOMIC_ACQUIRE))
		return dead_handle(f);
	return fe->base->file_size(fe->base, f->inner, size);
}

static int fe_truncate(lsm_env *env, lsm_file *f, uint64_t size)
{
	fault_env *fe = FE(env);
	int rc;
	pthread_mutex_lock(&fe->mu);
	if (f->generation != fe->generation) {
		rc = dead_handle(f);
		goto out;
	}
	rc = save_undo(fe, f, size, UINT64_MAX);
	if (!rc)
		rc = fe->base->truncate(fe->base, f->inner, size);
	if (!rc) {
		f->append_off = size;
		if (f->node)
			f->node->cur_size = size;
	}
out:
	pthread_mutex_unlock(&fe->mu);
	return rc;
}

static int fe_readahead(lsm_env *env, lsm_file *f, uint64_t off, uint64_t len)
{
	return FE(env)->base->readahead(FE(env)->base, f->inner, off, len);
}

/*
 * Mappings go straight to the base env. Only tables are mapped, and a table
 * is synced before anyone opens it for reading and is never written again:
 * a power cut leaves its bytes as they are (it restores unsynced bytes and
 * undoes unsynced creates, and an unlinked file's pages outlive the name),
 * so nothing a mapping shows can differ from what the durable file holds.
 * A handle a power cut invalidated cannot start a new mapping; one made
 * before the cut stays readable, as an open file's pages would.
 */
static int fe_map(lsm_env *env, lsm_file *f, uint64_t size, const void **addr)
{
	fault_env *fe = FE(env);
	if (f->generation != __atomic_load_n(&fe->generation, __ATOMIC_ACQUIRE))
		return dead_handle(f);
	if (!fe->base->map || !fe->base->unmap)
		return lsm_seterr(-ENOTSUP, "mmap %s: the base env cannot map", f->path);
	return fe->base->map(fe->base, f->inner, size, addr);
}

static int fe_unmap(lsm_env *env, const void *addr, uint64_t size)
{
	return FE(env)->base->unmap(FE(env)->base, addr, size);
}

static int fe_drop_pages(lsm_env *env, const void *addr, uint64_t len)
{
	lsm_env *base = FE(env)->base;

	return base->drop_pages ? base->drop_pages(base, addr, len) : 0;
}

static int fe_path_size(lsm_env *env, const char *path, uint64_t *size)
{
	return FE(env)->base->path_size(FE(env)->base, path, size);
}

static int fe_exists(lsm_env *env, const char *path)
{
	return FE(env)->base->exists(FE(env)->base, path);
}

static int fe_rename(lsm_env *env, const char *from, const char *to)
{
	fault_env *fe = FE(env);
	lsm_env *b = fe->base;
	pthread_mutex_lock(&fe->mu);
	int rc = push_dirop(fe, DIROP_RENAME, to, from);
	if (rc)
		goto out;
	dirop *d = fe->dirops;
	if (b->exists(b, to) == 0) {
		rc = lsm_env_read_all(b, to, &d->old_to, &d->old_to_len);
		if (rc)
			goto undo;
		d->had_old_to = 1;
	}
	rc = b->rename(b, from, to);
	if (rc)
		goto undo;
	drop_node(fe, to);
	fnode *n = find_node(fe, from);
	if (n) {
		char *p = strdup(to);
		if (p) {
			free(n->path);
			n->path = p;
		}
	}
	goto out;
undo:
	fe->dirops = d->next;
	free_dirop(d);
out:
	pthread_mutex_unlock(&fe->mu);
	return rc;
}

static int fe_unlink(lsm_env *env, const char *path)
{
	fault_env *fe = FE(env);
	pthread_mutex_lock(&fe->mu);
	int rc = fe->base->unlink(fe->base, path);
	if (!rc)
		drop_node(fe, path);
	pthread_mutex_unlock(&fe->mu);
	return rc;
}

static int fe_mkdir(lsm_env *env, const char *path, mode_t mode)
{
	return FE(env)->base->mkdir(FE(env)->base, path, mode);
}

static int fe_rmdir(lsm_env *env, const char *path)
{
	return FE(env)->base->rmdir(FE(env)->base, path);
}

static int fe_list_dir(lsm_env *env, const char *dir, char ***names, size_t *count)
{
	return FE(env)->base->list_dir(FE(env)->base, dir, names, count);
}

/* True if path names an entry directly inside dir. */
static int in_dir(const char *path, const char *dir)
{
	size_t dl = strlen(dir);
	while (dl > 1 && dir[dl - 1] == '/')
		dl--;
	return !strncmp(path, dir, dl) && path[dl] == '/' && !strchr(path + dl + 1, '/');
}

static int fe_sync_dir(lsm_env *env, const char *dir)
{
	fault_env *fe = FE(env);
	int rc;
	pthread_mutex_lock(&fe->mu);
	fe->counters.dir_syncs++;
	if (fe->fail_sync_in && --fe->fail_sync_in == 0) {
		rc = lsm_seterr(-EIO, "fsync directory %s: injected I/O error", dir);
		goto out;
	}
	rc = fe->base->sync_dir(fe->base, dir);
	if (rc)
		goto out;
	for (dirop **pp = &fe->dirops; *pp;) {
		dirop *d = *pp;
		if (in_dir(d->path, dir)) {
			*pp = d->next;
			free_dirop(d);
		} else {
			pp = &d->next;
		}
	}
out:
	pthread_mutex_unlock(&fe->mu);
	return rc;
}

static int lock_common(lsm_env *env, const char *path, int ro, lsm_file **lock, pid_t *holder)
{
	fault_env *fe = FE(env);
	lsm_env *b = fe->base;
	lsm_file *f = calloc(1, sizeof(*f) + strlen(path) + 1);
	if (!f)
		return -ENOMEM;
	strcpy(f->path, path);
	int rc = ro && b->lock_file_ro ? b->lock_file_ro(b, path, &f->inner, holder)
				       : b->lock_file(b, path, &f->inner, holder);
	if (rc) {
		free(f);
		return rc;
	}
	f->generation = fe->generation;
	*lock = f;
	return 0;
}

static int fe_lock_file(lsm_env *env, const char *path, lsm_file **lock, pid_t *holder)
{
	return lock_common(env, path, 0, lock, holder);
}

static int fe_lock_file_ro(lsm_env *env, const char *path, lsm_file **lock, pid_t *holder)
{
	return lock_common(env, path, 1, lock, holder);
}

static int fe_unlock_file(lsm_env *env, lsm_file *lock)
{
	fault_env *fe = FE(env);
	int rc = fe->base->unlock_file(fe->base, lock->inner);
	free(lock);
	return rc;
}

static int fe_free_space(lsm_env *env, const char *path, uint64_t *bytes)
{
	fault_env *fe = FE(env);
	int rc = fe->base->free_space(fe->base, path, bytes);
	pthread_mutex_lock(&fe->mu);
	if (!rc && fe->enospc_armed && fe->enospc_budget < *bytes)
		*bytes = fe->enospc_budget;
	pthread_mutex_unlock(&fe->mu);
	return rc;
}

/* Puts one file back to its durable state. REQUIRES: fe->mu */
static int restore_node(fault_env *fe, fnode *n)
{
	lsm_env *b = fe->base;
	lsm_file *f;
	int rc = b->open_file(b, n->path, LSM_O_WRITE, &f);
	if (rc == -ENOENT)
		return 0; /* unlinked: durable at once */
	if (rc)
		return rc;
	/* Oldest undo last in the list is applied last, so the synced bytes win. */
	for (undo_rec *u = n->undo; u && !rc; u = u->next)
		rc = b->pwrite(b, f, u->bytes, u->len, u->off);
	if (!rc)
		rc = b->truncate(b, f, n->synced_size);
	if (!rc)
		rc = b->sync(b, f);
	b->close(b, f);
	return rc;
}

/* Undoes one directory operation that was never made durable. REQUIRES: fe->mu */
static int undo_dirop(fault_env *fe, dirop *d)
{
	lsm_env *b = fe->base;
	if (d->kind == DIROP_CREATE) {
		int rc = b->unlink(b, d->path);
		return rc == -ENOENT ? 0 : rc;
	}
	int rc = b->rename(b, d->path, d->from);
	if (rc && rc != -ENOENT)
		return rc;
	if (d->had_old_to) {
		lsm_file *f;
		rc = b->open_file(b, d->path, LSM_O_WRITE | LSM_O_CREATE | LSM_O_TRUNC, &f);
		if (rc)
			return rc;
		rc = b->append(b, f, d->old_to, d->old_to_len);
		if (!rc)
			rc = b->sync(b, f);
		b->close(b, f);
	}
	return rc;
}

int lsm_fault_power_cut(lsm_env *env)
{
	fault_env *fe = FE(env);
	int rc = 0;
	pthread_mutex_lock(&fe->mu);
	__atomic_add_fetch(&fe->generation, 1, __ATOMIC_RELEASE);
	for (fnode *n = fe->nodes; n; n = n->next) {
		int r = restore_node(fe, n);
		if (!rc)
			rc = r;
	}
	while (fe->nodes) {
		fnode *n = fe->nodes;
		fe->nodes = n->next;
		free_undo(n);
		free(n->path);
		free(n);
	}
	/* Newest first: the reverse of the order they were made. */
	while (fe->dirops) {
		dirop *d = fe->dirops;
		fe->dirops = d->next;
		int r = undo_dirop(fe, d);
		if (!rc)
			rc = r;
		free_dirop(d);
	}
	fe->fail_write_in = fe->fail_sync_in = fe->short_write_in = 0;
	fe->enospc_armed = 0;
	pthread_mutex_unlock(&fe->mu);
	return rc;
}

void lsm_fault_fail_write(lsm_env *env, uint64_t nth)
{
	pthread_mutex_lock(&FE(env)->mu);
	FE(env)->fail_write_in = nth;
	pthread_mutex_unlock(&FE(env)->mu);
}

void lsm_fault_fail_sync(lsm_env *env, uint64_t nth)
{
	pthread_mutex_lock(&FE(env)->mu);
	FE(env)->fail_sync_in = nth;
	pthread_mutex_unlock(&FE(env)->mu);
}

void lsm_fault_enospc_after(lsm_env *env, uint64_t nbytes)
{
	pthread_mutex_lock(&FE(env)->mu);
	FE(env)->enospc_armed = 1;
	FE(env)->enospc_budget = nbytes;
	pthread_mutex_unlock(&FE(env)->mu);
}

void lsm_fault_short_write(lsm_env *env, uint64_t nth)
{
	pthread_mutex_lock(&FE(env)->mu);
	FE(env)->short_write_in = nth;
	pthread_mutex_unlock(&FE(env)->mu);
}

void lsm_fault_clear(lsm_env *env)
{
	pthread_mutex_lock(&FE(env)->mu);
	FE(env)->fail_write_in = FE(env)->fail_sync_in = FE(env)->short_write_in = 0;
	FE(env)->enospc_armed = 0;
	pthread_mutex_unlock(&FE(env)->mu);
}

void lsm_fault_counters_get(lsm_env *env, lsm_fault_counters *c)
{
	pthread_mutex_lock(&FE(env)->mu);
	*c = FE(env)->counters;
	c->bytes_read = __atomic_load_n(&FE(env)->counters.bytes_read, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&FE(env)->mu);
}

static void fe_destroy(lsm_env *env)
{
	fault_env *fe = FE(env);
	while (fe->nodes) {
		fnode *n = fe->nodes;
		fe->nodes = n->next;
		free_undo(n);
		free(n->path);
		free(n);
	}
	while (fe->dirops) {
		dirop *d = fe->dirops;
		fe->dirops = d->next;
		free_dirop(d);
	}
	pthread_mutex_destroy(&fe->mu);
	free(fe);
}

lsm_env *lsm_env_fault_new(lsm_env *base)
{
	fault_env *fe = calloc(1, sizeof(*fe));
	if (!fe)
		return NULL;
	fe->base = base;
	pthread_mutex_init(&fe->mu, NULL);
	fe->iface = (lsm_env){
		.open_file = fe_open,
		.close = fe_close,
		.pread = fe_pread,
		.pwrite = fe_pwrite,
		.append = fe_append,
		.sync = fe_sync,
		.datasync = fe_datasync,
		.file_size = fe_file_size,
		.truncate = fe_truncate,
		.readahead = fe_readahead,
		.map = fe_map,
		.unmap = fe_unmap,
		.drop_pages = fe_drop_pages,
		.path_size = fe_path_size,
		.exists = fe_exists,
		.rename = fe_rename,
		.unlink = fe_unlink,
		.mkdir = fe_mkdir,
		.rmdir = fe_rmdir,
		.list_dir = fe_list_dir,
		.sync_dir = fe_sync_dir,
		.lock_file = fe_lock_file,
		.unlock_file = fe_unlock_file,
		.lock_file_ro = fe_lock_file_ro,
		.free_space = fe_free_space,
		.destroy = fe_destroy,
	};
	return &fe->iface;
}
