"""network.cpu_chunk_size: image encoders run a large batch in chunks on a CPU, with the
same features and gradients as one pass over the whole batch (speed:
benchmarks/encoder_chunks.py)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from craftlab.agents.networks import ImageEncoder, NetworkConfig, build_encoder
from craftlab.core.config import ConfigError

SPACE = gym.spaces.Box(0, 255, (64, 64, 3), np.uint8)
NETWORKS = {
    "nature_cnn": {"kind": "nature_cnn", "features": 64},
    "impala_after": {"kind": "impala", "cnn_channels": [8, 16], "cnn_blocks": 1, "cnn_norm": "group"},
    "impala_recipe": {
        "kind": "impala",
        "cnn_channels": [8, 16],
        "cnn_blocks": 1,
        "cnn_norm": "group",
        "norm_placement": "before",
        "features_layer_norm": True,
        "weight_init": "fan_in",
        "dense": [32],
        "dense_layer_norm": True,
    },
}


def _features_and_grads(encoder: torch.nn.Module, obs: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    encoder.zero_grad(set_to_none=True)
    features = encoder(obs)
    (features * torch.linspace(-1, 1, features.shape[1])).square().mean().backward()
    return features.detach(), [p.grad.clone() for p in encoder.parameters()]


@pytest.mark.parametrize("name", list(NETWORKS))
def test_chunks_give_the_whole_batchs_features_and_gradients(name, monkeypatch):
    torch.manual_seed(0)
    encoder = build_encoder(SPACE, NetworkConfig(**NETWORKS[name], cpu_chunk_size=128))
    image = next(m for m in encoder.modules() if isinstance(m, ImageEncoder))
    assert image.cpu_chunk_size == 128
    passes: list[int] = []
    encode_frames = image.encode_frames
    monkeypatch.setattr(image, "encode_frames", lambda obs: passes.append(len(obs)) or encode_frames(obs))
    obs = torch.randint(0, 256, (300, 64, 64, 3), dtype=torch.uint8)

    chunked = _features_and_grads(encoder, obs)
    assert passes == [128, 128, 44]  # the last chunk is the remainder: no frame dropped or repeated
    passes.clear()
    image.cpu_chunk_size = 0
    whole = _features_and_grads(encoder, obs)
    assert passes == [300]

    assert chunked[0].shape == whole[0].shape == (300, encoder.out_features)
    torch.testing.assert_close(chunked[0], whole[0], rtol=1e-5, atol=1e-5)
    for got, want in zip(chunked[1], whole[1]):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)


def test_a_batch_within_the_chunk_size_is_one_pass(monkeypatch):
    encoder = build_encoder(SPACE, NetworkConfig(kind="nature_cnn"))
    assert isinstance(encoder, ImageEncoder) and encoder.cpu_chunk_size == NetworkConfig().cpu_chunk_size > 0
    passes: list[int] = []
    encode_frames = encoder.encode_frames
    monkeypatch.setattr(encoder, "encode_frames", lambda obs: passes.append(len(obs)) or encode_frames(obs))
    encoder(torch.zeros(encoder.cpu_chunk_size, 64, 64, 3, dtype=torch.uint8))
    assert passes == [encoder.cpu_chunk_size]


def test_a_negative_chunk_size_is_refused():
    with pytest.raises(ConfigError, match="cpu_chunk_size"):
        NetworkConfig(cpu_chunk_size=-1).validate()
