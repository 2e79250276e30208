"""U-Net blocks and the two stage configurations: shapes and argument checks."""

from __future__ import annotations

import pytest
import torch

from inference.unet import AttentionBlock, MaskConditioner, UNet, UNetConfig


def _micro(resolution: int, extra: int) -> UNetConfig:
    return UNetConfig(
        resolution=resolution, canvas=16, extra_channels=extra, cond_channels=4,
        channels=(8, 16), attention=(resolution // 2,), heads=2, text_width=8, emb_dim=16,
        groups=4,
    )  # fmt: skip


def _inputs(b: int, r: int) -> tuple[torch.Tensor, ...]:
    return (
        torch.randn(b, 3, r, r),
        torch.rand(b),
        torch.randn(b, 4, 16, 16),
        torch.randn(b, 5, 8),
        torch.zeros(b, 5, dtype=torch.bool),
        torch.randn(b, 8),
    )


def test_the_strided_convolution_brings_the_canvas_to_the_stage_resolution() -> None:
    assert MaskConditioner(64, 32, 16)(torch.randn(2, 4, 64, 64)).shape == (2, 16, 32, 32)
    assert MaskConditioner(64, 16, 8)(torch.randn(2, 4, 64, 64)).shape == (2, 8, 16, 16)
    assert MaskConditioner(64, 64, 8)(torch.randn(2, 4, 64, 64)).shape == (2, 8, 64, 64)


def test_the_base_unet_predicts_v_at_its_resolution() -> None:
    net = UNet(_micro(8, 0))
    assert net(*_inputs(3, 8)).shape == (3, 3, 8, 8)


def test_the_sr_unet_takes_the_upsample_as_extra_channels() -> None:
    net = UNet(_micro(16, 3))
    out = net(*_inputs(2, 16), extra=torch.randn(2, 3, 16, 16))
    assert out.shape == (2, 3, 16, 16)
    with pytest.raises(ValueError, match="extra must be"):
        net(*_inputs(2, 16))


def test_it_rejects_a_noisy_input_of_another_size() -> None:
    with pytest.raises(ValueError, match="x_t must be"):
        UNet(_micro(8, 0))(*_inputs(2, 16))


def test_it_rejects_a_condition_of_another_canvas() -> None:
    x, t, _, s, p, q = _inputs(2, 8)
    with pytest.raises(ValueError, match="cond must be"):
        UNet(_micro(8, 0))(x, t, torch.randn(2, 4, 32, 32), s, p, q)


def test_it_rejects_a_canvas_that_is_not_a_power_of_two_multiple() -> None:
    with pytest.raises(ValueError, match="power-of-two"):
        UNet(UNetConfig(resolution=24, canvas=64))


def test_padding_tokens_do_not_change_the_output() -> None:
    torch.manual_seed(0)
    net = UNet(_micro(8, 0))
    for p in net.parameters():  # zero-initialised output layers would hide any difference
        torch.nn.init.normal_(p, std=0.2)
    x, t, c, s, _, q = _inputs(1, 8)
    pad = torch.tensor([[False, False, True, True, True]])
    changed = s.clone()
    changed[:, 2:] = 5.0
    assert torch.allclose(net(x, t, c, s, pad, q), net(x, t, c, changed, pad, q), atol=1e-5)


def _block(cross: bool) -> AttentionBlock:
    block = AttentionBlock(8, text_width=6, heads=2, groups=2, cross=cross)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in block.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    return block


def test_a_separate_cross_attention_reads_the_caption_apart_from_the_pixels() -> None:
    x = torch.randn(1, 8, 4, 4, generator=torch.Generator().manual_seed(1))
    text = torch.randn(1, 3, 6, generator=torch.Generator().manual_seed(2))
    pad = torch.tensor([[False, False, True]])
    for cross in (False, True):
        block = _block(cross)
        with torch.no_grad():
            block.out.weight.zero_()
            block.out.bias.zero_()  # only the caption's own part is left (joint: no part at all)
            got = block(x, text, pad)
        if not cross:
            assert torch.equal(got, x)  # with its one projection zeroed, nothing is added
            continue
        # By hand: each pixel's query against the two unpadded tokens only, per head.
        assert block.cross_out is not None
        pixels = block.norm(x).flatten(2).transpose(1, 2)[0]  # (16, 8)
        q = block.cross_q(pixels).reshape(16, 2, 4).transpose(0, 1)  # (heads, 16, 4)
        k, v = block.text_kv(text[0, :2]).chunk(2, dim=1)
        k, v = k.reshape(2, 2, 4).transpose(0, 1), v.reshape(2, 2, 4).transpose(0, 1)
        weights = torch.softmax(q @ k.transpose(1, 2) / 2.0, dim=-1)  # (heads, 16, 2); √4 = 2
        mixed = (weights @ v).transpose(0, 1).reshape(16, 8)
        expected = x + block.cross_out(mixed).T.reshape(1, 8, 4, 4)
        assert torch.allclose(got, expected, atol=1e-5)
        other = text.clone()
        other[0, 2] += 5.0  # the padded token
        assert torch.allclose(block(x, other, pad), got, atol=1e-6)
    # Off by default, so older checkpoints (whose configs lack the key) keep the joint softmax.
    assert UNetConfig().cross_attention is False
    net = UNet(UNetConfig(cross_attention=True))
    blocks = [m for m in net.modules() if isinstance(m, AttentionBlock)]
    assert blocks and all(b.cross_out is not None for b in blocks)
