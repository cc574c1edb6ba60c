/* check_coding.c — fixed-width integers, varints and the byte buffer. */
#include "buf.h"
#include "coding.h"
#include "testutil.h"

#include <stdlib.h>

START_TEST(test_fixed_le_roundtrip_and_byte_order)
{
	uint8_t b[8];
	lsm_put_le32(b, 0x01020304u);
	ck_assert_uint_eq(b[0], 0x04);
	ck_assert_uint_eq(b[3], 0x01);
	ck_assert_uint_eq(lsm_get_le32(b), 0x01020304u);
	lsm_put_le64(b, 0x0102030405060708ull);
	ck_assert_uint_eq(b[0], 0x08);
	ck_assert_uint_eq(lsm_get_le64(b), 0x0102030405060708ull);
	lsm_put_le16(b, 0xbeef);
	ck_assert_uint_eq(lsm_get_le16(b), 0xbeef);
}
END_TEST

START_TEST(test_fixed_be_sorts_like_numbers_under_memcmp)
{
	tu_rng r;
	tu_rng_init(&r, tu_seed());
	for (int i = 0; i < 10000; i++) {
		uint64_t a = tu_rand(&r) >> tu_below(&r, 64), c = tu_rand(&r) >> tu_below(&r, 64);
		uint8_t ba[8], bc[8];
		lsm_put_be64(ba, a);
		lsm_put_be64(bc, c);
		int m = memcmp(ba, bc, 8);
		ck_assert_int_eq(m < 0, a < c);
		ck_assert_int_eq(m == 0, a == c);
		ck_assert_uint_eq(lsm_get_be64(ba), a);
		lsm_put_be32(ba, (uint32_t)a);
		ck_assert_uint_eq(lsm_get_be32(ba), (uint32_t)a);
	}
	uint8_t b[4];
	lsm_put_be32(b, 0x01020304u);
	ck_assert_uint_eq(b[0], 0x01);
}
END_TEST

START_TEST(test_varint_roundtrip_at_every_length)
{
	uint8_t b[LSM_VARINT64_MAX];
	for (int bits = 0; bits <= 64; bits++) {
		uint64_t vals[3] = {bits ? (UINT64_MAX >> (64 - bits)) : 0,
				    bits ? (1ull << (bits - 1)) : 1,
				    bits ? (1ull << (bits - 1)) - 1 : 0};
		for (int k = 0; k < 3; k++) {
			size_t n = lsm_put_varint64(b, vals[k]);
			ck_assert_uint_eq(n, lsm_varint_len(vals[k]));
			uint64_t out = 0;
			const uint8_t *end = lsm_get_varint64(b, b + n, &out);
			ck_assert_ptr_eq(end, b + n);
			ck_assert_uint_eq(out, vals[k]);
		}
	}
}
END_TEST

START_TEST(test_varint_truncated_or_overlong_is_rejected)
{
	uint8_t b[16];
	uint64_t v;
	size_t n = lsm_put_varint64(b, UINT64_MAX);
	ck_assert_uint_eq(n, 10);
	for (size_t cut = 0; cut < n; cut++)
		ck_assert_ptr_null(lsm_get_varint64(b, b + cut, &v));
	memset(b, 0xff, sizeof(b));
	ck_assert_ptr_null(lsm_get_varint64(b, b + sizeof(b), &v));
	/* 10th byte may only carry one bit */
	memset(b, 0x80, 9);
	b[9] = 0x02;
	ck_assert_ptr_null(lsm_get_varint64(b, b + 10, &v));
	uint32_t v32;
	n = lsm_put_varint64(b, (uint64_t)UINT32_MAX + 1);
	ck_assert_ptr_null(lsm_get_varint32(b, b + n, &v32));
	n = lsm_put_varint32(b, UINT32_MAX);
	ck_assert_ptr_eq(lsm_get_varint32(b, b + n, &v32), b + n);
	ck_assert_uint_eq(v32, UINT32_MAX);
}
END_TEST

START_TEST(test_buf_appends_grow_and_keep_content)
{
	lsm_buf b;
	lsm_buf_init(&b);
	for (uint32_t i = 0; i < 10000; i++) {
		ck_assert_int_eq(lsm_buf_append_le32(&b, i), 0);
		ck_assert_int_eq(lsm_buf_append_varint(&b, i * 131ull), 0);
		ck_assert_int_eq(lsm_buf_append_lenprefixed(&b, "abc", i % 4), 0);
	}
	const uint8_t *p = b.data, *end = b.data + b.len;
	for (uint32_t i = 0; i < 10000; i++) {
		ck_assert_uint_eq(lsm_get_le32(p), i);
		p += 4;
		uint64_t v, l;
		p = lsm_get_varint64(p, end, &v);
		ck_assert_ptr_nonnull(p);
		ck_assert_uint_eq(v, i * 131ull);
		p = lsm_get_varint64(p, end, &l);
		ck_assert_uint_eq(l, i % 4);
		ck_assert_int_eq(memcmp(p, "abc", l), 0);
		p += l;
	}
	ck_assert_ptr_eq(p, end);
	lsm_buf_free(&b);
	ck_assert_ptr_null(b.data);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("coding");
	TCase *tc = tcase_create("coding");
	tcase_add_test(tc, test_fixed_le_roundtrip_and_byte_order);
	tcase_add_test(tc, test_fixed_be_sorts_like_numbers_under_memcmp);
	tcase_add_test(tc, test_varint_roundtrip_at_every_length);
	tcase_add_test(tc, test_varint_truncated_or_overlong_is_rejected);
	tcase_add_test(tc, test_buf_appends_grow_and_keep_content);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
