/*
 * buf.h - bounded, growable byte buffers and string lists
 *
 * SYNOPSIS
 *	struct mts_buf b = MTS_BUF_INIT;
 *	if (mts_buf_append(&b, data, len) < 0) ...
 *	mts_buf_free(&b);
 *
 * DESCRIPTION
 *	A mts_buf owns a heap block that always holds a terminating NUL after
 *	the last byte (b.data[b.len] == 0) once anything was appended, so its
 *	content can be used as a C string when it holds no NUL of its own.
 *	Every size computation is checked: an append that would overflow
 *	size_t or exceed MTS_BUF_MAX fails with -1 and leaves the buffer as it
 *	was. Nothing here aborts.
 *
 *	A mts_strlist is a growable array of owned, NUL-terminated strings.
 *
 * DIAGNOSTICS
 *	Functions returning int return 0 on success and -1 on failure
 *	(out of memory or over the limit), with errno set (ENOMEM, EOVERFLOW).
 */
#ifndef MTS_BUF_H
#define MTS_BUF_H

#include <stdarg.h>
#include <stddef.h>

/* No buffer in this project ever needs more than this (policy bodies are
 * capped at 64 KiB, TLSRPT reports are compressed before they grow). */
#define MTS_BUF_MAX ((size_t)64 << 20)

struct mts_buf {
	char *data;
	size_t len;
	size_t cap;
};

#define MTS_BUF_INIT { NULL, 0, 0 }

int mts_buf_reserve(struct mts_buf *b, size_t extra);
int mts_buf_append(struct mts_buf *b, const void *data, size_t len);
int mts_buf_append_str(struct mts_buf *b, const char *s);
int mts_buf_printf(struct mts_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int mts_buf_vprintf(struct mts_buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Returns the content as a C string ("" for an empty buffer). */
const char *mts_buf_str(const struct mts_buf *b);
void mts_buf_reset(struct mts_buf *b);	/* len = 0, keeps the memory */
void mts_buf_free(struct mts_buf *b);

struct mts_strlist {
	char **item;
	size_t count;
	size_t cap;
};

#define MTS_STRLIST_INIT { NULL, 0, 0 }

int mts_strlist_add(struct mts_strlist *l, const char *s);
int mts_strlist_addn(struct mts_strlist *l, const char *s, size_t len);
void mts_strlist_free(struct mts_strlist *l);

/* Copies src into dst[size] with truncation; always NUL-terminates when
 * size > 0. Returns strlen(src), so a result >= size means truncation. */
size_t mts_strlcpy(char *dst, const char *src, size_t size);

/* Formats an error message into err[errlen] (nothing when err is NULL or
 * errlen 0; cut to fit) and returns -1, so that an error path reads
 * "return mts_errorf(err, errlen, "...", ...);". */
int mts_errorf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
