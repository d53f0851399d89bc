/* Minimal unit-test helpers: CHECK records a failure and continues; a test
 * binary returns rum_check_result() from main(). */
#ifndef RUM_TESTS_CHECK_H
#define RUM_TESTS_CHECK_H

#include <stdio.h>
#include <string.h>

static int rum_check_failures;

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
			rum_check_failures++;                                                    \
		}                                                                                \
	} while (0)

#define CHECK_INT(a, b)                                                                         \
	do {                                                                                    \
		long long check_a_ = (long long)(a), check_b_ = (long long)(b);                 \
		if (check_a_ != check_b_) {                                                     \
			fprintf(stderr, "%s:%d: CHECK_INT failed: %s == %lld, expected %lld\n", \
				__FILE__, __LINE__, #a, check_a_, check_b_);                    \
			rum_check_failures++;                                                   \
		}                                                                               \
	} while (0)

#define CHECK_STR(a, b)                                                                     \
	do {                                                                                \
		const char *check_a_ = (a), *check_b_ = (b);                                \
		if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0) {            \
			fprintf(stderr,                                                     \
				"%s:%d: CHECK_STR failed: %s == \"%s\", expected \"%s\"\n", \
				__FILE__, __LINE__, #a, check_a_ ? check_a_ : "(null)",     \
				check_b_ ? check_b_ : "(null)");                            \
			rum_check_failures++;                                               \
		}                                                                           \
	} while (0)

static inline int rum_check_result(const char *name)
{
	if (rum_check_failures)
		fprintf(stderr, "%s: %d check(s) failed\n", name, rum_check_failures);
	else
		printf("%s: all checks passed\n", name);
	return rum_check_failures ? 1 : 0;
}

#endif
