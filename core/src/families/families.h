// Internal: each family file appends its rows to the family table.
#pragma once

#include <vector>

#include "modelplan/architectures.h"

namespace modelplan::family_tables {

void add_llama_families(std::vector<family_info>& out); // llama.cpp: llama, mistral, mixtral, qwen2, qwen3
void add_gpt_families(std::vector<family_info>& out);   // gpt.cpp: gpt2, gpt_neox
void add_bert_families(std::vector<family_info>& out);  // bert.cpp: bert, roberta
void add_t5_families(std::vector<family_info>& out);    // t5.cpp: t5

} // namespace modelplan::family_tables
