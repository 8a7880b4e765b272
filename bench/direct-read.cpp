// Reads files past the page cache, three ways, and prints GB/s (bench/direct-read.sh; docs/loading.md,
// "--direct"):
//   evict                  drop the files' pages from the page cache (posix_fadvise DONTNEED; no root needed)
//   buffered THREADS       pread of 16 MiB blocks through the page cache by THREADS threads (after evict:
//   cold) pread THREADS          O_DIRECT pread of 16 MiB aligned blocks into aligned buffers by THREADS
//   threads uring DEPTH            O_DIRECT reads of 16 MiB aligned blocks through one io_uring, DEPTH in
//   flight
// usage: direct-read MODE N FILE...   (prints: MODE N BYTES SECONDS GB/s)
#include <fcntl.h>
#include <liburing.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr size_t block = 16u << 20;
constexpr size_t align = 4096;

struct piece {
    int fd;
    off_t offset;
    size_t bytes; // rounded up to `align` for O_DIRECT (the last block of a file)
};

std::vector<piece> pieces_of(const std::vector<int>& fds, bool round) {
    std::vector<piece> out;
    for (int fd : fds) {
        struct stat st {};
        fstat(fd, &st);
        for (off_t at = 0; at < st.st_size; at += block) {
            size_t n = std::min<size_t>(block, static_cast<size_t>(st.st_size - at));
            if (round) n = (n + align - 1) / align * align;
            out.push_back({fd, at, n});
        }
    }
    return out;
}

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "direct-read: %s: %s\n", what.c_str(), std::strerror(errno));
    std::exit(1);
}

uint64_t threads_pread(const std::vector<piece>& work, unsigned threads) {
    std::atomic<size_t> next{0};
    std::atomic<uint64_t> total{0};
    auto reader = [&]() {
        void* buf = nullptr;
        if (posix_memalign(&buf, align, block)) die("posix_memalign");
        for (size_t k; (k = next.fetch_add(1)) < work.size();) {
            ssize_t got = pread(work[k].fd, buf, work[k].bytes, work[k].offset);
            if (got < 0) die("pread");
            total += static_cast<uint64_t>(got);
        }
        std::free(buf);
    };
    std::vector<std::thread> pool;
    for (unsigned i = 0; i < threads; ++i) pool.emplace_back(reader);
    for (auto& t : pool) t.join();
    return total;
}

uint64_t uring_read(const std::vector<piece>& work, unsigned depth) {
    io_uring ring;
    if (io_uring_queue_init(depth, &ring, 0) < 0) die("io_uring_queue_init");
    std::vector<void*> bufs(depth);
    for (auto& b : bufs)
        if (posix_memalign(&b, align, block)) die("posix_memalign");
    std::vector<unsigned> free_slots;
    for (unsigned i = 0; i < depth; ++i) free_slots.push_back(i);
    size_t next = 0, in_flight = 0;
    uint64_t total = 0;
    while (next < work.size() || in_flight) {
        while (next < work.size() && !free_slots.empty()) {
            unsigned slot = free_slots.back();
            free_slots.pop_back();
            io_uring_sqe* sqe = io_uring_get_sqe(&ring);
            io_uring_prep_read(sqe, work[next].fd, bufs[slot], static_cast<unsigned>(work[next].bytes),
                               static_cast<uint64_t>(work[next].offset));
            io_uring_sqe_set_data(sqe, reinterpret_cast<void*>(static_cast<uintptr_t>(slot)));
            ++next;
            ++in_flight;
        }
        io_uring_submit(&ring);
        io_uring_cqe* cqe = nullptr;
        if (io_uring_wait_cqe(&ring, &cqe) < 0) die("io_uring_wait_cqe");
        if (cqe->res < 0) {
            errno = -cqe->res;
            die("io_uring read");
        }
        total += static_cast<uint64_t>(cqe->res);
        free_slots.push_back(static_cast<unsigned>(reinterpret_cast<uintptr_t>(io_uring_cqe_get_data(cqe))));
        io_uring_cqe_seen(&ring, cqe);
        --in_flight;
    }
    io_uring_queue_exit(&ring);
    for (auto& b : bufs) std::free(b);
    return total;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: direct-read evict|buffered|pread|uring N FILE...\n");
        return 2;
    }
    std::string mode = argv[1];
    unsigned n = static_cast<unsigned>(std::atoi(argv[2]));
    bool direct = mode == "pread" || mode == "uring";
    std::vector<int> fds;
    for (int i = 3; i < argc; ++i) {
        int fd = open(argv[i], O_RDONLY | (direct ? O_DIRECT : 0));
        if (fd < 0) die(argv[i]);
        fds.push_back(fd);
    }
    if (mode == "evict") {
        for (int fd : fds)
            if (posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0) die("posix_fadvise");
        return 0;
    }
    auto work = pieces_of(fds, direct);
    auto t0 = std::chrono::steady_clock::now();
    uint64_t bytes = mode == "uring" ? uring_read(work, n) : threads_pread(work, n);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s %u %llu %.4f %.3f\n", mode.c_str(), n, static_cast<unsigned long long>(bytes), s,
                bytes / 1e9 / s);
    return 0;
}
