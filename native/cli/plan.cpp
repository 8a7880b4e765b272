// `modelplan plan`: memory for one workload, as named items (docs/memory.md, docs/training.md).
#include <cstdio>

#include "commands.h"
#include "modelplan/devices.h"
#include "modelplan/header-model.h"
#include "modelplan/memory.h"
#include "modelplan/report.h"
#include "modelplan/text.h"
#include "output.h"
#include "table.h"

namespace modelplan::cli {

const char* const plan_help = R"(usage: modelplan plan [MODEL] [options] [--json]

Memory for one workload, as named items with the inputs behind each (docs/memory.md): weights (every
tensor at its dtype or quantized storage), then for inference kv_cache (layer by layer: full attention,
sliding window, MLA, cross-attention) and activations, for training gradients, optimizer states and
training activations (docs/training.md); and overhead.

workload:
  --mode inference|training  (default inference)
  --batch N            sequences per step (default 1)
  --seq N              tokens per sequence, prompt + generated (default 4096, or max_position_embeddings
                       when smaller)
  --encoder-seq N      encoder tokens of an encoder-decoder model (default: --seq)
  --prefill-chunk N    tokens per sequence in one forward pass (default: the whole sequence)
  --images N           images per sequence (vision-language models): their tokens, as the model's
                       processor counts them, join the sequence after its --seq text tokens, and the
                       vision tower's activations are planned (an estimate; docs/memory.md)
  --image-size WxH     size of each image in pixels, e.g. 1024x768 (default 1024x1024)
  --dtype DTYPE        weight dtype (default: the config's torch_dtype/dtype)
  --quant FORMAT       weight quantization (docs/quantization.md; default: the config's
                       quantization_config, else none)
  --kv-dtype DTYPE     KV-cache dtype: bf16, fp16, fp32, fp8, int8, q8_0, q4_0 (default: the compute
                       dtype)
  --state-dtype DTYPE  SSM / delta-rule part of the recurrent state of Mamba, DeltaNet layers (vLLM's
                       --mamba-ssm-cache-dtype; default: the config's mamba_ssm_dtype, else the KV dtype)
  --attn sdpa|flash|eager   attention implementation; eager materializes the score matrix; flash is
                       refused where FlashAttention-2 cannot run (default sdpa)
  --overhead SIZE      fixed runtime overhead, e.g. 512MiB (default 1343MiB: CUDA context, see
                       docs/memory.md)
  --mtp                also load multi-token-prediction layers (DeepSeek-V3)
  --head HEAD          the head instead of the class in "architectures"
  --checkpoint-weights the weights as the checkpoint beside the config stores each tensor (its headers;
                       MODEL a folder with config.json and its checkpoint), not at the config's dtype
  --gpu NAME           check against a catalog GPU (modelplan gpus): verdict, headroom, what cannot
                       run, roofline upper bounds; your own: custom:24GiB[,bw=1008][,tflops=165]
training:
  --method full|lora|qlora     (default full)
  --lora-rank N                (default 16)
  --lora-targets ROLES         comma-separated roles (default attn_q,attn_k,attn_v,attn_o)
  --optimizer adamw|adamw-8bit|sgd|adafactor   (default adamw)
  --recompute none|selective|full               activation recomputation (default none)
  --zero 0|1|2|3       DeepSpeed ZeRO stage; --fsdp is full sharding (stage 3)
  --gpus N             data-parallel size the shards divide by (default 1)
  --offload            optimizer states in CPU memory
output:
  --json               {"model", "architecture", "plan": {"mode", "items": [{"name", "bytes", "formula",
                       "inputs"}], "total_bytes", "kv_bytes_per_token", "kv_bytes_by_layer", "warnings",
                       with --images "images": {"tokens_per_image", "image_tokens", "text_seq"}}}
  -h, --help           show this help
)";

namespace {

std::string render_plan(const analysis& a, const memory_plan& p) {
    std::string out = model_title(a) + values_line(p) + "\n";
    table items({
        {"item",  align::left },
        {"bytes", align::right},
        {"size",  align::right}
    });
    for (const auto& item : p.items)
        items.row({item.name, with_thousands(item.bytes), binary_size(item.bytes)});
    items.row({"total", with_thousands(p.total_bytes), binary_size(p.total_bytes)});
    out += items.render() + "\n";
    for (const auto& item : p.items) {
        out += item.name + ": " + item.formula + "\n ";
        for (const auto& in : item.inputs) out += " " + in.name + "=" + in.value;
        out += "\n";
        std::string note = a.from_headers ? a.from_headers->note_for_item(item.name) : std::string();
        if (!note.empty()) out += "  note: " + note + "\n";
    }
    out += "\nKV cache per token of one sequence: " + with_thousands(p.kv_bytes_per_token) + " bytes\n";
    if (!p.state_bytes_by_layer.empty())
        out += "Recurrent state per sequence (any context length): " +
               with_thousands(p.state_bytes_per_sequence) + " bytes\n";
    for (const auto& warning : p.warnings) out += "warning: " + warning + "\n";
    if (p.device) {
        const auto& d = *p.device;
        out += "\non " + d.gpu + " (" + binary_size(d.memory_bytes) +
               "): " + (d.fits ? "fits" : "does not fit") + ", headroom " + signed_size(d.headroom_bytes) +
               "\n";
        for (const auto& e : d.errors) out += "cannot run: " + e + "\n";
        for (const auto& e : d.warnings) out += "warning: " + e + "\n";
        char buf[160];
        std::snprintf(buf, sizeof buf,
                      "roofline (upper bounds): decode %.0f tokens/s, prefill at least %.3f s\n",
                      d.decode_tokens_per_s, d.prefill_seconds);
        out += buf;
    }
    std::vector<std::string> shown = {"weights", "kv_cache", "activations"};
    if (!p.state_bytes_by_layer.empty()) shown.push_back("recurrent_state"); // its note is under its item
    return out + header_notes(a, shown);
}

} // namespace

int run_plan(const command_line& cl) {
    std::optional<gpu_row> gpu;
    if (cl.gpu) {
        auto g = find_gpu(*cl.gpu);
        if (!g) return fail(g.err());
        gpu = *g;
    }
    auto a = read_model(cl);
    if (!a) return fail(a.err().message);
    workload w;
    if (auto e = read_workload(cl, w)) return fail(*e);
    auto p = plan_memory(*a, w);
    if (!p) return fail(p.err());
    if (gpu) attach_device(*a, w, *gpu, *p);
    print(cl.json ? plan_json(*a, *p) : render_plan(*a, *p));
    return exit_ok;
}

} // namespace modelplan::cli
