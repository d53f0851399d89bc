/* Tenant path decoding, strict numbers, text checks, hashing. */
#include "api/api.h"
#include "check.h"
#include "lib/crypto.h"
#include "lib/err.h"
#include "lib/mem.h"
#include "lib/strict.h"
#include "lib/text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void test_percent_decode(void)
{
	char out[32];

	CHECK_INT(rum_api_percent_decode(out, sizeof(out), "CUBE%20Regression%20Mirabile-1", 30),
		  0);
	CHECK_STR(out, "CUBE Regression Mirabile-1");
	CHECK_INT(rum_api_percent_decode(out, sizeof(out), "caf%C3%a9", 9), 0);
	CHECK_STR(out, "caf\xc3\xa9");
	CHECK_INT(rum_api_percent_decode(out, sizeof(out), "SATELLITE9-1", 12), 0);
	CHECK_STR(out, "SATELLITE9-1");
	CHECK_INT(rum_api_percent_decode(out, sizeof(out), "a%2", 3), RUM_EINVAL);
	CHECK_INT(rum_api_percent_decode(out, sizeof(out), "a%", 2), RUM_EINVAL);
	CHECK_INT(rum_api_percent_decode(out, sizeof(out), "a%zz", 4), RUM_EINVAL);
	CHECK_INT(rum_api_percent_decode(out, sizeof(out), "a%00b", 5), RUM_EINVAL);
	CHECK_INT(rum_api_percent_decode(out, 4, "abcd", 4), RUM_EINVAL);
	/* Only len bytes are read. */
	CHECK_INT(rum_api_percent_decode(out, sizeof(out), "ab/cd", 2), 0);
	CHECK_STR(out, "ab");
}

static void test_strict(void)
{
	int64_t v;

	CHECK_INT(rum_strict_int64(&v, "1646687408"), 0);
	CHECK_INT(v, 1646687408);
	CHECK_INT(rum_strict_int64(&v, "-5"), 0);
	CHECK_INT(v, -5);
	CHECK_INT(rum_strict_int64(&v, ""), RUM_EINVAL);
	CHECK_INT(rum_strict_int64(&v, "+5"), RUM_EINVAL);
	CHECK_INT(rum_strict_int64(&v, "5 "), RUM_EINVAL);
	CHECK_INT(rum_strict_int64(&v, "9223372036854775807"), 0);
	CHECK_INT(rum_strict_int64(&v, "9223372036854775808"), RUM_EINVAL);
	CHECK_INT(rum_strict_int64(&v, "99999999999999999999"), RUM_EINVAL);
	CHECK_INT(rum_strict_bytes(&v, "16MiB"), 0);
	CHECK_INT(v, 16 << 20);
	CHECK_INT(rum_strict_bytes(&v, "4k"), 0);
	CHECK_INT(v, 4096);
	CHECK_INT(rum_strict_bytes(&v, "1024"), 0);
	CHECK_INT(rum_strict_bytes(&v, "MiB"), RUM_EINVAL);
	CHECK_INT(rum_strict_bytes(&v, "5 MiB"), RUM_EINVAL);
	CHECK_INT(rum_strict_bytes(&v, "9999999999999G"), RUM_EINVAL);
}

static void test_text(void)
{
	CHECK(rum_text_printable_utf8("tenant A", 8));
	CHECK(rum_text_printable_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14));
	CHECK(!rum_text_printable_utf8("a\tb", 3));
	CHECK(!rum_text_printable_utf8("a\x7f", 2));
	CHECK(!rum_text_printable_utf8("\xc3", 1));             /* truncated */
	CHECK(!rum_text_printable_utf8("\xc0\xaf", 2));         /* overlong */
	CHECK(!rum_text_printable_utf8("\xed\xa0\x80", 3));     /* surrogate */
	CHECK(!rum_text_printable_utf8("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
	CHECK(!rum_text_printable_utf8("\xe2\x82", 2));
}

static void test_crypto(void)
{
	uint8_t h[RUM_SHA256_LEN];
	char *b64;

	rum_crypto_sha256(h, "abc", 3);
	CHECK_INT(h[0], 0xba);
	CHECK_INT(h[31], 0xad);
	b64 = rum_crypto_base64_new("<smartLicense/>", 15, NULL);
	CHECK_STR(b64, "PHNtYXJ0TGljZW5zZS8+");
	free(b64);
	b64 = rum_crypto_base64_new("", 0, NULL);
	CHECK_STR(b64, "");
	free(b64);
	/* Random bytes fill the whole buffer, past getrandom's 256-byte unit. */
	{
		static uint8_t big[4096];
		uint64_t a = 0, b = 0;
		size_t zero_tail = 0;

		rum_crypto_random(&a, sizeof(a));
		rum_crypto_random(&b, sizeof(b));
		CHECK(a != b);
		rum_crypto_random(big, sizeof(big));
		for (size_t i = sizeof(big) - 64; i < sizeof(big); i++)
			zero_tail += big[i] == 0;
		CHECK(zero_tail < 16);
	}
}

static void test_hex_and_duration(void)
{
	const unsigned char data[] = {0x00, 0x9f, 0xa0, 0xff};
	unsigned char back[4] = {0};
	char hex[9];
	int64_t v = 0;

	rum_text_hex(hex, data, sizeof(data));
	CHECK_STR(hex, "009fa0ff");
	CHECK_INT(rum_text_unhex(back, "009FA0ff", 4), 0);
	CHECK(memcmp(back, data, 4) == 0);
	CHECK_INT(rum_text_unhex(back, "00zz", 2), -1);
	CHECK_INT(rum_text_unhex(back, "0", 1), -1); /* the NUL is not a digit */
	CHECK_INT(rum_strict_duration(&v, "24h"), 0);
	CHECK_INT(v, 86400);
	CHECK_INT(rum_strict_duration(&v, "90"), 0);
	CHECK_INT(v, 90);
	CHECK_INT(rum_strict_duration(&v, "2w"), 0);
	CHECK_INT(v, 1209600);
	CHECK_INT(rum_strict_duration(&v, "5x"), RUM_EINVAL);
	CHECK_INT(rum_strict_duration(&v, "h"), RUM_EINVAL);
	CHECK_INT(rum_strict_duration(&v, "-1s"), RUM_EINVAL);
	CHECK_INT(rum_strict_duration(&v, "9999999999999999999d"), RUM_EINVAL);
}

static void test_quote_and_numbers(void)
{
	char out[64], small[8], num[RUM_TEXT_I64_MAX];
	char *dup;
	int *zeros;

	rum_text_quote(out, sizeof(out), "ok\r\n\\x", 6, 200);
	CHECK_STR(out, "ok\\x0d\\x0a\\x5cx");
	rum_text_quote(out, sizeof(out), "abcdef", 6, 3);
	CHECK_STR(out, "abc...");
	rum_text_quote(out, sizeof(out), "abc", 3, 3);
	CHECK_STR(out, "abc");
	/* Never past size, even when every byte needs four. */
	rum_text_quote(small, sizeof(small), "\x01\x02\x03", 3, 200);
	CHECK(strlen(small) < sizeof(small));
	CHECK_STR(small, "\\x01...");
	rum_text_quote(out, sizeof(out), "", 0, 10);
	CHECK_STR(out, "");
	rum_text_i64(num, sizeof(num), INT64_MIN);
	CHECK_STR(num, "-9223372036854775808");
	rum_text_i64(num, sizeof(num), 42);
	CHECK_STR(num, "42");
	dup = rum_memdup("abc\0def", 7);
	CHECK(memcmp(dup, "abc\0def", 8) == 0);
	free(dup);
	zeros = rum_calloc(0, sizeof(*zeros)); /* never NULL, even for nothing */
	CHECK(zeros != NULL);
	free(zeros);
}

/* rum_grow_one: every element appended stays, whatever the count; ASan
 * catches a write past the capacity it implies. */
static void test_grow_one(void)
{
	size_t *a = NULL, n = 0;

	for (; n < 1000; n++) {
		a = rum_grow_one(a, n, sizeof(*a));
		a[n] = n * 7;
	}
	for (size_t i = 0; i < n; i++)
		CHECK(a[i] == i * 7);
	free(a);
}

static void test_password(void)
{
	char a[RUM_PASSWORD_HASH_MAX], b[RUM_PASSWORD_HASH_MAX], bad[RUM_PASSWORD_HASH_MAX];

	CHECK_INT(rum_crypto_password_hash(a, "correct horse battery staple"), 0);
	CHECK_INT(rum_crypto_password_hash(b, "correct horse battery staple"), 0);
	CHECK(strncmp(a, "$scrypt$ln=15,r=8,p=1$", 22) == 0);
	CHECK_INT((int)strlen(a), 22 + 32 + 1 + 64);
	CHECK(strcmp(a, b) != 0); /* a fresh salt each time */
	CHECK_INT(rum_crypto_password_verify(a, "correct horse battery staple"), 0);
	CHECK_INT(rum_crypto_password_verify(b, "correct horse battery staple"), 0);
	CHECK_INT(rum_crypto_password_verify(a, "correct horse battery stapler"), RUM_EAUTH);
	CHECK_INT(rum_crypto_password_verify(a, ""), RUM_EAUTH);
	/* One changed digit of the key or the salt: another hash. */
	snprintf(bad, sizeof(bad), "%s", a);
	bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == '0' ? '1' : '0';
	CHECK_INT(rum_crypto_password_verify(bad, "correct horse battery staple"), RUM_EAUTH);
	snprintf(bad, sizeof(bad), "%s", a);
	bad[22] = bad[22] == '0' ? '1' : '0';
	CHECK_INT(rum_crypto_password_verify(bad, "correct horse battery staple"), RUM_EAUTH);
	/* Not a hash rumd made, or costs out of bounds: refused unread. */
	CHECK_INT(rum_crypto_password_verify("", "x"), RUM_EINVAL);
	CHECK_INT(rum_crypto_password_verify("$2b$12$abcdefghijklmnopqrstuv", "x"), RUM_EINVAL);
	snprintf(bad, sizeof(bad), "$scrypt$ln=30,r=8,p=1$%s", a + 22);
	CHECK_INT(rum_crypto_password_verify(bad, "x"), RUM_EINVAL);
	snprintf(bad, sizeof(bad), "%.*sXY", (int)strlen(a) - 2, a);
	CHECK_INT(rum_crypto_password_verify(bad, "x"), RUM_EINVAL);
	snprintf(bad, sizeof(bad), "%sff", a);
	CHECK_INT(rum_crypto_password_verify(bad, "x"), RUM_EINVAL);
}

/* Upstream and proxy URLs: what is split out, and what is refused without
 * the reason quoting the URL (it may hold a password). */
static void test_url_split(void)
{
	struct rum_text_url u;
	const char *why = NULL;
	char big[RUM_TEXT_URL_MAX + 16];

	CHECK_INT(rum_text_url_split(&u, "https://swapi.cisco.com/services/api/v2/", &why), 0);
	CHECK(u.https && !u.has_user && !u.has_password && u.port == 0);
	CHECK(u.host_len == 15 && strncmp(u.host, "swapi.cisco.com", 15) == 0);
	CHECK_STR(u.rest, "/services/api/v2/");
	CHECK_INT(rum_text_url_split(&u, "HTTP://proxy_1.example:3128", &why), 0);
	CHECK(!u.https && u.port == 3128 && u.host_len == 15 && u.rest[0] == '\0');
	CHECK_INT(rum_text_url_split(&u, "http://squid@proxy:3128", &why), 0);
	CHECK(u.has_user && !u.has_password && u.port == 3128);
	CHECK_INT(rum_text_url_split(&u, "http://squid:s3cret@proxy:3128", &why), 0);
	CHECK(u.has_user && u.has_password && u.host_len == 5);
	CHECK_INT(rum_text_url_split(&u, "http://[2001:db8::1]:8182/cslu/v1/pi/x?y=1", &why), 0);
	CHECK(u.host_len == 13 && u.port == 8182 && strcmp(u.rest, "/cslu/v1/pi/x?y=1") == 0);
	CHECK_INT(rum_text_url_split(&u, "https://a@b@host/", &why), 0);
	CHECK(u.host_len == 4 && strncmp(u.host, "host", 4) == 0);

	static const char *const bad[] = {"",
					  "ftp://host/",
					  "host:3128",
					  "http://",
					  "http:///path",
					  "http://:3128",
					  "http://host:0",
					  "http://host:65536",
					  "http://host:123456",
					  "http://host:",
					  "http://host:80x",
					  "http://ho st/",
					  "http://host/a b",
					  "http://host/#frag",
					  "http://h\xc3\xa9/",
					  "http://[::1/",
					  "http://[]/",
					  "http://[zz]/",
					  "http://@host/",
					  "http://:pw@host/",
					  "http://host!/",
					  "http://host\t/"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		CHECK_INT(rum_text_url_split(&u, bad[i], &why), -1);
		CHECK(why && why[0]);
	}
	why = NULL;
	CHECK_INT(rum_text_url_split(&u, "http://user:hunter2@host:99999/", &why), -1);
	CHECK(why && !strstr(why, "hunter2"));
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "http://", 7);
	CHECK_INT(rum_text_url_split(&u, big, &why), -1);
}

int main(void)
{
	test_url_split();
	test_quote_and_numbers();
	test_hex_and_duration();
	test_percent_decode();
	test_strict();
	test_text();
	test_crypto();
	test_grow_one();
	test_password();
	return rum_check_result("test_util");
}
