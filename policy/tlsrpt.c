/*
 * tlsrpt.c - the TLSRPT session spool (RFC 8460): one record per relay session
 *
 * SYNOPSIS
 *	mts_tlsrpt_record(cfg->report_dir, &session, err, sizeof(err));
 *	mts_tlsrpt_read_day(dir, "2025-01-01", visit, arg, &n, &bad, err, len);
 *
 * DESCRIPTION
 *	Every relay process appends the outcome of its session to the spool
 *	file of the UTC day; `mtasts report` reads the days back, aggregates
 *	them and sends RFC 8460 reports. Many relays append at once, so the
 *	design avoids locks altogether:
 *
 *	  - a record is one line, built completely in memory, bounded by
 *	    MTS_TLSRPT_RECORD_MAX, and handed to the kernel with one write(2)
 *	    on a descriptor opened O_APPEND. For a regular file on a local
 *	    file system, Linux takes the inode lock for the whole write and
 *	    positions it at the end of file under that lock, so two appends
 *	    never interleave or overwrite each other. (NFS gives no such
 *	    promise: docs/TLSRPT.md says to keep the spool local.)
 *	  - a short write (disk full) could leave a partial line; it is
 *	    terminated with a lone LF so that only this record is lost, and
 *	    the CRC-32 at the end of every line makes the reader skip it.
 *	  - the policy text, which can be long, is stored once per distinct
 *	    text in policies/<sha256>, written to a temporary file and
 *	    renamed into place before the first record that names it. Racing
 *	    writers rename identical content; a reader sees a whole file.
 *
 *	Nothing here blocks on another process and nothing touches the
 *	network, so a relay never waits for reporting.
 *
 *	Fields are escaped (backslash, TAB, LF, CR, other control and
 *	non-ASCII bytes as \xHH) so a hostile EHLO name cannot forge a field
 *	or a line; each escaped field is cut at its cap, never inside an
 *	escape sequence.
 */
#include "tlsrpt.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "gzip.h"
#include "match.h"
#include "policy.h"

#define SPOOL_SUBDIR "spool"
#define POLICY_SUBDIR "policies"
#define RECORD_MAGIC "T1"
#define RECORD_FIELDS 13
#define READ_CHUNK 65536

static const char *const result_names[MTS_TLSRPT_RESULT_COUNT] = {
	[MTS_TLSRPT_SUCCESS] = "success",
	[MTS_TLSRPT_STARTTLS_NOT_SUPPORTED] = "starttls-not-supported",
	[MTS_TLSRPT_CERT_HOST_MISMATCH] = "certificate-host-mismatch",
	[MTS_TLSRPT_CERT_EXPIRED] = "certificate-expired",
	[MTS_TLSRPT_CERT_NOT_TRUSTED] = "certificate-not-trusted",
	[MTS_TLSRPT_VALIDATION_FAILURE] = "validation-failure",
	[MTS_TLSRPT_STS_POLICY_FETCH_ERROR] = "sts-policy-fetch-error",
	[MTS_TLSRPT_STS_POLICY_INVALID] = "sts-policy-invalid",
	[MTS_TLSRPT_STS_WEBPKI_INVALID] = "sts-webpki-invalid",
};

void mts_tlsrpt_session_init(struct mts_tlsrpt_session *s)
{
	memset(s, 0, sizeof(*s));
	s->policy_type = MTS_TLSRPT_POLICY_STS;
	s->result = MTS_TLSRPT_SUCCESS;
}

const char *mts_tlsrpt_result_name(enum mts_tlsrpt_result r)
{
	if ((unsigned)r >= MTS_TLSRPT_RESULT_COUNT)
		return "?";
	return result_names[r];
}

int mts_tlsrpt_result_parse(const char *name, enum mts_tlsrpt_result *out)
{
	for (unsigned i = 0; i < MTS_TLSRPT_RESULT_COUNT; i++)
		if (strcmp(name, result_names[i]) == 0) {
			*out = (enum mts_tlsrpt_result)i;
			return 0;
		}
	return -1;
}

const char *mts_tlsrpt_policy_type_name(enum mts_tlsrpt_policy_type t)
{
	return t == MTS_TLSRPT_POLICY_STS ? "sts" : "no-policy-found";
}

static int policy_type_parse(const char *s, enum mts_tlsrpt_policy_type *out)
{
	if (strcmp(s, "sts") == 0)
		*out = MTS_TLSRPT_POLICY_STS;
	else if (strcmp(s, "no-policy-found") == 0)
		*out = MTS_TLSRPT_POLICY_NO_POLICY;
	else
		return -1;
	return 0;
}

enum mts_tlsrpt_result mts_tlsrpt_result_from_failure(enum mts_failure f)
{
	switch (f) {
	case MTS_FAIL_FETCH: return MTS_TLSRPT_STS_POLICY_FETCH_ERROR;
	case MTS_FAIL_INVALID: return MTS_TLSRPT_STS_POLICY_INVALID;
	case MTS_FAIL_WEBPKI: return MTS_TLSRPT_STS_WEBPKI_INVALID;
	default: return MTS_TLSRPT_SUCCESS;
	}
}

/* ---- days ------------------------------------------------------------ */

int mts_tlsrpt_day_of(int64_t t, char out[11])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t < 0 || gmtime_r(&tt, &tm) == NULL || tm.tm_year + 1900 > 9999 ||
	    strftime(out, 11, "%Y-%m-%d", &tm) != 10)
		return -1;
	return 0;
}

static int digits(const char *s, size_t n, int *out)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int mts_tlsrpt_day_parse(const char *day, int64_t *start)
{
	struct tm tm;
	int y, m, d;
	char back[11];
	time_t t;

	if (day == NULL || strlen(day) != 10 || day[4] != '-' ||
	    day[7] != '-' || digits(day, 4, &y) < 0 ||
	    digits(day + 5, 2, &m) < 0 || digits(day + 8, 2, &d) < 0 ||
	    y < 1970 || m < 1 || m > 12 || d < 1 || d > 31)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	t = timegm(&tm);
	/* timegm normalises 02-30 into March: a round trip must match. */
	if (t == (time_t)-1 || mts_tlsrpt_day_of(t, back) < 0 ||
	    strcmp(back, day) != 0)
		return -1;
	*start = (int64_t)t;
	return 0;
}

/* ---- escaping -------------------------------------------------------- */

/* Appends s escaped, stopping before an escape that would pass cap bytes
 * of output for this field. */
static int escape_field(struct mts_buf *b, const char *s, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t used = 0;

	if (s == NULL)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[4];
		size_t n = 2;

		esc[0] = '\\';
		switch (*p) {
		case '\\': esc[1] = '\\'; break;
		case '\t': esc[1] = 't'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		default:
			if (*p >= 0x20 && *p < 0x7f) {
				esc[0] = (char)*p;
				n = 1;
			} else {
				esc[1] = 'x';
				esc[2] = hex[*p >> 4];
				esc[3] = hex[*p & 15];
				n = 4;
			}
		}
		if (used + n > cap)
			break;
		if (mts_buf_append(b, esc, n) < 0)
			return -1;
		used += n;
	}
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Unescapes s[len] into out[outsize]. -1 on a bad escape, a raw control
 * byte, or when it does not fit. A decoded NUL is refused too. */
static int unescape_field(const char *s, size_t len, char *out, size_t outsize)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c >= 0x7f)
			return -1;
		if (c == '\\') {
			if (++i >= len)
				return -1;
			switch (s[i]) {
			case '\\': c = '\\'; break;
			case 't': c = '\t'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 'x': {
				int hi, lo;

				if (len - i < 3)	/* need "x" + 2 digits */
					return -1;
				hi = hexval(s[i + 1]);
				lo = hexval(s[i + 2]);
				if (hi < 0 || lo < 0 || (hi | lo) == 0)
					return -1;
				c = (unsigned char)(hi << 4 | lo);
				i += 2;
				break;
			}
			default:
				return -1;
			}
		}
		if (o + 1 >= outsize)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

/* ---- hashing --------------------------------------------------------- */

static int sha256_hex(const void *data, size_t len,
		      char out[MTS_TLSRPT_HASH_HEX + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		return -1;
	for (unsigned i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
	return 0;
}

/* ---- formatting and parsing a record ---------------------------------- */

static int check_ip(const char *what, const char *ip, char *err, size_t errlen)
{
	unsigned char bin[16];

	if (ip == NULL || ip[0] == '\0')
		return 0;
	if (strlen(ip) > MTS_TLSRPT_IP_MAX ||
	    (inet_pton(AF_INET, ip, bin) != 1 &&
	     inet_pton(AF_INET6, ip, bin) != 1))
		return mts_errorf(err, errlen, "%s is not an IP address", what);
	return 0;
}

/* Lower-cased copy of a host name, or -1 when it is too long. */
static int lower_host(const char *in, char *out, size_t outsize)
{
	size_t n = 0;

	for (; in[n] != '\0'; n++) {
		if (n + 1 >= outsize)
			return -1;
		out[n] = (in[n] >= 'A' && in[n] <= 'Z') ? (char)(in[n] + 32)
							: in[n];
	}
	if (n > 0 && out[n - 1] == '.')
		n--;
	out[n] = '\0';
	return 0;
}

static int check_session(const struct mts_tlsrpt_session *s, char *domain,
			 char *mx, char *err, size_t errlen)
{
	const char *why;

	if (s->policy_domain == NULL || s->policy_domain[0] == '\0')
		return mts_errorf(err, errlen, "no policy domain");
	if ((why = mts_hostname_check(s->policy_domain)) != NULL)
		return mts_errorf(err, errlen, "policy domain: %s", why);
	if (lower_host(s->policy_domain, domain, MTS_TLSRPT_HOST_MAX + 1) < 0)
		return mts_errorf(err, errlen, "policy domain too long");
	mx[0] = '\0';
	if (s->mx_host != NULL &&
	    lower_host(s->mx_host, mx, MTS_TLSRPT_HOST_MAX + 1) < 0)
		return mts_errorf(err, errlen, "MX host name too long");
	if (s->policy_type != MTS_TLSRPT_POLICY_STS &&
	    s->policy_type != MTS_TLSRPT_POLICY_NO_POLICY)
		return mts_errorf(err, errlen, "unknown policy type %d",
				  (int)s->policy_type);
	if ((unsigned)s->result >= MTS_TLSRPT_RESULT_COUNT)
		return mts_errorf(err, errlen, "unknown result %d", (int)s->result);
	if (check_ip("sending IP", s->sending_ip, err, errlen) < 0 ||
	    check_ip("receiving IP", s->receiving_ip, err, errlen) < 0)
		return -1;
	if (s->policy_type == MTS_TLSRPT_POLICY_STS &&
	    s->policy_text_len > MTS_POLICY_MAX_BYTES)
		return mts_errorf(err, errlen, "policy text longer than %d bytes",
				  MTS_POLICY_MAX_BYTES);
	return 0;
}

int mts_tlsrpt_format(const struct mts_tlsrpt_session *s, int64_t now,
		      const char *policy_hash, struct mts_buf *line,
		      char *err, size_t errlen)
{
	char domain[MTS_TLSRPT_HOST_MAX + 1], mx[MTS_TLSRPT_HOST_MAX + 1];
	int64_t t = s->time > 0 ? s->time : now;
	uint32_t crc;
	int rc;

	mts_buf_reset(line);
	if (check_session(s, domain, mx, err, errlen) < 0)
		return -1;
	if (t < 0)
		return mts_errorf(err, errlen, "negative time");
	rc = mts_buf_printf(line, RECORD_MAGIC "\t%" PRId64 "\t%s\t%s\t", t,
			    domain, mts_tlsrpt_policy_type_name(s->policy_type));
	if (rc == 0 && s->policy_type == MTS_TLSRPT_POLICY_STS &&
	    policy_hash != NULL)
		rc = mts_buf_append_str(line, policy_hash);
	if (rc == 0) rc = mts_buf_append_str(line, "\t");
	if (rc == 0) rc = escape_field(line, mx, MTS_TLSRPT_HOST_MAX);
	if (rc == 0) rc = mts_buf_append_str(line, "\t");
	if (rc == 0) rc = escape_field(line, s->sending_ip, MTS_TLSRPT_IP_MAX);
	if (rc == 0) rc = mts_buf_append_str(line, "\t");
	if (rc == 0) rc = escape_field(line, s->receiving_ip, MTS_TLSRPT_IP_MAX);
	if (rc == 0) rc = mts_buf_append_str(line, "\t");
	if (rc == 0) rc = escape_field(line, s->receiving_helo,
				       MTS_TLSRPT_HELO_MAX);
	if (rc == 0) rc = mts_buf_printf(line, "\t%s\t",
					 mts_tlsrpt_result_name(s->result));
	if (rc == 0) rc = escape_field(line, s->failure_reason,
				       MTS_TLSRPT_REASON_MAX);
	if (rc == 0) rc = mts_buf_append_str(line, "\t");
	if (rc == 0) rc = escape_field(line, s->additional_info,
				       MTS_TLSRPT_INFO_MAX);
	if (rc < 0)
		return mts_errorf(err, errlen, "out of memory");
	crc = mts_crc32(0, line->data, line->len);
	if (mts_buf_printf(line, "\t%08" PRIx32 "\n", crc) < 0)
		return mts_errorf(err, errlen, "out of memory");
	if (line->len > MTS_TLSRPT_RECORD_MAX)	/* the caps make this impossible */
		return mts_errorf(err, errlen, "record longer than %d bytes",
				  MTS_TLSRPT_RECORD_MAX);
	return 0;
}

static int parse_time(const char *s, size_t len, int64_t *out)
{
	int64_t v = 0;

	if (len == 0 || len > 19)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (INT64_MAX - (s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int is_hash(const char *s, size_t len)
{
	if (len != MTS_TLSRPT_HASH_HEX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (hexval(s[i]) < 0)
			return 0;
	return 1;
}

/* Copies s[len] into out[outsize] when it fits and is a plain word. */
static int copy_plain(const char *s, size_t len, char *out, size_t outsize)
{
	if (len >= outsize)
		return -1;
	/* The writer puts only printable ASCII in these fields; a NUL here
	 * would silently cut the copy ("good.test\0junk" -> "good.test"). */
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return -1;
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

int mts_tlsrpt_parse(const char *line, size_t len, struct mts_tlsrpt_rec *out)
{
	const char *f[RECORD_FIELDS];
	size_t flen[RECORD_FIELDS], n = 0, start = 0;
	char word[32];
	uint32_t crc;
	int64_t crc_value;

	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len == 0 || len >= MTS_TLSRPT_RECORD_MAX)
		return -1;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && line[i] != '\t')
			continue;
		if (n == RECORD_FIELDS)
			return -1;
		f[n] = line + start;
		flen[n++] = i - start;
		start = i + 1;
	}
	if (n != RECORD_FIELDS || flen[0] != 2 || memcmp(f[0], RECORD_MAGIC, 2))
		return -1;
	/* The CRC covers everything before the TAB in front of it. */
	if (flen[12] != 8)
		return -1;
	crc_value = 0;
	for (size_t i = 0; i < 8; i++) {
		int v = hexval(f[12][i]);

		if (v < 0)
			return -1;
		crc_value = crc_value << 4 | v;
	}
	crc = mts_crc32(0, line, (size_t)(f[12] - line) - 1);
	if (crc != (uint32_t)crc_value)
		return -1;
	memset(out, 0, sizeof(*out));
	if (parse_time(f[1], flen[1], &out->time) < 0 ||
	    copy_plain(f[2], flen[2], out->domain, sizeof(out->domain)) < 0 ||
	    mts_hostname_check(out->domain) != NULL ||
	    copy_plain(f[3], flen[3], word, sizeof(word)) < 0 ||
	    policy_type_parse(word, &out->policy_type) < 0)
		return -1;
	if (flen[4] != 0 && (!is_hash(f[4], flen[4]) ||
			     copy_plain(f[4], flen[4], out->policy_hash,
					sizeof(out->policy_hash)) < 0))
		return -1;
	if (unescape_field(f[5], flen[5], out->mx_host,
			   sizeof(out->mx_host)) < 0 ||
	    unescape_field(f[6], flen[6], out->sending_ip,
			   sizeof(out->sending_ip)) < 0 ||
	    unescape_field(f[7], flen[7], out->receiving_ip,
			   sizeof(out->receiving_ip)) < 0 ||
	    unescape_field(f[8], flen[8], out->receiving_helo,
			   sizeof(out->receiving_helo)) < 0 ||
	    copy_plain(f[9], flen[9], word, sizeof(word)) < 0 ||
	    mts_tlsrpt_result_parse(word, &out->result) < 0 ||
	    unescape_field(f[10], flen[10], out->failure_reason,
			   sizeof(out->failure_reason)) < 0 ||
	    unescape_field(f[11], flen[11], out->additional_info,
			   sizeof(out->additional_info)) < 0)
		return -1;
	return 0;
}

/* ---- directories and files ------------------------------------------- */

static int join(char *out, size_t outlen, const char *dir, const char *name)
{
	int n = snprintf(out, outlen, "%s/%s", dir, name);

	return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

/* A private file or directory: ours (or root's), not writable by others. */
static int check_owner(const char *path, const struct stat *st, char *err,
		       size_t errlen)
{
	if (st->st_uid != geteuid() && st->st_uid != 0)
		return mts_errorf(err, errlen, "%s is owned by uid %u, not by us",
				  path, (unsigned)st->st_uid);
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return mts_errorf(err, errlen, "%s is writable by group or others",
				  path);
	return 0;
}

/* Opens path for reading without following a symlink, and vets it: a regular
 * file owned by us or root and not writable by others. Returns 0 with *fdp
 * open, 1 when the file does not exist, -1 with err set. */
static int open_spool_file(const char *path, int *fdp, char *err,
			   size_t errlen)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT)
		return 1;
	if (fd < 0)
		return mts_errorf(err, errlen, "open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return mts_errorf(err, errlen, "%s is not a regular file", path);
	}
	if (check_owner(path, &st, err, errlen) < 0) {
		close(fd);
		return -1;
	}
	*fdp = fd;
	return 0;
}

int mts_tlsrpt_dir(const char *report_dir, const char *sub, char *out,
		   size_t outlen, char *err, size_t errlen)
{
	struct stat st;

	if (report_dir == NULL || report_dir[0] != '/')
		return mts_errorf(err, errlen, "report directory must be an "
				  "absolute path");
	if (mts_cache_dir_check(report_dir, err, errlen) < 0)
		return -1;
	if (sub == NULL) {
		if (mts_strlcpy(out, report_dir, outlen) >= outlen)
			return mts_errorf(err, errlen, "report directory path too long");
		return 0;
	}
	if (join(out, outlen, report_dir, sub) < 0)
		return mts_errorf(err, errlen, "report directory path too long");
	if (mkdir(out, 0700) < 0 && errno != EEXIST)
		return mts_errorf(err, errlen, "mkdir %s: %s", out, strerror(errno));
	if (lstat(out, &st) < 0)
		return mts_errorf(err, errlen, "%s: %s", out, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return mts_errorf(err, errlen, "%s is not a directory", out);
	return check_owner(out, &st, err, errlen);
}

static int plain_name(const char *name)
{
	return name[0] != '\0' && name[0] != '.' && strchr(name, '/') == NULL &&
	       strlen(name) < NAME_MAX;
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int mts_tlsrpt_write_atomic(const char *dir, const char *name,
			    const void *data, size_t len,
			    char *err, size_t errlen)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	int fd, n, saved;

	if (!plain_name(name))
		return mts_errorf(err, errlen, "invalid file name");
	n = snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, name);
	if (n < 0 || (size_t)n >= sizeof(tmp) ||
	    join(path, sizeof(path), dir, name) < 0)
		return mts_errorf(err, errlen, "path too long");
	fd = mkostemp(tmp, O_CLOEXEC);	/* mode 0600 */
	if (fd < 0)
		return mts_errorf(err, errlen, "create %s: %s", tmp, strerror(errno));
	if (write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		saved = errno;
		close(fd);
		unlink(tmp);
		return mts_errorf(err, errlen, "write %s: %s", tmp, strerror(saved));
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		saved = errno;
		unlink(tmp);
		return mts_errorf(err, errlen, "rename to %s: %s", path,
				  strerror(saved));
	}
	return 0;
}

int mts_tlsrpt_read_file(const char *dir, const char *name, size_t max,
			 struct mts_buf *out, char *err, size_t errlen)
{
	char path[PATH_MAX], chunk[8192];
	int fd, rc = -1;

	mts_buf_reset(out);
	if (!plain_name(name))
		return mts_errorf(err, errlen, "invalid file name");
	if (join(path, sizeof(path), dir, name) < 0)
		return mts_errorf(err, errlen, "path too long");
	if ((rc = open_spool_file(path, &fd, err, errlen)) != 0)
		return rc;
	rc = -1;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			mts_errorf(err, errlen, "read %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if ((size_t)n > max - out->len) {
			mts_errorf(err, errlen, "%s is larger than %zu bytes", path,
				   max);
			goto out;
		}
		if (mts_buf_append(out, chunk, (size_t)n) < 0) {
			mts_errorf(err, errlen, "out of memory");
			goto out;
		}
	}
	rc = 0;
out:
	close(fd);
	if (rc < 0)
		mts_buf_reset(out);
	return rc;
}

/* ---- recording ------------------------------------------------------- */

/* policies/<hash>, unless a previous session stored it already. */
static int store_policy(const char *report_dir, const char *hash,
			const struct mts_tlsrpt_session *s,
			char *err, size_t errlen)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct stat st;

	if (mts_tlsrpt_dir(report_dir, POLICY_SUBDIR, dir, sizeof(dir), err,
			   errlen) < 0)
		return -1;
	if (join(path, sizeof(path), dir, hash) < 0)
		return mts_errorf(err, errlen, "path too long");
	if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    (size_t)st.st_size == s->policy_text_len) {
		/* Still in use: its time stamp says so, at most once a day,
		 * so that `mtasts report` prunes only unused texts. */
		if (st.st_mtime < time(NULL) - 86400)
			utimensat(AT_FDCWD, path, NULL, AT_SYMLINK_NOFOLLOW);
		return 0;
	}
	return mts_tlsrpt_write_atomic(dir, hash, s->policy_text,
				       s->policy_text_len, err, errlen);
}

/* One write(2) of the whole line to the end of the day's spool file. */
static int append_line(const char *path, const struct mts_buf *line,
		       char *err, size_t errlen)
{
	struct stat st;
	ssize_t n;
	int fd, rc = -1;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0)
		return mts_errorf(err, errlen, "open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		mts_errorf(err, errlen, "%s is not a regular file", path);
		goto out;
	}
	if (check_owner(path, &st, err, errlen) < 0)
		goto out;
	if ((int64_t)st.st_size >= MTS_TLSRPT_SPOOL_MAX) {
		mts_errorf(err, errlen, "spool %s is full (%" PRId64 " bytes): "
			   "session not recorded", path, MTS_TLSRPT_SPOOL_MAX);
		goto out;
	}
	do
		n = write(fd, line->data, line->len);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		mts_errorf(err, errlen, "write %s: %s", path, strerror(errno));
		goto out;
	}
	if ((size_t)n != line->len) {
		/* End the fragment here so the next record starts a line;
		 * the reader skips the fragment (bad CRC). */
		if (write(fd, "\n", 1) < 0) {
			/* nothing more to do: the disk is full */
		}
		mts_errorf(err, errlen, "short write to %s (disk full?)", path);
		goto out;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}

int mts_tlsrpt_record(const char *report_dir,
		      const struct mts_tlsrpt_session *s,
		      char *err, size_t errlen)
{
	struct mts_buf line = MTS_BUF_INIT;
	char hash[MTS_TLSRPT_HASH_HEX + 1] = "", day[11];
	char dir[PATH_MAX], path[PATH_MAX];
	int64_t now = (int64_t)time(NULL);
	int has_text, rc = -1;

	has_text = s->policy_type == MTS_TLSRPT_POLICY_STS &&
		   s->policy_text != NULL && s->policy_text_len > 0;
	if (has_text && s->policy_text_len <= MTS_POLICY_MAX_BYTES &&
	    sha256_hex(s->policy_text, s->policy_text_len, hash) < 0)
		return mts_errorf(err, errlen, "SHA-256 failed");
	if (mts_tlsrpt_format(s, now, has_text ? hash : NULL, &line, err,
			      errlen) < 0)
		goto out;
	if (mts_tlsrpt_day_of(s->time > 0 ? s->time : now, day) < 0) {
		mts_errorf(err, errlen, "time out of range");
		goto out;
	}
	if (mts_tlsrpt_dir(report_dir, SPOOL_SUBDIR, dir, sizeof(dir), err,
			   errlen) < 0)
		goto out;
	if (has_text && store_policy(report_dir, hash, s, err, errlen) < 0)
		goto out;
	if (join(path, sizeof(path), dir, day) < 0) {
		mts_errorf(err, errlen, "path too long");
		goto out;
	}
	rc = append_line(path, &line, err, errlen);
out:
	mts_buf_free(&line);
	return rc;
}

/* ---- reading back ---------------------------------------------------- */

struct line_reader {
	mts_tlsrpt_visit_fn visit;
	void *arg;
	size_t records;
	size_t damaged;
};

static int take_line(struct line_reader *lr, const char *line, size_t len)
{
	struct mts_tlsrpt_rec *rec;
	int rc;

	if (len == 0 || (len == 1 && line[0] == '\n'))
		return 0;	/* the LF after a short write */
	rec = malloc(sizeof(*rec));
	if (rec == NULL)
		return -1;
	if (mts_tlsrpt_parse(line, len, rec) < 0) {
		lr->damaged++;
		free(rec);
		return 0;
	}
	lr->records++;
	rc = lr->visit ? lr->visit(rec, lr->arg) : 0;
	free(rec);
	return rc;
}

int mts_tlsrpt_read_day(const char *report_dir, const char *day,
			mts_tlsrpt_visit_fn visit, void *arg,
			size_t *records, size_t *damaged,
			char *err, size_t errlen)
{
	struct line_reader lr = { visit, arg, 0, 0 };
	struct mts_buf pending = MTS_BUF_INIT;
	char path[PATH_MAX], *chunk = NULL;
	int64_t start;
	int fd, skipping = 0, rc = -1;

	if (mts_tlsrpt_day_parse(day, &start) < 0)
		return mts_errorf(err, errlen, "invalid day \"%.20s\"", day);
	if (snprintf(path, sizeof(path), "%s/" SPOOL_SUBDIR "/%s", report_dir,
		     day) >= (int)sizeof(path))
		return mts_errorf(err, errlen, "path too long");
	if ((rc = open_spool_file(path, &fd, err, errlen)) != 0)
		return rc;
	rc = -1;
	if ((chunk = malloc(READ_CHUNK)) == NULL) {
		mts_errorf(err, errlen, "out of memory");
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, READ_CHUNK);
		size_t from = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			mts_errorf(err, errlen, "read %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		for (size_t i = 0; i < (size_t)n; i++) {
			int vrc;

			if (chunk[i] != '\n')
				continue;
			if (skipping) {
				skipping = 0;
				from = i + 1;
				continue;
			}
			if (mts_buf_append(&pending, chunk + from,
					   i + 1 - from) < 0) {
				mts_errorf(err, errlen, "out of memory");
				goto out;
			}
			from = i + 1;
			vrc = take_line(&lr, pending.data, pending.len);
			mts_buf_reset(&pending);
			if (vrc != 0) {
				rc = vrc;
				if (vrc < 0)
					mts_errorf(err, errlen, "out of memory");
				goto done;
			}
		}
		if (!skipping && mts_buf_append(&pending, chunk + from,
						(size_t)n - from) < 0) {
			mts_errorf(err, errlen, "out of memory");
			goto out;
		}
		if (pending.len > MTS_TLSRPT_RECORD_MAX) {
			/* No record is this long: drop it up to the next LF. */
			lr.damaged++;
			skipping = 1;
			mts_buf_reset(&pending);
		}
	}
	if (pending.len > 0)
		lr.damaged++;	/* a last line without LF is incomplete */
	rc = 0;
done:
	if (records)
		*records = lr.records;
	if (damaged)
		*damaged = lr.damaged;
out:
	free(chunk);
	mts_buf_free(&pending);
	close(fd);
	return rc;
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int mts_tlsrpt_days(const char *report_dir, struct mts_strlist *days,
		    char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	if (join(path, sizeof(path), report_dir, SPOOL_SUBDIR) < 0)
		return mts_errorf(err, errlen, "path too long");
	d = opendir(path);
	if (d == NULL && errno == ENOENT)
		return 0;
	if (d == NULL)
		return mts_errorf(err, errlen, "open %s: %s", path, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		int64_t start;

		if (mts_tlsrpt_day_parse(de->d_name, &start) < 0)
			continue;
		if (mts_strlist_add(days, de->d_name) < 0) {
			closedir(d);
			return mts_errorf(err, errlen, "out of memory");
		}
	}
	closedir(d);
	if (days->count > 1)
		qsort(days->item, days->count, sizeof(days->item[0]),
		      compare_strings);
	return 0;
}

int mts_tlsrpt_policy_load(const char *report_dir, const char *hash,
			   struct mts_buf *text, char *err, size_t errlen)
{
	char dir[PATH_MAX];

	if (hash == NULL || !is_hash(hash, strlen(hash)))
		return mts_errorf(err, errlen, "invalid policy hash");
	if (join(dir, sizeof(dir), report_dir, POLICY_SUBDIR) < 0)
		return mts_errorf(err, errlen, "path too long");
	return mts_tlsrpt_read_file(dir, hash, MTS_POLICY_MAX_BYTES, text,
				    err, errlen);
}

/* ---- the _smtp._tls TXT record ---------------------------------------- */

#define TLSRPT_VERSION "v=TLSRPTv1"
#define EXT_NAME_MAX 32

static int is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static int is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

int mts_tlsrpt_txt_is_tlsrpt(const char *rec, size_t len)
{
	size_t v = sizeof(TLSRPT_VERSION) - 1;

	if (len < v || memcmp(rec, TLSRPT_VERSION, v) != 0)
		return 0;
	return len == v || rec[v] == ';' || is_wsp(rec[v]);
}

/* One URI of a rua list: visible ASCII other than ',' and ';'. */
static size_t uri_span(const char *p, const char *end)
{
	size_t n = 0;

	while (p + n < end && p[n] > 0x20 && p[n] < 0x7f && p[n] != ',' &&
	       p[n] != ';')
		n++;
	return n;
}

static int usable_uri(const char *uri, size_t len)
{
	if (len > 7 && strncasecmp(uri, "mailto:", 7) == 0)
		return 1;
	return len > 8 && strncasecmp(uri, "https://", 8) == 0;
}

/* rua value at *pp: URIs separated by *WSP "," *WSP. */
static const char *parse_rua(const char **pp, const char *end,
			     struct mts_strlist *rua, int keep)
{
	const char *p = *pp;

	for (;;) {
		size_t n = uri_span(p, end);

		if (n == 0)
			return "empty URI in rua";
		if (memchr(p, ':', n) == NULL)
			return "rua URI without a scheme";
		if (keep && usable_uri(p, n) &&
		    mts_strlist_addn(rua, p, n) < 0)
			return "out of memory";
		p += n;
		{
			const char *q = p;

			while (q < end && is_wsp(*q))
				q++;
			if (q < end && *q == ',') {
				q++;
				while (q < end && is_wsp(*q))
					q++;
				p = q;
				continue;
			}
		}
		break;
	}
	*pp = p;
	return NULL;
}

static const char *parse_extension(const char **pp, const char *end)
{
	const char *p = *pp;
	size_t n = 0;

	while (p + n < end && (is_alnum(p[n]) || p[n] == '_' || p[n] == '-' ||
			       p[n] == '.'))
		n++;
	if (n == 0 || !is_alnum(p[0]))
		return "invalid field name";
	if (n > EXT_NAME_MAX)
		return "field name longer than 32 characters";
	p += n;
	if (p >= end || *p != '=')
		return "field without '='";
	p++;
	n = 0;
	while (p + n < end && p[n] >= 0x21 && p[n] <= 0x7e && p[n] != ';' &&
	       p[n] != '=')
		n++;
	if (n == 0)
		return "empty field value";
	*pp = p + n;
	return NULL;
}

const char *mts_tlsrpt_txt_parse(const char *rec, size_t len,
				 struct mts_strlist *rua)
{
	const char *p = rec, *end = rec + len, *why;
	size_t fields = 0;
	int have_rua = 0;

	if (memchr(rec, '\0', len) != NULL)
		return "NUL byte in record";
	if (!mts_tlsrpt_txt_is_tlsrpt(rec, len))
		return "does not begin with v=TLSRPTv1";
	p += sizeof(TLSRPT_VERSION) - 1;
	for (;;) {
		while (p < end && is_wsp(*p))
			p++;
		if (p == end)
			break;
		if (*p != ';')
			return "expected ';' between fields";
		p++;
		while (p < end && is_wsp(*p))
			p++;
		if (p == end)
			break;	/* one trailing delimiter */
		if (end - p >= 4 && memcmp(p, "rua=", 4) == 0) {
			p += 4;
			why = parse_rua(&p, end, rua, !have_rua);
			have_rua = 1;
		} else {
			why = parse_extension(&p, end);
		}
		if (why != NULL)
			return why;
		fields++;
	}
	if (fields == 0)
		return "no field after the version";
	if (!have_rua)
		return "no rua field";
	if (rua->count == 0)
		return "no mailto: or https: URI in rua";
	return NULL;
}

const char *mts_tlsrpt_txt_select(char *const *records, const size_t *lens,
				  size_t count, struct mts_strlist *rua)
{
	size_t found = 0, which = 0;

	for (size_t i = 0; i < count; i++)
		if (mts_tlsrpt_txt_is_tlsrpt(records[i], lens[i])) {
			found++;
			which = i;
		}
	if (found == 0)
		return "no v=TLSRPTv1 record";
	if (found > 1)
		return "more than one v=TLSRPTv1 record";
	return mts_tlsrpt_txt_parse(records[which], lens[which], rua);
}
