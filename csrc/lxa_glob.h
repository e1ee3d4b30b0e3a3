/*
 * lxa_glob.h - the IAM wildcard matcher used by lexauthz.
 *
 * The project's own C11; no Python.h. Every exported symbol starts with lxa_.
 *
 * ==== Semantics ====
 *
 * IAM patterns (Action, Resource, StringLike, ArnLike, ...) have two wildcards and no escapes:
 *
 *   `*`  matches any sequence of characters, including the empty one and including `:` and `/`;
 *   `?`  matches exactly one character;
 *   any other byte matches itself.
 *
 * Pattern and text are byte strings with explicit lengths (NUL is an ordinary byte). They are read as UTF-8,
 * and a "character" is one code point, so `?` consumes every byte of a multibyte character:
 * `?` matches "é" (2 bytes) and "😀" (4 bytes), and `??` does not match "é".
 *
 * So that every byte string has an answer, characters are defined from the bytes alone, without validation:
 * a character starts at offset 0 and at every byte that is not a UTF-8 continuation byte (10xxxxxx), and runs
 * up to the next such start. For well-formed UTF-8 this is exactly the code-point split. For malformed input
 * it is a fixed, documented grouping (a stray continuation byte joins the character before it), and a match
 * never starts or ends inside a character. Lone surrogates encoded as three bytes (Python's "surrogatepass")
 * are one character each, which is what Python's `str` says.
 *
 * Case: with icase != 0, ASCII letters A-Z and a-z compare equal to each other; every other byte, including
 * every byte of a non-ASCII letter, must be equal. No Unicode case folding: "É" does not match "é" and the
 * Kelvin sign does not match "k". IAM uses case-insensitive matching for action names, which are ASCII.
 *
 * ==== Algorithm and cost ====
 *
 * The pattern is split at `*` into segments S0 * S1 * ... * Sk. Without a `*` (k = 0) the pattern must match
 * the whole text. Otherwise S0 must match a prefix and Sk a suffix (each at one position only), and S1..Sk-1
 * are found in order, each at its leftmost position after the previous one. Leftmost is always right for a
 * segment between two stars: every segment has a fixed length in characters, so an earlier start never ends
 * later, and what a later start could match, an earlier one leaves room for. There is no backtracking.
 *
 * A middle segment is found by one of three plans, chosen when the pattern is compiled (n = tlen, m = plen):
 *
 *   - no `?`: Knuth-Morris-Pratt (failure table over the ASCII-folded bytes when icase is set), whose scan never
 *     moves backwards in the text: O(n) after an O(|S|) table;
 *   - `?`^a L `?`^b with L free of `?` (the `?` runs at either end, L possibly empty): skip a characters, find L
 *     with KMP, skip b characters. Linear: a leftmost L gives the leftmost segment, and if its end passes the
 *     suffix, every later one does too. This covers `*???????b*` of any length;
 *   - `?` between two literal pieces (`*a?b*`): pattern matching with don't-care characters, for which no
 *     linear-time algorithm is known. Bit-parallel Shift-And over characters, one mask row of ceil(c / 64) words
 *     per distinct character of the segment (c = its length in characters): O(n * ceil(c / 64)), one pass.
 *     A segment whose mask table would pass 8 MiB (thousands of distinct characters in a segment thousands of
 *     characters long) is searched by direct comparison instead, O(n * |S|).
 *
 * So every pattern is matched in O(m + n) except for segments of the last kind, which cost O(n * ceil(c / 64)).
 * Callers bound n: lexauthz refuses request ARNs over 2,048 characters and context values over 4,096.
 *
 * Memory: lxa_glob_exec allocates only for a Shift-And segment over 4,096 characters (its state vector), and
 * falls back to direct comparison if that fails. lxa_glob_match keeps the failure table of a middle segment of up
 * to LXA_GLOB_STACK_TABLE bytes on the stack and allocates a longer one on the heap (direct comparison if that
 * fails); a pattern with a `?` in a middle segment is compiled, matched and freed.
 */
#ifndef LXA_GLOB_H
#define LXA_GLOB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Middle segments up to this many bytes keep their KMP failure table on the stack in lxa_glob_match. */
#define LXA_GLOB_STACK_TABLE 256

/*
 * One-shot match: 1 if the whole text txt[0..tlen) matches the pattern pat[0..plen), else 0.
 * Never fails. pat and txt may be NULL when their length is 0. Thread-safe; touches no shared state.
 */
int lxa_glob_match(const char *pat, size_t plen, const char *txt, size_t tlen, int icase);

/*
 * A compiled pattern: a private copy of the pattern, its segments and the failure tables, in one heap block.
 * Immutable once built, so one lxa_glob may be used from any number of threads at once.
 */
typedef struct lxa_glob lxa_glob;

/* Compile pat[0..plen) (icase as for lxa_glob_match). Returns NULL only when memory runs out. */
lxa_glob *lxa_glob_compile(const char *pat, size_t plen, int icase);

/* Match with a compiled pattern: same answer as lxa_glob_match. Never allocates, never fails. g is not NULL. */
int lxa_glob_exec(const lxa_glob *g, const char *txt, size_t tlen);

/* Free a compiled pattern. NULL is allowed and ignored. */
void lxa_glob_free(lxa_glob *g);

/*
 * Token matching over code points, for patterns built per request: pat[0..m) holds code points (>= 0),
 * LXA_TOK_ANY (`*`) and LXA_TOK_ONE (`?`, one code point); a literal `*` or `?` (from a resolved policy variable)
 * is its code point. txt[0..n) holds code points. Returns 1 (match), 0 (no match) or -1 (out of memory).
 * Same segment plan and cost as compiled patterns (`?` runs are O(1) skips here), allocating per call only
 * for a middle segment with `?` between literal pieces, or a middle literal over LXA_GLOB_STACK_TABLE code
 * points. Thread-safe; needs no Python.
 */
#define LXA_TOK_ANY (-1)
#define LXA_TOK_ONE (-2)
int lxa_tok_match(const int32_t *pat, size_t m, const uint32_t *txt, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* LXA_GLOB_H */
