// The CUDA fill (load.h, docs/loading.md): reader threads, a ring of pinned staging buffers per thread,
// asynchronous host-to-device copies on CUDA streams with an event per buffer, dtype conversion on the
// device.
//
// Compiled in every build; the CUDA code only where LibTorch has CUDA (CMake defines MODELPLAN_TORCH_CUDA
// when it finds c10_cuda) and its headers are present. Without it, fill_cuda() reports that CUDA is not
// built.
#include "load-internal.h"

#if defined(MODELPLAN_TORCH_CUDA) && __has_include(<c10/cuda/CUDAStream.h>)
#define MODELPLAN_CUDA_PATH 1
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <c10/core/GradMode.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>

#include <map>
#include <memory>
#include <thread>
#endif

namespace modelplan::libtorch::detail {

#ifdef MODELPLAN_CUDA_PATH

bool cuda_compiled() {
    return true;
}

int cuda_devices() {
    try {
        return static_cast<int>(c10::cuda::device_count());
    } catch (...) {
        return 0;
    }
}

uint64_t cuda_free(int device) {
    c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device));
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) return 0;
    return free_bytes;
}

namespace {

// Per device a staging buffer may copy to: the stream its copies run on, the event recorded after them, and
// (only when a conversion needs it) a device scratch buffer that holds the stored bytes before conversion.
struct device_lane {
    c10::cuda::CUDAStream stream;
    at::cuda::CUDAEvent done;
    at::Tensor scratch; // uint8 on the device, lazily allocated
    explicit device_lane(c10::cuda::CUDAStream s) : stream(s) {}
};

struct staging_buffer {
    at::Tensor pinned; // uint8, page-locked host memory
    std::map<int, std::unique_ptr<device_lane>> lanes;
    device_lane* pending = nullptr; // the lane whose copy last read this buffer
};

// Host bytes of one chunk -> device, on the lane's stream; the lane's event follows the copies.
void issue_copy(const fill_job& job, const fill_chunk& c, staging_buffer& buf, uint64_t n,
                uint64_t buffer_bytes) {
    int device = static_cast<int>(job.dst.get_device());
    auto& lane = buf.lanes[device];
    if (!lane)
        lane = std::make_unique<device_lane>(
            c10::cuda::getStreamFromPool(/*isHighPriority=*/false, static_cast<c10::DeviceIndex>(device)));
    c10::cuda::CUDAGuard device_guard(static_cast<c10::DeviceIndex>(device));
    c10::cuda::CUDAStreamGuard stream_guard(lane->stream);
    // The destinations are written through plain views of their memory, never through the parameter itself:
    // an in-place copy into (a view of) a leaf that requires grad throws.
    c10::NoGradGuard no_grad;
    at::Tensor host = buf.pinned.narrow(0, 0, static_cast<int64_t>(n));
    auto on_device = at::TensorOptions().dtype(at::kByte).device(job.dst.device());
    if (!job.convert) {
        // Straight into the destination's bytes.
        char* dst = static_cast<char*>(job.dst.data_ptr()) + c.elem_begin * job.stored_size;
        at::from_blob(dst, {static_cast<int64_t>(n)}, on_device).copy_(host, /*non_blocking=*/true);
    } else {
        // Stored bytes into the scratch buffer, then converted into the destination, both on the stream.
        if (!lane->scratch.defined())
            lane->scratch = at::empty({static_cast<int64_t>(buffer_bytes)}, on_device);
        lane->scratch.narrow(0, 0, static_cast<int64_t>(n)).copy_(host, /*non_blocking=*/true);
        at::Tensor src = at::from_blob(lane->scratch.data_ptr(), {static_cast<int64_t>(c.elems)},
                                       at::TensorOptions().dtype(job.stored).device(job.dst.device()));
        char* dst = static_cast<char*>(job.dst.data_ptr()) + c.elem_begin * job.dst.element_size();
        at::from_blob(dst, {static_cast<int64_t>(c.elems)},
                      at::TensorOptions().dtype(job.dst.scalar_type()).device(job.dst.device()))
            .copy_(src, /*non_blocking=*/true);
    }
    lane->done.record(lane->stream);
    buf.pending = lane.get();
}

} // namespace

void fill_cuda(std::vector<fill_job>& jobs, const std::vector<fill_chunk>& chunks, unsigned threads,
               unsigned buffers, uint64_t buffer_bytes, const run_policy& policy, fill_state& state) {
    auto reader = [&]() {
        std::vector<staging_buffer> ring(buffers);
        // Every copy issued from this thread's buffers must be finished before they, or a destination freed
        // after a failure, go back to an allocator.
        auto drain = [&ring]() {
            for (auto& b : ring)
                for (auto& [device, lane] : b.lanes) lane->stream.synchronize();
        };
        try {
            for (auto& b : ring)
                b.pinned = at::empty({static_cast<int64_t>(buffer_bytes)},
                                     at::TensorOptions().dtype(at::kByte).pinned_memory(true));
            for (size_t turn = 0;; ++turn) {
                if (state.abort) break;
                size_t k = state.next_cuda_chunk.fetch_add(1);
                if (k >= chunks.size()) break;
                const fill_chunk& c = chunks[k];
                fill_job& job = jobs[c.job];
                staging_buffer& buf = ring[turn % ring.size()];
                // The buffer's previous copy must have read it before it is refilled.
                if (buf.pending) buf.pending->done.synchronize();
                buf.pending = nullptr;
                uint64_t n = c.elems * job.stored_size;
                if (auto e =
                        read_elements(job, buf.pinned.data_ptr(), c.elem_begin, c.elems, policy, state)) {
                    state.fail(std::move(*e));
                    break;
                }
                issue_copy(job, c, buf, n, buffer_bytes);
                state.bytes_done += n;
            }
            drain();
        } catch (const std::exception& e) {
            std::string what = e.what();
            state.fail(make_error(error_code::io, "CUDA load failed: " + what.substr(0, what.find('\n'))));
            try {
                drain();
            } catch (...) {
            }
        } catch (...) {
            state.fail(make_error(error_code::io, "CUDA load failed: an unknown exception"));
            try {
                drain();
            } catch (...) {
            }
        }
    };
    // threads - 1 readers of their own and this thread; fewer when no more threads can be started.
    std::vector<std::thread> pool;
    try {
        for (unsigned i = 1; i < threads; ++i) pool.emplace_back(reader);
    } catch (const std::exception&) {
    }
    reader();
    for (auto& t : pool) t.join();
}

#else // no CUDA in this LibTorch

bool cuda_compiled() {
    return false;
}
int cuda_devices() {
    return 0;
}
uint64_t cuda_free(int) {
    return 0;
}

void fill_cuda(std::vector<fill_job>&, const std::vector<fill_chunk>&, unsigned, unsigned, uint64_t,
               const run_policy&, fill_state& state) {
    state.fail(make_error(error_code::unsupported, "this build has no CUDA support (LibTorch without CUDA)"));
}

#endif

} // namespace modelplan::libtorch::detail
