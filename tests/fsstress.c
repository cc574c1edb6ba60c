/*
 * fsstress.c — many processes doing random namespace and data operations in
 * one shared tree, then a check that the tree is consistent; and the logged
 * workload of the kill -9 campaign, with its verifier.
 *
 *	fsstress -d DIR [-p procs] [-n ops] [-S seed] [-v]
 *	fsstress -d DIR -c				only the check of the tree
 *	fsstress -d DIR -L LOG [-n ops] [-S seed]	logged workload
 *	fsstress -d DIR -V LOG				verify DIR against LOG
 *
 * Shared tree (the default): -p processes (4) each make -n operations (1000)
 * with names from a small pool, so that they collide: creat, mkdir, rmdir,
 * unlink, rename (plain, RENAME_NOREPLACE, RENAME_EXCHANGE), link, symlink,
 * setxattr, removexattr, write, read, truncate, chmod, utimes, fsync,
 * readdir, stat. Races make ENOENT, EEXIST, ENOTEMPTY and the like normal;
 * any other error (EIO, ESTALE, ENOSPC, ...) is reported. Every write puts
 * at each offset one of four bytes that depend on the offset, so every read
 * can tell a misplaced or foreign byte. Afterwards the tree is checked:
 * every entry readdir lists stats (with the d_ino and d_type readdir gave),
 * every name lstat finds is listed, every file reads to its size and holds
 * only valid bytes, every symlink reads to its size, every xattr listed can
 * be read, link counts equal the names found, a directory's count is two
 * plus its subdirectories, and a second listing equals the first. DIR is
 * created if missing and should be empty.
 *
 * Logged workload (-L): one process, a tree of its own at DIR, operations
 * that must all succeed; each is appended to LOG before it starts ("B ...")
 * and again the moment it returns ("D seq"). The campaign kills the daemon
 * with SIGKILL; the workload then fails (it logs "F seq errno") and exits 3
 * when the filesystem is gone (ENOTCONN), 1 for an error while it is not. After the remount, -V
 * replays LOG: the tree must equal the state after every operation that
 * returned, or that plus the one in flight (for a write in flight, any mix
 * of old, new and zero bytes, at a size between the two).
 *
 * Exit: 0 all consistent, 1 an inconsistency or unexpected error (printed),
 * 2 misuse, 3 the filesystem went away (ENOTCONN: its daemon was killed)
 * under the processes or the logged workload; the shared tree is then not
 * checked (run -c after the remount).
 */
#include "config.h"

#include "fsstress.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

int verbose;

void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fsstress: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* A message into a fixed buffer: cut short if it must be. */
void say(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, cap, fmt, ap);
	va_end(ap);
}

/* A path into a fixed buffer: too long is a bug of the workload. */
void path_fmt(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, cap, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap)
		die("internal: a path longer than %zu bytes", cap);
}

void rng_init(struct rng *r, uint64_t seed)
{
	r->s = seed ? seed : 0x9E3779B97F4A7C15ULL;
}

uint64_t rnd(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545F4914F6CDD1DULL;
}

uint64_t below(struct rng *r, uint64_t n)
{
	return rnd(r) % n;
}

static uint64_t time_seed(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec * 1000000007u) ^ (uint64_t)ts.tv_nsec ^
	       ((uint64_t)getpid() << 32);
}

/*
 * Whether the filesystem under dir went away (its daemon was killed): then
 * every request fails with ENOTCONN. The failure that told us may be EIO
 * instead (dirty pages the kernel could no longer write back, reported by
 * close), so an error is put down to the kill only when this says so.
 */
int fs_gone(const char *dir)
{
	struct statfs sf; /* not answered from the kernel's caches, as stat may be */

	return statfs(dir, &sf) != 0 && errno == ENOTCONN;
}

static void usage(void)
{
	fprintf(stderr, "usage: fsstress -d DIR [-p procs] [-n ops] [-S seed] [-v]\n"
			"       fsstress -d DIR -c\n"
			"       fsstress -d DIR -L LOG [-n ops] [-S seed]\n"
			"       fsstress -d DIR -V LOG\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *dir = NULL, *log = NULL, *verify = NULL;
	uint64_t nops = 1000, seed = 0;
	int procs = 4, c, check_only = 0;

	while ((c = getopt(argc, argv, "d:p:n:S:L:V:vc")) != -1) {
		switch (c) {
		case 'c':
			check_only = 1;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'p':
			procs = atoi(optarg);
			break;
		case 'n':
			nops = strtoull(optarg, NULL, 0);
			break;
		case 'S':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'L':
			log = optarg;
			break;
		case 'V':
			verify = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (!dir || optind != argc || procs < 1 || procs > 64 || (log && verify))
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (verify)
		return verify_log(dir, verify);
	if (check_only)
		return check_tree(dir);
	if (!seed)
		seed = time_seed();
	if (log)
		return logged_workload(dir, log, nops, seed);
	return shared_tree(dir, procs, nops, seed);
}
