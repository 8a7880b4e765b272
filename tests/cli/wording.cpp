// The core's messages name request fields (docs/json.md); the CLI shows the flags that set them.
#include <gtest/gtest.h>

#include "command-line.h"

namespace modelplan::cli {
namespace {

std::string worded(const std::string& message, const std::string& path) {
    return worded_for_cli(error{error_code::bad_request, message, path});
}

TEST(wording, a_message_about_a_field_opens_with_its_flag) {
    EXPECT_EQ(worded("kv_dtype: unknown dtype \"fp7\"", "kv_dtype"), "--kv-dtype: unknown dtype \"fp7\"");
    EXPECT_EQ(worded("attention: expected one of sdpa, eager, flash, got \"x\"", "attention"),
              "--attn: expected one of sdpa, eager, flash, got \"x\"");
    EXPECT_EQ(worded("pins[1]: expected PATTERN=DEVICE, got \"x\"", "pins[1]"),
              "--pin: expected PATTERN=DEVICE, got \"x\"");
    EXPECT_EQ(worded("gpu_count: expected 1 to 1024, got 0", "gpu_count"),
              "--gpus: expected 1 to 1024, got 0");
    EXPECT_EQ(worded("gpus: expected a positive integer, got \"0\"", "gpus"),
              "--gpus: expected a positive integer, got \"0\"");
}

TEST(wording, fields_that_are_no_words_read_as_flags_anywhere) {
    EXPECT_EQ(worded("gpu_count, cpu and disk go with gpu", "devices"), "--gpus, cpu and disk go with gpu");
    EXPECT_EQ(worded("experts_on_cpu needs a cpu device", "experts_on_cpu"),
              "--experts-on-cpu needs a cpu device");
    // A config key that merely contains a field's name is left alone.
    EXPECT_EQ(worded("kv_lora_rank (0) must be positive", "kv_lora_rank"),
              "kv_lora_rank (0) must be positive");
}

TEST(wording, messages_without_fields_or_with_flags_stay) {
    EXPECT_EQ(worded("--attn: expected one of sdpa, eager, flash", "attention"),
              "--attn: expected one of sdpa, eager, flash");
    EXPECT_EQ(worded("flash attention cannot run with fp32 weights", "attention"),
              "flash attention cannot run with fp32 weights");
    EXPECT_EQ(worded("head \"masked-lm\" is not available for llama", "head"),
              "head \"masked-lm\" is not available for llama");
    EXPECT_EQ(worded("num_attention_heads (32) must be divisible by the tensor-parallel degree (3)", "tp"),
              "num_attention_heads (32) must be divisible by the tensor-parallel degree (3)");
}

} // namespace
} // namespace modelplan::cli
