// `modelplan load --nproc N`'s launcher (launch.h).
#include "launch.h"

#include "command-line.h"
#include "modelplan/text.h"
#include "output.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

namespace modelplan::cli {

result<int> free_local_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return make_error(error_code::io, std::string("cannot open a socket: ") + std::strerror(errno));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        std::string why = std::strerror(errno);
        ::close(fd);
        return make_error(error_code::io, "cannot find a free port on 127.0.0.1: " + why);
    }
    ::close(fd);
    return static_cast<int>(ntohs(addr.sin_port));
}

namespace {

struct child {
    pid_t pid = -1;
    int out = -1; // read end of its stdout
    bool running = true;
    rank_output result;
};

// The child's side of fork(): stdout to the pipe, then exec. Only async-signal-safe calls (everything it
// needs was prepared before the fork).
[[noreturn]] void exec_rank(const std::string& program, const std::vector<char*>& argv,
                            const std::vector<char*>& envp, int write_end) {
    ::dup2(write_end, STDOUT_FILENO);
    ::execve(program.c_str(), argv.data(), envp.data());
    const char msg[] = "modelplan: cannot start a rank (exec failed)\n";
    ssize_t ignored = ::write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)ignored;
    ::_exit(127);
}

} // namespace

result<std::vector<rank_output>> run_local_ranks(const std::string& program,
                                                 const std::vector<std::string>& args, int n, int port,
                                                 std::chrono::steady_clock::duration grace) {
    std::optional<std::chrono::steady_clock::time_point> end; // set when the first rank fails
    std::vector<std::string> argv_text{program};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);

    std::vector<child> children(static_cast<size_t>(n));
    auto kill_all = [&]() {
        for (auto& c : children)
            if (c.pid > 0 && c.running) ::kill(c.pid, SIGKILL);
    };
    for (int r = 0; r < n; ++r) {
        // Environment strings prepared before fork(): the child only calls putenv and exec.
        std::vector<std::string> env = {"RANK=" + std::to_string(r), "LOCAL_RANK=" + std::to_string(r),
                                        "WORLD_SIZE=" + std::to_string(n), "MASTER_ADDR=127.0.0.1",
                                        "MASTER_PORT=" + std::to_string(port)};
        for (char** e = environ; *e; ++e) {
            std::string v = *e;
            std::string name = v.substr(0, v.find('='));
            if (name != "RANK" && name != "LOCAL_RANK" && name != "WORLD_SIZE" && name != "MASTER_ADDR" &&
                name != "MASTER_PORT")
                env.push_back(v);
        }
        std::vector<char*> envp;
        for (auto& e : env) envp.push_back(e.data());
        envp.push_back(nullptr);
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) {
            kill_all();
            return make_error(error_code::io, std::string("cannot start rank ") + std::to_string(r) + ": " +
                                                  std::strerror(errno));
        }
        pid_t pid = ::fork();
        if (pid < 0) {
            ::close(fds[0]);
            ::close(fds[1]);
            kill_all();
            return make_error(error_code::io,
                              "cannot start rank " + std::to_string(r) + ": " + std::strerror(errno));
        }
        if (pid == 0) exec_rank(program, argv, envp, fds[1]);
        ::close(fds[1]);
        children[static_cast<size_t>(r)].pid = pid;
        children[static_cast<size_t>(r)].out = fds[0];
    }

    // Read every stdout until it closes, and reap; kill whatever is left at the deadline.
    bool killed = false;
    for (;;) {
        std::vector<pollfd> fds;
        std::vector<size_t> who;
        for (size_t i = 0; i < children.size(); ++i)
            if (children[i].out >= 0) {
                fds.push_back({children[i].out, POLLIN, 0});
                who.push_back(i);
            }
        bool any_running = false;
        for (auto& c : children) {
            if (!c.running) continue;
            int status = 0;
            pid_t done = ::waitpid(c.pid, &status, WNOHANG);
            if (done == c.pid) {
                c.running = false;
                c.result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                if (c.result.status != 0 && !end) end = std::chrono::steady_clock::now() + grace;
            } else {
                any_running = true;
            }
        }
        if (fds.empty() && !any_running) break;
        if (!killed && end && std::chrono::steady_clock::now() >= *end) {
            for (auto& c : children)
                if (c.running) c.result.killed = true;
            kill_all();
            killed = true;
        }
        if (fds.empty()) {
            ::usleep(10000);
            continue;
        }
        int ready = ::poll(fds.data(), fds.size(), 50);
        if (ready < 0 && errno != EINTR) break;
        for (size_t k = 0; k < fds.size(); ++k) {
            if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            child& c = children[who[k]];
            char buf[65536];
            ssize_t got = ::read(c.out, buf, sizeof buf);
            if (got > 0 && c.result.out.size() < (64u << 20))
                c.result.out.append(buf, static_cast<size_t>(got));
            if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN)) {
                ::close(c.out);
                c.out = -1;
            }
        }
    }
    std::vector<rank_output> out;
    for (auto& c : children) {
        if (c.out >= 0) ::close(c.out);
        out.push_back(std::move(c.result));
    }
    return out;
}

// ---- `load` and `instantiate` in front of LibTorch --------------------------------------------------------

const char* const instantiate_help =
    R"(usage: modelplan instantiate [MODEL] [--dtype DTYPE] [--head HEAD] [--depth N] [--json]

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

const char* const load_help =
    R"(usage: modelplan load PATH [--config MODEL] [--device DEV] [--device-map FILE|auto] [--dtype DTYPE]
                      [--threads N] [--mmap | --direct] [--chunk SIZE] [--cpu-alloc KIND]
                      [--prefault] [--json]
       modelplan load PATH --tp T [--pp P] [--nproc N] [--read-once] [--checksums] [--timeout S] [--json]

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
  --direct              read with O_DIRECT through aligned buffers, past the page cache (cold loads from
                        NVMe); where the file system refuses it, through the page cache with a warning
  --chunk SIZE          unit of work and CUDA staging buffer size (default 16MiB)
  --repeat N            load N times into the same tensors (passes after the first fill in place: the
                        copy without the cost of fresh memory); with --json one line per pass
  --cpu-alloc KIND      CPU destinations' memory: huge (default: tensors of 4MiB or more in their own
                        mappings, advised for transparent huge pages), plain (LibTorch's allocator) or
                        arena (one mapping for all, advised for huge pages); bench/load-bench.sh compares
  --prefault            fault the CPU destinations' pages in, on the reader threads, before the reads
  --json                print {"tensors", "bytes", "seconds", "gb_per_s", "peak_rss_bytes", "devices", ...}
  -h, --help            show this help

tensor- and pipeline-parallel groups (docs/loading.md#distributed-loading):
  --tp T, --pp P        load as one rank of a T x P group started by a launcher that sets RANK, WORLD_SIZE,
                        LOCAL_RANK, MASTER_ADDR and MASTER_PORT (torchrun --no-python is one): the rank reads
                        only its slice of each tensor, as `modelplan place --tp` splits it, into rank-shaped
                        tensors; tensors of other pipeline stages stay on meta. The ranks meet through c10d's
                        TCPStore and agree on the config, the checkpoint and the plan before any large read.
  --nproc N             start the N = T x P ranks on this machine (127.0.0.1, a free port) and print their
                        answers together; --tp defaults to N / P
  --read-once           tensors every rank of a stage holds whole are read by one rank each and broadcast
                        (Gloo on CPU, NCCL on CUDA) instead of read by every rank
  --checksums           add every held tensor's rank shape, dtype and CRC-32 (zlib's, of its bytes)
  --timeout S           seconds any rank waits for the others at each step (default 60): a rank that died,
                        or never came, ends every rank with an error naming it
  --min-run SIZE        splits along a later axis read one run per row; runs shorter than SIZE are read
                        with their neighbours in reads of up to 4MiB (default 0: one read per run)
  --device DEV          cpu, or cuda / auto: each rank on cuda:LOCAL_RANK
  --json                with --nproc {"ranks": [...], "seconds"}; one rank alone its own object: {"rank",
                        "world_size", "tp_rank", "stage", "tensors": [{"name", "shape", "dtype", "crc32"}],
                        "bytes", "bytes_read", "proc_rchar_bytes", "seconds", "peak_rss_bytes", ...}

Progress (bytes, rate, time left) goes to stderr when it is a terminal.
exit status: 0 loaded, 1 verification or loading failed (on any rank), 2 bad input or usage.
)";

namespace {

// The arguments again, without --nproc, with --tp when it was implied.
std::vector<std::string> rank_args(const command_line& cl, const group_counts& g) {
    std::vector<std::string> out{cl.command};
    for (size_t i = 0; i < cl.args.size(); ++i) {
        const std::string& a = cl.args[i];
        if (a == "--nproc") {
            ++i;
            continue;
        }
        if (a.rfind("--nproc=", 0) == 0) continue;
        out.push_back(a);
    }
    if (!cl.tp) {
        out.push_back("--tp");
        out.push_back(std::to_string(g.tp));
    }
    return out;
}

} // namespace

int run_nproc(const command_line& cl, const group_counts& g, const std::string& program) {
    auto port = free_local_port();
    if (!port) return fail(port.err().message, exit_failed);
    auto t0 = std::chrono::steady_clock::now();
    auto grace = std::chrono::seconds(g.timeout_seconds * 3 + 10);
    auto outputs = run_local_ranks(program, rank_args(cl, g), static_cast<int>(g.nproc), *port, grace);
    if (!outputs) return fail(outputs.err().message, exit_failed);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::string failed;
    int status = exit_ok;
    for (size_t r = 0; r < outputs->size(); ++r) {
        const auto& o = (*outputs)[r];
        if (o.status == 0) continue;
        failed += (failed.empty() ? "" : ", ") + std::to_string(r) + " (" +
                  (o.killed ? std::string("killed after the others had failed")
                            : "exit " + std::to_string(o.status)) +
                  ")";
        if (status == exit_ok) status = o.status == exit_bad_input ? exit_bad_input : exit_failed;
    }
    if (status != exit_ok)
        return fail("load --nproc " + std::to_string(g.nproc) + ": rank(s) " + failed +
                        " failed; nothing was loaded (the ranks' messages are above)",
                    status);
    std::string out;
    if (cl.json) {
        out = "{\"ranks\": [";
        for (size_t r = 0; r < outputs->size(); ++r) {
            std::string line = (*outputs)[r].out;
            while (!line.empty() && line.back() == '\n') line.pop_back();
            out += (r ? ", " : "") + line;
        }
        out += "], \"seconds\": " + fixed(seconds, 6) + "}\n";
    } else {
        for (const auto& o : *outputs) out += o.out;
        out += std::to_string(g.nproc) + " ranks in " + fixed(seconds, 3) + " s\n";
    }
    print(out);
    return exit_ok;
}

std::optional<std::string> read_number(const std::optional<std::string>& text, const char* flag, uint64_t low,
                                       uint64_t high, const char* expected, uint64_t& out) {
    if (!text) return std::nullopt;
    auto n = parse_count(*text);
    if (!n || *n < low || *n > high)
        return std::string(flag) + " needs " + expected + ", got \"" + *text + "\"";
    out = *n;
    return std::nullopt;
}

bool wants_group(const command_line& cl) {
    return cl.tp || cl.pp || cl.nproc || cl.read_once || cl.checksums || cl.timeout || cl.min_run;
}

std::optional<std::string> read_group_counts(const command_line& cl, group_counts& g) {
    if (cl.device_map) return std::string("--device-map does not combine with --tp/--pp/--nproc");
    if (cl.mmap) return std::string("--mmap does not combine with --tp/--pp/--nproc");
    if (cl.repeat) return std::string("--repeat does not combine with --tp/--pp/--nproc");
    if (auto e = read_number(cl.tp, "--tp", 1, 1024, "a number from 1 to 1024", g.tp)) return e;
    if (auto e = read_number(cl.pp, "--pp", 1, 1024, "a number from 1 to 1024", g.pp)) return e;
    if (auto e = read_number(cl.nproc, "--nproc", 1, 256, "a number from 1 to 256", g.nproc)) return e;
    if (g.nproc && !cl.tp) {
        if (g.nproc % g.pp != 0)
            return "--nproc " + std::to_string(g.nproc) + " is not a multiple of --pp " +
                   std::to_string(g.pp);
        g.tp = g.nproc / g.pp;
    }
    if (g.nproc && g.tp * g.pp != g.nproc)
        return "--nproc " + std::to_string(g.nproc) + " must equal --tp " + std::to_string(g.tp) +
               " x --pp " + std::to_string(g.pp);
    if (auto e = read_number(cl.timeout, "--timeout", 1, 86400, "seconds from 1 to 86400", g.timeout_seconds))
        return e;
    return std::nullopt;
}

std::optional<std::string> torch_program() {
    char self[4096];
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return std::nullopt;
    std::string path(self, static_cast<size_t>(n));
    path = path.substr(0, path.rfind('/') + 1) + "modelplan-torch"; // in modelplan-torch: itself
    if (::access(path.c_str(), X_OK) != 0) return std::nullopt;
    return path;
}

int run_in_torch_program(const command_line& cl) {
    auto program = torch_program();
    if (!program)
        return fail(cl.command +
                    " needs LibTorch: build with -DMODELPLAN_WITH_TORCH=ON (scripts/test-torch.sh), "
                    "which adds modelplan-torch beside this program");
    std::vector<std::string> argv_text{*program, cl.command};
    argv_text.insert(argv_text.end(), cl.args.begin(), cl.args.end());
    std::vector<char*> argv;
    for (auto& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::fflush(stdout);
    ::execv(program->c_str(), argv.data());
    return fail(*program + ": cannot start it: " + std::strerror(errno), exit_failed);
}

int run_load_front(const command_line& cl) {
    if (!cl.nproc) return run_in_torch_program(cl);
    // --nproc: the ranks are started from here, without LibTorch's start-up in this process.
    group_counts g;
    if (auto problem = read_group_counts(cl, g)) return usage_error(*problem, "load");
    if (!cl.operand) return usage_error("load needs a checkpoint PATH", "load");
    auto program = torch_program();
    if (!program) return run_in_torch_program(cl); // says what is missing
    return run_nproc(cl, g, *program);
}

} // namespace modelplan::cli
