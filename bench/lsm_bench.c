/*
 * lsm_bench.c — lsm-bench: liblsm against LevelDB and RocksDB, each driven
 * through the same adapter interface (adapter.h) with the same settings,
 * keys, values and workloads (db_bench's names and meanings).
 *
 * Every engine + workload group + repetition runs in its own forked child
 * on a fresh database, so one engine's memory, threads or page-cache
 * dirtying never lands in another's figures, and the child's peak RSS
 * (ru_maxrss from wait4) belongs to that group alone. Engines are
 * interleaved: repetition by repetition, group by group, each engine in
 * turn (the order rotates between repetitions), so a slow patch of a shared
 * machine hits every engine alike. The report gives medians over the
 * repetitions with their min-max spread.
 *
 * docs/BENCHMARKS.md explains every figure and how it is measured.
 */
#include <config.h>

#include "bench.h"
#include "memwatch.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static const struct bench_engine *const all_engines[] = {
	&bench_engine_lsm,
#ifdef HAVE_LEVELDB
	&bench_engine_leveldb,
#endif
#ifdef HAVE_ROCKSDB
	&bench_engine_rocksdb,
	&bench_engine_rocksdb_blob,
#endif
};
#define NALL ((int)(sizeof(all_engines) / sizeof(all_engines[0])))

static void usage(FILE *f)
{
	fprintf(f,
		"usage: lsm-bench [OPTION]...\n"
		"Compares liblsm with LevelDB and RocksDB (those built in: --list-engines).\n"
		"\n"
		"  --engines=LIST        engines to run, comma-separated (default: all built in;\n"
		"                        rocksdb-blob only with --blob-threshold)\n"
		"  --benchmarks=LIST     workloads, comma-separated (default: all):\n"
		"                        fillseq fillrandom overwrite readrandom readmissing "
		"readseq\n"
		"                        readreverse seekrandom deleterandom readwhilewriting "
		"fillsync\n"
		"                        overwrite2x; reads also run after an overwrite when\n"
		"                        overwrite is chosen\n"
		"  --num=N               keys loaded and ops per write workload (default 1000000)\n"
		"  --reads=N             ops of the random-read workloads (default: num)\n"
		"  --sync-num=N          ops of fillsync, shared by its threads (default: "
		"num/100)\n"
		"  --sync-threads=LIST   thread counts fillsync runs with (default 1,8)\n"
		"  --readers=N           reader threads of readwhilewriting (default 1)\n"
		"  --value-size=N        value bytes (default 100)\n"
		"  --compression=MODE    none, or fast: each engine's fast codec (default none)\n"
		"  --cache-bytes=N       block cache (default 8 MiB)\n"
		"  --memtable-bytes=N    memtable / write buffer (default 4 MiB)\n"
		"  --bloom-bits=N        bloom filter bits per key (default 10)\n"
		"  --blob-threshold=N    value separation: liblsm's blob_threshold, and adds\n"
		"                        rocksdb-blob (blob files, min_blob_size N) (default 0: "
		"off)\n"
		"  --reps=N              repetitions; medians are reported (default 3)\n"
		"  --dir=DIR             scratch directory for the databases (default "
		"./lsm-bench-db)\n"
		"  --out=PREFIX          writes PREFIX.md, PREFIX.dat, PREFIX.raw.tsv (default "
		"lsm-bench)\n"
		"  --title=TEXT          heading of the Markdown section\n"
		"  --seed=N              seed of the key sequences (default 301)\n"
		"  --timeout=SECONDS     kill a child running longer (default 3600)\n"
		"  --list-engines        print the engines built in and exit\n"
		"  -v, --verbose         print each child's preparation times\n"
		"  -h, --help\n");
}

static int parse_u64(const char *opt, const char *s, uint64_t *v)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (errno || end == s || *end || x == 0) {
		fprintf(stderr, "lsm-bench: %s: not a positive number: %s\n", opt, s);
		return -1;
	}
	*v = x;
	return 0;
}

static const struct bench_engine *engine_by_name(const char *name)
{
	for (int i = 0; i < NALL; i++)
		if (!strcmp(all_engines[i]->name, name))
			return all_engines[i];
	return NULL;
}

static int wl_by_name(const char *name)
{
	for (int i = 0; i < WL_COUNT; i++)
		if (!strcmp(bench_wl_names[i], name))
			return i;
	return -1;
}

/* Builds the groups for the chosen workloads, in the order of enum bench_wl. */
static int make_groups(const int *want, const struct bench_config *cfg, struct bench_group *gs)
{
	int n = 0;
	static const int reads[] = {WL_READRANDOM, WL_READMISSING, WL_READSEQ, WL_READREVERSE,
				    WL_SEEKRANDOM};
	struct bench_group *rg = NULL;
	for (int wl = 0; wl < WL_COUNT; wl++) {
		if (wl == WL_FILLSYNC && want[WL_OVERWRITE]) {
			/*
			 * The reads once more on the tree an overwrite leaves
			 * behind (after_overwrite), before fillsync so that the
			 * read rows stay together.
			 */
			static const int again[] = {WL_READRANDOM, WL_READSEQ, WL_SEEKRANDOM};
			struct bench_group *ag = &gs[n];
			memset(ag, 0, sizeof(*ag));
			snprintf(ag->name, sizeof(ag->name), "reads-after-overwrite");
			ag->preload = 1;
			ag->after_overwrite = 1;
			ag->threads = 1;
			for (size_t i = 0; i < sizeof(again) / sizeof(again[0]); i++)
				if (want[again[i]])
					ag->wl[ag->nwl++] = again[i];
			if (ag->nwl)
				n++;
		}
		if (!want[wl])
			continue;
		int is_read = 0;
		for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++)
			is_read |= reads[i] == wl;
		if (is_read) {
			/* The read-only workloads share one loaded db and one child. */
			if (!rg) {
				rg = &gs[n++];
				memset(rg, 0, sizeof(*rg));
				snprintf(rg->name, sizeof(rg->name), "reads");
				rg->preload = 1;
				rg->threads = 1;
			}
			rg->wl[rg->nwl++] = wl;
			continue;
		}
		if (wl == WL_FILLSYNC) {
			for (int t = 0; t < cfg->nsync_threads; t++) {
				struct bench_group *g = &gs[n++];
				memset(g, 0, sizeof(*g));
				snprintf(g->name, sizeof(g->name), "fillsync-%dt",
					 cfg->sync_threads[t]);
				g->measure_write = 1;
				g->threads = cfg->sync_threads[t];
				g->wl[g->nwl++] = wl;
			}
			continue;
		}
		struct bench_group *g = &gs[n++];
		memset(g, 0, sizeof(*g));
		snprintf(g->name, sizeof(g->name), "%s", bench_wl_names[wl]);
		g->preload = wl != WL_FILLSEQ && wl != WL_FILLRANDOM;
		g->measure_write = wl != WL_READWHILEWRITING;
		g->measure_space = wl != WL_READWHILEWRITING && wl != WL_OVERWRITE2X;
		g->measure_idle_space = wl == WL_OVERWRITE2X;
		g->threads = wl == WL_READWHILEWRITING ? cfg->readers : 1;
		g->wl[g->nwl++] = wl;
	}
	return n;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/*
 * Forks a child that runs group g on engine e and sends back its results.
 * Returns the number of results (with maxrss_kb filled in), or -1 if the
 * child failed (its stderr says why). A NULL engine runs nothing: the
 * child's peak RSS is then the baseline every child starts from.
 */
static int run_child(const struct bench_engine *e, const struct bench_config *cfg,
		     const struct bench_group *g, int rep, unsigned timeout,
		     struct bench_result *res, long *maxrss_kb)
{
	int fds[2];
	if (pipe(fds)) {
		fprintf(stderr, "lsm-bench: pipe: %s\n", strerror(errno));
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "lsm-bench: fork: %s\n", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		int n = 0, rc = 0;
		close(fds[0]);
		alarm(timeout);
		int watching = memwatch_start() == 0;
		if (e)
			rc = bench_run_group(e, cfg, g, rep, res, &n);
		long anon_kb = watching ? memwatch_stop() : -1;
		for (int i = 0; i < n; i++)
			res[i].peak_anon_kb = anon_kb;
		if (!rc && write_all(fds[1], res, (size_t)n * sizeof(*res)))
			rc = -1;
		_exit(rc ? 1 : 0);
	}
	close(fds[1]);
	size_t got = 0, cap = BENCH_MAX_GROUP * sizeof(*res);
	for (;;) {
		ssize_t r = read(fds[0], (char *)res + got, cap - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got == cap)
			break;
	}
	close(fds[0]);
	int status;
	struct rusage ru;
	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR) {
			fprintf(stderr, "lsm-bench: wait4: %s\n", strerror(errno));
			return -1;
		}
	*maxrss_kb = ru.ru_maxrss;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		if (WIFSIGNALED(status))
			fprintf(stderr, "lsm-bench: %s %s: child killed by signal %d%s\n",
				e ? e->name : "-", g ? g->name : "-", WTERMSIG(status),
				WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
		else
			fprintf(stderr, "lsm-bench: %s %s: child failed\n", e ? e->name : "-",
				g ? g->name : "-");
		return -1;
	}
	int n = (int)(got / sizeof(*res));
	for (int i = 0; i < n; i++)
		res[i].maxrss_kb = ru.ru_maxrss;
	return n;
}

static void print_result(int rep, int reps, const struct bench_engine *e,
			 const struct bench_result *r, int verbose)
{
	fprintf(stderr, "[%d/%d] %-12s %-26s %10.0f ops/s  p50 %8.2f  p99 %8.2f  p99.9 %9.2f us",
		rep + 1, reps, e->name, r->name, r->secs > 0 ? (double)r->ops / r->secs : 0.0,
		(double)r->p50_ns / 1e3, (double)r->p99_ns / 1e3, (double)r->p999_ns / 1e3);
	if (r->user_bytes)
		fprintf(stderr, "  wamp %5.2f", (double)r->io_write_bytes / (double)r->user_bytes);
	if (r->du_bytes && r->live_bytes)
		fprintf(stderr, "  samp %5.2f", (double)r->du_bytes / (double)r->live_bytes);
	fprintf(stderr, "  rss %6.1f MiB (anon %.1f)\n", (double)r->maxrss_kb / 1024.0,
		(double)r->peak_anon_kb / 1024.0);
	if (verbose && (r->load_secs > 0 || r->compact_secs > 0))
		fprintf(stderr, "        load %.1f s, full compaction %.1f s\n", r->load_secs,
			r->compact_secs);
}

static int split_list(char *s, char **items, int max)
{
	int n = 0;
	for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ","))
		if (n < max)
			items[n++] = tok;
		else
			return -1;
	return n;
}

int main(int argc, char **argv)
{
	enum {
		O_ENGINES = 256,
		O_BENCH,
		O_NUM,
		O_READS,
		O_SYNCNUM,
		O_SYNCT,
		O_READERS,
		O_VSIZE,
		O_COMP,
		O_CACHE,
		O_MEMT,
		O_BLOOM,
		O_BLOB,
		O_REPS,
		O_DIR,
		O_OUT,
		O_TITLE,
		O_SEED,
		O_TIMEOUT,
		O_LIST
	};
	static const struct option longopts[] = {
		{"engines", required_argument, NULL, O_ENGINES},
		{"benchmarks", required_argument, NULL, O_BENCH},
		{"num", required_argument, NULL, O_NUM},
		{"reads", required_argument, NULL, O_READS},
		{"sync-num", required_argument, NULL, O_SYNCNUM},
		{"sync-threads", required_argument, NULL, O_SYNCT},
		{"readers", required_argument, NULL, O_READERS},
		{"value-size", required_argument, NULL, O_VSIZE},
		{"compression", required_argument, NULL, O_COMP},
		{"cache-bytes", required_argument, NULL, O_CACHE},
		{"memtable-bytes", required_argument, NULL, O_MEMT},
		{"bloom-bits", required_argument, NULL, O_BLOOM},
		{"blob-threshold", required_argument, NULL, O_BLOB},
		{"reps", required_argument, NULL, O_REPS},
		{"dir", required_argument, NULL, O_DIR},
		{"out", required_argument, NULL, O_OUT},
		{"title", required_argument, NULL, O_TITLE},
		{"seed", required_argument, NULL, O_SEED},
		{"timeout", required_argument, NULL, O_TIMEOUT},
		{"list-engines", no_argument, NULL, O_LIST},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct bench_config cfg = {
		.num = 1000000,
		.value_size = 100,
		.reps = 3,
		.readers = 1,
		.sync_threads = {1, 8},
		.nsync_threads = 2,
		.seed = 301,
		.opts = {.cache_bytes = 8u << 20, .memtable_bytes = 4u << 20, .bloom_bits = 10},
		/* liblsm's default: one mutable memtable plus two awaiting flush. */
		.memtables_max = 3,
		.dir = "lsm-bench-db",
	};
	const char *out = "lsm-bench", *title = NULL;
	char *engines_arg = NULL, *bench_arg = NULL;
	uint64_t v, reads = 0, sync_num = 0, timeout = 3600;
	int c;

	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (c) {
		case O_ENGINES:
			engines_arg = optarg;
			break;
		case O_BENCH:
			bench_arg = optarg;
			break;
		case O_NUM:
			if (parse_u64("--num", optarg, &cfg.num))
				return 2;
			break;
		case O_READS:
			if (parse_u64("--reads", optarg, &reads))
				return 2;
			break;
		case O_SYNCNUM:
			if (parse_u64("--sync-num", optarg, &sync_num))
				return 2;
			break;
		case O_SYNCT: {
			char *items[BENCH_MAX_SYNC_T];
			int n = split_list(optarg, items, BENCH_MAX_SYNC_T);
			if (n <= 0) {
				fprintf(stderr, "lsm-bench: --sync-threads: 1 to %d counts\n",
					BENCH_MAX_SYNC_T);
				return 2;
			}
			for (int i = 0; i < n; i++) {
				if (parse_u64("--sync-threads", items[i], &v) || v > 256)
					return 2;
				cfg.sync_threads[i] = (int)v;
			}
			cfg.nsync_threads = n;
			break;
		}
		case O_READERS:
			if (parse_u64("--readers", optarg, &v) || v > 256)
				return 2;
			cfg.readers = (int)v;
			break;
		case O_VSIZE:
			if (parse_u64("--value-size", optarg, &v) || v > (64u << 20))
				return 2;
			cfg.value_size = (size_t)v;
			break;
		case O_COMP:
			if (!strcmp(optarg, "none"))
				cfg.opts.compress = 0;
			else if (!strcmp(optarg, "fast"))
				cfg.opts.compress = 1;
			else {
				fprintf(stderr, "lsm-bench: --compression: none or fast\n");
				return 2;
			}
			break;
		case O_CACHE:
			if (parse_u64("--cache-bytes", optarg, &v))
				return 2;
			cfg.opts.cache_bytes = (size_t)v;
			break;
		case O_MEMT:
			if (parse_u64("--memtable-bytes", optarg, &v))
				return 2;
			cfg.opts.memtable_bytes = (size_t)v;
			break;
		case O_BLOOM:
			if (!strcmp(optarg, "0"))
				v = 0;
			else if (parse_u64("--bloom-bits", optarg, &v) || v > 64)
				return 2;
			cfg.opts.bloom_bits = (int)v;
			break;
		case O_BLOB:
			if (!strcmp(optarg, "0"))
				v = 0;
			else if (parse_u64("--blob-threshold", optarg, &v) || v > (64u << 20))
				return 2;
			cfg.opts.blob_threshold = (size_t)v;
			break;
		case O_REPS:
			if (parse_u64("--reps", optarg, &v) || v > BENCH_MAX_REPS) {
				fprintf(stderr, "lsm-bench: --reps: 1 to %d\n", BENCH_MAX_REPS);
				return 2;
			}
			cfg.reps = (int)v;
			break;
		case O_DIR:
			cfg.dir = optarg;
			break;
		case O_OUT:
			out = optarg;
			break;
		case O_TITLE:
			title = optarg;
			break;
		case O_SEED:
			if (parse_u64("--seed", optarg, &cfg.seed))
				return 2;
			break;
		case O_TIMEOUT:
			if (parse_u64("--timeout", optarg, &timeout) || timeout > 86400)
				return 2;
			break;
		case O_LIST:
			for (int i = 0; i < NALL; i++)
				printf("%s\n", all_engines[i]->name);
			return 0;
		case 'v':
			cfg.verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (cfg.num >= 5000000000000000ull) {
		fprintf(stderr, "lsm-bench: --num too large for 16-digit keys\n");
		return 2;
	}
	cfg.reads = reads ? reads : cfg.num;
	cfg.sync_num = sync_num ? sync_num : (cfg.num / 100 ? cfg.num / 100 : 1);

	const struct bench_engine *engines[BENCH_MAX_ENGINES];
	int ne = 0;
	if (engines_arg) {
		char *items[BENCH_MAX_ENGINES];
		int n = split_list(engines_arg, items, BENCH_MAX_ENGINES);
		if (n <= 0) {
			fprintf(stderr, "lsm-bench: --engines: 1 to %d names\n", BENCH_MAX_ENGINES);
			return 2;
		}
		for (int i = 0; i < n; i++) {
			engines[ne] = engine_by_name(items[i]);
			if (!engines[ne]) {
				fprintf(stderr,
					"lsm-bench: engine %s is not built in (--list-engines)\n",
					items[i]);
				return 2;
			}
			ne++;
		}
	} else {
		for (int i = 0; i < NALL; i++)
			if (strcmp(all_engines[i]->name, "rocksdb-blob") || cfg.opts.blob_threshold)
				engines[ne++] = all_engines[i];
	}

	int want[WL_COUNT] = {0};
	if (bench_arg) {
		char *items[WL_COUNT];
		int n = split_list(bench_arg, items, WL_COUNT);
		if (n <= 0) {
			fprintf(stderr, "lsm-bench: --benchmarks: 1 to %d names\n", WL_COUNT);
			return 2;
		}
		for (int i = 0; i < n; i++) {
			int wl = wl_by_name(items[i]);
			if (wl < 0) {
				fprintf(stderr, "lsm-bench: unknown benchmark %s\n", items[i]);
				return 2;
			}
			want[wl] = 1;
		}
	} else {
		for (int i = 0; i < WL_COUNT; i++)
			want[i] = 1;
	}

	struct bench_group groups[WL_COUNT + BENCH_MAX_SYNC_T + 1];
	int ngroups = make_groups(want, &cfg, groups);

	if (mkdir(cfg.dir, 0755) && errno != EEXIST) {
		fprintf(stderr, "lsm-bench: mkdir %s: %s\n", cfg.dir, strerror(errno));
		return 1;
	}
	bench_values_init(cfg.value_size, cfg.seed);

	char deftitle[256];
	if (!title) {
		snprintf(deftitle, sizeof(deftitle), "%zu-byte values, compression %s",
			 cfg.value_size, cfg.opts.compress ? "fast" : "none");
		title = deftitle;
	}
	struct bench_report *rep = report_new(&cfg, title, engines, ne);
	if (!rep) {
		fprintf(stderr, "lsm-bench: out of memory\n");
		return 1;
	}

	struct bench_result res[BENCH_MAX_GROUP];
	long rss;
	if (run_child(NULL, &cfg, NULL, 0, (unsigned)timeout, res, &rss) == 0)
		report_set_baseline_rss(rep, rss);

	int failures = 0;
	fprintf(stderr, "lsm-bench: %s; num %" PRIu64 ", %d reps, engines:", title, cfg.num,
		cfg.reps);
	for (int i = 0; i < ne; i++)
		fprintf(stderr, " %s (%s)", engines[i]->name,
			engines[i]->compression_name(cfg.opts.compress));
	fprintf(stderr, "\n");
	for (int r = 0; r < cfg.reps; r++) {
		for (int gi = 0; gi < ngroups; gi++) {
			for (int k = 0; k < ne; k++) {
				int ei = (k + r) % ne;
				int n = run_child(engines[ei], &cfg, &groups[gi], r,
						  (unsigned)timeout, res, &rss);
				if (n < 0) {
					failures++;
					continue;
				}
				for (int i = 0; i < n; i++) {
					print_result(r, cfg.reps, engines[ei], &res[i],
						     cfg.verbose);
					report_add(rep, ei, r, &res[i]);
				}
			}
		}
	}
	int rc = report_write(rep, out);
	report_free(rep);
	if (failures)
		fprintf(stderr, "lsm-bench: %d run(s) failed; their figures are missing\n",
			failures);
	return rc || failures ? 1 : 0;
}
