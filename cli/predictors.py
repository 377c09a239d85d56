"""``mdesign predictor train|list|embed|like`` and ``mdesign predict`` (parse, call, print)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click
from mdesign.cli.common import model_delete_command, open_kb, print_json, print_rows

# mdesign.predictors.adaptation's choices, spelled here so that the CLI starts without torch
# (a test keeps the two equal)
ADAPT_CHOICES = ("ensemble", "task", "heads", "full", "transfer", "probe", "auto")


@click.group("predictor")
def predictor_group() -> None:
    """The learned performance predictor (computation graphs, k-GNN encoder)."""


@predictor_group.command("train")
@click.option("--name", default="default", show_default=True, help="checkpoint name")
@click.option("--space", default="nas-bench-graph", show_default=True)
@click.option("--tasks", default=None, help="comma-separated tasks (default: every task "
              "with results in the space)")
@click.option("--archs", type=int, default=2000, show_default=True,
              help="labelled architectures sampled from the space")
@click.option("--pretrain-archs", type=int, default=1000, show_default=True,
              help="unlabelled architectures per space for contrastive pretraining")
@click.option("--pretrain-epochs", type=int, default=10, show_default=True)
@click.option("--epochs", type=int, default=100, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def predictor_train(name: str, space: str, tasks: str | None, archs: int,
                    pretrain_archs: int, pretrain_epochs: int, epochs: int,
                    seed: int) -> None:
    """Pretrain, fit and store a predictor on the knowledge base's results."""
    import torch
    from mdesign.predictors.predictor import PredictorConfig, train_predictor

    torch.set_num_threads(1)
    cfg = PredictorConfig(name=name, space=space, archs=archs, pretrain_archs=pretrain_archs,
                          pretrain_epochs=pretrain_epochs, epochs=epochs, seed=seed,
                          tasks=[t for t in tasks.split(",") if t] if tasks else None)
    with open_kb() as kb:
        meta = train_predictor(kb, cfg, echo=lambda m: click.echo(m, err=True))
    click.echo(f"predictor {meta.name}: {meta.metrics['archs']} architectures of "
               f"{', '.join(meta.spaces)} on {len(meta.tasks)} tasks; fit MSE "
               f"{meta.metrics['fit_mse']:.4f}")


@predictor_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def predictor_list(as_json: bool) -> None:
    """Stored predictors, with their spaces and tasks."""

    with open_kb() as kb:
        rows = kb.predictors.list()
    if as_json:
        print_json(rows)
        return
    print_rows([{"name": r["name"], "type": r["type"], "created": r["created"],
                 "spaces": ",".join(r["spaces"]), "tasks": len(r["tasks"]),
                 "path": r["path"]} for r in rows], "predictors")


@predictor_group.command("embed")
@click.option("--name", default="default", show_default=True)
@click.option("--space", default="nas-bench-graph", show_default=True)
@click.option("--archs", type=int, default=2000, show_default=True,
              help="architectures to embed (a seeded sample; 0 = the whole space)")
def predictor_embed(name: str, space: str, archs: int) -> None:
    """Store architecture embeddings in Neo4j (read by `predictor like`)."""
    from mdesign.predictors.predictor import embed_space, sample_keys

    with open_kb() as kb:
        keys = sample_keys(kb, space, archs or 10**9, 0)
        n = embed_space(kb, name, space, keys)
    click.echo(f"{n} embeddings of {space} stored")


@predictor_group.command("like")
@click.argument("uid")
@click.option("-k", type=int, default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def predictor_like(uid: str, k: int, as_json: bool) -> None:
    """Architectures like UID, by cosine similarity of stored embeddings."""
    from mdesign.core.errors import InputError

    with open_kb() as kb:
        rows = kb.predictors.like(uid, k)
    if not rows:
        raise InputError(f"{uid} has no stored embedding",
                         "run `mdesign predictor embed` on its space first")
    out = [{"uid": r["uid"], "similarity": round(r["similarity"], 6)} for r in rows]
    if as_json:
        print_json(out)
    else:
        print_rows(out, f"architectures like {uid}")


def parse_keys(kb: Any, space: str, archs: Sequence[str]) -> list[str]:
    """Canonical keys of ``archs`` (keys or ``space/key`` uids) of ``space``."""
    from mdesign.core.errors import InputError
    from mdesign.core.space import key_of

    sp = kb.space(space)
    keys = []
    for a in archs:
        key = key_of(a) if a.startswith(space + "/") else a
        try:
            arch = sp.parse_key(key)
        except InputError as err:
            raise InputError(f"{a!r} is not an architecture of {space!r}",
                             f"give a key like {sp.key(next(iter(sp.enumerate())))}") from err
        keys.append(sp.key(arch))
    return keys


@click.command("predict")
@click.option("--task", required=True)
@click.option("--arch", "archs", required=True, multiple=True,
              help="architecture key or uid (repeatable)")
@click.option("--predictor", "name", default="default", show_default=True)
@click.option("--space", default=None, help="default: the predictor's space")
@click.option("--finetune", "finetune_on", type=int, default=0, show_default=True,
              help="first adapt to this many of the task's stored results")
@click.option("--adapt", type=click.Choice(ADAPT_CHOICES),
              default="ensemble", show_default=True,
              help="how --finetune adapts: the mean of full, transfer and probe "
                   "(ensemble); task embedding, encoder and head (full); the task "
                   "embedding (task); task and score heads (heads); a ridge mixture of the "
                   "trained tasks' predictions (transfer), plus the embedding (probe); or "
                   "the best by cross-validation on the results (auto)")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def predict_cmd(task: str, archs: tuple[str, ...], name: str, space: str | None,
                finetune_on: int, adapt: str, as_json: bool) -> None:
    """Predicted score of architectures on TASK (1 = the task's best, 0 = its worst)."""
    from mdesign.predictors.meta import load_meta

    with open_kb() as kb:
        _, meta = load_meta(kb, name)  # a wrong name fails before torch loads
        from mdesign.predictors.predictor import predict_scores

        space = space or meta.spaces[0]
        keys = parse_keys(kb, space, archs)
        scores = predict_scores(kb, name, task, space, keys, finetune_on=finetune_on,
                                adapt_how=adapt)
    out = [{"uid": f"{space}/{k}", "predicted": round(float(s), 6)}
           for k, s in zip(keys, scores, strict=True)]
    if as_json:
        print_json(out)
    else:
        print_rows(out, f"predicted scores on {task}")


predictor_group.add_command(model_delete_command("performance", "predictor"))
