// Shared by the CPU (load.cpp) and CUDA (load-cuda.cpp) fill paths; not installed.
#pragma once

#include <ATen/core/Tensor.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

#include "modelplan/error.h"

namespace modelplan::libtorch::detail {

// The part of a stored tensor that one tensor-parallel rank holds (load_options::parts), as the fill walks
// it: the stored tensor seen as [outer][full][inner] around the split axis, the rank's as
// [outer][rank][inner], where `rank` is the pieces' lengths, in order, then `pad` zero indices.
struct part_geometry {
    struct piece {
        uint64_t start = 0, length = 0; // along the axis, in the stored tensor
        uint64_t dst_start = 0;         // along the axis, in the rank's tensor
    };
    uint64_t outer = 1, inner = 1, full = 0, rank = 0;
    std::vector<piece> pieces;
};

// One destination tensor and where its bytes are.
struct fill_job {
    std::string name; // the parameter
    std::string file; // the file's name, for messages
    int fd = -1;
    uint64_t begin = 0;                // absolute offset of its data in the file
    uint64_t bytes = 0;                // stored bytes
    at::ScalarType stored = at::kByte; // stored element type (raw types as their stand-in)
    uint64_t stored_size = 1;          // bytes per stored element
    at::Tensor dst;                    // allocated destination, contiguous
    bool convert = false;              // dst's dtype differs from `stored`
    bool direct = false;               // fd was opened with O_DIRECT: reads go through an aligned buffer
    // A rank's part of the stored tensor (null: all of it). Then `bytes` are the rank tensor's, in the stored
    // dtype, padding included, and its elements are read from the runs the geometry gives.
    std::shared_ptr<const part_geometry> part;
};

// A piece of one job: elements [elem_begin, elem_begin + elems).
struct fill_chunk {
    uint32_t job = 0;
    uint64_t elem_begin = 0;
    uint64_t elems = 0;
};

struct fill_state {
    std::atomic<uint64_t> bytes_done{0};
    std::atomic<uint64_t> bytes_read{0}; // bytes the reads asked the files for (coalesced gaps included)
    std::atomic<uint64_t> reads{0};      // pread calls (short reads retried not counted)
    std::atomic<bool> abort{false};
    std::atomic<size_t> next_chunk{0};      // CPU chunks taken
    std::atomic<size_t> next_cuda_chunk{0}; // CUDA chunks taken (the two fills run at the same time)
    std::mutex m;
    std::optional<error> first_error;
    void fail(error e) {
        std::lock_guard<std::mutex> lock(m);
        if (!first_error) first_error = std::move(e);
        abort = true;
    }
};

// Reads exactly `n` bytes at `offset` of the job's file into `out`, retrying short reads and EINTR; a file
// that ends early or a read error comes back as an error naming the file and the tensor.
std::optional<error> read_exact(const fill_job& job, void* out, uint64_t n, uint64_t offset);

// How read_elements reads a part whose runs are short (a dim-1 split is one run per row): runs shorter than
// `min_run_bytes` are read together with their neighbours in one read of at most `span_bytes` (the gaps
// between them read and dropped), else one read per run. min_run_bytes 0: always one read per run.
struct run_policy {
    uint64_t min_run_bytes = 0;
    uint64_t span_bytes = 4u << 20;
};

// Elements [elem_begin, elem_begin + elems) of the job's destination, in the stored dtype, into `out`: one
// read for a whole tensor, the part's runs for a rank's part (padding zeroed). Counts into
// state.bytes_read/reads.
std::optional<error> read_elements(const fill_job& job, void* out, uint64_t elem_begin, uint64_t elems,
                                   const run_policy& policy, fill_state& state);

// The pread() read_exact calls: ::pread, replaced by tests to return short reads and EINTR.
using pread_function = ssize_t (*)(int fd, void* buf, size_t count, off_t offset);
extern std::atomic<pread_function> pread_hook;

// The open() the loader calls for the checkpoint's files: ::open, replaced by tests (a file system that
// refuses O_DIRECT).
using open_function = int (*)(const char* path, int flags);
extern std::atomic<open_function> open_hook;

// `s` as a JSON string, quoted and escaped (the load's and the ranks' JSON lines).
std::string json_string(const std::string& s);

// Converts `n` elements of type `from` at `src` to type `to` at `dst` (floating and integer types).
void convert_elements(const void* src, at::ScalarType from, void* dst, at::ScalarType to, uint64_t n);
bool convertible(at::ScalarType from, at::ScalarType to);

// The CUDA fill: `threads` reader threads, each with `buffers` pinned staging buffers of `buffer_bytes`.
// Chunks hold at most buffer_bytes of stored data. Defined in load-cuda.cpp; without CUDA it records an
// error.
void fill_cuda(std::vector<fill_job>& jobs, const std::vector<fill_chunk>& chunks, unsigned threads,
               unsigned buffers, uint64_t buffer_bytes, const run_policy& policy, fill_state& state);
bool cuda_compiled();
int cuda_devices();
uint64_t cuda_free(int device);

} // namespace modelplan::libtorch::detail
