"""GNN training step: e2ejax (jitted, padded graphs) vs the same architecture in PyTorch Geometric.

Run: ``pip install '.[bench]'`` (PyTorch and PyTorch Geometric) then ``python benchmarks/gnn.py``
(quickest: ``--batches 32``). Both sides get the same point clouds (batch of B graphs, N padded points, F features),
build a kNN graph (k neighbours in the last two features) inside the step, run the
same EdgeConv layers (mean aggregation, skip connection), mean+max pooling and an
MLP head, and take one Adam step on the binary cross-entropy. PyG works on the real
nodes only (its ragged layout); e2ejax on the padded batch with masks.

Each row gives both the same threads: PyTorch through ``torch.set_num_threads`` and XLA in a
child process pinned to that many cores (``sched_setaffinity``) with, for one thread, XLA's
multi-threaded Eigen off and one intra-op thread (``XLA_FLAGS`` is read when JAX starts, so
each thread count needs its own process). Without PyTorch the table has the e2ejax columns only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import best_time, table  # noqa: E402

F, HIDDEN, HEAD = 7, (32, 32, 64), 64
ONE_THREAD_XLA = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def make_data(B, N, F, rng):
    points = rng.normal(size=(B, N, F)).astype(np.float32)
    n_real = rng.integers(N // 2, N + 1, B)
    mask = (np.arange(N)[None, :] < n_real[:, None]).astype(np.float32)
    labels = rng.integers(0, 2, B).astype(np.float32)
    return points * mask[..., None], mask, labels


def torch_step_factory(F, hidden, head, k, threads):
    import torch
    from torch_geometric.nn import MessagePassing, global_max_pool, global_mean_pool

    torch.set_num_threads(threads)

    class EdgeConv(MessagePassing):
        def __init__(self, c_in, c_out):
            super().__init__(aggr="mean")
            self.edge1 = torch.nn.Linear(2 * c_in, c_out)
            self.edge2 = torch.nn.Linear(c_out, c_out)
            self.skip = torch.nn.Linear(c_in, c_out)

        def forward(self, x, edge_index):
            return torch.relu(self.propagate(edge_index, x=x) + self.skip(x))

        def message(self, x_i, x_j):
            return self.edge2(torch.relu(self.edge1(torch.cat([x_i, x_j - x_i], dim=-1))))

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            widths = [F] + list(hidden)
            self.layers = torch.nn.ModuleList([EdgeConv(a, b) for a, b in zip(widths[:-1], widths[1:])])
            self.mlp = torch.nn.Linear(2 * widths[-1], head)
            self.out = torch.nn.Linear(head, 1)

        def forward(self, x, edge_index, batch, n_graphs):
            for layer in self.layers:
                x = layer(x, edge_index)
            pooled = torch.cat([global_mean_pool(x, batch, n_graphs), global_max_pool(x, batch, n_graphs)], dim=-1)
            return self.out(torch.relu(self.mlp(pooled)))[:, 0]

    def knn_edges(pos_padded, n_real):
        # per-graph kNN on the padded [B, N, 2] positions (as e2ejax does), mapped to
        # PyG's flat indices of the real nodes (real nodes come first in each graph)
        B, N, _ = pos_padded.shape
        dist = torch.cdist(pos_padded, pos_padded)
        idx = torch.arange(N)
        real = idx[None, :] < n_real[:, None]
        dist = dist.masked_fill(~(real[:, :, None] & real[:, None, :]), float("inf"))
        dist = dist.masked_fill(idx[:, None] == idx[None, :], float("inf"))
        kk = min(k, int(n_real.min()) - 1)
        nb = dist.topk(kk, largest=False).indices  # [B, N, kk]
        offset = torch.cumsum(n_real, 0) - n_real
        senders = (nb + offset[:, None, None])[real]
        receivers = (idx[None, :, None].expand(B, N, kk) + offset[:, None, None])[real]
        return torch.stack([senders.reshape(-1), receivers.reshape(-1)])

    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def step(x, pos_padded, n_real, batch, labels, n_graphs):
        edge_index = knn_edges(pos_padded, n_real)
        opt.zero_grad()
        loss = loss_fn(net(x, edge_index, batch, n_graphs), labels)
        loss.backward()
        opt.step()
        return loss

    return step


def xla_step_seconds(B, n_points, k, seed):
    """Best seconds per e2ejax GNN training step on this process's cores (JAX imported here)."""
    import jax.numpy as jnp
    import optax
    from flax import nnx

    from e2ejax import nets
    from e2ejax.training import Batch, make_steps

    points, mask, labels = make_data(B, n_points, F, np.random.default_rng(seed))
    model = nets.build("gnn", {"n_points": n_points, "n_features": F, "k": k, "hidden": list(HIDDEN), "head": HEAD}, rngs=nnx.Rngs(0))
    steps = make_steps(model, optax.adam(1e-3))
    state = [steps.init()]
    batch = Batch((jnp.asarray(points), jnp.asarray(mask)), jnp.asarray(labels), jnp.ones(B), jnp.zeros(B))

    def step():
        state[0], metrics = steps.train_step(state[0], batch)
        return metrics["loss"]

    return best_time(step, repeat=5, number=5)


def xla_in_child(threads, B, n_points, k, seed):
    """:func:`xla_step_seconds` in a fresh process limited to ``threads`` cores (see the module docstring)."""
    env = dict(os.environ, XLA_FLAGS=(os.environ.get("XLA_FLAGS", "") + " " + ONE_THREAD_XLA).strip()) if threads == 1 else dict(os.environ)
    code = (f"import os, sys; os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:{threads}])); "
            f"sys.argv = ['gnn.py']; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); import gnn, json; "
            f"print(json.dumps(gnn.xla_step_seconds({B}, {n_points}, {k}, {seed})))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def torch_step_seconds(threads, B, n_points, k, seed):
    """Best seconds per PyG training step with ``threads`` PyTorch threads on the same data."""
    import torch

    points, mask, labels = make_data(B, n_points, F, np.random.default_rng(seed))
    real = mask.reshape(-1) > 0
    x = torch.from_numpy(points.reshape(-1, F)[real])
    graph = torch.from_numpy(np.repeat(np.arange(B), n_points)[real])
    y = torch.from_numpy(labels)
    pos_padded = torch.from_numpy(points[..., -2:].copy())
    n_real = torch.from_numpy(mask.sum(1).astype(np.int64))
    tstep = torch_step_factory(F, HIDDEN, HEAD, k, threads)
    tstep(x, pos_padded, n_real, graph, y, B)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(5):
            tstep(x, pos_padded, n_real, graph, y, B)
        best = min(best, (time.perf_counter() - t0) / 5)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--points", type=int, default=64)
    parser.add_argument("--k", type=int, default=8)
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        torch = None
        print("PyTorch / PyG not installed (pip install '.[bench]'): e2ejax columns only")
    cores = len(os.sched_getaffinity(0))
    rows = []
    for B in args.batches:
        for threads in sorted({1, cores}):
            t_jax = xla_in_child(threads, B, args.points, args.k, seed=B)
            row = {"graphs/batch": B, "threads": threads, "e2ejax ms/step": f"{t_jax * 1e3:.1f}"}
            if torch is not None:
                t_torch = torch_step_seconds(threads, B, args.points, args.k, seed=B)
                row.update({"PyG ms/step": f"{t_torch * 1e3:.1f}", "PyG / e2ejax": f"{t_torch / t_jax:.2f}"})
            points, mask, _ = make_data(B, args.points, F, np.random.default_rng(B))
            row["real nodes"] = int(mask.sum())
            rows.append(row)
    versions = f"torch {torch.__version__}; " if torch is not None else ""
    print(f"{versions}N={args.points} padded points, k={args.k}, widths {HIDDEN}, {cores} cores")
    print(table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
