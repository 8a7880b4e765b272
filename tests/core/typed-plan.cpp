// The typed side of plans: the spec's accessors for facts several stages use (MLA widths, MTP layers), the
// memory plan's breakdown that placement and parallel plans read, and the typed bytes of each placed device.
// The named items stay presentation; these tests check the two sides tell the same story.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "modelplan/placement.h"
#include "modelplan/training.h"
#include "test-util.h"

namespace modelplan {
namespace {

using test::analyze_preset;

const plan_item* find_item(const memory_plan& p, const std::string& name) {
    for (const plan_item& item : p.items)
        if (item.name == name) return &item;
    return nullptr;
}

uint64_t item_bytes(const memory_plan& p, const std::string& name) {
    const plan_item* item = find_item(p, name);
    return item ? item->bytes : 0;
}

uint64_t placed_bytes(const std::vector<placed_item>& items, const std::string& name) {
    for (const placed_item& item : items)
        if (item.name == name) return item.bytes;
    return 0;
}

const tensor_info* find_tensor(const analysis& a, const std::string& name) {
    for (const tensor_info& t : a.sk.tensors)
        if (t.name == name) return &t;
    return nullptr;
}

// DeepSeek-V3's checkpoint (tests/data/deepseek-v3.tensors.tsv, a header dump of DeepSeek-R1, which shares
// its config and layout; tests/data/SOURCES-*.md): q_b_proj [24576, 1536], kv_a_proj_with_mqa [576, 7168],
// kv_b_proj [32768, 512], o_proj [7168, 16384].
TEST(typed_plan, mla_widths_match_deepseek_v3_checkpoint_shapes) {
    analysis a = analyze_preset("deepseek-v3");
    EXPECT_TRUE(a.spec.has_mla());
    EXPECT_EQ(a.spec.mla_q_dim(), 24576u);
    EXPECT_EQ(a.spec.mla_kv_latent_dim(), 576u);
    EXPECT_EQ(a.spec.mla_kv_b_dim(), 32768u);
    EXPECT_EQ(a.spec.mla_v_dim(), 16384u);
    EXPECT_FALSE(analyze_preset("llama-3.1-8b").spec.has_mla());
}

// The same checkpoint: layers 0-60 are the model, layer 61 holds the multi-token-prediction module (eh_proj,
// enorm, hnorm, shared_head), loaded only for speculative decoding.
TEST(typed_plan, deepseek_v3_layer_61_is_the_mtp_layer) {
    analysis a = analyze_preset("deepseek-v3");
    EXPECT_FALSE(a.spec.is_mtp_layer(60));
    EXPECT_TRUE(a.spec.is_mtp_layer(61));
    EXPECT_FALSE(a.spec.is_mtp_layer(62)); // past the layers
    const tensor_info* eh_proj = find_tensor(a, "model.layers.61.eh_proj.weight");
    const tensor_info* head = find_tensor(a, "lm_head.weight");
    ASSERT_NE(eh_proj, nullptr);
    ASSERT_NE(head, nullptr);
    EXPECT_TRUE(in_mtp_layer(a.spec, *eh_proj));
    EXPECT_FALSE(in_mtp_layer(a.spec, *head));
    workload w;
    EXPECT_FALSE(loads_tensor(a.spec, w, *eh_proj));
    EXPECT_TRUE(loads_tensor(a.spec, w, *head));
    EXPECT_FALSE(loads_layer(a.spec, w, 61));
    w.include_mtp = true;
    EXPECT_TRUE(loads_tensor(a.spec, w, *eh_proj));
    EXPECT_TRUE(loads_layer(a.spec, w, 61));
}

// Every preset, inference: the typed figures are the named items' bytes.
TEST(typed_plan, inference_breakdown_matches_the_items) {
    for (const preset& pr : presets()) {
        analysis a = analyze_preset(pr.name);
        workload w;
        w.attention = attention_impl::eager;
        auto p = plan_memory(a, w);
        ASSERT_TRUE(p.ok()) << pr.name << ": " << p.err().message;
        const memory_breakdown& b = p->bytes;
        EXPECT_EQ(b.weights, item_bytes(*p, "weights")) << pr.name;
        EXPECT_EQ(b.unsharded_weights, b.weights) << pr.name;
        EXPECT_EQ(b.kv_cache, item_bytes(*p, "kv_cache")) << pr.name;
        EXPECT_EQ(b.activations, item_bytes(*p, "activations")) << pr.name;
        EXPECT_EQ(b.overhead, item_bytes(*p, "overhead")) << pr.name;
        EXPECT_EQ(b.activations,
                  b.forward.residual + std::max(b.forward.attention, b.forward.ffn) + b.forward.logits)
            << pr.name;
        EXPECT_EQ(b.recurrent_state, item_bytes(*p, "recurrent_state")) << pr.name;
        EXPECT_EQ(b.weights + b.kv_cache + b.recurrent_state + b.activations + b.overhead, p->total_bytes)
            << pr.name;
        uint64_t by_layer = 0;
        for (uint64_t bytes : p->kv_bytes_by_layer) by_layer += bytes;
        EXPECT_EQ(by_layer, b.kv_cache) << pr.name;
        EXPECT_EQ(b.training.gradients, 0u) << pr.name;
    }
}

// Training with ZeRO-3 over 4 GPUs and offload: the typed figures are the items' bytes, masters and optimizer
// states off the GPU and counted as offloaded.
TEST(typed_plan, training_breakdown_matches_the_items) {
    analysis a = analyze_preset("llama-3.2-1b");
    workload w;
    w.mode = plan_mode::training;
    w.zero_stage = 3;
    w.gpus = 4;
    w.offload_optimizer = true;
    auto p = plan_memory(a, w);
    ASSERT_TRUE(p.ok()) << p.err().message;
    const memory_breakdown& b = p->bytes;
    const training_memory& t = b.training;
    EXPECT_EQ(b.weights, item_bytes(*p, "weights"));
    EXPECT_EQ(b.weights, (b.unsharded_weights + 3) / 4); // ZeRO stage 3 divides the weights, rounded up
    EXPECT_EQ(b.kv_cache, 0u);
    EXPECT_EQ(t.master_weights, 0u);
    EXPECT_EQ(t.optimizer_states, 0u);
    EXPECT_EQ(t.master_weights, item_bytes(*p, "master_weights"));
    EXPECT_EQ(t.gradients, item_bytes(*p, "gradients"));
    EXPECT_EQ(t.optimizer_states, item_bytes(*p, "optimizer_states"));
    EXPECT_GT(t.offloaded_bytes, 0u);
    EXPECT_EQ(b.activations, item_bytes(*p, "activations"));
    EXPECT_EQ(b.activations, t.layer_activations + t.recomputed_layer + t.head_inputs + t.loss);
    EXPECT_EQ(t.trainable_parameters, a.counts.total);
    EXPECT_EQ(b.weights + t.gradients + b.activations + b.overhead, p->total_bytes);

    w.method = train_method::lora;
    auto lora = plan_memory(a, w);
    ASSERT_TRUE(lora.ok()) << lora.err().message;
    EXPECT_EQ(lora->bytes.training.lora_adapters, item_bytes(*lora, "lora_adapters"));
    EXPECT_GT(lora->bytes.training.lora_adapters, 0u);
}

// FlashAttention keeps only the log-sum-exp, as SDPA's flash backend does; the plan names what was asked.
TEST(typed_plan, training_names_flash_attention) {
    analysis a = analyze_preset("llama-3.2-1b");
    workload w;
    w.mode = plan_mode::training;
    ASSERT_FALSE(set_workload_option(w, "attention", "flash", "attention"));
    auto p = plan_memory(a, w);
    ASSERT_TRUE(p.ok()) << p.err().message;
    const plan_item* act = find_item(*p, "activations");
    ASSERT_NE(act, nullptr);
    std::string attention;
    for (const plan_input& in : act->inputs)
        if (in.name == "attention") attention = in.value;
    EXPECT_EQ(attention, "flash");
}

// Choice names parse back to the same choice.
TEST(typed_plan, choice_names_round_trip) {
    for (attention_impl c : {attention_impl::sdpa, attention_impl::eager, attention_impl::flash}) {
        workload w;
        ASSERT_FALSE(set_workload_option(w, "attention", attention_name(c), "attention"));
        EXPECT_EQ(w.attention, c);
    }
    for (optimizer_kind c : {optimizer_kind::adamw, optimizer_kind::adamw_8bit, optimizer_kind::sgd_momentum,
                             optimizer_kind::adafactor}) {
        workload w;
        ASSERT_FALSE(set_workload_option(w, "optimizer", optimizer_name(c), "optimizer"));
        EXPECT_EQ(w.optimizer, c);
    }
    for (recompute_kind c : {recompute_kind::none, recompute_kind::selective, recompute_kind::full}) {
        workload w;
        ASSERT_FALSE(set_workload_option(w, "recompute", recompute_name(c), "recompute"));
        EXPECT_EQ(w.recompute, c);
    }
    for (train_method c : {train_method::full, train_method::lora, train_method::qlora}) {
        workload w;
        ASSERT_FALSE(set_workload_option(w, "method", method_name(c), "method"));
        EXPECT_EQ(w.method, c);
    }
}

// Core errors name the request's field in the message and the path, not a command-line flag.
TEST(typed_plan, errors_name_request_fields) {
    analysis a = analyze_preset("llama-3.1-8b");
    workload w;
    auto training = place_model(a,
                                [] {
                                    workload t;
                                    t.mode = plan_mode::training;
                                    return t;
                                }(),
                                *parse_devices("cuda:0=24GiB"), {});
    ASSERT_FALSE(training.ok());
    EXPECT_EQ(training.err().path, "mode");
    EXPECT_EQ(training.err().message.find("--"), std::string::npos) << training.err().message;

    place_options experts;
    experts.experts_on_cpu = true;
    auto no_cpu = place_model(a, w, *parse_devices("cuda:0=24GiB"), experts);
    ASSERT_FALSE(no_cpu.ok());
    EXPECT_EQ(no_cpu.err().path, "experts_on_cpu");
    EXPECT_EQ(no_cpu.err().message.rfind("experts_on_cpu: ", 0), 0u) << no_cpu.err().message;
    EXPECT_EQ(no_cpu.err().message.find("--"), std::string::npos) << no_cpu.err().message;

    auto stages = plan_parallel(a, w, 1, 64, {});
    ASSERT_FALSE(stages.ok());
    EXPECT_EQ(stages.err().path, "pp");
    EXPECT_EQ(stages.err().message.rfind("pp: ", 0), 0u) << stages.err().message;

    auto ranks = plan_parallel(a, w, 2, 2, *parse_devices("cuda:0=80GiB,cuda:1=80GiB"));
    ASSERT_FALSE(ranks.ok());
    EXPECT_EQ(ranks.err().path, "devices");
    EXPECT_EQ(ranks.err().message.find("--"), std::string::npos) << ranks.err().message;
}

// Placement and parallel ranks: the typed bytes of each device are its items' bytes.
TEST(typed_plan, placed_devices_carry_typed_bytes) {
    analysis a = analyze_preset("llama-3.1-8b");
    workload w;
    w.seq = 8192;
    auto p = place_model(a, w, *parse_devices("cuda:0=8GiB,cuda:1=4GiB,cpu=64GiB"), {});
    ASSERT_TRUE(p.ok()) << p.err().message;
    uint64_t logits_total = 0;
    for (const device_placement& d : p->devices) {
        const held_bytes& h = d.bytes;
        EXPECT_EQ(h.weights, placed_bytes(d.items, "weights")) << d.device.name;
        EXPECT_EQ(h.kv_cache, placed_bytes(d.items, "kv_cache")) << d.device.name;
        EXPECT_EQ(h.activations, placed_bytes(d.items, "activations")) << d.device.name;
        EXPECT_EQ(h.logits, placed_bytes(d.items, "logits")) << d.device.name;
        EXPECT_EQ(h.offload_buffer, placed_bytes(d.items, "offload_buffer")) << d.device.name;
        EXPECT_EQ(h.overhead, placed_bytes(d.items, "overhead")) << d.device.name;
        EXPECT_EQ(h.weights + h.kv_cache + h.activations + h.logits + h.offload_buffer + h.overhead,
                  d.total_bytes)
            << d.device.name;
        logits_total += h.logits;
    }
    EXPECT_EQ(logits_total, p->plan.bytes.forward.logits); // paid once, where the head runs

    auto par = plan_parallel(a, w, 2, 2, {});
    ASSERT_TRUE(par.ok()) << par.err().message;
    for (const parallel_rank& r : par->ranks) {
        const held_bytes& h = r.bytes;
        EXPECT_EQ(h.weights + h.kv_cache + h.activations + h.logits + h.rope_cache + h.overhead,
                  r.total_bytes);
        EXPECT_EQ(h.logits, placed_bytes(r.items, "logits"));
        EXPECT_EQ(h.activations, placed_bytes(r.items, "activations"));
    }
}

} // namespace
} // namespace modelplan
