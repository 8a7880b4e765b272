#!/usr/bin/env bash
# The LibTorch adapter (native/torch/, docs/loading.md): installs libtorch-dev when missing, builds build-torch/ with
# -DMODELPLAN_WITH_TORCH=ON (only the targets it tests), runs the adapter's tests, installs the package into
# build-torch/install and builds examples/ against it with find_package(modelplan), then runs the example.
# CUDA: Debian's LibTorch has none, so the CUDA tests say "NOT RUN"; on a machine with PyTorch's own libtorch,
# configure with -DTorch_DIR=... (see bench/gpu-load.sh) to build and run them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh torch
jobs=$(nproc 2>/dev/null || echo 2)
b=${MODELPLAN_TORCH_BUILD:-build-torch} # the build folder (default build-torch/)

echo "== LibTorch adapter: build ($b/)"
[ -f "$b/CMakeCache.txt" ] || cmake -S . -B "$b" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DMODELPLAN_WITH_TORCH=ON -DMODELPLAN_BUILD_BENCH=OFF ${Torch_DIR:+-DTorch_DIR="$Torch_DIR"} >/dev/null
cmake --build "$b" -j "$jobs" --target modelplan modelplan-torch torch_tests load-model load-rank

echo "== LibTorch adapter: modelplan itself does not link LibTorch (it starts modelplan-torch for load/instantiate)"
if ldd "$b"/native/modelplan | grep -q libtorch; then
  echo "$b/native/modelplan links LibTorch: every command would pay its start-up" >&2
  exit 1
fi

echo "== LibTorch adapter: tests"
ctest --test-dir "$b" -R '^torch_tests$' --output-on-failure
"$b"/tests/torch/torch_tests --gtest_brief=1 --gtest_filter='Load.Cuda*' 2>&1 | grep -E "NOT RUN|PASSED|FAILED" || true

echo "== LibTorch adapter: cmake --install, then a project using find_package(modelplan)"
rm -rf "$b/install" "$b/example-consumer"
cmake --install "$b" --prefix "$(cd "$b" && pwd)/install" >/dev/null
cmake -S examples -B "$b/example-consumer" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$(cd "$b" && pwd)/install" ${Torch_DIR:+-DTorch_DIR="$Torch_DIR"} >/dev/null
cmake --build "$b/example-consumer" >/dev/null
out=$("$b"/example-consumer/load-model llama-3.1-405b)
echo "$out"
# Llama-3.1-405B: 405,853,388,800 parameters as the core counts them (modelplan params llama-3.1-405b); the
# example must print that count and the skeleton's 1,137 tensors.
echo "$out" | grep -q "^llama-3.1-405b: 405853388800 parameters" || { echo "example: unexpected output" >&2; exit 1; }
echo "$out" | grep -q "^meta tree: 1137 tensors" || { echo "example: unexpected tensor count" >&2; exit 1; }

echo "== LibTorch adapter: the installed load-rank example, two ranks over 127.0.0.1 (Gloo)"
# A small Llama (4 heads of 16, 2 KV heads) written from modelplan's own skeleton, and two ranks started by
# hand as a launcher would. Each must hold q_proj's rows of its 2 heads ([32, 64]) and o_proj's matching
# columns ([64, 32]): vLLM's ColumnParallelLinear / RowParallelLinear split, docs/placement.md.
ex="$b/example-rank"
rm -rf "$ex" && mkdir -p "$ex"
cat >"$ex/config.json" <<'JSON'
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
 "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 128,
 "max_position_embeddings": 256, "rms_norm_eps": 1e-5, "tie_word_embeddings": false, "torch_dtype": "bfloat16"}
JSON
"$b"/native/modelplan skeleton "$ex/config.json" --json | python3 -c '
import json, struct, sys
tensors = json.load(sys.stdin)["tensors"]
header, offset = {}, 0
for t in tensors:
    header[t["name"]] = {"dtype": t["dtype"], "shape": t["shape"], "data_offsets": [offset, offset + t["bytes"]]}
    offset += t["bytes"]
text = json.dumps(header).encode()
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text + bytes(i % 251 for i in range(offset)))
' "$ex/model.safetensors"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
for r in 0 1; do
  (RANK=$r WORLD_SIZE=2 LOCAL_RANK=$r MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
     timeout 120 "$b"/example-consumer/load-rank "$ex" 2 >"$ex/out$r" 2>&1; echo $? >"$ex/rc$r") &
done
wait
for r in 0 1; do
  cat "$ex/out$r"
  [ "$(cat "$ex/rc$r")" = 0 ] || { echo "load-rank: rank $r failed" >&2; exit 1; }
  grep -q "^rank $r of 2: " "$ex/out$r" || { echo "load-rank: rank $r: no summary" >&2; exit 1; }
  grep -q "^model.layers.0.self_attn.q_proj.weight 32 64 on cpu$" "$ex/out$r" ||
    { echo "load-rank: rank $r: q_proj is not [32, 64]" >&2; exit 1; }
  grep -q "^model.layers.1.self_attn.o_proj.weight 64 32 on cpu$" "$ex/out$r" ||
    { echo "load-rank: rank $r: o_proj is not [64, 32]" >&2; exit 1; }
done

echo "== LibTorch adapter: the in-tree example and the CLI"
"$b"/examples/load-model smollm2-135m
"$b"/native/modelplan instantiate deepseek-v3 --json
