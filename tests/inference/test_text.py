"""Tokenizer and text encoder: the world's vocabulary, unknown words, the null caption."""

from __future__ import annotations

import pytest
import torch

from inference import text, world


@pytest.fixture(scope="module")
def tokenizer() -> text.Tokenizer:
    return text.Tokenizer(text.world_vocabulary(200), 40)


def test_the_vocabulary_covers_every_caption_of_the_world(tokenizer: text.Tokenizer) -> None:
    for seed in range(1000, 1050):
        c = world.captions(world.sample_scene(seed))
        tokens = tokenizer.encode([c.mask_simple, c.mask_rich, c.full_image])
        assert tokens.unknown == ((), (), ())


def test_unknown_words_are_reported_not_dropped(tokenizer: text.Tokenizer) -> None:
    tokens = tokenizer.encode(["a red zebra", "a Red circle!"])
    assert tokens.unknown == (("zebra",), ())
    assert tokens.ids[0, 3].item() == tokenizer.index[text.UNK]  # <cls> a red <unk>
    assert tokens.ids[0, 0].item() == tokenizer.index[text.CLS]


def test_an_overlong_caption_reports_its_truncation() -> None:
    short = text.Tokenizer(text.world_vocabulary(20), 4)
    tokens = short.encode(["a red circle next to a blue square"])
    assert tokens.ids.shape == (1, 4)
    assert tokens.unknown[0][-1].startswith("<truncated")


def test_a_non_string_caption_is_refused(tokenizer: text.Tokenizer) -> None:
    with pytest.raises(ValueError, match="must be a str"):
        tokenizer.encode([3])  # type: ignore[list-item]


def test_the_null_caption_is_cls_alone(tokenizer: text.Tokenizer) -> None:
    tokens = tokenizer.encode(["a red circle", "two hearts"])
    null = text.null_like(tokens, tokenizer)
    assert (null.ids[:, 0] == tokenizer.index[text.CLS]).all()
    assert null.pad[:, 1:].all() and not null.pad[:, 0].any()


def test_the_encoder_gives_token_states_and_a_pooled_summary(tokenizer: text.Tokenizer) -> None:
    enc = text.TextEncoder(text.TextConfig(vocab_size=len(tokenizer), width=16, heads=2))
    tokens = tokenizer.encode(["a red circle", "three small hearts"])
    states, pooled = enc(tokens.ids, tokens.pad)
    assert states.shape == (2, tokens.ids.shape[1], 16)
    assert pooled.shape == (2, 16)
    assert torch.isfinite(states).all()


def test_the_bag_option_adds_the_mean_word_embedding_to_the_pooled_summary(
    tokenizer: text.Tokenizer,
) -> None:
    torch.manual_seed(0)
    plain = text.TextEncoder(text.TextConfig(vocab_size=len(tokenizer), width=16, heads=2))
    bag = text.TextEncoder(text.TextConfig(vocab_size=len(tokenizer), width=16, heads=2, bag=True))
    bag.load_state_dict(plain.state_dict())  # the option adds no weights
    tokens = tokenizer.encode(["a red circle", "a red heart", ""])
    states, pooled = plain(tokens.ids, tokens.pad)
    bag_states, bag_pooled = bag(tokens.ids, tokens.pad)
    assert torch.equal(states, bag_states)
    words = plain.token(tokens.ids)
    for row, n in ((0, 3), (1, 3)):  # "a", "red", the noun: <cls> and padding left out
        mean = words[row, 1 : 1 + n].mean(0)
        torch.testing.assert_close(bag_pooled[row], pooled[row] + mean)
    torch.testing.assert_close(bag_pooled[2], pooled[2])  # the null caption: <cls> alone
    assert text.TextConfig().bag is False
