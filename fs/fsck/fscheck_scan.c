/*
 * fscheck_scan.c — the first pass of lsmfs_check: one iterator reads every
 * key of the data directory into the picture (inodes, entries, chunk
 * references and their patches; chunk bytes are hashed as they pass and not
 * kept). Keys that fit no rule of fs/keys.h are reported and recorded for
 * deletion here.
 */
#include "fscheck_impl.h"

/* ---- reading every key ---- */

static void bad_key(struct ck *st, const uint8_t *k, size_t klen, const char *why)
{
	char kt[64];

	ck_report(st, LSMFS_CK_KEY, LSMFS_CK_PROBLEM, 0, "Remove it", "key %s (%zu bytes) %s",
		  ck_key_text(k, klen, kt), klen, why);
	ck_del_key(st, k, klen);
}

static void scan_inode(struct ck *st, const uint8_t *k, const uint8_t *v, size_t vlen)
{
	struct ck_ino *ci = PUSH(st, st->in, st->nin, st->capin);

	if (!ci)
		return;
	st->ikeys++;
	ci->ino = get_be64(k + 1);
	ci->dent = NONE;
	ci->vlen = (uint32_t)(vlen > UINT32_MAX ? UINT32_MAX : vlen);
	if (inode_decode(&ci->a, v, vlen) || !ck_known_type(ci->a.mode))
		ci->state = ST_DAMAGED;
	ci->was = ci->a;
}

static void scan_dent(struct ck *st, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen)
{
	struct ck_dent *d;
	size_t nlen = klen - 17;
	const char *name = (const char *)k + 17;

	d = PUSH(st, st->de, st->nde, st->capde);
	if (!d)
		return;
	d->parent = get_be64(k + 1);
	d->nhash = get_be64(k + 9);
	d->nlen = (uint16_t)nlen;
	d->name = ck_pool_add(st, name, nlen);
	if (vlen >= DENT_VAL_LEN) {
		d->child = get_be64(v);
		d->dtype = v[8];
	} else {
		d->bad = "has a value too short to name an inode";
	}
	if (memchr(name, '/', nlen) || memchr(name, '\0', nlen))
		d->bad = "has a name with a '/' or a NUL byte";
	else if ((nlen == 1 && name[0] == '.') || (nlen == 2 && name[0] == '.' && name[1] == '.'))
		d->bad = "is named . or .., which no entry may be";
	if (d->name == NONE)
		st->nde--;
}

static void scan_fref(struct ck *st, const uint8_t *k, const uint8_t *v, size_t vlen)
{
	struct ck_fref *f = PUSH(st, st->f, st->nf, st->capf);
	struct fref r;

	if (!f)
		return;
	f->ino = get_be64(k + 1);
	f->idx = get_be64(k + 9);
	if (fref_decode(&r, v, vlen)) {
		f->bad = 1;
		return;
	}
	memcpy(f->sha, r.sha, SHA_LEN);
	f->len = r.len;
	f->inl = (uint8_t)r.inl;
	if (r.inl) {
		uint8_t sha[SHA_LEN];

		chunk_sha(v + FREF_LEN, r.len, sha);
		f->ibad = memcmp(sha, r.sha, SHA_LEN) != 0;
	}
	f->nsum = (uint8_t)r.nsum;
	f->sumsig = ck_sums_sig(r.sum, r.nsum);
	if (r.npatch) {
		struct ck_pset *ps = PUSH(st, st->ps, st->nps, st->capps);

		if (!ps)
			return;
		memcpy(ps->p, r.patch, sizeof(ps->p));
		f->pset = (uint32_t)st->nps;
		f->npatch = (uint8_t)r.npatch;
	}
}

/*
 * A P key: one of the patches its chunk reference lists (F keys sort
 * before P keys, so the reference is known), with that length, or a stray.
 * lost: its bytes could not be read.
 */
static void scan_patch(struct ck *st, const uint8_t *k, size_t vlen, int lost)
{
	uint64_t ino = get_be64(k + 1), idx = get_be64(k + 9);
	uint32_t n = k[17];
	struct ck_fref *f = ck_fref_find(st, ino, idx);

	if (!f || f->bad || n >= f->npatch) {
		ck_report(st, LSMFS_CK_PATCH, LSMFS_CK_PROBLEM, ino, "Remove it",
			  "inode %" PRIu64 ": patch %" PRIu32 " of chunk %" PRIu64
			  " is stored, but %s",
			  ino, n, idx,
			  !f ? "the chunk has no reference" : "its reference does not list it");
		ck_del_key(st, k, 18);
		return;
	}
	if (lost || vlen != st->ps[f->pset - 1].p[n].len)
		f->pbad = 1;
	else
		f->pseen |= (uint16_t)(1u << n);
}

static void scan_chunk(struct ck *st, const uint8_t *k, const uint8_t *v, size_t vlen)
{
	struct ck_chunk *c = PUSH(st, st->ch, st->nch, st->capch);
	uint8_t sha[SHA_LEN];

	if (!c)
		return;
	memcpy(c->sha, k + 1, SHA_LEN);
	c->clen = (uint32_t)(vlen > UINT32_MAX ? UINT32_MAX : vlen);
	c->has_c = 1;
	chunk_sha(v, vlen, sha);
	c->c_bad = memcmp(sha, c->sha, SHA_LEN) != 0;
	if (st->sum_unit && vlen <= UINT32_MAX) {
		struct fref r = {.len = (uint32_t)vlen};

		/* The checksums a reference to these bytes must carry, if any. */
		fref_set_sums(&r, v, st->sum_unit * SUM_BLOCKS);
		c->sumsig = ck_sums_sig(r.sum, r.nsum);
	}
	st->res->chunks++;
	st->res->chunk_bytes += vlen;
}

/* A C key whose value cannot be read: a bad chunk, of unknown length. */
static void scan_lost_chunk(struct ck *st, const uint8_t *k)
{
	struct ck_chunk *c = PUSH(st, st->ch, st->nch, st->capch);

	if (!c)
		return;
	memcpy(c->sha, k + 1, SHA_LEN);
	c->has_c = 1;
	c->c_bad = 1;
	c->c_lost = 1;
	st->res->chunks++;
}

static void scan_ref(struct ck *st, const uint8_t *k, const uint8_t *v, size_t vlen)
{
	struct ck_chunk *c = ck_chunk_find(st, k + 1);

	if (!c) {
		c = PUSH(st, st->ronly, st->nronly, st->capronly);
		if (!c)
			return;
		memcpy(c->sha, k + 1, SHA_LEN);
	}
	c->has_r = 1;
	if (vlen == 8)
		c->r = get_be64(v);
	else
		c->r_bad = 1;
}

/* Keys that sort after 'I' (L, O, X) can look their inode up at once. */
static void scan_after_inode(struct ck *st, const uint8_t *k, size_t klen, size_t vlen)
{
	uint64_t ino = get_be64(k + 1);
	struct ck_ino *ci = ck_ino_find(st, ino);

	switch (k[0]) {
	case KEY_LINK:
		if (!ci) {
			ck_add_stray(st, ino, KEY_LINK);
			ck_del_key(st, k, klen);
		} else {
			ci->has_l = 1;
			ci->llen = (uint32_t)(vlen > UINT32_MAX ? UINT32_MAX : vlen);
		}
		break;
	case KEY_ORPHAN:
		if (!ci) {
			ck_report(st, LSMFS_CK_ORPHAN, LSMFS_CK_PROBLEM, ino, "Remove it",
				  "orphan key of inode %" PRIu64 ", which does not exist", ino);
			ck_del_key(st, k, klen);
		} else {
			ci->orphan = 1;
		}
		break;
	case KEY_XATTR:
		if (!ci) {
			ck_add_stray(st, ino, KEY_XATTR);
			ck_del_key(st, k, klen);
		} else {
			ci->xkeys++;
		}
		break;
	}
}

/* Why a key cannot be one lsmfs writes (by tag and length), or NULL. */
static const char *key_shape(const uint8_t *k, size_t klen)
{
	switch (klen ? k[0] : 0) {
	case KEY_SUPER:
		return klen == 1 ? NULL : "has the superblock's tag but not its length 1";
	case KEY_INODE:
	case KEY_LINK:
	case KEY_ORPHAN:
		return klen == 9 ? NULL : "has an inode key's tag but not its length 9";
	case KEY_DENT:
		return klen >= 18 && klen <= 17 + LSMFS_NAME_MAX
			       ? NULL
			       : "has an entry's tag but a name of 0 or more than 255 bytes";
	case KEY_FCHUNK:
		return klen == 17 ? NULL : "has a chunk reference's tag but not its length 17";
	case KEY_PATCH:
		return klen == 18 ? NULL : "has a patch's tag but not its length 18";
	case KEY_COUNT:
		return klen == 2 && k[1] < ICOUNT_SHARDS ? NULL
							 : "has the inode count's tag but not its "
							   "length 2 and a shard below 32";
	case KEY_CHUNK:
	case KEY_REF:
		return klen == 1 + SHA_LEN ? NULL : "has a chunk key's tag but not its length 33";
	case KEY_XATTR:
		return klen >= 10 && klen <= 9 + LSMFS_XATTR_NAME_MAX
			       ? NULL
			       : "has an xattr's tag but a name of 0 or more than 255 bytes";
	}
	return "is of no kind lsmfs writes";
}

static void scan_key(struct ck *st, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen)
{
	const char *bad = key_shape(k, klen);

	if (bad) {
		bad_key(st, k, klen, bad);
		return;
	}
	switch (k[0]) {
	case KEY_SUPER:
		st->have_sb = 1;
		st->sb_rc = super_decode(&st->sb, v, vlen);
		break;
	case KEY_INODE:
		scan_inode(st, k, v, vlen);
		break;
	case KEY_DENT:
		scan_dent(st, k, klen, v, vlen);
		break;
	case KEY_FCHUNK:
		scan_fref(st, k, v, vlen);
		break;
	case KEY_CHUNK:
		scan_chunk(st, k, v, vlen);
		break;
	case KEY_REF:
		scan_ref(st, k, v, vlen);
		break;
	case KEY_PATCH:
		scan_patch(st, k, vlen, 0);
		break;
	case KEY_COUNT:
		st->icount_shards |= 1u << k[1];
		if (vlen == 8)
			st->icount += (int64_t)get_be64(v);
		else
			st->icount_bad = 1;
		break;
	default: /* L, O, X */
		scan_after_inode(st, k, klen, vlen);
		break;
	}
}

/* Reads every key; 0, or the engine's error (a key could not be read). */
int fsck_scan(struct ck *st)
{
	lsm_read_options ro = {.fill_cache = 0};
	lsm_stats ls;
	uint64_t bytes = 0, total;
	lsm_iter *it;
	int rc;

	lsm_stats_get(st->db, &ls);
	total = ls.live_bytes + ls.memtable_bytes;
	{
		/* The chunk size first (S sorts after C): chunks are hashed as they pass. */
		uint8_t sk = KEY_SUPER;
		struct lsmfs_super sb;
		void *v = NULL;
		size_t vlen = 0;

		if (lsm_get(st->db, NULL, &sk, 1, &v, &vlen) == 0 &&
		    super_decode(&sb, v, vlen) == 0 && sb.chunk_size >= LSMFS_MIN_CHUNK &&
		    sb.chunk_size <= LSMFS_MAX_CHUNK)
			st->sum_unit = fref_sum_unit(sb.chunk_size);
		free(v);
	}
	ck_progress(st, 2, "reading keys", 0, total);
	it = lsm_iter_new(st->db, &ro);
	if (!it)
		return -ENOMEM;
	lsm_iter_seek_first(it);
	while (lsm_iter_valid(it) && !st->err) {
		size_t klen, vlen;
		const uint8_t *k = lsm_iter_key(it, &klen);
		const uint8_t *v = lsm_iter_value(it, &vlen);

		if (!v &&
		    ((klen == 1 + SHA_LEN && k[0] == KEY_CHUNK) ||
		     (klen == 18 && k[0] == KEY_PATCH)) &&
		    lsm_iter_status(it) == -LSM_ECORRUPT) {
			/*
			 * A chunk or patch whose bytes cannot be read (its
			 * value file is damaged) is a bad one; the scan goes on
			 * after it with a new iterator (a failed one stays
			 * stopped).
			 */
			uint8_t after[1 + SHA_LEN + 1];

			memcpy(after, k, klen);
			after[klen] = 0; /* the smallest key past k */
			if (k[0] == KEY_CHUNK)
				scan_lost_chunk(st, k);
			else
				scan_patch(st, k, 0, 1);
			lsm_iter_free(it);
			it = lsm_iter_new(st->db, &ro);
			if (!it)
				return -ENOMEM;
			lsm_iter_seek(it, after, sizeof(after));
			continue;
		}
		scan_key(st, k, klen, v, vlen);
		bytes += klen + vlen;
		if (++st->res->keys % PROGRESS_STEP == 0)
			ck_progress(st, 2, "reading keys", bytes < total ? bytes : total, total);
		lsm_iter_next(it);
	}
	rc = lsm_iter_status(it);
	lsm_iter_free(it);
	if (rc || st->err)
		return rc ? rc : st->err;
	/* Reference counts of chunks that are not stored join the chunk table. */
	for (size_t i = 0; i < st->nronly && !st->err; i++) {
		struct ck_chunk *c = PUSH(st, st->ch, st->nch, st->capch);

		if (c)
			*c = st->ronly[i];
	}
	if (st->nronly && st->nch > 1)
		qsort(st->ch, st->nch, sizeof(*st->ch), ck_chunk_cmp);
	ck_progress(st, 2, "reading keys", total, total);
	return st->err;
}
