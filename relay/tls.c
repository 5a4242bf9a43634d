/*
 * tls.c - the relay's TLS client: handshake, then our own validation
 *
 * DESCRIPTION
 *	See tls.h. The handshake never fails because of the certificate
 *	(SSL_VERIFY_NONE): the chain is still validated by OpenSSL against
 *	our trust anchors during the handshake, and its verdict is read
 *	with SSL_get_verify_result() once the handshake is done. Without a
 *	verify callback OpenSSL stops at the first error it meets, so the
 *	result is the first problem of the chain (an unknown issuer is found
 *	before an expiry), which is what a report should name.
 *
 *	The host name is never checked by OpenSSL here (no SSL_set1_host):
 *	the policy engine's SAN-only matcher does it (certname.h), so the
 *	CN can never stand in for a missing DNS SAN.
 */
#include "tls.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "certname.h"
#include "match.h"
#include "wait.h"

void relay_tls_outcome_init(struct relay_tls_outcome *o)
{
	memset(o, 0, sizeof(*o));
	o->state = RELAY_TLS_NOT_TRIED;
	o->chain = RELAY_CHAIN_INVALID;
	o->name = RELAY_NAME_UNCHECKED;
	o->verify_error = X509_V_OK;
	o->cert_names = (struct mts_strlist)MTS_STRLIST_INIT;
}

void relay_tls_outcome_free(struct relay_tls_outcome *o)
{
	mts_strlist_free(&o->cert_names);
}

/* The first queued OpenSSL error as text into out, or fallback. */
static void openssl_error(char *out, size_t outlen, const char *what,
			  const char *fallback)
{
	unsigned long e = ERR_get_error();
	char text[200];

	if (e != 0)
		ERR_error_string_n(e, text, sizeof(text));
	else
		mts_strlcpy(text, fallback, sizeof(text));
	snprintf(out, outlen, "%s: %s", what, text);
	ERR_clear_error();
}

SSL_CTX *relay_tls_ctx_new(const struct mts_config *cfg, char *err,
			   size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		openssl_error(err, errlen, "SSL_CTX_new", "failed");
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		openssl_error(err, errlen, "TLS 1.2 minimum", "refused");
		goto fail;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* One connection per process: nothing to resume; and no
	 * renegotiation, which SMTP never needs. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
	if (cfg->ca_file[0] != '\0' &&
	    SSL_CTX_load_verify_file(ctx, cfg->ca_file) != 1) {
		openssl_error(err, errlen, cfg->ca_file, "cannot load");
		goto fail;
	}
	if (cfg->ca_path[0] != '\0' &&
	    SSL_CTX_load_verify_dir(ctx, cfg->ca_path) != 1) {
		openssl_error(err, errlen, cfg->ca_path, "cannot use");
		goto fail;
	}
	if (cfg->ca_file[0] == '\0' && cfg->ca_path[0] == '\0' &&
	    SSL_CTX_set_default_verify_paths(ctx) != 1) {
		openssl_error(err, errlen, "default trust store",
			      "cannot load");
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* Waits for what SSL_get_error() asked for. 0, -ETIMEDOUT, -EPROTO. */
static int wait_for(SSL *ssl, int fd, int ret, int64_t deadline,
		    const char *what, struct relay_tls_outcome *out)
{
	int e = SSL_get_error(ssl, ret), ev;
	short events;

	if (e == SSL_ERROR_WANT_READ)
		events = POLLIN;
	else if (e == SSL_ERROR_WANT_WRITE)
		events = POLLOUT;
	else {
		if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
			snprintf(out->error, sizeof(out->error), "%s: %s",
				 what, errno != 0 ? strerror(errno) :
				 "connection closed by the server");
		else
			openssl_error(out->error, sizeof(out->error), what,
				      "failed");
		return -EPROTO;
	}
	ev = relay_wait_fd(fd, events, deadline);
	if (ev == 0) {
		snprintf(out->error, sizeof(out->error),
			 "%s: not finished before the deadline", what);
		return -ETIMEDOUT;
	}
	if (ev < 0) {
		snprintf(out->error, sizeof(out->error), "%s: poll: %s", what,
			 strerror(-ev));
		return -EPROTO;
	}
	return 0;
}

int relay_tls_handshake(SSL_CTX *ctx, int fd, const char *sni,
			int64_t deadline, SSL **sslp,
			struct relay_tls_outcome *out)
{
	SSL *ssl = SSL_new(ctx);
	int rc;

	*sslp = NULL;
	out->state = RELAY_TLS_FAILED;
	if (ssl == NULL || SSL_set_fd(ssl, fd) != 1 ||
	    (sni != NULL && SSL_set_tlsext_host_name(ssl, sni) != 1)) {
		openssl_error(out->error, sizeof(out->error), "TLS set-up",
			      "failed");
		SSL_free(ssl);
		return -EPROTO;
	}
	SSL_set_connect_state(ssl);
	for (;;) {
		int r;

		ERR_clear_error();
		errno = 0;
		r = SSL_connect(ssl);
		if (r == 1)
			break;
		if ((rc = wait_for(ssl, fd, r, deadline, "TLS handshake",
				   out)) < 0) {
			SSL_free(ssl);
			return rc;
		}
	}
	out->state = RELAY_TLS_ESTABLISHED;
	mts_strlcpy(out->version, SSL_get_version(ssl), sizeof(out->version));
	mts_strlcpy(out->cipher, SSL_get_cipher_name(ssl),
		    sizeof(out->cipher));
	*sslp = ssl;
	return 0;
}

static enum relay_chain classify(long v)
{
	switch (v) {
	case X509_V_OK:
		return RELAY_CHAIN_OK;
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return RELAY_CHAIN_EXPIRED;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return RELAY_CHAIN_NOT_YET_VALID;
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_CERT_UNTRUSTED:
	case X509_V_ERR_CERT_REJECTED:
	case X509_V_ERR_CERT_CHAIN_TOO_LONG:
	case X509_V_ERR_PATH_LENGTH_EXCEEDED:
	case X509_V_ERR_INVALID_CA:
		return RELAY_CHAIN_UNTRUSTED;
	default:
		return RELAY_CHAIN_INVALID;
	}
}

static enum relay_name check_name(X509 *cert, const char *mx,
				  const struct mts_policy *p)
{
	if (mx != NULL)
		return mts_cert_name_match(cert, mx) ? RELAY_NAME_OK :
						       RELAY_NAME_MISMATCH;
	if (p != NULL &&
	    (p->mode == MTS_MODE_ENFORCE || p->mode == MTS_MODE_TESTING))
		return mts_cert_matches_policy(cert, p) ? RELAY_NAME_OK :
							  RELAY_NAME_MISMATCH;
	return RELAY_NAME_UNCHECKED;
}

void relay_tls_check(SSL *ssl, const char *mx, const struct mts_policy *p,
		     struct relay_tls_outcome *out)
{
	X509 *cert = SSL_get0_peer_certificate(ssl);

	if (cert == NULL) {
		out->chain = RELAY_CHAIN_INVALID;
		out->name = RELAY_NAME_MISMATCH;
		mts_strlcpy(out->error, "no server certificate",
			    sizeof(out->error));
		return;
	}
	out->verify_error = SSL_get_verify_result(ssl);
	out->chain = classify(out->verify_error);
	if (out->verify_error != X509_V_OK)
		snprintf(out->error, sizeof(out->error), "%s",
			 X509_verify_cert_error_string(out->verify_error));
	out->name = check_name(cert, mx, p);
	mts_strlist_free(&out->cert_names);	/* checked again: no duplicates */
	mts_cert_dns_names(cert, &out->cert_names);
}

void relay_tls_close(SSL *ssl, int64_t deadline)
{
	int fd = SSL_get_fd(ssl);

	for (;;) {
		int r, e, ev;

		ERR_clear_error();
		r = SSL_shutdown(ssl);
		if (r >= 0)
			return;		/* close_notify sent */
		e = SSL_get_error(ssl, r);
		if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ)
			return;
		ev = relay_wait_fd(fd, e == SSL_ERROR_WANT_WRITE ? POLLOUT :
				   POLLIN, deadline);
		if (ev <= 0)
			return;
	}
}
