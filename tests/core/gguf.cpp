// GGUF: header, metadata of every value type, tensor infos with GGML block sizes, and one broken file per
// rule of ggml's reader (ggml-org/ggml src/gguf.cpp at commit d99724f2b141fed9e1a9f402213506c081433465).
// Files come from tests/support/checkpoint-writer.h.
#include <string>

#include <gtest/gtest.h>

#include "../support/checkpoint-writer.h"
#include "modelplan/gguf.h"

namespace modelplan::test {
namespace {

using test_files::gguf_file;
using test_files::le32;
using test_files::le64;
namespace tf = test_files;

result<header_parse<checkpoint>> parse(const std::string& file) {
    return parse_gguf(file, file.size(), "m.gguf");
}

checkpoint parse_ok(const std::string& file) {
    auto r = parse(file);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.err().message);
    if (!r.ok() || !r->parsed) {
        ADD_FAILURE() << "no header parsed";
        return {};
    }
    return *r->parsed;
}

std::string refusal(const std::string& file, error_code code = error_code::bad_checkpoint) {
    auto r = parse(file);
    if (r.ok()) {
        ADD_FAILURE() << "accepted a broken file" << (r->parsed ? "" : " (asked for more bytes)");
        return "";
    }
    EXPECT_EQ(r.err().code, code) << r.err().message;
    EXPECT_EQ(r.err().message.rfind("m.gguf: ", 0), 0u) << r.err().message;
    return r.err().message;
}

#define EXPECT_HAS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)

// enum ggml_type (include/ggml.h) and each type's elements per block and bytes per block, from the
// sizeof(block_*) identities of src/ggml-common.h (ggml_half 2 bytes, QK_K 256) and type_traits in
// src/ggml.c.
TEST(gguf, ggml_type_sizes) {
    struct fact {
        uint32_t id;
        const char* name;
        uint32_t block, bytes;
    };
    const fact facts[] = {
        {0,  "F32",     1,   4                                      },
        {1,  "F16",     1,   2                                      },
        {2,  "Q4_0",    32,  2 + 32 / 2                             },
        {3,  "Q4_1",    32,  2 * 2 + 32 / 2                         },
        {6,  "Q5_0",    32,  2 + 4 + 32 / 2                         },
        {7,  "Q5_1",    32,  2 * 2 + 4 + 32 / 2                     },
        {8,  "Q8_0",    32,  2 + 32                                 },
        {9,  "Q8_1",    32,  2 * 2 + 32                             },
        {10, "Q2_K",    256, 2 * 2 + 256 / 16 + 256 / 4             },
        {11, "Q3_K",    256, 2 + 256 / 4 + 256 / 8 + 12             },
        {12, "Q4_K",    256, 2 * 2 + 12 + 256 / 2                   },
        {13, "Q5_K",    256, 2 * 2 + 12 + 256 / 2 + 256 / 8         },
        {14, "Q6_K",    256, 2 + 256 / 16 + 3 * 256 / 4             },
        {15, "Q8_K",    256, 4 + 256 + 256 / 16 * 2                 },
        {16, "IQ2_XXS", 256, 2 + 256 / 8 * 2                        },
        {17, "IQ2_XS",  256, 2 + 256 / 8 * 2 + 256 / 32             },
        {18, "IQ3_XXS", 256, 2 + 3 * (256 / 8)                      },
        {19, "IQ1_S",   256, 2 + 256 / 8 + 256 / 16                 },
        {20, "IQ4_NL",  32,  2 + 32 / 2                             },
        {21, "IQ3_S",   256, 2 + 13 * (256 / 32) + 256 / 64         },
        {22, "IQ2_S",   256, 2 + 256 / 4 + 256 / 16                 },
        {23, "IQ4_XS",  256, 2 + 2 + 256 / 64 + 256 / 2             },
        {24, "I8",      1,   1                                      },
        {25, "I16",     1,   2                                      },
        {26, "I32",     1,   4                                      },
        {27, "I64",     1,   8                                      },
        {28, "F64",     1,   8                                      },
        {29, "IQ1_M",   256, 256 / 8 + 256 / 16 + 256 / 32          },
        {30, "BF16",    1,   2                                      },
        {34, "TQ1_0",   256, 2 + 256 / 64 + (256 - 4 * 256 / 64) / 5},
        {35, "TQ2_0",   256, 2 + 256 / 4                            },
        {39, "MXFP4",   32,  1 + 32 / 2                             },
        {40, "NVFP4",   64,  64 / 16 + 64 / 2                       },
        {41, "Q1_0",    128, 2 + 128 / 8                            },
        {42, "Q2_0",    64,  2 + 64 / 4                             },
    };
    for (const fact& f : facts) {
        const ggml_type_info* t = find_ggml_type(f.id);
        ASSERT_NE(t, nullptr) << f.name;
        EXPECT_STREQ(t->name, f.name);
        EXPECT_EQ(t->block_size, f.block) << f.name;
        EXPECT_EQ(t->type_size, f.bytes) << f.name;
        EXPECT_EQ(find_ggml_type(f.name), t);
    }
    // Removed from GGUF files: Q4_2, Q4_3, Q4_0_4_4, Q4_0_4_8, Q4_0_8_8, IQ4_NL_4_4, IQ4_NL_4_8, IQ4_NL_8_8.
    for (uint32_t id : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u}) EXPECT_EQ(find_ggml_type(id)->block_size, 0u);
    EXPECT_EQ(ggml_types().size(), 43u); // GGML_TYPE_COUNT
    EXPECT_EQ(find_ggml_type(43u), nullptr);
}

gguf_file every_value_type() {
    gguf_file f;
    f.kv_raw("u8", tf::g_uint8, std::string(1, '\xff'))
        .kv_raw("i8", tf::g_int8, std::string(1, '\xfe'))
        .kv_raw("u16", tf::g_uint16, std::string("\x34\x12", 2))
        .kv_raw("i16", tf::g_int16, std::string("\xff\xff", 2))
        .kv_u32("u32", 4000000000u)
        .kv_i32("i32", -7)
        .kv_f32("f32", 0.5f)
        .kv_f32("f32.eps", 1e-5f)
        .kv_bool("bool", true)
        .kv_str("str", "hello")
        .kv_u64("u64", 1ull << 40)
        .kv_raw("i64", tf::g_int64, le64(static_cast<uint64_t>(-5)))
        .kv_raw("f64", tf::g_float64, le64(0x3FF8000000000000ull)) // 1.5
        .kv_u32_array("arr.u32", {1, 2, 3})
        .kv_str_array("arr.str", {"a", "bc"})
        // An array of two arrays of one uint8 each.
        .kv_raw("arr.nested", tf::g_array,
                le32(tf::g_array) + le64(2) + le32(tf::g_uint8) + le64(1) + "\x01" + le32(tf::g_uint8) +
                    le64(1) + "\x02");
    return f;
}

TEST(gguf, metadata_of_every_value_type) {
    checkpoint ck = parse_ok(every_value_type().bytes());
    EXPECT_EQ(ck.format, checkpoint_format::gguf);
    EXPECT_EQ(ck.gguf_version, 3u);
    const std::vector<std::pair<std::string, std::string>> expected = {
        {"u8",         "255"          },
        {"i8",         "-2"           },
        {"u16",        "4660"         },
        {"i16",        "-1"           },
        {"u32",        "4000000000"   },
        {"i32",        "-7"           },
        {"f32",        "0.5"          },
        {"f32.eps",    "1e-05"        },
        {"bool",       "true"         },
        {"str",        "hello"        },
        {"u64",        "1099511627776"},
        {"i64",        "-5"           },
        {"f64",        "1.5"          },
        {"arr.u32",    "[uint32 x 3]" },
        {"arr.str",    "[string x 2]" },
        {"arr.nested", "[array x 2]"  },
    };
    EXPECT_EQ(ck.metadata, expected);
    const gguf_value* u32 = find_gguf_value(ck, "u32");
    ASSERT_NE(u32, nullptr);
    EXPECT_EQ(u32->type, gguf_uint32);
    EXPECT_EQ(u32->u, 4000000000u);
    const gguf_value* strs = find_gguf_value(ck, "arr.str");
    ASSERT_NE(strs, nullptr);
    EXPECT_EQ(strs->elem_type, gguf_string);
    EXPECT_EQ(strs->count, 2u);
    EXPECT_TRUE(ck.tensors.empty());
}

// Tensor infos: dimensions reversed to PyTorch order, byte sizes from the block layout, data aligned.
TEST(gguf, tensors_with_block_sizes_and_alignment) {
    gguf_file f;
    f.kv_str("general.architecture", "llama");
    f.tensor("token_embd.weight", {64, 10}, tf::ggml_q4_0) // ne = [64, 10]: 10 rows of 64
        .tensor("output_norm.weight", {64}, tf::ggml_f32)
        .tensor("blk.0.ffn_down.weight", {256, 3}, tf::ggml_q4_k);
    std::string file = f.bytes();
    checkpoint ck = parse_ok(file);
    ASSERT_EQ(ck.tensors.size(), 3u);
    const uint64_t data = f.header().size(); // the writer pads the header to 32 bytes
    EXPECT_EQ(data % 32, 0u);
    const checkpoint_tensor& embd = ck.tensors[0];
    EXPECT_EQ(embd.shape, (std::vector<uint64_t>{10, 64}));
    EXPECT_EQ(embd.dtype, "Q4_0");
    EXPECT_EQ(embd.elements, 640u);
    EXPECT_EQ(embd.begin, data);
    EXPECT_EQ(embd.bytes(), 640u / 32 * 18); // 20 blocks of 18 bytes = 360, padded to 384 in the file
    EXPECT_EQ(ck.tensors[1].begin, data + 384);
    EXPECT_EQ(ck.tensors[1].bytes(), 256u);
    EXPECT_EQ(ck.tensors[2].begin, data + 384 + 256);
    EXPECT_EQ(ck.tensors[2].bytes(), 3u * 144); // 3 rows of one Q4_K block
    EXPECT_EQ(ck.tensors[2].shape, (std::vector<uint64_t>{3, 256}));
    ASSERT_EQ(ck.files.size(), 1u);
    EXPECT_EQ(ck.files[0].header_bytes, data);
    EXPECT_EQ(ck.files[0].size, file.size());
}

TEST(gguf, general_alignment_is_used) {
    gguf_file f;
    f.set_alignment(64);
    f.tensor("a", {3}, tf::ggml_f32).tensor("b", {3}, tf::ggml_f32);
    checkpoint ck = parse_ok(f.bytes());
    ASSERT_EQ(ck.tensors.size(), 2u);
    EXPECT_EQ(ck.tensors[0].begin % 64, 0u);
    EXPECT_EQ(ck.tensors[1].begin, ck.tensors[0].begin + 64); // 12 bytes padded to 64
}

TEST(gguf, version_2_reads_like_version_3) {
    gguf_file f = every_value_type();
    f.version = 2;
    f.tensor("t", {4}, tf::ggml_f16);
    checkpoint ck = parse_ok(f.bytes());
    EXPECT_EQ(ck.gguf_version, 2u);
    EXPECT_EQ(ck.tensors.size(), 1u);
}

// The header's length is unknown until parsed: the parser names the bytes it needs, up to the whole header.
TEST(gguf, works_from_a_growing_prefix) {
    gguf_file f = every_value_type();
    f.kv_str_array("tokenizer.ggml.tokens", std::vector<std::string>(500, "token"));
    f.tensor("w", {32, 2}, tf::ggml_q8_0);
    std::string file = f.bytes();
    size_t have = 16;
    int rounds = 0;
    for (;; ++rounds) {
        ASSERT_LT(rounds, 10000);
        auto r = parse_gguf(std::string_view(file).substr(0, have), file.size(), "m.gguf");
        ASSERT_TRUE(r.ok()) << r.err().message;
        if (r->parsed) {
            EXPECT_EQ(r->parsed->tensors.size(), 1u);
            break;
        }
        ASSERT_GT(r->need_bytes, have);
        ASSERT_LE(r->need_bytes, f.header().size()) << "never asks for tensor data";
        have = r->need_bytes;
    }
    EXPECT_GT(rounds, 1);
}

// ---- one broken file per rule
// -------------------------------------------------------------------------------

TEST(gguf_rules, magic_and_version) {
    EXPECT_HAS(refusal("GGUX" + le32(3) + le64(0) + le64(0)), "not a GGUF file: starts with \"GGUX\"");
    EXPECT_HAS(refusal("GGUF" + le32(0) + le64(0) + le64(0)), "GGUF version 0 is invalid");
    EXPECT_HAS(refusal("GGUF" + le32(1) + le64(0) + le64(0), error_code::unsupported),
               "GGUF version 1 is no longer supported");
    EXPECT_HAS(refusal("GGUF" + le32(4) + le64(0) + le64(0), error_code::unsupported),
               "GGUF version 4 is newer than the supported 2 and 3");
    // A big-endian version 3 reads as 0x03000000 (gguf.cpp's endianness check).
    EXPECT_HAS(
        refusal("GGUF" + std::string("\x00\x00\x00\x03", 4) + le64(0) + le64(0), error_code::unsupported),
        "reads as 50331648; this looks like a big-endian file");
}

TEST(gguf_rules, file_ends_inside_the_header) {
    gguf_file f;
    f.kv_str("general.name", std::string(100, 'x')); // 24 + 8 + 12 + 4 + 8 + 100 = 156 bytes
    std::string file = f.bytes().substr(0, 120);
    EXPECT_HAS(refusal(file),
               "metadata key \"general.name\" at byte 56 needs 100 bytes, but the file ends at byte 120");
    EXPECT_HAS(refusal("GGU"), "magic at byte 0 needs 4 bytes, but the file ends at byte 3");
}

// Counts that the file cannot hold are refused before anything is allocated.
TEST(gguf_rules, hostile_counts) {
    EXPECT_HAS(
        refusal("GGUF" + le32(3) + le64(1ull << 60) + le64(0)),
        "the header claims 1,152,921,504,606,846,976 tensors and 0 metadata keys, more than the file's 24 "
        "bytes can hold");
    EXPECT_HAS(refusal("GGUF" + le32(3) + le64(0) + le64(~0ull)), "metadata keys, more than the file's");
}

TEST(gguf_rules, hostile_strings_and_arrays) {
    gguf_file long_string;
    long_string.kv_raw("s", tf::g_string, le64(1ull << 40));
    EXPECT_HAS(refusal(long_string.bytes()),
               "is 1,099,511,627,776 bytes long, above ggml's limit of 1,073,741,824");

    gguf_file past_end;
    past_end.kv_raw("s", tf::g_string, le64(100) + "short");
    EXPECT_HAS(refusal(past_end.bytes()), "metadata key \"s\" at byte");
    EXPECT_HAS(refusal(past_end.bytes()), "needs 100 bytes, but the file ends");

    gguf_file big_array;
    big_array.kv_raw("a", tf::g_array, le32(tf::g_uint32) + le64(1000000) + le32(1));
    EXPECT_HAS(
        refusal(big_array.bytes()),
        "metadata key \"a\" claims 1,000,000 uint32 elements (4,000,000 bytes at least), more than the");

    gguf_file too_many;
    too_many.kv_raw("a", tf::g_array, le32(tf::g_uint8) + le64((1ull << 30) + 1));
    EXPECT_HAS(refusal(too_many.bytes()), "has 1,073,741,825 elements, above ggml's limit of 1,073,741,824");

    gguf_file huge_strings;
    huge_strings.kv_raw("a", tf::g_array, le32(tf::g_string) + le64(1ull << 62));
    EXPECT_HAS(refusal(huge_strings.bytes()), "above ggml's limit");

    // Arrays in arrays, nine deep.
    std::string nested;
    for (int i = 0; i < 9; ++i) nested += le32(tf::g_array) + le64(1);
    gguf_file deep;
    deep.kv_raw("a", tf::g_array, nested + le32(tf::g_uint8) + le64(0));
    EXPECT_HAS(refusal(deep.bytes()), "arrays nested deeper than 8 levels");
}

TEST(gguf_rules, keys_and_value_types) {
    gguf_file bad_type;
    bad_type.kv_raw("x", 13, std::string(1, '\0'));
    EXPECT_HAS(refusal(bad_type.bytes()), "metadata key \"x\" has type 13; GGUF value types are 0 to 12");
    gguf_file bad_element;
    bad_element.kv_raw("x", tf::g_array, le32(99) + le64(0));
    EXPECT_HAS(refusal(bad_element.bytes()), "metadata key \"x\" element has type 99");
    gguf_file empty_key;
    empty_key.kv_u32("", 1);
    EXPECT_HAS(refusal(empty_key.bytes()), "metadata key 0 is empty");
    gguf_file twice;
    twice.kv_u32("k", 1).kv_u32("k", 2);
    EXPECT_HAS(refusal(twice.bytes()), "metadata key \"k\" appears twice");
}

// general.alignment: a uint32 power of two (gguf.cpp).
TEST(gguf_rules, alignment) {
    gguf_file wrong_type;
    wrong_type.kv_u64("general.alignment", 32);
    EXPECT_HAS(refusal(wrong_type.bytes()), "general.alignment must be of type uint32, not uint64");
    gguf_file not_power;
    not_power.kv_u32("general.alignment", 48);
    EXPECT_HAS(refusal(not_power.bytes()), "general.alignment 48 is not a power of 2");
    gguf_file zero;
    zero.kv_u32("general.alignment", 0);
    EXPECT_HAS(refusal(zero.bytes()), "general.alignment 0 is not a power of 2");
}

TEST(gguf_rules, tensor_infos) {
    gguf_file long_name;
    long_name.tensor(std::string(64, 'n'), {4}, tf::ggml_f32);
    EXPECT_HAS(refusal(long_name.bytes()), "name is 64 bytes; ggml's limit is 63");

    gguf_file twice;
    twice.tensor("t", {4}, tf::ggml_f32).tensor("t", {4}, tf::ggml_f32);
    EXPECT_HAS(refusal(twice.bytes()), "tensor \"t\" appears twice");

    gguf_file five_dims;
    five_dims.tensor_raw("t", {1, 1, 1, 1, 1}, 0, 0);
    EXPECT_HAS(refusal(five_dims.bytes()), "tensor \"t\" has 5 dimensions; ggml allows at most 4");

    gguf_file negative;
    negative.tensor_raw("t", {1ull << 63}, 0, 0);
    EXPECT_HAS(refusal(negative.bytes()), "dimension 0 is 9223372036854775808, above ggml's int64 limit");

    gguf_file overflow;
    overflow.tensor_raw("t", {1ull << 32, 1ull << 32}, 0, 0);
    EXPECT_HAS(refusal(overflow.bytes(), error_code::overflow),
               "element count of dimensions (4294967296, 4294967296) overflows int64");

    gguf_file unknown;
    unknown.tensor_raw("t", {4}, 99, 0);
    EXPECT_HAS(refusal(unknown.bytes()), "tensor \"t\" has ggml type 99; known types are 0 to 42");

    gguf_file removed;
    removed.tensor_raw("t", {32}, 31, 0);
    EXPECT_HAS(refusal(removed.bytes(), error_code::unsupported),
               "has ggml type 31 (Q4_0_4_4), which ggml removed from GGUF files");

    gguf_file row;
    row.tensor_raw("t", {33, 2}, tf::ggml_q4_0.id, 0).extra_data(64);
    EXPECT_HAS(refusal(row.bytes()),
               "tensor \"t\" of type Q4_0 has 33 elements per row, not a multiple of the block size 32");
}

// Tensors follow each other in order, each padded to the alignment (gguf.cpp: "has offset ..., expected
// ...").
TEST(gguf_rules, offsets_in_order_and_aligned) {
    gguf_file gap;
    gap.tensor_raw("a", {8}, 0, 0).tensor_raw("b", {8}, 0, 64).extra_data(96);
    EXPECT_HAS(
        refusal(gap.bytes()),
        "tensor \"b\" has offset 64, expected 32 (tensors follow each other in order, each padded to the "
        "alignment of 32)");
    gguf_file unaligned;
    unaligned.tensor_raw("a", {8}, 0, 4).extra_data(64);
    EXPECT_HAS(refusal(unaligned.bytes()), "tensor \"a\" has offset 4, expected 0");
}

TEST(gguf_rules, tensor_data_within_the_file) {
    gguf_file f;
    f.tensor("a", {8}, tf::ggml_f32).tensor("b", {1024}, tf::ggml_f32);
    std::string file = f.bytes();
    const uint64_t header = f.header().size();
    ASSERT_EQ(header, 96u); // 24 + 2 x (8 + 1 + 4 + 8 + 4 + 8) = 90, padded to 96
    file.resize(file.size() - 100);
    // "a" takes 32 bytes, padded; "b" 4096 bytes: it ends at 96 + 32 + 4096.
    EXPECT_HAS(refusal(file), "tensor \"b\" data ends at byte 4,224, past the end of the file (4,124 bytes)");
}

} // namespace
} // namespace modelplan::test
