// Sharded checkpoints: model.safetensors.index.json cross-checked with its shards' headers.
// Real anchor: mistralai/Mistral-7B-v0.1's index lists 291 tensors
// (tests/data/mistral-7b-v0.1.weight_map.txt) and metadata.total_size 14483464192 (tests/data/SOURCES.md).
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "../support/checkpoint-writer.h"
#include "modelplan/safetensors.h"
#include "modelplan/verify.h"
#include "test-util.h"

namespace modelplan::test {
namespace {

using test_files::safetensors_file;

#define EXPECT_HAS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)

checkpoint shard(const safetensors_file& f, const std::string& name) {
    std::string header = f.header_bytes();
    auto r = parse_safetensors_header(header, f.file_size(), name);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.err().message);
    return r.ok() && r->parsed ? *r->parsed : checkpoint{};
}

std::string index_json(const std::vector<std::pair<std::string, std::string>>& map,
                       const std::string& metadata) {
    std::string s = "{\"metadata\": " + metadata + ", \"weight_map\": {";
    for (size_t i = 0; i < map.size(); ++i)
        s += (i ? ", " : "") + ("\"" + map[i].first + "\": \"" + map[i].second + "\"");
    return s + "}}";
}

// Two shards: a, b in s1; c in s2.
struct two_shards {
    safetensors_file s1, s2;
    two_shards() {
        s1.add("a", "F16", {4}).add("b", "F32", {2});
        s2.add("c", "BF16", {3});
    }
    std::vector<checkpoint> shards() const {
        return {shard(s1, "s1.safetensors"), shard(s2, "s2.safetensors")};
    }
};

result<checkpoint> merge(const std::string& json, std::vector<checkpoint> shards) {
    auto index = parse_safetensors_index(json, "model.safetensors.index.json");
    if (!index) return index.err();
    return merge_safetensors_shards(*index, std::move(shards));
}

TEST(checkpoint_index, shards_merge_in_order) {
    two_shards t;
    // total_size: 4 x 2 + 2 x 4 + 3 x 2 = 22 bytes; 9 elements.
    std::string json = index_json(
        {
            {"c", "s2.safetensors"},
            {"a", "s1.safetensors"},
            {"b", "s1.safetensors"}
    },
        R"({"total_size": 22, "total_parameters": 9})");
    auto index = parse_safetensors_index(json, "model.safetensors.index.json");
    ASSERT_TRUE(index.ok()) << index.err().message;
    EXPECT_EQ(index->total_size, 22u);
    EXPECT_EQ(index->shards, (std::vector<std::string>{"s2.safetensors", "s1.safetensors"}));
    auto merged =
        merge_safetensors_shards(*index, {shard(t.s2, "s2.safetensors"), shard(t.s1, "s1.safetensors")});
    ASSERT_TRUE(merged.ok()) << merged.err().message;
    EXPECT_TRUE(merged->warnings.empty()) << merged->warnings[0];
    ASSERT_EQ(merged->tensors.size(), 3u);
    EXPECT_EQ(merged->tensors[0].name, "c");
    EXPECT_EQ(merged->tensors[0].file, "s2.safetensors");
    EXPECT_EQ(merged->files.size(), 2u);
}

TEST(checkpoint_index, sizes_that_disagree_are_warnings) {
    two_shards t;
    auto merged = merge(index_json(
                            {
                                {"a", "s1.safetensors"},
                                {"b", "s1.safetensors"},
                                {"c", "s2.safetensors"}
    },
                            R"({"total_size": 23, "total_parameters": 10})"),
                        t.shards());
    ASSERT_TRUE(merged.ok()) << merged.err().message;
    ASSERT_EQ(merged->warnings.size(), 2u);
    EXPECT_EQ(merged->warnings[0], "index metadata.total_size is 23 bytes, but the shards' tensors hold 22");
    EXPECT_EQ(merged->warnings[1],
              "index metadata.total_parameters is 10, but the shards' tensors hold 9 elements");
}

TEST(checkpoint_index, every_tensor_in_exactly_one_named_shard) {
    two_shards t;
    // c is in s2, but the index says s1.
    auto wrong = merge(index_json(
                           {
                               {"a", "s1.safetensors"},
                               {"b", "s1.safetensors"},
                               {"c", "s1.safetensors"},
                               {"z", "s2.safetensors"}
    },
                           "{}"),
                       t.shards());
    ASSERT_FALSE(wrong.ok());
    EXPECT_EQ(wrong.err().code, error_code::bad_checkpoint);
    EXPECT_HAS(wrong.err().message, "the index and its shards disagree (2 problems)");
    EXPECT_HAS(wrong.err().message,
               "tensor \"c\": the weight_map names s1.safetensors, but it is in s2.safetensors");
    EXPECT_HAS(wrong.err().message,
               "tensor \"z\": the weight_map names s2.safetensors, whose header has no such");

    // b is stored but not indexed.
    auto unindexed = merge(index_json(
                               {
                                   {"a", "s1.safetensors"},
                                   {"c", "s2.safetensors"}
    },
                               "{}"),
                           t.shards());
    ASSERT_FALSE(unindexed.ok());
    EXPECT_HAS(unindexed.err().message, "tensor \"b\" is in s1.safetensors but not in the weight_map");

    // a is stored in both shards.
    safetensors_file s2;
    s2.add("c", "BF16", {3}).add("a", "F16", {4});
    auto twice = merge(index_json(
                           {
                               {"a", "s1.safetensors"},
                               {"b", "s1.safetensors"},
                               {"c", "s2.safetensors"}
    },
                           "{}"),
                       {shard(t.s1, "s1.safetensors"), shard(s2, "s2.safetensors")});
    ASSERT_FALSE(twice.ok());
    EXPECT_HAS(twice.err().message, "tensor \"a\" is in both s1.safetensors and s2.safetensors");
}

TEST(checkpoint_index, malformed_indexes) {
    auto err = [](const std::string& json) {
        auto r = parse_safetensors_index(json, "i.json");
        EXPECT_FALSE(r.ok());
        return r.ok() ? std::string() : r.err().message;
    };
    EXPECT_HAS(err("{"), "i.json is not valid JSON");
    EXPECT_HAS(err("[]"), "i.json: expected a JSON object, got an array");
    EXPECT_HAS(err(R"({"metadata": {}})"), "i.json: missing weight_map");
    EXPECT_HAS(err(R"({"weight_map": []})"),
               "weight_map: expected an object mapping tensor names to shard files");
    EXPECT_HAS(err(R"({"weight_map": {"a": 1}})"), "weight_map.a: expected a shard file name, got 1");
    EXPECT_HAS(err(R"({"weight_map": {"a": "x", "a": "x"}})"), "weight_map: tensor \"a\" appears twice");
    EXPECT_HAS(err(R"({"metadata": {"total_size": "big"}, "weight_map": {}})"),
               "metadata.total_size: expected a non-negative integer, got the string \"big\"");
    EXPECT_HAS(err(R"({"metadata": {"total_size": -1}, "weight_map": {}})"), "got -1");
    EXPECT_HAS(err(R"({"metadata": 3, "weight_map": {}})"), "metadata: expected an object, got 3");
    // Shards are plain names in the index's folder: nothing may point elsewhere.
    for (const char* shard : {"../secret.safetensors", "/etc/passwd", "sub/dir.safetensors", "..", ""})
        EXPECT_HAS(err(std::string(R"({"weight_map": {"a": ")") + shard + "\"}}"),
                   "is not a plain file name in the index's folder");
    // Some writers emit total_size as a float; an exact integer is accepted.
    auto r = parse_safetensors_index(R"({"metadata": {"total_size": 1.4483464192e10}, "weight_map": {}})",
                                     "i.json");
    ASSERT_TRUE(r.ok()) << r.err().message;
    EXPECT_EQ(r->total_size, 14483464192u);
}

// The published index of Mistral-7B-v0.1: its 291 tensor names split over two shards, each tensor sized from
// the skeleton. The shards' bytes add up to the published total_size, and the merged checkpoint verifies.
TEST(checkpoint_index, mistral_7b_published_weight_map_and_total_size) {
    std::ifstream in(std::string(MODELPLAN_TEST_DATA) + "/mistral-7b-v0.1.weight_map.txt");
    std::vector<std::string> names;
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) names.push_back(line);
    ASSERT_EQ(names.size(), 291u);
    analysis a = analyze_preset("mistral-7b-v0.1");
    std::map<std::string, const tensor_info*> by_name;
    for (const auto& t : a.sk.tensors) by_name[t.name] = &t;

    safetensors_file s1, s2;
    std::vector<std::pair<std::string, std::string>> map;
    for (size_t i = 0; i < names.size(); ++i) {
        auto it = by_name.find(names[i]);
        ASSERT_NE(it, by_name.end()) << names[i];
        bool first = i < names.size() / 2;
        (first ? s1 : s2).add(names[i], "BF16", it->second->shape);
        map.emplace_back(names[i],
                         first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors");
    }
    auto merged =
        merge(index_json(map, R"({"total_size": 14483464192})"),
              {shard(s1, "model-00001-of-00002.safetensors"), shard(s2, "model-00002-of-00002.safetensors")});
    ASSERT_TRUE(merged.ok()) << merged.err().message;
    EXPECT_TRUE(merged->warnings.empty()) << merged->warnings[0];
    auto inspected =
        inspect("model.safetensors.index.json", std::move(*merged), a, "config.json in the folder");
    ASSERT_TRUE(inspected.ok());
    EXPECT_TRUE(inspected->verify->ok);
    EXPECT_EQ(inspected->view.totals.bytes, 14'483'464'192ULL);
}

TEST(checkpoint_index, separate_files_need_unique_names) {
    safetensors_file f1, f2;
    f1.add("a", "F16", {2});
    f2.add("a", "F16", {2});
    auto merged = merge_checkpoints({shard(f1, "one.safetensors"), shard(f2, "two.safetensors")});
    ASSERT_FALSE(merged.ok());
    EXPECT_HAS(merged.err().message, "tensor \"a\" is in both one.safetensors and two.safetensors");
}

} // namespace
} // namespace modelplan::test
