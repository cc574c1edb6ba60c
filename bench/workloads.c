/*
 * workloads.c — the child's side of lsm-bench: one workload group on one
 * fresh database, through the adapter interface only.
 *
 * Keys are 16 ASCII digits. Key number i of a loaded database is the
 * zero-padded decimal of 2i; readmissing asks for 2i + 1, which falls
 * between two stored keys, so every table's key range holds it and only
 * the bloom filter (or a block read) can say it is absent.
 *
 * Values come from one buffer filled once, as db_bench fills it: every
 * 100-byte piece is 50 random printable bytes written twice, so a value
 * is about half compressible by LZ4 or Snappy. A value is the next
 * value_size bytes of that buffer, so consecutive values differ.
 *
 * Random choices come from splitmix64 streams seeded by (seed, repetition,
 * workload, thread): every engine sees the same key sequence in a
 * repetition.
 *
 * Latency: each operation's wall time, taken with CLOCK_MONOTONIC around
 * the call (the end of one operation is the start of the next, so the
 * loop's own few nanoseconds of key formatting are included, equally for
 * every engine).
 */
#include <config.h>

#include "bench.h"
#include "histogram.h"

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *const bench_wl_names[WL_COUNT] = {
	[WL_FILLSEQ] = "fillseq",	    [WL_FILLRANDOM] = "fillrandom",
	[WL_OVERWRITE] = "overwrite",	    [WL_READRANDOM] = "readrandom",
	[WL_READMISSING] = "readmissing",   [WL_READSEQ] = "readseq",
	[WL_READREVERSE] = "readreverse",   [WL_SEEKRANDOM] = "seekrandom",
	[WL_DELETERANDOM] = "deleterandom", [WL_READWHILEWRITING] = "readwhilewriting",
	[WL_FILLSYNC] = "fillsync",	    [WL_OVERWRITE2X] = "overwrite2x",
};

/* ---- time, randomness, keys, values ---- */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, n) without division (Lemire's multiply-shift). */
static uint64_t rand_below(uint64_t *s, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)splitmix64(s) * n) >> 64);
}

static uint64_t stream_seed(uint64_t seed, int rep, int wl, int thread)
{
	uint64_t s = seed ^ ((uint64_t)rep << 48) ^ ((uint64_t)wl << 32) ^ (uint64_t)thread;
	splitmix64(&s);
	return s;
}

/* The 16-digit zero-padded decimal of v; v < 10^16. */
static void fmt_key(char *k, uint64_t v)
{
	for (int i = BENCH_KEY_BYTES - 1; i >= 0; i--) {
		k[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

static char *value_buf;
static size_t value_buf_len, value_len;

void bench_values_init(size_t value_size, uint64_t seed)
{
	value_len = value_size;
	value_buf_len = 1u << 20;
	if (value_buf_len < 32 * value_size)
		value_buf_len = 32 * value_size;
	value_buf = malloc(value_buf_len + 100);
	if (!value_buf) {
		fprintf(stderr, "lsm-bench: out of memory for the value buffer\n");
		exit(2);
	}
	uint64_t s = seed ^ 0x76616c756573ull;
	for (size_t off = 0; off < value_buf_len; off += 100) {
		char *p = value_buf + off;
		for (int i = 0; i < 50; i++)
			p[i] = (char)(' ' + rand_below(&s, 95));
		memcpy(p + 50, p, 50);
	}
}

/* The next value of a stream; *pos walks the buffer. */
static const char *next_value(size_t *pos)
{
	if (*pos + value_len > value_buf_len)
		*pos = 0;
	const char *v = value_buf + *pos;
	*pos += value_len;
	return v;
}

/* ---- live-key bitmap (space amplification needs the live bytes) ---- */

struct bitmap {
	uint64_t *w;
	uint64_t n;
};

static int bitmap_init(struct bitmap *b, uint64_t n)
{
	b->n = n;
	b->w = calloc((n + 63) / 64, sizeof(uint64_t));
	return b->w ? 0 : -1;
}

static void bitmap_set(struct bitmap *b, uint64_t i, int on)
{
	if (on)
		b->w[i / 64] |= 1ull << (i % 64);
	else
		b->w[i / 64] &= ~(1ull << (i % 64));
}

static uint64_t bitmap_count(const struct bitmap *b)
{
	uint64_t c = 0;
	for (uint64_t i = 0; i < (b->n + 63) / 64; i++)
		c += (uint64_t)__builtin_popcountll(b->w[i]);
	return c;
}

/* ---- files ---- */

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)st;
	(void)f;
	if (remove(path) && errno != ENOENT) {
		fprintf(stderr, "lsm-bench: remove %s: %s\n", path, strerror(errno));
		return -1;
	}
	(void)type;
	return 0;
}

static int rm_rf(const char *dir)
{
	struct stat st;
	if (stat(dir, &st) && errno == ENOENT)
		return 0;
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) ? -1 : 0;
}

static uint64_t du_total;

static int du_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)path;
	(void)type;
	(void)f;
	du_total += (uint64_t)st->st_blocks * 512u;
	return 0;
}

/* Allocated bytes under dir, as du(1) counts them. */
static uint64_t du_bytes(const char *dir)
{
	du_total = 0;
	if (nftw(dir, du_one, 16, FTW_PHYS))
		return 0;
	return du_total;
}

/*
 * The process's write_bytes and cancelled_write_bytes from /proc/self/io:
 * bytes of page cache this process (all its threads) dirtied, and bytes of
 * those it truncated away before they were written back; and wchar, the
 * bytes it passed to write calls (which moves even when the pages written
 * were dirty already).
 */
static int read_proc_io3(uint64_t *write_bytes, uint64_t *cancelled, uint64_t *wchar)
{
	FILE *f = fopen("/proc/self/io", "r");
	char line[128];
	int got = 0;
	if (!f) {
		fprintf(stderr, "lsm-bench: /proc/self/io: %s\n", strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v;
		if (sscanf(line, "wchar: %llu", &v) == 1) {
			*wchar = v;
		} else if (sscanf(line, "write_bytes: %llu", &v) == 1) {
			*write_bytes = v;
			got |= 1;
		} else if (sscanf(line, "cancelled_write_bytes: %llu", &v) == 1) {
			*cancelled = v;
			got |= 2;
		}
	}
	fclose(f);
	if (got != 3) {
		fprintf(stderr, "lsm-bench: /proc/self/io lacks write_bytes\n");
		return -1;
	}
	return 0;
}

static int read_proc_io(uint64_t *write_bytes, uint64_t *cancelled)
{
	uint64_t wchar;
	return read_proc_io3(write_bytes, cancelled, &wchar);
}

/* ---- the idle wait ---- */

#define IDLE_POLL_NS  (100 * 1000 * 1000ull)
#define IDLE_QUIET_NS (3 * 1000 * 1000 * 1000ull)
#define IDLE_MAX_NS   (300 * 1000 * 1000 * 1000ull)

/*
 * Flushes the memtable, then waits until the engine's background work is
 * done: the engine reports none running or pending (busy()), its progress
 * number has not moved, and this process has written nothing, for
 * IDLE_QUIET_NS in a row. Three seconds, because liblsm starts its idle
 * work (merging L0 down, collecting value files) 2 s after the last write,
 * and an engine that cannot report pending work (LevelDB) is judged by its
 * writes alone. Gives up after IDLE_MAX_NS with a note. Returns 0, or -1
 * on an engine error.
 */
static int wait_idle(const struct bench_engine *e, bench_db *db, double *secs)
{
	uint64_t t0 = now_ns(), quiet_since = t0, last_prog = 0, last_wchar = 0;
	int first = 1;
	if (e->flush(db))
		return -1;
	for (;;) {
		uint64_t prog = 0, wb, cw, wchar;
		int busy = e->busy(db, &prog);
		if (busy < 0 || read_proc_io3(&wb, &cw, &wchar))
			return -1;
		uint64_t t = now_ns();
		if (first || busy || prog != last_prog || wchar != last_wchar)
			quiet_since = t;
		first = 0;
		last_prog = prog;
		last_wchar = wchar;
		if (t - quiet_since >= IDLE_QUIET_NS)
			break;
		if (t - t0 >= IDLE_MAX_NS) {
			fprintf(stderr,
				"lsm-bench: %s: still busy after %.0f s; measuring anyway\n",
				e->name, (double)IDLE_MAX_NS / 1e9);
			break;
		}
		struct timespec ts = {0, (long)IDLE_POLL_NS};
		nanosleep(&ts, NULL);
	}
	*secs = (double)(now_ns() - t0) / 1e9;
	return 0;
}

/* ---- workers ---- */

struct worker {
	const struct bench_engine *e;
	bench_db *db;
	const struct bench_config *cfg;
	int wl;
	int writer; /* readwhilewriting: this one writes until *stop */
	const volatile int *stop;
	uint64_t ops; /* operations to do */
	uint64_t rng;
	size_t vpos;
	struct bitmap *live;  /* updated by single-threaded writers; NULL otherwise */
	const uint64_t *perm; /* overwrite2x: the key numbers in the order written */
	pthread_barrier_t *start;
	/* results */
	struct histogram hist;
	uint64_t done, found, user_bytes;
	int err;
};

static int check_found(struct worker *w, int rc, size_t vlen, int want, uint64_t i)
{
	if (rc < 0)
		return -1;
	if (rc != want || (rc && vlen != w->cfg->value_size)) {
		fprintf(stderr, "lsm-bench: %s: %s: key number %" PRIu64 " %s (value %zu bytes)\n",
			w->e->name, bench_wl_names[w->wl], i,
			want ? (rc ? "has a wrong-sized value" : "is missing") : "is present",
			vlen);
		return -1;
	}
	w->found += (uint64_t)rc;
	return 0;
}

/* Puts (fill*, overwrite): key chooser by workload. */
static int run_puts(struct worker *w)
{
	uint64_t n = w->cfg->num, t = now_ns();
	int sync = w->wl == WL_FILLSYNC;
	char key[BENCH_KEY_BYTES];
	for (uint64_t op = 0; op < w->ops; op++) {
		uint64_t i = w->wl == WL_FILLSEQ ? op
			     : w->perm		 ? w->perm[op]
						 : rand_below(&w->rng, n);
		fmt_key(key, 2 * i);
		if (w->e->put(w->db, key, sizeof(key), next_value(&w->vpos), value_len, sync))
			return -1;
		if (w->live)
			bitmap_set(w->live, i, 1);
		uint64_t t1 = now_ns();
		hist_add(&w->hist, t1 - t);
		t = t1;
		w->done++;
		w->user_bytes += sizeof(key) + value_len;
	}
	return 0;
}

static int run_deletes(struct worker *w)
{
	uint64_t n = w->cfg->num, t = now_ns();
	char key[BENCH_KEY_BYTES];
	for (uint64_t op = 0; op < w->ops; op++) {
		uint64_t i = rand_below(&w->rng, n);
		fmt_key(key, 2 * i);
		if (w->e->del(w->db, key, sizeof(key), 0))
			return -1;
		if (w->live)
			bitmap_set(w->live, i, 0);
		uint64_t t1 = now_ns();
		hist_add(&w->hist, t1 - t);
		t = t1;
		w->done++;
		w->user_bytes += sizeof(key);
	}
	return 0;
}

/* readrandom, readmissing, and readwhilewriting's readers. */
static int run_gets(struct worker *w)
{
	uint64_t n = w->cfg->num, t = now_ns();
	int missing = w->wl == WL_READMISSING;
	char key[BENCH_KEY_BYTES];
	for (uint64_t op = 0; op < w->ops; op++) {
		uint64_t i = rand_below(&w->rng, n);
		size_t vlen = 0;
		fmt_key(key, 2 * i + (uint64_t)missing);
		int rc = w->e->get(w->db, key, sizeof(key), &vlen);
		if (check_found(w, rc, vlen, !missing, i))
			return -1;
		uint64_t t1 = now_ns();
		hist_add(&w->hist, t1 - t);
		t = t1;
		w->done++;
	}
	return 0;
}

/* readwhilewriting's writer: overwrites random keys until the readers finish. */
static int run_background_writes(struct worker *w)
{
	uint64_t n = w->cfg->num;
	char key[BENCH_KEY_BYTES];
	while (!*w->stop) {
		fmt_key(key, 2 * rand_below(&w->rng, n));
		if (w->e->put(w->db, key, sizeof(key), next_value(&w->vpos), value_len, 0))
			return -1;
		w->done++;
	}
	return 0;
}

/* readseq and readreverse: one iterator over the whole db, one op per step. */
static int run_scan(struct worker *w)
{
	int reverse = w->wl == WL_READREVERSE;
	bench_it *it = w->e->it_new(w->db);
	if (!it)
		return -1;
	uint64_t t = now_ns();
	if (reverse)
		w->e->it_last(it);
	else
		w->e->it_first(it);
	for (uint64_t op = 0; op < w->ops && w->e->it_valid(it); op++) {
		size_t klen, vlen;
		w->e->it_key(it, &klen);
		w->e->it_value(it, &vlen);
		if (klen != BENCH_KEY_BYTES || vlen != w->cfg->value_size) {
			fprintf(stderr, "lsm-bench: %s: %s: entry of %zu+%zu bytes\n", w->e->name,
				bench_wl_names[w->wl], klen, vlen);
			w->e->it_free(it);
			return -1;
		}
		if (reverse)
			w->e->it_prev(it);
		else
			w->e->it_next(it);
		uint64_t t1 = now_ns();
		hist_add(&w->hist, t1 - t);
		t = t1;
		w->done++;
		w->found++;
	}
	int rc = w->e->it_status(it);
	w->e->it_free(it);
	return rc;
}

/* seekrandom: one iterator; each op seeks to a random stored key and reads the entry. */
static int run_seeks(struct worker *w)
{
	uint64_t n = w->cfg->num;
	char key[BENCH_KEY_BYTES];
	bench_it *it = w->e->it_new(w->db);
	if (!it)
		return -1;
	uint64_t t = now_ns();
	for (uint64_t op = 0; op < w->ops; op++) {
		uint64_t i = rand_below(&w->rng, n);
		size_t klen = 0, vlen = 0;
		fmt_key(key, 2 * i);
		w->e->it_seek(it, key, sizeof(key));
		int ok = w->e->it_valid(it);
		if (ok) {
			const char *k = w->e->it_key(it, &klen);
			w->e->it_value(it, &vlen);
			ok = klen == sizeof(key) && !memcmp(k, key, klen);
		}
		if (check_found(w, ok ? 1 : w->e->it_status(it), vlen, 1, i)) {
			w->e->it_free(it);
			return -1;
		}
		uint64_t t1 = now_ns();
		hist_add(&w->hist, t1 - t);
		t = t1;
		w->done++;
	}
	w->e->it_free(it);
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	pthread_barrier_wait(w->start);
	int rc;
	if (w->writer)
		rc = run_background_writes(w);
	else {
		switch (w->wl) {
		case WL_FILLSEQ:
		case WL_FILLRANDOM:
		case WL_OVERWRITE:
		case WL_FILLSYNC:
		case WL_OVERWRITE2X:
			rc = run_puts(w);
			break;
		case WL_DELETERANDOM:
			rc = run_deletes(w);
			break;
		case WL_READRANDOM:
		case WL_READMISSING:
		case WL_READWHILEWRITING:
			rc = run_gets(w);
			break;
		case WL_READSEQ:
		case WL_READREVERSE:
			rc = run_scan(w);
			break;
		case WL_SEEKRANDOM:
			rc = run_seeks(w);
			break;
		default:
			rc = -1;
		}
	}
	w->err = rc;
	return NULL;
}

/*
 * Runs one timed workload with nthreads workers (plus readwhilewriting's
 * writer) and fills r's ops, time, latency and byte counts. The clock
 * starts when every worker is at the start barrier and stops when the
 * last (non-writer) worker is done.
 */
static int run_timed(const struct bench_engine *e, bench_db *db, const struct bench_config *cfg,
		     int wl, int nthreads, int rep, struct bitmap *live, struct bench_result *r)
{
	int writer = wl == WL_READWHILEWRITING, total = nthreads + writer, rc = 0;
	uint64_t ops;
	switch (wl) {
	case WL_FILLSYNC:
		ops = cfg->sync_num;
		break;
	case WL_OVERWRITE2X:
		ops = 2 * cfg->num;
		break;
	case WL_READRANDOM:
	case WL_READMISSING:
	case WL_SEEKRANDOM:
	case WL_READWHILEWRITING:
		ops = cfg->reads;
		break;
	default:
		ops = cfg->num;
	}
	struct worker *ws = calloc((size_t)total, sizeof(*ws));
	pthread_t *tids = calloc((size_t)total, sizeof(*tids));
	pthread_barrier_t start;
	volatile int stop = 0;
	uint64_t *perm = NULL;
	if (wl == WL_OVERWRITE2X && nthreads == 1) {
		/* Two passes, each over every key once in its own random order. */
		uint64_t s = stream_seed(cfg->seed, rep, wl, 1000);
		perm = malloc(2 * cfg->num * sizeof(*perm));
		for (uint64_t k = 0; perm && k < 2 * cfg->num; k++) {
			uint64_t pass = k / cfg->num * cfg->num,
				 j = pass + rand_below(&s, k - pass + 1);
			perm[k] = perm[j];
			perm[j] = k - pass;
		}
	}
	if (!ws || !tids || (wl == WL_OVERWRITE2X && !perm)) {
		fprintf(stderr, "lsm-bench: out of memory\n");
		free(ws);
		free(tids);
		free(perm);
		return -1;
	}
	pthread_barrier_init(&start, NULL, (unsigned)total + 1);
	for (int t = 0; t < total; t++) {
		struct worker *w = &ws[t];
		w->e = e;
		w->db = db;
		w->cfg = cfg;
		w->wl = wl;
		w->writer = t == nthreads;
		w->stop = &stop;
		/* Thread t does its share; the first ones take the remainder. */
		w->ops = ops / (uint64_t)nthreads + ((uint64_t)t < ops % (uint64_t)nthreads);
		w->rng = stream_seed(cfg->seed, rep, wl, t);
		w->vpos = (size_t)(w->rng % value_buf_len);
		w->live = nthreads == 1 && !w->writer ? live : NULL;
		w->perm = perm;
		w->start = &start;
		hist_init(&w->hist);
		if (pthread_create(&tids[t], NULL, worker_main, w)) {
			fprintf(stderr, "lsm-bench: cannot start thread %d\n", t);
			exit(2);
		}
	}
	pthread_barrier_wait(&start);
	uint64_t t0 = now_ns();
	for (int t = 0; t < nthreads; t++)
		pthread_join(tids[t], NULL);
	uint64_t t1 = now_ns();
	stop = 1;
	if (writer)
		pthread_join(tids[nthreads], NULL);
	pthread_barrier_destroy(&start);

	struct histogram h;
	hist_init(&h);
	snprintf(r->name, sizeof(r->name), "%s", bench_wl_names[wl]);
	if (wl == WL_FILLSYNC)
		snprintf(r->name, sizeof(r->name), "%s-%dt", bench_wl_names[wl], nthreads);
	r->wl = wl;
	r->threads = nthreads;
	r->secs = (double)(t1 - t0) / 1e9;
	for (int t = 0; t < total; t++) {
		struct worker *w = &ws[t];
		if (w->err)
			rc = -1;
		if (w->writer) {
			r->bg_ops = w->done;
			continue;
		}
		hist_merge(&h, &w->hist);
		r->ops += w->done;
		r->found += w->found;
		r->user_bytes += w->user_bytes;
	}
	r->p50_ns = hist_quantile(&h, 0.50);
	r->p99_ns = hist_quantile(&h, 0.99);
	r->p999_ns = hist_quantile(&h, 0.999);
	r->max_ns = h.max;
	free(ws);
	free(tids);
	free(perm);
	return rc;
}

/* ---- a group ---- */

static int is_write(int wl)
{
	return wl == WL_FILLSEQ || wl == WL_FILLRANDOM || wl == WL_OVERWRITE ||
	       wl == WL_DELETERANDOM || wl == WL_FILLSYNC || wl == WL_OVERWRITE2X;
}

/*
 * reads-after-overwrite's preparation: overwrites num random keys (the
 * stream overwrite uses), untimed, and waits for the engine to be idle;
 * no manual compaction.
 */
static int overwrite_untimed(const struct bench_engine *e, bench_db *db,
			     const struct bench_config *cfg, int rep, struct bench_result *r)
{
	char key[BENCH_KEY_BYTES];
	uint64_t s = stream_seed(cfg->seed, rep, WL_OVERWRITE, 0);
	size_t vpos = (size_t)(s % value_buf_len);
	uint64_t t0 = now_ns();
	for (uint64_t op = 0; op < cfg->num; op++) {
		fmt_key(key, 2 * rand_below(&s, cfg->num));
		if (e->put(db, key, sizeof(key), next_value(&vpos), value_len, 0))
			return -1;
	}
	r->load_secs += (double)(now_ns() - t0) / 1e9;
	return wait_idle(e, db, &r->idle_secs);
}

/* Loads keys 0..num-1 in order (untimed), then compacts fully. */
static int preload(const struct bench_engine *e, bench_db *db, const struct bench_config *cfg,
		   struct bitmap *live, struct bench_result *r)
{
	char key[BENCH_KEY_BYTES];
	size_t vpos = 0;
	uint64_t t0 = now_ns();
	for (uint64_t i = 0; i < cfg->num; i++) {
		fmt_key(key, 2 * i);
		if (e->put(db, key, sizeof(key), next_value(&vpos), value_len, 0))
			return -1;
		bitmap_set(live, i, 1);
	}
	uint64_t t1 = now_ns();
	if (e->compact(db))
		return -1;
	r->load_secs = (double)(t1 - t0) / 1e9;
	r->compact_secs = (double)(now_ns() - t1) / 1e9;
	return 0;
}

/* Reopens the db, compacts it fully, closes it and measures what is left. */
static int measure_space(const struct bench_engine *e, const char *dir,
			 const struct bench_config *cfg, const struct bitmap *live,
			 struct bench_result *r)
{
	bench_db *db;
	if (e->open(dir, &cfg->opts, &db))
		return -1;
	uint64_t t0 = now_ns();
	int rc = e->compact(db);
	r->compact_secs = (double)(now_ns() - t0) / 1e9;
	if (e->close(db) || rc)
		return -1;
	r->du_bytes = du_bytes(dir);
	r->live_bytes = bitmap_count(live) * (BENCH_KEY_BYTES + cfg->value_size);
	return 0;
}

int bench_run_group(const struct bench_engine *e, const struct bench_config *cfg,
		    const struct bench_group *g, int rep, struct bench_result *res, int *nres)
{
	char dir[4096];
	bench_db *db = NULL;
	struct bitmap live;
	struct bench_result prep;
	int rc = -1;

	memset(&prep, 0, sizeof(prep));
	*nres = 0;
	snprintf(dir, sizeof(dir), "%s/%s-%s", cfg->dir, e->name, g->name);
	if (rm_rf(dir) || bitmap_init(&live, cfg->num))
		return -1;
	if (e->open(dir, &cfg->opts, &db))
		goto out;
	if (g->preload && preload(e, db, cfg, &live, &prep))
		goto out;
	if (g->after_overwrite && overwrite_untimed(e, db, cfg, rep, &prep))
		goto out;

	for (int k = 0; k < g->nwl; k++) {
		struct bench_result *r = &res[(*nres)++];
		uint64_t w0 = 0, c0 = 0, w1 = 0, c1 = 0;
		int wl = g->wl[k];
		memset(r, 0, sizeof(*r));
		r->load_secs = prep.load_secs;
		r->compact_secs = prep.compact_secs;
		r->idle_secs = prep.idle_secs;
		if (g->measure_write && read_proc_io(&w0, &c0))
			goto out;
		if (run_timed(e, db, cfg, wl, g->threads, rep, &live, r))
			goto out;
		if (g->after_overwrite) {
			size_t used = strlen(r->name);
			snprintf(r->name + used, sizeof(r->name) - used, "-after-overwrite");
		}
		if (!g->measure_write || !is_write(wl))
			continue;
		/*
		 * The window closes once the engine is idle (wait_idle: memtable
		 * flushed, background flushes, compactions and value-file
		 * collection done) and closed: what the workload made the engine
		 * write is then in the page cache and counted (write_bytes counts
		 * at the time a page is dirtied).
		 */
		if (wait_idle(e, db, &r->idle_secs))
			goto out;
		int crc = e->close(db);
		db = NULL;
		if (crc || read_proc_io(&w1, &c1))
			goto out;
		r->io_write_bytes = w1 - w0;
		r->io_cancelled_bytes = c1 - c0;
		if (g->measure_space && measure_space(e, dir, cfg, &live, r))
			goto out;
		if (g->measure_idle_space) {
			r->du_bytes = du_bytes(dir);
			r->live_bytes = bitmap_count(&live) * (BENCH_KEY_BYTES + cfg->value_size);
		}
		if (k + 1 < g->nwl && e->open(dir, &cfg->opts, &db))
			goto out;
	}
	rc = 0;
out:
	if (db && e->close(db))
		rc = -1;
	if (!rc && rm_rf(dir))
		rc = -1;
	free(live.w);
	return rc;
}
