/* The one module that includes OpenSSL for rumd: hashes, base64, random. */
#ifndef RUM_UTIL_CRYPTO_H
#define RUM_UTIL_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RUM_SHA256_LEN 32

void rum_crypto_sha256(uint8_t out[RUM_SHA256_LEN], const void *data, size_t len);

/* SHA-256 of the file open on fd, read from offset 0 to its end a chunk at
 * a time (fd's offset is left alone). Errors: RUM_EIO, what naming the file. */
int rum_crypto_sha256_fd(uint8_t out[RUM_SHA256_LEN], int fd, const char *what);

/* Base64 (standard alphabet, padded, no newlines) of len bytes into a new
 * NUL-terminated string the caller frees; *out_len (if not NULL) gets its length. */
char *rum_crypto_base64_new(const void *data, size_t len, size_t *out_len);

/* Decodes base64 text (newlines allowed) into a new NUL-terminated buffer
 * (*out, caller frees) of *out_len bytes. RUM_ETOOBIG when it would pass
 * max bytes, RUM_EINVAL when it is not base64. */
int rum_crypto_base64_decode(char **out, size_t *out_len, const char *in, size_t len, size_t max);

/* Fills buf with cryptographically strong random bytes; aborts if the
 * system cannot provide them. */
void rum_crypto_random(void *buf, size_t len);

/* Whether a[0..len) equals b[0..len), in time that depends only on len (for
 * comparing secrets and their hashes). */
bool rum_crypto_equal(const void *a, const void *b, size_t len);

/* The public-key pin of the first certificate in pem[0..len) (PEM text, as
 * libcurl's CURLINFO_CERTINFO "Cert:" gives it): "sha256//" followed by the
 * base64 of the SHA-256 of the DER SubjectPublicKeyInfo, the form
 * CURLOPT_PINNEDPUBLICKEY takes. *out is malloc'd, caller frees.
 * Errors: RUM_EINVAL (no certificate in the text). */
int rum_crypto_spki_pin_from_pem(char **out, const char *pem, size_t len);

/* --- secrets at rest: AES-256-GCM --- */
#define RUM_SECRET_KEY_LEN 32
#define RUM_SEAL_OVERHEAD (12 + 16) /* nonce before, tag after the ciphertext */

/* Encrypts len bytes of plain with key under a fresh random nonce, binding
 * aad (may be NULL with aad_len 0): *out (malloc'd, caller frees) is
 * nonce || ciphertext || tag, *out_len = len + RUM_SEAL_OVERHEAD. */
void rum_crypto_seal(uint8_t **out, size_t *out_len, const uint8_t key[RUM_SECRET_KEY_LEN],
		     const void *aad, size_t aad_len, const void *plain, size_t len);

/* Reverses rum_crypto_seal: *out (malloc'd, NUL-terminated, caller frees
 * and should wipe with rum_crypto_wipe). Returns 0, or -1 when the data was
 * tampered with, is truncated, or the key or aad differ. */
int rum_crypto_open(char **out, size_t *out_len, const uint8_t key[RUM_SECRET_KEY_LEN],
		    const void *aad, size_t aad_len, const uint8_t *sealed, size_t len);

/* --- passwords: scrypt (RFC 7914) --- */
/* A stored password hash ("$scrypt$ln=15,r=8,p=1$<salt hex>$<key hex>") fits
 * in this, with its NUL. */
#define RUM_PASSWORD_HASH_MAX 192

/* Hashes password with a fresh random salt, N = 2^15, r = 8, p = 1 (32 MiB,
 * about 0.1 s on a 2020s core: a stolen table costs an attacker as much per
 * guess). RUM_EINTERNAL when OpenSSL refuses. */
int rum_crypto_password_hash(char out[RUM_PASSWORD_HASH_MAX], const char *password);

/* Whether password matches a hash of rum_crypto_password_hash (its own
 * parameters, within bounds). 0: it does; RUM_EAUTH: it does not;
 * RUM_EINVAL: stored is not such a hash. */
int rum_crypto_password_verify(const char *stored, const char *password);

/* Overwrites len bytes in a way the compiler keeps (for secrets). */
void rum_crypto_wipe(void *p, size_t len);

#endif
