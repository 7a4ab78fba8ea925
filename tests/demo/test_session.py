"""The demo's decoding on a tiny model: the run's guidance (log-ratio to the base at the run's beta), the unguided
base row, several users' alphas batched together, streaming, and the front button's answers and scores."""

from __future__ import annotations

import threading

import pytest
import torch

from peft_pblora import guided_generate
from peft_pblora.data.chat import chat_texts
from peft_pblora.demo import DemoInputError, GenerationBatcher, Row
from peft_pblora.demo.batcher import Job
from peft_pblora.demo.handlers import answer_front, stream_answers

from .conftest import PROMPT, tiny_demo_session


def test_a_guided_row_is_the_runs_guidance_and_a_row_of_strength_zero_is_the_base_model(session):
    guided, unguided = session.generate([Row(PROMPT, (1.0, 0.0), 8.0), session.unguided_row(PROMPT)])
    expected = guided_generate(
        session.base, session.parm, session.tokenizer, [PROMPT], alpha=[1.0, 0.0], beta=0.125,
        use_chat_template=True, reference="base", do_sample=False, max_new_tokens=session.max_new_tokens,
    )  # fmt: skip
    assert guided == expected[0].strip()
    encoded = session.tokenizer(chat_texts(session.tokenizer, [PROMPT]), return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        plain = session.base.generate(
            **encoded, do_sample=False, max_new_tokens=session.max_new_tokens, pad_token_id=0
        )
    tokens = plain[0, encoded["input_ids"].shape[1] :].tolist()
    tokens = tokens[: tokens.index(1)] if 1 in tokens else tokens
    assert unguided == session.tokenizer.decode(tokens, skip_special_tokens=True).strip()
    assert guided != unguided


def test_the_reference_setting_changes_the_guided_answer():
    with_ratio = tiny_demo_session(reference="base").generate([Row(PROMPT, (0.0, 1.0), 8.0)])
    log_probabilities = tiny_demo_session(reference=None).generate([Row(PROMPT, (0.0, 1.0), 8.0)])
    assert with_ratio != log_probabilities


def test_several_users_alphas_in_one_batch_give_the_answers_of_one_by_one(session):
    requests = [
        [Row(PROMPT, (1.0, 0.0), 8.0), session.unguided_row(PROMPT)],
        [Row(PROMPT, (0.0, 1.0), 8.0), session.unguided_row(PROMPT)],
        [Row("w3 w40", (0.5, 0.5), 4.0), session.unguided_row("w3 w40")],
    ]
    alone = [[session.generate([row])[0] for row in rows] for rows in requests]
    batcher = GenerationBatcher(session, max_batch_size=8, start=False)
    jobs = [batcher.submit(rows) for rows in requests]  # waiting together before the worker starts
    batcher.start()
    results = [job.result(timeout_s=120) for job in jobs]
    batcher.close()
    assert batcher.batch_sizes == [6] and all(job.batch_rows == 6 for job in jobs)
    assert results == alone
    assert len({answers[0] for answers in results}) == 3  # the three alphas answer differently
    assert results[0][1] == results[1][1]  # the same prompt's base answer whatever the alpha


def test_jobs_that_do_not_fit_in_one_batch_wait_for_the_next(session):
    batcher = GenerationBatcher(session, max_batch_size=3, start=False)
    jobs = [batcher.submit([Row(PROMPT, (1.0, 0.0), 8.0), session.unguided_row(PROMPT)]) for _ in range(3)]
    batcher.start()
    results = [job.result(timeout_s=120) for job in jobs]
    batcher.close()
    assert batcher.batch_sizes == [2, 2, 2]
    assert results[0] == results[1] == results[2]


def test_answers_stream_token_by_token_and_end_as_generated(session):
    batcher = GenerationBatcher(session)
    job = batcher.submit([Row(PROMPT, (1.0, 0.0), 8.0), session.unguided_row(PROMPT)])
    updates = list(job.stream(timeout_s=120))
    batcher.close()
    final = updates[-1]
    assert final == session.generate(job.rows)
    guided_prefixes = [texts[0] for texts in updates]
    assert len(set(guided_prefixes)) > 2  # several partial answers before the whole one
    assert all(final[0].startswith(prefix) for prefix in guided_prefixes)


def test_a_worker_error_reaches_the_page_and_the_worker_goes_on(session, monkeypatch):
    batcher = GenerationBatcher(session)
    original = session.generate
    monkeypatch.setattr(session, "generate", lambda rows, **kwargs: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError, match="boom"):
        batcher.submit([Row(PROMPT, (1.0, 0.0), 8.0)]).result(timeout_s=60)
    monkeypatch.setattr(session, "generate", original)
    assert batcher.submit([Row(PROMPT, (1.0, 0.0), 8.0)]).result(timeout_s=60) == original(
        [Row(PROMPT, (1.0, 0.0), 8.0)]
    )
    batcher.close()


def test_the_page_handler_streams_guided_and_base_answers_and_refuses_an_empty_prompt(session):
    batcher = GenerationBatcher(session)
    with pytest.raises(DemoInputError, match="Type a prompt first"):
        next(stream_answers(batcher, "   ", [0.5], 8.0))
    assert batcher.batch_sizes == []  # nothing was decoded for it
    *_, (guided, base, status) = stream_answers(batcher, PROMPT, [1.0], 8.0)
    assert status.startswith("Done") and "count_w5 1.00, count_w6 0.00" in status and "1/beta 8" in status
    assert [guided, base] == session.generate([Row(PROMPT, (1.0, 0.0), 8.0), session.unguided_row(PROMPT)])
    batcher.close()


def test_the_front_button_answers_every_grid_alpha_in_one_batch_with_the_runs_scores(session):
    batcher = GenerationBatcher(session, max_batch_size=2)  # a job larger than the batch size still runs whole
    table, points, base_scores = answer_front(batcher, PROMPT, 8.0)
    batcher.close()
    assert batcher.batch_sizes == [len(session.grid) + 1]
    assert [row[0] for row in table] == [
        "count_w5 1.00, count_w6 0.00", "count_w5 0.50, count_w6 0.50", "count_w5 0.00, count_w6 1.00",
        "base (unguided)",
    ]  # fmt: skip
    for row in table:
        answer = row[-1]
        assert row[1:3] == [answer.split().count("w5"), answer.split().count("w6")]
    assert [alpha for alpha, _ in points] == session.grid
    assert [scores for _, scores in points] == [row[1:3] for row in table[:-1]]
    assert base_scores == table[-1][1:3]
    assert table[-1][-1] == session.generate([session.unguided_row(PROMPT)])[0]
    assert len({row[-1] for row in table[:-1]}) > 1


def test_concurrent_requests_from_threads_are_batched(session):
    batcher = GenerationBatcher(session, max_batch_size=8, wait_s=0.5)
    results: dict[int, list[str]] = {}

    def user(index: int, alpha: tuple[float, float]) -> None:
        results[index] = batcher.submit([Row(PROMPT, alpha, 8.0)]).result(timeout_s=120)

    threads = [threading.Thread(target=user, args=(i, alpha)) for i, alpha in enumerate([(1.0, 0.0), (0.0, 1.0)])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    batcher.close()
    assert batcher.batch_sizes == [2]
    assert results[0] == session.generate([Row(PROMPT, (1.0, 0.0), 8.0)])
    assert results[1] == session.generate([Row(PROMPT, (0.0, 1.0), 8.0)])


class WorkerKilled(BaseException):
    """Not an Exception: what `_decode` does not catch, so the worker thread ends."""


def test_closing_the_worker_tells_the_jobs_still_waiting(session):
    batcher = GenerationBatcher(session, start=False)
    job = batcher.submit([Row(PROMPT, (1.0, 0.0), 8.0)])
    batcher.close()
    with pytest.raises(RuntimeError, match="closed before this request ran"):
        job.result(timeout_s=5)


def test_a_worker_that_dies_tells_its_batch_and_the_waiting_jobs_and_refuses_new_ones(session, monkeypatch):
    def killed(rows, **kwargs):
        raise WorkerKilled

    monkeypatch.setattr(session, "generate", killed)
    batcher = GenerationBatcher(session, max_batch_size=1, start=False)
    jobs = [batcher.submit([Row(PROMPT, (1.0, 0.0), 8.0)]) for _ in range(2)]
    batcher.start()
    for job in jobs:
        with pytest.raises(RuntimeError, match="worker stopped: WorkerKilled"):
            job.result(timeout_s=5)
    with pytest.raises(RuntimeError, match="closed"):
        batcher.submit([Row(PROMPT, (1.0, 0.0), 8.0)])
    batcher.close()


def test_a_job_that_gets_no_answer_in_time_says_so():
    with pytest.raises(TimeoutError, match="no answer from the demo's generation worker in 0.01 s"):
        Job([Row(PROMPT, (1.0, 0.0), 8.0)]).result(timeout_s=0.01)


def test_a_full_batch_is_decoded_without_waiting_for_more_requests(session):
    batcher = GenerationBatcher(session, max_batch_size=2, wait_s=60.0, start=False)
    job = batcher.submit([Row(PROMPT, (1.0, 0.0), 8.0), session.unguided_row(PROMPT)])
    batcher.start()
    assert len(job.result(timeout_s=30)) == 2
    batcher.close()
