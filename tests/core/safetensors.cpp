// safetensors headers: the format and every validation rule of the reference implementation, each with a file
// that breaks it. Byte strings marked "tensor.rs" are the test vectors of huggingface/safetensors
// safetensors/src/tensor.rs at commit 24b0b2857fef49be734b9ab72ce97c09bb25f5b9 (tests module).
#include <string>

#include <gtest/gtest.h>

#include "../support/checkpoint-writer.h"
#include "modelplan/safetensors.h"

namespace modelplan::test {
namespace {

using test_files::raw_safetensors;
using test_files::safetensors_file;

std::string bytes_of(std::initializer_list<int> values) {
    std::string s;
    for (int v : values) s += static_cast<char>(v);
    return s;
}

result<header_parse<checkpoint>> parse(const std::string& file) {
    return parse_safetensors_header(file, file.size(), "t.safetensors");
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

// The error message of a file that must be refused.
std::string refusal(const std::string& file, error_code code = error_code::bad_checkpoint) {
    auto r = parse(file);
    if (r.ok()) {
        ADD_FAILURE() << "accepted a broken file";
        return "";
    }
    EXPECT_EQ(r.err().code, code) << r.err().message;
    EXPECT_EQ(r.err().message.rfind("t.safetensors: ", 0), 0u)
        << "messages name the file: " << r.err().message;
    return r.err().message;
}

#define EXPECT_HAS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)

// tensor.rs test_serialization: the reference writer's exact bytes for one F32 tensor "attn.0" of shape [1,
// 2, 3] holding 0..5.
TEST(safetensors, reference_serialization_vector) {
    std::string file = bytes_of(
        {64,  0,   0,   0,   0,   0,  0,  0,  123, 34, 97,  116, 116, 110, 46,  48,  34,  58,  123, 34,
         100, 116, 121, 112, 101, 34, 58, 34, 70,  51, 50,  34,  44,  34,  115, 104, 97,  112, 101, 34,
         58,  91,  49,  44,  50,  44, 51, 93, 44,  34, 100, 97,  116, 97,  95,  111, 102, 102, 115, 101,
         116, 115, 34,  58,  91,  48, 44, 50, 52,  93, 125, 125, 0,   0,   0,   0,   0,   0,   128, 63,
         0,   0,   0,   64,  0,   0,  64, 64, 0,   0,  128, 64,  0,   0,   160, 64});
    checkpoint ck = parse_ok(file);
    ASSERT_EQ(ck.tensors.size(), 1u);
    const checkpoint_tensor& t = ck.tensors[0];
    EXPECT_EQ(t.name, "attn.0");
    EXPECT_EQ(t.dtype, "F32");
    EXPECT_EQ(t.shape, (std::vector<uint64_t>{1, 2, 3}));
    EXPECT_EQ(t.elements, 6u);
    // 8 length bytes + 64 header bytes, then 6 x 4 data bytes to the end of the 96-byte file.
    EXPECT_EQ(t.begin, 72u);
    EXPECT_EQ(t.end, 96u);
    EXPECT_EQ(t.bytes(), 24u);
    ASSERT_EQ(ck.files.size(), 1u);
    EXPECT_EQ(ck.files[0].size, 96u);
    EXPECT_EQ(ck.files[0].header_bytes, 72u);
}

// The page reads File.slice(0, 8), then the header; the parser says how much it needs.
TEST(safetensors, works_from_a_prefix_and_the_file_size) {
    safetensors_file f;
    f.add("a", "BF16", {4, 4}).add("b", "F32", {3});
    std::string file = f.bytes();
    const uint64_t header_end = f.header_bytes().size();
    for (size_t n = 0; n < 8; ++n) {
        auto r = parse_safetensors_header(file.substr(0, n), file.size(), "t.safetensors");
        ASSERT_TRUE(r.ok()) << r.err().message;
        EXPECT_FALSE(r->parsed);
        EXPECT_EQ(r->need_bytes, 8u);
    }
    auto r = parse_safetensors_header(file.substr(0, 8), file.size(), "t.safetensors");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->need_bytes, header_end);
    r = parse_safetensors_header(file.substr(0, header_end), file.size(), "t.safetensors");
    ASSERT_TRUE(r.ok()) << r.err().message;
    ASSERT_TRUE(r->parsed);
    EXPECT_EQ(r->parsed->tensors.size(), 2u);
    // 4 x 4 BF16 = 32 bytes from the start of the data, then 3 F32 = 12 bytes.
    EXPECT_EQ(r->parsed->tensors[0].begin, header_end);
    EXPECT_EQ(r->parsed->tensors[1].end, header_end + 32 + 12);
}

// The format's 22 dtypes with their element sizes (tensor.rs Dtype::bitsize), each parsed in a [2, 4] tensor.
TEST(safetensors, every_dtype_of_the_format) {
    const std::vector<std::pair<std::string, uint64_t>> dtypes = {
        {"BOOL",        8 },
        {"F4",          4 },
        {"F6_E2M3",     6 },
        {"F6_E3M2",     6 },
        {"U8",          8 },
        {"I8",          8 },
        {"F8_E5M2",     8 },
        {"F8_E4M3",     8 },
        {"F8_E8M0",     8 },
        {"F8_E4M3FNUZ", 8 },
        {"F8_E5M2FNUZ", 8 },
        {"I16",         16},
        {"U16",         16},
        {"F16",         16},
        {"BF16",        16},
        {"I32",         32},
        {"U32",         32},
        {"F32",         32},
        {"C64",         64},
        {"F64",         64},
        {"I64",         64},
        {"U64",         64},
    };
    EXPECT_EQ(safetensors_dtypes().size(), dtypes.size());
    safetensors_file f;
    for (const auto& [name, bits] : dtypes) f.add("t_" + name, name, {2, 4});
    checkpoint ck = parse_ok(f.bytes());
    ASSERT_EQ(ck.tensors.size(), dtypes.size());
    for (size_t i = 0; i < dtypes.size(); ++i) {
        EXPECT_EQ(ck.tensors[i].dtype, dtypes[i].first);
        EXPECT_EQ(ck.tensors[i].elements, 8u);
        EXPECT_EQ(ck.tensors[i].bytes(), 8 * dtypes[i].second / 8) << dtypes[i].first;
        EXPECT_EQ(safetensors_dtype_bits(dtypes[i].first), dtypes[i].second);
    }
    EXPECT_FALSE(safetensors_dtype_bits("F7"));
}

TEST(safetensors, metadata_scalars_and_empty_tensors) {
    safetensors_file f;
    f.metadata = {
        {"format", "pt"}
    };
    f.add("scalar", "F32", {}).add("empty", "I32", {2, 0}).add("w", "F16", {2});
    checkpoint ck = parse_ok(f.bytes());
    ASSERT_EQ(ck.metadata.size(), 1u);
    EXPECT_EQ(ck.metadata[0], (std::pair<std::string, std::string>{"format", "pt"}));
    ASSERT_EQ(ck.tensors.size(), 3u);
    EXPECT_EQ(ck.tensors[0].name, "scalar"); // shape [] is one element
    EXPECT_EQ(ck.tensors[0].elements, 1u);
    EXPECT_EQ(ck.tensors[0].bytes(), 4u);
    EXPECT_EQ(ck.tensors[1].elements, 0u);
    EXPECT_EQ(ck.tensors[1].bytes(), 0u);
}

// tensor.rs test_zero_sized_tensor: a [2, 0] I32 tensor with data_offsets [0, 0] in a file with no data.
TEST(safetensors, reference_zero_sized_tensor) {
    checkpoint ck = parse_ok(std::string("<\x00\x00\x00\x00\x00\x00\x00", 8) +
                             R"({"test":{"dtype":"I32","shape":[2,0],"data_offsets":[0, 0]}})");
    ASSERT_EQ(ck.tensors.size(), 1u);
    EXPECT_EQ(ck.tensors[0].shape, (std::vector<uint64_t>{2, 0}));
}

// tensor.rs test_whitespace_padded_header / test_whitespace_leading_padded_header.
TEST(safetensors, whitespace_around_the_header) {
    EXPECT_TRUE(
        parse_ok(std::string("\x06\x00\x00\x00\x00\x00\x00\x00{}\x0D\x20\x09\x0A", 14)).tensors.empty());
    EXPECT_TRUE(
        parse_ok(std::string("\x06\x00\x00\x00\x00\x00\x00\x00\x09\x0A{}\x0D\x20", 14)).tensors.empty());
}

// Tensors listed in any order come out in data order (Metadata: sorted by offsets).
TEST(safetensors, inventory_is_in_data_order) {
    std::string header = R"({"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]},)"
                         R"("a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})";
    checkpoint ck = parse_ok(raw_safetensors(header, 4));
    ASSERT_EQ(ck.tensors.size(), 2u);
    EXPECT_EQ(ck.tensors[0].name, "a");
    EXPECT_EQ(ck.tensors[1].name, "b");
}

// ---- one broken file per rule
// -------------------------------------------------------------------------------

// HeaderTooSmall (tensor.rs test_header_too_small uses an empty buffer).
TEST(safetensors_rules, file_shorter_than_the_length_field) {
    EXPECT_HAS(refusal(""), "the file is 0 bytes; a safetensors file starts with an 8-byte header length");
    EXPECT_HAS(refusal(std::string(5, '\0')), "the file is 5 bytes");
}

// HeaderTooLarge (tensor.rs test_header_too_large) and the 100,000,000-byte limit itself.
TEST(safetensors_rules, header_above_the_size_limit) {
    std::string file = std::string("<\x00\x00\x00\x00\xff\xff\xff", 8) +
                       R"({"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}})" +
                       std::string(16, '\0');
    EXPECT_HAS(refusal(file), "exceeds the format's limit of 100,000,000 bytes");

    // At the limit a header is accepted (the parser asks for it); one byte more is refused, before any read.
    const uint64_t size = 8 + 100'000'001ULL;
    auto at_limit = parse_safetensors_header(test_files::le64(100'000'000), size, "t.safetensors");
    ASSERT_TRUE(at_limit.ok()) << at_limit.err().message;
    EXPECT_EQ(at_limit->need_bytes, 100'000'008u);
    auto above = parse_safetensors_header(test_files::le64(100'000'001), size, "t.safetensors");
    ASSERT_FALSE(above.ok());
    EXPECT_HAS(above.err().message, "header length 100,000,001 exceeds");
}

// InvalidHeaderLength (tensor.rs test_invalid_header_length): the header must lie within the file.
TEST(safetensors_rules, header_past_the_end_of_the_file) {
    EXPECT_HAS(refusal(std::string("<\x00\x00\x00\x00\x00\x00\x00", 8)),
               "header length 60 runs past the end of the file: 68 bytes needed, the file has 8");
}

// InvalidHeader (tensor.rs test_invalid_header_non_utf8).
TEST(safetensors_rules, header_not_utf8) {
    EXPECT_HAS(refusal(std::string("\x01\x00\x00\x00\x00\x00\x00\x00\xff", 9)), "header is not valid UTF-8");
    // An overlong encoding of '/' and a lone surrogate are not UTF-8 either (RFC 3629).
    EXPECT_HAS(refusal(raw_safetensors("{\"\xC0\xAF\":1}", 0)), "not valid UTF-8");
    EXPECT_HAS(refusal(raw_safetensors("{\"\xED\xA0\x80\":1}", 0)), "not valid UTF-8");
}

// InvalidHeaderDeserialization (tensor.rs test_invalid_header_not_json), and headers that are not an object.
TEST(safetensors_rules, header_not_a_json_object) {
    EXPECT_HAS(refusal(std::string("\x01\x00\x00\x00\x00\x00\x00\x00{", 9), error_code::json_syntax),
               "header is not valid JSON: line 1, column 2");
    EXPECT_HAS(refusal(raw_safetensors("[]", 0)), "header: expected a JSON object of tensors, got an array");
}

// README "Notes": duplicate keys are disallowed.
TEST(safetensors_rules, duplicate_tensor_names) {
    std::string header = R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                         R"("a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})";
    EXPECT_HAS(refusal(raw_safetensors(header, 2)), "tensor \"a\" appears twice in the header");
}

// README "Format": __metadata__ is a string-to-string map.
TEST(safetensors_rules, metadata_values_are_strings) {
    EXPECT_HAS(refusal(raw_safetensors(R"({"__metadata__":{"format":1}})", 0)),
               "__metadata__.format: expected a string, got 1");
    EXPECT_HAS(refusal(raw_safetensors(R"({"__metadata__":[1]})", 0)),
               "__metadata__: expected an object of strings, got an array");
}

// TensorInfo fields: dtype (a known name), shape (non-negative integers), data_offsets (two of them).
TEST(safetensors_rules, tensor_info_fields) {
    EXPECT_HAS(refusal(raw_safetensors(R"({"a":5})", 0)),
               "tensor \"a\": expected an object with dtype, shape and data_offsets, got 5");
    EXPECT_HAS(refusal(raw_safetensors(R"({"a":{"shape":[1],"data_offsets":[0,1]}})", 1)),
               "tensor \"a\": missing dtype");
    EXPECT_HAS(refusal(raw_safetensors(R"({"a":{"dtype":"F7","shape":[1],"data_offsets":[0,1]}})", 1)),
               "tensor \"a\": unknown dtype \"F7\"; the format has BOOL, F4, F6_E2M3");
    EXPECT_HAS(refusal(raw_safetensors(R"({"a":{"dtype":"U8","data_offsets":[0,1]}})", 1)),
               "tensor \"a\": missing shape");
    EXPECT_HAS(refusal(raw_safetensors(R"({"a":{"dtype":"U8","shape":[1,-1],"data_offsets":[0,1]}})", 1)),
               "tensor \"a\": shape[1]: expected a non-negative integer, got -1");
    EXPECT_HAS(refusal(raw_safetensors(R"({"a":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}})", 1)),
               "shape[0]: expected a non-negative integer, got 1.5");
    EXPECT_HAS(refusal(raw_safetensors(R"({"a":{"dtype":"U8","shape":[1]}})", 1)),
               "tensor \"a\": missing data_offsets");
    EXPECT_HAS(refusal(raw_safetensors(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0]}})", 1)),
               "tensor \"a\": data_offsets: expected [begin, end] (two non-negative integers), got an array");
}

// InvalidOffset: tensors cover the data contiguously from 0 (tensor.rs Metadata::validate).
TEST(safetensors_rules, offsets_contiguous_from_zero) {
    // Not starting at 0.
    EXPECT_HAS(refusal(raw_safetensors(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}})", 6)),
               "tensor \"a\": data_offsets [4, 6] should begin at 0 (the start of the data)");
    // A gap between two tensors.
    std::string gap = R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                      R"("b":{"dtype":"U8","shape":[2],"data_offsets":[3,5]}})";
    EXPECT_HAS(
        refusal(raw_safetensors(gap, 5)),
        "tensor \"b\": data_offsets [3, 5] should begin at 2, where the previous tensor ends; tensors must "
        "cover the data contiguously from 0, with no gaps or overlaps");
    // Two tensors sharing bytes.
    std::string overlap = R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                          R"("b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}})";
    EXPECT_HAS(refusal(raw_safetensors(overlap, 6)), "tensor \"b\": data_offsets [2, 6] should begin at 4");
    // End before begin.
    std::string backwards = R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                            R"("b":{"dtype":"U8","shape":[0],"data_offsets":[2,1]}})";
    EXPECT_HAS(refusal(raw_safetensors(backwards, 2)),
               "tensor \"b\": data_offsets [2, 1] end before they begin");
}

// TensorInvalidInfo (tensor.rs test_invalid_info): bytes = elements x dtype size.
TEST(safetensors_rules, byte_length_equals_elements_times_dtype_size) {
    EXPECT_HAS(refusal(std::string("<\x00\x00\x00\x00\x00\x00\x00", 8) +
                       R"({"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0, 4]}})"),
               "tensor \"test\": shape [2, 2] of I32 needs 16 bytes, but data_offsets [0, 4] hold 4");
}

// ValidationOverflow (tensor.rs test_validation_overflow): the element count, then the size in bits.
TEST(safetensors_rules, overflow_checks) {
    std::string shape_overflow =
        std::string("O\x00\x00\x00\x00\x00\x00\x00", 8) +
        R"({"test":{"dtype":"I32","shape":[2,18446744073709551614],"data_offsets":[0,16]}})" +
        std::string(16, '\0');
    EXPECT_HAS(refusal(shape_overflow, error_code::overflow),
               "tensor \"test\": element count of shape [2, 18446744073709551614] overflows 64 bits");
    std::string bits_overflow =
        std::string("N\x00\x00\x00\x00\x00\x00\x00", 8) +
        R"({"test":{"dtype":"I32","shape":[2,9223372036854775807],"data_offsets":[0,16]}})" +
        std::string(16, '\0');
    EXPECT_HAS(refusal(bits_overflow, error_code::overflow),
               "size in bits of 18,446,744,073,709,551,614 I32 elements overflows 64 bits");
}

// MisalignedSlice: sub-byte dtypes must fill whole bytes (3 F4 values are 12 bits).
TEST(safetensors_rules, sub_byte_tensors_fill_whole_bytes) {
    EXPECT_HAS(refusal(raw_safetensors(R"({"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}})", 2)),
               "tensor \"a\": 3 F4 elements take 12 bits, not a whole number of bytes");
    // 4 F6 values are 24 bits: 3 bytes.
    checkpoint ck =
        parse_ok(raw_safetensors(R"({"a":{"dtype":"F6_E3M2","shape":[4],"data_offsets":[0,3]}})", 3));
    EXPECT_EQ(ck.tensors[0].bytes(), 3u);
}

// MetadataIncompleteBuffer (tensor.rs test_metadata_incomplete_buffer): bytes after the data (a polyglot
// file), or missing data.
TEST(safetensors_rules, data_ends_exactly_at_the_end_of_the_file) {
    std::string header = std::string("<\x00\x00\x00\x00\x00\x00\x00", 8) +
                         R"({"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}})";
    EXPECT_HAS(
        refusal(header + std::string(16, '\0') + "extra_bogus_data_for_polyglot_file"),
        "the tensors' data ends at byte 84 (8 + 60 header bytes + 16 data bytes), but the file is 118 bytes");
    EXPECT_HAS(refusal(header + std::string(14, '\0')),
               "but the file is 82 bytes; the data must end exactly at the end of the file");
}

} // namespace
} // namespace modelplan::test
