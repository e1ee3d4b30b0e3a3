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
 * A middle segment without `?` is found with Knuth-Morris-Pratt (failure table over the ASCII-folded bytes
 * when icase is set), whose scan never moves backwards in the text; a segment with `?` is tried at each
 * character start with a direct comparison. Let n = tlen, m = plen, and L = the length of the longest middle
 * segment that contains `?` (L = 0 if there is none). Time is O(m + n * (1 + L)):
 *
 *   - O(m + n), linear, for every pattern whose middle segments have no `?`. That covers `*a*a*a*a*b`,
 *     `lex:Get*`, `arn:aws:lex:*:*:bot*`, and `?` anywhere in the anchored first and last segments
 *     (`???*`, `lex:Get?ot`, `*:bot?`);
 *   - O(n * L) in the worst case for a middle segment with `?` (such as `*a?b*`), never exponential.
 *
 * Memory: lxa_glob_exec uses O(1) stack and never allocates. lxa_glob_match keeps the failure table of a
 * middle segment of up to LXA_GLOB_STACK_TABLE bytes on the stack and allocates a longer one on the heap;
 * if that allocation fails it searches that segment by direct comparison instead (same answer, O(n * |S|)).
 */
#ifndef LXA_GLOB_H
#define LXA_GLOB_H

#include <stddef.h>

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

#ifdef __cplusplus
}
#endif

#endif /* LXA_GLOB_H */
