/*
 * fuzz_certname.c - libFuzzer target for the certificate name matcher
 *
 * DESCRIPTION
 *	The matcher takes an X509, so the target builds one from the input,
 *	which is a list of LF-separated lines:
 *	  line 1        the MX host name to check;
 *	  "P" + text    an mx pattern of the policy;
 *	  "C" + text    the subject CN (must never count);
 *	  anything else a DNS subjectAltName, bytes as given (NUL included).
 *	Invariants:
 *	  - without any DNS SAN nothing matches, whatever the CN says;
 *	  - a host that matches is not empty and does not start with '.';
 *	  - a match means some SAN equals the host (case and one trailing
 *	    dot aside), or is "*." plus the host's parent;
 *	  - mts_cert_matches_policy() only when some SAN is matched by a
 *	    pattern (mts_mx_match) or is a wildcard listed as a pattern;
 *	  - mts_cert_dns_names() returns one name per SAN given.
 */
#include <stdint.h>
#include <strings.h>

#include <openssl/x509v3.h>

#include "certname.h"
#include "fuzz.h"
#include "match.h"

#define MAX_LINES 24
#define LINE_MAX_TEXT 300

struct cert_input {
	char *host;
	struct mts_strlist sans;	/* as C strings (cut at a NUL) */
	size_t san_count;		/* SANs put into the certificate */
	struct mts_policy policy;
};

static void add_san(GENERAL_NAMES *names, const uint8_t *s, size_t len)
{
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();

	if (gn == NULL || ia5 == NULL ||
	    ASN1_STRING_set(ia5, s, (int)len) != 1)
		abort();
	GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
	if (sk_GENERAL_NAME_push(names, gn) == 0)
		abort();
}

static X509 *build_cert(const uint8_t *data, size_t size,
			struct cert_input *in)
{
	X509 *cert = X509_new();
	GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
	X509_NAME *subject = X509_NAME_new();
	size_t start = 0, line = 0;

	if (cert == NULL || names == NULL || subject == NULL)
		abort();
	for (size_t i = 0; i <= size && line < MAX_LINES; i++) {
		const uint8_t *s = data + start;
		size_t len = i - start;

		if (i < size && data[i] != '\n')
			continue;
		start = i + 1;
		if (len > LINE_MAX_TEXT)
			len = LINE_MAX_TEXT;
		if (line++ == 0) {
			in->host = fuzz_dup(s, len, 1);
		} else if (len > 0 && s[0] == 'P') {
			mts_strlist_addn(&in->policy.mx, (const char *)s + 1,
					 strnlen((const char *)s + 1, len - 1));
		} else if (len > 0 && s[0] == 'C') {
			X509_NAME_add_entry_by_NID(subject, NID_commonName,
						   MBSTRING_ASC,
						   (unsigned char *)s + 1,
						   (int)len - 1, -1, 0);
		} else {
			add_san(names, s, len);
			mts_strlist_addn(&in->sans, (const char *)s,
					 strnlen((const char *)s, len));
			in->san_count++;
		}
	}
	if (in->host == NULL)
		in->host = fuzz_dup(data, 0, 1);
	X509_set_subject_name(cert, subject);
	if (in->san_count > 0 &&
	    X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0, 0) != 1)
		abort();
	GENERAL_NAMES_free(names);
	X509_NAME_free(subject);
	return cert;
}

static size_t dotless_len(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && s[n - 1] == '.' ? n - 1 : n;
}

/* Could SAN san, on its own, make host match? */
static int san_names_host(const char *san, const char *host)
{
	const char *parent = strchr(host, '.');

	if (dotless_len(san) == dotless_len(host) &&
	    strncasecmp(san, host, dotless_len(host)) == 0)
		return 1;
	/* One trailing dot on the host is no difference. */
	return strncmp(san, "*.", 2) == 0 && parent != NULL &&
	       strlen(san + 2) == dotless_len(parent + 1) &&
	       strncasecmp(san + 2, parent + 1, strlen(san + 2)) == 0;
}

static int some_san_allowed(const struct cert_input *in)
{
	for (size_t i = 0; i < in->sans.count; i++)
		for (size_t j = 0; j < in->policy.mx.count; j++) {
			const char *san = in->sans.item[i];
			const char *pat = in->policy.mx.item[j];

			/* A wildcard SAN needs the same pattern (one
			 * trailing dot on the pattern is no difference). */
			if (strncmp(san, "*.", 2) == 0 ?
			    (dotless_len(pat) == strlen(san) &&
			     strncasecmp(san, pat, strlen(san)) == 0) :
			    mts_mx_match(pat, san))
				return 1;
		}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cert_input in = { NULL, MTS_STRLIST_INIT, 0, MTS_POLICY_INIT };
	struct mts_strlist listed = MTS_STRLIST_INIT;
	X509 *cert;
	int m, any;

	if (size > 4096)
		return 0;
	in.policy.mode = MTS_MODE_ENFORCE;
	cert = build_cert(data, size, &in);
	m = mts_cert_name_match(cert, in.host);
	any = mts_cert_matches_policy(cert, &in.policy);
	FUZZ_ASSERT(m == 0 || m == 1);
	FUZZ_ASSERT(any == 0 || any == 1);
	if (in.san_count == 0)
		FUZZ_ASSERT(m == 0 && any == 0);
	if (m == 1) {
		int named = 0;

		FUZZ_ASSERT(in.host[0] != '\0' && in.host[0] != '.');
		for (size_t i = 0; i < in.sans.count; i++)
			named |= san_names_host(in.sans.item[i], in.host);
		FUZZ_ASSERT(named);
	}
	if (any == 1)
		FUZZ_ASSERT(some_san_allowed(&in));
	if (mts_cert_dns_names(cert, &listed) == 0)
		FUZZ_ASSERT(listed.count == in.san_count);
	mts_strlist_free(&listed);
	X509_free(cert);
	mts_strlist_free(&in.sans);
	mts_policy_free(&in.policy);
	free(in.host);
	return 0;
}
