"""The cascade: global context reaches both stages, sampling per seed, checkpoint formats."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from inference import cascade, data, diffusion, layout_decoder, pipeline, text, train, window
from inference.unet import Context


@pytest.fixture(scope="module")
def net() -> cascade.Cascade:
    """A micro cascade with every weight drawn at random (the zero-initialised output layers
    included), so that every input changes the output."""
    vocab = text.world_vocabulary(50)
    config = train.micro_config(len(vocab))
    model = cascade.Cascade(config, text.Tokenizer(vocab, config.text.max_len))
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
    return model.eval()


def _batch(model: cascade.Cascade, b: int = 2) -> tuple[torch.Tensor, torch.Tensor, Context]:
    items = [data.heldout_item(i, canvas=64) for i in range(b)]
    examples = [
        data.window_example(
            it.image, it.mask, it.captions.mask_simple, canvas=16, context=model.config.context
        )
        for it in items
    ]
    return data.to_tensors(examples)


def test_the_global_context_reaches_both_stages(net: cascade.Cascade) -> None:
    images, masks, ctx = _batch(net)
    tokens = net.tokenizer.encode(["a red circle", "two hearts"])
    other = Context(ctx.map.flip(-1), ctx.where)  # the same windows in another scene
    moved = Context(ctx.map, ctx.where * 0.5)  # the same windows at another place and scale
    states, pooled = net.text(tokens.ids, tokens.pad)
    cond = cascade.conditioning(images, masks)
    t = torch.full((2,), 0.5)
    for stage, r, extra in ((net.base, 8, None), (net.sr, 16, torch.zeros(2, 3, 16, 16))):
        x = torch.randn(2, 3, r, r, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            args = (x, t, cond, states, tokens.pad, pooled, extra)
            v = [stage(*args, c) for c in (ctx, other, moved)]
        assert not torch.allclose(v[0], v[1]) and not torch.allclose(v[0], v[2])


def test_a_stage_that_takes_context_refuses_a_call_without_it(net: cascade.Cascade) -> None:
    images, masks, _ = _batch(net)
    tokens = net.tokenizer.encode(["a red circle", "two hearts"])
    states, pooled = net.text(tokens.ids, tokens.pad)
    cond = cascade.conditioning(images, masks)
    with pytest.raises(ValueError, match="global context"):
        net.base(torch.zeros(2, 3, 8, 8), torch.zeros(2), cond, states, tokens.pad, pooled)
    bad = Context(torch.zeros(2, 5, 4, 4), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="context"):
        net.sample(images, masks, tokens, [torch.Generator()] * 2, cascade.Sampling(), bad)


def test_sampling_is_deterministic_per_seed_and_keeps_the_known_pixels(
    net: cascade.Cascade,
) -> None:
    images, masks, ctx = _batch(net)
    tokens = net.tokenizer.encode(["a red circle", "two hearts"])
    sampling = cascade.Sampling(steps=3, sr_steps=2)

    def run(seeds: list[int]) -> torch.Tensor:
        gens = [torch.Generator().manual_seed(s) for s in seeds]
        return net.sample(images, masks, tokens, gens, sampling, ctx)

    a, b = run([1, 2]), run([1, 2])
    assert torch.equal(a, b)
    assert not torch.equal(a, run([3, 2]))
    assert torch.equal(torch.where(masks > 0, 0, a), torch.where(masks > 0, 0, images))


def test_the_pipeline_passes_the_scene_outside_the_window_to_the_model(
    net: cascade.Cascade, tmp_path: Path
) -> None:
    path = tmp_path / "random.pt"
    cascade.save_checkpoint(path, net, {"use_sr": True})
    model = pipeline.load(path)
    item = data.heldout_item(3, canvas=64)
    box = window.edit_window(item.mask)
    assert (box.width, box.height) != (64, 64)  # a real window, smaller than the image
    far = item.image.copy()
    outside = np.ones(item.mask.shape, dtype=bool)
    outside[box.y0 : box.y1, box.x0 : box.x1] = False
    far[outside] = 255 - far[outside]  # change only pixels the window does not show
    args = {"model": model, "steps": 3, "sr_steps": 2, "seed": 0}
    a = np.asarray(pipeline.inpaint(item.image, item.mask, "a red circle", **args).image)
    b = np.asarray(pipeline.inpaint(far, item.mask, "a red circle", **args).image)
    assert not np.array_equal(a[item.mask], b[item.mask])
    assert a.shape == (64, 64, 3) and np.array_equal(a[~item.mask], item.image[~item.mask])


def test_an_old_whole_image_checkpoint_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "old.pt"
    torch.save({"format": "editbench-cascade/1", "config": {}, "state": {}}, path)
    with pytest.raises(ValueError, match=r"no longer supported.*make train"):
        cascade.load_checkpoint(path)
    torch.save({"format": "something-else"}, path)
    with pytest.raises(ValueError, match="not a cascade checkpoint"):
        cascade.load_checkpoint(path)


def _spy_on_features(model: cascade.Cascade, arg: int) -> list[torch.Tensor]:
    """Record argument ``arg`` of every call of the base stage's ``features``."""
    seen: list[torch.Tensor] = []
    features = model.base.features

    def spy(*args: Any, **kwargs: Any) -> torch.Tensor:
        seen.append(args[arg].clone())
        return features(*args, **kwargs)

    model.base.features = spy  # type: ignore[method-assign]
    return seen


def test_the_base_stage_trains_and_samples_at_its_shifted_times(net: cascade.Cascade) -> None:
    shifted = copy.deepcopy(net)
    shifted.config.base_shift = 3.0
    seen = _spy_on_features(shifted, 1)  # what training and sampling both call, with t second
    images, masks, ctx = _batch(net)
    tokens = net.tokenizer.encode(["a red circle", "two hearts"])
    shifted.base_loss(images, masks, tokens, torch.Generator().manual_seed(5), ctx)
    drawn = torch.rand((2,), generator=torch.Generator().manual_seed(5))  # the loss's first draw
    assert torch.allclose(seen[0], diffusion.shift_time(drawn, 3.0))
    seen.clear()
    sampling = cascade.Sampling(steps=2, use_sr=False)
    gens = [torch.Generator().manual_seed(i) for i in range(2)]
    shifted.sample(images, masks, tokens, gens, sampling, ctx)
    # The two steps at t = 1 and at the middle t = 0.5 moved to 0.795 (cond and uncond batched).
    assert [round(float(t[0]), 3) for t in seen] == [1.0, 0.795]
    # A checkpoint's config from before the shift existed loads without one.
    old = {k: v for k, v in net.config.to_dict().items() if k != "base_shift"}
    assert cascade.CascadeConfig.from_dict(old).base_shift == 1.0
    with pytest.raises(ValueError, match="base_shift"):
        cascade.CascadeConfig.from_dict({**old, "base_shift": 0.0}).validate()


def test_random_crops_cut_the_same_square_of_every_tensor_per_item() -> None:
    gen = torch.Generator().manual_seed(3)
    a = torch.arange(2 * 3 * 16 * 16, dtype=torch.float32).reshape(2, 3, 16, 16)
    b = -a[:, :1]
    ca, cb = cascade.random_crops((a, b), 8, gen)
    assert ca.shape == (2, 3, 8, 8) and cb.shape == (2, 1, 8, 8)
    for i in range(2):
        y, x = divmod(int(ca[i, 0, 0, 0].item()) - i * 3 * 256, 16)  # where its corner was
        assert torch.equal(ca[i], a[i, :, y : y + 8, x : x + 8])
        assert torch.equal(cb[i], b[i, :, y : y + 8, x : x + 8])
    with pytest.raises(ValueError, match="crop side"):
        cascade.random_crops((a,), 17, gen)


def test_the_sr_stage_trains_on_crops_and_the_base_stage_refuses_them(
    net: cascade.Cascade,
) -> None:
    images, masks, ctx = _batch(net)
    tokens = net.tokenizer.encode(["a red circle", "two hearts"])
    whole = net.sr_loss(images, masks, tokens, torch.Generator().manual_seed(0), ctx)
    same = net.sr_loss(images, masks, tokens, torch.Generator().manual_seed(0), ctx, crop=16)
    assert torch.equal(whole, same)  # a crop of the whole canvas is no crop
    net.zero_grad()
    cropped = net.sr_loss(images, masks, tokens, torch.Generator().manual_seed(0), ctx, crop=8)
    cropped.backward()  # type: ignore[no-untyped-call]
    assert torch.isfinite(cropped) and not torch.equal(cropped, whole)
    assert net.sr.stem.weight.grad is not None and net.sr.stem.weight.grad.abs().sum() > 0
    states, pooled = net.text(tokens.ids, tokens.pad)
    cond = cascade.conditioning(images, masks)
    with pytest.raises(ValueError, match="x_t must be"):  # the base stage works at 8 only
        net.base(
            torch.zeros(2, 3, 4, 4), torch.zeros(2), cond, states, tokens.pad, pooled, None, ctx
        )
    with pytest.raises(ValueError, match="cond must be"):  # a crop needs its condition cropped
        net.sr(
            torch.zeros(2, 3, 8, 8), torch.zeros(2), cond, states, tokens.pad, pooled,
            torch.zeros(2, 3, 8, 8), ctx,
        )  # fmt: skip
    with pytest.raises(ValueError, match="x_t must be"):  # its two levels must halve it
        net.sr(
            torch.zeros(2, 3, 5, 5), torch.zeros(2), cond[..., :5, :5], states, tokens.pad,
            pooled, torch.zeros(2, 3, 5, 5), ctx,
        )  # fmt: skip


def test_the_silhouette_loss_counts_only_examples_that_have_one() -> None:
    vocab = text.world_vocabulary(50)
    config = train.micro_config(len(vocab))
    plain = cascade.Cascade(config, text.Tokenizer(vocab, config.text.max_len))
    assert plain.silhouette is None  # off by default: no head, and older checkpoints load
    config = copy.deepcopy(config)
    config.silhouette_weight = 2.0
    model = cascade.Cascade(config, text.Tokenizer(vocab, config.text.max_len))
    assert model.silhouette is not None
    images, masks, ctx = _batch(model)
    tokens = model.tokenizer.encode(["a red circle", "two hearts"])
    share = torch.zeros(2, 1, 16, 16)
    share[0, :, 4:12, 4:12] = 1.0

    def loss(valid: list[bool], s: torch.Tensor | None = share) -> float:
        gen = torch.Generator().manual_seed(3)
        sil = None if s is None else (s, torch.tensor(valid))
        return float(model.base_loss(images, masks, tokens, gen, ctx, sil).detach())

    v_only = loss([False, False])
    assert v_only == loss([True], None)
    # The head's logit 0 everywhere (zero weights): BCE log 2 per pixel, whatever the target.
    with torch.no_grad():
        model.silhouette.weight.zero_()
        model.silhouette.bias.zero_()
    assert loss([True, False]) == pytest.approx(v_only + 2.0 * np.log(2), rel=1e-5)
    with torch.no_grad():
        model.silhouette.bias.fill_(3.0)  # logit 3: BCE is log(1 + e^-3) at 1, log(1 + e^3) at 0
    inside = (8 * 8) / (16 * 16)  # the square's share of the window, at any resolution
    expected = inside * np.log1p(np.exp(-3.0)) + (1 - inside) * np.log1p(np.exp(3.0))
    assert loss([True, False]) == pytest.approx(v_only + 2.0 * expected, rel=1e-5)


def test_a_window_example_carries_the_share_of_each_pixel_the_object_covers() -> None:
    item = data.heldout_item(0, canvas=64)
    target = item.mask.copy()  # some pixels inside the window, a few thousand
    target[: target.shape[0] // 2] = False
    ex = data.window_example(item.image, item.mask, "x", canvas=16, context=8, silhouette=target)
    assert ex.silhouette is not None and ex.silhouette.shape == (16, 16)
    assert ex.silhouette.min() >= 0.0 and ex.silhouette.max() <= 1.0
    box = ex.box  # the covered area is preserved, in canvas pixels
    covered = target[box.y0 : box.y1, box.x0 : box.x1].sum() * (16 / box.width) * (16 / box.height)
    assert ex.silhouette.sum() == pytest.approx(covered, rel=0.02)
    plain = data.window_example(item.image, item.mask, "x", canvas=16, context=8)
    assert plain.silhouette is None
    shares, valid = data.silhouettes([ex, plain])
    assert shares.shape == (2, 1, 16, 16) and valid.tolist() == [True, False]
    assert shares[1].abs().sum() == 0


def _layout_model(bias: float, decoder: bool = False) -> cascade.Cascade:
    """A micro cascade with a layout input whose silhouette head (or layout decoder) says
    ``bias`` everywhere."""
    vocab = text.world_vocabulary(50)
    config = train.micro_config(len(vocab))
    config.silhouette_weight, config.layout, config.layout_decoder = 1.0, True, decoder
    config.base.extra_channels = cascade.LAYOUT_CHANNELS
    model = cascade.Cascade(config, text.Tokenizer(vocab, config.text.max_len))
    last = model.decoder.convs[-1] if model.decoder is not None else model.silhouette
    assert isinstance(last, torch.nn.Conv2d) and (model.silhouette is None) == decoder
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(bias)  # type: ignore[union-attr]
    return model.eval()


def test_a_layout_input_needs_the_silhouette_head_and_its_two_channels() -> None:
    config = train.micro_config(40)
    config.layout = True
    with pytest.raises(ValueError, match="layout needs the silhouette head"):
        config.validate()
    config.silhouette_weight = 1.0
    with pytest.raises(ValueError, match="takes 2 extra channels"):
        config.validate()
    config.base.extra_channels = cascade.LAYOUT_CHANNELS
    config.validate()
    assert cascade.layout_note(config) and not cascade.layout_note(train.micro_config(40))


def test_training_gives_the_true_silhouette_to_the_chosen_rows_and_spares_their_head() -> None:
    model = _layout_model(3.0)
    images, masks, ctx = _batch(model)
    tokens = model.tokenizer.encode(["a red circle", "two hearts"])
    share = torch.zeros(2, 1, 16, 16)
    share[0, :, 4:12, 4:12] = 1.0
    share[1, :, 4:8, 4:8] = 1.0  # another silhouette: another BCE under the constant head
    seen = _spy_on_features(model, 6)  # the extra (layout) input

    def loss(valid: list[bool], given: list[bool]) -> float:
        gen = torch.Generator().manual_seed(3)
        sil = (share, torch.tensor(valid))
        out = model.base_loss(images, masks, tokens, gen, ctx, sil, torch.tensor(given))
        return float(out.detach())

    shown = loss([True, True], [True, False])
    layout = seen[-1]  # (2, 2, 8, 8): row 0 shows the square at the base resolution, row 1 nothing
    assert layout.shape == (2, 2, 8, 8)
    assert torch.equal(layout[0, 0], F.avg_pool2d(share[0], 2)[0]) and layout[0, 1].eq(1).all()
    assert layout[1].eq(0).all()
    # The head is trained on row 1 alone: the same as when row 0 had no silhouette at all, and
    # not the same as when it is trained on both (the v loss of the fresh model is the same).
    assert shown == pytest.approx(loss([False, True], [True, False]), rel=1e-6)
    assert shown != pytest.approx(loss([True, True], [False, False]), rel=1e-6)


@pytest.mark.parametrize("decoder", [False, True])
@pytest.mark.parametrize("bias", [8.0, -8.0])
def test_sampling_draws_the_layout_first_and_an_empty_one_gives_none(
    bias: float, decoder: bool
) -> None:
    model = _layout_model(bias, decoder)
    seen = _spy_on_features(model, 6)
    images, masks, ctx = _batch(model)
    tokens = model.tokenizer.encode(["a red circle", "two hearts"])
    gens = [torch.Generator().manual_seed(i) for i in range(2)]
    out = model.sample(images, masks, tokens, gens, cascade.Sampling(steps=2, use_sr=False), ctx)
    assert torch.equal(out[masks.expand_as(out) == 0], images[masks.expand_as(images) == 0])
    if not decoder:  # the head's pass through the U-Net sees no layout; then the steps do
        assert seen.pop(0).eq(0).all()
    painting = seen[0]
    inside = F.max_pool2d(masks, 2)  # (2, 1, 8, 8): the mask at the base resolution
    if bias > 0:  # every pixel above the threshold: the layout is the whole mask, given
        assert torch.equal(painting[:2, :1], inside) and painting[:2, 1].eq(1).all()
    else:  # nothing above it: no layout given, as in training without a silhouette
        assert painting.eq(0).all()


def test_the_layout_decoder_reads_the_noun_and_learns_from_every_row_with_a_silhouette() -> None:
    model = _layout_model(0.0, decoder=True)
    assert model.decoder is not None
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.decoder.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
    images, masks, ctx = _batch(model)
    tokens = model.tokenizer.encode(["a red circle", "a red star"])
    states, _ = model.text(tokens.ids, tokens.pad)
    with torch.no_grad():
        logits = model.decoder(states, tokens.pad, masks)
    assert logits.shape == (2, 1, 8, 8) and not torch.allclose(logits[0], logits[1])
    share = torch.zeros(2, 1, 16, 16)
    share[:, :, 4:12, 4:12] = 1.0

    def loss(valid: list[bool], given: list[bool]) -> float:
        sil = (share, torch.tensor(valid))
        gen = torch.Generator().manual_seed(3)
        out = model.base_loss(images, masks, tokens, gen, ctx, sil, torch.tensor(given))
        return float(out.detach())

    # Unlike the head, the decoder never sees the given silhouette: it learns from row 0 too.
    assert loss([True, True], [True, False]) != pytest.approx(loss([False, True], [True, False]))
    with pytest.raises(ValueError, match="multiple of 8"):
        layout_decoder.LayoutDecoder(16, 12)
