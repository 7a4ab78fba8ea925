"""The Gradio page: a prompt, the alpha controls and guidance strength, the guided and base answers streaming side by
side, the run's Pareto front with the current alpha marked, and the prompt answered at every grid alpha."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

from .batcher import GenerationBatcher
from .errors import DemoInputError
from .handlers import alpha_label, alpha_line, alpha_of, answer_front, stream_answers
from .plot import front_figure
from .session import DemoSession

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no telemetry: the page may run offline

import gradio as gr  # noqa: E402  (after the telemetry switch)


def _page_errors(function: Callable) -> Callable:
    """Shows a `DemoInputError` in the page (a Gradio error toast) instead of a stack trace."""

    def wrapped(*args: Any) -> Any:
        try:
            return function(*args)
        except DemoInputError as error:
            raise gr.Error(str(error)) from error

    return wrapped


def _page_errors_streaming(function: Callable) -> Callable:
    def wrapped(*args: Any) -> Iterator:
        try:
            yield from function(*args)
        except DemoInputError as error:
            raise gr.Error(str(error)) from error

    return wrapped


def weight_controls(session: DemoSession) -> list[gr.Slider]:
    """One slider for two objectives (alpha = [w, 1 - w]); one per objective, normalised to the simplex, for more."""
    objectives = session.objectives
    if len(objectives) == 2:
        label = f"Weight of {objectives[0]} (alpha = [w, 1 - w]: {objectives[1]} gets the rest)"
        return [gr.Slider(0.0, 1.0, value=0.5, step=0.05, label=label, elem_id="alpha")]
    even = round(1 / len(objectives), 2)
    return [
        gr.Slider(0.0, 1.0, value=even, step=0.05, label=f"Weight of {name}", elem_id=f"weight-{index}")
        for index, name in enumerate(objectives)
    ]


def build_app(session: DemoSession, batcher: GenerationBatcher | None = None, max_batch_size: int = 8) -> gr.Blocks:
    """The page for a loaded session; requests from all its users go through one `GenerationBatcher`."""
    batcher = batcher or GenerationBatcher(session, max_batch_size=max_batch_size)
    objectives = session.objectives
    intro = (
        f"# {session.title}\n"
        f"A reward model trained for {', '.join(objectives)} steers the base model token by token. Choose the "
        "trade-off alpha and the guidance strength 1/beta; the guided answer streams beside the base model's own. "
        f"Greedy decoding of at most {session.max_new_tokens} new tokens, as the run's sweep decoded. "
        + " · ".join(f"{key}: `{value}`" for key, value in session.details.items())
    )

    def plot(*values: Any) -> Any:
        *weights, prompt_front = values
        front = prompt_front or {}
        try:
            alpha = alpha_of(session, weights)
        except DemoInputError:  # every weight at 0: the alpha line says so; the plot keeps its last alpha
            return gr.skip()
        return front_figure(objectives, session.sweep, alpha, front.get("points"), front.get("base"))

    def generate(prompt: str, *values: Any) -> Iterator[tuple[str, str, str]]:
        *weights, strength = values
        yield from stream_answers(batcher, prompt, weights, strength)

    def front(prompt: str, strength: float, *weights: Any) -> tuple:
        table, points, base = answer_front(batcher, prompt, strength)
        state = {"points": points, "base": base}
        return table, state, plot(*weights, state)

    with gr.Blocks(title=session.title, analytics_enabled=False) as page:
        gr.Markdown(intro)
        with gr.Row():
            prompt = gr.Textbox(label="Prompt", placeholder="Ask something...", lines=2, elem_id="prompt", scale=4)
            generate_button = gr.Button("Generate", variant="primary", elem_id="generate", scale=1)
        with gr.Row():
            with gr.Column():
                weights = weight_controls(session)
                start = [weight.value for weight in weights]
                alpha_text = gr.Markdown(alpha_label(session, start), elem_id="alpha-label")
            strength = gr.Slider(
                0.0, max(32.0, 4 * session.default_strength), value=session.default_strength, step=0.5,
                label=f"Guidance strength 1/beta (the run's: {session.default_strength:g}; 0: unguided)",
                elem_id="strength",
            )  # fmt: skip
        status = gr.Markdown("", elem_id="status")
        with gr.Row():
            guided = gr.Textbox(label="Guided by the PARM at alpha", lines=8, interactive=False, elem_id="guided")
            base = gr.Textbox(label="Unguided base model", lines=8, interactive=False, elem_id="base")
        prompt_front = gr.State(None)
        with gr.Row():
            pareto = gr.Plot(plot(*start, None), label="Pareto front", elem_id="pareto")
        front_button = gr.Button("Answer this prompt at every grid alpha (one batch)", elem_id="front")
        table = gr.Dataframe(
            headers=["alpha", *objectives, "answer"], label="This prompt at every grid alpha, with its scores",
            wrap=True, elem_id="front-table", interactive=False,
        )  # fmt: skip

        for weight in weights:
            weight.change(lambda *values: alpha_line(session, values), weights, alpha_text, queue=False)
            weight.change(plot, [*weights, prompt_front], pareto, trigger_mode="always_last")
        gr.on(
            [generate_button.click, prompt.submit],
            _page_errors_streaming(generate),
            [prompt, *weights, strength],
            [guided, base, status],
            concurrency_limit=batcher.max_batch_size,
            trigger_mode="always_last",
        )
        front_button.click(
            _page_errors(front), [prompt, strength, *weights], [table, prompt_front, pareto], concurrency_limit=2
        )
    page.queue(default_concurrency_limit=batcher.max_batch_size)
    page.batcher = batcher  # for tests and the launcher
    return page


def error_page(message: str) -> gr.Blocks:
    """A page that only says why the demo cannot start (a Space shows it instead of a crash log)."""
    with gr.Blocks(title="PARM steering demo", analytics_enabled=False) as page:
        gr.Markdown(f"# PARM steering demo cannot start\n\n{message}", elem_id="startup-error")
    return page
