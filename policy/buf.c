/*
 * buf.c - bounded, growable byte buffers and string lists (see buf.h)
 */
#include "buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mts_buf_reserve(struct mts_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	/* Room for the bytes plus the terminating NUL, checked for overflow. */
	if (extra > MTS_BUF_MAX || b->len > MTS_BUF_MAX - extra) {
		errno = EOVERFLOW;
		return -1;
	}
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > MTS_BUF_MAX / 2 ? MTS_BUF_MAX + 1 : cap * 2;
	p = realloc(b->data, cap);
	if (p == NULL) {
		errno = ENOMEM;
		return -1;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

int mts_buf_append(struct mts_buf *b, const void *data, size_t len)
{
	if (mts_buf_reserve(b, len) < 0)
		return -1;
	if (len > 0)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int mts_buf_append_str(struct mts_buf *b, const char *s)
{
	return mts_buf_append(b, s, strlen(s));
}

int mts_buf_vprintf(struct mts_buf *b, const char *fmt, va_list ap)
{
	va_list again;
	int n;

	va_copy(again, ap);
	n = vsnprintf(NULL, 0, fmt, again);
	va_end(again);
	if (n < 0) {
		errno = EINVAL;
		return -1;
	}
	if (mts_buf_reserve(b, (size_t)n) < 0)
		return -1;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int mts_buf_printf(struct mts_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = mts_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

const char *mts_buf_str(const struct mts_buf *b)
{
	return b->data ? b->data : "";
}

void mts_buf_reset(struct mts_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void mts_buf_free(struct mts_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int mts_strlist_addn(struct mts_strlist *l, const char *s, size_t len)
{
	char *copy;

	if (l->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		char **p;

		if (cap > ((size_t)-1) / sizeof(*p)) {
			errno = EOVERFLOW;
			return -1;
		}
		p = realloc(l->item, cap * sizeof(*p));
		if (p == NULL)
			return -1;
		l->item = p;
		l->cap = cap;
	}
	copy = malloc(len + 1);
	if (copy == NULL)
		return -1;
	memcpy(copy, s, len);
	copy[len] = '\0';
	l->item[l->count++] = copy;
	return 0;
}

int mts_strlist_add(struct mts_strlist *l, const char *s)
{
	return mts_strlist_addn(l, s, strlen(s));
}

void mts_strlist_free(struct mts_strlist *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->item[i]);
	free(l->item);
	l->item = NULL;
	l->count = l->cap = 0;
}

size_t mts_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size > 0) {
		size_t c = n < size - 1 ? n : size - 1;

		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

int mts_errorf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}
