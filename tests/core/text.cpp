#include "modelplan/text.h"

#include <gtest/gtest.h>

namespace modelplan {
namespace {

TEST(text, thousands_separators) {
    EXPECT_EQ(with_thousands(0), "0");
    EXPECT_EQ(with_thousands(999), "999");
    EXPECT_EQ(with_thousands(1000), "1,000");
    EXPECT_EQ(with_thousands(8030261248ULL), "8,030,261,248");
    EXPECT_EQ(with_thousands(18446744073709551615ULL), "18,446,744,073,709,551,615");
}

// Binary units are labelled as binary: 2^30 bytes is "1.00 GiB", never "GB".
TEST(text, binary_sizes) {
    EXPECT_EQ(binary_size(512), "512 B");
    EXPECT_EQ(binary_size(1024), "1.00 KiB");
    EXPECT_EQ(binary_size(1ULL << 30), "1.00 GiB");
    EXPECT_EQ(binary_size(16060522496ULL), "14.96 GiB"); // 8,030,261,248 BF16 parameters
    EXPECT_EQ(binary_size(1536ULL << 20), "1.50 GiB");
}

TEST(text, short_counts) {
    EXPECT_EQ(short_count(8030261248ULL), "8.03B");
    EXPECT_EQ(short_count(134515008ULL), "134.52M");
    EXPECT_EQ(short_count(999), "999");
}

TEST(text, closest_name_suggests_typos_only) {
    std::vector<std::string> names = {"llama", "mistral", "mixtral", "qwen2", "qwen3"};
    EXPECT_EQ(closest_name("lama", names), "llama");
    EXPECT_EQ(closest_name("Mixtrall", names), "mixtral");
    EXPECT_EQ(closest_name("gpt_neox", names), "");
    EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

} // namespace
} // namespace modelplan
