/*
 * fscheck_repair.c — writing what the passes of lsmfs_check decided: the
 * settled picture is turned into batches, in phases ordered so that a
 * crash between two batches leaves a leak, never a loss.
 */
#include "fscheck_impl.h"

/* ---- writing the repairs ---- */

/*
 * Phases of the repair, for when it takes several batches: first what
 * only adds or raises (new chunks, counts raised, new inodes), then the
 * keys that change (entries, chunk references, strays), last what lowers
 * or frees (counts lowered, inodes and chunks deleted). A crash between
 * two batches leaves counts too high, never too low: a leak, not a loss.
 */
enum { PH_EARLY, PH_MID, PH_LATE, PH_ALL };

struct sink {
	struct ck *st;
	lsm_batch *b;
	int phase;   /* the phase emitted now, PH_ALL for one batch */
	int dry;     /* only count */
	int grouped; /* inside a group of keys that must land in one batch */
	uint64_t ops, bytes, total, batches;
	size_t max;
	int rc;
};

static void flush(struct sink *s)
{
	lsm_write_options wo = {.sync = 1};
	int rc;

	if (s->rc || s->dry || lsm_batch_count(s->b) == 0)
		return;
	rc = lsm_write(s->st->db, &wo, s->b);
	if (rc) {
		s->rc = rc;
		return;
	}
	s->batches++;
	lsm_batch_clear(s->b);
}

static void sink_op(struct sink *s, int phase, const void *k, size_t klen, const void *v,
		    size_t vlen, int del)
{
	int rc;

	if (s->rc || (s->phase != PH_ALL && phase != s->phase))
		return;
	s->ops++;
	s->bytes += klen + vlen + 16;
	if (s->dry)
		return;
	/* A batch ends only between groups: what must land together does. */
	if (s->phase != PH_ALL && !s->grouped && lsm_batch_bytes(s->b) >= s->max)
		flush(s);
	rc = s->rc ? s->rc
	     : del ? lsm_batch_delete(s->b, k, klen)
		   : lsm_batch_put(s->b, k, klen, v, vlen);
	if (rc) {
		s->rc = rc;
		return;
	}
	ck_tick(s->st, 5, "writing repairs", s->ops, s->total);
}

static void sink_put(struct sink *s, int phase, const struct fkey *k, const void *v, size_t vlen)
{
	sink_op(s, phase, k->b, k->len, v, vlen, 0);
}

static void sink_del(struct sink *s, int phase, const struct fkey *k)
{
	sink_op(s, phase, k->b, k->len, NULL, 0, 1);
}

static void emit_chunks(struct sink *s)
{
	struct ck *st = s->st;

	for (size_t i = 0; i < st->nch; i++) {
		struct ck_chunk *c = &st->ch[i];
		int rvalid = c->has_r && !c->r_bad;
		struct fkey ck, rk;
		uint8_t enc[8];

		key_sha(&ck, KEY_CHUNK, c->sha);
		key_sha(&rk, KEY_REF, c->sha);
		if (c->refs == 0) {
			if (c->has_c)
				sink_del(s, PH_LATE, &ck);
			if (c->has_r)
				sink_del(s, PH_LATE, &rk);
			continue;
		}
		if (c->data)
			sink_put(s, PH_EARLY, &ck, c->data, c->clen);
		if (rvalid && c->r == c->refs)
			continue;
		put_be64(enc, c->refs);
		sink_put(s, rvalid && c->r > c->refs ? PH_LATE : PH_EARLY, &rk, enc, sizeof(enc));
	}
}

/* Deletes every X key of an inode (they are not kept in memory). */
static void emit_xattr_dels(struct sink *s, uint64_t ino)
{
	struct fkey pfx;
	lsm_iter *it = lsm_iter_new(s->st->db, NULL);

	if (!it) {
		s->rc = -ENOMEM;
		return;
	}
	key_ino(&pfx, KEY_XATTR, ino);
	for (lsm_iter_seek(it, pfx.b, pfx.len); lsm_iter_valid(it); lsm_iter_next(it)) {
		size_t klen;
		const void *k = lsm_iter_key(it, &klen);

		if (klen < pfx.len || memcmp(k, pfx.b, pfx.len) != 0)
			break;
		sink_op(s, PH_LATE, k, klen, NULL, 0, 1);
	}
	if (!s->rc && lsm_iter_status(it))
		s->rc = lsm_iter_status(it);
	lsm_iter_free(it);
}

static int same_value(const uint8_t *x, size_t xlen, const uint8_t *y, size_t ylen)
{
	return xlen == ylen && memcmp(x, y, xlen) == 0;
}

static void emit_inode(struct sink *s, struct ck_ino *ci)
{
	uint8_t was[INODE_LEN], now[INODE_LEN], mid[INODE_LEN];
	size_t wlen, nlen, mlen;
	struct lsmfs_attr m;
	struct fkey k;

	if (ci->state != ST_LIVE) {
		if (ci->xkeys)
			emit_xattr_dels(s, ci->ino);
		if (ci->has_l) {
			key_ino(&k, KEY_LINK, ci->ino);
			sink_del(s, PH_LATE, &k);
		}
		if (ci->orphan) {
			key_ino(&k, KEY_ORPHAN, ci->ino);
			sink_del(s, PH_LATE, &k);
		}
		key_ino(&k, KEY_INODE, ci->ino);
		sink_del(s, PH_LATE, &k);
		return;
	}
	if (ci->drop_o) {
		key_ino(&k, KEY_ORPHAN, ci->ino);
		sink_del(s, PH_MID, &k);
	}
	if (ci->is_new && ci->dent != NONE && s->st->de[ci->dent].act == D_NEW)
		return; /* /lost+found: written with its entry (emit_dents) */
	key_ino(&k, KEY_INODE, ci->ino);
	wlen = inode_encode(was, &ci->was);
	nlen = inode_encode(now, &ci->a);
	if (!ci->is_new && !ci->force && same_value(was, wlen, now, nlen))
		return;
	if (ci->is_new || ci->force || s->phase == PH_ALL) {
		sink_put(s, PH_EARLY, &k, now, nlen);
		return;
	}
	/* Across batches: counts go up early and down late, the rest changes early. */
	m = ci->a;
	m.nlink = ci->a.nlink > ci->was.nlink ? ci->a.nlink : ci->was.nlink;
	m.chunks = ci->a.chunks > ci->was.chunks ? ci->a.chunks : ci->was.chunks;
	if (!ci->a.stored_old && !ci->was.stored_old && ci->was.stored > ci->a.stored)
		m.stored = ci->was.stored;
	mlen = inode_encode(mid, &m);
	if (!same_value(mid, mlen, was, wlen))
		sink_put(s, PH_EARLY, &k, mid, mlen);
	if (!same_value(mid, mlen, now, nlen))
		sink_put(s, PH_LATE, &k, now, nlen);
}

/*
 * A moved entry goes in one group with the deletion of its old key, and a
 * new directory (/lost+found) in one group with its entry, so that no crash
 * between two batches loses the one or leaves the other unreachable.
 */
static void emit_dents(struct sink *s)
{
	struct ck *st = s->st;
	struct fkey k;
	uint8_t v[DENT_VAL_LEN], iv[INODE_LEN];

	for (size_t i = 0; i < st->nde; i++) {
		struct ck_dent *d = &st->de[i];
		struct ck_ino *c = ck_ino_find(st, d->child);

		if (d->act == D_KEEP && !d->rekey && !d->retype)
			continue;
		s->grouped = 1;
		if (i < st->nsorted && (d->act == D_DROP || d->rekey)) {
			key_dent(&k, d->parent, d->nhash, st->pool + d->name, d->nlen);
			sink_del(s, PH_MID, &k);
		}
		if (d->act != D_DROP) {
			if (d->act == D_NEW && c->is_new) {
				key_ino(&k, KEY_INODE, c->ino);
				sink_put(s, PH_MID, &k, iv, inode_encode(iv, &c->a));
			}
			key_dent(&k, d->parent, d->rekey ? d->newhash : d->nhash,
				 st->pool + d->name, d->nlen);
			put_be64(v, d->child);
			v[8] = (uint8_t)IFTODT(c->a.mode);
			sink_put(s, PH_MID, &k, v, sizeof(v));
		}
		s->grouped = 0;
	}
}

static void emit_all(struct sink *s)
{
	struct ck *st = s->st;
	struct fkey k;

	if (st->sb_dirty) {
		uint8_t v[SB_LEN];

		super_encode(v, &st->sb);
		k.b[0] = KEY_SUPER;
		k.len = 1;
		sink_put(s, PH_EARLY, &k, v, sizeof(v));
	}
	emit_chunks(s);
	for (size_t i = 0; i < st->nin; i++)
		emit_inode(s, &st->in[i]);
	emit_dents(s);
	for (size_t i = 0; i < st->nf; i++) {
		struct ck_fref *f = &st->f[i];
		uint8_t v[FREF_MAX_LEN];
		struct fref r;

		key_fchunk(&k, f->ino, f->idx);
		if (f->act == F_DROP) {
			sink_del(s, PH_MID, &k);
		} else if (f->act == F_PUT) {
			ck_fref_to(st, f, &r);
			/* Only a trim rewrites an inline chunk, and it keeps the new bytes. */
			if (!r.inl || f->idata)
				sink_put(s, PH_MID, &k, v, fref_encode(v, &r, f->idata));
		}
		/* Patches go with their reference, or alone when dropped. */
		for (uint32_t n = 0; n < f->npatch && (f->act == F_DROP || f->pdrop); n++) {
			key_patch(&k, f->ino, f->idx, n);
			sink_del(s, PH_MID, &k);
		}
	}
	for (size_t i = 0; i < st->ndel; i++)
		sink_op(s, PH_MID, st->del[i].k, st->del[i].len, NULL, 0, 1);
	if (st->icount_set) {
		uint8_t v[8];

		/* Last, once the inodes it counts are settled; one shard holds it all. */
		for (unsigned n = 1; n < ICOUNT_SHARDS; n++)
			if (st->icount_shards & (1u << n)) {
				key_count(&k, n);
				sink_del(s, PH_LATE, &k);
			}
		key_count(&k, 0);
		put_be64(v, st->icount_after);
		sink_put(s, PH_LATE, &k, v, sizeof(v));
	}
}

/* Writes the repairs; 0 or the error that stopped it (res->fixed stays 0 then). */
int fsck_write_repairs(struct ck *st, const char **msgp, char *msg)
{
	struct sink s = {.st = st, .phase = PH_ALL, .dry = 1};
	size_t max = st->o->batch_max ? st->o->batch_max : BATCH_MAX_DEFAULT;
	char why[MSG_LEN / 2];

	emit_all(&s);
	if (s.rc)
		goto fail;
	if (s.ops == 0)
		return 0;
	s.total = s.ops;
	s.max = max;
	s.b = lsm_batch_new();
	if (!s.b) {
		s.rc = -ENOMEM;
		goto fail;
	}
	s.dry = 0;
	s.ops = 0;
	ck_progress(st, 5, "writing repairs", 0, s.total);
	if (s.bytes <= max) {
		emit_all(&s);
		flush(&s);
	} else {
		for (s.phase = PH_EARLY; s.phase <= PH_LATE && !s.rc; s.phase++) {
			emit_all(&s);
			flush(&s);
		}
	}
	lsm_batch_free(s.b);
	if (s.rc)
		goto fail;
	ck_progress(st, 5, "writing repairs", s.total, s.total);
	st->res->modified = 1;
	st->res->fixed = st->res->errors - st->res->unfixable;
	return 0;
fail:
	if (s.rc == -ENOMEM)
		snprintf(why, sizeof(why), "out of memory");
	else
		snprintf(why, sizeof(why), "%s: %s", lsm_strerror(s.rc), lsm_errmsg());
	snprintf(msg, MSG_LEN, "writing the repairs failed after %" PRIu64 " batch%s (%s); %s",
		 s.batches, s.batches == 1 ? "" : "es", why,
		 s.batches ? "run the check again to finish them" : "nothing was changed");
	*msgp = msg;
	st->res->finished = 0;
	st->res->modified = s.batches > 0;
	return s.rc < 0 && -s.rc < LSM_ECORRUPT ? s.rc : -EIO;
}
