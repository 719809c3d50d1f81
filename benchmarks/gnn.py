"""GNN training step: e2ejax (jitted, padded graphs) vs the same architecture in PyTorch Geometric.

Run: ``pip install torch==2.13.0 torch-geometric`` then ``python benchmarks/gnn.py``.
Both sides get the same point clouds (batch of B graphs, N padded points, F features),
build a kNN graph (k neighbours in the last two features) inside the step, run the
same EdgeConv layers (mean aggregation, skip connection), mean+max pooling and an
MLP head, and take one Adam step on the binary cross-entropy. PyG works on the real
nodes only (its ragged layout); e2ejax on the padded batch with masks.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

sys.path.insert(0, os.path.dirname(__file__))
from _timing import best_time, table  # noqa: E402

from e2ejax import nets  # noqa: E402
from e2ejax.training import Batch, make_steps  # noqa: E402


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--points", type=int, default=64)
    parser.add_argument("--k", type=int, default=8)
    args = parser.parse_args(argv)
    import torch

    F, hidden, head = 7, (32, 32, 64), 64
    rng = np.random.default_rng(0)
    rows = []
    for B in args.batches:
        points, mask, labels = make_data(B, args.points, F, rng)
        model = nets.build("gnn", {"n_points": args.points, "n_features": F, "k": args.k, "hidden": list(hidden), "head": head}, rngs=nnx.Rngs(0))
        steps = make_steps(model, optax.adam(1e-3))
        state = [steps.init()]
        batch = Batch((jnp.asarray(points), jnp.asarray(mask)), jnp.asarray(labels), jnp.ones(B), jnp.zeros(B))

        def jax_step():
            state[0], metrics = steps.train_step(state[0], batch)
            return metrics["loss"]

        t_jax = best_time(jax_step, repeat=5, number=5)
        real = mask.reshape(-1) > 0
        x = torch.from_numpy(points.reshape(-1, F)[real])
        graph = torch.from_numpy(np.repeat(np.arange(B), args.points)[real])
        y = torch.from_numpy(labels)
        pos_padded = torch.from_numpy(points[..., -2:].copy())
        n_real = torch.from_numpy(mask.sum(1).astype(np.int64))
        for threads in (1, 2):
            tstep = torch_step_factory(F, hidden, head, args.k, threads)
            tstep(x, pos_padded, n_real, graph, y, B)
            best = float("inf")
            for _ in range(5):
                t0 = time.perf_counter()
                for _ in range(5):
                    tstep(x, pos_padded, n_real, graph, y, B)
                best = min(best, (time.perf_counter() - t0) / 5)
            rows.append({
                "graphs/batch": B, "torch threads": threads,
                "e2ejax ms/step": f"{t_jax * 1e3:.1f}", "PyG ms/step": f"{best * 1e3:.1f}",
                "PyG / e2ejax": f"{best / t_jax:.2f}",
                "real nodes": int(real.sum()),
            })
    print(f"jax {jax.__version__}, torch {torch.__version__}; N={args.points} padded points, k={args.k}, widths {hidden}")
    print(table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
