// A checkpoint made of several files (checkpoint.h): file names classified, the checkpoint picked among a set
// of names, and split GGUF models checked the way llama.cpp checks them. Sources: transformers names an index
// model.safetensors.index.json and its shards model-00001-of-00004.safetensors
// (src/transformers/utils/__init__.py, SAFE_WEIGHTS_INDEX_NAME; modeling_utils.py, shard names); llama.cpp's
// gguf-split names parts "%s-%05d-of-%05d.gguf" with split.no + 1 (llama.cpp LLAMA_SPLIT_PATH /
// llama_split_path) and writes split.no (uint16, 0-based), split.count (uint16) and split.tensors.count
// (int32, the whole model's tensors) into every part (tools/gguf-split/gguf-split.cpp,
// split_strategy::split_start); its loader refuses a part whose split.no is not the expected one and a total
// other than split.tensors.count (src/llama-model-loader.cpp, "corrupted model: %d tensors expected but %d
// found").
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "../support/checkpoint-writer.h"
#include "modelplan/checkpoint.h"
#include "modelplan/gguf.h"
#include "modelplan/safetensors.h"

namespace modelplan::test {
namespace {

using test_files::gguf_file;
namespace tf = test_files;

#define EXPECT_HAS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)

// ---- classification ---------------------------------------------------------------------------------------

struct named_kind {
    const char* name;
    checkpoint_file_kind kind;
};

// Split part names count from 1 ("-00000-of-" is no part) up to their count.
TEST(CheckpointFileNames, EachNameHasOneKind) {
    const std::vector<named_kind> cases = {
        {"model.safetensors",                              checkpoint_file_kind::safetensors      },
        {"model-00001-of-00004.safetensors",               checkpoint_file_kind::safetensors      },
        {"MODEL.SafeTensors",                              checkpoint_file_kind::safetensors      },
        {"model.safetensors.index.json",                   checkpoint_file_kind::safetensors_index},
        {"diffusion_pytorch_model.safetensors.index.json", checkpoint_file_kind::safetensors_index},
        {"Model.Safetensors.Index.JSON",                   checkpoint_file_kind::safetensors_index},
        {"config.json",                                    checkpoint_file_kind::json             },
        {"pytorch_model.bin.index.json",                   checkpoint_file_kind::json             },
        {"llama-3.2-1b-q4_k_m.gguf",                       checkpoint_file_kind::gguf             },
        {"Q.GGUF",                                         checkpoint_file_kind::gguf             },
        {"big-model-q4_k_m-00002-of-00005.gguf",           checkpoint_file_kind::gguf_split       },
        {"big-model-q4_k_m-00000-of-00005.gguf",           checkpoint_file_kind::gguf             },
        {"big-model-q4_k_m-00006-of-00005.gguf",           checkpoint_file_kind::gguf             },
        {"big-model-q4_k_m-2-of-5.gguf",                   checkpoint_file_kind::gguf             },
        {"pytorch_model.bin",                              checkpoint_file_kind::other            },
        {"model.safetensors.bak",                          checkpoint_file_kind::other            },
        {"",                                               checkpoint_file_kind::other            },
    };
    for (const auto& c : cases)
        EXPECT_EQ(checkpoint_file_kind_name(classify_checkpoint_file(c.name).kind),
                  std::string(checkpoint_file_kind_name(c.kind)))
            << c.name;
}

TEST(CheckpointFileNames, SplitPartsGiveTheirNumberAndCount) {
    auto c = classify_checkpoint_file("big-model-00002-of-00005.gguf");
    EXPECT_EQ(c.split_no, 2u);
    EXPECT_EQ(c.split_count, 5u);
    auto last = classify_checkpoint_file("x-65535-of-65535.gguf");
    EXPECT_EQ(last.kind, checkpoint_file_kind::gguf_split);
    EXPECT_EQ(last.split_no, 65535u);
}

TEST(CheckpointFileNames, FormatOfTheCheckpointAFileBelongsTo) {
    EXPECT_EQ(classify_checkpoint_file("model.safetensors.index.json").format(),
              checkpoint_format::safetensors);
    EXPECT_EQ(classify_checkpoint_file("x-00001-of-00002.gguf").format(), checkpoint_format::gguf);
    EXPECT_EQ(classify_checkpoint_file("config.json").format(), std::nullopt);
    EXPECT_EQ(classify_checkpoint_file("README.md").format(), std::nullopt);
}

// ---- selection --------------------------------------------------------------------------------------------

checkpoint_file_set select_ok(const std::vector<std::string>& names, checkpoint_names_from from) {
    auto r = select_checkpoint_files(names, from);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.err().message);
    return r.ok() ? *r : checkpoint_file_set{};
}

TEST(CheckpointFileSets, AFolderPrefersTheIndexThenSafetensorsThenGguf) {
    const auto folder = checkpoint_names_from::folder;
    auto sharded =
        select_ok({"config.json", "model-00002-of-00002.safetensors", "model.safetensors.index.json",
                   "model-00001-of-00002.safetensors", "tokenizer.json", "model.gguf"},
                  folder);
    EXPECT_EQ(sharded.layout, checkpoint_layout::sharded_safetensors);
    EXPECT_EQ(sharded.index, "model.safetensors.index.json");
    EXPECT_TRUE(sharded.files.empty()); // the index names them

    auto files = select_ok({"b.safetensors", "a.safetensors", "model.gguf", "README.md"}, folder);
    EXPECT_EQ(files.layout, checkpoint_layout::safetensors_files);
    EXPECT_EQ(files.files, (std::vector<std::string>{"a.safetensors", "b.safetensors"}));

    auto gguf = select_ok({"m-00002-of-00002.gguf", "m-00001-of-00002.gguf", "config.json"}, folder);
    EXPECT_EQ(gguf.layout, checkpoint_layout::gguf_splits);
    EXPECT_EQ(gguf.files, (std::vector<std::string>{"m-00001-of-00002.gguf", "m-00002-of-00002.gguf"}));
    EXPECT_STREQ(checkpoint_layout_label(gguf.layout), "split GGUF");

    auto none = select_checkpoint_files({"config.json", "pytorch_model.bin"}, folder);
    ASSERT_FALSE(none.ok());
    EXPECT_HAS(none.err().message, "holds no .safetensors");
}

TEST(CheckpointFileSets, SeveralIndexesNeedModelSafetensorsIndexJsonAmongThem) {
    for (auto from : {checkpoint_names_from::folder, checkpoint_names_from::selection}) {
        auto preferred = select_ok({"a.safetensors.index.json", "model.safetensors.index.json"}, from);
        EXPECT_EQ(preferred.index, "model.safetensors.index.json");
        auto two = select_checkpoint_files({"b.safetensors.index.json", "a.safetensors.index.json"}, from);
        ASSERT_FALSE(two.ok());
        EXPECT_HAS(two.err().message,
                   "several index files (a.safetensors.index.json, b.safetensors.index.json)");
    }
}

TEST(CheckpointFileSets, ASelectionHoldsOnlyOneCheckpoint) {
    const auto selection = checkpoint_names_from::selection;
    auto other = select_checkpoint_files({"model.safetensors", "config.json"}, selection);
    ASSERT_FALSE(other.ok());
    EXPECT_EQ(other.err().code, error_code::unsupported);
    EXPECT_HAS(other.err().message, "config.json: not a .safetensors");
    auto mixed = select_checkpoint_files({"model.safetensors", "model.gguf"}, selection);
    ASSERT_FALSE(mixed.ok());
    EXPECT_HAS(mixed.err().message, "GGUF and safetensors files together");
    EXPECT_FALSE(select_checkpoint_files({}, selection).ok());
    EXPECT_EQ(select_ok({"model.gguf"}, selection).layout, checkpoint_layout::gguf_file);
}

// ---- split GGUF models ------------------------------------------------------------------------------------

constexpr uint32_t gguf_uint16_type = 2; // gguf_type GGUF_TYPE_UINT16 (ggml include/gguf.h)

std::string le16(uint16_t v) {
    return tf::le32(v).substr(0, 2);
}

// One part as gguf-split writes it: split.no, split.count, split.tensors.count, then its tensors (F32 [4]).
checkpoint split_part(const std::string& name, uint16_t no, uint16_t count, int32_t tensors_count,
                      const std::vector<std::string>& tensors) {
    gguf_file g;
    g.kv_raw("split.no", gguf_uint16_type, le16(no));
    g.kv_raw("split.count", gguf_uint16_type, le16(count));
    g.kv_i32("split.tensors.count", tensors_count);
    for (const auto& t : tensors) g.tensor(t, {4}, tf::ggml_f32);
    std::string bytes = g.bytes();
    auto r = parse_gguf(bytes, bytes.size(), name);
    EXPECT_TRUE(r.ok() && r->parsed) << (r.ok() ? "asked for more bytes" : r.err().message);
    return r.ok() && r->parsed ? *r->parsed : checkpoint{};
}

std::string split_refusal(std::vector<checkpoint> parts) {
    auto r = check_gguf_splits(std::move(parts));
    if (r.ok()) {
        ADD_FAILURE() << "accepted a broken split set";
        return "";
    }
    EXPECT_EQ(r.err().code, error_code::bad_checkpoint) << r.err().message;
    return r.err().message;
}

TEST(GgufSplits, PartsAreAssembledInSplitNoOrderWhateverOrderTheyCameIn) {
    checkpoint_file_set set;
    set.layout = checkpoint_layout::gguf_splits;
    set.files = {"m-00003-of-00003.gguf", "m-00001-of-00003.gguf", "m-00002-of-00003.gguf"};
    auto ck = assemble_checkpoint(set, {split_part("m-00003-of-00003.gguf", 2, 3, 4, {"d"}),
                                        split_part("m-00001-of-00003.gguf", 0, 3, 4, {"a", "b"}),
                                        split_part("m-00002-of-00003.gguf", 1, 3, 4, {"c"})});
    ASSERT_TRUE(ck.ok()) << ck.err().message;
    ASSERT_EQ(ck->files.size(), 3u);
    EXPECT_EQ(ck->files[0].name, "m-00001-of-00003.gguf");
    EXPECT_EQ(ck->files[2].name, "m-00003-of-00003.gguf");
    ASSERT_EQ(ck->tensors.size(), 4u);
    EXPECT_EQ(ck->tensors[0].name, "a");
    EXPECT_EQ(ck->tensors[3].name, "d");
    EXPECT_EQ(find_gguf_value(*ck, "split.no")->u,
              0u); // the first part's metadata (it holds the model's keys)
}

TEST(GgufSplits, TwoFilesClaimingTheSameSplitNoAreNamed) {
    auto message = split_refusal({split_part("q4-00001-of-00002.gguf", 0, 2, 2, {"a"}),
                                  split_part("q8-00001-of-00002.gguf", 0, 2, 2, {"b"})});
    EXPECT_HAS(message, "q4-00001-of-00002.gguf and q8-00001-of-00002.gguf both claim split.no 0");
}

TEST(GgufSplits, MissingPartsOfALargeSplitCountAreAnError) {
    auto message = split_refusal({split_part("m-00001-of-65535.gguf", 0, 65535, 2, {"a"}),
                                  split_part("m-00002-of-65535.gguf", 1, 65535, 2, {"b"})});
    EXPECT_HAS(message, "split.count is 65535, but only 2 parts are given");
    EXPECT_HAS(message, "missing: split.no 2, 3, 4, 5, 6 and 65528 more");
}

TEST(GgufSplits, EveryBrokenSetIsRefusedNamingTheRule) {
    EXPECT_HAS(split_refusal({split_part("a.gguf", 0, 2, 2, {"a"}), split_part("b.gguf", 1, 3, 2, {"b"})}),
               "a.gguf has split.count 2 but b.gguf has 3");
    EXPECT_HAS(split_refusal({split_part("a.gguf", 0, 2, 2, {"a"}), split_part("b.gguf", 2, 2, 2, {"b"})}),
               "b.gguf: split.no 2 is not below split.count 2");
    EXPECT_HAS(split_refusal({split_part("a.gguf", 0, 2, 3, {"a"}), split_part("b.gguf", 1, 2, 3, {"b"})}),
               "a.gguf: split.tensors.count is 3, but the 2 parts hold 2 tensors");
    gguf_file plain;
    plain.tensor("b", {4}, tf::ggml_f32);
    std::string bytes = plain.bytes();
    auto unsplit = parse_gguf(bytes, bytes.size(), "other.gguf");
    ASSERT_TRUE(unsplit.ok() && unsplit->parsed);
    EXPECT_HAS(split_refusal({split_part("a.gguf", 0, 2, 2, {"a"}), *unsplit->parsed}),
               "other.gguf is not a part of a split model (it has no split.no)");
}

TEST(GgufSplits, OnePartAloneIsInspectedAsItIs) {
    auto r = check_gguf_splits({split_part("m-00001-of-00003.gguf", 0, 3, 5, {"a"})});
    ASSERT_TRUE(r.ok()) << r.err().message;
    EXPECT_EQ(r->size(), 1u);
}

// ---- sharded safetensors ----------------------------------------------------------------------------------

TEST(CheckpointFileSets, ShardsAreCrossCheckedWithTheirIndex) {
    tf::safetensors_file s1, s2;
    s1.add("a", "F16", {4});
    s2.add("b", "F16", {4});
    auto parse = [](const tf::safetensors_file& f, const std::string& name) {
        std::string header = f.header_bytes();
        auto r = parse_safetensors_header(header, f.file_size(), name);
        EXPECT_TRUE(r.ok() && r->parsed);
        return r.ok() && r->parsed ? *r->parsed : checkpoint{};
    };
    auto index = parse_safetensors_index(R"({"weight_map": {"a": "s1.safetensors", "b": "s1.safetensors"}})",
                                         "model.safetensors.index.json");
    ASSERT_TRUE(index.ok());
    checkpoint_file_set set = select_ok({"model.safetensors.index.json"}, checkpoint_names_from::selection);
    add_index_shards(set, *index);
    EXPECT_EQ(set.files, (std::vector<std::string>{"s1.safetensors"}));
    auto bad = assemble_checkpoint(set, {parse(s1, "s1.safetensors")}, &*index);
    ASSERT_FALSE(bad.ok()); // the index puts b in s1, which does not hold it
    EXPECT_HAS(bad.err().message, "\"b\"");

    auto good_index = parse_safetensors_index(
        R"({"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}})", "model.safetensors.index.json");
    ASSERT_TRUE(good_index.ok());
    add_index_shards(set, *good_index);
    auto good =
        assemble_checkpoint(set, {parse(s1, "s1.safetensors"), parse(s2, "s2.safetensors")}, &*good_index);
    ASSERT_TRUE(good.ok()) << good.err().message;
    EXPECT_EQ(good->tensors.size(), 2u);
}

} // namespace
} // namespace modelplan::test
