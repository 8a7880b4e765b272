// Compiled (never run) by package.spec.mjs with `tsc --noEmit --strict`: the API's declarations
// (web/modelplan-api.d.ts) describe what a TypeScript project would write against them.
import { loadModelplan, isError, type Plan, type Fit, type Inspection, type ServePlan } from '../../build-wasm/web/modelplan-api.js';

export async function example(file: File, index: File, shards: File[]): Promise<number> {
  const mp = await loadModelplan({ wasmUrl: '/static/modelplan.wasm' });
  const presets = mp.presets();
  const first: string = presets.presets[0].name;
  const plan = mp.plan({ model: first, batch: 4, seq: 8192, kv_dtype: 'fp8', gpu: 'rtx-4090' });
  if (isError(plan)) return plan.error.message.length;
  const p: Plan = plan;
  const fit = mp.fit({ config: '{"model_type": "llama"}', name: 'mine', gpu: p.plan.devices[0].gpu });
  if (!isError(fit)) {
    const f: Fit = fit;
    console.log(f.max_seq, f.smallest_quant ?? 'none');
  }
  const placed = mp.place({ model: first, gpu: 'l40s', gpu_count: 2, cpu: '64GiB', strategy: 'balanced' });
  if (!isError(placed) && 'device_map' in placed) console.log(placed.devices.map((d) => d.total_bytes));
  const served = mp.serve({ model: first, engine: 'vllm', gpu: 'h100-80gb', gpus: 2,
    knobs: { tensor_parallel_size: 2, gpu_memory_utilization: 0.95, max_model_len: 8192, enforce_eager: true } });
  if (!isError(served)) {
    const s: ServePlan = served;
    console.log(s.starts, s.ranks[0].kv_cache_bytes, s.max_concurrency, s.command, s.search?.smallest_layout?.gpus);
  }
  const drafted = mp.serve({ model: first, gpu: 'h100-80gb',
    knobs: { speculative_config: '{"model": "my-eagle3-head", "num_speculative_tokens": 3}' },
    draft_config: { architectures: ['LlamaForCausalLMEagle3'], hidden_size: 4096, num_hidden_layers: 1 } });
  if (!isError(drafted)) console.log(drafted.ranks[0].draft_bytes, drafted.kv_groups[0].block_bytes);
  const one = await mp.inspectFile(file, { model: first }, { onRead: (begin, end) => console.log(begin, end) });
  const all = await mp.inspectFiles([index, ...shards], { model: first });
  if (!isError(one) && !isError(all)) {
    const i: Inspection = one;
    return i.params.total + all.params.total;
  }
  const training = mp.plan({ model: first, mode: 'training', method: 'qlora', optimizer: 'adamw-8bit', zero: 3, gpus: 8 });
  return isError(training) ? 0 : training.plan.total_bytes + mp.gpus().gpus.length + mp.version().length;
}
