/*
 * report.c — lsm-bench's report: medians over repetitions, liblsm's ratio
 * to each peer, the targets, and three files:
 *
 *   PREFIX.md       Markdown tables (the section docs/BENCHMARKS.md quotes)
 *   PREFIX.dat      one row per workload for gnuplot (bench/lsm-bench.gp):
 *                   idx workload, then median min max ops/s of liblsm, leveldb,
 *                   rocksdb (NaN when absent), then liblsm's ratio to each,
 *                   then median min max of rocksdb-blob and liblsm's ratio to it
 *   PREFIX.raw.tsv  every repetition's figures, one row per engine/workload/rep
 *
 * Ratios are ratios of medians. For ops/s higher is better; for latency,
 * write amplification and RSS lower is better; each table says which.
 */
#include <config.h>

#include "bench.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROWS 24

/* Columns of the data file, in this order whatever --engines said. */
static const char *const fixed_engines[BENCH_MAX_ENGINES] = {"liblsm", "leveldb", "rocksdb",
							     "rocksdb-blob"};

struct row {
	char name[BENCH_NAME_BYTES];
	int wl;
	int threads;
	struct bench_result r[BENCH_MAX_ENGINES][BENCH_MAX_REPS];
	int have[BENCH_MAX_ENGINES][BENCH_MAX_REPS];
};

struct bench_report {
	struct bench_config cfg;
	char title[256];
	const struct bench_engine *engines[BENCH_MAX_ENGINES];
	int ne;
	int lsm, leveldb, rocksdb, rocksdb_blob; /* indexes into engines, or -1 */
	long baseline_kb;
	struct row rows[MAX_ROWS];
	int nrows;
};

struct stat3 {
	int n;
	double med, min, max;
};

typedef double (*metric_fn)(const struct bench_result *r);

static double m_ops(const struct bench_result *r)
{
	return r->secs > 0 ? (double)r->ops / r->secs : NAN;
}

static double m_p50(const struct bench_result *r)
{
	return (double)r->p50_ns / 1e3;
}

static double m_p99(const struct bench_result *r)
{
	return (double)r->p99_ns / 1e3;
}

static double m_p999(const struct bench_result *r)
{
	return (double)r->p999_ns / 1e3;
}

/*
 * write_bytes: page cache the process dirtied for writing, counted when
 * dirtied (docs/BENCHMARKS.md). cancelled_write_bytes is kept in the raw
 * file only: it depends on when writeback ran, not on the engine.
 */
static double m_wamp(const struct bench_result *r)
{
	if (!r->user_bytes)
		return NAN;
	return (double)r->io_write_bytes / (double)r->user_bytes;
}

static double m_samp(const struct bench_result *r)
{
	if (!r->du_bytes || !r->live_bytes)
		return NAN;
	return (double)r->du_bytes / (double)r->live_bytes;
}

static double m_idle(const struct bench_result *r)
{
	return r->idle_secs;
}

static double m_rss(const struct bench_result *r)
{
	return (double)r->maxrss_kb / 1024.0;
}

static double m_anon(const struct bench_result *r)
{
	if (r->peak_anon_kb < 0)
		return NAN;
	return (double)r->peak_anon_kb / 1024.0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static struct stat3 stat_of(const struct bench_report *rep, const struct row *row, int e,
			    metric_fn f)
{
	struct stat3 s = {0, NAN, NAN, NAN};
	double v[BENCH_MAX_REPS];
	if (e < 0)
		return s;
	for (int k = 0; k < rep->cfg.reps; k++) {
		if (!row->have[e][k])
			continue;
		double x = f(&row->r[e][k]);
		if (!isnan(x))
			v[s.n++] = x;
	}
	if (!s.n)
		return s;
	qsort(v, (size_t)s.n, sizeof(v[0]), cmp_double);
	s.min = v[0];
	s.max = v[s.n - 1];
	s.med = s.n % 2 ? v[s.n / 2] : (v[s.n / 2 - 1] + v[s.n / 2]) / 2;
	return s;
}

static double ratio(struct stat3 a, struct stat3 b)
{
	if (!a.n || !b.n || b.med == 0)
		return NAN;
	return a.med / b.med;
}

struct bench_report *report_new(const struct bench_config *cfg, const char *title,
				const struct bench_engine *const *engines, int nengines)
{
	struct bench_report *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->cfg = *cfg;
	snprintf(r->title, sizeof(r->title), "%s", title);
	r->ne = nengines;
	r->lsm = r->leveldb = r->rocksdb = r->rocksdb_blob = -1;
	for (int i = 0; i < nengines; i++) {
		r->engines[i] = engines[i];
		if (!strcmp(engines[i]->name, "liblsm"))
			r->lsm = i;
		else if (!strcmp(engines[i]->name, "leveldb"))
			r->leveldb = i;
		else if (!strcmp(engines[i]->name, "rocksdb"))
			r->rocksdb = i;
		else if (!strcmp(engines[i]->name, "rocksdb-blob"))
			r->rocksdb_blob = i;
	}
	return r;
}

void report_set_baseline_rss(struct bench_report *r, long kb)
{
	r->baseline_kb = kb;
}

void report_add(struct bench_report *r, int engine, int rep, const struct bench_result *res)
{
	struct row *row = NULL;
	for (int i = 0; i < r->nrows; i++)
		if (!strcmp(r->rows[i].name, res->name))
			row = &r->rows[i];
	if (!row) {
		if (r->nrows == MAX_ROWS)
			return;
		row = &r->rows[r->nrows++];
		snprintf(row->name, sizeof(row->name), "%s", res->name);
		row->wl = res->wl;
		row->threads = res->threads;
	}
	row->r[engine][rep] = *res;
	row->have[engine][rep] = 1;
}

void report_free(struct bench_report *r)
{
	free(r);
}

/* ---- formatting ---- */

/* Engineering-style numbers: 3 significant digits, k/M suffix for large ones. */
static void fmt_num(char *buf, size_t len, double v)
{
	if (isnan(v))
		snprintf(buf, len, "–");
	else if (v >= 1e6)
		snprintf(buf, len, "%.3gM", v / 1e6);
	else if (v >= 1e4)
		snprintf(buf, len, "%.0fk", v / 1e3);
	else if (v >= 100)
		snprintf(buf, len, "%.0f", v);
	else if (v >= 10)
		snprintf(buf, len, "%.1f", v);
	else
		snprintf(buf, len, "%.2f", v);
}

/* "median [min–max]", or "–". */
static void fmt_spread(char *buf, size_t len, struct stat3 s)
{
	char a[32], b[32], c[32];
	if (!s.n) {
		snprintf(buf, len, "–");
		return;
	}
	fmt_num(a, sizeof(a), s.med);
	if (s.n == 1) {
		snprintf(buf, len, "%s", a);
		return;
	}
	fmt_num(b, sizeof(b), s.min);
	fmt_num(c, sizeof(c), s.max);
	snprintf(buf, len, "%s [%s–%s]", a, b, c);
}

static void fmt_ratio(char *buf, size_t len, double x)
{
	if (isnan(x))
		snprintf(buf, len, "–");
	else
		snprintf(buf, len, "%.2f×", x);
}

static int is_write_row(const struct row *row)
{
	return row->wl == WL_FILLSEQ || row->wl == WL_FILLRANDOM || row->wl == WL_OVERWRITE ||
	       row->wl == WL_DELETERANDOM || row->wl == WL_FILLSYNC || row->wl == WL_OVERWRITE2X;
}

static int is_idle_space_row(const struct row *row)
{
	return row->wl == WL_OVERWRITE2X;
}

static int is_space_row(const struct row *row)
{
	return row->wl == WL_FILLSEQ || row->wl == WL_FILLRANDOM || row->wl == WL_OVERWRITE ||
	       row->wl == WL_DELETERANDOM;
}

static void engines_header(FILE *f, const struct bench_report *r, const char *first)
{
	fprintf(f, "| %s |", first);
	for (int e = 0; e < r->ne; e++)
		fprintf(f, " %s |", r->engines[e]->name);
}

static void ratio_header(FILE *f, const struct bench_report *r, const char *what)
{
	if (r->lsm < 0)
		return;
	for (int e = 0; e < r->ne; e++)
		if (e != r->lsm)
			fprintf(f, " %sliblsm ÷ %s |", what, r->engines[e]->name);
}

static void align_row(FILE *f, const struct bench_report *r)
{
	int cols = r->ne + (r->lsm >= 0 ? r->ne - 1 : 0);
	fprintf(f, "|---|");
	for (int i = 0; i < cols; i++)
		fprintf(f, "---:|");
	fprintf(f, "\n");
}

static void ratio_cells(FILE *f, const struct bench_report *r, const struct row *row, metric_fn m)
{
	char buf[32];
	if (r->lsm < 0)
		return;
	struct stat3 a = stat_of(r, row, r->lsm, m);
	for (int e = 0; e < r->ne; e++) {
		if (e == r->lsm)
			continue;
		fmt_ratio(buf, sizeof(buf), ratio(a, stat_of(r, row, e, m)));
		fprintf(f, " %s |", buf);
	}
}

static void table_metric(FILE *f, const struct bench_report *r, const char *heading, metric_fn m,
			 const char *ratio_what, int (*want)(const struct row *))
{
	char buf[128];
	fprintf(f, "%s\n\n", heading);
	engines_header(f, r, "workload");
	ratio_header(f, r, ratio_what);
	fprintf(f, "\n");
	align_row(f, r);
	for (int i = 0; i < r->nrows; i++) {
		const struct row *row = &r->rows[i];
		if (want && !want(row))
			continue;
		fprintf(f, "| %s |", row->name);
		for (int e = 0; e < r->ne; e++) {
			fmt_spread(buf, sizeof(buf), stat_of(r, row, e, m));
			fprintf(f, " %s |", buf);
		}
		ratio_cells(f, r, row, m);
		fprintf(f, "\n");
	}
	fprintf(f, "\n");
}

static void table_latency(FILE *f, const struct bench_report *r)
{
	char a[32], b[32], c[32];
	fprintf(f, "Latency per operation, µs: p50 / p99 / p99.9 (medians over the repetitions; "
		   "ratios are of p99, lower is better)\n\n");
	engines_header(f, r, "workload");
	ratio_header(f, r, "p99 ");
	fprintf(f, "\n");
	align_row(f, r);
	for (int i = 0; i < r->nrows; i++) {
		const struct row *row = &r->rows[i];
		fprintf(f, "| %s |", row->name);
		for (int e = 0; e < r->ne; e++) {
			fmt_num(a, sizeof(a), stat_of(r, row, e, m_p50).med);
			fmt_num(b, sizeof(b), stat_of(r, row, e, m_p99).med);
			fmt_num(c, sizeof(c), stat_of(r, row, e, m_p999).med);
			fprintf(f, " %s / %s / %s |", a, b, c);
		}
		ratio_cells(f, r, row, m_p99);
		fprintf(f, "\n");
	}
	fprintf(f, "\n");
}

/* ---- targets ---- */

/* Appends "name (1.23×)" to list; *worst tracks the smallest margin. */
static void note(char *list, size_t len, const char *name, double x)
{
	size_t used = strlen(list);
	snprintf(list + used, len - used, "%s%s %.2f×", used ? ", " : "", name, x);
}

static void target_line(FILE *f, const char *what, int checked, const char *shortfall,
			const char *detail)
{
	if (!checked) {
		fprintf(f, "| %s | not measured | – |\n", what);
		return;
	}
	if (*shortfall)
		fprintf(f, "| %s | short: %s | no |\n", what, shortfall);
	else
		fprintf(f, "| %s | %s | yes |\n", what, detail);
}

/* ops/s of liblsm against peer on every workload; min_ratio must hold. */
static void target_ops(FILE *f, const struct bench_report *r, int peer, double min_ratio,
		       const char *what)
{
	char shortfall[1024] = "", detail[64] = "";
	double lowest = INFINITY;
	int checked = 0;
	if (r->lsm >= 0 && peer >= 0) {
		for (int i = 0; i < r->nrows; i++) {
			const struct row *row = &r->rows[i];
			double x =
				ratio(stat_of(r, row, r->lsm, m_ops), stat_of(r, row, peer, m_ops));
			if (isnan(x))
				continue;
			checked = 1;
			if (x < lowest)
				lowest = x;
			if (x < min_ratio)
				note(shortfall, sizeof(shortfall), row->name, x);
		}
	}
	snprintf(detail, sizeof(detail), "lowest %.2f×", lowest);
	target_line(f, what, checked, shortfall, detail);
}

static const struct row *find_row(const struct bench_report *r, const char *name)
{
	for (int i = 0; i < r->nrows; i++)
		if (!strcmp(r->rows[i].name, name))
			return &r->rows[i];
	return NULL;
}

static void memory_target(FILE *f, const struct bench_report *r,
			  double (*metric)(const struct bench_result *), const char *name);

static void targets(FILE *f, const struct bench_report *r)
{
	char shortfall[1024], detail[256];
	int checked;

	fprintf(f, "Targets (liblsm; ratios of medians)\n\n");
	fprintf(f, "| target | measured | met |\n|---|---|---|\n");
	target_ops(f, r, r->leveldb, 1.5, "ops/s ≥ 1.5× LevelDB, every workload");

	const struct row *fr = find_row(r, "fillrandom");
	checked = fr && r->lsm >= 0 && r->leveldb >= 0;
	shortfall[0] = detail[0] = 0;
	if (checked) {
		double x = ratio(stat_of(r, fr, r->lsm, m_ops), stat_of(r, fr, r->leveldb, m_ops));
		checked = !isnan(x);
		if (x < 2.0)
			note(shortfall, sizeof(shortfall), "fillrandom", x);
		snprintf(detail, sizeof(detail), "%.2f×", x);
	}
	target_line(f, "ops/s ≥ 2× LevelDB on fillrandom", checked, shortfall, detail);

	target_ops(f, r, r->rocksdb, 1.0, "ops/s ≥ 1.0× RocksDB, every workload");

	static const char *const wamp_rows[] = {"fillrandom", "overwrite"};
	checked = 0;
	shortfall[0] = detail[0] = 0;
	for (int i = 0; i < 2; i++) {
		const struct row *row = find_row(r, wamp_rows[i]);
		if (!row || r->lsm < 0 || r->leveldb < 0)
			continue;
		double x =
			ratio(stat_of(r, row, r->lsm, m_wamp), stat_of(r, row, r->leveldb, m_wamp));
		if (isnan(x))
			continue;
		checked = 1;
		if (x > 0.7)
			note(shortfall, sizeof(shortfall), wamp_rows[i], x);
		note(detail, sizeof(detail), wamp_rows[i], x);
	}
	target_line(f, "write amp ≤ 0.7× LevelDB's on fillrandom, overwrite", checked, shortfall,
		    detail);

	checked = 0;
	shortfall[0] = 0;
	double worst = 0;
	for (int i = 0; i < r->nrows && r->lsm >= 0 && r->leveldb >= 0; i++) {
		const struct row *row = &r->rows[i];
		double x =
			ratio(stat_of(r, row, r->lsm, m_p99), stat_of(r, row, r->leveldb, m_p99));
		if (isnan(x))
			continue;
		checked = 1;
		if (x > worst)
			worst = x;
		if (x > 1.0)
			note(shortfall, sizeof(shortfall), row->name, x);
	}
	snprintf(detail, sizeof(detail), "highest %.2f×", worst);
	target_line(f, "p99 ≤ LevelDB's, every workload", checked, shortfall, detail);

	/* fillsync scaling: the largest thread count against 1 thread. */
	const struct row *one = find_row(r, "fillsync-1t"), *many = NULL;
	for (int i = 0; i < r->nrows; i++)
		if (r->rows[i].wl == WL_FILLSYNC && r->rows[i].threads > 1 &&
		    (!many || r->rows[i].threads > many->threads))
			many = &r->rows[i];
	checked = one && many && r->lsm >= 0;
	shortfall[0] = detail[0] = 0;
	char what[96] = "fillsync: N threads ≥ 5× 1 thread";
	if (checked) {
		double x = ratio(stat_of(r, many, r->lsm, m_ops), stat_of(r, one, r->lsm, m_ops));
		checked = !isnan(x);
		snprintf(what, sizeof(what), "fillsync: %d threads ≥ 5× 1 thread", many->threads);
		if (x < 5.0)
			note(shortfall, sizeof(shortfall), many->name, x);
		snprintf(detail, sizeof(detail), "%.2f×", x);
	}
	target_line(f, what, checked, shortfall, detail);

	memory_target(f, r, m_rss, "peak RSS");
	memory_target(f, r, m_anon, "peak anonymous RSS");
	fprintf(f, "\n");
}

/*
 * liblsm's ratio to peer in metric m on the named rows; a row is short when
 * the ratio is below min (higher_better) or above it. Rows absent are skipped.
 */
static void target_rows(FILE *f, const struct bench_report *r, int peer, metric_fn m,
			const char *const *names, int nnames, double bound, int higher_better,
			const char *what)
{
	char shortfall[1024] = "", detail[1024] = "";
	int checked = 0;
	for (int i = 0; i < nnames && r->lsm >= 0 && peer >= 0; i++) {
		const struct row *row = find_row(r, names[i]);
		if (!row)
			continue;
		double x = ratio(stat_of(r, row, r->lsm, m), stat_of(r, row, peer, m));
		if (isnan(x))
			continue;
		checked = 1;
		if (higher_better ? x < bound : x > bound)
			note(shortfall, sizeof(shortfall), names[i], x);
		note(detail, sizeof(detail), names[i], x);
	}
	target_line(f, what, checked, shortfall, detail);
}

/* liblsm's own median of metric m on the named rows, against an absolute bound (≤). */
static void target_abs(FILE *f, const struct bench_report *r, metric_fn m, const char *const *names,
		       int nnames, double bound, const char *what)
{
	char shortfall[1024] = "", detail[1024] = "";
	int checked = 0;
	for (int i = 0; i < nnames && r->lsm >= 0; i++) {
		const struct row *row = find_row(r, names[i]);
		if (!row)
			continue;
		struct stat3 st = stat_of(r, row, r->lsm, m);
		if (!st.n)
			continue;
		checked = 1;
		size_t used = strlen(shortfall);
		if (st.med > bound)
			snprintf(shortfall + used, sizeof(shortfall) - used, "%s%s %.2f",
				 used ? ", " : "", names[i], st.med);
		used = strlen(detail);
		snprintf(detail + used, sizeof(detail) - used, "%s%s %.2f", used ? ", " : "",
			 names[i], st.med);
	}
	target_line(f, what, checked, shortfall, detail);
}

/* The targets of value separation (runs with --blob-threshold). */
static void targets_blob(FILE *f, const struct bench_report *r)
{
	static const char *const fills[] = {"fillseq", "fillrandom"};
	static const char *const writes[] = {"fillseq", "fillrandom", "overwrite"};
	static const char *const reads[] = {"readrandom", "readseq", "readrandom-after-overwrite",
					    "readseq-after-overwrite"};
	static const char *const space[] = {"overwrite2x"};
	double wa = r->cfg.value_size >= 65536 ? 1.15 : 1.3;
	char what[128];

	fprintf(f, "Targets of value separation (liblsm, blob threshold %zu bytes)\n\n",
		r->cfg.opts.blob_threshold);
	fprintf(f, "| target | measured | met |\n|---|---|---|\n");
	snprintf(what, sizeof(what), "write amp ≤ %.2f on fillseq, fillrandom", wa);
	target_abs(f, r, m_wamp, fills, 2, wa, what);
	target_rows(f, r, r->rocksdb, m_ops, writes, 3, 1.5, 1,
		    "ops/s ≥ 1.5× RocksDB on fillseq, fillrandom, overwrite");
	target_rows(f, r, r->rocksdb_blob, m_ops, writes, 3, 1.0, 1,
		    "ops/s ≥ 1.0× rocksdb-blob on fillseq, fillrandom, overwrite");
	target_rows(f, r, r->rocksdb, m_ops, reads, 4, 1.0, 1,
		    "ops/s ≥ 1.0× RocksDB on readrandom, readseq (also after overwrite)");
	target_abs(f, r, m_samp, space, 1, 1.5,
		   "space ≤ 1.5× live after overwriting every key twice, idle");
	fprintf(f, "\n");
}

/* The memory budget: liblsm's highest figure of metric over every row. */
static void memory_target(FILE *f, const struct bench_report *r,
			  double (*metric)(const struct bench_result *), const char *name)
{
	char shortfall[1024], detail[256], what[256];
	double budget = (double)(r->cfg.opts.cache_bytes +
				 r->cfg.memtables_max * r->cfg.opts.memtable_bytes) /
				(1024.0 * 1024.0) +
			64.0;
	int checked = 0;
	shortfall[0] = 0;
	double most = 0;
	for (int i = 0; i < r->nrows && r->lsm >= 0; i++) {
		struct stat3 s = stat_of(r, &r->rows[i], r->lsm, metric);
		if (!s.n)
			continue;
		checked = 1;
		if (s.max > most)
			most = s.max;
		if (s.max > budget) {
			size_t used = strlen(shortfall);
			snprintf(shortfall + used, sizeof(shortfall) - used, "%s%s %.1f MiB",
				 used ? ", " : "", r->rows[i].name, s.max);
		}
	}
	snprintf(what, sizeof(what), "%s ≤ cache + memtables + 64 MiB = %.0f MiB", name, budget);
	snprintf(detail, sizeof(detail), "highest %.1f MiB", most);
	target_line(f, what, checked, shortfall, detail);
}

/* ---- files ---- */

static int write_md(const struct bench_report *r, const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		return -1;
	}
	const struct bench_config *c = &r->cfg;
	fprintf(f, "### %s\n\n", r->title);
	fprintf(f,
		"%" PRIu64 " keys of %d bytes, values of %zu bytes (about half compressible); "
		"%" PRIu64 " ops per write workload, %" PRIu64 " per random-read workload, "
		"%" PRIu64 " for fillsync; block cache %zu MiB, memtable %zu MiB, bloom %d "
		"bits/key; compression:",
		c->num, BENCH_KEY_BYTES, c->value_size, c->num, c->reads, c->sync_num,
		c->opts.cache_bytes >> 20, c->opts.memtable_bytes >> 20, c->opts.bloom_bits);
	for (int e = 0; e < r->ne; e++)
		fprintf(f, "%s %s %s", e ? "," : "", r->engines[e]->name,
			r->engines[e]->compression_name(c->opts.compress));
	if (c->opts.blob_threshold)
		fprintf(f,
			"; value separation of values ≥ %zu bytes (liblsm blob_threshold, "
			"rocksdb-blob min_blob_size)",
			c->opts.blob_threshold);
	fprintf(f, ". %d repetition%s, engines interleaved; medians with [min–max].\n\n", c->reps,
		c->reps > 1 ? "s" : "");

	table_metric(f, r, "Throughput, ops/s (higher is better)", m_ops, "", NULL);
	table_latency(f, r);
	table_metric(f, r,
		     "Write amplification: bytes written to the device ÷ user bytes written "
		     "(lower is better)",
		     m_wamp, "", is_write_row);
	table_metric(f, r,
		     "Space amplification: db directory after full compaction ÷ live user bytes "
		     "(lower is better)",
		     m_samp, "", is_space_row);
	table_metric(f, r,
		     "Space after overwriting every key twice, once the engine is idle, without a "
		     "manual compaction: db directory ÷ live user bytes (lower is better)",
		     m_samp, "", is_idle_space_row);
	table_metric(f, r,
		     "Wait for the engine to be idle after the workload (flush, background "
		     "compaction and collection), s",
		     m_idle, "", is_write_row);
	char heading[256];
	snprintf(heading, sizeof(heading),
		 "Peak RSS of the child process that ran the workload's group, MiB (lower is "
		 "better; a child that runs no engine peaks at %.1f MiB)",
		 (double)r->baseline_kb / 1024.0);
	table_metric(f, r, heading, m_rss, "", NULL);
	table_metric(f, r,
		     "Peak anonymous RSS of that child, MiB: RSS without the pages of mapped files "
		     "(heap, caches, memtables; sampled every 5 ms; lower is better)",
		     m_anon, "", NULL);
	targets(f, r);
	if (c->opts.blob_threshold)
		targets_blob(f, r);
	if (fclose(f)) {
		perror(path);
		return -1;
	}
	return 0;
}

static int write_dat(const struct bench_report *r, const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		return -1;
	}
	int col[BENCH_MAX_ENGINES];
	for (int k = 0; k < BENCH_MAX_ENGINES; k++) {
		col[k] = -1;
		for (int e = 0; e < r->ne; e++)
			if (!strcmp(r->engines[e]->name, fixed_engines[k]))
				col[k] = e;
	}
	fprintf(f, "# %s\n# idx workload", r->title);
	for (int k = 0; k < 3; k++)
		fprintf(f, " %s_med %s_min %s_max", fixed_engines[k], fixed_engines[k],
			fixed_engines[k]);
	fprintf(f, " ratio_leveldb ratio_rocksdb rocksdb-blob_med rocksdb-blob_min rocksdb-blob_max"
		   " ratio_rocksdb_blob\n");
	for (int i = 0; i < r->nrows; i++) {
		const struct row *row = &r->rows[i];
		fprintf(f, "%d %s", i, row->name);
		struct stat3 s[BENCH_MAX_ENGINES];
		for (int k = 0; k < BENCH_MAX_ENGINES; k++) {
			s[k] = stat_of(r, row, col[k], m_ops);
			if (k < 3)
				fprintf(f, " %.1f %.1f %.1f", s[k].med, s[k].min, s[k].max);
		}
		fprintf(f, " %.4f %.4f", ratio(s[0], s[1]), ratio(s[0], s[2]));
		fprintf(f, " %.1f %.1f %.1f %.4f\n", s[3].med, s[3].min, s[3].max,
			ratio(s[0], s[3]));
	}
	if (fclose(f)) {
		perror(path);
		return -1;
	}
	return 0;
}

static int write_raw(const struct bench_report *r, const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		return -1;
	}
	fprintf(f, "engine\tcompression\tvalue_size\trep\tworkload\tthreads\tops\tsecs\tops_per_s"
		   "\tp50_ns\tp99_ns\tp999_ns\tmax_ns\tfound\tbg_ops\tuser_bytes"
		   "\tio_write_bytes\tio_cancelled_bytes\twrite_amp\tdu_bytes\tlive_bytes"
		   "\tspace_amp\tmaxrss_kb\tpeak_anon_kb\tload_s\tcompact_s\tidle_s\n");
	for (int i = 0; i < r->nrows; i++) {
		const struct row *row = &r->rows[i];
		for (int e = 0; e < r->ne; e++) {
			for (int k = 0; k < r->cfg.reps; k++) {
				if (!row->have[e][k])
					continue;
				const struct bench_result *x = &row->r[e][k];
				fprintf(f,
					"%s\t%s\t%zu\t%d\t%s\t%d\t%" PRIu64 "\t%.4f\t%.1f\t%" PRIu64
					"\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
					"\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
					"\t%.3f\t%" PRIu64 "\t%" PRIu64
					"\t%.3f\t%ld\t%ld\t%.2f\t%.2f\t%.2f\n",
					r->engines[e]->name,
					r->engines[e]->compression_name(r->cfg.opts.compress),
					r->cfg.value_size, k + 1, x->name, x->threads, x->ops,
					x->secs, m_ops(x), x->p50_ns, x->p99_ns, x->p999_ns,
					x->max_ns, x->found, x->bg_ops, x->user_bytes,
					x->io_write_bytes, x->io_cancelled_bytes, m_wamp(x),
					x->du_bytes, x->live_bytes, m_samp(x), x->maxrss_kb,
					x->peak_anon_kb, x->load_secs, x->compact_secs,
					x->idle_secs);
			}
		}
	}
	if (fclose(f)) {
		perror(path);
		return -1;
	}
	return 0;
}

int report_write(struct bench_report *r, const char *prefix)
{
	char path[4096];
	int rc = 0;
	snprintf(path, sizeof(path), "%s.md", prefix);
	rc |= write_md(r, path);
	snprintf(path, sizeof(path), "%s.dat", prefix);
	rc |= write_dat(r, path);
	snprintf(path, sizeof(path), "%s.raw.tsv", prefix);
	rc |= write_raw(r, path);
	if (!rc)
		fprintf(stderr, "lsm-bench: wrote %s.md, %s.dat, %s.raw.tsv\n", prefix, prefix,
			prefix);
	return rc ? -1 : 0;
}
