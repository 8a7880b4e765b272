// Distributed loading (native/torch/distributed.h): ranks of a tensor-parallel group over c10d on 127.0.0.1
// (Gloo), each reading only its slice. Expected slices are cut here from the full tensors with LibTorch's own
// narrow/chunk, by the splitting rules vLLM documents for its parallel layers (vllm/model_executor/layers/
// linear.py: ColumnParallelLinear splits the output dimension, RowParallelLinear the input dimension,
// QKVParallelLinear gives each rank its query heads and kv_heads/T key/value heads, or, with fewer KV heads
// than ranks, one KV head replicated on T/kv ranks; vocab_parallel_embedding.py: the vocabulary splits by
// rows), not from the core's rank_slices. In-process ranks (threads) compare bytes; the CLI's ranks
// (processes,
// `--nproc`) compare zlib CRC-32s; the failure cases end within their timeouts.
#include <gtest/gtest.h>

#include <ATen/ops/from_blob.h>
#include <zlib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <thread>

#include "checkpoint-writer.h"
#include "modelplan/libtorch/distributed.h"
#include "modelplan/report.h"
#include "temp-dir.h"

namespace mp = modelplan;
namespace lt = modelplan::libtorch;
namespace fs = std::filesystem;

namespace {

// Llama with 8 query heads of 16 and 2 key/value heads: T = 2 divides the KV heads, T = 4 replicates each
// on two ranks.
const char* const llama_config = R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama",
    "hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 2, "num_attention_heads": 8,
    "num_key_value_heads": 2, "vocab_size": 512, "max_position_embeddings": 256, "rms_norm_eps": 1e-5,
    "tie_word_embeddings": false, "torch_dtype": "bfloat16"})";

// Mixtral with 4 experts (block_sparse_moe.experts.N.w1/w2/w3, the router replicated).
const char* const mixtral_config = R"({"architectures": ["MixtralForCausalLM"], "model_type": "mixtral",
    "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
    "num_key_value_heads": 4, "num_local_experts": 4, "num_experts_per_tok": 2, "vocab_size": 256,
    "max_position_embeddings": 256, "rms_norm_eps": 1e-5, "tie_word_embeddings": false,
    "torch_dtype": "bfloat16"})";

// One test's folder, removed at the end.
struct temp_dir : mp::test_files::temp_dir {
    temp_dir() : mp::test_files::temp_dir("modelplan-dist-test") {}
};

struct full_tensor {
    std::string name;
    std::vector<int64_t> shape;
    std::string bytes;          // as written
    std::string dtype = "BF16"; // as written
    std::string logical;        // a quantized group's member: the group's weight ("...q_proj.weight")
    int64_t out = 0, in = 0;    // that weight's logical shape [out, in]
};

size_t dtype_size(const std::string& dtype) {
    return dtype == "I64"                      ? 8
           : dtype == "I32" || dtype == "F32"  ? 4
           : dtype == "BF16" || dtype == "F16" ? 2
                                               : 1;
}

full_tensor random_tensor(std::mt19937_64& rng, const std::string& name, const std::string& dtype,
                          std::vector<int64_t> shape) {
    full_tensor f{name, std::move(shape), {}, dtype, {}, 0, 0};
    int64_t n = 1;
    for (int64_t d : f.shape) n *= d;
    f.bytes.resize(static_cast<size_t>(n) * dtype_size(dtype));
    for (auto& c : f.bytes) c = static_cast<char>(rng());
    return f;
}

void write_files(const fs::path& dir, const std::string& config, const std::vector<full_tensor>& all,
                 size_t shards);

// The model's tensors with random BF16 bits, in `shards` files with an index, and its config.json.
std::vector<full_tensor> write_model(const fs::path& dir, const std::string& config, size_t shards) {
    auto a = mp::analyze("test", config, mp::config_options{});
    EXPECT_TRUE(a.ok()) << (a.ok() ? "" : a.err().message);
    std::vector<full_tensor> all;
    std::mt19937_64 rng(42);
    for (const auto& t : a->sk.tensors)
        all.push_back(
            random_tensor(rng, t.name, "BF16", std::vector<int64_t>(t.shape.begin(), t.shape.end())));
    write_files(dir, config, all, shards);
    return all;
}

// The same model quantized as the quantizers store it (tests/core/quantized.cpp names the layouts and their
// sources), every linear weight of the layers replaced by random members, in the order the loader lists a
// group's members: "gptq" and "gptq-act" (AutoGPTQ 4-bit, group 32: qweight I32 [in / 8, out], qzeros I32
// [in / 32, out / 8], scales F16 [in / 32, out], g_idx I32 [in]; "-act" sets desc_act), "awq" (AutoAWQ 4-bit,
// group 32: qweight I32 [in, out / 8], qzeros, scales), "fp8" (weight F8_E4M3 [out, in] with
// weight_scale_inv F32 [out / 16, in / 16] and weight_block_size [16, 16]), "ct" (compressed-tensors
// pack-quantized 4-bit, group 32: weight_packed I32 [out, in / 8], weight_scale BF16 [out, in / 32],
// weight_zero_point I32 [out / 8, in / 32], weight_shape I64 [2]).
std::vector<full_tensor> write_quantized_model(const fs::path& dir, const std::string& config,
                                               const std::string& scheme, size_t shards) {
    auto a = mp::analyze("test", config, mp::config_options{});
    EXPECT_TRUE(a.ok()) << (a.ok() ? "" : a.err().message);
    std::vector<full_tensor> all;
    std::mt19937_64 rng(43);
    for (const auto& t : a->sk.tensors) {
        std::vector<int64_t> shape(t.shape.begin(), t.shape.end());
        if (t.layer == mp::no_index || shape.size() != 2 ||
            t.name.find("_proj.weight") == std::string::npos) {
            all.push_back(random_tensor(rng, t.name, "BF16", shape));
            continue;
        }
        const std::string base = t.name.substr(0, t.name.size() - std::string(".weight").size());
        const int64_t out = shape[0], in = shape[1];
        std::vector<full_tensor> members;
        if (scheme == "gptq" || scheme == "gptq-act") {
            members.push_back(random_tensor(rng, base + ".qweight", "I32", {in / 8, out}));
            members.push_back(random_tensor(rng, base + ".qzeros", "I32", {in / 32, out / 8}));
            members.push_back(random_tensor(rng, base + ".scales", "F16", {in / 32, out}));
            members.push_back(random_tensor(rng, base + ".g_idx", "I32", {in}));
        } else if (scheme == "awq") {
            members.push_back(random_tensor(rng, base + ".qweight", "I32", {in, out / 8}));
            members.push_back(random_tensor(rng, base + ".qzeros", "I32", {in / 32, out / 8}));
            members.push_back(random_tensor(rng, base + ".scales", "F16", {in / 32, out}));
        } else if (scheme == "ct") {
            members.push_back(random_tensor(rng, base + ".weight_packed", "I32", {out, in / 8}));
            members.push_back(random_tensor(rng, base + ".weight_scale", "BF16", {out, in / 32}));
            members.push_back(random_tensor(rng, base + ".weight_zero_point", "I32", {out / 8, in / 32}));
            members.push_back(random_tensor(rng, base + ".weight_shape", "I64", {2}));
        } else {
            members.push_back(random_tensor(rng, t.name, "F8_E4M3", {out, in}));
            members.push_back(random_tensor(rng, base + ".weight_scale_inv", "F32", {out / 16, in / 16}));
        }
        for (auto& m : members) {
            m.logical = t.name;
            m.out = out;
            m.in = in;
            all.push_back(std::move(m));
        }
    }
    write_files(dir, config, all, shards);
    return all;
}

// `config` with its quantization_config for `scheme` (as the quantizers write it into config.json).
std::string quantized_config(const std::string& config, const std::string& scheme) {
    // compressed-tensors: llm-compressor's W4A16 config, asymmetric, group 32.
    const char* ct = R"({"quant_method": "compressed-tensors", "format": "pack-quantized", "config_groups":
        {"group_0": {"targets": ["Linear"], "weights": {"num_bits": 4, "type": "int", "symmetric": false,
        "strategy": "group", "group_size": 32}}}})";
    std::string q = scheme == "ct"    ? ct
                    : scheme == "fp8" ? R"({"quant_method": "fp8", "weight_block_size": [16, 16]})"
                    : scheme == "awq"
                        ? R"({"quant_method": "awq", "bits": 4, "group_size": 32})"
                        : std::string(R"({"quant_method": "gptq", "bits": 4, "group_size": 32, )") +
                              "\"desc_act\": " + (scheme == "gptq-act" ? "true" : "false") + "}";
    return config.substr(0, config.rfind('}')) + ", \"quantization_config\": " + q + "}";
}

void write_files(const fs::path& dir, const std::string& config, const std::vector<full_tensor>& all,
                 size_t shards) {
    std::string weight_map;
    size_t per = (all.size() + shards - 1) / shards;
    for (size_t s = 0; s < shards; ++s) {
        mp::test_files::safetensors_file file;
        std::string data;
        std::string name =
            "model-0000" + std::to_string(s + 1) + "-of-0000" + std::to_string(shards) + ".safetensors";
        for (size_t i = s * per; i < std::min(all.size(), (s + 1) * per); ++i) {
            std::vector<uint64_t> shape(all[i].shape.begin(), all[i].shape.end());
            file.add(all[i].name, all[i].dtype, shape);
            data += all[i].bytes;
            weight_map += (weight_map.empty() ? "" : ",") + ("\"" + all[i].name + "\":\"" + name + "\"");
        }
        std::ofstream(dir / name, std::ios::binary) << file.header_bytes() << data;
    }
    std::ofstream(dir / "model.safetensors.index.json")
        << "{\"metadata\":{},\"weight_map\":{" << weight_map << "}}";
    std::ofstream(dir / "config.json") << config;
}

at::ScalarType scalar_type(const std::string& dtype) {
    return dtype == "BF16"  ? at::kBFloat16
           : dtype == "F16" ? at::kHalf
           : dtype == "F32" ? at::kFloat
           : dtype == "I32" ? at::kInt
           : dtype == "I64" ? at::kLong
                            : at::kByte;
}

// A quantized group's member for rank `r` of `t`, by vLLM's rules for its parameters
// (vllm/model_executor/layers/quantization/gptq.py, awq.py, fp8.py): the logical weight's part along the
// output (column parallel) or the input (row parallel), then each member cut where it holds that dimension,
// packed dimensions in words of 8, scales and zero points in groups of 32 (act order: every group on a
// row-parallel rank), fp8 block scales in blocks of 16; g_idx follows the input.
at::Tensor expected_member(const full_tensor& f, at::Tensor full, int64_t r, int64_t t, int64_t kv_heads,
                           bool act_order) {
    auto has = [&](const std::string& n, const char* s) { return n.find(s) != std::string::npos; };
    const bool row = has(f.logical, "o_proj") || has(f.logical, "down_proj");
    int64_t start = 0, length = 0;
    if (row) {
        length = f.in / t, start = r * length;
    } else if ((has(f.logical, "k_proj") || has(f.logical, "v_proj")) && kv_heads < t) {
        length = f.out / kv_heads, start = (r / (t / kv_heads)) * length;
    } else {
        length = f.out / t, start = r * length;
    }
    auto cut = [&](int64_t dim, int64_t per) {
        return full.narrow(dim, start / per, length / per).contiguous();
    };
    const std::string n = f.name;
    if (has(n, ".g_idx")) return row ? cut(0, 1) : full.contiguous();
    if (has(n, ".qweight")) {
        const bool awq = f.shape[0] == f.in;
        if (row) return awq ? cut(0, 1) : cut(0, 8);
        return awq ? cut(1, 8) : cut(1, 1);
    }
    if (has(n, ".qzeros")) return row ? (act_order ? full.contiguous() : cut(0, 32)) : cut(1, 8);
    if (has(n, ".scales")) return row ? (act_order ? full.contiguous() : cut(0, 32)) : cut(1, 1);
    if (has(n, ".weight_scale_inv")) return row ? cut(1, 16) : cut(0, 16);
    // compressed-tensors (CompressedTensorsWNA16): weight_packed packed along the input, weight_scale [out,
    // groups], weight_zero_point packed along the output, weight_shape replicated.
    if (has(n, ".weight_packed")) return row ? cut(1, 8) : cut(0, 1);
    if (has(n, ".weight_zero_point")) return row ? cut(1, 32) : cut(0, 8);
    if (has(n, ".weight_scale")) return row ? cut(1, 32) : cut(0, 1);
    if (has(n, ".weight_shape")) return full.contiguous();
    return row ? cut(1, 1) : cut(0, 1); // the fp8 weight
}

// The slice rank `r` of `t` holds, cut with LibTorch from the full tensor by vLLM's rules (see the top).
at::Tensor expected_slice(const full_tensor& f, int64_t r, int64_t t, int64_t heads, int64_t kv_heads,
                          bool act_order = false) {
    at::Tensor full = at::from_blob(const_cast<char*>(f.bytes.data()), f.shape, scalar_type(f.dtype));
    if (!f.logical.empty())
        return t == 1 ? full.contiguous() : expected_member(f, full, r, t, kv_heads, act_order);
    auto has = [&](const char* s) { return f.name.find(s) != std::string::npos; };
    if (t == 1 || f.shape.size() == 1 || has("gate.weight")) return full.contiguous(); // norms, the router
    if (has("k_proj") || has("v_proj")) {
        int64_t head_dim = f.shape[0] / kv_heads;
        if (kv_heads >= t) return full.chunk(t, 0)[r].contiguous();
        int64_t head = r / (t / kv_heads);
        return full.narrow(0, head * head_dim, head_dim).contiguous();
    }
    (void)heads;
    if (has("o_proj") || has("down_proj") || has(".w2.")) return full.chunk(t, 1)[r].contiguous();
    // q_proj, gate_proj, up_proj, w1, w3 (column parallel) and the vocabulary (embed_tokens, lm_head): rows.
    return full.chunk(t, 0)[r].contiguous();
}

uint32_t crc_of(const at::Tensor& t) {
    return static_cast<uint32_t>(
        crc32(crc32(0L, Z_NULL, 0), static_cast<const Bytef*>(t.data_ptr()), static_cast<uInt>(t.nbytes())));
}

int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

// T ranks as threads of this process, each with its own store client and loader.
std::vector<mp::result<lt::rank_model>> load_in_threads(const fs::path& dir, int t, bool read_once,
                                                        uint64_t min_run = 0) {
    int port = free_port();
    std::vector<std::optional<mp::result<lt::rank_model>>> out(static_cast<size_t>(t));
    std::vector<std::thread> ranks;
    for (int r = 0; r < t; ++r)
        ranks.emplace_back([&, r]() {
            lt::group_member me;
            me.rank = me.local_rank = r;
            me.world_size = t;
            me.master_port = static_cast<uint16_t>(port);
            lt::distributed_options o;
            o.tp = static_cast<uint64_t>(t);
            o.read_once = read_once;
            o.checksums = true;
            o.timeout = std::chrono::seconds(30);
            o.load.device = "cpu";
            o.load.threads = 2;
            o.load.min_run_bytes = min_run;
            out[static_cast<size_t>(r)] = lt::load_rank(dir.string(), std::nullopt, {}, me, o);
        });
    for (auto& th : ranks) th.join();
    std::vector<mp::result<lt::rank_model>> results;
    for (auto& o : out) results.push_back(std::move(*o));
    return results;
}

// Each rank's tensors equal the expected slices byte for byte, their CRC-32s agree, and the bytes read are
// the slices' (read_once: the split slices plus the whole tensors this rank was given to read).
void check_ranks(const std::vector<full_tensor>& full, std::vector<mp::result<lt::rank_model>>& ranks,
                 int64_t heads, int64_t kv, bool read_once, bool act_order = false) {
    const int64_t t = static_cast<int64_t>(ranks.size());
    uint64_t whole_read_total = 0, whole_bytes = 0;
    for (int64_t r = 0; r < t; ++r) {
        ASSERT_TRUE(ranks[r].ok()) << ranks[r].err().message;
        auto& rank = *ranks[r];
        ASSERT_EQ(rank.model.params.size(), full.size());
        uint64_t split_bytes = 0;
        whole_bytes = 0;
        for (size_t i = 0; i < full.size(); ++i) {
            at::Tensor want = expected_slice(full[i], r, t, heads, kv, act_order);
            const at::Tensor& got = rank.model.slot(i);
            ASSERT_FALSE(got.is_meta()) << full[i].name;
            ASSERT_EQ(got.sizes().vec(), want.sizes().vec()) << full[i].name << " on rank " << r;
            EXPECT_EQ(std::memcmp(got.data_ptr(), want.data_ptr(), want.nbytes()), 0)
                << full[i].name << " differs on rank " << r;
            ASSERT_EQ(rank.report.tensors.size(), full.size());
            EXPECT_EQ(rank.report.tensors[i].crc32, crc_of(want)) << full[i].name;
            // LibTorch 1.13 has no float8 type: F8 tensors are held (and recorded) as U8.
            const std::string& dtype = rank.report.tensors[i].dtype;
            EXPECT_TRUE(dtype == full[i].dtype || (full[i].dtype.rfind("F8_", 0) == 0 && dtype == "U8"))
                << full[i].name << ": " << dtype;
            if (want.nbytes() == full[i].bytes.size() && t > 1)
                whole_bytes += want.nbytes();
            else
                split_bytes += want.nbytes();
        }
        if (t == 1) split_bytes += whole_bytes, whole_bytes = 0;
        if (!read_once) {
            EXPECT_EQ(rank.report.load.bytes_read, split_bytes + whole_bytes) << "rank " << r;
        } else {
            EXPECT_GE(rank.report.load.bytes_read, split_bytes) << "rank " << r;
            whole_read_total += rank.report.load.bytes_read - split_bytes;
            EXPECT_EQ(rank.report.backend, t > 1 ? "gloo" : "");
        }
    }
    // read_once: the whole tensors were read once in all, by one rank or another.
    if (read_once) EXPECT_EQ(whole_read_total, whole_bytes);
}

} // namespace

TEST(Distributed, LlamaRanksHoldTheirSlicesBitForBit) {
    temp_dir dir;
    auto full = write_model(dir.path(), llama_config, 3);
    for (int t : {1, 2, 4}) {
        SCOPED_TRACE("T = " + std::to_string(t));
        auto ranks = load_in_threads(dir.path(), t, false);
        check_ranks(full, ranks, 8, 2, false);
    }
}

TEST(Distributed, ReadOnceBroadcastsTheWholeTensors) {
    if (!lt::built_with_gloo())
        GTEST_SKIP() << "this build has no Gloo headers (libgloo-dev): no CPU broadcasts";
    temp_dir dir;
    auto full = write_model(dir.path(), llama_config, 2);
    for (int t : {2, 4}) {
        SCOPED_TRACE("T = " + std::to_string(t));
        auto ranks = load_in_threads(dir.path(), t, true);
        check_ranks(full, ranks, 8, 2, true);
        uint64_t broadcast = 0;
        for (auto& r : ranks)
            if (r.ok()) broadcast += r->report.broadcast_tensors;
        // Every rank takes part in every broadcast of the whole tensors (norms: 2 per layer + the final one).
        EXPECT_EQ(broadcast, static_cast<uint64_t>(t) * 5);
    }
}

TEST(Distributed, MixtralExpertsSplitByTheirIntermediateSize) {
    temp_dir dir;
    auto full = write_model(dir.path(), mixtral_config, 2);
    auto ranks = load_in_threads(dir.path(), 2, false);
    check_ranks(full, ranks, 4, 4, false);
}

// Quantized checkpoints: each rank holds its cut of every stored member, bit for bit, read alone (the bytes
// read are those of the cuts and the whole tensors).
TEST(Distributed, QuantizedRanksHoldTheirPackedSlicesBitForBit) {
    for (std::string scheme : {"gptq", "gptq-act", "awq", "fp8", "ct"}) {
        temp_dir dir;
        const std::string config = quantized_config(llama_config, scheme);
        auto full = write_quantized_model(dir.path(), config, scheme, 2);
        for (int t : {2, 4}) {
            SCOPED_TRACE(scheme + ", T = " + std::to_string(t));
            auto ranks = load_in_threads(dir.path(), t, false);
            check_ranks(full, ranks, 8, 2, false, scheme == "gptq-act");
        }
    }
}

TEST(Distributed, QuantizedReadOnceBroadcastsTheWholeMembers) {
    if (!lt::built_with_gloo())
        GTEST_SKIP() << "this build has no Gloo headers (libgloo-dev): no CPU broadcasts";
    temp_dir dir;
    auto full = write_quantized_model(dir.path(), quantized_config(llama_config, "gptq"), "gptq", 1);
    auto ranks = load_in_threads(dir.path(), 2, true);
    check_ranks(full, ranks, 8, 2, true);
}

// gpt-oss with MXFP4 experts (the published layout: <w>_blocks U8 [experts, out, in / 32, 16], <w>_scales U8
// [experts, out, in / 32]; gate_up_proj's rows interleave gate and up) whose expert intermediate size, 96 =
// 3 blocks of 32, does not split evenly in blocks at T = 2: vLLM's gpt-oss loader gives rank 0 ceil(3 / 2) =
// 2 blocks (features [0, 64)) and rank 1 the last one ([64, 96)), gate_up_proj's rows and bias twice that
// (vllm/model_executor/models/gpt_oss.py, _load_weights_mxfp4). Each rank's expert tensors are compared byte
// for byte with those cuts.
TEST(Distributed, Mxfp4ExpertsSplitInVllmsWholeBlocks) {
    const std::string config = R"({"architectures": ["GptOssForCausalLM"], "model_type": "gpt_oss",
        "attention_bias": true, "head_dim": 16, "hidden_size": 64, "intermediate_size": 96,
        "layer_types": ["sliding_attention", "full_attention"], "max_position_embeddings": 256,
        "num_attention_heads": 4, "num_experts_per_tok": 2, "experts_per_token": 2, "num_hidden_layers": 2,
        "num_key_value_heads": 2, "num_local_experts": 4, "rms_norm_eps": 1e-05, "rope_theta": 150000,
        "sliding_window": 16, "tie_word_embeddings": false, "vocab_size": 128, "torch_dtype": "bfloat16",
        "quantization_config": {"quant_method": "mxfp4", "modules_to_not_convert": ["model.layers.*.self_attn",
        "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"]}})";
    temp_dir dir;
    auto a = mp::analyze("test", config, mp::config_options{});
    ASSERT_TRUE(a.ok()) << a.err().message;
    std::mt19937_64 rng(45);
    std::vector<full_tensor> all;
    for (const auto& t : a->sk.tensors) {
        std::vector<int64_t> shape(t.shape.begin(), t.shape.end());
        auto ends_with = [&](const std::string& suffix) {
            return t.name.size() >= suffix.size() &&
                   t.name.compare(t.name.size() - suffix.size(), suffix.size(), suffix) == 0;
        };
        const bool gate_up = ends_with("experts.gate_up_proj"), down = ends_with("experts.down_proj");
        if (!gate_up && !down) {
            all.push_back(random_tensor(rng, t.name, "BF16", shape));
            continue;
        }
        // The logical [experts, in, out] stored as blocks [experts, out, in / 32, 16] and scales.
        all.push_back(random_tensor(rng, t.name + "_blocks", "U8", {shape[0], shape[2], shape[1] / 32, 16}));
        all.push_back(random_tensor(rng, t.name + "_scales", "U8", {shape[0], shape[2], shape[1] / 32}));
    }
    write_files(dir.path(), config, all, 1);
    auto ranks = load_in_threads(dir.path(), 2, false);
    for (int r = 0; r < 2; ++r) {
        ASSERT_TRUE(ranks[r].ok()) << ranks[r].err().message;
        const int64_t start = r == 0 ? 0 : 64, length = r == 0 ? 64 : 32; // intermediate features
        uint64_t checked = 0;
        for (size_t i = 0; i < all.size(); ++i) {
            const full_tensor& f = all[i];
            if (f.name.find("experts.") == std::string::npos) continue;
            at::Tensor full = at::from_blob(const_cast<char*>(f.bytes.data()), f.shape, scalar_type(f.dtype));
            at::Tensor want;
            if (f.name.find("gate_up_proj_bias") != std::string::npos)
                want = full.narrow(1, 2 * start, 2 * length).contiguous();
            else if (f.name.find("down_proj_bias") != std::string::npos)
                want = full.contiguous();
            else if (f.name.find("gate_up_proj") != std::string::npos) // blocks and scales: rows
                want = full.narrow(1, 2 * start, 2 * length).contiguous();
            else // down_proj blocks and scales: the input's blocks
                want = full.narrow(2, start / 32, length / 32).contiguous();
            const at::Tensor& got = ranks[r]->model.slot(i);
            ASSERT_EQ(got.sizes().vec(), want.sizes().vec()) << f.name << " on rank " << r;
            EXPECT_EQ(std::memcmp(got.data_ptr(), want.data_ptr(), want.nbytes()), 0)
                << f.name << " on rank " << r;
            ++checked;
        }
        EXPECT_EQ(checked, 2u * 6); // two layers: gate_up blocks, scales, bias; down blocks, scales, bias
    }
}

// A rank's input that is not whole groups (group 64 at T = 4: o_proj's 128 / 4 = 32 inputs) fails on every
// rank, before any read, with vLLM's reason.
TEST(Distributed, QuantizedSplitOffGroupBoundariesFailsEveryRank) {
    temp_dir dir;
    auto a = mp::analyze("test", llama_config, mp::config_options{});
    ASSERT_TRUE(a.ok());
    std::mt19937_64 rng(44);
    std::vector<full_tensor> all;
    for (const auto& t : a->sk.tensors) {
        std::vector<int64_t> shape(t.shape.begin(), t.shape.end());
        if (t.name.find("o_proj.weight") == std::string::npos) {
            all.push_back(random_tensor(rng, t.name, "BF16", shape));
            continue;
        }
        const std::string base = t.name.substr(0, t.name.size() - 7);
        all.push_back(random_tensor(rng, base + ".qweight", "I32", {shape[1] / 8, shape[0]}));
        all.push_back(random_tensor(rng, base + ".qzeros", "I32", {shape[1] / 64, shape[0] / 8}));
        all.push_back(random_tensor(rng, base + ".scales", "F16", {shape[1] / 64, shape[0]}));
    }
    write_files(dir.path(), llama_config, all, 1);
    auto ranks = load_in_threads(dir.path(), 4, false);
    for (auto& r : ranks) {
        ASSERT_FALSE(r.ok());
        EXPECT_NE(r.err().message.find("32 input features per rank is not a multiple of the group size 64"),
                  std::string::npos)
            << r.err().message;
    }
}

TEST(Distributed, CoalescedShortRunsReadMoreButHoldTheSameBytes) {
    temp_dir dir;
    auto full = write_model(dir.path(), llama_config, 1);
    auto one_per_run = load_in_threads(dir.path(), 2, false, 0);
    auto coalesced = load_in_threads(dir.path(), 2, false, 1 << 20);
    for (int r = 0; r < 2; ++r) {
        ASSERT_TRUE(one_per_run[r].ok() && coalesced[r].ok());
        EXPECT_LT(coalesced[r]->report.load.reads, one_per_run[r]->report.load.reads);
        EXPECT_GT(coalesced[r]->report.load.bytes_read, one_per_run[r]->report.load.bytes_read);
        for (size_t i = 0; i < full.size(); ++i)
            EXPECT_EQ(coalesced[r]->report.tensors[i].crc32, one_per_run[r]->report.tensors[i].crc32);
    }
}

// ---- the CLI: processes
// ------------------------------------------------------------------------------------

namespace {

struct run_result {
    int status;
    std::string out;
    double seconds;
};

run_result run_shell(const std::string& cmd) {
    auto t0 = std::chrono::steady_clock::now();
    FILE* p = ::popen(("(" + cmd + ") 2>&1").c_str(), "r");
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    int status = ::pclose(p);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out, s};
}

// Two ranks started by hand, as a launcher would, each with its own arguments; both outputs and statuses.
std::pair<run_result, run_result> two_ranks(const std::string& args0, const std::string& args1) {
    int port = free_port();
    temp_dir logs;
    auto rank = [&](int r, const std::string& args) {
        return "(RANK=" + std::to_string(r) +
               " WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) + " " +
               MODELPLAN_BIN + " load " + args + " >" + (logs.path() / ("out" + std::to_string(r))).string() +
               " 2>&1; echo $? >" + (logs.path() / ("rc" + std::to_string(r))).string() + ")";
    };
    run_result both = run_shell(rank(0, args0) + " & " + rank(1, args1) + " & wait");
    auto read = [&](int r) {
        std::ifstream o(logs.path() / ("out" + std::to_string(r))),
            c(logs.path() / ("rc" + std::to_string(r)));
        std::string out((std::istreambuf_iterator<char>(o)), {});
        int rc = -1;
        c >> rc;
        return run_result{rc, out, both.seconds};
    };
    return {read(0), read(1)};
}

// The CRC-32 of every (rank, tensor) in a `--checksums --json` answer of T ranks.
std::map<std::pair<int, std::string>, uint32_t> rank_crcs(const std::string& out, int t) {
    std::map<std::pair<int, std::string>, uint32_t> crcs;
    // One line: {"ranks": [...], "seconds": ...}; each rank's tensors in the skeleton's order.
    EXPECT_EQ(out.rfind("{\"ranks\": [", 0), 0u) << out;
    std::regex record("\\{\"name\": \"([^\"]+)\", \"shape\": \\[([0-9, ]+)\\], \"dtype\": \"[A-Z0-9_]+\", "
                      "\"crc32\": ([0-9]+)\\}");
    std::regex rank_start("\\{\"rank\": ([0-9]+)");
    std::vector<std::pair<size_t, int>> rank_at;
    for (auto it = std::sregex_iterator(out.begin(), out.end(), rank_start); it != std::sregex_iterator();
         ++it)
        rank_at.push_back({static_cast<size_t>(it->position()), std::stoi((*it)[1])});
    EXPECT_EQ(rank_at.size(), static_cast<size_t>(t));
    for (auto it = std::sregex_iterator(out.begin(), out.end(), record); it != std::sregex_iterator(); ++it) {
        size_t at = static_cast<size_t>(it->position());
        int rank = -1;
        for (auto& [pos, rk] : rank_at)
            if (pos < at) rank = rk;
        crcs[{rank, (*it)[1]}] = static_cast<uint32_t>(std::stoul((*it)[3]));
    }
    return crcs;
}
} // namespace

namespace {
// `load --nproc T --checksums --json` of `dir` for T = 2 and 4: every rank's CRC-32 of every tensor is that
// of its expected slice (the model's query and key/value heads as given).
void expect_nproc_checksums(const fs::path& dir, const std::vector<full_tensor>& full, int64_t heads = 8,
                            int64_t kv_heads = 2) {
    for (int t : {2, 4}) {
        auto r = run_shell(std::string(MODELPLAN_BIN) + " load " + dir.string() + " --nproc " +
                           std::to_string(t) + " --device cpu --threads 1 --checksums --json --timeout 30");
        ASSERT_EQ(r.status, 0) << r.out;
        auto crcs = rank_crcs(r.out, t);
        ASSERT_EQ(crcs.size(), full.size() * static_cast<size_t>(t));
        for (int rank = 0; rank < t; ++rank)
            for (const auto& f : full)
                EXPECT_EQ(crcs[std::make_pair(rank, f.name)],
                          crc_of(expected_slice(f, rank, t, heads, kv_heads)))
                    << f.name << " on rank " << rank << " of " << t;
    }
}
} // namespace

TEST(DistributedCli, NprocRanksPrintTheirSlicesChecksums) {
    temp_dir dir;
    expect_nproc_checksums(dir.path(), write_model(dir.path(), llama_config, 3));
}

// Mixtral's experts over 2 and 4 processes (4 heads, 4 KV heads).
TEST(DistributedCli, NprocRanksSplitAMixtral) {
    temp_dir dir;
    expect_nproc_checksums(dir.path(), write_model(dir.path(), mixtral_config, 2), 4, 4);
}

// A GPTQ checkpoint over 2 and 4 processes: every member's CRC-32 is its cut's.
TEST(DistributedCli, NprocRanksSplitAQuantizedCheckpoint) {
    temp_dir dir;
    expect_nproc_checksums(
        dir.path(), write_quantized_model(dir.path(), quantized_config(llama_config, "gptq"), "gptq", 2));
}

TEST(DistributedCli, ARankWithAnotherConfigFailsTheGroup) {
    temp_dir dir, other;
    write_model(dir.path(), llama_config, 2);
    std::string changed = std::regex_replace(
        std::string(llama_config), std::regex("\"num_hidden_layers\": 2"), "\"num_hidden_layers\": 3");
    std::ofstream(other.path() / "config.json") << changed;
    std::string common = dir.path().string() + " --tp 2 --device cpu --timeout 20";
    auto [r0, r1] = two_ranks(common, common + " --config " + (other.path() / "config.json").string());
    EXPECT_EQ(r0.status, 1) << r0.out;
    EXPECT_EQ(r1.status, 1) << r1.out;
    for (const auto* r : {&r0, &r1}) {
        EXPECT_NE(r->out.find("rank 1 differs from rank 0 in its model (config)"), std::string::npos)
            << r->out;
        EXPECT_NE(r->out.find("nothing was loaded"), std::string::npos) << r->out;
    }
}

TEST(DistributedCli, ARankWithAnotherCheckpointOrPlanFailsTheGroup) {
    temp_dir dir, other;
    write_model(dir.path(), llama_config, 2);
    write_model(other.path(), llama_config, 3); // the same tensors in three shards: other byte ranges
    std::string common = " --tp 2 --device cpu --timeout 20";
    auto [c0, c1] = two_ranks(dir.path().string() + common, other.path().string() + common);
    EXPECT_EQ(c0.status, 1);
    EXPECT_NE(c0.out.find("rank 1 differs from rank 0 in its checkpoint"), std::string::npos) << c0.out;
    EXPECT_NE(c1.out.find("rank 1 differs from rank 0 in its checkpoint"), std::string::npos) << c1.out;
    auto [p0, p1] = two_ranks(dir.path().string() + common, dir.path().string() + common + " --read-once");
    EXPECT_EQ(p1.status, 1);
    EXPECT_NE(p0.out.find("rank 1 differs from rank 0 in its plan"), std::string::npos) << p0.out;
}

TEST(DistributedCli, AShardMissingOnOneRankFailsEveryRank) {
    temp_dir dir, other;
    write_model(dir.path(), llama_config, 2);
    for (const auto& e : fs::directory_iterator(dir.path()))
        fs::copy(e.path(), other.path() / e.path().filename());
    fs::remove(other.path() / "model-00002-of-00002.safetensors");
    std::string common = " --tp 2 --device cpu --timeout 20";
    auto [r0, r1] = two_ranks(dir.path().string() + common, other.path().string() + common);
    EXPECT_EQ(r0.status, 1) << r0.out;
    EXPECT_EQ(r1.status, 1) << r1.out;
    for (const auto* r : {&r0, &r1}) {
        EXPECT_NE(r->out.find("rank 1 failed before loading"), std::string::npos) << r->out;
        EXPECT_NE(r->out.find("model-00002-of-00002.safetensors"), std::string::npos) << r->out;
    }
}

TEST(DistributedCli, ARankThatNeverComesEndsTheOthersWithinTheTimeout) {
    temp_dir dir;
    write_model(dir.path(), llama_config, 2);
    int port = free_port();
    // Rank 1 of 2 never starts: rank 0 gives up after --timeout 3 s (LibTorch's start-up comes on top).
    auto r = run_shell("RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) + " " +
                       MODELPLAN_BIN + " load " + dir.path().string() + " --tp 2 --device cpu --timeout 3");
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_NE(r.out.find("rank(s) 1 did not reach the agreement step within 3 s"), std::string::npos)
        << r.out;
    EXPECT_LT(r.seconds, 15.0);
    // Rank 0 never starts: rank 1 cannot reach the store and says so within the timeout.
    auto r1 =
        run_shell("RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) + " " +
                  MODELPLAN_BIN + " load " + dir.path().string() + " --tp 2 --device cpu --timeout 3");
    EXPECT_EQ(r1.status, 1) << r1.out;
    EXPECT_NE(r1.out.find("cannot reach the group's store at 127.0.0.1:" + std::to_string(port)),
              std::string::npos)
        << r1.out;
    EXPECT_LT(r1.seconds, 15.0);
}

TEST(DistributedCli, ARankKilledMidwayEndsTheOthers) {
    temp_dir dir;
    write_model(dir.path(), llama_config, 2);
    int port = free_port();
    // Rank 1 agrees, then stops (the test hook) and is killed (SIGKILL) 6 s after it started; rank 0, which
    // loaded, waits for it at the next step and ends on its own after --timeout 10 s, naming rank 1.
    std::string env = "WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) + " ";
    auto r =
        run_shell("(MODELPLAN_TEST_PAUSE_AFTER_AGREEMENT=60 RANK=1 " + env + MODELPLAN_BIN + " load " +
                  dir.path().string() +
                  " --tp 2 --device cpu --timeout 10 >/dev/null 2>&1 & pid=$!; sleep 6; kill -9 $pid) & " +
                  "RANK=0 " + env + MODELPLAN_BIN + " load " + dir.path().string() +
                  " --tp 2 --device cpu --timeout 10; echo rank0=$?; wait");
    EXPECT_NE(r.out.find("rank0=1"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("rank(s) 1 did not reach the load step within 10 s"), std::string::npos) << r.out;
    EXPECT_LT(r.seconds, 30.0);
}

TEST(DistributedCli, UsageErrors) {
    auto r = run_shell(std::string(MODELPLAN_BIN) + " load /nonexistent --tp 2");
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_NE(r.out.find("--nproc 2"), std::string::npos) << r.out;
    r = run_shell(std::string(MODELPLAN_BIN) + " load /nonexistent --nproc 4 --tp 3");
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_NE(r.out.find("--nproc 4 must equal --tp 3 x --pp 1"), std::string::npos) << r.out;
    r = run_shell(std::string(MODELPLAN_BIN) + " load /nonexistent --tp 2 --mmap");
    EXPECT_EQ(r.status, 2) << r.out;
    r = run_shell("RANK=5 WORLD_SIZE=2 " + std::string(MODELPLAN_BIN) + " load /nonexistent --tp 2");
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_NE(r.out.find("RANK: expected a number from 0 to 1, got \"5\""), std::string::npos) << r.out;
}
