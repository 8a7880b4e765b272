// inspect_bytes: a checkpoint inspected from its first bytes, as the page reads them with File.slice.
#include "../support/checkpoint-writer.h"
#include "test-util.h"

namespace modelplan::test {
namespace {

// Every tensor of Llama-3.2-1B's skeleton (16 layers; published total 1,235,814,400 parameters, tied head not
// stored), written as a BF16 safetensors header over a file of the right size.
test_files::safetensors_file llama_3_2_1b_file() {
    test_files::safetensors_file f;
    for (const auto& t : analyze_preset("llama-3.2-1b").sk.tensors) f.add(t.name, "BF16", t.shape);
    return f;
}

TEST(inspect_bytes, asks_for_the_header_then_verifies) {
    auto f = llama_3_2_1b_file();
    std::string head = f.header_bytes();
    rapidjson::Document first;
    first.Parse(inspect_bytes(head.substr(0, 4), f.file_size(), "model.safetensors", "{}").c_str());
    EXPECT_EQ(first["need_bytes"].GetUint64(), 8u); // the 8-byte length comes first
    rapidjson::Document second;
    second.Parse(inspect_bytes(head.substr(0, 8), f.file_size(), "model.safetensors", "{}").c_str());
    EXPECT_EQ(second["need_bytes"].GetUint64(), head.size());
    rapidjson::Document done;
    done.Parse(
        inspect_bytes(head, f.file_size(), "model.safetensors", R"({"model": "llama-3.2-1b"})").c_str());
    ASSERT_FALSE(done.HasParseError());
    ASSERT_TRUE(done.HasMember("params")) << done.HasMember("error");
    EXPECT_EQ(done["params"]["total"].GetUint64(), 1'235'814'400ULL); // published total
    EXPECT_TRUE(done["verify"]["ok"].GetBool());
    rapidjson::Document other;
    other.Parse(inspect_bytes(head, f.file_size(), "model.safetensors", R"({"model": "qwen3-8b"})").c_str());
    EXPECT_FALSE(other["verify"]["ok"].GetBool());
}

TEST(inspect_bytes, errors_are_objects) {
    rapidjson::Document bad;
    bad.Parse(inspect_bytes(std::string(16, '\xff'), 16, "x.safetensors", "{}").c_str());
    ASSERT_TRUE(bad.HasMember("error"));
    rapidjson::Document req;
    req.Parse(inspect_bytes("", 0, "x.safetensors", "[").c_str());
    EXPECT_STREQ(req["error"]["code"].GetString(), "json_syntax");
}

} // namespace
} // namespace modelplan::test
