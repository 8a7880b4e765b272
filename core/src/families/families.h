// Internal: each family file appends its rows to the family table.
#pragma once

#include <vector>

#include "modelplan/architectures.h"

namespace modelplan::family_tables {

void add_llama_families(std::vector<family_info>& out); // llama.cpp: llama, mistral, mixtral, qwen2, qwen3

} // namespace modelplan::family_tables
