"""mdesign's Optuna sampler with real Optuna, on in-memory evidence (no server)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import optuna
import pytest
from mdesign.integrations.optuna import MdesignSampler
from mdesign.refinement.evaluators import BenchmarkEvaluator
from mdesign.refinement.memory import InMemoryEvidence
from mdesign.refinement.refine import RefineConfig, refine

from tests.test_refine_memory import SPACE, TASKS, _table

optuna.logging.set_verbosity(optuna.logging.WARNING)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def evidence() -> InMemoryEvidence:
    return InMemoryEvidence(SPACE, {t: _table(t, *p) for t, p in TASKS.items()})


def _objective(sampler: MdesignSampler, table: dict, extra: bool = False):
    def objective(trial: optuna.Trial) -> float:
        choices = sampler.suggest_architecture(trial)
        if extra:  # a parameter outside the design space: the independent sampler's
            trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        uid = SPACE.uid(SPACE.canonical_form(SPACE.parse(choices)))
        return table[uid].score
    return objective


def test_study_follows_the_refinement(evidence: InMemoryEvidence) -> None:
    table = evidence.oracle("target")
    direct = refine(evidence, RefineConfig(task="target", budget=12),
                    BenchmarkEvaluator(None, "target", 12, table=table))
    sampler = MdesignSampler(evidence, "target", store=False)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(_objective(sampler, table, extra=True), n_trials=12)
    uids = [t.user_attrs["mdesign_uid"] for t in study.trials]
    assert uids == [s.uid for s in direct.steps]
    assert all("lr" in t.params for t in study.trials)
    assert study.best_value == pytest.approx(direct.best.score)
    assert {t.user_attrs["mdesign_kind"] for t in study.trials} <= {"start", "edit"}
    sampler.close()


def test_minimise_pruned_failed_and_enqueued_trials(evidence: InMemoryEvidence) -> None:
    table = evidence.oracle("target")
    sampler = MdesignSampler(evidence, "target", store=False)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    enqueued = {"agg": "max", "layers": 1, "act": "relu", "width": 16}
    study.enqueue_trial(enqueued)
    calls = {"n": 0}

    def objective(trial: optuna.Trial) -> float:
        choices = sampler.suggest_architecture(trial)
        calls["n"] += 1
        uid = SPACE.uid(SPACE.canonical_form(SPACE.parse(choices)))
        if calls["n"] == 2:
            trial.report(-0.3, 0)
            raise optuna.TrialPruned
        if calls["n"] == 3:
            raise RuntimeError("diverged")
        return -table[uid].score  # minimise the error

    study.optimize(objective, n_trials=8, catch=(RuntimeError,))
    told = sampler.refinement.told()
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.PRUNED) == 1
    assert states.count(optuna.trial.TrialState.FAIL) == 1
    uids = [t.user_attrs.get("mdesign_uid") for t in study.trials]
    first = SPACE.uid(SPACE.canonical_form(SPACE.parse(enqueued)))
    assert first in told and told[first].score == pytest.approx(table[first].score)
    pruned, failed = study.trials[1], study.trials[2]
    assert told[pruned.user_attrs["mdesign_uid"]].score == pytest.approx(0.3)
    assert told[failed.user_attrs["mdesign_uid"]].failed
    assert len(set(uids[1:])) == len(uids) - 1  # nothing proposed twice
    sampler.close()


def test_parallel_threads_take_distinct_architectures(evidence: InMemoryEvidence) -> None:
    table = evidence.oracle("target")
    sampler = MdesignSampler(evidence, "target", batch=2, store=False)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(_objective(sampler, table), n_trials=16, n_jobs=2)
    uids = [t.user_attrs["mdesign_uid"] for t in study.trials]
    assert len(study.trials) == 16 and len(set(uids)) == 16
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    # the refinement itself carried most trials
    kinds = [t.user_attrs["mdesign_kind"] for t in study.trials]
    assert kinds.count("random") <= 8
    sampler.close()


_WORKER = textwrap.dedent("""
    import sys
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    from mdesign.integrations.optuna import MdesignSampler
    from mdesign.refinement.memory import InMemoryEvidence
    from tests.test_refine_memory import SPACE, TASKS, _table

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    evidence = InMemoryEvidence(SPACE, {t: _table(t, *p) for t, p in TASKS.items()})
    table = evidence.oracle("target")
    storage = JournalStorage(JournalFileBackend(sys.argv[1]))
    sampler = MdesignSampler(evidence, "target", batch=2, store=False)
    study = optuna.load_study(study_name="shared", storage=storage, sampler=sampler)

    def objective(trial):
        choices = sampler.suggest_architecture(trial)
        return table[SPACE.uid(SPACE.canonical_form(SPACE.parse(choices)))].score

    study.optimize(objective, n_trials=int(sys.argv[2]))
""")


def test_two_processes_share_one_journal_and_a_study_resumes(
        evidence: InMemoryEvidence, tmp_path: Path) -> None:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    journal = tmp_path / "study.log"
    storage = JournalStorage(JournalFileBackend(str(journal)))
    optuna.create_study(study_name="shared", storage=storage, direction="maximize")
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    env = {"PYTHONPATH": str(ROOT.parent) + ":" + str(ROOT)}
    import os
    env = {**os.environ, **env}
    workers = [subprocess.Popen([sys.executable, str(script), str(journal), "8"], cwd=ROOT,
                                env=env, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    for w in workers:
        _, err = w.communicate(timeout=240)
        assert w.returncode == 0, err
    study = optuna.load_study(study_name="shared", storage=storage)
    assert len(study.trials) == 16
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    table = evidence.oracle("target")
    # resumed in a new process: the finished trials replay, the refinement carries on
    again = subprocess.run([sys.executable, str(script), str(journal), "4"], cwd=ROOT,
                           env=env, capture_output=True, text=True, timeout=240)
    assert again.returncode == 0, again.stderr
    study = optuna.load_study(study_name="shared", storage=storage)
    assert len(study.trials) == 20
    uids = [t.user_attrs["mdesign_uid"] for t in study.trials]
    assert len(set(uids[16:])) == 4 and not set(uids[16:]) & set(uids[:16])
    best = max(table.values(), key=lambda e: e.score)
    assert study.best_value <= best.score


def test_ray_tune_through_optuna_search(evidence: InMemoryEvidence, tmp_path: Path) -> None:
    """Ray Tune driven by mdesign's sampler through Tune's Optuna searcher, on a private
    Ray instance whose sockets are all on loopback (the train executor's)."""
    from mdesign.training.executors import RayExecutor
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    table = {u: e.score for u, e in evidence.oracle("target").items()}
    direct = refine(evidence, RefineConfig(task="target", budget=6),
                    BenchmarkEvaluator(None, "target", 6, table=evidence.oracle("target")))
    executor = RayExecutor(workers=1)
    try:
        sampler = MdesignSampler(evidence, "target", store=False)
        space = {d.name: tune.choice(list(d.choices)) for d in SPACE.dimensions}

        def trainable(config: dict) -> dict:
            arch = SPACE.canonical_form(SPACE.parse({d.name: config[d.name]
                                                      for d in SPACE.dimensions}))
            return {"score": table[SPACE.uid(arch)]}

        search = OptunaSearch(sampler=sampler, metric="score", mode="max")
        tuner = tune.Tuner(trainable, param_space=space, tune_config=tune.TuneConfig(
            search_alg=search, num_samples=6, max_concurrent_trials=1),
            run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0))
        results = tuner.fit()
        assert results.num_errors == 0 and len(results) == 6
        told = sampler.refinement.told()
        assert list(told) == [s.uid for s in direct.steps]
        best = results.get_best_result("score", "max")
        assert best.metrics["score"] == pytest.approx(direct.best.score)
        sampler.close()
    finally:
        executor.close()
