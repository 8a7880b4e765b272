// Weight storage: which tensors a quantization format stores quantized, and the bytes each one takes with its
// scales, zero points and block metadata (formats, sources: docs/quantization.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "modelplan/memory.h"

namespace modelplan {

// The "weights" plan item for the workload: every stored tensor at its own dtype, or quantized as
// `w.quant` (or the config's quantization_config) says; multi-token-prediction layers only when asked for.
//
// `w.quant` grammar (docs/quantization.md): FORMAT or FORMAT+head, where FORMAT is one of
//   int8 | nf4 | nf4-no-dq | fp4 | fp4-no-dq                 bitsandbytes (4-bit: blocks of 64)
//   gptq-<2|3|4|8>bit-<G>g[-act] | gptq-<bits>bit-pc          GPTQ, group G along the input, or per channel
//   awq-4bit-<G>g                                            AWQ (GEMM)
//   fp8 | fp8-channel | fp8-block128                         e4m3 with per-tensor, per-row or 128x128 scales
//   q8_0 q6_k q5_k q5_0 q5_1 q4_k q4_0 q4_1 q3_k iq4_nl iq4_xs   GGUF, one block type (output: Q6_K)
//   q4_k_m q4_k_s q5_k_m q5_k_s q2_k                         GGUF, llama-quantize's mixes
// "+head" also quantizes the output head (lm_head) the way the format quantizes linear layers.
// With `per_tensor`, also the stored bytes of each skeleton tensor (same order as a.sk.tensors; 0 for tensors
// not loaded, such as multi-token-prediction layers without w.include_mtp); they sum to the item's bytes.
result<plan_item> plan_weights(const analysis& a, const workload& w,
                               std::vector<uint64_t>* per_tensor = nullptr);

// The format names `w.quant` accepts, for messages and help ("int8, nf4, ...").
std::string quant_format_list();

// The format a typed name stands for: an alias people use ("gptq", "awq", "int4", "bnb-4bit", "q4", ...;
// the one table of them is in quantization.cpp, docs/quantization.md lists it) becomes its format
// ("gptq-4bit-128g"); any other name comes back lower-cased and trimmed, unchanged otherwise.
std::string canonical_quant_name(const std::string& typed);

} // namespace modelplan
