/*
 * The few XML elements S3 responses carry (ListBucketResult, Error,
 * InitiateMultipartUploadResult, ListMultipartUploadsResult ...), found
 * by tag name: S3's documents are flat, machine-written and never nest an
 * element inside one of the same name, so a scan for <tag> and </tag>
 * reads them without an XML library.  Also the RFC 3986 %-encoding of
 * keys and query values that Signature V4 expects.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "io/s3.h"

static const char *find(const char *h, size_t hlen, const char *n, size_t nlen)
{
	if (nlen > hlen)
		return NULL;
	return memmem(h, hlen, n, nlen);
}

bool sp_s3_xml_next(const char *doc, size_t len, size_t *pos, const char *tag,
		    struct sp_s3_xml_item *out)
{
	char open[72], close[72];
	size_t tl = strlen(tag);

	if (tl + 3 >= sizeof(open) || *pos > len)
		return false;
	open[0] = '<';
	memcpy(open + 1, tag, tl);
	close[0] = '<';
	close[1] = '/';
	memcpy(close + 2, tag, tl);
	close[tl + 2] = '>';
	for (size_t at = *pos; at < len;) {
		const char *o = find(doc + at, len - at, open, tl + 1);
		if (!o)
			return false;
		size_t oe = (size_t)(o - doc) + tl + 1;
		if (oe >= len)
			return false;
		if (doc[oe] != '>' && doc[oe] != ' ' && doc[oe] != '/') {
			at = oe; /* a longer tag name: <KeyCount> for <Key> */
			continue;
		}
		const char *gt = memchr(doc + oe, '>', len - oe);
		if (!gt)
			return false;
		if (gt[-1] == '/') { /* <Tag/>: empty */
			out->p = gt + 1;
			out->len = 0;
			*pos = (size_t)(gt + 1 - doc);
			return true;
		}
		size_t body = (size_t)(gt + 1 - doc);
		const char *c = find(doc + body, len - body, close, tl + 3);
		if (!c)
			return false;
		out->p = doc + body;
		out->len = (size_t)(c - out->p);
		*pos = (size_t)(c - doc) + tl + 3;
		return true;
	}
	return false;
}

/* One entity at s[0..n) (after '&'): the byte it stands for, its length
 * through ';' in *used; -1 when it is not one. */
static int entity(const char *s, size_t n, size_t *used)
{
	static const struct {
		const char *name;
		char c;
	} names[] = {{"amp;", '&'},
		     {"lt;", '<'},
		     {"gt;", '>'},
		     {"quot;", '"'},
		     {"apos;", '\''}};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t l = strlen(names[i].name);
		if (n >= l && !memcmp(s, names[i].name, l)) {
			*used = l;
			return (unsigned char)names[i].c;
		}
	}
	if (n >= 3 && s[0] == '#') {
		const char *semi = memchr(s, ';', n < 12 ? n : 12);
		if (!semi)
			return -1;
		bool hex = s[1] == 'x' || s[1] == 'X';
		long v = strtol(s + (hex ? 2 : 1), NULL, hex ? 16 : 10);
		if (v <= 0 || v > 255) /* keys with wider chars are UTF-8 */
			return -1;
		*used = (size_t)(semi - s) + 1;
		return (int)v;
	}
	return -1;
}

static size_t decode(const struct sp_s3_xml_item *it, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < it->len && o + 1 < cap; i++) {
		size_t used;
		int c;
		if (it->p[i] == '&' &&
		    (c = entity(it->p + i + 1, it->len - i - 1, &used)) >= 0) {
			out[o++] = (char)c;
			i += used;
		} else {
			out[o++] = it->p[i];
		}
	}
	if (cap)
		out[o] = '\0';
	return o;
}

char *sp_s3_xml_text(const struct sp_s3_xml_item *item)
{
	char *s = malloc(item->len + 1);

	if (s)
		decode(item, s, item->len + 1);
	return s;
}

void sp_s3_xml_copy(const struct sp_s3_xml_item *item, char *buf, size_t cap)
{
	decode(item, buf, cap);
}

int sp_s3_uri_encode(const char *s, bool keep_slash, char *buf, size_t cap,
		     size_t *len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = *len;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned char c = *p;
		bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
			    c == '.' || c == '~' || (keep_slash && c == '/');
		if (o + 4 > cap)
			return -ENAMETOOLONG;
		if (keep) {
			buf[o++] = (char)c;
		} else {
			buf[o++] = '%';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		}
	}
	buf[o] = '\0';
	*len = o;
	return 0;
}
