#include "lib/crypto.h"

#include "lib/err.h"

#include <errno.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* SHA-256 fetched from the provider once: SHA256() and EVP_sha256() look
 * the algorithm up again on every call, which costs as much as hashing a
 * few hundred bytes. */
static EVP_MD *rum_crypto_sha256_md;
static pthread_once_t rum_crypto_sha256_once = PTHREAD_ONCE_INIT;

static void rum_crypto_sha256_fetch(void)
{
	rum_crypto_sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void rum_crypto_sha256(uint8_t out[RUM_SHA256_LEN], const void *data, size_t len)
{
	pthread_once(&rum_crypto_sha256_once, rum_crypto_sha256_fetch);
	if (!rum_crypto_sha256_md || !EVP_Digest(data, len, out, NULL, rum_crypto_sha256_md, NULL))
		abort();
}

int rum_crypto_sha256_fd(uint8_t out[RUM_SHA256_LEN], int fd, const char *what)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t size = 256u << 10;
	char *buf = malloc(size);
	off_t off = 0;
	int rc = 0;

	pthread_once(&rum_crypto_sha256_once, rum_crypto_sha256_fetch);
	if (!ctx || !buf || !rum_crypto_sha256_md ||
	    !EVP_DigestInit_ex(ctx, rum_crypto_sha256_md, NULL))
		abort();
	for (;;) {
		ssize_t n = pread(fd, buf, size, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = rum_err_set(RUM_EIO, "reading %s: %s", what, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		if (!EVP_DigestUpdate(ctx, buf, (size_t)n))
			abort();
		off += n;
	}
	if (rc == 0 && !EVP_DigestFinal_ex(ctx, out, NULL))
		abort();
	EVP_MD_CTX_free(ctx);
	free(buf);
	return rc;
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

/* The kernel's CSPRNG (getrandom(2), which blocks only until the pool is
 * first seeded at boot): for the few bytes of a poll id it costs a third
 * of OpenSSL's DRBG, which also contends across threads. */
void rum_crypto_random(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (RAND_bytes(p, (int)len) != 1)
				abort();
			return;
		}
		p += n;
		len -= (size_t)n;
	}
}

bool rum_crypto_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

int rum_crypto_spki_pin_from_pem(char **out, const char *pem, size_t len)
{
	BIO *bio = len <= INT32_MAX ? BIO_new_mem_buf(pem, (int)len) : NULL;
	X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	unsigned char *der = NULL;
	uint8_t hash[RUM_SHA256_LEN];
	char *b64;
	int n, rc = 0;

	*out = NULL;
	n = cert ? i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der) : -1;
	if (n <= 0) {
		rc = rum_err_set(RUM_EINVAL, "no PEM certificate with a public key in the text");
		goto out;
	}
	rum_crypto_sha256(hash, der, (size_t)n);
	b64 = rum_crypto_base64_new(hash, sizeof(hash), NULL);
	if (asprintf(out, "sha256//%s", b64) < 0)
		abort();
	free(b64);
out:
	OPENSSL_free(der);
	X509_free(cert);
	BIO_free(bio);
	ERR_clear_error(); /* leave no PEM parsing error queued for the next caller */
	return rc;
}

void rum_crypto_seal(uint8_t **out, size_t *out_len, const uint8_t key[RUM_SECRET_KEY_LEN],
		     const void *aad, size_t aad_len, const void *plain, size_t len)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	uint8_t *buf = malloc(len + RUM_SEAL_OVERHEAD);
	int n = 0, fin = 0;

	if (!ctx || !buf || len > (size_t)INT32_MAX || aad_len > (size_t)INT32_MAX)
		abort();
	rum_crypto_random(buf, 12);
	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, buf) != 1 ||
	    (aad_len && EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1) ||
	    EVP_EncryptUpdate(ctx, buf + 12, &n, plain, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(ctx, buf + 12 + n, &fin) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, buf + 12 + len) != 1)
		abort(); /* AES-GCM with valid sizes cannot fail but for a broken library */
	EVP_CIPHER_CTX_free(ctx);
	*out = buf;
	*out_len = len + RUM_SEAL_OVERHEAD;
}

int rum_crypto_open(char **out, size_t *out_len, const uint8_t key[RUM_SECRET_KEY_LEN],
		    const void *aad, size_t aad_len, const uint8_t *sealed, size_t len)
{
	EVP_CIPHER_CTX *ctx;
	size_t plen;
	char *buf;
	int n = 0, fin = 0, ok;

	*out = NULL;
	if (len < RUM_SEAL_OVERHEAD || len > (size_t)INT32_MAX || aad_len > (size_t)INT32_MAX)
		return -1;
	plen = len - RUM_SEAL_OVERHEAD;
	ctx = EVP_CIPHER_CTX_new();
	buf = malloc(plen + 1);
	if (!ctx || !buf)
		abort();
	ok = EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, sealed) == 1 &&
	     (!aad_len || EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len) == 1) &&
	     EVP_DecryptUpdate(ctx, (unsigned char *)buf, &n, sealed + 12, (int)plen) == 1 &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, (void *)(sealed + 12 + plen)) ==
		     1 &&
	     EVP_DecryptFinal_ex(ctx, (unsigned char *)buf + n, &fin) == 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok) {
		rum_crypto_wipe(buf, plen + 1);
		free(buf);
		return -1;
	}
	buf[plen] = '\0';
	*out = buf;
	*out_len = plen;
	return 0;
}

void rum_crypto_wipe(void *p, size_t len)
{
	if (p)
		OPENSSL_cleanse(p, len);
}

/* scrypt's cost: N = 2^ln. Verification accepts what a hash names, within
 * these bounds, so that the default can rise without breaking old hashes. */
#define RUM_SCRYPT_LN 15
#define RUM_SCRYPT_LN_MAX 20
#define RUM_SCRYPT_R 8
#define RUM_SCRYPT_P 1
#define RUM_SCRYPT_SALT 16
#define RUM_SCRYPT_KEY 32
#define RUM_SCRYPT_MAXMEM (1100ULL * 1024 * 1024)

static int rum_crypto_scrypt(uint8_t key[RUM_SCRYPT_KEY], const char *password, const uint8_t *salt,
			     size_t salt_len, unsigned ln, unsigned r, unsigned p)
{
	char why[160];

	if (EVP_PBE_scrypt(password, strlen(password), salt, salt_len, (uint64_t)1 << ln, r, p,
			   RUM_SCRYPT_MAXMEM, key, RUM_SCRYPT_KEY) == 1)
		return 0;
	ERR_error_string_n(ERR_get_error(), why, sizeof(why));
	ERR_clear_error();
	return rum_err_set(RUM_EINTERNAL, "scrypt: %s", why);
}

static void rum_crypto_hex(char *out, const uint8_t *data, size_t len)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[data[i] >> 4];
		out[2 * i + 1] = digits[data[i] & 15];
	}
	out[2 * len] = '\0';
}

static int rum_crypto_unhex(uint8_t *out, const char *hex, size_t len)
{
	for (size_t i = 0; i < 2 * len; i++) {
		char ch = hex[i];
		int v = ch >= '0' && ch <= '9'   ? ch - '0'
			: ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
						 : -1;

		if (v < 0)
			return -1;
		out[i / 2] = (uint8_t)(i % 2 ? (out[i / 2] << 4) | v : v);
	}
	return hex[2 * len] == '\0' || hex[2 * len] == '$' ? 0 : -1;
}

int rum_crypto_password_hash(char out[RUM_PASSWORD_HASH_MAX], const char *password)
{
	uint8_t salt[RUM_SCRYPT_SALT], key[RUM_SCRYPT_KEY];
	char salt_hex[2 * RUM_SCRYPT_SALT + 1], key_hex[2 * RUM_SCRYPT_KEY + 1];
	int rc;

	rum_crypto_random(salt, sizeof(salt));
	rc = rum_crypto_scrypt(key, password, salt, sizeof(salt), RUM_SCRYPT_LN, RUM_SCRYPT_R,
			       RUM_SCRYPT_P);
	if (rc != 0)
		return rc;
	rum_crypto_hex(salt_hex, salt, sizeof(salt));
	rum_crypto_hex(key_hex, key, sizeof(key));
	rum_crypto_wipe(key, sizeof(key));
	snprintf(out, RUM_PASSWORD_HASH_MAX, "$scrypt$ln=%d,r=%d,p=%d$%s$%s", RUM_SCRYPT_LN,
		 RUM_SCRYPT_R, RUM_SCRYPT_P, salt_hex, key_hex);
	return 0;
}

int rum_crypto_password_verify(const char *stored, const char *password)
{
	uint8_t salt[RUM_SCRYPT_SALT], want[RUM_SCRYPT_KEY], got[RUM_SCRYPT_KEY];
	unsigned ln, r, p;
	int used = 0, rc;

	if (!stored || sscanf(stored, "$scrypt$ln=%2u,r=%2u,p=%2u$%n", &ln, &r, &p, &used) != 3 ||
	    used == 0 || ln < 10 || ln > RUM_SCRYPT_LN_MAX || r < 1 || r > 32 || p < 1 || p > 4 ||
	    strlen(stored + used) != 2 * RUM_SCRYPT_SALT + 1 + 2 * RUM_SCRYPT_KEY ||
	    rum_crypto_unhex(salt, stored + used, sizeof(salt)) != 0 ||
	    rum_crypto_unhex(want, stored + used + 2 * RUM_SCRYPT_SALT + 1, sizeof(want)) != 0)
		return rum_err_set(RUM_EINVAL, "not a password hash rumd made");
	rc = rum_crypto_scrypt(got, password, salt, sizeof(salt), ln, r, p);
	if (rc == 0 && !rum_crypto_equal(got, want, sizeof(got)))
		rc = rum_err_set(RUM_EAUTH, "wrong password");
	rum_crypto_wipe(got, sizeof(got));
	return rc;
}

int rum_crypto_base64_decode(char **out, size_t *out_len, const char *in, size_t len, size_t max)
{
	EVP_ENCODE_CTX *ctx;
	unsigned char *buf;
	int n = 0, m = 0, rc = 0;

	if (len > INT32_MAX || len / 4 * 3 > max + 3)
		return rum_err_set(RUM_ETOOBIG, "base64 text larger than %zu decoded bytes", max);
	buf = malloc(len / 4 * 3 + 4);
	ctx = EVP_ENCODE_CTX_new();
	if (!buf || !ctx)
		abort();
	EVP_DecodeInit(ctx);
	if (EVP_DecodeUpdate(ctx, buf, &n, (const unsigned char *)in, (int)len) < 0 ||
	    EVP_DecodeFinal(ctx, buf + n, &m) < 0) {
		rc = rum_err_set(RUM_EINVAL, "not valid base64");
		free(buf);
	} else {
		buf[n + m] = '\0';
		*out = (char *)buf;
		*out_len = (size_t)(n + m);
	}
	EVP_ENCODE_CTX_free(ctx);
	return rc;
}
