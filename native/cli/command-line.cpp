#include "command-line.h"

#include <cctype>
#include <tuple>

#include <cstdio>

#include "io/checkpoint-files.h"
#include "io/hub-online.h"
#include "io/model-source.h"
#include "modelplan/header-model.h"
#include "modelplan/memory.h"
#include "modelplan/placement.h"
#include "modelplan/presets.h"
#include "modelplan/report.h"
#include "modelplan/text.h"

namespace modelplan::cli {

using cl = command_line;

// ---- the options ---------------------------------------------------------------------------------------

namespace option_groups {

const option_group output = {
    {"-h,--help", &cl::help},
    {"--json",    &cl::json},
};

const option_row dtype_option = {"--dtype", &cl::dtype, "dtype", " (e.g. bf16)"};

const option_group model = {
    dtype_option,
    {"--head",        &cl::head, "head", " (e.g. none)"},
    {"--online", &cl::online         },
};

const option_group skeleton = {
    {"--summary", &cl::summary},
};

// Each sets the workload field of the core's request that it names (set_workload_option, docs/json.md);
// --checkpoint-weights sets the model's key checkpoint_weights (docs/json.md, "wasm requests").
const option_group workload = {
    {"--batch",              workload_value{},        "batch"             },
    {"--seq",                workload_value{},        "seq"               },
    {"--encoder-seq",        workload_value{},        "encoder_seq"       },
    {"--prefill-chunk",      workload_value{},        "prefill_chunk"     },
    {"--images",             workload_value{},        "images"            },
    {"--image-size",         workload_value{},        "image_size"        },
    {"--kv-dtype",           workload_value{},        "kv_dtype"          },
    {"--state-dtype",        workload_value{},        "state_dtype"       },
    {"--attn",               workload_value{},        "attention"         },
    {"--overhead",           workload_value{},        "overhead"          },
    {"--mode",               workload_value{},        "mode"              },
    {"--quant",              workload_value{},        "quant"             },
    {"--method",             workload_value{},        "method"            },
    {"--lora-rank",          workload_value{},        "lora_rank"         },
    {"--lora-targets",       workload_value{},        "lora_targets"      },
    {"--optimizer",          workload_value{},        "optimizer"         },
    {"--recompute",          workload_value{},        "recompute"         },
    {"--zero",               workload_value{},        "zero"              },
    {"--mtp",                &cl::mtp,                "mtp"               },
    {"--checkpoint-weights", &cl::checkpoint_weights, "checkpoint_weights"},
};

// --gpus is the data-parallel size here (plan's workload field "gpus"); in place, how many of the GPU.
const option_group plan = {
    {"--gpu",     &cl::gpu,         "gpu",     " (e.g. h100-80gb)"},
    {"--gpus",    workload_value{}, "gpus",    ""                 },
    {"--offload", &cl::offload,     "offload", ""                 },
    {"--fsdp",    &cl::fsdp,        nullptr,   ""                 },
};

// The fields of the core's place_request (placement.h).
const option_group place = {
    {"--devices",        &cl::devices,        "devices"       },
    {"--gpu",            &cl::gpu,            "gpu"           },
    {"--gpus",           &cl::gpu_count,      "gpu_count"     },
    {"--cpu",            &cl::cpu,            "cpu"           },
    {"--disk",           &cl::disk,           "disk"          },
    {"--strategy",       &cl::strategy,       "strategy"      },
    {"--experts-on-cpu", &cl::experts_on_cpu, "experts_on_cpu"},
    {"--pin",            &cl::pins,           "pins"          },
    {"--tp",             &cl::tp,             "tp"            },
    {"--pp",             &cl::pp,             "pp"            },
    {"--device-map-out", &cl::map_out,        nullptr         },
};

const option_row config_option = {"--config", &cl::config, nullptr, " (a config.json, folder or preset)"};

const option_group inspect = {config_option};

const option_group instantiate = {
    {"--depth", &cl::depth},
};

const option_group load = {
    config_option,
    {"--device",     &cl::device    },
    {"--device-map", &cl::device_map},
    dtype_option,
    {"--threads",    &cl::threads   },
    {"--mmap",       &cl::mmap      },
    {"--direct",     &cl::direct    },
    {"--chunk",      &cl::chunk     },
    {"--repeat",     &cl::repeat    },
    {"--cpu-alloc",  &cl::cpu_alloc },
    {"--prefault",   &cl::prefault  },
    {"--tp",         &cl::tp        },
    {"--pp",         &cl::pp        },
    {"--nproc",      &cl::nproc     },
    {"--read-once",  &cl::read_once },
    {"--checksums",  &cl::checksums },
    {"--timeout",    &cl::timeout   },
    {"--min-run",    &cl::min_run   },
};

// `serve`: the engine and its knobs under the engine's own names (vLLM's flags; serve.h).
const option_group serve = {
    {"--engine",                    &cl::engine,             "engine",                 " (vllm or sglang)"              },
    {"--engine-version",            &cl::engine_version,     "engine_version",         " (0.19)"                        },
    {"--gpu",                       &cl::gpu,                "gpu",                    " (e.g. h100-80gb)"              },
    {"--gpus",                      &cl::gpu_count,          "gpus",                   ""                               },
    {"--tensor-parallel-size",      workload_value{},        "tensor_parallel_size",   " (e.g. 2)"                      },
    {"--pipeline-parallel-size",    workload_value{},        "pipeline_parallel_size", " (e.g. 2)"                      },
    {"--gpu-memory-utilization",    workload_value{},        "gpu_memory_utilization", " (e.g. 0.9)"                    },
    {"--max-model-len",             workload_value{},        "max_model_len",          " (e.g. 8192)"                   },
    {"--max-num-seqs",              workload_value{},        "max_num_seqs",           " (e.g. 256)"                    },
    {"--max-num-batched-tokens",    workload_value{},        "max_num_batched_tokens", " (e.g. 8192)"                   },
    {"--kv-cache-dtype",            workload_value{},        "kv_cache_dtype",         " (e.g. fp8)"                    },
    {"--block-size",                workload_value{},        "block_size",             " (e.g. 16)"                     },
    {"--quantization",              workload_value{},        "quantization",           " (e.g. fp8)"                    },
    {"--enforce-eager",             &cl::enforce_eager,      "enforce_eager",          ""                               },
    {"--speculative-config",        workload_value{},        "speculative_config",
     " (e.g. '{\"method\": \"mtp\", \"num_speculative_tokens\": 1}')"                                                   },
    {"--enable-lora",               &cl::enable_lora,        "enable_lora",            ""                               },
    {"--max-loras",                 workload_value{},        "max_loras",              " (e.g. 4)"                      },
    {"--max-lora-rank",             workload_value{},        "max_lora_rank",          " (e.g. 64)"                     },
 // SGLang's
    {"--tp,--tp-size",              workload_value{},        "tp_size",                " (e.g. 2)"                      },
    {"--mem-fraction-static",       workload_value{},        "mem_fraction_static",    " (e.g. 0.85)"                   },
    {"--context-length",            workload_value{},        "context_length",         " (e.g. 8192)"                   },
    {"--page-size",                 workload_value{},        "page_size",              " (e.g. 1)"                      },
    {"--chunked-prefill-size",      workload_value{},        "chunked_prefill_size",   " (e.g. 8192)"                   },
    {"--max-running-requests",      workload_value{},        "max_running_requests",   " (e.g. 256)"                    },
    {"--cuda-graph-max-bs",         workload_value{},        "cuda_graph_max_bs",      " (e.g. 160)"                    },
    {"--disable-cuda-graph",        &cl::disable_cuda_graph, "disable_cuda_graph",     ""                               },
    {"--free-memory",               workload_value{},        "free_memory",            " (e.g. 21.6GiB)"                },
 // transformers' (from_pretrained with accelerate's device map)
    {"--device-map",                workload_value{},        "device_map",             " (auto, balanced or sequential)"},
    {"--batch-size",                workload_value{},        "batch_size",             " (e.g. 8)"                      },
    {"--max-length",                workload_value{},        "max_length",             " (e.g. 4096)"                   },
    {"--max-memory",                workload_value{},        "max_memory",             " (e.g. 70GiB)"                  },
    {"--cpu-memory",                workload_value{},        "cpu_memory",             " (e.g. 64GiB)"                  },
 // modelplan's inverse questions
    {"--target-concurrency",        &cl::target_concurrency, "target_concurrency",     " (e.g. 32)"                     },
    {"--longest-context",           &cl::longest_context,    "longest_context",        ""                               },
    {"--sweep",                     &cl::sweep,              "sweep",                  ""                               },
 // llama.cpp's (llama-server's short forms -ngl, -np, -ctk, -ctv, -kvu, -ub, -ncmoe, -cmoe, -ot are read
  // too)
    {"-c,--ctx-size",               workload_value{},        "ctx_size",               " (e.g. 8192)"                   },
    {"--gpu-layers,--n-gpu-layers", workload_value{},        "n_gpu_layers",           " (e.g. 99)"                     },
    {"--parallel",                  workload_value{},        "parallel",               " (e.g. 4)"                      },
    {"--kv-unified",                &cl::kv_unified,         "kv_unified",             ""                               },
    {"--cache-type-k",              workload_value{},        "cache_type_k",           " (e.g. q8_0)"                   },
    {"--cache-type-v",              workload_value{},        "cache_type_v",           " (e.g. q8_0)"                   },
    {"--n-cpu-moe",                 workload_value{},        "n_cpu_moe",              " (e.g. 10)"                     },
    {"--cpu-moe",                   &cl::cpu_moe,            "cpu_moe",                ""                               },
    {"--override-tensor",           &cl::override_tensor,    "override_tensor",        " (e.g. exps=CPU)"               },
    {"--ubatch-size",               workload_value{},        "ubatch_size",            " (e.g. 512)"                    },
    {"--quant",                     workload_value{},        "quant",                  " (e.g. q4_k_m)"                 },
};

} // namespace option_groups

// llama-server's short flags of more than one letter, which CLI11 does not take as short options: read as the
// long ones (serve).
const std::pair<const char*, const char*> llamacpp_short_flags[] = {
    {"-ngl",   "--n-gpu-layers"   },
    {"-np",    "--parallel"       },
    {"-ctk",   "--cache-type-k"   },
    {"-ctv",   "--cache-type-v"   },
    {"-kvu",   "--kv-unified"     },
    {"-ub",    "--ubatch-size"    },
    {"-ncmoe", "--n-cpu-moe"      },
    {"-cmoe",  "--cpu-moe"        },
    {"-ot",    "--override-tensor"},
};

std::string long_form(const std::string& arg) {
    for (auto [short_flag, long_flag] : llamacpp_short_flags)
        if (arg == short_flag) return long_flag;
    return arg;
}

std::string option_name(const option_row& row) {
    std::string names = row.names;
    return names.substr(names.rfind(',') + 1);
}

// ---- the core's fields as flags ----------------------------------------------------------------------

namespace {

// The groups whose options set fields of the core's requests.
const option_group* const request_groups[] = {&option_groups::model, &option_groups::workload,
                                              &option_groups::plan, &option_groups::place,
                                              &option_groups::serve};

// The flag of a request field, or "".
std::string flag_of(const std::string& field) {
    for (const option_group* group : request_groups)
        for (const option_row& row : *group)
            if (row.field && field == row.field) return option_name(row);
    return "";
}

// "kv_dtype: ..." (the error's path, or the field of a path such as "pins[0]") -> "--kv-dtype: ...".
std::string opening_field_as_flag(const std::string& message, const std::string& path) {
    std::string field = path.substr(0, path.find('['));
    field = field.substr(field.rfind('.') + 1);
    std::string flag = flag_of(field);
    if (flag.empty()) return message;
    for (const std::string& opening : {path, field})
        if (message.rfind(opening + ":", 0) == 0) return flag + message.substr(opening.size());
    return message;
}

bool word_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

// Fields that cannot be read as ordinary words ("kv_dtype", not "seq" or "attention") -> their flags, as
// whole words only (kv_lora_rank is a config key, not lora_rank).
std::string unmistakable_fields_as_flags(std::string message) {
    for (const option_group* group : request_groups)
        for (const option_row& row : *group) {
            std::string field = row.field ? row.field : "";
            if (field.find('_') == std::string::npos) continue;
            for (size_t at = message.find(field); at != std::string::npos; at = message.find(field, at + 1)) {
                size_t end = at + field.size();
                bool whole = (at == 0 || !word_char(message[at - 1])) &&
                             (end == message.size() || !word_char(message[end]));
                if (whole) message.replace(at, field.size(), option_name(row));
            }
        }
    return message;
}

} // namespace

std::string suggestion_worded_for_cli(std::string text) {
    for (const option_group* group : request_groups)
        for (const option_row& row : *group) {
            if (!row.field) continue;
            const std::string field = row.field;
            for (size_t at = text.find(field); at != std::string::npos; at = text.find(field, at + 1)) {
                size_t end = at + field.size();
                if (end < text.size() && word_char(text[end])) continue;
                // Where a field stands as one: at the start, or after "(", "or " or "to " ("seq 8192",
                // "(gpu_count 3)", "to devices, or cpu SIZE"), not inside prose ("on these devices", "at
                // batch 1").
                std::string before = text.substr(0, at);
                bool as_field = at == 0 || ends_with(before, "(") || ends_with(before, " or ") ||
                                ends_with(before, " to ");
                if (as_field) text.replace(at, field.size(), option_name(row));
            }
        }
    return text;
}

std::string worded_for_cli(const error& e) {
    return unmistakable_fields_as_flags(opening_field_as_flag(e.message, e.path));
}

// ---- values ------------------------------------------------------------------------------------------

std::optional<uint64_t> parse_count(const std::string& text) {
    if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos)
        return std::nullopt;
    return std::stoull(text);
}

result<config_options> read_config_options(const command_line& cl) {
    config_options config;
    if (cl.dtype) {
        auto t = parse_dtype(*cl.dtype, "--dtype");
        if (!t) return t.err();
        config.weight_dtype = *t;
    }
    if (cl.head) {
        config.head = parse_head_kind(*cl.head);
        if (!config.head)
            return make_error(error_code::bad_request,
                              "--head: unknown head " + quote_value(*cl.head) +
                                  "; expected none, causal-lm, masked-lm, seq-cls, cond-gen or pretraining",
                              "head");
    }
    return config;
}

namespace {

// What was fetched from the Hub for the model, said in the answer (JSON "fetched_bytes") and on stderr.
result<analysis> fetched(analysis a, const model_input& source) {
    if (!source.online) return a;
    a.fetched_bytes = source.online->fetched_bytes();
    a.fetched_from = source.online->label();
    std::fprintf(stderr,
                 "modelplan: fetched %s bytes from %s (the file list, small JSON files and headers)\n",
                 with_thousands(a.fetched_bytes).c_str(), a.fetched_from.c_str());
    return a;
}

} // namespace

// A family's model with its weights as the checkpoint at `path` stores them (--checkpoint-weights).
result<analysis> with_checkpoint_weights(analysis a, const model_input& source) {
    const std::string& path = *source.checkpoint;
    auto loaded = source.online ? source.online->load_checkpoint() : load_checkpoint(path);
    if (!loaded) return loaded.err();
    auto bytes = checkpoint_weight_bytes(a, loaded->ck);
    if (!bytes) return make_error(bytes.err().code, a.model + ": " + bytes.err().message, bytes.err().path);
    a.checkpoint_weights =
        std::make_shared<const analysis::stored_weights>(analysis::stored_weights{path, std::move(*bytes)});
    return a;
}

result<analysis> read_model(const command_line& cl) {
    auto config = read_config_options(cl);
    if (!config) return config.err();
    if (cl.online) allow_online();
    auto source = cl.operand
                      ? resolve_model_input(*cl.operand)
                      : result<model_input>(model_input{default_preset().name, default_preset().config_json,
                                                        std::nullopt, nullptr});
    if (!source) return source.err();
    auto labelled = [&](const error& e) {
        return make_error(e.code, source->label + ": " + e.message, e.path);
    };
    // A config with a family answers alone; the checkpoint's headers are read only for one without
    // (header-model.h), or when there is no config.
    if (cl.checkpoint_weights && !source->checkpoint)
        return make_error(
            error_code::bad_request,
            "--checkpoint-weights: " + source->label +
                " has no checkpoint beside it (a folder with its config.json and its .safetensors "
                "or .gguf files)",
            "checkpoint_weights");
    if (source->config_json) {
        auto a = analyze(source->label, *source->config_json, *config);
        if (a && !cl.checkpoint_weights) return fetched(std::move(*a), *source);
        if (a) {
            auto weighed = with_checkpoint_weights(std::move(*a), *source);
            if (!weighed) return weighed.err();
            return fetched(std::move(*weighed), *source);
        }
        if (!source->checkpoint || !lacks_family(a.err())) return labelled(a.err());
    }
    auto loaded = source->online ? source->online->load_checkpoint() : load_checkpoint(*source->checkpoint);
    if (!loaded) return loaded.err();
    auto a =
        analyze_checkpoint(source->label, loaded->ck, source->config_json ? &*source->config_json : nullptr,
                           *config, *source->checkpoint);
    if (!a) return labelled(a.err());
    return fetched(std::move(*a), *source);
}

std::optional<error> read_workload(const command_line& cl, workload& w) {
    for (const auto& [field, text] : cl.workload)
        if (auto e = set_workload_option(w, field, text, flag_of(field))) return e;
    w.include_mtp = cl.mtp;
    w.offload_optimizer = cl.offload;
    if (cl.fsdp) w.zero_stage = 3;
    return std::nullopt;
}

result<place_request> read_place_request(const command_line& cl) {
    place_request r;
    r.devices = cl.devices;
    r.gpu = cl.gpu;
    r.cpu = cl.cpu;
    r.disk = cl.disk;
    r.strategy = cl.strategy;
    r.experts_on_cpu = cl.experts_on_cpu;
    r.pins = cl.pins;
    for (auto [text, out, flag] : {
             std::tuple{&cl.tp,        &r.tp,        "--tp"  },
             std::tuple{&cl.pp,        &r.pp,        "--pp"  },
             std::tuple{&cl.gpu_count, &r.gpu_count, "--gpus"}
    }) {
        if (!*text) continue;
        auto n = parse_count(**text);
        if (!n)
            return make_error(error_code::bad_request, std::string(flag) +
                                                           ": expected a positive integer, got " +
                                                           quote_value(**text));
        *out = *n;
    }
    return r;
}

} // namespace modelplan::cli
