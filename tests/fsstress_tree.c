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

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static int verbose;

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
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
static void say(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, cap, fmt, ap);
	va_end(ap);
}

/* A path into a fixed buffer: too long is a bug of the workload. */
static void path_fmt(char *out, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void path_fmt(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, cap, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap)
		die("internal: a path longer than %zu bytes", cap);
}

/* xorshift64*: a seed means the same operations everywhere. */
struct rng {
	uint64_t s;
};

static void rng_init(struct rng *r, uint64_t seed)
{
	r->s = seed ? seed : 0x9E3779B97F4A7C15ULL;
}

static uint64_t rnd(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545F4914F6CDD1DULL;
}

static uint64_t below(struct rng *r, uint64_t n)
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

static int sys_renameat2(const char *a, const char *b, unsigned flags)
{
	return (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, flags);
}

/*
 * Whether the filesystem under dir went away (its daemon was killed): then
 * every request fails with ENOTCONN. The failure that told us may be EIO
 * instead (dirty pages the kernel could no longer write back, reported by
 * close), so an error is put down to the kill only when this says so.
 */
static int fs_gone(const char *dir)
{
	struct statfs sf; /* not answered from the kernel's caches, as stat may be */

	return statfs(dir, &sf) != 0 && errno == ENOTCONN;
}

/* ================= the shared tree ================= */

/* Names collide on purpose: four directories, eight files, two symlinks. */
static const char *const pool[] = {"d0", "d1", "d2", "d3", "f0", "f1", "f2",
				   "f3", "f4", "f5", "f6", "f7", "s0", "s1"};
#define NPOOL	 (int)(sizeof(pool) / sizeof(pool[0]))
#define NDNAMES	 4
#define FIRST_F	 4
#define NFNAMES	 8
#define FIRST_S	 12
#define NSNAMES	 2
#define MAXFILE	 (256 * 1024)
#define MAXWRITE (64 * 1024)

/*
 * Symlink targets: relative and without "..", so that following one never
 * leaves the tree (a creat through "s0" must not write outside DIR); "s0"
 * named s0 loops (ELOOP), "nowhere" dangles.
 */
static const char *const targets[] = {"f0", "f1", "d0", "d1/f2", "d0/d1", "s0", "nowhere"};
#define NTARGETS (int)(sizeof(targets) / sizeof(targets[0]))

enum {
	S_CREAT,
	S_MKDIR,
	S_RMDIR,
	S_UNLINK,
	S_RENAME,
	S_RENAME_NOREPLACE,
	S_RENAME_EXCHANGE,
	S_LINK,
	S_SYMLINK,
	S_SETXATTR,
	S_REMOVEXATTR,
	S_WRITE,
	S_READ,
	S_TRUNCATE,
	S_CHMOD,
	S_UTIMES,
	S_FSYNC,
	S_READDIR,
	S_STAT,
	S_NOPS
};

static const char *const sop_names[S_NOPS] = {
	"creat",
	"mkdir",
	"rmdir",
	"unlink",
	"rename",
	"rename-noreplace",
	"rename-exchange",
	"link",
	"symlink",
	"setxattr",
	"removexattr",
	"write",
	"read",
	"truncate",
	"chmod",
	"utimes",
	"fsync",
	"readdir",
	"stat",
};
static const int sop_weights[S_NOPS] = {10, 6, 4, 7, 8, 3, 3, 4, 3, 4, 2, 12, 8, 5, 3, 3, 3, 4, 4};

/* Shared with the parent through an anonymous shared mapping. */
struct sstats {
	uint64_t ok[S_NOPS], failed[S_NOPS];
	uint64_t unexpected;
};

struct sproc {
	const char *dir;
	int id;
	struct rng r;
	struct sstats *st;
	uint8_t buf[MAXWRITE];
};

/* One of four byte values for each offset, never zero (zero is a hole). */
static uint8_t spat(int k, uint64_t off)
{
	return (uint8_t)(k * 64 + (int)(off % 61) + 1);
}

static int valid_byte(uint64_t off, uint8_t b)
{
	return b == 0 || (b - 1) % 64 == (int)(off % 61);
}

/* The errors that collisions between the processes make normal. */
static int expected_errno(int op, int e)
{
	switch (e) {
	case ENOENT:
	case EEXIST:
	case ENOTEMPTY:
	case ENOTDIR:
	case EISDIR:
	case ELOOP:
		return 1;
	case EINVAL: /* a directory renamed into itself */
		return op == S_RENAME || op == S_RENAME_NOREPLACE || op == S_RENAME_EXCHANGE;
	case EPERM: /* link of a directory; user xattrs on a symlink */
		return op == S_LINK || op == S_SETXATTR || op == S_REMOVEXATTR;
	case ENODATA:
		return op == S_REMOVEXATTR;
	default:
		return 0;
	}
}

/* A path of 0-2 directory names and a last name; kind: 'd', 'f', 's' or 0 (any). */
static void rand_path(struct sproc *p, char *out, size_t cap, int kind)
{
	int depth = (int)below(&p->r, 10);
	char rel[32] = "";
	const char *last;

	depth = depth < 4 ? 0 : depth < 8 ? 1 : 2;
	for (int i = 0; i < depth; i++) {
		strcat(rel, pool[below(&p->r, NDNAMES)]);
		strcat(rel, "/");
	}
	if (below(&p->r, 5) == 0)
		kind = 0;
	if (kind == 'd')
		last = pool[below(&p->r, NDNAMES)];
	else if (kind == 'f')
		last = pool[FIRST_F + below(&p->r, NFNAMES)];
	else if (kind == 's')
		last = pool[FIRST_S + below(&p->r, NSNAMES)];
	else
		last = pool[below(&p->r, NPOOL)];
	path_fmt(out, cap, "%s/%s%s", p->dir, rel, last);
}

static void sreport(struct sproc *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sreport(struct sproc *p, const char *fmt, ...)
{
	va_list ap;

	if (p->id < 0)
		fprintf(stderr, "fsstress: check: ");
	else
		fprintf(stderr, "fsstress[%d]: ", p->id);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	p->st->unexpected++;
}

/* Writes the pattern k at [off, off+len) through fd; 0 or an errno. */
static int swrite_fd(struct sproc *p, int fd, uint64_t off, size_t len, int k)
{
	for (size_t i = 0; i < len; i++)
		p->buf[i] = spat(k, off + i);
	for (size_t done = 0; done < len;) {
		ssize_t n = pwrite(fd, p->buf + done, len - done, (off_t)(off + done));

		if (n <= 0)
			return n < 0 ? errno : EIO;
		done += (size_t)n;
	}
	return 0;
}

/* Reads a regular file to its end, checking every byte; 0 or an errno. */
static int sread_fd(struct sproc *p, int fd, const char *path, uint64_t *total)
{
	uint64_t off = 0;
	int reported = 0;

	for (;;) {
		ssize_t n = read(fd, p->buf, sizeof(p->buf));

		if (n < 0)
			return errno;
		if (n == 0)
			break;
		for (ssize_t i = 0; i < n && !reported; i++) {
			if (!valid_byte(off + (uint64_t)i, p->buf[i])) {
				sreport(p,
					"%s: byte 0x%02x at offset %" PRIu64
					" was never written there by anyone",
					path, p->buf[i], off + (uint64_t)i);
				reported = 1;
			}
		}
		off += (uint64_t)n;
	}
	*total = off;
	return 0;
}

static int s_close(int fd, int rc)
{
	if (close(fd) && !rc)
		rc = errno;
	return rc;
}

static int sop_creat(struct sproc *p, const char *a)
{
	int fd = open(a, O_CREAT | O_WRONLY, 0644), rc = 0;

	if (fd < 0)
		return errno;
	if (below(&p->r, 2))
		rc = swrite_fd(p, fd, 0, 1 + below(&p->r, 8192), (int)below(&p->r, 4));
	return s_close(fd, rc);
}

static int sop_write(struct sproc *p, const char *a)
{
	int fd = open(a, O_WRONLY), rc;
	uint64_t off = below(&p->r, MAXFILE);

	if (fd < 0)
		return errno;
	if (below(&p->r, 4) == 0)
		off &= ~(uint64_t)4095;
	rc = swrite_fd(p, fd, off, 1 + below(&p->r, MAXWRITE), (int)below(&p->r, 4));
	return s_close(fd, rc);
}

static int sop_read(struct sproc *p, const char *a)
{
	int fd = open(a, O_RDONLY), rc = 0;
	struct stat st;
	uint64_t total;

	if (fd < 0)
		return errno;
	if (fstat(fd, &st))
		rc = errno;
	else if (S_ISREG(st.st_mode))
		rc = sread_fd(p, fd, a, &total);
	return s_close(fd, rc);
}

static int sop_fsync(const char *a)
{
	int fd = open(a, O_RDONLY), rc = 0;

	if (fd < 0)
		return errno;
	if (fsync(fd))
		rc = errno;
	return s_close(fd, rc);
}

static int sop_readdir(const char *a)
{
	DIR *d = opendir(a);

	if (!d)
		return errno;
	errno = 0;
	while (readdir(d))
		;
	if (errno) {
		int e = errno;

		closedir(d);
		return e;
	}
	return closedir(d) ? errno : 0;
}

static int sop_utimes(struct sproc *p, const char *a)
{
	struct timespec ts[2] = {{.tv_sec = (time_t)below(&p->r, 2000000000), .tv_nsec = 0},
				 {.tv_sec = (time_t)below(&p->r, 2000000000),
				  .tv_nsec = (long)below(&p->r, 1000000000)}};

	return utimensat(AT_FDCWD, a, ts, 0) ? errno : 0;
}

static int sop_setxattr(struct sproc *p, const char *a)
{
	char name[16], val[32];

	snprintf(name, sizeof(name), "user.%c", (char)('a' + below(&p->r, 3)));
	snprintf(val, sizeof(val), "val-%" PRIu64, below(&p->r, 1000000));
	return setxattr(a, name, val, strlen(val), 0) ? errno : 0;
}

static int sop_removexattr(struct sproc *p, const char *a)
{
	char name[16];

	snprintf(name, sizeof(name), "user.%c", (char)('a' + below(&p->r, 3)));
	return removexattr(a, name) ? errno : 0;
}

static int pick_sop(struct rng *r)
{
	int total = 0, k;
	uint64_t x;

	for (k = 0; k < S_NOPS; k++)
		total += sop_weights[k];
	x = below(r, (uint64_t)total);
	for (k = 0; k < S_NOPS; k++) {
		if (x < (uint64_t)sop_weights[k])
			break;
		x -= (uint64_t)sop_weights[k];
	}
	return k;
}

static int run_sop(struct sproc *p, int op, char *a, char *b, size_t cap)
{
	static const mode_t modes[] = {0600, 0640, 0644, 0755, 0700};
	struct stat st;

	b[0] = 0;
	switch (op) {
	case S_CREAT:
		rand_path(p, a, cap, 'f');
		return sop_creat(p, a);
	case S_MKDIR:
		rand_path(p, a, cap, 'd');
		return mkdir(a, 0755) ? errno : 0;
	case S_RMDIR:
		rand_path(p, a, cap, 'd');
		return rmdir(a) ? errno : 0;
	case S_UNLINK:
		rand_path(p, a, cap, below(&p->r, 4) ? 'f' : 's');
		return unlink(a) ? errno : 0;
	case S_RENAME:
	case S_RENAME_NOREPLACE:
	case S_RENAME_EXCHANGE: {
		int kind = below(&p->r, 3) == 0 ? 'd' : 'f';
		unsigned flags = op == S_RENAME		    ? 0
				 : op == S_RENAME_NOREPLACE ? RENAME_NOREPLACE
							    : RENAME_EXCHANGE;

		rand_path(p, a, cap, kind);
		rand_path(p, b, cap, kind);
		if (!flags && below(&p->r, 2))
			return rename(a, b) ? errno : 0;
		return sys_renameat2(a, b, flags) ? errno : 0;
	}
	case S_LINK:
		rand_path(p, a, cap, 'f');
		rand_path(p, b, cap, 'f');
		return link(a, b) ? errno : 0;
	case S_SYMLINK:
		snprintf(b, cap, "%s", targets[below(&p->r, NTARGETS)]);
		rand_path(p, a, cap, 's');
		return symlink(b, a) ? errno : 0;
	case S_SETXATTR:
		rand_path(p, a, cap, 0);
		return sop_setxattr(p, a);
	case S_REMOVEXATTR:
		rand_path(p, a, cap, 0);
		return sop_removexattr(p, a);
	case S_WRITE:
		rand_path(p, a, cap, 'f');
		return sop_write(p, a);
	case S_READ:
		rand_path(p, a, cap, 'f');
		return sop_read(p, a);
	case S_TRUNCATE:
		rand_path(p, a, cap, 'f');
		return truncate(a, (off_t)below(&p->r, MAXFILE)) ? errno : 0;
	case S_CHMOD:
		rand_path(p, a, cap, 0);
		return chmod(a, modes[below(&p->r, 5)]) ? errno : 0;
	case S_UTIMES:
		rand_path(p, a, cap, 0);
		return sop_utimes(p, a);
	case S_FSYNC:
		rand_path(p, a, cap, 0);
		return sop_fsync(a);
	case S_READDIR:
		rand_path(p, a, cap, 'd');
		return sop_readdir(a);
	default:
		rand_path(p, a, cap, 0);
		return lstat(a, &st) ? errno : 0;
	}
}

/* Runs the process's operations; 3 if the filesystem went away under it, else 0 or 1. */
static int sproc_run(struct sproc *p, uint64_t nops)
{
	char a[PATH_MAX], b[PATH_MAX];

	for (uint64_t i = 0; i < nops; i++) {
		int op = pick_sop(&p->r);
		int e = run_sop(p, op, a, b, sizeof(a));

		if (verbose)
			printf("[%d] %" PRIu64 " %s %s%s%s: %s\n", p->id, i, sop_names[op], a,
			       b[0] ? " " : "", b, e ? strerror(e) : "ok");
		if (!e) {
			p->st->ok[op]++;
			continue;
		}
		p->st->failed[op]++;
		if (expected_errno(op, e))
			continue;
		if (fs_gone(p->dir)) {
			printf("fsstress[%d]: the filesystem went away (%s %s: %s)\n", p->id,
			       sop_names[op], a, strerror(e));
			return 3;
		}
		sreport(p, "%s %s%s%s: unexpected error %s", sop_names[op], a, b[0] ? " " : "", b,
			strerror(e));
	}
	return p->st->unexpected ? 1 : 0;
}

/* ---- the check of the tree, once every process is done ---- */

struct cent {
	ino_t ino;
	mode_t mode;
	nlink_t nlink;
	char path[PATH_MAX];
};

struct checker {
	struct cent *v;
	size_t n, cap;
	int problems;
	int dir_counts; /* the filesystem counts a directory's links as 2 + subdirectories */
	uint64_t files, dirs, links, bytes;
	struct sproc p; /* for the reads */
};

static void cproblem(struct checker *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cproblem(struct checker *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fsstress: check: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	c->problems++;
}

/* The names readdir gives for dir, sorted, with their d_ino and d_type; NULL on error. */
struct dname {
	char *name;
	ino_t ino;
	unsigned char type;
};

static int dname_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dname *)a)->name, ((const struct dname *)b)->name);
}

static struct dname *list_dir(struct checker *c, const char *dir, size_t *n)
{
	DIR *d = opendir(dir);
	struct dname *v = NULL;
	size_t cap = 0;
	struct dirent *de;

	*n = 0;
	if (!d) {
		cproblem(c, "opendir %s: %s", dir, strerror(errno));
		return NULL;
	}
	errno = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 32;
			v = realloc(v, cap * sizeof(*v));
		}
		v[*n].name = strdup(de->d_name);
		v[*n].ino = de->d_ino;
		v[*n].type = de->d_type;
		(*n)++;
		errno = 0;
	}
	if (errno)
		cproblem(c, "readdir %s: %s", dir, strerror(errno));
	closedir(d);
	if (*n > 1)
		qsort(v, *n, sizeof(*v), dname_cmp);
	return v;
}

static void free_list(struct dname *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

static unsigned char dtype_of(mode_t m)
{
	return S_ISDIR(m) ? DT_DIR : S_ISREG(m) ? DT_REG : S_ISLNK(m) ? DT_LNK : DT_UNKNOWN;
}

static void check_file(struct checker *c, const char *path, const struct stat *st)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW);
	uint64_t total = 0;
	int e;

	c->files++;
	if (fd < 0) {
		cproblem(c, "%s: open: %s", path, strerror(errno));
		return;
	}
	e = sread_fd(&c->p, fd, path, &total);
	if (e)
		cproblem(c, "%s: read: %s", path, strerror(e));
	else if (total != (uint64_t)st->st_size)
		cproblem(c, "%s: reads %" PRIu64 " bytes, but its size is %lld", path, total,
			 (long long)st->st_size);
	c->bytes += total;
	close(fd);
}

static void check_symlink(struct checker *c, const char *path, const struct stat *st)
{
	char t[PATH_MAX];
	ssize_t n = readlink(path, t, sizeof(t) - 1);
	int known = 0;

	c->links++;
	if (n < 0) {
		cproblem(c, "%s: readlink: %s", path, strerror(errno));
		return;
	}
	t[n] = 0;
	if (n != st->st_size)
		cproblem(c, "%s: target of %zd bytes, size %lld", path, n, (long long)st->st_size);
	for (int i = 0; i < NTARGETS; i++)
		known |= !strcmp(t, targets[i]);
	if (!known)
		cproblem(c, "%s: target '%s' was never written", path, t);
}

static void check_xattrs(struct checker *c, const char *path)
{
	char names[1024], val[256];
	ssize_t n = llistxattr(path, names, sizeof(names));

	if (n < 0) {
		if (errno != ENOTSUP)
			cproblem(c, "%s: listxattr: %s", path, strerror(errno));
		return;
	}
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(names + i) + 1) {
		ssize_t v;

		if (strncmp(names + i, "user.", 5))
			continue;
		v = lgetxattr(path, names + i, val, sizeof(val) - 1);
		if (v < 0) {
			cproblem(c, "%s: listxattr gives %s, getxattr fails: %s", path, names + i,
				 strerror(errno));
			continue;
		}
		val[v] = 0;
		if (strncmp(val, "val-", 4))
			cproblem(c, "%s: xattr %s holds '%s', never written", path, names + i, val);
	}
}

static void check_dir(struct checker *c, const char *dir, const struct stat *dst, int depth);

static void check_entry(struct checker *c, const char *dir, const struct dname *d, int *subdirs,
			int depth)
{
	char path[PATH_MAX];
	struct stat st;

	path_fmt(path, sizeof(path), "%s/%s", dir, d->name);
	if (lstat(path, &st)) {
		cproblem(c, "readdir of %s lists %s, but lstat fails: %s", dir, d->name,
			 strerror(errno));
		return;
	}
	if (d->ino != st.st_ino)
		cproblem(c, "%s: readdir gives inode %llu, lstat %llu", path,
			 (unsigned long long)d->ino, (unsigned long long)st.st_ino);
	if (d->type != DT_UNKNOWN && d->type != dtype_of(st.st_mode))
		cproblem(c, "%s: readdir gives type %d, lstat mode 0%o", path, d->type,
			 (unsigned)st.st_mode);
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 256;
		c->v = realloc(c->v, c->cap * sizeof(*c->v));
	}
	c->v[c->n].ino = st.st_ino;
	c->v[c->n].mode = st.st_mode;
	c->v[c->n].nlink = st.st_nlink;
	snprintf(c->v[c->n].path, sizeof(c->v[c->n].path), "%s", path);
	c->n++;
	check_xattrs(c, path);
	if (S_ISDIR(st.st_mode)) {
		(*subdirs)++;
		check_dir(c, path, &st, depth + 1);
	} else if (S_ISREG(st.st_mode)) {
		check_file(c, path, &st);
	} else if (S_ISLNK(st.st_mode)) {
		check_symlink(c, path, &st);
	} else {
		cproblem(c, "%s: mode 0%o, which nobody creates", path, (unsigned)st.st_mode);
	}
}

static void check_dir(struct checker *c, const char *dir, const struct stat *dst, int depth)
{
	size_t n, n2;
	struct dname *v, *v2;
	int subdirs = 0;

	c->dirs++;
	if (depth > 64) {
		cproblem(c, "%s: deeper than 64 directories (a loop?)", dir);
		return;
	}
	v = list_dir(c, dir, &n);
	for (size_t i = 1; i < n; i++)
		if (!strcmp(v[i].name, v[i - 1].name))
			cproblem(c, "readdir of %s lists %s twice", dir, v[i].name);
	for (size_t i = 0; i < n; i++)
		check_entry(c, dir, &v[i], &subdirs, depth);
	/* Every name of the pool that readdir does not list must not be found either. */
	for (int k = 0; k < NPOOL; k++) {
		char path[PATH_MAX];
		struct stat st;
		int listed = 0;

		for (size_t i = 0; i < n && !listed; i++)
			listed = !strcmp(v[i].name, pool[k]);
		path_fmt(path, sizeof(path), "%s/%s", dir, pool[k]);
		if (!listed && lstat(path, &st) == 0)
			cproblem(c, "lstat finds %s, but readdir of %s does not list it", path,
				 dir);
		else if (!listed && errno != ENOENT)
			cproblem(c, "lstat %s: %s (expected ENOENT)", path, strerror(errno));
	}
	if (c->dir_counts && dst->st_nlink != (nlink_t)(2 + subdirs))
		cproblem(c, "%s: link count %lu, but it has %d subdirectories", dir,
			 (unsigned long)dst->st_nlink, subdirs);
	v2 = list_dir(c, dir, &n2);
	if (n2 != n)
		cproblem(c, "readdir of %s gives %zu names, then %zu", dir, n, n2);
	for (size_t i = 0; i < n && i < n2; i++)
		if (strcmp(v[i].name, v2[i].name))
			cproblem(c, "readdir of %s: a second listing differs (%s vs %s)", dir,
				 v[i].name, v2[i].name);
	free_list(v, n);
	free_list(v2, n2);
}

static int cent_cmp(const void *a, const void *b)
{
	ino_t x = ((const struct cent *)a)->ino, y = ((const struct cent *)b)->ino;

	return x < y ? -1 : x > y;
}

/* Link counts: each inode's names in the tree (nothing outside links to it). */
static void check_links(struct checker *c)
{
	if (c->n > 1)
		qsort(c->v, c->n, sizeof(*c->v), cent_cmp);
	for (size_t i = 0; i < c->n;) {
		size_t j = i;

		while (j < c->n && c->v[j].ino == c->v[i].ino)
			j++;
		if (S_ISDIR(c->v[i].mode) && j - i > 1)
			cproblem(c, "directory inode %llu has %zu names (%s, %s)",
				 (unsigned long long)c->v[i].ino, j - i, c->v[i].path,
				 c->v[i + 1].path);
		else if (!S_ISDIR(c->v[i].mode) && c->v[i].nlink != (nlink_t)(j - i))
			cproblem(c, "%s: link count %lu, but %zu names found", c->v[i].path,
				 (unsigned long)c->v[i].nlink, j - i);
		for (size_t k = i + 1; k < j; k++)
			if ((c->v[k].mode & S_IFMT) != (c->v[i].mode & S_IFMT))
				cproblem(c, "%s and %s: one inode, two types", c->v[i].path,
					 c->v[k].path);
		i = j;
	}
}

static int check_tree(const char *dir)
{
	struct checker c;
	struct stat st;

	memset(&c, 0, sizeof(c));
	c.p.id = -1;
	c.p.st = &(struct sstats){{0}, {0}, 0};
	if (lstat(dir, &st)) {
		fprintf(stderr, "fsstress: check: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	/* btrfs and some others count 1 for every directory: then there is nothing to check. */
	c.dir_counts = st.st_nlink >= 2;
	check_dir(&c, dir, &st, 0);
	check_links(&c);
	c.problems += (int)c.p.st->unexpected;
	printf("fsstress: check of %s: %" PRIu64 " directories, %" PRIu64 " files (%" PRIu64
	       " bytes), %" PRIu64 " symlinks, %zu names: %d problems\n",
	       dir, c.dirs, c.files, c.bytes, c.links, c.n, c.problems);
	free(c.v);
	return c.problems ? 1 : 0;
}

static int shared_tree(const char *dir, int procs, uint64_t nops, uint64_t seed)
{
	struct sstats *st;
	pid_t *pids = calloc((size_t)procs, sizeof(pid_t));
	int bad = 0, gone = 0;

	st = mmap(NULL, (size_t)procs * sizeof(*st), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (st == MAP_FAILED || !pids)
		die("out of memory");
	memset(st, 0, (size_t)procs * sizeof(*st));
	if (mkdir(dir, 0755) && errno != EEXIST)
		die("mkdir %s: %s", dir, strerror(errno));
	printf("fsstress: seed %" PRIu64 ", %d processes x %" PRIu64 " operations in %s\n", seed,
	       procs, nops, dir);
	fflush(stdout);
	for (int i = 0; i < procs; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			die("fork: %s", strerror(errno));
		if (pids[i] == 0) {
			struct sproc *p = calloc(1, sizeof(*p));

			p->dir = dir;
			p->id = i;
			p->st = &st[i];
			rng_init(&p->r, seed + (uint64_t)i * 1000003u);
			int rc = sproc_run(p, nops);

			fflush(stdout);
			_exit(rc);
		}
	}
	for (int i = 0; i < procs; i++) {
		int status;

		if (waitpid(pids[i], &status, 0) < 0)
			die("waitpid: %s", strerror(errno));
		if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
			gone = 1;
		} else if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			fprintf(stderr, "fsstress: process %d %s %d\n", i,
				WIFEXITED(status) ? "exited with" : "died of signal",
				WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
			bad = 1;
		}
	}
	printf("fsstress: operations (succeeded/failed as collisions make normal):");
	for (int op = 0; op < S_NOPS; op++) {
		uint64_t ok = 0, failed = 0;

		for (int i = 0; i < procs; i++) {
			ok += st[i].ok[op];
			failed += st[i].failed[op];
		}
		printf(" %s %" PRIu64 "/%" PRIu64, sop_names[op], ok, failed);
	}
	printf("\n");
	fflush(stdout);
	if (gone) {
		/* killed under us (the kill -9 campaign): the check comes after the remount */
		printf("fsstress: the filesystem went away; no check\n");
		munmap(st, (size_t)procs * sizeof(*st));
		free(pids);
		return bad ? 1 : 3;
	}
	bad |= check_tree(dir);
	munmap(st, (size_t)procs * sizeof(*st));
	free(pids);
	if (bad)
		fprintf(stderr, "fsstress: FAILED (seed %" PRIu64 ")\n", seed);
	return bad;
}

/* ================= the logged workload and its verifier ================= */

/*
 * The model: nodes (inodes) and entries (names). Node 0 is DIR itself,
 * present once the first operation ("mkroot") is done. A directory has
 * exactly one entry naming it; a file has one per hard link.
 */
#define KNODES 512
#define KENTS  1024
#define KNAME  8

enum { KT_FREE, KT_FILE, KT_DIR };

struct knode {
	int type;
	uint8_t *data;
	size_t size, cap;
	unsigned perm;
	char xv[24];   /* the value of user.k; "" = none */
	nlink_t nlink; /* scanned trees only: what stat said */
};

struct kent {
	int dir; /* the node of the directory holding it; -1 = unused */
	int node;
	char name[KNAME];
};

struct kmodel {
	int root; /* DIR exists */
	struct knode n[KNODES];
	struct kent e[KENTS];
};

enum {
	K_MKROOT,
	K_CREATE,
	K_WRITE,
	K_APPEND,
	K_TRUNC,
	K_RENAME,
	K_LINK,
	K_UNLINK,
	K_MKDIR,
	K_RMDIR,
	K_CHMOD,
	K_SETX,
	K_RMX,
	K_FSYNC,
	K_WSYNC,
	K_NKINDS
};

static const char *const kop_names[K_NKINDS] = {
	"mkroot", "create", "write", "append", "trunc", "rename", "link",  "unlink",
	"mkdir",  "rmdir",  "chmod", "setx",   "rmx",	"fsync",  "wsync",
};

/* a, b, c: create len,-,dseed; write/wsync off,len,dseed; append -,len,dseed;
 * trunc size; chmod mode; setx value number. */
struct kop {
	uint64_t seq;
	int kind;
	char p[64], q[64];
	uint64_t a, b, c;
};

static void km_init(struct kmodel *m)
{
	memset(m, 0, sizeof(*m));
	for (int i = 0; i < KENTS; i++)
		m->e[i].dir = -1;
}

static void km_free(struct kmodel *m)
{
	for (int i = 0; i < KNODES; i++)
		free(m->n[i].data);
}

/* The bytes an operation writes: a stream from its data seed (0: zeros, a hole on lsmfs). */
static void gen(uint64_t dseed, uint8_t *p, size_t n)
{
	struct rng r;
	size_t i = 0;

	if (!dseed) {
		memset(p, 0, n);
		return;
	}
	rng_init(&r, dseed);
	for (; i + 8 <= n; i += 8) {
		uint64_t x = rnd(&r);

		memcpy(p + i, &x, 8);
	}
	for (uint64_t x = rnd(&r); i < n; i++, x >>= 8)
		p[i] = (uint8_t)x;
}

static int km_new_node(struct kmodel *m, int type)
{
	for (int i = 1; i < KNODES; i++) {
		if (m->n[i].type == KT_FREE) {
			memset(&m->n[i], 0, sizeof(m->n[i]));
			m->n[i].type = type;
			m->n[i].perm = type == KT_DIR ? 0755 : 0644;
			return i;
		}
	}
	return -1;
}

static int km_new_ent(struct kmodel *m, int dir, const char *name, int node)
{
	for (int i = 0; i < KENTS; i++) {
		if (m->e[i].dir < 0) {
			m->e[i].dir = dir;
			m->e[i].node = node;
			snprintf(m->e[i].name, KNAME, "%s", name);
			return i;
		}
	}
	return -1;
}

static int km_find(const struct kmodel *m, int dir, const char *name)
{
	for (int i = 0; i < KENTS; i++)
		if (m->e[i].dir == dir && !strcmp(m->e[i].name, name))
			return i;
	return -1;
}

static int km_names(const struct kmodel *m, int node)
{
	int n = 0;

	for (int i = 0; i < KENTS; i++)
		n += m->e[i].dir >= 0 && m->e[i].node == node;
	return n;
}

static int km_subdirs(const struct kmodel *m, int dir)
{
	int n = 0;

	for (int i = 0; i < KENTS; i++)
		n += m->e[i].dir == dir && m->n[m->e[i].node].type == KT_DIR;
	return n;
}

/* The entry path names (relative to DIR), with *parent set; -1 if absent. */
static int km_resolve(const struct kmodel *m, const char *path, int *parent, const char **last)
{
	char comp[64];
	const char *s = path;
	int dir = 0;

	if (!m->root)
		return -1;
	for (;;) {
		const char *slash = strchr(s, '/');
		int e;

		if (!slash) {
			*parent = dir;
			*last = s;
			return km_find(m, dir, s);
		}
		snprintf(comp, sizeof(comp), "%.*s", (int)(slash - s), s);
		e = km_find(m, dir, comp);
		if (e < 0 || m->n[m->e[e].node].type != KT_DIR) {
			*parent = -1;
			return -1;
		}
		dir = m->e[e].node;
		s = slash + 1;
	}
}

/* The path of a node that is a directory ("" for DIR), into out. */
static void km_dir_path(const struct kmodel *m, int dir, char *out, size_t cap)
{
	char tmp[64];

	out[0] = 0;
	while (dir != 0) {
		int e = -1;

		for (int i = 0; i < KENTS && e < 0; i++)
			if (m->e[i].dir >= 0 && m->e[i].node == dir)
				e = i;
		if (e < 0)
			return;
		path_fmt(tmp, sizeof(tmp), "%s%s%s", m->e[e].name, out[0] ? "/" : "", out);
		path_fmt(out, cap, "%s", tmp);
		dir = m->e[e].dir;
	}
}

static void km_ent_path(const struct kmodel *m, int e, char *out, size_t cap)
{
	char d[64];

	km_dir_path(m, m->e[e].dir, d, sizeof(d));
	path_fmt(out, cap, "%s%s%s", d, d[0] ? "/" : "", m->e[e].name);
}

static int km_reserve(struct knode *n, size_t size)
{
	if (size > n->cap) {
		size_t cap = size + size / 2 + 4096;
		uint8_t *p = realloc(n->data, cap);

		if (!p)
			return -1;
		n->data = p;
		n->cap = cap;
	}
	return 0;
}

static int km_write(struct knode *n, uint64_t off, uint64_t len, uint64_t dseed)
{
	if (km_reserve(n, off + len))
		return -1;
	if (off > n->size)
		memset(n->data + n->size, 0, off - n->size);
	gen(dseed, n->data + off, len);
	if (off + len > n->size)
		n->size = off + len;
	return 0;
}

static int km_resize(struct knode *n, uint64_t size)
{
	if (km_reserve(n, size))
		return -1;
	if (size > n->size)
		memset(n->data + n->size, 0, size - n->size);
	n->size = size;
	return 0;
}

static void km_drop_ent(struct kmodel *m, int e)
{
	int node = m->e[e].node;

	m->e[e].dir = -1;
	if (km_names(m, node) == 0) {
		free(m->n[node].data);
		memset(&m->n[node], 0, sizeof(m->n[node]));
	}
}

static int km_is_within(const struct kmodel *m, int node, int dir)
{
	/* whether dir is node or lies under it */
	while (dir != 0) {
		int e = -1;

		if (dir == node)
			return 1;
		for (int i = 0; i < KENTS && e < 0; i++)
			if (m->e[i].dir >= 0 && m->e[i].node == dir)
				e = i;
		if (e < 0)
			return 0;
		dir = m->e[e].dir;
	}
	return node == 0;
}

/* Applies op to the model; -1 if it cannot apply (the log and the model disagree). */
static int km_apply(struct kmodel *m, const struct kop *o)
{
	int parent, qparent, e, q, node;
	const char *last, *qlast;

	if (o->kind == K_MKROOT) {
		if (m->root)
			return -1;
		m->root = 1;
		m->n[0].type = KT_DIR;
		m->n[0].perm = 0755;
		return 0;
	}
	e = km_resolve(m, o->p, &parent, &last);
	switch (o->kind) {
	case K_CREATE:
	case K_MKDIR:
		if (e >= 0 || parent < 0)
			return -1;
		node = km_new_node(m, o->kind == K_CREATE ? KT_FILE : KT_DIR);
		if (node < 0 || km_new_ent(m, parent, last, node) < 0)
			return -1;
		return o->kind == K_CREATE ? km_write(&m->n[node], 0, o->a, o->c) : 0;
	case K_LINK:
	case K_RENAME:
		if (e < 0)
			return -1;
		q = km_resolve(m, o->q, &qparent, &qlast);
		if (qparent < 0)
			return -1;
		node = m->e[e].node;
		if (o->kind == K_LINK) {
			if (q >= 0 || m->n[node].type != KT_FILE)
				return -1;
			return km_new_ent(m, qparent, qlast, node) < 0 ? -1 : 0;
		}
		if (q >= 0 && m->e[q].node == node)
			return 0; /* two names of one file: rename does nothing */
		/* the workload moves a directory only to a free name, never into itself */
		if (m->n[node].type == KT_DIR && (q >= 0 || km_is_within(m, node, qparent)))
			return -1;
		if (q >= 0) {
			if (m->n[m->e[q].node].type != KT_FILE)
				return -1;
			km_drop_ent(m, q);
		}
		m->e[e].dir = qparent;
		snprintf(m->e[e].name, KNAME, "%s", qlast);
		return 0;
	default:
		break;
	}
	if (e < 0)
		return -1;
	node = m->e[e].node;
	switch (o->kind) {
	case K_WRITE:
	case K_WSYNC:
		return m->n[node].type == KT_FILE ? km_write(&m->n[node], o->a, o->b, o->c) : -1;
	case K_APPEND:
		return m->n[node].type == KT_FILE
			       ? km_write(&m->n[node], m->n[node].size, o->b, o->c)
			       : -1;
	case K_TRUNC:
		return m->n[node].type == KT_FILE ? km_resize(&m->n[node], o->a) : -1;
	case K_UNLINK:
		if (m->n[node].type != KT_FILE)
			return -1;
		km_drop_ent(m, e);
		return 0;
	case K_RMDIR:
		for (int i = 0; i < KENTS; i++)
			if (m->e[i].dir == node)
				return -1;
		if (m->n[node].type != KT_DIR)
			return -1;
		km_drop_ent(m, e);
		return 0;
	case K_CHMOD:
		m->n[node].perm = (unsigned)o->a;
		return 0;
	case K_SETX:
		snprintf(m->n[node].xv, sizeof(m->n[node].xv), "v%" PRIu64, o->a);
		return 0;
	case K_RMX:
		if (!m->n[node].xv[0])
			return -1;
		m->n[node].xv[0] = 0;
		return 0;
	case K_FSYNC:
		return m->n[node].type == KT_FILE ? 0 : -1;
	default:
		return -1;
	}
}

static void kop_format(const struct kop *o, char *out, size_t cap)
{
	snprintf(out, cap, "%" PRIu64 " %s %s %s %" PRIu64 " %" PRIu64 " %" PRIu64, o->seq,
		 kop_names[o->kind], o->p[0] ? o->p : "-", o->q[0] ? o->q : "-", o->a, o->b, o->c);
}

static int kop_parse(const char *s, struct kop *o)
{
	char name[16], p[64], q[64];
	unsigned long long seq, a, b, c;

	if (sscanf(s, "%llu %15s %63s %63s %llu %llu %llu", &seq, name, p, q, &a, &b, &c) != 7)
		return -1;
	memset(o, 0, sizeof(*o));
	for (o->kind = 0; o->kind < K_NKINDS; o->kind++)
		if (!strcmp(name, kop_names[o->kind]))
			break;
	if (o->kind == K_NKINDS)
		return -1;
	o->seq = seq;
	snprintf(o->p, sizeof(o->p), "%s", strcmp(p, "-") ? p : "");
	snprintf(o->q, sizeof(o->q), "%s", strcmp(q, "-") ? q : "");
	o->a = a;
	o->b = b;
	o->c = c;
	return 0;
}

/* ---- the workload ---- */

struct worker {
	const char *dir;
	int logfd;
	struct rng r;
	struct kmodel m;
	uint8_t *buf;
};

#define KMAXDATA (512 * 1024)

static void wlog(struct worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void wlog(struct worker *w, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One write(2) per record on an O_APPEND file: a record is whole or absent. */
	if (write(w->logfd, line, (size_t)n) != n) {
		perror("fsstress: writing the log");
		exit(2);
	}
}

/* A random entry whose node has the given type (0: any); -1 if none. */
static int pick_ent(struct worker *w, int type)
{
	int v[KENTS], n = 0;

	for (int i = 0; i < KENTS; i++)
		if (w->m.e[i].dir >= 0 && (!type || w->m.n[w->m.e[i].node].type == type))
			v[n++] = i;
	return n ? v[below(&w->r, (uint64_t)n)] : -1;
}

/* A random directory node (0 is DIR). */
static int pick_dir(struct worker *w)
{
	int e = pick_ent(w, KT_DIR);

	return e < 0 || below(&w->r, 3) == 0 ? 0 : w->m.e[e].node;
}

static int count_type(struct worker *w, int type)
{
	int n = 0;

	for (int i = 0; i < KNODES; i++)
		n += w->m.n[i].type == type;
	return n;
}

/* A free name in dir: "fN" for files, "sN" for directories. */
static int free_name(struct worker *w, int dir, int type, char *out)
{
	for (int tries = 0; tries < 20; tries++) {
		snprintf(out, KNAME, "%c%d", type == KT_DIR ? 's' : 'f',
			 (int)below(&w->r, type == KT_DIR ? 6 : 16));
		if (km_find(&w->m, dir, out) < 0)
			return 0;
	}
	return -1;
}

static void path_in(struct worker *w, int dir, const char *name, char *out, size_t cap)
{
	char d[64];

	km_dir_path(&w->m, dir, d, sizeof(d));
	path_fmt(out, cap, "%s%s%s", d, d[0] ? "/" : "", name);
}

static uint64_t data_seed(struct worker *w)
{
	return below(&w->r, 12) == 0 ? 0 : 1 + below(&w->r, UINT64_MAX - 1);
}

/* Chooses an operation the model says must succeed; 0, or -1 to choose again. */
static int choose_kop(struct worker *w, struct kop *o)
{
	static const unsigned modes[] = {0600, 0640, 0644, 0755};
	int files = count_type(w, KT_FILE), dirs = count_type(w, KT_DIR);
	uint64_t x = below(&w->r, 100);
	int e, dir;
	char name[KNAME];

	memset(o, 0, sizeof(*o));
	if (files < 3 || (x < 14 && files < 40)) {
		dir = pick_dir(w);
		if (free_name(w, dir, KT_FILE, name))
			return -1;
		o->kind = K_CREATE;
		path_in(w, dir, name, o->p, sizeof(o->p));
		x = below(&w->r, 10);
		o->a = x < 5   ? below(&w->r, 4097)
		       : x < 9 ? below(&w->r, 131073)
			       : below(&w->r, KMAXDATA);
		o->c = data_seed(w);
		return 0;
	}
	if (x < 20 && dirs < 8) {
		dir = pick_dir(w);
		if (free_name(w, dir, KT_DIR, name))
			return -1;
		o->kind = K_MKDIR;
		path_in(w, dir, name, o->p, sizeof(o->p));
		return 0;
	}
	if (x < 24) {
		e = pick_ent(w, KT_DIR);
		if (e < 0 || km_subdirs(&w->m, w->m.e[e].node))
			return -1;
		for (int i = 0; i < KENTS; i++)
			if (w->m.e[i].dir == w->m.e[e].node)
				return -1;
		o->kind = K_RMDIR;
		km_ent_path(&w->m, e, o->p, sizeof(o->p));
		return 0;
	}
	if (x < 30) {
		/* a directory moves: never into itself */
		e = pick_ent(w, KT_DIR);
		dir = pick_dir(w);
		if (e < 0 || km_is_within(&w->m, w->m.e[e].node, dir) ||
		    free_name(w, dir, KT_DIR, name))
			return -1;
		o->kind = K_RENAME;
		km_ent_path(&w->m, e, o->p, sizeof(o->p));
		path_in(w, dir, name, o->q, sizeof(o->q));
		return 0;
	}
	e = pick_ent(w, KT_FILE);
	if (e < 0)
		return -1;
	km_ent_path(&w->m, e, o->p, sizeof(o->p));
	if (x < 40) {
		/* a file moves, replacing a file of the target name if there is one */
		int q;

		dir = pick_dir(w);
		snprintf(name, KNAME, "f%d", (int)below(&w->r, 16));
		q = km_find(&w->m, dir, name);
		if (q >= 0 && w->m.n[w->m.e[q].node].type != KT_FILE)
			return -1;
		o->kind = K_RENAME;
		path_in(w, dir, name, o->q, sizeof(o->q));
	} else if (x < 44) {
		dir = pick_dir(w);
		if (free_name(w, dir, KT_FILE, name))
			return -1;
		o->kind = K_LINK;
		path_in(w, dir, name, o->q, sizeof(o->q));
	} else if (x < 52) {
		o->kind = K_UNLINK;
	} else if (x < 68) {
		struct knode *n = &w->m.n[w->m.e[e].node];

		o->kind = below(&w->r, 4) == 0 ? K_WSYNC : K_WRITE;
		o->a = below(&w->r, n->size + 8192);
		o->b = 1 + below(&w->r, 65536);
		o->c = data_seed(w);
		if (o->a + o->b > KMAXDATA)
			return -1;
	} else if (x < 74) {
		o->kind = K_APPEND;
		o->b = 1 + below(&w->r, 32768);
		o->c = data_seed(w);
		if (w->m.n[w->m.e[e].node].size + o->b > KMAXDATA)
			return -1;
	} else if (x < 80) {
		o->kind = K_TRUNC;
		o->a = below(&w->r, w->m.n[w->m.e[e].node].size * 2 + 4096);
		if (o->a > KMAXDATA)
			return -1;
	} else if (x < 85) {
		o->kind = K_CHMOD;
		o->a = modes[below(&w->r, 4)];
	} else if (x < 90) {
		o->kind = K_SETX;
		o->a = below(&w->r, 1000000);
	} else if (x < 93) {
		if (!w->m.n[w->m.e[e].node].xv[0])
			return -1;
		o->kind = K_RMX;
	} else {
		o->kind = K_FSYNC;
	}
	return 0;
}

static int w_close(int fd, int rc)
{
	if (close(fd) && !rc)
		rc = errno;
	return rc;
}

static int w_pwrite(int fd, const uint8_t *p, size_t n, off_t off, int append)
{
	for (size_t done = 0; done < n;) {
		ssize_t k = append ? write(fd, p + done, n - done)
				   : pwrite(fd, p + done, n - done, off + (off_t)done);

		if (k <= 0)
			return k < 0 ? errno : EIO;
		done += (size_t)k;
	}
	return 0;
}

/* Runs op on the filesystem; 0 or an errno. */
static int kop_exec(struct worker *w, const struct kop *o)
{
	char p[PATH_MAX], q[PATH_MAX];
	char val[24];
	int fd, rc = 0;

	path_fmt(p, sizeof(p), "%s/%s", w->dir, o->p);
	path_fmt(q, sizeof(q), "%s/%s", w->dir, o->q);
	switch (o->kind) {
	case K_MKROOT:
		return mkdir(w->dir, 0755) ? errno : 0;
	case K_CREATE:
		fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0)
			return errno;
		gen(o->c, w->buf, o->a);
		return w_close(fd, w_pwrite(fd, w->buf, o->a, 0, 0));
	case K_WRITE:
	case K_WSYNC:
	case K_APPEND:
		fd = open(p, O_WRONLY | (o->kind == K_APPEND ? O_APPEND : 0));
		if (fd < 0)
			return errno;
		gen(o->c, w->buf, o->b);
		rc = w_pwrite(fd, w->buf, o->b, (off_t)o->a, o->kind == K_APPEND);
		if (!rc && o->kind == K_WSYNC && fsync(fd))
			rc = errno;
		return w_close(fd, rc);
	case K_FSYNC:
		fd = open(p, O_RDONLY);
		if (fd < 0)
			return errno;
		return w_close(fd, fsync(fd) ? errno : 0);
	case K_TRUNC:
		return truncate(p, (off_t)o->a) ? errno : 0;
	case K_RENAME:
		return rename(p, q) ? errno : 0;
	case K_LINK:
		return link(p, q) ? errno : 0;
	case K_UNLINK:
		return unlink(p) ? errno : 0;
	case K_MKDIR:
		return mkdir(p, 0755) ? errno : 0;
	case K_RMDIR:
		return rmdir(p) ? errno : 0;
	case K_CHMOD:
		return chmod(p, (mode_t)o->a) ? errno : 0;
	case K_SETX:
		snprintf(val, sizeof(val), "v%" PRIu64, o->a);
		return setxattr(p, "user.k", val, strlen(val), 0) ? errno : 0;
	case K_RMX:
		return removexattr(p, "user.k") ? errno : 0;
	default:
		return EINVAL;
	}
}

static int logged_workload(const char *dir, const char *log, uint64_t nops, uint64_t seed)
{
	struct worker *w = calloc(1, sizeof(*w));
	char line[256];
	int rc = 0;

	if (!w || !(w->buf = malloc(KMAXDATA)))
		die("out of memory");
	w->dir = dir;
	km_init(&w->m);
	rng_init(&w->r, seed);
	umask(0);
	w->logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	if (w->logfd < 0)
		die("%s: %s", log, strerror(errno));
	wlog(w, "# fsstress logged workload: seed %" PRIu64 " dir %s\n", seed, dir);
	for (uint64_t seq = 1; seq <= nops; seq++) {
		struct kop o;
		int e;

		if (seq == 1) {
			memset(&o, 0, sizeof(o));
			o.kind = K_MKROOT;
		} else {
			while (choose_kop(w, &o))
				;
		}
		o.seq = seq;
		kop_format(&o, line, sizeof(line));
		wlog(w, "B %s\n", line);
		e = kop_exec(w, &o);
		if (e) {
			wlog(w, "F %" PRIu64 " %d %s\n", seq, e, strerror(e));
			if (e == ENOTCONN || e == ECONNABORTED || fs_gone(dir)) {
				printf("fsstress: %s: the filesystem went away at operation "
				       "%" PRIu64 " (%s)\n",
				       dir, seq, strerror(e));
				rc = 3;
			} else {
				fprintf(stderr, "fsstress: %s: operation %s failed: %s\n", dir,
					line, strerror(e));
				rc = 1;
			}
			break;
		}
		if (km_apply(&w->m, &o))
			die("internal: the model refuses its own operation %s", line);
		wlog(w, "D %" PRIu64 "\n", seq);
	}
	if (!rc)
		printf("fsstress: %s: all %" PRIu64 " operations done\n", dir, nops);
	close(w->logfd);
	km_free(&w->m);
	free(w->buf);
	free(w);
	return rc;
}

/* ---- the verifier ---- */

/* Reads the tree at dir into m (nodes by inode number); 0, or -1 with a message in err. */
static int scan_dir(struct kmodel *m, ino_t *inos, const char *path, int dir, char *err, size_t cap)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int rc = 0;

	if (!d) {
		say(err, cap, "opendir %s: %s", path, strerror(errno));
		return -1;
	}
	while (!rc && (de = readdir(d))) {
		char sub[PATH_MAX];
		struct stat st;
		int node = -1;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		path_fmt(sub, sizeof(sub), "%s/%s", path, de->d_name);
		if (strlen(de->d_name) >= KNAME) {
			say(err, cap, "%s: a name the workload never makes", sub);
			rc = -1;
			break;
		}
		if (lstat(sub, &st)) {
			say(err, cap, "readdir lists %s, lstat fails: %s", sub, strerror(errno));
			rc = -1;
			break;
		}
		for (int i = 1; i < KNODES && node < 0; i++)
			if (m->n[i].type != KT_FREE && inos[i] == st.st_ino)
				node = i;
		if (node < 0) {
			node = km_new_node(m, S_ISDIR(st.st_mode) ? KT_DIR : KT_FILE);
			if (node < 0) {
				say(err, cap, "%s: more inodes than the workload makes", sub);
				rc = -1;
				break;
			}
			inos[node] = st.st_ino;
			m->n[node].perm = st.st_mode & 07777;
			m->n[node].nlink = st.st_nlink;
			if (lgetxattr(sub, "user.k", m->n[node].xv, sizeof(m->n[node].xv) - 1) < 0)
				m->n[node].xv[0] = 0;
		}
		if (km_new_ent(m, dir, de->d_name, node) < 0) {
			say(err, cap, "%s: more names than the workload makes", sub);
			rc = -1;
		} else if (S_ISDIR(st.st_mode)) {
			rc = scan_dir(m, inos, sub, node, err, cap);
		} else if (!S_ISREG(st.st_mode)) {
			say(err, cap, "%s: mode 0%o, which the workload never makes", sub,
			    (unsigned)st.st_mode);
			rc = -1;
		} else if (!m->n[node].data) {
			int fd = open(sub, O_RDONLY);
			ssize_t k = 0;

			if (fd < 0 || km_reserve(&m->n[node], (size_t)st.st_size + 1)) {
				say(err, cap, "open %s: %s", sub, strerror(errno));
				rc = -1;
				if (fd >= 0)
					close(fd);
				break;
			}
			while ((k = read(fd, m->n[node].data + m->n[node].size,
					 m->n[node].cap - m->n[node].size)) > 0) {
				m->n[node].size += (size_t)k;
				if (km_reserve(&m->n[node], m->n[node].size + 65536))
					break;
			}
			if (k < 0) {
				say(err, cap, "read %s: %s", sub, strerror(errno));
				rc = -1;
			} else if (m->n[node].size != (size_t)st.st_size) {
				say(err, cap, "%s: reads %zu bytes, size %lld", sub,
				    m->n[node].size, (long long)st.st_size);
				rc = -1;
			}
			close(fd);
		}
	}
	closedir(d);
	return rc;
}

static int scan_tree(struct kmodel *m, const char *dir, char *err, size_t cap)
{
	static ino_t inos[KNODES];
	struct stat st;

	km_init(m);
	memset(inos, 0, sizeof(inos));
	if (lstat(dir, &st)) {
		if (errno == ENOENT)
			return 0;
		say(err, cap, "%s: %s", dir, strerror(errno));
		return -1;
	}
	m->root = 1;
	m->n[0].type = KT_DIR;
	m->n[0].perm = st.st_mode & 07777;
	m->n[0].nlink = st.st_nlink;
	if (lgetxattr(dir, "user.k", m->n[0].xv, sizeof(m->n[0].xv) - 1) < 0)
		m->n[0].xv[0] = 0;
	return scan_dir(m, inos, dir, 0, err, cap);
}

/* A write in flight may have landed in part: each byte old, new or zero. */
struct lenient {
	int node; /* in the expected model; -1: none */
	const uint8_t *old;
	size_t old_size;
};

struct cmp {
	const struct kmodel *x, *a; /* expected, actual */
	int x2a[KNODES], a2x[KNODES];
	const struct lenient *len;
	char *err;
	size_t cap;
};

static int ent_name_cmp(const void *p, const void *q, void *m)
{
	const struct kmodel *km = m;

	return strcmp(km->e[*(const int *)p].name, km->e[*(const int *)q].name);
}

/* The entries of dir, sorted by name, into v; returns how many. */
static int sorted_ents(const struct kmodel *m, int dir, int *v)
{
	int n = 0;

	for (int i = 0; i < KENTS; i++)
		if (m->e[i].dir == dir)
			v[n++] = i;
	qsort_r(v, (size_t)n, sizeof(int), ent_name_cmp, (void *)m);
	return n;
}

static int cmp_data(struct cmp *c, int xn, int an, const char *path)
{
	const struct knode *x = &c->x->n[xn], *a = &c->a->n[an];
	const struct lenient *l = c->len;

	if (l && l->node == xn) {
		size_t lo = x->size < l->old_size ? x->size : l->old_size;
		size_t hi = x->size > l->old_size ? x->size : l->old_size;

		if (a->size < lo || a->size > hi) {
			snprintf(c->err, c->cap,
				 "%s: size %zu, but a write in flight leaves it in %zu..%zu", path,
				 a->size, lo, hi);
			return -1;
		}
		for (size_t i = 0; i < a->size; i++) {
			uint8_t b = a->data[i];

			if (b && !(i < x->size && b == x->data[i]) &&
			    !(i < l->old_size && b == l->old[i])) {
				snprintf(c->err, c->cap,
					 "%s: byte %zu is 0x%02x, neither old (0x%02x) nor new "
					 "(0x%02x) nor zero",
					 path, i, b, i < l->old_size ? l->old[i] : 0,
					 i < x->size ? x->data[i] : 0);
				return -1;
			}
		}
		return 0;
	}
	if (a->size != x->size) {
		snprintf(c->err, c->cap, "%s: size %zu, expected %zu", path, a->size, x->size);
		return -1;
	}
	for (size_t i = 0; i < x->size; i++) {
		if (a->data[i] != x->data[i]) {
			snprintf(c->err, c->cap, "%s: byte %zu is 0x%02x, expected 0x%02x", path, i,
				 a->data[i], x->data[i]);
			return -1;
		}
	}
	return 0;
}

static int cmp_node(struct cmp *c, int xn, int an, const char *path)
{
	const struct knode *x = &c->x->n[xn], *a = &c->a->n[an];
	nlink_t want;

	if (c->x2a[xn] >= 0 || c->a2x[an] >= 0) {
		if (c->x2a[xn] != an || c->a2x[an] != xn) {
			snprintf(c->err, c->cap, "%s: hard links differ from the expected ones",
				 path);
			return -1;
		}
		return 1; /* seen through another name already */
	}
	c->x2a[xn] = an;
	c->a2x[an] = xn;
	if (x->type != a->type) {
		snprintf(c->err, c->cap, "%s: a %s, expected a %s", path,
			 a->type == KT_DIR ? "directory" : "file",
			 x->type == KT_DIR ? "directory" : "file");
		return -1;
	}
	want = x->type == KT_DIR ? (nlink_t)(2 + km_subdirs(c->x, xn))
				 : (nlink_t)km_names(c->x, xn);
	if (a->nlink != want) {
		snprintf(c->err, c->cap, "%s: link count %lu, expected %lu", path,
			 (unsigned long)a->nlink, (unsigned long)want);
		return -1;
	}
	if (a->perm != x->perm) {
		snprintf(c->err, c->cap, "%s: mode 0%o, expected 0%o", path, a->perm, x->perm);
		return -1;
	}
	if (strcmp(a->xv, x->xv)) {
		snprintf(c->err, c->cap, "%s: xattr user.k '%s', expected '%s'", path, a->xv,
			 x->xv);
		return -1;
	}
	return x->type == KT_FILE ? cmp_data(c, xn, an, path) : 0;
}

static int cmp_dir(struct cmp *c, int xd, int ad, const char *path)
{
	int xv[KENTS], av[KENTS];
	int nx = sorted_ents(c->x, xd, xv), na = sorted_ents(c->a, ad, av);

	for (int i = 0, j = 0; i < nx || j < na;) {
		int d = i == nx	  ? 1
			: j == na ? -1
				  : strcmp(c->x->e[xv[i]].name, c->a->e[av[j]].name);
		char sub[PATH_MAX];
		int rc;

		if (d) {
			snprintf(c->err, c->cap, "%s/%s: %s", path,
				 d < 0 ? c->x->e[xv[i]].name : c->a->e[av[j]].name,
				 d < 0 ? "missing" : "there, but should not be");
			return -1;
		}
		path_fmt(sub, sizeof(sub), "%s/%s", path, c->x->e[xv[i]].name);
		rc = cmp_node(c, c->x->e[xv[i]].node, c->a->e[av[j]].node, sub);
		if (rc < 0)
			return -1;
		if (rc == 0 && c->x->n[c->x->e[xv[i]].node].type == KT_DIR &&
		    cmp_dir(c, c->x->e[xv[i]].node, c->a->e[av[j]].node, sub))
			return -1;
		i++;
		j++;
	}
	return 0;
}

/* 0 if the scanned tree a equals the model x (lenient for one node); else -1 and err. */
static int kcompare(const struct kmodel *x, const struct kmodel *a, const struct lenient *l,
		    const char *dir, char *err, size_t cap)
{
	struct cmp c = {.x = x, .a = a, .len = l, .err = err, .cap = cap};

	memset(c.x2a, -1, sizeof(c.x2a));
	memset(c.a2x, -1, sizeof(c.a2x));
	if (x->root != a->root) {
		say(err, cap, "%s %s", dir, x->root ? "is missing" : "should not exist yet");
		return -1;
	}
	if (!x->root)
		return 0;
	if (cmp_node(&c, 0, 0, dir) < 0)
		return -1;
	return cmp_dir(&c, 0, 0, dir);
}

struct klog {
	struct kop *ops;
	int *done;
	size_t n, cap;
	int failed_errno;
};

static void read_log(const char *path, struct klog *l)
{
	FILE *f = fopen(path, "r");
	char line[512];

	memset(l, 0, sizeof(*l));
	if (!f)
		die("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		unsigned long long seq;
		int e;

		if (line[0] == 'B') {
			if (l->n == l->cap) {
				l->cap = l->cap ? 2 * l->cap : 1024;
				l->ops = realloc(l->ops, l->cap * sizeof(*l->ops));
				l->done = realloc(l->done, l->cap * sizeof(*l->done));
			}
			if (kop_parse(line + 2, &l->ops[l->n]) || l->ops[l->n].seq != l->n + 1)
				die("%s: bad record: %s", path, line);
			if (l->n && !l->done[l->n - 1])
				die("%s: operation %zu started before %zu returned", path, l->n + 1,
				    l->n);
			l->done[l->n++] = 0;
		} else if (line[0] == 'D') {
			if (sscanf(line + 2, "%llu", &seq) != 1 || seq != l->n || !l->n)
				die("%s: bad record: %s", path, line);
			l->done[l->n - 1] = 1;
		} else if (line[0] == 'F') {
			if (sscanf(line + 2, "%llu %d", &seq, &e) != 2 || seq != l->n)
				die("%s: bad record: %s", path, line);
			l->failed_errno = e;
		}
	}
	fclose(f);
}

/* The model after every returned operation (plus the one in flight with inflight). */
static void replay_log(const struct klog *l, struct kmodel *m, int inflight, const char *path)
{
	km_init(m);
	for (size_t i = 0; i < l->n; i++) {
		char line[256];

		if (!l->done[i] && !inflight)
			break;
		if (km_apply(m, &l->ops[i])) {
			kop_format(&l->ops[i], line, sizeof(line));
			die("%s: the log does not replay: operation %s", path, line);
		}
	}
}

static int verify_log(const char *dir, const char *log)
{
	static struct kmodel before, after, actual;
	struct klog l;
	char err1[512], err2[512], line[256];
	struct lenient len = {.node = -1};
	int inflight, rc = 0;

	read_log(log, &l);
	inflight = l.n && !l.done[l.n - 1];
	replay_log(&l, &before, 0, log);
	replay_log(&l, &after, 1, log);
	if (scan_tree(&actual, dir, err1, sizeof(err1))) {
		fprintf(stderr, "fsstress: verify %s: %s\n", dir, err1);
		rc = 1;
		goto out;
	}
	if (inflight) {
		const struct kop *o = &l.ops[l.n - 1];
		int parent, e, eb;
		const char *last;

		kop_format(o, line, sizeof(line));
		if (o->kind == K_CREATE || o->kind == K_WRITE || o->kind == K_WSYNC ||
		    o->kind == K_APPEND) {
			e = km_resolve(&after, o->p, &parent, &last);
			eb = km_resolve(&before, o->p, &parent, &last);
			len.node = after.e[e].node;
			if (eb >= 0) {
				len.old = before.n[before.e[eb].node].data;
				len.old_size = before.n[before.e[eb].node].size;
			}
		}
	}
	if (kcompare(&before, &actual, NULL, dir, err1, sizeof(err1)) == 0) {
		printf("fsstress: verify %s: %zu operations returned; all there%s%s\n", dir,
		       l.n - (size_t)inflight, inflight ? "; not yet the one in flight: " : "",
		       inflight ? line : "");
	} else if (inflight && kcompare(&after, &actual, &len, dir, err2, sizeof(err2)) == 0) {
		printf("fsstress: verify %s: %zu operations returned; all there, and the one "
		       "in flight too: %s\n",
		       dir, l.n - 1, line);
	} else {
		fprintf(stderr,
			"fsstress: verify %s: FAILED against %s (%zu operations returned)\n"
			"  after the last returned operation: %s\n",
			dir, log, l.n - (size_t)inflight, err1);
		if (inflight)
			fprintf(stderr, "  with the one in flight (%s): %s\n", line, err2);
		fprintf(stderr, "  the last operations:\n");
		for (size_t i = l.n > 12 ? l.n - 12 : 0; i < l.n; i++) {
			kop_format(&l.ops[i], line, sizeof(line));
			fprintf(stderr, "    %s%s\n", line, l.done[i] ? "" : "   (in flight)");
		}
		rc = 1;
	}
out:
	km_free(&before);
	km_free(&after);
	km_free(&actual);
	free(l.ops);
	free(l.done);
	return rc;
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
