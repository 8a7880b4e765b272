// The streaming loader (native/torch/load.h) on small generated checkpoints: round trips for every supported
// dtype, single-file and sharded, tied weights, dtype conversion, mmap aliasing, device maps; bit-exact against
// the bytes written here; verification failures that allocate nothing; a shard truncated mid-load.
#include <gtest/gtest.h>

#include <c10/core/CPUAllocator.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include <sys/wait.h>
#include <unistd.h>

#include "checkpoint-writer.h"
#include "modelplan/device-map.h"
#include "modelplan/libtorch/load.h"
#include "modelplan/libtorch/meta.h"
#include "modelplan/presets.h"
#include "modelplan/report.h"

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
float value_at(uint64_t i, uint64_t seed) { return static_cast<float>(static_cast<int64_t>((i * 7 + seed) % 64) - 32) / 8.0f; }
int64_t int_at(uint64_t i, uint64_t seed) { return static_cast<int64_t>((i * 13 + seed) % 100) - 50; }

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
    std::string bytes;                // exactly what the file holds
    std::vector<double> values;       // the values, for types that are converted
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

class temp_dir {
  public:
    temp_dir() {
        static int n = 0;
        path_ = fs::temp_directory_path() / ("modelplan-torch-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
        fs::remove_all(path_);
        fs::create_directories(path_);
    }
    ~temp_dir() { fs::remove_all(path_); }
    const fs::path& path() const { return path_; }

  private:
    fs::path path_;
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
                                             all.begin() + static_cast<long>(std::min(all.size(), (s + 1) * per)));
            std::string file = "model-0000" + std::to_string(s + 1) + "-of-0000" + std::to_string(shards) + ".safetensors";
            write_safetensors(dir / file, part);
            for (const auto& t : part) weight_map += (weight_map.empty() ? "" : ",") + ("\"" + t.name + "\":\"" + file + "\"");
        }
        std::ofstream(dir / "model.safetensors.index.json") << "{\"metadata\":{},\"weight_map\":{" << weight_map << "}}";
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
    c10::DataPtr allocate(size_t n) const override {
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
    count_allocations() : base_(c10::GetCPUAllocator()), counter_(base_) { c10::SetCPUAllocator(&counter_, 100); }
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
        for (const auto& item : m->root->named_parameters(true)) EXPECT_FALSE(item.value().is_meta()) << item.key();
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
    const std::vector<std::string> dtypes = {"F32", "F64", "F16", "BF16", "I64", "I32", "I16", "I8",
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
    std::map<std::string, at::ScalarType> raw_as = {{"F8_E4M3", at::kByte}, {"F8_E5M2", at::kByte},
                                                    {"U16", at::kShort},    {"U32", at::kInt},
                                                    {"U64", at::kLong}};
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
            for (size_t i = 0; i < w.values.size(); ++i) ASSERT_EQ(static_cast<double>(p[i]), w.values[i]) << i;
            ++checked_values;
        }
    }
    EXPECT_GT(checked_raw, 0u);
    EXPECT_GT(checked_values, 0u);
    bool warned = false;
    for (const auto& w : r->warnings) warned |= w.find("raw bits") != std::string::npos;
    EXPECT_TRUE(warned);
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
    auto map = mp::parse_device_map(R"({"model.embed_tokens": "cpu", "model.layers": "cpu", "model.norm": "cpu",
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
        GTEST_SKIP() << "NOT RUN: " << (lt::built_with_cuda() ? "no CUDA device present" : "LibTorch without CUDA");
    temp_dir dir;
    for (bool convert : {false, true}) {
        SCOPED_TRACE(convert);
        mp::analysis a = tiny("bfloat16", false, convert ? std::optional<mp::dtype>(mp::dtype::f32) : std::nullopt);
        auto written = write_checkpoint(dir.path(), a, 2, [](size_t) { return "BF16"; });
        auto m = lt::instantiate_meta(a.sk);
        auto src = lt::open_checkpoint(dir.path().string());
        lt::load_options o;
        o.device = "cuda";
        o.chunk_bytes = 4096;
        auto r = lt::load_weights(*m, a.sk, *src, o);
        ASSERT_TRUE(r.ok()) << r.err().message;
        for (const auto& w : written) {
            at::Tensor t = loaded(*m, w.name);
            ASSERT_TRUE(t.is_cuda());
            at::Tensor host = t.cpu();
            if (!convert) {
                expect_bits(host, w);
            } else {
                const float* p = host.data_ptr<float>();
                const uint16_t* bf = reinterpret_cast<const uint16_t*>(w.bytes.data());
                for (int64_t i = 0; i < host.numel(); ++i) ASSERT_EQ(f32_bits(p[i]), static_cast<uint32_t>(bf[i]) << 16);
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
    auto mapped = run("load " + dir.path().string() + " --json --device-map " + (dir.path() / "map.json").string());
    // GPU 0 does not exist in a CPU-only build: refused before anything is allocated.
    if (!lt::built_with_cuda()) {
        EXPECT_EQ(mapped.status, 1) << mapped.out;
        EXPECT_NE(mapped.out.find("CUDA"), std::string::npos) << mapped.out;
    }
    std::ofstream(dir.path() / "map.json") << R"({"model": "cpu", "lm_head": "disk"})";
    mapped = run("load " + dir.path().string() + " --json --device-map " + (dir.path() / "map.json").string());
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
    EXPECT_NE(r.out.find("\"parameters\": " + std::to_string(a->counts.total + a->counts.mtp) + ","), std::string::npos)
        << r.out;
    auto text = run("instantiate smollm2-135m");
    ASSERT_EQ(text.status, 0) << text.out;
    EXPECT_NE(text.out.find("tied: lm_head.weight is model.embed_tokens.weight"), std::string::npos) << text.out;
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
    for (size_t i = 0; i < m->params.size(); ++i) EXPECT_EQ(m->slot(i).data_ptr(), where[i]) << m->params[i].name;
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
    EXPECT_NE(r.out.find("\"" + where + "\": {\"tensors\": " + std::to_string(written.size()) + ","), std::string::npos)
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
    EXPECT_NE(ok.out.find("\"tensors\": " + std::to_string(a.sk.tensors.size()) + ","), std::string::npos) << ok.out;
}
