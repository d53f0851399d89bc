/* The one module that includes OpenSSL for rumd: hashes, base64, random. */
#ifndef RUM_UTIL_CRYPTO_H
#define RUM_UTIL_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RUM_SHA256_LEN 32

void rum_crypto_sha256(uint8_t out[RUM_SHA256_LEN], const void *data, size_t len);

/* Base64 (standard alphabet, padded, no newlines) of len bytes into a new
 * NUL-terminated string the caller frees; *out_len (if not NULL) gets its length. */
char *rum_crypto_base64_new(const void *data, size_t len, size_t *out_len);

/* Fills buf with cryptographically strong random bytes; aborts if the
 * system cannot provide them. */
void rum_crypto_random(void *buf, size_t len);

/* Whether a[0..len) equals b[0..len), in time that depends only on len (for
 * comparing secrets and their hashes). */
bool rum_crypto_equal(const void *a, const void *b, size_t len);

#endif
