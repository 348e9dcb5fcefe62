"""PyTorch peers of bench:ml's models (npm run bench:ml runs this when Debian's python3-torch is present).

The training step a user would write in PyTorch for each model floe times, same shapes, same optimizer
(AdamW, lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay 0.01, gradient clipping at norm 1 as floe's
default), timed as the median of 10 steps after 3 warm-up steps:
  transformer        byte LM d_model 256, 4 layers, 4 heads, batch 16 × 128 (../shared/anchors/torch_step.py's)
  transformer_small  the adaptation study's model: d_model 128, 4 layers, 4 heads, batch 16 × 128
  mamba              Mamba LM d_model 128, 2 layers, d_state 16, d_conv 4, expand 2, batch 8 × 64, with the
                     straightforward selective scan (a Python loop over time, as mamba's selective_scan_ref)
  lenet5             LeNet-5 (Caffe's: 20 and 50 filters of 5 × 5, 500 hidden), batch 64 of 28 × 28 images — the
                     anchor's model (../shared/anchors/torch_step.py), with floe's optimizer and clipping
Each model is timed with PyTorch's intra-op threads at 1 and at every core and the faster counts (Debian's
PyTorch calls a threaded OpenBLAS, which uses the cores on its own: more intra-op threads can be slower).
Usage: /usr/bin/python3 torch_peers.py [threads] [--models a,b]  (only that thread count; only those models).
Prints one JSON line."""
import json, math, os, statistics, sys, time
import torch, torch.nn as nn, torch.nn.functional as F

torch.manual_seed(0)
args = sys.argv[1:]
only = None
if "--models" in args:
    i = args.index("--models")
    only = set(args[i + 1].split(","))
    del args[i:i + 2]
thread_counts = [int(args[0])] if args else sorted({1, os.cpu_count() or 1})


class Block(nn.Module):
    def __init__(s, d, h):
        super().__init__(); s.h = h
        s.n1 = nn.LayerNorm(d); s.qkv = nn.Linear(d, 3 * d, bias=False); s.o = nn.Linear(d, d, bias=False)
        s.n2 = nn.LayerNorm(d); s.up = nn.Linear(d, 4 * d, bias=False); s.down = nn.Linear(4 * d, d, bias=False)

    def forward(s, x):
        B, T, D = x.shape
        q, k, v = s.qkv(s.n1(x)).view(B, T, 3, s.h, D // s.h).permute(2, 0, 3, 1, 4)
        a = (q @ k.transpose(-1, -2)) / math.sqrt(D // s.h)
        a = a.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float('-inf')).softmax(-1)
        x = x + s.o((a @ v).transpose(1, 2).reshape(B, T, D))
        return x + s.down(F.gelu(s.up(s.n2(x))))


class TransformerLM(nn.Module):
    def __init__(s, V=256, d=256, L=4, h=4, T=128):
        super().__init__(); s.emb = nn.Embedding(V, d); s.pos = nn.Parameter(torch.zeros(T, d))
        s.blocks = nn.ModuleList([Block(d, h) for _ in range(L)]); s.nf = nn.LayerNorm(d)

    def forward(s, x):
        h = s.emb(x) + s.pos[: x.shape[1]]
        for b in s.blocks: h = b(h)
        return s.nf(h) @ s.emb.weight.T


class RMSNorm(nn.Module):
    def __init__(s, d, eps=1e-5):
        super().__init__(); s.g = nn.Parameter(torch.ones(d)); s.eps = eps

    def forward(s, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + s.eps) * s.g


def selective_scan(u, delta, A, B, C):
    """h_t = exp(Δ_t A)·h_{t−1} + Δ_t u_t B_t, y_t = C_t·h_t; u, Δ [b, t, d], A [d, n], B, C [b, t, n]."""
    b, t, d = u.shape
    dA = torch.exp(delta.unsqueeze(-1) * A)
    dBu = (delta * u).unsqueeze(-1) * B.unsqueeze(2)
    h = torch.zeros(b, d, A.shape[1])
    ys = []
    for i in range(t):
        h = dA[:, i] * h + dBu[:, i]
        ys.append((h * C[:, i].unsqueeze(1)).sum(-1))
    return torch.stack(ys, 1)


class MambaBlock(nn.Module):
    def __init__(s, d, n=16, k=4, expand=2):
        super().__init__()
        di, r = expand * d, math.ceil(d / 16)
        s.di, s.n, s.r, s.k = di, n, r, k
        s.norm = RMSNorm(d)
        s.in_proj = nn.Linear(d, 2 * di, bias=False)
        s.conv = nn.Conv1d(di, di, k, groups=di, padding=k - 1)
        s.x_proj = nn.Linear(di, r + 2 * n, bias=False)
        s.dt_proj = nn.Linear(r, di)
        s.A_log = nn.Parameter(torch.log(torch.arange(1, n + 1, dtype=torch.float32)).repeat(di, 1))
        s.D = nn.Parameter(torch.ones(di))
        s.out_proj = nn.Linear(di, d, bias=False)

    def forward(s, x):
        T = x.shape[1]
        xs, z = s.in_proj(s.norm(x)).chunk(2, -1)
        u = F.silu(s.conv(xs.transpose(1, 2))[..., :T].transpose(1, 2))
        dt, B, C = s.x_proj(u).split([s.r, s.n, s.n], -1)
        delta = F.softplus(s.dt_proj(dt))
        y = selective_scan(u, delta, -torch.exp(s.A_log), B, C)
        return x + s.out_proj((y + u * s.D) * F.silu(z))


class MambaLM(nn.Module):
    def __init__(s, V=256, d=128, L=2):
        super().__init__(); s.emb = nn.Embedding(V, d)
        s.blocks = nn.ModuleList([MambaBlock(d) for _ in range(L)]); s.nf = RMSNorm(d)

    def forward(s, x):
        h = s.emb(x)
        for b in s.blocks: h = b(h)
        return s.nf(h) @ s.emb.weight.T


class LeNet5(nn.Module):  # Caffe's variant, as the anchor's
    def __init__(s):
        super().__init__(); s.c1 = nn.Conv2d(1, 20, 5); s.c2 = nn.Conv2d(20, 50, 5)
        s.f1 = nn.Linear(800, 500); s.f2 = nn.Linear(500, 10)

    def forward(s, x):
        x = F.max_pool2d(s.c1(x), 2); x = F.max_pool2d(s.c2(x), 2)
        return s.f2(F.relu(s.f1(x.flatten(1))))


def step_ms(model, inputs, targets, n=10, warm=3):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    classes = None if model.__class__ is LeNet5 else 256
    ts = []
    for _ in range(warm + n):
        t = time.perf_counter()
        opt.zero_grad()
        logits = model(inputs)
        F.cross_entropy(logits if classes is None else logits.reshape(-1, classes), targets.reshape(-1)).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ts.append(time.perf_counter() - t)
    return round(statistics.median(ts[warm:]) * 1000, 1)


def tokens(batch, seq):
    data = torch.randint(0, 256, (batch, seq + 1))
    return data[:, :-1], data[:, 1:]


def best(make, data):
    """The fastest step over the thread counts, and the count that gave it."""
    times = {}
    for n in thread_counts:
        torch.set_num_threads(n)
        torch.manual_seed(0)
        times[n] = step_ms(make(), *data())
    n = min(times, key=times.get)
    return times[n], n


cases = {
    "transformer": (lambda: TransformerLM(d=256), lambda: tokens(16, 128)),
    "transformer_small": (lambda: TransformerLM(d=128), lambda: tokens(16, 128)),
    "mamba": (MambaLM, lambda: tokens(8, 64)),
    "lenet5": (LeNet5, lambda: (torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,)))),
}
results = {k: best(*c) for k, c in cases.items() if only is None or k in only}
print(json.dumps({
    "torch": torch.__version__,
    "threads": {k: n for k, (_, n) in results.items()},
    "steps_ms": {k: ms for k, (ms, _) in results.items()},
}))
