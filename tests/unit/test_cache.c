/*
 * test_cache.c - unit tests for policy/cache.c: round trips, atomic
 * replacement under concurrent writers, corrupt files read as absent,
 * the trust checks on directories and files, name validation, list and
 * remove.
 *
 * Each test gets a fresh private directory under /tmp (sticky, so the
 * parent check accepts it). The suite runs as root: ownership tests
 * chown files to another uid.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "cache.h"
#include "log.h"

#define POLICY_A "version: STSv1\nmode: enforce\nmx: mx.example.com\n" \
		 "max_age: 86400\n"
#define POLICY_B "version: STSv1\r\nmode: testing\r\nmx: *.example.net\r\n" \
		 "mx: mx2.example.org\r\nmax_age: 604800\r\n"

static char tmpdir[64];
static char dir[128];
static char err[512];

static int remove_one(const char *path, const struct stat *st, int type,
		      struct FTW *ftw)
{
	remove(path);
	return 0;
}

static void rm_rf(const char *path)
{
	nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
	mts_strlcpy(tmpdir, "/tmp/test_cache.XXXXXX", sizeof(tmpdir));
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(dir, sizeof(dir), "%s/cache", tmpdir);
	err[0] = '\0';
}

static void teardown(void)
{
	rm_rf(tmpdir);
}

static void path_of(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

static void write_file(const char *name, const char *data, size_t len,
		       mode_t mode)
{
	char path[256];
	int fd;

	path_of(path, sizeof(path), name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

static void fill_entry(struct mts_cache_entry *e, const char *domain,
		       const char *id, const char *text)
{
	mts_cache_entry_init(e);
	mts_strlcpy(e->domain, domain, sizeof(e->domain));
	mts_strlcpy(e->id, id, sizeof(e->id));
	e->fetched_at = 1700000000;
	e->expires_at = 1700086400;
	if (text)
		ck_assert_int_eq(mts_buf_append_str(&e->text, text), 0);
}

static int load(const char *domain, struct mts_cache_entry *e)
{
	err[0] = '\0';
	return mts_cache_load(dir, domain, e, err, sizeof(err));
}

/* Names of all files in dir, dot-files too, sorted, joined by ' '. */
static void dir_listing(char *out, size_t len)
{
	struct mts_strlist names = MTS_STRLIST_INIT;
	struct dirent *de;
	DIR *d = opendir(dir);

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			mts_strlist_add(&names, de->d_name);
	closedir(d);
	out[0] = '\0';
	for (size_t i = 0; i < names.count; i++) {
		size_t best = i;
		char *t;

		for (size_t j = i + 1; j < names.count; j++)
			if (strcmp(names.item[j], names.item[best]) < 0)
				best = j;
		t = names.item[i];
		names.item[i] = names.item[best];
		names.item[best] = t;
		if (i)
			strncat(out, " ", len - strlen(out) - 1);
		strncat(out, names.item[i], len - strlen(out) - 1);
	}
	mts_strlist_free(&names);
}

START_TEST(dir_created_private)
{
	char nested[256];
	struct stat st;

	snprintf(nested, sizeof(nested), "%s/a/b/c", dir);
	ck_assert_int_eq(mts_cache_dir_check(nested, err, sizeof(err)), 0);
	ck_assert_int_eq(lstat(nested, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	ck_assert_int_eq(lstat(dir, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	/* Existing and fine: still 0. */
	ck_assert_int_eq(mts_cache_dir_check(nested, err, sizeof(err)), 0);
	ck_assert_int_eq(mts_cache_dir_check(dir, err, sizeof(err)), 0);
}
END_TEST

static void expect_dir_refused(const char *path, const char *want)
{
	err[0] = '\0';
	ck_assert_int_eq(mts_cache_dir_check(path, err, sizeof(err)), -1);
	ck_assert_str_eq(err, want);
}

START_TEST(dir_refused)
{
	char want[1024], target[128], link[128], file[512];

	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ck_assert_int_eq(chmod(dir, 0777), 0);
	snprintf(want, sizeof(want), "cache directory %s is writable by others "
		 "(mode 0777): refusing to use it", dir);
	expect_dir_refused(dir, want);

	ck_assert_int_eq(chmod(dir, 0770), 0);
	snprintf(want, sizeof(want), "cache directory %s is writable by group "
		 "(mode 0770): refusing to use it", dir);
	expect_dir_refused(dir, want);

	ck_assert_int_eq(chmod(dir, 0702), 0);
	snprintf(want, sizeof(want), "cache directory %s is writable by others "
		 "(mode 0702): refusing to use it", dir);
	expect_dir_refused(dir, want);

	ck_assert_int_eq(chmod(dir, 0755), 0);	/* readable is fine */
	ck_assert_int_eq(mts_cache_dir_check(dir, err, sizeof(err)), 0);

	ck_assert_int_eq(chown(dir, 12345, 12345), 0);
	snprintf(want, sizeof(want), "cache directory %s is owned by uid "
		 "12345, not by uid 0 or root: refusing to use it", dir);
	expect_dir_refused(dir, want);

	/* A symbolic link to a good directory is refused, with or without a
	 * trailing slash. */
	snprintf(target, sizeof(target), "%s/real", tmpdir);
	snprintf(link, sizeof(link), "%s/link", tmpdir);
	ck_assert_int_eq(mkdir(target, 0700), 0);
	ck_assert_int_eq(symlink(target, link), 0);
	snprintf(want, sizeof(want), "cache directory %s is a symbolic link: "
		 "refusing to use it", link);
	expect_dir_refused(link, want);
	snprintf(file, sizeof(file), "%s/", link);
	expect_dir_refused(file, want);

	snprintf(file, sizeof(file), "%s/file", tmpdir);
	close(open(file, O_WRONLY | O_CREAT, 0600));
	snprintf(want, sizeof(want), "cache directory %s is not a directory",
		 file);
	expect_dir_refused(file, want);

	snprintf(want, sizeof(want), "%s/x", file);
	ck_assert_int_eq(mts_cache_dir_check(want, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "cannot create cache directory") == err, "%s",
		      err);
	expect_dir_refused("", "cache directory is not set");
}
END_TEST

START_TEST(dir_parent_writable_by_others)
{
	char open_parent[128], inside[192], want[1024];

	snprintf(open_parent, sizeof(open_parent), "%s/open", tmpdir);
	snprintf(inside, sizeof(inside), "%s/cache", open_parent);
	ck_assert_int_eq(mkdir(open_parent, 0700), 0);
	ck_assert_int_eq(chmod(open_parent, 0777), 0);
	ck_assert_int_eq(mkdir(inside, 0700), 0);
	snprintf(want, sizeof(want), "cache directory %s is inside %s, which "
		 "is writable by others (mode 0777): refusing to use it",
		 inside, open_parent);
	expect_dir_refused(inside, want);
	/* Sticky, like /tmp: others cannot rename our directory away. */
	ck_assert_int_eq(chmod(open_parent, 01777), 0);
	ck_assert_int_eq(mts_cache_dir_check(inside, err, sizeof(err)), 0);
}
END_TEST

/* The parents' check is remembered for one directory (path and inode):
 * a directory swapped in through a parent that became writable by others
 * is a new inode and is checked again. */
START_TEST(dir_swapped_is_checked_again)
{
	char parent[128], inside[192], old[192];

	snprintf(parent, sizeof(parent), "%s/p", tmpdir);
	snprintf(inside, sizeof(inside), "%s/cache", parent);
	snprintf(old, sizeof(old), "%s/old", parent);
	ck_assert_int_eq(mkdir(parent, 0700), 0);
	ck_assert_int_eq(mts_cache_dir_check(inside, err, sizeof(err)), 0);
	ck_assert_int_eq(mts_cache_dir_check(inside, err, sizeof(err)), 0);
	ck_assert_int_eq(rename(inside, old), 0);
	ck_assert_int_eq(chmod(parent, 0777), 0);
	ck_assert_int_eq(mkdir(inside, 0700), 0);
	ck_assert_int_eq(mts_cache_dir_check(inside, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "which is writable by others"));
}
END_TEST

START_TEST(round_trip)
{
	struct mts_cache_entry e, got;
	char path[256];
	struct stat st;

	ck_assert_int_eq(mts_cache_dir_check(dir, err, sizeof(err)), 0);
	fill_entry(&e, "example.com", "20240501T1", POLICY_B);
	e.failed_at = 1700000500;
	mts_strlcpy(e.failed_id, "abc123", sizeof(e.failed_id));
	mts_strlcpy(e.failed_reason, "HTTP 404\nsecond line",
		    sizeof(e.failed_reason));
	ck_assert_msg(mts_cache_store(dir, &e, err, sizeof(err)) == 0, "%s",
		      err);

	mts_cache_entry_init(&got);
	ck_assert_int_eq(load("example.com", &got), 0);
	ck_assert_str_eq(got.domain, "example.com");
	ck_assert_str_eq(got.id, "20240501T1");
	ck_assert_int_eq(got.fetched_at, 1700000000);
	ck_assert_int_eq(got.expires_at, 1700086400);
	ck_assert_int_eq(got.failed_at, 1700000500);
	ck_assert_str_eq(got.failed_id, "abc123");
	ck_assert_str_eq(got.failed_reason, "HTTP 404?second line");
	ck_assert_uint_eq(got.text.len, strlen(POLICY_B));
	ck_assert_str_eq(mts_buf_str(&got.text), POLICY_B);

	path_of(path, sizeof(path), "example.com");
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);

	/* A failure-only entry: no id, no policy text. */
	mts_cache_entry_free(&e);
	mts_cache_entry_init(&e);
	mts_strlcpy(e.domain, "no-policy.example", sizeof(e.domain));
	e.failed_at = 5;
	ck_assert_int_eq(mts_cache_store(dir, &e, err, sizeof(err)), 0);
	ck_assert_int_eq(load("no-policy.example", &got), 0);
	ck_assert_str_eq(got.id, "");
	ck_assert_str_eq(got.failed_id, "");
	ck_assert_str_eq(got.failed_reason, "");
	ck_assert_int_eq(got.failed_at, 5);
	ck_assert_int_eq(got.fetched_at, 0);
	ck_assert_uint_eq(got.text.len, 0);

	/* The extremes of the numbers survive. */
	e.fetched_at = INT64_MAX;
	ck_assert_int_eq(mts_cache_store(dir, &e, err, sizeof(err)), 0);
	ck_assert_int_eq(load("no-policy.example", &got), 0);
	ck_assert_int_eq(got.fetched_at, INT64_MAX);

	ck_assert_int_eq(load("absent.example", &got), 1);
	ck_assert_str_eq(got.id, "");
	mts_cache_entry_free(&e);
	mts_cache_entry_free(&got);
}
END_TEST

START_TEST(exact_file_format)
{
	struct mts_cache_entry e;
	char path[256], buf[1024];
	FILE *f;
	size_t n;

	ck_assert_int_eq(mts_cache_dir_check(dir, err, sizeof(err)), 0);
	fill_entry(&e, "example.com", "id1", POLICY_A);
	ck_assert_int_eq(mts_cache_store(dir, &e, err, sizeof(err)), 0);
	path_of(path, sizeof(path), "example.com");
	f = fopen(path, "r");
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	ck_assert_str_eq(buf, "mtasts-cache 1\ndomain example.com\nid id1\n"
			 "fetched 1700000000\nexpires 1700086400\nfailed 0\n"
			 "failed_id -\nfailed_reason -\nlength 63\n\n"
			 POLICY_A);
	ck_assert_uint_eq(strlen(POLICY_A), 63);
	mts_cache_entry_free(&e);
}
END_TEST

START_TEST(atomic_replacement)
{
	struct mts_cache_entry e, got;
	char listing[1024];

	ck_assert_int_eq(mts_cache_dir_check(dir, err, sizeof(err)), 0);
	fill_entry(&e, "example.com", "first", POLICY_A);
	ck_assert_int_eq(mts_cache_store(dir, &e, err, sizeof(err)), 0);
	mts_strlcpy(e.id, "second", sizeof(e.id));
	mts_buf_reset(&e.text);
	mts_buf_append_str(&e.text, POLICY_B);
	ck_assert_int_eq(mts_cache_store(dir, &e, err, sizeof(err)), 0);
	mts_cache_entry_init(&got);
	ck_assert_int_eq(load("example.com", &got), 0);
	ck_assert_str_eq(got.id, "second");
	ck_assert_str_eq(mts_buf_str(&got.text), POLICY_B);
	/* No temporary file is left behind. */
	dir_listing(listing, sizeof(listing));
	ck_assert_str_eq(listing, "example.com");
	mts_cache_entry_free(&e);
	mts_cache_entry_free(&got);
}
END_TEST

#define WRITERS 3
#define WRITES 60

/* Writers race on one domain while this process reads: every read must
 * see a complete entry from one of the writers. */
START_TEST(concurrent_writers)
{
	struct mts_cache_entry e, got;
	pid_t pids[WRITERS];
	char listing[1024];
	int status, reads = 0;

	ck_assert_int_eq(mts_cache_dir_check(dir, err, sizeof(err)), 0);
	fill_entry(&e, "race.example", "w9", POLICY_A);
	ck_assert_int_eq(mts_cache_store(dir, &e, err, sizeof(err)), 0);
	for (int w = 0; w < WRITERS; w++) {
		pids[w] = fork();
		ck_assert_int_ge(pids[w], 0);
		if (pids[w] == 0) {
			snprintf(e.id, sizeof(e.id), "w%d", w);
			mts_buf_reset(&e.text);
			mts_buf_append_str(&e.text,
					   w % 2 ? POLICY_A : POLICY_B);
			for (int i = 0; i < WRITES; i++)
				if (mts_cache_store(dir, &e, err,
						    sizeof(err)) < 0)
					_exit(1);
			_exit(0);
		}
	}
	mts_cache_entry_init(&got);
	for (int live = WRITERS; live > 0; reads++) {
		ck_assert_msg(load("race.example", &got) == 0, "read %d: %s",
			      reads, err);
		ck_assert(got.id[0] == 'w' && strchr("0129", got.id[1]) &&
			  got.id[2] == '\0');
		/* w1 and the first store (w9) wrote A, w0 and w2 wrote B. */
		ck_assert_str_eq(mts_buf_str(&got.text),
				 strchr("19", got.id[1]) ? POLICY_A : POLICY_B);
		live = 0;
		for (int w = 0; w < WRITERS; w++) {
			if (pids[w] == 0)
				continue;
			if (waitpid(pids[w], &status, WNOHANG) == pids[w]) {
				ck_assert(WIFEXITED(status) &&
					  WEXITSTATUS(status) == 0);
				pids[w] = 0;
			} else {
				live++;
			}
		}
	}
	ck_assert_int_gt(reads, 0);
	dir_listing(listing, sizeof(listing));
	ck_assert_str_eq(listing, "race.example");
	mts_cache_entry_free(&e);
	mts_cache_entry_free(&got);
}
END_TEST

/* A header with these values and this policy text; length_line NULL:
 * the right length. */
static void make_file(struct mts_buf *b, const char *domain_line,
		      const char *length_line, const char *text)
{
	char line[64];

	if (length_line == NULL) {
		snprintf(line, sizeof(line), "length %zu", strlen(text));
		length_line = line;
	}
	mts_buf_reset(b);
	mts_buf_printf(b, "mtasts-cache 1\n%s\nid abc\nfetched 10\nexpires 20\n"
		       "failed 0\nfailed_id -\nfailed_reason -\n%s\n\n%s",
		       domain_line, length_line, text);
}

static char logpath[256];

/* Loads name and expects "absent", an emptied entry and a warning. */
static void expect_corrupt(const char *what, const char *reason,
			   const char *data, size_t len)
{
	struct mts_cache_entry got;
	char log[8192];
	int fd;
	ssize_t n;

	write_file("example.com", data, len, 0600);
	mts_cache_entry_init(&got);
	mts_strlcpy(got.id, "stale", sizeof(got.id));
	mts_buf_append_str(&got.text, "stale");
	ck_assert_msg(load("example.com", &got) == 1,
		      "%s: not treated as corrupt", what);
	ck_assert_msg(got.id[0] == '\0' && got.text.len == 0 &&
		      got.fetched_at == 0, "%s: entry not cleared", what);
	mts_cache_entry_free(&got);
	fd = open(logpath, O_RDONLY);
	n = read(fd, log, sizeof(log) - 1);
	close(fd);
	log[n > 0 ? n : 0] = '\0';
	ck_assert_msg(strstr(log, "warn: cache: ignoring corrupt file "),
		      "%s: no warning logged", what);
	ck_assert_msg(strstr(log, reason) != NULL, "%s: wrong reason: %s", what,
		      log);
	ck_assert_int_eq(truncate(logpath, 0), 0);
}

/* Reasons the loader logs (cache.c). */
#define R_MAGIC "not a version 1 cache file"
#define R_LEN "policy text length does not match"
#define R_NUM "bad number"
#define R_ID "bad id"
#define R_LINE "unexpected header line"
#define R_CTRL "control character in header"
#define R_DOMAIN "domain line does not match the file name"
#define R_POLICY "stored policy text no longer parses"
#define R_CHAR "has a character other than a-z, 0-9, '-' and '.'"

START_TEST(corrupt_files_are_absent)
{
	/* Whole files: a domain line, a length line (NULL: the right one)
	 * and a policy text. */
	static const struct {
		const char *what, *domain, *length, *text, *reason;
	} files[] = {
		{ "huge length", "domain example.com", "length 99999999",
		  POLICY_A, R_NUM },
		{ "length too small", "domain example.com", "length 10",
		  POLICY_A, R_LEN },
		{ "length too large", "domain example.com", "length 64",
		  POLICY_A, R_LEN },
		{ "length zero, text", "domain example.com", "length 0",
		  POLICY_A, R_LEN },
		{ "negative length", "domain example.com", "length -63",
		  POLICY_A, R_NUM },
		{ "leading zero", "domain example.com", "length 063",
		  POLICY_A, R_NUM },
		{ "hex length", "domain example.com", "length 0x3f",
		  POLICY_A, R_NUM },
		{ "double space", "domain example.com", "length  63",
		  POLICY_A, R_NUM },
		{ "trailing space", "domain example.com", "length 63 ",
		  POLICY_A, R_NUM },
		{ "domain mismatch", "domain other.example", NULL, POLICY_A,
		  R_DOMAIN },
		{ "invalid domain line", "domain ../example.com", NULL,
		  POLICY_A, R_DOMAIN },
		{ "empty domain line", "domain", NULL, POLICY_A, R_LINE },
		{ "wrong key", "host example.com", NULL, POLICY_A, R_LINE },
		{ "policy no longer parses", "domain example.com", NULL,
		  "version: STSv1\nmode: enforce\nmx: mx.example.com\n"
		  "max_age: 9999999999\n", R_POLICY },
		{ "policy garbage", "domain example.com", NULL, "garbage",
		  R_POLICY },
	};
	/* One edit each in an otherwise valid file. */
	static const struct {
		const char *what, *from, *to;
		size_t tolen;
		const char *reason;
	} edits[] = {
		{ "non-numeric", "fetched 10\n", "fetched abc\n", 12, R_NUM },
		{ "negative", "fetched 10\n", "fetched -10\n", 12, R_NUM },
		{ "plus sign", "expires 20\n", "expires +20\n", 12, R_NUM },
		{ "int64 overflow", "expires 20\n",
		  "expires 9223372036854775808\n", 28, R_NUM },
		{ "long overflow", "failed 0\n",
		  "failed 99999999999999999999999999\n", 34, R_NUM },
		{ "empty number", "failed 0\n", "failed \n", 8, R_LINE },
		{ "id too long", "id abc\n",
		  "id 123456789012345678901234567890123\n", 37, R_ID },
		{ "id bad char", "id abc\n", "id ab-c\n", 8, R_ID },
		{ "failed_id bad", "failed_id -\n", "failed_id a b\n", 14,
		  R_ID },
		{ "control in reason", "failed_reason -\n",
		  "failed_reason a\tb\n", 18, R_CTRL },
		{ "missing field", "failed 0\n", "", 0, R_LINE },
		{ "CRLF header", "fetched 10\n", "fetched 10\r\n", 12, R_CTRL },
		{ "reordered", "fetched 10\nexpires 20\n",
		  "expires 20\nfetched 10\n", 22, R_LINE },
		{ "no blank line", "\n\nversion", "\nversion", 8,
		  "no blank line after the header" },
		{ "NUL in header", "id abc\n", "id a\0c\n", 7, R_CTRL },
	};
	struct mts_buf b = MTS_BUF_INIT, edited = MTS_BUF_INIT;
	struct mts_cache_entry got;
	char *big, *at;

	snprintf(logpath, sizeof(logpath), "%s/log", tmpdir);
	ck_assert_int_eq(mts_log_init("test_cache", logpath, MTS_LOG_INFO, err,
				      sizeof(err)), 0);
	ck_assert_int_eq(mts_cache_dir_check(dir, err, sizeof(err)), 0);

	/* The valid base case loads, so each variant below fails for its own
	 * reason. */
	make_file(&b, "domain example.com", NULL, POLICY_A);
	write_file("example.com", b.data, b.len, 0600);
	mts_cache_entry_init(&got);
	ck_assert_msg(load("example.com", &got) == 0, "%s", err);
	ck_assert_str_eq(got.id, "abc");
	mts_cache_entry_free(&got);

	expect_corrupt("empty", R_MAGIC, "", 0);
	expect_corrupt("truncated header", "truncated header", b.data, 40);
	expect_corrupt("truncated text", R_LEN, b.data, b.len - 1);
	mts_buf_append_str(&b, "x");
	expect_corrupt("trailing garbage", R_LEN, b.data, b.len);
	expect_corrupt("wrong magic", R_MAGIC, "mtasts-cache 2\n", 15);
	make_file(&b, "domain example.com", NULL, POLICY_A);
	b.data[0] = 'M';
	expect_corrupt("magic case", R_MAGIC, b.data, b.len);

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		make_file(&b, files[i].domain, files[i].length, files[i].text);
		expect_corrupt(files[i].what, files[i].reason, b.data, b.len);
	}
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		make_file(&b, "domain example.com", NULL, POLICY_A);
		at = strstr(b.data, edits[i].from);
		ck_assert_msg(at != NULL, "%s: pattern missing", edits[i].what);
		mts_buf_reset(&edited);
		mts_buf_append(&edited, b.data, (size_t)(at - b.data));
		mts_buf_append(&edited, edits[i].to, edits[i].tolen);
		mts_buf_append_str(&edited, at + strlen(edits[i].from));
		expect_corrupt(edits[i].what, edits[i].reason, edited.data,
			       edited.len);
	}

	/* Larger than any valid file. */
	big = malloc(200000);
	memset(big, 'a', 200000);
	make_file(&b, "domain example.com", NULL, POLICY_A);
	memcpy(big, b.data, b.len);
	expect_corrupt("too large", "file too large", big, 200000);
	free(big);
	mts_buf_free(&b);
	mts_buf_free(&edited);
}
END_TEST

static void expect_load_refused(const char *want_suffix)
{
	struct mts_cache_entry got;
	char want[512];

	mts_cache_entry_init(&got);
	ck_assert_int_eq(load("example.com", &got), -1);
	snprintf(want, sizeof(want), "cache file %s/example.com %s", dir,
		 want_suffix);
	ck_assert_str_eq(err, want);
	mts_cache_entry_free(&got);
}

START_TEST(unsafe_files_refused)
{
	struct mts_cache_entry e;
	char path[256], target[256];

	ck_assert_int_eq(mts_cache_dir_check(dir, err, sizeof(err)), 0);
	fill_entry(&e, "example.com", "id1", POLICY_A);
	ck_assert_int_eq(mts_cache_store(dir, &e, err, sizeof(err)), 0);
	path_of(path, sizeof(path), "example.com");

	ck_assert_int_eq(chmod(path, 0666), 0);
	expect_load_refused("is writable by others (mode 0666): refusing to "
			    "use it");
	ck_assert_int_eq(chmod(path, 0620), 0);
	expect_load_refused("is writable by group (mode 0620): refusing to "
			    "use it");
	ck_assert_int_eq(chmod(path, 0644), 0);
	mts_cache_entry_free(&e);
	mts_cache_entry_init(&e);
	ck_assert_int_eq(load("example.com", &e), 0);	/* readable is fine */

	ck_assert_int_eq(chown(path, 12345, 12345), 0);
	expect_load_refused("is owned by uid 12345, not by uid 0 or root: "
			    "refusing to use it");

	unlink(path);
	snprintf(target, sizeof(target), "%s/elsewhere", tmpdir);
	close(open(target, O_WRONLY | O_CREAT, 0600));
	ck_assert_int_eq(symlink(target, path), 0);
	expect_load_refused("is a symbolic link: refusing to use it");

	unlink(path);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	expect_load_refused("is not a regular file: refusing to use it");
	rmdir(path);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	expect_load_refused("is not a regular file: refusing to use it");
	mts_cache_entry_free(&e);
}
END_TEST

START_TEST(invalid_names_refused)
{
	static const struct {
		const char *name, *reason;
	} bad[] = {
		{ "../x", "starts with a dot" },
		{ "", "is empty" },
		{ "a/b", R_CHAR },
		{ ".hidden", "starts with a dot" },
		{ "..", "starts with a dot" },
		{ "a..b", "has an empty label" },
		{ "example.com.", "ends with a dot" },
		{ "Example.com", R_CHAR },
		{ "a b", R_CHAR },
		{ "x\ny", R_CHAR },
	};
	struct mts_cache_entry e;
	char want[512], shown[64], longname[300], label[80], listing[256];

	ck_assert_int_eq(mts_cache_dir_check(dir, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mts_strlcpy(shown, bad[i].name, sizeof(shown));
		for (char *p = shown; *p; p++)
			if (*p == '\n')
				*p = '?';
		snprintf(want, sizeof(want), "invalid domain name \"%s\" for "
			 "the cache: it %s", shown, bad[i].reason);
		mts_cache_entry_init(&e);
		ck_assert_int_eq(load(bad[i].name, &e), -1);
		ck_assert_str_eq(err, want);
		mts_strlcpy(e.domain, bad[i].name, sizeof(e.domain));
		ck_assert_int_eq(mts_cache_store(dir, &e, err, sizeof(err)),
				 -1);
		ck_assert_str_eq(err, want);
		ck_assert_int_eq(mts_cache_remove(dir, bad[i].name, err,
						  sizeof(err)), -1);
		ck_assert_str_eq(err, want);
		mts_cache_entry_free(&e);
	}
	mts_cache_entry_init(&e);
	ck_assert_int_eq(mts_cache_load(dir, NULL, &e, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "invalid domain name \"(null)\" for the cache: "
			 "it is empty");

	memset(label, 'a', 64);
	mts_strlcpy(label + 64, ".com", sizeof(label) - 64);
	ck_assert_int_eq(load(label, &e), -1);
	ck_assert_ptr_nonnull(strstr(err, "has a label longer than 63 "
				     "characters"));
	for (int i = 0; i < 127; i++)
		memcpy(longname + 2 * i, "ab", 2);
	for (int i = 2; i < 254; i += 3)
		longname[i] = '.';
	longname[254] = '\0';
	ck_assert_int_eq(load(longname, &e), -1);
	ck_assert_ptr_nonnull(strstr(err, "is longer than 253 characters"));
	longname[253] = '\0';
	longname[252] = 'a';
	ck_assert_int_eq(load(longname, &e), 1);	/* valid: just absent */
	mts_cache_entry_free(&e);
	/* Nothing was created by any of it. */
	dir_listing(listing, sizeof(listing));
	ck_assert_str_eq(listing, "");
}
END_TEST

START_TEST(store_refuses_bad_entries)
{
	struct mts_cache_entry e;
	char listing[256];

	ck_assert_int_eq(mts_cache_dir_check(dir, err, sizeof(err)), 0);
	fill_entry(&e, "example.com", "bad-id", POLICY_A);
	ck_assert_int_eq(mts_cache_store(dir, &e, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "cache entry for example.com has an invalid id");
	mts_strlcpy(e.id, "ok", sizeof(e.id));
	e.expires_at = -1;
	ck_assert_int_eq(mts_cache_store(dir, &e, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "cache entry for example.com has a negative "
			 "time");
	e.expires_at = 1;
	mts_buf_reset(&e.text);
	mts_buf_append_str(&e.text, "version: STSv1\nmode: enforce\n");
	ck_assert_int_eq(mts_cache_store(dir, &e, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "cache entry for example.com: policy text "
			     "does not parse (") == err, "%s", err);
	/* No file, no temporary. */
	dir_listing(listing, sizeof(listing));
	ck_assert_str_eq(listing, "");
	/* A directory that does not exist: an error, nothing created. */
	mts_buf_reset(&e.text);
	ck_assert_int_eq(mts_cache_store("/nonexistent-dir", &e, err,
					 sizeof(err)), -1);
	ck_assert_str_eq(err, "cannot create a temporary file in "
			 "/nonexistent-dir: No such file or directory");
	mts_cache_entry_free(&e);
}
END_TEST

START_TEST(list_and_remove)
{
	const char *domains[] = {
		"c.example", "a.example", "b.example", "a-b.example",
	};
	struct mts_strlist list = MTS_STRLIST_INIT;
	struct mts_cache_entry e;
	char path[256];

	/* A missing directory lists as empty. */
	ck_assert_int_eq(mts_cache_list(dir, &list, err, sizeof(err)), 0);
	ck_assert_uint_eq(list.count, 0);

	ck_assert_int_eq(mts_cache_dir_check(dir, err, sizeof(err)), 0);
	for (size_t i = 0; i < 4; i++) {
		fill_entry(&e, domains[i], "x", POLICY_A);
		ck_assert_int_eq(mts_cache_store(dir, &e, err, sizeof(err)), 0);
		mts_cache_entry_free(&e);
	}
	/* Things that are not entries: a left-over temporary, a bad name, a
	 * directory, a symlink. */
	write_file(".a.example.Xy12Ab", "junk", 4, 0600);
	write_file("UPPER.example", "junk", 4, 0600);
	path_of(path, sizeof(path), "d.example");
	ck_assert_int_eq(mkdir(path, 0700), 0);
	path_of(path, sizeof(path), "e.example");
	ck_assert_int_eq(symlink("a.example", path), 0);

	ck_assert_int_eq(mts_cache_list(dir, &list, err, sizeof(err)), 0);
	ck_assert_uint_eq(list.count, 4);
	ck_assert_str_eq(list.item[0], "a-b.example");
	ck_assert_str_eq(list.item[1], "a.example");
	ck_assert_str_eq(list.item[2], "b.example");
	ck_assert_str_eq(list.item[3], "c.example");
	mts_strlist_free(&list);

	ck_assert_int_eq(mts_cache_remove(dir, "b.example", err,
					  sizeof(err)), 0);
	ck_assert_int_eq(mts_cache_remove(dir, "b.example", err,
					  sizeof(err)), 1);
	mts_cache_entry_init(&e);
	ck_assert_int_eq(load("b.example", &e), 1);
	mts_cache_entry_free(&e);
	ck_assert_int_eq(mts_cache_list(dir, &list, err, sizeof(err)), 0);
	ck_assert_uint_eq(list.count, 3);
	ck_assert_str_eq(list.item[1], "a.example");
	ck_assert_str_eq(list.item[2], "c.example");
	mts_strlist_free(&list);

	path_of(path, sizeof(path), "a.example");
	ck_assert_int_eq(mts_cache_list(path, &list, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "cannot read cache directory") == err, "%s",
		      err);
}
END_TEST

static Suite *cache_suite(void)
{
	Suite *s = suite_create("cache");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, dir_created_private);
	tcase_add_test(tc, dir_refused);
	tcase_add_test(tc, dir_parent_writable_by_others);
	tcase_add_test(tc, dir_swapped_is_checked_again);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, exact_file_format);
	tcase_add_test(tc, atomic_replacement);
	tcase_add_test(tc, concurrent_writers);
	tcase_add_test(tc, corrupt_files_are_absent);
	tcase_add_test(tc, unsafe_files_refused);
	tcase_add_test(tc, invalid_names_refused);
	tcase_add_test(tc, store_refuses_bad_entries);
	tcase_add_test(tc, list_and_remove);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(cache_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
