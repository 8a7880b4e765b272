// Runs the modelplan program on one hostile input with bounds: a wall-clock limit (the child is killed past
// it), an address-space cap as a safety net for the machine, and the child's peak resident memory as the
// kernel counts it (wait4's ru_maxrss). Captures the exit status, stdout and stderr.
#pragma once

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace modelplan::test {

struct bounded_result {
    int status = -1;        // exit status, or -1 when killed by a signal
    int signal = 0;         // the signal that ended it, 0 when it exited
    bool timed_out = false; // killed at the hard limit
    std::string out, err;
    double seconds = 0;
    uint64_t peak_rss_bytes = 0;
};

struct bounds {
    double kill_after_seconds = 10;            // hard limit; the tests assert a much smaller figure
    uint64_t address_space_bytes = 4ull << 30; // RLIMIT_AS: a bomb fails inside the child, not the machine
    std::string stdout_path;                   // when set, stdout goes to this file (e.g. /dev/full)
};

inline bounded_result run_bounded(const std::vector<std::string>& argv, const bounds& b = {}) {
    bounded_result r;
    int out_pipe[2], err_pipe[2];
    if (::pipe(out_pipe) != 0 || ::pipe(err_pipe) != 0) return r;
    auto start = std::chrono::steady_clock::now();
    pid_t pid = ::fork();
    if (pid == 0) {
        rlimit as{b.address_space_bytes, b.address_space_bytes};
        ::setrlimit(RLIMIT_AS, &as);
        int in = ::open("/dev/null", O_RDONLY);
        ::dup2(in, 0);
        if (!b.stdout_path.empty()) {
            int fd = ::open(b.stdout_path.c_str(), O_WRONLY);
            ::dup2(fd, 1);
        } else {
            ::dup2(out_pipe[1], 1);
        }
        ::dup2(err_pipe[1], 2);
        ::close(out_pipe[0]);
        ::close(err_pipe[0]);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    pollfd fds[2] = {
        {out_pipe[0], POLLIN, 0},
        {err_pipe[0], POLLIN, 0}
    };
    std::string* sinks[2] = {&r.out, &r.err};
    int open_fds = 2;
    char buf[65536];
    auto elapsed = [&] {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    while (open_fds > 0) {
        double left = b.kill_after_seconds - elapsed();
        if (left <= 0) {
            ::kill(pid, SIGKILL);
            r.timed_out = true;
            break;
        }
        int n = ::poll(fds, 2, static_cast<int>(left * 1000) + 1);
        if (n < 0 && errno == EINTR) continue;
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
            if (got > 0) {
                // Keep the first 1 MiB of each stream: enough to assert on, bounded if a bug floods it.
                if (sinks[i]->size() < (1u << 20)) sinks[i]->append(buf, static_cast<size_t>(got));
            } else {
                ::close(fds[i].fd);
                fds[i].fd = -1;
                --open_fds;
            }
        }
    }
    for (auto& f : fds)
        if (f.fd >= 0) ::close(f.fd);
    int raw = 0;
    rusage usage{};
    ::wait4(pid, &raw, 0, &usage);
    r.seconds = elapsed();
    r.peak_rss_bytes = static_cast<uint64_t>(usage.ru_maxrss) * 1024; // ru_maxrss is in KiB on Linux
    if (WIFEXITED(raw)) r.status = WEXITSTATUS(raw);
    if (WIFSIGNALED(raw)) r.signal = WTERMSIG(raw);
    return r;
}

} // namespace modelplan::test
