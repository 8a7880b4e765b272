// Memory plan for inference: named line items computed from the skeleton and the spec, each with the inputs
// that produced it (formulas and sources: docs/memory.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "modelplan/error.h"
#include "modelplan/report.h"

namespace modelplan {

enum class attention_impl : uint8_t { sdpa, eager, flash }; // flash: FlashAttention-2 explicitly
enum class plan_mode : uint8_t { inference, training };
enum class train_method : uint8_t { full, lora, qlora };
enum class optimizer_kind : uint8_t { adamw, adamw_8bit, sgd_momentum, adafactor };
enum class recompute_kind : uint8_t { none, selective, full };

struct workload {
    plan_mode mode = plan_mode::inference;
    uint64_t batch = 1;
    uint64_t seq = 0;           // tokens per sequence held in the cache (prompt + generated); 0: the default
    uint64_t encoder_seq = 0;   // encoder tokens for encoder-decoder models; 0: same as seq
    uint64_t prefill_chunk = 0; // tokens per sequence in one forward pass; 0: the whole sequence
    std::optional<dtype> kv_dtype; // default: the weights' 16/32-bit float type
    // A block-quantized KV cache (llama.cpp's --cache-type-k/v q8_0 or q4_0): bytes per block of 32 elements;
    // 0 when the cache uses kv_dtype.
    uint64_t kv_block_bytes = 0;
    attention_impl attention = attention_impl::sdpa;
    // The recurrent state's SSM or delta-rule part (Mamba, DeltaNet layers): vLLM's --mamba-ssm-cache-dtype.
    // Default: the config's mamba_ssm_dtype when it names one, else the KV cache's dtype. The convolution
    // part always uses the KV cache's dtype.
    std::optional<dtype> state_dtype;
    // Fixed runtime overhead (CUDA context and kernels): 1,343 MiB by default, the figure transformers'
    // "Model training anatomy" guide measures right after initializing CUDA (docs/memory.md).
    uint64_t overhead_bytes = 1343ull << 20;
    bool include_mtp = false; // load multi-token-prediction layers (speculative decoding)
    // Image inputs per sequence (vision-language models, images.h): their tokens join each sequence after
    // its `seq` text tokens, and the vision tower's activations are planned. 0 x 0: 1024 x 1024.
    uint64_t images = 0;
    uint64_t image_width = 0;
    uint64_t image_height = 0;

    // Weight quantization as the user names it ("" = none, or what config.json's quantization_config says);
    // formats and names: quantization.h.
    std::string quant;

    // Training (mode == training).
    train_method method = train_method::full;
    uint64_t lora_rank = 16;
    // Roles the adapters attach to; empty: attn_q, attn_k, attn_v, attn_o.
    std::vector<std::string> lora_targets;
    optimizer_kind optimizer = optimizer_kind::adamw;
    recompute_kind recompute = recompute_kind::none;
    uint32_t zero_stage = 0;        // DeepSpeed ZeRO stage 0..3 (FSDP full sharding is stage 3)
    uint64_t gpus = 1;              // data-parallel size the ZeRO/FSDP shards are divided by
    bool offload_optimizer = false; // optimizer states (and master weights) in CPU memory
};

// Each choice as requests spell it ("sdpa", "adamw-8bit", ...): what set_workload_option parses and what
// plans show.
const char* attention_name(attention_impl a);
const char* mode_name(plan_mode m);
const char* method_name(train_method m);
const char* optimizer_name(optimizer_kind k);
const char* recompute_name(recompute_kind k);

// Sets one workload option from text, as the CLI (--kv-dtype bf16) and JSON requests ({"kv_dtype": "bf16"})
// give it. Names: batch, seq, encoder_seq, prefill_chunk, kv_dtype, attention, overhead, mtp, mode, quant,
// method, lora_rank, lora_targets, optimizer, recompute, zero, gpus, offload, images, image_size ("WxH"). The
// error names the option
// (`label`, e.g. "--kv-dtype") and the value.
std::optional<error> set_workload_option(workload& w, const std::string& name, const std::string& value,
                                         const std::string& label);

// The default sequence length when the workload names none: 4096 tokens, or max_position_embeddings when
// smaller.
uint64_t default_seq(const model_spec& spec);

// Whether tensor `t` lies in a multi-token-prediction layer (model_spec::is_mtp_layer).
bool in_mtp_layer(const model_spec& spec, const tensor_info& t);
// Whether the workload loads layer `il` / tensor `t`: everything but multi-token-prediction layers, which
// load only with include_mtp. Tensors outside layers (embeddings, head) always load.
bool loads_layer(const model_spec& spec, const workload& w, uint64_t il);
bool loads_tensor(const model_spec& spec, const workload& w, const tensor_info& t);

struct plan_input {
    std::string name;
    std::string value;
};

struct plan_item {
    std::string name; // "weights", "kv_cache", ...
    uint64_t bytes = 0;
    std::string formula; // how the bytes follow from the inputs
    std::vector<plan_input> inputs;
};

// The plan checked against one GPU (devices.h fills it).
struct plan_device {
    std::string gpu;                 // catalog key
    uint64_t memory_bytes = 0;       // as the driver reports it
    bool fits = false;               // total <= memory and nothing prevents running
    int64_t headroom_bytes = 0;      // memory - total
    std::vector<std::string> errors; // reasons it cannot run as chosen
    std::vector<std::string> warnings;
    double decode_tokens_per_s = 0; // roofline upper bound
    double prefill_seconds = 0;     // roofline lower bound
    double flops_per_token = 0;
    double training_flops = 0; // 6 N tokens for one step
};

// The working set of one inference forward pass over batch x prefill_chunk tokens (docs/memory.md).
struct forward_activations {
    uint64_t residual = 0;  // the residual stream and one layer's output: 2 x tokens x hidden
    uint64_t attention = 0; // Q, K, V and O of the chunk, plus scores and probabilities with eager attention
    uint64_t ffn = 0;       // gate, up and their product at the widest FFN
    uint64_t logits = 0;    // the last position's logits in fp32: paid once, where the output head runs
};

// Training figures, per GPU (ZeRO/FSDP sharding applied); all 0 in an inference plan (docs/training.md).
struct training_memory {
    uint64_t trainable_parameters = 0; // every weight (full fine-tuning) or the adapters' A and B
    uint64_t master_weights = 0;       // fp32 copy under mixed precision (0 on the GPU with offload)
    uint64_t gradients = 0;
    uint64_t optimizer_states = 0; // 0 on the GPU with offload
    uint64_t offloaded_bytes = 0;  // master weights and optimizer states held in CPU memory (offload)
    uint64_t lora_adapters = 0;
    uint64_t layer_activations = 0; // kept for the backward pass by every layer, after recomputation
    uint64_t recomputed_layer = 0;  // one layer's forward re-run at a time (full recomputation)
    uint64_t head_inputs = 0;       // final norm and output head inputs
    uint64_t loss = 0;              // fp32 logits of every position for the cross-entropy
};

// The plan's figures as typed fields: what code reads (placement, parallel plans, device checks). The named
// items of a memory_plan present the same figures to people; never parse them.
struct memory_breakdown {
    uint64_t weights = 0;           // the "weights" item: per GPU under ZeRO stage 3 / FSDP
    uint64_t unsharded_weights = 0; // every loaded weight (what placement divides among devices)
    uint64_t kv_cache = 0;          // the whole workload's cache (inference; 0 in training)
    uint64_t recurrent_state = 0;   // the recurrent state of every sequence (inference; 0 in training)
    uint64_t activations = 0; // the "activations" item (inference: of `forward`; training: of `training`)
    uint64_t overhead = 0;    // CUDA context and kernels
    uint64_t vision_activations = 0; // the "vision_activations" item (inference with images; an estimate)
    forward_activations forward;     // inference only
    training_memory training;        // training only
};

// The workload values a plan was computed with, defaults resolved: what the page shows in empty fields
// ("4096 (default)") and the CLI prints above its tables (issue 17).
struct values_in_use {
    uint64_t batch = 1;
    uint64_t seq = 0;
    bool seq_default = false;      // no seq given: default_seq() of the model
    std::string weight_dtype;      // "BF16": the stored dtype of the unquantized weights
    std::string quant;             // the weight format in use ("fp8-block128"); empty when unquantized
    std::string quant_source;      // "config" (its quantization_config), "request" (quant/--quant) or empty
    std::string kv_dtype;          // "BF16", "FP8", "q8_0"...
    bool kv_dtype_default = false; // no kv_dtype given: the compute dtype
};

struct memory_plan {
    bool training = false;
    values_in_use in_use;
    std::optional<plan_device> device;
    std::vector<plan_item> items; // presentation: names, formulas and inputs as text
    memory_breakdown bytes;       // the same figures, typed
    uint64_t total_bytes = 0;
    uint64_t kv_bytes_per_token = 0;     // one more token of one sequence, every layer
    uint64_t image_tokens = 0;           // image tokens of one sequence (images x tokens per image), in seq
    uint64_t image_tokens_per_image = 0; // as the model's processor counts them (images.h)
    uint64_t image_width = 0, image_height = 0; // the image size counted (the request's, or 1024 x 1024)
    uint64_t text_seq = 0; // the sequence's text tokens (the workload's seq or its default)
    // KV cache of the whole workload, per layer (0 where a layer caches nothing).
    std::vector<uint64_t> kv_bytes_by_layer;
    // Recurrent state of the whole workload (batch sequences), per layer: Mamba, DeltaNet and
    // short-convolution layers (0 elsewhere; empty for models without such layers). It does not grow with the
    // context.
    std::vector<uint64_t> state_bytes_by_layer;
    uint64_t state_bytes_per_sequence = 0; // one sequence, every layer
    dtype state_conv_dtype = dtype::bf16;  // the convolution part of the state
    dtype state_ssm_dtype = dtype::bf16;   // its SSM or delta-rule part
    // Stored bytes of each skeleton tensor (same order as a.sk.tensors; 0 for tensors not loaded), summing to
    // the weights item before any ZeRO/FSDP sharding: what placement divides among devices.
    std::vector<uint64_t> weight_bytes_by_tensor;
    std::vector<std::string> warnings;
};

// The floating type activations and (by default) the KV cache use: the weights' type when it is a float of
// 16 or 32 bits, else bf16 (quantized and 8-bit weights compute in bf16).
dtype compute_dtype(dtype weights);

// KV-cache bytes one token of one sequence adds in layer `il` (0 for layers without a cache).
// With `block_bytes` set, the cache is block-quantized: bytes per block of 32 values.
uint64_t kv_bytes_per_token_in_layer(const model_spec& spec, uint64_t il, dtype kv, uint64_t block_bytes = 0);

// Recurrent-state bytes of one sequence in layer `il` (0 for layers without one): the convolution's last
// conv_kernel - 1 inputs at `conv` and the SSM or delta-rule state at `ssm` (docs/memory.md).
uint64_t state_bytes_per_sequence_in_layer(const model_spec& spec, uint64_t il, dtype conv, dtype ssm);

result<memory_plan> plan_memory(const analysis& a, const workload& w);

std::string plan_json(const analysis& a, const memory_plan& p);

} // namespace modelplan
