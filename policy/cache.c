/*
 * cache.c - the on-disk policy cache shared by every process of a user
 *
 * SYNOPSIS
 *	if (mts_cache_dir_check(cfg.cache_dir, err, sizeof(err)) < 0) ...
 *	switch (mts_cache_load(cfg.cache_dir, "example.com", &e, err, len)) ...
 *
 * DESCRIPTION
 *	One text file per policy domain (format in cache.h). Many processes
 *	(one relay per intercepted connection, the CLI) read and write the
 *	same directory without locks: a writer builds the whole file in a
 *	temporary "<dir>/.<domain>.XXXXXX" (mkostemp, mode 0600), fsyncs it
 *	and rename()s it over the old file. A reader opens either the old or
 *	the new inode, never a torn one; when writers race, the last rename
 *	wins, and every version is complete. Dot-files are never cache
 *	entries, so temporaries a crash left behind are ignored by list.
 *
 *	Domain names are checked before they become file names: lower-case
 *	letters, digits, '-' and '.', labels of 1-63, at most 253 in all, so
 *	"", "..", "/", ".hidden" and "a/b" can never reach the file system.
 *
 *	Trust: the directory must be a real directory (not a symbolic link),
 *	owned by the effective user or root and writable by neither group
 *	nor others, and none of the directories above it (after resolving
 *	symbolic links) may be writable by others unless it is sticky, like
 *	/tmp. Otherwise another user could plant or swap policies. A missing
 *	directory is created, with any missing parents, mode 0700. A file is
 *	opened with O_NOFOLLOW and refused unless it is a regular file owned
 *	by the effective user or root and not writable by group or others.
 *	Group-writable parents are accepted (setgid spool trees are common);
 *	only the directory itself must be private.
 *
 *	Parsing is strict and bounded: every line is checked, numbers are
 *	plain decimal without signs or leading zeros and checked against
 *	overflow, the policy text must have exactly the announced length
 *	and must still parse as a policy. Anything else is corruption: a
 *	warning is logged and the entry reads as absent, so the next store
 *	replaces it.
 *
 * DIAGNOSTICS
 *	See cache.h for return values. Messages name the path and the reason.
 */
#include "cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "policy.h"

#define CACHE_MAGIC "mtasts-cache 1"
/* The header lines never come near this; the policy text adds at most
 * MTS_POLICY_MAX_BYTES. */
#define CACHE_HEADER_MAX 4096
#define CACHE_FILE_MAX (CACHE_HEADER_MAX + MTS_POLICY_MAX_BYTES)
#define ENTRY_FIELD_MAX(f) (sizeof(((struct mts_cache_entry *)0)->f) - 1)
#define CACHE_REASON_MAX ENTRY_FIELD_MAX(failed_reason)
#define CACHE_DOMAIN_MAX ENTRY_FIELD_MAX(domain)
#define SHOW_MAX 80

/* A printable, bounded copy of an untrusted name for messages. */
static const char *show(const char *s, char out[SHOW_MAX + 4])
{
	size_t i = 0;

	if (s == NULL)
		s = "(null)";
	for (; s[i] != '\0' && i < SHOW_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		out[i] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
	}
	out[i] = '\0';
	if (s[i] != '\0')
		memcpy(out + i, "...", 4);
	return out;
}

/* Returns NULL when name may be a cache file name, else the reason. */
static const char *domain_reason(const char *name)
{
	size_t len, label = 0;

	if (name == NULL || name[0] == '\0')
		return "is empty";
	len = strlen(name);
	if (len > CACHE_DOMAIN_MAX)
		return "is longer than 253 characters";
	if (name[0] == '.')
		return "starts with a dot";
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (c == '.') {
			if (label == 0)
				return "has an empty label";
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return "has a character other than a-z, 0-9, '-' "
			       "and '.'";
		if (++label > 63)
			return "has a label longer than 63 characters";
	}
	if (label == 0)
		return "ends with a dot";
	return NULL;
}

static int check_domain(const char *domain, char *err, size_t errlen)
{
	const char *reason = domain_reason(domain);
	char shown[SHOW_MAX + 4];

	if (reason == NULL)
		return 0;
	return mts_errorf(err, errlen, "invalid domain name \"%s\" for the "
			  "cache: it %s", show(domain, shown), reason);
}

/* "" or 1-32 letters and digits (RFC 8461 sts-id). */
static int id_valid(const char *id)
{
	size_t len = strlen(id);

	if (len > MTS_ID_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9')))
			return 0;
	}
	return 1;
}

static int build_path(char *out, size_t outlen, const char *dir,
		      const char *prefix, const char *name, const char *suffix)
{
	int n = snprintf(out, outlen, "%s/%s%s%s", dir, prefix, name, suffix);

	return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

void mts_cache_entry_init(struct mts_cache_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->text = (struct mts_buf)MTS_BUF_INIT;
}

void mts_cache_entry_free(struct mts_cache_entry *e)
{
	mts_buf_free(&e->text);
	mts_cache_entry_init(e);
}

/* Empties e but keeps its text buffer's memory. */
static void entry_clear(struct mts_cache_entry *e)
{
	struct mts_buf text = e->text;

	memset(e, 0, sizeof(*e));
	e->text = text;
	mts_buf_reset(&e->text);
}

/* ---- the directory ---- */

/* mkdir -p with mode 0700 for every component created. */
static int make_dirs(char *path)
{
	for (char *p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

static const char *writable_by(mode_t mode)
{
	if (mode & S_IWOTH)
		return "others";
	if (mode & S_IWGRP)
		return "group";
	return NULL;
}

/* No directory above path may be writable by others without being
 * sticky: whoever can rename entries there can swap our directory. */
static int check_parents(const char *path, char *err, size_t errlen)
{
	char parent[PATH_MAX], *resolved, *slash;
	struct stat st;
	int rc = 0;

	if (mts_strlcpy(parent, path, sizeof(parent)) >= sizeof(parent))
		return mts_errorf(err, errlen, "cache directory path is too "
				  "long");
	slash = strrchr(parent, '/');
	if (slash == NULL)
		mts_strlcpy(parent, ".", sizeof(parent));
	else if (slash == parent)
		parent[1] = '\0';
	else
		*slash = '\0';
	resolved = realpath(parent, NULL);
	if (resolved == NULL)
		return mts_errorf(err, errlen, "cache directory %s: cannot "
				  "resolve %s: %s", path, parent,
				  strerror(errno));
	for (;;) {
		if (stat(resolved, &st) < 0) {
			rc = mts_errorf(err, errlen, "cache directory %s: "
					"cannot check %s: %s", path, resolved,
					strerror(errno));
			break;
		}
		if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
			rc = mts_errorf(err, errlen, "cache directory %s is "
					"inside %s, which is writable by "
					"others (mode %04o): refusing to use "
					"it", path, resolved,
					(unsigned)(st.st_mode & 07777));
			break;
		}
		slash = strrchr(resolved, '/');
		if (slash == NULL || strcmp(resolved, "/") == 0)
			break;
		if (slash == resolved)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	free(resolved);
	return rc;
}

/*
 * The parents' check costs a realpath() and a stat() per path component,
 * about ten system calls, on every look-up. Its success is remembered for
 * the directory's path and identity (device, inode): a directory swapped
 * through a parent resolves to another inode and is checked again. What
 * is not seen is a parent whose mode changes during the life of the
 * process; the directory itself is checked every time.
 */
static struct {
	pthread_mutex_t lock;
	char path[PATH_MAX];
	dev_t dev;
	ino_t ino;
} parents_ok = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int parents_known_ok(const char *path, const struct stat *st)
{
	int known;

	pthread_mutex_lock(&parents_ok.lock);
	known = parents_ok.dev == st->st_dev && parents_ok.ino == st->st_ino &&
		strcmp(parents_ok.path, path) == 0;
	pthread_mutex_unlock(&parents_ok.lock);
	return known;
}

static void remember_parents_ok(const char *path, const struct stat *st)
{
	pthread_mutex_lock(&parents_ok.lock);
	mts_strlcpy(parents_ok.path, path, sizeof(parents_ok.path));
	parents_ok.dev = st->st_dev;
	parents_ok.ino = st->st_ino;
	pthread_mutex_unlock(&parents_ok.lock);
}

int mts_cache_dir_check(const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	const char *who;
	struct stat st;
	size_t len;

	if (dir == NULL || dir[0] == '\0')
		return mts_errorf(err, errlen, "cache directory is not set");
	len = mts_strlcpy(path, dir, sizeof(path));
	if (len >= sizeof(path))
		return mts_errorf(err, errlen, "cache directory path is too "
				  "long");
	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';	/* "dir/" would follow a symlink */

	if (lstat(path, &st) < 0) {
		if (errno != ENOENT || make_dirs(path) < 0 ||
		    lstat(path, &st) < 0)
			return mts_errorf(err, errlen, "cannot create cache "
					  "directory %s: %s", path,
					  strerror(errno));
	}
	if (S_ISLNK(st.st_mode))
		return mts_errorf(err, errlen, "cache directory %s is a "
				  "symbolic link: refusing to use it", path);
	if (!S_ISDIR(st.st_mode))
		return mts_errorf(err, errlen, "cache directory %s is not a "
				  "directory", path);
	if (st.st_uid != geteuid() && st.st_uid != 0)
		return mts_errorf(err, errlen, "cache directory %s is owned "
				  "by uid %lu, not by uid %lu or root: "
				  "refusing to use it", path,
				  (unsigned long)st.st_uid,
				  (unsigned long)geteuid());
	if ((who = writable_by(st.st_mode)) != NULL)
		return mts_errorf(err, errlen, "cache directory %s is "
				  "writable by %s (mode %04o): refusing to "
				  "use it", path, who,
				  (unsigned)(st.st_mode & 07777));
	if (parents_known_ok(path, &st))
		return 0;
	if (check_parents(path, err, errlen) < 0)
		return -1;
	remember_parents_ok(path, &st);
	return 0;
}

/* ---- reading ---- */

struct reader {
	const char *p;
	const char *end;
};

/* Takes the next line "key value": the key must match, the value must be
 * non-empty and free of control characters. NULL or the reason. */
static const char *take_field(struct reader *r, const char *key,
			      const char **value, size_t *vlen)
{
	size_t klen = strlen(key);
	const char *nl = memchr(r->p, '\n', (size_t)(r->end - r->p));
	const char *v;

	if (nl == NULL)
		return "truncated header";
	if ((size_t)(nl - r->p) <= klen + 1 || memcmp(r->p, key, klen) != 0 ||
	    r->p[klen] != ' ')
		return "unexpected header line";
	v = r->p + klen + 1;
	for (const char *c = v; c < nl; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return "control character in header";
	*value = v;
	*vlen = (size_t)(nl - v);
	r->p = nl + 1;
	return NULL;
}

/* Plain decimal, no sign, no leading zero (except "0"), <= max. */
static int parse_number(const char *s, size_t len, int64_t max, int64_t *out)
{
	int64_t v = 0;

	if (len == 0 || (len > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		int d = s[i] - '0';

		if (s[i] < '0' || s[i] > '9' || v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static const char *take_number(struct reader *r, const char *key,
			       int64_t max, int64_t *out)
{
	const char *v, *reason;
	size_t len;

	if ((reason = take_field(r, key, &v, &len)) != NULL)
		return reason;
	if (parse_number(v, len, max, out) < 0)
		return "bad number";
	return NULL;
}

/* An id field: "-" for none, else an sts-id. */
static const char *take_id(struct reader *r, const char *key, char *out,
			   size_t outlen)
{
	const char *v, *reason;
	size_t len;

	if ((reason = take_field(r, key, &v, &len)) != NULL)
		return reason;
	if (len == 1 && v[0] == '-') {
		out[0] = '\0';
		return NULL;
	}
	if (len > MTS_ID_MAX || len >= outlen)
		return "bad id";
	memcpy(out, v, len);
	out[len] = '\0';
	return id_valid(out) ? NULL : "bad id";
}

static const char *parse_entry(const char *data, size_t size,
			       const char *domain, struct mts_cache_entry *e)
{
	struct reader r = { data, data + size };
	struct mts_policy policy = MTS_POLICY_INIT;
	const char *v, *reason;
	int64_t length;
	size_t len;

	if (size < sizeof(CACHE_MAGIC) ||
	    memcmp(data, CACHE_MAGIC "\n", sizeof(CACHE_MAGIC)) != 0)
		return "not a version 1 cache file";
	r.p += sizeof(CACHE_MAGIC);
	if ((reason = take_field(&r, "domain", &v, &len)) != NULL)
		return reason;
	if (len != strlen(domain) || memcmp(v, domain, len) != 0)
		return "domain line does not match the file name";
	mts_strlcpy(e->domain, domain, sizeof(e->domain));
	if ((reason = take_id(&r, "id", e->id, sizeof(e->id))) != NULL ||
	    (reason = take_number(&r, "fetched", INT64_MAX, &e->fetched_at)) ||
	    (reason = take_number(&r, "expires", INT64_MAX, &e->expires_at)) ||
	    (reason = take_number(&r, "failed", INT64_MAX, &e->failed_at)) ||
	    (reason = take_id(&r, "failed_id", e->failed_id,
			      sizeof(e->failed_id))) ||
	    (reason = take_field(&r, "failed_reason", &v, &len)))
		return reason;
	if (len > CACHE_REASON_MAX)
		return "failed_reason too long";
	if (!(len == 1 && v[0] == '-')) {
		memcpy(e->failed_reason, v, len);
		e->failed_reason[len] = '\0';
	}
	if ((reason = take_number(&r, "length", MTS_POLICY_MAX_BYTES, &length)))
		return reason;
	if (r.p >= r.end || *r.p != '\n')
		return "no blank line after the header";
	r.p++;
	if ((int64_t)(r.end - r.p) != length)
		return "policy text length does not match";
	if (length == 0)
		return NULL;
	if (mts_policy_parse(r.p, (size_t)length, &policy, NULL) < 0)
		return "stored policy text no longer parses";
	mts_policy_free(&policy);
	if (mts_buf_append(&e->text, r.p, (size_t)length) < 0)
		return "out of memory";
	return NULL;
}

/* Opens and vets a cache file. Returns the fd, -2 when absent, -1 on
 * error (err set). */
static int open_cache_file(const char *path, struct stat *st,
			   char *err, size_t errlen)
{
	const char *who;
	int fd;

	/* O_NONBLOCK: a FIFO planted here must not hang the open. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK |
		  O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			return -2;
		if (errno == ELOOP)
			return mts_errorf(err, errlen, "cache file %s is a "
					  "symbolic link: refusing to use it",
					  path);
		return mts_errorf(err, errlen, "cannot open cache file %s: %s",
				  path, strerror(errno));
	}
	if (fstat(fd, st) < 0) {
		mts_errorf(err, errlen, "cannot stat cache file %s: %s", path,
			   strerror(errno));
		goto refuse;
	}
	if (!S_ISREG(st->st_mode)) {
		mts_errorf(err, errlen, "cache file %s is not a regular file: "
			   "refusing to use it", path);
		goto refuse;
	}
	if (st->st_uid != geteuid() && st->st_uid != 0) {
		mts_errorf(err, errlen, "cache file %s is owned by uid %lu, "
			   "not by uid %lu or root: refusing to use it", path,
			   (unsigned long)st->st_uid,
			   (unsigned long)geteuid());
		goto refuse;
	}
	if ((who = writable_by(st->st_mode)) != NULL) {
		mts_errorf(err, errlen, "cache file %s is writable by %s "
			   "(mode %04o): refusing to use it", path, who,
			   (unsigned)(st->st_mode & 07777));
		goto refuse;
	}
	return fd;
refuse:
	close(fd);
	return -1;
}

/* Reads at most max bytes; *len > max-1 means "too large". */
static int read_bounded(int fd, char *buf, size_t max, size_t *len)
{
	size_t got = 0;

	while (got < max) {
		ssize_t n = read(fd, buf + got, max - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	*len = got;
	return 0;
}

int mts_cache_load(const char *dir, const char *domain,
		   struct mts_cache_entry *e, char *err, size_t errlen)
{
	char path[PATH_MAX];
	const char *reason = NULL;
	char *data = NULL;
	struct stat st;
	size_t size;
	int fd, rc = -1;

	entry_clear(e);
	if (check_domain(domain, err, errlen) < 0)
		return -1;
	if (build_path(path, sizeof(path), dir, "", domain, "") < 0)
		return mts_errorf(err, errlen, "cache path for %s is too long",
				  domain);
	fd = open_cache_file(path, &st, err, errlen);
	if (fd == -2)
		return 1;
	if (fd < 0)
		return -1;
	if (st.st_size > (off_t)CACHE_FILE_MAX) {
		reason = "file too large";
		goto corrupt;
	}
	/* One byte more than allowed, to notice a file that grew. */
	data = malloc(CACHE_FILE_MAX + 1);
	if (data == NULL) {
		mts_errorf(err, errlen, "out of memory reading %s", path);
		goto out;
	}
	if (read_bounded(fd, data, CACHE_FILE_MAX + 1, &size) < 0) {
		mts_errorf(err, errlen, "cannot read cache file %s: %s", path,
			   strerror(errno));
		goto out;
	}
	if (size > CACHE_FILE_MAX) {
		reason = "file too large";
		goto corrupt;
	}
	reason = parse_entry(data, size, domain, e);
	if (reason == NULL) {
		rc = 0;
		goto out;
	}
corrupt:
	mts_log(MTS_LOG_WARN, "cache: ignoring corrupt file %s: %s", path,
		reason);
	entry_clear(e);
	rc = 1;
out:
	if (rc != 0)
		entry_clear(e);
	free(data);
	close(fd);
	return rc;
}

/* ---- writing ---- */

static int format_entry(const struct mts_cache_entry *e, struct mts_buf *out)
{
	char reason[CACHE_REASON_MAX + 1];
	size_t len = strnlen(e->failed_reason, CACHE_REASON_MAX);

	/* The reason is free text from the engine: one line, no controls. */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)e->failed_reason[i];

		reason[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	reason[len] = '\0';
	if (mts_buf_printf(out, CACHE_MAGIC "\ndomain %s\nid %s\n"
			   "fetched %lld\nexpires %lld\nfailed %lld\n"
			   "failed_id %s\nfailed_reason %s\nlength %zu\n\n",
			   e->domain, e->id[0] ? e->id : "-",
			   (long long)e->fetched_at, (long long)e->expires_at,
			   (long long)e->failed_at,
			   e->failed_id[0] ? e->failed_id : "-",
			   len ? reason : "-", e->text.len) < 0)
		return -1;
	return mts_buf_append(out, e->text.data ? e->text.data : "",
			      e->text.len);
}

/* Refuses what load would refuse, so a store never writes a file that
 * reads as corrupt. */
static int check_entry(const struct mts_cache_entry *e, char *err,
		       size_t errlen)
{
	struct mts_policy policy = MTS_POLICY_INIT;
	struct mts_diag diag;
	char first[MTS_DIAG_TEXT + 32];

	if (check_domain(e->domain, err, errlen) < 0)
		return -1;
	if (!id_valid(e->id) || !id_valid(e->failed_id))
		return mts_errorf(err, errlen, "cache entry for %s has an "
				  "invalid id", e->domain);
	if (e->fetched_at < 0 || e->expires_at < 0 || e->failed_at < 0)
		return mts_errorf(err, errlen, "cache entry for %s has a "
				  "negative time", e->domain);
	if (e->text.len > MTS_POLICY_MAX_BYTES)
		return mts_errorf(err, errlen, "cache entry for %s: policy "
				  "text longer than %d bytes", e->domain,
				  MTS_POLICY_MAX_BYTES);
	if (e->text.len == 0)
		return 0;
	if (mts_policy_parse(e->text.data, e->text.len, &policy, &diag) < 0)
		return mts_errorf(err, errlen, "cache entry for %s: policy "
				  "text does not parse (%s)", e->domain,
				  mts_diag_first(&diag, first, sizeof(first)));
	mts_policy_free(&policy);
	return 0;
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int mts_cache_store(const char *dir, const struct mts_cache_entry *e,
		    char *err, size_t errlen)
{
	struct mts_buf content = MTS_BUF_INIT;
	char tmp[PATH_MAX], path[PATH_MAX];
	int fd = -1, rc = -1;

	if (check_entry(e, err, errlen) < 0)
		return -1;
	if (build_path(path, sizeof(path), dir, "", e->domain, "") < 0 ||
	    build_path(tmp, sizeof(tmp), dir, ".", e->domain, ".XXXXXX") < 0)
		return mts_errorf(err, errlen, "cache path for %s is too long",
				  e->domain);
	if (format_entry(e, &content) < 0)
		return mts_errorf(err, errlen, "out of memory");
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		mts_errorf(err, errlen, "cannot create a temporary file in "
			   "%s: %s", dir, strerror(errno));
		tmp[0] = '\0';
		goto out;
	}
	if (fchmod(fd, 0600) < 0 ||
	    write_all(fd, content.data, content.len) < 0 ||
	    fsync(fd) < 0) {
		mts_errorf(err, errlen, "cannot write %s: %s", tmp,
			   strerror(errno));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		mts_errorf(err, errlen, "cannot write %s: %s", tmp,
			   strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		mts_errorf(err, errlen, "cannot rename %s to %s: %s", tmp,
			   path, strerror(errno));
		goto out;
	}
	tmp[0] = '\0';		/* it is the cache file now */
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (tmp[0] != '\0')
		unlink(tmp);
	mts_buf_free(&content);
	return rc;
}

int mts_cache_remove(const char *dir, const char *domain,
		     char *err, size_t errlen)
{
	char path[PATH_MAX];

	if (check_domain(domain, err, errlen) < 0)
		return -1;
	if (build_path(path, sizeof(path), dir, "", domain, "") < 0)
		return mts_errorf(err, errlen, "cache path for %s is too long",
				  domain);
	if (unlink(path) == 0)
		return 0;
	if (errno == ENOENT)
		return 1;
	return mts_errorf(err, errlen, "cannot remove %s: %s", path,
			  strerror(errno));
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int mts_cache_list(const char *dir, struct mts_strlist *out,
		   char *err, size_t errlen)
{
	struct mts_strlist found = MTS_STRLIST_INIT;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int rc = -1;

	d = opendir(dir);
	if (d == NULL) {
		if (errno == ENOENT)
			return 0;	/* no directory yet: nothing cached */
		return mts_errorf(err, errlen, "cannot read cache directory "
				  "%s: %s", dir, strerror(errno));
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (de == NULL)
			break;
		/* Dot-files are temporaries (and "." and ".."). */
		if (de->d_name[0] == '.' || domain_reason(de->d_name) != NULL)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (mts_strlist_add(&found, de->d_name) < 0) {
			mts_errorf(err, errlen, "out of memory");
			goto out;
		}
	}
	if (errno != 0) {
		mts_errorf(err, errlen, "cannot read cache directory %s: %s",
			   dir, strerror(errno));
		goto out;
	}
	if (found.count > 1)
		qsort(found.item, found.count, sizeof(found.item[0]),
		      compare_names);
	for (size_t i = 0; i < found.count; i++) {
		if (mts_strlist_add(out, found.item[i]) < 0) {
			mts_errorf(err, errlen, "out of memory");
			goto out;
		}
	}
	rc = 0;
out:
	mts_strlist_free(&found);
	closedir(d);
	return rc;
}
