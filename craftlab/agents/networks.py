"""Neural network bodies ("encoders") that turn observations into features.

Every encoder maps a batch of raw observations (``uint8`` images are scaled to
[0, 1] inside, so buffers can keep them as bytes) to ``float32[B, features]``.
On a CPU the image encoders run a batch larger than ``cpu_chunk_size`` in
chunks (:class:`ImageEncoder`): the same numbers, from tensors that fit the caches.
Heads (policy, value, Q) live with the agents that use them.

=================  ===========================================================
``mlp``            vectors: Linear-Tanh layers (``hidden_sizes``)
``nature_cnn``     images: the DQN Nature CNN (Mnih et al. 2015) + Linear 512
``impala``         images: IMPALA ResNet (Espeholt et al. 2018), widths configurable,
                   optional GroupNorm (the 15.6 Crafter PPO recipe)
=================  ===========================================================

After the encoder, :class:`NetworkConfig` can add dense layers (``dense``,
optionally LayerNorm-ed) and an LSTM core (``lstm``); both are applied by the
actor-critic in ``agents/on_policy/policies.py``, which also owns the head init gains.

Initialisation (``weight_init``): 'default' keeps PyTorch's default init for the
convolutions and gives Linear layers orthogonal weights (gain sqrt 2) and zero
biases; 'fan_in' is the Crafter recipe's (snu-mllab/Achievement-Distillation,
``FanInInitReLULayer``): PyTorch's default init, then each output unit's weight
vector rescaled to a fixed norm, biases zero.

Layer order (``norm_placement``) for the IMPALA encoder and the dense layers:

* 'after' (craftlab's original): residual blocks are pre-activation
  ``x + conv(relu(norm(conv(relu(norm(x))))))``, a stack is
  ``conv -> maxpool -> [GroupNorm] -> blocks``, a ReLU before the flatten, and
  dense layers are ``Linear -> [LayerNorm] -> ReLU``.
* 'before' (the recipe): every layer is ``[norm(x)] -> conv/Linear -> ReLU``
  (no bias right after a norm); blocks are ``x + layer(layer(x))``; a stack is
  ``[GroupNorm] -> conv -> ReLU -> maxpool -> [GroupNorm] -> blocks`` (the first
  stack's first conv has no norm); no ReLU before the flatten; dense layers are
  ``[LayerNorm] -> Linear -> ReLU``, and ``features_layer_norm`` puts a LayerNorm
  over the flattened convolution output before the ``features`` layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, Sequence

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from craftlab.core.config import require


@dataclass
class NetworkConfig:
    """Which encoder to build and its sizes."""

    kind: Literal["auto", "mlp", "nature_cnn", "impala"] = "auto"
    """'auto' (nature_cnn for images, mlp for vectors), 'mlp', 'nature_cnn' or 'impala'"""
    hidden_sizes: list[int] = field(default_factory=lambda: [64, 64])
    """mlp: width of each hidden layer"""
    activation: Literal["tanh", "relu"] = "tanh"
    """mlp: 'tanh' or 'relu'"""
    cnn_channels: list[int] = field(default_factory=lambda: [16, 32, 32])
    """impala: channels of each conv stack"""
    cnn_blocks: int = 2
    """impala: residual blocks per stack"""
    features: int = 256
    """nature_cnn / impala: size of the dense layer after the convolutions"""
    cnn_norm: Literal["none", "group"] = "none"
    """impala: 'group' puts a GroupNorm after each stack's max-pool and before each
    conv of its residual blocks (the 15.6 Crafter PPO recipe); 'none' is plain IMPALA"""
    cnn_norm_groups: int = 1
    """impala with cnn_norm 'group': number of GroupNorm groups (1 = LayerNorm over C, H, W)"""
    dense: list[int] = field(default_factory=list)
    """widths of dense ReLU layers after the encoder, shared by both heads (the 15.6 recipe: [1024])"""
    dense_layer_norm: bool = False
    """LayerNorm in each dense layer: before its ReLU (norm_placement 'after') or on its
    input (norm_placement 'before', the recipe)"""
    norm_placement: Literal["after", "before"] = "after"
    """impala and dense layers: 'after' (craftlab's original order: pre-activation residual
    blocks, Linear -> LayerNorm -> ReLU) or 'before' (the Crafter recipe: each layer is
    [norm] -> conv/Linear without bias -> ReLU); see the module doc"""
    features_layer_norm: bool = False
    """impala: a LayerNorm over the flattened convolution output (norm_placement 'before')
    or after the features Linear ('after'), as the recipe's 8192 -> 256 layer has"""
    weight_init: Literal["default", "fan_in"] = "default"
    """impala and dense layers: 'default' (PyTorch's default for convs, orthogonal gain sqrt 2
    for Linear layers) or 'fan_in' (the recipe: each unit's weights rescaled to norm 1 for a
    stack's first conv and dense layers, sqrt(1/sqrt(stacks)/sqrt(blocks)) for residual convs,
    1.4 for the features layer; biases 0)"""
    lstm: int = 0
    """hidden size of an LSTM core after the encoder and dense layers (0: none, feed-forward).
    Recurrent policies share one encoder + LSTM between policy and value"""
    policy_init_gain: float = 0.01
    """orthogonal-init gain of the policy head (small: a near-uniform initial policy)"""
    value_init_gain: float = 1.0
    """orthogonal-init gain of the value head(s) (the 15.6 recipe uses 0.1)"""
    cpu_chunk_size: int = 256
    """nature_cnn / impala on a CPU: the most frames per pass through the convolutions; a
    larger batch runs in chunks of this size, whose outputs are concatenated (the same
    features and gradients: these encoders have no batch statistics). Smaller tensors stay
    in the CPU's caches: PPO on Crafter (minibatches of 512) with IMPALA [16, 32, 32]
    trains about 1.2x faster on a 2-core CPU, NatureCNN's PPO as fast as in one pass
    (benchmarks/encoder_chunks.py, benchmarks/crafter_cost.py). 0: the whole batch at
    once. GPUs always take the whole batch"""

    def validate(self) -> None:
        require(all(h >= 1 for h in self.hidden_sizes), "hidden_sizes", "must all be >= 1")
        require(
            len(self.cnn_channels) >= 1 and all(c >= 1 for c in self.cnn_channels),
            "cnn_channels",
            "must be a non-empty list of positive widths",
        )
        require(self.cnn_blocks >= 0, "cnn_blocks", "must be >= 0")
        require(self.features >= 1, "features", "must be >= 1")
        require(
            self.cnn_norm_groups >= 1 and all(c % self.cnn_norm_groups == 0 for c in self.cnn_channels),
            "cnn_norm_groups",
            "must be >= 1 and divide every entry of cnn_channels",
        )
        require(all(d >= 1 for d in self.dense), "dense", "must all be >= 1")
        require(self.lstm >= 0, "lstm", "must be >= 0 (0 disables the LSTM)")
        require(self.cpu_chunk_size >= 0, "cpu_chunk_size", "must be >= 0 (0: the whole batch at once)")


def layer_init(layer: nn.Module, gain: float = math.sqrt(2), bias: float = 0.0) -> nn.Module:
    """Orthogonal weights with ``gain`` and constant bias (the PPO implementation detail)."""
    if isinstance(layer, (nn.Linear, nn.Conv2d)):
        nn.init.orthogonal_(layer.weight, gain)
        nn.init.constant_(layer.bias, bias)
    return layer


def is_image_space(space: gym.Space) -> bool:
    return isinstance(space, gym.spaces.Box) and len(space.shape) == 3 and space.dtype == np.uint8


def to_chw(shape: Sequence[int]) -> tuple[int, int, int]:
    """Image observations arrive HWC (Gymnasium's convention); convs want CHW."""
    h, w, c = shape
    return c, h, w


class MLP(nn.Module):
    def __init__(self, in_features: int, hidden_sizes: Sequence[int], activation: str = "tanh"):
        super().__init__()
        act = {"tanh": nn.Tanh, "relu": nn.ReLU}[activation]
        layers: list[nn.Module] = []
        for size in hidden_sizes:
            layers += [layer_init(nn.Linear(in_features, size)), act()]
            in_features = size
        self.net = nn.Sequential(nn.Flatten(), *layers)
        self.out_features = in_features

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs.float())


class ImageEncoder(nn.Module):
    """Base of the image encoders: ``uint8[B, H, W, C]`` -> ``float32[B, features]``
    through ``self.convs`` (scaled to [0, 1], CHW) then ``self.fc``. On a CPU a batch
    larger than ``cpu_chunk_size`` (0: no limit) runs in chunks (see NetworkConfig)."""

    convs: nn.Module
    fc: nn.Module
    cpu_chunk_size: int = 0

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """``uint8[B, H, W, C]`` -> ``float32[B, features]``."""
        size = self.cpu_chunk_size
        if size > 0 and len(obs) > size and obs.device.type == "cpu":
            return torch.cat([self.encode_frames(chunk) for chunk in obs.split(size)])
        return self.encode_frames(obs)

    def encode_frames(self, obs: torch.Tensor) -> torch.Tensor:
        """One pass over all of ``obs``: ``uint8[B, H, W, C]`` -> ``float32[B, features]``."""
        x = obs.permute(0, 3, 1, 2).float() / 255.0  # uint8 HWC -> float CHW in [0, 1]
        return self.fc(self.convs(x))


class NatureCNN(ImageEncoder):
    """Conv 8x8/4 (32) -> 4x4/2 (64) -> 3x3/1 (64) -> Linear ``features``, ReLU."""

    def __init__(self, obs_shape: Sequence[int], features: int = 512):
        super().__init__()
        c, h, w = to_chw(obs_shape)
        self.convs = nn.Sequential(
            layer_init(nn.Conv2d(c, 32, 8, stride=4)),
            nn.ReLU(),
            layer_init(nn.Conv2d(32, 64, 4, stride=2)),
            nn.ReLU(),
            layer_init(nn.Conv2d(64, 64, 3, stride=1)),
            nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            n = self.convs(torch.zeros(1, c, h, w)).shape[1]
        self.fc = nn.Sequential(layer_init(nn.Linear(n, features)), nn.ReLU())
        self.out_features = features


def _norm(channels: int, groups: int) -> nn.Module:
    """GroupNorm over ``channels`` when ``groups`` > 0, else identity."""
    return nn.GroupNorm(groups, channels) if groups > 0 else nn.Identity()


class ResidualBlock(nn.Module):
    """x + conv(relu(norm(conv(relu(norm(x)))))) with 3x3 convs (pre-activation ResNet).
    ``groups`` > 0 adds GroupNorm before each ReLU; 0 is IMPALA's original block."""

    def __init__(self, channels: int, groups: int = 0):
        super().__init__()
        self.norm0, self.norm1 = _norm(channels, groups), _norm(channels, groups)
        self.conv0 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W]`` -> ``[B, C, H, W]``."""
        return x + self.conv1(torch.relu(self.norm1(self.conv0(torch.relu(self.norm0(x))))))


class ImpalaCNN(ImageEncoder):
    """IMPALA ResNet (norm_placement 'after'): per stack conv3x3 -> maxpool 3/2 -> [GroupNorm]
    -> ``blocks`` pre-activation residual blocks; then ReLU -> Linear ``features`` -> [LayerNorm]
    -> ReLU. ``norm_groups`` 0: no normalisation. Convs keep PyTorch's default init, the
    Linear layer is orthogonal (gain sqrt 2), unless ``weight_init`` is 'fan_in'."""

    def __init__(
        self,
        obs_shape: Sequence[int],
        channels: Sequence[int] = (16, 32, 32),
        blocks: int = 2,
        features: int = 256,
        norm_groups: int = 0,
        features_layer_norm: bool = False,
    ):
        super().__init__()
        c, h, w = to_chw(obs_shape)
        stacks: list[nn.Module] = []
        for out in channels:
            stacks += [nn.Conv2d(c, out, 3, padding=1), nn.MaxPool2d(3, stride=2, padding=1)]
            if norm_groups > 0:
                stacks.append(_norm(out, norm_groups))
            stacks += [ResidualBlock(out, norm_groups) for _ in range(blocks)]
            c = out
        self.convs = nn.Sequential(*stacks, nn.ReLU(), nn.Flatten())
        with torch.no_grad():
            n = self.convs(torch.zeros(1, *to_chw(obs_shape))).shape[1]
        norm: list[nn.Module] = [nn.LayerNorm(features)] if features_layer_norm else []
        self.fc = nn.Sequential(layer_init(nn.Linear(n, features)), *norm, nn.ReLU())
        self.out_features = features


class DenseStack(nn.Module):
    """Linear -> [LayerNorm] -> ReLU per width in ``sizes`` (identity for an empty list)."""

    def __init__(self, in_features: int, sizes: Sequence[int], layer_norm: bool = False):
        super().__init__()
        layers: list[nn.Module] = []
        for size in sizes:
            layers.append(layer_init(nn.Linear(in_features, size)))
            if layer_norm:
                layers.append(nn.LayerNorm(size))
            layers.append(nn.ReLU())
            in_features = size
        self.net = nn.Sequential(*layers)
        self.out_features = in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, in_features]`` -> ``[B, out_features]``."""
        return self.net(x)


def fan_in_init(layer: nn.Module, scale: float) -> nn.Module:
    """The recipe's init (``FanInInitReLULayer``): keep the layer's default random
    directions, rescale each output unit's weight vector to L2 norm ``scale``, zero biases."""
    assert isinstance(layer, (nn.Linear, nn.Conv2d))
    with torch.no_grad():
        dims = tuple(range(1, layer.weight.ndim))
        layer.weight.mul_(scale / torch.linalg.vector_norm(layer.weight, dim=dims, keepdim=True))
        if layer.bias is not None:
            layer.bias.zero_()
    return layer


class NormConvReLU(nn.Module):
    """``[GroupNorm(in)] -> conv 3x3 (bias only without the norm) -> ReLU`` (norm_placement 'before')."""

    def __init__(self, in_channels: int, out_channels: int, groups: int = 0):
        super().__init__()
        self.norm = _norm(in_channels, groups)
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=groups == 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv(self.norm(x)))


class NormLinearReLU(nn.Module):
    """``[LayerNorm(in)] -> Linear (bias only without the norm) -> ReLU`` (norm_placement 'before')."""

    def __init__(self, in_features: int, out_features: int, layer_norm: bool = False):
        super().__init__()
        self.norm = nn.LayerNorm(in_features) if layer_norm else nn.Identity()
        self.linear = nn.Linear(in_features, out_features, bias=not layer_norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.linear(self.norm(x)))


def init_linear(layer: nn.Linear, weight_init: str, fan_in_scale: float) -> None:
    """'default': orthogonal gain sqrt 2, bias 0 (:func:`layer_init`); 'fan_in': :func:`fan_in_init`."""
    if weight_init == "fan_in":
        fan_in_init(layer, fan_in_scale)
        return
    nn.init.orthogonal_(layer.weight, math.sqrt(2))
    if layer.bias is not None:
        nn.init.constant_(layer.bias, 0.0)


class NormFirstResidualBlock(nn.Module):
    """``x + layer1(layer0(x))``, each layer ``[GroupNorm] -> conv 3x3 -> ReLU`` (the recipe's CnnBasicBlock)."""

    def __init__(self, channels: int, groups: int = 0):
        super().__init__()
        self.layer0 = NormConvReLU(channels, channels, groups)
        self.layer1 = NormConvReLU(channels, channels, groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layer1(self.layer0(x))


class NormFirstImpalaCNN(ImageEncoder):
    """IMPALA ResNet in the Crafter recipe's order (snu-mllab/Achievement-Distillation,
    ``impala_cnn.py``). Per stack ``i``::

        [GroupNorm (i > 0)] -> conv 3x3 -> ReLU -> maxpool 3/2 -> [GroupNorm] -> blocks

    then flatten (no ReLU) -> [LayerNorm] -> Linear ``features`` -> ReLU.
    ``norm_groups`` 0: no GroupNorm anywhere (convs keep their biases)."""

    def __init__(
        self,
        obs_shape: Sequence[int],
        channels: Sequence[int] = (16, 32, 32),
        blocks: int = 2,
        features: int = 256,
        norm_groups: int = 0,
        features_layer_norm: bool = False,
        weight_init: str = "default",
    ):
        super().__init__()
        c, h, w = to_chw(obs_shape)
        stacks: list[nn.Module] = []
        residual_convs: list[nn.Conv2d] = []
        for i, out in enumerate(channels):
            first = NormConvReLU(c, out, norm_groups if i > 0 else 0)
            stack_blocks = [NormFirstResidualBlock(out, norm_groups) for _ in range(blocks)]
            stacks += [first, nn.MaxPool2d(3, stride=2, padding=1), _norm(out, norm_groups), *stack_blocks]
            if weight_init == "fan_in":
                fan_in_init(first.conv, 1.0)
            residual_convs += [layer.conv for b in stack_blocks for layer in (b.layer0, b.layer1)]
            c = out
        if weight_init == "fan_in":  # the recipe: block scale 1/sqrt(stacks)/sqrt(blocks), per conv its sqrt
            for conv in residual_convs:
                fan_in_init(conv, math.sqrt(1.0 / math.sqrt(len(channels)) / math.sqrt(max(blocks, 1))))
        self.convs = nn.Sequential(*stacks, nn.Flatten())
        with torch.no_grad():
            n = self.convs(torch.zeros(1, *to_chw(obs_shape))).shape[1]
        self.fc = NormLinearReLU(n, features, features_layer_norm)
        init_linear(self.fc.linear, weight_init, 1.4)
        self.out_features = features


class NormFirstDenseStack(nn.Module):
    """``[LayerNorm] -> Linear -> ReLU`` per width in ``sizes`` (the recipe's dense layers)."""

    def __init__(self, in_features: int, sizes: Sequence[int], layer_norm: bool = False, weight_init: str = "default"):
        super().__init__()
        layers: list[nn.Module] = []
        for size in sizes:
            layer = NormLinearReLU(in_features, size, layer_norm)
            init_linear(layer.linear, weight_init, 1.0)
            layers.append(layer)
            in_features = size
        self.net = nn.Sequential(*layers)
        self.out_features = in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, in_features]`` -> ``[B, out_features]``."""
        return self.net(x)


def _fan_in_after(encoder: nn.Module, blocks: int, stacks: int) -> None:
    """weight_init 'fan_in' for the norm_placement 'after' encoder: the recipe's scales by role."""
    residual = math.sqrt(1.0 / math.sqrt(stacks) / math.sqrt(max(blocks, 1)))
    for module in encoder.modules():
        if isinstance(module, ResidualBlock):
            fan_in_init(module.conv0, residual)
            fan_in_init(module.conv1, residual)
    for module in encoder.convs:
        if isinstance(module, nn.Conv2d):
            fan_in_init(module, 1.0)
    for module in encoder.fc:
        if isinstance(module, nn.Linear):
            fan_in_init(module, 1.4)


def build_encoder(space: gym.Space, config: NetworkConfig) -> nn.Module:
    """The encoder ``config.kind`` for observations from ``space``, followed by the
    ``config.dense`` layers when there are any. Has ``out_features``."""
    encoder = _build_body(space, config)
    if not config.dense:
        return encoder
    if config.norm_placement == "before":
        dense: nn.Module = NormFirstDenseStack(
            encoder.out_features, config.dense, config.dense_layer_norm, config.weight_init
        )
    else:
        dense = DenseStack(encoder.out_features, config.dense, config.dense_layer_norm)
        if config.weight_init == "fan_in":
            for module in dense.modules():
                if isinstance(module, nn.Linear):
                    fan_in_init(module, 1.0)
    body = nn.Sequential(encoder, dense)
    body.out_features = dense.out_features  # type: ignore[assignment]
    return body


def _build_body(space: gym.Space, config: NetworkConfig) -> nn.Module:
    kind = config.kind
    if kind == "auto":
        kind = "nature_cnn" if is_image_space(space) else "mlp"
    if kind == "mlp":
        if not isinstance(space, gym.spaces.Box):
            raise ValueError(
                f"network 'mlp' needs a Box observation space, got {space}; "
                "wrap Discrete observations with the 'one_hot' wrapper"
            )
        return MLP(int(np.prod(space.shape)), config.hidden_sizes, config.activation)
    if kind in ("nature_cnn", "impala"):
        if not is_image_space(space):
            raise ValueError(f"network '{kind}' needs uint8 HxWxC image observations, got {space}")
        encoder = _build_image_encoder(space, config, kind)
        encoder.cpu_chunk_size = config.cpu_chunk_size
        return encoder
    raise ValueError(f"unknown network kind '{kind}'; use auto, mlp, nature_cnn or impala")


def _build_image_encoder(space: gym.Space, config: NetworkConfig, kind: str) -> ImageEncoder:
    if kind == "nature_cnn":
        return NatureCNN(space.shape, features=config.features)
    groups = config.cnn_norm_groups if config.cnn_norm == "group" else 0
    if config.norm_placement == "before":
        return NormFirstImpalaCNN(
            space.shape,
            config.cnn_channels,
            config.cnn_blocks,
            config.features,
            groups,
            config.features_layer_norm,
            config.weight_init,
        )
    impala = ImpalaCNN(
        space.shape, config.cnn_channels, config.cnn_blocks, config.features, groups, config.features_layer_norm
    )
    if config.weight_init == "fan_in":
        _fan_in_after(impala, config.cnn_blocks, len(config.cnn_channels))
    return impala
