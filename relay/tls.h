/*
 * tls.h - the relay's TLS client: handshake, then our own validation
 *
 * SYNOPSIS
 *	SSL_CTX *ctx = relay_tls_ctx_new(&cfg, err, sizeof(err));
 *	relay_tls_handshake(ctx, fd, "mx1.example.com", deadline, &ssl, &out);
 *	relay_tls_check(ssl, "mx1.example.com", policy, &out);
 *	...
 *	relay_tls_outcome_free(&out);
 *
 * DESCRIPTION
 *	relay_tls_ctx_new(): one client context per process; TLS 1.2 or
 *	newer (RFC 8461 section 4.2 via RFC 7525); verification mode
 *	SSL_VERIFY_NONE, so that the handshake completes whatever the
 *	certificate, and testing mode or an opportunistic fallback can go
 *	on with a bad one: OpenSSL still validates the chain during the
 *	handshake and relay_tls_check() reads its result afterwards. Trust
 *	anchors: cfg->ca_file (a PEM bundle, parsed now) and/or cfg->ca_path
 *	(a hashed directory, read lazily: much cheaper for a process that
 *	lives for one connection), else the system's default store.
 *	Returns NULL with a message in err.
 *
 *	relay_tls_handshake(): client handshake on the connected,
 *	non-blocking fd, with SNI = sni (the MX host name; none when NULL),
 *	until the deadline. Returns 0 and *ssl when the handshake completed;
 *	-ETIMEDOUT, or -EPROTO with out->error set, when it did not (out->
 *	state RELAY_TLS_FAILED).
 *
 *	relay_tls_check(): classifies the chain (SSL_get_verify_result():
 *	expired / not yet valid, not trusted: self-signed, unknown issuer,
 *	untrusted, chain too long..., anything else invalid) and the name:
 *	with an MX name, a DNS SAN must match it (mts_cert_name_match: never
 *	the CN); without one, some DNS SAN must be matched by a pattern of
 *	the policy (mts_cert_matches_policy), and with neither there is
 *	nothing to check against (RELAY_NAME_UNCHECKED). Also fills the
 *	protocol version, cipher and SAN list for the log.
 */
#ifndef RELAY_TLS_H
#define RELAY_TLS_H

#include <stdint.h>

#include <openssl/ssl.h>

#include "buf.h"
#include "config.h"
#include "decide.h"
#include "policy.h"

struct relay_tls_outcome {
	enum relay_tls_state state;
	enum relay_chain chain;
	enum relay_name name;
	long verify_error;		/* X509_V_*, X509_V_OK */
	char error[256];		/* handshake or verify error text */
	char version[16];		/* "TLSv1.3" */
	char cipher[64];
	struct mts_strlist cert_names;	/* the peer's DNS SANs */
};

void relay_tls_outcome_init(struct relay_tls_outcome *o);
void relay_tls_outcome_free(struct relay_tls_outcome *o);

SSL_CTX *relay_tls_ctx_new(const struct mts_config *cfg, char *err,
			   size_t errlen);
int relay_tls_handshake(SSL_CTX *ctx, int fd, const char *sni,
			int64_t deadline, SSL **ssl,
			struct relay_tls_outcome *out);
void relay_tls_check(SSL *ssl, const char *mx, const struct mts_policy *p,
		     struct relay_tls_outcome *out);

/* Best effort, bounded: close_notify, then up to the deadline for the
 * peer's. Never after a fatal error on the connection. */
void relay_tls_close(SSL *ssl, int64_t deadline);

#endif
