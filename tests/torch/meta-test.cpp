// Meta instantiation (native/torch/meta.h): for every preset, the module tree's named_parameters() are the
// core skeleton's tensors (names, shapes, dtypes) and its count is the core count; the largest presets
// build with no weight memory and quickly.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <map>

#include <time.h>

#include <torch/version.h>

#include "modelplan/libtorch/load.h"
#include "modelplan/libtorch/meta.h"
#include "modelplan/presets.h"
#include "modelplan/report.h"

namespace mp = modelplan;
namespace lt = modelplan::libtorch;

namespace {

// The torch dtype each safetensors dtype name should become (on LibTorch 1.13 float8 is held as raw bytes),
// written here apart from the adapter's own table.
at::ScalarType expected_type(const std::string& safetensors_name) {
    static const std::map<std::string, at::ScalarType> types = {
        {"F32",     at::kFloat        },
        {"F16",     at::kHalf         },
        {"BF16",    at::kBFloat16     },
        {"F64",     at::kDouble       },
        {"I8",      at::kChar         },
        {"U8",      at::kByte         },
        {"I32",     at::kInt          },
        {"I64",     at::kLong         },
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
        {"BOOL",    at::kBool         },
        {"F8_E4M3", at::kFloat8_e4m3fn},
        {"F8_E5M2", at::kFloat8_e5m2  }, // LibTorch 2.1+
#else
        {"BOOL", at::kBool},
        {"F8_E4M3", at::kByte},
        {"F8_E5M2", at::kByte},
#endif
    };
    return types.at(safetensors_name);
}

double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

mp::analysis analyze_preset(const mp::preset& p) {
    auto a = mp::analyze(p.name, p.config_json, {});
    EXPECT_TRUE(a.ok()) << p.name;
    return std::move(*a);
}

} // namespace

TEST(Meta, EveryPresetMatchesTheCoreSkeleton) {
    ASSERT_GE(mp::presets().size(), 40u);
    for (const mp::preset& p : mp::presets()) {
        SCOPED_TRACE(p.name);
        mp::analysis a = analyze_preset(p);
        auto m = lt::instantiate_meta(a.sk, a.spec.architecture);
        ASSERT_TRUE(m.ok()) << m.err().message;
        auto named = m->root->named_parameters(/*recurse=*/true);
        ASSERT_EQ(named.size(), a.sk.tensors.size());
        // By name: torch lists a module's own parameters before its children's, so its order differs from the
        // checkpoint's where a module holds both (MiniMax-M2's block_sparse_moe.e_score_correction_bias after
        // block_sparse_moe.gate.weight in the published index).
        std::map<std::string, at::Tensor> by_name;
        for (const auto& item : named) by_name.emplace(item.key(), item.value());
        ASSERT_EQ(by_name.size(), named.size()) << "a name listed twice";
        uint64_t count = 0;
        for (size_t i = 0; i < a.sk.tensors.size(); ++i) {
            const mp::tensor_info& t = a.sk.tensors[i];
            auto found = by_name.find(t.name);
            ASSERT_NE(found, by_name.end()) << t.name << " is not a parameter of the module tree";
            const at::Tensor& v = found->second;
            ASSERT_TRUE(v.is_meta()) << t.name;
            ASSERT_EQ(static_cast<size_t>(v.dim()), t.shape.size()) << t.name;
            for (size_t d = 0; d < t.shape.size(); ++d)
                ASSERT_EQ(static_cast<uint64_t>(v.size(d)), t.shape[d]) << t.name;
            ASSERT_EQ(v.scalar_type(), expected_type(mp::dtype_name(t.type))) << t.name;
            count += static_cast<uint64_t>(v.numel());
        }
        // The core counts tied weights once and multi-token-prediction layers apart.
        EXPECT_EQ(count, a.counts.total + a.counts.mtp);
        // Tied aliases are the same tensor as their target and not a second parameter.
        for (const mp::tensor_alias& al : a.sk.aliases) {
            int64_t i = m->find(al.name);
            ASSERT_GE(i, 0) << al.name;
            EXPECT_EQ(m->params[static_cast<size_t>(i)].name, al.target);
        }
        auto sd = m->state_dict();
        EXPECT_EQ(sd.size(), a.sk.tensors.size() + a.sk.aliases.size());
        std::map<std::string, const at::TensorImpl*> impl;
        for (const auto& [name, t] : sd) impl[name] = t.unsafeGetTensorImpl();
        for (const mp::tensor_alias& al : a.sk.aliases)
            EXPECT_EQ(impl.at(al.name), impl.at(al.target)) << al.name;
        // Buffers are meta buffers of the tree.
        EXPECT_EQ(m->root->named_buffers(true).size(), a.sk.buffers.size());
    }
}

TEST(Meta, TiedEmbeddingIsOneTensor) {
    // SmolLM2-135M ties lm_head.weight to the embedding (its config.json: "tie_word_embeddings": true).
    auto p = mp::find_preset("smollm2-135m");
    ASSERT_TRUE(p.ok());
    mp::analysis a = analyze_preset(*p);
    auto m = lt::instantiate_meta(a.sk, a.spec.architecture);
    ASSERT_TRUE(m.ok());
    ASSERT_EQ(m->aliases.size(), 1u);
    EXPECT_EQ(m->aliases[0].first, "lm_head.weight");
    for (const auto& item : m->root->named_parameters(true)) EXPECT_NE(item.key(), "lm_head.weight");
    auto sd = m->state_dict();
    at::Tensor lm, embed;
    for (const auto& [n, t] : sd) {
        if (n == "lm_head.weight") lm = t;
        if (n == "model.embed_tokens.weight") embed = t;
    }
    ASSERT_TRUE(lm.defined() && embed.defined());
    EXPECT_TRUE(lm.is_same(embed));
}

// The largest presets: no weight memory (resident memory grows by far less than one layer's weights) and
// well under a second.
TEST(Meta, LargestPresetsBuildWithoutWeightMemory) {
    for (const char* name : {"llama-3.1-405b", "deepseek-v3"}) {
        SCOPED_TRACE(name);
        auto p = mp::find_preset(name);
        ASSERT_TRUE(p.ok());
        mp::analysis a = analyze_preset(*p);
        uint64_t before = lt::rss_bytes();
        auto t0 = std::chrono::steady_clock::now();
        double cpu0 = thread_cpu_seconds();
        auto m = lt::instantiate_meta(a.sk, a.spec.architecture);
        // CPU time of this thread: the build is single-threaded, and wall time on a shared machine is not its
        // own.
        double cpu = thread_cpu_seconds() - cpu0;
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        uint64_t after = lt::rss_bytes();
        ASSERT_TRUE(m.ok());
        uint64_t delta = after > before ? after - before : 0;
        std::printf(
            "  %s: %zu tensors, %llu parameters, %llu modules, built in %.3f s (%.3f s of CPU), resident "
            "memory +%.1f MiB (weights: %.1f GiB)\n",
            name, m->params.size(), static_cast<unsigned long long>(m->parameter_count()),
            static_cast<unsigned long long>(m->modules), seconds, cpu, delta / 1048576.0,
            a.counts.weight_bytes / 1073741824.0);
        EXPECT_GT(a.counts.weight_bytes, 700ull << 30); // both need hundreds of GiB of real weights
        EXPECT_LT(delta, 256ull << 20);                 // metadata only
        EXPECT_LT(cpu, 1.0);
        for (size_t i = 0; i < m->params.size(); ++i) ASSERT_TRUE(m->slot(i).is_meta());
    }
}

TEST(Meta, TreeMirrorsTheNames) {
    auto p = mp::find_preset("llama-3.1-8b");
    ASSERT_TRUE(p.ok());
    mp::analysis a = analyze_preset(*p);
    auto m = lt::instantiate_meta(a.sk, a.spec.architecture);
    ASSERT_TRUE(m.ok());
    // model.layers.3.self_attn.q_proj holds "weight" as its own parameter.
    std::shared_ptr<torch::nn::Module> node = m->root;
    for (const char* part : {"model", "layers", "3", "self_attn", "q_proj"}) {
        auto children = node->named_children();
        ASSERT_TRUE(children.contains(part)) << part;
        node = children[part];
    }
    auto own = node->named_parameters(false);
    ASSERT_EQ(own.size(), 1u);
    EXPECT_EQ(own.begin()->key(), "weight");
    // Llama-3.1-8B q_proj: [4096, 4096] (hidden 4096, 32 heads x 128).
    EXPECT_EQ(own.begin()->value().sizes(), at::IntArrayRef({4096, 4096}));
    std::string summary = lt::tree_summary(*m);
    EXPECT_NE(summary.find("0..31  ×32"), std::string::npos) << summary;
}
