"""The few modules cnntui's networks use beyond torch.nn, each the PyTorch twin of one cnntui layer.

model.py builds the network from these and torch.nn's own layers. The wiring modules (Residual, Concat,
SplitConcat, SqueezeExcite) take their layers as (name, module) pairs and keep them as attributes of their
own, so the state-dict keys are the seed's attribute names (`layer1.0.conv1.weight`), the same keys as
cnntui's model.safetensors. Their own settings sit in underscored attributes, clear of any layer's name.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

ACTIVATIONS = {None: lambda x: x, "relu": F.relu, "relu6": F.relu6, "silu": F.silu, "sigmoid": torch.sigmoid}


def _run(module, names, x):
    """Applies the named children of `module`, in order, to x."""
    for name in names:
        x = module._modules[name](x)
    return x


def _adopt(module, pairs):
    """Registers each (name, layer) pair on module and returns the names in order."""
    for name, layer in pairs:
        module.add_module(name, layer)
    return [name for name, _ in pairs]


class Linear(nn.Linear):
    """nn.Linear over x.flatten(1): cnntui's Linear takes a [N, C, 1, 1] map as [N, C]."""

    def forward(self, x):
        return super().forward(x.flatten(1))


class Sequential(nn.Module):
    """nn.Sequential over (name, module) pairs in which a stateless layer's name may come twice (ShuffleNetV2
    applies its one `relu` after bn1 and again after bn2), which nn.Sequential(OrderedDict(...)) would fold
    into one."""

    def __init__(self, layers):
        super().__init__()
        self._layers = _adopt(self, layers)

    def forward(self, x):
        return _run(self, self._layers, x)


class Residual(nn.Module):
    """y = activation(body(x) + shortcut(x)), an identity shortcut when there is none."""

    def __init__(self, body, shortcut=None, activation=None):
        super().__init__()
        self._body = _adopt(self, body)
        self._shortcut = _adopt(self, [shortcut])[0] if shortcut else None
        self._activation = activation

    def forward(self, x):
        side = self._modules[self._shortcut](x) if self._shortcut else x
        return ACTIVATIONS[self._activation](_run(self, self._body, x) + side)


class Concat(nn.Module):
    """y = activation(torch.cat([branch(x) for branch in branches], dim=1)); every branch reads x."""

    def __init__(self, branches, activation=None):
        super().__init__()
        self._branches = [_adopt(self, branch) for branch in branches]
        self._activation = activation

    def forward(self, x):
        return ACTIVATIONS[self._activation](torch.cat([_run(self, names, x) for names in self._branches], dim=1))


class SplitConcat(nn.Module):
    """ShuffleNetV2's basic unit: the first `split_at` channels pass, the rest go through the body."""

    def __init__(self, split_at, body):
        super().__init__()
        self._split_at = split_at
        self._body = _adopt(self, body)

    def forward(self, x):
        return torch.cat([x[:, :self._split_at], _run(self, self._body, x[:, self._split_at:])], dim=1)


class SqueezeExcite(nn.Module):
    """y = x * gate(x), one gate value per sample and channel."""

    def __init__(self, gate):
        super().__init__()
        self._gate = _adopt(self, gate)

    def forward(self, x):
        return x * _run(self, self._gate, x).view(x.shape[0], x.shape[1], 1, 1)


class Block(nn.Module):
    """One of the seeds' block classes (`kind` names it): stages applied in order.

    A stage given as (name, module) is a submodule under that name; a stage given bare (a Residual, a Concat,
    ...) lends its layers to this block, so their keys read `layer1.0.conv1.weight` as the seed's
    module has them, not `layer1.0.residual.conv1.weight`. The bare stages are kept in a plain list, out of the
    module tree; their layers are in it, through this block.
    """

    def __init__(self, kind, *stages):
        super().__init__()
        self._kind = kind
        self._stages = []
        for stage in stages:
            if isinstance(stage, tuple):
                self.add_module(*stage)
                self._stages.append(stage[1])
            else:
                _adopt(self, list(stage.named_children()))
                self._stages.append(stage)

    def forward(self, x):
        for stage in self._stages:
            x = stage(x)
        return x

    def extra_repr(self):
        return self._kind


class ChannelShuffle(nn.Module):
    """Channel shuffle, the two ways the seeds write it.

    "groups_first" (ShuffleNetV2): view [N, g, C/g, H, W], swap the two channel axes.
    "channels_first" (ShuffleNetV1): view [N, C/g, g, H, W], swap them: the same as groups_first with C/g groups.
    """

    def __init__(self, groups, order):
        super().__init__()
        self.groups = groups
        self.order = order

    def forward(self, x):
        n, c, h, w = x.shape
        g = self.groups if self.order == "groups_first" else c // self.groups
        return x.view(n, g, c // g, h, w).transpose(1, 2).reshape(n, c, h, w)

    def extra_repr(self):
        return f"groups={self.groups}, order={self.order}"


class DropPath(nn.Module):
    """Stochastic depth (timm's drop_path): in training, zero a whole sample with probability p, scale the
    kept ones by 1/(1-p)."""

    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        keep = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype, device=x.device)
        return x * keep.bernoulli_(1 - self.p) / (1 - self.p)

    def extra_repr(self):
        return f"p={self.p}"


class GroupConv(nn.Module):
    """MindSpore seed 002's GroupConv: `groups` separate convolutions over equal channel slices,
    concatenated (weights `convs.i.weight`)."""

    def __init__(self, in_channels, out_channels, kernel_size, groups):
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(in_channels // groups, out_channels // groups, kernel_size, padding=kernel_size // 2, bias=False)
            for _ in range(groups))

    def forward(self, x):
        slices = x.chunk(len(self.convs), dim=1)
        return torch.cat([conv(part) for conv, part in zip(self.convs, slices)], dim=1)
