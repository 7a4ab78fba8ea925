"""What the page's events do, without Gradio: answer a prompt guided and unguided as it streams, and answer it at
every grid alpha with each answer's scores. `app` wires these to the page; tests call them directly."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

from .batcher import GenerationBatcher
from .errors import DemoInputError
from .session import DemoSession, Row, check_prompt, check_strength
from .simplex import alpha_from_first_weight, alpha_from_weights, format_alpha


def alpha_of(session: DemoSession, weights: Sequence[float]) -> list[float]:
    """alpha from the page's controls: the first objective's weight (two objectives) or one weight each, normalised."""
    if len(session.objectives) == 2 and len(weights) == 1:
        return alpha_from_first_weight(weights[0])
    if len(weights) != len(session.objectives):
        raise ValueError(f"{len(weights)} weights for {len(session.objectives)} objectives")
    return alpha_from_weights(weights)


def alpha_label(session: DemoSession, weights: Sequence[float]) -> str:
    """The page's line under the controls: the alpha the guided answer uses."""
    return f"alpha: {format_alpha(alpha_of(session, weights), session.objectives)}"


def alpha_line(session: DemoSession, weights: Sequence[float]) -> str:
    """`alpha_label`, or for controls that give no alpha (every weight at 0) what is wrong: the line updates on
    every slider move, outside the events whose errors the page shows as messages."""
    try:
        return alpha_label(session, weights)
    except DemoInputError as error:
        return f"alpha: none. {error}"


def stream_answers(
    batcher: GenerationBatcher, prompt: str | None, weights: Sequence[float], strength: float
) -> Iterator[tuple[str, str, str]]:
    """(guided answer, base answer, status) as both stream: the guided row and the base row in one batch, which
    other users' rows may join."""
    session = batcher.session
    text = check_prompt(prompt)
    alpha = tuple(alpha_of(session, weights))
    strength = check_strength(strength)
    start = time.perf_counter()
    job = batcher.submit([Row(text, alpha, strength), session.unguided_row(text)])
    yield "", "", "Generating..."
    for guided, base in job.stream():
        yield guided, base, f"Generating... (a batch of {job.batch_rows} rows)"
    seconds = time.perf_counter() - start
    yield (
        guided,
        base,
        f"Done in {seconds:.1f} s: alpha ({format_alpha(alpha, session.objectives)}), "
        + (f"1/beta {strength:g}, decoded in a batch of {job.batch_rows} rows."),
    )


def answer_front(
    batcher: GenerationBatcher, prompt: str | None, strength: float
) -> tuple[list[list], list[tuple[list[float], list[float]]], list[float]]:
    """The prompt answered at every grid alpha and by the unguided base, in one batch: the table's rows (alpha,
    each objective's score, answer), each alpha's scores for the plot, and the base answer's scores."""
    session = batcher.session
    text = check_prompt(prompt)
    strength = check_strength(strength)
    rows = [Row(text, tuple(alpha), strength) for alpha in session.grid] + [session.unguided_row(text)]
    answers = batcher.submit(rows).result()
    scores = session.score(text, answers)
    table = []
    labels = [format_alpha(row.alpha, session.objectives) for row in rows[:-1]] + ["base (unguided)"]
    values = [[score[name] for name in session.objectives] for score in scores]
    for label, answer, value in zip(labels, answers, values, strict=True):
        table.append([label, *(round(number, 3) for number in value), answer])
    points = [(list(row.alpha), value) for row, value in zip(rows[:-1], values[:-1], strict=True)]
    return table, points, values[-1]
