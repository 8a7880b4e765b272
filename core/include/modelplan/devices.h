// The GPU catalog (models/gpu-catalog.tsv, sources in models/SOURCES-GPU.md), forgiving lookup, the checks
// that say when a workload cannot run on a GPU, the fits verdict and roofline estimates (docs/devices.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "modelplan/error.h"
#include "modelplan/memory.h"

namespace modelplan {

// One catalog row as embedded at build time.
struct gpu_row {
    std::string key;       // "h100-80gb"; a custom GPU: the text that describes it ("custom:24GiB,bw=1008")
    std::string name;      // "NVIDIA H100 SXM5 80GB ..."
    const char* arch;      // "Hopper"
    const char* compute;   // "9.0" (CUDA compute capability) or "gfx942"
    uint64_t memory_mib;   // total memory as the driver reports it (nvidia-smi / rocm-smi), MiB
    double bandwidth_gbps; // memory bandwidth, GB/s (decimal); 0 when not sourced
    double bf16_tflops;    // dense BF16 tensor throughput; 0 when unknown or unsupported
    double fp16_tflops;    // dense FP16 tensor throughput; 0 when unknown
    bool bf16;             // supports bfloat16
    bool fp8;              // supports float8 tensor cores
    uint64_t exact_bytes =
        0; // a custom GPU: its memory as given (not a whole number of MiB); 0 for the catalog
    uint64_t memory_bytes() const { return exact_bytes ? exact_bytes : memory_mib << 20; }
    bool custom() const { return key.rfind("custom:", 0) == 0; }
};

const std::vector<gpu_row>& gpu_catalog();

// Forgiving lookup: case, spaces, dashes and "nvidia"/"geforce" prefixes are ignored ("H100 80GB",
// "h100-80gb", "NVIDIA H100"); the error suggests the closest keys. A GPU of your own is
// "custom:MEMORY[,bw=GB/s][,tflops=T]" (docs/devices.md): "custom:24GiB", "custom:24,bw=1008,tflops=165".
result<gpu_row> find_gpu(const std::string& name);

// "custom:24GiB,bw=1008GB/s,tflops=165" -> a row of its own (bf16 and fp8 assumed supported, no
// compute-capability checks); the error names the part that is wrong.
result<gpu_row> custom_gpu(const std::string& text);

// Reasons the workload cannot run on the GPU as chosen (errors), and things worth knowing (warnings).
struct device_check {
    std::vector<std::string> errors;
    std::vector<std::string> warnings;
};
device_check check_workload(const analysis& a, const workload& w, const gpu_row& gpu);

// Upper-bound speed estimates from the roofline: decode is bound by memory bandwidth, prefill by compute.
struct roofline {
    uint64_t bytes_per_decode_step = 0; // weights touched per step (active parameters) + KV read
    double decode_tokens_per_s = 0;     // batch x bandwidth / bytes per step
    double flops_per_token = 0;         // forward FLOPs per token: 2 x active params + attention
    double prefill_seconds = 0;         // batch x seq x flops_per_token / peak
    double training_flops = 0;          // 6 x trainable params x tokens, for one step of batch x seq
};
roofline estimate_roofline(const analysis& a, const workload& w, const memory_plan& p, const gpu_row& gpu);

// Checks, verdict and roofline of the plan on `gpu`, stored in p.device.
void attach_device(const analysis& a, const workload& w, const gpu_row& gpu, memory_plan& p);

// The catalog as JSON: {"gpus": [{"key", "name", "arch", "compute", "memory_bytes", "bandwidth_gbps",
// "bf16_tflops", "fp16_tflops", "bf16", "fp8"}]}.
std::string gpus_json();

} // namespace modelplan
