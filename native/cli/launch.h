// Starting the ranks of a group on this machine (`modelplan load --nproc N`): N copies of this program with
// the variables a launcher sets (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), their standard
// output collected, their standard error passed through. Needs no LibTorch.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "modelplan/error.h"

namespace modelplan::cli {

struct rank_output {
    int status = 0;      // exit status; 128 + N when killed by signal N
    std::string out;     // everything it wrote to stdout
    bool killed = false; // still running at the deadline, and killed
};

// A TCP port on 127.0.0.1 that nothing listens on now (the kernel's choice).
result<int> free_local_port();

// Runs `program args...` `n` times at once, rank r with RANK=r, LOCAL_RANK=r, WORLD_SIZE=n,
// MASTER_ADDR=127.0.0.1 and MASTER_PORT=port. Once one rank has failed (a non-zero exit), every rank still
// running `grace` later is killed (SIGKILL): the ranks end themselves within their own timeout, and this
// bounds the wait even if one does not.
result<std::vector<rank_output>> run_local_ranks(const std::string& program,
                                                 const std::vector<std::string>& args, int n, int port,
                                                 std::chrono::steady_clock::duration grace);

} // namespace modelplan::cli
