"""Batch norm over the whole batch of every process, so that N processes with B/N samples
each normalise as one process with B does.

On a GPU, PyTorch's ``SyncBatchNorm``.  On the CPU (gloo), PyTorch refuses to sync
("SyncBatchNorm expected input tensor to be on GPU"), so ``CPUSyncBatchNorm`` does it
here, with the same parameters and buffers (the state dict's keys do not change).  Per
channel c, over the N·H·W (or N·L) values of every process r:

    forward   n_r, μ_r = mean, M2_r = Σ (x − μ_r)²             each process, two passes
              (gathered) n = Σ n_r,  μ = Σ n_r μ_r / n,
                         σ² = Σ [M2_r + n_r (μ_r − μ)²] / n       (Chan et al.'s merge)
              x̂ = (x − μ) / √(σ² + ε),   y = γ x̂ + β
              running_mean ← (1 − m) running_mean + m μ
              running_var  ← (1 − m) running_var + m σ² n / (n − 1)     (unbiased)
    backward  with g = ∂ℓ/∂y and the sums over every process:
              ∂ℓ/∂x = γ / √(σ² + ε) · (g − Σ g / n − x̂ · Σ (g x̂) / n)
              ∂ℓ/∂γ = Σ_local g x̂,   ∂ℓ/∂β = Σ_local g   (DistributedDataParallel averages
              them over the processes, as every other parameter's gradient)

Each process's loss is the mean over its own shard, so Σ g gathers every process's
upstream gradient: the gradient of the sum of the N losses, which DDP's average turns into
the gradient of their mean — the single-process batch's mean loss.
"""
from __future__ import annotations

import torch
import torch.distributed as dist


class _SyncedBatchNorm(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, eps, momentum, group):
        axes = [0] + list(range(2, x.dim()))
        shape = [1, -1] + [1] * (x.dim() - 2)
        count = x.numel() // x.shape[1]
        local_mean = x.sum(axes, dtype=torch.float64) / count
        local_m2 = (x - local_mean.view(shape).to(x.dtype)).square().sum(axes,
                                                                          dtype=torch.float64)
        mine = torch.cat([torch.full_like(local_mean[:1], count), local_mean, local_m2])
        gathered = [torch.empty_like(mine) for _ in range(dist.get_world_size(group))]
        dist.all_gather(gathered, mine, group=group)
        stats = torch.stack(gathered)                       # (processes, 1 + 2C)
        counts, means, m2s = stats[:, :1], stats[:, 1:1 + x.shape[1]], stats[:, 1 + x.shape[1]:]
        total = counts.sum()
        mean = (counts * means).sum(0) / total
        variance = (m2s + counts * (means - mean).square()).sum(0) / total
        invstd = torch.rsqrt(variance + eps)
        with torch.no_grad():
            running_mean.mul_(1 - momentum).add_(mean.to(running_mean.dtype), alpha=momentum)
            unbiased = variance * total / max(float(total) - 1, 1.0)
            running_var.mul_(1 - momentum).add_(unbiased.to(running_var.dtype), alpha=momentum)
        normalised = (x - mean.view(shape).to(x.dtype)) * invstd.view(shape).to(x.dtype)
        ctx.save_for_backward(normalised, weight, invstd)
        ctx.group, ctx.total = group, total
        return normalised * weight.view(shape) + bias.view(shape)

    @staticmethod
    def backward(ctx, grad):
        normalised, weight, invstd = ctx.saved_tensors
        axes = [0] + list(range(2, grad.dim()))
        shape = [1, -1] + [1] * (grad.dim() - 2)
        grad_bias = grad.sum(axes)
        grad_weight = (grad * normalised).sum(axes)
        sums = torch.cat([grad_bias.to(torch.float64), grad_weight.to(torch.float64)])
        dist.all_reduce(sums, group=ctx.group)
        channels = grad.shape[1]
        mean_grad = (sums[:channels] / ctx.total).to(grad.dtype).view(shape)
        mean_grad_normalised = (sums[channels:] / ctx.total).to(grad.dtype).view(shape)
        scale = (weight * invstd.to(weight.dtype)).view(shape)
        grad_input = scale * (grad - mean_grad - normalised * mean_grad_normalised)
        return grad_input, grad_weight, grad_bias, None, None, None, None, None


class CPUSyncBatchNorm(torch.nn.modules.batchnorm._BatchNorm):
    """Batch norm of any rank (``BatchNorm1d``'s and ``2d``'s parameters and buffers)
    whose training-mode forward syncs over the processes (gloo); in eval mode, batch norm
    with the running statistics.  Not a ``torch.nn.SyncBatchNorm``, which
    DistributedDataParallel refuses on the CPU."""

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {x.dim()}D input)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)
        self._check_input_dim(x)
        self.num_batches_tracked.add_(1)
        momentum = 1.0 / float(self.num_batches_tracked) if self.momentum is None \
            else self.momentum
        return _SyncedBatchNorm.apply(x, self.weight, self.bias, self.running_mean,
                                      self.running_var, self.eps, momentum, dist.group.WORLD)


def synced_batch_norm(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``module`` with each batch norm replaced by a synced one (weights and running
    statistics kept): PyTorch's on a GPU, ``CPUSyncBatchNorm`` on the CPU."""
    if device.type != "cpu":
        return torch.nn.SyncBatchNorm.convert_sync_batchnorm(module)
    if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
        if not (module.affine and module.track_running_stats):
            raise ValueError("synced batch norm here needs affine=True and "
                             "track_running_stats=True (as every registry model has)")
        synced = CPUSyncBatchNorm(module.num_features, module.eps, module.momentum)
        synced.load_state_dict(module.state_dict())
        synced.train(module.training)
        return synced
    for name, child in module.named_children():
        setattr(module, name, synced_batch_norm(child, device))
    return module
