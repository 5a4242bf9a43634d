/*
 * deliver.c - delivering one TLSRPT report to one rua endpoint (RFC 8460 5.3-5.4)
 *
 * SYNOPSIS
 *	mts_deliver_rua_lookup(&cfg, domain, &rua, err, errlen);
 *	mts_deliver(&opts, rua.item[i], &msg, err, errlen);
 *
 * DESCRIPTION
 *	HTTPS: one libcurl easy handle per POST, set up like the policy
 *	fetch (fetch.c): host pinned to the engine resolver's addresses,
 *	HTTPS only, TLS 1.2+, verified against the configured trust anchors,
 *	no redirects, no proxy variables, bounded time. The response body is
 *	read and thrown away (at most RESPONSE_MAX bytes).
 *
 *	Mail: the message is built here, byte for byte, with CRLF line ends
 *	and base64 lines of 76 characters, then signed (dkim.c) and handed
 *	either to a submission relay over libcurl's SMTP client or to a
 *	local sendmail(1) through a pipe. sendmail is started with
 *	posix_spawn (never a shell), with fixed arguments whose only
 *	variable part, the sender address, was checked not to start with
 *	'-' and to hold no spaces; its environment loses LD_PRELOAD and
 *	LD_AUDIT, so the MTA-STS shim never runs inside the local MTA for
 *	a report (a report about TLS problems must not be held back by
 *	them, nor produce reports about itself). Writes to the pipe are
 *	non-blocking and, like the wait for the exit status, bounded by the
 *	configured timeout; SIGPIPE is ignored while writing.
 *
 *	Report deliveries never go through the MTA-STS engine: neither the
 *	collector's HTTPS host nor the mail path is subject to policy.
 */
#include "deliver.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/rand.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fetch.h"
#include "match.h"
#include "tlsrpt.h"

#define DELIVER_USER_AGENT "mtasts-shim/0.1 (TLSRPT)"
#define RESPONSE_MAX 65536
#define B64_LINE 76
#define DNS_TIMEOUT_MS 10000
#define DEFAULT_SENDMAIL "/usr/sbin/sendmail"
#define DEFAULT_TIMEOUT_S 60

extern char **environ;

static unsigned timeout_s(const struct mts_config *cfg)
{
	return cfg && cfg->timeout_s ? cfg->timeout_s : DEFAULT_TIMEOUT_S;
}

static int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- addresses ------------------------------------------------------- */

static int is_atext(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c != '\0' &&
	       strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* local@domain with a dot-atom local part and a host name. */
static int address_ok(const char *a)
{
	const char *at = strrchr(a, '@');
	size_t local;

	if (at == NULL || strchr(a, '@') != at)
		return 0;
	local = (size_t)(at - a);
	if (local == 0 || local > 64 || a[0] == '.' || a[0] == '-' ||
	    at[-1] == '.')
		return 0;
	for (size_t i = 0; i < local; i++) {
		if (a[i] == '.' && a[i + 1] == '.')
			return 0;
		if (a[i] != '.' && !is_atext(a[i]))
			return 0;
	}
	return mts_hostname_check(at + 1) == NULL;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int mts_deliver_mailto_address(const char *uri, char *out, size_t outlen)
{
	const char *p, *end;
	size_t o = 0;

	if (strncasecmp(uri, "mailto:", 7) != 0)
		return -1;
	p = uri + 7;
	end = p + strcspn(p, "?#");
	for (; p < end; p++) {
		char c = *p;

		if (c == '%') {
			int hi, lo;

			if (end - p < 3)
				return -1;
			hi = hexval(p[1]);
			lo = hexval(p[2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (char)(hi << 4 | lo);
			p += 2;
		}
		if (o + 1 >= outlen)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return address_ok(out) ? 0 : -1;
}

/* ---- options --------------------------------------------------------- */

/* host[:port], [v6]:port or a bare IPv6 address. */
static int parse_hostport(const char *v, char *host, size_t hostlen,
			  unsigned short *port)
{
	const char *colon = NULL, *h = v;
	size_t hlen;
	long p = 25;

	if (v[0] == '[') {
		const char *close = strchr(v, ']');

		if (close == NULL)
			return -1;
		h = v + 1;
		hlen = (size_t)(close - h);
		if (close[1] == ':')
			colon = close + 1;
		else if (close[1] != '\0')
			return -1;
	} else {
		colon = strchr(v, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL)
			colon = NULL;	/* a bare IPv6 address */
		hlen = colon ? (size_t)(colon - v) : strlen(v);
	}
	if (colon != NULL) {
		char *endp;

		errno = 0;
		p = strtol(colon + 1, &endp, 10);
		if (colon[1] == '\0' || *endp != '\0' || errno || p < 1 ||
		    p > 65535)
			return -1;
	}
	if (hlen == 0 || hlen >= hostlen)
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	for (size_t i = 0; i < hlen; i++) {
		char c = host[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		      c == ':'))
			return -1;
	}
	*port = (unsigned short)p;
	return 0;
}

int mts_deliver_opts_load(struct mts_deliver_opts *o,
			  const struct mts_config *cfg, const char *submitter,
			  const struct mts_dkim *dkim,
			  char *err, size_t errlen)
{
	const char *smtp = secure_getenv("MTASTS_REPORT_SMTP");
	const char *sendmail = secure_getenv("MTASTS_REPORT_SENDMAIL");
	const char *from = secure_getenv("MTASTS_REPORT_FROM");

	memset(o, 0, sizeof(*o));
	o->cfg = cfg;
	o->dkim = dkim;
	if (smtp != NULL && smtp[0] != '\0' &&
	    parse_hostport(smtp, o->smtp_host, sizeof(o->smtp_host),
			   &o->smtp_port) < 0)
		return mts_errorf(err, errlen, "MTASTS_REPORT_SMTP: \"%.80s\" is not "
				  "host[:port]", smtp);
	if (sendmail != NULL && sendmail[0] != '\0') {
		if (sendmail[0] != '/' ||
		    mts_strlcpy(o->sendmail, sendmail, sizeof(o->sendmail)) >=
		    sizeof(o->sendmail))
			return mts_errorf(err, errlen, "MTASTS_REPORT_SENDMAIL: must "
					  "be an absolute path");
	} else {
		mts_strlcpy(o->sendmail, DEFAULT_SENDMAIL, sizeof(o->sendmail));
	}
	if (from != NULL && from[0] != '\0') {
		if (mts_strlcpy(o->from, from, sizeof(o->from)) >=
		    sizeof(o->from) || !address_ok(o->from))
			return mts_errorf(err, errlen, "MTASTS_REPORT_FROM: \"%.80s\" "
					  "is not an address local@domain", from);
	} else if (snprintf(o->from, sizeof(o->from), "noreply-tlsrpt@%s",
			    submitter) >= (int)sizeof(o->from) ||
		   !address_ok(o->from)) {
		return mts_errorf(err, errlen, "cannot make a sender address from "
				  "the submitter \"%.80s\"", submitter);
	}
	mts_strlcpy(o->ehlo, cfg && cfg->ehlo_name[0] ? cfg->ehlo_name
						      : submitter,
		    sizeof(o->ehlo));
	return 0;
}

/* ---- the reporting policy -------------------------------------------- */

enum mts_dns_status mts_deliver_rua_lookup(const struct mts_config *cfg,
					   const char *domain,
					   struct mts_strlist *rua,
					   char *err, size_t errlen)
{
	struct mts_txt_records txt = { MTS_STRLIST_INIT, NULL };
	char name[MTS_DOMAIN_MAX + 16];
	enum mts_dns_status st;
	const char *why;

	if (snprintf(name, sizeof(name), "_smtp._tls.%s", domain) >=
	    (int)sizeof(name)) {
		mts_errorf(err, errlen, "domain name too long");
		return MTS_DNS_NOTFOUND;
	}
	st = mts_dns_txt(cfg, name, DNS_TIMEOUT_MS, &txt, err, errlen);
	if (st == MTS_DNS_NOTFOUND)
		mts_errorf(err, errlen, "no TXT record at %s", name);
	if (st != MTS_DNS_OK)
		goto out;
	why = mts_tlsrpt_txt_select(txt.rec.item, txt.len, txt.rec.count, rua);
	if (why != NULL) {
		mts_errorf(err, errlen, "%s: %s", name, why);
		mts_strlist_free(rua);
		st = MTS_DNS_NOTFOUND;
	}
out:
	mts_txt_records_free(&txt);
	return st;
}

/* ---- HTTPS ----------------------------------------------------------- */

struct discard {
	size_t seen;
};

static size_t discard_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct discard *d = arg;
	size_t n = size * nmemb;

	(void)data;
	if (n > RESPONSE_MAX - d->seen)
		return 0;	/* a collector has nothing long to say */
	d->seen += n;
	return n;
}

#define SETOPT(h, opt, val) \
	do { \
		if (curl_easy_setopt((h), (opt), (val)) != CURLE_OK) { \
			mts_errorf(err, errlen, "libcurl: cannot set %s", #opt); \
			goto out; \
		} \
	} while (0)

/* "host:port:addr,[v6addr]" for CURLOPT_RESOLVE. */
static int pin_entry(const char *host, long port,
		     const struct mts_strlist *addrs, struct mts_buf *out)
{
	if (mts_buf_printf(out, "%s:%ld:", host, port) < 0)
		return -1;
	for (size_t i = 0; i < addrs->count; i++) {
		int v6 = strchr(addrs->item[i], ':') != NULL;

		if (mts_buf_printf(out, "%s%s%s%s", i ? "," : "", v6 ? "[" : "",
				   addrs->item[i], v6 ? "]" : "") < 0)
			return -1;
	}
	return 0;
}

static int is_ip_literal(const char *host)
{
	unsigned char bin[16];

	return inet_pton(AF_INET, host, bin) == 1 ||
	       inet_pton(AF_INET6, host, bin) == 1 || host[0] == '[';
}

static enum mts_deliver_status post_https(const struct mts_config *cfg,
					  const char *uri, const void *gz,
					  size_t gzlen, char *err,
					  size_t errlen)
{
	enum mts_deliver_status st = MTS_DELIVER_TEMPFAIL;
	struct mts_strlist addrs = MTS_STRLIST_INIT;
	struct mts_buf pin = MTS_BUF_INIT;
	struct curl_slist *headers = NULL, *resolve = NULL;
	char errbuf[CURL_ERROR_SIZE] = "", why[256];
	char *scheme = NULL, *host = NULL, *port = NULL;
	struct discard sink = { 0 };
	long status = 0, timeout_ms = (long)timeout_s(cfg) * 1000;
	CURLU *u = curl_url();
	CURL *h = NULL;
	CURLcode rc;

	if (u == NULL) {
		mts_errorf(err, errlen, "out of memory");
		goto out;
	}
	if (curl_url_set(u, CURLUPART_URL, uri, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    strcasecmp(scheme, "https") != 0 ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
	    CURLUE_OK) {
		mts_errorf(err, errlen, "not a usable https URL");
		st = MTS_DELIVER_PERMFAIL;
		goto out;
	}
	if (!is_ip_literal(host)) {
		if (mts_dns_addrs(cfg, host, DNS_TIMEOUT_MS, &addrs, why,
				  sizeof(why)) != MTS_DNS_OK) {
			mts_errorf(err, errlen, "resolve %s: %s", host, why);
			goto out;
		}
		if (pin_entry(host, strtol(port, NULL, 10), &addrs, &pin) < 0 ||
		    (resolve = curl_slist_append(NULL, pin.data)) == NULL) {
			mts_errorf(err, errlen, "out of memory");
			goto out;
		}
	}
	headers = curl_slist_append(NULL, "Content-Type: application/tlsrpt+gzip");
	if (headers == NULL ||
	    (headers = curl_slist_append(headers, "Expect:")) == NULL ||
	    (h = curl_easy_init()) == NULL) {
		mts_errorf(err, errlen, "out of memory");
		goto out;
	}
	SETOPT(h, CURLOPT_ERRORBUFFER, errbuf);
	SETOPT(h, CURLOPT_URL, uri);
	SETOPT(h, CURLOPT_PROTOCOLS_STR, "https");
	SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(h, CURLOPT_PROXY, "");
	if (resolve != NULL)
		SETOPT(h, CURLOPT_RESOLVE, resolve);
	SETOPT(h, CURLOPT_HTTPHEADER, headers);
	SETOPT(h, CURLOPT_USERAGENT, DELIVER_USER_AGENT);
	SETOPT(h, CURLOPT_NOSIGNAL, 1L);
	SETOPT(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	SETOPT(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SETOPT(h, CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (cfg->ca_file[0] || cfg->ca_path[0]) {
		SETOPT(h, CURLOPT_CAINFO, cfg->ca_file[0] ? cfg->ca_file : NULL);
		SETOPT(h, CURLOPT_CAPATH, cfg->ca_path[0] ? cfg->ca_path : NULL);
	}
	SETOPT(h, CURLOPT_POST, 1L);
	SETOPT(h, CURLOPT_POSTFIELDS, gz);
	SETOPT(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)gzlen);
	SETOPT(h, CURLOPT_WRITEFUNCTION, discard_body);
	SETOPT(h, CURLOPT_WRITEDATA, &sink);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && status != 0)) {
		mts_errorf(err, errlen, "POST %s: %s", host,
			   errbuf[0] ? errbuf : curl_easy_strerror(rc));
		goto out;
	}
	if (status < 200 || status > 299) {
		mts_errorf(err, errlen, "POST %s: HTTP status %ld", host, status);
		goto out;
	}
	st = MTS_DELIVER_OK;
out:
	if (h != NULL)
		curl_easy_cleanup(h);
	curl_slist_free_all(headers);
	curl_slist_free_all(resolve);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	mts_buf_free(&pin);
	mts_strlist_free(&addrs);
	return st;
}

/* ---- the mail -------------------------------------------------------- */

static int rfc5322_date(int64_t t, char *out, size_t outlen)
{
	static const char *const wday[] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
	};
	static const char *const mon[] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
	};
	time_t tt = (time_t)t;
	struct tm tm;
	int n;

	if (gmtime_r(&tt, &tm) == NULL)
		return -1;
	n = snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d +0000",
		     wday[tm.tm_wday], tm.tm_mday, mon[tm.tm_mon],
		     tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

static int random_hex(char *out, size_t bytes)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[32];

	if (bytes > sizeof(r) || RAND_bytes(r, (int)bytes) != 1)
		return -1;
	for (size_t i = 0; i < bytes; i++) {
		out[2 * i] = hex[r[i] >> 4];
		out[2 * i + 1] = hex[r[i] & 15];
	}
	out[2 * bytes] = '\0';
	return 0;
}

/* base64 in lines of 76 characters, each ending in CRLF. */
static int base64_lines(const unsigned char *in, size_t len,
			struct mts_buf *out)
{
	const size_t chunk = B64_LINE / 4 * 3;	/* 57 input bytes per line */

	for (size_t i = 0; i < len; i += chunk) {
		size_t n = len - i < chunk ? len - i : chunk;
		unsigned char line[B64_LINE + 1];
		int w = EVP_EncodeBlock(line, in + i, (int)n);

		if (w < 0 || mts_buf_append(out, line, (size_t)w) < 0 ||
		    mts_buf_append(out, "\r\n", 2) < 0)
			return -1;
	}
	return 0;
}

/* Printable, no quotes: safe inside a quoted MIME parameter and a
 * header field. */
static int header_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e ||
		    *s == '"' || *s == '\\')
			return 0;
	return 1;
}

static int mail_body(const struct mts_report_msg *r, const char *boundary,
		     struct mts_buf *m)
{
	if (mts_buf_printf(m,
			   "This is a multi-part message in MIME format.\r\n"
			   "\r\n--%s\r\n"
			   "Content-Type: text/plain; charset=us-ascii\r\n"
			   "Content-Transfer-Encoding: 7bit\r\n"
			   "\r\n"
			   "This is an aggregate TLS report (RFC 8460) from "
			   "%s\r\n"
			   "for the policy domain %s, covering %s (UTC).\r\n"
			   "Report-ID: %s\r\n"
			   "The report is attached as %s.\r\n"
			   "\r\n--%s\r\n"
			   "Content-Type: application/tlsrpt+gzip;\r\n"
			   " name=\"%s\"\r\n"
			   "Content-Disposition: attachment;\r\n"
			   " filename=\"%s\"\r\n"
			   "Content-Transfer-Encoding: base64\r\n"
			   "\r\n",
			   boundary, r->org, r->domain, r->day, r->report_id,
			   r->filename, boundary, r->filename,
			   r->filename) < 0 ||
	    base64_lines(r->gz, r->gzlen, m) < 0 ||
	    mts_buf_printf(m, "\r\n--%s--\r\n", boundary) < 0)
		return -1;
	return 0;
}

/* Subject (RFC 8460 5.3), folded before "Submitter:" and "Report-ID:"
 * where the line would pass 78 characters (RFC 5322 2.1.1): the ABNF
 * puts FWS there, and a long domain name makes a long line. */
static int subject_field(const struct mts_report_msg *r, struct mts_buf *m)
{
	const char *word[3] = { "Subject: Report Domain: ", " Submitter: ",
				" Report-ID: <" };
	const char *value[3] = { r->domain, r->submitter, r->report_id };
	size_t line = 0;

	for (int i = 0; i < 3; i++) {
		size_t n = strlen(word[i]) + strlen(value[i]) + (i == 2);

		if (i > 0 && line + n > 78) {
			if (mts_buf_append(m, "\r\n", 2) < 0)
				return -1;
			line = 0;
		}
		if (mts_buf_printf(m, "%s%s%s", word[i], value[i],
				   i == 2 ? ">" : "") < 0)
			return -1;
		line += n;
	}
	return mts_buf_append(m, "\r\n", 2);
}

int mts_deliver_build_mail(const struct mts_deliver_opts *o, const char *to,
			   const struct mts_report_msg *r, struct mts_buf *out,
			   char *err, size_t errlen)
{
	struct mts_buf m = MTS_BUF_INIT;
	char date[64], boundary[64], msgid[33];
	int rc = -1;

	if (!header_safe(r->org) || !header_safe(r->report_id) ||
	    !header_safe(r->filename) || !header_safe(r->domain) ||
	    !header_safe(r->submitter) || !address_ok(to))
		return mts_errorf(err, errlen, "report fields unsafe for a mail "
				  "header");
	if (rfc5322_date(r->now, date, sizeof(date)) < 0 ||
	    random_hex(msgid, 16) < 0 ||
	    random_hex(boundary + 6, 12) < 0)
		return mts_errorf(err, errlen, "date or random number failure");
	memcpy(boundary, "=_tls_", 6);	/* "=_" never occurs in base64 */
	if (mts_buf_printf(&m, "From: %s\r\nTo: %s\r\n", o->from, to) < 0 ||
	    subject_field(r, &m) < 0 ||
	    mts_buf_printf(&m,
			   "Date: %s\r\n"
			   "Message-ID: <%s@%s>\r\n"
			   "MIME-Version: 1.0\r\n"
			   "TLS-Report-Domain: %s\r\n"
			   "TLS-Report-Submitter: %s\r\n"
			   "Auto-Submitted: auto-generated\r\n"
			   "TLS-Required: No\r\n"
			   "Content-Type: multipart/report; "
			   "report-type=\"tlsrpt\";\r\n"
			   " boundary=\"%s\"\r\n"
			   "\r\n",
			   date, msgid, r->submitter, r->domain, r->submitter,
			   boundary) < 0 ||
	    mail_body(r, boundary, &m) < 0) {
		mts_errorf(err, errlen, "out of memory");
		goto out;
	}
	if (o->dkim != NULL &&
	    mts_dkim_sign(o->dkim, m.data, m.len, r->now, out, err,
			  errlen) < 0)
		goto out;
	if (mts_buf_append(out, m.data, m.len) < 0) {
		mts_errorf(err, errlen, "out of memory");
		goto out;
	}
	rc = 0;
out:
	mts_buf_free(&m);
	return rc;
}

/* ---- SMTP submission (libcurl) ---------------------------------------- */

struct upload {
	const char *data;
	size_t len;
	size_t pos;
};

static size_t upload_read(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct upload *u = arg;
	size_t n = size * nmemb;

	if (n > u->len - u->pos)
		n = u->len - u->pos;
	memcpy(buf, u->data + u->pos, n);
	u->pos += n;
	return n;
}

static enum mts_deliver_status submit_smtp(const struct mts_deliver_opts *o,
					   const char *to,
					   const struct mts_buf *msg,
					   char *err, size_t errlen)
{
	enum mts_deliver_status st = MTS_DELIVER_TEMPFAIL;
	long timeout_ms = (long)timeout_s(o->cfg) * 1000, code = 0;
	struct upload up = { msg->data, msg->len, 0 };
	char errbuf[CURL_ERROR_SIZE] = "";
	struct mts_buf url = MTS_BUF_INIT, from = MTS_BUF_INIT;
	struct mts_buf rcpt_s = MTS_BUF_INIT;
	struct curl_slist *rcpt = NULL;
	int v6 = strchr(o->smtp_host, ':') != NULL;
	CURL *h = NULL;
	CURLcode rc;

	if (mts_buf_printf(&url, "smtp://%s%s%s:%u/%s", v6 ? "[" : "",
			   o->smtp_host, v6 ? "]" : "", o->smtp_port,
			   o->ehlo) < 0 ||
	    mts_buf_printf(&from, "<%s>", o->from) < 0 ||
	    mts_buf_printf(&rcpt_s, "<%s>", to) < 0 ||
	    (rcpt = curl_slist_append(NULL, rcpt_s.data)) == NULL ||
	    (h = curl_easy_init()) == NULL) {
		mts_errorf(err, errlen, "out of memory");
		goto out;
	}
	SETOPT(h, CURLOPT_ERRORBUFFER, errbuf);
	SETOPT(h, CURLOPT_URL, url.data);
	SETOPT(h, CURLOPT_PROTOCOLS_STR, "smtp");
	SETOPT(h, CURLOPT_PROXY, "");
	SETOPT(h, CURLOPT_NOSIGNAL, 1L);
	SETOPT(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	/* Opportunistic TLS: a report must never be held back by TLS. */
	SETOPT(h, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
	SETOPT(h, CURLOPT_SSL_VERIFYPEER, 0L);
	SETOPT(h, CURLOPT_SSL_VERIFYHOST, 0L);
	SETOPT(h, CURLOPT_MAIL_FROM, from.data);
	SETOPT(h, CURLOPT_MAIL_RCPT, rcpt);
	SETOPT(h, CURLOPT_UPLOAD, 1L);
	SETOPT(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)msg->len);
	SETOPT(h, CURLOPT_READFUNCTION, upload_read);
	SETOPT(h, CURLOPT_READDATA, &up);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (rc != CURLE_OK) {
		mts_errorf(err, errlen, "SMTP %s:%u: %s (last reply %ld)",
			   o->smtp_host, o->smtp_port,
			   errbuf[0] ? errbuf : curl_easy_strerror(rc), code);
		goto out;
	}
	st = MTS_DELIVER_OK;
out:
	if (h != NULL)
		curl_easy_cleanup(h);
	curl_slist_free_all(rcpt);
	mts_buf_free(&url);
	mts_buf_free(&from);
	mts_buf_free(&rcpt_s);
	return st;
}

/* ---- sendmail -------------------------------------------------------- */

char **mts_deliver_child_env(char *const *envp)
{
	size_t n = 0, k = 0;
	char **out;

	while (envp && envp[n])
		n++;
	out = calloc(n + 1, sizeof(*out));
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (strncmp(envp[i], "LD_PRELOAD=", 11) == 0 ||
		    strncmp(envp[i], "LD_AUDIT=", 9) == 0)
			continue;
		out[k++] = envp[i];
	}
	out[k] = NULL;
	return out;
}

/* Writes all of data to the non-blocking fd before deadline (ms). */
static int write_until(int fd, const char *data, size_t len, int64_t deadline)
{
	while (len > 0) {
		struct pollfd pfd = { fd, POLLOUT, 0 };
		int64_t left = deadline - monotonic_ms();
		ssize_t n;

		if (left <= 0)
			return -1;
		if (poll(&pfd, 1, (int)(left > 1000 ? 1000 : left)) < 0 &&
		    errno != EINTR)
			return -1;
		n = write(fd, data, len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* waitpid with a deadline; kills the child when it passes. */
static int wait_until(pid_t pid, int64_t deadline, int *status)
{
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
		if (monotonic_ms() >= deadline) {
			kill(pid, SIGKILL);
			while (waitpid(pid, status, 0) < 0 && errno == EINTR)
				;
			return -1;
		}
		nanosleep(&ts, NULL);
	}
}

static enum mts_deliver_status run_sendmail(const struct mts_deliver_opts *o,
					    const struct mts_buf *msg,
					    char *err, size_t errlen)
{
	char *argv[] = { (char *)o->sendmail, "-t", "-oi", "-f",
			 (char *)o->from, NULL };
	int64_t deadline = monotonic_ms() + (int64_t)timeout_s(o->cfg) * 1000;
	posix_spawn_file_actions_t fa;
	struct sigaction ign, old;
	char **env = NULL;
	int pfd[2] = { -1, -1 }, status = 0, fa_ok = 0, wrote, sp;
	pid_t pid;

	if ((env = mts_deliver_child_env(environ)) == NULL ||
	    pipe2(pfd, O_CLOEXEC) < 0 ||
	    posix_spawn_file_actions_init(&fa) != 0) {
		mts_errorf(err, errlen, "sendmail: %s", strerror(errno));
		goto fail_out;
	}
	fa_ok = 1;
	/* posix_spawn() returns its error number; it does not set errno. */
	if ((sp = posix_spawn_file_actions_adddup2(&fa, pfd[0], 0)) != 0 ||
	    (sp = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null",
						   O_WRONLY, 0)) != 0 ||
	    (sp = posix_spawn(&pid, o->sendmail, &fa, NULL, argv, env)) != 0) {
		mts_errorf(err, errlen, "cannot start %s: %s", o->sendmail,
			   strerror(sp));
		goto fail_out;
	}
	close(pfd[0]);
	pfd[0] = -1;
	fcntl(pfd[1], F_SETFL, O_NONBLOCK);
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &ign, &old);
	wrote = write_until(pfd[1], msg->data, msg->len, deadline);
	sigaction(SIGPIPE, &old, NULL);
	close(pfd[1]);
	pfd[1] = -1;
	posix_spawn_file_actions_destroy(&fa);
	free(env);
	if (wait_until(pid, deadline, &status) < 0) {
		mts_errorf(err, errlen, "%s: timed out", o->sendmail);
		return MTS_DELIVER_TEMPFAIL;
	}
	if (wrote < 0) {
		mts_errorf(err, errlen, "%s did not read the whole message",
			   o->sendmail);
		return MTS_DELIVER_TEMPFAIL;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		mts_errorf(err, errlen, "%s failed (%s %d)", o->sendmail,
			   WIFEXITED(status) ? "exit status" : "signal",
			   WIFEXITED(status) ? WEXITSTATUS(status)
					     : WTERMSIG(status));
		return MTS_DELIVER_TEMPFAIL;
	}
	return MTS_DELIVER_OK;
fail_out:
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	free(env);
	return MTS_DELIVER_TEMPFAIL;
}

/* ---- dispatch -------------------------------------------------------- */

enum mts_deliver_status mts_deliver(const struct mts_deliver_opts *o,
				    const char *uri,
				    const struct mts_report_msg *r,
				    char *err, size_t errlen)
{
	enum mts_deliver_status st;
	struct mts_buf msg = MTS_BUF_INIT;
	char to[MTS_MAIL_ADDR_MAX + 1];

	mts_fetch_global_init();
	if (strncasecmp(uri, "https://", 8) == 0)
		return post_https(o->cfg, uri, r->gz, r->gzlen, err, errlen);
	if (strncasecmp(uri, "mailto:", 7) != 0) {
		mts_errorf(err, errlen, "unsupported URI scheme");
		return MTS_DELIVER_PERMFAIL;
	}
	if (mts_deliver_mailto_address(uri, to, sizeof(to)) < 0) {
		mts_errorf(err, errlen, "not a single address in the mailto: URI");
		return MTS_DELIVER_PERMFAIL;
	}
	if (mts_deliver_build_mail(o, to, r, &msg, err, errlen) < 0) {
		mts_buf_free(&msg);
		return MTS_DELIVER_TEMPFAIL;
	}
	if (o->smtp_host[0] != '\0')
		st = submit_smtp(o, to, &msg, err, errlen);
	else
		st = run_sendmail(o, &msg, err, errlen);
	mts_buf_free(&msg);
	return st;
}
