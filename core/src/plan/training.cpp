// Training memory: master weights, gradients, optimizer states, LoRA adapters and training activations, with
// ZeRO/FSDP sharding and optimizer offload. Formulas and sources: docs/training.md.
#include "modelplan/training.h"
#include "modelplan/text.h"
#include "util/saturating.h"
#include "util/text-internal.h"

#include <algorithm>
#include <array>
#include <optional>

namespace modelplan {

namespace {

using sat::add;
using sat::ceil_div;
using sat::mul;

// bitsandbytes 8-bit optimizers: tensors below min_8bit_size (4096 elements) keep 32-bit states; larger ones
// store each of the two states in 1 byte per element plus one fp32 absmax per block of 2048 elements.
constexpr uint64_t bnb_min_8bit_size = 4096;
constexpr uint64_t bnb_block = 2048;

// Optimizer-state bytes of one trainable tensor of `shape` (fp32 states; masters are a separate item).
uint64_t optimizer_bytes(optimizer_kind k, const std::vector<uint64_t>& shape, uint64_t elements) {
    switch (k) {
    case optimizer_kind::adamw: return mul(elements, 8); // exp_avg and exp_avg_sq in fp32
    case optimizer_kind::adamw_8bit:
        if (elements < bnb_min_8bit_size) return mul(elements, 8);
        return add(mul(elements, 2), mul(2 * 4, ceil_div(elements, bnb_block)));
    case optimizer_kind::sgd_momentum: return mul(elements, 4); // momentum_buffer in fp32
    case optimizer_kind::adafactor: {
        // transformers' Adafactor (beta1 None by default: no first moment). Factored second moment for
        // tensors of 2 or more dimensions: a row statistic of shape[:-1] and a column one of
        // shape[:-2] + shape[-1:]; unfactored (full exp_avg_sq) for 1-D tensors.
        if (shape.size() < 2) return mul(elements, 4);
        uint64_t rows = 1, lead = 1;
        for (size_t i = 0; i + 1 < shape.size(); ++i) rows = mul(rows, shape[i]);
        for (size_t i = 0; i + 2 < shape.size(); ++i) lead = mul(lead, shape[i]);
        return mul(add(rows, mul(lead, shape.back())), 4);
    }
    }
    return 0;
}

// Roles LoRA may target: those with at least one 2-D weight matrix in the model.
std::vector<role> matrix_roles(const analysis& a) {
    std::array<bool, role_count> seen{};
    for (const tensor_info& t : a.sk.tensors)
        if (t.shape.size() == 2) seen[static_cast<int>(t.what)] = true;
    std::vector<role> roles;
    for (int r = 0; r < role_count; ++r)
        if (seen[r]) roles.push_back(static_cast<role>(r));
    return roles;
}

std::string role_list(const std::vector<role>& roles) {
    std::string list;
    for (role r : roles) list += (list.empty() ? "" : ", ") + std::string(role_name(r));
    return list;
}

// The roles the adapters attach to: the workload's list, or PEFT's attention defaults present in the model.
result<std::vector<role>> lora_roles(const analysis& a, const workload& w) {
    std::vector<role> present = matrix_roles(a);
    auto has = [&](role r) { return std::find(present.begin(), present.end(), r) != present.end(); };
    std::vector<role> roles;
    if (w.lora_targets.empty()) {
        for (role r : {role::attn_q, role::attn_k, role::attn_v, role::attn_o, role::attn_qkv})
            if (has(r)) roles.push_back(r);
        if (roles.empty())
            return make_error(error_code::bad_request,
                              "lora_targets: the model has none of the default roles attn_q, attn_k, attn_v, "
                              "attn_o, attn_qkv; roles present: " +
                                  role_list(present),
                              "lora_targets");
        return roles;
    }
    for (const std::string& name : w.lora_targets) {
        int found = -1;
        for (int r = 0; r < role_count; ++r)
            if (found < 0 && name == role_name(static_cast<role>(r))) found = r;
        if (found < 0 || !has(static_cast<role>(found)))
            return make_error(error_code::bad_request,
                              "lora_targets: " + quote_value(name) +
                                  " is not a role with weight matrices in this model; " +
                                  "roles present: " + role_list(present),
                              "lora_targets");
        if (std::find(roles.begin(), roles.end(), static_cast<role>(found)) == roles.end())
            roles.push_back(static_cast<role>(found));
    }
    return roles;
}

// Activation bytes stored for the backward pass by one layer with nothing recomputed, and the part of it
// that selective recomputation drops (the attention score terms), generalizing Korthikanti et al. 2022's
// sbh(34 + 5as/h) (docs/training.md).
struct layer_activations {
    uint64_t stored = 0; // no recomputation
    uint64_t scores = 0; // the a*s^2 terms within `stored` (selective recomputation drops them)
    uint64_t input = 0;  // the layer input (all that full recomputation keeps)
};

struct layer_ffn {
    bool gated = false;
    bool moe = false;
};

layer_activations layer_bytes(const analysis& a, const workload& w, uint64_t il, uint64_t seq, uint64_t e,
                              const layer_ffn& ffn) {
    const model_spec& spec = a.spec;
    uint64_t tokens = mul(w.batch, seq); // s x b
    uint64_t h = spec.hidden;
    uint64_t q = spec.q_dim(), k = spec.kv_dim(), v = spec.kv_dim(), o_in = spec.q_dim(), latents = 0;
    if (spec.layer(il).attn == attn_kind::mla) {
        q = k = spec.mla_q_dim();
        v = o_in = spec.mla_v_dim();
        latents = add(spec.q_lora_rank, spec.mla_kv_latent_dim()); // down-projection outputs
    }
    // Per token, in elements of the compute dtype (Korthikanti's 2-byte terms) and in bytes (1-byte masks).
    uint64_t elems = 0;
    elems = add(elems, mul(2, h)); // the two norms' inputs (4sbh in 16-bit)
    elems = add(elems, h);         // the q/k/v projections' shared input (2sbh)
    elems = add(elems, add(q, k)); // Q and K for QK^T (4sbh)
    elems = add(elems, v);         // V for attention over values (2sbh)
    elems = add(elems, o_in);      // the output projection's input (2sbh)
    elems = add(elems, latents);   // MLA latents (q_a, kv_a outputs)
    uint64_t masks = h;            // attention-output dropout mask, 1 byte (sbh)
    uint64_t f = spec.intermediate, width = f;
    if (ffn.moe) width = add(mul(spec.n_experts_per_tok, spec.expert_intermediate), spec.shared_intermediate);
    elems = add(elems, h); // the FFN's input (2sbh)
    // GELU MLP: activation input and the down projection's input (8sbh + 8sbh for f = 4h). Gated (SwiGLU)
    // in eager PyTorch: gate output, up output, act(gate) and the product.
    elems = add(elems, mul(ffn.gated ? 4 : 2, width));
    if (ffn.moe) elems = add(elems, spec.n_experts); // router logits
    masks = add(masks, h);                           // FFN-output dropout mask (sbh)
    layer_activations out;
    out.stored = add(mul(mul(tokens, elems), e), mul(tokens, masks));
    out.input = mul(mul(tokens, h), e);
    if (w.attention == attention_impl::eager) {
        // softmax output (e bytes), its dropout mask (1 byte) and the dropout output (e bytes): 5as^2b
        uint64_t scores = mul(mul(mul(w.batch, spec.n_heads), mul(seq, seq)), add(mul(2, e), 1));
        out.scores = scores;
    } else {
        // FlashAttention/SDPA keeps only the fp32 log-sum-exp per head and row; scores are recomputed.
        out.stored = add(out.stored, mul(mul(tokens, spec.n_heads), 4));
    }
    out.stored = add(out.stored, out.scores);
    return out;
}

// What the ZeRO stage divides among the GPUs, and the inputs every sharded item shows.
struct sharding {
    uint32_t zero_stage = 0;
    uint64_t gpus = 1;
    std::string warning; // ZeRO with one GPU shards nothing

    explicit sharding(const workload& w) : zero_stage(w.zero_stage), gpus(w.gpus) {
        if (zero_stage > 0 && gpus == 1)
            warning = "ZeRO stage " + num(zero_stage) + " with gpus 1 shards nothing";
    }
    uint64_t shard(uint64_t bytes, uint32_t from_stage) const {
        return zero_stage >= from_stage ? ceil_div(bytes, gpus) : bytes;
    }
    void describe(plan_item& item, uint32_t from_stage) const {
        item.inputs.push_back({"zero_stage", num(zero_stage)});
        item.inputs.push_back({"gpus", num(gpus)});
        item.inputs.push_back({"sharded", zero_stage >= from_stage && gpus > 1 ? "true" : "false"});
        if (!warning.empty()) item.inputs.push_back({"warning", warning});
    }
};

// Figures every training item draws on.
struct training_setup {
    workload w; // with the default lengths filled in
    dtype weight_type;
    dtype act;      // compute dtype of gradients, adapters and activations
    uint64_t e = 0; // its bytes
    bool lora = false;
    sharding shards;
};

// The trainable tensors: every loaded weight (full fine-tuning) or the adapters' A (r x in) and B (out x r)
// on each targeted matrix.
struct trainable_set {
    std::vector<role> targets; // LoRA/QLoRA: the roles adapted
    uint64_t parameters = 0;
    uint64_t optimizer_bytes = 0; // before sharding
    uint64_t adapted_matrices = 0;
};

std::optional<error> check_training_workload(const model_spec& spec, const workload& w) {
    if (w.batch == 0)
        return make_error(error_code::out_of_range, "batch must be a positive integer, got 0", "batch");
    if (w.gpus == 0)
        return make_error(error_code::out_of_range, "gpus must be a positive integer, got 0", "gpus");
    if (w.zero_stage > 3)
        return make_error(error_code::out_of_range, "zero must be 0, 1, 2 or 3, got " + num(w.zero_stage),
                          "zero");
    if (w.method != train_method::full && w.lora_rank == 0)
        return make_error(error_code::out_of_range, "lora_rank must be a positive integer, got 0",
                          "lora_rank");
    // An adapter's rank past the model's width has more parameters than the matrix it adapts: nonsense.
    if (w.method != train_method::full && w.lora_rank > spec.hidden)
        return make_error(error_code::out_of_range,
                          "lora_rank (" + num(w.lora_rank) + ") exceeds hidden_size (" + num(spec.hidden) +
                              "); an adapter's rank is at most the width of the matrices it adapts",
                          "lora_rank");
    return std::nullopt;
}

training_setup setup_training(const model_spec& spec, const workload& w_in) {
    workload w = w_in;
    if (w.seq == 0) w.seq = default_seq(spec);
    if (w.encoder_seq == 0)
        w.encoder_seq = spec.audio_positions ? spec.audio_positions : w.seq; // Whisper: frames
    dtype act = compute_dtype(spec.weight_dtype);
    return {w, spec.weight_dtype, act, dtype_bytes(act), w.method != train_method::full, sharding(w)};
}

result<trainable_set> count_trainable(const analysis& a, const training_setup& s) {
    const workload& w = s.w;
    trainable_set out;
    if (s.lora) {
        auto roles = lora_roles(a, w);
        if (!roles) return roles.err();
        out.targets = std::move(*roles);
    }
    for (const tensor_info& t : a.sk.tensors) {
        if (!loads_tensor(a.spec, w, t)) continue;
        if (!s.lora) {
            out.parameters = add(out.parameters, t.elements);
            out.optimizer_bytes = add(out.optimizer_bytes, optimizer_bytes(w.optimizer, t.shape, t.elements));
            continue;
        }
        if (t.shape.size() != 2 ||
            std::find(out.targets.begin(), out.targets.end(), t.what) == out.targets.end())
            continue;
        uint64_t rows = t.shape[0], cols = t.shape[1], r = w.lora_rank;
        out.parameters = add(out.parameters, mul(r, add(cols, rows)));
        out.optimizer_bytes = add(out.optimizer_bytes, optimizer_bytes(w.optimizer, {r, cols}, mul(r, cols)));
        out.optimizer_bytes = add(out.optimizer_bytes, optimizer_bytes(w.optimizer, {rows, r}, mul(rows, r)));
        ++out.adapted_matrices;
    }
    return out;
}

// Bytes that offload moves to CPU memory: 0 on the GPU, the bytes as inputs "device" and "cpu_bytes".
uint64_t on_gpu_unless_offloaded(const workload& w, plan_item& item, uint64_t bytes, training_memory& m) {
    if (!w.offload_optimizer) return bytes;
    item.inputs.push_back({"device", "cpu"});
    item.inputs.push_back({"cpu_bytes", num(bytes)});
    m.offloaded_bytes = add(m.offloaded_bytes, bytes);
    return 0;
}

// Master weights: fp32 copy of 16-bit weights under mixed precision (full fine-tuning). Part of ZeRO's K = 12
// optimizer bytes, so sharded from stage 1 and offloaded with the optimizer.
plan_item master_weights_item(const training_setup& s, const trainable_set& t, training_memory& m) {
    uint64_t bytes = s.shards.shard(mul(t.parameters, 4), 1);
    plan_item item{"master_weights",
                   0,
                   "trainable parameters x 4 (fp32 copy for mixed precision), / gpus from ZeRO stage 1",
                   {}};
    item.inputs = {
        {"trainable_parameters", num(t.parameters)        },
        {"weights_dtype",        dtype_name(s.weight_type)}
    };
    s.shards.describe(item, 1);
    item.bytes = m.master_weights = on_gpu_unless_offloaded(s.w, item, bytes, m);
    return item;
}

// Gradients: in the compute dtype (fp32 when the weights are fp32); only the adapters' with LoRA.
plan_item gradients_item(const training_setup& s, const trainable_set& t, training_memory& m) {
    plan_item item{"gradients",
                   s.shards.shard(mul(t.parameters, s.e), 2),
                   "trainable parameters x bytes of the compute dtype, / gpus from ZeRO stage 2",
                   {}};
    item.inputs = {
        {"trainable_parameters", num(t.parameters)},
        {"gradient_dtype",       dtype_name(s.act)}
    };
    s.shards.describe(item, 2);
    if (!s.lora && !s.w.quant.empty())
        item.inputs.push_back(
            {"warning", "full fine-tuning of weights quantized as \"" + s.w.quant +
                            "\" is not supported by the usual tools; use method lora or qlora"});
    m.gradients = item.bytes;
    return item;
}

// Optimizer states over the trainable tensors.
plan_item optimizer_states_item(const training_setup& s, const trainable_set& t, training_memory& m) {
    const workload& w = s.w;
    const char* per =
        w.optimizer == optimizer_kind::adamw          ? "8 (two fp32 moments)"
        : w.optimizer == optimizer_kind::adamw_8bit   ? "2 + 8 per 2048-element block (8-bit moments "
                                                        "with fp32 absmax; tensors under 4096 "
                                                        "elements: 8)"
        : w.optimizer == optimizer_kind::sgd_momentum ? "4 (fp32 momentum)"
                                                      : "(rows + columns) x 4 per matrix, elements "
                                                        "x 4 per vector";
    plan_item item{"optimizer_states",
                   0,
                   std::string("sum over trainable tensors of the optimizer's state bytes: ") + per +
                       " per element; / gpus from ZeRO stage 1",
                   {}};
    item.inputs = {
        {"optimizer",            optimizer_name(w.optimizer)},
        {"trainable_parameters", num(t.parameters)          }
    };
    s.shards.describe(item, 1);
    if (w.method == train_method::qlora) item.inputs.push_back({"paged", "true"});
    item.bytes = m.optimizer_states =
        on_gpu_unless_offloaded(w, item, s.shards.shard(t.optimizer_bytes, 1), m);
    return item;
}

// LoRA/QLoRA adapters: r x (in + out) parameters per targeted matrix, in the compute dtype.
plan_item lora_adapters_item(const training_setup& s, const trainable_set& t, training_memory& m) {
    const workload& w = s.w;
    std::string roles;
    for (role r : t.targets) roles += (roles.empty() ? "" : ",") + std::string(role_name(r));
    plan_item item{"lora_adapters",
                   s.shards.shard(mul(t.parameters, s.e), 3),
                   "sum over targeted matrices of rank x (in + out) x bytes of the compute dtype",
                   {}};
    item.inputs = {
        {"method",             method_name(w.method)  },
        {"rank",               num(w.lora_rank)       },
        {"targets",            roles                  },
        {"adapted_matrices",   num(t.adapted_matrices)},
        {"adapter_parameters", num(t.parameters)      },
        {"adapter_dtype",      dtype_name(s.act)      }
    };
    s.shards.describe(item, 3);
    if (w.method == train_method::qlora && w.quant != "nf4")
        item.inputs.push_back(
            {"warning", w.quant.empty()
                            ? "QLoRA base weights are planned unquantized: set "
                              "quant nf4 for the 4-bit base"
                            : "QLoRA's base weights are nf4; planned as quant \"" + w.quant + "\""});
    m.lora_adapters = item.bytes;
    return item;
}

// The FFN of each layer as the activation formula needs it: gated or not, dense or routed experts.
std::vector<layer_ffn> ffn_of_layers(const analysis& a) {
    const model_spec& spec = a.spec;
    std::vector<layer_ffn> ffn(spec.layers.size());
    for (const tensor_info& t : a.sk.tensors) {
        if (t.layer == no_index || t.shape.size() != 2) continue;
        layer_ffn& l = ffn[t.layer];
        if (t.what == role::ffn_gate || t.what == role::ffn_gate_exp) l.gated = true;
        if (t.what == role::ffn_up && spec.intermediate > 0 && t.shape[0] == 2 * spec.intermediate)
            l.gated = true; // fused gate_up projection
    }
    for (uint64_t il = 0; il < spec.layers.size(); ++il) {
        ffn[il].moe = spec.is_moe_layer(il);
        if (ffn[il].moe) ffn[il].gated = true; // routed experts of the supported MoE families are SwiGLU
    }
    return ffn;
}

// What the layers keep for the backward pass, after recomputation.
struct stack_activations {
    uint64_t kept = 0;    // over all layers
    uint64_t largest = 0; // the largest layer with nothing recomputed
    uint64_t layers = 0;
    uint64_t first_layer = 0; // what the first layer keeps
};

stack_activations kept_by_layers(const analysis& a, const training_setup& s) {
    const model_spec& spec = a.spec;
    const workload& w = s.w;
    std::vector<layer_ffn> ffn = ffn_of_layers(a);
    stack_activations out;
    for (uint64_t il = 0; il < spec.layers.size(); ++il) {
        const layer_spec& l = spec.layers[il];
        if (l.stack == layer_stack::vision || l.stack == layer_stack::mtp) continue;
        uint64_t seq = l.stack == layer_stack::encoder ? w.encoder_seq : w.seq;
        layer_activations la = layer_bytes(a, w, il, seq, s.e, ffn[il]);
        uint64_t keep = w.recompute == recompute_kind::none        ? la.stored
                        : w.recompute == recompute_kind::selective ? la.stored - la.scores
                                                                   : la.input;
        if (out.layers == 0) out.first_layer = keep;
        out.kept = add(out.kept, keep);
        out.largest = std::max(out.largest, la.stored);
        ++out.layers;
    }
    return out;
}

// Activations kept for the backward pass, layer by layer, plus the loss over the vocabulary.
plan_item training_activations_item(const analysis& a, const training_setup& s, training_memory& m) {
    const model_spec& spec = a.spec;
    const workload& w = s.w;
    stack_activations layers = kept_by_layers(a, s);
    // Full recomputation re-runs one layer's forward at a time in the backward pass.
    m.layer_activations = layers.kept;
    m.recomputed_layer = w.recompute == recompute_kind::full ? layers.largest : 0;
    bool vocab_head = spec.tie_embeddings();
    for (const tensor_info& t : a.sk.tensors)
        if (t.what == role::lm_head) vocab_head = true;
    uint64_t tokens = mul(w.batch, w.seq);
    m.head_inputs = mul(mul(mul(2, tokens), spec.hidden), s.e); // final norm and head inputs
    m.loss = vocab_head ? mul(mul(tokens, spec.vocab), 4) : 0;  // fp32 logits for cross-entropy
    plan_item item{"activations",
                   add(add(add(m.layer_activations, m.recomputed_layer), m.head_inputs), m.loss),
                   "sum over layers of the bytes kept for the backward pass (Korthikanti et al. 2022: "
                   "sbh(34 + 5as/h) for 16-bit GPT layers without recomputation, 34sbh selective, 2sbh "
                   "full; generalized to GQA, gated FFNs and MoE) + one layer recomputed (full) + "
                   "2 x tokens x hidden x bytes (final norm, head input) + tokens x vocab x 4 (fp32 "
                   "logits for the loss)",
                   {}};
    item.inputs = {
        {"batch",                  num(w.batch)               },
        {"seq",                    num(w.seq)                 },
        {"activation_dtype",       dtype_name(s.act)          },
        {"attention",              attention_name(w.attention)},
        {"recompute",              recompute_name(w.recompute)},
        {"layers",                 num(layers.layers)         },
        {"layer_bytes",            num(layers.first_layer)    },
        {"layers_bytes",           num(m.layer_activations)   },
        {"recomputed_layer_bytes", num(m.recomputed_layer)    },
        {"head_input_bytes",       num(m.head_inputs)         },
        {"loss_bytes",             num(m.loss)                }
    };
    return item;
}

} // namespace

result<std::vector<plan_item>> plan_training(const analysis& a, const workload& w, training_memory* bytes) {
    if (auto e = check_training_workload(a.spec, w)) return *e;
    const training_setup s = setup_training(a.spec, w);
    auto trainable = count_trainable(a, s);
    if (!trainable) return trainable.err();
    const bool mixed = s.weight_type == dtype::f16 || s.weight_type == dtype::bf16;

    training_memory m;
    m.trainable_parameters = trainable->parameters;
    std::vector<plan_item> items;
    if (!s.lora && mixed) items.push_back(master_weights_item(s, *trainable, m));
    items.push_back(gradients_item(s, *trainable, m));
    items.push_back(optimizer_states_item(s, *trainable, m));
    if (s.lora) items.push_back(lora_adapters_item(s, *trainable, m));
    items.push_back(training_activations_item(a, s, m));
    if (bytes) *bytes = m;
    return items;
}

plan_item sharded_weights(const workload& w, const plan_item& weights) {
    if (w.mode != plan_mode::training || w.zero_stage < 3 || w.gpus <= 1) return weights;
    plan_item out = weights;
    out.bytes = ceil_div(weights.bytes, w.gpus);
    out.formula = weights.formula + ", / gpus (ZeRO stage 3 / FSDP full sharding)";
    out.inputs.push_back({"unsharded_bytes", num(weights.bytes)});
    out.inputs.push_back({"gpus", num(w.gpus)});
    return out;
}

} // namespace modelplan
