// Inference memory plan: weights from the skeleton (each tensor at its own dtype), KV cache layer by layer
// from each layer's attention kind, the transient activations of one forward pass, and a fixed runtime
// overhead. Formulas and sources: docs/memory.md.
#include "modelplan/memory.h"
#include "plan/images-internal.h"
#include "util/saturating.h"
#include "util/text-internal.h"

#include <algorithm>
#include <limits>

#include "modelplan/quantization.h"
#include "modelplan/text.h"
#include "modelplan/training.h"

namespace modelplan {

namespace {

using sat::add;
using sat::mul;

// Choice names in enum order (memory.h): one table for parsing requests and for naming plan inputs.
constexpr const char* attention_names[] = {"sdpa", "eager", "flash"};
constexpr const char* mode_names[] = {"inference", "training"};
constexpr const char* method_names[] = {"full", "lora", "qlora"};
constexpr const char* optimizer_names[] = {"adamw", "adamw-8bit", "sgd", "adafactor"};
constexpr const char* recompute_names[] = {"none", "selective", "full"};
constexpr const char* zero_stage_names[] = {"0", "1", "2", "3"};

template <typename choice, size_t n>
const char* name_in(const char* const (&names)[n], choice value) {
    auto i = static_cast<size_t>(value);
    return i < n ? names[i] : "?";
}

} // namespace

const char* attention_name(attention_impl a) {
    return name_in(attention_names, a);
}
const char* mode_name(plan_mode m) {
    return name_in(mode_names, m);
}
const char* method_name(train_method m) {
    return name_in(method_names, m);
}
const char* optimizer_name(optimizer_kind k) {
    return name_in(optimizer_names, k);
}
const char* recompute_name(recompute_kind k) {
    return name_in(recompute_names, k);
}

dtype compute_dtype(dtype weights) {
    switch (weights) {
    case dtype::f32:
    case dtype::f16:
    case dtype::bf16: return weights;
    default: return dtype::bf16;
    }
}

std::optional<error> set_workload_option(workload& w, const std::string& name, const std::string& value,
                                         const std::string& label) {
    auto bad = [&](const std::string& expected) {
        return make_error(error_code::bad_request,
                          label + ": expected " + expected + ", got " + quote_value(value), name);
    };
    auto positive = [&](uint64_t& out) -> std::optional<error> {
        if (value.empty() || value.size() > 19 ||
            value.find_first_not_of("0123456789") != std::string::npos || std::stoull(value) == 0)
            return bad("a positive integer");
        out = std::stoull(value);
        return std::nullopt;
    };
    auto flag = [&](bool& out) -> std::optional<error> {
        if (value != "true" && value != "false") return bad("true or false");
        out = value == "true";
        return std::nullopt;
    };
    auto choice = [&](const auto& names, int& out) -> std::optional<error> {
        std::string list;
        int i = 0;
        for (const char* n : names) {
            if (value == n) {
                out = i;
                return std::nullopt;
            }
            list += (list.empty() ? "" : ", ") + std::string(n);
            ++i;
        }
        return bad("one of " + list);
    };
    int picked = 0;
    if (name == "batch") return positive(w.batch);
    if (name == "seq") return positive(w.seq);
    if (name == "encoder_seq") return positive(w.encoder_seq);
    if (name == "prefill_chunk") return positive(w.prefill_chunk);
    if (name == "lora_rank") return positive(w.lora_rank);
    if (name == "gpus") return positive(w.gpus);
    if (name == "mtp") return flag(w.include_mtp);
    if (name == "images") {
        if (value.empty() || value.size() > 6 || value.find_first_not_of("0123456789") != std::string::npos ||
            std::stoull(value) > max_images)
            return bad("a whole number of images from 0 to " + std::to_string(max_images));
        w.images = std::stoull(value);
        return std::nullopt;
    }
    if (name == "image_size") return parse_image_size(value, label, w.image_width, w.image_height);
    if (name == "offload") return flag(w.offload_optimizer);
    if (name == "quant") {
        if (value.empty()) return bad("a format name (docs/quantization.md) or none");
        w.quant = value == "none" ? "" : value;
        return std::nullopt;
    }
    if (name == "state_dtype") {
        auto t = parse_dtype(value, label);
        if (!t) return t.err();
        w.state_dtype = *t;
        return std::nullopt;
    }
    if (name == "kv_dtype") {
        // Block formats of llama.cpp's KV cache: q8_0 is 34 bytes per 32 values, q4_0 18 (ggml-common.h).
        if (value == "q8_0" || value == "q4_0" || value == "q4") {
            w.kv_block_bytes = value == "q8_0" ? 34 : 18;
            w.kv_dtype.reset();
            return std::nullopt;
        }
        w.kv_block_bytes = 0;
        auto t = parse_dtype(value, label);
        if (!t) return t.err();
        w.kv_dtype = *t;
        return std::nullopt;
    }
    if (name == "overhead") {
        auto bytes = parse_size(value);
        if (!bytes) return bad("a size such as 512MiB or 1GB");
        w.overhead_bytes = *bytes;
        return std::nullopt;
    }
    if (name == "attention") {
        if (auto e = choice(attention_names, picked)) return e;
        w.attention = static_cast<attention_impl>(picked);
        return std::nullopt;
    }
    if (name == "mode") {
        if (auto e = choice(mode_names, picked)) return e;
        w.mode = static_cast<plan_mode>(picked);
        return std::nullopt;
    }
    if (name == "method") {
        if (auto e = choice(method_names, picked)) return e;
        w.method = static_cast<train_method>(picked);
        return std::nullopt;
    }
    if (name == "optimizer") {
        if (auto e = choice(optimizer_names, picked)) return e;
        w.optimizer = static_cast<optimizer_kind>(picked);
        return std::nullopt;
    }
    if (name == "recompute") {
        if (auto e = choice(recompute_names, picked)) return e;
        w.recompute = static_cast<recompute_kind>(picked);
        return std::nullopt;
    }
    if (name == "zero") {
        if (auto e = choice(zero_stage_names, picked)) return e;
        w.zero_stage = static_cast<uint32_t>(picked);
        return std::nullopt;
    }
    if (name == "lora_targets") {
        w.lora_targets.clear();
        for (size_t start = 0; start <= value.size();) {
            size_t comma = value.find(',', start);
            std::string role =
                value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
            if (role.empty()) return bad("a comma-separated list of roles such as attn_q,attn_v");
            w.lora_targets.push_back(role);
            if (comma == std::string::npos) break;
            start = comma + 1;
        }
        return std::nullopt;
    }
    return make_error(error_code::bad_request, "unknown workload option " + label, name);
}

uint64_t default_seq(const model_spec& spec) {
    return spec.max_positions > 0 ? std::min<uint64_t>(4096, spec.max_positions) : 4096;
}

bool in_mtp_layer(const model_spec& spec, const tensor_info& t) {
    return t.layer != no_index && spec.is_mtp_layer(static_cast<uint64_t>(t.layer));
}

bool loads_layer(const model_spec& spec, const workload& w, uint64_t il) {
    return w.include_mtp || !spec.is_mtp_layer(il);
}

bool loads_tensor(const model_spec& spec, const workload& w, const tensor_info& t) {
    return w.include_mtp || !in_mtp_layer(spec, t);
}

uint64_t kv_bytes_per_token_in_layer(const model_spec& spec, uint64_t il, dtype kv, uint64_t block_bytes) {
    const layer_spec& l = spec.layers[il];
    if (l.stack == layer_stack::encoder || l.stack == layer_stack::vision || l.stack == layer_stack::mtp ||
        (l.switches & sw_no_kv_cache))
        return 0;
    uint64_t elements = l.attn == attn_kind::mla
                            ? spec.mla_kv_latent_dim() // the latent and the rotary key (vLLM)
                            : mul(2, mul(spec.n_kv_heads, spec.head_dim)); // keys and values
    if (block_bytes) return mul((elements + 31) / 32, block_bytes);
    return mul(elements, dtype_bytes(kv));
}

uint64_t state_bytes_per_sequence_in_layer(const model_spec& spec, uint64_t il, dtype conv, dtype ssm) {
    if (!spec.has_recurrent_state(il)) return 0;
    return add(mul(spec.recurrent_conv_elements(), dtype_bytes(conv)),
               mul(spec.recurrent_ssm_elements(il), dtype_bytes(ssm)));
}

namespace {

// FlashAttention-2 runs fp16/bf16 only, with head_dim up to 256.
std::optional<error> check_attention(const model_spec& spec, const workload& w) {
    if (w.attention != attention_impl::flash) return std::nullopt;
    if (spec.weight_dtype == dtype::f32)
        return make_error(
            error_code::bad_request,
            "attention: flash cannot run with fp32 weights; use dtype bf16 or fp16, or attention sdpa",
            "attention");
    if (spec.head_dim > 256)
        return make_error(error_code::bad_request,
                          "attention: flash supports head_dim up to 256, this model has " +
                              num(spec.head_dim) + "; use attention sdpa",
                          "attention");
    return std::nullopt;
}

std::vector<std::string> context_warnings(const model_spec& spec, const workload& w) {
    std::vector<std::string> out;
    // A speech encoder (Whisper) takes exactly max_source_positions frames per window; longer audio is cut
    // into windows.
    if (spec.audio_positions && w.encoder_seq > spec.audio_positions)
        out.push_back("encoder_seq (" + num(w.encoder_seq) + ") is longer than max_source_positions (" +
                      num(spec.audio_positions) + "): the encoder takes one 30-second window at a time");
    if (spec.max_positions == 0 || w.seq <= spec.max_positions) return out;
    out.push_back(
        "seq (" + num(w.seq) + ") is longer than max_position_embeddings (" + num(spec.max_positions) + ")" +
        (spec.rope.scaling_type.empty() ? std::string()
                                        : "; rope_scaling " + spec.rope.scaling_type + " may extend it"));
    return out;
}

// KV cache, layer by layer; fills the plan's per-token and per-layer figures.
plan_item kv_cache_item(const model_spec& spec, const workload& w, dtype kv, memory_plan& p) {
    plan_item cache{"kv_cache", 0, "", {}};
    p.kv_bytes_by_layer.assign(spec.layers.size(), 0);
    uint64_t full = 0, sliding = 0, mla = 0, cross = 0, chunked = 0;
    for (uint64_t il = 0; il < spec.layers.size(); ++il) {
        const layer_spec& l = spec.layers[il];
        uint64_t per_token = kv_bytes_per_token_in_layer(spec, il, kv, w.kv_block_bytes);
        if (per_token == 0) continue;
        p.kv_bytes_per_token = add(p.kv_bytes_per_token, per_token);
        // A sliding layer caches its window, a chunked layer its chunk (transformers' DynamicCache gives both
        // a DynamicSlidingWindowLayer of sliding_window or attention_chunk_size tokens).
        bool bounded = l.attn == attn_kind::sliding || l.attn == attn_kind::chunked;
        uint64_t tokens = bounded ? std::min(w.seq, l.window) : w.seq;
        uint64_t bytes = mul(mul(per_token, tokens), w.batch);
        if (l.stack == layer_stack::cross_decoder) { // keys and values of the encoder output, per layer
            bytes = add(bytes, mul(mul(per_token, w.encoder_seq), w.batch));
            ++cross;
        }
        (l.attn == attn_kind::sliding   ? sliding
         : l.attn == attn_kind::mla     ? mla
         : l.attn == attn_kind::chunked ? chunked
                                        : full) += 1;
        p.kv_bytes_by_layer[il] = bytes;
        cache.bytes = add(cache.bytes, bytes);
    }
    cache.formula =
        "per layer: 2 x kv_heads x head_dim x bytes (full and sliding attention; MLA: (kv_lora_rank + "
        "qk_rope_head_dim) x bytes) x cached tokens x batch; sliding layers cache at most the window, "
        "chunked "
        "layers the chunk; "
        "cross-attention layers add the encoder tokens";
    cache.inputs = {
        {"kv_dtype",              dtype_name(kv)           },
        {"batch",                 num(w.batch)             },
        {"seq",                   num(w.seq)               },
        {"bytes_per_token",       num(p.kv_bytes_per_token)},
        {"full_attention_layers", num(full)                },
        {"sliding_window_layers", num(sliding)             },
        {"mla_layers",            num(mla)                 }
    };
    if (cross) cache.inputs.push_back({"encoder_seq", num(w.encoder_seq)});
    if (p.image_tokens) {
        cache.inputs.push_back({"text_seq", num(p.text_seq)});
        cache.inputs.push_back({"image_tokens", num(p.image_tokens)});
    }
    if (chunked) cache.inputs.push_back({"chunked_attention_layers", num(chunked)});
    if (spec.has_mla()) {
        cache.inputs.push_back({"kv_lora_rank", num(spec.kv_lora_rank)});
        cache.inputs.push_back({"qk_rope_head_dim", num(spec.qk_rope_head_dim)});
    } else {
        cache.inputs.push_back({"kv_heads", num(spec.n_kv_heads)});
        cache.inputs.push_back({"head_dim", num(spec.head_dim)});
    }
    return cache;
}

// The recurrent state of Mamba, DeltaNet and short-convolution layers: per sequence, whatever the context
// (vLLM's MambaSpec: conv state (conv_kernel - 1) x channels, plus the temporal SSM state). Fills the plan's
// per-layer figures; returns no item for a model without such layers.
std::optional<plan_item> recurrent_state_item(const model_spec& spec, const workload& w, dtype conv,
                                              memory_plan& p) {
    uint64_t layers = 0, first = 0;
    for (uint64_t il = spec.layers.size(); il-- > 0;)
        if (spec.has_recurrent_state(il)) {
            ++layers;
            first = il;
        }
    if (layers == 0) return std::nullopt;
    const dtype ssm = w.state_dtype.value_or(spec.ssm_state_dtype.value_or(conv));
    p.state_bytes_by_layer.assign(spec.layers.size(), 0);
    p.state_conv_dtype = conv;
    p.state_ssm_dtype = ssm;
    plan_item state{"recurrent_state", 0, "", {}};
    for (uint64_t il = 0; il < spec.layers.size(); ++il) {
        if (!loads_layer(spec, w, il)) continue;
        uint64_t per_sequence = state_bytes_per_sequence_in_layer(spec, il, conv, ssm);
        if (per_sequence == 0) continue;
        p.state_bytes_per_sequence = add(p.state_bytes_per_sequence, per_sequence);
        p.state_bytes_by_layer[il] = mul(per_sequence, w.batch);
        state.bytes = add(state.bytes, p.state_bytes_by_layer[il]);
    }
    state.formula =
        "per recurrent layer and sequence: (conv_kernel - 1) x conv channels x conv dtype bytes + SSM "
        "state (Mamba: d_inner x d_state; DeltaNet: value heads x key head_dim x value head_dim) x "
        "state dtype bytes; x batch; does not grow with seq";
    state.inputs = {
        {"recurrent_layers",   num(layers)                            },
        {"batch",              num(w.batch)                           },
        {"conv_dtype",         dtype_name(conv)                       },
        {"state_dtype",        dtype_name(ssm)                        },
        {"conv_kernel",        num(spec.ssm_conv_kernel)              },
        {"conv_channels",      num(spec.ssm_conv_dim)                 },
        {"ssm_state_elements", num(spec.recurrent_ssm_elements(first))},
        {"bytes_per_sequence", num(p.state_bytes_per_sequence)        }
    };
    return state;
}

// The largest working set of one forward pass over batch x chunk tokens (docs/memory.md).
forward_activations forward_working_set(const model_spec& spec, const workload& w, uint64_t chunk,
                                        dtype act) {
    uint64_t ab = dtype_bytes(act);
    uint64_t tokens = mul(w.batch, chunk);
    forward_activations f;
    f.residual = mul(mul(mul(2, tokens), spec.hidden), ab);
    // Q, K, V and O; MLA: the queries, the latent with the rotary key, kv_b's keys and values, o_proj's
    // input.
    uint64_t qkvo = spec.has_mla() ? add(add(spec.mla_q_dim(), spec.mla_kv_latent_dim()),
                                         add(spec.mla_kv_b_dim(), spec.mla_v_dim()))
                                   : add(mul(2, spec.q_dim()), mul(2, spec.kv_dim()));
    f.attention = mul(mul(tokens, qkvo), ab);
    if (w.attention == attention_impl::eager) // scores and probabilities, batch x heads x chunk x context
        f.attention = add(f.attention, mul(mul(mul(mul(2, w.batch), spec.n_heads), mul(chunk, w.seq)), ab));
    // A recurrent mixer's working set (Mamba, DeltaNet, short convolution): its in_proj output, the
    // convolution's output and the scan's output; the larger of it and attention's counts.
    if (spec.ssm_in_proj)
        f.attention = std::max(
            f.attention, mul(mul(tokens, add(spec.ssm_in_proj, add(spec.ssm_conv_dim, spec.ssm_inner))), ab));
    uint64_t widest_ffn = 0;
    for (uint64_t il = 0; il < spec.layers.size(); ++il) {
        uint64_t width = spec.is_moe_layer(il) ? add(mul(spec.n_experts_per_tok, spec.expert_intermediate),
                                                     spec.shared_intermediate)
                                               : spec.intermediate;
        widest_ffn = std::max(widest_ffn, width);
    }
    f.ffn = mul(mul(mul(3, tokens), widest_ffn), ab); // gate, up and their product
    f.logits = mul(mul(w.batch, spec.vocab), 4);      // last position, upcast to fp32
    return f;
}

plan_item activations_item(const workload& w, uint64_t chunk, dtype act, const forward_activations& f) {
    return {
        "activations",
        add(add(f.residual, std::max(f.attention, f.ffn)), f.logits),
        "2 x tokens x hidden x bytes (residual) + max(attention, FFN working set) + "
        "batch x vocab x 4 (last-position logits in fp32)",
        {{"tokens", num(mul(w.batch, chunk))},
          {"prefill_chunk", num(chunk)},
          {"activation_dtype", dtype_name(act)},
          {"attention", attention_name(w.attention)},
          {"attention_bytes", num(f.attention)},
          {"ffn_bytes", num(f.ffn)},
          {"logits_bytes", num(f.logits)}}
    };
}

plan_item overhead_item(const workload& w) {
    return {"overhead",
            w.overhead_bytes,
            "fixed: CUDA context and kernels (default 1,343 MiB, transformers' training anatomy guide)",
            {{"overhead_bytes", num(w.overhead_bytes)}}};
}

} // namespace

namespace {

// A plan whose total saturated 64 bits is no answer: the error names the item and what drove it there. The
// workload's larger factor of batch and sequence length is blamed when it is the runtime that overflowed;
// weights alone overflow only with sizes a config should not have passed.
error saturated(const workload& w, const memory_plan& p) {
    std::string item = "total";
    for (const auto& i : p.items)
        if (i.bytes == std::numeric_limits<uint64_t>::max()) {
            item = i.name;
            break;
        }
    if (item == "weights")
        return make_error(error_code::overflow,
                          "the weights' bytes overflow 64 bits; check the model's sizes");
    const bool blame_batch = w.batch >= w.seq;
    const bool blame_images = !blame_batch && p.image_tokens > p.text_seq; // w.seq holds both
    const char* field = blame_batch ? "batch" : blame_images ? "images" : "seq";
    const uint64_t value = blame_batch ? w.batch : blame_images ? w.images : w.seq;
    return make_error(
        error_code::overflow,
        std::string(field) + ": " + num(value) + " makes the " + item + " overflow 64 bits (batch " +
            num(w.batch) + " x seq " + num(w.seq) + " tokens" +
            (p.image_tokens ? ", " + num(p.image_tokens) + " of them image tokens" : std::string()) +
            "); no plan is given for it",
        field);
}

} // namespace

namespace {

values_in_use values_used(const analysis& a, const workload& given, const workload& w,
                          const plan_item& weights) {
    values_in_use v;
    v.batch = w.batch;
    v.seq = w.seq;
    v.seq_default = given.seq == 0;
    v.weight_dtype = dtype_name(a.spec.weight_dtype);
    // The weights item names its format (quantization.cpp writes "quant" and "quant_source" for every
    // format).
    for (const auto& in : weights.inputs) {
        if (in.name == "quant") v.quant = in.value;
        if (in.name == "quant_source") v.quant_source = in.value == "--quant" ? "request" : "config";
    }
    v.kv_dtype = w.kv_block_bytes ? (w.kv_block_bytes == 34 ? "q8_0" : "q4_0")
                                  : dtype_name(w.kv_dtype.value_or(compute_dtype(a.spec.weight_dtype)));
    v.kv_dtype_default = !given.kv_dtype && !given.kv_block_bytes;
    return v;
}

} // namespace

result<memory_plan> plan_memory(const analysis& a, const workload& w_in) {
    const model_spec& spec = a.spec;
    workload w = w_in;
    if (w.batch == 0)
        return make_error(error_code::out_of_range, "batch must be a positive integer, got 0", "batch");
    if (w.seq == 0) w.seq = default_seq(spec);
    // A speech encoder's sequence is audio frames, not text: max_source_positions per window (Whisper: 1500).
    if (w.encoder_seq == 0) w.encoder_seq = spec.audio_positions ? spec.audio_positions : w.seq;
    if (auto e = check_attention(spec, w)) return *e;
    // Image inputs: their tokens join each sequence after its text (images.h).
    auto images = plan_image_inputs(spec, w);
    if (!images) return images.err();
    memory_plan p;
    p.text_seq = w.seq;
    p.image_tokens = images->tokens;
    p.image_tokens_per_image = images->per_image.tokens;
    p.image_width = images->width;
    p.image_height = images->height;
    w.seq = add(w.seq, images->tokens);
    p.training = w.mode == plan_mode::training;
    p.warnings = context_warnings(spec, w);
    if (w.images == 0 && w.image_width)
        p.warnings.push_back("image_size " + num(w.image_width) + "x" + num(w.image_height) +
                             " counts nothing without images: set images (--images N) to add image tokens");

    // QLoRA trains adapters on a 4-bit NormalFloat base (Dettmers et al. 2023) unless a format is named.
    if (w.mode == plan_mode::training && w.method == train_method::qlora && w.quant.empty()) w.quant = "nf4";
    // Weights: every stored parameter at its own dtype or quantized storage (quantization.cpp).
    auto weights = plan_weights(a, w, &p.weight_bytes_by_tensor);
    if (!weights) return weights.err();
    p.in_use = values_used(a, w_in, w, *weights);
    p.in_use.seq = p.text_seq; // the context asked for (or its default); image tokens are counted apart
    p.bytes.unsharded_weights = weights->bytes;
    const dtype act = compute_dtype(spec.weight_dtype);
    // The per-layer cache is part of every plan (placement follows it); its item only of inference plans.
    plan_item cache = kv_cache_item(spec, w, w.kv_dtype.value_or(act), p);

    std::vector<plan_item> items;
    if (p.training) { // weights (ZeRO-3 / FSDP divide them too), gradients, optimizer states, activations
        auto training = plan_training(a, w, &p.bytes.training);
        if (!training) return training.err();
        items.push_back(sharded_weights(w, *weights));
        for (auto& item : *training) items.push_back(std::move(item));
        p.bytes.activations = items.back().bytes;
    } else {
        const uint64_t chunk = w.prefill_chunk ? std::min(w.prefill_chunk, w.seq) : w.seq;
        items.push_back(std::move(*weights));
        p.bytes.kv_cache = cache.bytes;
        items.push_back(std::move(cache));
        if (auto state =
                recurrent_state_item(spec, w, w.kv_dtype.value_or(spec.ssm_conv_dtype.value_or(act)), p)) {
            p.bytes.recurrent_state = state->bytes;
            items.push_back(std::move(*state));
        }
        p.bytes.forward = forward_working_set(spec, w, chunk, act);
        items.push_back(activations_item(w, chunk, act, p.bytes.forward));
        p.bytes.activations = items.back().bytes;
        if (w.images)
            items.push_back(vision_activations_item(spec, w, *images, act, p.bytes.vision_activations));
    }
    p.bytes.weights = items.front().bytes;
    items.push_back(overhead_item(w));
    p.bytes.overhead = w.overhead_bytes;
    for (auto& item : items) {
        p.total_bytes = add(p.total_bytes, item.bytes);
        p.items.push_back(std::move(item));
    }
    if (p.total_bytes == std::numeric_limits<uint64_t>::max()) return saturated(w, p);
    return p;
}

} // namespace modelplan
