// Training memory: gradients, optimizer states, master weights, adapters and training activations, with ZeRO
// and FSDP sharding and optimizer offload (formulas, sources: docs/training.md).
#pragma once

#include <vector>

#include "modelplan/memory.h"

namespace modelplan {

// The training items that follow "weights" in a training plan (plan_memory plans the weights), in order:
// "master_weights" (full fine-tuning of 16-bit weights), "gradients", "optimizer_states",
// "lora_adapters" (LoRA/QLoRA), "activations". Bytes are per GPU: ZeRO stage 1 divides master weights and
// optimizer states by `gpus`, stage 2 also gradients, stage 3 also the adapters (the base weights: see
// sharded_weights). With offload_optimizer, master weights and optimizer states hold 0 GPU bytes and carry
// inputs "device": "cpu" and "cpu_bytes". Errors: lora_rank 0, gpus 0, zero_stage > 3, a lora_targets role
// the model has no weight matrices for (the message lists the roles present). With `bytes`, the same figures
// as typed fields.
result<std::vector<plan_item>> plan_training(const analysis& a, const workload& w,
                                             training_memory* bytes = nullptr);

// The "weights" item as one GPU holds it in training: divided by `gpus` under ZeRO stage 3 / FSDP full
// sharding (rounded up), unchanged otherwise.
plan_item sharded_weights(const workload& w, const plan_item& weights);

} // namespace modelplan
