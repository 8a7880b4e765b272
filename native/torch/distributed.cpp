// One rank of a tensor-/pipeline-parallel group (distributed.h, docs/loading.md#distributed-loading):
// rendezvous and agreement through c10d's TCPStore, the rank's slices from the core's rank_slices, the sliced
// load (load_weights with parts), read-once broadcasts over Gloo or NCCL, and a bounded goodbye.
#include "modelplan/libtorch/distributed.h"

#include "load-internal.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if defined(MODELPLAN_C10D_GLOO)
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if defined(MODELPLAN_C10D_NCCL)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <zlib.h>

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <thread>

#include "modelplan/modelplan.h"
#include "modelplan/placement.h"
#include "modelplan/text.h"

namespace modelplan::libtorch {

namespace {

using clock = std::chrono::steady_clock;

std::string first_line(const std::exception& e) {
    std::string what = e.what();
    return what.substr(0, what.find('\n'));
}

// A variable of the launcher's environment as a number from `low` to `high`.
result<long> env_number(const char* name, const char* fallback, long low, long high) {
    const char* v = std::getenv(name);
    std::string text = v ? v : fallback ? fallback : "";
    if (!v && !fallback)
        return make_error(error_code::bad_request,
                          std::string(name) +
                              " is not set: start the ranks with a launcher that sets RANK, "
                              "WORLD_SIZE, MASTER_ADDR and MASTER_PORT (torchrun), or use --nproc");
    char* end = nullptr;
    long n = text.empty() ? -1 : std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || n < low || n > high)
        return make_error(error_code::bad_request, std::string(name) + ": expected a number from " +
                                                       std::to_string(low) + " to " + std::to_string(high) +
                                                       ", got \"" + text + "\"");
    return n;
}

// FNV-1a, 64 bits: a fingerprint of what a rank is about to load, compared between ranks (not a security
// hash).
struct fingerprint {
    uint64_t h = 1469598103934665603ull;
    void add(const std::string& s) {
        for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
        h = (h ^ 0xff) * 1099511628211ull;
    }
    void add(uint64_t v) { add(std::to_string(v)); }
    std::string hex() const {
        char buf[17];
        std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
        return buf;
    }
};

// What each rank publishes before any large read: three lines, each "<hash> <description>", or "error" and
// the message.
struct agreement {
    std::string model, checkpoint, plan;
    std::string text() const { return "ok\n" + model + "\n" + checkpoint + "\n" + plan; }
};

agreement describe(const analysis& a, const checkpoint_source& src, const group_member& me,
                   const distributed_options& o, const std::string& device_kind) {
    agreement out;
    fingerprint fm;
    fm.add(a.spec.architecture);
    for (const auto& t : a.sk.tensors) {
        fm.add(t.name);
        for (uint64_t d : t.shape) fm.add(d);
        fm.add(dtype_name(t.type));
    }
    out.model = fm.hex() + " " + a.spec.architecture + ", " + std::to_string(a.sk.tensors.size()) +
                " tensors, " + std::to_string(a.counts.total) + " parameters";
    fingerprint fc;
    uint64_t bytes = 0;
    for (const auto& t : src.ck.tensors) {
        fc.add(t.name);
        fc.add(t.dtype);
        for (uint64_t d : t.shape) fc.add(d);
        fc.add(t.file);
        fc.add(t.begin);
        fc.add(t.end);
        bytes += t.end - t.begin;
    }
    for (const auto& f : src.ck.files) {
        fc.add(f.name);
        fc.add(f.size);
    }
    out.checkpoint = fc.hex() + " " + std::to_string(src.ck.tensors.size()) + " tensors in " +
                     std::to_string(src.ck.files.size()) + " file(s), " + std::to_string(bytes) + " bytes";
    out.plan = "tp " + std::to_string(o.tp) + ", pp " + std::to_string(o.pp) + ", world size " +
               std::to_string(me.world_size) + ", " + (o.read_once ? "read once" : "every rank reads") +
               ", " + device_kind + ", modelplan " + version;
    return out;
}

// The store's keys, under a prefix of their own.
std::string key(const std::string& what, int rank) {
    return "modelplan/" + what + "/" + std::to_string(rank);
}

std::string text_of(const std::vector<uint8_t>& v) {
    return std::string(v.begin(), v.end());
}
std::vector<uint8_t> bytes_of(const std::string& s) {
    return std::vector<uint8_t>(s.begin(), s.end());
}

// A phase every rank passes: each publishes "ok..." or "error\n<message>" under `what`, then waits (bounded)
// for all. Returns each rank's text, or an error naming the ranks that did not report in time.
result<std::vector<std::string>> exchange(c10d::Store& store, const group_member& me, const std::string& what,
                                          const std::string& mine, std::chrono::milliseconds timeout) {
    try {
        store.set(key(what, me.rank), bytes_of(mine));
    } catch (const std::exception& e) {
        return make_error(error_code::io, "rank " + std::to_string(me.rank) + ": lost the group's store at " +
                                              me.master_addr + ":" + std::to_string(me.master_port) +
                                              " (rank 0 gone?): " + first_line(e));
    }
    std::vector<std::string> keys;
    for (int r = 0; r < me.world_size; ++r) keys.push_back(key(what, r));
    try {
        store.wait(keys, timeout);
    } catch (const std::exception& e) {
        std::string missing;
        try {
            for (int r = 0; r < me.world_size; ++r)
                if (!store.check({key(what, r)}))
                    missing += (missing.empty() ? "" : ", ") + std::to_string(r);
        } catch (const std::exception&) {
            missing.clear();
        }
        if (missing.empty())
            return make_error(error_code::io, "rank " + std::to_string(me.rank) +
                                                  ": lost the group's store at " + me.master_addr + ":" +
                                                  std::to_string(me.master_port) + " while waiting for the " +
                                                  what + " step (rank 0 gone?): " + first_line(e));
        return make_error(error_code::io, "rank " + std::to_string(me.rank) + ": rank(s) " + missing +
                                              " did not reach the " + what + " step within " +
                                              std::to_string(timeout.count() / 1000) +
                                              " s (not started, or died); the group is abandoned");
    }
    std::vector<std::string> out;
    try {
        for (int r = 0; r < me.world_size; ++r) out.push_back(text_of(store.get(key(what, r))));
    } catch (const std::exception& e) {
        return make_error(error_code::io, "rank " + std::to_string(me.rank) +
                                              ": lost the group's store (rank 0 gone?): " + first_line(e));
    }
    return out;
}

// The first rank whose text is an error, as "rank R failed: ...".
std::optional<error> failed_rank(const std::vector<std::string>& texts, const group_member& me,
                                 const std::string& step) {
    for (size_t r = 0; r < texts.size(); ++r)
        if (texts[r].rfind("error\n", 0) == 0)
            return make_error(
                error_code::io,
                (static_cast<int>(r) == me.rank ? std::string() : "rank " + std::to_string(me.rank) + ": ") +
                    "rank " + std::to_string(r) + " failed " + step + ": " + texts[r].substr(6));
    return std::nullopt;
}

// Every rank compared with rank 0, field by field.
std::optional<error> compare(const std::vector<std::string>& texts, const group_member& me) {
    auto lines = [](const std::string& t) {
        std::vector<std::string> out;
        size_t at = 0;
        while (at <= t.size()) {
            size_t nl = t.find('\n', at);
            out.push_back(t.substr(at, nl == std::string::npos ? std::string::npos : nl - at));
            if (nl == std::string::npos) break;
            at = nl + 1;
        }
        return out;
    };
    const char* fields[] = {"model (config)", "checkpoint", "plan"};
    auto base = lines(texts[0]);
    for (size_t r = 1; r < texts.size(); ++r) {
        auto other = lines(texts[r]);
        for (size_t f = 0; f < 3; ++f) {
            std::string a = f + 1 < base.size() ? base[f + 1] : "",
                        b = f + 1 < other.size() ? other[f + 1] : "";
            if (a != b)
                return make_error(error_code::bad_checkpoint,
                                  "rank " + std::to_string(me.rank) + ": rank " + std::to_string(r) +
                                      " differs from rank 0 in its " + fields[f] + ": rank " +
                                      std::to_string(r) + " has " + quote_value(b) + ", rank 0 has " +
                                      quote_value(a) + "; nothing was loaded");
        }
    }
    return std::nullopt;
}

// /proc/self/io: rchar (bytes read by read calls) and read_bytes (from storage).
std::pair<uint64_t, uint64_t> proc_io() {
    std::ifstream in("/proc/self/io");
    std::string k;
    uint64_t v = 0, rchar = 0, read_bytes = 0;
    while (in >> k >> v) {
        if (k == "rchar:") rchar = v;
        if (k == "read_bytes:") read_bytes = v;
    }
    return {rchar, read_bytes};
}

// The safetensors name of a LibTorch dtype, for the checksums' records.
std::string safetensors_dtype(at::ScalarType t) {
    switch (t) {
    case at::kDouble: return "F64";
    case at::kFloat: return "F32";
    case at::kHalf: return "F16";
    case at::kBFloat16: return "BF16";
    case at::kLong: return "I64";
    case at::kInt: return "I32";
    case at::kShort: return "I16";
    case at::kChar: return "I8";
    case at::kByte: return "U8";
    case at::kBool: return "BOOL";
    default: return c10::toString(t);
    }
}

// A tensor's bytes as a uint8 tensor on its device (no copy), for broadcasts of any dtype.
at::Tensor bytes_view(const at::Tensor& t) {
    return at::from_blob(t.data_ptr(), {static_cast<int64_t>(t.nbytes())},
                         at::TensorOptions().dtype(at::kByte).device(t.device()));
}

// The collective of one pipeline stage: its T ranks, over Gloo (CPU) or NCCL (CUDA).
struct stage_group {
    c10::intrusive_ptr<c10d::Store> store;
#if defined(MODELPLAN_C10D_NCCL)
    c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif
#if defined(MODELPLAN_C10D_GLOO)
    c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
#endif
    std::string backend;
    void broadcast(at::Tensor& t, int root, std::chrono::milliseconds timeout) {
        std::vector<at::Tensor> v{bytes_view(t)};
        c10d::BroadcastOptions opts;
        opts.rootRank = root;
        opts.timeout = timeout;
#if defined(MODELPLAN_C10D_NCCL)
        if (nccl) {
            nccl->broadcast(v, opts)->wait(timeout);
            return;
        }
#endif
#if defined(MODELPLAN_C10D_GLOO)
        gloo->broadcast(v, opts)->wait(timeout);
#endif
    }
};

stage_group make_stage_group(const c10::intrusive_ptr<c10d::Store>& store, const group_member& me,
                             uint64_t tp, uint64_t stage, bool cuda, std::chrono::milliseconds timeout) {
    stage_group g;
    g.store = c10::make_intrusive<c10d::PrefixStore>("modelplan/stage" + std::to_string(stage), store);
    const int rank = static_cast<int>(static_cast<uint64_t>(me.rank) % tp), size = static_cast<int>(tp);
#if defined(MODELPLAN_C10D_NCCL)
    if (cuda) {
        auto opts = c10d::ProcessGroupNCCL::Options::create();
        opts->timeout = timeout;
        g.nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(g.store, rank, size, opts);
        g.backend = "nccl";
        return g;
    }
#endif
    if (cuda)
        throw std::runtime_error(
            "this build has no NCCL (nccl.h was not found when it was built): --read-once "
            "on CUDA is not available; load without it");
#if defined(MODELPLAN_C10D_GLOO)
    auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
    // On one machine (a loopback MASTER_ADDR) the ranks talk over loopback; else over the interface this
    // host's name resolves to, as torch.distributed does.
    bool loopback = me.master_addr == "localhost" || me.master_addr.rfind("127.", 0) == 0;
    opts->devices.push_back(loopback ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                     : c10d::ProcessGroupGloo::createDefaultDevice());
    g.gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(g.store, rank, size, opts);
    g.backend = "gloo";
    return g;
#else
    (void)rank, (void)size, (void)timeout;
    throw std::runtime_error("this build has no Gloo (its headers, libgloo-dev, were not found when it was "
                             "built): --read-once on CPU is not available; load without it");
#endif
}

// The device this rank loads onto.
result<std::string> rank_device(const std::string& requested, const group_member& me) {
    if (requested == "cpu") return std::string("cpu");
    if (requested == "cuda" || requested == "auto") {
        if (cuda_device_count() > me.local_rank) return "cuda:" + std::to_string(me.local_rank);
        if (requested == "auto") return std::string("cpu");
        return make_error(error_code::bad_request,
                          "--device cuda: rank " + std::to_string(me.rank) +
                              " needs cuda:" + std::to_string(me.local_rank) + " (LOCAL_RANK), but " +
                              std::to_string(cuda_device_count()) + " CUDA device(s) are present");
    }
    // cuda:N: every rank of this machine on that one device (no NCCL between them: checks on one GPU).
    if (requested.rfind("cuda:", 0) == 0 && requested.size() > 5 && requested.size() < 9 &&
        requested.find_first_not_of("0123456789", 5) == std::string::npos) {
        if (std::stoi(requested.substr(5)) < cuda_device_count()) return requested;
        return make_error(error_code::bad_request, "--device " + requested + ": " +
                                                       std::to_string(cuda_device_count()) +
                                                       " CUDA device(s) are present");
    }
    return make_error(error_code::bad_request, "--device " + quote_value(requested) +
                                                   " with a group: expected cpu, cuda, auto (each rank takes "
                                                   "cuda:LOCAL_RANK) or cuda:N (every rank on that device)");
}

// The load's parts from the core's slices.
std::vector<tensor_part> parts_of(const std::vector<rank_slice>& slices) {
    std::vector<tensor_part> parts(slices.size());
    for (size_t i = 0; i < slices.size(); ++i) {
        parts[i].held = slices[i].held;
        parts[i].axis = slices[i].axis;
        parts[i].pad = slices[i].pad;
        for (const auto& p : slices[i].pieces) parts[i].pieces.emplace_back(p.start, p.length);
        // Another stage's tensor: never read, but the tree holds it at its rank shape.
        if (!slices[i].held && slices[i].axis >= 0)
            parts[i].pieces = {
                {0, slices[i].rank_shape[static_cast<size_t>(slices[i].axis)]}
            };
    }
    return parts;
}

// read_once: the rank of the stage that reads each replicated tensor, by bytes, the largest first to the
// least loaded rank (the same answer on every rank: it depends on the skeleton alone).
std::vector<int> readers_of(const analysis& a, const std::vector<rank_slice>& slices, uint64_t tp) {
    std::vector<int> reader(slices.size(), -1);
    std::vector<size_t> order;
    for (size_t i = 0; i < slices.size(); ++i)
        if (slices[i].held && slices[i].axis < 0) order.push_back(i);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t x, size_t y) { return a.sk.tensors[x].elements > a.sk.tensors[y].elements; });
    std::vector<uint64_t> load(tp, 0);
    for (size_t i : order) {
        size_t least = static_cast<size_t>(std::min_element(load.begin(), load.end()) - load.begin());
        reader[i] = static_cast<int>(least);
        load[least] += a.sk.tensors[i].elements * dtype_bytes(a.sk.tensors[i].type);
    }
    return reader;
}

// The rank's work between the agreement and the goodbye; errors come back as errors.
struct rank_work {
    std::unique_ptr<analysis> a;
    std::optional<checkpoint_source> src;
    std::optional<meta_model> model;
    std::vector<rank_slice> slices;
    std::string device;
};

result<rank_work> prepare(const std::string& path, const std::optional<std::string>& model,
                          const config_options& config, const group_member& me,
                          const distributed_options& o) {
    rank_work w;
    auto device = rank_device(o.load.device, me);
    if (!device) return device.err();
    w.device = *device;
    auto src = open_checkpoint(path);
    if (!src) return src.err();
    std::optional<std::string> m = model ? model : src->folder_config;
    if (!m)
        return make_error(error_code::bad_request,
                          path +
                              ": no config.json beside the checkpoint; name the model with --config MODEL");
    auto a = analyze_model(*m, config);
    if (!a) return a.err();
    w.a = std::make_unique<analysis>(std::move(*a));
    w.src = std::move(*src);
    auto stored = stored_skeleton(w.a->sk, *w.src);
    if (!stored) return stored.err();
    auto slices = rank_slices(*w.a, o.tp, o.pp, static_cast<uint64_t>(me.rank));
    if (!slices) return slices.err();
    if (stored->groups) {
        // Quantized: the stored tensors, each member of a group cut from its logical weight's part.
        auto parts = stored_rank_slices(*w.a, *slices, stored->quantized, w.src->ck);
        if (!parts) return make_error(parts.err().code, path + ": " + parts.err().message, parts.err().path);
        w.a->sk = std::move(stored->sk);
        w.slices = std::move(*parts);
    } else {
        w.slices = std::move(*slices);
    }
    auto tree = instantiate_meta(w.a->sk, w.a->spec.architecture);
    if (!tree) return tree.err();
    w.model = std::move(*tree);
    return w;
}

// Waits (polling every 10 ms, until `deadline`) until something accepts connections at host:port: LibTorch
// 1.13's TCPStore client sleeps about a second between its own attempts, which a rank started at the same
// time as rank 0 would otherwise always pay. Returns as soon as a connection succeeds or the deadline passes
// (the store's own attempt then reports the failure).
void wait_for_listener(const std::string& host, uint16_t port, clock::time_point deadline) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0 || !found) return;
    bool connected = false;
    while (!connected && clock::now() < deadline) {
        for (addrinfo* ai = found; ai && !connected; ai = ai->ai_next) {
            int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
            if (fd < 0) continue;
            int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
            if (rc == 0) {
                connected = true;
            } else if (errno == EINPROGRESS) {
                pollfd p{fd, POLLOUT, 0};
                int err = 0;
                socklen_t len = sizeof err;
                connected = ::poll(&p, 1, 100) == 1 &&
                            ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
            }
            ::close(fd);
        }
        if (!connected) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::freeaddrinfo(found);
}

// Goodbye: every rank counts itself out; rank 0, which serves the store, waits (bounded) until all have read
// what they need from it.
void leave(c10d::Store& store, const group_member& me, std::chrono::milliseconds timeout) {
    try {
        store.add("modelplan/bye", 1);
        if (me.rank != 0) return;
        auto deadline = clock::now() + timeout;
        while (store.add("modelplan/bye", 0) < me.world_size && clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
    } catch (const std::exception&) {
        // The store is gone: nobody is left to wait for.
    }
}

} // namespace

result<group_member> member_from_environment() {
    group_member me;
    auto world = env_number("WORLD_SIZE", nullptr, 1, 4096);
    if (!world) return world.err();
    auto rank = env_number("RANK", nullptr, 0, *world - 1);
    if (!rank) return rank.err();
    std::string rank_text = std::to_string(*rank);
    auto local = env_number("LOCAL_RANK", rank_text.c_str(), 0, 4095);
    if (!local) return local.err();
    auto port = env_number("MASTER_PORT", "29500", 1, 65535);
    if (!port) return port.err();
    me.world_size = static_cast<int>(*world);
    me.rank = static_cast<int>(*rank);
    me.local_rank = static_cast<int>(*local);
    me.master_port = static_cast<uint16_t>(*port);
    if (const char* addr = std::getenv("MASTER_ADDR"); addr && *addr) me.master_addr = addr;
    return me;
}

bool built_with_gloo() {
#if defined(MODELPLAN_C10D_GLOO)
    return true;
#else
    return false;
#endif
}

bool built_with_nccl() {
#if defined(MODELPLAN_C10D_NCCL)
    return true;
#else
    return false;
#endif
}

uint32_t tensor_crc32(const at::Tensor& t) {
    at::Tensor host = t.device().is_cpu() ? t.contiguous() : t.to(at::kCPU).contiguous();
    const auto* p = static_cast<const Bytef*>(host.data_ptr());
    uint64_t n = host.nbytes();
    uLong crc = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        uInt take = static_cast<uInt>(std::min<uint64_t>(n, 1u << 30));
        crc = crc32(crc, p, take);
        p += take;
        n -= take;
    }
    return static_cast<uint32_t>(crc);
}

result<rank_model> load_rank(const std::string& path, const std::optional<std::string>& model,
                             const config_options& config, const group_member& me,
                             const distributed_options& o) {
    const auto t0 = clock::now();
    const std::string who = "rank " + std::to_string(me.rank) + ": ";
    if (o.tp == 0 || o.pp == 0 || o.tp * o.pp != static_cast<uint64_t>(me.world_size))
        return make_error(error_code::bad_request, who + "--tp " + std::to_string(o.tp) + " x --pp " +
                                                       std::to_string(o.pp) + " must equal WORLD_SIZE (" +
                                                       std::to_string(me.world_size) + ")");
    if (me.rank < 0 || me.rank >= me.world_size)
        return make_error(error_code::bad_request, "RANK " + std::to_string(me.rank) +
                                                       " is not below WORLD_SIZE " +
                                                       std::to_string(me.world_size));

    // 1. The store (rank 0 serves it). Clients retry until the timeout.
    c10::intrusive_ptr<c10d::Store> store;
    try {
        if (me.rank != 0) wait_for_listener(me.master_addr, me.master_port, t0 + o.timeout);
        c10d::TCPStoreOptions so;
        so.port = me.master_port;
        so.isServer = me.rank == 0;
        so.numWorkers = static_cast<size_t>(me.world_size);
        so.waitWorkers = false;
        so.timeout = o.timeout;
        store = c10::make_intrusive<c10d::TCPStore>(me.master_addr, so);
        store->setTimeout(o.timeout);
    } catch (const std::exception& e) {
        return make_error(error_code::io,
                          who + "cannot " + (me.rank == 0 ? "serve" : "reach") + " the group's store at " +
                              me.master_addr + ":" + std::to_string(me.master_port) + " within " +
                              std::to_string(o.timeout.count() / 1000) + " s: " + first_line(e));
    }
    auto give_up = [&](error e) -> result<rank_model> {
        leave(*store, me, o.timeout);
        return e;
    };

    // 2. Everything read from headers, then the agreement, before any large read.
    auto io0 = proc_io();
    auto work = prepare(path, model, config, me, o);
    std::string mine;
    if (work) {
        mine = describe(*work->a, *work->src, me, o, work->device == "cpu" ? "cpu" : "cuda").text();
    } else {
        mine = "error\n" + work.err().message;
    }
    auto hello = exchange(*store, me, "agreement", mine, o.timeout);
    if (!hello) return give_up(hello.err());
    if (auto e = failed_rank(*hello, me, "before loading")) return give_up(*e);
    if (auto e = compare(*hello, me)) return give_up(*e);
    // Tests stop a rank here, agreed but not loaded, to kill it midway (distributed-test.cpp).
    if (const char* pause = std::getenv("MODELPLAN_TEST_PAUSE_AFTER_AGREEMENT"))
        std::this_thread::sleep_for(std::chrono::seconds(std::min(60L, std::max(0L, std::atol(pause)))));

    // 3. The rank's slices.
    rank_model out;
    rank_report& report = out.report;
    report.rank = me.rank;
    report.world_size = me.world_size;
    report.tp = o.tp;
    report.pp = o.pp;
    report.tp_rank = static_cast<uint64_t>(me.rank) % o.tp;
    report.stage = static_cast<uint64_t>(me.rank) / o.tp;
    report.device = work->device;
    out.a = std::move(work->a);
    out.model = std::move(*work->model);
    const auto& slices = work->slices;
    load_options lo = o.load;
    lo.device = work->device;
    lo.tensor_devices.clear();
    lo.parts = parts_of(slices);
    std::vector<int> reader;
    if (o.read_once) {
        reader = readers_of(*out.a, slices, o.tp);
        lo.fill_later.assign(slices.size(), false);
        for (size_t i = 0; i < slices.size(); ++i)
            lo.fill_later[i] = reader[i] >= 0 && static_cast<uint64_t>(reader[i]) != report.tp_rank;
    }
    for (size_t i = 0; i < slices.size(); ++i) {
        if (!slices[i].held) continue;
        ++report.held_tensors;
        if (slices[i].axis < 0) {
            ++report.replicated_tensors;
            report.replicated_bytes += out.a->sk.tensors[i].elements * dtype_bytes(out.a->sk.tensors[i].type);
        }
    }
    auto loaded = load_weights(out.model, out.a->sk, *work->src, lo);
    auto io1 = proc_io();
    auto done = exchange(*store, me, "load", loaded ? std::string("ok") : "error\n" + loaded.err().message,
                         o.timeout);
    if (!done) return give_up(done.err());
    if (auto e = failed_rank(*done, me, "while loading")) return give_up(*e);
    report.load = std::move(*loaded);

    // 4. read_once: the replicated tensors from their readers, within each stage.
    if (o.read_once && o.tp > 1) {
        try {
            stage_group g = make_stage_group(store, me, o.tp, report.stage, work->device != "cpu", o.timeout);
            report.backend = g.backend;
            for (size_t i = 0; i < slices.size(); ++i) {
                if (reader[i] < 0) continue;
                at::Tensor& t = out.model.slot(i);
                g.broadcast(t, reader[i], o.timeout);
                ++report.broadcast_tensors;
                report.broadcast_bytes += t.nbytes();
            }
        } catch (const std::exception& e) {
            error err =
                make_error(error_code::io, who + "the broadcast of the replicated tensors failed (" +
                                               "a rank died, or the timeout passed): " + first_line(e));
            exchange(*store, me, "broadcast", "error\n" + err.message, o.timeout);
            return give_up(err);
        }
        auto sent = exchange(*store, me, "broadcast", "ok", o.timeout);
        if (!sent) return give_up(sent.err());
        if (auto e = failed_rank(*sent, me, "in the broadcast")) return give_up(*e);
    }

    // 5. The record.
    if (o.checksums)
        for (size_t i = 0; i < slices.size(); ++i) {
            if (!slices[i].held) continue;
            const at::Tensor& t = out.model.slot(i);
            report.tensors.push_back({out.model.params[i].name, t.sizes().vec(),
                                      safetensors_dtype(t.scalar_type()), tensor_crc32(t)});
        }
    report.proc_rchar_bytes = io1.first - io0.first;
    report.proc_read_bytes = io1.second - io0.second;
    report.peak_rss_bytes = peak_rss_bytes();
    report.seconds = std::chrono::duration<double>(clock::now() - t0).count();
    leave(*store, me, o.timeout);
    return out;
}

std::string rank_json(const rank_report& r) {
    auto n = [](uint64_t v) { return std::to_string(v); };
    auto q = [](const std::string& s) { return detail::json_string(s); };
    std::string tensors = "[";
    for (size_t i = 0; i < r.tensors.size(); ++i) {
        const auto& t = r.tensors[i];
        std::string shape = "[";
        for (size_t d = 0; d < t.shape.size(); ++d) shape += (d ? ", " : "") + std::to_string(t.shape[d]);
        tensors += std::string(i ? ", " : "") + "{\"name\": " + q(t.name) + ", \"shape\": " + shape +
                   "], \"dtype\": " + q(t.dtype) + ", \"crc32\": " + n(t.crc32) + "}";
    }
    tensors += "]";
    char seconds[32], load_seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.6f", r.seconds);
    std::snprintf(load_seconds, sizeof load_seconds, "%.6f", r.load.seconds);
    return "{\"rank\": " + std::to_string(r.rank) + ", \"world_size\": " + std::to_string(r.world_size) +
           ", \"tp\": " + n(r.tp) + ", \"pp\": " + n(r.pp) + ", \"tp_rank\": " + n(r.tp_rank) +
           ", \"stage\": " + n(r.stage) + ", \"device\": " + q(r.device) + ", \"backend\": " + q(r.backend) +
           ", \"tensors\": " + tensors + ", \"held_tensors\": " + n(r.held_tensors) +
           ", \"replicated_tensors\": " + n(r.replicated_tensors) +
           ", \"replicated_bytes\": " + n(r.replicated_bytes) + ", \"bytes\": " + n(r.load.bytes) +
           ", \"bytes_read\": " + n(r.load.bytes_read) + ", \"reads\": " + n(r.load.reads) +
           ", \"broadcast_tensors\": " + n(r.broadcast_tensors) +
           ", \"broadcast_bytes\": " + n(r.broadcast_bytes) +
           ", \"proc_rchar_bytes\": " + n(r.proc_rchar_bytes) +
           ", \"proc_read_bytes\": " + n(r.proc_read_bytes) + ", \"load_seconds\": " + load_seconds +
           ", \"seconds\": " + seconds + ", \"peak_rss_bytes\": " + n(r.peak_rss_bytes) + "}";
}

} // namespace modelplan::libtorch
