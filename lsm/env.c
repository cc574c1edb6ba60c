/* env.c — helpers shared by every env: name lists, whole-file read, atomic replace. */
#include "env.h"
#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lsm_env_free_names(char **names, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
}

int lsm_env_read_all(lsm_env *env, const char *path, uint8_t **data, size_t *len)
{
	lsm_file *f;
	uint64_t size;
	uint8_t *buf = NULL;
	size_t got = 0;
	int rc = env->open_file(env, path, LSM_O_READ, &f);
	if (rc)
		return rc;
	rc = env->file_size(env, f, &size);
	if (rc)
		goto out;
	buf = malloc(size + 1);
	if (!buf) {
		rc = lsm_seterr(-ENOMEM, "reading %s: out of memory", path);
		goto out;
	}
	rc = env->pread(env, f, buf, size, 0, &got);
	if (rc)
		goto out;
	buf[got] = 0;
	*data = buf;
	*len = got;
	buf = NULL;
out:
	free(buf);
	env->close(env, f);
	return rc;
}

int lsm_env_write_atomic(lsm_env *env, const char *dir, const char *path, const void *data,
			 size_t len)
{
	size_t plen = strlen(path);
	char *tmp = malloc(plen + 5);
	lsm_file *f = NULL;
	if (!tmp)
		return lsm_seterr(-ENOMEM, "writing %s: out of memory", path);
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".tmp", 5);
	int rc = env->open_file(env, tmp, LSM_O_WRITE | LSM_O_CREATE | LSM_O_TRUNC, &f);
	if (rc)
		goto out;
	rc = env->append(env, f, data, len);
	if (!rc)
		rc = env->sync(env, f);
	int crc = env->close(env, f);
	if (!rc)
		rc = crc;
	if (rc) {
		env->unlink(env, tmp); /* best effort; the caller sees the first error */
		goto out;
	}
	rc = env->rename(env, tmp, path);
	if (!rc)
		rc = env->sync_dir(env, dir);
out:
	free(tmp);
	return rc;
}
