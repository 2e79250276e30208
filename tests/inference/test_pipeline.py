"""The public entry point: shapes, seeds, exact preservation, batching and every ValueError."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inference import data, judge, pipeline, train

SHIPPED = Path(pipeline.CHECKPOINTS) / "editor-im.pt"


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> pipeline.LoadedModel:
    tmp = tmp_path_factory.mktemp("micro")
    cfg = train.TrainConfig(
        name="micro", micro=True, steps=8, batch=4, sr_every=2, pool=16, sr_check=4,
        vocab_scenes=50, warmup=5, out=str(tmp / "ck"), state_dir=str(tmp / "state"),
    )  # fmt: skip
    return pipeline.load(train.train(cfg, progress=False))


def _scene(size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    item = data.heldout_item(0, canvas=size)
    return item.image, item.mask


def _edit(model: pipeline.LoadedModel, **kw: object) -> pipeline.InpaintResult:
    image, mask = _scene()
    args: dict[str, object] = {"model": model, "steps": 3, "sr_steps": 2, "seed": 0}
    return pipeline.inpaint(image, mask, "a red circle", **{**args, **kw})  # type: ignore[arg-type]


def test_an_edit_has_the_input_size_and_keeps_every_unmasked_pixel(
    model: pipeline.LoadedModel,
) -> None:
    image = np.asarray(Image.fromarray(data.heldout_item(1).image).resize((45, 30)))
    mask = np.zeros((30, 45), dtype=bool)
    mask[5:20, 10:30] = True
    out = pipeline.inpaint(image, mask, "a blue star", model=model, steps=3, sr_steps=2)
    edited = np.asarray(out.image)
    assert edited.shape == (30, 45, 3)
    assert np.array_equal(edited[~mask], image[~mask])


def test_the_same_seed_gives_the_same_edit(model: pipeline.LoadedModel) -> None:
    a, b = _edit(model, seed=5), _edit(model, seed=5)
    assert np.array_equal(np.asarray(a.image), np.asarray(b.image))
    assert not np.array_equal(np.asarray(a.image), np.asarray(_edit(model, seed=6).image))


def test_a_batch_gives_each_item_its_own_result(model: pipeline.LoadedModel) -> None:
    image, mask = _scene()
    alone = _edit(model, seed=3)
    many = pipeline.inpaint(
        [image] * 3, [mask] * 3, ["a red circle", "two hearts", "a red circle"],
        model=model, steps=3, sr_steps=2, seed=[3, 4, 3], batch=2,
    )  # fmt: skip
    assert len(many) == 3
    assert np.abs(np.asarray(many[0].image, float) - np.asarray(alone.image, float)).max() <= 1
    assert np.array_equal(np.asarray(many[0].image), np.asarray(many[2].image))


def test_metadata_reports_unknown_words_and_the_schedule(model: pipeline.LoadedModel) -> None:
    image, mask = _scene()
    out = pipeline.inpaint(image, mask, "a red zebra", model=model, steps=4, sr_steps=2)
    assert out.metadata["unknown_words"] == ["zebra"]
    assert out.metadata["guidance_weights"] == [30, 30, 1, 30]
    assert out.metadata["guidance"] == "oscillate:30:1:2"


def test_pil_inputs_are_accepted(model: pipeline.LoadedModel) -> None:
    image, mask = _scene()
    out = pipeline.inpaint(
        Image.fromarray(image), Image.fromarray(mask.astype(np.uint8) * 255), "a red circle",
        model=model, steps=2, sr_steps=1, guidance="constant:3",
    )  # fmt: skip
    assert out.image.size == (16, 16) and out.image.mode == "RGB"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"mask": np.full((16, 16), 2, dtype=np.uint8)}, "not binary"),
        ({"mask": np.ones((8, 8), dtype=bool)}, "differs from the image"),
        ({"mask": np.zeros((16, 16), dtype=bool)}, "empty mask"),
        ({"image": Image.new("RGBA", (16, 16))}, "mode must be RGB"),
        ({"image": np.zeros((16, 16), dtype=np.uint8)}, "H×W×3"),
        ({"image": np.zeros((16, 16, 3), dtype=np.float32)}, "dtype must be uint8"),
        ({"prompt": 7}, "must be a str"),
        ({"steps": 0}, "steps must be"),
        ({"guidance": "loud"}, "guidance"),
        ({"device": "tpu"}, "device"),
    ],
)
def test_bad_input_raises_a_value_error_naming_it(
    model: pipeline.LoadedModel, change: dict[str, object], message: str
) -> None:
    image, mask = _scene()
    inputs: dict[str, object] = {"image": image, "mask": mask, "prompt": "a red circle"}
    options: dict[str, object] = {"model": model, "steps": 2, "sr_steps": 1}
    for key, value in change.items():
        (inputs if key in inputs else options)[key] = value
    with pytest.raises(ValueError, match=message):
        pipeline.inpaint(inputs["image"], inputs["mask"], inputs["prompt"], **options)  # type: ignore[arg-type, call-overload]


def test_lists_of_different_lengths_are_refused(model: pipeline.LoadedModel) -> None:
    image, mask = _scene()
    with pytest.raises(ValueError, match="as many images"):
        pipeline.inpaint([image, image], [mask], ["a", "b"], model=model, steps=2)


def test_a_missing_checkpoint_is_named() -> None:
    with pytest.raises(FileNotFoundError, match="no-such-model"):
        pipeline.load("no-such-model")


def test_the_shipped_checkpoint_paints_the_asked_for_colour() -> None:
    # The first 12 held-out items that test colour (at the benchmark's 256 px), each with its
    # index as the seed; the evaluation measures 0.867 colour accuracy for editor-im with the
    # oscillating schedule on the 60 colour items of the 300 (10 of these 12 at the time of
    # writing), and a model that ignored the caption would get about 1 in 10 right.
    model = pipeline.load(SHIPPED)
    tests = [(i, data.heldout_item(i, canvas=64).spec.attribute_type) for i in range(200)]
    indices = [i for i, attribute in tests if attribute == "color"][:12]
    items = [data.heldout_item(i) for i in indices]
    results = pipeline.inpaint(
        [it.image for it in items], [it.mask for it in items],
        [it.captions.mask_simple for it in items], model=model, guidance="oscillate",
        steps=20, seed=indices,
    )  # fmt: skip
    right = []
    for it, r in zip(items, results, strict=True):
        edited = np.asarray(r.image)
        assert np.array_equal(edited[~it.mask], it.image[~it.mask])
        right.append(judge.judge(edited, it.mask, it.target).correct["color"])
    assert sum(right) >= 9, right
