// The normalized hyperparameters of a model: every family maps its config.json keys into this one struct.
// Per-layer properties (stack, attention kind, FFN kind, switches) live in `layers`, with accessors, because
// hybrid and encoder-decoder models change them from layer to layer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "modelplan/dtype.h"

namespace modelplan {

// chunked: attention within fixed blocks of `window` tokens (Llama 4's attention_chunk_size); transformers'
// cache keeps at most that many tokens for such a layer, as it keeps the window of a sliding layer.
enum class attn_kind : uint8_t { full, sliding, mla, chunked };
enum class ffn_kind : uint8_t { dense, moe };
enum class norm_kind : uint8_t { rms, layer };
enum class layer_stack : uint8_t { decoder, encoder, cross_decoder, mtp, vision };

// Switches: the yes/no facts of a model, one bit each. Model-wide switches live in model_spec::switches,
// per-layer ones in layer_spec::switches; an architecture template (architectures.h) requires or excludes
// them and sees their union. Each fact is recorded here only: the accessors below read these bits.
enum switch_bit : uint64_t {
    sw_qkv_bias = 1ull << 0,       // q/k/v projections carry biases
    sw_o_bias = 1ull << 1,         // attention output projection carries a bias
    sw_mlp_bias = 1ull << 2,       // FFN projections carry biases
    sw_qk_norm = 1ull << 3,        // per-head q/k norms
    sw_norm_bias = 1ull << 4,      // norms are LayerNorm with a bias
    sw_tied = 1ull << 5,           // output head tied to the token embedding
    sw_dense_ffn = 1ull << 6,      // (layer) dense FFN
    sw_moe_ffn = 1ull << 7,        // (layer) mixture of experts
    sw_shared_expert = 1ull << 8,  // MoE layers also hold shared experts
    sw_first_in_stack = 1ull << 9, // (layer) first layer of its stack
    sw_encoder = 1ull << 10,       // (layer) encoder stack
    sw_decoder = 1ull << 11,       // (layer) decoder stack of an encoder-decoder
    sw_mtp = 1ull << 12,           // (layer) multi-token-prediction layer
    sw_q_lora = 1ull << 13,        // MLA with a query latent (q_lora_rank set)
    sw_router_bias = 1ull << 14,   // router score-correction bias (DeepSeek-V3 noaux_tc)
    sw_gated_ffn = 1ull << 15,     // gated FFN where the family also has a plain one (T5 v1.1)
    sw_new_arch = 1ull << 16,      // Falcon's new decoder architecture
    sw_parallel_attn = 1ull << 17, // attention and FFN share one pre-norm (Falcon, GPT-NeoX parallel)
    sw_proj_in_out = 1ull << 18,   // OPT project_in / project_out
    sw_final_norm = 1ull << 19,    // a final norm after the last layer (OPT do_layer_norm_before)
    sw_pooler = 1ull << 20,        // BERT-style pooler
    sw_head_bias = 1ull << 21,     // output head carries a bias (phi-2)
    sw_shexp_gate = 1ull << 22,    // shared expert has a sigmoid gate (Qwen2-MoE)
    sw_learned_pos = 1ull << 23,   // learned absolute positions
    sw_two_norms = 1ull << 24,     // Falcon new arch with ln_attn and ln_mlp (num_ln_in_parallel_attn 2)
    sw_rotary = 1ull << 25,        // the family stores rotary inv_freq buffers in some checkpoints
    sw_vision = 1ull << 26,        // (layer) vision tower layer; only rows that need it apply to it
    sw_vision_head = 1ull << 27,   // the vision tower has an attention-pooling head
    sw_qk_layernorm = 1ull << 28,  // q/k LayerNorms (phi, stablelm)
    sw_post_norms = 1ull << 29,    // extra norms after attention and FFN (gemma2/3)
    sw_no_input_norm = 1ull << 30, // parallel residual without a second norm (stablelm) -- see family
    // Bits 36-40 (issue 13, families group B).
    sw_no_rope = 1ull << 36, // (layer) attention without rotary embedding ("NoPE": SmolLM3 no_rope_layers,
                             // the global layers of Cohere 2 and EXAONE 4)
    sw_classifier_bias =
        1ull << 37, // the prediction/classification head's dense layer has a bias (ModernBERT)
    // Bits 44-47 (issue 13, vision-language group VL).
    sw_vision_merger_layer =
        1ull << 44,                 // (layer) a merger of a vision stack (Qwen3-VL deepstack_merger_list)
    sw_vision_bias = 1ull << 45,    // the vision tower's projections and patch embedding carry biases
    sw_projector_bias = 1ull << 46, // the multimodal projector's linear layers carry biases
    // Bits 48-53 (issue 13, state-space and hybrid families; core/src/model/families/ssm*.cpp). A layer with
    // one of the first three holds a recurrent state (model_spec::recurrent_state_elements) instead of, or
    // (Falcon-H1) beside, a KV cache.
    sw_mamba = 1ull << 48,       // (layer) a Mamba or Mamba-2 mixer (selective state space)
    sw_linear_attn = 1ull << 49, // (layer) a gated DeltaNet linear-attention mixer (Qwen3-Next)
    sw_short_conv = 1ull << 50,  // (layer) a gated short-convolution mixer (LFM2)
    sw_no_attn = 1ull << 51,     // (layer) no attention block in this layer (Nemotron-H MLP layers)
    sw_ssm_bias = 1ull << 52,    // Mamba in_proj/out_proj carry biases (use_bias, mamba_proj_bias)
    sw_conv_bias = 1ull << 53,   // the mixer's causal convolution carries a bias (use_conv_bias, conv_bias)
    sw_ssm_norm = 1ull << 54,    // the Mamba-2 mixer has its gated RMSNorm (Falcon-H1's mamba_rms_norm)
    // Models read from checkpoint headers (header-model.h; bits 58-60).
    sw_no_kv_cache = 1ull << 58, // (layer) caches no keys and values: a block outside the attention stack, or
                                 // a layer whose config layer_types names no attention ("linear_attention")
};

struct layer_spec {
    layer_stack stack = layer_stack::decoder;
    uint32_t index = 0; // index within its stack (what {layer} becomes in names)
    attn_kind attn = attn_kind::full;
    uint64_t window = 0; // tokens a sliding-window layer attends to (a chunked layer: the chunk); 0 for full
    ffn_kind ffn = ffn_kind::dense;
    uint64_t switches = 0; // per-layer switch bits (switch_bit)
};

struct rope_spec {
    double theta = 10000.0;
    std::string scaling_type; // "" (none), "llama3", "linear", "dynamic", "yarn", ...
    double scaling_factor = 1.0;
    uint64_t rotary_dim = 0; // dimensions rotated per head (partial rotary); 0 when the model has no rotary
};

// How a model's processor turns one image into tokens (plan/image-tokens.cpp, docs/memory.md). The values
// are the processor's defaults as the published preprocessor_config.json files set them.
enum class image_token_rule : uint8_t {
    none,              // not a vision-language model
    fixed,             // a fixed count per image (llava: (336/14)^2 = 576; Gemma 3: mm_tokens_per_image 256)
    qwen_smart_resize, // Qwen2/2.5/3-VL: smart_resize to multiples of patch x merge, then (h/p/m)(w/p/m)
    pixtral,           // Pixtral/Mistral 3: resize to longest_edge, patch rows with a break, spatial merge
    llava_next_anyres, // LLaVA-NeXT: best grid of tiles plus the base image, unpadded, with row newlines
    idefics3_split,    // Idefics3/SmolVLM: tiles of longest_edge plus a global image, tokens per tile fixed
    llama4_tiles,      // Llama 4: the best canvas of at most 16 tiles without distortion, plus a global tile
};
struct image_processor_spec {
    image_token_rule rule = image_token_rule::none;
    uint64_t patch = 0;         // pixels per patch side
    uint64_t merge = 1;         // patches merged per side (Qwen spatial_merge_size, Pixtral merge)
    uint64_t tokens = 0;        // tokens per image (fixed) or per tile (idefics3_split)
    uint64_t min_pixels = 0;    // Qwen smart_resize: lower bound of h x w
    uint64_t max_pixels = 0;    // Qwen smart_resize: upper bound of h x w
    uint64_t longest_edge = 0;  // Pixtral: resize bound; Idefics3: the resized image's longest edge
    uint64_t tile = 0;          // LLaVA-NeXT / Idefics3: tile side (vision image_size / max_image_size)
    std::vector<uint64_t> grid; // LLaVA-NeXT image_grid_pinpoints as height, width pairs
    uint64_t max_tiles = 0;     // Llama 4: the most tiles a canvas holds (max_patches)
};

struct model_spec {
    std::string model_type;   // config "model_type", e.g. "llama"
    std::string architecture; // the class counted, e.g. "LlamaForCausalLM"
    int family = -1;          // index into the family table (architectures.h)
    int head = 0;             // index into the family's heads

    uint64_t hidden = 0;        // hidden_size (d_model, n_embd)
    uint64_t n_layers = 0;      // decoder layers (encoder layers for encoders; see layers for stacks)
    uint64_t n_heads = 0;       // attention heads
    uint64_t n_kv_heads = 0;    // key/value heads (defaults to n_heads)
    uint64_t head_dim = 0;      // head_dim, or hidden / n_heads
    uint64_t intermediate = 0;  // dense FFN width
    uint64_t vocab = 0;         // vocab_size
    uint64_t max_positions = 0; // max_position_embeddings (0 when absent)
    uint64_t n_positions = 0;   // rows of a learned position table (with any offset), 0 without one
    uint64_t n_token_types = 0; // token type vocabulary (BERT)
    uint64_t n_labels = 0;      // classification labels (sequence classification heads)
    uint64_t draft_vocab = 0;   // an EAGLE-3 head's own output vocabulary (draft_vocab_size)
    uint64_t n_buckets = 0;     // relative attention buckets (T5)
    uint64_t word_proj_dim = 0; // word embedding width when it differs from hidden (OPT)

    // Sparse mixture of experts (0 experts: dense model).
    uint64_t n_experts = 0;           // routed experts per MoE layer
    uint64_t n_experts_per_tok = 0;   // experts a token is routed to
    uint64_t expert_intermediate = 0; // intermediate size of one routed expert
    uint64_t n_shared_experts = 0;    // shared experts (always active)
    uint64_t shared_intermediate = 0; // FFN width of the shared experts together

    // Multi-head latent attention (DeepSeek-V2/V3).
    uint64_t q_lora_rank = 0;
    uint64_t kv_lora_rank = 0;
    uint64_t qk_nope_head_dim = 0;
    uint64_t qk_rope_head_dim = 0;
    uint64_t v_head_dim = 0;

    // Vision tower (SigLIP in Gemma 3); its layers are in `layers` with stack vision.
    uint64_t vision_hidden = 0;
    uint64_t vision_intermediate = 0;
    uint64_t vision_channels = 0;
    uint64_t vision_patch = 0;
    uint64_t vision_positions = 0; // rows of the vision position table (Llama 4: patches + class token)
    // Llama 4's vision adapter and projector (Llama4VisionConfig projector_input_dim, projector_output_dim,
    // vision_output_dim); 0 for other models.
    uint64_t vision_proj_in = 0;
    uint64_t vision_proj_out = 0;
    uint64_t vision_output = 0;
    // Vision-language families (issue 13): Qwen temporal_patch_size, spatial_merge_size (Idefics3: the
    // pixel-shuffle scale_factor), out_hidden_size; 0 where a model has none.
    uint64_t vision_temporal_patch = 0;
    uint64_t vision_merge = 0;
    uint64_t vision_out = 0;
    uint64_t vision_heads = 0; // vision attention heads (activation estimate of the image inputs)

    // Recurrent mixers (Mamba, Mamba-2, gated DeltaNet, LFM2 short convolutions): widths of the layers marked
    // sw_mamba, sw_linear_attn or sw_short_conv, 0 for other models. Each family reader fills them from its
    // own keys (core/src/model/families/ssm*.cpp).
    uint64_t ssm_inner = 0;    // Mamba d_inner (expand x hidden, or heads x head_dim); DeltaNet value dim
    uint64_t ssm_state = 0;    // state size per head and channel (d_state; DeltaNet: key head_dim)
    uint64_t ssm_heads = 0;    // Mamba-2 heads, DeltaNet value heads (0 for Mamba-1: one state per channel)
    uint64_t ssm_head_dim = 0; // Mamba-2 head_dim, DeltaNet value head_dim
    uint64_t ssm_groups = 0;   // Mamba-2 n_groups of B and C; DeltaNet key heads
    uint64_t ssm_conv_kernel = 0;         // causal convolution width (conv_kernel, d_conv, conv_L_cache)
    uint64_t ssm_conv_dim = 0;            // channels of that convolution
    uint64_t ssm_in_proj = 0;             // in_proj output width
    uint64_t ssm_dt_rank = 0;             // Mamba-1 time_step_rank
    std::optional<dtype> ssm_state_dtype; // the config's mamba_ssm_dtype / state dtype, when it names one
    std::optional<dtype> ssm_conv_dtype;  // the conv state's, when not the KV cache's (GGUF: llama.cpp's F32)

    // Speech encoders (Whisper): num_mel_bins, the width of the two front-end convolutions, and
    // max_source_positions (audio frames per 30-second window after the stride-2 convolution: the encoder's
    // sequence); 0 for other models.
    uint64_t audio_mels = 0;
    uint64_t audio_kernel = 0;
    uint64_t audio_positions = 0;

    norm_kind norm = norm_kind::rms;
    double norm_eps = 1e-6;
    uint64_t switches = 0; // model-wide switch bits (switch_bit)

    rope_spec rope;
    dtype weight_dtype = dtype::f32; // from torch_dtype / dtype, or the user's override

    std::vector<layer_spec> layers;  // every layer of every stack, in state_dict order
    std::string not_modelled;        // parts of the published model left out (e.g. a vision tower)
    std::string quantization_config; // config.json's "quantization_config" object as JSON text, or ""
    image_processor_spec images;     // how the model's processor turns images into tokens (none: text only)

    bool has(uint64_t bits) const { return (switches & bits) == bits; } // every one of `bits` is on
    void set_switches(uint64_t bits, bool on = true) { switches = on ? switches | bits : switches & ~bits; }
    bool tie_embeddings() const { return has(sw_tied); } // the output head is the token embedding
    bool qkv_bias() const { return has(sw_qkv_bias); }   // q/k/v projections carry biases
    bool o_bias() const { return has(sw_o_bias); }       // attention output projection carries a bias
    bool mlp_bias() const { return has(sw_mlp_bias); }   // FFN projections carry biases
    bool qk_norm() const { return has(sw_qk_norm); }     // per-head norms on queries and keys
    // Whether layer `il` rotates its queries and keys (false for NoPE layers and models without rotary).
    bool uses_rope(uint64_t il) const {
        return rope.rotary_dim != 0 && il < layers.size() && !(layers[il].switches & sw_no_rope);
    }

    // Whether layer `il` holds a recurrent state (a Mamba, DeltaNet or short-convolution mixer).
    bool has_recurrent_state(uint64_t il) const {
        return il < layers.size() && (layers[il].switches & (sw_mamba | sw_linear_attn | sw_short_conv));
    }
    // One sequence's recurrent state in such a layer, in elements (docs/memory.md): the causal convolution's
    // last conv_kernel - 1 inputs, and the SSM or delta-rule state (Mamba-1: d_inner x d_state; Mamba-2:
    // heads x head_dim x d_state; DeltaNet: value heads x key head_dim x value head_dim; short convolution:
    // none).
    uint64_t recurrent_conv_elements() const {
        return ssm_conv_kernel ? saturating_mul(ssm_conv_kernel - 1, ssm_conv_dim) : 0;
    }
    uint64_t recurrent_ssm_elements(uint64_t il) const {
        if (il >= layers.size() || (layers[il].switches & sw_short_conv)) return 0;
        if (ssm_heads == 0) return saturating_mul(ssm_inner, ssm_state);
        return saturating_mul(saturating_mul(ssm_heads, ssm_head_dim), ssm_state);
    }

    uint64_t q_dim() const { return n_heads * head_dim; }
    uint64_t kv_dim() const { return n_kv_heads * head_dim; }
    const layer_spec& layer(uint64_t il) const { return layers[il]; }
    bool is_moe_layer(uint64_t il) const { return layers[il].ffn == ffn_kind::moe; }
    // Multi-token-prediction layers (DeepSeek-V3's next-token module) are stored in the checkpoint but loaded
    // only for speculative decoding (workload::include_mtp). False for indices past the layers.
    bool is_mtp_layer(uint64_t il) const {
        return il < layers.size() && layers[il].stack == layer_stack::mtp;
    }

    // Multi-head latent attention widths (DeepSeek-V2/V3; transformers' DeepseekV3Attention), 0 without MLA.
    // They saturate at UINT64_MAX where config values overflow 64 bits; the skeleton reports that as an
    // error.
    bool has_mla() const { return kv_lora_rank != 0; }
    // One head of queries or keys: the part without rotary embedding plus the rotary part.
    uint64_t mla_qk_head_dim() const { return saturating_add(qk_nope_head_dim, qk_rope_head_dim); }
    // Queries (and keys) of all heads: q_b_proj's output (q_proj's when q_lora_rank is 0).
    uint64_t mla_q_dim() const { return saturating_mul(n_heads, mla_qk_head_dim()); }
    // kv_a_proj_with_mqa's output: the compressed KV latent and the rotary key shared by all heads; what the
    // KV cache holds per token and layer.
    uint64_t mla_kv_latent_dim() const { return saturating_add(kv_lora_rank, qk_rope_head_dim); }
    // kv_b_proj's output: every head's key part without rotary embedding and its value.
    uint64_t mla_kv_b_dim() const {
        return saturating_mul(n_heads, saturating_add(qk_nope_head_dim, v_head_dim));
    }
    // Values of all heads: o_proj's input.
    uint64_t mla_v_dim() const { return saturating_mul(n_heads, v_head_dim); }

  private:
    static uint64_t saturating_add(uint64_t x, uint64_t y) {
        uint64_t r = 0;
        return __builtin_add_overflow(x, y, &r) ? UINT64_MAX : r;
    }
    static uint64_t saturating_mul(uint64_t x, uint64_t y) {
        uint64_t r = 0;
        return __builtin_mul_overflow(x, y, &r) ? UINT64_MAX : r;
    }
};

// What kind of model it is, for listings (`modelplan presets`): any of "moe" (routed experts),
// "vision-language" (a vision tower), "hybrid" (state-space, linear-attention or short-convolution layers
// beside attention) or "state-space" (such layers and no attention), "encoder", "encoder-decoder", "mtp"
// (multi-token-prediction layers), in that order.
std::vector<std::string> model_kinds(const model_spec& spec);

} // namespace modelplan
