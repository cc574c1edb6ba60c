/*
 * lsmfs-stat — live statistics of a mounted lsmfs, from its daemon's
 * socket (fuse_stats.c draws the snapshot it reads).
 *
 *	lsmfs-stat [--json] MOUNTPOINT|DATA_DIR [INTERVAL [COUNT]]
 *
 * The table prints one line per INTERVAL seconds (default 1), as vmstat
 * does: the first line since the mount, each later one over the interval
 * before it; a header every 20 lines. --json prints each snapshot whole
 * (totals since the mount) as one JSON object a line, for scripts; without
 * INTERVAL just one. COUNT lines, or until interrupted. The daemon is found through the mount's
 * source in /proc/self/mountinfo (the data directory, unless the mount was
 * given another fsname), or given as the data directory itself.
 *
 * Exit status: 0, 1 when no daemon answers, 2 for a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fuse_stats.h"

#define MAXOPS	 70
#define NBUCKETS 24
#define MAXENG	 40

struct snap {
	uint64_t time_ns, uptime_ns, bytes_read, bytes_written;
	int nops, neng;
	struct {
		char name[24];
		uint64_t count, total_ns, hist[NBUCKETS];
	} op[MAXOPS];
	struct {
		char name[40];
		long long v;
	} eng[MAXENG];
};

static void usage(FILE *f)
{
	fprintf(f, "usage: lsmfs-stat [--json] MOUNTPOINT|DATA_DIR [INTERVAL [COUNT]]\n"
		   "Shows the FUSE requests, bytes and engine figures of a mounted lsmfs,\n"
		   "one line per INTERVAL seconds (default 1); --json prints each snapshot\n"
		   "as one JSON object a line (without INTERVAL, one snapshot).\n");
}

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *d = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] && s[3]) {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = 0;
}

/* The source of the mount at path (the data dir) into out, or 0 if it is no mount. */
static int mount_source(const char *path, char *out, size_t len)
{
	char line[8192], mnt[4096], src[4096], *sep;
	int found = 0;
	FILE *f = fopen("/proc/self/mountinfo", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		/* ID PARENT DEV ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS */
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
			continue;
		unescape(mnt);
		sep = strstr(line, " - ");
		if (strcmp(mnt, path) != 0 || !sep || sscanf(sep + 3, "%*s %4095s", src) != 1)
			continue;
		unescape(src);
		snprintf(out, len, "%s", src);
		found = 1; /* the last one: mounts stack */
	}
	fclose(f);
	return found;
}

/* Connects to the daemon's socket in dir: the socket, or -1. */
static int connect_dir(const char *dir)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int d = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC), s;

	if (d < 0)
		return -1;
	snprintf(a.sun_path, sizeof(a.sun_path), "/proc/self/fd/%d/%s", d, FST_SOCKET);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s >= 0 && connect(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(s);
		s = -1;
	}
	close(d);
	return s;
}

/* Reads one snapshot from the daemon at dir: 0, or -1 (errno from the connect). */
static int fetch(const char *dir, struct snap *sn)
{
	char line[1024];
	int s = connect_dir(dir), done = 0;
	FILE *f;

	if (s < 0)
		return -1;
	f = fdopen(s, "r");
	if (!f) {
		close(s);
		return -1;
	}
	memset(sn, 0, sizeof(*sn));
	while (fgets(line, sizeof(line), f)) {
		unsigned long long a, b;
		long long v;
		char name[64];
		int at;

		if (sscanf(line, "time_ns %llu", &a) == 1)
			sn->time_ns = a;
		else if (sscanf(line, "uptime_ns %llu", &a) == 1)
			sn->uptime_ns = a;
		else if (sscanf(line, "bytes_read %llu", &a) == 1)
			sn->bytes_read = a;
		else if (sscanf(line, "bytes_written %llu", &a) == 1)
			sn->bytes_written = a;
		else if (sscanf(line, "op %23s %llu %llu%n", name, &a, &b, &at) == 3 &&
			 sn->nops < MAXOPS) {
			char *p = line + at;

			snprintf(sn->op[sn->nops].name, sizeof(sn->op[0].name), "%.23s", name);
			sn->op[sn->nops].count = a;
			sn->op[sn->nops].total_ns = b;
			for (int i = 0; i < NBUCKETS; i++)
				sn->op[sn->nops].hist[i] = strtoull(p, &p, 10);
			sn->nops++;
		} else if (sscanf(line, "engine %39s %lld", name, &v) == 2 && sn->neng < MAXENG) {
			snprintf(sn->eng[sn->neng].name, sizeof(sn->eng[0].name), "%.39s", name);
			sn->eng[sn->neng].v = v;
			sn->neng++;
		} else if (strcmp(line, "end\n") == 0) {
			done = 1;
		}
	}
	fclose(f);
	if (!done) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

static uint64_t op_count(const struct snap *s, const char *name, uint64_t *ns)
{
	for (int i = 0; i < s->nops; i++)
		if (strcmp(s->op[i].name, name) == 0) {
			if (ns)
				*ns = s->op[i].total_ns;
			return s->op[i].count;
		}
	if (ns)
		*ns = 0;
	return 0;
}

static long long eng(const struct snap *s, const char *name)
{
	for (int i = 0; i < s->neng; i++)
		if (strcmp(s->eng[i].name, name) == 0)
			return s->eng[i].v;
	return 0;
}

static void print_json(const struct snap *s)
{
	printf("{\"time_ns\":%llu,\"uptime_ns\":%llu,\"bytes_read\":%llu,\"bytes_written\":%llu,"
	       "\"requests\":{",
	       (unsigned long long)s->time_ns, (unsigned long long)s->uptime_ns,
	       (unsigned long long)s->bytes_read, (unsigned long long)s->bytes_written);
	for (int i = 0; i < s->nops; i++) {
		printf("%s\"%s\":{\"count\":%llu,\"total_ns\":%llu,\"hist_log2_us\":[",
		       i ? "," : "", s->op[i].name, (unsigned long long)s->op[i].count,
		       (unsigned long long)s->op[i].total_ns);
		for (int b = 0; b < NBUCKETS; b++)
			printf("%s%llu", b ? "," : "", (unsigned long long)s->op[i].hist[b]);
		printf("]}");
	}
	printf("},\"engine\":{");
	for (int i = 0; i < s->neng; i++)
		printf("%s\"%s\":%lld", i ? "," : "", s->eng[i].name, s->eng[i].v);
	printf("}}\n");
}

/* Requests of all kinds but the named columns', and their time. */
static const char *const columns[] = {"LOOKUP", "GETATTR", "CREATE", "WRITE", "READ", "SETATTR"};
#define NCOLS (sizeof(columns) / sizeof(columns[0]))

static void print_header(void)
{
	printf("%8s %7s %7s %7s %7s %7s %7s %7s %7s %8s %8s %6s %6s %8s %8s %5s %6s %5s\n", "req/s",
	       "lookup", "getattr", "create", "write", "read", "setattr", "other", "lat_us",
	       "rd_MB/s", "wr_MB/s", "sync/s", "flush", "comp_MB/s", "gc_MB/s", "hit%", "stalls",
	       "wamp");
}

/* One table line: what happened between a (NULL: the mount) and b. */
static void print_line(const struct snap *a, const struct snap *b)
{
	static const struct snap zero;
	double secs;
	uint64_t all = 0, all_ns = 0, col_sum = 0, col[NCOLS];
	long long hits, misses, user, written;

	if (!a)
		a = &zero;
	secs = (double)(a == &zero ? b->uptime_ns : b->time_ns - a->time_ns) / 1e9;
	if (secs <= 0)
		secs = 1e-9;
	for (int i = 0; i < b->nops; i++) {
		uint64_t ns0, n0 = op_count(a, b->op[i].name, &ns0);

		all += b->op[i].count - n0;
		all_ns += b->op[i].total_ns - ns0;
	}
	for (size_t c = 0; c < NCOLS; c++) {
		col[c] = op_count(b, columns[c], NULL) - op_count(a, columns[c], NULL);
		col_sum += col[c];
	}
	hits = eng(b, "cache_hits") - eng(a, "cache_hits");
	misses = eng(b, "cache_misses") - eng(a, "cache_misses");
	/* Write amplification so far: all the engine wrote per byte handed to it. */
	user = eng(b, "user_bytes_written");
	written = eng(b, "wal_bytes_written") + eng(b, "flush_bytes_written") +
		  eng(b, "compaction_bytes_written") + eng(b, "gc_bytes_written");
	printf("%8.0f %7.0f %7.0f %7.0f %7.0f %7.0f %7.0f %7.0f %7.1f %8.1f %8.1f %6.0f %6lld "
	       "%8.1f %8.1f %5.1f %6lld %5.2f\n",
	       (double)all / secs, (double)col[0] / secs, (double)col[1] / secs,
	       (double)col[2] / secs, (double)col[3] / secs, (double)col[4] / secs,
	       (double)col[5] / secs, (double)(all - col_sum) / secs,
	       all ? (double)all_ns / (double)all / 1000.0 : 0.0,
	       (double)(b->bytes_read - a->bytes_read) / secs / 1048576.0,
	       (double)(b->bytes_written - a->bytes_written) / secs / 1048576.0,
	       (double)(eng(b, "wal_syncs") - eng(a, "wal_syncs")) / secs,
	       eng(b, "flushes") - eng(a, "flushes"),
	       (double)(eng(b, "compaction_bytes_written") - eng(a, "compaction_bytes_written")) /
		       secs / 1048576.0,
	       (double)(eng(b, "gc_bytes_written") - eng(a, "gc_bytes_written")) / secs / 1048576.0,
	       hits + misses ? 100.0 * (double)hits / (double)(hits + misses) : 0.0,
	       eng(b, "stall_slowdowns") + eng(b, "stall_stops") - eng(a, "stall_slowdowns") -
		       eng(a, "stall_stops"),
	       user ? (double)written / (double)user : 0.0);
}

int main(int argc, char **argv)
{
	static struct snap snaps[2];
	char dir[PATH_MAX], real[PATH_MAX];
	double interval = 1;
	long count = -1;
	int json = 0, argi = 1;

	if (argi < argc && strcmp(argv[argi], "--json") == 0) {
		json = 1;
		argi++;
	}
	if (argi < argc && (strcmp(argv[argi], "-h") == 0 || strcmp(argv[argi], "--help") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argi >= argc || argc - argi > 3) {
		usage(stderr);
		return 2;
	}
	if (json && argc - argi == 1)
		count = 1; /* a script's poll: one snapshot */
	if (argc - argi >= 2) {
		char *end;

		interval = strtod(argv[argi + 1], &end);
		if (*end || !(interval > 0) || interval > 86400) {
			fprintf(stderr,
				"lsmfs-stat: bad interval '%s': give seconds, e.g. 1 or 0.5\n",
				argv[argi + 1]);
			return 2;
		}
	}
	if (argc - argi == 3) {
		char *end;

		count = strtol(argv[argi + 2], &end, 10);
		if (*end || count <= 0) {
			fprintf(stderr, "lsmfs-stat: bad count '%s': give a number above 0\n",
				argv[argi + 2]);
			return 2;
		}
	}
	if (!realpath(argv[argi], real)) {
		fprintf(stderr, "lsmfs-stat: %s: %s\n", argv[argi], strerror(errno));
		return 1;
	}
	if (!mount_source(real, dir, sizeof(dir)))
		snprintf(dir, sizeof(dir), "%s", real); /* a data directory */
	for (long i = 0; count < 0 || i < count; i++) {
		struct snap *now = &snaps[i % 2], *before = i ? &snaps[(i + 1) % 2] : NULL;

		if (i)
			usleep((useconds_t)(interval * 1e6));
		if (fetch(dir, now) != 0) {
			fprintf(stderr,
				"lsmfs-stat: no lsmfs daemon answers for %s (%s/%s: %s); give the "
				"mount point of a read-write mount, or its data directory\n",
				argv[argi], dir, FST_SOCKET, strerror(errno));
			return 1;
		}
		if (json) {
			print_json(now);
		} else {
			if (i % 20 == 0)
				print_header();
			print_line(before, now);
		}
		fflush(stdout);
	}
	return 0;
}
