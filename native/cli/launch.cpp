// `modelplan load --nproc N`'s launcher (launch.h).
#include "launch.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
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

} // namespace modelplan::cli
