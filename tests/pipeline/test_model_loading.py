"""The conversion cache: a model converted once (e.g. from the packaged GGUF file) is read back from disk after."""

from __future__ import annotations

import torch

from peft_pblora.pipeline.model_loading import CACHE_ENVIRONMENT_VARIABLE, load_converted

from ..conftest import tiny_llama, tiny_tokenizer


class CountingConversion:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return tiny_llama(seed=5), tiny_tokenizer()


def test_a_converted_model_is_saved_once_and_read_back_identical(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENVIRONMENT_VARIABLE, str(tmp_path))
    convert = CountingConversion()
    first, first_tokenizer = load_converted("tiny", convert, torch.float32)
    again, again_tokenizer = load_converted("tiny", convert, torch.float32)
    assert convert.calls == 1
    assert (tmp_path / "tiny" / "config.json").is_file()
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".")], "no partial folder is left"
    assert first.state_dict().keys() == again.state_dict().keys()
    for name, tensor in first.state_dict().items():
        torch.testing.assert_close(again.state_dict()[name], tensor, rtol=0, atol=0)
    assert again_tokenizer.get_vocab() == first_tokenizer.get_vocab()
    ids = torch.tensor([[3, 4, 5]])
    torch.testing.assert_close(again(ids).logits, first(ids).logits, rtol=0, atol=0)
    half, _ = load_converted("tiny", convert, torch.bfloat16)
    assert convert.calls == 1 and half.dtype == torch.bfloat16


def test_the_cache_can_be_turned_off_or_be_unwritable(tmp_path, monkeypatch):
    convert = CountingConversion()
    monkeypatch.setenv(CACHE_ENVIRONMENT_VARIABLE, "off")
    load_converted("tiny", convert, torch.float32)
    load_converted("tiny", convert, torch.float32)
    assert convert.calls == 2
    blocked = tmp_path / "a_file"
    blocked.write_text("not a folder")
    monkeypatch.setenv(CACHE_ENVIRONMENT_VARIABLE, str(blocked))
    model, _ = load_converted("tiny", convert, torch.float32)
    assert convert.calls == 3 and model is not None
