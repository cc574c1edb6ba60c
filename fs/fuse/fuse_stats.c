/*
 * fuse_stats.c — what the running daemon counts, and the socket that hands
 * it to lsmfs-stat.
 *
 * Counting. Every request read from /dev/fuse counts under its opcode.
 * The daemon answers a request on the thread that read it, so the reply
 * that thread writes next (same unique) adds the time between the two to
 * the opcode's total and to its histogram, bucket i holding the replies
 * that took [2^i, 2^(i+1)) microseconds (bucket 0 also the faster ones,
 * the last also the slower). Requests without a reply (FORGET) count
 * without a time. READ replies add their data to bytes_read, WRITE
 * requests theirs to bytes_written. All of it relaxed atomic adds: two
 * clock reads and a few adds per request, against a round trip of tens of
 * microseconds.
 *
 * Serving. A thread accepts connections on DATA_DIR/stat.sock, beside the
 * engine's LOCK (so nothing of it is in the mounted namespace: not in a
 * listing, a find or a backup of the mount), and writes each connection
 * one snapshot, then closes it. The snapshot is text, one record a line:
 *
 *   lsmfs-stat 1                        format and version
 *   time_ns NS                          CLOCK_MONOTONIC now
 *   uptime_ns NS                        since the daemon started counting
 *   bytes_read N / bytes_written N      file data through READ / WRITE
 *   op NAME COUNT TOTAL_NS H0 .. H23    one line per opcode seen
 *   engine NAME VALUE                   the engine's figures (lsmfs_engine_stats)
 *   end
 *
 * The socket is created 0600 and removed at unmount; one a killed daemon
 * left behind is replaced by the next daemon, which holds the data
 * directory's lock. The path goes through /proc/self/fd of the data
 * directory, so its length never hits the 108 bytes of sun_path.
 */
#include "fuse_stats.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define NOPS	 64 /* opcodes counted by number; higher ones as OTHER */
#define NBUCKETS 24

static const char *const op_names[NOPS] = {
	[1] = "LOOKUP",	       [2] = "FORGET",	   [3] = "GETATTR",
	[4] = "SETATTR",       [5] = "READLINK",   [6] = "SYMLINK",
	[8] = "MKNOD",	       [9] = "MKDIR",	   [10] = "UNLINK",
	[11] = "RMDIR",	       [12] = "RENAME",	   [13] = "LINK",
	[14] = "OPEN",	       [15] = "READ",	   [16] = "WRITE",
	[17] = "STATFS",       [18] = "RELEASE",   [20] = "FSYNC",
	[21] = "SETXATTR",     [22] = "GETXATTR",  [23] = "LISTXATTR",
	[24] = "REMOVEXATTR",  [25] = "FLUSH",	   [26] = "INIT",
	[27] = "OPENDIR",      [28] = "READDIR",   [29] = "RELEASEDIR",
	[30] = "FSYNCDIR",     [31] = "GETLK",	   [32] = "SETLK",
	[33] = "SETLKW",       [34] = "ACCESS",	   [35] = "CREATE",
	[36] = "INTERRUPT",    [37] = "BMAP",	   [38] = "DESTROY",
	[39] = "IOCTL",	       [40] = "POLL",	   [41] = "NOTIFY_REPLY",
	[42] = "BATCH_FORGET", [43] = "FALLOCATE", [44] = "READDIRPLUS",
	[45] = "RENAME2",      [46] = "LSEEK",	   [47] = "COPY_FILE_RANGE",
	[50] = "SYNCFS",       [51] = "TMPFILE",   [52] = "STATX",
};

struct op_count {
	uint64_t count, total_ns;
	uint64_t hist[NBUCKETS];
};

static struct op_count ops[NOPS + 1]; /* [NOPS]: OTHER */
static uint64_t bytes_read, bytes_written;
static uint64_t started_ns;

/* The request this thread read last, until its reply goes. */
static __thread struct {
	uint64_t unique, t0;
	uint32_t opcode;
	int open;
} cur;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void add(uint64_t *p, uint64_t v)
{
	__atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}

void fst_request(const void *buf, ssize_t n)
{
	struct fuse_in_header h;
	uint32_t op;

	if (n < (ssize_t)sizeof(h))
		return;
	memcpy(&h, buf, sizeof(h));
	op = h.opcode < NOPS ? h.opcode : NOPS;
	add(&ops[op].count, 1);
	if (h.opcode == FUSE_WRITE && n >= (ssize_t)(sizeof(h) + sizeof(struct fuse_write_in)))
		add(&bytes_written, (uint64_t)n - sizeof(h) - sizeof(struct fuse_write_in));
	cur.unique = h.unique;
	cur.opcode = op;
	cur.t0 = now_ns();
	cur.open = 1;
}

void fst_reply(const struct iovec *iov, int count)
{
	struct fuse_out_header h;
	uint64_t us, took;
	unsigned b = 0;

	if (!cur.open || count < 1 || iov[0].iov_len < sizeof(h))
		return;
	memcpy(&h, iov[0].iov_base, sizeof(h));
	if (h.unique != cur.unique)
		return; /* a notification (unique 0), or another thread's reply */
	cur.open = 0;
	took = now_ns() - cur.t0;
	add(&ops[cur.opcode].total_ns, took);
	for (us = took / 1000; us > 1 && b < NBUCKETS - 1; us >>= 1)
		b++;
	add(&ops[cur.opcode].hist[b], 1);
	if (cur.opcode == FUSE_READ && h.error == 0 && h.len > sizeof(h))
		add(&bytes_read, h.len - sizeof(h));
}

/* ---- the socket ---- */

static lsmfs *stat_fs;
static int dir_fd = -1, listen_fd = -1;
static pthread_t server;
static int serving;

static uint64_t get(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* Writes one snapshot to f. */
static void snapshot(FILE *f)
{
	char engine[4096];
	uint64_t t = now_ns();

	fprintf(f, "lsmfs-stat 1\ntime_ns %llu\nuptime_ns %llu\n", (unsigned long long)t,
		(unsigned long long)(t - started_ns));
	fprintf(f, "bytes_read %llu\nbytes_written %llu\n", (unsigned long long)get(&bytes_read),
		(unsigned long long)get(&bytes_written));
	for (unsigned op = 0; op <= NOPS; op++) {
		const char *name = op < NOPS ? op_names[op] : "OTHER";
		uint64_t n = get(&ops[op].count);

		if (!n)
			continue;
		if (name)
			fprintf(f, "op %s %llu %llu", name, (unsigned long long)n,
				(unsigned long long)get(&ops[op].total_ns));
		else
			fprintf(f, "op OP%u %llu %llu", op, (unsigned long long)n,
				(unsigned long long)get(&ops[op].total_ns));
		for (unsigned b = 0; b < NBUCKETS; b++)
			fprintf(f, " %llu", (unsigned long long)get(&ops[op].hist[b]));
		fputc('\n', f);
	}
	if (lsmfs_engine_stats(stat_fs, engine, sizeof(engine)) > 0)
		fputs(engine, f);
	fputs("end\n", f);
}

static void *serve(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		FILE *f;

		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			break; /* shut down by fst_stop */
		}
		f = fdopen(c, "w");
		if (!f) {
			close(c);
			continue;
		}
		snapshot(f);
		fclose(f);
	}
	return NULL;
}

int fst_start(lsmfs *fs, const char *data_dir)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};

	started_ns = now_ns();
	stat_fs = fs;
	dir_fd = open(data_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0)
		goto fail;
	snprintf(a.sun_path, sizeof(a.sun_path), "/proc/self/fd/%d/%s", dir_fd, FST_SOCKET);
	/* One a killed daemon left: we hold the data dir's lock, so it is nobody's. */
	(void)unlinkat(dir_fd, FST_SOCKET, 0);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		goto fail;
	if (fchmodat(dir_fd, FST_SOCKET, 0600, 0) != 0 || listen(listen_fd, 16) != 0 ||
	    pthread_create(&server, NULL, serve, NULL) != 0) {
		(void)unlinkat(dir_fd, FST_SOCKET, 0);
		goto fail;
	}
	serving = 1;
	return 0;
fail:
	fprintf(stderr, "lsmfs: no statistics socket in %s: %s (lsmfs-stat will not work)\n",
		data_dir, strerror(errno));
	if (listen_fd >= 0)
		close(listen_fd);
	if (dir_fd >= 0)
		close(dir_fd);
	listen_fd = dir_fd = -1;
	return -1;
}

void fst_stop(void)
{
	if (!serving)
		return;
	serving = 0;
	/* Wakes the accept with an error: the thread ends. */
	shutdown(listen_fd, SHUT_RDWR);
	pthread_join(server, NULL);
	close(listen_fd);
	(void)unlinkat(dir_fd, FST_SOCKET, 0);
	close(dir_fd);
	listen_fd = dir_fd = -1;
}
