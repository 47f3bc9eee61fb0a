#!/usr/bin/python3
"""Generate the fixture for the reward-model pooling test (issue 17).

Usage:
    /usr/bin/python3 tools/make_reward_pooling_fixture.py [--run DIR] [--out test/fixtures/reward-pooling]

(Use Debian's /usr/bin/python3 with python3-torch; the `python3` first on PATH
has no torch.)

Proves that a reward model our `reward` command writes scores the same when
Hugging Face's GPT2ForSequenceClassification loads it and is called as
transformers calls it: right-padded batches with an attention mask, the score
pooled at "the last token that is not config.pad_token_id". transformers is
not installed here, so its forward and its pooling rule are written in plain
PyTorch (float32, CPU, one thread):

  - GPT-2 as tools/make_gpt2_fixture.py has it (learned wte/wpe, pre-LayerNorm
    eps 1e-5, fused QKV, causal attention scaled 1/sqrt(HS), tanh GELU, 4C
    MLP, ln_f), plus transformers' attention_mask: key positions whose mask is
    0 get torch.finfo(float32).min added to the scores, as its eager attention
    does; position ids are arange(T) (transformers' default without a cache).
  - the head: score = Linear(n_embd, num_labels=1, bias=False) on every
    position's last hidden state -> logits (B, T, 1);
  - the pooling rule of GPT2ForSequenceClassification.forward with input_ids:
        if config.pad_token_id is None: B must be 1, pool at T-1
        else: non_pad_mask = (input_ids != pad_token_id)
              last = (arange(T) * non_pad_mask).argmax(-1)
        pooled_logits = logits[arange(B), last]          # (B, 1)

The model is NOT written by this script: it is a run directory our CLI wrote.
Without --run the script runs it (node must be on PATH):

    node bin/webgpu-rlhf.js reward --init test/fixtures/pretrain/init
        --data test/fixtures/data/preferences.jsonl --tokenizer bytes
        --steps 12 --batch-size 3 --seq-len 32 --lr 3e-3 --eval-fraction 0
        --log-every 12 --seed 1 --out <tmp>

and copies that run's config.json and model.safetensors, byte for byte, to
<out>/rm/. Its config.json's pad_token_id is the pad id used below.

Inputs: a few texts of different lengths (one with multi-byte UTF-8), each
tokenized as the bytes tokenizer does (UTF-8 bytes, then EOS = 256), right-
padded with config.pad_token_id to T = 29 (one text fills all 29 positions, so
one row has no padding), attention_mask 1 on the real tokens (EOS included).

Writes <out>/pooling.safetensors:
    input_ids            (B, T) I32, right-padded with pad_token_id
    attention_mask       (B, T) I32
    pooled               (B, 1) F32: transformers' pooled logits
    pooled_if_pad_is_eos (B, 1) F32: the same model and inputs pooled as if
                         pad_token_id were EOS (the convention before issue 17:
                         pooling one token early), to show the test can fail
    __metadata__: "pad_token_id", "eos_token_id", "texts" (JSON), "run_command",
                  "torch_version"

Before writing it checks: the pooled position is each row's EOS; the pooled
score is unchanged when the padding is replaced by other ids (causality);
and the scores pooled as if pad were EOS differ from the real ones.
"""

import argparse
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_gpt2_fixture import write_safetensors  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EOS = 256  # the bytes tokenizer's EOS (ids 0-255 are UTF-8 bytes)
T = 29
TEXTS = [
    "2+2=4",
    "Capital of France? Paris",
    "Say hi.Go away.",
    "Caf\u00e9 cr\u00e8me, s'il te pla\u00eet",  # 28 UTF-8 bytes + EOS = T
]
RUN_ARGS = ["reward", "--init", "test/fixtures/pretrain/init",
            "--data", "test/fixtures/data/preferences.jsonl", "--tokenizer", "bytes",
            "--steps", "12", "--batch-size", "3", "--seq-len", "32", "--lr", "3e-3",
            "--eval-fraction", "0", "--log-every", "12", "--seed", "1"]


def read_safetensors(path):
    """Minimal safetensors reader for F32 tensors (the package is not available)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", (name, info["dtype"])
        a, b = info["data_offsets"]
        t = torch.frombuffer(bytearray(raw[base + a:base + b]), dtype=torch.float32)
        out[name.removeprefix("transformer.")] = t.reshape(info["shape"]).clone()
    return out


def hidden_states(params, input_ids, attention_mask, cfg):
    """GPT-2's last hidden states (after ln_f), attention masked as transformers does."""
    L, nh, C = cfg["n_layer"], cfg["n_head"], cfg["n_embd"]
    eps = cfg["layer_norm_epsilon"]
    hs = C // nh
    Bx, Tx = input_ids.shape

    def ln(h, prefix):
        return F.layer_norm(h, (C,), params[prefix + ".weight"], params[prefix + ".bias"], eps)

    def conv1d(h, prefix):
        return h @ params[prefix + ".weight"] + params[prefix + ".bias"]

    pos = torch.arange(Tx)
    h = params["wte.weight"][input_ids] + params["wpe.weight"][pos]
    future = torch.triu(torch.ones(Tx, Tx, dtype=torch.bool), diagonal=1)
    padded_key = (attention_mask == 0)[:, None, None, :]  # (B, 1, 1, T)
    for i in range(L):
        p = f"h.{i}."
        qkv = conv1d(ln(h, p + "ln_1"), p + "attn.c_attn")
        q, k, v = qkv.split(C, dim=2)
        q, k, v = (t.view(Bx, Tx, nh, hs).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
        att = att.masked_fill(future, torch.finfo(att.dtype).min)
        att = att.masked_fill(padded_key, torch.finfo(att.dtype).min)
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(Bx, Tx, C)
        h = h + conv1d(y, p + "attn.c_proj")
        m = F.gelu(conv1d(ln(h, p + "ln_2"), p + "mlp.c_fc"), approximate="tanh")
        h = h + conv1d(m, p + "mlp.c_proj")
    return ln(h, "ln_f")


def pool(logits, input_ids, pad_token_id):
    """GPT2ForSequenceClassification's pooling of per-position logits (B, T, labels)."""
    Bx, Tx = input_ids.shape
    if pad_token_id is None:
        if Bx != 1:
            raise ValueError("Cannot handle batch sizes > 1 if no padding token is defined.")
        last = torch.full((Bx,), Tx - 1, dtype=torch.long)
    else:
        non_pad_mask = (input_ids != pad_token_id).to(torch.int32)
        token_indices = torch.arange(Tx, dtype=torch.int32)
        last = (token_indices * non_pad_mask).argmax(-1)
    return logits[torch.arange(Bx), last], last


def classify(params, score, input_ids, attention_mask, cfg, pad_token_id):
    h = hidden_states(params, input_ids, attention_mask, cfg)
    logits = h @ score.T  # Linear(n_embd, 1, bias=False)
    return pool(logits, input_ids, pad_token_id)


def make_run(tmp):
    out = os.path.join(tmp, "rm")
    cmd = ["node", "bin/webgpu-rlhf.js", *RUN_ARGS, "--out", out]
    env = {**os.environ, "XDG_RUNTIME_DIR": os.environ.get("XDG_RUNTIME_DIR", "/tmp")}
    subprocess.run(cmd, cwd=ROOT, env=env, check=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", help="a reward run directory our CLI wrote (default: run the CLI now)")
    ap.add_argument("--out", default="test/fixtures/reward-pooling")
    args = ap.parse_args()
    torch.set_num_threads(1)

    with tempfile.TemporaryDirectory() as tmp:
        run = args.run or make_run(tmp)
        run_command = "(given with --run)" if args.run else " ".join(["webgpu-rlhf", *RUN_ARGS])
        rm_out = os.path.join(args.out, "rm")
        os.makedirs(rm_out, exist_ok=True)
        for name in ("config.json", "model.safetensors"):
            shutil.copyfile(os.path.join(run, name), os.path.join(rm_out, name))

    with open(os.path.join(rm_out, "config.json")) as f:
        cfg = json.load(f)
    assert cfg["architectures"] == ["GPT2ForSequenceClassification"], cfg["architectures"]
    assert cfg["num_labels"] == 1 and cfg["vocab_size"] == 257, cfg
    pad = cfg["pad_token_id"]
    tensors = read_safetensors(os.path.join(rm_out, "model.safetensors"))
    score = tensors.pop("score.weight")
    assert score.shape == (1, cfg["n_embd"])

    rows = [list(t.encode("utf-8")) + [EOS] for t in TEXTS]
    assert max(len(r) for r in rows) == T and min(len(r) for r in rows) < T
    assert all(pad not in r for r in rows), f"pad_token_id {pad} occurs in the texts"
    input_ids = torch.tensor([r + [pad] * (T - len(r)) for r in rows], dtype=torch.long)
    attention_mask = torch.tensor([[1] * len(r) + [0] * (T - len(r)) for r in rows], dtype=torch.long)
    eos_at = torch.tensor([len(r) - 1 for r in rows])

    with torch.no_grad():
        pooled, last = classify(tensors, score, input_ids, attention_mask, cfg, pad)
        if not torch.equal(last, eos_at):
            sys.exit(f"config.json's pad_token_id {pad} makes transformers pool at {last.tolist()}, "
                     f"not at each row's EOS {eos_at.tolist()}")
        # Causal attention: what fills the padding cannot move the score at EOS.
        other = input_ids.masked_fill(attention_mask == 0, 7)
        h = hidden_states(tensors, other, attention_mask, cfg)
        at_eos = (h @ score.T)[torch.arange(len(rows)), eos_at]
        assert torch.allclose(at_eos, pooled, atol=1e-6), (at_eos, pooled)
        # The old convention (pad = EOS) pools one token early: the fixture must tell them apart.
        eos_ids = input_ids.masked_fill(attention_mask == 0, EOS)
        as_eos, last_eos = classify(tensors, score, eos_ids, attention_mask, cfg, EOS)
        assert torch.equal(last_eos, eos_at - 1), last_eos
        gap = (as_eos - pooled).abs().max().item()
        assert gap > 1e-2, f"pooling at EOS and one token early differ by only {gap}"

    meta = {
        "pad_token_id": json.dumps(pad),
        "eos_token_id": json.dumps(EOS),
        "texts": json.dumps(TEXTS),
        "run_command": run_command,
        "torch_version": torch.__version__,
    }
    out_file = os.path.join(args.out, "pooling.safetensors")
    write_safetensors(out_file, [
        ("input_ids", input_ids.to(torch.int32)),
        ("attention_mask", attention_mask.to(torch.int32)),
        ("pooled", pooled),
        ("pooled_if_pad_is_eos", as_eos),
    ], meta)
    print(f"pad_token_id {pad}; pooled at {last.tolist()} (EOS); scores {[round(v, 6) for v in pooled.flatten().tolist()]}")
    print(f"pooled as if pad were EOS: {[round(v, 6) for v in as_eos.flatten().tolist()]} (max gap {gap:.4f})")
    print(f"wrote {rm_out}/config.json, {rm_out}/model.safetensors, {out_file}")


if __name__ == "__main__":
    main()
