/*
 * fsstress_tree.c — fsstress's default job: -p processes making random
 * namespace and data operations in one shared tree, then the check that
 * the tree is consistent (also run alone by -c). The options and what is
 * checked: fsstress.c.
 */
#include "config.h"

#include "fsstress.h"

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

static int sys_renameat2(const char *a, const char *b, unsigned flags)
{
	return (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, flags);
}

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

int check_tree(const char *dir)
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

int shared_tree(const char *dir, int procs, uint64_t nops, uint64_t seed)
{
	struct sstats *st;
	pid_t *pids = calloc((size_t)procs, sizeof(pid_t));
	int bad = 0, gone = 0;

	st = mmap(NULL, (size_t)procs * sizeof(*st), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (st == MAP_FAILED || !pids)
		die("out of memory");
	memset(st, 0, (size_t)procs * sizeof(*st));
	if (mkdir(dir, 0755) && errno != EEXIST) {
		int e = errno;

		/* Killed before the tree was made: nothing returned, nothing to check. */
		if (e == ENOTCONN || e == ECONNABORTED || fs_gone(dir)) {
			printf("fsstress: the filesystem went away before %s was made (%s)\n", dir,
			       strerror(e));
			exit(3);
		}
		die("mkdir %s: %s", dir, strerror(e));
	}
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
