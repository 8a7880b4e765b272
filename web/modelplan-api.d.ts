// Types of modelplan's JavaScript API (web/modelplan-api.js). The result objects are the JSON documents of
// docs/json.md; the fields below are the ones the format guarantees (keys are only ever added).

/** The stable error codes, the same in the core, the wasm module and this API (docs/errors.md). */
export type ErrorCode =
  | 'json_syntax' | 'missing_key' | 'wrong_type' | 'out_of_range' | 'not_divisible' | 'inconsistent'
  | 'overflow' | 'unknown_model_type' | 'unknown_dtype' | 'unknown_model' | 'unknown_gpu' | 'bad_request'
  | 'io' | 'bad_checkpoint' | 'unsupported' | 'internal';

export interface ModelplanError {
  error: { code: ErrorCode; message: string; path: string };
}
export type Result<T> = T | ModelplanError;

/**
 * A model: a bundled preset by name, or a config.json (object or text) with an optional label. `checkpoint`
 * names the checkpoint whose headers the module holds (the `path` of the last inspectFile / inspectFiles
 * result): a config whose model_type has no family table is then read from those headers, and so is a request
 * with `checkpoint` alone (docs/checkpoints.md, "Models without a family").
 */
export type ModelRequest =
  | { model: string; dtype?: string; head?: string; checkpoint?: string; checkpoint_weights?: boolean }
  | { config: object | string; name?: string; dtype?: string; head?: string; checkpoint?: string;
      /** with `checkpoint`: the weights are the bytes those headers store (docs/json.md, "wasm requests") */
      checkpoint_weights?: boolean }
  | { checkpoint: string; name?: string; dtype?: string };

/** What an answer about a model read from checkpoint headers adds: where it comes from and what is generic. */
export interface HeaderSource {
  source?: 'checkpoint headers';
  checkpoint?: string;
  generic?: { item: string; note: string }[];
}

/** Workload keys of plan(), fit() and place() (docs/json.md, "plan"); numbers may also be given as text. */
export interface Workload {
  mode?: 'inference' | 'training';
  batch?: number;
  seq?: number;
  encoder_seq?: number;
  prefill_chunk?: number;
  kv_dtype?: string;
  attention?: 'sdpa' | 'eager' | 'flash';
  overhead?: string;
  mtp?: boolean;
  quant?: string;
  method?: 'full' | 'lora' | 'qlora';
  lora_rank?: number;
  lora_targets?: string | string[];
  optimizer?: 'adamw' | 'adamw-8bit' | 'sgd' | 'adafactor';
  recompute?: 'none' | 'selective' | 'full';
  zero?: 0 | 1 | 2 | 3 | string;
  gpus?: number;
  offload?: boolean;
  /** a catalog GPU (gpus()): key or name */
  gpu?: string;
}
export type PlanRequest = ModelRequest & Workload;

export interface ModelHeader extends HeaderSource {
  model: string;
  model_type: string;
  architecture: string;
  /** null for a model read from checkpoint headers */
  head: string | null;
  dtype: string;
  not_modelled: string | null;
}
export interface Params extends ModelHeader {
  params: {
    total: number;
    embedding: number;
    non_embedding: number;
    active: number;
    by_role: Record<string, number>;
    by_layer: number[];
    outside_layers: number;
    mtp: number;
  };
  weight_bytes: number;
  tensors: number;
}
export interface Tensor {
  name: string;
  shape: number[];
  dtype: string;
  /** the product of shape */
  elements: number;
  /** elements x the dtype's bytes, or as the checkpoint stores it (docs/json.md, "skeleton") */
  bytes: number;
  role: string;
  layer: number | null;
  expert: number | null;
}
export interface Skeleton extends ModelHeader {
  tensors: Tensor[];
  aliases: Record<string, string>;
  buffers: Tensor[];
}
export interface PlanItem {
  name: string;
  bytes: number;
  formula: string;
  inputs: Record<string, string>;
  /** a model read from checkpoint headers: what in this item is generic or estimated */
  note?: string;
}
export interface PlanDevice {
  gpu: string;
  memory_bytes: number;
  fits: boolean;
  headroom_bytes: number;
  errors: string[];
  warnings: string[];
  roofline: {
    decode_tokens_per_s_upper_bound: number;
    prefill_seconds_lower_bound: number;
    forward_flops_per_token: number;
    training_flops_per_step: number;
  };
}
export interface Plan extends HeaderSource {
  model: string;
  architecture: string;
  plan: {
    mode: 'inference' | 'training';
    items: PlanItem[];
    total_bytes: number;
    kv_bytes_per_token: number;
    kv_bytes_by_layer: number[];
    warnings: string[];
    devices: PlanDevice[];
  };
}
export interface Fit extends HeaderSource {
  model: string;
  gpu: string;
  memory_bytes: number;
  batch: number;
  seq: number;
  total_bytes: number;
  fits: boolean;
  headroom_bytes: number;
  max_seq: number;
  max_batch: number;
  smallest_quant: string | null;
  gpus_needed: number;
  errors: string[];
  warnings: string[];
}
/** Placement keys of place() (docs/json.md, "place"), besides the model and the workload. */
export interface PlaceKeys {
  /** explicit budgets, e.g. "cuda:0=24GiB,cpu=64GiB,disk" */
  devices?: string;
  /** how many of `gpu` (the CLI's --gpus; the plan key `gpus` is the data-parallel size) */
  gpu_count?: number;
  /** host memory to offload to, e.g. "64GiB" */
  cpu?: string;
  disk?: boolean;
  strategy?: 'sequential' | 'balanced';
  experts_on_cpu?: boolean;
  /** "PATTERN=DEVICE", e.g. "lm_head.*=cpu" */
  pins?: string[];
  tp?: number;
  pp?: number;
}
export type PlaceRequest = PlanRequest & PlaceKeys;
export interface PlacedDevice {
  name: string;
  kind: 'gpu' | 'cpu' | 'disk';
  gpu?: string;
  budget_bytes: number | null;
  total_bytes: number;
  headroom_bytes: number;
  modules: number;
  layers: number[];
  items: { name: string; bytes: number }[];
}
/** A device map placement; with tp/pp the answer is a parallel plan instead (docs/json.md). */
export interface Placement extends HeaderSource {
  model: string;
  architecture: string;
  strategy: 'sequential' | 'balanced';
  fits: boolean;
  execution_device: string;
  plan: { items: { name: string; bytes: number }[]; total_bytes: number };
  devices: PlacedDevice[];
  device_map: Record<string, string | number>;
  unplaced_bytes: number;
  over_budget_bytes: number;
  suggestions: string[];
  warnings: string[];
}
/** place() with tp / pp: per-rank memory of a tensor- and pipeline-parallel layout (docs/json.md). */
export interface ParallelPlan extends HeaderSource {
  model: string;
  architecture: string;
  tp: number;
  pp: number;
  fits: boolean;
  stages: { first_layer: number; last_layer: number }[];
  ranks: { name: string; stage: number; tp_rank: number; budget_bytes: number | null; total_bytes: number;
           headroom_bytes: number | null; items: { name: string; bytes: number }[] }[];
  splits: object[];
  notes: string[];
}
/** The engine's flags under their own names with underscores (docs/serving.md); numbers may be given as text. */
export interface ServeKnobs {
  /** vLLM */
  tensor_parallel_size?: number;
  pipeline_parallel_size?: number;
  gpu_memory_utilization?: number;
  max_model_len?: number;
  max_num_seqs?: number;
  max_num_batched_tokens?: number;
  kv_cache_dtype?: 'auto' | 'bfloat16' | 'fp8' | 'fp8_e4m3' | 'fp8_e5m2';
  block_size?: number;
  enforce_eager?: boolean;
  quantization?: string;
  dtype?: string;
  /** vLLM's --speculative-config as JSON text: {"method": "mtp" | "ngram" | "draft_model" | "eagle" |
   *  "eagle3", "model": the drafter (a preset name, or its config in draft_config), "num_speculative_tokens": N,
   *  "draft_tensor_parallel_size", "quantization", "max_model_len"} */
  speculative_config?: string;
  [flag: string]: string | number | boolean | undefined;
}
/** serve(): the model, the engine, the GPUs and the engine's knobs (docs/json.md, "serve"). */
export type ServeRequest = ModelRequest & {
  engine?: 'vllm' | 'sglang' | 'llama.cpp' | 'transformers';
  engine_version?: string;
  /** a GPU of the catalog */
  gpu: string;
  /** GPUs of that kind (default: what the parallel sizes use) */
  gpus?: number;
  knobs?: ServeKnobs;
  /** the config.json of the drafter that knobs.speculative_config names by "model" (an object or its text);
   *  absent: "model" names a bundled preset */
  draft_config?: object | string;
  /** the inverse questions (docs/serving.md): the answer gains "search" */
  search?: { target_concurrency?: number; longest_context?: boolean; sweep?: boolean };
};
/** serve()'s answer to "search" (each answer planned again). */
export interface ServeSearch {
  target_concurrency: number;
  smallest_layout: { found: boolean; tp: number; pp: number; gpus: number; concurrency: number; flags: string } | null;
  longest_context: { context: number; concurrency: number; flag: string } | null;
  sweep: { tps: number[]; contexts: number[];
           cells: { tp: number; context: number; starts: boolean; concurrency: number; kv_tokens: number }[] } | null;
}
/** One GPU of a serving plan, with the figures the engine logs for it. */
export interface ServeRank {
  name: string;
  tp_rank: number;
  stage: number;
  total_bytes: number;
  total_measured: boolean;
  requested_bytes: number;
  weights_bytes: number;
  non_torch_bytes: number;
  activation_peak_bytes: number;
  cudagraph_bytes: number;
  cudagraph_in_budget: boolean;
  /** LoRA buffers, in weights_bytes */
  lora_bytes: number;
  /** the drafter's weights (--speculative-config with a draft model or EAGLE head), in weights_bytes */
  draft_bytes: number;
  /** negative when nothing is left for the cache */
  kv_cache_bytes: number;
  num_blocks: number;
}
/** One llama.cpp -ot entry of a plan: the GGUF tensors it placed (first match), their bytes, the bytes it moved. */
export interface ServeTensorOverride {
  pattern: string;
  buffer_type: string;
  tensors: number;
  bytes: number;
  moved_bytes: number;
}
/** A serving plan: whether the engine starts, its figures per GPU, and the command (docs/json.md, "serve"). */
export interface ServePlan extends HeaderSource {
  model: string;
  architecture: string;
  engine: string;
  engine_version: string;
  gpu: string;
  starts: boolean;
  /** the engine's own error in words when it does not start */
  error: string | null;
  /** changes that make it start, each planned again */
  fixes: string[];
  /** the knobs as resolved; llama.cpp's also hold override_tensor: one entry per -ot pattern, in order */
  knobs: Record<string, string | number | boolean | ServeTensorOverride[]>;
  ranks: ServeRank[];
  kv_groups: { kind: string; window: number; layers: number; page_bytes: number; block_bytes: number;
               blocks_per_request: number }[];
  num_gpu_blocks: number;
  /** vLLM only: the V0 engine's "# CPU blocks" (its 4 GiB swap space in blocks); 0 for V1. */
  num_cpu_blocks?: number;
  kv_bytes_per_token: number;
  kv_tokens: number;
  max_concurrency: number;
  log_lines: string[];
  notes: string[];
  command: string;
  /** present when the request asked "search" */
  search?: ServeSearch;
}
export interface Gpu {
  key: string;
  name: string;
  arch: string;
  compute: string;
  memory_bytes: number;
  bandwidth_gbps: number;
  bf16_tflops: number;
  fp16_tflops: number;
  bf16: boolean;
  fp8: boolean;
}
export interface Presets {
  default: string;
  presets: { name: string; repo: string; model_type?: string; architecture?: string; kinds?: string[];
             params?: number; active?: number; error?: string }[];
}
/** The inspection of checkpoint headers (docs/json.md, "inspect"); see there for every field. */
export interface Inspection {
  path: string;
  format: 'safetensors' | 'gguf';
  files: { name: string; size: number; header_bytes: number; tensors: number }[];
  metadata: Record<string, string>;
  tensors: { name: string; shape: number[] | null; dtype: string; file: string; offsets: [number, number] }[];
  quantized: object[];
  params: { total: number; stored_elements: number; buffers: number; quantized_groups: number;
            by_dtype: Record<string, number> };
  bytes: number;
  warnings: string[];
  model: object | null;
  verify: { ok: boolean; matched: number; [key: string]: unknown } | null;
}

export interface InspectFileOptions {
  /** the file name the format is told by (default: file.name) */
  name?: string;
  /** called with each byte range [begin, end) read from the file */
  onRead?: (begin: number, end: number) => void;
}

/** A file's kind by its name, with the core's rule (checkpoint.h, classify_checkpoint_file). */
export interface FileClass {
  kind: 'safetensors' | 'safetensors_index' | 'gguf' | 'gguf_split' | 'json' | 'other';
  /** the format of the checkpoint the file belongs to; absent for json and other */
  format?: 'safetensors' | 'gguf';
  /** gguf_split only: the part's number in its name (1-based) and the number of parts */
  split_no?: number;
  split_count?: number;
}

export declare class Modelplan {
  constructor(module: object);
  /** the instantiated Emscripten module */
  readonly module: object;
  /** whether this build has device placement (place()) */
  readonly hasPlace: boolean;
  /** the exact JSON text of a call, as `modelplan COMMAND --json` prints it */
  raw(command: 'params' | 'skeleton' | 'plan' | 'fit' | 'place' | 'serve' | 'presets' | 'gpus', request?: object | string): string;
  params(request: ModelRequest | string): Result<Params>;
  skeleton(request: ModelRequest | string): Result<Skeleton>;
  plan(request: PlanRequest | string): Result<Plan>;
  fit(request: (PlanRequest & { gpu: string }) | string): Result<Fit>;
  place(request: PlaceRequest | string): Result<Placement | ParallelPlan>;
  /** what an inference engine will do on these GPUs: its start-up figures per GPU, the verdict, the command */
  serve(request: ServeRequest | string): Result<ServePlan>;
  presets(): Presets;
  gpus(): { gpus: Gpu[] };
  version(): string;
  /** the kind of a file by its name: how the page sorts dropped files */
  classifyFile(name: string): FileClass;
  inspectBytes(bytes: Uint8Array | ArrayBuffer, fileSize: number, fileName: string,
               request?: Partial<ModelRequest> | string): Result<Inspection | { need_bytes: number }>;
  inspectFile(file: Blob, request?: Partial<ModelRequest> | string, options?: InspectFileOptions): Promise<Result<Inspection>>;
  /** an index with its shards, several .safetensors files, or GGUF splits, as one checkpoint */
  inspectFiles(files: Iterable<File>, request?: Partial<ModelRequest> | string,
               options?: { onRead?: (begin: number, end: number, fileName: string) => void }): Promise<Result<Inspection>>;
}

export declare function isError(result: unknown): result is ModelplanError;

export interface LoadOptions {
  /** where modelplan.wasm is served (default: next to modelplan-api.js) */
  wasmUrl?: string | URL;
  /** the module's bytes, when you have them already */
  wasmBinary?: ArrayBuffer | Uint8Array;
}
export declare function loadModelplan(options?: LoadOptions): Promise<Modelplan>;
