/*
 * certname.c - does a certificate name an MX host? (RFC 8461 sections 4.2, 7)
 *
 * SYNOPSIS
 *	if (!mts_cert_name_match(peer_cert, "mx1.example.com"))
 *		fail("certificate-host-mismatch");
 *
 * DESCRIPTION
 *	Only subjectAltName dNSName entries count. RFC 8461 asks for a
 *	DNS-ID (RFC 6125) and never mentions the subject CN; OpenSSL falls
 *	back to the CN when a certificate has no DNS SAN unless told not
 *	to, so we both pass X509_CHECK_FLAG_NEVER_CHECK_SUBJECT and refuse
 *	a certificate without any DNS SAN before asking OpenSSL at all.
 *	X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS keeps "m*.example.com" from
 *	matching; OpenSSL's own rules already limit a wildcard to the whole
 *	left-most label, matching exactly one label, and refuse wildcards
 *	directly under a single-label suffix ("*.com").
 *
 *	The host must pass mts_hostname_check(): a reference name with a
 *	leading dot would make X509_check_host() match any subdomain, and an
 *	IP literal has no business in a DNS-ID check.
 *
 *	mts_cert_matches_policy() answers a different question: the MX
 *	name is unknown (a connection to an address literal), so the
 *	certificate itself must prove that its holder is an MX the policy
 *	authorises. A SAN proves "I am one of the names this SAN covers",
 *	not which one; so a SAN counts only when every name it covers is
 *	authorised by one pattern:
 *	  - a plain SAN "mx1.example.com" covers one name: it counts when
 *	    a pattern matches it (mts_mx_match);
 *	  - a wildcard SAN "*.example.com" covers every name one label
 *	    under example.com: only the identical pattern "*.example.com"
 *	    authorises all of them. The pattern "mx1.example.com" does not:
 *	    the holder may as well be www.example.com, which the domain
 *	    never listed as an MX.
 *	SANs that are not valid host names (partial wildcards, "*.com",
 *	embedded NUL bytes, IP text, a trailing dot) never count.
 *
 * BUGS
 *	A certificate with two subjectAltName extensions has no SAN as far
 *	as X509_get_ext_d2i() is concerned, and so never matches. That is
 *	the safe side, and OpenSSL's own X509_check_host() agrees.
 */
#include "certname.h"

#include <string.h>

#include <openssl/x509v3.h>

#include "match.h"

#define NAME_BUF 256		/* 253 + trailing dot + NUL, rounded */
#define CHECK_FLAGS (X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | \
		     X509_CHECK_FLAG_NEVER_CHECK_SUBJECT)

static GENERAL_NAMES *subject_alt_names(X509 *cert)
{
	return X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
}

/* The dNSName of entry i, or NULL when entry i is of another type. */
static const ASN1_IA5STRING *dns_name_at(GENERAL_NAMES *names, int i)
{
	const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);

	if (gn == NULL || gn->type != GEN_DNS || gn->d.dNSName == NULL)
		return NULL;
	return gn->d.dNSName;
}

static int has_dns_san(X509 *cert)
{
	GENERAL_NAMES *names = subject_alt_names(cert);
	int found = 0;

	for (int i = 0; names != NULL && i < sk_GENERAL_NAME_num(names); i++)
		if (dns_name_at(names, i) != NULL)
			found = 1;
	GENERAL_NAMES_free(names);
	return found;
}

int mts_cert_name_match(X509 *cert, const char *host)
{
	char name[NAME_BUF];

	if (cert == NULL || host == NULL || mts_hostname_check(host) != NULL)
		return 0;
	if (mts_name_normalise(host, name, sizeof(name)) < 0)
		return 0;
	if (!has_dns_san(cert))
		return 0;
	return X509_check_host(cert, name, strlen(name), CHECK_FLAGS,
			       NULL) == 1;
}

/*
 * Copies a SAN into out[NAME_BUF] lower-cased, when it is a NUL-free
 * string of plausible length without a trailing dot; else -1. (A SAN
 * "mx.example.com." never satisfies X509_check_host() for
 * "mx.example.com" either: both paths refuse it alike.)
 */
static int san_text(const ASN1_IA5STRING *san, char *out)
{
	const unsigned char *data = ASN1_STRING_get0_data(san);
	int len = ASN1_STRING_length(san);
	char raw[NAME_BUF];

	if (data == NULL || len <= 0 || (size_t)len >= sizeof(raw) ||
	    memchr(data, '\0', (size_t)len) != NULL || data[len - 1] == '.')
		return -1;
	memcpy(raw, data, (size_t)len);
	raw[len] = '\0';
	return mts_name_normalise(raw, out, NAME_BUF);
}

/* Does this one SAN prove an authorised MX? (see DESCRIPTION) */
static int san_authorised(const char *san, const struct mts_policy *p)
{
	char pattern[NAME_BUF];

	if (san[0] == '*') {
		if (mts_mx_pattern_check(san) != NULL)
			return 0;
		for (size_t i = 0; i < p->mx.count; i++)
			if (mts_name_normalise(p->mx.item[i], pattern,
					       sizeof(pattern)) == 0 &&
			    strcmp(pattern, san) == 0)
				return 1;
		return 0;
	}
	if (mts_hostname_check(san) != NULL)
		return 0;
	return mts_policy_mx_allowed(p, san);
}

int mts_cert_matches_policy(X509 *cert, const struct mts_policy *p)
{
	GENERAL_NAMES *names;
	const ASN1_IA5STRING *dns;
	char san[NAME_BUF];
	int found = 0;

	if (cert == NULL || p == NULL)
		return 0;
	names = subject_alt_names(cert);
	for (int i = 0; names != NULL && !found &&
	     i < sk_GENERAL_NAME_num(names); i++) {
		if ((dns = dns_name_at(names, i)) == NULL ||
		    san_text(dns, san) < 0)
			continue;
		found = san_authorised(san, p);
	}
	GENERAL_NAMES_free(names);
	return found;
}

int mts_cert_dns_names(X509 *cert, struct mts_strlist *out)
{
	GENERAL_NAMES *names;
	const ASN1_IA5STRING *dns;
	struct mts_buf text = MTS_BUF_INIT;
	int rc = 0;

	if (cert == NULL || out == NULL)
		return -1;
	names = subject_alt_names(cert);
	for (int i = 0; names != NULL && i < sk_GENERAL_NAME_num(names); i++) {
		const unsigned char *data;
		int len;

		if ((dns = dns_name_at(names, i)) == NULL)
			continue;
		data = ASN1_STRING_get0_data(dns);
		len = ASN1_STRING_length(dns);
		/* Shown in logs and reports: printable ASCII only. */
		mts_buf_reset(&text);
		for (int j = 0; data != NULL && j < len && rc == 0; j++) {
			char c = (data[j] > 0x20 && data[j] < 0x7f) ?
				 (char)data[j] : '?';

			rc = mts_buf_append(&text, &c, 1);
		}
		if (rc == 0)
			rc = mts_strlist_addn(out, mts_buf_str(&text), text.len);
		if (rc < 0)
			break;
	}
	GENERAL_NAMES_free(names);
	mts_buf_free(&text);
	return rc < 0 ? -1 : 0;
}
