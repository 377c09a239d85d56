"""An Optuna sampler that proposes whole architectures from mdesign's refinement.

::

    sampler = MdesignSampler(kb, task="cora")
    study = optuna.create_study(direction="maximize", sampler=sampler)

    def objective(trial):
        choices = sampler.suggest_architecture(trial)  # one suggest_categorical per dimension
        return train_and_score(choices)

    study.optimize(objective, n_trials=30)

**Relative sampling.** The relative search space is the task's design space, one
:class:`~optuna.distributions.CategoricalDistribution` per dimension (what
:meth:`MdesignSampler.suggest_architecture` asks for). Each trial's architecture is the
next proposal of an ask/tell :class:`~mdesign.refinement.asktell.Refinement` of the
task (the configured strategy; by default ``mdesign refine``'s), kept for the process;
every other parameter the objective asks for comes from ``independent_sampler``
(Optuna's :class:`~optuna.samplers.RandomSampler` by default). Each trial carries the
proposal's ``mdesign_uid``, ``mdesign_kind``, ``mdesign_reason`` and ``mdesign_predicted``
as user attributes.

**Results.** Finished trials are told back, from the storage, before every proposal:
``COMPLETE`` with its value (negated for a study that minimises: mdesign's scores are
higher-is-better), ``PRUNED`` with its last intermediate value (no value: failed), ``FAIL``
as a failed evaluation (score 0), so the refinement never proposes it again. A trial made
by anything else (``enqueue_trial``, another sampler, another process) counts too, when
it set every dimension. On a knowledge base every told result becomes evidence of the
task at once, and the run is stored like ``mdesign refine``'s (``evaluator`` ``ask-tell``).

**Parallel trials.** With ``n_jobs`` > 1, or several processes on one storage (RDB,
journal file), up to ``config.batch`` proposals are out together; a trial that starts
while the refinement waits for results it needs (or whose proposal another process is
already running) gets a seeded random untried architecture instead (user attribute
``mdesign_kind`` ``random``); its result still reaches the refinement. Set ``batch`` to
the number of parallel workers. A study resumed with ``optuna.load_study`` in a new
process replays its finished trials for free (the refinement is deterministic for a
configuration, seed and knowledge base) and carries on.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from typing import Any

import optuna
from mdesign.core.errors import InputError
from mdesign.core.space import DesignSpace, key_of
from mdesign.kb.knowledge_base import KnowledgeBase
from mdesign.refinement.asktell import Proposal, Refinement
from mdesign.refinement.config import RefineConfig
from mdesign.refinement.evidence import EvidenceReader
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

DEFAULT_BUDGET = 10_000  # the refinement's budget: the study's n_trials stops it first
_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
UID_ATTR = "mdesign_uid"


class MdesignSampler(BaseSampler):
    """Proposes each trial's architecture from mdesign's refinement of ``task`` (the
    module's docstring). ``config``: the refinement's configuration (default: the
    defaults of ``mdesign refine``, with ``space``, ``budget``, ``batch`` and ``seed`` as
    given here); ``store``: keep the run and the results in the knowledge base (on a
    :class:`~mdesign.kb.KnowledgeBase`)."""

    def __init__(self, kb: EvidenceReader, task: str, *, config: RefineConfig | None = None,
                 space: str | None = None, budget: int = DEFAULT_BUDGET, batch: int = 1,
                 seed: int = 0, store: bool = True,
                 independent_sampler: BaseSampler | None = None) -> None:
        self.kb = kb
        self.config = config if config is not None else RefineConfig(
            task=task, space=space, budget=budget, batch=batch, seed=seed)
        if self.config.task != task:
            raise InputError(f"the sampler's task {task!r} is not its config's "
                             f"{self.config.task!r}", "give one task")
        self.store = store
        self.independent = independent_sampler or RandomSampler(seed=seed)
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._run: Refinement | None = None
        self._told: set[int] = set()  # trial numbers told

    # Ray Tune (and Optuna's own checkpoints) pickle the sampler. The live refinement and
    # its thread stay behind: a restored sampler starts a new one, which replays the
    # study's finished trials for free; a knowledge base reconnects with the default
    # settings (the managed server, or NEO4J_URI).
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_lock")
        state["_run"], state["_told"] = None, set()
        if isinstance(self.kb, KnowledgeBase):
            state["kb"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()
        if self.kb is None:
            self.kb = KnowledgeBase.connect()

    # -- the refinement -----------------------------------------------------------------

    @property
    def refinement(self) -> Refinement:
        """The ask/tell refinement behind this sampler (started on first use)."""
        with self._lock:
            if self._run is None:
                self._run = Refinement(self.kb, self.config, store=self.store)
            return self._run

    @property
    def space(self) -> DesignSpace:
        return self.refinement.space

    def search_space(self) -> dict[str, CategoricalDistribution]:
        """The design space as Optuna distributions (one categorical per dimension)."""
        return {d.name: CategoricalDistribution(list(d.choices))
                for d in self.space.dimensions}

    def suggest_architecture(self, trial: optuna.Trial) -> dict[str, Any]:
        """Ask ``trial`` for every dimension of the design space; the choices."""
        return {name: trial.suggest_categorical(name, dist.choices)  # type: ignore[arg-type]
                for name, dist in self.search_space().items()}

    def close(self) -> None:
        """Stop the refinement (a stored run is left ``interrupted``; it resumes)."""
        with self._lock:
            if self._run is not None:
                self._run.close()

    # -- Optuna's sampler interface -----------------------------------------------------

    def reseed_rng(self) -> None:
        self.independent.reseed_rng()

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial
                                    ) -> dict[str, BaseDistribution]:
        if study._is_multi_objective():
            raise InputError("MdesignSampler optimises one objective",
                             "give the study one direction")
        return dict(self.search_space())

    def sample_relative(self, study: Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        if not search_space:
            return {}
        with self._lock:
            self._sync(study)
            elsewhere = self._running_elsewhere(study, trial)
            proposal = self._next(elsewhere)
            if proposal is None:
                uid = self._random_untried(elsewhere)
                kind, reason, predicted = "random", "a parallel trial while the " \
                    "refinement waits for results (or after it ended): a random untried " \
                    "architecture", None
            else:
                uid, kind, reason = proposal.uid, proposal.kind, proposal.reason
                predicted = proposal.predicted
        storage = study._storage
        for k, v in ((UID_ATTR, uid), ("mdesign_kind", kind), ("mdesign_reason", reason),
                     ("mdesign_predicted", predicted)):
            storage.set_trial_user_attr(trial._trial_id, k, v)
        choices = self.space.parse_key(key_of(uid))
        return {name: choices[name] for name in search_space if name in choices}

    def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        return self.independent.sample_independent(study, trial, param_name,
                                                   param_distribution)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self.independent.before_trial(study, trial)

    def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        self.independent.after_trial(study, trial, state, values)
        with self._lock:
            self._tell(study, trial, state, values)

    # -- helpers --------------------------------------------------------------------------

    def _uid_of(self, trial: FrozenTrial) -> str | None:
        uid = trial.user_attrs.get(UID_ATTR)
        if uid:
            return str(uid)
        names = self.space.dimension_names
        if not all(n in trial.params for n in names):
            return None  # not an architecture of the space: nothing to tell
        try:
            arch = self.space.canonical_form(self.space.parse({n: trial.params[n]
                                                                for n in names}))
        except InputError:
            return None
        return None if self.space.violation(arch) else self.space.uid(arch)

    def _tell(self, study: Study, trial: FrozenTrial, state: TrialState,
              values: Sequence[float] | None) -> None:
        if trial.number in self._told or state not in _FINISHED:
            return
        self._told.add(trial.number)
        uid = self._uid_of(trial)
        if uid is None or uid in self.refinement.told():
            return  # a repeat of an architecture already told: the first result stands
        sign = -1.0 if study.direction == StudyDirection.MINIMIZE else 1.0
        result: float | None = None
        if state == TrialState.COMPLETE and values:
            result = sign * float(values[0])
        elif state == TrialState.PRUNED and trial.intermediate_values:
            last = max(trial.intermediate_values)
            result = sign * float(trial.intermediate_values[last])
        self.refinement.tell(uid, result)

    def _sync(self, study: Study) -> None:
        for t in study.get_trials(deepcopy=False, states=_FINISHED):
            if t.number not in self._told:
                self._tell(study, t, t.state, t.values)

    def _running_elsewhere(self, study: Study, trial: FrozenTrial) -> set[str]:
        mine = {p.uid for p in self.refinement.pending()}
        out = set()
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            uid = t.user_attrs.get(UID_ATTR)
            if t.number != trial.number and uid and uid not in mine:
                out.add(str(uid))
        return out

    def _next(self, elsewhere: set[str]) -> Proposal | None:
        """The refinement's next proposal not already running in another process, or
        None when it has none to give now (it waits for results, or it has ended)."""
        run = self.refinement
        while True:
            try:
                p = run.ask()
            except InputError:
                return None  # waiting for results of proposals that are out
            if p is None or p.uid not in elsewhere:
                return p
            # another process runs it: its result comes through the storage

    def _random_untried(self, elsewhere: set[str]) -> str:
        run = self.refinement
        taken = set(run.told()) | {p.uid for p in run.pending()} | elsewhere
        space = self.space
        for _ in range(1000):
            arch = space.canonical_form(space.parse(
                {d.name: self._rng.choice(d.choices) for d in space.dimensions}))
            if not space.violation(arch) and space.uid(arch) not in taken:
                return space.uid(arch)
        raise InputError("no untried architecture found in 1,000 random draws",
                         "the space is (nearly) exhausted: stop the study")
