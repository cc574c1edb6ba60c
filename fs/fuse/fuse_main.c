/*
 * fuse_main.c — the lsmfs daemon:
 *
 *	lsmfs DATA_DIR MOUNTPOINT [-f] [-d] [-s] [-o OPT[,OPT...]]
 *
 * which is also the form mount.fuse3 runs for `mount -t fuse.lsmfs` and for
 * fstab lines, so both work with the options they pass (rw, nosuid, nodev,
 * allow_other, ...).
 *
 * Order of events, chosen so that every refusal is printed on the terminal
 * and reflected in the exit status, and nothing is mounted or changed before
 * the data dir is known to be good:
 *
 *   1. parse our options and libfuse's; check the mountpoint;
 *   2. fork (unless -f): the parent only waits to hear how the child did;
 *   3. the child opens the data dir (lsmfs_mount: refuses unformatted, newer,
 *      in use, damaged), then mounts, then detaches and tells the parent;
 *   4. serve requests until unmounted or SIGINT/SIGTERM/SIGHUP;
 *   5. unmount, then close the fs core (lsmfs_unmount).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>

#include "fuse_io.h"
#include "fuse_killpriv.h"
#include "fuse_ops.h"
#include "fuse_signals.h"
#include "fuse_stats.h"

/* Exit statuses, as the man page gives them. */
enum { EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_USAGE = 2 };

/* Seconds the kernel may trust an entry or attributes: the daemon is the
 * only writer, and every change goes through the kernel, which updates or
 * drops what it cached. */
#define FSMAIN_TIMEOUT 86400.0
/* Readahead of the mount: 16 chunks of 64 KiB, FUSE's largest request (max_pages 256). */
#define FSMAIN_READAHEAD_KIB 1024u

struct fsmain_opts {
	char *data_dir;
	char *mountpoint;
	int extra_args; /* non-option arguments beyond the two */
	char *cache_size;
	char *reserve;
	char *sync;
	char *verify;
	char *blob_threshold;
	char *inline_bytes; /* -o inline=BYTES, as given */
	char *inode_cache;  /* -o inode_cache=N, as given */
	char *killpriv;	    /* -o killpriv_v2=on|off, as given */
	char *writeback;    /* -o writeback=on|off, as given */
	int killpriv_on;    /* what it says (on unless off) */
	int nonempty;
	int read_only;
	int has_fsname;
	int has_subtype;
};

enum {
	KEY_NONEMPTY,
	KEY_RO,
	KEY_FSNAME,
	KEY_SUBTYPE,
	KEY_IGNORED,
};

#define FSMAIN_OPT(t, f)                              \
	{                                             \
		t, offsetof(struct fsmain_opts, f), 0 \
	}

static const struct fuse_opt fsmain_opt_spec[] = {
	FSMAIN_OPT("cache_size=%s", cache_size),
	FSMAIN_OPT("reserve=%s", reserve),
	FSMAIN_OPT("sync=%s", sync),
	FSMAIN_OPT("verify=%s", verify),
	FSMAIN_OPT("blob_threshold=%s", blob_threshold),
	FSMAIN_OPT("inline=%s", inline_bytes),
	FSMAIN_OPT("inode_cache=%s", inode_cache),
	FSMAIN_OPT("killpriv_v2=%s", killpriv),
	FSMAIN_OPT("writeback=%s", writeback),
	FUSE_OPT_KEY("nonempty", KEY_NONEMPTY),
	FUSE_OPT_KEY("ro", KEY_RO),
	FUSE_OPT_KEY("fsname=", KEY_FSNAME),
	FUSE_OPT_KEY("subtype=", KEY_SUBTYPE),
	/* fstab words that mount(8) may hand on and that mean nothing to a
	 * mounted filesystem. */
	FUSE_OPT_KEY("defaults", KEY_IGNORED),
	FUSE_OPT_KEY("auto", KEY_IGNORED),
	FUSE_OPT_KEY("noauto", KEY_IGNORED),
	FUSE_OPT_KEY("user", KEY_IGNORED),
	FUSE_OPT_KEY("nouser", KEY_IGNORED),
	FUSE_OPT_KEY("users", KEY_IGNORED),
	FUSE_OPT_KEY("_netdev", KEY_IGNORED),
	FUSE_OPT_KEY("nofail", KEY_IGNORED),
	FUSE_OPT_END,
};

/* Returns 0 to drop an argument, 1 to keep it for libfuse. */
static int fsmain_opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct fsmain_opts *o = data;

	switch (key) {
	case FUSE_OPT_KEY_NONOPT:
		if (!o->data_dir)
			o->data_dir = strdup(arg);
		else if (!o->mountpoint)
			o->mountpoint = strdup(arg);
		else
			o->extra_args++;
		return 0;
	case FUSE_OPT_KEY_OPT:
		/* x-systemd.* and friends are for mount(8) and systemd only. */
		return strncmp(arg, "x-", 2) == 0 ? 0 : 1;
	case KEY_NONEMPTY:
		/* libfuse 3 dropped this option; we check emptiness ourselves. */
		o->nonempty = 1;
		return 0;
	case KEY_RO:
		o->read_only = 1;
		return 1;
	case KEY_FSNAME:
		o->has_fsname = 1;
		return 1;
	case KEY_SUBTYPE:
		o->has_subtype = 1;
		return 1;
	case KEY_IGNORED:
		return 0;
	}
	return 1;
}

static void fsmain_usage(FILE *f)
{
	fprintf(f, "usage: lsmfs DATA_DIR MOUNTPOINT [-f] [-d] [-s] [-o OPT[,OPT...]]\n"
		   "Mounts the lsmfs filesystem kept in DATA_DIR (see mkfs.lsmfs) at MOUNTPOINT.\n"
		   "Try 'lsmfs --help' for the options.\n");
}

static void fsmain_help(void)
{
	printf("usage: lsmfs DATA_DIR MOUNTPOINT [options]\n"
	       "\n"
	       "Mounts the lsmfs filesystem kept in DATA_DIR (see mkfs.lsmfs) at MOUNTPOINT.\n"
	       "Unmount with 'fusermount3 -u MOUNTPOINT' or 'umount MOUNTPOINT'.\n"
	       "\n"
	       "    -f                     stay in the foreground\n"
	       "    -d, -o debug           print every request (implies -f)\n"
	       "    -s                     serve requests on a single thread\n"
	       "    -h, --help             print this help\n"
	       "    -V, --version          print versions\n"
	       "\n"
	       "lsmfs options:\n"
	       "    -o cache_size=BYTES    engine block cache (default 64M; K, M, G suffixes)\n"
	       "    -o reserve=BYTES       free space of DATA_DIR's filesystem that writes may\n"
	       "                           not use, kept for the engine (default: derived from\n"
	       "                           the engine's sizes, at most half that filesystem;\n"
	       "                           0 turns the guard off)\n"
	       "    -o sync=fsync|always   make changes durable on fsync() only (default),\n"
	       "                           or sync the log on every change\n"
	       "    -o verify=on|sha|off   check what is read: each block's checksum (on, the\n"
	       "                           default), each whole chunk's SHA-256 (sha), nothing\n"
	       "    -o blob_threshold=BYTES chunks of at least this size are written once, to\n"
	       "                           the engine's value files, not copied by compaction\n"
	       "                           (default 4K; 0 keeps every chunk in the tree)\n"
	       "    -o inline=BYTES        chunks of at most this size keep their bytes in\n"
	       "                           their reference: a small file is one key, read\n"
	       "                           with one lookup (default and most 4032; 0: none)\n"
	       "    -o inode_cache=N       idle inodes the kernel remembers that keep their\n"
	       "                           attributes in memory (default 65536); past them\n"
	       "                           each takes 16 bytes and is reread when used\n"
	       "    -o killpriv_v2=on|off  drop set-id bits on write and truncate in lsmfs, so\n"
	       "                           that the kernel need not ask for the capability\n"
	       "                           xattr before every write (default on, where the\n"
	       "                           kernel offers it)\n"
	       "    -o writeback=on|off    let the kernel keep written pages and send them\n"
	       "                           later, in bigger requests (default on); off sends\n"
	       "                           each write at once and saves the requests that\n"
	       "                           carry the kernel's file times\n"
	       "    -o nonempty            allow a mountpoint that is not an empty directory\n"
	       "    -o ro                  read-only\n"
	       "    (default_permissions is always on: the kernel checks permissions)\n"
	       "\n"
	       "FUSE options:\n");
	fuse_lowlevel_help();
}

/* Parses BYTES with an optional binary suffix K, M, G or T. */
static int fsmain_parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (end == s || errno || *s == '-')
		return -1;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	case 't':
	case 'T':
		shift = 40;
		break;
	case '\0':
		break;
	default:
		return -1;
	}
	if (shift && *++end != '\0')
		return -1;
	if (v == 0 || v > (SIZE_MAX >> shift))
		return -1;
	*out = (size_t)(v << shift);
	return 0;
}

/* Turns our -o options into the fs core's; prints what is wrong. */
static int fsmain_core_opts(const struct fsmain_opts *o, lsmfs_opts *lo)
{
	lsmfs_opts_init(lo);
	lo->read_only = o->read_only;
	if (o->cache_size && fsmain_parse_size(o->cache_size, &lo->cache_bytes) != 0) {
		fprintf(stderr, "lsmfs: bad cache_size '%s': give a size in bytes, e.g. 256M\n",
			o->cache_size);
		return -1;
	}
	if (o->reserve) {
		size_t r = 0;

		if (strcmp(o->reserve, "0") != 0 &&
		    (fsmain_parse_size(o->reserve, &r) != 0 || r > INT64_MAX)) {
			fprintf(stderr,
				"lsmfs: bad reserve '%s': give a size in bytes, e.g. 128M, or 0\n",
				o->reserve);
			return -1;
		}
		lo->reserve_bytes = (int64_t)r;
	}
	if (o->sync) {
		if (strcmp(o->sync, "always") == 0) {
			lo->sync_writes = 1;
		} else if (strcmp(o->sync, "fsync") == 0) {
			lo->sync_writes = 0;
		} else {
			fprintf(stderr, "lsmfs: bad sync '%s': use sync=always or sync=fsync\n",
				o->sync);
			return -1;
		}
	}
	if (o->blob_threshold && strcmp(o->blob_threshold, "0") == 0) {
		lo->blob_threshold = 0;
	} else if (o->blob_threshold &&
		   fsmain_parse_size(o->blob_threshold, &lo->blob_threshold) != 0) {
		fprintf(stderr,
			"lsmfs: bad blob_threshold '%s': give a size in bytes, e.g. 4K, or 0\n",
			o->blob_threshold);
		return -1;
	}
	if (o->inline_bytes) {
		size_t n = 0;

		if (strcmp(o->inline_bytes, "0") != 0 &&
		    (fsmain_parse_size(o->inline_bytes, &n) != 0 || n > LSMFS_INLINE_MAX)) {
			fprintf(stderr,
				"lsmfs: bad inline '%s': give a size in bytes up to %u, or 0\n",
				o->inline_bytes, LSMFS_INLINE_MAX);
			return -1;
		}
		lo->inline_bytes = (int64_t)n;
	}
	if (o->inode_cache) {
		char *end;
		unsigned long long n;

		errno = 0;
		n = strtoull(o->inode_cache, &end, 10);
		if (errno || end == o->inode_cache || *end || n == 0 || n > SIZE_MAX ||
		    o->inode_cache[0] == '-') {
			fprintf(stderr,
				"lsmfs: bad inode_cache '%s': give a count of inodes, e.g. 65536\n",
				o->inode_cache);
			return -1;
		}
		lo->inode_cache = (size_t)n;
	}
	if (o->verify) {
		if (strcmp(o->verify, "on") == 0) {
			lo->verify_chunks = LSMFS_VERIFY_ON;
		} else if (strcmp(o->verify, "sha") == 0) {
			lo->verify_chunks = LSMFS_VERIFY_SHA;
		} else if (strcmp(o->verify, "off") == 0) {
			lo->verify_chunks = LSMFS_VERIFY_OFF;
		} else {
			fprintf(stderr,
				"lsmfs: bad verify '%s': use verify=on, verify=sha or verify=off\n",
				o->verify);
			return -1;
		}
	}
	return 0;
}

/* An on|off option called name with value v (NULL: not given, on): 1, 0, or -1 (said why). */
static int fsmain_on_off(const char *name, const char *v)
{
	if (!v || strcmp(v, "on") == 0)
		return 1;
	if (strcmp(v, "off") == 0)
		return 0;
	fprintf(stderr, "lsmfs: bad %s '%s': use %s=on or %s=off\n", name, v, name, name);
	return -1;
}

static int fsmain_dir_is_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int empty = 1;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			empty = 0;
			break;
		}
	}
	closedir(d);
	return empty;
}

/*
 * Refuses a mountpoint that is missing, not a directory, a stale FUSE mount,
 * already a mount point, or not empty. The last two would hide files (or
 * another lsmfs) under ours; -o nonempty says that is intended.
 */
static int fsmain_check_mountpoint(const char *mnt, int nonempty)
{
	char parent[PATH_MAX];
	struct stat st, up;
	int empty;

	if (stat(mnt, &st) != 0) {
		if (errno == ENOTCONN)
			fprintf(stderr,
				"lsmfs: mountpoint %s is a FUSE mount whose daemon has gone: run "
				"'fusermount3 -u %s' first\n",
				mnt, mnt);
		else
			fprintf(stderr, "lsmfs: mountpoint %s: %s\n", mnt, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "lsmfs: mountpoint %s is not a directory\n", mnt);
		return -1;
	}
	if (nonempty)
		return 0;
	snprintf(parent, sizeof(parent), "%s/..", mnt);
	if (stat(parent, &up) == 0 && (up.st_dev != st.st_dev || up.st_ino == st.st_ino)) {
		fprintf(stderr,
			"lsmfs: mountpoint %s is already a mount point: unmount it first "
			"(or use -o nonempty to mount over it)\n",
			mnt);
		return -1;
	}
	empty = fsmain_dir_is_empty(mnt);
	if (empty < 0) {
		fprintf(stderr, "lsmfs: mountpoint %s: %s\n", mnt, strerror(errno));
		return -1;
	}
	if (!empty) {
		fprintf(stderr,
			"lsmfs: mountpoint %s is not empty (use -o nonempty to mount over it)\n",
			mnt);
		return -1;
	}
	return 0;
}

/* Adds "-o NAME=VALUE" with VALUE's commas escaped, as libfuse parses them. */
static int fsmain_add_opt(struct fuse_args *args, const char *name, const char *value)
{
	char *opt = NULL;
	char *kv = malloc(strlen(name) + strlen(value) + 2);
	int rc = -1;

	if (!kv)
		return -1;
	sprintf(kv, "%s=%s", name, value);
	if (fuse_opt_add_opt_escaped(&opt, kv) == 0 && fuse_opt_add_arg(args, "-o") == 0 &&
	    fuse_opt_add_arg(args, opt) == 0)
		rc = 0;
	free(opt);
	free(kv);
	return rc;
}

/*
 * Backgrounding. The parent forks before the data dir is opened and waits
 * on a pipe for the child's word; the child opens, mounts, and only then
 * detaches. Not fuse_daemonize(): it forks after everything is set up, and
 * the engine's threads, started by lsmfs_mount, do not survive fork(); its
 * parent also exits 0 whatever happens later, hiding refusals from mount(8)
 * and scripts. Here a child that fails exits with its status, which the
 * parent passes on.
 */
static int fsmain_bg_fd = -1;

static int fsmain_fork(void)
{
	int p[2], ws;
	pid_t pid;
	char ok;

	if (pipe(p) != 0) {
		perror("lsmfs: pipe");
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		perror("lsmfs: fork");
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		fsmain_bg_fd = p[1];
		return 0;
	}
	close(p[1]);
	if (read(p[0], &ok, 1) == 1)
		_exit(EXIT_OK);
	/* The child died before it could tell: it printed why. */
	if (waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) && WEXITSTATUS(ws) != 0)
		_exit(WEXITSTATUS(ws));
	_exit(EXIT_REFUSED);
}

/* In the child, once mounted: leave the terminal, then release the parent. */
static void fsmain_detach(void)
{
	int fd;
	char ok = 0;

	if (fsmain_bg_fd < 0)
		return;
	setsid();
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	if (write(fsmain_bg_fd, &ok, 1) != 1)
		perror("lsmfs: telling the parent");
	close(fsmain_bg_fd);
	fsmain_bg_fd = -1;
}

/* A hint for what the user can do about a refused data dir, for when the
 * core gave no message of its own. */
static const char *fsmain_mount_hint(int rc)
{
	switch (-rc) {
	case EMEDIUMTYPE:
		return " (run mkfs.lsmfs on it first)";
	case EBUSY:
		return " (is it mounted already?)";
	case EPROTONOSUPPORT:
		return " (it needs a newer lsmfs)";
	case EUCLEAN:
		return " (fsck.lsmfs can tell more)";
	}
	return "";
}

static int fsmain_serve(struct fuse_session *se, const struct fuse_cmdline_opts *co)
{
	struct fuse_loop_config *cfg;
	int rc;

	if (co->singlethread)
		return fuse_session_loop(se);
	cfg = fuse_loop_cfg_create();
	if (!cfg)
		return -ENOMEM;
	fuse_loop_cfg_set_clone_fd(cfg, (unsigned)co->clone_fd);
	fuse_loop_cfg_set_max_threads(cfg, co->max_threads);
	rc = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return rc;
}

/* True if the mountinfo path field p (octal escapes: \040 for a space) names path. */
static int fsmain_mountinfo_path_is(const char *p, const char *path)
{
	while (*p && *path) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] && p[3]) {
			int c = (p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0');

			if (c != (unsigned char)*path)
				return 0;
			p += 4;
		} else if (*p++ != *path) {
			return 0;
		}
		path++;
	}
	return !*p && !*path;
}

/*
 * The kernel starts a FUSE mount with its default readahead (128 KiB, the
 * lower of its default and our max_readahead), so a sequential read comes
 * as 128-256 KiB requests, each a round trip. Reading 1 MiB ahead lets one
 * request fetch 16 chunks. The knob is the mount's backing-device entry in
 * sysfs, named after its device number; set before the kernel's INIT
 * exchange finishes, the INIT reply's max_readahead (1 MiB) keeps it.
 * Best effort: without the right to write it, reads simply stay smaller.
 */
static void fsmain_raise_readahead(const char *mountpoint, unsigned kib)
{
	char line[4096], path[64], dev[32], mnt[4096];
	unsigned major = 0, minor = 0;
	int found = 0;
	FILE *f = fopen("/proc/self/mountinfo", "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		/* ID PARENT MAJOR:MINOR ROOT MOUNTPOINT ... ; the last match is the newest */
		if (sscanf(line, "%*s %*s %31s %*s %4095s", dev, mnt) == 2 &&
		    fsmain_mountinfo_path_is(mnt, mountpoint) &&
		    sscanf(dev, "%u:%u", &major, &minor) == 2)
			found = 1;
	}
	fclose(f);
	if (!found)
		return;
	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb", major, minor);
	f = fopen(path, "w");
	if (!f)
		return;
	fprintf(f, "%u\n", kib);
	fclose(f);
}

/*
 * Opens the data dir, mounts and serves: the child's part. The engine's
 * threads start inside lsmfs_mount; they are born with the termination
 * signals blocked, so that those signals reach the thread that waits in
 * the session loop and ends it (libfuse's own workers block them too).
 * The caller destroys the session.
 */
static int fsmain_run(struct fuse_session *se, struct fsop_state *s, const struct fsmain_opts *o,
		      const lsmfs_opts *lo, const struct fuse_cmdline_opts *co)
{
	sigset_t stop, old;
	const char *msg = NULL;
	int rc;

	sigemptyset(&stop);
	sigaddset(&stop, SIGHUP);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, &old);
	rc = lsmfs_mount(&s->fs, o->data_dir, lo, &msg);
	if (rc != 0) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		/* The core's messages name the directory and what to do. */
		if (msg)
			fprintf(stderr, "lsmfs: %s\n", msg);
		else
			fprintf(stderr, "lsmfs: cannot mount %s: %s%s\n", o->data_dir,
				strerror(-rc), fsmain_mount_hint(rc));
		return EXIT_REFUSED;
	}
	rc = fsig_start(se);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		goto out_signals;
	if (fuse_session_mount(se, o->mountpoint) != 0) {
		rc = -1; /* libfuse has said why */
		goto out_signals;
	}
	/* Before the loop reads the kernel's INIT (fuse_killpriv.c, fuse_io.c). */
	fkp_enable(o->killpriv_on);
	if (fio_install(se) != 0) {
		fprintf(stderr, "lsmfs: libfuse refused its custom I/O hook\n");
		rc = -1;
		fuse_session_unmount(se);
		goto out_signals;
	}
	/*
	 * The statistics socket (not with -o ro, which leaves the data dir as
	 * it is). Its thread is born with the termination signals blocked, as
	 * the engine's.
	 */
	if (!o->read_only) {
		pthread_sigmask(SIG_BLOCK, &stop, NULL);
		(void)fst_start(s->fs, o->data_dir);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	fsmain_raise_readahead(o->mountpoint, FSMAIN_READAHEAD_KIB);
	fsmain_detach();
	if (chdir("/") != 0)
		perror("lsmfs: chdir /");
	rc = fsmain_serve(se, co);
	fsig_loop_done();
	fst_stop();
	fuse_session_unmount(se);
out_signals:
	fsig_stop();
	lsmfs_unmount(s->fs);
	s->fs = NULL;
	/* A signal (positive) is how an unmount is asked for; errors are negative. */
	return rc < 0 ? EXIT_REFUSED : EXIT_OK;
}

/* Checks and completes the command line; prints what is wrong. */
static int fsmain_prepare(struct fsmain_opts *o, struct fuse_args *args)
{
	char *real;

	if (!o->data_dir || !o->mountpoint || o->extra_args) {
		fsmain_usage(stderr);
		return EXIT_USAGE;
	}
	real = realpath(o->data_dir, NULL);
	if (!real) {
		fprintf(stderr, "lsmfs: data directory %s: %s\n", o->data_dir, strerror(errno));
		return EXIT_REFUSED;
	}
	free(o->data_dir);
	o->data_dir = real;
	if (fsmain_check_mountpoint(o->mountpoint, o->nonempty) != 0)
		return EXIT_REFUSED;
	real = realpath(o->mountpoint, NULL);
	if (!real) {
		fprintf(stderr, "lsmfs: mountpoint %s: %s\n", o->mountpoint, strerror(errno));
		return EXIT_REFUSED;
	}
	free(o->mountpoint);
	o->mountpoint = real;
	/* The daemon would wait on its own mount to read its data. */
	size_t n = strlen(real);
	if (strncmp(o->data_dir, real, n) == 0 && (o->data_dir[n] == '/' || !o->data_dir[n])) {
		fprintf(stderr, "lsmfs: the data directory %s is inside the mountpoint %s\n",
			o->data_dir, real);
		return EXIT_REFUSED;
	}
	/* The kernel checks permissions against the inode modes we return. */
	if (fuse_opt_add_arg(args, "-odefault_permissions") != 0 ||
	    (!o->has_fsname && fsmain_add_opt(args, "fsname", o->data_dir) != 0) ||
	    (!o->has_subtype && fsmain_add_opt(args, "subtype", "lsmfs") != 0)) {
		fprintf(stderr, "lsmfs: out of memory\n");
		return EXIT_REFUSED;
	}
	return EXIT_OK;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fsmain_opts o = {0};
	struct fuse_cmdline_opts co = {0};
	struct fsop_state s = {.timeout = FSMAIN_TIMEOUT};
	struct fuse_session *se = NULL;
	lsmfs_opts lo;
	int status = EXIT_USAGE, wb;

	/*
	 * A write request's buffers (its batch, merged chunks) are a few
	 * hundred KiB to a few MiB. Above glibc's default threshold each
	 * would be a fresh mmap whose pages fault in zeroed on every request
	 * (12 % of the daemon's time in a 1 MiB write stream); from the heap
	 * they are reused.
	 */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	if (fuse_opt_parse(&args, &o, fsmain_opt_spec, fsmain_opt_proc) != 0)
		goto out;
	if (fuse_parse_cmdline(&args, &co) != 0)
		goto out;
	if (co.show_help) {
		fsmain_help();
		status = EXIT_OK;
		goto out;
	}
	if (co.show_version) {
		printf("lsmfs %s, format version %d\n", PACKAGE_VERSION, LSMFS_FORMAT_VERSION);
		/* libfuse runs fusermount3 for part of its answer */
		fflush(stdout);
		fuse_lowlevel_version();
		status = EXIT_OK;
		goto out;
	}
	o.killpriv_on = fsmain_on_off("killpriv_v2", o.killpriv);
	wb = fsmain_on_off("writeback", o.writeback);
	if (fsmain_core_opts(&o, &lo) != 0 || o.killpriv_on < 0 || wb < 0)
		goto out;
	s.no_writeback = !wb;
	status = fsmain_prepare(&o, &args);
	if (status != EXIT_OK)
		goto out;
	s.read_only = o.read_only;
	se = fuse_session_new(&args, &fsop_table, sizeof(fsop_table), &s);
	if (!se) {
		/* libfuse named the option it does not know */
		fprintf(stderr, "lsmfs: try 'lsmfs --help' for the options\n");
		status = EXIT_USAGE;
		goto out;
	}
	s.se = se;
	if (!co.foreground && fsmain_fork() != 0) {
		status = EXIT_REFUSED;
		goto out;
	}
	status = fsmain_run(se, &s, &o, &lo, &co);
out:
	if (se)
		fuse_session_destroy(se);
	free(co.mountpoint);
	free(o.data_dir);
	free(o.mountpoint);
	free(o.cache_size);
	free(o.reserve);
	free(o.sync);
	free(o.verify);
	free(o.blob_threshold);
	free(o.inline_bytes);
	free(o.inode_cache);
	free(o.killpriv);
	free(o.writeback);
	fuse_opt_free_args(&args);
	return status;
}
