/*
 * tlsrpt.h - the TLSRPT session spool (RFC 8460): one record per relay session
 *
 * SYNOPSIS (the relay, once per decided session)
 *	struct mts_tlsrpt_session s;
 *	char err[256];
 *
 *	mts_tlsrpt_session_init(&s);
 *	s.policy_domain = "example.com";	   // the recipient domain
 *	s.policy_type = MTS_TLSRPT_POLICY_STS;	   // or _NO_POLICY
 *	s.policy_text = r.text.data;		   // struct mts_result's body
 *	s.policy_text_len = r.text.len;
 *	s.mx_host = "mx1.example.com";
 *	s.sending_ip = "192.0.2.10";		   // getsockname() of the MX leg
 *	s.receiving_ip = "198.51.100.25";	   // getpeername() of the MX leg
 *	s.receiving_helo = "mx1.example.com";	   // name in the MX's EHLO reply
 *	s.result = MTS_TLSRPT_CERT_EXPIRED;	   // MTS_TLSRPT_SUCCESS if TLS ok
 *	s.failure_reason = "X509_V_ERR_CERT_HAS_EXPIRED";
 *	if (mts_tlsrpt_record(cfg->report_dir, &s, err, sizeof(err)) < 0)
 *		mts_log(MTS_LOG_WARN, "tlsrpt: %s", err);
 *
 * DESCRIPTION
 *	mts_tlsrpt_record() appends one line describing one session to the
 *	spool file of the session's UTC day, <report_dir>/spool/YYYY-MM-DD.
 *	It never blocks on a lock and never touches the network: the file is
 *	opened O_APPEND and the whole record goes out in ONE write(2) of at
 *	most MTS_TLSRPT_RECORD_MAX bytes, so records of concurrent processes
 *	never interleave (on a local file system the kernel serialises
 *	appends to one file). Long fields are truncated to fit; no record is
 *	ever split. The spool of one day is capped at MTS_TLSRPT_SPOOL_MAX
 *	bytes: past that, records are refused (error "spool ... is full").
 *
 *	The policy text of an "sts" session is not stored in each record:
 *	the record holds its SHA-256, and the text is stored once in
 *	<report_dir>/policies/<sha256 hex>, written atomically (temporary
 *	file, fsync, rename) before the record that refers to it.
 *
 *	Record contract (what the caller fills in):
 *	  time            Unix seconds of the decision; 0 = now. Chooses the
 *	                  day (UTC) the session is reported in.
 *	  policy_domain   required: the policy domain (recipient / next-hop
 *	                  domain), a host name; stored lower-case.
 *	  policy_type     MTS_TLSRPT_POLICY_STS when an MTA-STS policy (of any
 *	                  mode, fetched or cached) was applied or its fetch
 *	                  failed; MTS_TLSRPT_POLICY_NO_POLICY otherwise.
 *	  policy_text     sts: the policy body as served (may be NULL only for
 *	                  sts-policy-* failures where no policy is known);
 *	                  ignored for no-policy-found. At most
 *	                  MTS_POLICY_MAX_BYTES.
 *	  mx_host         the MX host name tried (NULL or "" when unknown).
 *	  sending_ip,     numeric addresses (inet_ntop form) of the MX leg;
 *	  receiving_ip    NULL or "" when unknown. Anything that is not an
 *	                  IPv4/IPv6 address is refused.
 *	  receiving_helo  the host name the MX announced (EHLO reply or 220
 *	                  greeting); NULL or "" when not seen.
 *	  result          MTS_TLSRPT_SUCCESS for a session that negotiated TLS
 *	                  as the policy requires, else the RFC 8460 result type.
 *	  failure_reason  optional text for "failure-reason-code" (an OpenSSL
 *	                  verify error name, "HTTP status 404", ...).
 *	  additional_info optional URI for "additional-information".
 *	All strings are copied; the caller keeps ownership. Control and
 *	non-ASCII bytes are escaped in the spool and never reach a report
 *	unescaped.
 *
 *	Directories are created mode 0700 and checked like the policy cache
 *	(mts_cache_dir_check(): owned by the user or root, not writable by
 *	others); files are created mode 0600 and opened with O_NOFOLLOW.
 *
 *	Spool line format, version 1 (docs/TLSRPT.md):
 *	  T1 TAB time TAB domain TAB policy-type TAB policy-sha256 TAB mx
 *	  TAB sending-ip TAB receiving-ip TAB helo TAB result TAB reason
 *	  TAB additional-info TAB crc32 LF
 *	Fields are escaped (\\ \t \n \r \xHH); the CRC-32 (8 hex digits) of
 *	everything before its TAB lets the reader skip a damaged line.
 *
 * DIAGNOSTICS
 *	Functions returning int return 0 on success, -1 on failure with a
 *	message in err; read functions that can find nothing return 1 then.
 */
#ifndef MTS_TLSRPT_H
#define MTS_TLSRPT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "engine.h"

#define MTS_TLSRPT_RECORD_MAX 4096		/* one write(2), one line */
#define MTS_TLSRPT_SPOOL_MAX ((int64_t)128 << 20)	/* bytes per day */

/* Escaped field caps: the sum stays below MTS_TLSRPT_RECORD_MAX. */
#define MTS_TLSRPT_HOST_MAX 253
#define MTS_TLSRPT_IP_MAX 45			/* INET6_ADDRSTRLEN - 1 */
#define MTS_TLSRPT_HELO_MAX 512
#define MTS_TLSRPT_REASON_MAX 1024
#define MTS_TLSRPT_INFO_MAX 1024
#define MTS_TLSRPT_HASH_HEX 64

enum mts_tlsrpt_policy_type {
	MTS_TLSRPT_POLICY_STS = 0,	/* "sts" */
	MTS_TLSRPT_POLICY_NO_POLICY,	/* "no-policy-found" */
};

enum mts_tlsrpt_result {
	MTS_TLSRPT_SUCCESS = 0,
	MTS_TLSRPT_STARTTLS_NOT_SUPPORTED,
	MTS_TLSRPT_CERT_HOST_MISMATCH,
	MTS_TLSRPT_CERT_EXPIRED,
	MTS_TLSRPT_CERT_NOT_TRUSTED,
	MTS_TLSRPT_VALIDATION_FAILURE,
	MTS_TLSRPT_STS_POLICY_FETCH_ERROR,
	MTS_TLSRPT_STS_POLICY_INVALID,
	MTS_TLSRPT_STS_WEBPKI_INVALID,
};
#define MTS_TLSRPT_RESULT_COUNT 9

struct mts_tlsrpt_session {
	int64_t time;
	const char *policy_domain;
	enum mts_tlsrpt_policy_type policy_type;
	const char *policy_text;
	size_t policy_text_len;
	const char *mx_host;
	const char *sending_ip;
	const char *receiving_ip;
	const char *receiving_helo;
	enum mts_tlsrpt_result result;
	const char *failure_reason;
	const char *additional_info;
};

/* Zeroes s: time now, no strings, type sts, result success. */
void mts_tlsrpt_session_init(struct mts_tlsrpt_session *s);

/* Records one session in the spool under report_dir (cfg->report_dir). */
int mts_tlsrpt_record(const char *report_dir,
		      const struct mts_tlsrpt_session *s,
		      char *err, size_t errlen);

/* "success", "starttls-not-supported", ...; "?" when out of range. */
const char *mts_tlsrpt_result_name(enum mts_tlsrpt_result r);
/* Parses a name of mts_tlsrpt_result_name(). Returns 0 or -1. */
int mts_tlsrpt_result_parse(const char *name, enum mts_tlsrpt_result *out);
/* "sts" or "no-policy-found". */
const char *mts_tlsrpt_policy_type_name(enum mts_tlsrpt_policy_type t);
/* The result type of a policy look-up failure (engine.h): fetch,
 * invalid and webpki map to the sts-policy-* types; anything else
 * (none, DNS, cache) to MTS_TLSRPT_SUCCESS, i.e. "not a TLSRPT failure". */
enum mts_tlsrpt_result mts_tlsrpt_result_from_failure(enum mts_failure f);

/* ---- reading the spool back (the report side) ---- */

/* One parsed record; the strings are unescaped copies, "" when absent. */
struct mts_tlsrpt_rec {
	int64_t time;
	char domain[MTS_TLSRPT_HOST_MAX + 1];
	enum mts_tlsrpt_policy_type policy_type;
	char policy_hash[MTS_TLSRPT_HASH_HEX + 1];	/* "" when none */
	char mx_host[MTS_TLSRPT_HOST_MAX + 1];
	char sending_ip[MTS_TLSRPT_IP_MAX + 1];
	char receiving_ip[MTS_TLSRPT_IP_MAX + 1];
	char receiving_helo[MTS_TLSRPT_HELO_MAX + 1];
	enum mts_tlsrpt_result result;
	char failure_reason[MTS_TLSRPT_REASON_MAX + 1];
	char additional_info[MTS_TLSRPT_INFO_MAX + 1];
};

/* The spool line of s (time 0 replaced by now), ending in LF, at most
 * MTS_TLSRPT_RECORD_MAX bytes. policy_hash: hex SHA-256 of the policy
 * text or NULL. Exposed for tests. */
int mts_tlsrpt_format(const struct mts_tlsrpt_session *s, int64_t now,
		      const char *policy_hash, struct mts_buf *line,
		      char *err, size_t errlen);
/* Parses one line (without or with its LF). Returns 0, or -1 when the
 * line is damaged or of an unknown version. */
int mts_tlsrpt_parse(const char *line, size_t len, struct mts_tlsrpt_rec *out);

typedef int (*mts_tlsrpt_visit_fn)(const struct mts_tlsrpt_rec *rec,
				   void *arg);

/* Calls visit for every valid record of day ("YYYY-MM-DD") in file order;
 * a non-zero return from visit stops the walk and is returned. *records
 * and *damaged (both may be NULL) count good and skipped lines. Returns
 * 0, 1 when the day has no spool file, -1 on error. */
int mts_tlsrpt_read_day(const char *report_dir, const char *day,
			mts_tlsrpt_visit_fn visit, void *arg,
			size_t *records, size_t *damaged,
			char *err, size_t errlen);

/* The days that have a spool file, sorted ascending. */
int mts_tlsrpt_days(const char *report_dir, struct mts_strlist *days,
		    char *err, size_t errlen);

/* The policy text stored under hash. Returns 0, 1 when absent, -1. */
int mts_tlsrpt_policy_load(const char *report_dir, const char *hash,
			   struct mts_buf *text, char *err, size_t errlen);

/* ---- the reporting policy: TXT _smtp._tls.<domain> (RFC 8460 3) ---- */

/* 1 when the record takes part in the count: it begins with "v=TLSRPTv1"
 * followed by ';', WSP or its end (the same reading as mts_txt_is_sts). */
int mts_tlsrpt_txt_is_tlsrpt(const char *rec, size_t len);

/* Validates one record against the ABNF
 *   tlsrpt-record    = "v=TLSRPTv1" 1*(field-delim tlsrpt-field) [field-delim]
 *   field-delim      = *WSP ";" *WSP
 *   tlsrpt-rua       = "rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
 *   tlsrpt-extension = ext-name "=" 1*(%x21-3A / %x3C / %x3E-7E)
 *   ext-name         = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
 * A rua field is required (the first one counts). Each URI's scheme is
 * compared case-insensitively; "mailto:" and "https:" URIs are added to
 * rua in record order, others are skipped; at least one must be usable.
 * Returns NULL, or a static reason. */
const char *mts_tlsrpt_txt_parse(const char *rec, size_t len,
				 struct mts_strlist *rua);

/* The discard-then-count rule over all TXT records of the name: records
 * that are not TLSRPT records are dropped, exactly one must be left and
 * valid. Returns NULL with rua filled, or a reason ("no v=TLSRPTv1
 * record", "more than one v=TLSRPTv1 record", or the parse reason). */
const char *mts_tlsrpt_txt_select(char *const *records, const size_t *lens,
				  size_t count, struct mts_strlist *rua);

/* ---- file helpers shared by the report modules ---- */

/* "YYYY-MM-DD" of t in UTC into out[11]; -1 if t is out of range. */
int mts_tlsrpt_day_of(int64_t t, char out[11]);
/* Parses "YYYY-MM-DD" (a real calendar date) into the Unix time of its
 * 00:00:00 UTC. Returns 0 or -1. */
int mts_tlsrpt_day_parse(const char *day, int64_t *start);

/* Makes sure <report_dir> (mts_cache_dir_check rules) and, when sub is
 * not NULL, <report_dir>/<sub> exist and are private; writes the path of
 * the latter (or of report_dir) into out. */
int mts_tlsrpt_dir(const char *report_dir, const char *sub, char *out,
		   size_t outlen, char *err, size_t errlen);

/* Writes data as dir/name atomically (temporary file in dir, fsync,
 * rename), mode 0600. name must be a plain file name. */
int mts_tlsrpt_write_atomic(const char *dir, const char *name,
			    const void *data, size_t len,
			    char *err, size_t errlen);

/* Reads dir/name (O_NOFOLLOW, a regular file owned by the user or root)
 * of at most max bytes into out. Returns 0, 1 when absent, -1. */
int mts_tlsrpt_read_file(const char *dir, const char *name, size_t max,
			 struct mts_buf *out, char *err, size_t errlen);

#endif
