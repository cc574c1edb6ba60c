/*
 * corrupt_util.c — the harness the corruption suites share (check_corrupt_wal,
 * check_corrupt_table, check_corrupt_manifest; check_corrupt_space uses its
 * checks of contents). Each suite's file says what is right for its kind of
 * damage.
 *
 * Each damage test builds one database: tables on three or more levels, a
 * last flush whose L0 tables hold newer versions of keys that older tables
 * below still hold, and an unflushed WAL tail of NTAIL records (single puts,
 * deletes and three-operation batches) spanning more than one WAL block. The
 * history of every key is known. Each case copies the database, damages one
 * file (flips one byte, truncates it, or deletes it) and opens the copy
 * read-only, then read-write twice (so what recovery kept is what the next
 * open finds), and with paranoid_checks where the damage must be caught.
 *
 * Whenever the db opens, every key reads back as in one allowed state (a
 * negative error where reads may fail), and iteration both ways yields keys
 * and values of that same state only, skipping none unless it stops with an
 * error. A read-only open changes no file; a failed open loses none.
 */
#include "corrupt_util.h"

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
#include <time.h>
#include <unistd.h>

uint64_t g_seed;
char g_case[256];

void fail_at(int line, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ck_abort_msg("line %d: LSM_TEST_SEED=%llu [%s] %s", line, (unsigned long long)g_seed,
		     g_case, msg);
}

/* ---- keys, values and states ---- */

void key_of(uint32_t k, char out[16])
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
size_t value_of(uint32_t k, int ver, uint8_t *buf)
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

/*
 * Keys from, from + step, ... up to but not including to were not seen: the
 * states left in mask must hold none of them. what says how they were
 * passed over, for the message. Returns the states that do hold none.
 */
static unsigned absent_run(const allowed *a, unsigned mask, int64_t from, int64_t to, int step,
			   const char *how, const char *dirn, const char *what)
{
	char want[256];
	for (int64_t j = from; j != to; j += step) {
		unsigned m = mask & absent_mask(a, (uint32_t)j);
		if (!m) {
			describe_expected(a, mask, (uint32_t)j, want, sizeof(want));
			EXPECT(0, "%s: %s iteration %s key%06u; expected %s", how, dirn, what,
			       (uint32_t)j, want);
		}
		mask = m;
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
	int step = backward ? -1 : 1;
	while (lsm_iter_valid(it)) {
		size_t kl, vl;
		const void *kp = lsm_iter_key(it, &kl), *vp = lsm_iter_value(it, &vl);
		uint32_t k;
		EXPECT(key_parse(kp, kl, a->nkeys, &k),
		       "%s: %s iteration yields a key never written (%zu bytes)", how, dirn, kl);
		EXPECT(backward ? (int64_t)k < prev : (int64_t)k > prev,
		       "%s: %s iteration out of order at key%06u", how, dirn, k);
		mask = absent_run(a, mask, prev + step, (int64_t)k, step, how, dirn, "skips");
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
		mask = absent_run(a, mask, prev + step, backward ? -1 : (int64_t)a->nkeys, step,
				  how, dirn, "ends before");
	}
	lsm_iter_free(it);
	return mask;
}

/* Gets and both iterations must all agree on one allowed state; returns the candidates. */
unsigned check_contents(lsm_db *db, const allowed *a, const char *how, int *errors)
{
	unsigned mask = check_gets(db, a, how, errors);
	mask &= check_iter(db, a, 0, how, errors);
	mask &= check_iter(db, a, 1, how, errors);
	EXPECT(mask != 0, "%s: reads and iterations disagree on which state the db holds", how);
	return mask;
}

/* ---- the database every damage case starts from ---- */

void base_opts(lsm_options *o)
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
void state_prefix(const image *img, int n, int *out)
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
int record_at(const logmap *m, uint64_t off)
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
image *build_image(uint64_t salt)
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
	/*
	 * With some seeds the overwrites fill enough memtables to reach the L0
	 * trigger, and compaction empties L0 again; the L0 cases need a table
	 * there, so a few keys are written again (same versions) and flushed.
	 */
	for (int tries = 0; tries < 4; tries++) {
		lsm_stats st;
		lsm_stats_get(db, &st);
		if (st.level_files[0] > 0)
			break;
		for (uint32_t i = 0; i < 16; i++)
			put_ver(db, order[i], img->pre[order[i]]);
		EXPECT(lsm_flush(db) == 0, "%s", lsm_errmsg());
		wait_quiet(db, &o);
	}
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

void free_image(image *img)
{
	tu_rmtree(img->dir);
	free(img);
}

/* ---- damage ---- */

static const char *const kind_name[] = {"WAL", "table", "MANIFEST", "CURRENT"};
static const char *const dmg_name[] = {"flipped byte", "truncation", "deletion"};
static int ncases[NKINDS][NDMG];

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

char *copy_db(const char *from)
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

void apply_damage(const char *dir, const damage *d)
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
	*mask = check_contents(db, &r->a, how, &errors);
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

void run_case(const image *img, const damage *d, const rules *r, const char *detail)
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

void print_counts(const char *test, double secs)
{
	printf("%s (%.1f s):", test, secs);
	for (int k = 0; k < NKINDS; k++)
		for (int o = 0; o < NDMG; o++)
			if (ncases[k][o])
				printf(" %s %s: %d;", kind_name[k], dmg_name[o], ncases[k][o]);
	printf("\n");
	fflush(stdout);
}

double now_secs(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint8_t random_mask(tu_rng *r)
{
	return (uint8_t)(1 + tu_below(r, 255));
}
