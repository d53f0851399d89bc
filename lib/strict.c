#include "lib/strict.h"

#include "lib/err.h"

#include <string.h>
#include <strings.h>

int rum_strict_uint_n(int64_t *out, const char *text, size_t len)
{
	uint64_t v = 0;

	if (len == 0 || len > 19)
		return RUM_EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (text[i] < '0' || text[i] > '9')
			return RUM_EINVAL;
		v = v * 10 + (uint64_t)(text[i] - '0');
	}
	if (v > (uint64_t)INT64_MAX)
		return RUM_EINVAL;
	*out = (int64_t)v;
	return 0;
}

int rum_strict_int64(int64_t *out, const char *text)
{
	int64_t v;

	if (text[0] == '-') {
		if (rum_strict_uint_n(&v, text + 1, strlen(text + 1)) != 0)
			return RUM_EINVAL;
		*out = -v;
		return 0;
	}
	return rum_strict_uint_n(out, text, strlen(text));
}

int rum_strict_bytes(int64_t *out, const char *text)
{
	static const struct {
		const char *unit;
		int shift;
	} units[] = {{"", 0},    {"B", 0},    {"K", 10}, {"KB", 10}, {"KiB", 10}, {"M", 20},
		     {"MB", 20}, {"MiB", 20}, {"G", 30}, {"GB", 30}, {"GiB", 30}};
	size_t digits = strspn(text, "0123456789");
	int64_t v;

	if (rum_strict_uint_n(&v, text, digits) != 0)
		return RUM_EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(text + digits, units[i].unit) == 0) {
			if (v > (INT64_MAX >> units[i].shift))
				return RUM_EINVAL;
			*out = v << units[i].shift;
			return 0;
		}
	}
	return RUM_EINVAL;
}

int rum_strict_duration(int64_t *out, const char *text)
{
	static const struct {
		const char *unit;
		int64_t seconds;
	} units[] = {{"", 1}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}, {"w", 604800}};
	size_t digits = strspn(text, "0123456789");
	int64_t v;

	if (rum_strict_uint_n(&v, text, digits) != 0)
		return RUM_EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(text + digits, units[i].unit) == 0) {
			if (v > INT64_MAX / units[i].seconds)
				return RUM_EINVAL;
			*out = v * units[i].seconds;
			return 0;
		}
	}
	return RUM_EINVAL;
}
