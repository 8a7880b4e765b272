// Hostile inputs (issue 18, docs/reliability.md): each case is an input a careless or malicious user could
// hand the program. Every one must end in a bounded, clear answer: exit status 2, nothing on stdout, one
// message that names the key, flag or file, in under 2 s of wall time and under 256 MiB of peak memory (every
// input here is under 1 MB). The program runs as a child with a hard kill at 10 s and a 4 GiB address-space
// cap, so a regression fails the test instead of the machine.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "bounded-run.h"
#include "checkpoint-writer.h"

namespace modelplan::test {
namespace {

namespace fs = std::filesystem;
using modelplan::test_files::gguf_file;

constexpr double max_seconds = 2.0;
constexpr uint64_t max_rss_bytes = 256ull << 20;

// A Llama-3.1-8B-shaped config (values from meta-llama/Llama-3.1-8B's config.json) with one key replaced
// by raw JSON text, or removed when `value` is empty.
std::string llama_config(const std::string& key = "", const std::string& value = "") {
    std::vector<std::pair<std::string, std::string>> keys = {
        {"architectures",           "[\"LlamaForCausalLM\"]"},
        {"model_type",              "\"llama\""             },
        {"hidden_size",             "4096"                  },
        {"intermediate_size",       "14336"                 },
        {"num_hidden_layers",       "32"                    },
        {"num_attention_heads",     "32"                    },
        {"num_key_value_heads",     "8"                     },
        {"vocab_size",              "128256"                },
        {"max_position_embeddings", "131072"                },
        {"rms_norm_eps",            "1e-05"                 },
        {"rope_theta",              "500000.0"              },
        {"tie_word_embeddings",     "false"                 },
        {"torch_dtype",             "\"bfloat16\""          },
    };
    std::string out = "{";
    bool found = false;
    for (auto& [k, v] : keys) {
        if (k == key) {
            found = true;
            if (value.empty()) continue;
            v = value;
        }
        out += (out.size() > 1 ? ", \"" : "\"") + k + "\": " + v;
    }
    if (!found && !key.empty()) out += ", \"" + key + "\": " + value;
    return out + "}";
}

// A Mixtral-8x7B-shaped config (mistralai/Mixtral-8x7B-v0.1's config.json) with layers and experts set.
std::string mixtral_config(const std::string& layers, const std::string& experts) {
    return "{\"architectures\": [\"MixtralForCausalLM\"], \"model_type\": \"mixtral\", \"hidden_size\": "
           "4096, "
           "\"intermediate_size\": 14336, \"num_hidden_layers\": " +
           layers +
           ", \"num_attention_heads\": 32, \"num_key_value_heads\": 8, \"num_local_experts\": " + experts +
           ", \"num_experts_per_tok\": 2, \"vocab_size\": 32000, \"max_position_embeddings\": 32768, "
           "\"rms_norm_eps\": 1e-05, \"rope_theta\": 1000000.0, \"tie_word_embeddings\": false, "
           "\"torch_dtype\": \"bfloat16\"}";
}

class hostile : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("modelplan-hostile-" + std::to_string(::getpid()) + "-" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::string write(const std::string& name, const std::string& bytes) {
        fs::path p = dir_ / name;
        std::ofstream(p, std::ios::binary) << bytes;
        return p.string();
    }
    std::string path(const std::string& name) const { return (dir_ / name).string(); }

    bounded_result run(std::vector<std::string> args, const bounds& b = {}) {
        args.insert(args.begin(), MODELPLAN_BIN);
        return run_bounded(args, b);
    }

    // The contract for bad input: exit 2 (not a signal, not a hang), nothing on stdout, one message naming
    // every part of `names`, within the time and memory bounds.
    void expect_refused(const bounded_result& r, const std::vector<std::string>& names) {
        EXPECT_FALSE(r.timed_out) << "killed after " << r.seconds << " s";
        EXPECT_EQ(r.signal, 0) << "ended by signal " << r.signal << "; stderr: " << r.err.substr(0, 500);
        EXPECT_EQ(r.status, 2) << r.err.substr(0, 500);
        EXPECT_EQ(r.out, "") << "nothing on stdout for bad input";
        EXPECT_EQ(r.err.rfind("modelplan: error: ", 0), 0u) << r.err.substr(0, 500);
        for (const auto& n : names)
            EXPECT_NE(r.err.find(n), std::string::npos) << n << " in: " << r.err.substr(0, 500);
        EXPECT_LT(r.err.size(), 4096u) << "a message of " << r.err.size() << " bytes";
        EXPECT_LT(r.seconds, max_seconds);
        EXPECT_LT(r.peak_rss_bytes, max_rss_bytes) << r.peak_rss_bytes / (1 << 20) << " MiB";
    }

    fs::path dir_;
};

// ---- memory bombs from tiny files
// --------------------------------------------------------------------------

TEST_F(hostile, many_experts_times_many_layers_is_refused_by_tensor_count) {
    // 65,536 experts x 100 layers x 3 matrices: 19.7 million tensors from a 500-byte file.
    auto r = run({"params", write("config.json", mixtral_config("100", "65536"))});
    expect_refused(r, {"262,144 tensors", "65,536 experts"});
    r = run({"skeleton", write("config.json", mixtral_config("10000", "65536")), "--summary"});
    expect_refused(r, {"tensors", "num_hidden_layers"});
    r = run({"plan", path("config.json")});
    expect_refused(r, {"tensors"});
}

TEST_F(hostile, gguf_expert_count_bomb_is_refused) {
    // A GGUF file of a few hundred bytes whose metadata claims 65,536 experts in 100 blocks.
    gguf_file g;
    g.kv_str("general.architecture", "llama")
        .kv_i32("llama.block_count", 100)
        .kv_i32("llama.embedding_length", 4096)
        .kv_i32("llama.feed_forward_length", 14336)
        .kv_i32("llama.attention.head_count", 32)
        .kv_i32("llama.attention.head_count_kv", 8)
        .kv_i32("llama.context_length", 4096)
        .kv_i32("llama.vocab_size", 32000)
        .kv_i32("llama.expert_count", 65536)
        .kv_i32("llama.expert_used_count", 2)
        .tensor("token_embd.weight", {32, 32}, test_files::ggml_f16);
    std::string bytes = g.bytes();
    ASSERT_LT(bytes.size(), 4096u);
    // The headers themselves are valid: inspect lists them and says the model cannot be built, within bounds.
    auto r = run({"inspect", write("bomb.gguf", bytes)});
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.signal, 0);
    EXPECT_NE(r.out.find("262,144 tensors"), std::string::npos) << r.out;
    EXPECT_LT(r.seconds, max_seconds);
    EXPECT_LT(r.peak_rss_bytes, max_rss_bytes) << r.peak_rss_bytes / (1 << 20) << " MiB";
}

TEST_F(hostile, gguf_array_of_empty_strings_is_bounded) {
    // 120,000 empty strings (8 bytes each) in one metadata array: under 1 MB.
    std::vector<std::string> empties(120000);
    gguf_file g;
    g.kv_str("general.architecture", "llama").kv_str_array("tokenizer.ggml.tokens", empties);
    auto r = run({"inspect", write("strings.gguf", g.bytes())});
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.signal, 0);
    EXPECT_LT(r.seconds, max_seconds);
    EXPECT_LT(r.peak_rss_bytes, max_rss_bytes);
}

TEST_F(hostile, safetensors_header_of_many_tiny_tensors_is_bounded) {
    // 15,000 one-element tensors in a header under 1 MB: a valid file, read in bounded time and memory.
    test_files::safetensors_file f;
    for (int i = 0; i < 15000; ++i) f.add("t" + std::to_string(i), "U8", {1});
    std::string bytes = f.bytes();
    ASSERT_LT(bytes.size(), 1u << 20);
    auto r = run({"inspect", write("many.safetensors", bytes), "--json"});
    EXPECT_EQ(r.signal, 0);
    EXPECT_FALSE(r.timed_out);
    EXPECT_LT(r.seconds, max_seconds);
    EXPECT_LT(r.peak_rss_bytes, max_rss_bytes);
}

// Headers above 1 MB that list more than the readers build (docs/reliability.md, max_tensors): refused from a
// scan of the header, before any per-tensor structure exists, within the same time and memory bounds.
TEST_F(hostile, safetensors_header_of_too_many_entries_is_refused_before_parsing) {
    // 300,000 entries of 6 bytes: a 1.8 MB header (the format allows 100,000,000 bytes).
    std::string header = "{";
    for (int i = 0; i < 300000; ++i) header += i ? ",\"a\":0" : "\"a\":0";
    header += "}";
    auto r = run({"inspect", write("entries.safetensors", test_files::le64(header.size()) + header)});
    expect_refused(r, {"entries.safetensors", "300,000 entries", "262,144 tensors"});
    // One 17 MiB name: past the 16 MiB of names one file may hold.
    std::string name(17u << 20, 'n');
    header = "{\"" + name + "\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}";
    r = run({"inspect", write("names.safetensors", test_files::le64(header.size()) + header)});
    expect_refused(r, {"names.safetensors", "17,825,792 bytes", "16,777,216"});
}

TEST_F(hostile, gguf_header_of_too_many_tensors_or_keys_is_refused_before_reading_them) {
    // "GGUF", version 3, then the tensor and key counts; zero bytes after them stand for the infos, enough
    // for the file-size check (24 bytes per tensor info, 14 per key at the least) to pass.
    auto header = [](uint64_t tensors, uint64_t keys) {
        return std::string("GGUF") + test_files::le32(3) + test_files::le64(tensors) + test_files::le64(keys);
    };
    auto r = run({"inspect", write("tensors.gguf", header(300000, 0) + std::string(300000 * 24, '\0'))});
    expect_refused(r, {"tensors.gguf", "300,000 tensors", "262,144"});
    r = run({"inspect", write("keys.gguf", header(0, 70000) + std::string(70000 * 14, '\0'))});
    expect_refused(r, {"keys.gguf", "70,000 metadata keys", "65,536"});
}

// ---- special files
// -----------------------------------------------------------------------------------------

TEST_F(hostile, fifo_named_as_a_checkpoint_is_refused_without_blocking) {
    ASSERT_EQ(::mkfifo(path("model.safetensors").c_str(), 0600), 0);
    auto r = run({"inspect", path("model.safetensors")});
    expect_refused(r, {"model.safetensors", "not a regular file"});
    ASSERT_EQ(::mkfifo(path("model.gguf").c_str(), 0600), 0);
    r = run({"inspect", path("model.gguf")});
    expect_refused(r, {"model.gguf", "not a regular file"});
}

TEST_F(hostile, fifo_or_device_as_a_config_is_refused) {
    ASSERT_EQ(::mkfifo(path("config.json").c_str(), 0600), 0);
    auto r = run({"params", path("config.json")});
    expect_refused(r, {"config.json", "not a regular file"});
    r = run({"params", "/dev/zero"});
    expect_refused(r, {"/dev/zero", "not a regular file"});
    test_files::safetensors_file valid;
    valid.add("w", "F32", {2});
    r = run({"inspect", write("x.safetensors", valid.bytes()), "--config", "/dev/zero"});
    expect_refused(r, {"/dev/zero", "not a regular file"});
}

TEST_F(hostile, device_list_from_a_fifo_or_device_is_refused) {
    auto r = run({"place", "--devices", "/dev/zero"});
    expect_refused(r, {"/dev/zero"});
    ASSERT_EQ(::mkfifo(path("devices.txt").c_str(), 0600), 0);
    r = run({"place", "--devices", path("devices.txt")});
    expect_refused(r, {"devices.txt"});
}

TEST_F(hostile, symlink_loop_is_named_as_such) {
    fs::create_symlink(path("b.json"), path("a.json"));
    fs::create_symlink(path("a.json"), path("b.json"));
    auto r = run({"params", path("a.json")});
    expect_refused(r, {"a.json", "symbolic links"});
}

// ---- saturated arithmetic is an error, never a result
// --------------------------------------------------------

TEST_F(hostile, huge_batch_or_sequence_is_an_error_naming_the_flag) {
    auto r = run({"plan", "--batch", "9223372036854775808"}); // 2^63
    expect_refused(r, {"--batch"});
    r = run({"plan", "--seq", "4611686018427387904"}); // 2^62
    expect_refused(r, {"--seq"});
    r = run({"fit", "--gpu", "h100-80gb", "--batch", "9223372036854775808"});
    expect_refused(r, {"--batch"});
    r = run({"place", "--gpu", "h100-80gb", "--seq", "4611686018427387904"});
    expect_refused(r, {"--seq"});
}

TEST_F(hostile, a_tensor_past_signed_64_bit_bytes_is_refused_by_the_core) {
    // vocab_size 2^56 x hidden_size 64 = 2^62 elements: fits 64 unsigned bits, but not LibTorch's signed byte
    // count (issue 18: `instantiate` aborted with "Storage size calculation overflowed").
    std::string config = llama_config("vocab_size", "72057594037927936");
    const std::string hidden = "\"hidden_size\": 4096";
    config.replace(config.find(hidden), hidden.size(), "\"hidden_size\": 64");
    auto r = run({"params", write("config.json", config)});
    expect_refused(r, {"vocab_size (72,057,594,037,927,936)", "2^60"});
    r = run({"skeleton", path("config.json"), "--summary"});
    expect_refused(r, {"vocab_size", "2^60"});
}

TEST_F(hostile, huge_intermediate_size_is_refused) {
    // 2^53 + 1: not exact as a double, and its products overflow.
    auto r = run({"plan", write("config.json", llama_config("intermediate_size", "9007199254740993"))});
    expect_refused(r, {"intermediate_size"});
}

// ---- accepted nonsense
// ---------------------------------------------------------------------------------------

TEST_F(hostile, empty_or_absurd_workload_values_are_refused) {
    auto r = run({"plan", "--quant="});
    expect_refused(r, {"--quant"});
    r = run({"plan", "--mode", "training", "--method", "lora", "--lora-targets", "bogus_role"});
    expect_refused(r, {"bogus_role"});
    r = run({"plan", "--mode", "training", "--method", "lora", "--lora-rank", "1099511627776"}); // 2^40
    expect_refused(r, {"--lora-rank", "1099511627776"});
}

// ---- output and exit codes
// -----------------------------------------------------------------------------------

TEST_F(hostile, a_failed_write_is_an_error) {
    bounds b;
    b.stdout_path = "/dev/full";
    auto r = run({"params", "--json"}, b);
    EXPECT_NE(r.status, 0) << "output lost on a full device must not exit 0";
    EXPECT_NE(r.err.find("write"), std::string::npos) << r.err;
}

// ---- messages that mislead
// -----------------------------------------------------------------------------------

TEST_F(hostile, a_float_where_an_integer_belongs_is_quoted_as_written) {
    auto r = run({"params", write("config.json", llama_config("hidden_size", "64.0"))});
    expect_refused(r, {"hidden_size", "64.0"});
}

TEST_F(hostile, an_embedded_nul_does_not_cut_the_message) {
    auto r = run({"params", write("config.json", llama_config("model_type", "\"lla\\u0000ma\""))});
    expect_refused(r, {"model_type", "ma\""});
}

TEST_F(hostile, a_huge_value_is_cut_in_the_message) {
    auto r = run({"params",
                  write("config.json", llama_config("model_type", "\"" + std::string(1000000, 'x') + "\""))});
    expect_refused(r, {"model_type", "(1,000,000 bytes)"});
}

// Found by fuzz/fuzz-options.cpp: each of these echoed its value whole (a 100 KB argument, a 100 KB message).
TEST_F(hostile, a_huge_argument_is_cut_in_the_message) {
    const std::string big(100000, 'x');
    const std::string cut = "(100,000 bytes)";
    const std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> cases = {
        {{"plan", "--" + big.substr(2)},                                            {"unknown option", cut}     },
        {{"params", "llama-3.1-8b", big},                                           {"more than one MODEL", cut}},
        {{"frobnicate" + big.substr(10)},                                           {"unknown command", cut}    },
        {{"params", "--dtype", big},                                                {"--dtype", cut}            },
        {{"params", "--head", big},                                                 {"--head", cut}             },
        {{"plan", "--kv-dtype", big},                                               {"--kv-dtype", cut}         },
        {{"plan", "--attn", big},                                                   {"--attn", cut}             },
        {{"plan", "--quant", big},                                                  {"quant", cut}              },
        {{"plan", "--mode", "training", "--method", "lora", "--lora-targets", big}, {"lora", cut}               },
        {{"place", "--gpu", "h100-80gb", "--strategy", big},                        {"--strategy", cut}         },
        {{"place", "--gpu", "h100-80gb", "--pin", big},                             {"--pin", cut}              },
        {{"place", "--gpu", "h100-80gb", "--cpu", big},                             {"--cpu", cut}              },
        {{"place", "--gpu", "h100-80gb", "--tp", big},                              {"--tp", cut}               },
        {{"place", "--devices", big},                                               {"devices", cut}            },
    };
    for (const auto& [args, names] : cases) {
        SCOPED_TRACE((args[0] + " " + (args.size() > 1 ? args[1] : std::string())).substr(0, 40));
        expect_refused(run(args), names);
    }
}

// Found by the options fuzz target (2026-12-07, a crash file of 151 bytes): a value of control characters was
// cut at 64 bytes before escaping, and each escape (\u0008) takes 6, so "unknown device" quoting the name and
// its entry wrote 1,117 bytes. The cut is now on the escaped form; the message stays under the fuzz target's
// 1 KiB bound.
TEST_F(hostile, control_characters_do_not_grow_a_message) {
    const std::string backspaces(1000, '\b');
    auto r = run({"place", "llama-3.2-1b", "--devices", "cuda:" + backspaces + "0=2"});
    expect_refused(r, {"unknown device", "\\u0008", "bytes)"});
    EXPECT_LE(r.err.size(), 1024u) << r.err;
    auto dtype = run({"params", "llama-3.2-1b", "--dtype", backspaces});
    expect_refused(dtype, {"--dtype", "(1,000 bytes)"});
    EXPECT_LE(dtype.err.size(), 1024u) << dtype.err;
}

// Found by reading core/src/place/device-map.cpp while writing fuzz/fuzz-device-map.cpp: duplicate keys were
// looked for by scanning the entries (100,000 keys: 5e9 comparisons), and a long key was echoed whole. The
// CLI reads device maps only in LibTorch builds (load --device-map); the core test is
// tests/core/placement.cpp.

TEST_F(hostile, bad_data_offsets_are_quoted) {
    std::string header = R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, "8"]}})";
    std::string bytes = test_files::le64(header.size()) + header + std::string(8, '\0');
    auto r = run({"inspect", write("bad.safetensors", bytes)});
    expect_refused(r, {"data_offsets", "\"8\""});
}

TEST_F(hostile, a_one_byte_gguf_is_described_as_gguf) {
    auto r = run({"inspect", write("tiny.gguf", "G")});
    expect_refused(r, {"tiny.gguf", "GGUF"});
    EXPECT_EQ(r.err.find("safetensors"), std::string::npos) << r.err;
}

// llama.cpp's -ot takes regular expressions; libstdc++'s std::regex backtracks, so a pattern like (.*)*(.*)*y
// runs for exponential time. serve matches with its own automaton (core/src/util/regex-search.h), bounded by
// the pattern limits: the largest input they allow, on the model with the most GGUF tensor names among the
// presets, answers in bounded time; one pattern more is refused by name.
TEST_F(hostile, override_tensor_patterns_cannot_hang_serve) {
    std::string ot;
    for (int i = 0; i < 64; ++i)
        ot += std::string(i ? "," : "") + "(.*)*(.*)*(.*)*(.*)*(.*)*(.*)*(.*)*(.*)*y" + std::to_string(i) +
              "=CPU";
    auto r = run(
        {"serve", "deepseek-v3", "--engine", "llama.cpp", "--gpu", "h100-80gb", "--gpus", "8", "-ot", ot});
    EXPECT_FALSE(r.timed_out) << "killed after " << r.seconds << " s";
    EXPECT_EQ(r.signal, 0);
    EXPECT_TRUE(r.status == 0 || r.status == 3) << r.err.substr(0, 500);
    EXPECT_LT(r.seconds, max_seconds);
    EXPECT_LT(r.peak_rss_bytes, max_rss_bytes) << r.peak_rss_bytes / (1 << 20) << " MiB";
    auto more =
        run({"serve", "deepseek-v3", "--engine", "llama.cpp", "--gpu", "h100-80gb", "-ot", ot + ",x=CPU"});
    expect_refused(more, {"--override-tensor", "at most 64"});
    auto deep = run({"serve", "deepseek-v3", "--engine", "llama.cpp", "--gpu", "h100-80gb", "-ot",
                     std::string(100, '(') + "x" + std::string(100, ')') + "=CPU"});
    expect_refused(deep, {"--override-tensor", "bad pattern"});
}

} // namespace
} // namespace modelplan::test
