// Training plans (core/src/plan/training.cpp): their items, the ZeRO paper's model-state geometry,
// Korthikanti et al.'s activation formula, LoRA/QLoRA adapters, warnings and errors. The published figures
// (ZeRO's per-GPU model states, transformers' memory anatomy guide, QLoRA's GPUs, the paper's 70% saving) are
// checked in tests/data/reference/memory-figures.tsv by tests/core/accuracy.cpp and shown in
// docs/accuracy.md. Formulas and sources: docs/training.md; the measurements are quoted in
// models/SOURCES-MEASUREMENTS.md.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "modelplan/quantization.h"
#include "modelplan/training.h"
#include "test-util.h"

namespace modelplan {
namespace {

using test::analyze_preset;
using test::bytes_of;
using test::edit_key;
using test::find_item;
using test::preset_config;

analysis analyze_config(const std::string& name, const std::string& config) {
    auto a = analyze(name, config, {});
    if (!a.ok()) ADD_FAILURE() << name << ": " << a.err().message;
    return a.ok() ? std::move(*a) : analysis{};
}

// A preset's config with several keys replaced.
std::string edited(const std::string& preset, const std::vector<std::pair<const char*, std::string>>& keys) {
    std::string config = preset_config(preset);
    for (const auto& [key, value] : keys) config = edit_key(config, key, value);
    return config;
}

std::string input(const plan_item* item, const std::string& name) {
    if (item)
        for (const plan_input& in : item->inputs)
            if (in.name == name) return in.value;
    return "";
}

std::vector<std::string> names(const std::vector<plan_item>& items) {
    std::vector<std::string> out;
    for (const plan_item& item : items) out.push_back(item.name);
    return out;
}

plan_item weights_of(const analysis& a, const workload& w) {
    auto weights = plan_weights(a, w);
    EXPECT_TRUE(weights.ok());
    return weights.ok() ? *weights : plan_item{};
}

workload training() {
    workload w;
    w.mode = plan_mode::training;
    return w;
}

// Model states per GPU (weights, fp32 masters, gradients, optimizer states), ZeRO stage 3 sharding the
// weights too.
uint64_t model_states(const analysis& a, const workload& w) {
    plan_item weights = weights_of(a, w);
    auto items = plan_training(a, w);
    EXPECT_TRUE(items.ok()) << (items.ok() ? "" : items.err().message);
    if (!items.ok()) return 0;
    const plan_item* master = find_item(*items, "master_weights"); // absent for fp32 weights
    return sharded_weights(w, weights).bytes + (master ? master->bytes : 0) + bytes_of(*items, "gradients") +
           bytes_of(*items, "optimizer_states");
}

TEST(TrainingPlan, ItemsInOrder) {
    analysis a = analyze_preset("llama-3.2-1b");
    workload w = training();
    auto full = plan_training(a, w);
    ASSERT_TRUE(full.ok());
    EXPECT_EQ(names(*full),
              (std::vector<std::string>{"master_weights", "gradients", "optimizer_states", "activations"}));
    w.method = train_method::lora;
    auto lora = plan_training(a, w);
    ASSERT_TRUE(lora.ok());
    EXPECT_EQ(names(*lora),
              (std::vector<std::string>{"gradients", "optimizer_states", "lora_adapters", "activations"}));
}

// ZeRO paper (Rajbhandari et al. 2019, arXiv 1910.02054, Figure 1): Psi = 7.5B parameters. Its per-GPU model
// states (120 / 31.4 / 16.6 / 1.9 GB) are checked in tests/data/reference/memory-figures.tsv on a Llama-2-7B
// geometry with 36 layers, scaled per parameter to exactly 7.5B: scaling is sound because that geometry is
// 7.5B to within 1.3%.
TEST(TrainingPlan, ZeroPaperGeometry) {
    analysis a = analyze_config("llama-7.5b", edited("llama-2-7b", {
                                                                       {"num_hidden_layers", "36"}
    }));
    EXPECT_GT(a.counts.total, 7.4e9);
    EXPECT_LT(a.counts.total, 7.6e9);
}

TEST(TrainingPlan, ZeroWithOneGpuWarns) {
    analysis a = analyze_preset("llama-3.2-1b");
    workload w = training();
    uint64_t plain = model_states(a, w);
    w.zero_stage = 3;
    EXPECT_EQ(model_states(a, w), plain);
    auto items = plan_training(a, w);
    ASSERT_TRUE(items.ok());
    EXPECT_NE(input(find_item(*items, "optimizer_states"), "warning").find("shards nothing"),
              std::string::npos);
}

// Optimizer offload (ZeRO-Offload): master weights and optimizer states leave the GPU.
TEST(TrainingPlan, OffloadMovesOptimizerToCpu) {
    analysis a = analyze_preset("llama-3.2-1b");
    workload w = training();
    auto on_gpu = plan_training(a, w);
    w.offload_optimizer = true;
    auto offloaded = plan_training(a, w);
    ASSERT_TRUE(on_gpu.ok() && offloaded.ok());
    EXPECT_EQ(bytes_of(*offloaded, "optimizer_states"), 0u);
    EXPECT_EQ(bytes_of(*offloaded, "master_weights"), 0u);
    EXPECT_EQ(input(find_item(*offloaded, "optimizer_states"), "device"), "cpu");
    EXPECT_EQ(input(find_item(*offloaded, "optimizer_states"), "cpu_bytes"),
              std::to_string(bytes_of(*on_gpu, "optimizer_states")));
    EXPECT_EQ(bytes_of(*offloaded, "gradients"), bytes_of(*on_gpu, "gradients"));
}

// transformers' "Model memory anatomy" guide (docs/source/en/model_memory_anatomy.md), bert-large-uncased:
// its bytes per parameter (16 for fp32 AdamW training; optimizer 8 for AdamW, 2 for 8-bit AdamW, 4 for SGD
// with momentum) and its measurement are checked in tests/data/reference/memory-figures.tsv. Here: the
// guide's fp32 premise, and Adafactor, for which it gives no figure.
TEST(TrainingPlan, MemoryAnatomyBytesPerParameter) {
    const std::string bert_large = edited("bert-base-uncased", {
                                                                   {"hidden_size",         "1024"},
                                                                   {"num_hidden_layers",   "24"  },
                                                                   {"num_attention_heads", "16"  },
                                                                   {"intermediate_size",   "4096"}
    });
    analysis a = analyze_config("bert-large-uncased", bert_large);
    ASSERT_EQ(a.spec.weight_dtype, dtype::f32); // no torch_dtype: fp32, as the guide trains it
    workload w = training();
    double p = double(a.counts.total);
    auto optimizer_per_param = [&](optimizer_kind k) {
        workload wk = w;
        wk.optimizer = k;
        auto items = plan_training(a, wk);
        EXPECT_TRUE(items.ok());
        return items.ok() ? double(bytes_of(*items, "optimizer_states")) / p : 0.0;
    };
    // Adafactor's factored second moments are a small fraction of AdamW's 8 bytes (no published figure; the
    // bound follows from (rows + columns) << rows x columns for BERT's 1024 x 4096 matrices).
    EXPECT_LT(optimizer_per_param(optimizer_kind::adafactor), 0.1);
}

// Korthikanti et al. 2022 ("Reducing Activation Recomputation in Large Transformer Models"), eq. 1: a GPT
// layer stores sbh(34 + 5as/h) bytes in 16-bit without recomputation; selective recomputation 34sbh; full
// recomputation keeps the layer input, 2sbh. Checked exactly on GPT-3 175B's geometry (h 12288, a 96, L 96,
// s 2048; the paper's Table 3), batch 1. The paper's "70%" saving for GPT-3 is checked in
// tests/data/reference/memory-figures.tsv (selective_saving).
TEST(TrainingPlan, KorthikantiActivations) {
    const std::string gpt3 = edited("gpt2", {
                                                {"n_embd",      "12288"      },
                                                {"n_head",      "96"         },
                                                {"n_layer",     "96"         },
                                                {"n_positions", "2048"       },
                                                {"torch_dtype", "\"float16\""}
    });
    analysis a = analyze_config("gpt3-175b", gpt3);
    const uint64_t s = 2048, b = 1, h = 12288, heads = 96, L = 96;
    workload w = training();
    w.batch = b;
    w.seq = s;
    w.attention = attention_impl::eager;
    auto layer_bytes = [&](recompute_kind r) {
        workload wr = w;
        wr.recompute = r;
        auto items = plan_training(a, wr);
        EXPECT_TRUE(items.ok());
        const plan_item* act = items.ok() ? find_item(*items, "activations") : nullptr;
        EXPECT_EQ(input(act, "layers"), std::to_string(L));
        return std::stoull(input(act, "layer_bytes"));
    };
    uint64_t none = layer_bytes(recompute_kind::none);
    uint64_t selective = layer_bytes(recompute_kind::selective);
    EXPECT_EQ(none, s * b * h * 34 + 5 * heads * s * s * b);
    EXPECT_EQ(selective, s * b * h * 34);
    EXPECT_EQ(layer_bytes(recompute_kind::full), 2 * s * b * h);
}

// Activations with FlashAttention (sdpa) keep no s^2 term: selective recomputation changes nothing.
TEST(TrainingPlan, SdpaKeepsNoScores) {
    analysis a = analyze_preset("llama-3.1-8b");
    workload w = training();
    w.seq = 4096;
    auto none = plan_training(a, w);
    w.recompute = recompute_kind::selective;
    auto selective = plan_training(a, w);
    ASSERT_TRUE(none.ok() && selective.ok());
    EXPECT_EQ(bytes_of(*none, "activations"), bytes_of(*selective, "activations"));
}

// QLoRA on LLaMA-65B and 33B (the LLaMA paper's Table 2: 65B d 8192, 64 heads, 80 layers; 33B d 6656, 52
// heads, 60 layers; FFN 22016 / 17920 as in the converted checkpoints), workload as the qlora.py defaults:
// batch 1, 1024 source + 256 target tokens, paged_adamw_32bit, gradient checkpointing, LoRA r = 64 on every
// linear layer of the blocks (the paper's setting). That the plans fit the published GPUs (48 GB, 24 GB) is
// checked in tests/data/reference/memory-figures.tsv; here, the paged optimizer and the adapters' size.
TEST(TrainingPlan, QloraAdaptersAndPagedOptimizer) {
    struct case_t {
        const char* name;
        std::vector<std::pair<const char*, std::string>> keys;
    } cases[] = {
        {"llama-65b",
         {{"hidden_size", "8192"},
          {"num_hidden_layers", "80"},
          {"num_attention_heads", "64"},
          {"num_key_value_heads", "64"},
          {"intermediate_size", "22016"},
          {"torch_dtype", "\"bfloat16\""}}},
        {"llama-33b",
         {{"hidden_size", "6656"},
          {"num_hidden_layers", "60"},
          {"num_attention_heads", "52"},
          {"num_key_value_heads", "52"},
          {"intermediate_size", "17920"},
          {"torch_dtype", "\"bfloat16\""}}},
    };
    for (const auto& c : cases) {
        analysis a = analyze_config(c.name, edited("llama-2-7b", c.keys));
        workload w = training();
        w.method = train_method::qlora;
        w.quant = "nf4";
        w.lora_rank = 64;
        w.lora_targets = {"attn_q", "attn_k", "attn_v", "attn_o", "ffn_gate", "ffn_up", "ffn_down"};
        w.batch = 1;
        w.seq = 1024 + 256;
        w.recompute = recompute_kind::full;
        auto items = plan_training(a, w);
        ASSERT_TRUE(items.ok()) << items.err().message;
        EXPECT_EQ(input(find_item(*items, "optimizer_states"), "paged"), "true");
        // LoRA r x (in + out) for each of the 7 matrices of each layer.
        const uint64_t h = a.spec.hidden, f = a.spec.intermediate, r = 64;
        uint64_t per_layer = 4 * r * (h + h) + 2 * r * (h + f) + r * (f + h);
        EXPECT_EQ(input(find_item(*items, "lora_adapters"), "adapter_parameters"),
                  std::to_string(per_layer * a.spec.n_layers));
    }
}

// LoRA: adapters r x (in + out) in the compute dtype; gradients and fp32 AdamW states for them only.
TEST(TrainingPlan, LoraDefaultTargets) {
    analysis a = analyze_preset("llama-3.1-8b"); // q 4096x4096, k/v 1024x4096, o 4096x4096, 32 layers
    workload w = training();
    w.method = train_method::lora;
    w.lora_rank = 16;
    auto items = plan_training(a, w);
    ASSERT_TRUE(items.ok());
    const uint64_t adapters = 32 * 16 * ((4096 + 4096) * 2 + (4096 + 1024) * 2);
    EXPECT_EQ(bytes_of(*items, "lora_adapters"), adapters * 2);
    EXPECT_EQ(bytes_of(*items, "gradients"), adapters * 2);
    EXPECT_EQ(bytes_of(*items, "optimizer_states"), adapters * 8);
    EXPECT_EQ(find_item(*items, "master_weights"), nullptr);
}

TEST(TrainingPlan, QloraWithoutQuantWarns) {
    analysis a = analyze_preset("llama-3.2-1b");
    workload w = training();
    w.method = train_method::qlora;
    auto items = plan_training(a, w);
    ASSERT_TRUE(items.ok());
    EXPECT_NE(input(find_item(*items, "lora_adapters"), "warning").find("nf4"), std::string::npos);
}

TEST(TrainingPlan, Errors) {
    analysis a = analyze_preset("llama-3.2-1b");
    workload w = training();
    w.method = train_method::lora;
    w.lora_rank = 0;
    auto zero_rank = plan_training(a, w);
    ASSERT_FALSE(zero_rank.ok());
    EXPECT_EQ(zero_rank.err().path, "lora_rank");

    w.lora_rank = 8;
    w.lora_targets = {"attn_q", "q_proj"};
    auto unknown = plan_training(a, w);
    ASSERT_FALSE(unknown.ok());
    EXPECT_EQ(unknown.err().path, "lora_targets");
    EXPECT_NE(unknown.err().message.find("\"q_proj\""), std::string::npos);
    EXPECT_NE(unknown.err().message.find("attn_q, attn_k, attn_v, attn_o"), std::string::npos);
    EXPECT_NE(unknown.err().message.find("ffn_down"), std::string::npos);

    w.lora_targets = {"attn_qkv"}; // a known role this model has no matrices for
    auto absent = plan_training(a, w);
    ASSERT_FALSE(absent.ok());
    EXPECT_NE(absent.err().message.find("\"attn_qkv\""), std::string::npos);

    // A fused-QKV model gets its fused projection by default (PEFT's query_key_value for Falcon).
    analysis falcon = analyze_preset("falcon-7b-instruct");
    workload wf = training();
    wf.method = train_method::lora;
    auto fused = plan_training(falcon, wf);
    ASSERT_TRUE(fused.ok()) << fused.err().message;
    EXPECT_NE(input(find_item(*fused, "lora_adapters"), "targets").find("attn_qkv"), std::string::npos);
}

// Saturating arithmetic: an absurd workload reports UINT64_MAX rather than wrapping.
TEST(TrainingPlan, HugeWorkloadSaturates) {
    analysis a = analyze_preset("llama-3.1-8b");
    workload w = training();
    w.batch = uint64_t(1) << 40;
    w.seq = uint64_t(1) << 30;
    auto items = plan_training(a, w);
    ASSERT_TRUE(items.ok());
    EXPECT_EQ(bytes_of(*items, "activations"), UINT64_MAX);
}

} // namespace
} // namespace modelplan
