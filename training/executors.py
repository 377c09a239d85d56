"""Executors: where a batch of trainings runs.

An :class:`Executor` maps one function over a list of jobs and returns the results in
the order of the jobs, whatever order they finish in, so that a refinement is the same
run on one worker, on two, or on a cluster. Arguments shared by every job (the task's
data) are shipped once per batch rather than once per job.

- :class:`LocalExecutor`: a pool of spawned processes on this machine (the default).
- :class:`RayExecutor`: tasks on Ray, the distributed engine for when one machine is not
  enough. Without an address it starts a private single-machine Ray instance; with
  ``address`` (``host:port`` of a head node started by ``ray start --head``) it joins that
  cluster, whose CPUs then decide the parallelism.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
import socket
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

from mdesign.core.errors import InputError, MdesignError, ServerError

T = TypeVar("T")

EXECUTORS = ("local", "ray")


class Executor(ABC):
    """Runs ``fn(*shared, *job)`` for every job; results come back in job order."""

    name: str

    def warm_up(self, module: str) -> None:  # noqa: B027 - optional hook
        """Start every worker and import ``module`` in it now, so that the first batch is
        not slowed by workers still starting (and start-up can be timed on its own)."""

    @abstractmethod
    def map(self, fn: Callable[..., T], shared: Sequence[Any],
            jobs: Sequence[Sequence[Any]]) -> list[T]: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release workers (idempotent)."""


def _import_and_wait(module: str, seconds: float) -> int:
    importlib.import_module(module)
    time.sleep(seconds)
    return os.getpid()


class LocalExecutor(Executor):
    """``workers`` spawned processes: nothing is shared with the parent but the pickled
    arguments, so torch's thread setting and CUDA state start clean in each worker."""

    name = "local"

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise InputError(f"workers must be at least 1 (got {workers})", "pass --workers 1+")
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def _started(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers,
                                             mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    def warm_up(self, module: str) -> None:
        # The pool spawns a process only when no idle one can take a job, so a short job
        # per worker may all land on the first; wait until every worker has answered.
        pool, seen, deadline = self._started(), set(), time.monotonic() + 120
        while len(seen) < self.workers and time.monotonic() < deadline:
            futures = [pool.submit(_import_and_wait, module, 0.5)
                       for _ in range(self.workers)]
            seen.update(f.result() for f in futures)

    def map(self, fn: Callable[..., T], shared: Sequence[Any],
            jobs: Sequence[Sequence[Any]]) -> list[T]:
        pool = self._started()
        futures = [pool.submit(fn, *shared, *job) for job in jobs]
        return [f.result() for f in futures]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


def _reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast on a dead head node: ``ray.init`` itself retries for minutes."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"Ray address {address!r} is not host:port",
                         "pass --address HOST:PORT of the head node (ray start --head)")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as err:
        raise ServerError(f"no Ray head node answers at {address} ({err.strerror or err})",
                          "start one with `ray start --head` or fix --address") from err


def _ray_temp_dir() -> str:
    """Ray's session directory holds Unix sockets, whose paths may not exceed 107 bytes, so
    it stays short (``RAY_TMPDIR`` overrides) and private to the user."""
    path = os.environ.get("RAY_TMPDIR") or f"/tmp/mdesign-ray-{os.getuid()}"
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


_SWITCH = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def _single_machine(ray: Any, on: bool) -> tuple[str | None, bool]:
    """Make Ray treat this machine as a single-node cluster, whose every socket is on
    loopback (``on``), or set back what :func:`_single_machine` returned. Ray's processes
    read the variable when they start; the driver's copy of the constant was read when
    ``ray`` was imported, possibly before us. Returns the previous settings."""
    constants = ray._private.ray_constants
    before = (os.environ.get(_SWITCH), constants.ENABLE_RAY_CLUSTER)
    if on:
        os.environ[_SWITCH] = "0"
        constants.ENABLE_RAY_CLUSTER = False
    return before


def _restore(ray: Any, before: tuple[str | None, bool]) -> None:
    if before[0] is None:
        os.environ.pop(_SWITCH, None)
    else:
        os.environ[_SWITCH] = before[0]
    ray._private.ray_constants.ENABLE_RAY_CLUSTER = before[1]


class RayExecutor(Executor):
    """Ray tasks of ``cpus`` CPUs (and ``gpus`` GPUs) each.

    A private instance (no ``address``) gets ``workers * cpus`` CPUs, no dashboard, Ray's
    token authentication, and every socket on loopback (Ray binds all interfaces unless it
    believes it runs a single-machine cluster, which
    ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` tells it); it lives as long as this executor.
    Workers of a remote cluster must run the same mdesign version; a mismatch fails with a
    clear error rather than with numbers under the wrong provenance.
    """

    name = "ray"

    def __init__(self, workers: int = 1, address: str | None = None, cpus: int = 1,
                 gpus: float = 0.0) -> None:
        if workers < 1:
            raise InputError(f"workers must be at least 1 (got {workers})", "pass --workers 1+")
        try:
            import ray
        except ImportError as err:  # pragma: no cover - ray is a pinned dependency
            raise InputError("Ray is not installed", "pip install ray==2.60.0") from err
        self._ray = ray
        self.address = address
        self._before: tuple[str | None, bool] | None = None
        if ray.is_initialized():
            self._started = False
        else:
            if address is not None:
                _reachable(address)
            try:
                if address is None:
                    self._before = _single_machine(ray, True)
                    ray.init(num_cpus=workers * cpus, num_gpus=0 if not gpus else None,
                             include_dashboard=False, log_to_driver=False,
                             logging_level=logging.ERROR, _temp_dir=_ray_temp_dir())
                else:
                    ray.init(address=address, log_to_driver=False,
                             logging_level=logging.ERROR)
            except (ConnectionError, RuntimeError, ValueError) as err:
                if self._before is not None:
                    _restore(ray, self._before)
                raise ServerError(f"Ray did not start ({str(err).splitlines()[0]})",
                                  "check --address, or run without --executor ray") from err
            self._started = True
        self._options = {"num_cpus": cpus, "num_gpus": gpus, "max_retries": 0}
        self.workers = workers

    def warm_up(self, module: str) -> None:
        if self.address is not None:
            return  # a shared cluster's workers are not ours to hold
        ray = self._ray
        warm = ray.remote(**self._options)(_import_and_wait)
        ray.get([warm.remote(module, 0.5) for _ in range(self.workers)])

    def map(self, fn: Callable[..., T], shared: Sequence[Any],
            jobs: Sequence[Sequence[Any]]) -> list[T]:
        ray = self._ray
        remote = ray.remote(**self._options)(fn)
        refs = [ray.put(x) for x in shared]  # shipped once, read by every job
        futures = [remote.remote(*refs, *job) for job in jobs]
        try:
            return ray.get(futures)
        except ray.exceptions.RayTaskError as err:
            if isinstance(err.cause, MdesignError):
                raise err.cause from None
            raise ServerError(f"a Ray training failed: {str(err.cause).splitlines()[0]}",
                              "see the Ray worker logs") from err
        except ray.exceptions.RayError as err:
            raise ServerError(f"the Ray cluster failed: {str(err).splitlines()[0]}",
                              "check the cluster, then resume the run with --resume") from err

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()
            self._started = False
        if self._before is not None:
            _restore(self._ray, self._before)
            self._before = None


def make_executor(name: str, workers: int = 1, address: str | None = None,
                  cpus: int = 1, gpus: float = 0.0) -> Executor:
    """The executor called ``name`` (the CLI's ``--executor``)."""
    if name == "local":
        if address is not None:
            raise InputError("--address is for the Ray executor", "add --executor ray")
        return LocalExecutor(workers)
    if name == "ray":
        return RayExecutor(workers, address, cpus, gpus)
    raise InputError(f"unknown executor {name!r}", f"choose from {', '.join(EXECUTORS)}")
