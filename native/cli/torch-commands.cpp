// `modelplan instantiate MODEL` and `modelplan load PATH` (commands.h, docs/loading.md).
#include "torch-commands.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>

#include "modelplan/device-map.h"
#include "modelplan/libtorch/load.h"
#include "modelplan/libtorch/meta.h"
#include "modelplan/placement.h"
#include "modelplan/presets.h"
#include "modelplan/text.h"

namespace modelplan::cli {

namespace {

namespace lt = modelplan::libtorch;

constexpr int exit_ok = 0;
constexpr int exit_load_failed = 1;
constexpr int exit_bad_input = 2;

const char* instantiate_help = R"(usage: modelplan instantiate [MODEL] [--dtype DTYPE] [--head HEAD] [--depth N] [--json]

Builds MODEL as a LibTorch module tree on the meta device (no weight memory): one module per dotted name
prefix, parameters registered directly with the skeleton's names, shapes and dtypes, tied weights as one
tensor. Prints the tree (repeated layers and experts collapsed), the parameter count next to the core's,
the time taken and the resident memory it cost.

options:
  --dtype DTYPE  weight dtype (bf16, fp16, fp32, ...); default: the config's torch_dtype
  --head HEAD    the head instead of the class in "architectures"
  --depth N      levels of the tree to print (default 6)
  --json         {"model", "architecture", "tensors", "parameters", "core_parameters", "modules",
                 "aliases", "buffers", "seconds", "rss_delta_bytes"}
  -h, --help     show this help
)";

const char* load_help = R"(usage: modelplan load PATH [--config MODEL] [--device DEV] [--device-map FILE|auto] [--dtype DTYPE]
                      [--threads N] [--mmap] [--chunk SIZE] [--json]

Loads a safetensors checkpoint (a file, a model.safetensors.index.json with its shards, or a folder) into
LibTorch tensors. The checkpoint is verified against the model's skeleton first, from headers alone;
nothing is allocated when that fails. Then every parameter is created on its device and filled: on the
CPU by several threads reading straight into the tensors' memory; on CUDA through pinned staging buffers
and asynchronous copies, converting dtypes on the device (docs/loading.md).

options:
  --config MODEL        config.json, a folder holding one, or a preset name (default: PATH's config.json)
  --device DEV          cpu, cuda, cuda:N or auto (cuda:0 when CUDA is available, else cpu); default cpu
  --device-map FILE     transformers' device_map JSON (module -> GPU index, "cpu" or "disk"); "disk"
                        parameters stay on meta, and so do multi-token-prediction layers (DeepSeek-V3's
                        model.layers.61) that no entry covers, with a warning. `auto` plans one with the
                        placement planner for the devices present (CUDA GPUs' free memory, the CPU's
                        available memory), multi-token-prediction layers included when the checkpoint
                        stores them.
  --dtype DTYPE         the dtype parameters get (bf16, fp16, fp32, ...); default: the config's
  --threads N           reader threads (default: cores, at most 8)
  --mmap                CPU: tensors whose dtype matches alias a private mapping of the file (no read)
  --chunk SIZE          unit of work and CUDA staging buffer size (default 16MiB)
  --repeat N            load N times into the same tensors (passes after the first fill in place: the
                        copy without the cost of fresh memory); with --json one line per pass
  --json                print {"tensors", "bytes", "seconds", "gb_per_s", "peak_rss_bytes", "devices", ...}
  -h, --help            show this help

Progress (bytes, rate, time left) goes to stderr when it is a terminal.
exit status: 0 loaded, 1 verification or loading failed, 2 bad input or usage.
)";

int fail(const std::string& message, int status = exit_bad_input) {
    std::fprintf(stderr, "modelplan: error: %s\n", message.c_str());
    return status;
}

int usage_error(const std::string& message, const std::string& command) {
    std::fprintf(stderr, "modelplan: error: %s\nTry 'modelplan %s --help'.\n", message.c_str(), command.c_str());
    return exit_bad_input;
}

void print(const std::string& text) { std::fwrite(text.data(), 1, text.size(), stdout); }

std::string fixed(double x, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, x);
    return buf;
}

// `--name VALUE` or `--name=VALUE`.
bool take(const std::vector<std::string>& args, size_t& i, const std::string& name, std::optional<std::string>& out) {
    const std::string& a = args[i];
    if (a.rfind(name + "=", 0) == 0) {
        out = a.substr(name.size() + 1);
        return true;
    }
    if (a != name) return false;
    if (i + 1 >= args.size()) throw std::invalid_argument(name + " needs a value");
    out = args[++i];
    return true;
}

std::optional<uint64_t> parse_count(const std::string& s) {
    if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    return std::stoull(s);
}

uint64_t meminfo_available() {
    std::ifstream in("/proc/meminfo");
    std::string key;
    uint64_t kib = 0;
    std::string unit;
    while (in >> key >> kib >> unit)
        if (key == "MemAvailable:") return kib * 1024;
    return 0;
}

} // namespace

int run_instantiate(const std::vector<std::string>& args) {
    std::optional<std::string> model, dtype_text, head_text, depth_text;
    bool json = false;
    try {
        for (size_t i = 1; i < args.size(); ++i) {
            const std::string& a = args[i];
            if (a == "-h" || a == "--help") {
                print(instantiate_help);
                return exit_ok;
            }
            if (a == "--json")
                json = true;
            else if (take(args, i, "--dtype", dtype_text) || take(args, i, "--head", head_text) ||
                     take(args, i, "--depth", depth_text))
                continue;
            else if (!a.empty() && a[0] == '-')
                return usage_error("unknown option " + a, "instantiate");
            else if (model)
                return usage_error("more than one MODEL given (" + *model + ", " + a + ")", "instantiate");
            else
                model = a;
        }
    } catch (const std::invalid_argument& e) {
        return usage_error(e.what(), "instantiate");
    }
    config_options config;
    if (dtype_text) {
        auto t = parse_dtype(*dtype_text, "--dtype");
        if (!t) return fail(t.err().message);
        config.weight_dtype = *t;
    }
    if (head_text) {
        config.head = parse_head_kind(*head_text);
        if (!config.head) return fail("--head: unknown head \"" + *head_text + "\"");
    }
    int depth = 6;
    if (depth_text) {
        auto d = parse_count(*depth_text);
        if (!d || *d == 0) return usage_error("--depth needs a positive number, got \"" + *depth_text + "\"", "instantiate");
        depth = static_cast<int>(*d);
    }
    auto a = lt::analyze_model(model ? *model : default_preset().name, config);
    if (!a) return fail(a.err().message);

    uint64_t rss0 = lt::rss_bytes();
    auto t0 = std::chrono::steady_clock::now();
    auto m = lt::instantiate_meta(a->sk, a->spec.architecture);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    uint64_t rss1 = lt::rss_bytes();
    if (!m) return fail(m.err().message);
    int64_t delta = static_cast<int64_t>(rss1) - static_cast<int64_t>(rss0);
    uint64_t count = m->parameter_count();
    uint64_t core = a->counts.total + a->counts.mtp;
    if (json) {
        print("{\"model\": \"" + a->model + "\", \"architecture\": \"" + a->spec.architecture +
              "\", \"tensors\": " + std::to_string(m->params.size()) + ", \"parameters\": " + std::to_string(count) +
              ", \"core_parameters\": " + std::to_string(core) + ", \"modules\": " + std::to_string(m->modules) +
              ", \"aliases\": " + std::to_string(m->aliases.size()) + ", \"buffers\": " +
              std::to_string(m->buffers.size()) + ", \"seconds\": " + fixed(seconds, 6) +
              ", \"rss_delta_bytes\": " + std::to_string(delta) + "}\n");
    } else {
        print(lt::tree_summary(*m, depth));
        print("\n" + with_thousands(m->params.size()) + " parameter tensors, " + with_thousands(count) +
              " parameters on meta (core count" +
              (a->counts.mtp ? " with the multi-token-prediction layers, " + with_thousands(a->counts.total) + " + " +
                                   with_thousands(a->counts.mtp)
                             : std::string()) +
              ": " + with_thousands(core) + (count == core ? ", equal" : ", DIFFERENT") + "), " + with_thousands(m->modules) + " modules\n");
        print("built in " + fixed(seconds * 1000, 1) + " ms; resident memory " + (delta >= 0 ? "+" : "-") +
              binary_size(static_cast<uint64_t>(delta >= 0 ? delta : -delta)) + " (weights would need " +
              binary_size(a->counts.weight_bytes) + ")\n");
    }
    return count == core ? exit_ok : exit_load_failed;
}

int run_load(const std::vector<std::string>& args) {
    std::optional<std::string> path, config_arg, device, device_map_arg, dtype_text, threads_text, chunk_text,
        repeat_text;
    bool json = false, use_mmap = false;
    try {
        for (size_t i = 1; i < args.size(); ++i) {
            const std::string& a = args[i];
            if (a == "-h" || a == "--help") {
                print(load_help);
                return exit_ok;
            }
            if (a == "--json")
                json = true;
            else if (a == "--mmap")
                use_mmap = true;
            else if (take(args, i, "--config", config_arg) || take(args, i, "--device", device) ||
                     take(args, i, "--device-map", device_map_arg) || take(args, i, "--dtype", dtype_text) ||
                     take(args, i, "--threads", threads_text) || take(args, i, "--chunk", chunk_text) ||
                     take(args, i, "--repeat", repeat_text))
                continue;
            else if (!a.empty() && a[0] == '-')
                return usage_error("unknown option " + a, "load");
            else if (path)
                return usage_error("more than one PATH given (" + *path + ", " + a + ")", "load");
            else
                path = a;
        }
    } catch (const std::invalid_argument& e) {
        return usage_error(e.what(), "load");
    }
    if (!path) return usage_error("load needs a checkpoint PATH", "load");
    if (device && device_map_arg) return usage_error("give --device or --device-map, not both", "load");

    lt::load_options options;
    if (device) options.device = *device;
    options.mmap = use_mmap;
    if (threads_text) {
        auto n = parse_count(*threads_text);
        if (!n || *n == 0 || *n > 256)
            return usage_error("--threads needs a number from 1 to 256, got \"" + *threads_text + "\"", "load");
        options.threads = static_cast<unsigned>(*n);
    }
    if (chunk_text) {
        auto n = parse_size(*chunk_text);
        if (!n) return usage_error("--chunk: cannot read \"" + *chunk_text + "\" as a size (e.g. 16MiB)", "load");
        if (*n < (64u << 10) || *n > (1ull << 32))
            return usage_error("--chunk must be between 64KiB and 4GiB", "load");
        options.chunk_bytes = *n;
    }
    uint64_t repeat = 1;
    if (repeat_text) {
        auto n = parse_count(*repeat_text);
        if (!n || *n == 0 || *n > 100)
            return usage_error("--repeat needs a number from 1 to 100, got \"" + *repeat_text + "\"", "load");
        repeat = *n;
    }
    config_options config;
    if (dtype_text) {
        auto t = parse_dtype(*dtype_text, "--dtype");
        if (!t) return fail(t.err().message);
        config.weight_dtype = *t;
    }

    auto src = lt::open_checkpoint(*path);
    if (!src) return fail(src.err().message);
    std::string model_arg;
    if (config_arg)
        model_arg = *config_arg;
    else if (src->folder_config)
        model_arg = *src->folder_config;
    else
        return fail(*path + ": no config.json beside the checkpoint; name the model with --config MODEL");
    auto a = lt::analyze_model(model_arg, config);
    if (!a) return fail(a.err().message);
    auto m = lt::instantiate_meta(a->sk, a->spec.architecture);
    if (!m) return fail(m.err().message);

    std::vector<std::string> map_warnings;
    if (device_map_arg) {
        device_map map;
        if (*device_map_arg == "auto") {
            std::vector<device_budget> devices;
            for (int i = 0; i < lt::cuda_device_count(); ++i)
                devices.push_back({"cuda:" + std::to_string(i), device_kind::gpu, lt::cuda_free_bytes(i), ""});
            devices.push_back({"cpu", device_kind::cpu, meminfo_available(), ""});
            devices.push_back({"disk", device_kind::disk, UINT64_MAX, ""});
            workload w;
            if (devices.size() == 2) w.overhead_bytes = 0; // no GPU: no CUDA context to pay for
            // Multi-token-prediction layers (DeepSeek-V3's model.layers.61) are planned, and loaded, when the
            // checkpoint stores them (the planner leaves them out otherwise).
            w.include_mtp = lt::stores_mtp_layers(*a, *src);
            auto placed = place_model(*a, w, devices, place_options{});
            if (!placed) return fail("--device-map auto: " + placed.err().message);
            map = placed->map;
        } else {
            std::ifstream in(*device_map_arg, std::ios::binary);
            if (!in) return fail(*device_map_arg + ": cannot open the device map");
            std::ostringstream text;
            text << in.rdbuf();
            auto parsed = parse_device_map(text.str());
            if (!parsed) return fail(*device_map_arg + ": " + parsed.err().message);
            map = std::move(*parsed);
        }
        auto assigned = lt::devices_for_map(*a, map);
        if (!assigned) return fail("--device-map: " + assigned.err().message);
        options.tensor_devices = std::move(assigned->devices);
        map_warnings = std::move(assigned->warnings);
    }

    bool show_progress = !json && ::isatty(STDERR_FILENO);
    auto start = std::chrono::steady_clock::now();
    if (show_progress)
        options.progress = [start](uint64_t done, uint64_t total) {
            double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            double rate = s > 0 ? static_cast<double>(done) / s : 0;
            double left = rate > 0 ? static_cast<double>(total - done) / rate : 0;
            std::fprintf(stderr, "\r  %s / %s  %s/s  %s s left   ", binary_size(done).c_str(),
                         binary_size(total).c_str(), binary_size(static_cast<uint64_t>(rate)).c_str(),
                         fixed(left, 1).c_str());
            std::fflush(stderr);
        };
    for (uint64_t pass = 1; pass < repeat; ++pass) {
        auto r = lt::load_weights(*m, a->sk, *src, options);
        if (show_progress) std::fprintf(stderr, "\n");
        if (!r) return fail(r.err().message, r.err().code == error_code::bad_request ? exit_bad_input : exit_load_failed);
        double gbps = r->seconds > 0 ? static_cast<double>(r->bytes) / 1e9 / r->seconds : 0;
        if (json)
            print(lt::load_json(*r));
        else
            print("pass " + std::to_string(pass) + ": " + fixed(r->seconds, 3) + " s (" + fixed(gbps, 2) + " GB/s), " +
                  with_thousands(r->tensors_reused) + " tensors filled in place\n");
    }
    auto r = lt::load_weights(*m, a->sk, *src, options);
    if (show_progress) std::fprintf(stderr, "\n");
    if (!r) return fail(r.err().message, r.err().code == error_code::bad_request ? exit_bad_input : exit_load_failed);
    r->warnings.insert(r->warnings.begin(), map_warnings.begin(), map_warnings.end());
    for (const auto& w : r->warnings) std::fprintf(stderr, "modelplan: warning: %s\n", w.c_str());
    if (json) {
        print(lt::load_json(*r));
        return exit_ok;
    }
    double gbps = r->seconds > 0 ? static_cast<double>(r->bytes) / 1e9 / r->seconds : 0;
    std::string out = a->model + " from " + *path + " (" + src->kind + ")\n";
    out += "  loaded " + with_thousands(r->tensors) + " tensors, " + binary_size(r->bytes) + " in " +
           fixed(r->seconds, 3) + " s (" + fixed(gbps, 2) + " GB/s), " + std::to_string(r->threads) + " threads" +
           (r->mmap ? ", " + std::to_string(r->tensors_aliased) + " aliasing the mapped files" : "") + "\n";
    for (const auto& [name, d] : r->devices)
        out += "  " + name + ": " + with_thousands(d.tensors) + " tensors, " + binary_size(d.bytes) +
               (name == "disk" || name == "meta" ? " (left on meta)" : "") + "\n";
    out += "  peak resident memory " + binary_size(r->peak_rss_bytes) + " (" + binary_size(r->rss_before_bytes) +
           " before the load, destination tensors " + binary_size(r->dest_bytes) + ")\n";
    print(out);
    return exit_ok;
}

} // namespace modelplan::cli
