/*
 * check_corrupt.c — a damaged database directory is reported, never misread,
 * and a full disk loses nothing that was acknowledged.
 *
 * Damage. Each test builds one database: tables on three or more levels, a
 * last flush whose L0 tables hold newer versions of keys that older tables
 * below still hold, and an unflushed WAL tail of NTAIL records (single puts,
 * deletes and three-operation batches) spanning more than one WAL block. The
 * history of every key is known. Each case copies the database, damages one
 * file (flips one byte, truncates it, or deletes it) and opens the copy
 * read-only, then read-write twice (so what recovery kept is what the next
 * open finds), and with paranoid_checks where the damage must be caught.
 * What is right, per file:
 *
 *   WAL       a flipped byte in any record but the last is damage before the
 *             tail: open fails with -LSM_ECORRUPT naming the log, never drops
 *             the later records silently. A flipped byte in the last record,
 *             or a truncation, looks like a crash's torn tail: the db opens
 *             holding exactly the whole records before it (paranoid_checks and
 *             lsm_verify of a read-only open report it). A flipped byte in a
 *             block's zero trailer is harmless. A deleted WAL loses the
 *             unsynced tail, no more, or fails naming the log.
 *   table     the db opens (tables are read lazily) or fails naming the
 *             table; reads that need the damaged table fail, none returns a
 *             wrong or older value; lsm_verify and a paranoid open name it.
 *   MANIFEST  open fails with -LSM_ECORRUPT naming it, or the db opens with
 *             nothing lost (reads may fail, none may be wrong or missing).
 *             A damaged last record or a cut is no crash's torn tail here:
 *             those edits were synced and the files they retired are gone,
 *             so the older version they leave must not open.
 *   CURRENT   open fails with -LSM_ECORRUPT naming CURRENT. A deleted
 *             CURRENT is -LSM_ENOTDB without create_if_missing, and with it
 *             -LSM_ECORRUPT: a new db is never created over the old files.
 *
 * Whenever the db opens, every key reads back as in one allowed state (a
 * negative error where reads may fail), and iteration both ways yields keys
 * and values of that same state only, skipping none unless it stops with an
 * error. A read-only open changes no file; a failed open loses none.
 *
 * Full disk. With the fault env, ENOSPC hits a flush, a compaction, or any
 * write of a random workload: the error comes back as -ENOSPC, or
 * -LSM_EREADONLY whose message names ENOSPC; after close, freeing space and
 * reopening, every acknowledged write is there and the db takes writes again.
 * A compaction that meets ENOSPC is not fatal: its inputs are intact, so it
 * removes its outputs, the db stays writable, and it is retried later.
 */
#include "env.h"
#include "error.h"
#include "lsm.h"
#include "testutil.h"
#include "version.h"
#include "wal.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NOLD   3000 /* keys written before the tail */
#define NNEW   150  /* keys only the tail writes */
#define NKEYS  (NOLD + NNEW)
#define NTAIL  240 /* records in the WAL tail */
#define KEYLEN 9   /* "key%06u" */
#define VMAX   256

static uint64_t g_seed;
static char g_case[256];

/* Every failure names the seed and the case, so it can be replayed. */
static void fail_at(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_at(int line, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ck_abort_msg("line %d: LSM_TEST_SEED=%llu [%s] %s", line, (unsigned long long)g_seed,
		     g_case, msg);
}

#define EXPECT(cond, ...)                               \
	do {                                            \
		if (!(cond))                            \
			fail_at(__LINE__, __VA_ARGS__); \
	} while (0)

/* ---- keys, values and states ---- */

static void key_of(uint32_t k, char out[16])
{
	snprintf(out, 16, "key%06u", k);
}

static int key_parse(const void *p, size_t len, uint32_t nkeys, uint32_t *k)
{
	const char *s = p;
	uint32_t v = 0;
	if (len != KEYLEN || memcmp(s, "key", 3))
		return 0;
	for (int i = 3; i < KEYLEN; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (uint32_t)(s[i] - '0');
	}
	*k = v;
	return v < nkeys;
}

/* The value of version ver of key k: "k.ver:" then bytes only the seed, k and ver choose. */
static size_t value_of(uint32_t k, int ver, uint8_t *buf)
{
	tu_rng r;
	tu_rng_init(&r, g_seed ^ ((uint64_t)k << 32 | (uint32_t)ver) * 0x9e3779b97f4a7c15ull);
	size_t len = 40 + tu_below(&r, 160);
	int n = snprintf((char *)buf, VMAX, "%u.%d:", k, ver);
	tu_fill(&r, buf + n, len - (size_t)n);
	return len;
}

static int value_is(uint32_t k, int ver, const void *v, size_t len)
{
	uint8_t want[VMAX];
	size_t wlen = value_of(k, ver, want);
	return len == wlen && !memcmp(v, want, len);
}

/* Names what a value is, for messages: a version of the key, or garbage. */
static void describe_value(uint32_t k, const void *v, size_t len, char *out, size_t cap)
{
	uint32_t kk;
	int ver;
	char tmp[VMAX + 1];
	size_t n = len < VMAX ? len : VMAX;
	memcpy(tmp, v, n);
	tmp[n] = 0;
	if (sscanf(tmp, "%u.%d:", &kk, &ver) == 2 && kk == k && ver >= 0 &&
	    value_is(k, ver, v, len))
		snprintf(out, cap, "version %d", ver);
	else
		snprintf(out, cap, "a wrong value of %zu bytes", len);
}

/* A state maps each key to its version, -1 when absent. */
typedef struct allowed {
	const int *st[3];
	const char *name[3];
	int n;
	uint32_t nkeys;
	int errors_ok; /* reads may fail with a negative code */
} allowed;

static void describe_expected(const allowed *a, unsigned mask, uint32_t k, char *out, size_t cap)
{
	size_t pos = 0;
	out[0] = 0;
	for (int s = 0; s < a->n && pos < cap; s++) {
		if (!(mask & (1u << s)))
			continue;
		int ver = a->st[s][k];
		int w = ver < 0 ? snprintf(out + pos, cap - pos, "%s%s: absent", pos ? ", " : "",
					   a->name[s])
				: snprintf(out + pos, cap - pos, "%s%s: version %d",
					   pos ? ", " : "", a->name[s], ver);
		if (w < 0)
			break;
		pos += (size_t)w;
	}
}

static unsigned absent_mask(const allowed *a, uint32_t k)
{
	unsigned m = 0;
	for (int s = 0; s < a->n; s++)
		if (a->st[s][k] < 0)
			m |= 1u << s;
	return m;
}

static unsigned value_mask(const allowed *a, uint32_t k, const void *v, size_t len)
{
	unsigned m = 0;
	for (int s = 0; s < a->n; s++)
		if (a->st[s][k] >= 0 && value_is(k, a->st[s][k], v, len))
			m |= 1u << s;
	return m;
}

/* Point reads of every key; returns the allowed states they are consistent with. */
static unsigned check_gets(lsm_db *db, const allowed *a, const char *how, int *errors)
{
	unsigned mask = (1u << a->n) - 1;
	for (uint32_t k = 0; k < a->nkeys; k++) {
		char key[16], got[64], want[256];
		void *v = NULL;
		size_t vlen = 0;
		key_of(k, key);
		int rc = lsm_get(db, NULL, key, KEYLEN, &v, &vlen);
		if (rc < 0) {
			EXPECT(a->errors_ok, "%s: get %s failed: %s: %s", how, key,
			       lsm_strerror(rc), lsm_errmsg());
			(*errors)++;
			continue;
		}
		EXPECT(rc == 0 || rc == LSM_NOTFOUND, "%s: get %s returned %d", how, key, rc);
		unsigned ok = rc == LSM_NOTFOUND ? absent_mask(a, k) : value_mask(a, k, v, vlen);
		if (!(mask & ok)) {
			if (rc == LSM_NOTFOUND)
				snprintf(got, sizeof(got), "not found");
			else
				describe_value(k, v, vlen, got, sizeof(got));
			describe_expected(a, mask, k, want, sizeof(want));
			EXPECT(0, "%s: get %s gave %s; expected %s", how, key, got, want);
		}
		mask &= ok;
		free(v);
	}
	return mask;
}

/* Iterates one way; returns the allowed states consistent with what was seen. */
static unsigned check_iter(lsm_db *db, const allowed *a, int backward, const char *how, int *errors)
{
	unsigned mask = (1u << a->n) - 1;
	const char *dirn = backward ? "backward" : "forward";
	char want[256], got[64];
	lsm_iter *it = lsm_iter_new(db, NULL);
	EXPECT(it != NULL, "%s: lsm_iter_new failed", how);
	if (backward)
		lsm_iter_seek_last(it);
	else
		lsm_iter_seek_first(it);
	/* The key before the next one expected; keys in between must be absent. */
	int64_t prev = backward ? (int64_t)a->nkeys : -1;
	while (lsm_iter_valid(it)) {
		size_t kl, vl;
		const void *kp = lsm_iter_key(it, &kl), *vp = lsm_iter_value(it, &vl);
		uint32_t k;
		EXPECT(key_parse(kp, kl, a->nkeys, &k),
		       "%s: %s iteration yields a key never written (%zu bytes)", how, dirn, kl);
		EXPECT(backward ? (int64_t)k < prev : (int64_t)k > prev,
		       "%s: %s iteration out of order at key%06u", how, dirn, k);
		for (int64_t j = backward ? prev - 1 : prev + 1; j != (int64_t)k;
		     j += backward ? -1 : 1) {
			unsigned m = mask & absent_mask(a, (uint32_t)j);
			if (!m) {
				describe_expected(a, mask, (uint32_t)j, want, sizeof(want));
				EXPECT(0, "%s: %s iteration skips key%06u; expected %s", how, dirn,
				       (uint32_t)j, want);
			}
			mask = m;
		}
		unsigned m = mask & value_mask(a, k, vp, vl);
		if (!m) {
			describe_value(k, vp, vl, got, sizeof(got));
			describe_expected(a, mask, k, want, sizeof(want));
			EXPECT(0, "%s: %s iteration gives key%06u %s; expected %s", how, dirn, k,
			       got, want);
		}
		mask = m;
		prev = k;
		if (backward)
			lsm_iter_prev(it);
		else
			lsm_iter_next(it);
	}
	int st = lsm_iter_status(it);
	if (st) {
		EXPECT(a->errors_ok, "%s: %s iteration failed: %s: %s", how, dirn, lsm_strerror(st),
		       lsm_errmsg());
		(*errors)++;
	} else {
		/* A clean end: nothing may be left that the state holds. */
		for (int64_t j = backward ? prev - 1 : prev + 1; j >= 0 && j < (int64_t)a->nkeys;
		     j += backward ? -1 : 1) {
			unsigned m = mask & absent_mask(a, (uint32_t)j);
			if (!m) {
				describe_expected(a, mask, (uint32_t)j, want, sizeof(want));
				EXPECT(0, "%s: %s iteration ends before key%06u; expected %s", how,
				       dirn, (uint32_t)j, want);
			}
			mask = m;
		}
	}
	lsm_iter_free(it);
	return mask;
}

/* Gets and both iterations must all agree on one allowed state; returns the candidates. */
static unsigned check_contents(lsm_db *db, const allowed *a, const char *how, int *errors)
{
	unsigned mask = check_gets(db, a, how, errors);
	mask &= check_iter(db, a, 0, how, errors);
	mask &= check_iter(db, a, 1, how, errors);
	EXPECT(mask != 0, "%s: reads and iterations disagree on which state the db holds", how);
	return mask;
}

/* ---- the database every damage case starts from ---- */

typedef struct op {
	uint32_t key;
	int ver; /* -1: delete */
} tail_op;

typedef struct rec {
	int nops;
	tail_op ops[3];
} tail_rec;

typedef struct table_info {
	char name[32];
	uint64_t size;
	int level;
} table_info;

/* Where each record of a log (a WAL or the MANIFEST) lies. */
#define MAXRECS 512
typedef struct logmap {
	int n;
	uint64_t off[MAXRECS], end[MAXRECS]; /* [first fragment's header, end of the last) */
	size_t len[MAXRECS];		     /* payload bytes */
	uint64_t size;			     /* of the file */
} logmap;

typedef struct image {
	char *dir;
	int pre[NKEYS];	 /* the state before the WAL tail */
	int full[NKEYS]; /* after it */
	tail_rec recs[NTAIL];
	char wal[32], manifest[32];
	logmap wl, ml; /* wl.off[i]: tail record i */
	table_info tables[256];
	int ntables, deepest;
} image;

static void base_opts(lsm_options *o)
{
	lsm_options_init(o);
	o->memtable_bytes = 96 << 10;
	o->block_bytes = 1024;
	o->block_cache_bytes = 256 << 10;
	o->level_base_bytes = 64 << 10;
	o->level_multiplier = 4;
	o->target_file_bytes = 48 << 10;
	o->create_if_missing = 0;
}

static void put_ver(lsm_db *db, uint32_t k, int ver)
{
	char key[16];
	uint8_t v[VMAX];
	key_of(k, key);
	int rc = ver < 0 ? lsm_delete(db, NULL, key, KEYLEN)
			 : lsm_put(db, NULL, key, KEYLEN, v, value_of(k, ver, v));
	EXPECT(rc == 0, "writing key%06u: %s", k, lsm_errmsg());
}

static void write_rec(lsm_db *db, const tail_rec *r)
{
	if (r->nops == 1) {
		put_ver(db, r->ops[0].key, r->ops[0].ver);
		return;
	}
	lsm_batch *b = lsm_batch_new();
	for (int i = 0; i < r->nops; i++) {
		char key[16];
		uint8_t v[VMAX];
		key_of(r->ops[i].key, key);
		int rc = r->ops[i].ver < 0
				 ? lsm_batch_delete(b, key, KEYLEN)
				 : lsm_batch_put(b, key, KEYLEN, v,
						 value_of(r->ops[i].key, r->ops[i].ver, v));
		EXPECT(rc == 0, "batch: %s", lsm_errmsg());
	}
	EXPECT(lsm_write(db, NULL, b) == 0, "writing a batch: %s", lsm_errmsg());
	lsm_batch_free(b);
}

static void apply_rec(int *state, const tail_rec *r)
{
	for (int i = 0; i < r->nops; i++)
		state[r->ops[i].key] = r->ops[i].ver;
}

/* The state after the first n tail records. */
static void state_prefix(const image *img, int n, int *out)
{
	memcpy(out, img->pre, sizeof(img->pre));
	for (int i = 0; i < n; i++)
		apply_rec(out, &img->recs[i]);
}

/*
 * Waits until the background thread has nothing to do: no memtable waiting
 * for a flush and no level over its compaction trigger. A compaction in
 * flight keeps its inputs in the current version, so their score shows.
 */
static void wait_quiet(lsm_db *db, const lsm_options *o)
{
	for (int i = 0; i < 12000; i++) {
		lsm_stats st;
		lsm_stats_get(db, &st);
		int busy =
			st.immutable_memtables > 0 || st.level_files[0] >= o->l0_compaction_trigger;
		double target = (double)o->level_base_bytes;
		for (int l = 1; l < LSM_MAX_LEVELS - 1; l++) {
			busy |= (double)st.level_bytes[l] >= target;
			target *= o->level_multiplier;
		}
		EXPECT(!st.background_error, "background error: %s",
		       lsm_strerror(st.background_error));
		if (!busy)
			return;
		usleep(10000);
	}
	EXPECT(0, "the background work never settled");
}

static void shuffle(tu_rng *r, uint32_t *a, uint32_t n)
{
	for (uint32_t i = n - 1; i > 0; i--) {
		uint32_t j = (uint32_t)tu_below(r, i + 1), t = a[i];
		a[i] = a[j];
		a[j] = t;
	}
}

static void make_tail(image *img, tu_rng *r)
{
	uint32_t next_new = NOLD;
	memcpy(img->full, img->pre, sizeof(img->pre));
	for (int i = 0; i < NTAIL; i++) {
		tail_rec *rc = &img->recs[i];
		int ver = 2 + i;
		if (i == NTAIL - 1) {
			/* The last record puts a fresh key: losing it shows. */
			rc->nops = 1;
			rc->ops[0] = (tail_op){next_new++, ver};
		} else {
			rc->nops = tu_below(r, 10) >= 8 ? 3 : 1;
			for (int j = 0; j < rc->nops; j++) {
				uint64_t c = tu_below(r, 10);
				if (c < 4 && next_new < NKEYS - 1)
					rc->ops[j] = (tail_op){next_new++, ver};
				else if (c < 8)
					rc->ops[j] = (tail_op){(uint32_t)tu_below(r, NOLD), ver};
				else
					rc->ops[j] = (tail_op){(uint32_t)tu_below(r, next_new), -1};
			}
		}
		apply_rec(img->full, rc);
	}
}

/*
 * The fragments a record of len payload bytes starting at off is cut into
 * (the format drawn in wal.c): their header offsets go to hdr[], and the
 * record's end is returned.
 */
static uint64_t record_frags(uint64_t off, size_t len, uint64_t *hdr, int *nhdr)
{
	uint64_t pos = off;
	size_t left = len;
	*nhdr = 0;
	do {
		uint64_t room = LSM_WAL_BLOCK - pos % LSM_WAL_BLOCK;
		if (room < LSM_WAL_HEADER) {
			pos += room;
			room = LSM_WAL_BLOCK;
		}
		size_t frag = left < room - LSM_WAL_HEADER ? left : (size_t)(room - LSM_WAL_HEADER);
		EXPECT(*nhdr < 8, "a record of %zu bytes", len);
		hdr[(*nhdr)++] = pos;
		pos += LSM_WAL_HEADER + frag;
		left -= frag;
	} while (left > 0);
	return pos;
}

static void read_logmap(const char *dir, const char *name, logmap *m)
{
	lsm_wal_reader *r;
	lsm_slice rec;
	uint64_t off, hdr[8];
	int rc, nhdr;
	char *path = tu_path(dir, name);
	m->n = 0;
	EXPECT(lsm_wal_reader_open(lsm_env_posix(), path, 1, &r) == 0, "%s", lsm_errmsg());
	while ((rc = lsm_wal_read(r, &rec, &off)) == 1) {
		EXPECT(m->n < MAXRECS, "%s holds too many records", name);
		m->off[m->n] = off;
		m->len[m->n] = rec.len;
		m->end[m->n] = record_frags(off, rec.len, hdr, &nhdr);
		m->n++;
	}
	EXPECT(rc == 0, "reading the pristine %s: %s", name, lsm_errmsg());
	EXPECT(m->n > 0 && m->end[m->n - 1] == m->size, "%s: the last record ends at %llu of %llu",
	       name, (unsigned long long)(m->n ? m->end[m->n - 1] : 0),
	       (unsigned long long)m->size);
	lsm_wal_reader_close(r);
	free(path);
}

/* The record whose bytes hold off, or -1 for a block trailer. */
static int record_at(const logmap *m, uint64_t off)
{
	for (int i = 0; i < m->n; i++)
		if (off >= m->off[i] && off < m->end[i])
			return i;
	return -1;
}

static void copy_name(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	EXPECT(n < cap, "file name %s is too long", src);
	memcpy(dst, src, n + 1);
}

/* Lists the directory: one WAL, one MANIFEST, and only live tables (with their levels). */
static void map_files(image *img)
{
	lsm_version_set vs;
	lsm_options o;
	base_opts(&o);
	memset(&vs, 0, sizeof(vs));
	EXPECT(lsm_vset_recover(&vs, lsm_env_posix(), img->dir, &o) == 0, "%s", lsm_errmsg());
	DIR *d = opendir(img->dir);
	struct dirent *e;
	int nlogs = 0, nmanifests = 0;
	EXPECT(d != NULL, "opendir");
	while ((e = readdir(d)) != NULL) {
		uint64_t num = 0, size;
		struct stat sb;
		char *p = tu_path(img->dir, e->d_name);
		if (stat(p, &sb) || !S_ISREG(sb.st_mode)) {
			free(p);
			continue;
		}
		free(p);
		size = (uint64_t)sb.st_size;
		switch (lsm_parse_filename(e->d_name, &num)) {
		case LSM_FILE_LOG:
			copy_name(img->wal, sizeof(img->wal), e->d_name);
			img->wl.size = size;
			nlogs++;
			break;
		case LSM_FILE_MANIFEST:
			copy_name(img->manifest, sizeof(img->manifest), e->d_name);
			img->ml.size = size;
			nmanifests++;
			break;
		case LSM_FILE_TABLE: {
			int level = -1;
			for (int l = 0; l < LSM_MAX_LEVELS && level < 0; l++)
				for (int i = 0; i < vs.current->nfiles[l]; i++)
					if (vs.current->files[l][i]->number == num)
						level = l;
			EXPECT(level >= 0, "%s is not live", e->d_name);
			EXPECT(img->ntables < 256, "too many tables");
			table_info *t = &img->tables[img->ntables++];
			copy_name(t->name, sizeof(t->name), e->d_name);
			t->size = size;
			t->level = level;
			if (level > img->deepest)
				img->deepest = level;
			break;
		}
		default:
			break;
		}
	}
	closedir(d);
	lsm_vset_destroy(&vs);
	EXPECT(nlogs == 1 && nmanifests == 1, "%d WALs and %d MANIFESTs", nlogs, nmanifests);
}

static int tables_at(const image *img, int level)
{
	int n = 0;
	for (int i = 0; i < img->ntables; i++)
		n += img->tables[i].level == level;
	return n;
}

/*
 * Builds the database: NOLD keys in random order, settled into L1..Ln;
 * a quarter of them overwritten or deleted, flushed twice, the second
 * time into L0; then the WAL tail. Only the tail is left unflushed.
 */
static image *build_image(uint64_t salt)
{
	image *img = calloc(1, sizeof(*img));
	lsm_options o;
	lsm_db *db;
	tu_rng r;
	uint32_t order[NOLD];
	snprintf(g_case, sizeof(g_case), "building the database");
	tu_rng_init(&r, g_seed ^ salt);
	img->dir = tu_mkdtemp("corrupt-img");
	base_opts(&o);
	o.create_if_missing = 1;
	EXPECT(lsm_open(&db, img->dir, &o) == 0, "%s", lsm_errmsg());
	for (uint32_t i = 0; i < NKEYS; i++)
		img->pre[i] = -1;
	for (uint32_t i = 0; i < NOLD; i++)
		order[i] = i;
	shuffle(&r, order, NOLD);
	for (uint32_t i = 0; i < NOLD; i++) {
		put_ver(db, order[i], 0);
		img->pre[order[i]] = 0;
	}
	EXPECT(lsm_flush(db) == 0, "%s", lsm_errmsg());
	wait_quiet(db, &o);
	/*
	 * Two flushes of overwrites and deletions over the whole key range:
	 * the second overlaps the first, wherever a flush may place that, so
	 * it lands in L0 above older versions of the same keys.
	 */
	shuffle(&r, order, NOLD);
	for (uint32_t i = 0; i < NOLD / 4; i++) {
		int ver = i % 5 == 0 ? -1 : 1;
		put_ver(db, order[i], ver);
		img->pre[order[i]] = ver;
		if (i == NOLD / 8)
			EXPECT(lsm_flush(db) == 0, "%s", lsm_errmsg());
	}
	EXPECT(lsm_flush(db) == 0, "%s", lsm_errmsg());
	wait_quiet(db, &o);
	make_tail(img, &r);
	for (int i = 0; i < NTAIL; i++)
		write_rec(db, &img->recs[i]);
	lsm_stats st;
	lsm_stats_get(db, &st);
	EXPECT(st.immutable_memtables == 0, "the tail did not fit one memtable");
	EXPECT(lsm_close(db) == 0, "%s", lsm_errmsg());
	map_files(img);
	read_logmap(img->dir, img->wal, &img->wl);
	read_logmap(img->dir, img->manifest, &img->ml);
	EXPECT(img->wl.n == NTAIL, "the WAL holds %d records, the tail %d", img->wl.n, NTAIL);
	EXPECT(img->wl.size > LSM_WAL_BLOCK, "the WAL tail is only %llu bytes",
	       (unsigned long long)img->wl.size);
	EXPECT(tables_at(img, 0) > 0 && img->deepest >= 2,
	       "want tables in L0 and at least two deeper levels (deepest L%d, %d in L0)",
	       img->deepest, tables_at(img, 0));
	return img;
}

static void free_image(image *img)
{
	tu_rmtree(img->dir);
	free(img);
}

/* ---- damage ---- */

enum { KIND_WAL, KIND_TABLE, KIND_MANIFEST, KIND_CURRENT, NKINDS };
enum { DMG_FLIP, DMG_TRUNCATE, DMG_DELETE, NDMG };
static const char *const kind_name[] = {"WAL", "table", "MANIFEST", "CURRENT"};
static const char *const dmg_name[] = {"flipped byte", "truncation", "deletion"};
static int ncases[NKINDS][NDMG];

typedef struct damage {
	int kind, op;
	const char *file; /* base name */
	uint64_t off;	  /* DMG_FLIP: where; DMG_TRUNCATE: the new length */
	uint8_t mask;	  /* DMG_FLIP: xor'ed into the byte */
} damage;

static void copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	char buf[65536];
	size_t n;
	EXPECT(in && out, "copying %s", from);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		EXPECT(fwrite(buf, 1, n, out) == n, "writing %s", to);
	fclose(in);
	EXPECT(fclose(out) == 0, "closing %s", to);
}

static char *copy_db(const char *from)
{
	char *to = tu_mkdtemp("corrupt-case");
	DIR *d = opendir(from);
	struct dirent *e;
	EXPECT(d != NULL, "opendir %s", from);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char *a = tu_path(from, e->d_name), *b = tu_path(to, e->d_name);
		copy_file(a, b);
		free(a);
		free(b);
	}
	closedir(d);
	return to;
}

static void apply_damage(const char *dir, const damage *d)
{
	char *p = tu_path(dir, d->file);
	if (d->op == DMG_FLIP) {
		FILE *f = fopen(p, "r+b");
		int c;
		EXPECT(f != NULL, "opening %s", p);
		EXPECT(fseek(f, (long)d->off, SEEK_SET) == 0 && (c = fgetc(f)) != EOF,
		       "reading byte %llu", (unsigned long long)d->off);
		EXPECT(fseek(f, (long)d->off, SEEK_SET) == 0 && fputc(c ^ d->mask, f) != EOF,
		       "writing byte %llu", (unsigned long long)d->off);
		EXPECT(fclose(f) == 0, "closing %s", p);
	} else if (d->op == DMG_TRUNCATE) {
		EXPECT(truncate(p, (off_t)d->off) == 0, "truncating %s", p);
	} else {
		EXPECT(unlink(p) == 0, "deleting %s", p);
	}
	free(p);
}

/* What the directory holds (LOCK aside: it records the opener's pid). */
typedef struct dirsnap {
	int n;
	char name[256][32];
	uint64_t size[256], hash[256];
} dirsnap;

static uint64_t file_hash(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint64_t h = 14695981039346656037ull;
	int c;
	EXPECT(f != NULL, "opening %s", path);
	while ((c = fgetc(f)) != EOF)
		h = (h ^ (uint64_t)c) * 1099511628211ull;
	fclose(f);
	return h;
}

static void snap_dir(const char *dir, dirsnap *s)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	s->n = 0;
	EXPECT(d != NULL, "opendir %s", dir);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || !strcmp(e->d_name, "LOCK"))
			continue;
		EXPECT(s->n < 256 && strlen(e->d_name) < 32, "odd directory entry %s", e->d_name);
		char *p = tu_path(dir, e->d_name);
		struct stat sb;
		EXPECT(stat(p, &sb) == 0, "stat %s", p);
		copy_name(s->name[s->n], sizeof(s->name[s->n]), e->d_name);
		s->size[s->n] = (uint64_t)sb.st_size;
		s->hash[s->n] = file_hash(p);
		s->n++;
		free(p);
	}
	closedir(d);
}

/* Every file of before is still there, unchanged; with exact, nothing was added either. */
static void expect_kept(const dirsnap *before, const char *dir, int exact, const char *how)
{
	dirsnap *now = malloc(sizeof(*now));
	snap_dir(dir, now);
	for (int i = 0; i < before->n; i++) {
		int j = 0;
		while (j < now->n && strcmp(now->name[j], before->name[i]))
			j++;
		EXPECT(j < now->n, "%s removed %s", how, before->name[i]);
		EXPECT(now->size[j] == before->size[i] && now->hash[j] == before->hash[i],
		       "%s changed %s", how, before->name[i]);
	}
	if (exact)
		EXPECT(now->n == before->n, "%s created files (%d before, %d after)", how,
		       before->n, now->n);
	free(now);
}

/* ---- running one case ---- */

enum { OPEN_OK, OPEN_FAILS, OPEN_EITHER };

typedef struct rules {
	int open;	  /* OPEN_*, for every open of the case */
	int fail_rc;	  /* the code a failing open must give */
	int ro_fail_rc;	  /* nonzero: what a failing read-only open gives instead */
	const char *name; /* what the failure message and verify's reports must name */
	allowed a;	  /* the states the db may hold when it opens */
	int verify_ro;	  /* lsm_verify of a read-only open must report naming name */
	int verify_rw;	  /* same after a read-write open */
	int paranoid_rc;  /* nonzero: a paranoid read-only open must fail with this code */
	int paranoid_alt; /* or with this one */
	int create;	  /* open with create_if_missing */
} rules;

typedef struct vreport {
	const char *name;
	int n, named;
	char first[512];
} vreport;

static void on_report(void *arg, const char *file, uint64_t off, const char *msg)
{
	vreport *v = arg;
	if ((file && strstr(file, v->name)) || (msg && strstr(msg, v->name)))
		v->named = 1;
	if (!v->n++)
		snprintf(v->first, sizeof(v->first), "%s at %llu: %s", file ? file : "(null)",
			 (unsigned long long)off, msg ? msg : "(null)");
}

/*
 * Opens dir as the rules say; when it opens, checks contents and verify.
 * Returns 1 if it opened, with *mask the allowed states the db is in.
 */
static int open_and_check(const char *dir, const rules *r, int ro, int verify_must, unsigned *mask)
{
	lsm_options o;
	lsm_db *db;
	const char *how = ro ? "read-only open" : "read-write open";
	int want_rc = ro && r->ro_fail_rc ? r->ro_fail_rc : r->fail_rc;
	base_opts(&o);
	o.read_only = ro;
	o.create_if_missing = r->create;
	int rc = lsm_open(&db, dir, &o);
	if (rc) {
		const char *msg = lsm_errmsg();
		EXPECT(r->open != OPEN_OK, "%s failed: %s: %s", how, lsm_strerror(rc), msg);
		EXPECT(rc == want_rc, "%s failed with %s, not %s: %s", how, lsm_strerror(rc),
		       lsm_strerror(want_rc), msg);
		EXPECT(strstr(msg, r->name) != NULL, "%s: the message does not name %s: %s", how,
		       r->name, msg);
		return 0;
	}
	EXPECT(r->open != OPEN_FAILS, "%s succeeded; want %s naming %s", how, lsm_strerror(want_rc),
	       r->name);
	int errors = 0;
	unsigned m = check_gets(db, &r->a, how, &errors);
	m &= check_iter(db, &r->a, 0, how, &errors);
	m &= check_iter(db, &r->a, 1, how, &errors);
	EXPECT(m != 0, "%s: reads and iterations disagree on which state the db holds", how);
	*mask = m;
	vreport v = {.name = r->name};
	rc = lsm_verify(db, on_report, &v);
	EXPECT((rc == 0) == (v.n == 0), "%s: lsm_verify returned %d after %d reports", how, rc,
	       v.n);
	EXPECT(rc == 0 || rc == -LSM_ECORRUPT, "%s: lsm_verify: %s", how, lsm_errmsg());
	if (verify_must)
		EXPECT(v.named, "%s: lsm_verify did not report %s (%d reports; first: %s)", how,
		       r->name, v.n, v.n ? v.first : "none");
	if (errors)
		EXPECT(v.n > 0, "%s: %d reads failed, yet lsm_verify found nothing", how, errors);
	rc = lsm_close(db);
	EXPECT(rc <= 0, "%s: lsm_close returned %d", how, rc);
	return 1;
}

static void run_case(const image *img, const damage *d, const rules *r, const char *detail)
{
	char *dir = copy_db(img->dir);
	dirsnap *before = malloc(sizeof(*before));
	unsigned m_ro = 0, m_rw = 0, m_again = 0;
	lsm_db *db;
	snprintf(g_case, sizeof(g_case), "%s %s %s: %s", kind_name[d->kind], d->file,
		 dmg_name[d->op], detail);
	ncases[d->kind][d->op]++;
	apply_damage(dir, d);
	snap_dir(dir, before);

	if (r->paranoid_rc) {
		lsm_options o;
		base_opts(&o);
		o.read_only = 1;
		o.paranoid_checks = 1;
		int rc = lsm_open(&db, dir, &o);
		if (!rc)
			lsm_close(db);
		EXPECT(rc == r->paranoid_rc || (r->paranoid_alt && rc == r->paranoid_alt),
		       "paranoid open gave %s, not %s", lsm_strerror(rc),
		       lsm_strerror(r->paranoid_rc));
		EXPECT(strstr(lsm_errmsg(), r->name),
		       "paranoid open: the message does not name %s: %s", r->name, lsm_errmsg());
		expect_kept(before, dir, 1, "a failed paranoid open");
	}

	int ro = open_and_check(dir, r, 1, r->verify_ro, &m_ro);
	expect_kept(before, dir, 1, "a read-only open");

	int rw = open_and_check(dir, r, 0, r->verify_rw, &m_rw);
	EXPECT(ro == rw, "the read-only open %s, the read-write one %s", ro ? "worked" : "failed",
	       rw ? "worked" : "failed");
	if (rw) {
		EXPECT(m_ro & m_rw, "read-only and read-write opens show different states");
		/* What recovery kept is what the next open finds. */
		EXPECT(open_and_check(dir, r, 0, 0, &m_again), "reopening failed");
		EXPECT(m_rw & m_again, "the reopened db holds another state");
	} else {
		expect_kept(before, dir, 0, "a failed read-write open");
	}
	free(before);
	tu_rmtree(dir);
	snprintf(g_case, sizeof(g_case), "between cases");
}

static void print_counts(const char *test, double secs)
{
	printf("%s (%.1f s):", test, secs);
	for (int k = 0; k < NKINDS; k++)
		for (int o = 0; o < NDMG; o++)
			if (ncases[k][o])
				printf(" %s %s: %d;", kind_name[k], dmg_name[o], ncases[k][o]);
	printf("\n");
	fflush(stdout);
}

static double now_secs(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t random_mask(tu_rng *r)
{
	return (uint8_t)(1 + tu_below(r, 255));
}

/* ---- WAL ---- */

static void wal_flip(const image *img, uint64_t off, uint8_t mask, int *prefix_last)
{
	damage d = {KIND_WAL, DMG_FLIP, img->wal, off, mask};
	rules r = {.fail_rc = -LSM_ECORRUPT, .name = img->wal};
	char detail[160];
	int ri = record_at(&img->wl, off);
	r.a.nkeys = NKEYS;
	r.a.n = 1;
	if (ri < 0) {
		r.open = OPEN_OK;
		r.a.st[0] = img->full;
		r.a.name[0] = "all records";
	} else if (ri < NTAIL - 1) {
		/* A damaged length byte too: the records after it are still found. */
		r.open = OPEN_FAILS;
	} else {
		/* A damaged last record is a torn tail: dropped, and reported by verify. */
		r.open = OPEN_OK;
		r.a.st[0] = prefix_last;
		r.a.name[0] = "all records but the last";
		r.verify_ro = 1;
		r.paranoid_rc = -LSM_ECORRUPT;
	}
	snprintf(detail, sizeof(detail), "byte %llu ^= 0x%02x, %s %d of %d (at %llu, %zu bytes)",
		 (unsigned long long)off, mask, ri < 0 ? "trailer after record" : "record",
		 ri < 0 ? record_at(&img->wl, off - 1) : ri, NTAIL,
		 (unsigned long long)img->wl.off[ri < 0 ? 0 : ri], img->wl.len[ri < 0 ? 0 : ri]);
	run_case(img, &d, &r, detail);
}

START_TEST(test_wal_flipped_byte_before_the_last_record_fails_open_naming_the_log)
{
	double t0 = now_secs();
	image *img = build_image(1);
	const logmap *wl = &img->wl;
	int *last = malloc(sizeof(img->full));
	tu_rng r;
	tu_rng_init(&r, g_seed ^ 101);
	state_prefix(img, NTAIL - 1, last);
	/* Every header byte of a record in the first block and of one in the last block. */
	int mid = NTAIL / 4, late = NTAIL - 3;
	EXPECT(wl->off[mid] < LSM_WAL_BLOCK &&
		       wl->off[late] / LSM_WAL_BLOCK == (wl->size - 1) / LSM_WAL_BLOCK,
	       "records %d and %d are not where this test wants them", mid, late);
	for (int h = 0; h < LSM_WAL_HEADER; h++) {
		wal_flip(img, wl->off[mid] + (uint64_t)h, random_mask(&r), last);
		wal_flip(img, wl->off[late] + (uint64_t)h, random_mask(&r), last);
	}
	/* Random bytes of every record but the last. */
	for (int i = 0; i < 40 * tu_scale(); i++)
		wal_flip(img, tu_below(&r, wl->off[NTAIL - 1]), random_mask(&r), last);
	/* A block trailer, if the records left one. */
	for (int i = 0; i + 1 < NTAIL; i++)
		if (wl->end[i] < wl->off[i + 1]) {
			wal_flip(img, wl->end[i], random_mask(&r), last);
			break;
		}
	free(last);
	free_image(img);
	print_counts("WAL flips before the last record", now_secs() - t0);
}
END_TEST

START_TEST(test_wal_flipped_byte_in_the_last_record_drops_only_that_record)
{
	double t0 = now_secs();
	image *img = build_image(2);
	int *last = malloc(sizeof(img->full));
	tu_rng r;
	tu_rng_init(&r, g_seed ^ 102);
	state_prefix(img, NTAIL - 1, last);
	uint64_t start = img->wl.off[NTAIL - 1], len = img->wl.size - start;
	for (uint64_t h = 0; h < LSM_WAL_HEADER; h++)
		wal_flip(img, start + h, random_mask(&r), last);
	for (int i = 0; i < 10 * tu_scale(); i++)
		wal_flip(img, start + LSM_WAL_HEADER + tu_below(&r, len - LSM_WAL_HEADER),
			 random_mask(&r), last);
	free(last);
	free_image(img);
	print_counts("WAL flips in the last record", now_secs() - t0);
}
END_TEST

/* A WAL cut at len keeps exactly the records that end at or before len. */
static void wal_truncate(const image *img, uint64_t len, int *scratch)
{
	damage d = {KIND_WAL, DMG_TRUNCATE, img->wal, len, 0};
	rules r = {.open = OPEN_OK, .fail_rc = -LSM_ECORRUPT, .name = img->wal};
	char detail[128];
	int whole = 0;
	while (whole < NTAIL && img->wl.end[whole] <= len)
		whole++;
	/* At a record's end, or after the zero trailer of its block where the next one starts. */
	int boundary = len == 0 || (whole > 0 && img->wl.end[whole - 1] == len) ||
		       (whole < NTAIL && img->wl.off[whole] == len);
	state_prefix(img, whole, scratch);
	r.a = (allowed){.st = {scratch}, .name = {"the whole records"}, .n = 1, .nkeys = NKEYS};
	/* A cut inside a record is a torn tail: strict checks report it. */
	r.verify_ro = !boundary;
	r.paranoid_rc = boundary ? 0 : -LSM_ECORRUPT;
	snprintf(detail, sizeof(detail), "to %llu bytes of %llu (%d whole records)",
		 (unsigned long long)len, (unsigned long long)img->wl.size, whole);
	run_case(img, &d, &r, detail);
}

START_TEST(test_wal_truncated_keeps_exactly_the_whole_records)
{
	double t0 = now_secs();
	image *img = build_image(3);
	const logmap *wl = &img->wl;
	int *scratch = malloc(sizeof(img->full));
	tu_rng r;
	tu_rng_init(&r, g_seed ^ 103);
	int k = (int)tu_below(&r, NTAIL - 1);
	uint64_t lens[] = {0,
			   1,
			   LSM_WAL_HEADER - 1,
			   wl->end[k],
			   wl->end[k] + 3,
			   LSM_WAL_BLOCK,
			   wl->off[NTAIL - 1] + LSM_WAL_HEADER,
			   wl->size - 1,
			   tu_below(&r, wl->size)};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		wal_truncate(img, lens[i], scratch);
	free(scratch);
	free_image(img);
	print_counts("WAL truncations", now_secs() - t0);
}
END_TEST

START_TEST(test_wal_deleted_loses_only_the_unsynced_tail_or_fails_naming_it)
{
	double t0 = now_secs();
	image *img = build_image(4);
	damage d = {KIND_WAL, DMG_DELETE, img->wal, 0, 0};
	rules r = {.open = OPEN_EITHER, .fail_rc = -LSM_ECORRUPT, .name = img->wal};
	r.a = (allowed){.st = {img->pre}, .name = {"no tail"}, .n = 1, .nkeys = NKEYS};
	run_case(img, &d, &r, "the tail's only WAL");
	free_image(img);
	print_counts("WAL deletion", now_secs() - t0);
}
END_TEST

/* ---- tables ---- */

static void table_case(const image *img, const table_info *t, int how, uint64_t off, uint8_t mask)
{
	damage d = {KIND_TABLE, how, t->name, off, mask};
	/* Tables are read when needed, but an open that checks them may refuse. */
	rules r = {.open = OPEN_EITHER, .fail_rc = -LSM_ECORRUPT, .name = t->name};
	char detail[128];
	r.a = (allowed){
		.st = {img->full}, .name = {"everything"}, .n = 1, .nkeys = NKEYS, .errors_ok = 1};
	r.verify_ro = r.verify_rw = 1;
	r.paranoid_rc = -LSM_ECORRUPT;
	/* A table the MANIFEST lists is missing: corruption, or the env's -ENOENT naming it. */
	if (how == DMG_DELETE)
		r.paranoid_alt = -ENOENT;
	if (how == DMG_FLIP)
		snprintf(detail, sizeof(detail), "L%d, byte %llu of %llu ^= 0x%02x", t->level,
			 (unsigned long long)off, (unsigned long long)t->size, mask);
	else if (how == DMG_TRUNCATE)
		snprintf(detail, sizeof(detail), "L%d, to %llu of %llu bytes", t->level,
			 (unsigned long long)off, (unsigned long long)t->size);
	else
		snprintf(detail, sizeof(detail), "L%d", t->level);
	run_case(img, &d, &r, detail);
}

START_TEST(test_table_flipped_byte_never_yields_a_wrong_value)
{
	double t0 = now_secs();
	image *img = build_image(5);
	tu_rng r;
	tu_rng_init(&r, g_seed ^ 105);
	for (int i = 0; i < 40 * tu_scale(); i++) {
		const table_info *t = &img->tables[tu_below(&r, (uint64_t)img->ntables)];
		table_case(img, t, DMG_FLIP, tu_below(&r, t->size), random_mask(&r));
	}
	/* The footer and meta blocks of a few tables: the end of the file. */
	for (int i = 0; i < 10; i++) {
		const table_info *t = &img->tables[tu_below(&r, (uint64_t)img->ntables)];
		table_case(img, t, DMG_FLIP, t->size - 1 - tu_below(&r, 64), random_mask(&r));
	}
	free_image(img);
	print_counts("table flips", now_secs() - t0);
}
END_TEST

START_TEST(test_table_truncated_never_yields_a_wrong_value)
{
	double t0 = now_secs();
	image *img = build_image(6);
	tu_rng r;
	tu_rng_init(&r, g_seed ^ 106);
	for (int i = 0; i < 3; i++) {
		const table_info *t = &img->tables[tu_below(&r, (uint64_t)img->ntables)];
		uint64_t lens[] = {0, 1, t->size / 2, t->size - 1, tu_below(&r, t->size)};
		for (size_t j = 0; j < sizeof(lens) / sizeof(lens[0]); j++)
			table_case(img, t, DMG_TRUNCATE, lens[j], 0);
	}
	free_image(img);
	print_counts("table truncations", now_secs() - t0);
}
END_TEST

START_TEST(test_table_deleted_fails_reads_never_returns_older_values)
{
	double t0 = now_secs();
	image *img = build_image(7);
	/* An L0 table shadows older versions below; a bottom table has the only copy. */
	int done0 = 0, donen = 0;
	for (int i = 0; i < img->ntables; i++) {
		const table_info *t = &img->tables[i];
		if (t->level == 0 && !done0++)
			table_case(img, t, DMG_DELETE, 0, 0);
		if (t->level == img->deepest && !donen++)
			table_case(img, t, DMG_DELETE, 0, 0);
	}
	free_image(img);
	print_counts("table deletions", now_secs() - t0);
}
END_TEST

static void put_raw(lsm_db *db, const char *k, const void *v, size_t vlen)
{
	EXPECT(lsm_put(db, NULL, k, strlen(k), v, vlen) == 0, "put %s: %s", k, lsm_errmsg());
}

static void reverse_regression(const char *dir)
{
	lsm_options o;
	lsm_db *db;
	lsm_iter *it;
	size_t kl, vl;
	base_opts(&o);
	o.read_only = 1;
	EXPECT(lsm_open(&db, dir, &o) == 0, "%s", lsm_errmsg());
	it = lsm_iter_new(db, NULL);
	lsm_iter_seek_last(it);
	while (lsm_iter_valid(it)) {
		const char *k = lsm_iter_key(it, &kl), *v = lsm_iter_value(it, &vl);
		EXPECT(!(kl == 1 && k[0] == 'b') || (vl == 3 && !memcmp(v, "new", 3)),
		       "backward iteration gives b = %.14s, its older value (status: %s)", v,
		       lsm_strerror(lsm_iter_status(it)));
		lsm_iter_prev(it);
	}
	EXPECT(lsm_iter_status(it) == -LSM_ECORRUPT, "backward iteration ends with %s",
	       lsm_strerror(lsm_iter_status(it)));
	lsm_iter_free(it);
	lsm_close(db);
}

/*
 * Backward iteration must not take an error for the end of a key's run of
 * versions. The smallest case: b's old value is the last entry of
 * an older L0 table, alone in its block, whose previous block is damaged; b's
 * new value is in a newer table. Walking backward meets the old b first
 * (older versions sort after newer ones), then the damaged block.
 */
START_TEST(test_reverse_iteration_past_a_damaged_block_never_yields_an_older_version)
{
	char *dir = tu_mkdtemp("corrupt-reverse");
	lsm_options o;
	lsm_db *db;
	char v[300], *p;
	snprintf(g_case, sizeof(g_case), "backward past a damaged block");
	base_opts(&o);
	o.create_if_missing = 1;
	o.block_bytes = 256; /* each 300-byte value fills a block of its own */
	o.l0_compaction_trigger = o.l0_slowdown_trigger = 20;
	o.l0_stop_trigger = 24;
	EXPECT(lsm_open(&db, dir, &o) == 0, "%s", lsm_errmsg());
	memset(v, 'x', sizeof(v));
	for (int i = 0; i < 20; i++) {
		char k[8];
		snprintf(k, sizeof(k), "a%03d", i);
		put_raw(db, k, v, sizeof(v));
	}
	memcpy(v, "OLD-VALUE-OF-B", 14);
	put_raw(db, "b", v, sizeof(v));
	EXPECT(lsm_flush(db) == 0, "%s", lsm_errmsg());
	put_raw(db, "b", "new", 3);
	EXPECT(lsm_flush(db) == 0, "%s", lsm_errmsg());
	EXPECT(lsm_close(db) == 0, "%s", lsm_errmsg());

	/* The older table is the one holding the old value. */
	DIR *d = opendir(dir);
	struct dirent *e;
	int flipped = 0;
	while ((e = readdir(d)) != NULL) {
		uint64_t num;
		if (lsm_parse_filename(e->d_name, &num) != LSM_FILE_TABLE)
			continue;
		char *path = tu_path(dir, e->d_name);
		uint8_t *data;
		size_t len;
		EXPECT(lsm_env_read_all(lsm_env_posix(), path, &data, &len) == 0, "%s",
		       lsm_errmsg());
		p = memmem(data, len, "OLD-VALUE-OF-B", 14);
		if (p) {
			/* 40 bytes before the value: in the block before b's, a049's. */
			damage dm = {KIND_TABLE, DMG_FLIP, e->d_name,
				     (uint64_t)(p - (char *)data) - 40, 0x55};
			apply_damage(dir, &dm);
			flipped = 1;
		}
		free(data);
		free(path);
	}
	closedir(d);
	EXPECT(flipped, "the old value of b is in no table");
	reverse_regression(dir);
	tu_rmtree(dir);
}
END_TEST

/* ---- MANIFEST and CURRENT ---- */

static void manifest_case(const image *img, int how, uint64_t off, uint8_t mask)
{
	damage d = {KIND_MANIFEST, how, img->manifest, off, mask};
	rules r = {.open = OPEN_EITHER, .fail_rc = -LSM_ECORRUPT, .name = img->manifest};
	const logmap *ml = &img->ml;
	char detail[160];
	int ri = how == DMG_FLIP ? record_at(ml, off) : -1;
	r.a = (allowed){
		.st = {img->full}, .name = {"everything"}, .n = 1, .nkeys = NKEYS, .errors_ok = 1};
	if (how == DMG_DELETE) {
		r.open = OPEN_FAILS;
		snprintf(detail, sizeof(detail), "the MANIFEST named by CURRENT");
	} else {
		snprintf(detail, sizeof(detail),
			 "%s %llu of %llu bytes (record %d of %d, the last at %llu)",
			 how == DMG_FLIP ? "byte" : "to", (unsigned long long)off,
			 (unsigned long long)ml->size, ri, ml->n,
			 (unsigned long long)ml->off[ml->n - 1]);
	}
	run_case(img, &d, &r, detail);
}

START_TEST(test_manifest_flipped_byte_fails_open_or_loses_nothing)
{
	double t0 = now_secs();
	image *img = build_image(8);
	const logmap *ml = &img->ml;
	tu_rng r;
	tu_rng_init(&r, g_seed ^ 108);
	for (int i = 0; i < 20 * tu_scale(); i++)
		manifest_case(img, DMG_FLIP, tu_below(&r, ml->size), random_mask(&r));
	/* Every header byte of the first, a middle and the last record. */
	int recs[] = {0, ml->n / 2, ml->n - 1};
	for (int i = 0; i < 3; i++)
		for (int h = 0; h < LSM_WAL_HEADER; h++)
			manifest_case(img, DMG_FLIP, ml->off[recs[i]] + (uint64_t)h,
				      random_mask(&r));
	free_image(img);
	print_counts("MANIFEST flips", now_secs() - t0);
}
END_TEST

START_TEST(test_manifest_truncated_fails_open_or_loses_nothing)
{
	double t0 = now_secs();
	image *img = build_image(9);
	const logmap *ml = &img->ml;
	tu_rng r;
	tu_rng_init(&r, g_seed ^ 109);
	uint64_t lens[] = {0,
			   1,
			   LSM_WAL_HEADER,
			   ml->end[0],
			   ml->size / 2,
			   ml->off[ml->n - 1],
			   ml->off[ml->n - 1] + LSM_WAL_HEADER,
			   ml->size - 1,
			   tu_below(&r, ml->size)};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		manifest_case(img, DMG_TRUNCATE, lens[i], 0);
	free_image(img);
	print_counts("MANIFEST truncations", now_secs() - t0);
}
END_TEST

START_TEST(test_manifest_deleted_fails_open_naming_it)
{
	double t0 = now_secs();
	image *img = build_image(10);
	manifest_case(img, DMG_DELETE, 0, 0);
	free_image(img);
	print_counts("MANIFEST deletion", now_secs() - t0);
}
END_TEST

static void current_case(const image *img, int how, uint64_t off, uint8_t mask, int create,
			 int fail_rc)
{
	damage d = {KIND_CURRENT, how, "CURRENT", off, mask};
	rules r = {.open = OPEN_FAILS, .fail_rc = fail_rc, .name = "CURRENT", .create = create};
	char detail[128];
	/* A read-only open never creates: no CURRENT is no database, whatever else is there. */
	if (how == DMG_DELETE)
		r.ro_fail_rc = -LSM_ENOTDB;
	snprintf(detail, sizeof(detail), "%s %llu%s", how == DMG_FLIP ? "byte" : "to",
		 (unsigned long long)off, create ? ", create_if_missing" : "");
	run_case(img, &d, &r, detail);
}

START_TEST(test_current_damaged_fails_open_naming_current)
{
	double t0 = now_secs();
	image *img = build_image(11);
	tu_rng r;
	char *p = tu_path(img->dir, "CURRENT");
	struct stat sb;
	tu_rng_init(&r, g_seed ^ 111);
	EXPECT(stat(p, &sb) == 0, "stat CURRENT");
	uint64_t size = (uint64_t)sb.st_size;
	/* Every byte: no flip of "MANIFEST-<number>\n" names the live MANIFEST. */
	for (uint64_t off = 0; off < size; off++)
		current_case(img, DMG_FLIP, off, random_mask(&r), 0, -LSM_ECORRUPT);
	uint64_t lens[] = {0, 1, size - 1};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		current_case(img, DMG_TRUNCATE, lens[i], 0, 0, -LSM_ECORRUPT);
	free(p);
	free_image(img);
	print_counts("CURRENT flips and truncations", now_secs() - t0);
}
END_TEST

START_TEST(test_current_deleted_is_not_a_db_and_nothing_is_created_over_it)
{
	double t0 = now_secs();
	image *img = build_image(12);
	/* Without create_if_missing: no database here. */
	current_case(img, DMG_DELETE, 0, 0, 0, -LSM_ENOTDB);
	/* With it: the leftover files say the db is damaged; nothing may be created over them. */
	current_case(img, DMG_DELETE, 0, 0, 1, -LSM_ECORRUPT);
	free_image(img);
	print_counts("CURRENT deletions", now_secs() - t0);
}
END_TEST

/* ---- lsmctl ---- */

/* Runs "lsmctl DIR verify"; returns its exit status, its output in out. */
static int run_lsmctl_verify(const char *lsmctl, const char *dir, char *out, size_t cap)
{
	char *log = tu_path(dir, "..lsmctl.out");
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "'%s' '%s' verify >'%s' 2>&1", lsmctl, dir, log);
	int st = system(cmd);
	EXPECT(st != -1 && WIFEXITED(st), "running %s failed (status %d)", cmd, st);
	FILE *f = fopen(log, "r");
	size_t n = f ? fread(out, 1, cap - 1, f) : 0;
	out[n] = 0;
	if (f)
		fclose(f);
	unlink(log);
	free(log);
	return WEXITSTATUS(st);
}

START_TEST(test_lsmctl_verify_exits_nonzero_on_a_damaged_table)
{
	const char *top = getenv("top_builddir");
	char *lsmctl;
	char out[8192];
	if (!top || !*top) {
		printf("top_builddir is not set (not run by make check): lsmctl not tested\n");
		return;
	}
	lsmctl = tu_path(top, "lsm/lsmctl");
	if (access(lsmctl, X_OK)) {
		printf("%s is not built: not tested\n", lsmctl);
		free(lsmctl);
		return;
	}
	image *img = build_image(13);
	snprintf(g_case, sizeof(g_case), "lsmctl verify");
	char *good = copy_db(img->dir), *bad = copy_db(img->dir);
	int st = run_lsmctl_verify(lsmctl, good, out, sizeof(out));
	EXPECT(st == 0, "lsmctl verify of an intact db exited %d:\n%s", st, out);
	/* A data block in the middle of a table: found by reading every block. */
	const table_info *t = &img->tables[0];
	damage d = {KIND_TABLE, DMG_FLIP, t->name, t->size / 3, 0x40};
	apply_damage(bad, &d);
	st = run_lsmctl_verify(lsmctl, bad, out, sizeof(out));
	EXPECT(st != 0, "lsmctl verify of a damaged table exited 0:\n%s", out);
	EXPECT(strstr(out, t->name) != NULL, "lsmctl verify does not name %s:\n%s", t->name, out);
	printf("lsmctl verify: exit 0 on the intact db, %d on the damaged one\n", st);
	tu_rmtree(good);
	tu_rmtree(bad);
	free(lsmctl);
	free_image(img);
}
END_TEST

/* ---- full disk ---- */

#define EKEYS 500

/* The db's acknowledged state, and one write that failed and may or may not have landed. */
typedef struct ack_model {
	int acked[EKEYS];
	int maybe[EKEYS];
	int nmaybe;
	int next_ver;
} ack_model;

static void ack_init(ack_model *m)
{
	for (int i = 0; i < EKEYS; i++)
		m->acked[i] = m->maybe[i] = -1;
	m->nmaybe = 0;
	m->next_ver = 0;
}

/* Returns the states the db is consistent with: bit 0 acknowledged, bit 1 with the failed write. */
static unsigned ack_check(lsm_db *db, const ack_model *m, const char *how)
{
	allowed a = {.st = {m->acked, m->maybe},
		     .name = {"acknowledged", "with the failed write"},
		     .n = m->nmaybe ? 2 : 1,
		     .nkeys = EKEYS};
	int errors = 0;
	return check_contents(db, &a, how, &errors);
}

/* The error of a full disk, as the caller sees it. */
static int is_enospc(int rc, const char *msg)
{
	return rc == -ENOSPC ||
	       (rc == -LSM_EREADONLY && (strstr(msg, strerror(ENOSPC)) || strstr(msg, "ENOSPC")));
}

/* One put or delete of a random key. Applies it to the model if acknowledged. */
static int ack_write(lsm_db *db, tu_rng *r, ack_model *m, int sync)
{
	uint32_t k = (uint32_t)tu_below(r, EKEYS);
	int ver = tu_below(r, 8) == 0 ? -1 : m->next_ver++;
	char key[16];
	uint8_t v[VMAX];
	lsm_write_options wo = {.sync = sync};
	key_of(k, key);
	int rc = ver < 0 ? lsm_delete(db, &wo, key, KEYLEN)
			 : lsm_put(db, &wo, key, KEYLEN, v, value_of(k, ver, v));
	if (!rc) {
		m->acked[k] = ver;
	} else {
		/* A write that failed may still be in the log: allow both outcomes. */
		memcpy(m->maybe, m->acked, sizeof(m->acked));
		m->maybe[k] = ver;
		m->nmaybe = 1;
	}
	return rc;
}

static void expect_enospc(int rc, const char *what)
{
	const char *msg = lsm_errmsg();
	EXPECT(rc < 0, "%s succeeded with the disk full", what);
	EXPECT(is_enospc(rc, msg), "%s failed with %s, not ENOSPC: %s", what, lsm_strerror(rc),
	       msg);
}

/* Every table file in dir is live: a failed flush or compaction left no orphan behind. */
static void expect_no_orphans(lsm_db *db, const char *dir)
{
	lsm_stats st;
	int live = 0, files = 0;
	lsm_stats_get(db, &st);
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		live += st.level_files[l];
	DIR *d = opendir(dir);
	struct dirent *e;
	EXPECT(d != NULL, "opendir %s", dir);
	while ((e = readdir(d)) != NULL) {
		uint64_t num;
		files += lsm_parse_filename(e->d_name, &num) == LSM_FILE_TABLE;
	}
	closedir(d);
	EXPECT(files == live, "%d table files on disk, %d live", files, live);
}

/*
 * After the failure: close, free the space, reopen. Nothing acknowledged is
 * lost; the db writes, flushes and compacts again; a second reopen agrees.
 */
static void recover_and_write_again(const char *dir, lsm_options *o, lsm_env *fe, tu_rng *r,
				    ack_model *m)
{
	lsm_db *db;
	int rc;
	lsm_fault_clear(fe);
	rc = lsm_open(&db, dir, o);
	EXPECT(rc == 0, "reopen after freeing space: %s", lsm_errmsg());
	/* Whichever way the failed write went, that is the acknowledged state now. */
	if (!(ack_check(db, m, "after reopen") & 1))
		memcpy(m->acked, m->maybe, sizeof(m->acked));
	m->nmaybe = 0;
	for (int i = 0; i < 50; i++)
		EXPECT(ack_write(db, r, m, i == 49) == 0, "writing after reopen: %s", lsm_errmsg());
	EXPECT(lsm_flush(db) == 0, "flush after reopen: %s", lsm_errmsg());
	EXPECT(lsm_compact_range(db, NULL, 0, NULL, 0) == 0, "compaction after reopen: %s",
	       lsm_errmsg());
	ack_check(db, m, "writing again");
	EXPECT(lsm_close(db) == 0, "close: %s", lsm_errmsg());
	o->env = NULL;
	EXPECT(lsm_open(&db, dir, o) == 0, "second reopen: %s", lsm_errmsg());
	ack_check(db, m, "after the second reopen");
	EXPECT(lsm_verify(db, NULL, NULL) == 0, "verify: %s", lsm_errmsg());
	expect_no_orphans(db, dir);
	EXPECT(lsm_close(db) == 0, "close: %s", lsm_errmsg());
	o->env = fe;
}

static void enospc_opts(lsm_options *o, lsm_env *fe)
{
	lsm_options_init(o);
	o->env = fe;
	o->block_bytes = 1024;
	o->memtable_bytes = 256 << 10;
}

START_TEST(test_enospc_during_flush_is_reported_and_loses_nothing_acknowledged)
{
	char *dir = tu_mkdtemp("corrupt-enospc");
	lsm_env *fe = lsm_env_fault_new(lsm_env_posix());
	lsm_options o;
	lsm_db *db;
	ack_model *m = malloc(sizeof(*m));
	tu_rng r;
	lsm_stats st;
	tu_rng_init(&r, g_seed ^ 201);
	snprintf(g_case, sizeof(g_case), "ENOSPC during a flush");
	enospc_opts(&o, fe);
	ack_init(m);
	EXPECT(lsm_open(&db, dir, &o) == 0, "%s", lsm_errmsg());
	for (int i = 0; i < 800; i++)
		EXPECT(ack_write(db, &r, m, i % 100 == 99) == 0, "%s", lsm_errmsg());
	lsm_stats_get(db, &st);
	EXPECT(st.flushes == 0 && st.immutable_memtables == 0, "the writes already flushed");
	/* The table of ~100 KiB cannot fit. */
	lsm_fault_enospc_after(fe, 4096);
	expect_enospc(lsm_flush(db), "lsm_flush");
	lsm_stats_get(db, &st);
	EXPECT(st.background_error == -ENOSPC, "background error %d", st.background_error);
	/* Later writes are refused, saying why; reads still work. */
	expect_enospc(ack_write(db, &r, m, 0), "a write after the failed flush");
	ack_check(db, m, "after the failed flush");
	int rc = lsm_close(db);
	EXPECT(rc == 0 || is_enospc(rc, lsm_errmsg()), "close: %s", lsm_errmsg());
	recover_and_write_again(dir, &o, fe, &r, m);
	fe->destroy(fe);
	free(m);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_enospc_during_a_manual_compaction_fails_it_only_and_loses_nothing)
{
	char *dir = tu_mkdtemp("corrupt-enospc");
	lsm_env *fe = lsm_env_fault_new(lsm_env_posix());
	lsm_options o;
	lsm_db *db;
	ack_model *m = malloc(sizeof(*m));
	tu_rng r;
	lsm_stats st;
	tu_rng_init(&r, g_seed ^ 202);
	snprintf(g_case, sizeof(g_case), "ENOSPC during a compaction");
	enospc_opts(&o, fe);
	o.l0_compaction_trigger = 20;
	o.l0_slowdown_trigger = 20;
	o.l0_stop_trigger = 24;
	ack_init(m);
	EXPECT(lsm_open(&db, dir, &o) == 0, "%s", lsm_errmsg());
	for (int t = 0; t < 4; t++) {
		for (int i = 0; i < 300; i++)
			EXPECT(ack_write(db, &r, m, 0) == 0, "%s", lsm_errmsg());
		EXPECT(lsm_flush(db) == 0, "%s", lsm_errmsg());
	}
	lsm_stats_get(db, &st);
	int tables = 0;
	for (int l = 0; l < LSM_MAX_LEVELS; l++)
		tables += st.level_files[l];
	/* Wherever the flushes put them, overlapping tables are there to merge. */
	EXPECT(tables >= 2 && st.compactions == 0, "%d tables, %llu compactions", tables,
	       (unsigned long long)st.compactions);
	/* The merged output (~130 KiB) cannot fit. */
	lsm_fault_enospc_after(fe, 16 << 10);
	expect_enospc(lsm_compact_range(db, NULL, 0, NULL, 0), "lsm_compact_range");
	/* Its inputs are intact and its outputs gone: not a reason to stop writing. */
	lsm_stats_get(db, &st);
	EXPECT(st.background_error == 0, "background error %d", st.background_error);
	expect_no_orphans(db, dir);
	ack_check(db, m, "after the failed compaction");
	lsm_fault_clear(fe);
	for (int i = 0; i < 50; i++)
		EXPECT(ack_write(db, &r, m, i == 49) == 0,
		       "a write after the failed compaction: %s", lsm_errmsg());
	EXPECT(lsm_compact_range(db, NULL, 0, NULL, 0) == 0, "compaction with space back: %s",
	       lsm_errmsg());
	ack_check(db, m, "after the compaction with space back");
	int rc = lsm_close(db);
	EXPECT(rc == 0, "close: %s", lsm_errmsg());
	recover_and_write_again(dir, &o, fe, &r, m);
	fe->destroy(fe);
	free(m);
	tu_rmtree(dir);
}
END_TEST

/* Key i of table t of the background compaction case: every table spans the same range. */
static void bg_kv(int t, int i, char key[32], uint8_t v[200])
{
	snprintf(key, 32, "%05d-t%d", i, t);
	memset(v, 'a' + (t * 31 + i) % 26, 200);
}

static void bg_table(lsm_db *db, int t)
{
	char key[32];
	uint8_t v[200];
	for (int i = 0; i < 400; i++) {
		bg_kv(t, i, key, v);
		EXPECT(lsm_put(db, NULL, key, strlen(key), v, sizeof(v)) == 0, "put: %s",
		       lsm_errmsg());
	}
	EXPECT(lsm_flush(db) == 0, "flush of table %d: %s", t, lsm_errmsg());
}

static void bg_check(lsm_db *db, int tables, const char *how)
{
	char key[32];
	uint8_t v[200];
	for (int t = 0; t < tables; t++) {
		for (int i = 0; i < 400; i++) {
			void *got = NULL;
			size_t n = 0;
			bg_kv(t, i, key, v);
			int rc = lsm_get(db, NULL, key, strlen(key), &got, &n);
			EXPECT(rc == 0 && n == sizeof(v) && !memcmp(got, v, n), "%s: %s: rc %d %s",
			       how, key, rc, rc < 0 ? lsm_errmsg() : "");
			free(got);
		}
	}
}

/*
 * A compaction the background thread starts on its own meets a full disk:
 * it removes its outputs, sets no background error (writes go on), and
 * once there is room again it is retried and done.
 */
START_TEST(test_enospc_in_a_background_compaction_is_retried_once_space_is_back)
{
	char *dir = tu_mkdtemp("corrupt-enospc");
	lsm_env *fe = lsm_env_fault_new(lsm_env_posix());
	lsm_options o;
	lsm_db *db;
	lsm_stats st;
	uint64_t room = 1;
	snprintf(g_case, sizeof(g_case), "ENOSPC in a background compaction");
	enospc_opts(&o, fe);
	/* Writes stop at the L0 size that starts a compaction. */
	o.l0_compaction_trigger = 4;
	o.l0_slowdown_trigger = 4;
	o.l0_stop_trigger = 4;
	EXPECT(lsm_open(&db, dir, &o) == 0, "%s", lsm_errmsg());
	/* The first flushes may go below L0 (nothing overlaps them there yet). */
	int t = 0;
	for (st.level_files[0] = 0; t < 8 && st.level_files[0] < 3; t++) {
		bg_table(db, t);
		lsm_stats_get(db, &st);
	}
	EXPECT(st.level_files[0] == 3 && st.compactions == 0, "%d L0 tables, %llu compactions",
	       st.level_files[0], (unsigned long long)st.compactions);
	/* Room for the next table's log and flush, not for the merge of L0's four. */
	uint64_t table = st.level_bytes[0] / 3;
	lsm_fault_enospc_after(fe, 2 * table + table / 2);
	bg_table(db, t++);
	for (int i = 0; i < 500 && room; i++) {
		usleep(10000);
		EXPECT(fe->free_space(fe, dir, &room) == 0, "free_space");
	}
	EXPECT(room == 0, "the compaction never ran out of space");
	usleep(100000);
	lsm_stats_get(db, &st);
	EXPECT(st.background_error == 0, "background error %d", st.background_error);
	EXPECT(st.compactions == 0 && st.level_files[0] == 4, "%llu compactions, %d L0 tables",
	       (unsigned long long)st.compactions, st.level_files[0]);
	bg_check(db, t, "with the disk full");

	/*
	 * Space comes back. Until the retry (a second after the failure) a
	 * write that has to wait for that compaction fails with ENOSPC rather
	 * than wait for space; then the retry compacts L0 away.
	 */
	lsm_fault_clear(fe);
	EXPECT(lsm_put(db, NULL, "zz", 2, "v", 1) == 0, "a write that needs no room: %s",
	       lsm_errmsg());
	int rc = lsm_flush(db);
	EXPECT(rc == -ENOSPC, "a flush stopped behind the failed compaction: %d (%s)", rc,
	       lsm_errmsg());
	for (int i = 0; i < 500 && (st.compactions == 0 || st.level_files[0]); i++) {
		usleep(10000);
		lsm_stats_get(db, &st);
	}
	EXPECT(st.compactions > 0 && st.level_files[0] == 0,
	       "no compaction after space came back: %llu compactions, %d L0 tables",
	       (unsigned long long)st.compactions, st.level_files[0]);
	EXPECT(st.background_error == 0, "background error %d", st.background_error);
	bg_table(db, t++);
	bg_check(db, t, "after the retried compaction");
	expect_no_orphans(db, dir);
	EXPECT(lsm_close(db) == 0, "close: %s", lsm_errmsg());
	o.env = NULL;
	EXPECT(lsm_open(&db, dir, &o) == 0, "reopen: %s", lsm_errmsg());
	bg_check(db, t, "after reopen");
	EXPECT(lsm_close(db) == 0, "close: %s", lsm_errmsg());
	fe->destroy(fe);
	tu_rmtree(dir);
}
END_TEST

START_TEST(test_enospc_at_random_points_loses_nothing_acknowledged)
{
	int cycles = 10 * tu_scale(), hits = 0, in_table = 0, in_log = 0, in_manifest = 0;
	double t0 = now_secs();
	ack_model *m = malloc(sizeof(*m));
	tu_rng r;
	tu_rng_init(&r, g_seed ^ 203);
	for (int c = 0; c < cycles; c++) {
		char *dir = tu_mkdtemp("corrupt-enospc");
		lsm_env *fe = lsm_env_fault_new(lsm_env_posix());
		lsm_options o;
		lsm_db *db;
		int failed = 0;
		uint64_t budget = 2048 + tu_below(&r, 400 << 10);
		snprintf(g_case, sizeof(g_case), "ENOSPC after %llu bytes, cycle %d",
			 (unsigned long long)budget, c);
		enospc_opts(&o, fe);
		o.memtable_bytes = 16 << 10;
		o.target_file_bytes = 16 << 10;
		o.level_base_bytes = 32 << 10;
		o.l0_compaction_trigger = 2;
		ack_init(m);
		EXPECT(lsm_open(&db, dir, &o) == 0, "%s", lsm_errmsg());
		for (int i = 0; i < 150; i++)
			EXPECT(ack_write(db, &r, m, 0) == 0, "%s", lsm_errmsg());
		lsm_fault_enospc_after(fe, budget);
		for (int i = 0; i < 4000 && !failed; i++) {
			int rc = ack_write(db, &r, m, tu_below(&r, 20) == 0);
			if (!rc && i % 250 == 249)
				rc = lsm_flush(db);
			if (rc) {
				const char *msg = lsm_errmsg();
				expect_enospc(rc, "a write or flush");
				in_table += strstr(msg, ".sst") != NULL;
				in_log += strstr(msg, ".log") != NULL;
				in_manifest += strstr(msg, "MANIFEST") != NULL;
				failed = 1;
			}
		}
		hits += failed;
		ack_check(db, m, "before close");
		int rc = lsm_close(db);
		EXPECT(rc == 0 || is_enospc(rc, lsm_errmsg()), "close: %s", lsm_errmsg());
		recover_and_write_again(dir, &o, fe, &r, m);
		fe->destroy(fe);
		tu_rmtree(dir);
	}
	printf("ENOSPC at random points (%.1f s): %d cycles, the disk filled in %d: "
	       "%d in a table, %d in a WAL, %d in a MANIFEST\n",
	       now_secs() - t0, cycles, hits, in_table, in_log, in_manifest);
	snprintf(g_case, sizeof(g_case), "ENOSPC at random points");
	EXPECT(hits >= cycles / 2, "the disk filled in only %d of %d cycles", hits, cycles);
	/*
	 * A compaction that fills the disk is silent (retried later): the next
	 * write then fails in the WAL. The two cases above cover compactions.
	 */
	EXPECT(in_table + in_log > 0, "the disk never filled during a write or flush");
	free(m);
}
END_TEST

int main(void)
{
	g_seed = tu_seed();
	Suite *s = suite_create("corrupt");
	TCase *tw = tcase_create("wal");
	tcase_set_timeout(tw, 600);
	tcase_add_test(tw, test_wal_flipped_byte_before_the_last_record_fails_open_naming_the_log);
	tcase_add_test(tw, test_wal_flipped_byte_in_the_last_record_drops_only_that_record);
	tcase_add_test(tw, test_wal_truncated_keeps_exactly_the_whole_records);
	tcase_add_test(tw, test_wal_deleted_loses_only_the_unsynced_tail_or_fails_naming_it);
	suite_add_tcase(s, tw);
	TCase *tt = tcase_create("table");
	tcase_set_timeout(tt, 600);
	tcase_add_test(tt, test_table_flipped_byte_never_yields_a_wrong_value);
	tcase_add_test(tt, test_table_truncated_never_yields_a_wrong_value);
	tcase_add_test(tt, test_table_deleted_fails_reads_never_returns_older_values);
	tcase_add_test(tt,
		       test_reverse_iteration_past_a_damaged_block_never_yields_an_older_version);
	tcase_add_test(tt, test_lsmctl_verify_exits_nonzero_on_a_damaged_table);
	suite_add_tcase(s, tt);
	TCase *tm = tcase_create("manifest");
	tcase_set_timeout(tm, 600);
	tcase_add_test(tm, test_manifest_flipped_byte_fails_open_or_loses_nothing);
	tcase_add_test(tm, test_manifest_truncated_fails_open_or_loses_nothing);
	tcase_add_test(tm, test_manifest_deleted_fails_open_naming_it);
	tcase_add_test(tm, test_current_damaged_fails_open_naming_current);
	tcase_add_test(tm, test_current_deleted_is_not_a_db_and_nothing_is_created_over_it);
	suite_add_tcase(s, tm);
	TCase *te = tcase_create("enospc");
	tcase_set_timeout(te, 600);
	tcase_add_test(te, test_enospc_during_flush_is_reported_and_loses_nothing_acknowledged);
	tcase_add_test(te, test_enospc_during_a_manual_compaction_fails_it_only_and_loses_nothing);
	tcase_add_test(te, test_enospc_in_a_background_compaction_is_retried_once_space_is_back);
	tcase_add_test(te, test_enospc_at_random_points_loses_nothing_acknowledged);
	suite_add_tcase(s, te);
	return tu_run_suite(s);
}
