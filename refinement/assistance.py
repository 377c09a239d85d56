"""What trained models add to a refinement run, none of it paid from the budget.

Three optional aids, each named in :class:`~mdesign.refinement.config.RefineConfig` and
each read from the knowledge base (an in-memory evidence source has none of them):

- ``predictor``: the gain a source never measured, predicted from its scores
  (:class:`~mdesign.refinement.predicted.PredictedGains`), fills the source's missing
  evidence before the planners see it;
- ``ghn``: a step scores a pool ``ghn_pool`` times larger than its batch and keeps the
  candidates that score best under weights a graph hypernetwork generates on the target
  (:class:`~mdesign.refinement.predicted.GHNFilter`);
- ``generator``: the architectures a trained generator proposes for the target,
  conditioned on the results paid for so far. The first ``generated`` are evaluated
  before the start; the rest are kept as proposals, and once ``generator_patience``
  evaluations in a row found no new best the next untried one is paid for (a jump).

This module computes the predictions, rankings and proposals; the run
(:mod:`~mdesign.refinement.refine`) decides when to pay for them and records the steps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from mdesign.core.errors import InputError
from mdesign.core.space import DesignSpace, key_of
from mdesign.refinement.candidates import Candidate
from mdesign.refinement.config import RefineConfig
from mdesign.refinement.evidence import EvidenceReader, knowledge_base_of

if TYPE_CHECKING:
    from mdesign.core.evaluation import Evaluation
    from mdesign.refinement.predicted import GHNFilter, PredictedGains

Proposal = tuple[str, float | None]  # uid, the generator's predicted score


class Assistance:
    """The predictor, hypernetwork and generator a run is configured with (each optional);
    a missing knowledge base or a model of another space is refused here, before any
    evaluation is paid for."""

    def __init__(self, kb: EvidenceReader, config: RefineConfig, space: DesignSpace) -> None:
        self.kb, self.cfg, self.space = kb, config, space
        self.proposals: list[Proposal] = []  # the generator's, unpaid
        self.predicted: PredictedGains | None = None
        if config.predictor:  # imported here: torch only when a predictor is asked for
            from mdesign.refinement.predicted import PredictedGains

            self.predicted = PredictedGains(knowledge_base_of(kb, "--predictor"),
                                            config.predictor, space)
        if config.generator:  # refused before any evaluation is paid for
            knowledge_base_of(kb, "--generator")
        self.ghn: GHNFilter | None = None
        if config.ghn:
            from mdesign.refinement.predicted import GHNFilter

            self.ghn = GHNFilter(knowledge_base_of(kb, "--ghn"), config.ghn, space,
                                 config.task)

    # -- predictor --------------------------------------------------------------------

    def fill_missing(self, task: str, centre: str, cands: Sequence[Candidate],
                     ev: np.ndarray) -> np.ndarray:
        """``ev`` (one source's stored gains of the edits ``centre -> candidate``, NaN:
        never measured) with the predictor's gains where it is missing (in place)."""
        missing = np.isnan(ev)
        if self.predicted is not None and missing.any():
            keys = [c.key for c, m in zip(cands, missing, strict=True) if m]
            ev[missing] = self.predicted.gains(task, key_of(centre), keys)
        return ev

    # -- hypernetwork -----------------------------------------------------------------

    def pool(self, want: int) -> int:
        """How many candidates a step of ``want`` evaluations scores."""
        return want * (self.cfg.ghn_pool if self.ghn else 1)

    def narrow(self, picked: list[Any], want: int) -> list[Any]:
        """The ``want`` of ``picked`` (best first) that a step pays for."""
        if self.ghn is not None and len(picked) > want:
            return self.ghn.best(picked, want)
        return picked

    # -- generator --------------------------------------------------------------------

    def generate(self, seen: Mapping[str, Evaluation],
                 usable: Callable[[str], bool]) -> list[Proposal]:
        """The generator's proposals to pay for before the start, conditioned on what the
        run has paid for so far (``seen``); seeded, so a resume replays it. The later
        ones are kept for jumps."""
        from mdesign.generation.generator import GenerationSettings, generate_for_task

        cfg = self.cfg
        assert cfg.generator is not None
        known = {u: e.score for u, e in seen.items()}
        # later proposals (generator_patience) come from the same seeded list: the first
        # ones do not depend on its length
        n = 4 * cfg.generated + (32 if cfg.generator_patience else 0)
        result = generate_for_task(
            knowledge_base_of(self.kb, "--generator"), cfg.generator, cfg.task,
            GenerationSettings(n=n, seed=cfg.seed),
            known=known, exclude=[key_of(u) for u in seen], save=False,
            stored=False)
        if result.space != self.space.name:
            raise InputError(f"generator {cfg.generator!r} generates in {result.space!r}, "
                             f"not in the run's space {self.space.name!r}",
                             "train one on the run's space (`mdesign generator train`)")
        proposed = [(a.uid, a.predicted) for a in result.architectures if usable(a.uid)]
        self.proposals = proposed[cfg.generated:]
        return proposed[:cfg.generated]

    def jump_due(self, stall: int, seen: Mapping[str, Evaluation]) -> bool:
        """Whether the walk has stalled long enough (``stall`` paid evaluations without a
        new best) to pay for a generated proposal."""
        p = self.cfg.generator_patience
        return bool(p) and stall >= p and any(u not in seen for u, _ in self.proposals)

    def next_proposal(self, seen: Mapping[str, Evaluation]) -> Proposal:
        """The generator's next untried proposal (taken off the list)."""
        self.proposals = [x for x in self.proposals if x[0] not in seen]
        return self.proposals.pop(0)
