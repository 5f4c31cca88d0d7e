"""cnntui's learning-rate schedules, stepped as cnntui steps them, with the state cnntui checkpoints.

They are PyTorch's schedules in closed form (StepLR, MultiStepLR, LinearLR + CosineAnnealingLR, ReduceLROnPlateau),
kept as small classes rather than ``torch.optim.lr_scheduler`` objects because a cnntui run can also change the
rate by hand: ``override(lr)`` continues the curve from the new value exactly as cnntui does, and ``state`` /
``restore`` read and write the very dictionaries of cnntui's ``train_state.json``, so a run moves between the two
engines without a jump in its rate.

Each training step calls ``step_batch()`` after ``optimizer.step()``; each epoch's end calls
``step_epoch(test_loss)``. Both return the rate to use from then on.
"""
from __future__ import annotations

import math


class Constant:
    def __init__(self, lr: float):
        self.lr = lr

    def step_batch(self):
        return self.lr

    def step_epoch(self, metric):
        return self.lr

    def override(self, lr):
        self.lr = lr

    @property
    def state(self):
        return {"lr": self.lr}

    def restore(self, state):
        self.lr = state["lr"]


class EpochDecay:
    """StepLR (``every`` epochs) or MultiStepLR (at each of ``milestones``), by ``gamma``.
    The rate is ``anchor_lr * gamma ** (decays(epoch) - anchor_decays)``; a manual change moves the anchor."""

    def __init__(self, lr: float, gamma: float, every: int | None = None, milestones: list | None = None):
        self.gamma, self.every, self.milestones = gamma, every, sorted(milestones or [])
        self.epoch, self.anchor_lr, self.anchor_decays, self.lr = 0, lr, 0, lr

    def decays(self, epoch):
        if self.every:
            return epoch // self.every
        return sum(1 for m in self.milestones if m <= epoch)

    def step_batch(self):
        return self.lr

    def step_epoch(self, metric):
        self.epoch += 1
        rate = self.anchor_lr
        for _ in range(max(0, self.decays(self.epoch) - self.anchor_decays)):
            rate *= self.gamma  # multiplied step by step, as PyTorch does
        self.lr = rate
        return self.lr

    def override(self, lr):
        self.lr = self.anchor_lr = lr
        self.anchor_decays = self.decays(self.epoch)

    @property
    def state(self):
        return {"epoch": self.epoch, "anchor_lr": self.anchor_lr, "anchor_decays": self.anchor_decays, "lr": self.lr}

    def restore(self, state):
        self.epoch, self.anchor_lr = int(state["epoch"]), state["anchor_lr"]
        self.anchor_decays, self.lr = int(state["anchor_decays"]), state["lr"]


class WarmupCosine:
    """Per batch: linear warm-up from ``start * base`` over W batches, then cosine to ``min`` at batch T
    (PyTorch's ``SequentialLR([LinearLR, CosineAnnealingLR])``); flat at ``min`` past T."""

    def __init__(self, lr: float, minimum: float, warmup_steps: int, total_steps: int, start: float):
        self.base, self.minimum, self.warmup, self.total, self.start = lr, minimum, warmup_steps, total_steps, start
        self.batch = 0
        self.lr = self.rate(0)

    def rate(self, t):
        if t < self.warmup:
            return self.base * (self.start + (1 - self.start) * t / self.warmup)
        if t > self.total:
            return self.minimum
        progress = (t - self.warmup) / (self.total - self.warmup)
        return self.minimum + (self.base - self.minimum) * (1 + math.cos(math.pi * progress)) / 2

    def step_batch(self):
        self.batch += 1
        self.lr = self.rate(self.batch)
        return self.lr

    def step_epoch(self, metric):
        return self.lr

    def override(self, lr):
        if self.lr > 0:  # the whole curve scales by new / current: same shape, same remaining length
            self.base *= lr / self.lr
            self.minimum *= lr / self.lr
        else:
            self.base = self.minimum = lr
        self.lr = lr

    @property
    def state(self):
        return {"batch": self.batch, "base_lr": self.base, "min_lr": self.minimum, "lr": self.lr}

    def restore(self, state):
        self.batch, self.base, self.minimum, self.lr = int(state["batch"]), state["base_lr"], state["min_lr"], state["lr"]


class Plateau:
    """ReduceLROnPlateau on the test loss, stepped once per epoch."""

    def __init__(self, lr: float, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_lr=0.0, eps=1e-8):
        self.mode, self.factor, self.patience, self.threshold = mode, factor, patience, threshold
        self.threshold_mode, self.cooldown, self.min_lr, self.eps = threshold_mode, cooldown, min_lr, eps
        self.lr, self.best = lr, math.inf if mode == "min" else -math.inf
        self.bad, self.cooldown_counter, self.epoch = 0, 0, 0

    def better(self, m):
        if self.mode == "min":
            return m < self.best * (1 - self.threshold) if self.threshold_mode == "rel" else m < self.best - self.threshold
        return m > self.best * (1 + self.threshold) if self.threshold_mode == "rel" else m > self.best + self.threshold

    def step_batch(self):
        return self.lr

    def step_epoch(self, metric):
        if metric is None:
            return self.lr
        self.epoch += 1
        if self.better(metric):
            self.best, self.bad = metric, 0
        else:
            self.bad += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.bad = 0
        if self.bad > self.patience:
            reduced = max(self.lr * self.factor, self.min_lr)
            if self.lr - reduced > self.eps:
                self.lr = reduced
            self.cooldown_counter, self.bad = self.cooldown, 0
        return self.lr

    def override(self, lr):
        self.lr = lr

    @property
    def state(self):
        return {"lr": self.lr, "best": self.best, "num_bad_epochs": self.bad, "cooldown_counter": self.cooldown_counter,
                "epoch": self.epoch}

    def restore(self, state):
        best = state["best"]
        self.best = {"inf": math.inf, "-inf": -math.inf}.get(best, best) if isinstance(best, str) else best
        self.lr, self.bad = state["lr"], int(state["num_bad_epochs"])
        self.cooldown_counter, self.epoch = int(state["cooldown_counter"]), int(state["epoch"])


def make_schedule(spec: dict, lr: float, epochs: int, steps_per_epoch: int):
    """The schedule the recipe's ``schedule`` section describes (parsed by cnntui from its ``--schedule`` spec)."""
    kind = spec["kind"]
    if kind == "constant":
        return Constant(lr)
    if kind == "step":
        return EpochDecay(lr, spec["gamma"], every=spec["epochs"])
    if kind == "multistep":
        return EpochDecay(lr, spec["gamma"], milestones=spec["milestones"])
    if kind == "cosine":
        return WarmupCosine(lr, spec["min"], spec["warmup_epochs"] * steps_per_epoch, epochs * steps_per_epoch,
                            spec["start"])
    if kind == "plateau":
        return Plateau(lr, spec["mode"], spec["factor"], spec["patience"], spec["threshold"], spec["threshold_mode"],
                       spec["cooldown"], spec["min"], spec["eps"])
    raise ValueError(f"schedule kind '{kind}' is not one of constant, step, multistep, cosine, plateau")
