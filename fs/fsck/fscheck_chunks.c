/*
 * fscheck_chunks.c — the passes of lsmfs_check over file data: chunks
 * (hash, reference count), the chunk references of each file, and at the
 * end the counts that change only because of an earlier repair.
 */
#include "fscheck_impl.h"

/* ---- chunks ---- */

void fsck_check_chunks(struct ck *st)
{
	for (size_t i = 0; i < st->nch; i++) {
		struct ck_chunk *c = &st->ch[i];
		char hx[17], rtxt[32];

		ck_tick(st, 4, "checking chunks", i, st->nch + st->nf);
		ck_sha_hex(c->sha, hx);
		if (c->has_r && !c->r_bad)
			snprintf(rtxt, sizeof(rtxt), "reference count %" PRIu64, c->r);
		else
			snprintf(rtxt, sizeof(rtxt), "%s",
				 c->has_r ? "a malformed reference count" : "no reference count");
		if (c->has_c && (c->c_bad || c->clen == 0 || c->clen > st->cs)) {
			ck_report(st, LSMFS_CK_CHUNK_DIGEST, LSMFS_CK_PROBLEM, 0,
				  "Free it; the ranges that name it read as zeros",
				  "chunk %s (%" PRIu32 " bytes, %" PRIu64 " reference%s) %s", hx,
				  c->clen, c->raw, c->raw == 1 ? "" : "s",
				  c->c_lost	 ? "cannot be read (its value file is damaged)"
				  : c->c_bad	 ? "does not match its SHA-256"
				  : c->clen == 0 ? "is empty"
						 : "is longer than the chunk size");
			c->c_bad = 1;
		} else if (c->raw == 0 && c->has_c) {
			ck_report(st, LSMFS_CK_LEAK, LSMFS_CK_PROBLEM, 0, "Free it",
				  "chunk %s (%" PRIu32
				  " bytes, %s) is stored, but no file names it",
				  hx, c->clen, rtxt);
		} else if (c->raw == 0) {
			ck_report(st, LSMFS_CK_LEAK, LSMFS_CK_PROBLEM, 0, "Remove it",
				  "chunk %s is neither stored nor named, but has %s", hx, rtxt);
		} else if (c->has_c && (!c->has_r || c->r_bad || c->r != c->raw)) {
			ck_report(st, LSMFS_CK_REFCOUNT, LSMFS_CK_PROBLEM, 0,
				  ck_fixf(st, "Set it to %" PRIu64, c->raw),
				  "chunk %s has %s, but %" PRIu64 " reference%s name%s it", hx,
				  rtxt, c->raw, c->raw == 1 ? "" : "s", c->raw == 1 ? "s" : "");
		}
	}
}

/* Adds a chunk the repair stores (len bytes of data, copied); 0 or -ENOMEM. */
static int chunk_new(struct ck *st, const uint8_t *sha, const uint8_t *data, uint32_t len)
{
	struct ck_chunk *c = ck_chunk_find(st, sha);

	if (c && c->has_c && !c->c_bad)
		return 0;
	if (!c) {
		c = PUSH(st, st->ch, st->nch, st->capch);
		if (!c)
			return -ENOMEM;
		memcpy(c->sha, sha, SHA_LEN);
	}
	if (!c->data) {
		c->data = malloc(len);
		if (!c->data)
			return st->err = -ENOMEM;
		memcpy(c->data, data, len);
		c->clen = len;
	}
	qsort(st->ch, st->nch, sizeof(*st->ch), ck_chunk_cmp);
	return 0;
}

/* f loses its base chunk: it stays for its patches if they are kept, else it goes. */
static void drop_base(struct ck_fref *f)
{
	if (f->npatch && !f->pdrop) {
		f->len = 0;
		f->act = F_PUT;
	} else {
		f->act = F_DROP;
	}
}

/*
 * A stored chunk must hold no byte at or past the file size. The bytes
 * within the size stay: the chunk is read, cut at the size (and its
 * trailing zeros, as chunk_store does), and stored under its new digest.
 */
static void trim_chunk(struct ck *st, struct ck_fref *f, uint64_t keep)
{
	struct fkey k;
	uint8_t *v = NULL;
	void *vp = NULL;
	size_t vlen = 0;
	int rc;

	key_sha(&k, KEY_CHUNK, f->sha);
	rc = lsm_get(st->db, NULL, k.b, k.len, &vp, &vlen);
	v = vp;
	if (rc) {
		st->err = rc < 0 ? lsmfs_errno(rc) : -EIO;
		goto out;
	}
	if (keep > vlen)
		keep = vlen;
	while (keep && v[keep - 1] == 0)
		keep--;
	if (keep == 0) {
		drop_base(f);
		goto out;
	}
	chunk_sha(v, keep, f->sha);
	f->len = (uint32_t)keep;
	f->act = F_PUT;
	chunk_new(st, f->sha, v, (uint32_t)keep);
out:
	free(v);
}

/* trim_chunk for an inline chunk: its bytes are in its own reference. */
static void trim_inline(struct ck *st, struct ck_fref *f, uint64_t keep)
{
	struct fkey k;
	struct fref r;
	void *vp = NULL;
	const uint8_t *bytes;
	size_t vlen = 0;
	int rc;

	key_fchunk(&k, f->ino, f->idx);
	rc = lsm_get(st->db, NULL, k.b, k.len, &vp, &vlen);
	if (rc || fref_decode(&r, vp, vlen) || !r.inl) {
		st->err = rc < 0 ? lsmfs_errno(rc) : -EIO;
		goto out;
	}
	bytes = (const uint8_t *)vp + FREF_LEN;
	if (keep > r.len)
		keep = r.len;
	while (keep && bytes[keep - 1] == 0)
		keep--;
	if (keep == 0) {
		f->act = F_DROP;
		goto out;
	}
	f->idata = malloc(keep);
	if (!f->idata) {
		st->err = -ENOMEM;
		goto out;
	}
	memcpy(f->idata, bytes, keep);
	chunk_sha(bytes, keep, f->sha);
	f->len = (uint32_t)keep;
	f->act = F_PUT;
out:
	free(vp);
}

/* Reports the range of f that reads as zeros after the repair. */
static void lost_range(struct ck *st, const struct ck_fref *f, int code, const char *why)
{
	uint64_t off = f->idx * st->cs;

	ck_report(st, code, LSMFS_CK_LOST, f->ino, NULL,
		  "%s: bytes %" PRIu64 "-%" PRIu64 " (chunk %" PRIu64 ") %s",
		  ck_where(st, f->ino, 0), off, off + (f->len ? f->len : st->cs) - 1, f->idx, why);
}

/*
 * The patches of f: each P key there with its listed length and readable,
 * inside the chunk and the file. Else they are dropped together (a later
 * patch may overlap an earlier one, so none is kept alone) and their bytes
 * read as the base chunk does.
 */
static void check_patches(struct ck *st, struct ck_fref *f, uint64_t size)
{
	const struct ck_pset *ps = &st->ps[f->pset - 1];
	uint64_t off = f->idx < UINT64_MAX / st->cs ? f->idx * st->cs : UINT64_MAX;
	const char *why = NULL;

	for (uint32_t n = 0; n < f->npatch && !why; n++) {
		const struct fpatch *p = &ps->p[n];

		if (p->off + p->len > st->cs)
			why = "a patch reaches past the chunk";
		else if (off >= size || p->off + p->len > size - off)
			why = "a patch holds bytes past the end of the file";
	}
	if (!why && f->pbad)
		why = "a patch cannot be read or has the wrong length";
	if (!why && f->pseen != (uint16_t)((1u << f->npatch) - 1))
		why = "a patch it lists is not stored";
	if (!why)
		return;
	ck_report(st, LSMFS_CK_PATCH, LSMFS_CK_PROBLEM, f->ino,
		  "Drop the chunk's patches; their ranges read as the chunk without them",
		  "%s: chunk %" PRIu64 " (bytes from %" PRIu64 ") has %u patch%s, but %s",
		  ck_where(st, f->ino, 0), f->idx, f->idx * st->cs, f->npatch,
		  f->npatch == 1 ? "" : "es", why);
	{
		uint64_t lo = UINT64_MAX, hi = 0;

		for (uint32_t n = 0; n < f->npatch; n++) {
			uint64_t e = (uint64_t)ps->p[n].off + ps->p[n].len;

			lo = ps->p[n].off < lo ? ps->p[n].off : lo;
			hi = e > hi ? e : hi;
		}
		hi = hi < st->cs ? hi : st->cs;
		lo = lo < hi ? lo : 0;
		ck_report(st, LSMFS_CK_PATCH, LSMFS_CK_LOST, f->ino, NULL,
			  "%s: what was written to bytes %" PRIu64 "-%" PRIu64 " (chunk %" PRIu64
			  ") by its patches is lost",
			  ck_where(st, f->ino, 0), off + lo, off + hi - 1, f->idx);
	}
	st->res->lost++;
	f->pdrop = 1;
	f->act = f->len ? F_PUT : F_DROP;
}

static void check_one_fref(struct ck *st, struct ck_fref *f, struct ck_ino *ci)
{
	uint64_t size = ci->a.size, off;
	struct ck_chunk *c;
	char hx[17];

	if (f->bad || f->len > st->cs) {
		ck_report(st, LSMFS_CK_FREF, LSMFS_CK_PROBLEM, f->ino,
			  "Remove it; the chunk reads as zeros",
			  "%s: the reference of chunk %" PRIu64 " (bytes from %" PRIu64
			  ") is malformed",
			  ck_where(st, f->ino, 0), f->idx, f->idx * st->cs);
		f->act = F_DROP;
		st->res->lost++;
		return;
	}
	if (f->inl && f->ibad) {
		ck_report(st, LSMFS_CK_CHUNK_DIGEST, LSMFS_CK_PROBLEM, f->ino,
			  "Remove the reference; the range reads as zeros",
			  "%s: bytes %" PRIu64 "-%" PRIu64 " (chunk %" PRIu64
			  ", kept in its reference) do not match their SHA-256",
			  ck_where(st, f->ino, 0), f->idx * st->cs, f->idx * st->cs + f->len - 1,
			  f->idx);
		f->act = F_DROP;
		st->res->lost++;
		return;
	}
	if (f->npatch)
		check_patches(st, f, size);
	if (!f->len)
		return; /* patches only: no chunk to check */
	off = f->idx < UINT64_MAX / st->cs ? f->idx * st->cs : UINT64_MAX;
	if (f->inl && off >= size) {
		ck_report(st, LSMFS_CK_PAST_EOF, LSMFS_CK_PROBLEM, f->ino, "Remove it",
			  "%s: chunk %" PRIu64 " lies past the end of the file (%" PRIu64 " bytes)",
			  ck_where(st, f->ino, 0), f->idx, size);
		f->act = F_DROP;
		return;
	}
	if (f->inl) {
		if (off + f->len > size) {
			ck_report(st, LSMFS_CK_PAST_EOF, LSMFS_CK_PROBLEM, f->ino,
				  "Cut it at the end",
				  "%s: chunk %" PRIu64 " holds %" PRIu64
				  " bytes past the end of the file (%" PRIu64 " bytes)",
				  ck_where(st, f->ino, 0), f->idx, off + f->len - size, size);
			trim_inline(st, f, size - off);
		}
		return; /* no C or R key to check */
	}
	c = ck_chunk_find(st, f->sha);
	if (!c || !c->has_c) {
		ck_report(st, LSMFS_CK_CHUNK_MISSING, LSMFS_CK_PROBLEM, f->ino,
			  "Remove the reference; the range reads as zeros",
			  "%s: bytes %" PRIu64 "-%" PRIu64 " are in chunk %s, which is not stored",
			  ck_where(st, f->ino, 0), f->idx * st->cs, f->idx * st->cs + f->len - 1,
			  ck_sha_hex(f->sha, hx));
		drop_base(f);
		st->res->lost++;
		return;
	}
	if (c->c_bad) {
		lost_range(st, f, LSMFS_CK_CHUNK_DIGEST, "are in the damaged chunk: they are lost");
		drop_base(f);
		return;
	}
	if (f->len != c->clen) {
		ck_report(st, LSMFS_CK_CHUNK_LEN, LSMFS_CK_PROBLEM, f->ino,
			  ck_fixf(st, "Set it to %" PRIu32, c->clen),
			  "%s: chunk %" PRIu64 " is referenced with %" PRIu32
			  " bytes, but holds %" PRIu32,
			  ck_where(st, f->ino, 0), f->idx, f->len, c->clen);
		f->len = c->clen;
		f->act = F_PUT;
	} else if (f->nsum &&
		   (f->nsum != fref_nsum((uint32_t)st->cs, f->len) ||
		    st->sum_unit != fref_sum_unit((uint32_t)st->cs) || f->sumsig != c->sumsig)) {
		ck_report(st, LSMFS_CK_SUMS, LSMFS_CK_PROBLEM, f->ino,
			  "Remove them; reads of the chunk check its SHA-256",
			  "%s: the block checksums of chunk %" PRIu64 " disagree with its bytes",
			  ck_where(st, f->ino, 0), f->idx);
		f->act = F_PUT; /* a rewritten reference carries no block checksums */
	}
	off = f->idx < UINT64_MAX / st->cs ? f->idx * st->cs : UINT64_MAX;
	if (off >= size) {
		ck_report(st, LSMFS_CK_PAST_EOF, LSMFS_CK_PROBLEM, f->ino, "Remove it",
			  "%s: chunk %" PRIu64 " lies past the end of the file (%" PRIu64 " bytes)",
			  ck_where(st, f->ino, 0), f->idx, size);
		f->act = F_DROP;
	} else if (off + f->len > size) {
		ck_report(st, LSMFS_CK_PAST_EOF, LSMFS_CK_PROBLEM, f->ino, "Cut it at the end",
			  "%s: chunk %" PRIu64 " holds %" PRIu64
			  " bytes past the end of the file (%" PRIu64 " bytes)",
			  ck_where(st, f->ino, 0), f->idx, off + f->len - size, size);
		trim_chunk(st, f, size - off);
	}
}

void fsck_check_frefs(struct ck *st)
{
	for (size_t i = 0; i < st->nf && !st->err; i++) {
		struct ck_fref *f = &st->f[i];
		struct ck_ino *ci = ck_ino_find(st, f->ino);

		ck_tick(st, 4, "checking chunks", st->nch + i, st->nch + st->nf);
		if (f->act == F_DROP)
			continue; /* a stray, reported already */
		if (!ci || ci->state != ST_LIVE) {
			f->act = F_DROP; /* goes with its cleared or removed inode */
			continue;
		}
		check_one_fref(st, f, ci);
		if (f->act != F_DROP) {
			ci->fkeep++;
			/* as kept: a trimmed chunk is shorter, dropped patches hold nothing */
			ci->skeep += ck_fref_stored(st, f);
		}
	}
	for (size_t i = 0; i < st->nin; i++) {
		struct ck_ino *ci = &st->in[i];
		int reg = S_ISREG(ci->a.mode);
		uint64_t found = reg ? ci->rawf : 0, sfound = reg ? ci->rawstored : 0;

		if (ci->state != ST_LIVE || ci->is_new || ci->force)
			continue;
		if (ci->a.chunks != found)
			ck_report(st, LSMFS_CK_CHUNK_COUNT, LSMFS_CK_PROBLEM, ci->ino,
				  ck_fixf(st, "Set it to %" PRIu64, found),
				  "%s has chunk count %" PRIu64 ", but %" PRIu64
				  " chunk reference%s",
				  ck_where(st, ci->ino, 0), ci->a.chunks, found,
				  found == 1 ? "" : "s");
		/*
		 * An older build's inode has no figure to be wrong; a malformed
		 * reference is a problem of its own, and the figure follows
		 * from its removal.
		 */
		if (ci->a.stored_old)
			st->res->old_inodes++;
		else if (!ci->fbad && ci->a.stored != sfound)
			ck_report(st, LSMFS_CK_STORED, LSMFS_CK_PROBLEM, ci->ino,
				  ck_fixf(st, "Set it to %" PRIu64, sfound),
				  "%s has %" PRIu64 " stored bytes, but its chunk references "
				  "hold %" PRIu64,
				  ck_where(st, ci->ino, 0), ci->a.stored, sfound);
		ci->a.chunks = reg ? ci->fkeep : 0;
		/* A repair writes the figure, also into an older build's inode. */
		ci->a.stored = reg ? ci->skeep : 0;
		ci->a.stored_old = 0;
	}
}

/* ---- the counts the repairs change ---- */

void fsck_final_counts(struct ck *st)
{
	fsck_count_links(st);
	for (size_t i = 0; i < st->nin; i++) {
		struct ck_ino *ci = &st->in[i];

		if (ci->state != ST_LIVE || ci->pending || !ci->reached)
			continue;
		ci->a.nlink = S_ISDIR(ci->a.mode) ? 2 + ci->subdirs : ci->links;
	}
	for (size_t i = 0; i < st->nch; i++)
		st->ch[i].refs = 0;
	for (size_t i = 0; i < st->nf; i++) {
		struct ck_chunk *c;

		if (st->f[i].act == F_DROP || !st->f[i].len || st->f[i].inl)
			continue;
		c = ck_chunk_find(st, st->f[i].sha);
		if (c)
			c->refs++;
	}
}
