/*
 * test_gzip.c - unit tests of policy/gzip.c against independent decoders
 *
 * DESCRIPTION
 *	Every compressed sample is written to a temporary file and checked
 *	with gzip(1) (`gzip -t`, `gzip -dc`) and with Python's gzip module
 *	(zlib), so the encoder is judged by decoders that share no code with
 *	it. Samples cover the edges of the format: empty input, one byte,
 *	every byte value, long runs (matches of length 258 at distance 1),
 *	repeats at the far end of the 32 KiB window, incompressible data
 *	(the stored-block fallback, more than one 65535-byte block) and a
 *	realistic TLSRPT JSON report.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "gzip.h"

extern char **environ;

static char tmpdir[] = "/tmp/test_gzip.XXXXXX";

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
	pid_t pid;
	int st;
	char *argv[] = { "rm", "-rf", tmpdir, NULL };

	if (posix_spawnp(&pid, "rm", NULL, NULL, argv, environ) == 0)
		waitpid(pid, &st, 0);
	memcpy(tmpdir + strlen(tmpdir) - 6, "XXXXXX", 6);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	if (len > 0)
		ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* Runs argv with stdout to out_path (or /dev/null); returns exit status. */
static int run(char *const argv[], const char *out_path)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st = 0;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, out_path ? out_path : "/dev/null",
					 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_eq(posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int files_equal(const char *a, const char *b)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	int ca, cb, same = 1;

	ck_assert_ptr_nonnull(fa);
	ck_assert_ptr_nonnull(fb);
	do {
		ca = getc(fa);
		cb = getc(fb);
		if (ca != cb)
			same = 0;
	} while (same && ca != EOF);
	fclose(fa);
	fclose(fb);
	return same;
}

static const char py_check[] =
	"import gzip, sys\n"
	"data = gzip.decompress(open(sys.argv[1], 'rb').read())\n"
	"sys.exit(0 if data == open(sys.argv[2], 'rb').read() else 1)\n";

/* Compresses in and checks the result with gzip(1) and Python. Returns
 * the compressed size. */
static size_t roundtrip(const void *in, size_t len)
{
	struct mts_buf gz = MTS_BUF_INIT;
	char orig[128], packed[128], unpacked[128];
	size_t size;

	snprintf(orig, sizeof(orig), "%s/orig", tmpdir);
	snprintf(packed, sizeof(packed), "%s/packed.gz", tmpdir);
	snprintf(unpacked, sizeof(unpacked), "%s/unpacked", tmpdir);
	ck_assert_int_eq(mts_gzip(in, len, &gz), 0);
	write_file(orig, in, len);
	write_file(packed, gz.data, gz.len);
	{
		char *t[] = { "gzip", "-t", packed, NULL };
		char *d[] = { "gzip", "-dc", packed, NULL };
		char *py[] = { "python3", "-c", (char *)py_check, packed, orig,
			       NULL };

		ck_assert_int_eq(run(t, NULL), 0);
		ck_assert_int_eq(run(d, unpacked), 0);
		ck_assert(files_equal(orig, unpacked));
		ck_assert_int_eq(run(py, NULL), 0);
	}
	size = gz.len;
	mts_buf_free(&gz);
	return size;
}

/* A small deterministic generator (xorshift32), so failures repeat. */
static uint32_t rng_state = 2463534242u;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

START_TEST(crc32_known_values)
{
	ck_assert_uint_eq(mts_crc32(0, "", 0), 0);
	ck_assert_uint_eq(mts_crc32(0, "123456789", 9), 0xCBF43926u);
	ck_assert_uint_eq(mts_crc32(0, "a", 1), 0xE8B7BE43u);
	/* Feeding pieces gives the CRC of the whole. */
	ck_assert_uint_eq(mts_crc32(mts_crc32(0, "1234", 4), "56789", 5),
			  0xCBF43926u);
}
END_TEST

START_TEST(deflate_empty_is_one_fixed_block)
{
	struct mts_buf out = MTS_BUF_INIT;

	ck_assert_int_eq(mts_deflate("", 0, &out), 0);
	ck_assert_uint_eq(out.len, 2);
	ck_assert_uint_eq((unsigned char)out.data[0], 0x03);
	ck_assert_uint_eq((unsigned char)out.data[1], 0x00);
	mts_buf_free(&out);
}
END_TEST

START_TEST(gzip_header_and_trailer)
{
	struct mts_buf gz = MTS_BUF_INIT;
	const unsigned char *p;
	size_t n;

	ck_assert_int_eq(mts_gzip("123456789", 9, &gz), 0);
	p = (const unsigned char *)gz.data;
	n = gz.len;
	ck_assert_uint_ge(n, 18);
	ck_assert_uint_eq(p[0], 0x1f);
	ck_assert_uint_eq(p[1], 0x8b);
	ck_assert_uint_eq(p[2], 8);
	ck_assert_uint_eq(p[3], 0);	/* no optional fields */
	/* CRC-32 and ISIZE, little-endian. */
	ck_assert_uint_eq(p[n - 8], 0x26);
	ck_assert_uint_eq(p[n - 7], 0x39);
	ck_assert_uint_eq(p[n - 6], 0xF4);
	ck_assert_uint_eq(p[n - 5], 0xCB);
	ck_assert_uint_eq(p[n - 4], 9);
	ck_assert_uint_eq(p[n - 3], 0);
	mts_buf_free(&gz);
}
END_TEST

START_TEST(gzip_appends_to_existing_content)
{
	struct mts_buf gz = MTS_BUF_INIT;

	ck_assert_int_eq(mts_buf_append_str(&gz, "prefix"), 0);
	ck_assert_int_eq(mts_gzip("x", 1, &gz), 0);
	ck_assert_int_eq(memcmp(gz.data, "prefix\x1f\x8b", 8), 0);
	mts_buf_free(&gz);
}
END_TEST

START_TEST(roundtrip_small)
{
	roundtrip("", 0);
	roundtrip("a", 1);
	roundtrip("ab", 2);
	roundtrip("abc", 3);
	roundtrip("aaaa", 4);
	roundtrip("hello, hello, hello, world\n", 27);
}
END_TEST

START_TEST(roundtrip_every_byte_value)
{
	unsigned char all[512];

	for (size_t i = 0; i < sizeof(all); i++)
		all[i] = (unsigned char)(i & 0xff);
	roundtrip(all, sizeof(all));
}
END_TEST

START_TEST(roundtrip_long_runs_compress)
{
	size_t len = 200000, size;
	char *in = malloc(len);

	ck_assert_ptr_nonnull(in);
	memset(in, 'z', len);
	size = roundtrip(in, len);
	/* 258-byte matches at distance 1: about 2 bytes per 258 input. */
	ck_assert_uint_lt(size, len / 50);
	free(in);
}
END_TEST

START_TEST(roundtrip_window_edge)
{
	/* A random 40000-byte block, then the same block again: the
	 * repeats sit at distances just over and under 32768. */
	size_t half = 40000, len = 2 * half;
	unsigned char *in = malloc(len);
	size_t size;

	ck_assert_ptr_nonnull(in);
	for (size_t i = 0; i < half; i++)
		in[i] = (unsigned char)(rng() % 16 + 'a');	/* 4 bits of entropy */
	memcpy(in + half, in, half);
	size = roundtrip(in, len);
	ck_assert_uint_lt(size, len);
	/* Exactly 32768 apart. */
	for (size_t i = 0; i < len; i++)
		in[i] = i >= 32768 ? in[i - 32768] : (unsigned char)rng();
	roundtrip(in, len);
	free(in);
}
END_TEST

START_TEST(roundtrip_incompressible_uses_stored_blocks)
{
	size_t len = 150000, size;	/* three stored blocks */
	unsigned char *in = malloc(len);

	ck_assert_ptr_nonnull(in);
	for (size_t i = 0; i < len; i++)
		in[i] = (unsigned char)(rng() >> 7);
	size = roundtrip(in, len);
	/* 10 header + 8 trailer + 3 * 5 block headers. */
	ck_assert_uint_eq(size, len + 18 + 15);
	free(in);
}
END_TEST

START_TEST(roundtrip_report_json)
{
	struct mts_buf json = MTS_BUF_INIT;
	size_t size;

	ck_assert_int_eq(mts_buf_append_str(&json,
		"{\"organization-name\":\"Example Org\",\"date-range\":"
		"{\"start-datetime\":\"2025-01-01T00:00:00Z\","
		"\"end-datetime\":\"2025-01-01T23:59:59Z\"},"
		"\"contact-info\":\"tlsrpt@example.org\","
		"\"report-id\":\"2025-01-01.abc@example.org\",\"policies\":["), 0);
	for (int i = 0; i < 300; i++)
		ck_assert_int_eq(mts_buf_printf(&json,
			"%s{\"result-type\":\"certificate-expired\","
			"\"sending-mta-ip\":\"192.0.2.%d\","
			"\"receiving-mx-hostname\":\"mx%d.example.net\","
			"\"failed-session-count\":%d}", i ? "," : "",
			i % 250, i % 7, i * 3), 0);
	ck_assert_int_eq(mts_buf_append_str(&json, "]}\n"), 0);
	size = roundtrip(json.data, json.len);
	ck_assert_uint_lt(size, json.len / 4);
	mts_buf_free(&json);
}
END_TEST

START_TEST(roundtrip_large_text)
{
	/* 1 MiB of words drawn from a small vocabulary. */
	static const char *const words[] = {
		"mx1.example.com ", "starttls-not-supported ", "192.0.2.1 ",
		"certificate-expired ", "\n", "sts ", "policy-domain ",
		"validation-failure ", "x", "\t",
	};
	struct mts_buf text = MTS_BUF_INIT;

	while (text.len < (1u << 20))
		ck_assert_int_eq(mts_buf_append_str(&text,
						    words[rng() % 10]), 0);
	ck_assert_uint_lt(roundtrip(text.data, text.len), text.len / 3);
	mts_buf_free(&text);
}
END_TEST

/* One random sample of n bytes in one of several shapes that stress
 * different parts of the encoder: noise (stored blocks), runs, tiny
 * alphabets (many short matches), repeats at distances near the 32 KiB
 * window, and noise and runs mixed (block switching inside one stream). */
static void random_sample(unsigned char *p, size_t n, unsigned shape)
{
	size_t period = 1 + rng() % 40000;

	for (size_t i = 0; i < n; i++) {
		switch (shape) {
		case 0: p[i] = (unsigned char)rng(); break;
		case 1: p[i] = (unsigned char)(i / (1 + n / 7)); break;
		case 2: p[i] = (unsigned char)("ab{\"}"[rng() % 5]); break;
		case 3:
			p[i] = i < period ? (unsigned char)rng() : p[i - period];
			break;
		default:
			p[i] = (i / 300) % 2 ? (unsigned char)rng()
					     : (unsigned char)(i / 300);
		}
	}
}

/* 150 random samples of random sizes (0 bytes to 96 KiB), all checked
 * by Python's zlib and gzip modules in one run; gzip -t on each. */
START_TEST(fuzz_against_python_zlib)
{
	static const char py_fuzz[] =
		"import gzip, os, sys, zlib\n"
		"d = sys.argv[1]\n"
		"n = 0\n"
		"for name in sorted(os.listdir(d)):\n"
		"    if not name.endswith('.orig'):\n"
		"        continue\n"
		"    orig = open(os.path.join(d, name), 'rb').read()\n"
		"    gz = open(os.path.join(d, name[:-5] + '.gz'), 'rb').read()\n"
		"    assert zlib.decompress(gz, 31) == orig, name\n"
		"    assert gzip.decompress(gz) == orig, name\n"
		"    n += 1\n"
		"sys.exit(0 if n == int(sys.argv[2]) else 2)\n";
	const unsigned samples = 150;
	unsigned char *buf = malloc(96 * 1024);
	char dir[128], path[192], count[16];

	ck_assert_ptr_nonnull(buf);
	snprintf(dir, sizeof(dir), "%s/fuzz", tmpdir);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	for (unsigned i = 0; i < samples; i++) {
		struct mts_buf gz = MTS_BUF_INIT;
		size_t n = i < 10 ? i : rng() % (96 * 1024);

		random_sample(buf, n, rng() % 5);
		ck_assert_int_eq(mts_gzip(buf, n, &gz), 0);
		/* Never much larger than the input (stored-block fallback). */
		ck_assert_uint_le(gz.len, n + 5 * (n / 65535 + 1) + 18);
		snprintf(path, sizeof(path), "%s/%03u.orig", dir, i);
		write_file(path, buf, n);
		snprintf(path, sizeof(path), "%s/%03u.gz", dir, i);
		write_file(path, gz.data, gz.len);
		if (i % 15 == 0) {
			char *t[] = { "gzip", "-t", path, NULL };

			ck_assert_int_eq(run(t, NULL), 0);
		}
		mts_buf_free(&gz);
	}
	snprintf(count, sizeof(count), "%u", samples);
	{
		char *py[] = { "python3", "-c", (char *)py_fuzz, dir, count,
			       NULL };

		ck_assert_int_eq(run(py, NULL), 0);
	}
	free(buf);
}
END_TEST

static Suite *gzip_suite(void)
{
	Suite *s = suite_create("gzip");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, crc32_known_values);
	tcase_add_test(tc, deflate_empty_is_one_fixed_block);
	tcase_add_test(tc, gzip_header_and_trailer);
	tcase_add_test(tc, gzip_appends_to_existing_content);
	tcase_add_test(tc, roundtrip_small);
	tcase_add_test(tc, roundtrip_every_byte_value);
	tcase_add_test(tc, roundtrip_long_runs_compress);
	tcase_add_test(tc, roundtrip_window_edge);
	tcase_add_test(tc, roundtrip_incompressible_uses_stored_blocks);
	tcase_add_test(tc, roundtrip_report_json);
	tcase_add_test(tc, roundtrip_large_text);
	tcase_add_test(tc, fuzz_against_python_zlib);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(gzip_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
