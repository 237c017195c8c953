"""A literal, loop-based transcription of docs/design.md, "The core contract" in numpy, for cross-checking the core."""

from __future__ import annotations

import numpy as np
import torch

IGNORE = 255


def reference_pixl_loss(low, high, *, num_classes, eta, temperature, adaptive_selection=True):
    resolutions = [low] if high is None else [low, high]
    per_res = []
    for features, logits, labels in resolutions:
        f = features.detach().double().numpy()
        z = logits.detach().double().numpy()
        y = labels.numpy()
        b, d = f.shape[:2]
        f = f.reshape(b, d, -1).transpose(0, 2, 1)  # [B, N, D]
        f = f / np.maximum(np.linalg.norm(f, axis=2, keepdims=True), 1e-12)
        z = z.reshape(b, num_classes, -1).transpose(0, 2, 1)
        p = np.exp(z - z.max(axis=2, keepdims=True))
        p /= p.sum(axis=2, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            h = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=2)
        per_res.append((f, h, y.reshape(b, -1)))
    batch = per_res[0][0].shape[0]
    joint = [np.zeros_like(r[2], dtype=bool) for r in per_res]
    drift = [np.zeros_like(r[2], dtype=bool) for r in per_res]
    for i in range(batch):
        pooled = np.concatenate([r[1][i][r[2][i] != IGNORE] for r in per_res])
        if pooled.size == 0:
            continue
        t = np.quantile(pooled, 1 - eta)
        for k, (_, h, y) in enumerate(per_res):
            valid = y[i] != IGNORE
            joint[k][i] = valid & (h[i] < t)
            drift[k][i] = valid & (h[i] >= t)
    d = per_res[0][0].shape[2]
    sums = np.zeros((len(per_res), num_classes, d))
    counts = np.zeros((len(per_res), num_classes))
    for k, (f, _, y) in enumerate(per_res):
        for i in range(batch):
            for n in range(y.shape[1]):
                if joint[k][i, n]:
                    sums[k, y[i, n]] += f[i, n]
                    counts[k, y[i, n]] += 1

    def unit(v):
        norm = np.linalg.norm(v)
        return v / norm if norm > 1e-12 else v

    protos = {}
    if high is not None and adaptive_selection:
        n_low, n_high = counts[0], counts[1]
        positive = n_low[n_low > 0]
        m = np.median(positive) if positive.size else np.inf
        for c in range(num_classes):
            if n_low[c] == 0 and n_high[c] == 0:
                continue
            if n_low[c] >= m or (n_low[c] < m and n_high[c] < n_low[c]):
                protos[c] = unit(sums[0, c])
            else:
                protos[c] = unit(sums[1, c])
    else:
        for c in range(num_classes):
            if counts[:, c].sum() > 0:
                protos[c] = unit(sums[:, c].sum(axis=0))
    losses = []
    for k, (f, _, y) in enumerate(per_res):
        for i in range(batch):
            for n in range(y.shape[1]):
                c = y[i, n]
                if drift[k][i, n] and c in protos:
                    logits = {j: f[i, n] @ p / temperature for j, p in protos.items()}
                    top = max(logits.values())
                    lse = top + np.log(sum(np.exp(v - top) for v in logits.values()))
                    losses.append(lse - logits[c])
    return float(np.mean(losses)) if losses else 0.0


def random_resolution(
    generator, batch, dim, classes, size, ignore_fraction=0.2, dtype=torch.float64
):
    h, w = size
    features = torch.randn(batch, dim, h, w, generator=generator, dtype=dtype)
    logits = 3 * torch.randn(batch, classes, h, w, generator=generator, dtype=dtype)
    labels = torch.randint(0, classes, (batch, h, w), generator=generator)
    ignored = torch.rand(batch, h, w, generator=generator) < ignore_fraction
    labels[ignored] = IGNORE
    return features, logits, labels
