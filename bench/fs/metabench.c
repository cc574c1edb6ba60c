/*
 * metabench — metadata operations on any mounted filesystem, timed in C so
 * that the figures are the filesystem's and not a shell loop's.
 *
 *	metabench PHASE [-n FILES] [-t] [-r] DIR
 *	metabench scale [-n FILES] [-D DIRS] DIR
 *
 * PHASE is one of
 *	create	creates FILES empty files (open O_CREAT|O_EXCL, close);
 *	stat	lstat()s each of them by path;
 *	lsl	what `ls -l` does: readdir of every directory and an
 *		fstatat() of each entry;
 *	rename	renames each file to a new name in the same directory;
 *	unlink	unlinks each file (and, with -t, removes the tree's dirs).
 *
 * Layouts: flat (the default) puts every file in DIR; -t (tree) makes a
 * 3-level tree DIR/aI/bJ/cK of TREE_FANOUT^3 leaf directories and spreads
 * the files over the leaves, round robin. -r says the files carry the names
 * `rename` gave them (for the phases that come after it). Each phase prints
 * one line:
 *
 *	PHASE OPS SECONDS OPS_PER_SECOND
 *
 * scale creates FILES files in DIRS directories (DIR/dNNNN, files round
 * robin over them) and prints the rate of the whole run, of its first 10 %
 * and of its last 10 %:
 *
 *	scale FILES SECONDS RATE FIRST10_RATE LAST10_RATE
 *
 * Any failing system call stops the run with a message naming the call, the
 * path and the error, and exit status 1; a usage error exits with 2.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* 5^3 = 125 leaves, 155 directories: a 19,000-entry tree with its dirs
 * stays under an open-file limit of 20,000 even when every entry is held
 * open by a passthrough daemon. */
#define TREE_FANOUT 5
#define TREE_LEAVES (TREE_FANOUT * TREE_FANOUT * TREE_FANOUT)

static const char *prog = "metabench";

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The directory file i lives in, relative to the base dir ("." when flat). */
static void leaf_dir(char *buf, size_t len, int tree, long i)
{
	long leaf = i % TREE_LEAVES;

	if (!tree)
		snprintf(buf, len, ".");
	else
		snprintf(buf, len, "a%ld/b%ld/c%ld", leaf / (TREE_FANOUT * TREE_FANOUT),
			 leaf / TREE_FANOUT % TREE_FANOUT, leaf % TREE_FANOUT);
}

static void file_path(char *buf, size_t len, int tree, int renamed, long i)
{
	char dir[64];

	leaf_dir(dir, sizeof(dir), tree, i);
	snprintf(buf, len, "%s/%c%07ld", dir, renamed ? 'r' : 'f', i);
}

/* Calls fn on every directory of the layout, parents before children
 * (reverse = children before parents, for removal). */
static void for_each_dir(int tree, int reverse, void (*fn)(const char *path))
{
	char path[64];
	int pass, a, b, c;

	if (!tree) {
		fn(".");
		return;
	}
	for (pass = 0; pass < 3; pass++) {
		int depth = reverse ? 2 - pass : pass;

		for (a = 0; a < TREE_FANOUT; a++)
			for (b = 0; b < (depth >= 1 ? TREE_FANOUT : 1); b++)
				for (c = 0; c < (depth >= 2 ? TREE_FANOUT : 1); c++) {
					if (depth == 0)
						snprintf(path, sizeof(path), "a%d", a);
					else if (depth == 1)
						snprintf(path, sizeof(path), "a%d/b%d", a, b);
					else
						snprintf(path, sizeof(path), "a%d/b%d/c%d", a, b,
							 c);
					fn(path);
				}
	}
}

static void make_dir(const char *path)
{
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		die("mkdir %s: %s", path, strerror(errno));
}

static void remove_dir(const char *path)
{
	if (rmdir(path) != 0)
		die("rmdir %s: %s", path, strerror(errno));
}

static long lsl_entries;

static void list_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	struct stat st;

	if (!d)
		die("opendir %s: %s", path, strerror(errno));
	while ((errno = 0, e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			die("stat %s/%s: %s", path, e->d_name, strerror(errno));
		lsl_entries++;
	}
	if (errno != 0)
		die("readdir %s: %s", path, strerror(errno));
	closedir(d);
}

static void create_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);

	if (fd < 0)
		die("create %s: %s", path, strerror(errno));
	if (close(fd) != 0)
		die("close %s: %s", path, strerror(errno));
}

static int run_phase(const char *phase, long n, int tree, int renamed)
{
	char path[96], to[96];
	struct stat st;
	double t0, secs;
	long i, ops = n;

	t0 = now();
	if (strcmp(phase, "create") == 0) {
		for_each_dir(tree, 0, make_dir);
		for (i = 0; i < n; i++) {
			file_path(path, sizeof(path), tree, renamed, i);
			create_file(path);
		}
	} else if (strcmp(phase, "stat") == 0) {
		for (i = 0; i < n; i++) {
			file_path(path, sizeof(path), tree, renamed, i);
			if (lstat(path, &st) != 0)
				die("stat %s: %s", path, strerror(errno));
		}
	} else if (strcmp(phase, "lsl") == 0) {
		lsl_entries = 0;
		for_each_dir(tree, 0, list_dir);
		/* Count only files: the tree's directories are listed too, but
		 * the rate is per file, as for the other phases. */
		if (lsl_entries < n)
			die("ls -l found %ld entries, expected at least %ld", lsl_entries, n);
	} else if (strcmp(phase, "rename") == 0) {
		for (i = 0; i < n; i++) {
			file_path(path, sizeof(path), tree, 0, i);
			file_path(to, sizeof(to), tree, 1, i);
			if (rename(path, to) != 0)
				die("rename %s: %s", path, strerror(errno));
		}
	} else if (strcmp(phase, "unlink") == 0) {
		for (i = 0; i < n; i++) {
			file_path(path, sizeof(path), tree, renamed, i);
			if (unlink(path) != 0)
				die("unlink %s: %s", path, strerror(errno));
		}
		if (tree)
			for_each_dir(tree, 1, remove_dir);
	} else {
		fprintf(stderr, "%s: unknown phase '%s'\n", prog, phase);
		return 2;
	}
	secs = now() - t0;
	printf("%s %ld %.6f %.1f\n", phase, ops, secs, secs > 0 ? (double)ops / secs : 0.0);
	return 0;
}

static int run_scale(long n, long dirs)
{
	char path[64];
	long i, tenth = n / 10 > 0 ? n / 10 : 1;
	double t0, t_first = 0, t_last_start = 0, t_end;

	for (i = 0; i < dirs; i++) {
		snprintf(path, sizeof(path), "d%04ld", i);
		make_dir(path);
	}
	t0 = now();
	for (i = 0; i < n; i++) {
		if (i == tenth)
			t_first = now();
		if (i == n - tenth)
			t_last_start = now();
		snprintf(path, sizeof(path), "d%04ld/f%08ld", i % dirs, i);
		create_file(path);
	}
	t_end = now();
	if (n <= tenth)
		t_first = t_end;
	printf("scale %ld %.6f %.1f %.1f %.1f\n", n, t_end - t0, (double)n / (t_end - t0),
	       (double)tenth / (t_first - t0), (double)tenth / (t_end - t_last_start));
	return 0;
}

static long parse_count(const char *s, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 1 || v > 100000000) {
		fprintf(stderr, "%s: bad %s '%s': give a count from 1 to 100000000\n", prog, what,
			s);
		exit(2);
	}
	return v;
}

static int known_phase(const char *phase)
{
	static const char *const phases[] = {"create", "stat", "lsl", "rename", "unlink", "scale"};
	size_t i;

	for (i = 0; i < sizeof(phases) / sizeof(phases[0]); i++)
		if (strcmp(phase, phases[i]) == 0)
			return 1;
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: %s create|stat|lsl|rename|unlink [-n FILES] [-t] [-r] DIR\n"
		"       %s scale [-n FILES] [-D DIRS] DIR\n",
		prog, prog);
	exit(2);
}

int main(int argc, char **argv)
{
	long n = 19000, dirs = 1000;
	int tree = 0, renamed = 0, c;
	const char *phase;

	if (argc < 2)
		usage();
	phase = argv[1];
	optind = 2;
	while ((c = getopt(argc, argv, "n:D:tr")) != -1) {
		switch (c) {
		case 'n':
			n = parse_count(optarg, "file count");
			break;
		case 'D':
			dirs = parse_count(optarg, "directory count");
			break;
		case 't':
			tree = 1;
			break;
		case 'r':
			renamed = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1)
		usage();
	if (!known_phase(phase)) {
		fprintf(stderr, "%s: unknown phase '%s'\n", prog, phase);
		usage();
	}
	if (chdir(argv[optind]) != 0)
		die("cd %s: %s", argv[optind], strerror(errno));
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(phase, "scale") == 0)
		return run_scale(n, dirs);
	return run_phase(phase, n, tree, renamed);
}
