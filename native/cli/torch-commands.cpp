// `modelplan instantiate MODEL` and `modelplan load PATH`: the commands of the LibTorch adapter (built with
// -DMODELPLAN_WITH_TORCH=ON; docs/loading.md).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>

#include "commands.h"
#include "io/files.h"
#include "launch.h"
#include "modelplan/device-map.h"
#include "modelplan/libtorch/auto-device-map.h"
#include "modelplan/libtorch/distributed.h"
#include "modelplan/libtorch/load.h"
#include "modelplan/libtorch/meta.h"
#include "modelplan/presets.h"
#include "modelplan/text.h"
#include "output.h"

namespace modelplan::cli {

namespace {

namespace lt = modelplan::libtorch;

std::string instantiate_json(const analysis& a, const lt::meta_model& m, uint64_t core, double seconds,
                             int64_t rss_delta) {
    return "{\"model\": \"" + a.model + "\", \"architecture\": \"" + a.spec.architecture +
           "\", \"tensors\": " + std::to_string(m.params.size()) +
           ", \"parameters\": " + std::to_string(m.parameter_count()) +
           ", \"core_parameters\": " + std::to_string(core) + ", \"modules\": " + std::to_string(m.modules) +
           ", \"aliases\": " + std::to_string(m.aliases.size()) +
           ", \"buffers\": " + std::to_string(m.buffers.size()) + ", \"seconds\": " + fixed(seconds, 6) +
           ", \"rss_delta_bytes\": " + std::to_string(rss_delta) + "}\n";
}

std::string render_instantiate(const analysis& a, const lt::meta_model& m, int depth, uint64_t core,
                               double seconds, int64_t rss_delta) {
    uint64_t count = m.parameter_count();
    std::string out = lt::tree_summary(m, depth);
    out += "\n" + with_thousands(m.params.size()) + " parameter tensors, " + with_thousands(count) +
           " parameters on meta (core count" +
           (a.counts.mtp ? " with the multi-token-prediction layers, " + with_thousands(a.counts.total) +
                               " + " + with_thousands(a.counts.mtp)
                         : std::string()) +
           ": " + with_thousands(core) + (count == core ? ", equal" : ", DIFFERENT") + "), " +
           with_thousands(m.modules) + " modules\n";
    out += "built in " + fixed(seconds * 1000, 1) + " ms; resident memory " + (rss_delta >= 0 ? "+" : "-") +
           binary_size(static_cast<uint64_t>(rss_delta >= 0 ? rss_delta : -rss_delta)) +
           " (weights would need " + binary_size(a.counts.weight_bytes) + ")\n";
    return out;
}

// The load options of the command line; a usage problem comes back as its message.
std::optional<std::string> read_load_options(const command_line& cl, lt::load_options& options,
                                             uint64_t& repeat) {
    if (cl.device && cl.device_map) return std::string("give --device or --device-map, not both");
    if (cl.device) options.device = *cl.device;
    options.mmap = cl.mmap;
    options.direct = cl.direct;
    if (cl.direct && cl.mmap)
        return std::string("--direct reads past the page cache and --mmap maps it: choose one");
    uint64_t threads = 0;
    if (auto e = read_number(cl.threads, "--threads", 1, 256, "a number from 1 to 256", threads)) return e;
    if (threads) options.threads = static_cast<unsigned>(threads);
    options.prefault = cl.prefault;
    if (cl.cpu_alloc) {
        if (*cl.cpu_alloc == "huge")
            options.cpu_alloc = lt::cpu_alloc_kind::huge;
        else if (*cl.cpu_alloc == "plain")
            options.cpu_alloc = lt::cpu_alloc_kind::plain;
        else if (*cl.cpu_alloc == "arena")
            options.cpu_alloc = lt::cpu_alloc_kind::arena;
        else
            return "--cpu-alloc: expected huge, plain or arena, got " + quote_value(*cl.cpu_alloc);
    }
    if (cl.chunk) {
        auto n = parse_size(*cl.chunk);
        if (!n) return "--chunk: cannot read \"" + *cl.chunk + "\" as a size (e.g. 16MiB)";
        if (*n < (64u << 10) || *n > (1ull << 32))
            return std::string("--chunk must be between 64KiB and 4GiB");
        options.chunk_bytes = *n;
    }
    return read_number(cl.repeat, "--repeat", 1, 100, "a number from 1 to 100", repeat);
}

// A device map names each module once: 64 MiB is thousands of times DeepSeek-V3's.
constexpr uint64_t max_device_map_bytes = 64ull << 20;

// --device-map FILE or auto: the device of every parameter, and the warnings of the map.
result<lt::mapped_devices> read_device_map(const analysis& a, const lt::checkpoint_source& src,
                                           const std::string& arg) {
    device_map map;
    if (arg == "auto") {
        auto planned = lt::auto_device_map(a, src);
        if (!planned) return make_error(planned.err().code, "--device-map auto: " + planned.err().message);
        map = std::move(*planned);
    } else {
        auto text = read_text_file(arg, max_device_map_bytes, "a device map");
        if (!text) return text.err();
        auto parsed = parse_device_map(*text);
        if (!parsed) return make_error(parsed.err().code, arg + ": " + parsed.err().message);
        map = std::move(*parsed);
    }
    auto assigned = lt::devices_for_map(a, map);
    if (!assigned) return make_error(assigned.err().code, "--device-map: " + assigned.err().message);
    return assigned;
}

// Bytes, rate and time left on stderr, rewritten in place.
std::function<void(uint64_t, uint64_t)> progress_line(std::chrono::steady_clock::time_point start) {
    return [start](uint64_t done, uint64_t total) {
        double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        double rate = s > 0 ? static_cast<double>(done) / s : 0;
        double left = rate > 0 ? static_cast<double>(total - done) / rate : 0;
        std::fprintf(stderr, "\r  %s / %s  %s/s  %s s left   ", binary_size(done).c_str(),
                     binary_size(total).c_str(), binary_size(static_cast<uint64_t>(rate)).c_str(),
                     fixed(left, 1).c_str());
        std::fflush(stderr);
    };
}

int load_failed(const error& e) {
    return fail(e.message, e.code == error_code::bad_request ? exit_bad_input : exit_failed);
}

double gb_per_s(const lt::load_report& r) {
    return r.seconds > 0 ? static_cast<double>(r.bytes) / 1e9 / r.seconds : 0;
}

std::string render_load(const analysis& a, const std::string& path, const lt::checkpoint_source& src,
                        const lt::load_report& r) {
    std::string out = a.model + " from " + path + " (" + src.kind + ")\n";
    out += "  loaded " + with_thousands(r.tensors) + " tensors, " + binary_size(r.bytes) + " in " +
           fixed(r.seconds, 3) + " s (" + fixed(gb_per_s(r), 2) + " GB/s), " + std::to_string(r.threads) +
           " threads" +
           (r.mmap ? ", " + std::to_string(r.tensors_aliased) + " aliasing the mapped files" : "") + "\n";
    for (const auto& [name, d] : r.devices)
        out += "  " + name + ": " + with_thousands(d.tensors) + " tensors, " + binary_size(d.bytes) +
               (name == "disk" || name == "meta" ? " (left on meta)" : "") + "\n";
    out += "  peak resident memory " + binary_size(r.peak_rss_bytes) + " (" +
           binary_size(r.rss_before_bytes) + " before the load, destination tensors " +
           binary_size(r.dest_bytes) + ")\n";
    return out;
}

// ---- load in a group -----------------------------------------------------------------------------------

struct group_request {
    group_counts counts;
    lt::distributed_options options;
};

std::optional<std::string> read_group_options(const command_line& cl, const lt::load_options& load,
                                              group_request& g) {
    if (auto e = read_group_counts(cl, g.counts)) return e;
    g.options.timeout = std::chrono::seconds(g.counts.timeout_seconds);
    g.options.tp = g.counts.tp;
    g.options.pp = g.counts.pp;
    g.options.read_once = cl.read_once;
    g.options.checksums = cl.checksums;
    g.options.load = load;
    if (!cl.device) g.options.load.device = "auto";
    if (cl.min_run) {
        auto n = parse_size(*cl.min_run);
        if (!n || *n > (64u << 20))
            return "--min-run: expected a size up to 64MiB, got \"" + *cl.min_run + "\"";
        g.options.load.min_run_bytes = *n;
    }
    return std::nullopt;
}

std::string render_rank(const lt::rank_report& r) {
    const auto& l = r.load;
    std::string out = "rank " + std::to_string(r.rank) + " of " + std::to_string(r.world_size) +
                      " (tp rank " + std::to_string(r.tp_rank) + ", stage " + std::to_string(r.stage) +
                      ") on " + r.device + ": " + with_thousands(r.held_tensors) + " tensors (" +
                      with_thousands(r.replicated_tensors) + " whole), " + binary_size(l.bytes) + " in " +
                      fixed(l.seconds, 3) + " s (" + fixed(gb_per_s(l), 2) + " GB/s)\n";
    out += "  read " + binary_size(l.bytes_read) + " in " + with_thousands(l.reads) +
           " reads (/proc/self/io: " + binary_size(r.proc_rchar_bytes) + " read calls, " +
           binary_size(r.proc_read_bytes) + " from storage)";
    if (r.broadcast_tensors)
        out += "; " + with_thousands(r.broadcast_tensors) + " tensors, " + binary_size(r.broadcast_bytes) +
               " by " + r.backend + " broadcast";
    out += "\n  " + fixed(r.seconds, 3) + " s with the agreement; peak resident memory " +
           binary_size(r.peak_rss_bytes) + "\n";
    for (const auto& t : r.tensors) {
        std::string shape;
        for (size_t d = 0; d < t.shape.size(); ++d) shape += (d ? "x" : "") + std::to_string(t.shape[d]);
        char crc[16];
        std::snprintf(crc, sizeof crc, "%08x", t.crc32);
        out += "  " + t.name + "  " + shape + "  " + t.dtype + "  crc32 " + crc + "\n";
    }
    return out;
}

int run_group_rank(const command_line& cl, const group_request& g, const config_options& config) {
    lt::group_member me;
    if (std::getenv("WORLD_SIZE")) {
        auto env = lt::member_from_environment();
        if (!env) return fail(env.err().message, exit_bad_input);
        me = *env;
    } else if (g.counts.tp * g.counts.pp == 1) {
        auto port = free_local_port(); // a group of one, on its own
        if (!port) return fail(port.err().message);
        me.master_port = static_cast<uint16_t>(*port);
    } else {
        return usage_error(
            "--tp " + std::to_string(g.counts.tp) + " --pp " + std::to_string(g.counts.pp) + " needs " +
                std::to_string(g.counts.tp * g.counts.pp) +
                " ranks: start them with a launcher that sets RANK, WORLD_SIZE, MASTER_ADDR and "
                "MASTER_PORT (torchrun --no-python), or add --nproc " +
                std::to_string(g.counts.tp * g.counts.pp) + " to start them here",
            "load");
    }
    auto loaded = lt::load_rank(*cl.operand, cl.config, config, me, g.options);
    if (!loaded) return load_failed(loaded.err());
    for (const auto& w : loaded->report.load.warnings)
        std::fprintf(stderr, "modelplan: rank %d: warning: %s\n", me.rank, w.c_str());
    print(cl.json ? lt::rank_json(loaded->report) + "\n" : render_rank(loaded->report));
    return exit_ok;
}

} // namespace

int run_instantiate(const command_line& cl) {
    auto config = read_config_options(cl);
    if (!config) return fail(config.err().message);
    uint64_t depth = 6;
    if (auto e = read_number(cl.depth, "--depth", 1, 999'999'999, "a positive number", depth))
        return usage_error(*e, "instantiate");
    auto a = lt::analyze_model(cl.operand ? *cl.operand : default_preset().name, *config);
    if (!a) return fail(a.err().message);

    uint64_t rss0 = lt::rss_bytes();
    auto t0 = std::chrono::steady_clock::now();
    auto m = lt::instantiate_meta(a->sk, a->spec.architecture);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    uint64_t rss1 = lt::rss_bytes();
    if (!m) return fail(m.err().message);
    int64_t delta = static_cast<int64_t>(rss1) - static_cast<int64_t>(rss0);
    uint64_t core = a->counts.total + a->counts.mtp;
    print(cl.json ? instantiate_json(*a, *m, core, seconds, delta)
                  : render_instantiate(*a, *m, static_cast<int>(depth), core, seconds, delta));
    return m->parameter_count() == core ? exit_ok : exit_failed;
}

int run_load(const command_line& cl) {
    if (!cl.operand) return usage_error("load needs a checkpoint PATH", "load");
    const std::string& path = *cl.operand;
    lt::load_options options;
    uint64_t repeat = 1;
    if (auto problem = read_load_options(cl, options, repeat)) return usage_error(*problem, "load");
    auto config = read_config_options(cl);
    if (!config) return fail(config.err().message);
    if (wants_group(cl)) {
        group_request g;
        if (auto problem = read_group_options(cl, options, g)) return usage_error(*problem, "load");
        if (!g.counts.nproc) return run_group_rank(cl, g, *config);
        auto self = torch_program();
        if (!self) return fail("cannot find this program's path (/proc/self/exe) to start the ranks");
        return run_nproc(cl, g.counts, *self);
    }

    auto src = lt::open_checkpoint(path);
    if (!src) return fail(src.err().message);
    std::optional<std::string> model = cl.config ? cl.config : src->folder_config;
    if (!model)
        return fail(path + ": no config.json beside the checkpoint; name the model with --config MODEL");
    auto a = lt::analyze_model(*model, *config);
    if (!a) return fail(a.err().message);
    // A quantized checkpoint loads as stored: its groups' stored tensors in place of their logical weights.
    auto stored = lt::stored_skeleton(a->sk, *src);
    if (!stored) return load_failed(stored.err());
    if (stored->groups) a->sk = std::move(stored->sk);
    auto m = lt::instantiate_meta(a->sk, a->spec.architecture);
    if (!m) return fail(m.err().message);
    std::vector<std::string> map_warnings;
    if (cl.device_map) {
        auto assigned = read_device_map(*a, *src, *cl.device_map);
        if (!assigned) return fail(assigned.err().message);
        options.tensor_devices = std::move(assigned->devices);
        map_warnings = std::move(assigned->warnings);
    }

    bool show_progress = !cl.json && ::isatty(STDERR_FILENO);
    if (show_progress) options.progress = progress_line(std::chrono::steady_clock::now());
    // The earlier passes' lines (JSON: one object per line) are held until the last pass has succeeded: on a
    // failure nothing reaches stdout.
    std::string earlier;
    for (uint64_t pass = 1; pass < repeat; ++pass) {
        auto r = lt::load_weights(*m, a->sk, *src, options);
        if (show_progress) std::fprintf(stderr, "\n");
        if (!r) return load_failed(r.err());
        if (cl.json)
            earlier += lt::load_json(*r);
        else
            earlier += "pass " + std::to_string(pass) + ": " + fixed(r->seconds, 3) + " s (" +
                       fixed(gb_per_s(*r), 2) + " GB/s), " + with_thousands(r->tensors_reused) +
                       " tensors filled in place\n";
    }
    auto r = lt::load_weights(*m, a->sk, *src, options);
    if (show_progress) std::fprintf(stderr, "\n");
    if (!r) return load_failed(r.err());
    r->warnings.insert(r->warnings.begin(), map_warnings.begin(), map_warnings.end());
    if (stored->groups)
        r->warnings.insert(r->warnings.begin(),
                           std::to_string(stored->groups) + " quantized weight(s) loaded as stored (" +
                               stored->schemes +
                               "): their packed tensors, scales and zero points, not dequantized");
    for (const auto& w : r->warnings) std::fprintf(stderr, "modelplan: warning: %s\n", w.c_str());
    print(earlier + (cl.json ? lt::load_json(*r) : render_load(*a, path, *src, *r)));
    return exit_ok;
}

} // namespace modelplan::cli
