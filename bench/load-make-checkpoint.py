#!/usr/bin/python3
"""Writes a synthetic Llama-shaped checkpoint for bench/load-bench.sh: config.json, sharded safetensors with
model.safetensors.index.json (written here byte by byte from the format's spec, no safetensors package), and
optionally the same weights as a PyTorch pytorch_model.bin (torch.save) for the torch.load comparison.

usage: load-make-checkpoint.py OUT_DIR [--hidden N] [--layers N] [--intermediate N] [--vocab N] [--heads N]
                               [--kv-heads N] [--shard-mib N] [--bin]
"""
import argparse
import json
import os
import struct

import torch

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--hidden", type=int, default=2048)
p.add_argument("--layers", type=int, default=20)
p.add_argument("--intermediate", type=int, default=8192)
p.add_argument("--vocab", type=int, default=32000)
p.add_argument("--heads", type=int, default=32)
p.add_argument("--kv-heads", type=int, default=8)
p.add_argument("--shard-mib", type=int, default=1024)
p.add_argument("--bin", action="store_true", help="also write pytorch_model.bin with torch.save")
a = p.parse_args()

os.makedirs(a.out, exist_ok=True)
hd = a.hidden // a.heads
config = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": a.hidden,
    "intermediate_size": a.intermediate, "num_hidden_layers": a.layers, "num_attention_heads": a.heads,
    "num_key_value_heads": a.kv_heads, "vocab_size": a.vocab, "max_position_embeddings": 4096,
    "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
    "hidden_act": "silu",
}
with open(os.path.join(a.out, "config.json"), "w") as f:
    json.dump(config, f, indent=2)

# transformers' LlamaForCausalLM state_dict names and shapes.
shapes = [("model.embed_tokens.weight", [a.vocab, a.hidden])]
for i in range(a.layers):
    L = f"model.layers.{i}."
    shapes += [
        (L + "self_attn.q_proj.weight", [a.heads * hd, a.hidden]),
        (L + "self_attn.k_proj.weight", [a.kv_heads * hd, a.hidden]),
        (L + "self_attn.v_proj.weight", [a.kv_heads * hd, a.hidden]),
        (L + "self_attn.o_proj.weight", [a.hidden, a.heads * hd]),
        (L + "mlp.gate_proj.weight", [a.intermediate, a.hidden]),
        (L + "mlp.up_proj.weight", [a.intermediate, a.hidden]),
        (L + "mlp.down_proj.weight", [a.hidden, a.intermediate]),
        (L + "input_layernorm.weight", [a.hidden]),
        (L + "post_attention_layernorm.weight", [a.hidden]),
    ]
shapes += [("model.norm.weight", [a.hidden]), ("lm_head.weight", [a.vocab, a.hidden])]

gen = torch.Generator().manual_seed(0)
def make(shape):
    return torch.randn(shape, generator=gen, dtype=torch.float32).to(torch.bfloat16)

# Group into shards of about shard-mib.
limit = a.shard_mib << 20
shards, cur, cur_bytes = [], [], 0
for name, shape in shapes:
    n = 2
    for d in shape:
        n *= d
    if cur and cur_bytes + n > limit:
        shards.append(cur)
        cur, cur_bytes = [], 0
    cur.append((name, shape, n))
    cur_bytes += n
shards.append(cur)

weight_map, total, state = {}, 0, {}
for k, shard in enumerate(shards):
    fname = f"model-{k + 1:05d}-of-{len(shards):05d}.safetensors"
    header, off = {}, 0
    for name, shape, n in shard:
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [off, off + n]}
        off += n
        weight_map[name] = fname
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(os.path.join(a.out, fname), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for name, shape, n in shard:
            t = make(shape)
            f.write(t.view(torch.int16).numpy().tobytes())
            if a.bin:
                state[name] = t
    total += off
with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
    json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
if a.bin:
    torch.save(state, os.path.join(a.out, "pytorch_model.bin"))
print(f"{len(shapes)} tensors, {total} bytes in {len(shards)} shards")
