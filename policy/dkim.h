/*
 * dkim.h - DKIM signatures for report mails (RFC 6376): rsa-sha256, relaxed/relaxed
 *
 * SYNOPSIS
 *	struct mts_dkim dkim;
 *	switch (mts_dkim_from_env(&dkim, err, sizeof(err))) {
 *	case 0: mts_dkim_sign(&dkim, msg.data, msg.len, time(NULL), &sig,
 *			      err, sizeof(err)); ...	// then sig + msg
 *	case 1: ...					// not configured
 *	default: ...					// configuration error
 *	}
 *	mts_dkim_free(&dkim);
 *
 * DESCRIPTION
 *	RFC 8460 section 5.3 requires report mails to carry a valid DKIM
 *	signature of the reporting domain, without the l= tag. When the
 *	outbound relay signs for the domain anyway, configure nothing here:
 *	docs/TLSRPT.md explains both set-ups.
 *
 *	mts_dkim_from_env() reads (secure_getenv):
 *	  MTASTS_REPORT_DKIM_KEY       PEM file with the RSA private key
 *	                               (PKCS#8 or traditional, at least 1024
 *	                               bits; 2048 recommended, RFC 8301)
 *	  MTASTS_REPORT_DKIM_SELECTOR  s= tag, e.g. "tlsrpt2025"
 *	  MTASTS_REPORT_DKIM_DOMAIN    d= tag, the signing domain
 *	All three or none: returns 1 when none is set, -1 (err names the
 *	variable) when only some are, or the key is unusable.
 *
 *	mts_dkim_sign() signs a complete message: header fields, an empty
 *	line, the body, all lines ending in CRLF. It signs every header
 *	field of MTS_DKIM_HEADERS the message has (the last instance of each,
 *	RFC 6376 5.4.2), hashes the body with relaxed canonicalisation
 *	(bh=), and appends to sig one complete "DKIM-Signature:" field,
 *	folded, ending in CRLF: v=1; a=rsa-sha256; c=relaxed/relaxed; d=;
 *	s=; t=; h=; bh=; b=. No l=, no x=. The caller puts it in front of
 *	the other header fields.
 *
 *	The canonicalisation functions are exposed for tests:
 *	mts_dkim_canon_header() takes one header field (name, colon, value,
 *	possibly folded, with or without its final CRLF) and appends
 *	"name:value\r\n" per RFC 6376 3.4.2; mts_dkim_canon_body() appends
 *	the body per 3.4.4 (whitespace runs to one SP, trailing whitespace
 *	and trailing empty lines removed, a final CRLF added when missing;
 *	an empty body stays empty).
 *
 * DIAGNOSTICS
 *	0 on success, -1 with a message in err. The private key is never
 *	logged or printed.
 */
#ifndef MTS_DKIM_H
#define MTS_DKIM_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define MTS_DKIM_HEADERS \
	"from:to:subject:date:message-id:mime-version:content-type:" \
	"tls-report-domain:tls-report-submitter:auto-submitted:tls-required"

#define MTS_DKIM_SELECTOR_MAX 63

struct mts_dkim {
	EVP_PKEY *key;
	char domain[254];
	char selector[MTS_DKIM_SELECTOR_MAX + 1];
};

int mts_dkim_init(struct mts_dkim *d, const char *key_path,
		  const char *domain, const char *selector,
		  char *err, size_t errlen);
int mts_dkim_from_env(struct mts_dkim *d, char *err, size_t errlen);
void mts_dkim_free(struct mts_dkim *d);

int mts_dkim_sign(const struct mts_dkim *d, const char *msg, size_t len,
		  int64_t t, struct mts_buf *sig, char *err, size_t errlen);

int mts_dkim_canon_header(const char *field, size_t len, struct mts_buf *out);
int mts_dkim_canon_body(const char *body, size_t len, struct mts_buf *out);

#endif
