// Training memory: master weights, gradients, optimizer states, LoRA adapters and training activations, with
// ZeRO/FSDP sharding and optimizer offload. Formulas and sources: docs/training.md.
#include "modelplan/training.h"
#include "util/saturating.h"
#include "util/text-internal.h"

#include <algorithm>
#include <array>

namespace modelplan {

namespace {

using sat::add;
using sat::ceil_div;
using sat::mul;

const char* optimizer_name(optimizer_kind k) {
    switch (k) {
    case optimizer_kind::adamw: return "adamw";
    case optimizer_kind::adamw_8bit: return "adamw-8bit";
    case optimizer_kind::sgd_momentum: return "sgd";
    case optimizer_kind::adafactor: return "adafactor";
    }
    return "?";
}

const char* recompute_name(recompute_kind k) {
    switch (k) {
    case recompute_kind::none: return "none";
    case recompute_kind::selective: return "selective";
    case recompute_kind::full: return "full";
    }
    return "?";
}

const char* method_name(train_method m) {
    switch (m) {
    case train_method::full: return "full";
    case train_method::lora: return "lora";
    case train_method::qlora: return "qlora";
    }
    return "?";
}

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

bool in_weights(const analysis& a, const workload& w, const tensor_info& t) {
    return w.include_mtp || t.layer == no_index || a.spec.layers[t.layer].stack != layer_stack::mtp;
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
                              "lora_targets: \"" + name +
                                  "\" is not a role with weight matrices in this model; " +
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
        q = k = mul(spec.n_heads, spec.qk_nope_head_dim + spec.qk_rope_head_dim);
        v = o_in = mul(spec.n_heads, spec.v_head_dim);
        latents = add(spec.q_lora_rank, spec.kv_lora_rank + spec.qk_rope_head_dim); // down-projection outputs
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

} // namespace

result<std::vector<plan_item>> plan_training(const analysis& a, const workload& w_in,
                                             const plan_item& weights) {
    const model_spec& spec = a.spec;
    workload w = w_in;
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
    if (w.seq == 0) w.seq = default_seq(spec);
    if (w.encoder_seq == 0) w.encoder_seq = w.seq;

    const dtype weight_type = spec.weight_dtype;
    const dtype act = compute_dtype(weight_type);
    const uint64_t e = dtype_bytes(act);
    const bool lora = w.method != train_method::full;
    const bool mixed = weight_type == dtype::f16 || weight_type == dtype::bf16;
    const uint64_t shards = w.gpus;
    const std::string zero_warning = w.zero_stage > 0 && w.gpus == 1
                                         ? "ZeRO stage " + num(w.zero_stage) + " with gpus 1 shards nothing"
                                         : "";
    auto shard = [&](uint64_t bytes, uint32_t from_stage) {
        return w.zero_stage >= from_stage ? ceil_div(bytes, shards) : bytes;
    };
    auto common = [&](plan_item& item, uint32_t from_stage) {
        item.inputs.push_back({"zero_stage", num(w.zero_stage)});
        item.inputs.push_back({"gpus", num(w.gpus)});
        item.inputs.push_back({"sharded", w.zero_stage >= from_stage && w.gpus > 1 ? "true" : "false"});
        if (!zero_warning.empty()) item.inputs.push_back({"warning", zero_warning});
    };

    // The trainable tensors: every weight (full fine-tuning) or the adapters' A (r x in) and B (out x r).
    std::vector<role> targets;
    if (lora) {
        auto r = lora_roles(a, w);
        if (!r) return r.err();
        targets = std::move(*r);
    }
    uint64_t trainable = 0, optimizer = 0, adapted = 0;
    for (const tensor_info& t : a.sk.tensors) {
        if (!in_weights(a, w, t)) continue;
        if (!lora) {
            trainable = add(trainable, t.elements);
            optimizer = add(optimizer, optimizer_bytes(w.optimizer, t.shape, t.elements));
            continue;
        }
        if (t.shape.size() != 2 || std::find(targets.begin(), targets.end(), t.what) == targets.end())
            continue;
        uint64_t out = t.shape[0], in = t.shape[1];
        trainable = add(trainable, mul(w.lora_rank, add(in, out)));
        optimizer = add(optimizer, optimizer_bytes(w.optimizer, {w.lora_rank, in}, mul(w.lora_rank, in)));
        optimizer = add(optimizer, optimizer_bytes(w.optimizer, {out, w.lora_rank}, mul(out, w.lora_rank)));
        ++adapted;
    }

    std::vector<plan_item> items;
    const bool offload = w.offload_optimizer;

    // Master weights: fp32 copy of 16-bit weights under mixed precision (full fine-tuning). Part of ZeRO's
    // K = 12 optimizer bytes, so sharded from stage 1 and offloaded with the optimizer.
    if (!lora && mixed) {
        uint64_t bytes = shard(mul(trainable, 4), 1);
        plan_item m{"master_weights",
                    offload ? 0 : bytes,
                    "trainable parameters x 4 (fp32 copy for mixed precision), / gpus from ZeRO stage 1",
                    {}};
        m.inputs = {
            {"trainable_parameters", num(trainable)         },
            {"weights_dtype",        dtype_name(weight_type)}
        };
        common(m, 1);
        if (offload) {
            m.inputs.push_back({"device", "cpu"});
            m.inputs.push_back({"cpu_bytes", num(bytes)});
        }
        items.push_back(std::move(m));
    }

    // Gradients: in the compute dtype (fp32 when the weights are fp32); only the adapters' with LoRA.
    {
        uint64_t bytes = shard(mul(trainable, e), 2);
        plan_item g{"gradients",
                    bytes,
                    "trainable parameters x bytes of the compute dtype, / gpus from ZeRO stage 2",
                    {}};
        g.inputs = {
            {"trainable_parameters", num(trainable) },
            {"gradient_dtype",       dtype_name(act)}
        };
        common(g, 2);
        if (!lora && !w.quant.empty())
            g.inputs.push_back(
                {"warning", "full fine-tuning of weights quantized as \"" + w.quant +
                                "\" is not supported by the usual tools; use method lora or qlora"});
        items.push_back(std::move(g));
    }

    // Optimizer states over the trainable tensors.
    {
        uint64_t bytes = shard(optimizer, 1);
        const char* per = w.optimizer == optimizer_kind::adamw        ? "8 (two fp32 moments)"
                          : w.optimizer == optimizer_kind::adamw_8bit ? "2 + 8 per 2048-element block (8-bit "
                                                                        "moments with fp32 absmax; tensors "
                                                                        "under 4096 elements: 8)"
                          : w.optimizer == optimizer_kind::sgd_momentum ? "4 (fp32 momentum)"
                                                                        : "(rows + columns) x 4 per matrix, "
                                                                          "elements x 4 per vector";
        plan_item o{"optimizer_states",
                    offload ? 0 : bytes,
                    std::string("sum over trainable tensors of the optimizer's state bytes: ") + per +
                        " per element; / gpus from ZeRO stage 1",
                    {}};
        o.inputs = {
            {"optimizer",            optimizer_name(w.optimizer)},
            {"trainable_parameters", num(trainable)             }
        };
        common(o, 1);
        if (w.method == train_method::qlora) o.inputs.push_back({"paged", "true"});
        if (offload) {
            o.inputs.push_back({"device", "cpu"});
            o.inputs.push_back({"cpu_bytes", num(bytes)});
        }
        items.push_back(std::move(o));
    }

    // LoRA/QLoRA adapters: r x (in + out) parameters per targeted matrix, in the compute dtype.
    if (lora) {
        std::string roles;
        for (role r : targets) roles += (roles.empty() ? "" : ",") + std::string(role_name(r));
        plan_item l{"lora_adapters",
                    shard(mul(trainable, e), 3),
                    "sum over targeted matrices of rank x (in + out) x bytes of the compute dtype",
                    {}};
        l.inputs = {
            {"method",             method_name(w.method)},
            {"rank",               num(w.lora_rank)     },
            {"targets",            roles                },
            {"adapted_matrices",   num(adapted)         },
            {"adapter_parameters", num(trainable)       },
            {"adapter_dtype",      dtype_name(act)      }
        };
        common(l, 3);
        if (w.method == train_method::qlora && w.quant != "nf4")
            l.inputs.push_back(
                {"warning", w.quant.empty()
                                ? "QLoRA base weights are planned unquantized: set "
                                  "quant nf4 for the 4-bit base"
                                : "QLoRA's base weights are nf4; planned as quant \"" + w.quant + "\""});
        items.push_back(std::move(l));
    }

    // Activations kept for the backward pass, layer by layer, plus the loss over the vocabulary.
    {
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
        uint64_t stored = 0, largest = 0, layers = 0, first = 0;
        for (uint64_t il = 0; il < spec.layers.size(); ++il) {
            const layer_spec& l = spec.layers[il];
            if (l.stack == layer_stack::vision || l.stack == layer_stack::mtp) continue;
            uint64_t seq = l.stack == layer_stack::encoder ? w.encoder_seq : w.seq;
            layer_activations la = layer_bytes(a, w, il, seq, e, ffn[il]);
            uint64_t keep = w.recompute == recompute_kind::none        ? la.stored
                            : w.recompute == recompute_kind::selective ? la.stored - la.scores
                                                                       : la.input;
            if (layers == 0) first = keep;
            stored = add(stored, keep);
            largest = std::max(largest, la.stored);
            ++layers;
        }
        // Full recomputation re-runs one layer's forward at a time in the backward pass.
        uint64_t recomputed = w.recompute == recompute_kind::full ? largest : 0;
        bool vocab_head = spec.tie_embeddings;
        for (const tensor_info& t : a.sk.tensors)
            if (t.what == role::lm_head) vocab_head = true;
        uint64_t tokens = mul(w.batch, w.seq);
        uint64_t head_inputs = mul(mul(mul(2, tokens), spec.hidden), e);  // final norm and head inputs
        uint64_t loss = vocab_head ? mul(mul(tokens, spec.vocab), 4) : 0; // fp32 logits for cross-entropy
        plan_item act_item{
            "activations",
            add(add(add(stored, recomputed), head_inputs), loss),
            "sum over layers of the bytes kept for the backward pass (Korthikanti et al. 2022: "
            "sbh(34 + 5as/h) for 16-bit GPT layers without recomputation, 34sbh selective, 2sbh "
            "full; generalized to GQA, gated FFNs and MoE) + one layer recomputed (full) + "
            "2 x tokens x hidden x bytes (final norm, head input) + tokens x vocab x 4 (fp32 "
            "logits for the loss)",
            {}};
        act_item.inputs = {
            {"batch",                  num(w.batch)                                           },
            {"seq",                    num(w.seq)                                             },
            {"activation_dtype",       dtype_name(act)                                        },
            {"attention",              w.attention == attention_impl::eager ? "eager" : "sdpa"},
            {"recompute",              recompute_name(w.recompute)                            },
            {"layers",                 num(layers)                                            },
            {"layer_bytes",            num(first)                                             },
            {"layers_bytes",           num(stored)                                            },
            {"recomputed_layer_bytes", num(recomputed)                                        },
            {"head_input_bytes",       num(head_inputs)                                       },
            {"loss_bytes",             num(loss)                                              }
        };
        items.push_back(std::move(act_item));
    }
    (void)weights;
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
