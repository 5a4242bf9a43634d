/*
 * dkim.c - DKIM signatures for report mails (RFC 6376): rsa-sha256, relaxed/relaxed
 *
 * SYNOPSIS
 *	mts_dkim_init(&dkim, "/etc/mtasts/dkim.pem", "example.org", "s1", ...);
 *	mts_dkim_sign(&dkim, msg, len, time(NULL), &sig, err, errlen);
 *
 * DESCRIPTION
 *	Only what report mails need: the messages are built by deliver.c, so
 *	they are well formed (CRLF line ends, ASCII, unique header fields);
 *	the code still copes with folded fields and any whitespace, since
 *	canonicalisation mistakes are exactly what makes signatures fail.
 *
 *	Signing (RFC 6376 section 5): body hash over the relaxed body; then
 *	one SHA-256 over the relaxed forms of the signed header fields in
 *	h= order, followed by the relaxed DKIM-Signature field itself with
 *	an empty b= value and without its final CRLF; the RSASSA-PKCS1-v1_5
 *	signature of that (EVP_DigestSign) goes into b=. Because relaxed
 *	canonicalisation unfolds and collapses whitespace, the field is
 *	signed exactly as it is emitted (folded), and the b= value may be
 *	folded freely: verifiers delete it with its surrounding whitespace.
 */
#include "dkim.h"

#include <inttypes.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "match.h"

#define DKIM_MIN_BITS 1024
#define B64_FOLD 72
#define MAX_FIELDS 256

static int is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* ---- canonicalisation (RFC 6376 3.4.2, 3.4.4) ------------------------- */

int mts_dkim_canon_header(const char *field, size_t len, struct mts_buf *out)
{
	const char *colon = memchr(field, ':', len);
	size_t name_len, start = out->len;
	int pending_space = 0, any = 0;

	if (colon == NULL)
		return -1;
	name_len = (size_t)(colon - field);
	while (name_len > 0 && is_wsp(field[name_len - 1]))
		name_len--;
	for (size_t i = 0; i < name_len; i++) {
		char c = field[i];

		c = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
		if (mts_buf_append(out, &c, 1) < 0)
			goto fail;
	}
	if (mts_buf_append(out, ":", 1) < 0)
		goto fail;
	for (const char *p = colon + 1; p < field + len; p++) {
		if (*p == '\r' || *p == '\n')
			continue;	/* unfold */
		if (is_wsp(*p)) {
			pending_space = 1;
			continue;
		}
		if (pending_space && any && mts_buf_append(out, " ", 1) < 0)
			goto fail;
		if (mts_buf_append(out, p, 1) < 0)
			goto fail;
		pending_space = 0;
		any = 1;
	}
	if (mts_buf_append(out, "\r\n", 2) < 0)
		goto fail;
	return 0;
fail:
	out->len = start;
	if (out->data)
		out->data[start] = '\0';
	return -1;
}

/* One body line (without its CRLF) in relaxed form, appended to out. */
static int canon_line(const char *p, size_t n, struct mts_buf *out)
{
	int pending_space = 0;

	for (size_t i = 0; i < n; i++) {
		if (is_wsp(p[i])) {
			pending_space = 1;
			continue;
		}
		if (pending_space && mts_buf_append(out, " ", 1) < 0)
			return -1;
		if (mts_buf_append(out, p + i, 1) < 0)
			return -1;
		pending_space = 0;
	}
	return 0;	/* trailing whitespace dropped */
}

int mts_dkim_canon_body(const char *body, size_t len, struct mts_buf *out)
{
	struct mts_buf line = MTS_BUF_INIT;
	const char *p = body, *end = body + len;
	size_t empty_lines = 0;
	int rc = 0;

	while (rc == 0 && p < end) {
		const char *eol = p;

		while (eol + 1 < end && !(eol[0] == '\r' && eol[1] == '\n'))
			eol++;
		if (eol + 1 >= end)	/* the last line has no CRLF */
			eol = end;
		mts_buf_reset(&line);
		rc = canon_line(p, (size_t)(eol - p), &line);
		if (rc == 0 && line.len == 0) {
			empty_lines++;	/* written only if text follows */
		} else if (rc == 0) {
			for (; rc == 0 && empty_lines > 0; empty_lines--)
				rc = mts_buf_append(out, "\r\n", 2);
			if (rc == 0)
				rc = mts_buf_append(out, line.data, line.len);
			if (rc == 0)
				rc = mts_buf_append(out, "\r\n", 2);
		}
		p = eol < end ? eol + 2 : end;
	}
	mts_buf_free(&line);
	if (rc == 0 && out->data == NULL)
		rc = mts_buf_append(out, "", 0);	/* a valid empty string */
	return rc;
}

/* ---- keys ------------------------------------------------------------ */

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;	/* never prompt: an encrypted key is an error */
}

static int selector_ok(const char *s)
{
	size_t len = strlen(s), label = 0;

	if (len == 0 || len > MTS_DKIM_SELECTOR_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || (c == '-' && label > 0)))
			return 0;
		label++;
	}
	return label > 0 && s[len - 1] != '-';
}

int mts_dkim_init(struct mts_dkim *d, const char *key_path,
		  const char *domain, const char *selector,
		  char *err, size_t errlen)
{
	const char *why;
	BIO *bio;

	memset(d, 0, sizeof(*d));
	if ((why = mts_hostname_check(domain)) != NULL)
		return mts_errorf(err, errlen, "MTASTS_REPORT_DKIM_DOMAIN: \"%.80s\" "
				  "is not a domain name: %s", domain, why);
	if (!selector_ok(selector))
		return mts_errorf(err, errlen, "MTASTS_REPORT_DKIM_SELECTOR: "
				  "\"%.80s\" is not a selector (labels of letters, "
				  "digits and '-')", selector);
	bio = BIO_new_file(key_path, "r");
	if (bio == NULL) {
		ERR_clear_error();
		return mts_errorf(err, errlen, "MTASTS_REPORT_DKIM_KEY: cannot read "
				  "%.200s", key_path);
	}
	d->key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	ERR_clear_error();
	if (d->key == NULL)
		return mts_errorf(err, errlen, "MTASTS_REPORT_DKIM_KEY: %.200s holds "
				  "no unencrypted PEM private key", key_path);
	if (!EVP_PKEY_is_a(d->key, "RSA") ||
	    EVP_PKEY_get_bits(d->key) < DKIM_MIN_BITS) {
		mts_dkim_free(d);
		return mts_errorf(err, errlen, "MTASTS_REPORT_DKIM_KEY: %.200s is not "
				  "an RSA key of at least %d bits (rsa-sha256)",
				  key_path, DKIM_MIN_BITS);
	}
	mts_strlcpy(d->domain, domain, sizeof(d->domain));
	mts_strlcpy(d->selector, selector, sizeof(d->selector));
	return 0;
}

int mts_dkim_from_env(struct mts_dkim *d, char *err, size_t errlen)
{
	const char *key = secure_getenv("MTASTS_REPORT_DKIM_KEY");
	const char *sel = secure_getenv("MTASTS_REPORT_DKIM_SELECTOR");
	const char *dom = secure_getenv("MTASTS_REPORT_DKIM_DOMAIN");
	int set = (key && *key) + (sel && *sel) + (dom && *dom);

	memset(d, 0, sizeof(*d));
	if (set == 0)
		return 1;
	if (set != 3)
		return mts_errorf(err, errlen, "DKIM signing needs all of "
				  "MTASTS_REPORT_DKIM_KEY, MTASTS_REPORT_DKIM_SELECTOR "
				  "and MTASTS_REPORT_DKIM_DOMAIN; %s is not set",
				  !(key && *key) ? "MTASTS_REPORT_DKIM_KEY" :
				  !(sel && *sel) ? "MTASTS_REPORT_DKIM_SELECTOR" :
						   "MTASTS_REPORT_DKIM_DOMAIN");
	return mts_dkim_init(d, key, dom, sel, err, errlen);
}

void mts_dkim_free(struct mts_dkim *d)
{
	EVP_PKEY_free(d->key);
	memset(d, 0, sizeof(*d));
}

/* ---- signing --------------------------------------------------------- */

struct field {
	const char *start;
	size_t len;		/* including its final CRLF */
	int used;
};

/* Splits the header section into fields; returns the body offset. */
static int split_header(const char *msg, size_t len, struct field *f,
			size_t *count, size_t *body)
{
	size_t pos = 0, n = 0;

	while (pos < len) {
		const char *eol;
		size_t end;

		if (len - pos >= 2 && msg[pos] == '\r' && msg[pos + 1] == '\n') {
			*body = pos + 2;
			*count = n;
			return 0;
		}
		if (is_wsp(msg[pos]) || n == MAX_FIELDS)
			return -1;	/* continuation without a field */
		end = pos;
		for (;;) {
			eol = memchr(msg + end, '\n', len - end);
			if (eol == NULL || eol == msg + end || eol[-1] != '\r')
				return -1;
			end = (size_t)(eol - msg) + 1;
			if (end < len && is_wsp(msg[end]))
				continue;	/* folded */
			break;
		}
		f[n].start = msg + pos;
		f[n].len = end - pos;
		f[n].used = 0;
		n++;
		pos = end;
	}
	return -1;	/* no empty line */
}

static int field_named(const struct field *f, const char *name, size_t nlen)
{
	size_t i = 0;

	if (f->len < nlen || strncasecmp(f->start, name, nlen) != 0)
		return 0;
	i = nlen;
	while (i < f->len && is_wsp(f->start[i]))
		i++;
	return i < f->len && f->start[i] == ':';
}

static int base64(const unsigned char *in, size_t len, struct mts_buf *out)
{
	size_t need = 4 * ((len + 2) / 3);
	int n;

	if (len > (size_t)INT32_MAX / 2 || mts_buf_reserve(out, need) < 0)
		return -1;
	n = EVP_EncodeBlock((unsigned char *)out->data + out->len, in,
			    (int)len);
	if (n < 0)
		return -1;
	out->len += (size_t)n;
	out->data[out->len] = '\0';
	return 0;
}

/* Canonical signed fields into hashed, their names into h. */
static int select_fields(struct field *f, size_t count, struct mts_buf *hashed,
			 struct mts_buf *h)
{
	const char *list = MTS_DKIM_HEADERS;

	while (*list) {
		const char *colon = strchr(list, ':');
		size_t nlen = colon ? (size_t)(colon - list) : strlen(list);

		for (size_t i = count; i-- > 0;) {
			if (f[i].used || !field_named(&f[i], list, nlen))
				continue;
			f[i].used = 1;
			if (mts_dkim_canon_header(f[i].start, f[i].len,
						  hashed) < 0 ||
			    (h->len && mts_buf_append(h, ":", 1) < 0) ||
			    mts_buf_append(h, list, nlen) < 0)
				return -1;
			break;
		}
		list += nlen + (colon ? 1 : 0);
	}
	return 0;
}

static int rsa_sign(EVP_PKEY *key, const struct mts_buf *data,
		    struct mts_buf *b64)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t siglen = (size_t)EVP_PKEY_get_size(key);
	unsigned char *sig = malloc(siglen ? siglen : 1);
	int rc = -1;

	if (ctx != NULL && sig != NULL &&
	    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
	    EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)data->data,
			   data->len) == 1)
		rc = base64(sig, siglen, b64);
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	free(sig);
	return rc;
}

int mts_dkim_sign(const struct mts_dkim *d, const char *msg, size_t len,
		  int64_t t, struct mts_buf *sig, char *err, size_t errlen)
{
	struct field *f = calloc(MAX_FIELDS, sizeof(*f));
	struct mts_buf body = MTS_BUF_INIT, hashed = MTS_BUF_INIT;
	struct mts_buf h = MTS_BUF_INIT, bh = MTS_BUF_INIT, b = MTS_BUF_INIT;
	struct mts_buf field = MTS_BUF_INIT;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t count = 0, body_at = 0;
	int rc = -1;

	if (f == NULL) {
		mts_errorf(err, errlen, "out of memory");
		goto out;
	}
	if (d->key == NULL) {
		mts_errorf(err, errlen, "DKIM: no key");
		goto out;
	}
	if (split_header(msg, len, f, &count, &body_at) < 0) {
		mts_errorf(err, errlen, "DKIM: message header is malformed");
		goto out;
	}
	if (mts_dkim_canon_body(msg + body_at, len - body_at, &body) < 0 ||
	    EVP_Digest(body.data, body.len, md, &mdlen, EVP_sha256(),
		       NULL) != 1 ||
	    base64(md, mdlen, &bh) < 0 ||
	    select_fields(f, count, &hashed, &h) < 0) {
		mts_errorf(err, errlen, "DKIM: out of memory or digest failure");
		goto out;
	}
	if (h.len == 0 || strncmp(h.data, "from", 4) != 0) {
		mts_errorf(err, errlen, "DKIM: the message has no From field");
		goto out;
	}
	if (mts_buf_printf(&field, "DKIM-Signature: v=1; a=rsa-sha256; "
			   "c=relaxed/relaxed; d=%s; s=%s;\r\n\tt=%" PRId64
			   "; h=%s;\r\n\tbh=%s;\r\n\tb=", d->domain,
			   d->selector, t, h.data, bh.data) < 0 ||
	    mts_dkim_canon_header(field.data, field.len, &hashed) < 0) {
		mts_errorf(err, errlen, "out of memory");
		goto out;
	}
	hashed.len -= 2;	/* the signature field goes in without CRLF */
	hashed.data[hashed.len] = '\0';
	if (rsa_sign(d->key, &hashed, &b) < 0) {
		mts_errorf(err, errlen, "DKIM: RSA signature failed");
		goto out;
	}
	for (size_t i = 0; i < b.len; i += B64_FOLD) {
		size_t n = b.len - i < B64_FOLD ? b.len - i : B64_FOLD;

		if ((i && mts_buf_append(&field, "\r\n\t", 3) < 0) ||
		    mts_buf_append(&field, b.data + i, n) < 0) {
			mts_errorf(err, errlen, "out of memory");
			goto out;
		}
	}
	if (mts_buf_append(&field, "\r\n", 2) < 0 ||
	    mts_buf_append(sig, field.data, field.len) < 0) {
		mts_errorf(err, errlen, "out of memory");
		goto out;
	}
	rc = 0;
out:
	free(f);
	mts_buf_free(&body);
	mts_buf_free(&hashed);
	mts_buf_free(&h);
	mts_buf_free(&bh);
	mts_buf_free(&b);
	mts_buf_free(&field);
	return rc;
}
