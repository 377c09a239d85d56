"""``TrainEvaluator``: evaluate an architecture by training it on the task's own data.

Every distinct architecture trained costs one unit of budget (re-reading is free). The
score is the mean validation metric over seeds; a failed (diverging) training scores 0
(the worst accuracy or ROC-AUC), is marked ``failed`` and is stored as a failed result
without a score, so it never enters the evidence. ``records_evidence``: after a run the
results become the target's results and gains (:mod:`mdesign.kb.observations`), with
their provenance (code version, seeds, hyper-parameters, hardware, wall time).
"""

from __future__ import annotations

import json

from mdesign.core.errors import InputError
from mdesign.core.evaluation import Evaluation, PaidEvaluator
from mdesign.core.space import DesignSpace, key_of
from mdesign.kb.knowledge_base import code_version
from mdesign.models.builder import family
from mdesign.training.config import TrainConfig
from mdesign.training.data import TaskData
from mdesign.training.executors import Executor, make_executor
from mdesign.training.trainer import Initialiser, TrainResult, train_architecture


def _train_job(space_definition: dict, data: TaskData, config: TrainConfig, version: str,
               initialise: Initialiser | None, key: str) -> TrainResult:
    """One training in a worker process (spawned, or a Ray worker: nothing shared with the
    parent). A worker running other mdesign code would give numbers that the provenance
    attributes to the wrong version, so it refuses."""
    if code_version() != version:
        raise InputError(f"a worker runs mdesign {code_version()}, the run uses {version}",
                         f"install mdesign {version} on every worker")
    space = DesignSpace.from_dict(space_definition, origin="worker")
    return train_architecture(space, space.parse_key(key), data, config, initialise)


class TrainEvaluator(PaidEvaluator):
    records_evidence = True
    spec = "train"  # type: ignore[assignment]

    def __init__(self, data: TaskData, task: str, budget: int, space: DesignSpace,
                 config: TrainConfig | None = None, workers: int = 1,
                 executor: str = "local", address: str | None = None,
                 initialise: Initialiser | None = None) -> None:
        """``data``: the task's data (:func:`mdesign.tasks.load_task` reads a stored
        task's); ``initialise``: see :func:`~mdesign.training.trainer.train_architecture`
        (a configuration with ``ghn`` needs one; picklable for the workers)."""
        super().__init__(task, budget)
        family(space)  # a space the builder cannot realise fails before any training
        if workers < 1:
            raise InputError(f"workers must be at least 1 (got {workers})", "pass --workers 1+")
        self.space = space
        self.config = config or TrainConfig()
        if self.config.ghn and initialise is None:
            raise ValueError(f"TrainConfig.ghn={self.config.ghn!r} names a hypernetwork but "
                             "no initialiser was given (pass ghn_initialiser(config.ghn))")
        self.initialise = initialise
        self.workers = workers
        self.data = data
        self.version = code_version()
        # One local worker trains in this process; anything else goes to an executor,
        # started now so that a dead cluster fails before the run is stored.
        self._executor: Executor | None = None
        if executor != "local" or workers > 1 or address is not None:
            self._executor = make_executor(
                executor, workers, address, cpus=self.config.threads,
                gpus=1.0 if self.config.device == "cuda" else 0.0)
            self._executor.warm_up(__name__)

    def can_evaluate(self, uid: str) -> bool:
        if not uid.startswith(self.space.name + "/"):
            return False
        try:
            arch = self.space.parse_key(key_of(uid))
        except InputError:
            return False
        return self.space.violation(arch) is None

    def _refusal(self, uid: str) -> InputError:
        return InputError(f"{uid} is not an architecture of {self.space.name!r}",
                          "propose architectures of the task's space")

    def _measure(self, uid: str) -> Evaluation:
        if self._executor is not None:
            return self._train([uid])[0]
        arch = self.space.parse_key(key_of(uid))
        return self._evaluation(uid, train_architecture(self.space, arch, self.data, self.config,
                                                          self.initialise))

    def _train(self, uids: list[str]) -> list[Evaluation]:
        definition = self.space.model_dump(mode="json", exclude={"table"})
        results = self._executor.map(_train_job, (definition, self.data, self.config,
                                                  self.version, self.initialise),
                                     [(key_of(u),) for u in uids])
        return [self._evaluation(u, r) for u, r in zip(uids, results, strict=True)]

    @property
    def concurrent(self) -> bool:  # type: ignore[override]
        """Batches train together on an executor (``workers`` processes of
        ``config.threads`` threads, or Ray); one local worker trains in this process."""
        return self._executor is not None

    def _measure_many(self, uids: list[str]) -> list[Evaluation]:
        return self._train(uids)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.close()

    def _evaluation(self, uid: str, res: TrainResult) -> Evaluation:
        """A training's result as an evaluation, with its provenance."""
        provenance = {"code_version": self.version, "seeds": len(res.runs),
                      "hp": json.dumps(res.config.model_dump(), sort_keys=True),
                      "hardware": res.hardware, "wall_s": res.wall_s,
                      "status": res.status}
        if res.status == "ok":
            provenance.update(valid_std=res.valid_std, test_std=res.test_std)
        else:
            provenance["failure"] = res.reason
        return Evaluation(uid=uid, score=res.valid if res.status == "ok" else 0.0,
                          valid=res.valid, test=res.test, params=float(res.params),
                          failed=res.status != "ok", provenance=provenance)
