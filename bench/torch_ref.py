#!/usr/bin/python3
"""PyTorch reference for gosrppo's benchmarks (bench/bench.go, bench/bench_test.go).

The same model (GPT-2-style pre-LN decoder: learned positions, tied embeddings, GELU tanh,
LayerNorm eps 1e-5, Conv1D [in, out] weight layout, Hugging Face GPT-2 parameter names) and the
same four workloads with the same padded shapes as the Go library executes:

  TrainStep     one AdamW step (betas 0.9/0.95, wd 0.01 on matrices, global-norm clip 1) on
                32 rows x 64 tokens, every target in the loss
  Generate      128 rows (64 prompts x 2) x 24 forced new tokens at temperature 1, one batch of 128
                rows, prompts left-padded to 12 columns, a [B, H, 64, dh] KV cache, every step
                attending over the columns written so far rounded up to 8 with a mask (as
                srppo's Sampler does)
  Score         log-probs of the 24 response tokens under 3 LMs (policy, pi_sft, pi_pt) and the
                critic's values, one (prompt, response) pair per row, rows 36 columns wide,
                one batch of 128, then Delta, KL (k1), eos placement and rewards
  PPOIteration  Generate + Score + GAE (gamma 1, lambda 0.95) + whitening + 2 epochs x 4
                minibatches of 32 rows: one policy step (clipped surrogate, entropy logged, AdamW
                betas 0.9/0.999, lr 2e-5, clip 1) and one critic step (clipped value loss x 0.1,
                lr 1e-4) each

Run with Debian's interpreter: /usr/bin/python3 bench/torch_ref.py (python3-torch 1.13 and
libopenblas0-pthread). It uses 2 threads. --json writes the results; --check DIR compares with
what `BENCH_EXPORT_DIR=DIR go test -run TestExportReference ./bench/` wrote.
"""

import argparse
import json
import math
import os
import platform
import statistics
import struct
import sys
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(2)
# TORCH_DEVICE=cuda runs the reference on a GPU (bench/gpu/gpubench.sh); timings then synchronise.
DEV = os.environ.get("TORCH_DEVICE", "cpu")
if DEV != "cpu":
    torch.set_default_device(DEV)  # torch ≥ 2.0; Debian's CPU reference is 1.13


def now():
    if DEV.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter()

VOCAB = 30
BOS = 1
TRAIN_ROWS, TRAIN_COLS = 32, 64
PROMPTS, SAMPLES = 64, 2
ROWS = PROMPTS * SAMPLES
MAX_NEW = 24
BATCH_ROWS = 128
MINIBATCH = 32
PPO_EPOCHS = 2
PROMPT_WIDTH, PAIR_WIDTH, CACHE_COLS, CACHE_BUCKET = 12, 36, 64, 8
WORKLOADS = ["TrainStep", "Generate", "Score", "PPOIteration"]


def size_config(name):
    d = int(name[1:])
    return dict(name=name, vocab=VOCAB, d=d, layers=2, heads=4, dff=4 * d, ctx=64, eps=1e-5)


# ----------------------------------------------------------------------------- FLOPs and params
# Same formulas as bench.go (2 FLOPs per multiply-add; element-wise ops not counted).

def trunk(c):
    return 2 * c["layers"] * (4 * c["d"] ** 2 + 2 * c["d"] * c["dff"])


def attn(c, k):
    return 4 * c["layers"] * k * c["d"]


def head(c):
    return 2 * c["vocab"] * c["d"]


def cache_width(cols):
    """Decoding cache width holding cols columns (bench.go cacheWidth)."""
    return min((cols + CACHE_BUCKET - 1) // CACHE_BUCKET * CACHE_BUCKET, CACHE_COLS)


def forward_flops(c, rows, cols, lm):
    return rows * cols * (trunk(c) + attn(c, cols) + (head(c) if lm else 0))


def flops(w, c):
    gen = (ROWS // BATCH_ROWS) * (
        BATCH_ROWS * PROMPT_WIDTH * (trunk(c) + attn(c, cache_width(PROMPT_WIDTH))) + BATCH_ROWS * head(c)
        + sum(BATCH_ROWS * (trunk(c) + attn(c, cache_width(PROMPT_WIDTH + t + 1)) + head(c))
              for t in range(MAX_NEW - 1)))
    score = 3 * forward_flops(c, ROWS, PAIR_WIDTH, True) + forward_flops(c, ROWS, PAIR_WIDTH, False)
    update = (PPO_EPOCHS * ROWS // MINIBATCH) * 3 * (
        forward_flops(c, MINIBATCH, PAIR_WIDTH, True) + forward_flops(c, MINIBATCH, PAIR_WIDTH, False))
    return {"TrainStep": 3 * forward_flops(c, TRAIN_ROWS, TRAIN_COLS, True), "Generate": gen,
            "Score": score, "PPOIteration": gen + score + update}[w]


def tokens(w):
    return TRAIN_ROWS * TRAIN_COLS if w == "TrainStep" else ROWS * MAX_NEW


def param_formula(c):
    d, f = c["d"], c["dff"]
    return c["vocab"] * d + c["ctx"] * d + c["layers"] * (4 * d * d + 2 * d * f + 9 * d + f) + 2 * d


# ----------------------------------------------------------------------------- the model

def param_shapes(c):
    d, f = c["d"], c["dff"]
    specs = [("wte.weight", (c["vocab"], d), "normal"), ("wpe.weight", (c["ctx"], d), "normal")]
    for l in range(c["layers"]):
        p = "h.%d." % l
        specs += [(p + "ln_1.weight", (d,), "ones"), (p + "ln_1.bias", (d,), "zeros"),
                  (p + "attn.c_attn.weight", (d, 3 * d), "normal"), (p + "attn.c_attn.bias", (3 * d,), "zeros"),
                  (p + "attn.c_proj.weight", (d, d), "residual"), (p + "attn.c_proj.bias", (d,), "zeros"),
                  (p + "ln_2.weight", (d,), "ones"), (p + "ln_2.bias", (d,), "zeros"),
                  (p + "mlp.c_fc.weight", (d, f), "normal"), (p + "mlp.c_fc.bias", (f,), "zeros"),
                  (p + "mlp.c_proj.weight", (f, d), "residual"), (p + "mlp.c_proj.bias", (d,), "zeros")]
    specs += [("ln_f.weight", (d,), "ones"), ("ln_f.bias", (d,), "zeros")]
    return specs


class LM(torch.nn.Module):
    """GPT-2-style pre-LN decoder; value=True adds the critic's zero-initialised value head."""

    def __init__(self, c, seed, value=False):
        super().__init__()
        self.c = c
        g = torch.Generator(device=DEV).manual_seed(seed)
        res = 0.02 / math.sqrt(2 * c["layers"])
        self.names = []
        self.p = torch.nn.ParameterDict()
        for name, shape, init in param_shapes(c):
            if init == "ones":
                t = torch.ones(shape)
            elif init == "zeros":
                t = torch.zeros(shape)
            else:
                t = torch.randn(shape, generator=g) * (0.02 if init == "normal" else res)
            self.p[name.replace(".", "_")] = torch.nn.Parameter(t)
            self.names.append(name)
        if value:
            self.p["value_head_weight"] = torch.nn.Parameter(torch.zeros(c["d"]))
            self.p["value_head_bias"] = torch.nn.Parameter(torch.zeros(()))

    def P(self, name):
        return self.p[name.replace(".", "_")]

    def num_params(self):
        return sum(self.P(n).numel() for n in self.names)

    def ln(self, x, name):
        return F.layer_norm(x, (x.shape[-1],), self.P(name + ".weight"), self.P(name + ".bias"), self.c["eps"])

    def dense(self, x, name):
        return torch.addmm(self.P(name + ".bias"), x.reshape(-1, x.shape[-1]), self.P(name + ".weight")).view(
            *x.shape[:-1], -1)

    def hidden(self, tokens, positions, mask, cache=None, start=0):
        """Final-LN hidden states [B,S,D]. mask [B,S,K] bool; cache: per layer (k, v) [B,H,C,dh],
        written in place at columns start..start+S-1, attention over its first K columns (decoding,
        no autograd)."""
        c = self.c
        b, s = tokens.shape
        h, dh = c["heads"], c["d"] // c["heads"]
        x = self.P("wte.weight")[tokens] + self.P("wpe.weight")[positions]
        neg = mask.logical_not().unsqueeze(1)  # [B,1,S,K]
        for l in range(c["layers"]):
            p = "h.%d." % l
            qkv = self.dense(self.ln(x, p + "ln_1"), p + "attn.c_attn").view(b, s, 3, h, dh)
            q, k, v = qkv.unbind(2)  # [B,S,H,dh]
            q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # [B,H,S,dh]
            if cache is not None:
                ck, cv = cache[l]
                ck[:, :, start:start + s] = k
                cv[:, :, start:start + s] = v
                k, v = ck[:, :, :mask.shape[-1]], cv[:, :, :mask.shape[-1]]  # the columns the mask covers
            scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(dh))
            probs = torch.softmax(scores.masked_fill(neg, -1e9), -1)
            ctx = torch.matmul(probs, v).transpose(1, 2).reshape(b, s, h * dh)
            x = x + self.dense(ctx, p + "attn.c_proj")
            ff = F.gelu(self.dense(self.ln(x, p + "ln_2"), p + "mlp.c_fc"), approximate="tanh")
            x = x + self.dense(ff, p + "mlp.c_proj")
        return self.ln(x, "ln_f")

    def logits(self, hid):
        return torch.matmul(hid, self.P("wte.weight").t())

    def token_logprobs(self, hid, targets):
        """log pi(target) = logit[target] - logsumexp(logits), and the logits."""
        lg = self.logits(hid)
        return lg.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(lg, -1), lg

    def teacher_forced(self, bt):
        hid = self.hidden(bt["tokens"], bt["positions"], sequence_mask(bt["segments"]))
        return self.token_logprobs(hid, bt["targets"])

    def values(self, bt):
        hid = self.hidden(bt["tokens"], bt["positions"], sequence_mask(bt["segments"]))
        return torch.matmul(hid, self.P("value_head.weight")) + self.P("value_head.bias")


def sequence_mask(segments):
    """[B,T,T]: query t attends key u iff u <= t and both are in the same non-padding segment."""
    t = segments.shape[1]
    same = (segments.unsqueeze(2) == segments.unsqueeze(1)) & (segments.unsqueeze(1) > 0)
    causal = torch.ones(t, t, dtype=torch.bool).tril()
    return same & causal


def clone_lm(m, value=False):
    out = LM(m.c, 0, value)
    with torch.no_grad():
        for n in m.names:
            out.P(n).copy_(m.P(n))
    return out


def adamw(m, lr, betas, wd):
    decay = [m.P(n) for n in m.names if m.P(n).dim() >= 2]
    other = [p for p in m.parameters() if all(p is not q for q in decay)]
    return torch.optim.AdamW([{"params": decay, "weight_decay": wd}, {"params": other, "weight_decay": 0.0}],
                             lr=lr, betas=betas, eps=1e-8)


# ----------------------------------------------------------------------------- workloads

def prompt_len(p):
    return 7 + p % 5


def prompt_token(p, i):
    return BOS if i == 0 else 5 + (p * 7 + i * 3) % (VOCAB - 5)


def response_token(r, t):
    return 5 + (r * 11 + t * 5) % (VOCAB - 5)


def rollout_prompts():
    out = []
    for p in range(PROMPTS):
        toks = [prompt_token(p, i) for i in range(prompt_len(p))]
        out += [toks] * SAMPLES
    return out


def train_batch():
    tok = torch.tensor([[response_token(r, t) for t in range(TRAIN_COLS)] for r in range(TRAIN_ROWS)])
    tgt = torch.tensor([[response_token(r, t + 1) for t in range(TRAIN_COLS)] for r in range(TRAIN_ROWS)])
    pos = torch.arange(TRAIN_COLS).expand(TRAIN_ROWS, TRAIN_COLS).contiguous()
    return {"tokens": tok, "targets": tgt, "positions": pos, "segments": torch.ones_like(tok),
            "mask": torch.ones(TRAIN_ROWS, TRAIN_COLS)}


def pair_batch(prompts, responses, width):
    """One (prompt + response) pair per row, srppo.OneSequencePerRow layout: columns 0..n-2 hold
    tokens 0..n-2 and targets 1..n-1; loss mask on the response targets (from len(prompt)-1)."""
    b = len(prompts)
    tok = torch.zeros(b, width, dtype=torch.long)
    tgt = torch.zeros(b, width, dtype=torch.long)
    pos = torch.zeros(b, width, dtype=torch.long)
    seg = torch.zeros(b, width, dtype=torch.long)
    mask = torch.zeros(b, width)
    for r, (p, y) in enumerate(zip(prompts, responses)):
        s = torch.tensor(list(p) + list(y))
        n = len(s) - 1
        tok[r, :n], tgt[r, :n] = s[:-1], s[1:]
        pos[r, :n] = torch.arange(n)
        seg[r, :n] = 1
        mask[r, len(p) - 1:n] = 1
    return {"tokens": tok, "targets": tgt, "positions": pos, "segments": seg, "mask": mask}


def train_step(m, opt, bt, lr):
    for g in opt.param_groups:
        g["lr"] = lr
    opt.zero_grad(set_to_none=True)
    logp, _ = m.teacher_forced(bt)
    loss = -(logp * bt["mask"]).sum() / bt["mask"].sum().clamp(min=1)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(list(m.parameters()), 1.0)
    opt.step()
    return loss.item(), norm.item()


@torch.no_grad()
def sample(m, prompts, gen, greedy=False, force=None):
    """srppo.Sampler: batches of BATCH_ROWS, left-padded prompts, prefill, then one step per token
    over the first K columns of a [B,H,C,dh] cache, K = the columns written so far rounded up to a
    multiple of 8 (srppo's cacheBucket); returns tokens and log-probs [rows][MAX_NEW] (no stop token). With
    force, those tokens are fed instead of the drawn ones (to compare log-probs with Go's)."""
    c = m.c
    C, h, dh = c["ctx"], c["heads"], c["d"] // c["heads"]
    all_tok, all_lp = [], []
    for start in range(0, len(prompts), BATCH_ROWS):
        chunk = prompts[start:start + BATCH_ROWS]
        b = BATCH_ROWS
        width = min((max(len(p) for p in chunk) + 3) // 4 * 4, C - MAX_NEW)  # srppo's widthBucket
        rows = torch.zeros(b, width, dtype=torch.long)
        pad = torch.full((b,), width - 1, dtype=torch.long)
        rows[:, width - 1] = BOS
        for r, p in enumerate(chunk):
            pad[r] = width - len(p)
            rows[r, width - len(p):] = torch.tensor(p)
        cache = [(torch.zeros(b, h, C, dh), torch.zeros(b, h, C, dh)) for _ in range(c["layers"])]
        cols = torch.arange(C)

        def step(tok, at):
            s = tok.shape[1]
            col = at + torch.arange(s)  # [S]
            pos = (col.unsqueeze(0) - pad.unsqueeze(1)).clamp(min=0)  # [B,S]
            colq = col.view(1, s, 1)
            padb = pad.view(b, 1, 1)
            kcols = cols[:min(cache_width(at + s), C)]  # srppo's cacheWidth
            mask = ((kcols >= padb) & (kcols <= colq)) | ((kcols == colq) & (colq < padb))  # [B,S,K]
            hid = m.hidden(tok, pos, mask, cache, at)
            return torch.log_softmax(m.logits(hid[:, -1]), -1)

        logp = step(rows, 0)
        toks, lps = [], []
        for t in range(MAX_NEW):
            if force is not None:
                nxt = torch.tensor([force[start + r][t] for r in range(b)])
            elif greedy:
                nxt = logp.argmax(-1)
            else:
                nxt = torch.multinomial(logp.exp(), 1, generator=gen).squeeze(1)
            toks.append(nxt)
            lps.append(logp.gather(1, nxt.unsqueeze(1)).squeeze(1))
            if t == MAX_NEW - 1:
                break
            logp = step(nxt.unsqueeze(1), width + t)
        n = len(chunk)
        all_tok += torch.stack(toks, 1)[:n].tolist()
        all_lp.append(torch.stack(lps, 1)[:n])
    return all_tok, torch.cat(all_lp)


def response_cols(prompts):
    """[ROWS, MAX_NEW] column index of each response target in a pair batch."""
    return torch.tensor([[len(p) - 1 + t for t in range(MAX_NEW)] for p in prompts])


@torch.no_grad()
def score(ms, prompts, responses, logp_old):
    """srppo.Score: 3 LMs + critic on pair batches of BATCH_ROWS rows x PAIR_WIDTH, then Delta,
    k1 KL, eos placement and rewards (KL beta 0.05)."""
    out = {"policy": [], "sft": [], "pt": [], "values": []}
    for start in range(0, len(prompts), BATCH_ROWS):
        ps, ys = prompts[start:start + BATCH_ROWS], responses[start:start + BATCH_ROWS]
        bt = pair_batch(ps, ys, PAIR_WIDTH)
        idx = response_cols(ps)
        for key in ("policy", "sft", "pt"):
            lp, _ = ms[key].teacher_forced(bt)
            out[key].append(lp.gather(1, idx))
        out["values"].append(ms["critic"].values(bt).gather(1, idx))
    r = {k: torch.cat(v) for k, v in out.items()}
    delta = r["sft"] - r["pt"]
    kl = logp_old - r["sft"]
    placed = torch.zeros_like(delta)
    placed[:, -1] = delta.sum(1)
    r["rewards"] = -0.05 * kl + placed
    return r


def advantages(rewards, values, gamma=1.0, lam=0.95):
    adv = torch.zeros_like(rewards)
    last = torch.zeros(rewards.shape[0])
    for t in reversed(range(rewards.shape[1])):
        nv = values[:, t + 1] if t + 1 < rewards.shape[1] else torch.zeros(rewards.shape[0])
        d = rewards[:, t] + gamma * nv - values[:, t]
        last = d + gamma * lam * last
        adv[:, t] = last
    ret = adv + values
    adv = (adv - adv.mean()) / (adv.std(unbiased=False) + 1e-8)
    return adv, ret


def update(ms, opts, prompts, responses, logp_old, adv, values, ret, gen):
    """srppo.Update: PPO_EPOCHS passes of shuffled minibatches: a policy step and a critic step."""
    full = pair_batch(prompts, responses, PAIR_WIDTH)
    idx = response_cols(prompts)

    def place(x):
        out = torch.zeros(len(prompts), PAIR_WIDTH)
        out.scatter_(1, idx, x)
        return out

    old, A, V, R = place(logp_old), place(adv), place(values), place(ret)
    pol, cri = ms["policy"], ms["critic"]
    for _ in range(PPO_EPOCHS):
        perm = torch.randperm(len(prompts), generator=gen)
        for s in range(0, len(prompts), MINIBATCH):
            i = perm[s:s + MINIBATCH]
            bt = {k: v[i] for k, v in full.items()}
            mask = bt["mask"]
            n = mask.sum().clamp(min=1)
            # Policy: clipped surrogate (entropy computed and logged, coefficient 0).
            opts["policy"].zero_grad(set_to_none=True)
            logp, lg = pol.teacher_forced(bt)
            lr_ = logp - old[i]
            ratio = lr_.exp()
            loss = -(torch.min(ratio * A[i], ratio.clamp(0.8, 1.2) * A[i]) * mask).sum() / n
            with torch.no_grad():
                lsm = torch.log_softmax(lg, -1)
                _ent = (-(lsm.exp() * lsm).sum(-1) * mask).sum() / n
                _clip = (((ratio - 1).abs() > 0.2).float() * mask).sum() / n
                _kl = (((ratio - 1) - lr_) * mask).sum() / n
            loss.backward()
            torch.nn.utils.clip_grad_norm_(list(pol.parameters()), 1.0)
            opts["policy"].step()
            # Critic: clipped value loss x 0.1.
            opts["critic"].zero_grad(set_to_none=True)
            v = cri.values(bt)
            vc = V[i] + (v - V[i]).clamp(-0.2, 0.2)
            vl = 0.1 * 0.5 * (torch.max((v - R[i]) ** 2, (vc - R[i]) ** 2) * mask).sum() / n
            vl.backward()
            torch.nn.utils.clip_grad_norm_(list(cri.parameters()), 1.0)
            opts["critic"].step()


def make_models(c):
    sft, pt = LM(c, 2), LM(c, 3)
    ms = {"sft": sft, "pt": pt, "policy": clone_lm(sft), "critic": clone_lm(sft, value=True)}
    opts = {"policy": adamw(ms["policy"], 2e-5, (0.9, 0.999), 0.0), "critic": adamw(ms["critic"], 1e-4, (0.9, 0.999), 0.0)}
    return ms, opts


def workload(w, c):
    """Returns a zero-argument function doing one operation of workload w."""
    gen = torch.Generator(device=DEV).manual_seed(1)
    prompts = rollout_prompts()
    if w == "TrainStep":
        m = LM(c, 1)
        opt = adamw(m, 1e-4, (0.9, 0.95), 0.01)
        bt = train_batch()
        return lambda: train_step(m, opt, bt, 1e-4)
    if w == "Generate":
        m = LM(c, 1)
        return lambda: sample(m, prompts, gen)
    ms, opts = make_models(c)
    if w == "Score":
        responses = [[response_token(r, t) for t in range(MAX_NEW)] for r in range(ROWS)]
        zeros = torch.zeros(ROWS, MAX_NEW)
        return lambda: score(ms, prompts, responses, zeros)

    def ppo():
        t0 = now()
        responses, logp_old = sample(ms["policy"], prompts, gen)
        t1 = now()
        r = score(ms, prompts, responses, logp_old)
        t2 = now()
        adv, ret = advantages(r["rewards"], r["values"])
        update(ms, opts, prompts, responses, logp_old, adv, r["values"], ret, gen)
        STAGES.append((t1 - t0, t2 - t1, now() - t2))
    return ppo


STAGES = []  # (sample, score, advantages + update) seconds of every PPO iteration


def measure(w, c, reps, warmup=True):
    op = workload(w, c)
    if warmup:
        op()
    times = []
    for _ in range(reps):
        t0 = now()
        op()
        times.append(now() - t0)
    med = statistics.median(times)
    f = flops(w, c)
    extra = {}
    if w == "PPOIteration":
        last = STAGES[-reps:]
        extra = {"stages_ms": {k: 1e3 * statistics.median(st[i] for st in last)
                               for i, k in enumerate(["sample", "score", "update"])}}
    return {**extra, "workload": w, "size": c["name"], "reps": reps, "warmup": warmup, "sec_median": med, "sec_min": min(times),
            "sec_max": max(times), "tokens_per_s": tokens(w) / med, "gflops": f / med / 1e9, "flops": f}


# ----------------------------------------------------------------------------- cross-check with Go

def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        t = torch.frombuffer(bytearray(raw[8 + n + a:8 + n + b]), dtype=torch.float32)
        out[name] = t.view(*info["shape"]) if info["shape"] else t.view(())
    return out


def check(d):
    """Loads the weights, batch and outputs written by TestExportReference and compares."""
    ex = json.load(open(os.path.join(d, "export.json")))
    c = size_config(ex["size"])
    m = LM(c, 0)
    params = read_safetensors(os.path.join(d, "model.safetensors"))
    with torch.no_grad():
        for n in m.names:
            m.P(n).copy_(params[n])
    res = {"size": ex["size"], "params_torch": m.num_params(), "params_go": ex["params"],
           "params_formula": param_formula(c)}
    # Teacher-forced log-probs and one training step's loss and gradient norm on the train batch.
    bt = train_batch()
    with torch.no_grad():
        logp, _ = m.teacher_forced(bt)
    go_logp = torch.tensor(ex["train_logp"])
    res["train_logp_max_abs_diff"] = (logp - go_logp).abs().max().item()
    loss, norm = train_step(m, adamw(m, 1e-4, (0.9, 0.95), 0.01), bt, 1e-4)
    res["train_loss"] = [ex["train_loss"], loss]
    res["train_grad_norm"] = [ex["train_grad_norm"], norm]
    # Greedy cached decoding of the rollout prompts (weights from before the step).
    with torch.no_grad():
        for n in m.names:
            m.P(n).copy_(params[n])
    # Cached decoding fed Go's greedy tokens: the log-prob of every step must match Go's, and the
    # argmax of each step should be Go's token (up to near-ties of random weights).
    go_toks = ex["greedy_tokens"]
    toks, lps = sample(m, rollout_prompts(), None, force=go_toks)
    res["decode_logp_max_abs_diff"] = (lps - torch.tensor(ex["greedy_logp"])).abs().max().item()
    mine, _ = sample(m, rollout_prompts(), None, greedy=True)
    same = sum(a == b for ra, rb in zip(mine, go_toks) for a, b in zip(ra, rb))
    res["greedy_tokens_equal"] = [same, ROWS * MAX_NEW]
    res["flops_torch"] = {w: flops(w, c) for w in WORKLOADS}
    res["flops_go"] = ex["flops"]
    res["ok"] = (res["params_torch"] == res["params_go"] == res["params_formula"]
                 and res["train_logp_max_abs_diff"] < 1e-3
                 and abs(loss - ex["train_loss"]) < 1e-4 and abs(norm - ex["train_grad_norm"]) < 1e-3 * max(1, norm)
                 and res["decode_logp_max_abs_diff"] < 1e-3
                 and all(abs(res["flops_torch"][w] - ex["flops"][w]) < 1 for w in WORKLOADS))
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="d128,d256,d512")
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--reps", default="TrainStep=3,Generate=3,Score=3,PPOIteration=3",
                    help="timed repetitions per workload (after one warm-up); unlisted workloads do not run")
    ap.add_argument("--no-warmup", default="", help="workloads measured without the untimed warm-up operation")
    ap.add_argument("--check", help="directory written by TestExportReference")
    ap.add_argument("--json", help="write results here")
    a = ap.parse_args()
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "python": platform.python_version(),
           "blas": os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3"), "results": [],
           "params": {s: LM(size_config(s), 0).num_params() for s in a.sizes.split(",")}}
    if a.check:
        out["check"] = check(a.check)
        print(json.dumps(out["check"]), flush=True)
    reps = {}
    for kv in a.reps.split(","):
        if kv:
            k, v = kv.split("=")
            reps[k] = int(v)
    for s in a.sizes.split(","):
        c = size_config(s)
        for w in a.workloads.split(","):
            n = reps.get(w, 0)
            if n <= 0:
                continue
            r = measure(w, c, n, w not in a.no_warmup.split(","))
            out["results"].append(r)
            print("%-13s %-5s %8.1f tokens/s %7.2f GFLOP/s  median %.3fs [%.3f, %.3f] (%d reps)" % (
                w, s, r["tokens_per_s"], r["gflops"], r["sec_median"], r["sec_min"], r["sec_max"], n), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
    if a.check and not out["check"]["ok"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
