/*
 * test_log.c - unit tests for policy/log.c: sinks, line format, control
 * character replacement, truncation, levels, thread safety, kv quoting.
 *
 * Check forks every test, so each one starts with an uninitialised log.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"

static char tmpdir[64];
static char logpath[128];

static void setup(void)
{
	mts_strlcpy(tmpdir, "/tmp/test_log.XXXXXX", sizeof(tmpdir));
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(logpath, sizeof(logpath), "%s/log", tmpdir);
}

static void teardown(void)
{
	unlink(logpath);
	rmdir(tmpdir);
}

/* Reads a whole (small) file into buf; returns its length. */
static size_t slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	size_t got = 0;
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	while (got < size - 1 && (n = read(fd, buf + got, size - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(fd);
	return got;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static int matches(const char *re, const char *s)
{
	regex_t r;
	int rc;

	ck_assert_int_eq(regcomp(&r, re, REG_EXTENDED | REG_NOSUB |
				 REG_NEWLINE), 0);
	rc = regexec(&r, s, 0, NULL, 0);
	regfree(&r);
	return rc == 0;
}

START_TEST(file_sink_format)
{
	char err[256] = "", buf[8192], re[256];
	struct stat st;

	ck_assert_int_eq(mts_log_init("tident", logpath, MTS_LOG_INFO, err,
				      sizeof(err)), 0);
	mts_log(MTS_LOG_INFO, "hello %s", "a\nforged: line\tx\x7fy\x1b");
	mts_log(MTS_LOG_DEBUG, "not written at info level");
	mts_log(MTS_LOG_WARN, "second");
	slurp(logpath, buf, sizeof(buf));
	ck_assert_uint_eq(count_lines(buf), 2);
	snprintf(re, sizeof(re),
		 "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
		 "\\.[0-9]{3}Z tident\\[%ld\\]: info: "
		 "hello a\\?forged: line\\?x\\?y\\?\n"
		 "[0-9T:.Z-]+ tident\\[%ld\\]: warn: second\n$",
		 (long)getpid(), (long)getpid());
	ck_assert_msg(matches(re, buf), "unexpected log content: %s", buf);
	ck_assert_int_eq(stat(logpath, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
}
END_TEST

START_TEST(file_sink_appends)
{
	char err[256], buf[8192];
	int fd = open(logpath, O_WRONLY | O_CREAT, 0600);

	ck_assert_int_eq(write(fd, "old line\n", 9), 9);
	close(fd);
	ck_assert_int_eq(mts_log_init("x", logpath, MTS_LOG_DEBUG, err,
				      sizeof(err)), 0);
	mts_log(MTS_LOG_DEBUG, "new");
	slurp(logpath, buf, sizeof(buf));
	ck_assert_uint_eq(count_lines(buf), 2);
	ck_assert(strncmp(buf, "old line\n", 9) == 0);
	ck_assert(matches(": debug: new\n$", buf));
}
END_TEST

START_TEST(long_message_truncated)
{
	char err[256], buf[8192], *big = malloc(5001), *colon;
	size_t len;

	memset(big, 'a', 5000);
	big[5000] = '\0';
	ck_assert_int_eq(mts_log_init("t", logpath, MTS_LOG_INFO, err,
				      sizeof(err)), 0);
	mts_log(MTS_LOG_ERROR, "%s", big);
	len = slurp(logpath, buf, sizeof(buf));
	ck_assert_uint_eq(count_lines(buf), 1);
	colon = strstr(buf, ": error: ");
	ck_assert_ptr_nonnull(colon);
	/* The message part is exactly 2047 bytes: 2044 'a' and "...". */
	ck_assert_uint_eq(len - (size_t)(colon + 9 - buf), 2047 + 1);
	ck_assert_str_eq(buf + len - 6, "aa...\n");
	free(big);
}
END_TEST

START_TEST(init_errors)
{
	char err[256] = "";

	ck_assert_int_eq(mts_log_init("t", "rel/log", MTS_LOG_INFO, err,
				      sizeof(err)), -1);
	ck_assert_str_eq(err, "log target \"rel/log\" is not syslog, stderr or "
			 "an absolute file path");
	ck_assert_int_eq(mts_log_init("t", "/nonexistent-dir/x", MTS_LOG_INFO,
				      err, sizeof(err)), -1);
	ck_assert_str_eq(err, "log file /nonexistent-dir/x: No such file or "
			 "directory");
	/* A failed init falls back to stderr at warn level. */
	ck_assert(!mts_log_enabled(MTS_LOG_INFO));
	ck_assert(mts_log_enabled(MTS_LOG_WARN));
}
END_TEST

/* Runs with fd 2 redirected to logpath. */
static void redirect_stderr(void)
{
	int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(dup2(fd, 2), 2);
	close(fd);
}

START_TEST(stderr_sink)
{
	char err[256], buf[4096];

	redirect_stderr();
	ck_assert_int_eq(mts_log_init("tident", "stderr", MTS_LOG_INFO, err,
				      sizeof(err)), 0);
	mts_log(MTS_LOG_INFO, "one %d", 1);
	mts_log(MTS_LOG_DEBUG, "skipped");
	mts_log(MTS_LOG_ERROR, "two\r\n");
	slurp(logpath, buf, sizeof(buf));
	ck_assert_str_eq(buf, "tident: info: one 1\ntident: error: two??\n");
}
END_TEST

START_TEST(default_sink_before_init)
{
	char buf[4096];

	redirect_stderr();
	ck_assert(!mts_log_enabled(MTS_LOG_INFO));
	mts_log(MTS_LOG_INFO, "not shown");
	mts_log(MTS_LOG_WARN, "shown");
	slurp(logpath, buf, sizeof(buf));
	ck_assert_str_eq(buf, "test_log: warn: shown\n");
}
END_TEST

START_TEST(syslog_sink)
{
	char err[256] = "";

	ck_assert_int_eq(mts_log_init("test_log", "syslog", MTS_LOG_DEBUG, err,
				      sizeof(err)), 0);
	ck_assert(mts_log_enabled(MTS_LOG_DEBUG));
	mts_log(MTS_LOG_DEBUG, "unit test message, ignore");
	/* Re-initialising switches sinks cleanly. */
	ck_assert_int_eq(mts_log_init("test_log", logpath, MTS_LOG_ERROR, err,
				      sizeof(err)), 0);
	ck_assert(!mts_log_enabled(MTS_LOG_WARN));
}
END_TEST

START_TEST(errno_preserved)
{
	char err[256];

	ck_assert_int_eq(mts_log_init("t", logpath, MTS_LOG_INFO, err,
				      sizeof(err)), 0);
	errno = ENOSPC;
	mts_log(MTS_LOG_INFO, "x");
	ck_assert_int_eq(errno, ENOSPC);
}
END_TEST

START_TEST(level_parse)
{
	enum mts_log_level l = MTS_LOG_ERROR;

	ck_assert_int_eq(mts_log_level_parse("debug", &l), 0);
	ck_assert_int_eq(l, MTS_LOG_DEBUG);
	ck_assert_int_eq(mts_log_level_parse("info", &l), 0);
	ck_assert_int_eq(l, MTS_LOG_INFO);
	ck_assert_int_eq(mts_log_level_parse("warn", &l), 0);
	ck_assert_int_eq(l, MTS_LOG_WARN);
	ck_assert_int_eq(mts_log_level_parse("error", &l), 0);
	ck_assert_int_eq(l, MTS_LOG_ERROR);
	ck_assert_int_eq(mts_log_level_parse("warning", &l), -1);
	ck_assert_int_eq(mts_log_level_parse("WARN", &l), -1);
	ck_assert_int_eq(mts_log_level_parse("", &l), -1);
	ck_assert_int_eq(mts_log_level_parse(NULL, &l), -1);
	ck_assert_int_eq(l, MTS_LOG_ERROR);
}
END_TEST

#define THREADS 4
#define LINES_PER_THREAD 300

static void *log_thread(void *arg)
{
	long id = (long)(intptr_t)arg;

	for (int i = 0; i < LINES_PER_THREAD; i++)
		mts_log(MTS_LOG_INFO, "thread=%ld line=%d payload=%0200d",
			id, i, 0);
	return NULL;
}

START_TEST(threads_do_not_interleave)
{
	pthread_t t[THREADS];
	char err[256], *buf, *line, *save = NULL;
	size_t size = 1 << 21, count = 0;

	ck_assert_int_eq(mts_log_init("t", logpath, MTS_LOG_INFO, err,
				      sizeof(err)), 0);
	for (long i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, log_thread,
						(void *)(intptr_t)i), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	buf = malloc(size);
	slurp(logpath, buf, size);
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		ck_assert_msg(matches("^[0-9T:.Z-]+ t\\[[0-9]+\\]: info: "
				      "thread=[0-3] line=[0-9]+ "
				      "payload=0{200}$", line),
			      "bad line: %s", line);
		count++;
	}
	ck_assert_uint_eq(count, THREADS * LINES_PER_THREAD);
	free(buf);
}
END_TEST

START_TEST(kv_value_quoting)
{
	char out[64];

	ck_assert_str_eq(mts_log_kv_value(NULL, out, sizeof(out)), "-");
	ck_assert_str_eq(mts_log_kv_value("", out, sizeof(out)), "-");
	ck_assert_str_eq(mts_log_kv_value("mx.example.com", out, sizeof(out)),
			 "mx.example.com");
	ck_assert_str_eq(mts_log_kv_value("a\\b=c", out, sizeof(out)),
			 "a\\b=c");
	ck_assert_str_eq(mts_log_kv_value("two words", out, sizeof(out)),
			 "\"two words\"");
	ck_assert_str_eq(mts_log_kv_value("say \"hi\"", out, sizeof(out)),
			 "\"say \\\"hi\\\"\"");
	ck_assert_str_eq(mts_log_kv_value("a\"b", out, sizeof(out)),
			 "\"a\\\"b\"");
	ck_assert_str_eq(mts_log_kv_value("x y\\z", out, sizeof(out)),
			 "\"x y\\\\z\"");
	ck_assert_str_eq(mts_log_kv_value("line\nbreak", out, sizeof(out)),
			 "\"line?break\"");
	ck_assert_str_eq(mts_log_kv_value("tab\there", out, sizeof(out)),
			 "\"tab?here\"");
	ck_assert_str_eq(mts_log_kv_value("caf\xc3\xa9", out, sizeof(out)),
			 "\"caf??\"");
	ck_assert_str_eq(mts_log_kv_value("del\x7f", out, sizeof(out)),
			 "\"del?\"");
}
END_TEST

START_TEST(kv_value_truncation)
{
	char out[16];

	/* Fits exactly: 15 characters and the NUL. */
	ck_assert_str_eq(mts_log_kv_value("abcdefghijklmno", out, 16),
			 "abcdefghijklmno");
	ck_assert_str_eq(mts_log_kv_value("abcdefghijklmnop", out, 16),
			 "abcdefghijkl...");
	ck_assert_str_eq(mts_log_kv_value("abcdefghijkl", out, 8), "abcd...");
	ck_assert_str_eq(mts_log_kv_value("a bcdefghij", out, 10),
			 "\"a bc...\"");
	/* 8 bytes + quotes + NUL = 11: fits in 11, not in 10. */
	ck_assert_str_eq(mts_log_kv_value("a b c de", out, 11), "\"a b c de\"");
	ck_assert_str_eq(mts_log_kv_value("a b c def", out, 11),
			 "\"a b c...\"");
	/* An escape is never split from its character. */
	ck_assert_str_eq(mts_log_kv_value("\"\"\"\"\"\"", out, 10),
			 "\"\\\"\\\"...\"");
	ck_assert_str_eq(mts_log_kv_value("a b c d e f g h i j", out, 16),
			 "\"a b c d e ...\"");
	/* Tiny buffers still terminate. */
	ck_assert_str_eq(mts_log_kv_value("abc", out, 1), "");
	ck_assert_str_eq(mts_log_kv_value("abcdef", out, 3), "ab");
	ck_assert_str_eq(mts_log_kv_value("", out, 2), "-");
}
END_TEST

static Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, file_sink_format);
	tcase_add_test(tc, file_sink_appends);
	tcase_add_test(tc, long_message_truncated);
	tcase_add_test(tc, init_errors);
	tcase_add_test(tc, stderr_sink);
	tcase_add_test(tc, default_sink_before_init);
	tcase_add_test(tc, syslog_sink);
	tcase_add_test(tc, errno_preserved);
	tcase_add_test(tc, level_parse);
	tcase_add_test(tc, threads_do_not_interleave);
	tcase_add_test(tc, kv_value_quoting);
	tcase_add_test(tc, kv_value_truncation);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(log_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
