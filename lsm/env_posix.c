/* env_posix.c — the real env: POSIX calls, errors as -errno with the file named. */
#include "env.h"
#include "error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

struct lsm_file {
	int fd;
	uint64_t append_off; /* where append writes next */
	int pid_written;     /* a LOCK holding our pid: cleared again at unlock */
	char path[];
};

static int sys_err(const char *call, const char *path)
{
	int e = errno ? errno : EIO;
	return lsm_seterr(-e, "%s %s: %s", call, path, strerror(e));
}

static int px_open(lsm_env *env, const char *path, int flags, lsm_file **out)
{
	int oflags = O_CLOEXEC;
	if ((flags & LSM_O_READ) && (flags & LSM_O_WRITE))
		oflags |= O_RDWR;
	else if (flags & LSM_O_WRITE)
		oflags |= O_WRONLY;
	else
		oflags |= O_RDONLY;
	if (flags & LSM_O_CREATE)
		oflags |= O_CREAT;
	if (flags & LSM_O_EXCL)
		oflags |= O_EXCL;
	if (flags & LSM_O_TRUNC)
		oflags |= O_TRUNC;
	size_t plen = strlen(path);
	lsm_file *f = malloc(sizeof(*f) + plen + 1);
	if (!f)
		return lsm_seterr(-ENOMEM, "open %s: out of memory", path);
	memcpy(f->path, path, plen + 1);
	f->pid_written = 0;
	f->fd = open(path, oflags, 0644);
	if (f->fd < 0) {
		int rc = sys_err("open", path);
		free(f);
		return rc;
	}
	struct stat st;
	if (fstat(f->fd, &st) < 0) {
		int rc = sys_err("fstat", path);
		close(f->fd);
		free(f);
		return rc;
	}
	f->append_off = (uint64_t)st.st_size;
	*out = f;
	return 0;
}

static int px_close(lsm_env *env, lsm_file *f)
{
	int rc = 0;
	if (close(f->fd) < 0)
		rc = sys_err("close", f->path);
	free(f);
	return rc;
}

static int px_pread(lsm_env *env, lsm_file *f, void *buf, size_t n, uint64_t off, size_t *nread)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = pread(f->fd, (char *)buf + done, n - done, (off_t)(off + done));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return sys_err("pread", f->path);
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	*nread = done;
	return 0;
}

static int px_preadv(lsm_env *env, lsm_file *f, const struct iovec *iov, int iovcnt, uint64_t off,
		     size_t *nread)
{
	struct iovec v[LSM_ENV_IOV_MAX];
	size_t done = 0;
	int first = 0;

	if (iovcnt > LSM_ENV_IOV_MAX)
		return lsm_seterr(-EINVAL, "preadv of %d buffers (at most %d)", iovcnt,
				  LSM_ENV_IOV_MAX);
	memcpy(v, iov, (size_t)iovcnt * sizeof(*v));
	while (first < iovcnt) {
		ssize_t r = preadv(f->fd, v + first, iovcnt - first, (off_t)(off + done));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return sys_err("preadv", f->path);
		}
		if (r == 0)
			break;
		done += (size_t)r;
		/* A short read (a signal, the end of file): go on after what came. */
		while (first < iovcnt && (size_t)r >= v[first].iov_len) {
			r -= (ssize_t)v[first].iov_len;
			first++;
		}
		if (first < iovcnt) {
			v[first].iov_base = (char *)v[first].iov_base + r;
			v[first].iov_len -= (size_t)r;
		}
	}
	*nread = done;
	return 0;
}

static int px_pwrite(lsm_env *env, lsm_file *f, const void *buf, size_t n, uint64_t off)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = pwrite(f->fd, (const char *)buf + done, n - done, (off_t)(off + done));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return sys_err("pwrite", f->path);
		}
		done += (size_t)r;
	}
	if (off + n > f->append_off)
		f->append_off = off + n;
	return 0;
}

static int px_append(lsm_env *env, lsm_file *f, const void *buf, size_t n)
{
	return px_pwrite(env, f, buf, n, f->append_off);
}

static int px_sync(lsm_env *env, lsm_file *f)
{
	if (fsync(f->fd) < 0)
		return sys_err("fsync", f->path);
	return 0;
}

static int px_datasync(lsm_env *env, lsm_file *f)
{
	if (fdatasync(f->fd) < 0)
		return sys_err("fdatasync", f->path);
	return 0;
}

static int px_file_size(lsm_env *env, lsm_file *f, uint64_t *size)
{
	struct stat st;
	if (fstat(f->fd, &st) < 0)
		return sys_err("fstat", f->path);
	*size = (uint64_t)st.st_size;
	return 0;
}

static int px_truncate(lsm_env *env, lsm_file *f, uint64_t size)
{
	if (ftruncate(f->fd, (off_t)size) < 0)
		return sys_err("ftruncate", f->path);
	f->append_off = size;
	return 0;
}

static int px_readahead(lsm_env *env, lsm_file *f, uint64_t off, uint64_t len)
{
	/* Advice only: a failure changes nothing the caller could act on. */
	(void)posix_fadvise(f->fd, (off_t)off, (off_t)len, POSIX_FADV_WILLNEED);
	return 0;
}

static int px_map(lsm_env *env, lsm_file *f, uint64_t size, const void **addr)
{
	if (size == 0 || size > SIZE_MAX)
		return lsm_seterr(-EINVAL, "mmap %s: cannot map %llu bytes", f->path,
				  (unsigned long long)size);
	void *p = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, f->fd, 0);
	if (p == MAP_FAILED)
		return sys_err("mmap", f->path);
	/*
	 * Lookups touch one block here and there: read-ahead around a fault
	 * would mostly bring in pages nobody asked for. Advice only.
	 */
	(void)madvise(p, (size_t)size, MADV_RANDOM);
	*addr = p;
	return 0;
}

static int px_unmap(lsm_env *env, const void *addr, uint64_t size)
{
	if (munmap((void *)addr, (size_t)size) < 0) {
		int e = errno;
		return lsm_seterr(-e, "munmap of %llu bytes: %s", (unsigned long long)size,
				  strerror(e));
	}
	return 0;
}

static int px_drop_pages(lsm_env *env, const void *addr, uint64_t len)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = ((uintptr_t)addr + page - 1) / page * page;
	uintptr_t hi = ((uintptr_t)addr + (uintptr_t)len) / page * page;

	(void)env;
	/* Whole pages inside the range only; a shared file mapping keeps its bytes. */
	if (hi > lo)
		(void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
	return 0;
}

static int px_path_size(lsm_env *env, const char *path, uint64_t *size)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return sys_err("stat", path);
	*size = (uint64_t)st.st_size;
	return 0;
}

static int px_exists(lsm_env *env, const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return sys_err("stat", path);
	return 0;
}

static int px_rename(lsm_env *env, const char *from, const char *to)
{
	if (rename(from, to) < 0) {
		int e = errno;
		return lsm_seterr(-e, "rename %s to %s: %s", from, to, strerror(e));
	}
	return 0;
}

static int px_unlink(lsm_env *env, const char *path)
{
	if (unlink(path) < 0)
		return sys_err("unlink", path);
	return 0;
}

static int px_mkdir(lsm_env *env, const char *path, mode_t mode)
{
	if (mkdir(path, mode) < 0) {
		struct stat st;
		if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			return 0;
		return sys_err("mkdir", path);
	}
	return 0;
}

static int px_rmdir(lsm_env *env, const char *path)
{
	if (rmdir(path) < 0)
		return sys_err("rmdir", path);
	return 0;
}

static int px_list_dir(lsm_env *env, const char *dir, char ***names, size_t *count)
{
	DIR *d = opendir(dir);
	if (!d)
		return sys_err("opendir", dir);
	char **v = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			char **nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				rc = -ENOMEM;
				goto out;
			}
			v = nv;
		}
		v[n] = strdup(de->d_name);
		if (!v[n]) {
			rc = -ENOMEM;
			goto out;
		}
		n++;
		errno = 0;
	}
	if (errno)
		rc = sys_err("readdir", dir);
out:
	closedir(d);
	if (rc) {
		lsm_env_free_names(v, n);
		if (rc == -ENOMEM)
			lsm_seterr(rc, "listing %s: out of memory", dir);
		return rc;
	}
	*names = v;
	*count = n;
	return 0;
}

static int px_sync_dir(lsm_env *env, const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return sys_err("open directory", dir);
	int rc = 0;
	if (fsync(fd) < 0)
		rc = sys_err("fsync directory", dir);
	close(fd);
	return rc;
}

static pid_t read_holder_pid(const char *path)
{
	char buf[32] = {0};
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return r > 0 ? (pid_t)atol(buf) : 0;
}

static int lock_common(lsm_env *env, const char *path, int write_pid, lsm_file **lock,
		       pid_t *holder)
{
	lsm_file *f;
	int rc = px_open(env, path, LSM_O_READ | LSM_O_WRITE | LSM_O_CREATE, &f);
	if (rc)
		return rc;
	/*
	 * An open-file-description lock: held by this handle, not the process,
	 * so a second open in the same process is refused too, and released
	 * by the kernel if the process dies.
	 */
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	if (fcntl(f->fd, F_OFD_SETLK, &fl) < 0) {
		int e = errno;
		pid_t pid = read_holder_pid(path);
		if (holder)
			*holder = pid;
		px_close(env, f);
		if (e == EAGAIN || e == EACCES)
			return lsm_seterr(-LSM_EBUSY,
					  "%s is locked by process %ld: database in use", path,
					  (long)pid);
		return lsm_seterr(-e, "lock %s: %s", path, strerror(e));
	}
	if (write_pid) {
		char pid[32];
		int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
		if (ftruncate(f->fd, 0) < 0 || pwrite(f->fd, pid, (size_t)len, 0) != len) {
			rc = sys_err("write pid to", path);
			px_close(env, f);
			return rc;
		}
		f->pid_written = 1;
	}
	*lock = f;
	return 0;
}

static int px_lock_file(lsm_env *env, const char *path, lsm_file **lock, pid_t *holder)
{
	return lock_common(env, path, 1, lock, holder);
}

static int px_lock_file_ro(lsm_env *env, const char *path, lsm_file **lock, pid_t *holder)
{
	return lock_common(env, path, 0, lock, holder);
}

static int px_unlock_file(lsm_env *env, lsm_file *lock)
{
	/*
	 * Our pid goes with the lock: a later holder that writes none (a
	 * read-only open) must not be reported as us. Best effort, and no
	 * message to overwrite the caller's: a stale pid only misleads one.
	 */
	if (lock->pid_written && ftruncate(lock->fd, 0) < 0)
		errno = 0;
	/* Closing the description drops the OFD lock. */
	return px_close(env, lock);
}

static int px_free_space(lsm_env *env, const char *path, uint64_t *bytes)
{
	struct statvfs sv;
	if (statvfs(path, &sv) < 0)
		return sys_err("statvfs", path);
	*bytes = (uint64_t)sv.f_bavail * sv.f_frsize;
	return 0;
}

static void px_destroy(lsm_env *env)
{
}

static lsm_env posix_env = {
	.open_file = px_open,
	.close = px_close,
	.pread = px_pread,
	.preadv = px_preadv,
	.pwrite = px_pwrite,
	.append = px_append,
	.sync = px_sync,
	.datasync = px_datasync,
	.file_size = px_file_size,
	.truncate = px_truncate,
	.readahead = px_readahead,
	.map = px_map,
	.unmap = px_unmap,
	.drop_pages = px_drop_pages,
	.path_size = px_path_size,
	.exists = px_exists,
	.rename = px_rename,
	.unlink = px_unlink,
	.mkdir = px_mkdir,
	.rmdir = px_rmdir,
	.list_dir = px_list_dir,
	.sync_dir = px_sync_dir,
	.lock_file = px_lock_file,
	.unlock_file = px_unlock_file,
	.free_space = px_free_space,
	.destroy = px_destroy,
	.lock_file_ro = px_lock_file_ro,
};

lsm_env *lsm_env_posix(void)
{
	return &posix_env;
}
