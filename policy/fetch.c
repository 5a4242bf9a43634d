/*
 * fetch.c - the HTTPS policy fetch (RFC 8461 sections 3.3, 7.1), with libcurl
 *
 * SYNOPSIS
 *	struct mts_buf body = MTS_BUF_INIT;
 *	char err[256];
 *	if (mts_fetch_policy(cfg, "example.com", &body, err, sizeof(err))
 *	    != MTS_FETCH_OK) ...
 *
 * DESCRIPTION
 *	GET https://mta-sts.<domain>/.well-known/mta-sts.txt with one fresh
 *	easy handle per call (no connection, DNS or TLS session shared with
 *	anything else):
 *
 *	Resolution. mta-sts.<domain> is resolved with mts_dns_addrs(), the
 *	resolver of the TXT look-up, and the addresses are pinned with
 *	CURLOPT_RESOLVE ("host:443:192.0.2.1,[2001:db8::1]"), so libcurl never
 *	asks the system resolver. The whole fetch - resolution, connect, TLS,
 *	transfer - is bounded by cfg->timeout_s: resolution may take at most
 *	half of it (and at most FETCH_DNS_MAX_MS), libcurl gets what is left.
 *
 *	TLS. HTTPS only (CURLOPT_PROTOCOLS_STR), TLS 1.2 or newer, peer and
 *	host verified. The trust anchors are exactly cfg->ca_file and/or
 *	cfg->ca_path: libcurl's built-in defaults are cleared, so a test CA
 *	file means "only this CA". libcurl falls back to the subject CN when
 *	a certificate has no DNS subjectAltName; RFC 8461 (via RFC 6125) and
 *	this project accept DNS-IDs only, so an SSL_CTX callback also asks
 *	OpenSSL to check the host name itself with
 *	X509_CHECK_FLAG_NEVER_CHECK_SUBJECT | X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS.
 *	(This needs libcurl built on OpenSSL, as Debian's libcurl4-openssl
 *	is; another TLS backend makes every fetch fail, closed.)
 *
 *	HTTP. No redirects (FOLLOWLOCATION 0: a 3xx is a failure), no proxy
 *	(CURLOPT_PROXY "" ignores the *_proxy variables), no cookies, no
 *	.netrc, no content encoding, no conditional request. The request
 *	carries "Cache-Control: no-cache": RFC 8461 forbids HTTP caching,
 *	and although libcurl keeps no cache, a CDN in front of the policy
 *	host might; the header asks it to revalidate with the origin. The
 *	status must be exactly 200 and the Content-Type text/plain
 *	(case-insensitive, parameters allowed). The body is capped at
 *	MTS_POLICY_MAX_BYTES: a declared Content-Length above the cap stops
 *	the transfer before the body (CURLOPT_MAXFILESIZE_LARGE), otherwise
 *	the write callback stops it at the first byte over the cap.
 *
 *	Failures are classed for TLSRPT: certificate problems (chain, expiry,
 *	name) are MTS_FETCH_WEBPKI, with the OpenSSL verify error text when
 *	there is one; all others MTS_FETCH_ERROR. An unreadable CA file or
 *	directory is our own problem, not the domain's: MTS_FETCH_ERROR.
 *
 *	The body is never logged.
 *
 *	Loading. libcurl is not linked: it is opened with dlopen("libcurl.so.4")
 *	the first time a fetch is really needed (pthread_once), and the nine
 *	functions used here are looked up with dlsym into the table `libcurl`.
 *	Why: mtasts-relay starts once per intercepted connection and, with a
 *	warm cache, never fetches; linking Debian's libcurl made every relay
 *	map and relocate about 30 more shared libraries (GnuTLS, nghttp2,
 *	libssh2, LDAP, Kerberos...) at exec, about 10 million instructions,
 *	a third of its start-up (docs/PERFORMANCE.md). libcurl's own libssl
 *	and libcrypto are the ones the relay already has mapped (same
 *	sonames), which the SSL_CTX callback below relies on as before. A
 *	missing or incomplete libcurl makes every fetch fail (MTS_FETCH_ERROR,
 *	"libcurl: ..."), closed, like any other fetch failure.
 */
#include "fetch.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dns.h"
#include "log.h"
#include "match.h"
#include "policy.h"

#define FETCH_USER_AGENT "mtasts-shim/0.1"
#define FETCH_PATH "/.well-known/mta-sts.txt"
#define FETCH_DNS_MAX_MS 10000
/* libcurl always gets at least this long, even when DNS used up the rest. */
#define FETCH_MIN_CURL_MS 1000
#define FETCH_DEFAULT_TIMEOUT_S 60

/* State shared with the write callback. */
struct fetch_sink {
	struct mts_buf *body;
	int too_big;
	int no_memory;
};

#define CURL_SONAME "libcurl.so.4"

/* The libcurl functions this file calls, bound at the first fetch. The
 * variadic ones keep their prototypes: callers pass long, pointer and
 * curl_off_t arguments exactly as libcurl reads them. */
static struct {
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *h, CURLoption opt, ...);
	CURLcode (*easy_perform)(CURL *h);
	CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
	void (*easy_cleanup)(CURL *h);
	const char *(*easy_strerror)(CURLcode rc);
	struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
	void (*slist_free_all)(struct curl_slist *l);
} libcurl;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_status = CURLE_FAILED_INIT;
static char curl_load_error[200];	/* set when libcurl is unusable */

/* dlsym() returns void *; copying its bits into the function pointer is
 * the conversion POSIX guarantees to work. Returns 0 or -1. */
static int bind_curl(void *lib, const char *name, void *fnp, size_t fnsize)
{
	void *p = dlsym(lib, name);

	if (p == NULL || fnsize != sizeof(p)) {
		snprintf(curl_load_error, sizeof(curl_load_error),
			 "%s has no %s", CURL_SONAME, name);
		return -1;
	}
	memcpy(fnp, &p, sizeof(p));
	return 0;
}

#define BIND_CURL(lib, field, name) \
	bind_curl((lib), (name), &libcurl.field, sizeof(libcurl.field))

/* Opens libcurl and binds the table; 0, or -1 with curl_load_error set.
 * The library stays loaded for the life of the process. */
static int load_curl(void)
{
	const char *why;
	void *lib = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (lib == NULL) {
		why = dlerror();
		snprintf(curl_load_error, sizeof(curl_load_error),
			 "cannot load %s: %s", CURL_SONAME,
			 why != NULL ? why : "unknown error");
		return -1;
	}
	if (BIND_CURL(lib, global_init, "curl_global_init") < 0 ||
	    BIND_CURL(lib, easy_init, "curl_easy_init") < 0 ||
	    BIND_CURL(lib, easy_setopt, "curl_easy_setopt") < 0 ||
	    BIND_CURL(lib, easy_perform, "curl_easy_perform") < 0 ||
	    BIND_CURL(lib, easy_getinfo, "curl_easy_getinfo") < 0 ||
	    BIND_CURL(lib, easy_cleanup, "curl_easy_cleanup") < 0 ||
	    BIND_CURL(lib, easy_strerror, "curl_easy_strerror") < 0 ||
	    BIND_CURL(lib, slist_append, "curl_slist_append") < 0 ||
	    BIND_CURL(lib, slist_free_all, "curl_slist_free_all") < 0)
		return -1;	/* lib stays open: harmless, and never retried */
	return 0;
}

static void curl_init_once(void)
{
	if (load_curl() < 0) {
		mts_log(MTS_LOG_ERROR, "fetch: libcurl: %s", curl_load_error);
		return;
	}
	curl_init_status = libcurl.global_init(CURL_GLOBAL_DEFAULT);
	if (curl_init_status != CURLE_OK)
		snprintf(curl_load_error, sizeof(curl_load_error), "%s",
			 libcurl.easy_strerror(curl_init_status));
}

void mts_fetch_global_init(void)
{
	pthread_once(&curl_once, curl_init_once);
}

static int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t body_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct fetch_sink *sink = arg;
	size_t n = size * nmemb;	/* libcurl guarantees size == 1 */

	if (n > MTS_POLICY_MAX_BYTES - sink->body->len) {
		sink->too_big = 1;
		return 0;		/* aborts with CURLE_WRITE_ERROR */
	}
	if (mts_buf_append(sink->body, data, n) < 0) {
		sink->no_memory = 1;
		return 0;
	}
	return n;
}

/* OpenSSL checks the policy host name itself, DNS-IDs only. */
static CURLcode ssl_ctx_setup(CURL *curl, void *sslctx, void *host)
{
	X509_VERIFY_PARAM *param = SSL_CTX_get0_param(sslctx);

	(void)curl;
	X509_VERIFY_PARAM_set_hostflags(param,
					X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
					X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (X509_VERIFY_PARAM_set1_host(param, host, 0) != 1)
		return CURLE_SSL_CERTPROBLEM;
	return CURLE_OK;
}

/* "host:443:a1,[v6],..." for CURLOPT_RESOLVE. */
static int resolve_entry(const char *host, const struct mts_strlist *addrs,
			 struct mts_buf *out)
{
	if (mts_buf_printf(out, "%s:443:", host) < 0)
		return -1;
	for (size_t i = 0; i < addrs->count; i++) {
		const char *a = addrs->item[i];
		int v6 = strchr(a, ':') != NULL;

		if (mts_buf_printf(out, "%s%s%s%s", i ? "," : "", v6 ? "[" : "",
				   a, v6 ? "]" : "") < 0)
			return -1;
	}
	return 0;
}

#define SETOPT(h, opt, val) \
	do { \
		CURLcode setopt_rc_ = libcurl.easy_setopt((h), (opt), (val)); \
		if (setopt_rc_ != CURLE_OK) { \
			*failed = #opt; \
			return setopt_rc_; \
		} \
	} while (0)

/* Every option of the request. Returns CURLE_OK, or the first option's
 * failure with its name in *failed. */
static CURLcode configure(CURL *h, const struct mts_config *cfg,
			  const char *url, char *host, struct curl_slist *resolve,
			  struct curl_slist *headers, struct fetch_sink *sink,
			  long timeout_ms, char *errbuf, const char **failed)
{
	SETOPT(h, CURLOPT_ERRORBUFFER, errbuf);
	SETOPT(h, CURLOPT_URL, url);
	SETOPT(h, CURLOPT_PROTOCOLS_STR, "https");
	SETOPT(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(h, CURLOPT_PROXY, "");
	SETOPT(h, CURLOPT_RESOLVE, resolve);
	SETOPT(h, CURLOPT_HTTPHEADER, headers);
	SETOPT(h, CURLOPT_USERAGENT, FETCH_USER_AGENT);
	SETOPT(h, CURLOPT_NOSIGNAL, 1L);
	SETOPT(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	SETOPT(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SETOPT(h, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(h, CURLOPT_SSL_VERIFYHOST, 2L);
	SETOPT(h, CURLOPT_CAINFO, cfg->ca_file[0] ? cfg->ca_file : NULL);
	SETOPT(h, CURLOPT_CAPATH, cfg->ca_path[0] ? cfg->ca_path : NULL);
	SETOPT(h, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_setup);
	SETOPT(h, CURLOPT_SSL_CTX_DATA, host);
	SETOPT(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)MTS_POLICY_MAX_BYTES);
	SETOPT(h, CURLOPT_WRITEFUNCTION, body_write);
	SETOPT(h, CURLOPT_WRITEDATA, sink);
	return CURLE_OK;
}

/* text/plain, any case, optionally followed by parameters. */
static int is_text_plain(const char *ctype)
{
	static const char want[] = "text/plain";
	const char *p = ctype;

	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, want, sizeof(want) - 1) != 0)
		return 0;
	p += sizeof(want) - 1;
	while (*p == ' ' || *p == '\t')
		p++;
	return *p == '\0' || *p == ';';
}

/* A server-supplied value, cut and made printable for a reason text. */
static const char *printable(const char *s, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < outlen; i++)
		out[i] = (s[i] < 0x20 || s[i] >= 0x7f) ? '?' : s[i];
	out[i] = '\0';
	return out;
}

/* Classes a failed transfer. */
static enum mts_fetch_status transfer_failure(CURL *h, CURLcode rc,
					      const char *errbuf, char *err,
					      size_t errlen)
{
	const char *detail = errbuf[0] ? errbuf : libcurl.easy_strerror(rc);
	long verify = X509_V_OK;

	switch (rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
		if (libcurl.easy_getinfo(h, CURLINFO_SSL_VERIFYRESULT, &verify) ==
		    CURLE_OK && verify != X509_V_OK)
			snprintf(err, errlen, "certificate: %s",
				 X509_verify_cert_error_string(verify));
		else
			snprintf(err, errlen, "certificate: %s", detail);
		return MTS_FETCH_WEBPKI;
	case CURLE_SSL_CACERT_BADFILE:
		snprintf(err, errlen, "trust anchors (CA file/path): %s", detail);
		return MTS_FETCH_ERROR;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(err, errlen, "timeout");
		return MTS_FETCH_ERROR;
	case CURLE_COULDNT_CONNECT:
		snprintf(err, errlen, "connect: %s", detail);
		return MTS_FETCH_ERROR;
	case CURLE_SSL_CONNECT_ERROR:
		snprintf(err, errlen, "TLS handshake: %s", detail);
		return MTS_FETCH_ERROR;
	default:
		snprintf(err, errlen, "%s", detail);
		return MTS_FETCH_ERROR;
	}
}

/* Checks status, size and media type of a completed (or capped) transfer. */
static enum mts_fetch_status check_response(CURL *h, CURLcode rc,
					    const struct fetch_sink *sink,
					    const char *errbuf, char *err,
					    size_t errlen)
{
	int capped = (rc == CURLE_WRITE_ERROR && sink->too_big) ||
		     rc == CURLE_FILESIZE_EXCEEDED;
	long status = 0;
	char *ctype = NULL, shown[81];

	if (rc != CURLE_OK && !capped) {
		if (rc == CURLE_WRITE_ERROR && sink->no_memory) {
			snprintf(err, errlen, "out of memory");
			return MTS_FETCH_ERROR;
		}
		return transfer_failure(h, rc, errbuf, err, errlen);
	}
	libcurl.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 300 && status < 400) {
		snprintf(err, errlen, "redirect (%ld) not followed", status);
		return MTS_FETCH_ERROR;
	}
	if (status != 200) {
		snprintf(err, errlen, "HTTP status %ld", status);
		return MTS_FETCH_ERROR;
	}
	if (capped) {
		snprintf(err, errlen, "body larger than %d bytes",
			 MTS_POLICY_MAX_BYTES);
		return MTS_FETCH_ERROR;
	}
	if (libcurl.easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ctype) != CURLE_OK ||
	    ctype == NULL) {
		snprintf(err, errlen, "no media type (Content-Type missing)");
		return MTS_FETCH_ERROR;
	}
	if (!is_text_plain(ctype)) {
		snprintf(err, errlen, "media type %s",
			 printable(ctype, shown, sizeof(shown)));
		return MTS_FETCH_ERROR;
	}
	return MTS_FETCH_OK;
}

/* libcurl's share of the budget left after resolution. */
static long curl_budget_ms(int64_t started, int64_t total_ms)
{
	int64_t left = total_ms - (monotonic_ms() - started);

	return left < FETCH_MIN_CURL_MS ? FETCH_MIN_CURL_MS : (long)left;
}

/* Builds and runs the request to host (already resolved to addrs). */
static enum mts_fetch_status fetch_pinned(const struct mts_config *cfg,
					  char *host,
					  const struct mts_strlist *addrs,
					  long timeout_ms, struct mts_buf *body,
					  char *err, size_t errlen)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct mts_buf url = MTS_BUF_INIT, pin = MTS_BUF_INIT;
	struct curl_slist *resolve = NULL, *headers = NULL;
	struct fetch_sink sink = { body, 0, 0 };
	enum mts_fetch_status st = MTS_FETCH_ERROR;
	const char *failed = NULL;
	CURL *h = NULL;
	CURLcode rc;

	if (mts_buf_printf(&url, "https://%s%s", host, FETCH_PATH) == 0 &&
	    resolve_entry(host, addrs, &pin) == 0) {
		resolve = libcurl.slist_append(NULL, pin.data);
		headers = libcurl.slist_append(NULL, "Cache-Control: no-cache");
		h = libcurl.easy_init();
	}
	if (resolve == NULL || headers == NULL || h == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rc = configure(h, cfg, url.data, host, resolve, headers, &sink,
		       timeout_ms, errbuf, &failed);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "libcurl: %s: %s", failed,
			 libcurl.easy_strerror(rc));
		goto out;
	}
	mts_log(MTS_LOG_DEBUG, "fetch url=%s resolve=%s timeout_ms=%ld",
		url.data, pin.data, timeout_ms);
	rc = libcurl.easy_perform(h);
	st = check_response(h, rc, &sink, errbuf, err, errlen);
out:
	if (h != NULL)
		libcurl.easy_cleanup(h);
	libcurl.slist_free_all(resolve);
	libcurl.slist_free_all(headers);
	mts_buf_free(&url);
	mts_buf_free(&pin);
	return st;
}

enum mts_fetch_status mts_fetch_policy(const struct mts_config *cfg,
				       const char *domain, struct mts_buf *body,
				       char *err, size_t errlen)
{
	struct mts_strlist addrs = MTS_STRLIST_INIT;
	int64_t started = monotonic_ms(), total_ms, dns_ms;
	enum mts_fetch_status st = MTS_FETCH_ERROR;
	char host[MTS_DOMAIN_MAX + 2], why[256];
	const char *bad;
	int n;

	mts_buf_reset(body);
	mts_fetch_global_init();
	if (curl_init_status != CURLE_OK) {
		snprintf(err, errlen, "libcurl: %s", curl_load_error);
		return MTS_FETCH_ERROR;
	}
	n = snprintf(host, sizeof(host), "mta-sts.%s", domain);
	if (n < 0 || (size_t)n >= sizeof(host)) {
		snprintf(err, errlen, "policy host name too long");
		return MTS_FETCH_ERROR;
	}
	if ((bad = mts_hostname_check(host)) != NULL) {
		snprintf(err, errlen, "policy host %.80s: %s", host, bad);
		return MTS_FETCH_ERROR;
	}
	total_ms = (int64_t)(cfg->timeout_s ? cfg->timeout_s
					    : FETCH_DEFAULT_TIMEOUT_S) * 1000;
	dns_ms = total_ms / 2 < FETCH_DNS_MAX_MS ? total_ms / 2 : FETCH_DNS_MAX_MS;
	if (mts_dns_addrs(cfg, host, (unsigned)dns_ms, &addrs, why,
			  sizeof(why)) != MTS_DNS_OK) {
		snprintf(err, errlen, "resolve: %s", why);
		goto out;
	}
	st = fetch_pinned(cfg, host, &addrs, curl_budget_ms(started, total_ms),
			  body, err, errlen);
out:
	if (st != MTS_FETCH_OK)
		mts_buf_reset(body);
	mts_log(MTS_LOG_DEBUG, "fetch host=%s result=%s bytes=%zu", host,
		st == MTS_FETCH_OK ? "ok" : st == MTS_FETCH_WEBPKI ? "webpki"
								 : "error",
		body->len);
	mts_strlist_free(&addrs);
	return st;
}
