/* RapidJSON's SAX Reader behind the C API of json_sax.h.
 *
 * The Reader runs with its recursive parser (about 50 bytes of C stack per
 * nesting level, 130 under AddressSanitizer; the depth limit bounds it),
 * strict UTF-8 validation, numbers as their text, and stops after the
 * top-level value. RapidJSON's iterative parser needs no C stack but is a
 * fifth slower on device messages. What RapidJSON 1.1 lets through is
 * closed here:
 *  - a number too large for a double ("1e400", a 400-digit integer) is
 *    JSON: the Reader's ParseNumber, which refuses it, is replaced for this
 *    reader by one that checks the grammar only;
 *  - \u0000 and an unpaired low surrogate (\udc00) decode without error:
 *    the encoding flags them as the Reader encodes them, and the string or
 *    key is refused before a callback sees it;
 *  - the Reader takes a NUL byte for the end of the text and stops at the
 *    end of the value: after it only JSON whitespace may follow.
 * Where the Reader goes byte by byte through the common case, this reader
 * takes sixteen bytes at a time (ParseString, copy_plain, SkipWhitespace):
 * a string of printable ASCII reaches its callback in place, without a
 * copy; one with simple escapes is copied run by run. Everything else in a
 * string (\u escapes, bytes past ASCII, control characters, bad escapes)
 * stays with the Reader's own code, errors and their offsets included.
 * No exceptions are thrown or caught (RapidJSON reports errors by value). */
#include "lib/json_sax.h"

extern "C" {
#include "lib/text.h"
}

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <rapidjson/encodings.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

namespace
{

/* Set when a \u escape decodes to U+0000 or an unpaired low surrogate (an
 * unpaired high one is the Reader's own error). Per thread: parses on
 * different threads do not share it. */
thread_local bool t_bad_escape;

/* ------------------------------------------------------------------------ */
/* Sixteen bytes at a time */

#ifndef __SSE2__
const uint64_t kOnes = 0x0101010101010101ull;
const uint64_t kHighs = 0x8080808080808080ull;

/* 0x80 in each byte of w that is zero, 0 in the others (exact: no carry
 * crosses a byte). */
inline uint64_t zero_bytes(uint64_t w)
{
	const uint64_t low7 = 0x7f7f7f7f7f7f7f7full;

	return ~(((w & low7) + low7) | w | low7);
}

/* The lowest byte of w (little-endian) that is special (see special16) as
 * a bit in 0..7, or 0 when none is; a borrow may flag higher bytes too. */
inline unsigned special8(uint64_t w)
{
	uint64_t m = (w | ((w - kOnes * 0x20) & ~w) | zero_bytes(w ^ (kOnes * '"')) |
		      zero_bytes(w ^ (kOnes * '\\'))) &
		     kHighs;

	return m ? 1u << (__builtin_ctzll(m) / 8) : 0;
}
#endif

/* Bit i set when byte i of the 16 at p is special: '"', '\\', a control
 * character or a byte past ASCII, all of which end a plain run in a string.
 * The lowest set bit is exact (others may be missing without SSE2). */
inline unsigned special16(const char *p)
{
#ifdef __SSE2__
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
	__m128i q = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
	__m128i b = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
	__m128i c = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)); /* signed: also 0x80..0xff */

	return (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(q, b), c));
#else
	uint64_t w[2];
	unsigned m;

	memcpy(w, p, 16);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	w[0] = __builtin_bswap64(w[0]);
	w[1] = __builtin_bswap64(w[1]);
#endif
	if ((m = special8(w[0])) != 0)
		return m;
	return special8(w[1]) << 8;
#endif
}

inline bool special(char ch)
{
	unsigned char c = (unsigned char)ch;

	return c < 0x20 || c >= 0x80 || c == '"' || c == '\\';
}

/* The first special byte in [p, end), or end. */
inline const char *plain_end(const char *p, const char *end)
{
	unsigned m;

	for (; end - p >= 16; p += 16)
		if ((m = special16(p)) != 0)
			return p + __builtin_ctz(m);
	while (p != end && !special(*p))
		p++;
	return p;
}

/* What "\<c>" decodes to for the one-character escapes, 0 for others. */
inline char simple_escape(char c)
{
	switch (c) {
	case '"': return '"';
	case '\\': return '\\';
	case '/': return '/';
	case 'b': return '\b';
	case 'f': return '\f';
	case 'n': return '\n';
	case 'r': return '\r';
	case 't': return '\t';
	default: return 0;
	}
}

/* ------------------------------------------------------------------------ */
/* The Reader's parts */

/* The Reader's stack (decoded strings) on malloc; out of memory is fatal,
 * as everywhere in rumd. (Only what the Reader's stack uses of RapidJSON's
 * Allocator concept.) */
struct Alloc {
	void *Malloc(size_t size)
	{
		void *p;

		if (size == 0)
			return NULL;
		if (!(p = malloc(size)))
			abort();
		return p;
	}
	void *Realloc(void *p, size_t old_size, size_t size)
	{
		(void)old_size;
		if (size == 0) {
			free(p);
			return NULL;
		}
		if (!(p = realloc(p, size)))
			abort();
		return p;
	}
	static void Free(void *p)
	{
		free(p);
	}
};

} // namespace

namespace rapidjson
{
namespace internal
{

/* Room for count more bytes on the Reader's stack. RapidJSON 1.1 computes
 * the new top first, which is undefined behaviour (and so reported by clang's
 * UBSan) while the stack is still unallocated, a null pointer; this
 * compares the room left instead. */
template <> template <> inline void Stack<Alloc>::Reserve<char>(size_t count)
{
	if (RAPIDJSON_UNLIKELY((size_t)(stackEnd_ - stackTop_) < count))
		Expand<char>(count);
}

} // namespace internal
} // namespace rapidjson

namespace
{

typedef rapidjson::internal::Stack<Alloc> Stack;

/* Where a string is decoded to: the top of the Reader's stack, as the
 * Reader's own StackStream does, and also room to copy sixteen bytes at a
 * time of which only some are kept. */
struct DecodeStream {
	typedef char Ch;

	Stack &stack;
	size_t len; /* bytes pushed */

	void Put(char c)
	{
		*stack.Push<char>() = c;
		len++;
	}
	/* At least n bytes at the top, not yet pushed. */
	char *Room(size_t n)
	{
		stack.Reserve<char>(n);
		return stack.End<char>();
	}
	/* Pushes n bytes written at Room(). */
	void Commit(size_t n)
	{
		stack.PushUnsafe<char>(n);
		len += n;
	}
	void Write(const char *p, size_t n)
	{
		if (n) {
			memcpy(Room(n), p, n);
			Commit(n);
		}
	}
};

/* Copies the string bytes at is to os while they are plain (printable
 * ASCII but '"' and '\') or one-character escapes; stops at anything else
 * (the closing quote, a \u escape, a byte past ASCII, a control character,
 * a bad escape, the end) for the Reader's own loop to handle. */
inline void copy_plain(rapidjson::MemoryStream &is, DecodeStream &os)
{
	const char *p = is.src_, *end = is.end_;
	unsigned m, n;
	char e;

	for (;;) {
		if (end - p >= 16) {
			memcpy(os.Room(16), p, 16);
			if ((m = special16(p)) == 0) {
				os.Commit(16);
				p += 16;
				continue;
			}
			n = (unsigned)__builtin_ctz(m);
			os.Commit(n);
			p += n;
		} else {
			const char *q = plain_end(p, end);

			os.Write(p, (size_t)(q - p));
			p = q;
		}
		if (p == end || *p != '\\' || end - p < 2 || (e = simple_escape(p[1])) == 0)
			break;
		os.Put(e);
		p += 2;
	}
	is.src_ = p;
}

/* UTF-8 as RapidJSON has it, with two changes.
 *  - Validate, which the Reader calls (source and target encodings being
 *    the same type) for each byte of a string that is no escape, quote or
 *    control character, checks one UTF-8 sequence with RapidJSON's strict
 *    check and then copies what follows while copy_plain can.
 *  - Encode, which the Reader calls only for \u escapes, notes the code
 *    points JSON text may not carry. */
struct Utf8 : rapidjson::UTF8<char> {
	static bool Validate(rapidjson::MemoryStream &is, DecodeStream &os)
	{
		if ((unsigned char)*is.src_ >= 0x80 && !rapidjson::UTF8<char>::Validate(is, os))
			return false;
		copy_plain(is, os);
		return true;
	}
	template <typename OutputStream> static void Encode(OutputStream &os, unsigned codepoint)
	{
		if (RAPIDJSON_UNLIKELY(codepoint == 0 ||
				       (codepoint >= 0xdc00 && codepoint <= 0xdfff)))
			t_bad_escape = true;
		rapidjson::UTF8<char>::Encode(os, codepoint);
	}
};

const unsigned kRumFlags = rapidjson::kParseStopWhenDoneFlag |
			   rapidjson::kParseValidateEncodingFlag |
			   rapidjson::kParseNumbersAsStringsFlag;

typedef rapidjson::GenericReader<Utf8, Utf8, Alloc> RumReader;

enum Stop { STOP_NONE, STOP_CANCELLED, STOP_BAD_ESCAPE, STOP_TOO_DEEP };

/* The Reader's events to the C callbacks. Each comes with the stream just
 * past its token: the '{', '[', '}' or ']', the number, the closing quote,
 * the literal. */
struct RumHandler {
	const rum_json_sax_ops *ops;
	void *ctx;
	const rapidjson::MemoryStream *is;
	unsigned max_depth;
	unsigned depth;
	Stop stop;
	size_t stop_at; /* for a cancel: just past the token; too deep: at it */

	bool done(int rc, size_t at)
	{
		if (RAPIDJSON_LIKELY(rc != 0))
			return true;
		stop = STOP_CANCELLED;
		stop_at = at;
		return false;
	}
	bool Null()
	{
		return done(ops->null(ctx), is->Tell());
	}
	bool Bool(bool b)
	{
		return done(ops->boolean(ctx, b), is->Tell());
	}
	/* Numbers arrive as their text only (kParseNumbersAsStringsFlag and
	 * the ParseNumber below); the Handler concept still wants these. */
	bool Int(int)
	{
		return false;
	}
	bool Uint(unsigned)
	{
		return false;
	}
	bool Int64(int64_t)
	{
		return false;
	}
	bool Uint64(uint64_t)
	{
		return false;
	}
	bool Double(double)
	{
		return false;
	}
	bool RawNumber(const char *s, rapidjson::SizeType len, bool)
	{
		return Number(s, len);
	}
	bool String(const char *s, rapidjson::SizeType len, bool)
	{
		return Text(s, len, false);
	}
	bool Key(const char *s, rapidjson::SizeType len, bool)
	{
		return Text(s, len, true);
	}
	bool StartObject()
	{
		size_t at = is->Tell() - 1;

		return deeper(at) && done(ops->start_object(ctx, at), at + 1);
	}
	bool StartArray()
	{
		size_t at = is->Tell() - 1;

		return deeper(at) && done(ops->start_array(ctx, at), at + 1);
	}
	bool EndObject(rapidjson::SizeType)
	{
		size_t end = is->Tell();

		depth--;
		return done(ops->end_object(ctx, end), end);
	}
	bool EndArray(rapidjson::SizeType)
	{
		size_t end = is->Tell();

		depth--;
		return done(ops->end_array(ctx, end), end);
	}

	/* Stops the parse, before it recurses further, at a container past the
	 * limit (at: its '{' or '['). */
	bool deeper(size_t at)
	{
		if (RAPIDJSON_LIKELY(++depth <= max_depth))
			return true;
		stop = STOP_TOO_DEEP;
		stop_at = at;
		return false;
	}

	/* With the stream just past the number or the closing quote. */
	bool Number(const char *s, size_t len)
	{
		return done(ops->number(ctx, s, len), is->Tell());
	}
	bool Text(const char *s, size_t len, bool key)
	{
		if (RAPIDJSON_UNLIKELY(t_bad_escape)) {
			stop = STOP_BAD_ESCAPE;
			return false;
		}
		return done(key ? ops->key(ctx, s, len) : ops->string(ctx, s, len), is->Tell());
	}
};

inline bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

inline bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

} // namespace

/* ------------------------------------------------------------------------ */
/* The Reader's functions this reader replaces, for its stream and handler
 * only (explicit specializations: the Reader's own code calls them). */

namespace rapidjson
{

/* JSON whitespace, as RapidJSON's, with no copy of the stream. */
template <> inline void SkipWhitespace(MemoryStream &is)
{
	const char *p = is.src_, *end = is.end_;

	while (p != end && is_space(*p))
		p++;
	is.src_ = p;
}

/* A string, from its opening quote: printable ASCII up to the closing
 * quote goes to the handler in place. Otherwise the plain start is copied
 * to the stack and the Reader's own ParseStringToStream decodes the rest
 * (calling Utf8::Validate, hence copy_plain, for what is plain). */
template <>
template <>
void RumReader::ParseString<kRumFlags, MemoryStream, RumHandler>(MemoryStream &is,
								 RumHandler &handler, bool isKey)
{
	const char *start = is.src_ + 1, *p = plain_end(start, is.end_);
	bool ok;

	if (p != is.end_ && *p == '"') {
		is.src_ = p + 1;
		ok = handler.Text(start, (size_t)(p - start), isKey);
	} else {
		DecodeStream os = {stack_, 0};

		os.Write(start, (size_t)(p - start));
		is.src_ = p;
		ParseStringToStream<kRumFlags, Utf8, Utf8>(is, os); /* pushes the NUL too */
		if (HasParseError()) {
			stack_.Pop<char>(os.len);
			return;
		}
		ok = handler.Text(stack_.Pop<char>(os.len), os.len - 1, isKey);
	}
	if (RAPIDJSON_UNLIKELY(!ok))
		RAPIDJSON_PARSE_ERROR(kParseErrorTermination, is.Tell());
}

/* RapidJSON 1.1 refuses numbers past a double's range even with
 * kParseNumbersAsStringsFlag, and copies each number onto its stack. This
 * one checks RFC 8259's grammar only,
 *   number = [ "-" ] ( "0" / digit1-9 *DIGIT ) [ "." 1*DIGIT ] [ ( "e" / "E" ) [ "-" / "+" ]
 * 1*DIGIT ] with the Reader's error codes and offsets, and passes the text in place. The Reader
 * calls it for any byte that starts no other value. */
template <>
template <>
void RumReader::ParseNumber<kRumFlags, MemoryStream, RumHandler>(MemoryStream &is,
								 RumHandler &handler)
{
	const char *p = is.src_, *end = is.end_, *start = p;

	if (p != end && *p == '-')
		p++;
	if (p == end || !is_digit(*p)) {
		is.src_ = p;
		RAPIDJSON_PARSE_ERROR(kParseErrorValueInvalid, is.Tell());
	}
	if (*p++ != '0')
		while (p != end && is_digit(*p))
			p++;
	if (p != end && *p == '.') {
		if (++p == end || !is_digit(*p)) {
			is.src_ = p;
			RAPIDJSON_PARSE_ERROR(kParseErrorNumberMissFraction, is.Tell());
		}
		while (p != end && is_digit(*p))
			p++;
	}
	if (p != end && (*p == 'e' || *p == 'E')) {
		if (++p != end && (*p == '+' || *p == '-'))
			p++;
		if (p == end || !is_digit(*p)) {
			is.src_ = p;
			RAPIDJSON_PARSE_ERROR(kParseErrorNumberMissExponent, is.Tell());
		}
		while (p != end && is_digit(*p))
			p++;
	}
	is.src_ = p;
	if (RAPIDJSON_UNLIKELY(!handler.Number(start, (size_t)(p - start))))
		RAPIDJSON_PARSE_ERROR(kParseErrorTermination, is.Tell());
}

} // namespace rapidjson

/* ------------------------------------------------------------------------ */
/* Errors */

namespace
{

int hex4(const char *p, unsigned *out)
{
	unsigned char b[2];

	if (rum_text_unhex(b, p, 2) != 0)
		return -1;
	*out = (unsigned)b[0] << 8 | b[1];
	return 0;
}

/* The first refused \u escape in text[0..n), the Reader having accepted
 * the text up to n but for it: its offset and why. Outside strings such
 * text has no backslash; inside, each starts an escape. */
const char *find_bad_escape(const char *text, size_t n, size_t *at)
{
	unsigned cp, lo;

	for (size_t i = 0; i + 6 <= n; i++) {
		if (text[i] != '\\')
			continue;
		if (text[i + 1] != 'u') {
			i++; /* \\, \" and the other two-byte escapes */
			continue;
		}
		if (hex4(text + i + 2, &cp) != 0)
			break;
		*at = i;
		if (cp == 0)
			return "\\u0000 is not allowed";
		if (cp >= 0xdc00 && cp <= 0xdfff)
			return "unpaired surrogate in a \\u escape";
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (i + 12 > n || text[i + 6] != '\\' || text[i + 7] != 'u' ||
			    hex4(text + i + 8, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
				return "unpaired surrogate in a \\u escape";
			i += 6;
		}
		i += 5;
	}
	*at = n;
	return "bad \\u escape"; /* not reached */
}

const char *reason_of(rapidjson::ParseErrorCode code, const char *text, size_t len, size_t off)
{
	if (code == rapidjson::kParseErrorDocumentEmpty)
		return "no value";
	if (code == rapidjson::kParseErrorStringMissQuotationMark)
		return "unterminated string";
	if (off >= len)
		return "unexpected end of text";
	switch (code) {
	case rapidjson::kParseErrorDocumentRootNotSingular: return "trailing garbage";
	case rapidjson::kParseErrorValueInvalid: return "invalid value";
	case rapidjson::kParseErrorObjectMissName: return "expected a member name";
	case rapidjson::kParseErrorObjectMissColon: return "expected ':'";
	case rapidjson::kParseErrorObjectMissCommaOrCurlyBracket: return "expected ',' or '}'";
	case rapidjson::kParseErrorArrayMissCommaOrSquareBracket: return "expected ',' or ']'";
	case rapidjson::kParseErrorStringUnicodeEscapeInvalidHex: return "bad \\u escape";
	case rapidjson::kParseErrorStringUnicodeSurrogateInvalid:
		return "unpaired surrogate in a \\u escape";
	case rapidjson::kParseErrorStringEscapeInvalid:
		return text[off] == '\\' ? "invalid escape" : "control character in a string";
	case rapidjson::kParseErrorStringInvalidEncoding: return "invalid UTF-8 in a string";
	case rapidjson::kParseErrorNumberMissFraction: return "expected a digit after '.'";
	case rapidjson::kParseErrorNumberMissExponent: return "expected a digit in the exponent";
	default: return "syntax error";
	}
}

enum rum_json_sax_status fail(rum_json_sax_error *err, enum rum_json_sax_status st,
			      const char *reason, size_t offset)
{
	if (err) {
		err->reason = reason;
		err->offset = offset;
	}
	return st;
}

} // namespace

extern "C" enum rum_json_sax_status rum_json_sax_parse(const char *text, size_t len,
						       unsigned max_depth,
						       const struct rum_json_sax_ops *ops,
						       void *ctx, struct rum_json_sax_error *err)
{
	static const char empty[1] = "";
	Alloc alloc;
	/* Decoded strings go on the Reader's stack: room for the usual ones
	 * from the start, more on demand. */
	RumReader reader(&alloc, len < 256 ? 256 : len < 65536 ? len : 65536);
	bool outer_bad_escape = t_bad_escape; /* a parse from inside a callback */
	rapidjson::ParseResult res;
	const void *nul;
	size_t end = 0, off;

	if (!text)
		text = empty, len = 0;
	rapidjson::MemoryStream is(text, len);
	if (max_depth == 0 || max_depth > RUM_JSON_SAX_MAX_DEPTH)
		max_depth = RUM_JSON_SAX_MAX_DEPTH;
	RumHandler h = {ops, ctx, &is, max_depth, 0, STOP_NONE, 0};

	t_bad_escape = false;
	res = reader.Parse<kRumFlags>(is, h);
	t_bad_escape = outer_bad_escape;
	if (!res.IsError()) {
		end = is.Tell(); /* just past the value */
		for (off = end; off < len && is_space(text[off]); off++)
			;
		if (off == len)
			return RUM_JSON_SAX_OK;
	}
	if (h.stop == STOP_CANCELLED)
		return fail(err, RUM_JSON_SAX_CANCELLED, "cancelled", h.stop_at);
	/* The Reader takes a NUL for the end of the text, wherever it is: one
	 * anywhere is the fault. */
	if ((nul = memchr(text, 0, len)) != NULL)
		return fail(err, RUM_JSON_SAX_INVALID, "NUL byte",
			    (size_t)((const char *)nul - text));
	if (h.stop == STOP_TOO_DEEP)
		return fail(err, RUM_JSON_SAX_TOO_DEEP, "nesting too deep", h.stop_at);
	if (h.stop == STOP_BAD_ESCAPE) {
		const char *why = find_bad_escape(text, is.Tell(), &off);

		return fail(err, RUM_JSON_SAX_INVALID, why, off);
	}
	if (res.IsError())
		return fail(err, RUM_JSON_SAX_INVALID,
			    reason_of(res.Code(), text, len, res.Offset()), res.Offset());
	return fail(err, RUM_JSON_SAX_INVALID, "trailing garbage", end);
}
