// Internal: a regular-expression search that cannot take exponential time or deep recursion, for the patterns
// users write for llama.cpp's `-ot` (serve/llamacpp.cpp). It answers what std::regex_search (ECMAScript
// grammar, as llama.cpp uses it) answers, for the regular subset of that grammar: literals, `.`, escapes
// (\. \\ \d \D \w \W \s \S \t \n \r \f \v and any escaped punctuation), bracket classes with ranges and
// negation, groups `( )` and `(?: )`, alternation `|`, the quantifiers `* + ? {n} {n,} {n,m}` (greedy or
// lazy: a yes/no search does not depend on it), and the assertions `^ $ \b \B`. Lookaround and
// backreferences, which are not regular, are refused with a message. The pattern compiles to a Thompson
// automaton and the search runs every thread in step (Thompson 1968; Cox, "Regular Expression Matching Can Be
// Simple And Fast", 2007): time linear in the text for a given pattern, memory bounded by the pattern.
#pragma once

#include <bitset>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace modelplan::regex {

// Limits of a pattern: characters, nesting of groups, instructions after counted repeats are expanded.
constexpr size_t max_pattern_chars = 256;
constexpr size_t max_depth = 32;
constexpr size_t max_instructions = 2048;
constexpr uint32_t max_repeat = 100; // {n,m}: n and m at most this

struct program {
    enum class op : uint8_t { byte, set, split, jump, assert_begin, assert_end, word, not_word, match };
    struct inst {
        op what = op::match;
        uint8_t byte = 0;
        uint32_t x = 0, y = 0; // split: both targets; jump: x; set: x is the set's index
    };
    std::vector<inst> code; // starts at 0
    std::vector<std::bitset<256>> sets;
};

// Compiles `pattern` into `out`. On a malformed pattern, or one outside the subset or the limits, returns
// false with the reason, naming the position (0-based), in `why` ("missing ) for the ( at 4").
bool compile(std::string_view pattern, program& out, std::string& why);

// Whether some part of `text` matches (std::regex_search's answer).
bool search(const program& p, std::string_view text);

} // namespace modelplan::regex
