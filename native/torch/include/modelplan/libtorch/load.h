// The LibTorch adapter, part 2: streaming a safetensors checkpoint into a meta_model (docs/loading.md).
//
// load_weights() verifies the checkpoint against the skeleton first, from headers alone, and allocates
// nothing when that fails. Then each parameter is materialized on its device and filled:
//   CPU:  worker threads pread() straight into the destination tensors' memory (no copy of whole files); with
//         `mmap`, tensors whose dtype already matches alias a private mapping of the file instead.
//   CUDA: reader threads fill a ring of pinned staging buffers; each buffer is copied to the device
//         asynchronously on a CUDA stream, with an event that tells the reader when it may be refilled; dtype
//         conversion runs on the device. Mapped file pages are never the source of a device copy.
// A read error or a file that shrank mid-load fails cleanly: the error names the file and the tensor, and
// every parameter goes back to its meta tensor, which frees what was allocated.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "modelplan/checkpoint.h"
#include "modelplan/config.h"
#include "modelplan/device-map.h"
#include "modelplan/libtorch/meta.h"
#include "modelplan/report.h"
#include "modelplan/verify.h"

namespace modelplan::libtorch {

// A checkpoint on disk, read from its headers: a .safetensors file, a model.safetensors.index.json with its
// shards, or a folder holding either (GGUF is read but not loaded).
struct checkpoint_source {
    std::string path;                         // as given
    std::string folder;                       // the folder its files are in
    std::string kind;                         // "safetensors file", "sharded safetensors", ...
    checkpoint ck;                            // every tensor's file and byte range
    std::optional<std::string> folder_config; // config.json beside it, when there is one
};
result<checkpoint_source> open_checkpoint(const std::string& path);

// MODEL as the CLI takes it: a preset name, a config.json, or a folder holding one.
result<analysis> analyze_model(const std::string& model, const config_options& options = {});

// The part of one stored tensor that this process holds (tensor parallelism: the distributed loader fills
// these from the core's rank_slices). The rank's tensor is the pieces along `axis`, in order, then `pad` zero
// indices; the other axes whole.
struct tensor_part {
    bool held = true; // false: another pipeline stage holds it; it stays on meta, unread
    int axis = -1;    // -1: the whole tensor
    std::vector<std::pair<uint64_t, uint64_t>> pieces; // (start, length) along `axis`
    uint64_t pad = 0;
};

enum class cpu_alloc_kind : uint8_t { huge, plain, arena };

struct load_options {
    // Where every parameter goes: "cpu", "cuda", "cuda:N", or "auto" (cuda:0 when CUDA is available, else
    // cpu). Ignored for tensors that tensor_devices places.
    std::string device = "cpu";
    // Per parameter (index of meta_model::params), from a device map (devices_for_map): "cpu", "cuda:N",
    // "disk" or "meta" (both left on meta, not read). Empty: `device` for all.
    std::vector<std::string> tensor_devices;
    unsigned threads = 0; // reader threads; 0: the machine's cores, at most 8
    bool mmap = false;    // CPU: alias mapped file pages where the dtype matches (no read at all)
    // Read with O_DIRECT (past the page cache: cold loads from NVMe), through aligned buffers; files whose
    // file system refuses it are read normally, with a warning. Not with `mmap`.
    bool direct = false;
    uint64_t chunk_bytes = 16ull << 20; // unit of work; on CUDA the size of one pinned staging buffer
    unsigned staging_buffers = 2;       // CUDA: pinned staging buffers per reader thread
    // Per parameter (index of meta_model::params): its part (empty: every tensor whole). Each parameter is
    // first resized, on meta, to its part's shape; only the part's byte ranges are read.
    std::vector<tensor_part> parts;
    // Per parameter: allocate on its device but read nothing (the caller fills it, e.g. by a broadcast).
    // Empty: read every parameter.
    std::vector<bool> fill_later;
    // A split along a later axis is one run of bytes per row: runs shorter than this are read together with
    // their neighbours, up to 4 MiB at a time, the bytes between them dropped (0: one read per run).
    uint64_t min_run_bytes = 0;
    // CPU destinations' memory (docs/loading.md, "Fresh memory"; bench/load-bench.sh measures each): `huge`
    // maps each tensor of 4 MiB or more on its own, advised for transparent huge pages (smaller ones from
    // LibTorch's allocator); `plain` takes every tensor from LibTorch's allocator; `arena` maps one region
    // for all of them, advised for huge pages, freed when the last of its tensors is.
    cpu_alloc_kind cpu_alloc = cpu_alloc_kind::huge;
    // Fault the fresh CPU destinations' pages in before the reads, in parallel on the reader threads
    // (MADV_POPULATE_WRITE where the kernel has it, else one write per page).
    bool prefault = false;
    // Called from the calling thread about ten times a second, and once at the end: bytes done, bytes total.
    std::function<void(uint64_t, uint64_t)> progress;
};

struct device_totals {
    uint64_t tensors = 0;
    uint64_t bytes = 0; // destination bytes
};

struct load_report {
    uint64_t tensors = 0;          // parameters materialized (disk ones excluded)
    uint64_t bytes = 0;            // checkpoint bytes the destinations hold (read or mapped)
    uint64_t bytes_read = 0;       // bytes the reads asked for (with parts: the coalesced gaps included)
    uint64_t reads = 0;            // read calls
    uint64_t tensors_deferred = 0; // allocated, not read (load_options::fill_later)
    uint64_t dest_bytes = 0;       // bytes of the destination tensors
    double seconds = 0;            // allocation and filling, verification excluded
    uint64_t peak_rss_bytes = 0;   // the process's peak resident memory during the load (VmHWM)
    uint64_t rss_before_bytes = 0; // resident memory when the load started
    unsigned threads = 0;
    bool mmap = false;
    bool direct = false; // O_DIRECT was used (for at least one file)
    // "cpu", "cuda:0", ...; "disk" and "meta" for parameters left on meta (mapped to disk; in no map entry)
    std::map<std::string, device_totals> devices;
    std::vector<std::string> warnings; // raw-byte dtypes, conversions, dtype differences
    uint64_t tensors_converted = 0;
    uint64_t tensors_aliased = 0; // mmap aliases
    uint64_t tensors_reused =
        0; // already materialized with the right device, dtype and shape: filled in place
    uint64_t buffers_on_meta = 0; // known buffers (rotary inv_freq): computed from the config, never loaded
    double prefault_seconds = 0;  // of `seconds`: faulting the destinations in (load_options::prefault)
    verify_report verify;
};

// A quantized checkpoint (GPTQ, AWQ, compressed-tensors, fp8 with weight_scale_inv, MXFP4 blocks and scales,
// bitsandbytes states) loads as it is stored: the model's skeleton with each quantized group's logical weight
// replaced by the group's stored tensors (q_proj.qweight, .qzeros, .scales, .g_idx; q_proj.weight as F8_E4M3
// and .weight_scale_inv; ...), each with its stored name, shape and dtype, in the module of the weight it
// stands for. The checkpoint is verified against the model's logical skeleton first (the same report as
// `inspect`); an error names what does not match. A checkpoint without quantized groups gives back `sk`
// unchanged.
struct stored_model {
    skeleton sk;                            // build the meta model from this one, and load it with it
    uint64_t groups = 0;                    // quantized groups replaced by their stored tensors
    std::vector<quantized_group> quantized; // those groups (a rank's part of them: stored_rank_slices)
    std::string schemes;                    // "gptq 4-bit (group 128)", ...: for messages
    verify_report verify;                   // the logical verification
};
result<stored_model> stored_skeleton(const skeleton& sk, const checkpoint_source& src);

// Verifies `src` against `sk` (the skeleton `m` was built from), then loads. On any error, every parameter is
// what it was before the call (its meta tensor on a first load), and what this call allocated is freed.
// Parameters already materialized on their device with the right dtype (a second load into the same model)
// are filled in place, without allocating; after a failed reload such tensors may hold part of the new data.
result<load_report> load_weights(meta_model& m, const skeleton& sk, const checkpoint_source& src,
                                 const load_options& options = {});

// load_options::tensor_devices for a device map (transformers' device_map JSON, or place_model's map): the
// core's assign_devices, except that tensors of multi-token-prediction layers (DeepSeek-V3's model.layers.61)
// that no entry covers are left on meta ("meta") with a warning: transformers does not load those layers, so
// its device maps never list them. Any other tensor that no entry covers is an error naming it.
struct mapped_devices {
    std::vector<std::string> devices;  // per skeleton tensor: "cpu", "cuda:N", "disk" or "meta"
    std::vector<std::string> unmapped; // the multi-token-prediction tensors left on meta
    std::vector<std::string> warnings; // says so, naming the layers
};
result<mapped_devices> devices_for_map(const analysis& a, const device_map& map);

// True when `src` stores tensors of the model's multi-token-prediction layers (then `--device-map auto` plans
// them too: workload::include_mtp).
bool stores_mtp_layers(const analysis& a, const checkpoint_source& src);

// {"tensors", "bytes", "seconds", "gb_per_s", "peak_rss_bytes", "devices": {name: {"tensors", "bytes"}}, ...}
std::string load_json(const load_report& r);

bool built_with_cuda();               // this library was compiled with the CUDA path
int cuda_device_count();              // 0 when CUDA is not built or not present
uint64_t cuda_free_bytes(int device); // free memory of a CUDA device (cudaMemGetInfo); 0 without CUDA

// Resident memory of this process now and at its peak (/proc/self/status VmRSS, VmHWM), in bytes.
uint64_t rss_bytes();
uint64_t peak_rss_bytes();
// Resets the peak to the current resident memory (/proc/self/clear_refs); false when the kernel refuses.
bool reset_peak_rss();

} // namespace modelplan::libtorch
