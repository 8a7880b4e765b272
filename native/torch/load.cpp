// Streaming a safetensors checkpoint into a meta_model (load.h, docs/loading.md): verification, the plan,
// allocation, and the CPU fill. The CUDA fill is in load-cuda.cpp.
#include "modelplan/libtorch/load.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>
#include <torch/version.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>

#include "io/checkpoint-files.h"
#include "io/model-source.h"
#include "load-internal.h"
#include "modelplan/memory.h" // in_mtp_layer
#include "modelplan/model-spec.h"
#include "modelplan/text.h"

// safetensors stores little-endian bytes, which the CPU path reads straight into tensors.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the loader assumes a little-endian host");

namespace modelplan::libtorch {

namespace fs = std::filesystem;
using detail::fill_chunk;
using detail::fill_job;
using detail::fill_state;

// ---- checkpoint and model sources -------------------------------------------------------------------------

result<checkpoint_source> open_checkpoint(const std::string& path) {
    auto loaded = cli::load_checkpoint(path);
    if (!loaded) return loaded.err();
    checkpoint_source s;
    s.path = path;
    std::error_code ec;
    fs::path p(path);
    s.folder = fs::is_directory(p, ec) ? p.string() : p.parent_path().string();
    if (s.folder.empty()) s.folder = ".";
    s.kind = loaded->kind;
    s.ck = std::move(loaded->ck);
    s.folder_config = loaded->folder_config;
    return s;
}

result<analysis> analyze_model(const std::string& model, const config_options& options) {
    auto source = cli::resolve_model(model);
    if (!source) return source.err();
    auto a = analyze(source->label, source->config_json, options);
    if (!a) return make_error(a.err().code, source->label + ": " + a.err().message, a.err().path);
    return a;
}

// ---- device maps ------------------------------------------------------------------------------------------

bool stores_mtp_layers(const analysis& a, const checkpoint_source& src) {
    std::unordered_set<std::string> mtp;
    for (const auto& t : a.sk.tensors)
        if (in_mtp_layer(a.spec, t)) mtp.insert(t.name);
    if (mtp.empty()) return false;
    for (const auto& t : src.ck.tensors)
        if (mtp.count(t.name)) return true;
    return false;
}

result<mapped_devices> devices_for_map(const analysis& a, const device_map& map) {
    mapped_devices out;
    auto all = assign_devices(a.sk, map);
    if (all) {
        out.devices = std::move(*all);
        return out;
    }
    // Something is not covered. Tensors outside multi-token-prediction layers must be; the rest are resolved
    // one by one, with the core's rule, and those no entry covers stay on meta.
    skeleton main_part;
    main_part.base_prefix = a.sk.base_prefix;
    for (const auto& t : a.sk.tensors)
        if (!in_mtp_layer(a.spec, t)) main_part.tensors.push_back(t);
    if (main_part.tensors.size() == a.sk.tensors.size()) return all.err();
    auto main_devices = assign_devices(main_part, map);
    if (!main_devices) return main_devices.err();
    out.devices.reserve(a.sk.tensors.size());
    std::vector<std::string> layers; // "model.layers.61", in order, once each
    size_t next_main = 0;
    skeleton one;
    one.tensors.resize(1);
    for (const auto& t : a.sk.tensors) {
        if (!in_mtp_layer(a.spec, t)) {
            out.devices.push_back((*main_devices)[next_main++]);
            continue;
        }
        one.tensors[0] = t;
        auto d = assign_devices(one, map);
        if (d) {
            out.devices.push_back(d->front());
            continue;
        }
        out.devices.push_back("meta");
        out.unmapped.push_back(t.name);
        std::string layer = placement_module(t.name);
        if (std::find(layers.begin(), layers.end(), layer) == layers.end()) layers.push_back(layer);
    }
    std::string names;
    for (size_t i = 0; i < layers.size(); ++i) names += (i ? ", " : "") + layers[i];
    out.warnings.push_back(std::to_string(out.unmapped.size()) +
                           " tensor(s) of the multi-token-prediction layer(s) " + names +
                           " are in no entry of the device map (transformers does not load them, so " +
                           "its device maps never list them): they stay on meta; add \"" + layers.front() +
                           "\" to the map to load them");
    return out;
}

// ---- process memory ---------------------------------------------------------------------------------------

namespace {
uint64_t status_kib(const char* key) {
    std::ifstream in("/proc/self/status");
    std::string line;
    size_t n = std::strlen(key);
    while (std::getline(in, line))
        if (line.compare(0, n, key) == 0) return std::strtoull(line.c_str() + n, nullptr, 10);
    return 0;
}
} // namespace

uint64_t rss_bytes() {
    return status_kib("VmRSS:") * 1024;
}
uint64_t peak_rss_bytes() {
    return status_kib("VmHWM:") * 1024;
}
bool reset_peak_rss() {
    std::ofstream out("/proc/self/clear_refs");
    out << "5";
    out.flush();
    return static_cast<bool>(out);
}

bool built_with_cuda() {
    return detail::cuda_compiled();
}
int cuda_device_count() {
    return detail::cuda_devices();
}
uint64_t cuda_free_bytes(int device) {
    return detail::cuda_free(device);
}

// ---- element types ----------------------------------------------------------------------------------------

namespace {

// A safetensors dtype as LibTorch holds it. Types this LibTorch lacks are held raw: float8 as bytes (same
// shape), unsigned 16/32/64 as the signed type of the same width (same bits, same shape).
struct stored_type {
    at::ScalarType type = at::kByte;
    uint64_t size = 1;
    bool raw = false;
    bool float8 = false; // quantized storage: never converted (its scales live in other tensors)
    // kept as stored, never converted: float8, and unsigned 16/32/64 where LibTorch has them
    bool keep = false;
};

std::optional<stored_type> stored_type_of(const std::string& name) {
    static const std::unordered_map<std::string, stored_type> types = {
        {"F64",         {at::kDouble, 8, false, false}            },
        {"F32",         {at::kFloat, 4, false, false}             },
        {"F16",         {at::kHalf, 2, false, false}              },
        {"BF16",        {at::kBFloat16, 2, false, false}          },
        {"I64",         {at::kLong, 8, false, false}              },
        {"I32",         {at::kInt, 4, false, false}               },
        {"I16",         {at::kShort, 2, false, false}             },
        {"I8",          {at::kChar, 1, false, false}              },
        {"U8",          {at::kByte, 1, false, false}              },
        {"BOOL",        {at::kBool, 1, false, false}              },
        {"C64",         {at::kComplexFloat, 8, false, false}      },
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
        {"F8_E4M3",     {at::kFloat8_e4m3fn, 1, false, true, true}},
        {"F8_E5M2",     {at::kFloat8_e5m2, 1, false, true, true}  },
#else
        {"F8_E4M3", {at::kByte, 1, true, true, true}},
        {"F8_E5M2", {at::kByte, 1, true, true, true}},
#endif
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
        {"U16",         {at::kUInt16, 2, false, false, true}      },
        {"U32",         {at::kUInt32, 4, false, false, true}      },
        {"U64",         {at::kUInt64, 8, false, false, true}      },
#else
        {"U16", {at::kShort, 2, true, false, true}},
        {"U32", {at::kInt, 4, true, false, true}},
        {"U64", {at::kLong, 8, true, false, true}},
#endif
        {"F8_E4M3FNUZ", {at::kByte, 1, true, true, true}          },
        {"F8_E5M2FNUZ", {at::kByte, 1, true, true, true}          },
        {"F8_E8M0",     {at::kByte, 1, true, true, true}          },
    };
    auto it = types.find(name);
    if (it == types.end()) return std::nullopt;
    return it->second;
}

template <class T>
struct tag {
    using type = T;
};

template <class F>
bool dispatch(at::ScalarType t, F&& f) {
    switch (t) {
    case at::kDouble: f(tag<double>{}); return true;
    case at::kFloat: f(tag<float>{}); return true;
    case at::kHalf: f(tag<c10::Half>{}); return true;
    case at::kBFloat16: f(tag<c10::BFloat16>{}); return true;
    case at::kLong: f(tag<int64_t>{}); return true;
    case at::kInt: f(tag<int32_t>{}); return true;
    case at::kShort: f(tag<int16_t>{}); return true;
    case at::kChar: f(tag<int8_t>{}); return true;
    case at::kByte: f(tag<uint8_t>{}); return true;
    case at::kBool: f(tag<bool>{}); return true;
    default: return false;
    }
}

// One element. Floating to integer saturates and takes NaN to 0 (a plain cast of an out-of-range value is
// undefined behaviour, and the values come from a file); floating to floating rounds to nearest even, as
// c10's Half and BFloat16 do. BOOL is read as a byte (a file may hold any byte there): non-zero is true.
template <class T>
constexpr bool is_floating_v =
    std::is_floating_point_v<T> || std::is_same_v<T, c10::Half> || std::is_same_v<T, c10::BFloat16>;

template <class To, class From>
To cast(From v) {
    if constexpr (std::is_same_v<To, bool>) {
        if constexpr (is_floating_v<From>)
            return static_cast<double>(v) != 0.0; // NaN is true, as in c10
        else
            return v != From(0);
    } else if constexpr (is_floating_v<From> && std::is_integral_v<To>) {
        double d = static_cast<double>(v);
        if (d != d) return To(0);
        // The largest double below 2^digits (exact: To's maximum needs more bits than a double has for
        // 64-bit types).
        constexpr double hi = static_cast<double>(std::numeric_limits<To>::max()) + 1.0;
        constexpr double lo = static_cast<double>(std::numeric_limits<To>::min());
        if (d >= hi) return std::numeric_limits<To>::max();
        if (d <= lo) return std::numeric_limits<To>::min();
        return static_cast<To>(d);
    } else if constexpr (std::is_same_v<From, c10::Half> || std::is_same_v<From, c10::BFloat16>) {
        return static_cast<To>(static_cast<float>(v));
    } else {
        return static_cast<To>(v);
    }
}

} // namespace

bool detail::convertible(at::ScalarType from, at::ScalarType to) {
    bool ok = false;
    dispatch(from, [&](auto) { ok = dispatch(to, [](auto) {}); });
    return ok;
}

void detail::convert_elements(const void* src, at::ScalarType from, void* dst, at::ScalarType to,
                              uint64_t n) {
    dispatch(from, [&](auto f) {
        using From = typename decltype(f)::type;
        dispatch(to, [&](auto t) {
            using To = typename decltype(t)::type;
            To* d = static_cast<To*>(dst);
            if constexpr (std::is_same_v<From, bool>) {
                const uint8_t* s = static_cast<const uint8_t*>(src);
                for (uint64_t i = 0; i < n; ++i) d[i] = cast<To>(s[i] != 0);
            } else {
                const From* s = static_cast<const From*>(src);
                for (uint64_t i = 0; i < n; ++i) d[i] = cast<To>(s[i]);
            }
        });
    });
}

std::atomic<detail::pread_function> detail::pread_hook{&::pread};
namespace {
int plain_open(const char* path, int flags) {
    return ::open(path, flags);
}
} // namespace
std::atomic<detail::open_function> detail::open_hook{&plain_open};

namespace {

// Reads at `offset` into `buf` until `least` bytes are in, asking for at most `most` (a direct read's aligned
// span may pass the end of the file), retrying short reads and EINTR. A read error, or a file that ends
// before `least`, comes back as an error naming the file and the tensor.
std::optional<error> read_at_least(const detail::fill_job& job, char* buf, uint64_t least, uint64_t most,
                                   uint64_t offset) {
    const detail::pread_function read_at = detail::pread_hook.load();
    uint64_t done = 0;
    while (done < least) {
        size_t want = static_cast<size_t>(std::min<uint64_t>(most - done, 1ull << 30));
        ssize_t got = read_at(job.fd, buf + done, want, static_cast<off_t>(offset + done));
        if (got < 0) {
            if (errno == EINTR) continue;
            return make_error(error_code::io, job.file + ": " + (job.direct ? "direct " : "") +
                                                  "read error at byte " + std::to_string(offset + done) +
                                                  " while loading " + job.name + ": " + std::strerror(errno));
        }
        if (got == 0) {
            struct stat st {};
            std::string now = ::fstat(job.fd, &st) == 0
                                  ? " (the file now has " + std::to_string(st.st_size) + " bytes)"
                                  : "";
            return make_error(error_code::io,
                              job.file + ": file ends at byte " + std::to_string(offset + done) +
                                  " while loading " + job.name + ", whose data ends at byte " +
                                  std::to_string(job.begin + job.bytes) +
                                  "; the file was truncated or changed after its header was read" + now);
        }
        done += static_cast<uint64_t>(got);
    }
    return std::nullopt;
}

// O_DIRECT wants the file offset, the length and the buffer aligned to the device's logical block; 4 KiB
// covers every device in use.
constexpr uint64_t direct_align = 4096;

// A per-thread buffer aligned for O_DIRECT, grown as needed (at most one chunk plus two blocks).
char* direct_buffer(uint64_t bytes) {
    struct aligned_buffer {
        char* p = nullptr;
        uint64_t size = 0;
        ~aligned_buffer() { std::free(p); }
    };
    thread_local aligned_buffer b;
    if (b.size < bytes) {
        std::free(b.p);
        b.p = nullptr;
        b.size = 0;
        void* p = nullptr;
        if (::posix_memalign(&p, direct_align, static_cast<size_t>(bytes)) != 0) return nullptr;
        b.p = static_cast<char*>(p);
        b.size = bytes;
    }
    return b.p;
}

// read_exact on a file opened with O_DIRECT: the aligned span around [offset, offset + n) into an aligned
// buffer, then the bytes wanted out of it. The span's tail may pass the end of the file: the read then stops
// at the end, which is enough as long as it covers offset + n.
std::optional<error> read_exact_direct(const fill_job& job, char* out, uint64_t n, uint64_t offset) {
    const uint64_t begin = offset / direct_align * direct_align;
    const uint64_t end = (offset + n + direct_align - 1) / direct_align * direct_align;
    char* span = direct_buffer(end - begin);
    if (!span)
        return make_error(error_code::io, job.file + ": cannot allocate " + std::to_string(end - begin) +
                                              " aligned bytes for a direct read of " + job.name);
    if (auto e = read_at_least(job, span, offset + n - begin, end - begin, begin)) return e;
    std::memcpy(out, span + (offset - begin), static_cast<size_t>(n));
    return std::nullopt;
}

} // namespace

std::optional<error> detail::read_exact(const fill_job& job, void* out, uint64_t n, uint64_t offset) {
    if (job.direct) return read_exact_direct(job, static_cast<char*>(out), n, offset);
    return read_at_least(job, static_cast<char*>(out), n, n, offset);
}

namespace {

// The run of the rank's part that destination element `e` starts in: `count` elements from stored element
// `src`, or `count` padding elements (zeros) when `pad`. Never crosses an outer row or a piece.
struct part_run {
    bool pad = false;
    uint64_t src = 0, count = 0;
};

part_run run_at(const detail::part_geometry& g, uint64_t e) {
    const uint64_t row = g.rank * g.inner;
    const uint64_t o = e / row, within = e % row, a = within / g.inner;
    for (const auto& p : g.pieces) {
        if (a < p.dst_start || a >= p.dst_start + p.length) continue;
        uint64_t src = (o * g.full + p.start + (a - p.dst_start)) * g.inner + within % g.inner;
        return {false, src, (p.dst_start + p.length) * g.inner - within};
    }
    return {true, 0, row - within};
}

} // namespace

std::optional<error> detail::read_elements(const fill_job& job, void* out, uint64_t elem_begin,
                                           uint64_t elems, const run_policy& policy, fill_state& state) {
    const uint64_t size = job.stored_size;
    char* dst = static_cast<char*>(out);
    if (!job.part) {
        state.bytes_read += elems * size;
        state.reads += 1;
        return read_exact(job, dst, elems * size, job.begin + elem_begin * size);
    }
    const part_geometry& g = *job.part;
    thread_local std::vector<char> span;
    uint64_t e = elem_begin, end = elem_begin + elems;
    while (e < end) {
        part_run r = run_at(g, e);
        uint64_t take = std::min(r.count, end - e);
        char* at = dst + (e - elem_begin) * size;
        if (r.pad) {
            std::memset(at, 0, take * size);
            e += take;
            continue;
        }
        if (policy.min_run_bytes == 0 || take * size >= policy.min_run_bytes) {
            state.bytes_read += take * size;
            state.reads += 1;
            if (auto err = read_exact(job, at, take * size, job.begin + r.src * size)) return err;
            e += take;
            continue;
        }
        // Short runs: this one and the following ones that fit in one span, read at once.
        struct pending {
            uint64_t src, count, e;
        };
        std::vector<pending> runs{
            {r.src, take, e}
        };
        uint64_t span_end = r.src + take, next = e + take;
        while (next < end) {
            part_run n = run_at(g, next);
            uint64_t t = std::min(n.count, end - next);
            if (n.pad || n.src < r.src || (n.src + t - r.src) * size > policy.span_bytes) break;
            runs.push_back({n.src, t, next});
            span_end = std::max(span_end, n.src + t);
            next += t;
        }
        uint64_t span_bytes = (span_end - r.src) * size;
        if (span.size() < span_bytes) span.resize(span_bytes);
        state.bytes_read += span_bytes;
        state.reads += 1;
        if (auto err = read_exact(job, span.data(), span_bytes, job.begin + r.src * size)) return err;
        for (const auto& p : runs)
            std::memcpy(dst + (p.e - elem_begin) * size, span.data() + (p.src - r.src) * size,
                        p.count * size);
        e = next;
    }
    return std::nullopt;
}

std::string detail::json_string(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

// ---- the load ---------------------------------------------------------------------------------------------

namespace {

class open_files {
  public:
    ~open_files() {
        for (int fd : fds_)
            if (fd >= 0) ::close(fd);
    }
    result<int> open(const std::string& path, int extra_flags = 0) {
        int fd = detail::open_hook.load()(path.c_str(), O_RDONLY | O_CLOEXEC | extra_flags);
        last_errno = fd < 0 ? errno : 0;
        if (fd < 0) return make_error(error_code::io, path + ": cannot open: " + std::strerror(last_errno));
        fds_.push_back(fd);
        return fd;
    }

    int last_errno = 0; // of the last open

  private:
    std::vector<int> fds_;
};

// A private, writable (copy-on-write) mapping of a whole file, shared by the tensors that alias it.
struct file_mapping {
    void* base = MAP_FAILED;
    size_t size = 0;
    ~file_mapping() {
        if (base != MAP_FAILED) ::munmap(base, size);
    }
};

std::string verify_summary(const verify_report& v) {
    auto names = [](const auto& list, auto name_of) {
        std::string s;
        size_t shown = std::min<size_t>(list.size(), 3);
        for (size_t i = 0; i < shown; ++i) s += (i ? ", " : "") + name_of(list[i]);
        if (list.size() > shown) s += ", ...";
        return s;
    };
    std::string out = "the checkpoint does not match the model:";
    if (!v.missing.empty())
        out += " " + std::to_string(v.missing.size()) + " missing (" +
               names(v.missing, [](const verify_tensor& t) { return t.name; }) + ");";
    if (!v.unexpected.empty())
        out += " " + std::to_string(v.unexpected.size()) + " unexpected (" +
               names(v.unexpected, [](const verify_tensor& t) { return t.name; }) + ");";
    if (!v.mismatched.empty())
        out += " " + std::to_string(v.mismatched.size()) + " with another shape (" +
               names(v.mismatched, [](const verify_mismatch& t) { return t.name; }) + ");";
    out += " nothing was loaded (see `modelplan inspect` for the full report)";
    return out;
}

// A CPU destination of at least huge_tensor_bytes gets its own anonymous mapping, aligned to 2 MiB and
// advised for transparent huge pages: the kernel then faults and zeroes it 2 MiB at a time instead of 4 KiB,
// which is most of the cost of reading into fresh memory. Smaller ones come from LibTorch's CPU allocator.
constexpr uint64_t huge_page_bytes = 2u << 20;
constexpr uint64_t huge_tensor_bytes = 4u << 20;

// An anonymous mapping of at least `bytes`, aligned to 2 MiB and advised for transparent huge pages: `base`
// and `length` to unmap, `data` the aligned start. Throws when the system refuses it.
struct huge_mapping {
    void* base = nullptr;
    size_t length = 0;
    char* data = nullptr;
};
huge_mapping map_huge(uint64_t bytes) {
    huge_mapping h;
    h.length = static_cast<size_t>((bytes + huge_page_bytes - 1) / huge_page_bytes * huge_page_bytes +
                                   huge_page_bytes);
    h.base = ::mmap(nullptr, h.length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (h.base == MAP_FAILED)
        throw std::runtime_error("cannot map " + std::to_string(h.length) +
                                 " bytes: " + std::strerror(errno));
    uintptr_t aligned = (reinterpret_cast<uintptr_t>(h.base) + huge_page_bytes - 1) & ~(huge_page_bytes - 1);
    ::madvise(reinterpret_cast<void*>(aligned), h.length - (aligned - reinterpret_cast<uintptr_t>(h.base)),
              MADV_HUGEPAGE);
    h.data = reinterpret_cast<char*>(aligned);
    return h;
}

// load_options::cpu_alloc == arena: one mapping for every fresh CPU destination, each tensor at a 4 KiB
// boundary of it; unmapped when the last tensor that holds a share of it is freed.
struct cpu_arena {
    huge_mapping map;
    uint64_t used = 0, size = 0;
    explicit cpu_arena(uint64_t bytes) : map(map_huge(bytes)), size(bytes) {}
    ~cpu_arena() { ::munmap(map.base, map.length); }
    cpu_arena(const cpu_arena&) = delete;
    cpu_arena& operator=(const cpu_arena&) = delete;
};
constexpr uint64_t arena_alignment = 4096;
uint64_t arena_share(uint64_t bytes) {
    return (bytes + arena_alignment - 1) / arena_alignment * arena_alignment;
}

at::Tensor empty_cpu(const std::vector<int64_t>& sizes, at::ScalarType type, cpu_alloc_kind kind,
                     const std::shared_ptr<cpu_arena>& arena) {
    uint64_t bytes = static_cast<uint64_t>(c10::elementSize(type));
    for (int64_t d : sizes) bytes *= static_cast<uint64_t>(d);
    const auto options = at::TensorOptions().dtype(type);
    if (kind == cpu_alloc_kind::arena && arena && arena->size - arena->used >= arena_share(bytes)) {
        char* at = arena->map.data + arena->used;
        arena->used += arena_share(bytes);
        return at::from_blob(
            at, sizes, [arena](void*) {}, options);
    }
    if (kind == cpu_alloc_kind::plain || bytes < huge_tensor_bytes) return at::empty(sizes, options);
    huge_mapping h = map_huge(bytes);
    try {
        return at::from_blob(
            h.data, sizes, [base = h.base, length = h.length](void*) { ::munmap(base, length); }, options);
    } catch (...) {
        ::munmap(h.base, h.length); // not owned by a tensor yet
        throw;
    }
}

// load_options::prefault: the fresh CPU destinations' pages faulted in by `threads` threads, 16 MiB at a
// time, before any read. MADV_POPULATE_WRITE (Linux 5.14) faults a range in one call; where the kernel lacks
// it, a write of zero to each page (fresh anonymous pages are zero already).
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
void prefault_cpu(const std::vector<std::pair<char*, uint64_t>>& ranges, unsigned threads) {
    constexpr uint64_t piece = 16u << 20;
    std::vector<std::pair<char*, uint64_t>> pieces;
    for (const auto& [p, n] : ranges)
        for (uint64_t o = 0; o < n; o += piece) pieces.push_back({p + o, std::min(piece, n - o)});
    std::atomic<size_t> next{0};
    auto work = [&]() {
        const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
        for (size_t k; (k = next.fetch_add(1)) < pieces.size();) {
            auto [p, n] = pieces[k];
            uintptr_t begin = reinterpret_cast<uintptr_t>(p) / page * page;
            if (::madvise(reinterpret_cast<void*>(begin), reinterpret_cast<uintptr_t>(p) + n - begin,
                          MADV_POPULATE_WRITE) == 0)
                continue;
            for (uint64_t o = 0; o < n; o += page) static_cast<volatile char*>(p)[o] = 0;
        }
    };
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < threads; ++t) {
        try {
            pool.emplace_back(work);
        } catch (...) {
            break; // fewer threads
        }
    }
    work();
    for (auto& t : pool) t.join();
}

void fill_cpu(std::vector<fill_job>& jobs, const std::vector<fill_chunk>& chunks, unsigned threads,
              uint64_t chunk_bytes, const detail::run_policy& policy, fill_state& state) {
    auto work = [&]() {
        std::vector<char> staging; // only for conversions: at most one chunk
        for (;;) {
            if (state.abort) return;
            size_t k = state.next_chunk.fetch_add(1);
            if (k >= chunks.size()) return;
            const fill_chunk& c = chunks[k];
            fill_job& job = jobs[c.job];
            uint64_t n = c.elems * job.stored_size;
            std::optional<error> e;
            if (!job.convert) {
                char* dst = static_cast<char*>(job.dst.data_ptr()) + c.elem_begin * job.stored_size;
                e = detail::read_elements(job, dst, c.elem_begin, c.elems, policy, state);
            } else {
                if (staging.size() < n) staging.resize(std::max<uint64_t>(n, chunk_bytes));
                e = detail::read_elements(job, staging.data(), c.elem_begin, c.elems, policy, state);
                if (!e) {
                    char* dst =
                        static_cast<char*>(job.dst.data_ptr()) + c.elem_begin * job.dst.element_size();
                    detail::convert_elements(staging.data(), job.stored, dst, job.dst.scalar_type(), c.elems);
                }
            }
            if (e) {
                state.fail(std::move(*e));
                return;
            }
            state.bytes_done += n;
        }
    };
    auto worker = [&]() {
        try {
            work();
        } catch (const std::exception& e) { // the staging buffer's allocation
            state.fail(make_error(error_code::io, std::string("loading failed: ") + e.what()));
        }
    };
    std::vector<std::thread> pool;
    try {
        for (unsigned i = 1; i < threads; ++i) pool.emplace_back(worker);
    } catch (const std::exception&) {
        // No more threads to be had: the ones started (and this one) do the work.
    }
    worker();
    for (auto& t : pool) t.join();
}

} // namespace

// ---- the load, phase by phase -----------------------------------------------------------------------------
// load_weights: verify from headers -> plan every destination -> open the files -> allocate -> fill (CPU and
// CUDA at once, progress on this thread) -> report. Nothing is allocated before the plan is complete; from
// allocation on, every failure puts the parameters back as they were.

namespace {

// An exception's message up to its first line (LibTorch appends a C++ backtrace).
std::string first_line(const std::exception& e) {
    std::string what = e.what();
    return what.substr(0, what.find('\n'));
}

// 1. Verification from the headers alone: the format, no quantized groups, and the skeleton's tensors.
std::optional<error> verify_from_headers(const meta_model& m, const skeleton& sk,
                                         const checkpoint_source& src, load_report& report) {
    const checkpoint& ck = src.ck;
    if (ck.format != checkpoint_format::safetensors)
        return make_error(error_code::unsupported,
                          src.path + ": only safetensors checkpoints are loaded (this is " +
                              checkpoint_format_name(ck.format) + "); nothing was loaded");
    if (m.params.size() != sk.tensors.size())
        return make_error(error_code::internal, "the meta model was not built from this skeleton");
    auto view = logical_view(ck);
    if (!view) return view.err();
    if (!view->quantized.empty()) {
        // The skeleton must be the stored form (stored_skeleton): every tensor stored as it is named.
        std::unordered_map<std::string, const checkpoint_tensor*> stored;
        for (const auto& t : ck.tensors) stored.emplace(t.name, &t);
        for (const auto& t : sk.tensors) {
            auto it = stored.find(t.name);
            if (it == stored.end() || it->second->shape != t.shape)
                return make_error(error_code::bad_request,
                                  src.path + ": " + std::to_string(view->quantized.size()) +
                                      " quantized tensor groups (e.g. " + view->quantized.front().name +
                                      ", " + view->quantized.front().scheme +
                                      "): build the model from stored_skeleton() to load them as stored (" +
                                      t.name + " is not stored as the skeleton has it); nothing was loaded");
        }
        // ... and every stored tensor of every group a parameter (an fp8 weight alone would lose its scales).
        std::unordered_set<std::string> names;
        for (const auto& t : sk.tensors) names.insert(t.name);
        for (const auto& g : view->quantized)
            for (const auto& member : g.members)
                if (!names.count(member))
                    return make_error(
                        error_code::bad_request,
                        src.path + ": " + std::to_string(view->quantized.size()) +
                            " quantized tensor groups (e.g. " + g.name + ", " + g.scheme +
                            "): build the model from stored_skeleton() to load them as stored (" + member +
                            " has no parameter in this skeleton); nothing was loaded");
        report.verify.ok = true; // stored_skeleton verified the logical model
        return std::nullopt;
    }
    report.verify = verify_checkpoint(sk, *view);
    if (!report.verify.ok)
        return make_error(error_code::bad_checkpoint, src.path + ": " + verify_summary(report.verify));
    return std::nullopt;
}

// 2. The plan: for every parameter its stored bytes, its destination dtype and its device.
struct plan_item {
    size_t param;
    const checkpoint_tensor* t;
    stored_type st;
    at::ScalarType dst_type;
    std::string device; // "cpu", "cuda:N", "disk", "meta"
};

// What the plan learns about dtypes on the way, for the report's warnings.
struct dtype_notes {
    uint64_t raw_count = 0; // held as raw bits: this LibTorch has no such dtype
    std::string raw_example;
    uint64_t float8_kept = 0; // float8 or unsigned kept as stored, not converted
};

// The checkpoint as the plan looks things up in it.
struct stored_tensors {
    std::unordered_map<std::string, const checkpoint_tensor*> by_name;
    std::unordered_map<std::string, uint64_t> file_size;
    std::vector<std::vector<std::string>> alias_names; // per parameter, its tied names

    stored_tensors(const checkpoint& ck, const meta_model& m) : alias_names(m.params.size()) {
        by_name.reserve(ck.tensors.size());
        for (const auto& t : ck.tensors) by_name.emplace(t.name, &t);
        for (const auto& f : ck.files) file_size.emplace(f.name, f.size);
        for (const auto& [name, i] : m.aliases) alias_names[i].push_back(name);
    }
    // A parameter's tensor, stored under its name or one of its tied names.
    const checkpoint_tensor* find(size_t param, const std::string& name) const {
        if (auto it = by_name.find(name); it != by_name.end()) return it->second;
        for (const auto& alias : alias_names[param])
            if (auto it = by_name.find(alias); it != by_name.end()) return it->second;
        return nullptr;
    }
};

// The byte range within the file as its header gave it (open_checkpoint's parser checks this; a
// checkpoint_source built or changed by a caller may not be): never a read or a mapping outside it.
std::optional<error> check_byte_range(const checkpoint_tensor& t, const stored_tensors& stored) {
    auto file = stored.file_size.find(t.file);
    if (file != stored.file_size.end() && t.end >= t.begin && t.end <= file->second) return std::nullopt;
    return make_error(error_code::bad_checkpoint,
                      t.name + ": data [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                          ") is not within " + t.file +
                          (file == stored.file_size.end() ? std::string(" (not among the checkpoint's files)")
                                                          : " (" + std::to_string(file->second) + " bytes)") +
                          "; nothing was loaded");
}

// The dtype a parameter is loaded as: the model's, converted on load, except that raw storage, float8
// (quantized: its scales are other tensors) and unsigned integers keep the stored type.
result<at::ScalarType> destination_type(const meta_model::entry& p, at::ScalarType model_type,
                                        const checkpoint_tensor& t, const stored_type& st,
                                        dtype_notes& notes) {
    if (st.keep || p.raw) {
        if (st.raw) {
            if (!notes.raw_count++) notes.raw_example = t.name + " (" + t.dtype + ")";
        } else if (st.keep && model_type != st.type) {
            ++notes.float8_kept;
        }
        if (p.raw && !st.keep)
            return make_error(error_code::unsupported,
                              t.name + ": the model holds it as " + dtype_name(p.info->type) +
                                  ", which this LibTorch lacks, and the checkpoint stores " + t.dtype +
                                  "; nothing was loaded");
        return st.type;
    }
    if (model_type != st.type && !detail::convertible(st.type, model_type))
        return make_error(error_code::unsupported, t.name + ": cannot convert " + t.dtype + " to " +
                                                       c10::toString(model_type) + "; nothing was loaded");
    return model_type;
}

// The device of a parameter that another pipeline stage holds (load_options::parts): left on meta, unread.
const char* const other_stage = "other stages";

// "auto" and "cuda" as the device every parameter without a map entry goes to.
std::string default_device(const std::string& requested, int n_cuda) {
    if (requested == "auto") return n_cuda > 0 ? "cuda:0" : "cpu";
    if (requested == "cuda") return "cuda:0";
    return requested;
}

// A parameter's device: cpu, cuda:N (present in this build and on this machine), or disk/meta (not read).
result<std::string> checked_device(std::string device, const std::string& param, int n_cuda) {
    if (device == "cuda") device = "cuda:0";
    if (device == "cpu" || device == "disk" || device == "meta" || device == other_stage) return device;
    if (device.rfind("cuda:", 0) != 0 || device.size() == 5 || device.size() > 9 ||
        device.find_first_not_of("0123456789", 5) != std::string::npos)
        return make_error(error_code::bad_request, param + ": unknown device \"" + device +
                                                       "\"; expected cpu, cuda, cuda:N, auto, disk or meta");
    int index = std::stoi(device.substr(5));
    if (!built_with_cuda())
        return make_error(error_code::unsupported, "device " + device +
                                                       " requested, but this build of modelplan has no CUDA "
                                                       "(LibTorch without CUDA); nothing was loaded");
    if (index >= n_cuda)
        return make_error(error_code::bad_request, "device " + device + " requested, but " +
                                                       std::to_string(n_cuda) +
                                                       " CUDA device(s) are present; nothing was loaded");
    return device;
}

result<plan_item> plan_parameter(const meta_model& m, size_t i, const stored_tensors& stored,
                                 const std::string& device, int n_cuda, dtype_notes& notes) {
    const auto& p = m.params[i];
    const checkpoint_tensor* t = stored.find(i, p.name);
    if (!t) return make_error(error_code::internal, p.name + ": verified but not found in the checkpoint");
    if (auto e = check_byte_range(*t, stored)) return *e;
    auto st = stored_type_of(t->dtype);
    if (!st)
        return make_error(error_code::unsupported, t->name + ": dtype " + t->dtype +
                                                       " is not loaded by this version; nothing was loaded");
    // The skeleton's element count (with parts the slot already has the rank's shape).
    const uint64_t expected = p.info ? p.info->elements : static_cast<uint64_t>(m.slot(i).numel());
    if (t->elements * st->size != t->bytes() || expected != t->elements)
        return make_error(error_code::bad_checkpoint, t->name + ": " + std::to_string(t->bytes()) +
                                                          " bytes for " + std::to_string(t->elements) +
                                                          " elements of " + t->dtype + ", expected " +
                                                          std::to_string(expected) + " elements");
    auto dst = destination_type(p, m.slot(i).scalar_type(), *t, *st, notes);
    if (!dst) return dst.err();
    auto checked = checked_device(device, p.name, n_cuda);
    if (!checked) return checked.err();
    return plan_item{i, t, *st, *dst, std::move(*checked)};
}

void add_dtype_warnings(const dtype_notes& notes, load_report& report) {
    if (notes.raw_count)
        report.warnings.push_back(std::to_string(notes.raw_count) +
                                  " tensor(s) loaded as raw bits because LibTorch " + TORCH_VERSION +
                                  " has no such dtype, e.g. " + notes.raw_example +
                                  " (float8 as uint8, unsigned as the signed type of the same width)");
    if (notes.float8_kept)
        report.warnings.push_back(
            std::to_string(notes.float8_kept) +
            " float8 or unsigned tensor(s) kept as stored, not converted to the model's dtype"
            " (float8 scales are separate tensors)");
}

// Every parameter planned; still nothing allocated.
result<std::vector<plan_item>> plan_destinations(const meta_model& m, const checkpoint& ck,
                                                 const load_options& options, load_report& report) {
    const int n_cuda = cuda_device_count();
    const std::string fallback_device = default_device(options.device, n_cuda);
    if (!options.tensor_devices.empty() && options.tensor_devices.size() != m.params.size())
        return make_error(error_code::bad_request,
                          "the device map has " + std::to_string(options.tensor_devices.size()) +
                              " entries for " + std::to_string(m.params.size()) + " parameters");
    const stored_tensors stored(ck, m);
    dtype_notes notes;
    std::vector<plan_item> plan;
    plan.reserve(m.params.size());
    for (size_t i = 0; i < m.params.size(); ++i) {
        const std::string& device = !options.parts.empty() && !options.parts[i].held ? other_stage
                                    : options.tensor_devices.empty()                 ? fallback_device
                                                                     : options.tensor_devices[i];
        auto item = plan_parameter(m, i, stored, device, n_cuda, notes);
        if (!item) return item.err();
        plan.push_back(std::move(*item));
    }
    add_dtype_warnings(notes, report);
    return plan;
}

// 3. Every file of the checkpoint opened, by name (still nothing allocated).
// With `direct`, O_DIRECT: a file whose file system refuses it (tmpfs, some network file systems: EINVAL) is
// opened normally, with a warning; `direct_fds` holds the descriptors that did get O_DIRECT.
result<std::unordered_map<std::string, int>> open_all(open_files& files, const checkpoint_source& src,
                                                      bool direct, std::unordered_set<int>& direct_fds,
                                                      load_report& report) {
    std::unordered_map<std::string, int> fd_of;
    std::vector<std::string> refused;
    for (const auto& f : src.ck.files) {
        std::string path = (fs::path(src.folder) / f.name).string();
        result<int> fd = direct ? files.open(path, O_DIRECT) : files.open(path);
        if (direct && fd) direct_fds.insert(*fd);
        if (direct && !fd && files.last_errno == EINVAL) {
            refused.push_back(f.name);
            fd = files.open(path);
        }
        if (!fd) return fd.err();
        fd_of[f.name] = *fd;
    }
    if (!refused.empty())
        report.warnings.push_back("--direct: the file system refuses O_DIRECT for " +
                                  std::to_string(refused.size()) + " file(s) (e.g. " + refused.front() +
                                  "); they are read through the page cache");
    return fd_of;
}

// 4. Allocation. The parameters' tensors as they were, to put back on any failure from here on.
class saved_slots {
  public:
    explicit saved_slots(meta_model& m) : m_(m) {
        originals_.reserve(m.params.size());
        for (size_t i = 0; i < m.params.size(); ++i) originals_.push_back(m.slot(i));
    }
    const at::Tensor& original(size_t i) const { return originals_[i]; }
    void restore() {
        for (size_t i = 0; i < m_.params.size(); ++i) m_.slot(i) = originals_[i];
    }

  private:
    meta_model& m_;
    std::vector<at::Tensor> originals_;
};

// The destinations and what fills them: jobs to read, per device kind; mapped files kept alive by the tensors
// that alias them.
struct allocation {
    std::vector<fill_job> cpu_jobs, cuda_jobs;
    cpu_alloc_kind cpu_alloc = cpu_alloc_kind::huge;
    std::shared_ptr<cpu_arena> arena;              // cpu_alloc == arena
    std::vector<std::pair<char*, uint64_t>> fresh; // fresh CPU destinations (for prefault)
    uint64_t total_bytes = 0;                      // checkpoint bytes read or mapped
    std::unordered_map<std::string, std::shared_ptr<file_mapping>> mapping_of;
    uint64_t fill_bytes() const {
        uint64_t n = 0;
        for (const auto& j : cpu_jobs) n += j.bytes;
        for (const auto& j : cuda_jobs) n += j.bytes;
        return n;
    }
};

// A private mapping of the whole file: populated read-only, so the page tables point at the page cache
// (populating a writable private mapping would copy every page); then writable, copy-on-write. Throws.
std::shared_ptr<file_mapping> map_whole_file(int fd, const std::string& file) {
    auto mp = std::make_shared<file_mapping>();
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw std::runtime_error(file + ": cannot stat");
    mp->size = static_cast<size_t>(st.st_size);
    mp->base = ::mmap(nullptr, mp->size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (mp->base == MAP_FAILED) throw std::runtime_error(file + ": cannot map: " + std::strerror(errno));
    if (::mprotect(mp->base, mp->size, PROT_READ | PROT_WRITE) != 0)
        throw std::runtime_error(file + ": cannot make the mapping writable: " + std::strerror(errno));
    return mp;
}

// A CPU tensor that aliases the parameter's bytes in the mapped file (no read at all). Throws.
at::Tensor alias_mapped(const plan_item& item, const fill_job& job, const std::vector<int64_t>& sizes,
                        allocation& out) {
    auto& mp = out.mapping_of[item.t->file];
    if (!mp) mp = map_whole_file(job.fd, job.file);
    if (item.t->begin > mp->size || job.bytes > mp->size - item.t->begin)
        throw std::runtime_error(job.file + ": the file is shorter than its header says (" +
                                 std::to_string(mp->size) + " bytes) while mapping " + job.name);
    auto keep = mp;
    return at::from_blob(
        static_cast<char*>(mp->base) + item.t->begin, sizes, [keep](void*) {},
        at::TensorOptions().dtype(item.dst_type));
}

// One parameter's destination: filled in place when it is already loaded on that device with that dtype (a
// reload), aliased to the mapped file with `mmap` where no conversion is needed, else freshly allocated.
// Returns the tensor the parameter holds from now on. Throws on an allocation failure.
at::Tensor allocate_destination(const plan_item& item, fill_job job, const at::Tensor& slot, bool use_mmap,
                                bool read, allocation& out, load_report& report) {
    std::vector<int64_t> sizes(slot.sizes().begin(), slot.sizes().end());
    c10::Device device(item.device);
    std::vector<fill_job> unread;
    auto& jobs = !read ? unread : item.device == "cpu" ? out.cpu_jobs : out.cuda_jobs;
    if (read) out.total_bytes += job.bytes;
    if (!read) ++report.tensors_deferred;
    bool reuse = slot.defined() && !slot.is_meta() && slot.device() == device &&
                 slot.scalar_type() == item.dst_type && slot.is_contiguous();
    if (reuse) {
        job.dst = slot;
        if (job.convert) ++report.tensors_converted;
        ++report.tensors_reused;
        jobs.push_back(std::move(job));
        return slot;
    }
    if (read && use_mmap && item.device == "cpu" && !job.convert && !job.part &&
        item.t->begin % item.st.size == 0) {
        ++report.tensors_aliased;
        return alias_mapped(item, job, sizes, out);
    }
    at::Tensor dst = item.device == "cpu"
                         ? empty_cpu(sizes, item.dst_type, out.cpu_alloc, out.arena)
                         : at::empty(sizes, at::TensorOptions().dtype(item.dst_type).device(device));
    if (item.device == "cpu" && read) out.fresh.push_back({static_cast<char*>(dst.data_ptr()), dst.nbytes()});
    job.dst = dst;
    if (job.convert) ++report.tensors_converted;
    jobs.push_back(std::move(job));
    return dst;
}

// The fill's view of a part: the stored tensor as [outer][full][inner] around the axis.
std::shared_ptr<const detail::part_geometry> geometry_of(const tensor_part& part,
                                                         const std::vector<uint64_t>& shape) {
    auto g = std::make_shared<detail::part_geometry>();
    for (size_t d = 0; d < shape.size(); ++d) {
        if (static_cast<int>(d) < part.axis) g->outer *= shape[d];
        if (static_cast<int>(d) > part.axis) g->inner *= shape[d];
    }
    g->full = shape[static_cast<size_t>(part.axis)];
    for (const auto& [start, length] : part.pieces) {
        g->pieces.push_back({start, length, g->rank});
        g->rank += length;
    }
    g->rank += part.pad;
    return g;
}

fill_job job_for(const plan_item& item, const meta_model& m, const tensor_part* part,
                 const std::unordered_map<std::string, int>& fd_of,
                 const std::unordered_set<int>& direct_fds) {
    fill_job job;
    job.name = m.params[item.param].name;
    job.file = item.t->file;
    job.fd = fd_of.at(item.t->file);
    job.direct = direct_fds.count(job.fd) > 0;
    job.begin = item.t->begin;
    job.bytes = item.t->bytes();
    job.stored = item.st.type;
    job.stored_size = item.st.size;
    job.convert = item.dst_type != item.st.type;
    if (part && part->axis >= 0) {
        job.part = geometry_of(*part, item.t->shape);
        job.bytes = static_cast<uint64_t>(m.slot(item.param).numel()) * item.st.size;
    }
    return job;
}

// Every planned parameter materialized (disk and meta ones stay on meta, not read). Throws on an allocation
// failure; the caller puts the parameters back.
allocation allocate_all(meta_model& m, const std::vector<plan_item>& plan, const saved_slots& saved,
                        const std::unordered_map<std::string, int>& fd_of,
                        const std::unordered_set<int>& direct_fds, const load_options& options,
                        load_report& report) {
    allocation out;
    out.cpu_alloc = options.cpu_alloc;
    if (options.cpu_alloc == cpu_alloc_kind::arena) {
        // Room for every CPU destination (those filled in place or aliased leave theirs unused: address space
        // only, never touched).
        uint64_t bytes = 0;
        for (const auto& item : plan)
            if (item.device == "cpu")
                bytes += arena_share(static_cast<uint64_t>(m.slot(item.param).numel()) *
                                     static_cast<uint64_t>(c10::elementSize(item.dst_type)));
        if (bytes) out.arena = std::make_shared<cpu_arena>(bytes);
    }
    for (const auto& item : plan) {
        device_totals& dev = report.devices[item.device];
        if (item.device == "disk" || item.device == "meta" || item.device == other_stage) {
            ++dev.tensors;
            dev.bytes += item.t->bytes();
            continue;
        }
        at::Tensor& slot = m.slot(item.param);
        const tensor_part* part = options.parts.empty() ? nullptr : &options.parts[item.param];
        bool read = options.fill_later.empty() || !options.fill_later[item.param];
        at::Tensor dst = allocate_destination(item, job_for(item, m, part, fd_of, direct_fds), slot,
                                              options.mmap, read, out, report);
        if (saved.original(item.param).requires_grad()) dst.set_requires_grad(true);
        slot = dst;
        ++dev.tensors;
        dev.bytes += dst.nbytes();
        report.dest_bytes += dst.nbytes();
        ++report.tensors;
    }
    return out;
}

// 5. Chunks in file order, so each file is read front to back.
std::vector<fill_chunk> chunks_in_file_order(const std::vector<fill_job>& jobs, uint64_t limit) {
    std::vector<uint32_t> order(jobs.size());
    for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
        return std::tie(jobs[a].file, jobs[a].begin) < std::tie(jobs[b].file, jobs[b].begin);
    });
    std::vector<fill_chunk> chunks;
    for (uint32_t j : order) {
        uint64_t per = std::max<uint64_t>(1, limit / jobs[j].stored_size);
        uint64_t elems = jobs[j].bytes / jobs[j].stored_size;
        for (uint64_t e = 0; e < elems; e += per) chunks.push_back({j, e, std::min(per, elems - e)});
    }
    return chunks;
}

// 6. The fills. The CPU and CUDA fills (a device map may use both) run at the same time, each with its own
// readers, on a runner thread while this one reports progress. Every thread is joined on every path (a
// joinable std::thread that is destroyed ends the process), and no exception leaves here: a failure to start
// a thread falls back to fewer threads, and an exception from `progress` stops the load.
struct fill_work {
    explicit fill_work(allocation& a) : alloc(a) {}
    allocation& alloc;
    std::vector<fill_chunk> cpu_chunks, cuda_chunks;
    unsigned threads = 1;
    uint64_t chunk_bytes = 0;
    detail::run_policy policy;
    fill_state state;
};

template <class Fill>
void guarded_fill(fill_state& state, Fill&& fill) {
    try {
        fill();
    } catch (const std::exception& e) {
        state.fail(make_error(error_code::io, "loading failed: " + first_line(e)));
    } catch (...) {
        state.fail(make_error(error_code::io, "loading failed: an unknown exception"));
    }
}

// Both fills, CUDA on a thread of its own when there is one to spare.
void run_fills(fill_work& w, unsigned staging_buffers) {
    std::thread cuda_fill;
    auto fill_on_cuda = [&]() {
        guarded_fill(w.state, [&]() {
            detail::fill_cuda(w.alloc.cuda_jobs, w.cuda_chunks, w.threads, std::max(1u, staging_buffers),
                              w.chunk_bytes, w.policy, w.state);
        });
    };
    if (!w.cuda_chunks.empty()) {
        try {
            cuda_fill = std::thread(fill_on_cuda);
        } catch (const std::exception&) {
            fill_on_cuda(); // no thread to spare: one fill after the other
        }
    }
    if (!w.cpu_chunks.empty())
        guarded_fill(w.state, [&]() {
            fill_cpu(w.alloc.cpu_jobs, w.cpu_chunks, w.threads, w.chunk_bytes, w.policy, w.state);
        });
    if (cuda_fill.joinable()) cuda_fill.join();
}

// Calls options.progress with the bytes done so far; the first exception it throws stops the load.
class progress_reporter {
  public:
    progress_reporter(const load_options& options, fill_state& state, uint64_t mapped, uint64_t total)
        : progress_(options.progress), state_(state), mapped_(mapped), total_(total) {}
    bool wanted() const { return static_cast<bool>(progress_); }
    void report() {
        if (!progress_ || failed_) return;
        try {
            progress_(mapped_ + state_.bytes_done.load(), total_);
        } catch (const std::exception& e) {
            fail(std::string("the progress callback threw: ") + e.what());
        } catch (...) {
            fail("the progress callback threw an unknown exception");
        }
    }

  private:
    void fail(std::string message) {
        failed_ = true;
        state_.fail(make_error(error_code::io, std::move(message)));
    }
    const std::function<void(uint64_t, uint64_t)>& progress_;
    fill_state& state_;
    uint64_t mapped_, total_;
    bool failed_ = false;
};

// The fills on a runner thread, progress on this one about ten times a second and once at the end.
void fill_with_progress(fill_work& w, const load_options& options) {
    progress_reporter progress(options, w.state, w.alloc.total_bytes - w.alloc.fill_bytes(),
                               w.alloc.total_bytes);
    std::mutex mu;
    std::condition_variable cv;
    bool finished = false;
    auto runner_body = [&]() {
        run_fills(w, options.staging_buffers);
        std::lock_guard<std::mutex> lock(mu);
        finished = true;
        cv.notify_all();
    };
    std::thread runner;
    try {
        runner = std::thread(runner_body);
    } catch (const std::exception&) {
        runner_body(); // no thread to spare: fill on this one, progress only at the end
    }
    if (runner.joinable()) {
        std::unique_lock<std::mutex> lock(mu);
        while (!finished) {
            cv.wait_for(lock, std::chrono::milliseconds(100));
            if (finished || !progress.wanted()) continue;
            lock.unlock();
            progress.report();
            lock.lock();
        }
        lock.unlock();
        runner.join();
    }
    progress.report(); // once more, at the end
}

// 7. The report's closing warnings: what stayed on meta, and dtypes converted.
void add_load_warnings(const meta_model& m, load_report& report) {
    if (report.devices.count("disk"))
        report.warnings.push_back(std::to_string(report.devices["disk"].tensors) +
                                  " parameter(s) mapped to \"disk\" were left on meta");
    if (report.devices.count("meta"))
        report.warnings.push_back(std::to_string(report.devices["meta"].tensors) +
                                  " parameter(s) in no device-map entry were left on meta");

    report.buffers_on_meta = m.buffers.size();
    const auto& differences = report.verify.dtype_differences;
    if (!differences.empty())
        report.warnings.push_back(std::to_string(differences.size()) +
                                  " tensor(s) stored as another dtype than the model's, e.g. " +
                                  differences.front().name + " (" + differences.front().actual + " -> " +
                                  differences.front().expected +
                                  "), converted on load where both are plain dtypes");
}

// 0. With parts: each part checked against the skeleton's shape, and each parameter resized on meta to the
// part's shape (a meta tensor of another shape; nothing allocated).
std::optional<error> apply_parts(meta_model& m, const load_options& options) {
    if (!options.fill_later.empty() && options.fill_later.size() != m.params.size())
        return make_error(error_code::bad_request,
                          "fill_later has " + std::to_string(options.fill_later.size()) + " entries for " +
                              std::to_string(m.params.size()) + " parameters");
    if (options.parts.empty()) return std::nullopt;
    if (options.parts.size() != m.params.size())
        return make_error(error_code::bad_request, "the parts have " + std::to_string(options.parts.size()) +
                                                       " entries for " + std::to_string(m.params.size()) +
                                                       " parameters");
    for (size_t i = 0; i < m.params.size(); ++i) {
        const tensor_part& part = options.parts[i];
        const auto& info = *m.params[i].info;
        std::vector<int64_t> sizes(info.shape.begin(), info.shape.end());
        if (part.axis >= 0) {
            if (static_cast<size_t>(part.axis) >= info.shape.size())
                return make_error(error_code::bad_request,
                                  info.name + ": its part splits axis " + std::to_string(part.axis) +
                                      " of a tensor of " + std::to_string(info.shape.size()) + " axes");
            uint64_t extent = info.shape[static_cast<size_t>(part.axis)], rank = part.pad;
            for (const auto& [start, length] : part.pieces) {
                if (start > extent || length > extent - start)
                    return make_error(error_code::bad_request,
                                      info.name + ": its part [" + std::to_string(start) + ", +" +
                                          std::to_string(length) + ") is outside axis " +
                                          std::to_string(part.axis) + " (" + std::to_string(extent) + ")");
                rank += length;
            }
            if (rank > (1ull << 62))
                return make_error(error_code::bad_request, info.name + ": its part is too large");
            sizes[static_cast<size_t>(part.axis)] = static_cast<int64_t>(rank);
        }
        at::Tensor& slot = m.slot(i);
        if (slot.sizes().vec() == sizes) continue;
        if (!slot.is_meta())
            return make_error(error_code::bad_request,
                              info.name +
                                  ": already loaded with another shape; parts load into a fresh model");
        slot = at::empty(sizes, at::TensorOptions().device(at::kMeta).dtype(slot.scalar_type()))
                   .set_requires_grad(slot.requires_grad());
    }
    return std::nullopt;
}

} // namespace

result<stored_model> stored_skeleton(const skeleton& sk, const checkpoint_source& src) {
    stored_model out;
    auto view = logical_view(src.ck);
    if (!view) return view.err();
    if (view->quantized.empty()) {
        out.sk = sk;
        return out;
    }
    out.verify = verify_checkpoint(sk, *view);
    if (!out.verify.ok)
        return make_error(error_code::bad_checkpoint, src.path + ": " + verify_summary(out.verify));
    std::unordered_map<std::string, const quantized_group*> group_of;
    for (const auto& g : view->quantized) group_of.emplace(g.name, &g);
    std::unordered_map<std::string, const checkpoint_tensor*> stored;
    for (const auto& t : src.ck.tensors) stored.emplace(t.name, &t);
    out.sk.base_prefix = sk.base_prefix;
    out.sk.aliases = sk.aliases;
    out.sk.buffers = sk.buffers;
    std::map<std::string, uint64_t> schemes;
    for (const auto& t : sk.tensors) {
        auto g = group_of.find(t.name);
        if (g == group_of.end()) {
            out.sk.tensors.push_back(t);
            continue;
        }
        for (const auto& member : g->second->members) {
            auto c = stored.find(member);
            if (c == stored.end())
                return make_error(error_code::bad_checkpoint, src.path + ": " + member +
                                                                  ", of the quantized group " + t.name +
                                                                  ", is not stored");
            auto type = parse_dtype(c->second->dtype, member);
            if (!type)
                return make_error(error_code::unsupported,
                                  src.path + ": " + member + " is stored as " + c->second->dtype +
                                      ", which the loader does not hold; nothing was loaded");
            tensor_info m = t;
            m.name = member;
            m.shape = c->second->shape;
            m.elements = c->second->elements;
            m.type = *type;
            m.source = nullptr; // no template: the stored tensor of a quantized weight
            out.sk.tensors.push_back(std::move(m));
        }
        ++out.groups;
        const auto& q = *g->second;
        ++schemes[q.scheme + (q.bits ? " " + std::to_string(q.bits) + "-bit" : std::string()) +
                  (q.group_size ? " (group " + std::to_string(q.group_size) + ")" : std::string())];
    }
    for (const auto& [name, count] : schemes)
        out.schemes += (out.schemes.empty() ? "" : ", ") + std::to_string(count) + " " + name;
    out.quantized = std::move(view->quantized);
    return out;
}

result<load_report> load_weights(meta_model& m, const skeleton& sk, const checkpoint_source& src,
                                 const load_options& options) {
    load_report report;
    if (auto e = verify_from_headers(m, sk, src, report)) return *e;
    if (auto e = apply_parts(m, options)) return *e;
    auto plan = plan_destinations(m, src.ck, options, report);
    if (!plan) return plan.err();
    if (options.direct && options.mmap)
        return make_error(error_code::bad_request,
                          "--direct reads past the page cache and --mmap maps it: choose one");
    open_files files;
    std::unordered_set<int> direct_fds;
    auto fd_of = open_all(files, src, options.direct, direct_fds, report);
    if (!fd_of) return fd_of.err();
    report.direct = !direct_fds.empty();

    saved_slots saved(m);
    report.threads =
        options.threads ? options.threads : std::max(1u, std::min(8u, std::thread::hardware_concurrency()));
    report.mmap = options.mmap;
    const uint64_t chunk_bytes = std::max<uint64_t>(options.chunk_bytes, 4096);
    report.rss_before_bytes = rss_bytes();
    reset_peak_rss();
    auto t0 = std::chrono::steady_clock::now();

    std::optional<allocation> alloc;
    try {
        alloc.emplace(allocate_all(m, *plan, saved, *fd_of, direct_fds, options, report));
    } catch (const std::exception& e) {
        saved.restore();
        return make_error(error_code::io,
                          "allocation failed: " + first_line(e) + "; nothing is left allocated");
    }
    if (options.prefault) {
        auto p0 = std::chrono::steady_clock::now();
        prefault_cpu(alloc->fresh, report.threads);
        report.prefault_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - p0).count();
    }
    fill_work work(*alloc);
    work.threads = report.threads;
    work.chunk_bytes = chunk_bytes;
    work.policy.min_run_bytes = options.min_run_bytes;
    try {
        work.cpu_chunks = chunks_in_file_order(alloc->cpu_jobs, chunk_bytes);
        work.cuda_chunks = chunks_in_file_order(alloc->cuda_jobs, chunk_bytes);
    } catch (const std::exception& e) {
        alloc.reset();
        saved.restore();
        return make_error(error_code::io,
                          std::string("loading failed: ") + e.what() + "; nothing is left allocated");
    }
    fill_with_progress(work, options);

    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    report.peak_rss_bytes = peak_rss_bytes();
    if (work.state.first_error) {
        alloc.reset();
        saved.restore();
        error e = *work.state.first_error;
        e.message += report.tensors_reused ? "; parameters are back to what they were (those loaded before "
                                             "may hold part of the new data)"
                                           : "; every parameter is back on meta, nothing is left allocated";
        return e;
    }
    report.bytes = alloc->total_bytes;
    report.bytes_read = work.state.bytes_read;
    report.reads = work.state.reads;
    add_load_warnings(m, report);
    return report;
}

// ---- JSON -------------------------------------------------------------------------------------------------
// One line, keys in a fixed order. The core has no public JSON writer (its writers are internal to core/src
// and pretty-print), so this small one stays here.

using detail::json_string;

namespace {

std::string json_number(double x) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", x);
    return buf;
}

// {"key": value, ...} from rows of already-written values.
std::string json_object(const std::vector<std::pair<std::string, std::string>>& fields) {
    std::string out = "{";
    for (size_t i = 0; i < fields.size(); ++i)
        out += (i ? ", " : "") + json_string(fields[i].first) + ": " + fields[i].second;
    return out + "}";
}

} // namespace

std::string load_json(const load_report& r) {
    auto n = [](uint64_t v) { return std::to_string(v); };
    double gbps = r.seconds > 0 ? static_cast<double>(r.bytes) / 1e9 / r.seconds : 0;
    std::vector<std::pair<std::string, std::string>> devices;
    for (const auto& [name, d] : r.devices)
        devices.emplace_back(name, json_object({
                                       {"tensors", n(d.tensors)},
                                       {"bytes",   n(d.bytes)  }
        }));
    std::string warnings = "[";
    for (size_t i = 0; i < r.warnings.size(); ++i) warnings += (i ? ", " : "") + json_string(r.warnings[i]);
    warnings += "]";
    return json_object({
               {"tensors",          n(r.tensors)                   },
               {"bytes",            n(r.bytes)                     },
               {"bytes_read",       n(r.bytes_read)                },
               {"reads",            n(r.reads)                     },
               {"seconds",          json_number(r.seconds)         },
               {"prefault_seconds", json_number(r.prefault_seconds)},
               {"gb_per_s",         json_number(gbps)              },
               {"peak_rss_bytes",   n(r.peak_rss_bytes)            },
               {"rss_before_bytes", n(r.rss_before_bytes)          },
               {"dest_bytes",       n(r.dest_bytes)                },
               {"threads",          n(r.threads)                   },
               {"mmap",             r.mmap ? "true" : "false"      },
               {"direct",           r.direct ? "true" : "false"    },
               {"converted",        n(r.tensors_converted)         },
               {"aliased",          n(r.tensors_aliased)           },
               {"reused",           n(r.tensors_reused)            },
               {"buffers_on_meta",  n(r.buffers_on_meta)           },
               {"devices",          json_object(devices)           },
               {"warnings",         warnings                       },
    }) +
           "\n";
}

} // namespace modelplan::libtorch
