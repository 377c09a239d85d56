"""``mdesign generator train|list`` and ``mdesign generate`` (parse, call, print)."""

from __future__ import annotations

import click
from mdesign.cli.common import (
    model_delete_command,
    open_kb,
    print_json,
    print_rows,
    progress_bar,
    validated,
)


@click.group("generator")
def generator_group() -> None:
    """Task-guided architecture generator (score-based graph diffusion)."""


@generator_group.command("train")
@click.option("--name", default="diffusion", show_default=True, help="checkpoint name")
@click.option("--space", default="nas-bench-graph", show_default=True)
@click.option("--exclude", default="", help="comma-separated tasks the guide must not see "
              "(held-out targets)")
@click.option("--score-steps", type=int, default=3000, show_default=True,
              help="denoising score matching steps (batches of 256)")
@click.option("--guide-steps", type=int, default=3000, show_default=True,
              help="steps of the noise-aware predictor (0: an unguided generator)")
@click.option("--anchors", type=int, default=8, show_default=True,
              help="anchor architectures whose results describe a task")
@click.option("--seed", type=int, default=0, show_default=True)
def generator_train(name: str, space: str, exclude: str, score_steps: int, guide_steps: int,
                    anchors: int, seed: int) -> None:
    """Train the score network on SPACE and the guide on its tasks' results; store both."""
    import torch
    from mdesign.generation.generator import GeneratorConfig, train_generator

    torch.set_num_threads(1)
    cfg = validated(GeneratorConfig, "generator train", name=name, space=space,
                    score_steps=score_steps, guide_steps=guide_steps, anchors=anchors,
                    seed=seed, exclude=[t for t in exclude.split(",") if t])
    with open_kb() as kb, progress_bar("generator") as bar:
        _, meta = train_generator(kb, cfg, progress=lambda phase, s, n, loss: bar(
            f"{phase} loss {loss:.3f}", s, n))
    m = meta.metrics
    guide = (f"guide on {len(meta.tasks)} tasks in {m['guide_s']} s (MSE {m['guide_mse']})"
             if meta.config["guided"] else "no guide")
    click.echo(f"generator {meta.name}: score network on {m['score_archs']} architectures of "
               f"{space} in {m['score_s']} s (loss {m['score_loss']}); {guide}")
    skipped = m.get("skipped_tasks") or {}
    if skipped:
        listed = ", ".join(f"{t!r} ({n})" for t, n in list(skipped.items())[:5])
        more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        click.echo(f"note: left out of the guide, fewer than 2 results in {space}: "
                   f"{listed}{more}; generating for them still works, from their "
                   "meta-features")
    if meta.config["guided"] and meta.config["anchors"] < anchors:
        click.echo(f"note: {meta.config['anchors']} of {anchors} anchors: only that many "
                   "architectures have results")


@generator_group.command("list")
def generator_list() -> None:
    """Stored generators, and the generations they made."""

    with open_kb() as kb:
        rows = kb.predictors.generators()
    print_rows(rows, "generators")


@click.command("generate")
@click.option("--task", default=None, help="the task to generate for (omit: unconditional)")
@click.option("-n", "n", type=int, default=10, show_default=True,
              help="architectures to return")
@click.option("--generator", "name", default="diffusion", show_default=True)
@click.option("--scale", type=float, default=0.0, show_default=True,
              help="guidance scale of the first round (0: the default, 20)")
@click.option("--decay", type=float, default=0.5, show_default=True,
              help="guidance scale factor between rounds (quality first, then diversity)")
@click.option("--steps", type=int, default=200, show_default=True,
              help="noise levels of the sampler")
@click.option("--unguided", is_flag=True, help="sample without the task's guidance")
@click.option("--new-only", is_flag=True,
              help="return only architectures the task has no stored result for")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--no-store", is_flag=True, help="print only; store nothing")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def generate_cmd(task: str | None, n: int, name: str, scale: float, decay: float, steps: int,
                 unguided: bool, new_only: bool, seed: int, no_store: bool,
                 as_json: bool) -> None:
    """Generate N valid, unique architectures likely to be good for TASK, and store them
    (a :Generation node with its provenance; `mdesign query generations`)."""
    import torch
    from mdesign.generation.generator import (
        GenerationSettings,
        generate_for_task,
        known_keys,
        load_generator_meta,
    )

    torch.set_num_threads(1)
    settings = validated(GenerationSettings, "generate", n=n, scale=scale, decay=decay,
                         steps=steps, seed=seed, guided=not unguided)
    with open_kb() as kb:
        # generate_for_task checks the generator and the task before it samples
        exclude = (known_keys(kb, load_generator_meta(kb, name).spaces[0], task)
                   if new_only and task else [])
        with progress_bar("sampling") as bar:
            result = generate_for_task(kb, name, task, settings, exclude=exclude,
                                       save=not no_store,
                                       progress=lambda s, k: bar("reverse diffusion", s, k))
        stored = ({u: per[task].score for u, per in kb.source_scores(
            [a.uid for a in result.architectures], [task]).items() if task in per}
            if task else {})
    if as_json:
        print_json(result.model_dump())
        return
    rows = [{"rank": a.rank, "uid": a.uid, "predicted": a.predicted,
             "stored score": stored.get(a.uid), "round": a.round, "scale": a.scale}
            for a in result.architectures]
    print_rows(rows, f"generated for {task or '(no task)'} by {name}")
    where = "not stored" if no_store else f"stored as generation {result.id}"
    click.echo(f"{len(result.architectures)} of {n} returned; {result.valid}/{result.samples} "
               f"samples valid, {result.unique} unique; {result.seconds} s; {where}")


generator_group.add_command(model_delete_command("generator", "generator"))
