"""Schedule, v-parameterisation, guidance schedules, thresholding and the DDIM sampler."""

from __future__ import annotations

import pytest
import torch

from inference import diffusion
from inference.diffusion import GuidanceSchedule


def test_v_round_trips_to_x0_and_eps() -> None:
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(4, 3, 8, 8, generator=g), torch.randn(4, 3, 8, 8, generator=g)
    t = torch.rand(4, generator=g)
    x_t = diffusion.q_sample(x0, t, eps)
    v = diffusion.v_target(x0, t, eps)
    assert torch.allclose(diffusion.x0_from_v(x_t, t, v), x0, atol=1e-5)
    assert torch.allclose(diffusion.eps_from_v(x_t, t, v), eps, atol=1e-5)


def test_a_constant_schedule_repeats_its_weight() -> None:
    assert GuidanceSchedule("constant", weight=7.5).weights(4) == [7.5] * 4


def test_oscillation_forces_high_steps_then_alternates_with_one() -> None:
    weights = GuidanceSchedule("oscillate", high=30, low=1, forced=2).weights(8)
    assert weights == [30, 30, 1, 30, 1, 30, 1, 30]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("constant", GuidanceSchedule("constant")),
        ("constant:3", GuidanceSchedule("constant", weight=3.0)),
        (2.5, GuidanceSchedule("constant", weight=2.5)),
        ("oscillate", GuidanceSchedule("oscillate", high=30.0, low=1.0, forced=2)),
        ("oscillate:20:2:3", GuidanceSchedule("oscillate", high=20.0, low=2.0, forced=3)),
    ],
)
def test_guidance_strings_parse(spec: str | float, expected: GuidanceSchedule) -> None:
    assert GuidanceSchedule.parse(spec) == expected


@pytest.mark.parametrize("spec", ["wobble", "constant:x", "oscillate:1:2:3:4", "constant:-1"])
def test_a_bad_guidance_string_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="guidance"):
        GuidanceSchedule.parse(spec)


def test_dynamic_thresholding_brings_saturated_samples_into_range() -> None:
    x0 = torch.linspace(-4, 4, 1000).reshape(1, 1, 10, 100)
    out = diffusion.dynamic_threshold(x0, 0.9)
    assert out.abs().max() <= 1.0 + 1e-6
    inside = torch.full((1, 1, 4, 4), 0.5)
    assert torch.equal(diffusion.dynamic_threshold(inside), inside)


def test_ddim_recovers_the_signal_with_a_perfect_denoiser() -> None:
    target = torch.rand(2, 3, 4, 4) * 2 - 1

    def oracle(x: torch.Tensor, t: torch.Tensor, w: float) -> torch.Tensor:
        a, s = diffusion.alpha_sigma(t)
        eps = (x - a[:, None, None, None] * target) / s[:, None, None, None].clamp_min(1e-6)
        return diffusion.v_target(target, t, eps)

    noise = torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(1))
    out = diffusion.ddim_sample(oracle, noise, 5, GuidanceSchedule("constant", weight=1.0))
    assert torch.allclose(out, target, atol=1e-4)


def test_the_sampler_asks_for_the_scheduled_weight_at_each_step() -> None:
    seen: list[float] = []

    def record(x: torch.Tensor, t: torch.Tensor, w: float) -> torch.Tensor:
        seen.append(w)
        return torch.zeros_like(x)

    diffusion.ddim_sample(record, torch.zeros(1, 3, 2, 2), 5, GuidanceSchedule.parse("oscillate"))
    assert seen == [30, 30, 1, 30, 1]


def test_a_time_shift_divides_the_signal_to_noise_ratio_by_its_square() -> None:
    t = torch.linspace(0.05, 0.95, 19)
    assert torch.equal(diffusion.shift_time(t, 1.0), t)
    for shift in (0.5, 3.0):
        moved = diffusion.shift_time(t, shift)
        snr = (diffusion.alpha_sigma(t)[0] / diffusion.alpha_sigma(t)[1]) ** 2
        snr_moved = (diffusion.alpha_sigma(moved)[0] / diffusion.alpha_sigma(moved)[1]) ** 2
        assert torch.allclose(snr_moved, snr / shift**2, rtol=1e-4)
        assert bool((moved[1:] > moved[:-1]).all())  # still in order
        assert (moved > t).all() if shift > 1 else (moved < t).all()
    ends = diffusion.shift_time(torch.tensor([0.0, 1.0]), 3.0)
    assert torch.equal(ends, torch.tensor([0.0, 1.0]))  # pure signal and pure noise stay put
    with pytest.raises(ValueError, match="positive"):
        diffusion.shift_time(t, 0.0)


def test_the_sampler_walks_the_shifted_times_and_still_recovers_the_signal() -> None:
    target = torch.rand(2, 3, 4, 4) * 2 - 1
    seen: list[float] = []

    def oracle(x: torch.Tensor, t: torch.Tensor, w: float) -> torch.Tensor:
        seen.append(float(t[0]))
        a, s = diffusion.alpha_sigma(t)
        eps = (x - a[:, None, None, None] * target) / s[:, None, None, None].clamp_min(1e-6)
        return diffusion.v_target(target, t, eps)

    noise = torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(1))
    schedule = GuidanceSchedule("constant", weight=1.0)
    out = diffusion.ddim_sample(oracle, noise, 4, schedule, threshold=None, shift=3.0)
    assert torch.allclose(out, target, atol=1e-4)
    expected = diffusion.shift_time(torch.tensor([1.0, 0.75, 0.5, 0.25]), 3.0)
    assert seen == pytest.approx(expected.tolist(), abs=1e-6)
    assert seen[2] > 0.79  # the middle step is spent at high noise (t = 0.5 moves to 0.795)


def test_the_loss_weights_pixels() -> None:
    v = torch.zeros(1, 3, 2, 2)
    truth = torch.ones(1, 3, 2, 2)
    truth[..., 0, 0] = 3.0
    weight = torch.zeros(1, 1, 2, 2)
    weight[..., 0, 0] = 1.0
    assert diffusion.v_loss(v, truth, weight).item() == pytest.approx(9.0)
