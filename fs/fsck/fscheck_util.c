/*
 * fscheck_util.c — the helpers every pass of lsmfs_check uses: growing the
 * picture's arrays, reports and progress, names and keys made printable
 * for messages, and lookups in the picture (inodes, chunks, entries by key,
 * where an inode is).
 */
#include "fscheck_impl.h"

/* ---- small helpers ---- */

/* Doubles the capacity of the array *arrp (of elements of size bytes); 0 when out of memory. */
int ck_grow(struct ck *st, void *arrp, size_t *cap, size_t size)
{
	size_t nc = *cap ? *cap * 2 : 64;
	void *arr, *p;

	memcpy(&arr, arrp, sizeof(arr));
	p = realloc(arr, nc * size);
	if (!p) {
		st->err = -ENOMEM;
		return 0;
	}
	memcpy(arrp, &p, sizeof(p));
	*cap = nc;
	return 1;
}

static const char *say_buf(char *buf, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
static const char *say_buf(char *buf, const char *fmt, va_list ap)
{
	vsnprintf(buf, MSG_LEN, fmt, ap);
	return buf;
}

/* Formats the repair question of the next report. */
const char *ck_fixf(struct ck *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say_buf(st->fix, fmt, ap);
	va_end(ap);
	return st->fix;
}

void ck_report(struct ck *st, int code, int kind, uint64_t ino, const char *fix, const char *fmt,
	       ...)
{
	lsmfs_check_report r = {.code = code, .kind = kind, .ino = ino, .fix = fix};
	va_list ap;

	va_start(ap, fmt);
	r.what = say_buf(st->what, fmt, ap);
	va_end(ap);
	if (kind == LSMFS_CK_PROBLEM) {
		st->res->errors++;
		st->res->count[code]++;
		if (!fix)
			st->res->unfixable++;
	} else if (kind == LSMFS_CK_NOTE) {
		st->res->notes++;
		st->res->count[code]++;
	} else {
		st->res->lost++;
	}
	if (st->o->report)
		st->o->report(st->o->arg, &r);
}

void ck_progress(struct ck *st, int phase, const char *what, uint64_t done, uint64_t total)
{
	if (st->o->progress)
		st->o->progress(st->o->arg, phase, NPHASES, what, done, total);
}

/* Calls progress every PROGRESS_STEP items of a pass. */
void ck_tick(struct ck *st, int phase, const char *what, uint64_t i, uint64_t total)
{
	if (i % PROGRESS_STEP == 0)
		ck_progress(st, phase, what, i, total);
}

/* The first bytes of a digest in hex, enough to name a chunk. */
const char *ck_sha_hex(const uint8_t *sha, char out[17])
{
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", sha[i]);
	return out;
}

/* A key for a message: its tag if printable, then up to 16 bytes in hex. */
const char *ck_key_text(const uint8_t *k, size_t len, char out[64])
{
	size_t n = 0;

	if (len && k[0] >= 0x21 && k[0] < 0x7f)
		n += (size_t)snprintf(out, 64, "'%c' ", k[0]);
	for (size_t i = n ? 1 : 0; i < len && i < 17; i++)
		n += (size_t)snprintf(out + n, 64 - n, "%02x", k[i]);
	if (len > 17)
		snprintf(out + n, 64 - n, "...");
	return out;
}

/* A name made safe to print into out (4 bytes per byte at most). */
static const char *escape_name(char *out, const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f || c == '\\')
			n += (size_t)sprintf(out + n, "\\x%02x", c);
		else
			out[n++] = (char)c;
	}
	out[n] = '\0';
	return out;
}

static const char *name_text(struct ck *st, int slot, const char *s, size_t len)
{
	return escape_name(st->name[slot], s, len);
}

const char *ck_dent_name(struct ck *st, int slot, const struct ck_dent *d)
{
	return name_text(st, slot, st->pool + d->name, d->nlen);
}

const char *ck_type_name(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "file";
	case S_IFDIR:
		return "directory";
	case S_IFLNK:
		return "symlink";
	case S_IFCHR:
		return "character device";
	case S_IFBLK:
		return "block device";
	case S_IFIFO:
		return "fifo";
	case S_IFSOCK:
		return "socket";
	}
	return "inode of no known type";
}

int ck_known_type(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
	case S_IFDIR:
	case S_IFLNK:
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		return 1;
	}
	return 0;
}

/* ---- lookups ---- */

struct ck_ino *ck_ino_find(struct ck *st, uint64_t ino)
{
	size_t lo = 0, hi = st->nin;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (st->in[mid].ino < ino)
			lo = mid + 1;
		else if (st->in[mid].ino > ino)
			hi = mid;
		else
			return &st->in[mid];
	}
	return NULL;
}

struct ck_fref *ck_fref_find(struct ck *st, uint64_t ino, uint64_t idx)
{
	size_t lo = 0, hi = st->nf;

	/* The scan pushed F keys in key order: by inode, then index. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct ck_fref *f = &st->f[mid];

		if (f->ino < ino || (f->ino == ino && f->idx < idx))
			lo = mid + 1;
		else if (f->ino > ino || f->idx > idx)
			hi = mid;
		else
			return &st->f[mid];
	}
	return NULL;
}

void ck_fref_to(const struct ck *st, const struct ck_fref *f, struct fref *r)
{
	memcpy(r->sha, f->sha, SHA_LEN);
	if (f->len == 0)
		memset(r->sha, 0, SHA_LEN); /* no base: the digest field is unused */
	r->len = f->len;
	r->nsum = 0; /* a reference the repair writes carries no block checksums */
	r->inl = f->inl;
	r->npatch = f->pdrop || !f->pset ? 0 : f->npatch;
	if (r->npatch)
		memcpy(r->patch, st->ps[f->pset - 1].p, sizeof(r->patch));
}

uint32_t ck_sums_sig(const uint32_t *sum, uint32_t n)
{
	return block_sum(sum, n * sizeof(*sum));
}

uint64_t ck_fref_stored(const struct ck *st, const struct ck_fref *f)
{
	struct fref r;

	ck_fref_to(st, f, &r);
	return fref_stored(&r);
}

int ck_chunk_cmp(const void *a, const void *b)
{
	return memcmp(((const struct ck_chunk *)a)->sha, ((const struct ck_chunk *)b)->sha,
		      SHA_LEN);
}

struct ck_chunk *ck_chunk_find(struct ck *st, const uint8_t *sha)
{
	size_t lo = 0, hi = st->nch;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(st->ch[mid].sha, sha, SHA_LEN);

		if (c < 0)
			lo = mid + 1;
		else if (c > 0)
			hi = mid;
		else
			return &st->ch[mid];
	}
	return NULL;
}

/* Orders entries as their keys do: parent, hash, then name bytes (shorter first on a tie). */
static int dent_key_cmp(const struct ck *st, const struct ck_dent *d, uint64_t parent,
			uint64_t nhash, const char *name, size_t nlen)
{
	size_t n = d->nlen < nlen ? d->nlen : nlen;
	int c;

	if (d->parent != parent)
		return d->parent < parent ? -1 : 1;
	if (d->nhash != nhash)
		return d->nhash < nhash ? -1 : 1;
	c = memcmp(st->pool + d->name, name, n);
	if (c)
		return c;
	return d->nlen < nlen ? -1 : d->nlen > nlen;
}

/* The stored entry with exactly this key, or NONE. */
size_t ck_dent_lookup(const struct ck *st, uint64_t parent, uint64_t nhash, const char *name,
		      size_t nlen)
{
	size_t lo = 0, hi = st->nsorted;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = dent_key_cmp(st, &st->de[mid], parent, nhash, name, nlen);

		if (c < 0)
			lo = mid + 1;
		else if (c > 0)
			hi = mid;
		else
			return mid;
	}
	return NONE;
}

/* The first stored entry of directory parent (entries of one directory are contiguous). */
size_t ck_dent_first(const struct ck *st, uint64_t parent)
{
	size_t lo = 0, hi = st->nsorted;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (st->de[mid].parent < parent)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Whether directory parent keeps a stored entry called name. Names the
 * repair adds ("#ino") cannot collide with each other: each has its own ino.
 */
int ck_dent_name_taken(const struct ck *st, uint64_t parent, const char *name, size_t nlen)
{
	size_t i = ck_dent_lookup(st, parent, name_hash(st->sb.uuid, name, nlen), name, nlen);

	return i != NONE && st->de[i].act != D_DROP;
}

/* Copies a name into the pool; its offset, or NONE when out of memory. */
size_t ck_pool_add(struct ck *st, const void *name, size_t len)
{
	size_t off;

	while (st->npool + len > st->cappool)
		if (!ck_grow(st, &st->pool, &st->cappool, 1))
			return NONE;
	off = st->npool;
	memcpy(st->pool + off, name, len);
	st->npool += len;
	return off;
}

/*
 * Where an inode is, for messages: "/a/b (inode 12)" when its entries lead
 * to the root, "<inode 7>/b (inode 12)" when they stop at an inode with no
 * entry, "inode 12" when it has no entry at all.
 */
const char *ck_where(struct ck *st, uint64_t ino, int slot)
{
	char *buf = st->path[slot];
	char tail[48];
	size_t pos = PATH_LEN - 1, tl;
	uint64_t cur = ino;
	uint32_t gen = ++st->pathgen;

	if (ino == LSMFS_ROOT_INO)
		return "/ (inode 1)";
	tl = (size_t)snprintf(tail, sizeof(tail), " (inode %" PRIu64 ")", ino);
	pos -= tl;
	memcpy(buf + pos, tail, tl + 1);
	while (cur != LSMFS_ROOT_INO) {
		struct ck_ino *ci = ck_ino_find(st, cur);
		const struct ck_dent *d;
		const char *nm;
		size_t nl;

		if (!ci || ci->dent == NONE || ci->seen == gen) {
			char top[48];
			size_t n;

			if (cur == ino && !(ci && ci->seen == gen)) {
				snprintf(buf, PATH_LEN, "inode %" PRIu64, ino);
				return buf;
			}
			n = (size_t)snprintf(top, sizeof(top), "<%sinode %" PRIu64 ">",
					     ci && ci->seen == gen ? "cycle at " : "", cur);
			if (n <= pos) {
				pos -= n;
				memcpy(buf + pos, top, n);
			}
			return buf + pos;
		}
		ci->seen = gen;
		d = &st->de[ci->dent];
		nm = escape_name(st->wname, st->pool + d->name, d->nlen);
		nl = strlen(nm);
		if (nl + 1 + 3 > pos) {
			pos -= 3;
			memcpy(buf + pos, "...", 3);
			return buf + pos;
		}
		pos -= nl;
		memcpy(buf + pos, nm, nl);
		buf[--pos] = '/';
		cur = d->parent;
	}
	return buf + pos;
}

/* Records a raw key for deletion. */
void ck_del_key(struct ck *st, const uint8_t *k, size_t len)
{
	struct ck_key *dk = PUSH(st, st->del, st->ndel, st->capdel);

	if (!dk)
		return;
	dk->k = malloc(len);
	if (!dk->k) {
		st->err = -ENOMEM;
		st->ndel--;
		return;
	}
	memcpy(dk->k, k, len);
	dk->len = len;
}

void ck_add_stray(struct ck *st, uint64_t ino, char tag)
{
	struct ck_stray *s = PUSH(st, st->stray, st->nstray, st->capstray);

	if (s) {
		s->ino = ino;
		s->tag = tag;
	}
}
