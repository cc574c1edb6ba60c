/*
 * check_crash.c — what liblsm acknowledged survives crashes and I/O errors.
 *
 * Three kinds of crash, each against a model of the acknowledged batches:
 *
 *  - power cut: the fault env forgets every byte not synced, at an exact
 *    I/O call chosen at random (a WAL append, a table write, a MANIFEST
 *    sync, a rename, ... in the foreground or in a background flush or
 *    compaction, or during the recovery of the previous cut). After reopening
 *    the database must hold exactly the state after some prefix of the
 *    batches: at least up to the last one acknowledged with sync, at most up
 *    to the last one attempted;
 *  - SIGKILL of a child process that writes without sync: the OS keeps what
 *    was written, so every acknowledged batch must be there, and again the
 *    state is a prefix (at most one batch past the last acknowledgement);
 *  - injected write errors, failed fsyncs, short writes and a full disk in
 *    the middle of a workload with flushes and compactions: writes fail
 *    with an I/O error or -LSM_EREADONLY, but after close, clearing the
 *    fault and reopening, everything acknowledged is there and the database
 *    works again.
 *
 * Keys are ids in a small space; a value is derived from (batch number, id),
 * so any value read back names the batch that wrote it and can be checked
 * byte for byte. Set LSM_TEST_SEED to replay a failure.
 *
 * Built twice: check_crash, and check_crash_blob (CRASH_BLOBS) with most
 * values separated into value files and collection running eagerly, which
 * adds a case where each I/O call of a collection run fails in turn.
 */
#include "cutenv.h"
#include "env.h"
#include "lsm.h"
#include "testutil.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NKEYS	 400
#define MAX_OPS	 10
#define MAX_VLEN 8192

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- keys, values, batches ---- */

static uint64_t mix(uint64_t a, uint64_t b)
{
	uint64_t h =
		a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull) * 0xbf58476d1ce4e5b9ull;
	h ^= h >> 31;
	h *= 0xd6e8feb86659fd93ull;
	return h ^ (h >> 32);
}

static size_t key_of(char *out, unsigned id)
{
	return (size_t)sprintf(out, "key-%04u", id);
}

/* Parses a key back to its id; -1 if it is none of ours. */
static int id_of(const void *key, size_t kl)
{
	char buf[16];
	if (kl != 8 || memcmp(key, "key-", 4))
		return -1;
	memcpy(buf, key, 8);
	buf[8] = 0;
	int id = atoi(buf + 4);
	char again[16];
	if (id < 0 || id >= NKEYS || key_of(again, (unsigned)id) != 8 || memcmp(again, buf, 8))
		return -1;
	return id;
}

/* The value batch ver writes to id: [ver:4][id:2] then bytes derived from both. */
static size_t value_of(unsigned char *out, uint32_t ver, unsigned id)
{
	uint64_t h = mix(ver, id);
	size_t len = 6 + (h % 20 == 0 ? h % (MAX_VLEN - 6) : h % 700);
	memcpy(out, &ver, 4);
	out[4] = (unsigned char)(id >> 8);
	out[5] = (unsigned char)id;
	tu_rng r;
	tu_rng_init(&r, h);
	tu_fill(&r, out + 6, len - 6);
	return len;
}

/* One batch as the model sees it: ver[i] is the batch number for a put, 0 for a delete. */
struct wbatch {
	int n;
	uint16_t id[MAX_OPS];
	uint32_t ver[MAX_OPS];
};

/* A batch numbered num, drawn from rng; the same id may come twice (the last one wins). */
static void gen_batch_in(tu_rng *rng, uint32_t num, struct wbatch *wb, unsigned id0, unsigned nid)
{
	wb->n = 1 + (int)tu_below(rng, MAX_OPS);
	for (int i = 0; i < wb->n; i++) {
		wb->id[i] = (uint16_t)(id0 + tu_below(rng, nid));
		wb->ver[i] = tu_below(rng, 5) ? num : 0;
	}
}

static void gen_batch(tu_rng *rng, uint32_t num, struct wbatch *wb)
{
	gen_batch_in(rng, num, wb, 0, NKEYS);
}

static lsm_batch *to_lsm_batch(const struct wbatch *wb, unsigned char *scratch)
{
	lsm_batch *b = lsm_batch_new();
	char key[16];
	ck_assert_ptr_nonnull(b);
	for (int i = 0; i < wb->n; i++) {
		size_t kl = key_of(key, wb->id[i]);
		if (wb->ver[i])
			ck_assert_int_eq(lsm_batch_put(b, key, kl, scratch,
						       value_of(scratch, wb->ver[i], wb->id[i])),
					 0);
		else
			ck_assert_int_eq(lsm_batch_delete(b, key, kl), 0);
	}
	return b;
}

static void apply(uint32_t *state, const struct wbatch *wb)
{
	for (int i = 0; i < wb->n; i++)
		state[wb->id[i]] = wb->ver[i];
}

/*
 * Reads the whole database into got[id] (the batch number of the value, 0 if
 * absent), by a scan and by point gets, which must agree; every value is
 * checked byte for byte against the batch it names.
 */
static void read_state(lsm_db *db, uint32_t *got, uint64_t seed, const char *when)
{
	unsigned char *scratch = malloc(MAX_VLEN);
	char key[16];
	memset(got, 0, NKEYS * sizeof(*got));
	lsm_iter *it = lsm_iter_new(db, NULL);
	ck_assert_ptr_nonnull(it);
	int prev = -1;
	for (lsm_iter_seek_first(it); lsm_iter_valid(it); lsm_iter_next(it)) {
		size_t kl, vl;
		const void *k = lsm_iter_key(it, &kl);
		const unsigned char *v = lsm_iter_value(it, &vl);
		int id = id_of(k, kl);
		ck_assert_msg(id > prev,
			      "LSM_TEST_SEED=%llu: scan found an unknown or unordered key "
			      "of %zu bytes after id %d",
			      (unsigned long long)seed, kl, prev);
		prev = id;
		uint32_t ver;
		ck_assert_msg(vl >= 6, "LSM_TEST_SEED=%llu: key %d has a %zu-byte value",
			      (unsigned long long)seed, id, vl);
		memcpy(&ver, v, 4);
		size_t el = value_of(scratch, ver, (unsigned)id);
		ck_assert_msg(ver != 0 && el == vl && !memcmp(scratch, v, vl),
			      "LSM_TEST_SEED=%llu: key %d holds a damaged value (claims batch %u)",
			      (unsigned long long)seed, id, ver);
		got[id] = ver;
	}
	ck_assert_msg(lsm_iter_status(it) == 0, "LSM_TEST_SEED=%llu %s: scan stopped: %s (%s)",
		      (unsigned long long)seed, when, lsm_strerror(lsm_iter_status(it)),
		      lsm_errmsg());
	lsm_iter_free(it);
	for (unsigned id = 0; id < NKEYS; id++) {
		void *v = NULL;
		size_t vl = 0;
		int rc = lsm_get(db, NULL, key, key_of(key, id), &v, &vl);
		ck_assert_msg(rc == 0 || rc == LSM_NOTFOUND,
			      "LSM_TEST_SEED=%llu %s: get %s: %s (%s)", (unsigned long long)seed,
			      when, key, lsm_strerror(rc), lsm_errmsg());
		uint32_t ver = 0;
		if (rc == 0)
			memcpy(&ver, v, 4);
		ck_assert_msg(ver == got[id],
			      "LSM_TEST_SEED=%llu: get %s gives batch %u, the scan gave %u",
			      (unsigned long long)seed, key, ver, got[id]);
		free(v);
	}
	free(scratch);
}

/*
 * The k in [lo, hi] such that base with batches b[0..k) applied equals got on
 * the keys [id0, id1), or -1. On -1, *best_k and *best_miss say which prefix
 * came closest.
 */
static long find_prefix_in(const uint32_t *base, const struct wbatch *b, long lo, long hi,
			   const uint32_t *got, unsigned id0, unsigned id1, long *best_k,
			   long *best_miss)
{
	uint32_t cur[NKEYS];
	long miss = 0;
	memcpy(cur, base, sizeof(cur));
	for (unsigned i = id0; i < id1; i++)
		miss += cur[i] != got[i];
	*best_k = -1;
	*best_miss = NKEYS + 1;
	for (long k = 0;; k++) {
		if (k >= lo && miss < *best_miss) {
			*best_miss = miss;
			*best_k = k;
		}
		if (k >= lo && miss == 0)
			return k;
		if (k == hi)
			return -1;
		for (int i = 0; i < b[k].n; i++) {
			unsigned id = b[k].id[i];
			miss -= cur[id] != got[id];
			cur[id] = b[k].ver[i];
			miss += cur[id] != got[id];
		}
	}
}

static long find_prefix(const uint32_t *base, const struct wbatch *b, long lo, long hi,
			const uint32_t *got, long *best_k, long *best_miss)
{
	return find_prefix_in(base, b, lo, hi, got, 0, NKEYS, best_k, best_miss);
}

/* Prints which keys in [id0, id1) differ between got and base + b[0..k). */
static void print_diff_in(const uint32_t *base, const struct wbatch *b, long k, const uint32_t *got,
			  unsigned id0, unsigned id1)
{
	uint32_t cur[NKEYS];
	int shown = 0;
	memcpy(cur, base, sizeof(cur));
	for (long i = 0; i < k; i++)
		apply(cur, &b[i]);
	for (unsigned id = id0; id < id1 && shown < 10; id++) {
		if (cur[id] != got[id]) {
			printf("  key-%04u: model after %ld batches has batch %u, db has batch "
			       "%u\n",
			       id, k, cur[id], got[id]);
			shown++;
		}
	}
}

static void print_diff(const uint32_t *base, const struct wbatch *b, long k, const uint32_t *got)
{
	print_diff_in(base, b, k, got, 0, NKEYS);
}

/* ---- power cut ---- */

static void crash_options(lsm_options *o, lsm_env *env)
{
	lsm_options_init(o);
	o->memtable_bytes = 32 * 1024;
	o->level_base_bytes = 128 * 1024;
	o->target_file_bytes = 32 * 1024;
	o->block_bytes = 1024;
	o->env = env;
#ifdef CRASH_BLOBS
	/*
	 * check_crash_blob: the same cases with most values separated (values
	 * are 6 to 8192 bytes, mostly under 700), value files cut at 64 KiB so
	 * WALs retire often, and collection unpaced and eager, so that cuts and
	 * faults land in value-file writes, reads and collection too.
	 */
	o->blob_threshold = 128;
	o->blob_file_bytes = 64 * 1024;
	o->blob_gc_ratio = 0.3;
	o->blob_gc_bytes_per_sec = 0;
#endif
}

#define MAX_BATCHES 64

START_TEST(test_power_cut_keeps_synced_batches_and_leaves_a_prefix)
{
	uint64_t seed = tu_seed() ^ 0xc0ffee;
	tu_rng rng;
	tu_rng_init(&rng, seed);
	char *dir = tu_mkdtemp("crash-power");
	cut_env *ce = cut_env_new();
	lsm_options o;
	crash_options(&o, &ce->iface);
	lsm_db *db;
	ck_assert_int_eq(lsm_open(&db, dir, &o), 0);
	static struct wbatch batches[MAX_BATCHES];
	uint32_t base[NKEYS] = {0}, got[NKEYS];
	unsigned char *scratch = malloc(MAX_VLEN);
	uint32_t next_num = 1;
	int cycles = 300 * tu_scale();
	int cut_in_workload = 0, cut_in_recovery = 0, lost_unsynced = 0;
	double t0 = now();
	cut_tally where;
	memset(&where, 0, sizeof(where));
	for (int cyc = 0; cyc < cycles; cyc++) {
		int nb = 1 + (int)tu_below(&rng, MAX_BATCHES);
		long acked = 0, attempted = 0, must = 0;
		/* Mostly a cut at a random call of the workload, else right after it. */
		if (tu_below(&rng, 10) < 8)
			cut_env_arm(ce, 1 + (long)tu_below(&rng, (uint64_t)nb * 2 + 10));
		for (int i = 0; i < nb; i++) {
			gen_batch(&rng, next_num++, &batches[i]);
			lsm_batch *b = to_lsm_batch(&batches[i], scratch);
			lsm_write_options wo = {.sync = tu_below(&rng, 6) == 0};
			int rc = lsm_write(db, &wo, b);
			lsm_batch_free(b);
			attempted = i + 1;
			if (rc) {
				ck_assert_msg(cut_env_dead(ce),
					      "LSM_TEST_SEED=%llu cycle %d: lsm_write failed with "
					      "no fault: %s (%s)",
					      (unsigned long long)seed, cyc, lsm_strerror(rc),
					      lsm_errmsg());
				break;
			}
			acked = i + 1;
			if (wo.sync)
				must = acked;
			if (tu_below(&rng, 15) == 0 && lsm_sync(db) == 0)
				must = acked;
			if (tu_below(&rng, 25) == 0)
				lsm_flush(db);
		}
		if (cut_env_dead(ce))
			cut_in_workload++;
		else
			cut_env_cut(ce, "after the workload");
		ck_assert_int_eq(ce->cut_rc, 0);
		cut_tally_add(&where, ce->where);
		lsm_close(db); /* the handle is dead: any error is expected, a crash is not */
		cut_env_revive(ce);
		if (tu_below(&rng, 8) == 0) {
			/* Cut again while the next open recovers. */
			cut_env_arm(ce, 1 + (long)tu_below(&rng, 30));
			int rc = lsm_open(&db, dir, &o);
			if (rc == 0)
				lsm_close(db);
			if (cut_env_dead(ce)) {
				cut_in_recovery++;
				cut_tally_add(&where, ce->where);
			} else {
				ck_assert_msg(rc == 0,
					      "LSM_TEST_SEED=%llu cycle %d: open failed: %s (%s)",
					      (unsigned long long)seed, cyc, lsm_strerror(rc),
					      lsm_errmsg());
			}
			cut_env_revive(ce);
		}
		int rc = lsm_open(&db, dir, &o);
		ck_assert_msg(rc == 0,
			      "LSM_TEST_SEED=%llu cycle %d: open after a power cut (%s) failed: %s "
			      "(%s)",
			      (unsigned long long)seed, cyc, ce->where, lsm_strerror(rc),
			      lsm_errmsg());
		char when[64];
		snprintf(when, sizeof(when), "power cut cycle %d", cyc);
		read_state(db, got, seed, when);
		long best_k, best_miss;
		long k = find_prefix(base, batches, must, attempted, got, &best_k, &best_miss);
		if (k < 0) {
			printf("LSM_TEST_SEED=%llu cycle %d: after a cut at %s, the db is no "
			       "prefix "
			       "of the %ld batches attempted (%ld acknowledged, the first %ld "
			       "synced); closest: %ld batches with %ld keys wrong:\n",
			       (unsigned long long)seed, cyc, ce->where, attempted, acked, must,
			       best_k, best_miss);
			print_diff(base, batches, best_k, got);
			fflush(stdout);
		}
		ck_assert_msg(k >= 0,
			      "LSM_TEST_SEED=%llu cycle %d: recovered state is not a prefix of the "
			      "batches between the last synced (%ld) and the last attempted (%ld)",
			      (unsigned long long)seed, cyc, must, attempted);
		lost_unsynced += k < acked;
		memcpy(base, got, sizeof(base));
	}
	ck_assert_int_eq(lsm_verify(db, NULL, NULL), 0);
	ck_assert_int_eq(lsm_close(db), 0);
	printf("power cut: %d cycles in %.1f s, %d cut during the workload, %d again during "
	       "recovery, %d "
	       "lost unsynced batches\ncuts fell at:\n",
	       cycles, now() - t0, cut_in_workload, cut_in_recovery, lost_unsynced);
	for (int i = 0; i < 64 && where.v[i].n; i++)
		printf("  %5d  %s\n", where.v[i].n, where.v[i].what);
	free(scratch);
	ce->iface.destroy(&ce->iface);
	tu_rmtree(dir);
}
END_TEST

/* ---- power cut with concurrent writers: group commit ---- */

#define CW_THREADS 3
#define CW_BATCHES 40

/*
 * Each thread writes its own third of the keys, so its batches form a
 * sequence of their own: after the cut, each thread's keys must show a prefix
 * of its batches. A sync write or lsm_sync that returned 0 is a barrier: every
 * batch of any thread acknowledged before it started must survive, because
 * it sits before the synced one in the WAL.
 */
struct cw_shared {
	lsm_db *db;
	atomic_uint next_num;
	atomic_ulong clock;   /* orders starts and acknowledgements across threads */
	atomic_ulong barrier; /* latest start of a sync that returned 0 */
};

struct cw_thread {
	struct cw_shared *sh;
	pthread_t th;
	unsigned w;
	tu_rng rng;
	int nb;
	struct wbatch b[CW_BATCHES];
	uint64_t acked_at[CW_BATCHES];
	int attempted, acked, synced; /* prefix lengths */
};

static void barrier_raise(struct cw_shared *sh, unsigned long t)
{
	unsigned long cur = atomic_load(&sh->barrier);
	while (cur < t && !atomic_compare_exchange_weak(&sh->barrier, &cur, t))
		;
}

static void *cw_main(void *arg)
{
	struct cw_thread *t = arg;
	struct cw_shared *sh = t->sh;
	unsigned char *scratch = malloc(MAX_VLEN);
	unsigned span = NKEYS / CW_THREADS;
	for (int i = 0; i < t->nb; i++) {
		uint32_t num = atomic_fetch_add(&sh->next_num, 1);
		gen_batch_in(&t->rng, num, &t->b[i], t->w * span, span);
		lsm_batch *b = to_lsm_batch(&t->b[i], scratch);
		lsm_write_options wo = {.sync = tu_below(&t->rng, 5) == 0};
		unsigned long start = atomic_fetch_add(&sh->clock, 1);
		int rc = lsm_write(sh->db, &wo, b);
		lsm_batch_free(b);
		t->attempted = i + 1;
		if (rc)
			break;
		t->acked_at[i] = atomic_fetch_add(&sh->clock, 1);
		t->acked = i + 1;
		if (wo.sync) {
			t->synced = i + 1;
			barrier_raise(sh, start);
		}
		if (tu_below(&t->rng, 20) == 0) {
			start = atomic_fetch_add(&sh->clock, 1);
			if (lsm_sync(sh->db) == 0)
				barrier_raise(sh, start);
		}
	}
	free(scratch);
	return NULL;
}

START_TEST(test_power_cut_with_concurrent_writers_keeps_synced_group_commits)
{
	uint64_t seed = tu_seed() ^ 0x9c0;
	tu_rng rng;
	tu_rng_init(&rng, seed);
	char *dir = tu_mkdtemp("crash-group");
	cut_env *ce = cut_env_new();
	lsm_options o;
	crash_options(&o, &ce->iface);
	struct cw_shared sh;
	memset(&sh, 0, sizeof(sh));
	atomic_store(&sh.next_num, 1);
	ck_assert_int_eq(lsm_open(&sh.db, dir, &o), 0);
	static struct cw_thread th[CW_THREADS];
	uint32_t base[NKEYS] = {0}, got[NKEYS];
	int cycles = 100 * tu_scale(), cut_in_workload = 0, held_by_barrier = 0;
	double t0 = now();
	for (int cyc = 0; cyc < cycles; cyc++) {
		atomic_store(&sh.barrier, 0);
		if (tu_below(&rng, 10) < 8)
			cut_env_arm(ce, 1 + (long)tu_below(&rng, 150));
		for (unsigned w = 0; w < CW_THREADS; w++) {
			struct cw_thread *t = &th[w];
			memset(t, 0, sizeof(*t));
			t->sh = &sh;
			t->w = w;
			t->nb = 1 + (int)tu_below(&rng, CW_BATCHES);
			tu_rng_init(&t->rng, mix(seed, (uint64_t)cyc * CW_THREADS + w));
			ck_assert_int_eq(pthread_create(&t->th, NULL, cw_main, t), 0);
		}
		for (unsigned w = 0; w < CW_THREADS; w++)
			pthread_join(th[w].th, NULL);
		if (cut_env_dead(ce))
			cut_in_workload++;
		else
			cut_env_cut(ce, "after the workload");
		ck_assert_int_eq(ce->cut_rc, 0);
		lsm_close(sh.db);
		cut_env_revive(ce);
		int rc = lsm_open(&sh.db, dir, &o);
		ck_assert_msg(rc == 0,
			      "LSM_TEST_SEED=%llu cycle %d: open after a power cut (%s) failed: %s "
			      "(%s)",
			      (unsigned long long)seed, cyc, ce->where, lsm_strerror(rc),
			      lsm_errmsg());
		char when[64];
		snprintf(when, sizeof(when), "group commit cycle %d", cyc);
		read_state(sh.db, got, seed, when);
		unsigned long barrier = atomic_load(&sh.barrier);
		for (unsigned w = 0; w < CW_THREADS; w++) {
			struct cw_thread *t = &th[w];
			unsigned id0 = w * (NKEYS / CW_THREADS), id1 = id0 + NKEYS / CW_THREADS;
			long must = t->synced;
			while (must < t->acked && t->acked_at[must] < barrier)
				must++;
			held_by_barrier += must > t->synced;
			long best_k, best_miss;
			long k = find_prefix_in(base, t->b, must, t->attempted, got, id0, id1,
						&best_k, &best_miss);
			if (k < 0) {
				printf("LSM_TEST_SEED=%llu cycle %d: after a cut at %s, the keys "
				       "of "
				       "writer %u are no prefix of its %d batches attempted (%d "
				       "acknowledged, %d synced, %ld before a sync barrier); "
				       "closest: %ld batches with %ld keys wrong:\n",
				       (unsigned long long)seed, cyc, ce->where, w, t->attempted,
				       t->acked, t->synced, must, best_k, best_miss);
				print_diff_in(base, t->b, best_k, got, id0, id1);
				fflush(stdout);
			}
			ck_assert_msg(k >= 0,
				      "LSM_TEST_SEED=%llu cycle %d: writer %u lost a batch that a "
				      "sync made durable, or its keys are no prefix",
				      (unsigned long long)seed, cyc, w);
		}
		memcpy(base, got, sizeof(base));
	}
	ck_assert_int_eq(lsm_close(sh.db), 0);
	printf("group commit: %d cycles of %d writers in %.1f s, %d cut during the workload, %d "
	       "times a writer's batches were held by another's sync\n",
	       cycles, CW_THREADS, now() - t0, cut_in_workload, held_by_barrier);
	ce->iface.destroy(&ce->iface);
	tu_rmtree(dir);
}
END_TEST

/* ---- SIGKILL ---- */

/* Batch num of the SIGKILL workload: a function of (seed, num) so both processes know it. */
static void kill_batch(uint64_t seed, uint32_t num, struct wbatch *wb)
{
	tu_rng rng;
	tu_rng_init(&rng, mix(seed, num));
	gen_batch(&rng, num, wb);
}

/* The child: writes batches first, first+1, ... without sync, reporting each one written. */
static void __attribute__((noreturn))
kill_child(const char *dir, uint64_t seed, uint32_t first, int fd)
{
	lsm_options o;
	crash_options(&o, NULL);
	lsm_db *db;
	unsigned char *scratch = malloc(MAX_VLEN);
	if (lsm_open(&db, dir, &o))
		_exit(2);
	for (uint32_t num = first;; num++) {
		struct wbatch wb;
		kill_batch(seed, num, &wb);
		lsm_batch *b = to_lsm_batch(&wb, scratch);
		if (lsm_write(db, NULL, b))
			_exit(3);
		lsm_batch_free(b);
		if (write(fd, &num, sizeof(num)) != (ssize_t)sizeof(num))
			_exit(4);
	}
}

/*
 * The writer reports batches in order. Checked without ck_assert: each
 * passing ck_assert writes a message to Check's channel, half a million
 * of them in a long run (LSM_TEST_SCALE=20).
 */
static void expect_next(uint32_t num, uint32_t last)
{
	if (num != last + 1)
		ck_abort_msg("the writer reported batch %u after %u", num, last);
}

START_TEST(test_sigkill_keeps_every_acknowledged_batch)
{
	uint64_t seed = tu_seed() ^ 0x5161;
	tu_rng rng;
	tu_rng_init(&rng, seed);
	char *dir = tu_mkdtemp("crash-kill");
	uint32_t model[NKEYS] = {0}, got[NKEYS];
	uint32_t done = 0; /* batches 1..done are in the db */
	int cycles = 40 * tu_scale(), during_open = 0;
	double t0 = now();
	lsm_options o;
	crash_options(&o, NULL);
	for (int cyc = 0; cyc < cycles; cyc++) {
		int fds[2];
		ck_assert_int_eq(pipe(fds), 0);
		fflush(stdout);
		pid_t pid = fork();
		/*
		 * No ck_assert in the child: a passing one writes a message to
		 * Check's channel, and a child killed in the middle of it left
		 * the channel unreadable ("check_pack.c: Bad message type").
		 */
		if (pid == 0) {
			close(fds[0]);
			kill_child(dir, seed, done + 1, fds[1]);
		}
		ck_assert_int_ge(pid, 0);
		close(fds[1]);
		uint32_t last = done, num;
		if (tu_below(&rng, 4) == 0) {
			usleep((useconds_t)tu_below(&rng, 30000));
		} else {
			uint32_t target = done + 1 + (uint32_t)tu_below(&rng, 1500);
			while (last < target && read(fds[0], &num, sizeof(num)) == sizeof(num)) {
				expect_next(num, last);
				last = num;
			}
		}
		kill(pid, SIGKILL);
		int status;
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
			      "LSM_TEST_SEED=%llu cycle %d: the writer died on its own (status "
			      "0x%x)",
			      (unsigned long long)seed, cyc, status);
		while (read(fds[0], &num, sizeof(num)) == sizeof(num)) {
			expect_next(num, last);
			last = num;
		}
		close(fds[0]);
		during_open += last == done;

		lsm_db *db;
		int rc = lsm_open(&db, dir, &o);
		ck_assert_msg(rc == 0, "LSM_TEST_SEED=%llu cycle %d: open after SIGKILL: %s (%s)",
			      (unsigned long long)seed, cyc, lsm_strerror(rc), lsm_errmsg());
		char when[64];
		snprintf(when, sizeof(when), "sigkill cycle %d", cyc);
		read_state(db, got, seed, when);
		ck_assert_int_eq(lsm_close(db), 0);
		/* Batches done+1..last were acknowledged; last+1 may have reached the WAL too. */
		struct wbatch *b = malloc((last - done + 1) * sizeof(*b));
		for (uint32_t n = done + 1; n <= last + 1; n++)
			kill_batch(seed, n, &b[n - done - 1]);
		long best_k, best_miss;
		long k = find_prefix(model, b, last - done, last - done + 1, got, &best_k,
				     &best_miss);
		if (k < 0) {
			printf("LSM_TEST_SEED=%llu cycle %d: after SIGKILL with batches up to %u "
			       "acknowledged (%u before this run), the db is no prefix; closest: "
			       "%ld batches with %ld keys wrong:\n",
			       (unsigned long long)seed, cyc, last, done, best_k, best_miss);
			print_diff(model, b, best_k, got);
			fflush(stdout);
		}
		ck_assert_msg(k >= 0,
			      "LSM_TEST_SEED=%llu cycle %d: acknowledged batches %u..%u are not "
			      "all there after SIGKILL",
			      (unsigned long long)seed, cyc, done + 1, last);
		free(b);
		memcpy(model, got, sizeof(model));
		done += (uint32_t)k;
	}
	printf("sigkill: %d cycles in %.1f s, %u batches acknowledged in all, %d killed before the "
	       "first "
	       "acknowledgement\n",
	       cycles, now() - t0, done, during_open);
	tu_rmtree(dir);
}
END_TEST

/* ---- injected I/O errors ---- */

enum fault_kind { FAULT_WRITE, FAULT_SYNC, FAULT_SHORT, FAULT_ENOSPC };

static const char *fault_name[] = {"failed write", "failed fsync", "short write", "ENOSPC"};

#define MAX_MAYBE 64

/*
 * What a key may hold: its last acknowledged version, or any version a failed
 * batch wrote after it (a failed write may or may not have reached the disk).
 */
struct expect {
	uint32_t must;
	int nmaybe;
	uint32_t maybe[MAX_MAYBE];
};

static int allowed(const struct expect *e, uint32_t ver)
{
	if (ver == e->must)
		return 1;
	for (int i = 0; i < e->nmaybe; i++)
		if (e->maybe[i] == ver)
			return 1;
	return 0;
}

static void expect_state(lsm_db *db, const struct expect *ex, uint64_t seed, const char *when)
{
	uint32_t got[NKEYS];
	read_state(db, got, seed, when);
	for (int id = 0; id < NKEYS; id++)
		ck_assert_msg(allowed(&ex[id], got[id]),
			      "LSM_TEST_SEED=%llu %s: key-%04d holds batch %u, the last "
			      "acknowledged is %u (%d failed batches after it)",
			      (unsigned long long)seed, when, id, got[id], ex[id].must,
			      ex[id].nmaybe);
}

/* Writes batch num (ok: acknowledged), updating ex; returns lsm_write's code. */
static int fault_write(lsm_db *db, tu_rng *rng, uint32_t num, struct expect *ex,
		       unsigned char *scratch, int sync)
{
	struct wbatch wb;
	gen_batch(rng, num, &wb);
	lsm_batch *b = to_lsm_batch(&wb, scratch);
	lsm_write_options wo = {.sync = sync};
	int rc = lsm_write(db, &wo, b);
	lsm_batch_free(b);
	for (int i = 0; i < wb.n; i++) {
		struct expect *e = &ex[wb.id[i]];
		if (rc == 0) {
			e->must = wb.ver[i];
			e->nmaybe = 0;
		} else {
			ck_assert_int_lt(e->nmaybe, MAX_MAYBE);
			e->maybe[e->nmaybe++] = wb.ver[i];
		}
	}
	return rc;
}

static void run_fault(enum fault_kind kind, int cycles)
{
	uint64_t seed = tu_seed() ^ (0xfa17 + (uint64_t)kind);
	tu_rng rng;
	tu_rng_init(&rng, seed);
	char *dir = tu_mkdtemp("crash-fault");
	lsm_env *fe = lsm_env_fault_new(lsm_env_posix());
	lsm_options o;
	crash_options(&o, fe);
	struct expect *ex = calloc(NKEYS, sizeof(*ex));
	unsigned char *scratch = malloc(MAX_VLEN);
	uint32_t num = 1;
	int hit = 0, readonly = 0, failed_batches = 0, in_maintenance = 0;
	double t0 = now();
	for (int cyc = 0; cyc < cycles; cyc++) {
		lsm_db *db;
		char when[96];
		ck_assert_int_eq(lsm_open(&db, dir, &o), 0);
		for (int i = (int)tu_below(&rng, 30); i > 0; i--)
			ck_assert_int_eq(fault_write(db, &rng, num++, ex, scratch, 0), 0);
		/*
		 * A third of the time the fault is armed close and a flush or a
		 * compaction runs at once, so that it lands there first.
		 */
		int direct = tu_below(&rng, 3) == 0, bg_failed = 0;
		switch (kind) {
		case FAULT_WRITE:
			lsm_fault_fail_write(fe, 1 + tu_below(&rng, direct ? 6 : 80));
			break;
		case FAULT_SYNC:
			lsm_fault_fail_sync(fe, 1 + tu_below(&rng, direct ? 3 : 12));
			break;
		case FAULT_SHORT:
			lsm_fault_short_write(fe, 1 + tu_below(&rng, direct ? 6 : 80));
			break;
		case FAULT_ENOSPC:
			lsm_fault_enospc_after(fe, tu_below(&rng, (direct ? 16 : 300) * 1024));
			break;
		}
		if (direct && tu_below(&rng, 2))
			bg_failed |= lsm_flush(db) != 0;
		else if (direct)
			bg_failed |= lsm_compact_range(db, NULL, 0, NULL, 0) != 0;
		int errors = 0, extra = 1 + (int)tu_below(&rng, 10);
		for (int i = 0; i < 150 && errors < extra; i++) {
			int rc = fault_write(db, &rng, num++, ex, scratch, tu_below(&rng, 5) == 0);
			if (rc) {
				ck_assert_msg(rc == -EIO || rc == -ENOSPC || rc == -LSM_EREADONLY,
					      "LSM_TEST_SEED=%llu %s cycle %d: lsm_write returned "
					      "%d (%s): %s",
					      (unsigned long long)seed, fault_name[kind], cyc, rc,
					      lsm_strerror(rc), lsm_errmsg());
				readonly += rc == -LSM_EREADONLY;
				failed_batches++;
				errors++;
			}
			if (tu_below(&rng, 20) == 0)
				bg_failed |= lsm_flush(db) != 0;
			if (tu_below(&rng, 60) == 0)
				bg_failed |= lsm_compact_range(db, NULL, 0, NULL, 0) != 0;
		}
		hit += errors > 0 || bg_failed;
		in_maintenance += bg_failed;
		/* Whatever failed, the acknowledged data is still readable. */
		snprintf(when, sizeof(when), "%s cycle %d, before close", fault_name[kind], cyc);
		expect_state(db, ex, seed, when);
		lsm_close(db); /* may report the background error */
		lsm_fault_clear(fe);
		int rc = lsm_open(&db, dir, &o);
		ck_assert_msg(rc == 0, "LSM_TEST_SEED=%llu %s cycle %d: reopen failed: %s (%s)",
			      (unsigned long long)seed, fault_name[kind], cyc, lsm_strerror(rc),
			      lsm_errmsg());
		snprintf(when, sizeof(when), "%s cycle %d, after reopen", fault_name[kind], cyc);
		expect_state(db, ex, seed, when);
		/* It works again: writes, a flush, a compaction, a clean close. */
		for (int i = 0; i < 20; i++)
			ck_assert_int_eq(fault_write(db, &rng, num++, ex, scratch, i == 19), 0);
		ck_assert_int_eq(lsm_flush(db), 0);
		if (tu_below(&rng, 4) == 0)
			ck_assert_int_eq(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
		snprintf(when, sizeof(when), "%s cycle %d, writing again", fault_name[kind], cyc);
		expect_state(db, ex, seed, when);
		ck_assert_int_eq(lsm_close(db), 0);
	}
	lsm_db *db;
	ck_assert_int_eq(lsm_open(&db, dir, &o), 0);
	expect_state(db, ex, seed, "at the end");
	ck_assert_int_eq(lsm_verify(db, NULL, NULL), 0);
	ck_assert_int_eq(lsm_close(db), 0);
	printf("%s: %d cycles in %.1f s, the fault hit in %d (a flush or compaction failed in %d), "
	       "%d batches failed (%d with -LSM_EREADONLY)\n",
	       fault_name[kind], cycles, now() - t0, hit, in_maintenance, failed_batches, readonly);
	ck_assert_int_gt(hit, cycles / 2); /* the test does test something */
	free(scratch);
	free(ex);
	fe->destroy(fe);
	tu_rmtree(dir);
}

/*
 * Every I/O call of a flush and of a compaction in turn: the nth write (or
 * fsync) fails, for n = 1, 2, ... until the job no longer reaches the nth.
 * Nothing here is random: a failure names the call that lost data.
 */
enum job { JOB_FLUSH, JOB_COMPACTION, JOB_BLOB_GC };
static const char *const job_name[] = {"flush", "compaction", "blob collection"};

/* Waits (up to 5 s) for the background thread to finish a collection run, or to fail. */
static void wait_for_collection(lsm_db *db, uint64_t runs_before)
{
	for (int i = 0; i < 500; i++) {
		lsm_stats st;
		lsm_stats_get(db, &st);
		if (st.blob_gc_runs > runs_before || st.background_error)
			return;
		usleep(10 * 1000);
	}
}

static void each_call_of_a_job_fails(enum fault_kind kind, enum job job)
{
	int compaction = job != JOB_FLUSH;
	unsigned char *scratch = malloc(MAX_VLEN);
	char key[16], when[96];
	int reached = 1, n;
	for (n = 1; reached && n < 200; n++) {
		char *dir = tu_mkdtemp("crash-job");
		lsm_env *fe = lsm_env_fault_new(lsm_env_posix());
		lsm_options o;
		crash_options(&o, fe);
		o.memtable_bytes = 1024 * 1024; /* flushes only when asked */
		lsm_db *db;
		struct expect ex[NKEYS];
		memset(ex, 0, sizeof(ex));
		ck_assert_int_eq(lsm_open(&db, dir, &o), 0);
		/* Two overlapping tables (or one memtable) holding every key. */
		for (uint32_t round = 1; round <= 2; round++) {
			for (unsigned id = 0; id < NKEYS; id += round) {
				uint32_t ver = round * NKEYS + id;
				ck_assert_int_eq(lsm_put(db, NULL, key, key_of(key, id), scratch,
							 value_of(scratch, ver, id)),
						 0);
				ex[id].must = ver;
			}
			if (compaction)
				ck_assert_int_eq(lsm_flush(db), 0);
		}
		lsm_fault_counters before, after;
		lsm_fault_counters_get(fe, &before);
		if (kind == FAULT_SYNC)
			lsm_fault_fail_sync(fe, (uint64_t)n);
		else if (kind == FAULT_SHORT)
			lsm_fault_short_write(fe, (uint64_t)n);
		else
			lsm_fault_fail_write(fe, (uint64_t)n);
		lsm_stats st0;
		lsm_stats_get(db, &st0);
		int rc = compaction ? lsm_compact_range(db, NULL, 0, NULL, 0) : lsm_flush(db);
		/* The compaction drops the overwritten values' references; collection follows. */
		if (job == JOB_BLOB_GC && !rc)
			wait_for_collection(db, st0.blob_gc_runs);
		lsm_fault_counters_get(fe, &after);
		reached = rc != 0 ||
			  (kind == FAULT_SYNC ? after.syncs - before.syncs
					      : after.writes - before.writes) >= (uint64_t)n;
		lsm_close(db);
		lsm_fault_clear(fe);
		rc = lsm_open(&db, dir, &o);
		ck_assert_msg(rc == 0, "%s %s, call %d failing: reopen: %s (%s)", job_name[job],
			      fault_name[kind], n, lsm_strerror(rc), lsm_errmsg());
		snprintf(when, sizeof(when), "%s with %s at call %d, after reopen", job_name[job],
			 fault_name[kind], n);
		expect_state(db, ex, 0, when);
		ck_assert_msg(lsm_verify(db, NULL, NULL) == 0, "%s: lsm_verify: %s", when,
			      lsm_errmsg());
		ck_assert_int_eq(lsm_compact_range(db, NULL, 0, NULL, 0), 0);
		expect_state(db, ex, 0, when);
		ck_assert_int_eq(lsm_close(db), 0);
		fe->destroy(fe);
		tu_rmtree(dir);
	}
	printf("%s with %s: each of the first %d calls failed in turn\n", job_name[job],
	       fault_name[kind], n - 2);
	free(scratch);
}

START_TEST(test_each_failing_call_of_a_flush_loses_nothing)
{
	each_call_of_a_job_fails(FAULT_WRITE, JOB_FLUSH);
	each_call_of_a_job_fails(FAULT_SYNC, JOB_FLUSH);
	each_call_of_a_job_fails(FAULT_SHORT, JOB_FLUSH);
}
END_TEST

START_TEST(test_each_failing_call_of_a_compaction_loses_nothing)
{
	each_call_of_a_job_fails(FAULT_WRITE, JOB_COMPACTION);
	each_call_of_a_job_fails(FAULT_SYNC, JOB_COMPACTION);
	each_call_of_a_job_fails(FAULT_SHORT, JOB_COMPACTION);
}
END_TEST

#ifdef CRASH_BLOBS
START_TEST(test_each_failing_call_of_a_blob_collection_loses_nothing)
{
	each_call_of_a_job_fails(FAULT_WRITE, JOB_BLOB_GC);
	each_call_of_a_job_fails(FAULT_SYNC, JOB_BLOB_GC);
	each_call_of_a_job_fails(FAULT_SHORT, JOB_BLOB_GC);
}
END_TEST
#endif

START_TEST(test_failed_write_loses_nothing_acknowledged)
{
	run_fault(FAULT_WRITE, 60 * tu_scale());
}
END_TEST

START_TEST(test_failed_fsync_loses_nothing_acknowledged)
{
	run_fault(FAULT_SYNC, 60 * tu_scale());
}
END_TEST

START_TEST(test_short_write_loses_nothing_acknowledged)
{
	run_fault(FAULT_SHORT, 60 * tu_scale());
}
END_TEST

START_TEST(test_full_disk_loses_nothing_acknowledged)
{
	run_fault(FAULT_ENOSPC, 60 * tu_scale());
}
END_TEST

static TCase *long_tcase(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);
	tcase_set_timeout(tc, 900);
	suite_add_tcase(s, tc);
	return tc;
}

int main(void)
{
	tu_seed();
	Suite *s = suite_create("crash");
	tcase_add_test(long_tcase(s, "power_cut"),
		       test_power_cut_keeps_synced_batches_and_leaves_a_prefix);
	tcase_add_test(long_tcase(s, "group_commit"),
		       test_power_cut_with_concurrent_writers_keeps_synced_group_commits);
	tcase_add_test(long_tcase(s, "sigkill"), test_sigkill_keeps_every_acknowledged_batch);
	TCase *tf = long_tcase(s, "faults");
	tcase_add_test(tf, test_each_failing_call_of_a_flush_loses_nothing);
	tcase_add_test(tf, test_each_failing_call_of_a_compaction_loses_nothing);
#ifdef CRASH_BLOBS
	tcase_add_test(tf, test_each_failing_call_of_a_blob_collection_loses_nothing);
#endif
	tcase_add_test(tf, test_failed_write_loses_nothing_acknowledged);
	tcase_add_test(tf, test_failed_fsync_loses_nothing_acknowledged);
	tcase_add_test(tf, test_short_write_loses_nothing_acknowledged);
	tcase_add_test(tf, test_full_disk_loses_nothing_acknowledged);
	return tu_run_suite(s);
}
