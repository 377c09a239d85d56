"""``mdesign ghn train|score``: the graph hypernetwork (parse, call, print)."""

from __future__ import annotations

import click
from mdesign.cli.common import model_delete_command, open_kb, print_json, print_rows, progress_bar


@click.group("ghn")
def ghn_group() -> None:
    """Graph hypernetwork: weights for unseen architectures, and a ranking without training."""


@ghn_group.command("train")
@click.option("--task", required=True, help="a node or graph task added with `task add`")
@click.option("--name", default="ghn", show_default=True, help="checkpoint name")
@click.option("--space", default="nas-bench-graph", show_default=True)
@click.option("--steps", type=int, default=300, show_default=True)
@click.option("--archs-per-step", type=int, default=4, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True)
@click.option("--dim", type=int, default=64, show_default=True, help="hypernetwork width")
@click.option("--block", type=int, default=32, show_default=True,
              help="side of the decoded weight block (tiled to each tensor's shape)")
@click.option("--model-dim", type=int, default=128, show_default=True,
              help="width of the architectures (the trainer's --dim)")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True, help="auto: the GPU when there is one")
def ghn_train(task: str, name: str, space: str, steps: int, archs_per_step: int, lr: float,
              dim: int, block: int, model_dim: int, seed: int, device: str) -> None:
    """Train a hypernetwork on TASK over the architectures of SPACE and store it."""
    import torch
    from mdesign.predictors.ghn import GHNConfig, save_ghn, train_ghn
    from mdesign.tasks.store import load_task

    torch.set_num_threads(1)
    cfg = GHNConfig(name=name, task=task, space=space, steps=steps,
                    archs_per_step=archs_per_step, lr=lr, dim=dim, block=block,
                    model_dim=model_dim, seed=seed, device=device)
    with open_kb() as kb:
        data = load_task(kb, task)
        sp = kb.space(space)
        with progress_bar("ghn train") as bar:
            ghn, metrics = train_ghn(sp, data, cfg, progress=lambda s, n, loss: bar(
                f"loss {loss:.3f}", s, n))
        meta = save_ghn(kb, ghn, cfg, metrics)
    click.echo(f"ghn {meta.name}: {task} on {space}, {steps} steps x {archs_per_step} "
               f"architectures in {metrics['train_s']} s on {metrics['device']}; loss "
               f"{metrics['loss_first']:.3f} -> {metrics['loss_last']:.3f}")


@ghn_group.command("score")
@click.option("--name", default="ghn", show_default=True)
@click.option("--arch", "archs", required=True, multiple=True,
              help="architecture key or uid (repeatable)")
@click.option("--task", default=None, help="default: the task the hypernetwork learned")
@click.option("--split", type=click.Choice(["val", "test"]), default="val",
              show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def ghn_score(name: str, archs: tuple[str, ...], task: str | None, split: str,
              as_json: bool) -> None:
    """Accuracy of architectures under generated weights (no training)."""
    from mdesign.cli.predictors import parse_keys
    from mdesign.predictors.meta import load_meta

    with open_kb() as kb:
        load_meta(kb, name, expect="ghn")  # a wrong name or kind fails before torch loads
        import torch
        from mdesign.predictors.ghn import ghn_scores, load_ghn
        from mdesign.tasks.store import load_task

        torch.set_num_threads(1)
        ghn, meta = load_ghn(kb, name)
        space = meta.spaces[0]
        keys = parse_keys(kb, space, archs)
        data = load_task(kb, task or meta.tasks[0])
        model_dim = int(meta.metrics.get("settings", {}).get("model_dim", 128))
        scores = ghn_scores(ghn, kb.space(space), data, keys, split, model_dim)
    out = [{"uid": f"{space}/{k}", "score": round(float(s), 6), "split": split}
           for k, s in zip(keys, scores, strict=True)]
    if as_json:
        print_json(out)
    else:
        print_rows(out, "scores under generated weights")


ghn_group.add_command(model_delete_command("ghn", "graph hypernetwork"))
