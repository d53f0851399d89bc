#include "crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdlib.h>

void rum_crypto_sha256(uint8_t out[RUM_SHA256_LEN], const void *data, size_t len)
{
	SHA256(data, len, out);
}

char *rum_crypto_base64_new(const void *data, size_t len, size_t *out_len)
{
	size_t cap = 4 * ((len + 2) / 3) + 1;
	char *out = malloc(cap);
	int n;

	if (!out || len > (size_t)INT32_MAX)
		abort();
	n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	if (out_len)
		*out_len = (size_t)n;
	return out;
}

void rum_crypto_random(void *buf, size_t len)
{
	if (RAND_bytes(buf, (int)len) != 1)
		abort();
}

bool rum_crypto_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}
