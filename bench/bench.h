/*
 * bench.h — what lsm-bench's driver, workloads and report share.
 *
 * Process model: the driver (lsm_bench.c) forks one child per engine,
 * workload group and repetition. The child (workloads.c) opens a fresh
 * database, runs the group's workloads and writes one struct bench_result
 * per workload into a pipe; the parent adds the child's peak RSS from
 * wait4() and hands everything to the report (report.c).
 */
#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H

#include "adapter.h"

#include <stddef.h>
#include <stdint.h>

#define BENCH_KEY_BYTES	  16
#define BENCH_MAX_ENGINES 4
#define BENCH_MAX_REPS	  15
#define BENCH_MAX_SYNC_T  4 /* thread counts fillsync may be run with */
#define BENCH_MAX_GROUP	  5 /* workloads in one group */
#define BENCH_NAME_BYTES  32

/* Workloads, named as db_bench names them. */
enum bench_wl {
	WL_FILLSEQ,
	WL_FILLRANDOM,
	WL_OVERWRITE,
	WL_READRANDOM,
	WL_READMISSING,
	WL_READSEQ,
	WL_READREVERSE,
	WL_SEEKRANDOM,
	WL_DELETERANDOM,
	WL_READWHILEWRITING,
	WL_FILLSYNC,
	WL_OVERWRITE2X, /* every key overwritten twice; space once the engine is idle */
	WL_COUNT
};

extern const char *const bench_wl_names[WL_COUNT];

struct bench_config {
	uint64_t num;	   /* keys loaded; ops of the write workloads */
	uint64_t reads;	   /* ops of readrandom, readmissing, seekrandom, readwhilewriting */
	uint64_t sync_num; /* ops of fillsync, shared by its threads */
	size_t value_size;
	int reps;
	int readers; /* reader threads of readwhilewriting (plus one writer) */
	int sync_threads[BENCH_MAX_SYNC_T];
	int nsync_threads;
	uint64_t seed;
	struct bench_opts opts;
	size_t memtables_max; /* memtables an engine may hold at once, for the RSS budget */
	const char *dir;      /* scratch directory; each child uses DIR/ENGINE-GROUP */
	int verbose;
};

/*
 * A group of workloads that runs in one child on one database. Write
 * workloads are alone in their group, so the group's peak RSS and the
 * write-amplification window belong to them alone.
 */
struct bench_group {
	char name[BENCH_NAME_BYTES];
	int preload; /* load num keys in order and compact fully before the first workload */
	/*
	 * After the preload, overwrite num random keys (untimed) and wait for
	 * the engine to be idle, without a manual compaction; rows get the
	 * suffix "-after-overwrite".
	 */
	int after_overwrite;
	int measure_write;	/* write amplification of the (single) workload */
	int measure_space;	/* space amplification after it (full compaction first) */
	int measure_idle_space; /* space after it once idle, without a manual compaction */
	int threads;		/* fillsync's thread count; 1 otherwise */
	int wl[BENCH_MAX_GROUP];
	int nwl;
};

/* One workload's figures from one child; plain data, sent through a pipe. */
struct bench_result {
	char name[BENCH_NAME_BYTES]; /* row label: the workload, "fillsync-8t", ... */
	int wl;			     /* enum bench_wl */
	int threads;
	uint64_t ops; /* operations timed */
	double secs;  /* wall time of the timed loop */
	uint64_t p50_ns, p99_ns, p999_ns, max_ns;
	uint64_t found;	     /* reads that found their key */
	uint64_t bg_ops;     /* readwhilewriting: writes done by the writer meanwhile */
	uint64_t user_bytes; /* key + value bytes handed to writes; 0: no write amplification */
	uint64_t io_write_bytes, io_cancelled_bytes; /* /proc/self/io deltas over the window */
	uint64_t du_bytes;   /* allocated bytes of the db dir after full compaction; 0: none */
	uint64_t live_bytes; /* key + value bytes of the live keys then */
	double load_secs, compact_secs; /* untimed preparation of the group */
	double idle_secs;  /* wait for the engine's background work after the workload */
	long maxrss_kb;	   /* the child's peak RSS (filled in by the parent) */
	long peak_anon_kb; /* the child's peak RSS without mapped files (memwatch.h); -1: unknown */
};

/* workloads.c: the child's side. */
void bench_values_init(size_t value_size, uint64_t seed);
/* Runs one group; fills res[0..*nres). Returns 0, or -1 after reporting the failure. */
int bench_run_group(const struct bench_engine *e, const struct bench_config *cfg,
		    const struct bench_group *g, int rep, struct bench_result *res, int *nres);

/* report.c: medians, ratios, targets; Markdown, data file and raw rows. */
struct bench_report;
struct bench_report *report_new(const struct bench_config *cfg, const char *title,
				const struct bench_engine *const *engines, int nengines);
void report_add(struct bench_report *r, int engine, int rep, const struct bench_result *res);
void report_set_baseline_rss(struct bench_report *r, long kb);
/* Writes PREFIX.md, PREFIX.dat and PREFIX.raw.tsv; returns 0 or -1 (reported). */
int report_write(struct bench_report *r, const char *prefix);
void report_free(struct bench_report *r);

#endif /* BENCH_BENCH_H */
