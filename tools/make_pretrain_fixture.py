#!/usr/bin/python3
"""Generate the fixture for the CLI pretraining parity test.

Usage:
    /usr/bin/python3 tools/make_pretrain_fixture.py [--out test/fixtures/pretrain]

(Use Debian's /usr/bin/python3 with python3-torch; the `python3` first on PATH
has no torch.) The model, init, loss and safetensors writer are imported from
tools/make_gpt2_fixture.py, so the two fixtures share one GPT-2 definition.

Proves that

    webgpu-rlhf pretrain --init <out>/init --data <out>/corpus.txt
        --tokenizer bytes --no-shuffle --lr-schedule constant --warmup 0
        --grad-clip 0 --weight-decay 0 --batch-size 2 --seq-len 16
        --steps 12 --lr 1e-3

ends with the same weights as PyTorch. Writes, under --out:

    init/config.json
        a Hugging Face GPT-2 config: n_layer=2, n_head=2, n_embd=32,
        n_positions=32, vocab_size=257 (bytes tokenizer: ids 0-255 are UTF-8
        bytes, 256 is EOS; bos/eos_token_id 256), gelu_new, no dropout, tied
        embeddings.
    init/model.safetensors
        a random GPT-2 saved as Hugging Face's GPT2LMHeadModel saves it: names
        WITH the `transformer.` prefix, Conv1D (in, out) weight layouts, no
        lm_head.weight (tied to wte), and each block's `transformer.h.{i}.attn.bias`
        causal-mask buffer, F32 (1, 1, n_positions, n_positions) lower-triangular
        ones, which a loader must ignore (DESIGN.md section 5). Weights follow the
        GPT-2 init rule, seed 4321, then biases and LayerNorms are perturbed so
        every gradient path is live -- exactly init_params() of
        make_gpt2_fixture.py (see its docstring); it is NOT a pristine init.
    corpus.txt
        UTF-8 English text with a few non-ASCII characters (so multi-byte
        characters straddle batch boundaries); the bytes tokenizer makes each
        byte one token; no EOS is added.
    expected.safetensors
        `losses` (STEPS,): the mean cross-entropy of each step, before its
        update; `final.<name>`: every parameter after STEPS steps, HF names
        WITHOUT the prefix, Conv1D layout (as make_gpt2_fixture.py's final.*).
        __metadata__: "args" (JSON: batch_size, seq_len, steps, lr, beta1,
        beta2, eps), "note", "torch_version".

Training: float32 on the CPU, one thread; torch.optim.AdamW(lr 1e-3, betas
(0.9, 0.95), eps 1e-8, weight_decay 0) over all parameters (with no decay the
"2-D tensors only" decay rule does not matter), no gradient clipping, constant
learning rate, no warmup. Batches follow llm.c's DataLoader rule exactly:

    tokens = list(open('corpus.txt', 'rb').read())
    position = 0
    for each step:
        if position + B*T + 1 > len(tokens): position = 0
        buf = tokens[position : position + B*T + 1]
        x = buf[:-1].view(B, T); y = buf[1:].view(B, T)
        position += B*T

The corpus is exactly 11*B*T + 1 = 353 bytes long (asserted), so that:
  - the 12 steps wrap: batches 0..10 are taken, then step 12 wraps to
    position 0 and takes batch 0 again;
  - batch 10 ends exactly on the last byte of the file, which tells the rule's
    `> len` from an off-by-one `>= len` (that would wrap one step early and
    change the loss of step 11);
  - it is still long enough for the default 10% held-out split to hold one
    eval batch of 2x16 (36 tokens >= 33) in test/cli/pretrain.test.ts.
(A ~3 KB corpus cannot wrap within 12 steps of 2x16 = 32 tokens: that needs
at most 384 bytes.)
"""

import argparse
import json
import os

import torch

from make_gpt2_fixture import forward, init_params, loss_fn, param_shapes, write_safetensors

CONFIG = dict(n_layer=2, n_head=2, n_embd=32, n_positions=32, vocab_size=257, layer_norm_epsilon=1e-5)
B, T, STEPS, LR = 2, 16, 12, 1e-3
BETA1, BETA2, EPS = 0.9, 0.95, 1e-8
SEED = 4321
EOS = 256

# 353 UTF-8 bytes = 11*B*T + 1 (see the docstring); "—" is 3 bytes, "é" 2.
CORPUS = """The lighthouse keeper wrote in his log every evening, whatever the weather.
On calm nights he noted the stars; on rough nights, the height of the waves.
He liked the routine — the lamp, the ledger, the café on the quay where
he bought bread. When a gale took the power, he wound the clockwork by
hand, and the light kept turning, one turn at a time.
"""


def hf_config():
    return {
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
        "n_layer": CONFIG["n_layer"], "n_head": CONFIG["n_head"], "n_embd": CONFIG["n_embd"],
        "n_positions": CONFIG["n_positions"], "n_ctx": CONFIG["n_positions"],
        "vocab_size": CONFIG["vocab_size"], "layer_norm_epsilon": 1e-5,
        "activation_function": "gelu_new", "resid_pdrop": 0.0, "embd_pdrop": 0.0,
        "attn_pdrop": 0.0, "initializer_range": 0.02, "bos_token_id": EOS,
        "eos_token_id": EOS, "tie_word_embeddings": True, "n_inner": None,
        "scale_attn_weights": True,
    }


def batches(tokens):
    """llm.c's DataLoader rule (see the module docstring).

    Yields (x, y, start position, wrapped so far) for each of STEPS steps."""
    position, wraps = 0, 0
    for _ in range(STEPS):
        if position + B * T + 1 > len(tokens):
            position, wraps = 0, wraps + 1
        buf = tokens[position:position + B * T + 1]
        yield buf[:-1].view(B, T), buf[1:].view(B, T), position, wraps
        position += B * T


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="test/fixtures/pretrain")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    os.makedirs(os.path.join(args.out, "init"), exist_ok=True)

    # init/: what GPT2LMHeadModel.save_pretrained writes, in its state_dict order.
    params = init_params(CONFIG, gen)
    order = [n for n, _ in param_shapes(CONFIG)]
    P = CONFIG["n_positions"]
    mask = torch.tril(torch.ones(P, P)).view(1, 1, P, P)
    saved = []
    for n in order:
        saved.append(("transformer." + n, params[n]))
        if n.endswith("ln_1.bias"):  # HF registers the mask buffer before c_attn
            saved.append(("transformer." + n.replace("ln_1.bias", "attn.bias"), mask))
    write_safetensors(os.path.join(args.out, "init", "model.safetensors"), saved, {"format": "pt"})
    with open(os.path.join(args.out, "init", "config.json"), "w") as f:
        json.dump(hf_config(), f, indent=2)
        f.write("\n")
    corpus_path = os.path.join(args.out, "corpus.txt")
    with open(corpus_path, "wb") as f:
        f.write(CORPUS.encode("utf-8"))

    # Train on the file's bytes, exactly as the CLI's bytes tokenizer sees them.
    with open(corpus_path, "rb") as f:
        tokens = torch.tensor(list(f.read()), dtype=torch.long)
    assert len(tokens) == 11 * B * T + 1, len(tokens)
    assert any(b >= 128 for b in tokens.tolist()), "the corpus should hold non-ASCII UTF-8"
    p = {n: t.clone().requires_grad_(True) for n, t in params.items()}
    opt = torch.optim.AdamW([p[n] for n in order], lr=LR, betas=(BETA1, BETA2), eps=EPS, weight_decay=0.0)
    losses, starts, wraps = [], [], 0
    for x, y, start, wraps in batches(tokens):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(forward(p, x, CONFIG), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        starts.append(start)
    before_wrap = starts.index(0, 1) if 0 in starts[1:] else len(starts)
    assert wraps >= 1, "the corpus must be short enough for the batches to wrap"
    assert starts[before_wrap - 1] + B * T + 1 == len(tokens), "the last batch before the wrap should end on the last byte"
    assert losses[-1] < losses[0], "training should lower the loss"

    args_meta = dict(batch_size=B, seq_len=T, steps=STEPS, lr=LR, beta1=BETA1, beta2=BETA2, eps=EPS)
    note = ("tools/make_pretrain_fixture.py: init/ (GPT-2 init, seed 4321, perturbed biases and LayerNorms) "
            f"trained for {STEPS} steps with torch.optim.AdamW (weight_decay 0, no clipping, constant lr) "
            "in float32 on the CPU, on llm.c DataLoader batches of the raw UTF-8 bytes of corpus.txt "
            f"({len(tokens)} tokens: {before_wrap} batches, then the wrap to position 0); "
            "losses = mean cross-entropy of each step before its update; final.* = weights after the last step")
    write_safetensors(
        os.path.join(args.out, "expected.safetensors"),
        [("losses", torch.tensor(losses, dtype=torch.float32))] + [("final." + n, p[n]) for n in order],
        {"args": json.dumps(args_meta), "note": note, "torch_version": torch.__version__})
    print(f"{len(tokens)} tokens; batch starts {starts}")
    print(f"{before_wrap} batches before the first wrap, {wraps} wrap(s) in {STEPS} steps")
    print("losses", " ".join(f"{l:.6f}" for l in losses))


if __name__ == "__main__":
    main()
