// The LibTorch adapter, part 3: one rank of a tensor-/pipeline-parallel group loads only its slice of every
// tensor (docs/loading.md#distributed-loading).
//
// The ranks meet through c10d's TCPStore at MASTER_ADDR:MASTER_PORT (rank 0 serves it). Before any large
// read they agree: each publishes what it is about to load (the model's skeleton, the checkpoint's tensor
// list, the layout) or the error that stopped it, and every rank compares every other with rank 0, so a rank
// whose config, checkpoint or plan differs, or that failed, fails the whole group with a message naming the
// rank and the difference. Each rank then reads the byte ranges of its slices (the core's rank_slices: the
// splits `modelplan place --tp` prints). With `read_once`, the tensors every rank of a stage holds whole are
// read by one rank each and broadcast over c10d (Gloo on CPU, NCCL on CUDA). Every wait is bounded by
// `timeout`: a rank that dies or never comes ends every other rank with an error naming it, never a hang.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "modelplan/config.h"
#include "modelplan/libtorch/load.h"
#include "modelplan/libtorch/meta.h"
#include "modelplan/report.h"

namespace modelplan::libtorch {

// This process's place in the group, as a launcher (torchrun, a scheduler, `modelplan load --nproc`) sets it.
struct group_member {
    int rank = 0, world_size = 1, local_rank = 0;
    std::string master_addr = "127.0.0.1";
    uint16_t master_port = 29500;
};
// RANK, WORLD_SIZE, LOCAL_RANK (default: RANK), MASTER_ADDR (default 127.0.0.1), MASTER_PORT (default 29500);
// an error names the variable and its value.
result<group_member> member_from_environment();

struct distributed_options {
    uint64_t tp = 1, pp = 1; // T x P must equal the world size; rank = stage x T + tensor-parallel rank
    bool read_once = false;  // replicated tensors read by one rank of the stage each, then broadcast
    bool checksums = false;  // rank_report::tensors: every held tensor's rank shape, dtype and CRC-32
    std::chrono::milliseconds timeout{std::chrono::seconds(60)}; // every wait on another rank
    // device: "cpu", or "cuda"/"auto" for cuda:LOCAL_RANK (cpu where CUDA is absent, with "auto");
    // threads, chunk_bytes, min_run_bytes as for one process. parts and fill_later are set here.
    load_options load;
};

struct rank_tensor {
    std::string name;
    std::vector<int64_t> shape; // the rank's
    std::string dtype;          // safetensors' name of the dtype held ("BF16")
    uint32_t crc32 = 0;         // zlib's CRC-32 of the rank's bytes, contiguous, little-endian
};

struct rank_report {
    int rank = 0, world_size = 1;
    uint64_t tp = 1, pp = 1, tp_rank = 0, stage = 0;
    std::string device;  // "cpu", "cuda:N"
    std::string backend; // "gloo", "nccl"; empty when no collective ran (no read_once)
    load_report load;    // this rank's load: bytes, bytes_read, reads, seconds, ...
    uint64_t held_tensors = 0;
    uint64_t replicated_tensors = 0, replicated_bytes = 0; // held whole by every rank of the stage
    uint64_t broadcast_tensors = 0, broadcast_bytes = 0;   // received or sent by broadcast (read_once)
    uint64_t proc_rchar_bytes = 0;                         // /proc/self/io rchar over the load
    uint64_t proc_read_bytes = 0;                          // /proc/self/io read_bytes (from storage)
    double seconds = 0;                                    // rendezvous to the end, agreement included
    uint64_t peak_rss_bytes = 0;
    std::vector<rank_tensor> tensors; // with checksums, in the skeleton's order
};

// The loaded rank: the skeleton the tree points into, the module tree with rank-shaped parameters (tensors of
// other stages stay on meta, at their rank shape), and the report.
struct rank_model {
    std::unique_ptr<analysis> a;
    meta_model model;
    rank_report report;
};

// Joins the group, agrees, and loads `path` (a safetensors file, index or folder) as `model` (a preset, a
// config.json or a folder holding one; empty: the config.json beside the checkpoint).
result<rank_model> load_rank(const std::string& path, const std::optional<std::string>& model,
                             const config_options& config, const group_member& me,
                             const distributed_options& options);

// {"rank", "world_size", "tp", "pp", "tp_rank", "stage", "device", "backend", "tensors": [{"name", "shape",
// "dtype", "crc32"}], "bytes", "bytes_read", "reads", "proc_rchar_bytes", "proc_read_bytes", ..., "seconds",
// "peak_rss_bytes"} on one line.
std::string rank_json(const rank_report& r);

// The collectives this build has: Gloo (CPU broadcasts: its headers were found) and NCCL (CUDA and nccl.h).
bool built_with_gloo();
bool built_with_nccl();

// zlib's CRC-32 of a tensor's bytes (contiguous; a CUDA tensor is copied to the host first).
uint32_t tensor_crc32(const at::Tensor& t);

} // namespace modelplan::libtorch
