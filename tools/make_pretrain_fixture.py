#!/usr/bin/python3
"""Generate the fixture for the CLI pretraining parity test.

Usage:
    /usr/bin/python3 tools/make_pretrain_fixture.py [--out test/fixtures/pretrain]

Writes, under --out:
    init/config.json, init/model.safetensors
        a random GPT-2 (n_layer=2, n_head=2, n_embd=32, n_positions=32,
        vocab_size=257 for the bytes tokenizer) saved as Hugging Face's
        GPT2LMHeadModel saves it: names with the `transformer.` prefix, Conv1D
        (in, out) layouts, and the `attn.bias` causal-mask buffers, which a
        loader must ignore. Initialised and perturbed as in make_gpt2_fixture.py.
    corpus.txt
        UTF-8 text; the bytes tokenizer makes each byte a token (no EOS).
    expected.safetensors
        `losses` (STEPS,), the loss of each step before its update, and
        `final.<name>` (HF names, no prefix, Conv1D layout), the weights after
        STEPS steps of torch.optim.AdamW (lr 1e-3, betas (0.9, 0.95), eps 1e-8,
        weight decay 0, no clipping, constant learning rate) on batches taken
        by llm.c's DataLoader rule:
            position = 0
            each step: if position + B*T + 1 > len(tokens): position = 0
                       buf = tokens[position : position + B*T + 1]
                       x = buf[:-1].view(B, T); y = buf[1:].view(B, T)
                       position += B*T
The test runs `webgpu-rlhf pretrain --init <out>/init --no-shuffle …` with the
same settings and compares.
"""

import argparse
import json
import os

import torch

from make_gpt2_fixture import forward, init_params, loss_fn, param_shapes, write_safetensors

CONFIG = dict(n_layer=2, n_head=2, n_embd=32, n_positions=32, vocab_size=257, layer_norm_epsilon=1e-5)
B, T, STEPS, LR = 2, 16, 25, 1e-3
SEED = 4321

CORPUS = """The lighthouse keeper wrote in his log every evening, whatever the weather.
On calm nights he noted the stars; on rough ones, the height of the waves and the
ships that passed too close to the rocks. He liked the routine — the lamp, the
ledger, the small café on the quay where he bought bread on Sundays.
One winter a storm took the power for three days. He wound the old clockwork by
hand, every four hours, and the light kept turning. When the supply boat came at
last, the captain asked how he had managed. "The same as always," he said. "One
turn at a time."
"""


def hf_config():
    return {
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
        "n_layer": CONFIG["n_layer"], "n_head": CONFIG["n_head"], "n_embd": CONFIG["n_embd"],
        "n_positions": CONFIG["n_positions"], "n_ctx": CONFIG["n_positions"],
        "vocab_size": CONFIG["vocab_size"], "layer_norm_epsilon": 1e-5,
        "activation_function": "gelu_new", "resid_pdrop": 0.0, "embd_pdrop": 0.0,
        "attn_pdrop": 0.0, "initializer_range": 0.02, "bos_token_id": 256,
        "eos_token_id": 256, "tie_word_embeddings": True, "n_inner": None,
        "scale_attn_weights": True,
    }


def batches(tokens):
    """llm.c's DataLoader rule (see the module docstring); also counts wraps."""
    position, wraps = 0, 0
    for _ in range(STEPS):
        if position + B * T + 1 > len(tokens):
            position, wraps = 0, wraps + 1
        buf = tokens[position:position + B * T + 1]
        yield buf[:-1].view(B, T), buf[1:].view(B, T), wraps
        position += B * T


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="test/fixtures/pretrain")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    os.makedirs(os.path.join(args.out, "init"), exist_ok=True)

    params = init_params(CONFIG, gen)
    order = [n for n, _ in param_shapes(CONFIG)]
    P = CONFIG["n_positions"]
    mask = torch.tril(torch.ones(P, P)).view(1, 1, P, P)
    saved = []
    for n in order:
        saved.append(("transformer." + n, params[n]))
        if n.endswith("ln_1.bias"):  # HF keeps the mask buffer with each block
            saved.append(("transformer." + n.replace("ln_1.bias", "attn.bias"), mask))
    write_safetensors(os.path.join(args.out, "init", "model.safetensors"), saved, {"format": "pt"})
    with open(os.path.join(args.out, "init", "config.json"), "w") as f:
        json.dump(hf_config(), f, indent=2)
        f.write("\n")
    with open(os.path.join(args.out, "corpus.txt"), "w", encoding="utf-8") as f:
        f.write(CORPUS)

    tokens = torch.tensor(list(CORPUS.encode("utf-8")), dtype=torch.long)
    p = {n: t.clone().requires_grad_(True) for n, t in params.items()}
    opt = torch.optim.AdamW([p[n] for n in order], lr=LR, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.0)
    losses, wraps = [], 0
    for x, y, wraps in batches(tokens):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(forward(p, x, CONFIG), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert wraps >= 1, "the corpus must be short enough for the batches to wrap"
    assert losses[-1] < losses[0], "training should lower the loss"

    args_meta = dict(batch_size=B, seq_len=T, steps=STEPS, lr=LR, beta1=0.9, beta2=0.95, eps=1e-8)
    write_safetensors(
        os.path.join(args.out, "expected.safetensors"),
        [("losses", torch.tensor(losses, dtype=torch.float32))] + [("final." + n, p[n]) for n in order],
        {"args": json.dumps(args_meta), "torch_version": torch.__version__,
         "note": "tools/make_pretrain_fixture.py: torch.optim.AdamW on llm.c DataLoader batches"})
    print(f"{len(tokens)} tokens, {len(tokens) // (B * T)} batches before the first wrap, {wraps} wrap(s)")
    print("losses", " ".join(f"{l:.6f}" for l in losses))


if __name__ == "__main__":
    main()
