// The -ot matcher (core/src/util/regex-search.h) against the C++ standard library's std::regex_search with
// the ECMAScript grammar, which llama.cpp uses for the same patterns (src/llama-model-loader.cpp): the same
// yes/no for patterns users write (llama.cpp's own --cpu-moe and --n-cpu-moe patterns from common/common.h
// among them) over llama.cpp's tensor names; and refusals, with a reason, where the pattern is not regular or
// is malformed.
#include <gtest/gtest.h>

#include <regex>

#include "util/regex-search.h"

namespace modelplan {
namespace {

const char* const patterns[] = {
    "exps",
    "\\.ffn_.*_exps\\.",
    "\\.ffn_(up|down|gate)_exps",                     // --cpu-moe of 2025-08 (PR #15077)
    "\\.ffn_(up|down|gate|gate_up)_(ch|)exps",        // --cpu-moe of later builds
    "blk\\.7\\.ffn_(up|down|gate|gate_up)_(ch|)exps", // --n-cpu-moe's pattern for layer 7
    "blk\\.([0-9]|1[0-7])\\.",
    "blk\\.(1[0-9]|2[0-3])\\.ffn_.*",
    "^output",
    "^output\\.weight$",
    "output",
    "weight$",
    "^token_embd",
    "attn_[qkv]\\.",
    "[^.]+_exps\\.weight$",
    "\\bffn\\b",
    "\\Bexps",
    "blk\\.\\d+\\.ffn_down",
    "blk\\.\\d{2}\\.",
    "blk\\.\\d{1,}\\.attn",
    "blk\\.[2-3]\\.|blk\\.1\\.",
    "(?:blk)\\.0\\.",
    "ffn_(?:gate|up)_exps",
    "x?y?z?",
    "[a-c-]",
    "a{0}",
    ".",
    "(a*)*b",
    "exps\\.w.ight$",
    "[\\w]+_exps",
    "ffn_up_exps.*?",
    "\\.(ffn|attn)_[a-z_]+\\.weight",
    "blk\\.(4[0-7]|3[0-9])\\.ffn_(gate|up)_exps",
    "shexp",
    "norm",
    "[0-9][0-9]\\.ffn_up",
};

const char* const names[] = {
    "token_embd.weight",
    "output_norm.weight",
    "output.weight",
    "blk.0.attn_q.weight",
    "blk.0.attn_k.weight",
    "blk.0.attn_output.weight",
    "blk.0.attn_q_norm.weight",
    "blk.7.ffn_up_exps.weight",
    "blk.17.ffn_up_exps.weight",
    "blk.10.ffn_gate_exps.weight",
    "blk.23.ffn_down_exps.weight",
    "blk.2.ffn_gate_up_exps.weight",
    "blk.3.ffn_gate_inp.weight",
    "blk.3.ffn_up_shexp.weight",
    "blk.45.ffn_down_chexps.weight",
    "blk.1.ffn_norm.weight",
    "blk.39.ffn_gate_exps.bias",
    "",
    "aaab",
};

TEST(RegexSearch, SameAnswersAsStdRegexSearch) {
    for (const char* pattern : patterns) {
        regex::program p;
        std::string why;
        ASSERT_TRUE(regex::compile(pattern, p, why)) << pattern << ": " << why;
        const std::regex reference(pattern); // ECMAScript, as llama.cpp builds it
        for (const char* name : names)
            EXPECT_EQ(regex::search(p, name), std::regex_search(name, reference))
                << pattern << " on " << name;
    }
}

TEST(RegexSearch, RefusesWhatIsNotRegularOrMalformed) {
    const std::pair<const char*, const char*> bad[] = {
        {"(",      "missing )"        },
        {"a)",     "unmatched )"      },
        {"[a",     "missing ]"        },
        {"*a",     "nothing to repeat"},
        {"a**",    "nothing to repeat"},
        {"^*",     "nothing to repeat"},
        {"(?!x)a", "not supported"    },
        {"(?=x)a", "not supported"    },
        {"(a)\\1", "backreferences"   },
        {"a{2,1}", "is empty"         },
        {"a{101}", "above 100"        },
        {"\\q",    "unknown escape"   },
        {"x{",     "expected a count" },
        {"[z-a]",  "out of order"     },
        {"\\",     "lone \\"          },
    };
    for (auto [pattern, reason] : bad) {
        regex::program p;
        std::string why;
        EXPECT_FALSE(regex::compile(pattern, p, why)) << pattern;
        EXPECT_NE(why.find(reason), std::string::npos) << pattern << ": " << why;
    }
    // Each of these is malformed for std::regex too (it throws regex_error), where a refusal is checkable.
    for (const char* pattern : {"(", "a)", "[a", "*a", "a{2,1}", "\\"})
        EXPECT_THROW(std::regex{pattern}, std::regex_error) << pattern;
#if defined(__GLIBCXX__)
    // A range out of order: libstdc++ (llama.cpp's on Linux) refuses it as ECMAScript does; libc++, the wasm
    // build's, accepts it.
    EXPECT_THROW(std::regex{"[z-a]"}, std::regex_error);
#endif
    // Limits: length, nesting, expanded size.
    regex::program p;
    std::string why;
    EXPECT_FALSE(regex::compile(std::string(257, 'a'), p, why));
    EXPECT_FALSE(regex::compile(std::string(33, '(') + "a" + std::string(33, ')'), p, why));
    EXPECT_FALSE(regex::compile("((a{100}){100}){100}", p, why));
    EXPECT_NE(why.find("too large"), std::string::npos) << why;
}

// A pattern on which a backtracking matcher takes exponential time answers at once: every thread advances in
// step.
TEST(RegexSearch, NestedRepeatsStayLinear) {
    regex::program p;
    std::string why;
    ASSERT_TRUE(regex::compile("(a*)*(a*)*(a*)*(a*)*b", p, why)) << why;
    EXPECT_FALSE(regex::search(p, std::string(5000, 'a')));
    EXPECT_TRUE(regex::search(p, std::string(5000, 'a') + "b"));
}

} // namespace
} // namespace modelplan
