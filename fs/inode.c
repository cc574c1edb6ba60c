/*
 * inode.c — the inode cache (lookup and open counts, the cached attributes),
 * freeing unlinked inodes, locksets, and the attribute operations:
 * getattr, setattr, access, open, release, forget.
 */
#include "fs_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

/*
 * The inode cache is a chained hash table that grows 4x whenever it holds
 * twice as many entries as chains. It never shrinks: a table of pointers
 * is small beside the entries it once held.
 *
 * The kernel may remember millions of inodes (each it has looked up stays
 * until it forgets it). Past the first fs->icache_keep, an entry that no
 * thread and no open handle uses leaves the table when its last user puts
 * it, and only its lookup count stays, as a light record (struct ilight)
 * in a second, open-addressed table. The next iget of it makes it whole
 * again; its attributes come back from its I key (iload), and whether it
 * is an orphan with them (nlink 0). An entry of a freed inode
 * (INODE_GONE) stays whole: there is no I key to reload it from.
 */
static size_t hash_ino(uint64_t ino)
{
	return (size_t)((ino * 0x9e3779b97f4a7c15ull) >> 24);
}

/* REQUIRES: fs->icache_mu held, fs->icache not NULL. */
static struct lsmfs_inode **chain_of(lsmfs *fs, uint64_t ino)
{
	return &fs->icache[hash_ino(ino) & fs->icache_mask];
}

/* REQUIRES: fs->icache_mu held. Rehashes into n chains; keeps the old table on ENOMEM. */
static void icache_resize(lsmfs *fs, size_t n)
{
	struct lsmfs_inode **t = calloc(n, sizeof(*t));

	if (!t)
		return; /* longer chains, still correct */
	for (size_t b = 0; fs->icache && b <= fs->icache_mask; b++) {
		struct lsmfs_inode *ip = fs->icache[b], *next;

		for (; ip; ip = next) {
			next = ip->next;
			ip->next = t[hash_ino(ip->ino) & (n - 1)];
			t[hash_ino(ip->ino) & (n - 1)] = ip;
		}
	}
	free(fs->icache);
	fs->icache = t;
	fs->icache_mask = n - 1;
}

/* ---- light records: linear probing, backward-shift deletion ---- */

/* REQUIRES: fs->icache_mu held. The slot of ino, or of the free slot where it would go. */
static size_t light_slot(lsmfs *fs, uint64_t ino)
{
	size_t i = hash_ino(ino) & fs->light_mask;

	while (fs->light[i].ino && fs->light[i].ino != ino)
		i = (i + 1) & fs->light_mask;
	return i;
}

/* REQUIRES: fs->icache_mu held. Rehashes into n slots (a power of two); 0 or -ENOMEM. */
static int light_resize(lsmfs *fs, size_t n)
{
	struct ilight *old = fs->light;
	size_t old_n = old ? fs->light_mask + 1 : 0;

	fs->light = calloc(n, sizeof(*fs->light));
	if (!fs->light) {
		fs->light = old;
		return -ENOMEM;
	}
	fs->light_mask = n - 1;
	for (size_t i = 0; i < old_n; i++)
		if (old[i].ino)
			fs->light[light_slot(fs, old[i].ino)] = old[i];
	free(old);
	return 0;
}

/* REQUIRES: fs->icache_mu held, ino not light yet. Records it; 0 or -ENOMEM. */
static int light_put(lsmfs *fs, uint64_t ino, uint64_t nlookup)
{
	size_t n = fs->light ? fs->light_mask + 1 : 0;

	/* At most three quarters full: probes stay short. */
	if (4 * (fs->light_count + 1) > 3 * n && light_resize(fs, n ? 2 * n : 1024))
		return -ENOMEM;
	fs->light[light_slot(fs, ino)] = (struct ilight){.ino = ino, .nlookup = nlookup};
	fs->light_count++;
	return 0;
}

/* REQUIRES: fs->icache_mu held. Removes ino's record: 1 with *nlookup, or 0 if none. */
static int light_take(lsmfs *fs, uint64_t ino, uint64_t *nlookup)
{
	size_t i, j;

	if (!fs->light_count)
		return 0;
	i = light_slot(fs, ino);
	if (!fs->light[i].ino)
		return 0;
	*nlookup = fs->light[i].nlookup;
	fs->light_count--;
	/* Move back each later record of the run that may sit at i. */
	for (j = (i + 1) & fs->light_mask; fs->light[j].ino; j = (j + 1) & fs->light_mask) {
		size_t home = hash_ino(fs->light[j].ino) & fs->light_mask;

		/* j may move to i unless its home lies cyclically in (i, j]. */
		if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
			fs->light[i] = fs->light[j];
			i = j;
		}
	}
	fs->light[i].ino = 0;
	return 1;
}

void icache_counts(lsmfs *fs, size_t *whole, size_t *light)
{
	pthread_mutex_lock(&fs->icache_mu);
	*whole = fs->icache_count;
	*light = fs->light_count;
	pthread_mutex_unlock(&fs->icache_mu);
}

/* REQUIRES: fs->icache_mu held. The cached entry of ino, or NULL. */
static struct lsmfs_inode *icache_find(lsmfs *fs, uint64_t ino)
{
	struct lsmfs_inode *ip;

	if (!fs->icache)
		return NULL;
	for (ip = *chain_of(fs, ino); ip; ip = ip->next)
		if (ip->ino == ino)
			break;
	return ip;
}

/* REQUIRES: fs->icache_mu held, ino not in the table. A new (unloaded) entry, or NULL. */
static struct lsmfs_inode *icache_insert(lsmfs *fs, uint64_t ino)
{
	struct lsmfs_inode *ip, **chain;

	if (!fs->icache)
		icache_resize(fs, ICACHE_MIN_BUCKETS);
	/* calloc under the table lock keeps the find-or-insert a single step. */
	if (!fs->icache || !(ip = calloc(1, sizeof(*ip))))
		return NULL;
	chain = chain_of(fs, ino);
	ip->ino = ino;
	pthread_mutex_init(&ip->mu, NULL);
	ip->next = *chain;
	*chain = ip;
	if (++fs->icache_count > 2 * (fs->icache_mask + 1))
		icache_resize(fs, 4 * (fs->icache_mask + 1));
	return ip;
}

/*
 * REQUIRES: fs->icache_mu held. The entry of ino, made whole again from
 * its light record if it has one, or (create) a new one; NULL when it has
 * neither and !create, or when out of memory (a light record then stays).
 */
static struct lsmfs_inode *icache_get(lsmfs *fs, uint64_t ino, int create)
{
	struct lsmfs_inode *ip = icache_find(fs, ino);
	uint64_t nlookup = 0;
	int light;

	if (ip)
		return ip;
	light = light_take(fs, ino, &nlookup);
	if (!light && !create)
		return NULL;
	ip = icache_insert(fs, ino);
	if (ip)
		ip->nlookup = nlookup;
	else if (light && light_put(fs, ino, nlookup)) /* into the slot just freed */
		abort();
	return ip;
}

struct lsmfs_inode *iget(lsmfs *fs, uint64_t ino)
{
	struct lsmfs_inode *ip;

	pthread_mutex_lock(&fs->icache_mu);
	ip = icache_get(fs, ino, 1);
	if (ip)
		ip->refs++;
	pthread_mutex_unlock(&fs->icache_mu);
	return ip;
}

/*
 * REQUIRES: fs->icache_mu held. Frees ip if nothing refers to it any more,
 * or, past fs->icache_keep entries, if only the kernel's lookups do (they
 * stay as a light record).
 */
static void ievict_locked(lsmfs *fs, struct lsmfs_inode *ip)
{
	struct lsmfs_inode **pp;

	if (ip->refs || ip->nopen)
		return;
	if (ip->nlookup && (fs->icache_count <= fs->icache_keep || ip->state == INODE_GONE ||
			    light_put(fs, ip->ino, ip->nlookup)))
		return; /* kept whole: within the limit, freed, or no memory for a record */
	for (pp = chain_of(fs, ip->ino); *pp; pp = &(*pp)->next) {
		if (*pp == ip) {
			*pp = ip->next;
			fs->icache_count--;
			break;
		}
	}
	pthread_mutex_destroy(&ip->mu);
	free(ip);
}

void iput(lsmfs *fs, struct lsmfs_inode *ip)
{
	pthread_mutex_lock(&fs->icache_mu);
	if (ip->refs == 0)
		abort(); /* an unbalanced iput would free an entry still in use */
	ip->refs--;
	ievict_locked(fs, ip);
	pthread_mutex_unlock(&fs->icache_mu);
}

void icache_destroy(lsmfs *fs)
{
	for (size_t b = 0; fs->icache && b <= fs->icache_mask; b++) {
		struct lsmfs_inode *ip = fs->icache[b], *n;

		for (; ip; ip = n) {
			n = ip->next;
			pthread_mutex_destroy(&ip->mu);
			free(ip);
		}
	}
	free(fs->icache);
	fs->icache = NULL;
	fs->icache_mask = fs->icache_count = 0;
	free(fs->light);
	fs->light = NULL;
	fs->light_mask = fs->light_count = 0;
}

int iload(lsmfs *fs, struct lsmfs_inode *ip)
{
	struct fkey k;
	void *v = NULL;
	size_t vlen = 0;
	int rc = 0;

	if (ip->state == INODE_LOADED)
		goto out;
	if (ip->state == INODE_GONE) {
		rc = -ENOENT;
		goto out;
	}
	key_ino(&k, KEY_INODE, ip->ino);
	rc = fs_get(fs, &k, &v, &vlen, ip->ino);
	if (rc == LSM_NOTFOUND) {
		ip->state = INODE_GONE;
		rc = -ENOENT;
		goto out;
	}
	if (rc)
		goto out;
	if (inode_decode(&ip->a, v, vlen)) {
		fs_log("inode %" PRIu64 ": inode record has %zu bytes, expected at least %d",
		       ip->ino, vlen, INODE_LEN_OLD);
		rc = -EIO;
		goto out;
	}
	/* An existing inode with no links was unlinked while in use: its O key exists. */
	ip->orphan = ip->a.nlink == 0;
	ip->state = INODE_LOADED;
out:
	free(v);
	return rc;
}

int ilock_get(lsmfs *fs, uint64_t ino, struct lsmfs_inode **ipp)
{
	struct lsmfs_inode *ip = iget(fs, ino);
	int rc;

	*ipp = NULL;
	if (!ip)
		return -ENOMEM;
	pthread_mutex_lock(&ip->mu);
	rc = iload(fs, ip);
	if (rc) {
		pthread_mutex_unlock(&ip->mu);
		iput(fs, ip);
		return rc;
	}
	*ipp = ip;
	return 0;
}

void iunlock_put(lsmfs *fs, struct lsmfs_inode *ip)
{
	pthread_mutex_unlock(&ip->mu);
	iput(fs, ip);
}

static struct timespec ns_to_ts(int64_t ns)
{
	struct timespec ts;

	ts.tv_sec = ns / 1000000000;
	ts.tv_nsec = ns % 1000000000;
	if (ts.tv_nsec < 0) {
		ts.tv_nsec += 1000000000;
		ts.tv_sec--;
	}
	return ts;
}

static int64_t ts_to_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

void inode_to_stat(const lsmfs *fs, uint64_t ino, const struct lsmfs_attr *a, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_rdev = a->rdev;
	st->st_size = (off_t)a->size;
	st->st_blksize = fs->cs;
	/*
	 * Holes take nothing; a chunk takes its stored bytes rounded up to 4 KiB
	 * (keys.h). An older build's inode shows the whole chunks it showed then.
	 */
	st->st_blocks = (blkcnt_t)((a->stored_old ? a->chunks * fs->cs : a->stored) / 512);
	st->st_atim = ns_to_ts(a->atime);
	st->st_mtim = ns_to_ts(a->mtime);
	st->st_ctim = ns_to_ts(a->ctime);
}

void inode_add_lookup(lsmfs *fs, struct lsmfs_inode *ip, uint64_t n)
{
	pthread_mutex_lock(&fs->icache_mu);
	ip->nlookup += n;
	pthread_mutex_unlock(&fs->icache_mu);
}

void inode_add_open(lsmfs *fs, struct lsmfs_inode *ip, int n)
{
	pthread_mutex_lock(&fs->icache_mu);
	ip->nopen += n;
	pthread_mutex_unlock(&fs->icache_mu);
}

int inode_in_use(lsmfs *fs, struct lsmfs_inode *ip)
{
	int r;

	pthread_mutex_lock(&fs->icache_mu);
	r = ip->nlookup > 0 || ip->nopen > 0;
	pthread_mutex_unlock(&fs->icache_mu);
	return r;
}

/*
 * Deletes up to max keys of the prefix tag+ino (F keys also drop their chunk
 * references and their patches' P keys); *n gets how many, *bytes what the
 * F keys among them held (fref_stored of each).
 */
static int free_prefix(struct fs_op *op, char tag, uint64_t ino, uint64_t max, uint64_t *n,
		       uint64_t *bytes)
{
	lsmfs *fs = op->fs;
	struct fkey pfx;
	lsm_iter *it;
	int rc = 0;

	*n = 0;
	*bytes = 0;
	key_ino(&pfx, tag, ino);
	it = lsm_iter_new(fs->db, NULL);
	if (!it)
		return -ENOMEM;
	for (lsm_iter_seek(it, pfx.b, pfx.len); lsm_iter_valid(it) && !rc && *n < max;
	     lsm_iter_next(it)) {
		size_t klen, vlen;
		const void *key = lsm_iter_key(it, &klen);
		const void *val;
		struct fref ref;

		if (klen < pfx.len || memcmp(key, pfx.b, pfx.len) != 0)
			break;
		rc = lsm_batch_delete(op->b, key, klen);
		(*n)++;
		if (rc || tag != KEY_FCHUNK || klen != 17)
			continue;
		val = lsm_iter_value(it, &vlen);
		if (fref_decode(&ref, val, vlen)) {
			/* Leak the chunk rather than fail the delete: fsck finds it. */
			fs_log("inode %" PRIu64 ": malformed chunk reference while freeing", ino);
			continue;
		}
		for (uint32_t i = 0; i < ref.npatch && !rc; i++) {
			struct fkey pk;

			key_patch(&pk, ino, get_be64((const uint8_t *)key + 9), i);
			rc = op_del(op, &pk);
		}
		if (!rc && ref.len && !ref.inl)
			rc = op_ref(op, ref.sha, -1, NULL, 0);
		*bytes += fref_stored(&ref);
	}
	if (!rc)
		rc = fs_err(fs, lsm_iter_status(it), "scan", ino);
	lsm_iter_free(it);
	return rc;
}

int inode_free_keys(struct fs_op *op, uint64_t ino, const struct lsmfs_attr *a, int orphan)
{
	struct fkey k;
	uint64_t n, bytes;
	int rc = 0;

	if (S_ISREG(a->mode) && a->chunks)
		rc = free_prefix(op, KEY_FCHUNK, ino, UINT64_MAX, &n, &bytes);
	if (!rc && (a->flags & LSMFS_IFLAG_XATTR))
		rc = free_prefix(op, KEY_XATTR, ino, UINT64_MAX, &n, &bytes);
	if (!rc && S_ISLNK(a->mode)) {
		key_ino(&k, KEY_LINK, ino);
		rc = op_del(op, &k);
	}
	if (!rc && orphan) {
		key_ino(&k, KEY_ORPHAN, ino);
		rc = op_del(op, &k);
	}
	if (!rc) {
		key_ino(&k, KEY_INODE, ino);
		rc = op_del(op, &k);
	}
	if (!rc)
		op->icount_delta--;
	return rc;
}

int inode_unlinked(struct fs_op *op, struct lsmfs_inode *ip, const struct lsmfs_attr *a, int *freed)
{
	struct fkey k;

	*freed = 0;
	if (inode_in_use(op->fs, ip) || a->chunks > FREE_STEP) {
		/*
		 * Still looked up or open, or too big to free in one batch: an
		 * orphan, finished by inode_reap (or by the next mount).
		 */
		key_ino(&k, KEY_ORPHAN, ip->ino);
		return op_put(op, &k, "", 0);
	}
	*freed = 1;
	return inode_free_keys(op, ip->ino, a, ip->orphan);
}

/*
 * Drops FREE_STEP chunks of an orphan in one batch, so that freeing a huge
 * file never builds a huge batch; the O key keeps the rest for a crash.
 * REQUIRES: ip->mu held.
 */
static int free_step(lsmfs *fs, struct lsmfs_inode *ip)
{
	struct lsmfs_attr na = ip->a;
	struct fs_op op;
	uint64_t n = 0, bytes = 0;
	int rc;

	rc = op_begin(fs, &op);
	if (!rc)
		rc = free_prefix(&op, KEY_FCHUNK, ip->ino, FREE_STEP, &n, &bytes);
	if (rc)
		goto out;
	/* The inode shows what is left, should the next step not come before a crash. */
	attr_chunks_sub(&na, n, bytes);
	/*
	 * Fewer keys than asked for: none is left, whatever the count said (a
	 * count too high is fsck's to report; here it must not keep the
	 * caller's loop going forever).
	 */
	if (n < FREE_STEP)
		attr_chunks_sub(&na, na.chunks, 0);
	rc = op_put_inode(&op, ip->ino, &na);
	if (!rc)
		rc = op_commit(&op);
	if (!rc)
		ip->a = na;
out:
	op_end(&op);
	return rc;
}

void inode_maybe_free(lsmfs *fs, struct lsmfs_inode *ip)
{
	struct fs_op op;
	int rc;

	pthread_mutex_lock(&ip->mu);
	memset(&op, 0, sizeof(op));
	rc = iload(fs, ip);
	if (rc || ip->a.nlink != 0 || inode_in_use(fs, ip) || fs->read_only)
		goto out;
	while (!rc && ip->a.chunks > FREE_STEP)
		rc = free_step(fs, ip);
	if (!rc)
		rc = op_begin(fs, &op);
	if (!rc)
		rc = inode_free_keys(&op, ip->ino, &ip->a, ip->orphan);
	if (!rc)
		rc = op_commit(&op);
	if (!rc)
		ip->state = INODE_GONE;
	else
		/* The O key stays; the next mount finishes the job. */
		fs_log("inode %" PRIu64 ": freeing unlinked inode failed: %s", ip->ino,
		       strerror(-rc));
out:
	op_end(&op);
	pthread_mutex_unlock(&ip->mu);
}

void inode_reap(lsmfs *fs, uint64_t ino)
{
	struct lsmfs_inode *ip = iget(fs, ino);

	if (!ip)
		return;
	inode_maybe_free(fs, ip);
	iput(fs, ip);
}

int atime_needs_update(const struct lsmfs_attr *a, int64_t now)
{
	const int64_t day = 24ll * 3600 * 1000000000;

	/* relatime: only when atime would otherwise fall behind the last change. */
	return a->atime <= a->mtime || a->atime <= a->ctime || now - a->atime >= day;
}

void inode_touch_atime(lsmfs *fs, struct lsmfs_inode *ip)
{
	struct lsmfs_attr na;
	struct fs_op op;
	int64_t now = lsmfs_now();

	if (fs->read_only || !atime_needs_update(&ip->a, now) || op_begin(fs, &op))
		return;
	na = ip->a;
	na.atime = now;
	/* A failed atime update is not worth failing the read for. */
	if (!op_put_inode(&op, ip->ino, &na) && !op_commit(&op))
		ip->a = na;
	op_end(&op);
}

/* ---- locksets ---- */

void lockset_init(struct lockset *ls)
{
	memset(ls, 0, sizeof(*ls));
}

void lockset_add(struct lockset *ls, uint64_t ino)
{
	if (ino == 0 || lockset_find(ls, ino))
		return;
	if (ls->n == 4)
		abort(); /* no operation locks more than four inodes */
	ls->e[ls->n++].ino = ino;
}

static int ent_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct lock_ent *)a)->ino, y = ((const struct lock_ent *)b)->ino;

	return x < y ? -1 : x > y;
}

int lockset_lock(lsmfs *fs, struct lockset *ls)
{
	int rc = 0, got;

	qsort(ls->e, (size_t)ls->n, sizeof(ls->e[0]), ent_cmp);
	for (got = 0; got < ls->n; got++) {
		struct lsmfs_inode *ip = iget(fs, ls->e[got].ino);

		if (!ip) {
			rc = -ENOMEM;
			break;
		}
		pthread_mutex_lock(&ip->mu);
		ls->e[got].ip = ip;
		rc = iload(fs, ip);
		if (rc == -ENOENT)
			rc = 0; /* gone: state says so, the caller decides */
		if (rc) {
			got++;
			break;
		}
		ls->e[got].na = ip->a;
	}
	if (rc) {
		ls->n = got;
		lockset_unlock(fs, ls);
	}
	return rc;
}

struct lock_ent *lockset_find(struct lockset *ls, uint64_t ino)
{
	for (int i = 0; i < ls->n; i++)
		if (ls->e[i].ino == ino)
			return &ls->e[i];
	return NULL;
}

int lockset_stage(struct lockset *ls, struct fs_op *op)
{
	int rc = 0;

	for (int i = 0; i < ls->n && !rc; i++)
		if (ls->e[i].dirty && !ls->e[i].freed)
			rc = op_put_inode(op, ls->e[i].ip->ino, &ls->e[i].na);
	return rc;
}

void lockset_apply(struct lockset *ls)
{
	for (int i = 0; i < ls->n; i++) {
		struct lock_ent *e = &ls->e[i];

		if (e->freed) {
			e->ip->state = INODE_GONE;
		} else if (e->dirty) {
			e->ip->a = e->na;
			if (e->na.nlink == 0)
				e->ip->orphan = 1;
		}
	}
}

void lockset_unlock(lsmfs *fs, struct lockset *ls)
{
	for (int i = ls->n - 1; i >= 0; i--)
		iunlock_put(fs, ls->e[i].ip);
	ls->n = 0;
}

/* ---- attribute operations ---- */

int lsmfs_getattr(lsmfs *fs, uint64_t ino, struct stat *st)
{
	struct lsmfs_inode *ip;
	int rc = ilock_get(fs, ino, &ip);

	if (rc)
		return rc;
	inode_to_stat(fs, ino, &ip->a, st);
	iunlock_put(fs, ip);
	return 0;
}

int lsmfs_setattr(lsmfs *fs, const lsmfs_ctx *ctx, uint64_t ino, const struct stat *in, int to_set,
		  struct stat *out)
{
	struct lsmfs_inode *ip;
	struct lsmfs_attr na;
	struct fs_op op;
	int64_t now = lsmfs_now();
	int rc;

	rc = ilock_get(fs, ino, &ip);
	if (rc)
		return rc;
	rc = op_begin(fs, &op);
	if (rc)
		goto out;
	na = ip->a;
	if (to_set & LSMFS_SET_SIZE) {
		if (S_ISDIR(na.mode)) {
			rc = -EISDIR;
			goto out;
		}
		if (!S_ISREG(na.mode) || in->st_size < 0) {
			rc = -EINVAL;
			goto out;
		}
		rc = chunk_truncate(&op, ino, &na, (uint64_t)in->st_size);
		if (rc)
			goto out;
		if (ctx)
			kill_suid(ctx, &na);
	}
	if (to_set & LSMFS_SET_MODE)
		na.mode = (na.mode & S_IFMT) | (in->st_mode & 07777);
	if (to_set & LSMFS_SET_UID)
		na.uid = in->st_uid;
	if (to_set & LSMFS_SET_GID)
		na.gid = in->st_gid;
	if ((to_set & (LSMFS_SET_UID | LSMFS_SET_GID)) && !(to_set & LSMFS_SET_MODE) &&
	    !S_ISDIR(na.mode)) {
		/* As Linux (since 2.2.13) for any caller: a new owner must not inherit set-id. */
		na.mode &= ~(mode_t)S_ISUID;
		if (na.mode & S_IXGRP)
			na.mode &= ~(mode_t)S_ISGID;
	}
	if (to_set & LSMFS_SET_ATIME_NOW)
		na.atime = now;
	else if (to_set & LSMFS_SET_ATIME)
		na.atime = ts_to_ns(&in->st_atim);
	if (to_set & LSMFS_SET_MTIME_NOW)
		na.mtime = now;
	else if (to_set & LSMFS_SET_MTIME)
		na.mtime = ts_to_ns(&in->st_mtim);
	na.ctime = (to_set & LSMFS_SET_CTIME) ? ts_to_ns(&in->st_ctim) : now;
	rc = op_put_inode(&op, ino, &na);
	if (!rc)
		rc = op_commit(&op);
	if (rc)
		goto out;
	ip->a = na;
	if (out)
		inode_to_stat(fs, ino, &na, out);
out:
	op_end(&op);
	iunlock_put(fs, ip);
	return rc;
}

int lsmfs_access(lsmfs *fs, const lsmfs_ctx *ctx, uint64_t ino, int mask)
{
	struct lsmfs_inode *ip;
	unsigned bits;
	int rc = ilock_get(fs, ino, &ip);

	if (rc)
		return rc;
	if (mask == F_OK)
		goto out;
	if (ctx->uid == 0) {
		/* root passes read and write; execute needs some x bit (or a directory). */
		if ((mask & X_OK) && !S_ISDIR(ip->a.mode) && !(ip->a.mode & 0111))
			rc = -EACCES;
		goto out;
	}
	if (ctx->uid == ip->a.uid)
		bits = (ip->a.mode >> 6) & 7;
	else if (ctx->gid == ip->a.gid)
		bits = (ip->a.mode >> 3) & 7;
	else
		bits = ip->a.mode & 7;
	if (((unsigned)mask & bits) != (unsigned)mask)
		rc = -EACCES;
out:
	iunlock_put(fs, ip);
	return rc;
}

int lsmfs_open(lsmfs *fs, const lsmfs_ctx *ctx, uint64_t ino, int flags)
{
	struct lsmfs_inode *ip;
	struct fs_op op;
	int rc;

	(void)ctx;
	rc = ilock_get(fs, ino, &ip);
	if (rc)
		return rc;
	memset(&op, 0, sizeof(op));
	/* Like Linux, whatever the access mode: the kernel checked write permission. */
	if ((flags & O_TRUNC) && S_ISREG(ip->a.mode)) {
		struct lsmfs_attr na = ip->a;

		rc = op_begin(fs, &op);
		if (!rc)
			rc = chunk_truncate(&op, ino, &na, 0);
		if (rc)
			goto out;
		/* O_TRUNC marks the times even when the file was already empty (POSIX). */
		na.mtime = na.ctime = lsmfs_now();
		rc = op_put_inode(&op, ino, &na);
		if (!rc)
			rc = op_commit(&op);
		if (rc)
			goto out;
		ip->a = na;
	}
	inode_add_open(fs, ip, 1);
out:
	op_end(&op);
	iunlock_put(fs, ip);
	return rc;
}

/* Drops n from a count of ino; frees the inode if that was its last use. */
static void drop_count(lsmfs *fs, uint64_t ino, uint64_t n, int open)
{
	struct lsmfs_inode *ip;
	int last = 0;

	pthread_mutex_lock(&fs->icache_mu);
	ip = icache_get(fs, ino, 0);
	if (ip) {
		if (open)
			ip->nopen -= ip->nopen ? 1 : 0;
		else
			ip->nlookup -= n < ip->nlookup ? n : ip->nlookup;
		last = ip->nlookup == 0 && ip->nopen == 0;
		ip->refs++;
	}
	pthread_mutex_unlock(&fs->icache_mu);
	if (!ip)
		return; /* not known: nothing counted, nothing to free */
	if (last)
		inode_maybe_free(fs, ip);
	iput(fs, ip);
}

void lsmfs_forget(lsmfs *fs, uint64_t ino, uint64_t nlookup)
{
	drop_count(fs, ino, nlookup, 0);
}

int lsmfs_release(lsmfs *fs, uint64_t ino)
{
	drop_count(fs, ino, 1, 1);
	return 0;
}
