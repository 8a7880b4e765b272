// modelplan's C++ API in one include (docs/cpp-api.md). Every public header needs only the C++17 standard
// library (tests/consumer builds a program from them with no RapidJSON on the include path).
#pragma once

#include "modelplan/version.h"

// Errors and text helpers.
#include "modelplan/error.h"
#include "modelplan/limits.h"
#include "modelplan/text.h"

// The model: dtypes, the spec, architecture tables, config.json parsing, presets, skeleton, counts.
#include "modelplan/architectures.h"
#include "modelplan/config.h"
#include "modelplan/counts.h"
#include "modelplan/dtype.h"
#include "modelplan/model-spec.h"
#include "modelplan/presets.h"
#include "modelplan/skeleton.h"

// Plans: memory (inference and training), quantized storage, the GPU catalog and fit solving.
#include "modelplan/devices.h"
#include "modelplan/fit.h"
#include "modelplan/images.h"
#include "modelplan/memory.h"
#include "modelplan/quantization.h"
#include "modelplan/training.h"

// Placement: device lists, device maps, placement and tensor/pipeline-parallel plans.
#include "modelplan/device-map.h"
#include "modelplan/placement.h"

// Serving plans: an inference engine's start-up figures on given GPUs (vLLM).
#include "modelplan/serve.h"

// Checkpoints: the tensor inventory, safetensors and GGUF headers, verification against a skeleton, and
// models without a family read from their headers.
#include "modelplan/checkpoint.h"
#include "modelplan/gguf.h"
#include "modelplan/header-model.h"
#include "modelplan/safetensors.h"
#include "modelplan/verify.h"

// Requests and JSON answers (the CLI's --json, the wasm module).
#include "modelplan/report.h"
