/*
 * icount.c — the live inode count that df -i shows: how many inodes exist
 * (I keys), the root and unlinked-but-open files included, as on ext4.
 *
 * The count is kept in ICOUNT_SHARDS 'N' keys (fs/keys.h) whose sum is the
 * count. An operation that creates or frees inodes adds its change to one
 * shard's key in its own batch (op_commit calls icount_stage), under that
 * shard's lock, so the count is exact after any crash; each thread keeps to
 * one shard, so that creates on several threads do not queue behind one
 * lock. A shard may go negative (its thread freed more than it created);
 * only the sum means anything. fsck.lsmfs checks the sum against the I keys.
 *
 * A count that cannot be read at mount (a damaged table) does not stop the
 * mount, which serves what it can read as before: the count is then
 * unknown until fsck.lsmfs -y sets it, statfs falls back to the inode
 * numbers handed out, and no batch writes an N key.
 */
#include "fs_impl.h"

#include <errno.h>
#include <inttypes.h>

/* The shard this thread adds to: threads take shards round-robin as they first commit. */
static unsigned thread_shard(void)
{
	static unsigned next;
	static __thread int mine = -1;

	if (mine < 0)
		mine = (int)(__atomic_fetch_add(&next, 1, __ATOMIC_RELAXED) % ICOUNT_SHARDS);
	return (unsigned)mine;
}

/* Counts the I keys: for a volume written before there was a count. */
static int count_inodes(lsmfs *fs, uint64_t *n)
{
	uint8_t pfx = KEY_INODE;
	lsm_iter *it = lsm_iter_new(fs->db, NULL);
	int rc;

	*n = 0;
	if (!it)
		return -ENOMEM;
	for (lsm_iter_seek(it, &pfx, 1); lsm_iter_valid(it); lsm_iter_next(it)) {
		size_t klen;
		const uint8_t *key = lsm_iter_key(it, &klen);

		if (key[0] != KEY_INODE)
			break;
		*n += klen == 9;
	}
	rc = lsm_iter_status(it);
	lsm_iter_free(it);
	return rc;
}

/* Reads the N keys into the shards; 1 when there are none. */
static int load_shards(lsmfs *fs)
{
	uint8_t pfx = KEY_COUNT;
	lsm_iter *it = lsm_iter_new(fs->db, NULL);
	int rc, none = 1;

	if (!it)
		return -ENOMEM;
	for (lsm_iter_seek(it, &pfx, 1); lsm_iter_valid(it); lsm_iter_next(it)) {
		size_t klen, vlen;
		const uint8_t *key = lsm_iter_key(it, &klen);
		const uint8_t *val = lsm_iter_value(it, &vlen);

		if (key[0] != KEY_COUNT)
			break;
		none = 0;
		if (klen != 2 || key[1] >= ICOUNT_SHARDS || vlen != 8) {
			/* fsck's to repair; the count is then off until it does. */
			fs_log("malformed inode count key (%zu bytes, value %zu bytes): ignored",
			       klen, vlen);
			continue;
		}
		fs->icount[key[1]].n = (int64_t)get_be64(val);
	}
	rc = lsm_iter_status(it);
	lsm_iter_free(it);
	return rc ? rc : none;
}

/* Reads the count, or counts a volume without one; 0 or the engine's error. */
static int load(lsmfs *fs)
{
	lsm_write_options wo = {.sync = 0};
	uint8_t v[8];
	struct fkey k;
	uint64_t n;
	int rc = load_shards(fs);

	if (rc <= 0)
		return rc;
	/* A volume from before the count: count once, and keep it from now on. */
	rc = count_inodes(fs, &n);
	if (rc)
		return rc;
	fs->icount[0].n = (int64_t)n;
	if (fs->read_only)
		return 0;
	/* Not synced: should it not last, the next mount counts again. */
	key_count(&k, 0);
	put_be64(v, n);
	return lsm_put(fs->db, &wo, k.b, k.len, v, sizeof(v));
}

void icount_load(lsmfs *fs)
{
	int rc;

	for (unsigned i = 0; i < ICOUNT_SHARDS; i++) {
		pthread_mutex_init(&fs->icount[i].mu, NULL);
		fs->icount[i].n = 0;
	}
	fs->icount_unknown = 0;
	rc = load(fs);
	if (rc) {
		fs_err(fs, rc, "reading the inode count", 0);
		fs_log("the inode count is unknown until fsck.lsmfs -y sets it; df -i shows "
		       "the inode numbers handed out instead");
		fs->icount_unknown = 1;
	}
}

void icount_destroy(lsmfs *fs)
{
	for (unsigned i = 0; i < ICOUNT_SHARDS; i++)
		pthread_mutex_destroy(&fs->icount[i].mu);
}

int icount_stage(struct fs_op *op, struct icount_shard **held)
{
	struct icount_shard *s;
	struct fkey k;
	uint8_t v[8];
	unsigned i;
	int rc;

	*held = NULL;
	if (op->icount_delta == 0 || op->fs->icount_unknown)
		return 0;
	i = thread_shard();
	s = &op->fs->icount[i];
	pthread_mutex_lock(&s->mu);
	key_count(&k, i);
	put_be64(v, (uint64_t)(s->n + op->icount_delta));
	rc = op_put(op, &k, v, sizeof(v)); /* the batch copies v */
	if (rc) {
		pthread_mutex_unlock(&s->mu);
		return rc;
	}
	*held = s;
	return 0;
}

void icount_done(struct fs_op *op, struct icount_shard *held, int committed)
{
	if (!held)
		return;
	if (committed)
		__atomic_store_n(&held->n, held->n + op->icount_delta, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&held->mu);
}

uint64_t icount_total(lsmfs *fs)
{
	int64_t sum = 0;

	if (fs->icount_unknown) {
		uint64_t handed_out;

		pthread_mutex_lock(&fs->ino_mu);
		handed_out = fs->ino_next;
		pthread_mutex_unlock(&fs->ino_mu);
		return handed_out;
	}
	for (unsigned i = 0; i < ICOUNT_SHARDS; i++)
		sum += __atomic_load_n(&fs->icount[i].n, __ATOMIC_RELAXED);
	return sum > 0 ? (uint64_t)sum : 0;
}
