/*
 * xattr.c — extended attributes as X keys ('X' ino name -> value). Names
 * arrive whole ("user.foo"); namespace permissions are the kernel's job.
 */
#include "fs_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

/* Linux's own limits and errors: an empty or too long name is -ERANGE. */
static int xname_check(const char *name, size_t *len)
{
	size_t n = name ? strnlen(name, LSMFS_XATTR_NAME_MAX + 1) : 0;

	*len = n;
	if (n == 0 || n > LSMFS_XATTR_NAME_MAX)
		return -ERANGE;
	return 0;
}

/* Reads the attribute; LSM_NOTFOUND when absent. */
static int xattr_get(lsmfs *fs, uint64_t ino, const char *name, size_t nlen, void **v, size_t *vlen)
{
	struct fkey k;

	key_xattr(&k, ino, name, nlen);
	return fs_get(fs, &k, v, vlen, ino);
}

/* Writes (value != NULL) or removes the attribute with the inode's new ctime. */
static int xattr_change(lsmfs *fs, struct lsmfs_inode *ip, const char *name, size_t nlen,
			const void *value, size_t size)
{
	struct lsmfs_attr na = ip->a;
	struct fs_op op;
	struct fkey k;
	int rc;

	rc = op_begin(fs, &op);
	if (rc)
		goto out;
	key_xattr(&k, ip->ino, name, nlen);
	rc = value ? op_put(&op, &k, value, size) : op_del(&op, &k);
	if (rc)
		goto out;
	if (value)
		na.flags |= LSMFS_IFLAG_XATTR; /* so that freeing the inode looks for X keys */
	na.ctime = lsmfs_now();
	rc = op_put_inode(&op, ip->ino, &na);
	if (!rc)
		rc = op_commit(&op);
	if (!rc)
		ip->a = na;
out:
	op_end(&op);
	return rc;
}

int lsmfs_setxattr(lsmfs *fs, uint64_t ino, const char *name, const void *value, size_t size,
		   int flags)
{
	struct lsmfs_inode *ip;
	size_t nlen;
	int rc;

	if (flags & ~(LSMFS_XATTR_CREATE | LSMFS_XATTR_REPLACE))
		return -EINVAL;
	rc = xname_check(name, &nlen);
	if (rc)
		return rc;
	if (size > LSMFS_XATTR_SIZE_MAX)
		return -E2BIG;
	rc = ilock_get(fs, ino, &ip);
	if (rc)
		return rc;
	if (flags) {
		rc = xattr_get(fs, ino, name, nlen, NULL, NULL);
		if (rc < 0)
			goto out;
		if (rc == 0 && (flags & LSMFS_XATTR_CREATE)) {
			rc = -EEXIST;
			goto out;
		}
		if (rc == LSM_NOTFOUND && (flags & LSMFS_XATTR_REPLACE)) {
			rc = -ENODATA;
			goto out;
		}
	}
	rc = space_need(fs, SPACE_META_BYTES + nlen + size, 1);
	if (!rc)
		rc = xattr_change(fs, ip, name, nlen, value ? value : "", size);
out:
	iunlock_put(fs, ip);
	return rc;
}

ssize_t lsmfs_getxattr(lsmfs *fs, uint64_t ino, const char *name, void *buf, size_t size)
{
	struct lsmfs_inode *ip;
	void *v = NULL;
	size_t nlen, vlen = 0;
	int rc;

	rc = xname_check(name, &nlen);
	if (rc)
		return rc;
	rc = ilock_get(fs, ino, &ip);
	if (rc)
		return rc;
	rc = xattr_get(fs, ino, name, nlen, &v, &vlen);
	if (rc == LSM_NOTFOUND)
		rc = -ENODATA;
	if (rc)
		goto out;
	if (size && size < vlen) {
		rc = -ERANGE;
		goto out;
	}
	if (size)
		memcpy(buf, v, vlen);
out:
	free(v);
	iunlock_put(fs, ip);
	return rc ? rc : (ssize_t)vlen;
}

ssize_t lsmfs_listxattr(lsmfs *fs, uint64_t ino, char *buf, size_t size)
{
	struct lsmfs_inode *ip;
	struct fkey pfx;
	lsm_iter *it = NULL;
	size_t total = 0;
	int rc;

	rc = ilock_get(fs, ino, &ip);
	if (rc)
		return rc;
	if (!(ip->a.flags & LSMFS_IFLAG_XATTR))
		goto out; /* never had one: no scan */
	it = lsm_iter_new(fs->db, NULL);
	if (!it) {
		rc = -ENOMEM;
		goto out;
	}
	key_ino(&pfx, KEY_XATTR, ino);
	for (lsm_iter_seek(it, pfx.b, pfx.len); lsm_iter_valid(it); lsm_iter_next(it)) {
		size_t klen, nlen;
		const uint8_t *key = lsm_iter_key(it, &klen);

		if (klen < pfx.len || memcmp(key, pfx.b, pfx.len) != 0)
			break;
		nlen = klen - pfx.len;
		if (size) {
			if (total + nlen + 1 > size) {
				rc = -ERANGE;
				goto out;
			}
			memcpy(buf + total, key + pfx.len, nlen);
			buf[total + nlen] = '\0';
		}
		total += nlen + 1;
	}
	rc = fs_err(fs, lsm_iter_status(it), "listxattr", ino);
out:
	lsm_iter_free(it);
	iunlock_put(fs, ip);
	return rc ? rc : (ssize_t)total;
}

int lsmfs_removexattr(lsmfs *fs, uint64_t ino, const char *name)
{
	struct lsmfs_inode *ip;
	size_t nlen;
	int rc;

	rc = xname_check(name, &nlen);
	if (rc)
		return rc;
	rc = ilock_get(fs, ino, &ip);
	if (rc)
		return rc;
	rc = xattr_get(fs, ino, name, nlen, NULL, NULL);
	if (rc == LSM_NOTFOUND)
		rc = -ENODATA;
	if (!rc)
		rc = xattr_change(fs, ip, name, nlen, NULL, 0);
	iunlock_put(fs, ip);
	return rc;
}
