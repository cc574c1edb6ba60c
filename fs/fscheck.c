/*
 * fscheck.c — lsmfs_check: the offline check and repair of a data directory
 * (fsck.lsmfs). The rules it checks are those of fs/keys.h; fscheck.h says
 * what each report code means and how repairs are written.
 *
 * How it works. One iterator reads every key into memory (inodes, entries,
 * chunk references; chunk bytes are hashed as they pass and not kept). The
 * passes below then look at that picture in an order where each one can
 * rely on the decisions of the ones before it:
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
 * whole picture is settled; emit() then turns it into batches.
 */
#include "fscheck.h"

#include "fs_impl.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define NONE		  SIZE_MAX
#define NPHASES		  5
#define BATCH_MAX_DEFAULT ((size_t)64 << 20)
#define MSG_LEN		  1024
#define PATH_LEN	  1024
#define PROGRESS_STEP	  4096u /* keys between two progress calls */

/* Inode states. */
enum {
	ST_LIVE,    /* stays */
	ST_DAMAGED, /* undecodable or of no known type: cleared with its keys */
	ST_REMOVE,  /* removed by a repair (finished orphan, symlink without target) */
};

struct ck_ino {
	uint64_t ino;
	struct lsmfs_attr a;   /* as the repair leaves it */
	struct lsmfs_attr was; /* as found */
	size_t dent;	       /* its entry (a directory's only one), NONE when none */
	size_t kdent;	       /* the entry check_entries keeps for it, while it runs */
	uint32_t links;	       /* entries naming it */
	uint32_t subdirs;      /* entries in it naming directories */
	uint64_t rawf;	       /* F keys naming it, as found */
	uint64_t fkeep;	       /* F keys the repair keeps */
	uint64_t xkeys;	       /* X keys */
	uint32_t llen;	       /* symlink target bytes */
	uint32_t vlen;	       /* bytes of the I value */
	uint32_t walk;	       /* generation of the last upward walk that passed here */
	uint32_t seen;	       /* generation of the last where() that passed here */
	uint8_t state, is_new, force, has_l, orphan, drop_o, pending, reached;
};

/* Entry actions. */
enum { D_KEEP, D_DROP, D_NEW };

struct ck_dent {
	uint64_t parent, child, nhash, newhash;
	size_t name; /* offset into the name pool */
	uint16_t nlen;
	uint8_t dtype, act, rekey, retype;
	const char *bad; /* why the entry is malformed, or NULL */
};

/* Chunk reference actions. */
enum { F_KEEP, F_DROP, F_PUT };

struct ck_fref {
	uint64_t ino, idx;
	uint8_t sha[SHA_LEN];
	uint32_t len;
	uint8_t act, bad;
};

struct ck_chunk {
	uint8_t sha[SHA_LEN];
	uint32_t clen;
	uint8_t has_c, c_bad, has_r, r_bad;
	uint64_t r;    /* R value as found */
	uint64_t raw;  /* F keys naming it, as found */
	uint64_t refs; /* F keys naming it after the repair */
	uint8_t *data; /* bytes the repair stores (a trimmed chunk), else NULL */
};

/* A key the repair deletes as it is (malformed, or a stray of a missing inode). */
struct ck_key {
	uint8_t *k;
	size_t len;
};

/* One stray key (F, X, L) of an inode, gathered to be reported per inode. */
struct ck_stray {
	uint64_t ino;
	char tag;
};

struct ck {
	lsm_db *db;
	const lsmfs_check_opts *o;
	lsmfs_check_result *res;
	int repair;
	int err; /* first -ENOMEM (or read error) of a pass */

	struct lsmfs_super sb;
	int have_sb, sb_rc, sb_dirty;
	uint64_t cs;

	struct ck_ino *in;
	size_t nin, capin;
	struct ck_dent *de;
	size_t nde, capde, nsorted; /* entries [0, nsorted) are in key order */
	char *pool;
	size_t npool, cappool;
	struct ck_fref *f;
	size_t nf, capf;
	struct ck_chunk *ch;
	size_t nch, capch;
	struct ck_chunk *ronly; /* R keys without a C key, merged into ch after the scan */
	size_t nronly, capronly;
	struct ck_key *del;
	size_t ndel, capdel;
	struct ck_stray *stray;
	size_t nstray, capstray;

	uint64_t lf;  /* /lost+found, once known */
	int lf_state; /* 0 not looked for, 1 usable, -1 unusable */
	int lf_made;  /* made by this repair */
	uint32_t walkgen, pathgen;

	char what[MSG_LEN], fix[MSG_LEN];
	char path[2][PATH_LEN];
	char wname[LSMFS_NAME_MAX * 4 + 1]; /* where()'s own */
	char name[2][LSMFS_NAME_MAX * 4 + 3];
};

/* ---- small helpers ---- */

/* Doubles the capacity of the array *arrp (of elements of size bytes); 0 when out of memory. */
static int grow(struct ck *st, void *arrp, size_t *cap, size_t size)
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

/* A pointer to a new zeroed element at the end of arr, or NULL (st->err set). */
#define PUSH(st, arr, n, cap)                                        \
	(((n) < (cap) || grow((st), &(arr), &(cap), sizeof(*(arr)))) \
		 ? memset(&(arr)[(n)++], 0, sizeof(*(arr)))          \
		 : NULL)

static const char *say_buf(char *buf, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
static const char *say_buf(char *buf, const char *fmt, va_list ap)
{
	vsnprintf(buf, MSG_LEN, fmt, ap);
	return buf;
}

/* Formats the repair question of the next report. */
static const char *fixf(struct ck *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *fixf(struct ck *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say_buf(st->fix, fmt, ap);
	va_end(ap);
	return st->fix;
}

static void report(struct ck *st, int code, int kind, uint64_t ino, const char *fix,
		   const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void report(struct ck *st, int code, int kind, uint64_t ino, const char *fix,
		   const char *fmt, ...)
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

static void progress(struct ck *st, int phase, const char *what, uint64_t done, uint64_t total)
{
	if (st->o->progress)
		st->o->progress(st->o->arg, phase, NPHASES, what, done, total);
}

/* Calls progress every PROGRESS_STEP items of a pass. */
static void tick(struct ck *st, int phase, const char *what, uint64_t i, uint64_t total)
{
	if (i % PROGRESS_STEP == 0)
		progress(st, phase, what, i, total);
}

/* The first bytes of a digest in hex, enough to name a chunk. */
static const char *sha_hex(const uint8_t *sha, char out[17])
{
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", sha[i]);
	return out;
}

/* A key for a message: its tag if printable, then up to 16 bytes in hex. */
static const char *key_text(const uint8_t *k, size_t len, char out[64])
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

static const char *dent_name(struct ck *st, int slot, const struct ck_dent *d)
{
	return name_text(st, slot, st->pool + d->name, d->nlen);
}

static const char *type_name(uint32_t mode)
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

static int known_type(uint32_t mode)
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

static struct ck_ino *ino_find(struct ck *st, uint64_t ino)
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

static int chunk_cmp(const void *a, const void *b)
{
	return memcmp(((const struct ck_chunk *)a)->sha, ((const struct ck_chunk *)b)->sha,
		      SHA_LEN);
}

static struct ck_chunk *chunk_find(struct ck *st, const uint8_t *sha)
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
static size_t dent_lookup(const struct ck *st, uint64_t parent, uint64_t nhash, const char *name,
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
static size_t dent_first(const struct ck *st, uint64_t parent)
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
static int dent_name_taken(const struct ck *st, uint64_t parent, const char *name, size_t nlen)
{
	size_t i = dent_lookup(st, parent, name_hash(st->sb.uuid, name, nlen), name, nlen);

	return i != NONE && st->de[i].act != D_DROP;
}

/* Copies a name into the pool; its offset, or NONE when out of memory. */
static size_t pool_add(struct ck *st, const void *name, size_t len)
{
	size_t off;

	while (st->npool + len > st->cappool)
		if (!grow(st, &st->pool, &st->cappool, 1))
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
static const char *where(struct ck *st, uint64_t ino, int slot)
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
		struct ck_ino *ci = ino_find(st, cur);
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
static void del_key(struct ck *st, const uint8_t *k, size_t len)
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

static void add_stray(struct ck *st, uint64_t ino, char tag)
{
	struct ck_stray *s = PUSH(st, st->stray, st->nstray, st->capstray);

	if (s) {
		s->ino = ino;
		s->tag = tag;
	}
}

/* ---- reading every key ---- */

static void bad_key(struct ck *st, const uint8_t *k, size_t klen, const char *why)
{
	char kt[64];

	report(st, LSMFS_CK_KEY, LSMFS_CK_PROBLEM, 0, "Remove it", "key %s (%zu bytes) %s",
	       key_text(k, klen, kt), klen, why);
	del_key(st, k, klen);
}

static void scan_inode(struct ck *st, const uint8_t *k, const uint8_t *v, size_t vlen)
{
	struct ck_ino *ci = PUSH(st, st->in, st->nin, st->capin);

	if (!ci)
		return;
	ci->ino = get_be64(k + 1);
	ci->dent = NONE;
	ci->vlen = (uint32_t)(vlen > UINT32_MAX ? UINT32_MAX : vlen);
	if (inode_decode(&ci->a, v, vlen) || !known_type(ci->a.mode))
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
	d->name = pool_add(st, name, nlen);
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
	st->res->chunks++;
	st->res->chunk_bytes += vlen;
}

static void scan_ref(struct ck *st, const uint8_t *k, const uint8_t *v, size_t vlen)
{
	struct ck_chunk *c = chunk_find(st, k + 1);

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
	struct ck_ino *ci = ino_find(st, ino);

	switch (k[0]) {
	case KEY_LINK:
		if (!ci) {
			add_stray(st, ino, KEY_LINK);
			del_key(st, k, klen);
		} else {
			ci->has_l = 1;
			ci->llen = (uint32_t)(vlen > UINT32_MAX ? UINT32_MAX : vlen);
		}
		break;
	case KEY_ORPHAN:
		if (!ci) {
			report(st, LSMFS_CK_ORPHAN, LSMFS_CK_PROBLEM, ino, "Remove it",
			       "orphan key of inode %" PRIu64 ", which does not exist", ino);
			del_key(st, k, klen);
		} else {
			ci->orphan = 1;
		}
		break;
	case KEY_XATTR:
		if (!ci) {
			add_stray(st, ino, KEY_XATTR);
			del_key(st, k, klen);
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
	default: /* L, O, X */
		scan_after_inode(st, k, klen, vlen);
		break;
	}
}

/* Reads every key; 0, or the engine's error (a key could not be read). */
static int scan(struct ck *st)
{
	lsm_read_options ro = {.fill_cache = 0};
	lsm_stats ls;
	uint64_t bytes = 0, total;
	lsm_iter *it;
	int rc;

	lsm_stats_get(st->db, &ls);
	total = ls.live_bytes + ls.memtable_bytes;
	progress(st, 2, "reading keys", 0, total);
	it = lsm_iter_new(st->db, &ro);
	if (!it)
		return -ENOMEM;
	for (lsm_iter_seek_first(it); lsm_iter_valid(it) && !st->err; lsm_iter_next(it)) {
		size_t klen, vlen;
		const uint8_t *k = lsm_iter_key(it, &klen);
		const uint8_t *v = lsm_iter_value(it, &vlen);

		scan_key(st, k, klen, v, vlen);
		bytes += klen + vlen;
		if (++st->res->keys % PROGRESS_STEP == 0)
			progress(st, 2, "reading keys", bytes < total ? bytes : total, total);
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
		qsort(st->ch, st->nch, sizeof(*st->ch), chunk_cmp);
	progress(st, 2, "reading keys", total, total);
	return st->err;
}

/* ---- superblock and inodes ---- */

/* 0 to go on; 1 when the filesystem level cannot be checked; negative: refuse. */
static int check_super(struct ck *st, const char *dir, const char **msgp, char *msg)
{
	if (!st->have_sb) {
		snprintf(msg, MSG_LEN, "%s holds a database but no lsmfs superblock", dir);
		*msgp = msg;
		return -EMEDIUMTYPE;
	}
	if (st->sb_rc == 0 && st->sb.version > LSMFS_FORMAT_VERSION) {
		snprintf(msg, MSG_LEN,
			 "%s uses lsmfs format version %" PRIu32 "; this build knows %d", dir,
			 st->sb.version, LSMFS_FORMAT_VERSION);
		*msgp = msg;
		return -EPROTONOSUPPORT;
	}
	if (st->sb_rc == 0 && (st->sb.incompat & ~SB_INCOMPAT_KNOWN)) {
		snprintf(msg, MSG_LEN, "%s uses features this build does not know (0x%" PRIx64 ")",
			 dir, st->sb.incompat & ~SB_INCOMPAT_KNOWN);
		*msgp = msg;
		return -EPROTONOSUPPORT;
	}
	if (st->sb_rc) {
		report(st, LSMFS_CK_SUPER, LSMFS_CK_PROBLEM, 0, NULL,
		       "the superblock is damaged (bad magic, version 0 or too short)");
		return 1;
	}
	if (st->sb.chunk_size < LSMFS_MIN_CHUNK || st->sb.chunk_size > LSMFS_MAX_CHUNK ||
	    (st->sb.chunk_size & (st->sb.chunk_size - 1))) {
		report(st, LSMFS_CK_SUPER, LSMFS_CK_PROBLEM, 0, NULL,
		       "the superblock's chunk size %" PRIu32
		       " is not a power of two from %u to %u",
		       st->sb.chunk_size, LSMFS_MIN_CHUNK, LSMFS_MAX_CHUNK);
		return 1;
	}
	st->cs = st->sb.chunk_size;
	return 0;
}

static void fresh_dir(struct lsmfs_attr *a, uint32_t perm, uint64_t parent)
{
	memset(a, 0, sizeof(*a));
	a->mode = S_IFDIR | perm;
	a->nlink = 2;
	a->generation = 1;
	a->parent = parent;
	a->atime = a->mtime = a->ctime = fs_now();
}

/* A new inode record (for ino greater than any, or the root); NULL when out of memory. */
static struct ck_ino *ino_insert(struct ck *st, uint64_t ino)
{
	size_t at = st->nin;
	struct ck_ino *ci;

	if (!PUSH(st, st->in, st->nin, st->capin))
		return NULL;
	while (at > 0 && st->in[at - 1].ino > ino)
		at--;
	memmove(&st->in[at + 1], &st->in[at], (st->nin - 1 - at) * sizeof(*st->in));
	ci = &st->in[at];
	memset(ci, 0, sizeof(*ci));
	ci->ino = ino;
	ci->dent = NONE;
	ci->is_new = 1;
	return ci;
}

static void check_root(struct ck *st)
{
	struct ck_ino *r = ino_find(st, LSMFS_ROOT_INO);
	const char *fix = "Make a new root directory inode (its entries stay)";

	if (!r) {
		report(st, LSMFS_CK_ROOT, LSMFS_CK_PROBLEM, LSMFS_ROOT_INO, fix,
		       "the root directory's inode is missing");
		r = ino_insert(st, LSMFS_ROOT_INO);
		if (r)
			fresh_dir(&r->a, 0755, LSMFS_ROOT_INO);
	} else if (r->state == ST_DAMAGED || !S_ISDIR(r->a.mode)) {
		report(st, LSMFS_CK_ROOT, LSMFS_CK_PROBLEM, LSMFS_ROOT_INO, fix,
		       "the root directory's inode is %s",
		       r->state == ST_DAMAGED ? "damaged" : "not a directory");
		fresh_dir(&r->a, 0755, LSMFS_ROOT_INO);
		if (r->state != ST_DAMAGED) {
			r->a.uid = r->was.uid;
			r->a.gid = r->was.gid;
		}
		r->state = ST_LIVE;
		r->force = 1;
	}
	if (r) {
		r->was = r->is_new ? r->a : r->was;
		r->reached = 1;
	}
}

static void check_inodes(struct ck *st)
{
	uint64_t maxino = 0;

	check_root(st);
	for (size_t i = 0; i < st->nin; i++) {
		struct ck_ino *ci = &st->in[i];

		if (ci->ino > maxino)
			maxino = ci->ino;
		if (ci->state == ST_DAMAGED) {
			if (ci->vlen < INODE_LEN)
				report(st, LSMFS_CK_INODE, LSMFS_CK_PROBLEM, ci->ino,
				       "Clear it, with its keys and the entries naming it",
				       "%s is damaged (%" PRIu32 " bytes, %d expected)",
				       where(st, ci->ino, 0), ci->vlen, INODE_LEN);
			else
				report(st, LSMFS_CK_INODE, LSMFS_CK_PROBLEM, ci->ino,
				       "Clear it, with its keys and the entries naming it",
				       "%s has a mode of no known type (0%o)",
				       where(st, ci->ino, 0), ci->a.mode);
			continue;
		}
		st->res->inodes++;
		if (S_ISDIR(ci->a.mode))
			st->res->dirs++;
		else if (S_ISREG(ci->a.mode))
			st->res->files++;
		else if (S_ISLNK(ci->a.mode))
			st->res->symlinks++;
	}
	if (maxino >= st->sb.ino_end) {
		report(st, LSMFS_CK_RESERVATION, LSMFS_CK_PROBLEM, maxino,
		       fixf(st, "Raise it to %" PRIu64, maxino + 1),
		       "inode %" PRIu64 " is at or past the superblock's inode reservation "
		       "(end %" PRIu64 "): its number could be handed out again",
		       maxino, st->sb.ino_end);
		st->sb.ino_end = maxino + 1;
		st->sb_dirty = 1;
	}
}

/* Gives each inode a first entry naming it, so that messages can show paths. */
static void index_paths(struct ck *st)
{
	for (size_t i = 0; i < st->nde; i++) {
		struct ck_ino *ci = st->de[i].bad ? NULL : ino_find(st, st->de[i].child);

		if (ci && ci->dent == NONE && ci->ino != LSMFS_ROOT_INO)
			ci->dent = i;
	}
}

/* Counts, per chunk and per inode, the references as found. */
static void count_raw(struct ck *st)
{
	for (size_t i = 0; i < st->nf; i++) {
		struct ck_fref *f = &st->f[i];
		struct ck_ino *ci = ino_find(st, f->ino);
		struct ck_chunk *c = f->bad ? NULL : chunk_find(st, f->sha);

		if (c)
			c->raw++;
		if (ci)
			ci->rawf++;
	}
}

static int stray_cmp(const void *a, const void *b)
{
	const struct ck_stray *x = a, *y = b;

	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return (x->tag > y->tag) - (x->tag < y->tag);
}

/* "3 chunk references, an extended attribute and a symlink target". */
static void stray_parts(char *out, size_t size, uint32_t nf, uint32_t nx, uint32_t nl)
{
	const char *sep[3] = {"", "", ""};
	int parts = (nf > 0) + (nx > 0) + (nl > 0), k = 0;
	size_t n = 0;

	for (int i = 1; i < parts; i++)
		sep[i] = i == parts - 1 ? " and " : ", ";
	if (nf)
		n += (size_t)snprintf(out + n, size - n, "%s%" PRIu32 " chunk reference%s",
				      sep[k++], nf, nf == 1 ? "" : "s");
	if (nx)
		n += (size_t)snprintf(out + n, size - n, "%s%" PRIu32 " extended attribute%s",
				      sep[k++], nx, nx == 1 ? "" : "s");
	if (nl)
		snprintf(out + n, size - n, "%sa symlink target", sep[k]);
}

/* F keys of missing or non-regular inodes, L keys of non-symlinks: one report per inode. */
static void check_strays(struct ck *st)
{
	for (size_t i = 0; i < st->nf; i++) {
		struct ck_ino *ci = ino_find(st, st->f[i].ino);

		if (!ci || (ci->state == ST_LIVE && !S_ISREG(ci->a.mode))) {
			add_stray(st, st->f[i].ino, KEY_FCHUNK);
			st->f[i].act = F_DROP;
		}
	}
	for (size_t i = 0; i < st->nin; i++) {
		struct ck_ino *ci = &st->in[i];
		struct fkey k;

		if (ci->state == ST_LIVE && ci->has_l && !S_ISLNK(ci->a.mode)) {
			add_stray(st, ci->ino, KEY_LINK);
			key_ino(&k, KEY_LINK, ci->ino);
			del_key(st, k.b, k.len);
			ci->has_l = 0;
		}
	}
	if (st->nstray > 1)
		qsort(st->stray, st->nstray, sizeof(*st->stray), stray_cmp);
	for (size_t i = 0; i < st->nstray;) {
		uint64_t ino = st->stray[i].ino;
		struct ck_ino *ci = ino_find(st, ino);
		uint32_t n[3] = {0, 0, 0};
		char parts[160];

		for (; i < st->nstray && st->stray[i].ino == ino; i++)
			n[st->stray[i].tag == KEY_FCHUNK  ? 0
			  : st->stray[i].tag == KEY_XATTR ? 1
							  : 2]++;
		stray_parts(parts, sizeof(parts), n[0], n[1], n[2]);
		if (!ci)
			report(st, LSMFS_CK_STRAY, LSMFS_CK_PROBLEM, ino, "Remove them",
			       "inode %" PRIu64 " does not exist, but %s of it remain%s", ino,
			       parts, n[0] + n[1] + n[2] == 1 ? "s" : "");
		else
			report(st, LSMFS_CK_STRAY, LSMFS_CK_PROBLEM, ino, "Remove them",
			       "%s is a %s but has %s", where(st, ino, 0), type_name(ci->a.mode),
			       parts);
	}
}

static void check_symlinks_xattrs(struct ck *st)
{
	for (size_t i = 0; i < st->nin; i++) {
		struct ck_ino *ci = &st->in[i];

		if (ci->state != ST_LIVE)
			continue;
		if (S_ISLNK(ci->a.mode) && (!ci->has_l || ci->llen == 0)) {
			report(st, LSMFS_CK_SYMLINK, LSMFS_CK_PROBLEM, ci->ino,
			       "Remove it, with the entries naming it", "symlink %s has %s",
			       where(st, ci->ino, 0), ci->has_l ? "an empty target" : "no target");
			ci->state = ST_REMOVE;
			continue;
		}
		if (S_ISLNK(ci->a.mode) && ci->a.size != ci->llen) {
			report(st, LSMFS_CK_SYMLINK, LSMFS_CK_PROBLEM, ci->ino,
			       fixf(st, "Set the size to %" PRIu32, ci->llen),
			       "symlink %s has size %" PRIu64 ", but its target has %" PRIu32
			       " bytes",
			       where(st, ci->ino, 0), ci->a.size, ci->llen);
			ci->a.size = ci->llen;
		}
		if (ci->xkeys && !(ci->a.flags & LSMFS_IFLAG_XATTR)) {
			report(st, LSMFS_CK_XATTR_FLAG, LSMFS_CK_PROBLEM, ci->ino, "Set the flag",
			       "%s has %" PRIu64 " extended attribute%s but not the flag that "
			       "frees them with it",
			       where(st, ci->ino, 0), ci->xkeys, ci->xkeys == 1 ? "" : "s");
			ci->a.flags |= LSMFS_IFLAG_XATTR;
		}
	}
}

/* ---- entries ---- */

/*
 * Entries under a wrong name hash: lookups cannot find them, readdir can.
 * Each moves to the right key unless an entry of the same name is there
 * already (or another moved one claims it): then it is the duplicate.
 */
static void check_hashes(struct ck *st)
{
	size_t *moved = NULL, nmoved = 0, capmoved = 0;

	for (size_t i = 0; i < st->nsorted && !st->err; i++) {
		struct ck_dent *d = &st->de[i];
		const char *nm = st->pool + d->name;
		uint64_t h;
		int dup;

		if (d->bad)
			continue;
		h = name_hash(st->sb.uuid, nm, d->nlen);
		if (h == d->nhash)
			continue;
		dup = dent_lookup(st, d->parent, h, nm, d->nlen) != NONE;
		for (size_t j = 0; j < nmoved && !dup; j++) {
			struct ck_dent *o = &st->de[moved[j]];

			dup = o->parent == d->parent && o->nlen == d->nlen &&
			      memcmp(st->pool + o->name, nm, d->nlen) == 0;
		}
		if (dup) {
			report(st, LSMFS_CK_DENT_HASH, LSMFS_CK_PROBLEM, d->parent, "Remove it",
			       "entry \"%s\" in %s is stored under a wrong name hash, and an entry "
			       "of the same name exists",
			       dent_name(st, 0, d), where(st, d->parent, 0));
			d->act = D_DROP;
			continue;
		}
		report(st, LSMFS_CK_DENT_HASH, LSMFS_CK_PROBLEM, d->parent,
		       "Move it to the right key",
		       "entry \"%s\" in %s is stored under a wrong name hash: lookups cannot "
		       "find it",
		       dent_name(st, 0, d), where(st, d->parent, 0));
		d->rekey = 1;
		d->newhash = h;
		if (nmoved == capmoved && !grow(st, &moved, &capmoved, sizeof(*moved)))
			break;
		moved[nmoved++] = i;
	}
	free(moved);
}

/* A directory named by entries i and j keeps one: the one its parent field agrees with. */
static void dir_second_entry(struct ck *st, struct ck_ino *c, size_t i)
{
	size_t j = c->kdent, lose = i;

	if (st->de[i].parent == c->was.parent && st->de[j].parent != c->was.parent) {
		c->kdent = i;
		lose = j;
	}
	st->de[lose].act = D_DROP;
	c->dent = c->kdent; /* name it by the entry it keeps */
	report(st, LSMFS_CK_DIR_LINK, LSMFS_CK_PROBLEM, c->ino, "Remove that entry",
	       "directory %s is also named \"%s\" in %s", where(st, c->ino, 0),
	       dent_name(st, 0, &st->de[lose]), where(st, st->de[lose].parent, 1));
}

static void check_entries(struct ck *st)
{
	for (size_t i = 0; i < st->nin; i++)
		st->in[i].kdent = NONE;
	check_hashes(st);
	for (size_t i = 0; i < st->nsorted; i++) {
		struct ck_dent *d = &st->de[i];
		struct ck_ino *p, *c;

		tick(st, 3, "checking inodes and entries", i, st->nsorted + st->nin);
		if (d->act == D_DROP)
			continue;
		if (d->bad) {
			report(st, LSMFS_CK_DENT, LSMFS_CK_PROBLEM, d->parent, "Remove it",
			       "entry \"%s\" in %s %s", dent_name(st, 0, d),
			       where(st, d->parent, 0), d->bad);
			d->act = D_DROP;
			continue;
		}
		p = ino_find(st, d->parent);
		c = ino_find(st, d->child);
		d->act = D_DROP;
		if (p && p->state != ST_LIVE)
			continue; /* its directory is cleared: the entry goes with it */
		if (!p || !S_ISDIR(p->a.mode)) {
			report(st, LSMFS_CK_DANGLING, LSMFS_CK_PROBLEM, d->parent, "Remove it",
			       "entry \"%s\" is in %s, which %s", dent_name(st, 0, d),
			       where(st, d->parent, 0),
			       p ? "is not a directory" : "does not exist");
			continue;
		}
		if (c && c->state != ST_LIVE)
			continue; /* names an inode the repair removes */
		if (!c) {
			report(st, LSMFS_CK_DANGLING, LSMFS_CK_PROBLEM, d->parent, "Remove it",
			       "entry \"%s\" in %s names inode %" PRIu64 ", which does not exist",
			       dent_name(st, 0, d), where(st, d->parent, 0), d->child);
			continue;
		}
		if (c->ino == LSMFS_ROOT_INO) {
			report(st, LSMFS_CK_DIR_LINK, LSMFS_CK_PROBLEM, d->parent, "Remove it",
			       "entry \"%s\" in %s names the root directory", dent_name(st, 0, d),
			       where(st, d->parent, 0));
			continue;
		}
		d->act = D_KEEP;
		if (d->dtype != IFTODT(c->a.mode)) {
			report(st, LSMFS_CK_DENT_TYPE, LSMFS_CK_PROBLEM, d->parent, "Rewrite it",
			       "entry \"%s\" in %s has type %u, but inode %" PRIu64
			       " is a %s (type %u)",
			       dent_name(st, 0, d), where(st, d->parent, 0), d->dtype, c->ino,
			       type_name(c->a.mode), IFTODT(c->a.mode));
			d->retype = 1;
		}
		if (c->kdent == NONE)
			c->kdent = i;
		else if (S_ISDIR(c->a.mode))
			dir_second_entry(st, c, i);
	}
	/* From now on paths follow the entries that stay. */
	for (size_t i = 0; i < st->nin; i++)
		st->in[i].dent = st->in[i].kdent;
}

/* Links and subdirectories from the entries the repair keeps. */
static void count_links(struct ck *st)
{
	for (size_t i = 0; i < st->nin; i++)
		st->in[i].links = st->in[i].subdirs = 0;
	for (size_t i = 0; i < st->nde; i++) {
		struct ck_dent *d = &st->de[i];
		struct ck_ino *c, *p;

		if (d->act == D_DROP)
			continue;
		c = ino_find(st, d->child);
		p = ino_find(st, d->parent);
		if (!c || !p)
			continue;
		c->links++;
		if (S_ISDIR(c->a.mode))
			p->subdirs++;
	}
}

/*
 * O keys: an unlinked inode still in use when the daemon stopped is a
 * pending orphan (a note; the repair frees it, as a mount would). An O key
 * on an inode that is linked is stale.
 */
static void check_orphans(struct ck *st)
{
	for (size_t i = 0; i < st->nin; i++) {
		struct ck_ino *ci = &st->in[i];

		if (ci->state != ST_LIVE || !ci->orphan)
			continue;
		if (ci->ino == LSMFS_ROOT_INO || ci->links > 0 || ci->a.nlink > 0) {
			report(st, LSMFS_CK_ORPHAN, LSMFS_CK_PROBLEM, ci->ino, "Remove the key",
			       "%s has an orphan key but link count %" PRIu32 " and %" PRIu32
			       " entr%s",
			       where(st, ci->ino, 0), ci->a.nlink, ci->links,
			       ci->links == 1 ? "y" : "ies");
			ci->drop_o = 1;
			continue;
		}
		ci->pending = 1;
		report(st, LSMFS_CK_PENDING_ORPHAN, LSMFS_CK_NOTE, ci->ino, "Free it",
		       "inode %" PRIu64 " (a %s of %" PRIu64 " bytes) was unlinked while in use; "
		       "the next mount frees it",
		       ci->ino, type_name(ci->a.mode), ci->a.size);
		if (st->repair) {
			ci->state = ST_REMOVE;
			st->res->finished++;
		}
	}
}

/* Link counts and directory parents, against the entries as found (less the broken ones). */
static void check_counts(struct ck *st)
{
	for (size_t i = 0; i < st->nin; i++) {
		struct ck_ino *ci = &st->in[i];

		tick(st, 3, "checking inodes and entries", st->nsorted + i, st->nsorted + st->nin);
		/* A root made anew has the counts the end of the check gives it. */
		if (ci->state != ST_LIVE || ci->pending || ci->is_new || ci->force)
			continue;
		if (S_ISDIR(ci->a.mode)) {
			uint32_t want = 2 + ci->subdirs;
			uint64_t wantp = ci->ino == LSMFS_ROOT_INO ? LSMFS_ROOT_INO
					 : ci->dent != NONE	   ? st->de[ci->dent].parent
								   : ci->a.parent;

			if (ci->a.nlink != want) {
				report(st, LSMFS_CK_NLINK, LSMFS_CK_PROBLEM, ci->ino,
				       fixf(st, "Set it to %" PRIu32, want),
				       "directory %s has link count %" PRIu32 ", but %" PRIu32
				       " subdirector%s",
				       where(st, ci->ino, 0), ci->a.nlink, ci->subdirs,
				       ci->subdirs == 1 ? "y" : "ies");
				ci->a.nlink = want;
			}
			if (ci->a.parent != wantp) {
				report(st, LSMFS_CK_PARENT, LSMFS_CK_PROBLEM, ci->ino,
				       fixf(st, "Set it to %" PRIu64, wantp),
				       "directory %s has parent %" PRIu64
				       ", but its entry is in directory %" PRIu64,
				       where(st, ci->ino, 0), ci->a.parent, wantp);
				ci->a.parent = wantp;
			}
		} else if (ci->links > 0 && ci->a.nlink != ci->links) {
			report(st, LSMFS_CK_NLINK, LSMFS_CK_PROBLEM, ci->ino,
			       fixf(st, "Set it to %" PRIu32, ci->links),
			       "%s has link count %" PRIu32 ", but %" PRIu32 " entr%s name it",
			       where(st, ci->ino, 0), ci->a.nlink, ci->links,
			       ci->links == 1 ? "y" : "ies");
			ci->a.nlink = ci->links;
		}
	}
}

/* ---- reachability and /lost+found ---- */

/* Adds an entry the repair creates; its index, or NONE. */
static size_t dent_new(struct ck *st, uint64_t parent, const char *name, size_t nlen,
		       uint64_t child, uint32_t mode)
{
	size_t off = pool_add(st, name, nlen);
	struct ck_dent *d;

	if (off == NONE)
		return NONE;
	d = PUSH(st, st->de, st->nde, st->capde);
	if (!d)
		return NONE;
	d->parent = parent;
	d->child = child;
	d->nhash = name_hash(st->sb.uuid, name, nlen);
	d->name = off;
	d->nlen = (uint16_t)nlen;
	d->dtype = (uint8_t)IFTODT(mode);
	d->act = D_NEW;
	return st->nde - 1;
}

/* Marks everything below directory top reached (breadth first over kept entries). */
static void mark_reached(struct ck *st, uint64_t top)
{
	uint64_t *q = NULL;
	size_t nq = 0, capq = 0, head = 0;

	if (nq == capq && !grow(st, &q, &capq, sizeof(*q)))
		return;
	q[nq++] = top;
	while (head < nq) {
		uint64_t dir = q[head++];
		size_t i = dent_first(st, dir);

		/* Stored entries of dir, then the ones the repair adds (few, at the end). */
		for (;; i++) {
			struct ck_dent *d;
			struct ck_ino *c;

			if (i < st->nsorted && st->de[i].parent != dir)
				i = st->nsorted;
			if (i >= st->nde)
				break;
			d = &st->de[i];
			if (d->parent != dir || d->act == D_DROP)
				continue;
			c = ino_find(st, d->child);
			if (!c || c->reached)
				continue;
			c->reached = 1;
			if (S_ISDIR(c->a.mode)) {
				if (nq == capq && !grow(st, &q, &capq, sizeof(*q)))
					break;
				q[nq++] = c->ino;
			}
		}
	}
	free(q);
}

/* Finds or makes /lost+found; 1 when usable. */
static int lost_found(struct ck *st)
{
	static const char lfname[] = "lost+found";
	const size_t lflen = sizeof(lfname) - 1;
	struct ck_ino *lf;
	uint64_t ino, maxino;

	if (st->lf_state)
		return st->lf_state > 0;
	st->lf_state = -1;
	for (size_t i = dent_first(st, LSMFS_ROOT_INO);
	     i < st->nsorted && st->de[i].parent == LSMFS_ROOT_INO; i++) {
		struct ck_dent *d = &st->de[i];
		struct ck_ino *c;

		if (d->act == D_DROP || d->nlen != lflen ||
		    memcmp(st->pool + d->name, lfname, lflen) != 0)
			continue;
		c = ino_find(st, d->child);
		if (c && c->state == ST_LIVE && S_ISDIR(c->a.mode) && c->reached) {
			st->lf = c->ino;
			st->lf_state = 1;
		}
		return st->lf_state > 0;
	}
	maxino = st->nin ? st->in[st->nin - 1].ino : LSMFS_ROOT_INO;
	ino = st->sb.ino_end > maxino ? st->sb.ino_end : maxino + 1;
	lf = ino_insert(st, ino);
	if (!lf)
		return 0;
	fresh_dir(&lf->a, 0700, LSMFS_ROOT_INO);
	lf->was = lf->a;
	lf->reached = 1;
	if (dent_new(st, LSMFS_ROOT_INO, lfname, lflen, ino, lf->a.mode) == NONE)
		return 0;
	lf->dent = st->nde - 1;
	st->sb.ino_end = ino + 1;
	st->sb_dirty = 1;
	st->lf = ino;
	st->lf_made = 1;
	st->lf_state = 1;
	return 1;
}

/* The name inode ino gets in /lost+found: "#ino", or "#ino.N" if that is taken. */
static size_t lost_name(struct ck *st, uint64_t ino, char name[48])
{
	size_t n = (size_t)snprintf(name, 48, "#%" PRIu64, ino);

	for (int k = 1; dent_name_taken(st, st->lf, name, n) && k < 1000; k++)
		n = (size_t)snprintf(name, 48, "#%" PRIu64 ".%d", ino, k);
	return n;
}

/* Links inode ino into /lost+found. */
static void link_lost(struct ck *st, uint64_t ino)
{
	char name[48];
	size_t n = lost_name(st, ino, name);
	struct ck_ino *ci = ino_find(st, ino);
	size_t at = dent_new(st, st->lf, name, n, ino, ci->a.mode);

	if (at == NONE)
		return;
	ci = ino_find(st, ino);
	ci->dent = at;
	ci->reached = 1;
	if (S_ISDIR(ci->a.mode)) {
		ci->a.parent = st->lf;
		mark_reached(st, ino);
	}
}

#define LF_UNUSABLE "; /lost+found is no directory it can go to (rename it and check again)"

/* The question of a reconnection: where the inode goes, and /lost+found's making. */
static const char *lost_fix(struct ck *st, uint64_t ino)
{
	char name[48];

	if (!lost_found(st))
		return NULL;
	lost_name(st, ino, name);
	return fixf(st, "%s /lost+found as %s",
		    st->lf_made && !st->res->count[LSMFS_CK_UNREACHABLE] ? "Make and connect it to"
									 : "Connect it to",
		    name);
}

/*
 * A directory nothing reaches: walk up its entries to the top of its
 * subtree (a directory with no entry, one in a cycle, or one whose parent
 * is being removed) and connect that top to /lost+found.
 */
static void reconnect_dir(struct ck *st, uint64_t ino)
{
	const char *fix = lost_fix(st, ino), *why = "";
	struct ck_ino *cur = ino_find(st, ino);
	size_t cut = NONE;
	uint32_t gen = ++st->walkgen;

	for (;;) {
		struct ck_ino *p;

		cur->walk = gen;
		if (cur->dent == NONE)
			break;
		p = ino_find(st, st->de[cur->dent].parent);
		if (!p || p->state != ST_LIVE || p->pending) {
			cut = cur->dent;
			why = ", being in a directory unlinked while in use";
			break;
		}
		if (p->walk == gen) {
			cut = cur->dent;
			why = ", being in a cycle of directories";
			break;
		}
		if (p->reached)
			break;
		cur = p;
	}
	if (cur->ino != ino)
		fix = lost_fix(st, cur->ino);
	report(st, LSMFS_CK_UNREACHABLE, LSMFS_CK_PROBLEM, cur->ino, fix,
	       "directory %s is not reachable from the root%s%s", where(st, cur->ino, 0), why,
	       fix ? "" : LF_UNUSABLE);
	if (!fix) {
		cur->reached = 1;
		mark_reached(st, cur->ino);
		return;
	}
	if (cut != NONE)
		st->de[cut].act = D_DROP;
	link_lost(st, cur->ino);
}

static void reconnect_file(struct ck *st, uint64_t ino)
{
	const char *fix = lost_fix(st, ino);
	struct ck_ino *ci = ino_find(st, ino);

	report(st, LSMFS_CK_UNREACHABLE, LSMFS_CK_PROBLEM, ino, fix,
	       "%s (a %s of %" PRIu64 " bytes, link count %" PRIu32
	       ") is not reachable from the root%s",
	       where(st, ino, 0), type_name(ci->a.mode), ci->a.size, ci->a.nlink,
	       fix ? "" : LF_UNUSABLE);
	if (!fix)
		return;
	/* Its entries, if any, are in directories the repair removes. */
	for (size_t i = 0; ci->links && i < st->nde; i++)
		if (st->de[i].child == ino)
			st->de[i].act = D_DROP;
	link_lost(st, ino);
}

static void check_reachable(struct ck *st)
{
	mark_reached(st, LSMFS_ROOT_INO);
	for (int dirs = 1; dirs >= 0; dirs--) {
		for (size_t i = 0; i < st->nin && !st->err; i++) {
			struct ck_ino *ci = &st->in[i];

			if (ci->state != ST_LIVE || ci->pending || ci->reached ||
			    !S_ISDIR(ci->a.mode) != !dirs)
				continue;
			if (dirs)
				reconnect_dir(st, ci->ino);
			else
				reconnect_file(st, ci->ino);
		}
	}
}

/* ---- chunks ---- */

static void check_chunks(struct ck *st)
{
	for (size_t i = 0; i < st->nch; i++) {
		struct ck_chunk *c = &st->ch[i];
		char hx[17], rtxt[32];

		tick(st, 4, "checking chunks", i, st->nch + st->nf);
		sha_hex(c->sha, hx);
		if (c->has_r && !c->r_bad)
			snprintf(rtxt, sizeof(rtxt), "reference count %" PRIu64, c->r);
		else
			snprintf(rtxt, sizeof(rtxt), "%s",
				 c->has_r ? "a malformed reference count" : "no reference count");
		if (c->has_c && (c->c_bad || c->clen == 0 || c->clen > st->cs)) {
			report(st, LSMFS_CK_CHUNK_DIGEST, LSMFS_CK_PROBLEM, 0,
			       "Free it; the ranges that name it read as zeros",
			       "chunk %s (%" PRIu32 " bytes, %" PRIu64 " reference%s) %s", hx,
			       c->clen, c->raw, c->raw == 1 ? "" : "s",
			       c->c_bad	      ? "does not match its SHA-256"
			       : c->clen == 0 ? "is empty"
					      : "is longer than the chunk size");
			c->c_bad = 1;
		} else if (c->raw == 0 && c->has_c) {
			report(st, LSMFS_CK_LEAK, LSMFS_CK_PROBLEM, 0, "Free it",
			       "chunk %s (%" PRIu32 " bytes, %s) is stored, but no file names it",
			       hx, c->clen, rtxt);
		} else if (c->raw == 0) {
			report(st, LSMFS_CK_LEAK, LSMFS_CK_PROBLEM, 0, "Remove it",
			       "chunk %s is neither stored nor named, but has %s", hx, rtxt);
		} else if (c->has_c && (!c->has_r || c->r_bad || c->r != c->raw)) {
			report(st, LSMFS_CK_REFCOUNT, LSMFS_CK_PROBLEM, 0,
			       fixf(st, "Set it to %" PRIu64, c->raw),
			       "chunk %s has %s, but %" PRIu64 " reference%s name%s it", hx, rtxt,
			       c->raw, c->raw == 1 ? "" : "s", c->raw == 1 ? "s" : "");
		}
	}
}

/* Adds a chunk the repair stores (len bytes of data, copied); 0 or -ENOMEM. */
static int chunk_new(struct ck *st, const uint8_t *sha, const uint8_t *data, uint32_t len)
{
	struct ck_chunk *c = chunk_find(st, sha);

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
	qsort(st->ch, st->nch, sizeof(*st->ch), chunk_cmp);
	return 0;
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
		st->err = rc < 0 ? errno_of(rc) : -EIO;
		goto out;
	}
	if (keep > vlen)
		keep = vlen;
	while (keep && v[keep - 1] == 0)
		keep--;
	if (keep == 0) {
		f->act = F_DROP;
		goto out;
	}
	chunk_sha(v, keep, f->sha);
	f->len = (uint32_t)keep;
	f->act = F_PUT;
	chunk_new(st, f->sha, v, (uint32_t)keep);
out:
	free(v);
}

/* Reports the range of f that reads as zeros after the repair. */
static void lost_range(struct ck *st, const struct ck_fref *f, int code, const char *why)
{
	uint64_t off = f->idx * st->cs;

	report(st, code, LSMFS_CK_LOST, f->ino, NULL,
	       "%s: bytes %" PRIu64 "-%" PRIu64 " (chunk %" PRIu64 ") %s", where(st, f->ino, 0),
	       off, off + (f->len ? f->len : st->cs) - 1, f->idx, why);
}

static void check_one_fref(struct ck *st, struct ck_fref *f, struct ck_ino *ci)
{
	uint64_t size = ci->a.size, off;
	struct ck_chunk *c;
	char hx[17];

	if (f->bad || f->len > st->cs) {
		report(st, LSMFS_CK_FREF, LSMFS_CK_PROBLEM, f->ino,
		       "Remove it; the chunk reads as zeros",
		       "%s: the reference of chunk %" PRIu64 " (bytes from %" PRIu64
		       ") is malformed",
		       where(st, f->ino, 0), f->idx, f->idx * st->cs);
		f->act = F_DROP;
		st->res->lost++;
		return;
	}
	c = chunk_find(st, f->sha);
	if (!c || !c->has_c) {
		report(st, LSMFS_CK_CHUNK_MISSING, LSMFS_CK_PROBLEM, f->ino,
		       "Remove the reference; the range reads as zeros",
		       "%s: bytes %" PRIu64 "-%" PRIu64 " are in chunk %s, which is not stored",
		       where(st, f->ino, 0), f->idx * st->cs, f->idx * st->cs + f->len - 1,
		       sha_hex(f->sha, hx));
		f->act = F_DROP;
		st->res->lost++;
		return;
	}
	if (c->c_bad) {
		lost_range(st, f, LSMFS_CK_CHUNK_DIGEST, "are in the damaged chunk: they are lost");
		f->act = F_DROP;
		return;
	}
	if (f->len != c->clen) {
		report(st, LSMFS_CK_CHUNK_LEN, LSMFS_CK_PROBLEM, f->ino,
		       fixf(st, "Set it to %" PRIu32, c->clen),
		       "%s: chunk %" PRIu64 " is referenced with %" PRIu32
		       " bytes, but holds %" PRIu32,
		       where(st, f->ino, 0), f->idx, f->len, c->clen);
		f->len = c->clen;
		f->act = F_PUT;
	}
	off = f->idx < UINT64_MAX / st->cs ? f->idx * st->cs : UINT64_MAX;
	if (off >= size) {
		report(st, LSMFS_CK_PAST_EOF, LSMFS_CK_PROBLEM, f->ino, "Remove it",
		       "%s: chunk %" PRIu64 " lies past the end of the file (%" PRIu64 " bytes)",
		       where(st, f->ino, 0), f->idx, size);
		f->act = F_DROP;
	} else if (off + f->len > size) {
		report(st, LSMFS_CK_PAST_EOF, LSMFS_CK_PROBLEM, f->ino, "Cut it at the end",
		       "%s: chunk %" PRIu64 " holds %" PRIu64
		       " bytes past the end of the file (%" PRIu64 " bytes)",
		       where(st, f->ino, 0), f->idx, off + f->len - size, size);
		trim_chunk(st, f, size - off);
	}
}

static void check_frefs(struct ck *st)
{
	for (size_t i = 0; i < st->nf && !st->err; i++) {
		struct ck_fref *f = &st->f[i];
		struct ck_ino *ci = ino_find(st, f->ino);

		tick(st, 4, "checking chunks", st->nch + i, st->nch + st->nf);
		if (f->act == F_DROP)
			continue; /* a stray, reported already */
		if (!ci || ci->state != ST_LIVE) {
			f->act = F_DROP; /* goes with its cleared or removed inode */
			continue;
		}
		check_one_fref(st, f, ci);
		if (f->act != F_DROP)
			ci->fkeep++;
	}
	for (size_t i = 0; i < st->nin; i++) {
		struct ck_ino *ci = &st->in[i];
		uint64_t found = S_ISREG(ci->a.mode) ? ci->rawf : 0;

		if (ci->state != ST_LIVE || ci->is_new || ci->force)
			continue;
		if (ci->a.chunks != found)
			report(st, LSMFS_CK_CHUNK_COUNT, LSMFS_CK_PROBLEM, ci->ino,
			       fixf(st, "Set it to %" PRIu64, found),
			       "%s has chunk count %" PRIu64 ", but %" PRIu64 " chunk reference%s",
			       where(st, ci->ino, 0), ci->a.chunks, found, found == 1 ? "" : "s");
		ci->a.chunks = S_ISREG(ci->a.mode) ? ci->fkeep : 0;
	}
}

/* ---- the counts the repairs change ---- */

static void final_counts(struct ck *st)
{
	count_links(st);
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

		if (st->f[i].act == F_DROP)
			continue;
		c = chunk_find(st, st->f[i].sha);
		if (c)
			c->refs++;
	}
}

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
	tick(s->st, 5, "writing repairs", s->ops, s->total);
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

static void emit_inode(struct sink *s, struct ck_ino *ci)
{
	uint8_t was[INODE_LEN], now[INODE_LEN], mid[INODE_LEN];
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
	inode_encode(was, &ci->was);
	inode_encode(now, &ci->a);
	if (!ci->is_new && !ci->force && memcmp(was, now, INODE_LEN) == 0)
		return;
	if (ci->is_new || ci->force || s->phase == PH_ALL) {
		sink_put(s, PH_EARLY, &k, now, INODE_LEN);
		return;
	}
	/* Across batches: counts go up early and down late, the rest changes early. */
	m = ci->a;
	m.nlink = ci->a.nlink > ci->was.nlink ? ci->a.nlink : ci->was.nlink;
	m.chunks = ci->a.chunks > ci->was.chunks ? ci->a.chunks : ci->was.chunks;
	inode_encode(mid, &m);
	if (memcmp(mid, was, INODE_LEN) != 0)
		sink_put(s, PH_EARLY, &k, mid, INODE_LEN);
	if (memcmp(mid, now, INODE_LEN) != 0)
		sink_put(s, PH_LATE, &k, now, INODE_LEN);
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
		struct ck_ino *c = ino_find(st, d->child);

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
				inode_encode(iv, &c->a);
				sink_put(s, PH_MID, &k, iv, sizeof(iv));
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
		uint8_t v[FREF_LEN];
		struct fref r;

		key_fchunk(&k, f->ino, f->idx);
		if (f->act == F_DROP) {
			sink_del(s, PH_MID, &k);
		} else if (f->act == F_PUT) {
			memcpy(r.sha, f->sha, SHA_LEN);
			r.len = f->len;
			fref_encode(v, &r);
			sink_put(s, PH_MID, &k, v, sizeof(v));
		}
	}
	for (size_t i = 0; i < st->ndel; i++)
		sink_op(s, PH_MID, st->del[i].k, st->del[i].len, NULL, 0, 1);
}

/* Writes the repairs; 0 or the error that stopped it (res->fixed stays 0 then). */
static int write_repairs(struct ck *st, const char **msgp, char *msg)
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
	progress(st, 5, "writing repairs", 0, s.total);
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
	progress(st, 5, "writing repairs", s.total, s.total);
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

/* ---- the check ---- */

static void engine_report(void *arg, const char *file, uint64_t off, const char *msg)
{
	struct ck *st = arg;

	/* A read-only open leaves a crash's torn WAL tail in place; recovery drops it. */
	if (!st->repair && strstr(msg, "torn tail"))
		report(st, LSMFS_CK_TORN_WAL, LSMFS_CK_NOTE, 0, NULL,
		       "%s ends in a write a crash cut short (offset %" PRIu64
		       "); the next mount drops it",
		       file, off);
	else
		report(st, LSMFS_CK_ENGINE, LSMFS_CK_PROBLEM, 0, NULL, "%s, offset %" PRIu64 ": %s",
		       file, off, msg);
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
		const char *left = fs_engine_file_in(dir, name, sizeof(name));

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
	free(st->f);
	free(st->ch);
	free(st->ronly);
	free(st->del);
	free(st->stray);
}

/* The filesystem level: every pass, in order (see the top of this file). */
static void check_fs(struct ck *st)
{
	st->nsorted = st->nde;
	progress(st, 3, "checking inodes and entries", 0, st->nsorted + st->nin);
	index_paths(st);
	check_inodes(st);
	count_raw(st);
	check_strays(st);
	check_symlinks_xattrs(st);
	check_entries(st);
	count_links(st);
	check_orphans(st);
	check_counts(st);
	check_reachable(st);
	progress(st, 4, "checking chunks", 0, st->nch + st->nf);
	check_chunks(st);
	check_frefs(st);
	final_counts(st);
	progress(st, 4, "checking chunks", st->nch + st->nf, st->nch + st->nf);
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
		progress(&st, 1, "verifying the engine's tables and WAL", 0, 0);
		lsm_verify(st.db, engine_report, &st);
	}
	rc = scan(&st);
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
			report(&st, LSMFS_CK_ENGINE, LSMFS_CK_PROBLEM, 0, NULL, "%s", lsm_errmsg());
		rc = 0;
		goto out;
	}
	rc = check_super(&st, dir, msgp, msg);
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
		rc = write_repairs(&st, msgp, msg);
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
		[LSMFS_CK_FREF] = "malformed-reference",
		[LSMFS_CK_CHUNK_MISSING] = "missing-chunk",
		[LSMFS_CK_CHUNK_DIGEST] = "chunk-digest",
		[LSMFS_CK_CHUNK_LEN] = "chunk-length",
		[LSMFS_CK_PAST_EOF] = "past-eof",
		[LSMFS_CK_REFCOUNT] = "reference-count",
		[LSMFS_CK_LEAK] = "leaked-chunk",
		[LSMFS_CK_PENDING_ORPHAN] = "pending-orphan",
		[LSMFS_CK_TORN_WAL] = "torn-wal",
	};

	return code >= 0 && code < LSMFS_CK_NCODES ? names[code] : "unknown";
}
