// The streaming loader (native/torch/load.h) on small generated checkpoints: round trips for every supported
// dtype, single-file and sharded, tied weights, dtype conversion, mmap aliasing, device maps; bit-exact
// against the bytes written here; verification failures that allocate nothing; a shard truncated mid-load.
#include <gtest/gtest.h>

#include <ATen/ops/from_blob.h>
#include <c10/core/CPUAllocator.h>
#include <torch/version.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <regex>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../native/torch/load-internal.h" // read_exact's pread hook
#include "checkpoint-writer.h"
#include "modelplan/device-map.h"
#include "modelplan/libtorch/load.h"
#include "modelplan/libtorch/meta.h"
#include "modelplan/presets.h"
#include "modelplan/report.h"
#include "temp-dir.h"

namespace mp = modelplan;
namespace lt = modelplan::libtorch;
namespace fs = std::filesystem;
using mp::test_files::safetensors_file;

namespace {

// A two-layer Llama small enough to write in a test.
std::string tiny_llama(const std::string& torch_dtype, bool tied) {
    return R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
        "intermediate_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "vocab_size": 128, "max_position_embeddings": 256, "rms_norm_eps": 1e-5, "tie_word_embeddings": )" +
           std::string(tied ? "true" : "false") + R"(, "torch_dtype": ")" + torch_dtype + R"("})";
}

// Exactly representable values: k/8 for k in [-32, 31] (6 significant bits at most: exact in F16 and BF16).
float value_at(uint64_t i, uint64_t seed) {
    return static_cast<float>(static_cast<int64_t>((i * 7 + seed) % 64) - 32) / 8.0f;
}
int64_t int_at(uint64_t i, uint64_t seed) {
    return static_cast<int64_t>((i * 13 + seed) % 100) - 50;
}

uint32_t f32_bits(float f) {
    uint32_t b;
    std::memcpy(&b, &f, 4);
    return b;
}
// IEEE half of a float that is exactly representable as a normal half (or zero).
uint16_t f16_bits(float f) {
    uint32_t b = f32_bits(f);
    uint16_t sign = static_cast<uint16_t>((b >> 16) & 0x8000);
    if ((b & 0x7fffffff) == 0) return sign;
    int exp = static_cast<int>((b >> 23) & 0xff) - 127 + 15;
    return static_cast<uint16_t>(sign | (exp << 10) | ((b >> 13) & 0x3ff));
}

struct written_tensor {
    std::string name, dtype;
    std::vector<uint64_t> shape;
    std::string bytes;          // exactly what the file holds
    std::vector<double> values; // the values, for types that are converted
    bool has_values = false;
};

uint64_t elements_of(const std::vector<uint64_t>& shape) {
    uint64_t n = 1;
    for (uint64_t d : shape) n *= d;
    return n;
}

// Data of one tensor in `dtype`: values from value_at/int_at for real types, random bits for raw ones.
written_tensor make_tensor(const std::string& name, const std::string& dtype, std::vector<uint64_t> shape,
                           uint64_t seed) {
    written_tensor t{name, dtype, std::move(shape), {}, {}, false};
    uint64_t n = elements_of(t.shape);
    auto put = [&](const void* p, size_t size) { t.bytes.append(static_cast<const char*>(p), size); };
    std::mt19937_64 rng(seed);
    for (uint64_t i = 0; i < n; ++i) {
        float v = value_at(i, seed);
        int64_t k = int_at(i, seed);
        if (dtype == "F32") {
            put(&v, 4), t.values.push_back(v);
        } else if (dtype == "F64") {
            double d = v;
            put(&d, 8), t.values.push_back(d);
        } else if (dtype == "BF16") {
            uint16_t h = static_cast<uint16_t>(f32_bits(v) >> 16);
            put(&h, 2), t.values.push_back(v);
        } else if (dtype == "F16") {
            uint16_t h = f16_bits(v);
            put(&h, 2), t.values.push_back(v);
        } else if (dtype == "I64") {
            put(&k, 8), t.values.push_back(static_cast<double>(k));
        } else if (dtype == "I32") {
            int32_t x = static_cast<int32_t>(k);
            put(&x, 4), t.values.push_back(x);
        } else if (dtype == "I16") {
            int16_t x = static_cast<int16_t>(k);
            put(&x, 2), t.values.push_back(x);
        } else if (dtype == "I8") {
            int8_t x = static_cast<int8_t>(k);
            put(&x, 1), t.values.push_back(x);
        } else if (dtype == "U8") {
            uint8_t x = static_cast<uint8_t>(k + 50);
            put(&x, 1), t.values.push_back(x);
        } else if (dtype == "BOOL") {
            uint8_t x = (i % 3 == 0) ? 1 : 0;
            put(&x, 1), t.values.push_back(x);
        } else { // raw: F8_*, U16, U32, U64: random bits
            uint64_t bits = rng();
            put(&bits, mp::test_files::safetensors_bits(dtype) / 8);
        }
    }
    t.has_values = !t.values.empty();
    return t;
}

// Writes the tensors as one safetensors file.
void write_safetensors(const fs::path& path, const std::vector<written_tensor>& tensors) {
    safetensors_file f;
    for (const auto& t : tensors) f.add(t.name, t.dtype, t.shape);
    std::ofstream out(path, std::ios::binary);
    out << f.header_bytes();
    for (const auto& t : tensors) out << t.bytes;
}

// One test's folder, removed at the end.
struct temp_dir : mp::test_files::temp_dir {
    temp_dir() : mp::test_files::temp_dir("modelplan-torch-test") {}
};

// The model's tensors (from the core skeleton), stored as `dtype_for(i)`; sharded into `shards` files with an
// index when shards > 1.
std::vector<written_tensor> write_checkpoint(const fs::path& dir, const mp::analysis& a, size_t shards,
                                             const std::function<std::string(size_t)>& dtype_for,
                                             const std::vector<std::string>& skip = {}) {
    std::vector<written_tensor> all;
    for (size_t i = 0; i < a.sk.tensors.size(); ++i) {
        const auto& t = a.sk.tensors[i];
        if (std::find(skip.begin(), skip.end(), t.name) != skip.end()) continue;
        all.push_back(make_tensor(t.name, dtype_for(i), t.shape, 1000 + i));
    }
    if (shards <= 1) {
        write_safetensors(dir / "model.safetensors", all);
    } else {
        std::string weight_map;
        size_t per = (all.size() + shards - 1) / shards;
        for (size_t s = 0; s < shards; ++s) {
            std::vector<written_tensor> part(all.begin() + static_cast<long>(std::min(all.size(), s * per)),
                                             all.begin() +
                                                 static_cast<long>(std::min(all.size(), (s + 1) * per)));
            std::string file =
                "model-0000" + std::to_string(s + 1) + "-of-0000" + std::to_string(shards) + ".safetensors";
            write_safetensors(dir / file, part);
            for (const auto& t : part)
                weight_map += (weight_map.empty() ? "" : ",") + ("\"" + t.name + "\":\"" + file + "\"");
        }
        std::ofstream(dir / "model.safetensors.index.json")
            << "{\"metadata\":{},\"weight_map\":{" << weight_map << "}}";
    }
    return all;
}

mp::analysis tiny(const std::string& dtype, bool tied, std::optional<mp::dtype> override = std::nullopt) {
    mp::config_options o;
    o.weight_dtype = override;
    auto a = mp::analyze("tiny", tiny_llama(dtype, tied), o);
    EXPECT_TRUE(a.ok()) << (a.ok() ? "" : a.err().message);
    return std::move(*a);
}

// Bytes of a loaded tensor equal the written ones.
void expect_bits(const at::Tensor& t, const written_tensor& w) {
    ASSERT_TRUE(t.defined() && !t.is_meta()) << w.name;
    ASSERT_EQ(static_cast<size_t>(t.nbytes()), w.bytes.size()) << w.name;
    EXPECT_EQ(std::memcmp(t.data_ptr(), w.bytes.data(), w.bytes.size()), 0) << w.name << " differs";
}

at::Tensor loaded(const lt::meta_model& m, const std::string& name) {
    int64_t i = m.find(name);
    EXPECT_GE(i, 0) << name;
    return i < 0 ? at::Tensor() : m.slot(static_cast<size_t>(i));
}

bool all_meta(const lt::meta_model& m) {
    for (size_t i = 0; i < m.params.size(); ++i)
        if (!m.slot(i).is_meta()) return false;
    return true;
}

// Counts CPU allocations and the bytes still live, by wrapping LibTorch's CPU allocator.
class counting_allocator : public c10::Allocator {
  public:
    explicit counting_allocator(c10::Allocator* base) : base_(base) {}
    // LibTorch 2.3 made allocate() non-const and added copy_data(); both signatures are declared without
    // `override`, so whichever the base has is overridden (1.13: the const one; 2.3+: the other and
    // copy_data).
    c10::DataPtr allocate(size_t n) const { return allocate_counted(n); }
    c10::DataPtr allocate(size_t n) { return allocate_counted(n); }
    void copy_data(void* dest, const void* src, size_t count) const { std::memcpy(dest, src, count); }
    c10::DataPtr allocate_counted(size_t n) const {
        c10::DataPtr inner = base_->allocate(n);
        ++allocations;
        live += n;
        void* data = inner.get();
        auto* ctx = new holder{std::move(inner), n, this};
        return c10::DataPtr(data, ctx, &release, c10::Device(c10::DeviceType::CPU));
    }
    c10::DeleterFnPtr raw_deleter() const override { return nullptr; }
    mutable std::atomic<uint64_t> allocations{0};
    mutable std::atomic<int64_t> live{0};

  private:
    struct holder {
        c10::DataPtr inner;
        size_t n;
        const counting_allocator* owner;
    };
    static void release(void* p) {
        auto* h = static_cast<holder*>(p);
        h->owner->live -= static_cast<int64_t>(h->n);
        delete h;
    }
    c10::Allocator* base_;
};

// Installs a counting allocator for the scope of a test.
class count_allocations {
  public:
    count_allocations() : base_(c10::GetCPUAllocator()), counter_(base_) {
        c10::SetCPUAllocator(&counter_, 100);
    }
    ~count_allocations() { c10::SetCPUAllocator(base_, 100); }
    const counting_allocator& counter() const { return counter_; }

  private:
    c10::Allocator* base_;
    counting_allocator counter_;
};

} // namespace

TEST(Load, SingleFileRoundTripIsBitExact) {
    temp_dir dir;
    mp::analysis a = tiny("bfloat16", false);
    auto written = write_checkpoint(dir.path(), a, 1, [](size_t) { return "BF16"; });
    for (unsigned threads : {1u, 3u}) {
        SCOPED_TRACE(threads);
        auto m = lt::instantiate_meta(a.sk);
        ASSERT_TRUE(m.ok());
        auto src = lt::open_checkpoint(dir.path().string());
        ASSERT_TRUE(src.ok()) << src.err().message;
        lt::load_options o;
        o.threads = threads;
        o.chunk_bytes = 4096; // several chunks per tensor, spread over the threads
        auto r = lt::load_weights(*m, a.sk, *src, o);
        ASSERT_TRUE(r.ok()) << r.err().message;
        EXPECT_EQ(r->tensors, written.size());
        uint64_t bytes = 0;
        for (const auto& w : written) {
            expect_bits(loaded(*m, w.name), w);
            bytes += w.bytes.size();
        }
        EXPECT_EQ(r->bytes, bytes);
        EXPECT_EQ(r->devices.at("cpu").tensors, written.size());
        EXPECT_EQ(r->tensors_converted, 0u);
        // named_parameters() of the tree now hold the loaded tensors.
        for (const auto& item : m->root->named_parameters(true))
            EXPECT_FALSE(item.value().is_meta()) << item.key();
    }
}

// --direct: O_DIRECT reads through aligned buffers, with unaligned heads and tails (safetensors data starts
// at 8 + header bytes, and tensors at any offset). The system's temporary folder must accept O_DIRECT (ext4,
// xfs).
TEST(Load, DirectReadsAreBitExact) {
    temp_dir dir;
    mp::analysis a = tiny("bfloat16", false);
    auto written = write_checkpoint(dir.path(), a, 3, [](size_t i) { return i % 2 ? "BF16" : "F32"; });
    int probe = ::open((dir.path() / "model-00001-of-00003.safetensors").c_str(), O_RDONLY | O_DIRECT);
    ASSERT_GE(probe, 0) << dir.path() << " refuses O_DIRECT (" << std::strerror(errno)
                        << "): this test needs a temporary folder on a disk file system";
    ::close(probe);
    for (uint64_t chunk : {uint64_t{4096}, uint64_t{16} << 20}) {
        SCOPED_TRACE(chunk);
        auto m = lt::instantiate_meta(a.sk);
        auto src = lt::open_checkpoint(dir.path().string());
        ASSERT_TRUE(src.ok()) << src.err().message;
        lt::load_options o;
        o.direct = true;
        o.threads = 2;
        o.chunk_bytes = chunk;
        auto r = lt::load_weights(*m, a.sk, *src, o);
        ASSERT_TRUE(r.ok()) << r.err().message;
        EXPECT_TRUE(r->direct);
        EXPECT_TRUE(r->warnings.empty() || r->warnings.front().find("O_DIRECT") == std::string::npos);
        for (const auto& w : written)
            if (w.dtype == "BF16") expect_bits(loaded(*m, w.name), w);
        // F32 tensors were converted to the model's BF16: their values, as the plain load gives them.
        auto plain = lt::instantiate_meta(a.sk);
        ASSERT_TRUE(lt::load_weights(*plain, a.sk, *src, {}).ok());
        for (const auto& w : written)
            EXPECT_TRUE(at::equal(loaded(*m, w.name), loaded(*plain, w.name))) << w.name;
    }
}

// A file system that refuses O_DIRECT (tmpfs before Linux 6.6, some network file systems) fails open() with
// EINVAL: the loader's open is replaced here by one that does so.
int open_refusing_direct(const char* path, int flags) {
    if (flags & O_DIRECT) {
        errno = EINVAL;
        return -1;
    }
    return ::open(path, flags);
}

TEST(Load, DirectFallsBackWhereTheFileSystemRefusesIt) {
    temp_dir dir;
    mp::analysis a = tiny("bfloat16", false);
    auto written = write_checkpoint(dir.path(), a, 2, [](size_t) { return "BF16"; });
    auto m = lt::instantiate_meta(a.sk);
    auto src = lt::open_checkpoint(dir.path().string());
    ASSERT_TRUE(src.ok()) << src.err().message;
    lt::load_options o;
    o.direct = true;
    lt::detail::open_hook = &open_refusing_direct;
    auto r = lt::load_weights(*m, a.sk, *src, o);
    lt::detail::open_hook = [](const char* path, int flags) { return ::open(path, flags); };
    ASSERT_TRUE(r.ok()) << r.err().message;
    EXPECT_FALSE(r->direct);
    ASSERT_FALSE(r->warnings.empty());
    EXPECT_NE(
        r->warnings.front().find("refuses O_DIRECT for 2 file(s) (e.g. model-00001-of-00002.safetensors)"),
        std::string::npos)
        << r->warnings.front();
    for (const auto& w : written) expect_bits(loaded(*m, w.name), w);
    o.mmap = true;
    auto both = lt::load_weights(*m, a.sk, *src, o);
    ASSERT_FALSE(both.ok());
    EXPECT_NE(both.err().message.find("choose one"), std::string::npos);
}

// Quantized checkpoints load as stored. The layouts are AutoGPTQ's QuantLinear (qweight int32 [in / 32 x
// bits, out], qzeros int32 [in / group, out / 32 x bits], scales float16 [in / group, out], g_idx int32 [in])
// compressed-tensors' fp8 (weight F8_E4M3 [out, in], weight_scale and input_scale float32 scalars) and its
// pack-quantized 4-bit ("ct": weight_packed int32 [out, in / 8], weight_scale [out, in / group],
// weight_zero_point int32 [out / 8, in / group], weight_shape int64 [2]), as tests/core/quantized.cpp
// describes them with their sources.
std::vector<written_tensor> write_quantized(const fs::path& dir, const mp::analysis& a,
                                            const std::string& scheme) {
    std::vector<written_tensor> all;
    uint64_t seed = 7;
    for (const auto& t : a.sk.tensors) {
        bool linear = t.layer != mp::no_index && t.shape.size() == 2;
        if (!linear) {
            all.push_back(make_tensor(t.name, "BF16", t.shape, seed++));
            continue;
        }
        std::string base = t.name.substr(0, t.name.size() - std::string(".weight").size());
        uint64_t out = t.shape[0], in = t.shape[1], group = 32;
        if (scheme == "gptq") {
            all.push_back(make_tensor(base + ".qweight", "I32", {in / 32 * 4, out}, seed++));
            all.push_back(make_tensor(base + ".qzeros", "I32", {in / group, out / 32 * 4}, seed++));
            all.push_back(make_tensor(base + ".scales", "F16", {in / group, out}, seed++));
            all.push_back(make_tensor(base + ".g_idx", "I32", {in}, seed++));
        } else if (scheme == "ct") {
            all.push_back(make_tensor(base + ".weight_packed", "I32", {out, in / 8}, seed++));
            all.push_back(make_tensor(base + ".weight_scale", "BF16", {out, in / group}, seed++));
            all.push_back(make_tensor(base + ".weight_zero_point", "I32", {out / 8, in / group}, seed++));
            all.push_back(make_tensor(base + ".weight_shape", "I64", {2}, seed++));
        } else {
            all.push_back(make_tensor(t.name, "F8_E4M3", {out, in}, seed++));
            all.push_back(make_tensor(base + ".weight_scale", "F32", {}, seed++));
            all.push_back(make_tensor(base + ".input_scale", "F32", {}, seed++));
        }
    }
    write_safetensors(dir / "model.safetensors", all);
    return all;
}

TEST(Load, QuantizedCheckpointsLoadAsStored) {
    for (std::string scheme : {"gptq", "fp8", "ct"}) {
        SCOPED_TRACE(scheme);
        temp_dir dir;
        mp::analysis a = tiny("bfloat16", false);
        auto written = write_quantized(dir.path(), a, scheme);
        auto src = lt::open_checkpoint(dir.path().string());
        ASSERT_TRUE(src.ok()) << src.err().message;
        // The logical skeleton refuses, naming the way.
        auto logical = lt::instantiate_meta(a.sk);
        auto refused = lt::load_weights(*logical, a.sk, *src, {});
        ASSERT_FALSE(refused.ok());
        EXPECT_NE(refused.err().message.find("stored_skeleton"), std::string::npos) << refused.err().message;
        EXPECT_TRUE(all_meta(*logical));
        // The stored form: 2 layers x 7 projections, each replaced by its stored tensors.
        auto stored = lt::stored_skeleton(a.sk, *src);
        ASSERT_TRUE(stored.ok()) << stored.err().message;
        EXPECT_EQ(stored->groups, 14u);
        EXPECT_EQ(stored->sk.tensors.size(), written.size());
        auto m = lt::instantiate_meta(stored->sk);
        ASSERT_TRUE(m.ok());
        auto r = lt::load_weights(*m, stored->sk, *src, {});
        ASSERT_TRUE(r.ok()) << r.err().message;
        EXPECT_EQ(r->tensors, written.size());
        for (const auto& w : written) expect_bits(loaded(*m, w.name), w);
        // The module of q_proj holds the stored tensors as its parameters.
        bool found = false;
        for (const auto& p : m->root->named_parameters(true))
            found = found || p.key() == (scheme == "gptq" ? "model.layers.0.self_attn.q_proj.qweight"
                                         : scheme == "ct" ? "model.layers.0.self_attn.q_proj.weight_packed"
                                                          : "model.layers.0.self_attn.q_proj.weight_scale");
        EXPECT_TRUE(found);
    }
}

TEST(Load, ShardedRoundTripIsBitExact) {
    temp_dir dir;
    mp::analysis a = tiny("float16", false);
    auto written = write_checkpoint(dir.path(), a, 3, [](size_t) { return "F16"; });
    auto m = lt::instantiate_meta(a.sk);
    auto src = lt::open_checkpoint((dir.path() / "model.safetensors.index.json").string());
    ASSERT_TRUE(src.ok()) << src.err().message;
    EXPECT_EQ(src->ck.files.size(), 3u);
    auto r = lt::load_weights(*m, a.sk, *src, {});
    ASSERT_TRUE(r.ok()) << r.err().message;
    for (const auto& w : written) expect_bits(loaded(*m, w.name), w);
    for (const auto& w : written) EXPECT_EQ(loaded(*m, w.name).scalar_type(), at::kHalf);
}

// Every way of getting CPU destinations' memory (load_options::cpu_alloc) and pre-faulting it holds the same
// bytes. A vocabulary of 40000 x 64 in BF16 (5 MB) puts the embedding and the head past the 4 MiB at which
// `huge` maps a tensor on its own.
TEST(Load, EveryCpuAllocationHoldsTheSameBytes) {
    temp_dir dir;
    std::string config = std::regex_replace(tiny_llama("bfloat16", false), std::regex("\"vocab_size\": 128"),
                                            "\"vocab_size\": 40000");
    auto a = mp::analyze("tiny-40k", config, {});
    ASSERT_TRUE(a.ok()) << a.err().message;
    auto written = write_checkpoint(dir.path(), *a, 2, [](size_t) { return "BF16"; });
    auto src = lt::open_checkpoint(dir.path().string());
    ASSERT_TRUE(src.ok()) << src.err().message;
    for (auto kind : {lt::cpu_alloc_kind::huge, lt::cpu_alloc_kind::plain, lt::cpu_alloc_kind::arena})
        for (bool prefault : {false, true}) {
            SCOPED_TRACE(std::to_string(static_cast<int>(kind)) + (prefault ? " prefault" : ""));
            auto m = lt::instantiate_meta(a->sk);
            ASSERT_TRUE(m.ok());
            lt::load_options o;
            o.cpu_alloc = kind;
            o.prefault = prefault;
            o.threads = 2;
            auto r = lt::load_weights(*m, a->sk, *src, o);
            ASSERT_TRUE(r.ok()) << r.err().message;
            EXPECT_EQ(r->tensors, written.size());
            EXPECT_EQ(r->prefault_seconds > 0, prefault);
            for (const auto& w : written) expect_bits(loaded(*m, w.name), w);
            // A second load fills the same tensors in place.
            auto again = lt::load_weights(*m, a->sk, *src, o);
            ASSERT_TRUE(again.ok());
            EXPECT_EQ(again->tensors_reused, written.size());
        }
}

TEST(Load, TiedWeightsAreOneLoadedTensor) {
    temp_dir dir;
    mp::analysis a = tiny("bfloat16", true);
    ASSERT_EQ(a.sk.aliases.size(), 1u);
    auto written = write_checkpoint(dir.path(), a, 1, [](size_t) { return "BF16"; });
    auto m = lt::instantiate_meta(a.sk);
    auto src = lt::open_checkpoint(dir.path().string());
    auto r = lt::load_weights(*m, a.sk, *src, {});
    ASSERT_TRUE(r.ok()) << r.err().message;
    at::Tensor embed = loaded(*m, "model.embed_tokens.weight");
    at::Tensor head = loaded(*m, "lm_head.weight");
    EXPECT_TRUE(head.is_same(embed));
    for (const auto& w : written)
        if (w.name == "model.embed_tokens.weight") expect_bits(head, w);
}

// Every dtype a safetensors file may hold that LibTorch can take: same-dtype loads are bit-exact, real types
// convert to the model's F32 with exact values, and the types LibTorch 1.13 lacks (float8, unsigned 16/32/64)
// arrive as raw bits with a warning.
TEST(Load, EveryDtype) {
    const std::vector<std::string> dtypes = {"F32", "F64",  "F16",     "BF16",    "I64", "I32", "I16", "I8",
                                             "U8",  "BOOL", "F8_E4M3", "F8_E5M2", "U16", "U32", "U64"};
    temp_dir dir;
    mp::analysis a = tiny("float32", false);
    ASSERT_GE(a.sk.tensors.size(), dtypes.size());
    auto written = write_checkpoint(dir.path(), a, 2, [&](size_t i) { return dtypes[i % dtypes.size()]; });
    auto m = lt::instantiate_meta(a.sk);
    auto src = lt::open_checkpoint(dir.path().string());
    ASSERT_TRUE(src.ok()) << src.err().message;
    auto r = lt::load_weights(*m, a.sk, *src, {});
    ASSERT_TRUE(r.ok()) << r.err().message;
    // Kept as stored, bit for bit: on LibTorch 1.13 as raw bits (float8 as uint8, unsigned as the signed type
    // of the same width); float8 has its own types from 2.1 on, unsigned 16/32/64 from 2.3 on.
    std::map<std::string, at::ScalarType> raw_as = {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
        {"F8_E4M3", at::kFloat8_e4m3fn},
        {"F8_E5M2", at::kFloat8_e5m2  },
#else
        {"F8_E4M3", at::kByte},
        {"F8_E5M2", at::kByte},
#endif
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
        {"U16",     at::kUInt16       },
        {"U32",     at::kUInt32       },
        {"U64",     at::kUInt64       },
#else
        {"U16", at::kShort},
        {"U32", at::kInt},
        {"U64", at::kLong},
#endif
    };
    const bool some_raw = TORCH_VERSION_MAJOR < 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR < 3);
    size_t checked_raw = 0, checked_values = 0;
    for (const auto& w : written) {
        SCOPED_TRACE(w.name + " " + w.dtype);
        at::Tensor t = loaded(*m, w.name);
        ASSERT_FALSE(t.is_meta());
        if (raw_as.count(w.dtype)) {
            EXPECT_EQ(t.scalar_type(), raw_as[w.dtype]);
            expect_bits(t, w);
            ++checked_raw;
        } else if (w.dtype == "F32") {
            expect_bits(t, w);
        } else {
            ASSERT_EQ(t.scalar_type(), at::kFloat);
            ASSERT_EQ(static_cast<size_t>(t.numel()), w.values.size());
            const float* p = t.data_ptr<float>();
            for (size_t i = 0; i < w.values.size(); ++i)
                ASSERT_EQ(static_cast<double>(p[i]), w.values[i]) << i;
            ++checked_values;
        }
    }
    EXPECT_GT(checked_raw, 0u);
    EXPECT_GT(checked_values, 0u);
    bool warned = false;
    for (const auto& w : r->warnings) warned |= w.find("raw bits") != std::string::npos;
    EXPECT_EQ(warned, some_raw);
}

// --dtype: the model's dtype is F32, the checkpoint's BF16; values widen exactly.
TEST(Load, ConvertsToTheModelsDtype) {
    temp_dir dir;
    mp::analysis a = tiny("bfloat16", false, mp::dtype::f32);
    auto written = write_checkpoint(dir.path(), a, 1, [](size_t) { return "BF16"; });
    auto m = lt::instantiate_meta(a.sk);
    auto src = lt::open_checkpoint(dir.path().string());
    lt::load_options o;
    o.chunk_bytes = 4096;
    auto r = lt::load_weights(*m, a.sk, *src, o);
    ASSERT_TRUE(r.ok()) << r.err().message;
    EXPECT_EQ(r->tensors_converted, written.size());
    for (const auto& w : written) {
        at::Tensor t = loaded(*m, w.name);
        ASSERT_EQ(t.scalar_type(), at::kFloat);
        const float* p = t.data_ptr<float>();
        const uint16_t* bf = reinterpret_cast<const uint16_t*>(w.bytes.data());
        for (int64_t i = 0; i < t.numel(); ++i) {
            uint32_t bits = static_cast<uint32_t>(bf[i]) << 16; // BF16 is the top half of an F32
            ASSERT_EQ(f32_bits(p[i]), bits) << w.name << " " << i;
        }
    }
}

// And narrowing: F32 stored, BF16 model; the values are exact in BF16.
TEST(Load, NarrowsExactly) {
    temp_dir dir;
    mp::analysis a = tiny("bfloat16", false);
    auto written = write_checkpoint(dir.path(), a, 1, [](size_t) { return "F32"; });
    auto m = lt::instantiate_meta(a.sk);
    auto src = lt::open_checkpoint(dir.path().string());
    auto r = lt::load_weights(*m, a.sk, *src, {});
    ASSERT_TRUE(r.ok()) << r.err().message;
    for (const auto& w : written) {
        at::Tensor t = loaded(*m, w.name);
        ASSERT_EQ(t.scalar_type(), at::kBFloat16);
        const uint16_t* p = static_cast<const uint16_t*>(t.data_ptr());
        for (size_t i = 0; i < w.values.size(); ++i)
            ASSERT_EQ(p[i], static_cast<uint16_t>(f32_bits(static_cast<float>(w.values[i])) >> 16)) << i;
    }
}

TEST(Load, MmapAliasesTheFile) {
    temp_dir dir;
    mp::analysis a = tiny("bfloat16", false);
    auto written = write_checkpoint(dir.path(), a, 2, [](size_t) { return "BF16"; });
    auto m = lt::instantiate_meta(a.sk);
    auto src = lt::open_checkpoint(dir.path().string());
    lt::load_options o;
    o.mmap = true;
    auto r = lt::load_weights(*m, a.sk, *src, o);
    ASSERT_TRUE(r.ok()) << r.err().message;
    EXPECT_EQ(r->tensors_aliased, written.size());
    for (const auto& w : written) expect_bits(loaded(*m, w.name), w);
    // Writable copy-on-write: changing a tensor does not touch the file.
    at::Tensor t = loaded(*m, written[0].name);
    static_cast<char*>(t.data_ptr())[0] ^= 0x7f;
    auto again = lt::instantiate_meta(a.sk);
    auto r2 = lt::load_weights(*again, a.sk, *src, {});
    ASSERT_TRUE(r2.ok());
    expect_bits(loaded(*again, written[0].name), written[0]);
    // The mapping lives as long as a tensor aliases it: with the model destroyed and the files deleted, a
    // tensor kept by the caller still holds the data.
    at::Tensor kept = loaded(*m, written.back().name);
    *m = lt::meta_model();
    for (const auto& f : src->ck.files) fs::remove(dir.path() / f.name);
    expect_bits(kept, written.back());
}

TEST(Load, VerificationFailureAllocatesNothing) {
    temp_dir dir;
    mp::analysis a = tiny("bfloat16", false);
    write_checkpoint(dir.path(), a, 1, [](size_t) { return "BF16"; }, {"model.norm.weight"});
    auto m = lt::instantiate_meta(a.sk);
    auto src = lt::open_checkpoint(dir.path().string());
    ASSERT_TRUE(src.ok());
    count_allocations counting;
    auto r = lt::load_weights(*m, a.sk, *src, {});
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.err().message.find("model.norm.weight"), std::string::npos) << r.err().message;
    EXPECT_NE(r.err().message.find("missing"), std::string::npos) << r.err().message;
    EXPECT_EQ(counting.counter().allocations.load(), 0u);
    EXPECT_TRUE(all_meta(*m));
}

TEST(Load, ShapeMismatchAllocatesNothing) {
    temp_dir dir;
    mp::analysis a = tiny("bfloat16", false);
    // Written for a model with intermediate_size 256, loaded as one with 128.
    write_checkpoint(dir.path(), a, 1, [](size_t) { return "BF16"; });
    std::string config = tiny_llama("bfloat16", false);
    config.replace(config.find("\"intermediate_size\": 256"), 24, "\"intermediate_size\": 128");
    auto other = mp::analyze("tiny-128", config, {});
    ASSERT_TRUE(other.ok());
    auto m = lt::instantiate_meta(other->sk);
    auto src = lt::open_checkpoint(dir.path().string());
    count_allocations counting;
    auto r = lt::load_weights(*m, other->sk, *src, {});
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.err().message.find("mlp"), std::string::npos) << r.err().message;
    EXPECT_EQ(counting.counter().allocations.load(), 0u);
    EXPECT_TRUE(all_meta(*m));
}

TEST(Load, TruncatedShardMidLoadFailsCleanly) {
    temp_dir dir;
    mp::analysis a = tiny("bfloat16", false);
    auto written = write_checkpoint(dir.path(), a, 2, [](size_t) { return "BF16"; });
    auto src = lt::open_checkpoint(dir.path().string()); // headers read while the files are whole
    ASSERT_TRUE(src.ok());
    // Then the second shard loses the end of its data: its last tensor is cut in half.
    const mp::checkpoint_tensor* last = nullptr;
    for (const auto& t : src->ck.tensors)
        if (t.file == src->ck.files[1].name) last = &t;
    ASSERT_NE(last, nullptr);
    fs::resize_file(dir.path() / src->ck.files[1].name, last->begin + last->bytes() / 2);
    auto m = lt::instantiate_meta(a.sk);
    count_allocations counting;
    auto r = lt::load_weights(*m, a.sk, *src, {});
    ASSERT_FALSE(r.ok());
    const std::string& msg = r.err().message;
    EXPECT_NE(msg.find(src->ck.files[1].name), std::string::npos) << msg;
    EXPECT_NE(msg.find(last->name), std::string::npos) << msg;
    EXPECT_TRUE(all_meta(*m));
    EXPECT_GT(counting.counter().allocations.load(), 0u); // it did start
    EXPECT_EQ(counting.counter().live.load(), 0);         // and freed all of it
}

TEST(Load, DeviceMapPlacesEachParameter) {
    temp_dir dir;
    mp::analysis a = tiny("bfloat16", false);
    auto written = write_checkpoint(dir.path(), a, 1, [](size_t) { return "BF16"; });
    auto map =
        mp::parse_device_map(R"({"model.embed_tokens": "cpu", "model.layers": "cpu", "model.norm": "cpu",
                                        "lm_head": "disk"})");
    ASSERT_TRUE(map.ok()) << map.err().message;
    auto devices = mp::assign_devices(a.sk, *map);
    ASSERT_TRUE(devices.ok()) << devices.err().message;
    auto m = lt::instantiate_meta(a.sk);
    auto src = lt::open_checkpoint(dir.path().string());
    lt::load_options o;
    o.tensor_devices = *devices;
    auto r = lt::load_weights(*m, a.sk, *src, o);
    ASSERT_TRUE(r.ok()) << r.err().message;
    EXPECT_EQ(r->devices.at("disk").tensors, 1u);
    EXPECT_EQ(r->devices.at("cpu").tensors, written.size() - 1);
    EXPECT_TRUE(loaded(*m, "lm_head.weight").is_meta());
    for (const auto& w : written)
        if (w.name != "lm_head.weight") expect_bits(loaded(*m, w.name), w);
}

TEST(Load, CudaWithoutCudaFailsBeforeAllocating) {
    if (lt::built_with_cuda()) GTEST_SKIP() << "this build has CUDA; see Load.CudaRoundTrip";
    temp_dir dir;
    mp::analysis a = tiny("bfloat16", false);
    write_checkpoint(dir.path(), a, 1, [](size_t) { return "BF16"; });
    auto m = lt::instantiate_meta(a.sk);
    auto src = lt::open_checkpoint(dir.path().string());
    count_allocations counting;
    lt::load_options o;
    o.device = "cuda:0";
    auto r = lt::load_weights(*m, a.sk, *src, o);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.err().message.find("CUDA"), std::string::npos) << r.err().message;
    EXPECT_EQ(counting.counter().allocations.load(), 0u);
}

// On a machine with a GPU and a CUDA LibTorch: through the pinned staging ring, with and without conversion.
TEST(Load, CudaRoundTrip) {
    if (lt::cuda_device_count() == 0)
        GTEST_SKIP() << "NOT RUN: "
                     << (lt::built_with_cuda() ? "no CUDA device present" : "LibTorch without CUDA");
    temp_dir dir;
    // Parameters that require grad too (training): the device conversion must not copy_ into the leaf itself.
    for (int variant = 0; variant < 4; ++variant) {
        bool convert = variant & 1, grad = variant & 2;
        SCOPED_TRACE("convert " + std::to_string(convert) + ", requires_grad " + std::to_string(grad));
        mp::analysis a =
            tiny("bfloat16", false, convert ? std::optional<mp::dtype>(mp::dtype::f32) : std::nullopt);
        auto written = write_checkpoint(dir.path(), a, 2, [](size_t) { return "BF16"; });
        lt::meta_options mo;
        mo.requires_grad = grad;
        auto m = lt::instantiate_meta(a.sk, "Model", mo);
        auto src = lt::open_checkpoint(dir.path().string());
        lt::load_options o;
        o.device = "cuda";
        o.chunk_bytes = 4096;
        auto r = lt::load_weights(*m, a.sk, *src, o);
        ASSERT_TRUE(r.ok()) << r.err().message;
        for (const auto& w : written) {
            at::Tensor t = loaded(*m, w.name);
            ASSERT_TRUE(t.is_cuda());
            EXPECT_EQ(t.requires_grad(), grad);
            at::Tensor host = t.detach().cpu();
            if (!convert) {
                expect_bits(host, w);
            } else {
                const float* p = host.data_ptr<float>();
                const uint16_t* bf = reinterpret_cast<const uint16_t*>(w.bytes.data());
                for (int64_t i = 0; i < host.numel(); ++i)
                    ASSERT_EQ(f32_bits(p[i]), static_cast<uint32_t>(bf[i]) << 16);
            }
        }
    }
}

// ---- the CLI: modelplan instantiate / load ----------------------------------------------------------------

namespace {
struct run_result {
    int status;
    std::string out;
};
run_result run(const std::string& args) {
    std::string cmd = std::string(MODELPLAN_BIN) + " " + args + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    int status = ::pclose(p);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}
} // namespace

TEST(Cli, QuantizedCheckpointLoadsAsStoredAndSplitsAcrossRanks) {
    temp_dir dir;
    mp::analysis a = tiny("bfloat16", false);
    auto written = write_quantized(dir.path(), a, "gptq");
    std::ofstream(dir.path() / "config.json") << tiny_llama("bfloat16", false);
    auto r = run("load " + dir.path().string() + " --json");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("14 quantized weight(s) loaded as stored (14 gptq 4-bit (group 32))"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("\"tensors\": " + std::to_string(written.size())), std::string::npos) << r.out;
    // Split across two ranks: o_proj (row parallel, input 64) gives each rank 32 inputs, 4 rows of its
    // qweight [8, 64] (AutoGPTQ packs 8 4-bit inputs a word; vLLM's gptq.py cuts qweight along its packed
    // input dimension); tests/torch/distributed-test.cpp checks every member's bytes.
    auto split =
        run("load " + dir.path().string() + " --nproc 2 --device cpu --timeout 30 --checksums --json");
    ASSERT_EQ(split.status, 0) << split.out;
    EXPECT_NE(split.out.find("{\"name\": \"model.layers.0.self_attn.o_proj.qweight\", \"shape\": [4, 64], "
                             "\"dtype\": \"I32\""),
              std::string::npos)
        << split.out;
}

TEST(Cli, LoadReadsTheFoldersConfig) {
    temp_dir dir;
    mp::analysis a = tiny("bfloat16", false);
    auto written = write_checkpoint(dir.path(), a, 2, [](size_t) { return "BF16"; });
    std::ofstream(dir.path() / "config.json") << tiny_llama("bfloat16", false);
    uint64_t bytes = 0;
    for (const auto& w : written) bytes += w.bytes.size();
    auto r = run("load " + dir.path().string() + " --json --threads 2");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("\"tensors\": " + std::to_string(written.size()) + ","), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("\"bytes\": " + std::to_string(bytes) + ","), std::string::npos) << r.out;
    for (const char* key : {"\"seconds\"", "\"gb_per_s\"", "\"peak_rss_bytes\"", "\"devices\": {\"cpu\""})
        EXPECT_NE(r.out.find(key), std::string::npos) << key << "\n" << r.out;
    // A device map file: lm_head on "disk" stays on meta.
    std::ofstream(dir.path() / "map.json") << R"({"model": 0, "lm_head": "disk"})";
    auto mapped =
        run("load " + dir.path().string() + " --json --device-map " + (dir.path() / "map.json").string());
    // GPU 0 does not exist in a CPU-only build: refused before anything is allocated.
    if (!lt::built_with_cuda()) {
        EXPECT_EQ(mapped.status, 1) << mapped.out;
        EXPECT_NE(mapped.out.find("CUDA"), std::string::npos) << mapped.out;
    }
    std::ofstream(dir.path() / "map.json") << R"({"model": "cpu", "lm_head": "disk"})";
    mapped =
        run("load " + dir.path().string() + " --json --device-map " + (dir.path() / "map.json").string());
    ASSERT_EQ(mapped.status, 0) << mapped.out;
    EXPECT_NE(mapped.out.find("\"disk\": {\"tensors\": 1,"), std::string::npos) << mapped.out;
}

TEST(Cli, LoadRefusesAMismatchedCheckpoint) {
    temp_dir dir;
    mp::analysis a = tiny("bfloat16", false);
    write_checkpoint(dir.path(), a, 1, [](size_t) { return "BF16"; }, {"model.layers.1.mlp.up_proj.weight"});
    std::ofstream(dir.path() / "config.json") << tiny_llama("bfloat16", false);
    auto r = run("load " + dir.path().string());
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_NE(r.out.find("model.layers.1.mlp.up_proj.weight"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("nothing was loaded"), std::string::npos) << r.out;
}

TEST(Cli, InstantiateCountsLikeTheCore) {
    auto p = mp::find_preset("qwen3-30b-a3b");
    ASSERT_TRUE(p.ok());
    auto a = mp::analyze(p->name, p->config_json, {});
    ASSERT_TRUE(a.ok());
    auto r = run("instantiate qwen3-30b-a3b --json");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("\"parameters\": " + std::to_string(a->counts.total + a->counts.mtp) + ","),
              std::string::npos)
        << r.out;
    auto text = run("instantiate smollm2-135m");
    ASSERT_EQ(text.status, 0) << text.out;
    EXPECT_NE(text.out.find("tied: lm_head.weight is model.embed_tokens.weight"), std::string::npos)
        << text.out;
}

// A second load into the same model fills the tensors in place: same memory, the new checkpoint's bytes.
TEST(Load, ReloadFillsInPlace) {
    temp_dir first, second;
    mp::analysis a = tiny("bfloat16", false);
    auto old_data = write_checkpoint(first.path(), a, 1, [](size_t) { return "BF16"; });
    // Other values: F32 stored, so the second load also converts in place.
    auto new_data = write_checkpoint(second.path(), a, 2, [](size_t) { return "F32"; });
    auto m = lt::instantiate_meta(a.sk);
    auto r1 = lt::load_weights(*m, a.sk, *lt::open_checkpoint(first.path().string()), {});
    ASSERT_TRUE(r1.ok()) << r1.err().message;
    std::vector<void*> where;
    for (size_t i = 0; i < m->params.size(); ++i) where.push_back(m->slot(i).data_ptr());
    count_allocations counting;
    auto r2 = lt::load_weights(*m, a.sk, *lt::open_checkpoint(second.path().string()), {});
    ASSERT_TRUE(r2.ok()) << r2.err().message;
    EXPECT_EQ(r2->tensors_reused, m->params.size());
    EXPECT_EQ(counting.counter().live.load(), 0); // nothing new is held
    for (size_t i = 0; i < m->params.size(); ++i)
        EXPECT_EQ(m->slot(i).data_ptr(), where[i]) << m->params[i].name;
    for (const auto& w : new_data) {
        const uint16_t* p = static_cast<const uint16_t*>(loaded(*m, w.name).data_ptr());
        for (size_t i = 0; i < w.values.size(); ++i)
            ASSERT_EQ(p[i], static_cast<uint16_t>(f32_bits(static_cast<float>(w.values[i])) >> 16)) << w.name;
    }
}

TEST(Cli, DeviceMapAutoPlacesOnWhatIsPresent) {
    temp_dir dir;
    mp::analysis a = tiny("bfloat16", false);
    auto written = write_checkpoint(dir.path(), a, 1, [](size_t) { return "BF16"; });
    std::ofstream(dir.path() / "config.json") << tiny_llama("bfloat16", false);
    auto r = run("load " + dir.path().string() + " --json --device-map auto");
    ASSERT_EQ(r.status, 0) << r.out;
    // A 200 KiB model fits the first device the planner has: a GPU when one is present, else the CPU.
    std::string where = lt::cuda_device_count() > 0 ? "cuda:0" : "cpu";
    EXPECT_NE(r.out.find("\"" + where + "\": {\"tensors\": " + std::to_string(written.size()) + ","),
              std::string::npos)
        << r.out;
}

TEST(Load, ReportsProgressToTheEnd) {
    temp_dir dir;
    mp::analysis a = tiny("bfloat16", false);
    auto written = write_checkpoint(dir.path(), a, 1, [](size_t) { return "BF16"; });
    uint64_t bytes = 0;
    for (const auto& w : written) bytes += w.bytes.size();
    auto m = lt::instantiate_meta(a.sk);
    auto src = lt::open_checkpoint((dir.path() / "model.safetensors").string());
    ASSERT_TRUE(src.ok());
    std::vector<std::pair<uint64_t, uint64_t>> calls;
    lt::load_options o;
    o.progress = [&](uint64_t done, uint64_t total) { calls.emplace_back(done, total); };
    auto r = lt::load_weights(*m, a.sk, *src, o);
    ASSERT_TRUE(r.ok()) << r.err().message;
    ASSERT_FALSE(calls.empty());
    EXPECT_EQ(calls.back(), std::make_pair(bytes, bytes)); // the last call says all of it
    for (size_t i = 1; i < calls.size(); ++i) EXPECT_LE(calls[i - 1].first, calls[i].first);
}

TEST(Cli, SingleFileNeedsConfig) {
    temp_dir dir;
    mp::analysis a = tiny("bfloat16", false);
    write_checkpoint(dir.path(), a, 1, [](size_t) { return "BF16"; });
    std::string file = (dir.path() / "model.safetensors").string();
    auto none = run("load " + file);
    EXPECT_EQ(none.status, 2) << none.out;
    EXPECT_NE(none.out.find("--config"), std::string::npos) << none.out;
    std::ofstream(dir.path() / "tiny.json") << tiny_llama("bfloat16", false);
    auto ok = run("load " + file + " --config " + (dir.path() / "tiny.json").string() + " --json");
    EXPECT_EQ(ok.status, 0) << ok.out;
    EXPECT_NE(ok.out.find("\"tensors\": " + std::to_string(a.sk.tensors.size()) + ","), std::string::npos)
        << ok.out;
}

TEST(Cli, CpuAllocAndPrefaultOptions) {
    temp_dir dir;
    mp::analysis a = tiny("bfloat16", false);
    write_checkpoint(dir.path(), a, 1, [](size_t) { return "BF16"; });
    std::ofstream(dir.path() / "config.json") << tiny_llama("bfloat16", false);
    auto ok = run("load " + dir.path().string() + " --cpu-alloc arena --prefault --json");
    ASSERT_EQ(ok.status, 0) << ok.out;
    EXPECT_NE(ok.out.find("\"prefault_seconds\": "), std::string::npos) << ok.out;
    EXPECT_EQ(ok.out.find("\"prefault_seconds\": 0,"), std::string::npos) << ok.out; // it ran
    auto bad = run("load " + dir.path().string() + " --cpu-alloc pinned");
    EXPECT_EQ(bad.status, 2) << bad.out;
    EXPECT_NE(bad.out.find("--cpu-alloc: expected huge, plain or arena, got \"pinned\""), std::string::npos)
        << bad.out;
}

// ---- multi-token-prediction layers and device maps -------------------------------------------------------

namespace {
// A DeepSeek-V3-shaped model small enough to write: MLA attention, one dense layer, one MoE layer, and one
// multi-token-prediction layer (num_nextn_predict_layers), stored as model.layers.2 as DeepSeek-V3 stores
// its MTP layer as model.layers.61.
std::string tiny_deepseek() {
    return R"({"architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3", "hidden_size": 64,
        "intermediate_size": 128, "moe_intermediate_size": 32, "num_hidden_layers": 2, "first_k_dense_replace": 1,
        "n_routed_experts": 4, "n_shared_experts": 1, "num_experts_per_tok": 2, "moe_layer_freq": 1,
        "num_attention_heads": 4, "num_key_value_heads": 4, "q_lora_rank": 32, "kv_lora_rank": 16,
        "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 16, "vocab_size": 128,
        "max_position_embeddings": 256, "rms_norm_eps": 1e-6, "topk_method": "noaux_tc", "n_group": 1,
        "topk_group": 1, "num_nextn_predict_layers": 1, "tie_word_embeddings": false, "torch_dtype": "bfloat16"})";
}

// transformers' device map for it: its modules, which never include the MTP layer.
const char* transformers_map =
    R"({"model.embed_tokens": "cpu", "model.layers.0": "cpu", "model.layers.1": "cpu",
                                   "model.norm": "cpu", "lm_head": "cpu"})";

size_t count_prefixed(const std::vector<written_tensor>& written, const std::string& prefix) {
    size_t n = 0;
    for (const auto& w : written) n += w.name.rfind(prefix, 0) == 0;
    return n;
}
} // namespace

// `--device-map auto` plans the MTP layer too when the checkpoint stores it (the planner leaves MTP layers
// out unless asked, and assign_devices then found no entry for model.layers.2.*).
TEST(Cli, DeviceMapAutoLoadsMultiTokenPredictionLayers) {
    temp_dir dir;
    auto a = mp::analyze("tiny-deepseek", tiny_deepseek(), {});
    ASSERT_TRUE(a.ok()) << a.err().message;
    auto written = write_checkpoint(dir.path(), *a, 2, [](size_t) { return "BF16"; });
    size_t mtp = count_prefixed(written, "model.layers.2.");
    ASSERT_GT(mtp, 10u); // the MTP layer: attention, experts, and its own enorm/hnorm/eh_proj
    std::ofstream(dir.path() / "config.json") << tiny_deepseek();
    auto r = run("load " + dir.path().string() + " --json --device-map auto");
    ASSERT_EQ(r.status, 0) << r.out;
    std::string where = lt::cuda_device_count() > 0 ? "cuda:0" : "cpu";
    EXPECT_NE(r.out.find("\"" + where + "\": {\"tensors\": " + std::to_string(written.size()) + ","),
              std::string::npos)
        << r.out;
    EXPECT_EQ(r.out.find("\"meta\""), std::string::npos) << r.out;
}

// A device map as transformers writes it has no entry for the MTP layer: those tensors stay on meta, with a
// warning that says so; everything else loads where the map says.
TEST(Load, MapWithoutMultiTokenPredictionLeavesThemOnMeta) {
    temp_dir dir;
    auto a = mp::analyze("tiny-deepseek", tiny_deepseek(), {});
    ASSERT_TRUE(a.ok()) << a.err().message;
    // Each tensor stored as the model's dtype (the router's score bias is F32), so that loads are bit-exact.
    auto written = write_checkpoint(
        dir.path(), *a, 1, [&](size_t i) { return std::string(mp::dtype_name(a->sk.tensors[i].type)); });
    size_t mtp = count_prefixed(written, "model.layers.2.");
    auto map = mp::parse_device_map(transformers_map);
    ASSERT_TRUE(map.ok()) << map.err().message;
    auto devices = lt::devices_for_map(*a, *map);
    ASSERT_TRUE(devices.ok()) << devices.err().message;
    EXPECT_EQ(devices->unmapped.size(), mtp);
    ASSERT_EQ(devices->warnings.size(), 1u);
    EXPECT_NE(devices->warnings[0].find("model.layers.2"), std::string::npos) << devices->warnings[0];
    EXPECT_NE(devices->warnings[0].find("multi-token-prediction"), std::string::npos) << devices->warnings[0];
    auto m = lt::instantiate_meta(a->sk);
    auto src = lt::open_checkpoint(dir.path().string());
    ASSERT_TRUE(src.ok()) << src.err().message;
    EXPECT_TRUE(lt::stores_mtp_layers(*a, *src));
    lt::load_options o;
    o.tensor_devices = devices->devices;
    auto r = lt::load_weights(*m, a->sk, *src, o);
    ASSERT_TRUE(r.ok()) << r.err().message;
    EXPECT_EQ(r->devices.at("meta").tensors, mtp);
    EXPECT_EQ(r->devices.at("cpu").tensors, written.size() - mtp);
    for (const auto& w : written) {
        SCOPED_TRACE(w.name);
        if (w.name.rfind("model.layers.2.", 0) == 0)
            EXPECT_TRUE(loaded(*m, w.name).is_meta());
        else
            expect_bits(loaded(*m, w.name), w);
    }
    // The same through the CLI: loaded, with the warning.
    std::ofstream(dir.path() / "config.json") << tiny_deepseek();
    std::ofstream(dir.path() / "map.json") << transformers_map;
    auto cli =
        run("load " + dir.path().string() + " --json --device-map " + (dir.path() / "map.json").string());
    ASSERT_EQ(cli.status, 0) << cli.out;
    EXPECT_NE(cli.out.find("\"meta\": {\"tensors\": " + std::to_string(mtp) + ","), std::string::npos)
        << cli.out;
    EXPECT_NE(cli.out.find("warning: " + std::to_string(mtp) +
                           " tensor(s) of the multi-token-prediction layer(s) model.layers.2"),
              std::string::npos)
        << cli.out;
}

// Only MTP layers may be missing from a map: any other tensor that no entry covers is still an error naming
// it.
TEST(Load, MapMissingAnotherTensorFails) {
    auto a = mp::analyze("tiny-deepseek", tiny_deepseek(), {});
    ASSERT_TRUE(a.ok()) << a.err().message;
    auto map = mp::parse_device_map(
        R"({"model.embed_tokens": "cpu", "model.layers.0": "cpu", "model.layers.1": "cpu",
                                        "lm_head": "cpu"})");
    ASSERT_TRUE(map.ok());
    auto devices = lt::devices_for_map(*a, *map);
    ASSERT_FALSE(devices.ok());
    EXPECT_NE(devices.err().message.find("model.norm.weight"), std::string::npos) << devices.err().message;
    // And a map that names the MTP layer loads it where it says, without a warning.
    auto full = mp::parse_device_map(R"({"model": "cpu", "lm_head": "disk"})");
    ASSERT_TRUE(full.ok());
    auto all = lt::devices_for_map(*a, *full);
    ASSERT_TRUE(all.ok()) << all.err().message;
    EXPECT_TRUE(all->unmapped.empty());
    EXPECT_TRUE(all->warnings.empty());
    for (size_t i = 0; i < a->sk.tensors.size(); ++i)
        EXPECT_EQ(all->devices[i], a->sk.tensors[i].name == "lm_head.weight" ? "disk" : "cpu")
            << a->sk.tensors[i].name;
}

// ---- failure paths ----------------------------------------------------------------------------------------

// A progress callback that throws stops the load: an error, every parameter back on meta, nothing left
// allocated, and no exception out of load_weights (it used to escape with the tensors allocated).
TEST(Load, ThrowingProgressCallbackFailsCleanly) {
    temp_dir dir;
    mp::analysis a = tiny("bfloat16", false);
    write_checkpoint(dir.path(), a, 1, [](size_t) { return "BF16"; });
    auto m = lt::instantiate_meta(a.sk);
    auto src = lt::open_checkpoint(dir.path().string());
    ASSERT_TRUE(src.ok());
    count_allocations counting;
    lt::load_options o;
    o.progress = [](uint64_t, uint64_t) { throw std::runtime_error("stop here"); };
    mp::result<lt::load_report> r = mp::make_error(mp::error_code::internal, "not run");
    EXPECT_NO_THROW(r = lt::load_weights(*m, a.sk, *src, o));
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.err().message.find("stop here"), std::string::npos) << r.err().message;
    EXPECT_TRUE(all_meta(*m));
    EXPECT_EQ(counting.counter().live.load(), 0);
}

// ---- dtype conversion against LibTorch's own
// ----------------------------------------------------------------

namespace {
// F32 bit patterns that exercise rounding: halfway cases, subnormals, overflow to infinity, NaN, signed zero,
// then random bits (every exponent).
std::vector<uint32_t> hard_f32_bits(size_t n, uint64_t seed) {
    std::vector<uint32_t> v = {0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00001,
                               0x7f800001, 0x3f808000, 0x3f818000, 0x3f80c000, 0x3f800001, 0x477fe000,
                               0x477ff000, 0x47800000, 0x33800000, 0x33000000, 0x337fffff, 0x00000001,
                               0x807fffff, 0x7f7fffff, 0x387fc000, 0x38800000, 0x3effffff, 0x4b000001,
                               0xcf000000, 0x4f000000, 0xdf000000, 0x5f000000};
    std::mt19937 rng(static_cast<uint32_t>(seed));
    while (v.size() < n) v.push_back(rng());
    v.resize(n);
    return v;
}

// Bitwise equal, any NaN equal to any NaN.
void expect_same_values(const at::Tensor& got, const at::Tensor& want, const std::string& what) {
    ASSERT_EQ(got.scalar_type(), want.scalar_type()) << what;
    ASSERT_EQ(got.numel(), want.numel()) << what;
    at::Tensor g = got.contiguous(), w = want.contiguous();
    size_t es = static_cast<size_t>(g.element_size());
    at::Tensor gnan = g.isnan(), wnan = w.isnan();
    const bool* gn = gnan.data_ptr<bool>();
    const bool* wn = wnan.data_ptr<bool>();
    const char* gp = static_cast<const char*>(g.data_ptr());
    const char* wp = static_cast<const char*>(w.data_ptr());
    for (int64_t i = 0; i < g.numel(); ++i) {
        if (gn[i] || wn[i]) {
            ASSERT_EQ(gn[i], wn[i]) << what << " element " << i;
            continue;
        }
        ASSERT_EQ(std::memcmp(gp + i * es, wp + i * es, es), 0) << what << " element " << i;
    }
}
} // namespace

// Every floating pair the loader converts, on data with NaN, infinities, subnormals and halfway cases: the
// result equals LibTorch's own Tensor::to() of the stored tensor (an implementation apart from the loader's).
TEST(Load, FloatingConversionsEqualLibTorchs) {
    const std::vector<std::pair<std::string, at::ScalarType>> stored = {
        {"F32",  at::kFloat   },
        {"F64",  at::kDouble  },
        {"F16",  at::kHalf    },
        {"BF16", at::kBFloat16}
    };
    const std::vector<std::pair<std::string, mp::dtype>> models = {
        {"float32",  mp::dtype::f32 },
        {"float64",  mp::dtype::f64 },
        {"float16",  mp::dtype::f16 },
        {"bfloat16", mp::dtype::bf16}
    };
    for (const auto& [sname, stype] : stored) {
        temp_dir dir;
        mp::analysis base = tiny("float32", false);
        // Stored bytes: the hard F32 patterns, as F32 or cast to the stored type by LibTorch.
        std::vector<written_tensor> written;
        std::vector<at::Tensor> source;
        for (size_t i = 0; i < base.sk.tensors.size(); ++i) {
            const auto& t = base.sk.tensors[i];
            auto bits = hard_f32_bits(t.elements, i);
            at::Tensor f32 =
                at::from_blob(bits.data(), {static_cast<int64_t>(bits.size())}, at::kFloat).clone();
            at::Tensor s = f32.to(stype);
            written_tensor w{t.name,  sname,
                             t.shape, std::string(static_cast<const char*>(s.data_ptr()), s.nbytes()),
                             {},      false};
            written.push_back(std::move(w));
            source.push_back(s);
        }
        write_safetensors(dir.path() / "model.safetensors", written);
        for (const auto& [mname, mtype] : models) {
            SCOPED_TRACE(sname + " -> " + mname);
            mp::analysis a = tiny("float32", false, mtype);
            auto m = lt::instantiate_meta(a.sk);
            auto src = lt::open_checkpoint(dir.path().string());
            ASSERT_TRUE(src.ok()) << src.err().message;
            lt::load_options o;
            o.chunk_bytes = 4096;
            auto r = lt::load_weights(*m, a.sk, *src, o);
            ASSERT_TRUE(r.ok()) << r.err().message;
            for (size_t i = 0; i < written.size(); ++i) {
                at::Tensor t = loaded(*m, written[i].name);
                expect_same_values(t.reshape({-1}), source[i].to(t.scalar_type()), written[i].name);
            }
        }
    }
}

// Into an integer model: floating values saturate, NaN becomes 0 and fractions truncate toward zero (a plain
// cast of an out-of-range float is undefined behaviour); BOOL bytes other than 0 and 1 are true.
TEST(Load, ConversionsToIntegersSaturate) {
    mp::config_options o32;
    o32.weight_dtype = mp::dtype::i32;
    auto a = mp::analyze("tiny", tiny_llama("float32", false), o32);
    if (!a.ok()) GTEST_SKIP() << "the core has no integer-weight models: " << a.err().message;
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    const std::vector<float> in = {nan,   inf,    -inf, 3e9f, -3e9f, 2147483520.0f, -2147483648.0f,
                                   3.75f, -3.75f, 0.0f};
    const std::vector<int32_t> want = {0,          INT32_MAX, INT32_MIN, INT32_MAX, INT32_MIN,
                                       2147483520, INT32_MIN, 3,         -3,        0};
    temp_dir dir;
    std::vector<written_tensor> written;
    for (size_t i = 0; i < a->sk.tensors.size(); ++i) {
        const auto& t = a->sk.tensors[i];
        written_tensor w{t.name, i == 0 ? "BOOL" : "F32", t.shape, {}, {}, false};
        for (uint64_t k = 0; k < t.elements; ++k) {
            if (i == 0) {
                char b = static_cast<char>(k % 3); // 0, 1, 2
                w.bytes.push_back(b);
            } else {
                float f = in[k % in.size()];
                w.bytes.append(reinterpret_cast<const char*>(&f), 4);
            }
        }
        written.push_back(std::move(w));
    }
    write_safetensors(dir.path() / "model.safetensors", written);
    auto m = lt::instantiate_meta(a->sk);
    auto src = lt::open_checkpoint(dir.path().string());
    ASSERT_TRUE(src.ok()) << src.err().message;
    auto r = lt::load_weights(*m, a->sk, *src, {});
    ASSERT_TRUE(r.ok()) << r.err().message;
    for (size_t i = 0; i < written.size(); ++i) {
        at::Tensor t = loaded(*m, written[i].name);
        ASSERT_EQ(t.scalar_type(), at::kInt);
        const int32_t* p = t.data_ptr<int32_t>();
        for (int64_t k = 0; k < t.numel(); ++k)
            ASSERT_EQ(p[k], i == 0 ? (k % 3 ? 1 : 0) : want[static_cast<size_t>(k) % want.size()])
                << written[i].name << " element " << k;
    }
}

// ---- byte ranges a caller's checkpoint_source may hold ----------------------------------------------------

// open_checkpoint's parser refuses data outside the file, but checkpoint_source is a plain struct a caller
// may build or change: a range beyond the file, or one whose end wrapped past 2^64, is refused before
// anything is allocated, on the read path and the mapping path (which once mapped `begin` past the file's
// end).
TEST(Load, RangesOutsideTheFileAreRefusedBeforeAllocating) {
    temp_dir dir;
    mp::analysis a = tiny("bfloat16", false);
    write_checkpoint(dir.path(), a, 1, [](size_t) { return "BF16"; });
    auto clean = lt::open_checkpoint(dir.path().string());
    ASSERT_TRUE(clean.ok());
    const uint64_t file_bytes = clean->ck.files[0].size;
    for (bool mmap : {false, true}) {
        for (int variant = 0; variant < 2; ++variant) {
            SCOPED_TRACE(std::string(mmap ? "mmap" : "read") + (variant ? ", wrapped" : ", beyond"));
            lt::checkpoint_source src = *clean;
            mp::checkpoint_tensor& t = src.ck.tensors.back();
            uint64_t bytes = t.bytes();
            t.begin = variant ? ~uint64_t(0) - bytes / 2 + 1 : file_bytes + 4096; // wrapped: end < begin
            t.end = t.begin + bytes;
            auto m = lt::instantiate_meta(a.sk);
            count_allocations counting;
            lt::load_options o;
            o.mmap = mmap;
            auto r = lt::load_weights(*m, a.sk, src, o);
            ASSERT_FALSE(r.ok());
            EXPECT_NE(r.err().message.find(t.name), std::string::npos) << r.err().message;
            EXPECT_EQ(counting.counter().allocations.load(), 0u);
            EXPECT_TRUE(all_meta(*m));
        }
    }
}

// ---- short reads and EINTR
// ---------------------------------------------------------------------------------

namespace {
std::atomic<uint64_t> fake_calls{0}, fake_eintr{0}, fake_short{0};
// At most 1000 bytes a call, and every third call interrupted before reading anything.
ssize_t stingy_pread(int fd, void* buf, size_t count, off_t offset) {
    if (fake_calls++ % 3 == 1) {
        ++fake_eintr;
        errno = EINTR;
        return -1;
    }
    if (count > 1000) ++fake_short;
    return ::pread(fd, buf, std::min<size_t>(count, 1000), offset);
}
struct pread_replaced {
    explicit pread_replaced(lt::detail::pread_function f) { lt::detail::pread_hook = f; }
    ~pread_replaced() { lt::detail::pread_hook = &::pread; }
};
} // namespace

// Reads that return less than asked, or fail with EINTR, are retried until the chunk is whole: bit-exact, on
// the direct path and the converting one, with several threads.
TEST(Load, ShortReadsAndInterruptsAreRetried) {
    for (bool convert : {false, true}) {
        SCOPED_TRACE(convert);
        temp_dir dir;
        mp::analysis a =
            tiny("bfloat16", false, convert ? std::optional<mp::dtype>(mp::dtype::f32) : std::nullopt);
        auto written = write_checkpoint(dir.path(), a, 2, [](size_t) { return "BF16"; });
        auto m = lt::instantiate_meta(a.sk);
        auto src = lt::open_checkpoint(dir.path().string());
        ASSERT_TRUE(src.ok());
        lt::load_options o;
        o.threads = 3;
        o.chunk_bytes = 8192;
        fake_calls = fake_eintr = fake_short = 0;
        pread_replaced replaced(&stingy_pread);
        auto r = lt::load_weights(*m, a.sk, *src, o);
        ASSERT_TRUE(r.ok()) << r.err().message;
        EXPECT_GT(fake_eintr.load(), 10u);
        EXPECT_GT(fake_short.load(), 10u);
        for (const auto& w : written) {
            at::Tensor t = loaded(*m, w.name);
            if (!convert) {
                expect_bits(t, w);
                continue;
            }
            const float* p = t.data_ptr<float>();
            const uint16_t* bf = reinterpret_cast<const uint16_t*>(w.bytes.data());
            for (int64_t i = 0; i < t.numel(); ++i)
                ASSERT_EQ(f32_bits(p[i]), static_cast<uint32_t>(bf[i]) << 16) << w.name << " " << i;
        }
    }
}

// The case this was found on: DeepSeek-V3 (61 layers and the MTP layer model.layers.61) with the device map
// transformers' from_pretrained(device_map=...) writes, which lists model.layers.0 to model.layers.60 only.
TEST(Load, DeepSeekV3TransformersMapLeavesLayer61OnMeta) {
    auto p = mp::find_preset("deepseek-v3");
    ASSERT_TRUE(p.ok());
    auto a = mp::analyze(p->name, p->config_json, {});
    ASSERT_TRUE(a.ok());
    std::string json = R"({"model.embed_tokens": 0, )";
    for (int l = 0; l < 61; ++l)
        json += "\"model.layers." + std::to_string(l) + "\": " + std::to_string(l / 8) + ", ";
    json += R"("model.norm": 7, "lm_head": 7})";
    auto map = mp::parse_device_map(json);
    ASSERT_TRUE(map.ok()) << map.err().message;
    ASSERT_FALSE(
        mp::assign_devices(a->sk, *map).ok()); // the core alone: "no entry covers ... model.layers.61..."
    auto t0 = std::chrono::steady_clock::now();
    auto devices = lt::devices_for_map(*a, *map);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_TRUE(devices.ok()) << devices.err().message;
    EXPECT_LT(seconds, 2.0);
    size_t layer61 = 0;
    for (size_t i = 0; i < a->sk.tensors.size(); ++i) {
        const std::string& name = a->sk.tensors[i].name;
        bool mtp = name.rfind("model.layers.61.", 0) == 0;
        layer61 += mtp;
        if (mtp)
            EXPECT_EQ(devices->devices[i], "meta") << name;
        else if (name.rfind("model.layers.60.", 0) == 0 || name == "lm_head.weight")
            EXPECT_EQ(devices->devices[i], "cuda:7") << name;
    }
    EXPECT_GT(layer61, 700u); // 256 experts x 3 projections, attention, norms, eh_proj, ...
    EXPECT_EQ(devices->unmapped.size(), layer61);
    ASSERT_EQ(devices->warnings.size(), 1u);
    EXPECT_NE(devices->warnings[0].find("model.layers.61"), std::string::npos) << devices->warnings[0];
}
