#!/usr/bin/python3
"""Generate the PyTorch reference fixture for the whole-model GPT-2 test.

Usage:
    /usr/bin/python3 tools/make_gpt2_fixture.py [--out test/fixtures/gpt2_tiny.safetensors]

(Use Debian's /usr/bin/python3 with python3-torch; the `python3` first on PATH
has no torch.)

This plays the role of llm.c's train_gpt2.py -> test_gpt2 fixture: a tiny GPT-2
(n_layer=2, n_head=3, n_embd=48, n_positions=16, vocab_size=101) written in
plain PyTorch, float32 on the CPU, with batch B=3, T=13 (deliberately not a
multiple of any tile or workgroup size).

Model: GPT-2 exactly -- learned wte/wpe, pre-LayerNorm blocks (eps 1e-5), fused
QKV split as [q | k | v], causal softmax attention scaled by 1/sqrt(HS), GELU
(tanh approximation), 4C MLP, final LayerNorm, LM head tied to wte. Parameters
use Hugging Face GPT-2 names without the `transformer.` prefix, in HF's Conv1D
layout (weight shape (in, out), y = x @ W + b).

Init: the GPT-2 rule (weights N(0, 0.02), attn.c_proj / mlp.c_proj weights
N(0, 0.02/sqrt(2*n_layer)), biases 0, LayerNorm weight 1 and bias 0), THEN
perturbed so that no gradient path is trivially zero or trivially symmetric:
N(0, 0.02) is added to every bias (LayerNorm biases included) and N(0, 0.1) to
every LayerNorm weight. The fixture is therefore NOT a fresh GPT-2 init.

Data follows the llm.c DataLoader rule: B*T+1 random tokens, x = the first B*T
reshaped (B,T), y = the same shifted by one.

Contents of the safetensors file, in this order:
    <param names>           initial weights (F32)
    x, y                    inputs / targets (I32, (B,T))
    logits                  (B,T,V) from one forward pass
    loss                    (1,) mean cross-entropy
    grad.<param name>       gradients of `loss`, same shape/layout as the param
    adamw.losses            (10,) loss of each AdamW step, before its update
    adamw.grad_norms        (10,) global L2 grad norm of each step, before clipping
    final.<param name>      weights after the 10 AdamW steps
AdamW (torch.optim.AdamW, lr 3e-3, betas (0.9, 0.95), eps 1e-8) uses nanoGPT's
two groups: weight_decay 0.1 on tensors with dim >= 2, 0 on the rest; each
step clips the gradient with clip_grad_norm_(params, 1.0). __metadata__ holds
JSON strings "config", "batch", "adamw" and the "torch_version".

Before writing, the script checks its own model: the init loss must be close to
ln(V), the attention must be causal, and autograd must agree with central
finite differences on a float64 copy.
"""

import argparse
import json
import math
import os
import struct

import torch
import torch.nn.functional as F

CONFIG = dict(n_layer=2, n_head=3, n_embd=48, n_positions=16, vocab_size=101,
              layer_norm_epsilon=1e-5)
B, T = 3, 13
SEED = 1234
ADAMW = dict(lr=3e-3, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1,
             grad_clip=1.0, steps=10)


def param_shapes(cfg):
    """(name, shape) of every parameter, in the fixture's (HF-like) order."""
    C, V, L = cfg["n_embd"], cfg["vocab_size"], cfg["n_layer"]
    shapes = [("wte.weight", (V, C)), ("wpe.weight", (cfg["n_positions"], C))]
    for i in range(L):
        p = f"h.{i}."
        shapes += [
            (p + "ln_1.weight", (C,)), (p + "ln_1.bias", (C,)),
            (p + "attn.c_attn.weight", (C, 3 * C)), (p + "attn.c_attn.bias", (3 * C,)),
            (p + "attn.c_proj.weight", (C, C)), (p + "attn.c_proj.bias", (C,)),
            (p + "ln_2.weight", (C,)), (p + "ln_2.bias", (C,)),
            (p + "mlp.c_fc.weight", (C, 4 * C)), (p + "mlp.c_fc.bias", (4 * C,)),
            (p + "mlp.c_proj.weight", (4 * C, C)), (p + "mlp.c_proj.bias", (C,)),
        ]
    shapes += [("ln_f.weight", (C,)), ("ln_f.bias", (C,))]
    return shapes


def init_params(cfg, gen):
    params = {}
    resid_std = 0.02 / math.sqrt(2 * cfg["n_layer"])
    for name, shape in param_shapes(cfg):
        if name.startswith("ln") or ".ln_" in name:
            t = torch.ones(shape) if name.endswith(".weight") else torch.zeros(shape)
        elif name.endswith(".bias"):
            t = torch.zeros(shape)
        else:
            std = resid_std if name.endswith("c_proj.weight") else 0.02
            t = torch.normal(0.0, std, shape, generator=gen)
        params[name] = t
    # A pristine init has zero biases and unit LayerNorm gains; perturb them so
    # that a kernel that ignores a bias or a gain cannot pass by accident.
    for name, shape in param_shapes(cfg):
        is_ln = name.startswith("ln") or ".ln_" in name
        if name.endswith(".bias"):
            params[name] += torch.normal(0.0, 0.02, shape, generator=gen)
        elif is_ln:
            params[name] += torch.normal(0.0, 0.1, shape, generator=gen)
    return params


def forward(params, x, cfg):
    """GPT-2 forward pass on a dict of HF-named (Conv1D-layout) tensors."""
    L, nh, C = cfg["n_layer"], cfg["n_head"], cfg["n_embd"]
    eps = cfg["layer_norm_epsilon"]
    hs = C // nh
    Bx, Tx = x.shape

    def ln(h, prefix):
        return F.layer_norm(h, (C,), params[prefix + ".weight"], params[prefix + ".bias"], eps)

    def conv1d(h, prefix):
        return h @ params[prefix + ".weight"] + params[prefix + ".bias"]

    pos = torch.arange(Tx)
    h = params["wte.weight"][x] + params["wpe.weight"][pos]
    # True above the diagonal: position t may attend only to positions <= t.
    future = torch.triu(torch.ones(Tx, Tx, dtype=torch.bool), diagonal=1)
    for i in range(L):
        p = f"h.{i}."
        qkv = conv1d(ln(h, p + "ln_1"), p + "attn.c_attn")
        q, k, v = qkv.split(C, dim=2)
        # Head j owns channels j*hs .. (j+1)*hs of each of q, k, v.
        q, k, v = (t.view(Bx, Tx, nh, hs).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
        att = att.masked_fill(future, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(Bx, Tx, C)
        h = h + conv1d(y, p + "attn.c_proj")
        m = F.gelu(conv1d(ln(h, p + "ln_2"), p + "mlp.c_fc"), approximate="tanh")
        h = h + conv1d(m, p + "mlp.c_proj")
    h = ln(h, "ln_f")
    return h @ params["wte.weight"].T  # tied LM head


def loss_fn(logits, y):
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))


def self_check(params, x, y, cfg):
    """Independent sanity checks on the hand-written model; raises on failure."""
    V = cfg["vocab_size"]
    with torch.no_grad():
        loss0 = loss_fn(forward(params, x, cfg), y).item()
    # Near-uniform predictions at init: the loss must sit near ln(V).
    assert abs(loss0 - math.log(V)) < 0.1, (loss0, math.log(V))

    # Causality: changing the last token must not move any earlier logit.
    x2 = x.clone()
    x2[:, -1] = (x2[:, -1] + 1) % V
    with torch.no_grad():
        a, b = forward(params, x, cfg), forward(params, x2, cfg)
    assert torch.equal(a[:, :-1], b[:, :-1]), "attention is not causal"
    assert not torch.equal(a[:, -1], b[:, -1])

    # Autograd vs central differences, in float64 so the difference is exact
    # enough to compare at a tight tolerance.
    p64 = {n: t.detach().double().requires_grad_(True) for n, t in params.items()}
    loss_fn(forward(p64, x, cfg), y).backward()
    probes = [("h.0.attn.c_attn.weight", (5, 7)),      # a q channel
              ("h.0.attn.c_attn.weight", (11, 48 + 20)),  # a k channel
              ("h.1.attn.c_attn.weight", (3, 96 + 40)),   # a v channel
              ("h.1.ln_1.weight", (9,)),
              ("wpe.weight", (4, 13)),
              ("wte.weight", (int(y[0, 0]), 2)),        # embedding and tied head
              ("h.1.mlp.c_fc.bias", (100,))]
    # With h=1e-5 the O(h^2) truncation error and the float64 rounding of a
    # ~4.6 loss divided by 2h are both ~1e-10, so allow that absolutely.
    h = 1e-5
    worst = 0.0
    for name, idx in probes:
        with torch.no_grad():
            t = p64[name]
            orig = t[idx].item()
            t[idx] = orig + h
            lp = loss_fn(forward(p64, x, cfg), y).item()
            t[idx] = orig - h
            lm = loss_fn(forward(p64, x, cfg), y).item()
            t[idx] = orig
        fd = (lp - lm) / (2 * h)
        ag = p64[name].grad[idx].item()
        err = abs(fd - ag)
        assert err < 1e-9 + 1e-6 * abs(ag), (name, idx, fd, ag)
        worst = max(worst, err)
    return loss0, worst


def train_adamw(params, x, y, cfg):
    """nanoGPT-style AdamW from `params` (copied); returns losses, norms, weights."""
    p = {n: t.clone().requires_grad_(True) for n, t in params.items()}
    order = [n for n, _ in param_shapes(cfg)]
    decay = [p[n] for n in order if p[n].dim() >= 2]
    no_decay = [p[n] for n in order if p[n].dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": ADAMW["weight_decay"]},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=ADAMW["lr"], betas=(ADAMW["beta1"], ADAMW["beta2"]), eps=ADAMW["eps"])
    losses, norms = [], []
    for _ in range(ADAMW["steps"]):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(forward(p, x, cfg), y)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_([p[n] for n in order], ADAMW["grad_clip"])
        opt.step()
        losses.append(loss.item())
        norms.append(norm.item())
    return (torch.tensor(losses, dtype=torch.float32),
            torch.tensor(norms, dtype=torch.float32),
            {n: t.detach() for n, t in p.items()})


def write_safetensors(path, tensors, metadata):
    """Minimal safetensors writer (the safetensors package is not available)."""
    dtypes = {torch.float32: ("F32", "<f4"), torch.int32: ("I32", "<i4")}
    header, blobs, offset = {}, [], 0
    for name, t in tensors:
        t = t.detach().contiguous().cpu()
        tag, np_dtype = dtypes[t.dtype]
        data = t.numpy().astype(np_dtype, copy=False).tobytes()
        header[name] = {"dtype": tag, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = metadata
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * (-(8 + len(hjson)) % 8)  # data section starts 8-aligned
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for data in blobs:
            f.write(data)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="test/fixtures/gpt2_tiny.safetensors")
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    cfg = CONFIG

    params = init_params(cfg, gen)
    tokens = torch.randint(0, cfg["vocab_size"], (B * T + 1,), generator=gen)
    x = tokens[:-1].view(B, T)
    y = tokens[1:].view(B, T)

    init_loss, fd_err = self_check(params, x, y, cfg)

    p = {n: t.clone().requires_grad_(True) for n, t in params.items()}
    logits = forward(p, x, cfg)
    loss = loss_fn(logits, y)
    loss.backward()

    losses, norms, final = train_adamw(params, x, y, cfg)
    assert abs(losses[0].item() - loss.item()) < 1e-6

    names = [n for n, _ in param_shapes(cfg)]
    tensors = [(n, params[n]) for n in names]
    tensors += [("x", x.to(torch.int32)), ("y", y.to(torch.int32)),
                ("logits", logits.detach()), ("loss", loss.detach().reshape(1))]
    tensors += [("grad." + n, p[n].grad) for n in names]
    tensors += [("adamw.losses", losses), ("adamw.grad_norms", norms)]
    tensors += [("final." + n, final[n]) for n in names]

    metadata = {
        "config": json.dumps(cfg),
        "batch": json.dumps({"B": B, "T": T}),
        "adamw": json.dumps(ADAMW),
        "torch_version": torch.__version__,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    write_safetensors(args.out, tensors, metadata)

    print(f"self-check: init loss {init_loss:.6f} (ln V = {math.log(cfg['vocab_size']):.6f}), "
          f"worst |finite difference - autograd| {fd_err:.2e}")
    print(f"loss {loss.item():.6f}")
    print("adamw losses", " ".join(f"{v:.6f}" for v in losses.tolist()))
    print("adamw grad norms", " ".join(f"{v:.6f}" for v in norms.tolist()))
    print(f"wrote {args.out}: {len(tensors)} tensors, {os.path.getsize(args.out)} bytes")


if __name__ == "__main__":
    main()
