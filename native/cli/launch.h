// Starting the ranks of a group on this machine (`modelplan load --nproc N`): N copies of this program with
// the variables a launcher sets (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), their standard
// output collected, their standard error passed through. Needs no LibTorch.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "modelplan/error.h"

namespace modelplan::cli {

struct command_line;

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

// ---- `load` and `instantiate` in front of LibTorch ----
// In a LibTorch build the LibTorch commands are a second program, modelplan-torch, beside modelplan: every
// other command starts without LibTorch's 0.7-0.9 s of initialisation. `modelplan load/instantiate` starts it
// (exec), except `load --nproc N`, whose ranks it starts itself.

extern const char* const instantiate_help;
extern const char* const load_help;

// A count option of these commands: digits from `low` to `high` into `out`, else the usage error's message.
std::optional<std::string> read_number(const std::optional<std::string>& text, const char* flag, uint64_t low,
                                       uint64_t high, const char* expected, uint64_t& out);

// --tp, --pp, --nproc and --timeout of `load` (the group), checked without LibTorch.
struct group_counts {
    uint64_t tp = 1, pp = 1, nproc = 0, timeout_seconds = 60;
};
bool wants_group(const command_line& cl); // any group option given
std::optional<std::string> read_group_counts(const command_line& cl, group_counts& g); // a usage problem

// The program that runs the LibTorch commands: modelplan-torch beside this program (this program itself in
// modelplan-torch); nullopt when there is none.
std::optional<std::string> torch_program();
// Runs the command in that program (exec: does not return on success), or says LibTorch is missing.
int run_in_torch_program(const command_line& cl);
// `load --nproc N`: N ranks of `program` on this machine, their answers together ({"ranks": [...],
// "seconds"}).
int run_nproc(const command_line& cl, const group_counts& g, const std::string& program);
// The `load` row of a build without LibTorch: --nproc here, anything else in modelplan-torch.
int run_load_front(const command_line& cl);

} // namespace modelplan::cli
