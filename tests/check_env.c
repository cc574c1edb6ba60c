/*
 * check_env.c — the POSIX env reports errors naming the file, and the fault
 * env keeps exactly what was made durable across a simulated power cut.
 */
#include "env.h"
#include "error.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *dir;
static lsm_env *px;

static void setup(void)
{
	dir = tu_mkdtemp("env");
	px = lsm_env_posix();
}

static void teardown(void)
{
	tu_rmtree(dir);
	dir = NULL;
}

/* Reads path through the posix env, as a fresh process after reboot would. */
static size_t read_back(const char *path, uint8_t *out, size_t cap)
{
	uint8_t *data;
	size_t len;
	ck_assert_int_eq(lsm_env_read_all(px, path, &data, &len), 0);
	ck_assert_uint_le(len, cap);
	memcpy(out, data, len);
	free(data);
	return len;
}

static void write_file(lsm_env *env, const char *path, const char *text, int sync)
{
	lsm_file *f;
	ck_assert_int_eq(env->open_file(env, path, LSM_O_WRITE | LSM_O_CREATE | LSM_O_TRUNC, &f),
			 0);
	ck_assert_int_eq(env->append(env, f, text, strlen(text)), 0);
	if (sync)
		ck_assert_int_eq(env->sync(env, f), 0);
	ck_assert_int_eq(env->close(env, f), 0);
}

START_TEST(test_posix_write_read_size_truncate)
{
	char *p = tu_path(dir, "a");
	lsm_file *f;
	ck_assert_int_eq(px->open_file(px, p, LSM_O_READ | LSM_O_WRITE | LSM_O_CREATE, &f), 0);
	ck_assert_int_eq(px->append(px, f, "hello ", 6), 0);
	ck_assert_int_eq(px->append(px, f, "world", 5), 0);
	ck_assert_int_eq(px->pwrite(px, f, "W", 1, 6), 0);
	uint64_t size;
	ck_assert_int_eq(px->file_size(px, f, &size), 0);
	ck_assert_uint_eq(size, 11);
	char buf[32];
	size_t n;
	ck_assert_int_eq(px->pread(px, f, buf, sizeof(buf), 0, &n), 0);
	ck_assert_uint_eq(n, 11); /* short only at end of file */
	ck_assert_int_eq(memcmp(buf, "hello World", 11), 0);
	ck_assert_int_eq(px->datasync(px, f), 0);
	ck_assert_int_eq(px->truncate(px, f, 5), 0);
	ck_assert_int_eq(px->append(px, f, "!", 1), 0); /* append follows truncate */
	ck_assert_int_eq(px->sync(px, f), 0);
	ck_assert_int_eq(px->close(px, f), 0);
	ck_assert_int_eq(px->path_size(px, p, &size), 0);
	ck_assert_uint_eq(size, 6);
	free(p);
}
END_TEST

START_TEST(test_posix_errors_name_the_file_and_call)
{
	char *p = tu_path(dir, "missing");
	lsm_file *f;
	ck_assert_int_eq(px->open_file(px, p, LSM_O_READ, &f), -ENOENT);
	ck_assert_ptr_nonnull(strstr(lsm_errmsg(), p));
	ck_assert_ptr_nonnull(strstr(lsm_errmsg(), "open"));
	ck_assert_int_eq(px->exists(px, p), -ENOENT);
	ck_assert_int_eq(px->unlink(px, p), -ENOENT);
	ck_assert_ptr_nonnull(strstr(lsm_errmsg(), "unlink"));
	write_file(px, p, "x", 0);
	ck_assert_int_eq(px->open_file(px, p, LSM_O_WRITE | LSM_O_CREATE | LSM_O_EXCL, &f),
			 -EEXIST);
	ck_assert_str_eq(lsm_strerror(-LSM_ECORRUPT), "corruption");
	ck_assert_str_eq(lsm_strerror(-EIO), "Input/output error");
	free(p);
}
END_TEST

START_TEST(test_posix_list_rename_unlink_mkdir)
{
	char *a = tu_path(dir, "a"), *b = tu_path(dir, "b"), *sub = tu_path(dir, "sub");
	write_file(px, a, "1", 1);
	ck_assert_int_eq(px->mkdir(px, sub, 0700), 0);
	ck_assert_int_eq(px->mkdir(px, sub, 0700), 0); /* existing dir is fine */
	ck_assert_int_eq(px->rename(px, a, b), 0);
	ck_assert_int_eq(px->sync_dir(px, dir), 0);
	char **names;
	size_t n;
	ck_assert_int_eq(px->list_dir(px, dir, &names, &n), 0);
	ck_assert_uint_eq(n, 2);
	int seen_b = 0, seen_sub = 0;
	for (size_t i = 0; i < n; i++) {
		seen_b += !strcmp(names[i], "b");
		seen_sub += !strcmp(names[i], "sub");
	}
	ck_assert_int_eq(seen_b + seen_sub, 2);
	lsm_env_free_names(names, n);
	ck_assert_int_eq(px->unlink(px, b), 0);
	ck_assert_int_eq(px->rmdir(px, sub), 0);
	uint64_t free_bytes = 0;
	ck_assert_int_eq(px->free_space(px, dir, &free_bytes), 0);
	ck_assert_uint_gt(free_bytes, 0);
	free(a);
	free(b);
	free(sub);
}
END_TEST

START_TEST(test_posix_lock_refuses_second_holder_with_pid)
{
	char *p = tu_path(dir, "LOCK");
	lsm_file *l1, *l2;
	pid_t holder = -1;
	ck_assert_int_eq(px->lock_file(px, p, &l1, &holder), 0);
	ck_assert_int_eq(px->lock_file(px, p, &l2, &holder), -LSM_EBUSY);
	ck_assert_int_eq(holder, getpid());
	ck_assert_ptr_nonnull(strstr(lsm_errmsg(), "in use"));
	ck_assert_int_eq(px->unlock_file(px, l1), 0);
	ck_assert_int_eq(px->lock_file(px, p, &l2, &holder), 0);
	ck_assert_int_eq(px->unlock_file(px, l2), 0);
	free(p);
}
END_TEST

START_TEST(test_atomic_write_replaces_whole_file)
{
	char *p = tu_path(dir, "CURRENT");
	ck_assert_int_eq(lsm_env_write_atomic(px, dir, p, "one\n", 4), 0);
	ck_assert_int_eq(lsm_env_write_atomic(px, dir, p, "two!\n", 5), 0);
	uint8_t buf[16];
	size_t n = read_back(p, buf, sizeof(buf));
	ck_assert_uint_eq(n, 5);
	ck_assert_int_eq(memcmp(buf, "two!\n", 5), 0);
	char *tmp = tu_path(dir, "CURRENT.tmp");
	ck_assert_int_eq(px->exists(px, tmp), -ENOENT);
	free(tmp);
	free(p);
}
END_TEST

/* Writes n pseudo-random bytes (seeded) to path through env and syncs them. */
static uint8_t *write_random(lsm_env *env, const char *path, size_t n, uint64_t seed)
{
	tu_rng r;
	tu_rng_init(&r, seed);
	uint8_t *data = malloc(n);
	ck_assert_ptr_nonnull(data);
	tu_fill(&r, data, n);
	lsm_file *f;
	ck_assert_int_eq(env->open_file(env, path, LSM_O_WRITE | LSM_O_CREATE | LSM_O_TRUNC, &f),
			 0);
	ck_assert_int_eq(env->append(env, f, data, n), 0);
	ck_assert_int_eq(env->sync(env, f), 0);
	ck_assert_int_eq(env->close(env, f), 0);
	return data;
}

START_TEST(test_posix_map_shows_the_file_and_outlives_its_handle)
{
	char *p = tu_path(dir, "t.sst");
	size_t n = 3 * 4096 + 123; /* several pages, the last one partial */
	uint8_t *data = write_random(px, p, n, tu_seed());
	lsm_file *f;
	const void *addr = NULL;
	ck_assert_int_eq(px->open_file(px, p, LSM_O_READ, &f), 0);
	ck_assert_int_eq(px->map(px, f, n, &addr), 0);
	ck_assert_ptr_nonnull(addr);
	ck_assert_int_eq(memcmp(addr, data, n), 0);
	/* a prefix maps too */
	const void *head = NULL;
	ck_assert_int_eq(px->map(px, f, 10, &head), 0);
	ck_assert_int_eq(memcmp(head, data, 10), 0);
	ck_assert_int_eq(px->unmap(px, head, 10), 0);
	ck_assert_int_eq(px->close(px, f), 0);
	ck_assert_int_eq(memcmp(addr, data, n), 0); /* the mapping keeps the file */
	/* pages dropped from the process read the same bytes again, partial ones untouched */
	ck_assert_int_eq(px->drop_pages(px, (const uint8_t *)addr + 100, n - 200), 0);
	ck_assert_int_eq(memcmp(addr, data, n), 0);
	ck_assert_int_eq(px->drop_pages(px, addr, n), 0);
	ck_assert_int_eq(memcmp(addr, data, n), 0);
	ck_assert_int_eq(px->unmap(px, addr, n), 0);

	/* nothing to map is an error naming the file */
	ck_assert_int_eq(px->open_file(px, p, LSM_O_READ, &f), 0);
	ck_assert_int_eq(px->map(px, f, 0, &addr), -EINVAL);
	ck_assert_ptr_nonnull(strstr(lsm_errmsg(), p));
	ck_assert_ptr_nonnull(strstr(lsm_errmsg(), "mmap"));
	ck_assert_int_eq(px->close(px, f), 0);
	free(data);
	free(p);
}
END_TEST

START_TEST(test_fault_env_maps_through_its_base_and_keeps_mappings_over_a_power_cut)
{
	lsm_env *fe = lsm_env_fault_new(px);
	char *p = tu_path(dir, "t.sst");
	size_t n = 2 * 4096 + 7;
	uint8_t *data = write_random(fe, p, n, tu_seed() + 1);
	ck_assert_int_eq(fe->sync_dir(fe, dir), 0);
	lsm_file *f;
	const void *addr = NULL, *again = NULL;
	ck_assert_int_eq(fe->open_file(fe, p, LSM_O_READ, &f), 0);
	ck_assert_int_eq(fe->map(fe, f, n, &addr), 0);
	ck_assert_int_eq(memcmp(addr, data, n), 0);

	/* the table was synced: a power cut changes none of its bytes */
	ck_assert_int_eq(lsm_fault_power_cut(fe), 0);
	ck_assert_int_eq(memcmp(addr, data, n), 0);
	/* the handle is dead, so it maps nothing new; a fresh handle does */
	ck_assert_int_eq(fe->map(fe, f, n, &again), -EIO);
	ck_assert_int_eq(fe->close(fe, f), 0);
	ck_assert_int_eq(fe->open_file(fe, p, LSM_O_READ, &f), 0);
	ck_assert_int_eq(fe->map(fe, f, n, &again), 0);
	ck_assert_int_eq(memcmp(again, data, n), 0);
	ck_assert_int_eq(fe->unmap(fe, again, n), 0);
	ck_assert_int_eq(fe->unmap(fe, addr, n), 0);
	ck_assert_int_eq(fe->close(fe, f), 0);
	fe->destroy(fe);

	/* over an env that cannot map, map fails cleanly (callers then use pread) */
	lsm_env nomap = *px;
	nomap.map = NULL;
	nomap.unmap = NULL;
	fe = lsm_env_fault_new(&nomap);
	ck_assert_int_eq(fe->open_file(fe, p, LSM_O_READ, &f), 0);
	ck_assert_int_eq(fe->map(fe, f, n, &addr), -ENOTSUP);
	ck_assert_ptr_nonnull(strstr(lsm_errmsg(), p));
	ck_assert_int_eq(fe->close(fe, f), 0);
	fe->destroy(fe);
	free(data);
	free(p);
}
END_TEST

START_TEST(test_power_cut_keeps_exactly_the_synced_bytes)
{
	lsm_env *fe = lsm_env_fault_new(px);
	char *p = tu_path(dir, "log");
	lsm_file *f;
	ck_assert_int_eq(fe->open_file(fe, p, LSM_O_WRITE | LSM_O_CREATE, &f), 0);
	ck_assert_int_eq(fe->sync_dir(fe, dir), 0); /* the name is durable */
	ck_assert_int_eq(fe->append(fe, f, "synced-part|", 12), 0);
	ck_assert_int_eq(fe->sync(fe, f), 0);
	ck_assert_int_eq(fe->append(fe, f, "lost-part", 9), 0);
	uint8_t buf[64];
	ck_assert_uint_eq(read_back(p, buf, sizeof(buf)), 21); /* before the cut all is there */
	ck_assert_int_eq(lsm_fault_power_cut(fe), 0);
	size_t n = read_back(p, buf, sizeof(buf));
	ck_assert_uint_eq(n, 12);
	ck_assert_int_eq(memcmp(buf, "synced-part|", 12), 0);
	/* the old handle is dead; a new one works */
	ck_assert_int_eq(fe->append(fe, f, "x", 1), -EIO);
	ck_assert_int_eq(fe->close(fe, f), 0);
	ck_assert_int_eq(fe->open_file(fe, p, LSM_O_WRITE, &f), 0);
	ck_assert_int_eq(fe->append(fe, f, "after", 5), 0);
	ck_assert_int_eq(fe->datasync(fe, f), 0);
	ck_assert_int_eq(fe->close(fe, f), 0);
	ck_assert_int_eq(lsm_fault_power_cut(fe), 0);
	n = read_back(p, buf, sizeof(buf));
	ck_assert_uint_eq(n, 17);
	ck_assert_int_eq(memcmp(buf, "synced-part|after", 17), 0);
	fe->destroy(fe);
	free(p);
}
END_TEST

START_TEST(test_power_cut_restores_overwritten_synced_bytes)
{
	lsm_env *fe = lsm_env_fault_new(px);
	char *p = tu_path(dir, "data");
	write_file(fe, p, "AAAAAAAAAA", 1);
	ck_assert_int_eq(fe->sync_dir(fe, dir), 0);
	lsm_file *f;
	ck_assert_int_eq(fe->open_file(fe, p, LSM_O_WRITE, &f), 0);
	ck_assert_int_eq(fe->pwrite(fe, f, "BBB", 3, 2), 0);
	ck_assert_int_eq(fe->pwrite(fe, f, "CCCCCC", 6, 3), 0); /* overlaps the first overwrite */
	ck_assert_int_eq(fe->truncate(fe, f, 4), 0);
	ck_assert_int_eq(lsm_fault_power_cut(fe), 0);
	fe->close(fe, f);
	uint8_t buf[32];
	size_t n = read_back(p, buf, sizeof(buf));
	ck_assert_uint_eq(n, 10);
	ck_assert_int_eq(memcmp(buf, "AAAAAAAAAA", 10), 0);
	fe->destroy(fe);
	free(p);
}
END_TEST

START_TEST(test_power_cut_undoes_creates_and_renames_without_dir_sync)
{
	lsm_env *fe = lsm_env_fault_new(px);
	char *cur = tu_path(dir, "CURRENT"), *tmp = tu_path(dir, "CURRENT.tmp");
	char *fresh = tu_path(dir, "fresh"), *kept = tu_path(dir, "kept");
	write_file(fe, cur, "old", 1);
	ck_assert_int_eq(fe->sync_dir(fe, dir), 0);
	/* a rename whose directory was never synced */
	write_file(fe, tmp, "new", 1);
	ck_assert_int_eq(fe->rename(fe, tmp, cur), 0);
	/* a synced file whose name was never made durable */
	write_file(fe, fresh, "data", 1);
	ck_assert_int_eq(lsm_fault_power_cut(fe), 0);
	uint8_t buf[16];
	ck_assert_uint_eq(read_back(cur, buf, sizeof(buf)), 3);
	ck_assert_int_eq(memcmp(buf, "old", 3), 0);
	ck_assert_int_eq(px->exists(px, fresh), -ENOENT);
	/* with the directory synced the same steps survive */
	write_file(fe, tmp, "new", 1);
	ck_assert_int_eq(fe->rename(fe, tmp, cur), 0);
	write_file(fe, kept, "data", 1);
	ck_assert_int_eq(fe->sync_dir(fe, dir), 0);
	ck_assert_int_eq(lsm_fault_power_cut(fe), 0);
	ck_assert_uint_eq(read_back(cur, buf, sizeof(buf)), 3);
	ck_assert_int_eq(memcmp(buf, "new", 3), 0);
	ck_assert_uint_eq(read_back(kept, buf, sizeof(buf)), 4);
	ck_assert_int_eq(px->exists(px, tmp), -ENOENT);
	fe->destroy(fe);
	free(cur);
	free(tmp);
	free(fresh);
	free(kept);
}
END_TEST

START_TEST(test_injected_eio_hits_the_nth_write_and_sync)
{
	lsm_env *fe = lsm_env_fault_new(px);
	char *p = tu_path(dir, "f");
	lsm_file *f;
	ck_assert_int_eq(fe->open_file(fe, p, LSM_O_WRITE | LSM_O_CREATE, &f), 0);
	lsm_fault_fail_write(fe, 3);
	ck_assert_int_eq(fe->append(fe, f, "1", 1), 0);
	ck_assert_int_eq(fe->append(fe, f, "2", 1), 0);
	ck_assert_int_eq(fe->append(fe, f, "3", 1), -EIO);
	ck_assert_ptr_nonnull(strstr(lsm_errmsg(), p));
	ck_assert_int_eq(fe->append(fe, f, "4", 1), 0); /* one-shot */
	lsm_fault_fail_sync(fe, 2);
	ck_assert_int_eq(fe->sync(fe, f), 0);
	ck_assert_int_eq(fe->datasync(fe, f), -EIO);
	ck_assert_int_eq(fe->sync(fe, f), 0);
	lsm_fault_counters c;
	lsm_fault_counters_get(fe, &c);
	ck_assert_uint_eq(c.writes, 4);
	ck_assert_uint_eq(c.bytes_written, 3);
	ck_assert_uint_eq(c.syncs, 3);
	fe->close(fe, f);
	uint8_t buf[8];
	ck_assert_uint_eq(read_back(p, buf, sizeof(buf)), 3);
	ck_assert_int_eq(memcmp(buf, "124", 3), 0);
	fe->destroy(fe);
	free(p);
}
END_TEST

START_TEST(test_enospc_after_budget_writes_what_fits)
{
	lsm_env *fe = lsm_env_fault_new(px);
	char *p = tu_path(dir, "f");
	lsm_file *f;
	ck_assert_int_eq(fe->open_file(fe, p, LSM_O_WRITE | LSM_O_CREATE, &f), 0);
	lsm_fault_enospc_after(fe, 10);
	uint64_t room;
	ck_assert_int_eq(fe->free_space(fe, dir, &room), 0);
	ck_assert_uint_eq(room, 10);
	ck_assert_int_eq(fe->append(fe, f, "0123456", 7), 0);
	ck_assert_int_eq(fe->append(fe, f, "789abc", 6), -ENOSPC);
	ck_assert_int_eq(fe->append(fe, f, "d", 1), -ENOSPC);
	lsm_fault_clear(fe);
	ck_assert_int_eq(fe->append(fe, f, "Z", 1), 0);
	fe->close(fe, f);
	uint8_t buf[32];
	ck_assert_uint_eq(read_back(p, buf, sizeof(buf)), 11);
	ck_assert_int_eq(memcmp(buf, "0123456789Z", 11), 0);
	fe->destroy(fe);
	free(p);
}
END_TEST

START_TEST(test_short_write_writes_half_and_fails)
{
	lsm_env *fe = lsm_env_fault_new(px);
	char *p = tu_path(dir, "f");
	lsm_file *f;
	ck_assert_int_eq(fe->open_file(fe, p, LSM_O_WRITE | LSM_O_CREATE, &f), 0);
	lsm_fault_short_write(fe, 1);
	ck_assert_int_eq(fe->append(fe, f, "abcdefgh", 8), -EIO);
	fe->close(fe, f);
	uint8_t buf[16];
	ck_assert_uint_eq(read_back(p, buf, sizeof(buf)), 4);
	ck_assert_int_eq(memcmp(buf, "abcd", 4), 0);
	fe->destroy(fe);
	free(p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("env");
	TCase *tp = tcase_create("posix");
	tcase_add_checked_fixture(tp, setup, teardown);
	tcase_add_test(tp, test_posix_write_read_size_truncate);
	tcase_add_test(tp, test_posix_errors_name_the_file_and_call);
	tcase_add_test(tp, test_posix_list_rename_unlink_mkdir);
	tcase_add_test(tp, test_posix_lock_refuses_second_holder_with_pid);
	tcase_add_test(tp, test_atomic_write_replaces_whole_file);
	tcase_add_test(tp, test_posix_map_shows_the_file_and_outlives_its_handle);
	suite_add_tcase(s, tp);
	TCase *tf = tcase_create("fault");
	tcase_add_checked_fixture(tf, setup, teardown);
	tcase_add_test(tf, test_power_cut_keeps_exactly_the_synced_bytes);
	tcase_add_test(tf, test_power_cut_restores_overwritten_synced_bytes);
	tcase_add_test(tf, test_power_cut_undoes_creates_and_renames_without_dir_sync);
	tcase_add_test(tf, test_injected_eio_hits_the_nth_write_and_sync);
	tcase_add_test(tf, test_enospc_after_budget_writes_what_fits);
	tcase_add_test(tf, test_short_write_writes_half_and_fails);
	tcase_add_test(tf,
		       test_fault_env_maps_through_its_base_and_keeps_mappings_over_a_power_cut);
	suite_add_tcase(s, tf);
	return tu_run_suite(s);
}
