"""What a fit does: a list of phases, each with its settings resolved, run in order by one :class:`Fit`.

Every fit of the library is one of these plans (Bengio et al. 2007; Rasmus et al. 2015 for the second kind):

- pretrain, then fine-tune: :class:`Greedy` (or :class:`RandomInit`, or :class:`Given` for a stack made
  elsewhere: a transferred one, or the one a warm fit continues), then :class:`FineTune` (``"frozen"``: the
  head alone on the stack's codes; ``"full"``: back-propagation through every layer);
- pretrain, then unroll: :class:`Greedy`, then :class:`Unroll` (the deep autoencoder of Hinton &
  Salakhutdinov 2006, trained end to end);
- a semi-supervised method on every row: :class:`SemiSupervised` (the ladder, M1+M2, VIME...).

The estimators (:mod:`layerwise.sklearn`) are adapters: they read the input, resolve their parameters
(``"auto"`` included) into these phases and run the plan. The command line fits the estimators, and the demo
and the benchmarks build plans themselves, so what a fit does is written here once: the phases' names (their
checkpoint folders), the seed each phase draws from (:data:`SEED_OFFSETS`), the early-stopping split, the
trainer of each phase.

Examples
--------
>>> import torch
>>> from layerwise.pipeline import Fit, FineTune, Greedy, TrainSettings
>>> X = torch.rand(64, 8); y = (X[:, 0] > 0.5).long()
>>> plan = Fit([Greedy((6,), train=TrainSettings(max_iter=1, batch_size=16)),
...             FineTune(n_outputs=2, train=TrainSettings(max_iter=1, batch_size=16))], seed=0)
>>> result = plan.run(X, y)
>>> result.model.eval()(X[:3]).shape, sorted(result.history)
(torch.Size([3, 2]), ['finetune', 'pretrain'])
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .finetune import finetune
from .greedy import GreedyLayerwise, random_stack
from .semi_supervised import continue_semi_supervised, fit_semi_supervised

__all__ = ["SEED_OFFSETS", "TrainSettings", "Greedy", "RandomInit", "Given", "FineTune", "Unroll", "SemiSupervised",
           "Fit", "FitResult", "code_width", "phase_dir", "start_over"]

#: The seed of each phase is the fit's seed plus its offset: the fine-tuning draws (its head, its batches, its
#: early-stopping split) never repeat the pretraining's.
SEED_OFFSETS = {"pretrain": 0, "prepare": 0, "finetune": 1000, "semi": 1000, "unroll": 2000}


def phase_dir(checkpoint_dir, phase: str) -> str | None:
    """``checkpoint_dir/phase``: where one phase of a fit checkpoints (None: no checkpoints)."""
    return None if checkpoint_dir is None else str(Path(checkpoint_dir) / phase)


def start_over(checkpoint_dir, phases: Sequence[str], resume: bool) -> None:
    """Before a fit that does not resume: remove the checkpoints an earlier run left in ``phases``, which this fit
    would otherwise only replace when it reaches them: an interrupted fit, resumed, must never continue an earlier
    run's phase. (Greedy pretraining clears its own stages: :class:`~layerwise.pipeline.greedy.GreedyLayerwise`.)"""
    from ..exceptions import ConfigError
    from ..train.checkpoint import check_resume, checkpoint_dir_problems, clear_checkpoint
    from ..train.execution import this_process

    check_resume(resume, checkpoint_dir, "fit")
    for problem in checkpoint_dir_problems(checkpoint_dir):
        raise ConfigError(problem)
    if resume or checkpoint_dir is None:
        return
    for phase in phases:
        this_process().once(clear_checkpoint, phase_dir(checkpoint_dir, phase))


@dataclass(frozen=True)
class TrainSettings:
    """The trainer of one phase: :class:`~layerwise.train.Trainer`'s settings (the estimators' names), resolved.

    ``batch_size="auto"`` is the one value left to resolve, against the rows the phase trains on
    (:func:`~layerwise.train.loop.auto_batch_size`: never more than those rows). ``schedule`` names the learning
    rate's schedule: ``"constant"``, ``"cosine"``, ``"anneal"`` or a registered torch scheduler (with
    ``schedule_params``); it runs before every other callback, so the loggers see the rate it set.
    """

    max_iter: int
    batch_size: int | str = "auto"
    learning_rate_init: float = 1e-3
    solver: str = "adam"
    momentum: float = 0.9
    alpha: float = 0.0
    schedule: str = "constant"
    schedule_params: dict | None = None
    n_iter_no_change: int = 10
    tol: float = 1e-4
    device: str = "auto"
    precision: str = "fp32"
    verbose: bool = False
    callbacks: tuple = ()

    def __post_init__(self) -> None:
        """A schedule's name is checked here (the trainer checks the rest): a typo must not train at a constant rate."""
        from ..exceptions import ConfigError
        from ..registry import LR_SCHEDULERS, suggest

        known = ["constant", "cosine", "anneal", *LR_SCHEDULERS.names()]
        if self.schedule not in known:
            raise ConfigError(f"TrainSettings: schedule must be one of {known[:3]} or a torch.optim.lr_scheduler class "
                              f"name such as 'StepLR'; got {self.schedule!r}.{suggest(str(self.schedule), known)}")

    def trainer(self, n_rows: int, seed: int, desc: str, checkpoint_dir: str | None = None, early_stopping: bool = False,
                continuation=None, callbacks: Sequence = ()):
        """The :class:`~layerwise.train.Trainer` for ``n_rows`` rows; ``callbacks``: the phase's own, after the
        schedule and before :attr:`callbacks` (the user's and the run's)."""
        from ..registry import LR_SCHEDULERS
        from ..train.loop import Trainer, auto_batch_size
        from ..train.schedules import AnnealLR, CosineLR

        schedules = {"cosine": CosineLR, "anneal": AnnealLR}
        first = []
        if self.schedule in schedules:
            first = [schedules[self.schedule]()]
        elif self.schedule != "constant" and self.schedule in LR_SCHEDULERS:
            first = [LR_SCHEDULERS.build(self.schedule, self.schedule_params)]
        trainer = Trainer(
            solver=self.solver, learning_rate_init=self.learning_rate_init, momentum=self.momentum, alpha=self.alpha,
            max_iter=self.max_iter,
            batch_size=auto_batch_size(self.batch_size, n_rows), early_stopping=early_stopping,
            n_iter_no_change=self.n_iter_no_change, tol=self.tol, random_state=seed, device=self.device,
            precision=self.precision, verbose=bool(self.verbose), desc=desc,
            callbacks=[*first, *callbacks, *self.callbacks], checkpoint_dir=checkpoint_dir,
        )
        trainer.continuation = continuation
        return trainer


@dataclass
class _State:
    """What the phases of one run hand on: the rows, the network so far, the histories and the recipe."""

    X: Any
    targets: torch.Tensor | None
    labeled: np.ndarray | None
    weights: np.ndarray | None
    stratify: Callable[[np.ndarray], Any] | None
    seed: int
    checkpoint_dir: str | None
    resume: bool
    stack: nn.Module | None = None
    model: nn.Module | None = None
    history: dict = field(default_factory=dict)
    recipe: dict = field(default_factory=dict)

    def labeled_split(self, early_stopping: bool, validation_fraction: float, seed: int):
        """The labeled rows to train on (None: every row) and the ``(X, y)`` rows that early stopping watches (None:
        no split).

        Stratified by ``stratify`` (a classifier's labels), drawn with ``seed``; fewer than 4 labeled rows are
        never split."""
        from sklearn.model_selection import train_test_split

        every = self.labeled is None or bool(np.all(self.labeled))
        if every and not early_stopping:
            return None, None  # every row: no copy of X (60,000 MNIST rows: 0.16 s of a 1 s frozen epoch)
        idx = np.arange(len(self.X)) if every else np.flatnonzero(self.labeled)
        if not early_stopping or len(idx) < 4:
            return idx, None
        strat = self.stratify(idx) if self.stratify is not None else None
        idx, vidx = train_test_split(idx, test_size=validation_fraction, random_state=seed, stratify=strat)
        return idx, (self.X[vidx], self.targets[vidx])

    def take(self, idx: np.ndarray | None) -> tuple:
        """``(X, targets)`` of the rows ``idx`` (None: every row, not copied), with their weights when the fit has
        some."""
        if idx is None:
            rows = (self.X, self.targets)
            return rows if self.weights is None else (*rows, torch.from_numpy(np.asarray(self.weights)))
        rows = (self.X[idx], self.targets[idx])
        return rows if self.weights is None else (*rows, torch.from_numpy(np.asarray(self.weights)[idx]))


@dataclass
class Greedy:
    """Greedy layer-wise pretraining on every row (:class:`~layerwise.pipeline.greedy.GreedyLayerwise`): each layer an
    autoencoder (or RBM, VAE...) of ``objective`` trained on the codes of the layers below it, frozen after.

    Checkpoints in ``<checkpoint_dir>/pretrain``; history ``"pretrain"`` (one list per layer)."""

    hidden_layer_sizes: Sequence[int]
    activation: str = "relu"
    objective: str = "denoising"
    objective_params: dict | None = None
    loss: str = "auto"
    tied: bool = False
    train: TrainSettings = field(default_factory=lambda: TrainSettings(max_iter=10))
    name = "pretrain"

    def run(self, state: _State) -> None:
        greedy = GreedyLayerwise(
            self.hidden_layer_sizes, activation=self.activation, objective=self.objective,
            objective_params=self.objective_params, loss=self.loss, tied=self.tied,
            trainer=self.train.trainer(len(state.X), state.seed + SEED_OFFSETS["pretrain"], "pretrain"),
            checkpoint_dir=phase_dir(state.checkpoint_dir, "pretrain"),
        )
        state.stack = greedy.fit(state.X, resume=state.resume)
        state.history["pretrain"] = greedy.history_
        state.recipe = {"kind": "greedy", "first_loss": greedy.first_loss_, "decoders": True}


@dataclass
class RandomInit:
    """A stack of randomly initialised layers (PyTorch's default initialisation, from the fit's seed): the
    baseline pretraining is measured against."""

    hidden_layer_sizes: Sequence[int]
    activation: str = "relu"
    name = "random"

    def run(self, state: _State) -> None:
        state.stack = random_stack(int(state.X.shape[1]), self.hidden_layer_sizes, self.activation)
        state.history["pretrain"] = []
        state.recipe = {"kind": "random", "first_loss": None, "decoders": False}


@dataclass
class Given:
    """A stack made elsewhere: transferred from a saved model, loaded, or the one a warm fit continues.
    ``recipe``: how it was made, kept with the model (:attr:`FitResult.recipe`)."""

    stack: nn.Module
    recipe: dict | None = None
    name = "given"

    def run(self, state: _State) -> None:
        state.stack = self.stack
        state.history.setdefault("pretrain", [])
        state.recipe = dict(self.recipe or {})


@dataclass
class FineTune:
    """Supervised training of the stack with a head, on the labeled rows (:func:`~layerwise.pipeline.finetune.finetune`).

    ``mode="frozen"`` trains the head alone on the stack's codes; ``"full"`` every layer, the stack's learning
    rate times ``encoder_lr_scale``. ``dropout``/``input_dropout`` are the stack's while it trains. ``head``: a
    module (a warm fit's) or ``head(width, n_outputs) -> module``; default: a softmax
    :class:`~layerwise.nn.ClassifierHead`. ``early_stopping`` holds out ``validation_fraction`` of the labeled
    rows. ``desc`` names the trainer's progress bar and epoch lines. Checkpoints in ``<checkpoint_dir>/finetune``;
    history ``"finetune"``."""

    n_outputs: int
    objective: Any = None
    mode: str = "full"
    encoder_lr_scale: float = 1.0
    dropout: float = 0.0
    input_dropout: float = 0.0
    head: nn.Module | Callable[[int, int], nn.Module] | None = None
    early_stopping: bool = False
    validation_fraction: float = 0.1
    train: TrainSettings = field(default_factory=lambda: TrainSettings(max_iter=10))
    continuation: Any = None
    desc: str = "fine-tune"
    name = "finetune"

    def run(self, state: _State) -> None:
        from ..objectives import Classification

        seed = state.seed + SEED_OFFSETS["finetune"]
        stack = state.stack
        stack.dropout, stack.input_dropout = float(self.dropout), float(self.input_dropout)
        idx, val = state.labeled_split(self.early_stopping, self.validation_fraction, state.seed)
        train = state.take(idx)
        trainer = self.train.trainer(len(train[0]), seed, self.desc, phase_dir(state.checkpoint_dir, "finetune"),
                                     early_stopping=self.early_stopping and val is not None, continuation=self.continuation)
        model, history = finetune(stack, self._head(stack, state.X), self.objective or Classification(), train, val,
                                  mode=self.mode, encoder_lr_scale=self.encoder_lr_scale, trainer=trainer,
                                  resume=state.resume)
        state.model, state.history["finetune"] = model, history

    def _head(self, stack: nn.Module, X: torch.Tensor) -> nn.Module:
        if isinstance(self.head, nn.Module):
            return self.head
        width = code_width(stack, X)
        if self.head is None:
            from ..nn import ClassifierHead

            return ClassifierHead(width, self.n_outputs)
        return self.head(width, self.n_outputs)


def code_width(stack: nn.Module, X: torch.Tensor) -> int:
    """Number of features of the stack's (flattened) top codes, from one row (the stack is left in eval mode), on the
    stack's device (a GPU, after pretraining there)."""
    param = next(stack.parameters(), None)
    with torch.no_grad():
        return int(stack.eval()(X[:1].to(param.device) if param is not None else X[:1]).flatten(1).shape[1])


@dataclass
class Unroll:
    """The stack unrolled into a deep autoencoder (its encoders, then their decoders mirrored) and trained end to
    end on every row for ``train.max_iter`` epochs (none: only unrolled); the stack becomes its encoder.

    Checkpoints in ``<checkpoint_dir>/unroll``; history ``"unroll"``; :attr:`FitResult.model` is the autoencoder."""

    train: TrainSettings = field(default_factory=lambda: TrainSettings(max_iter=0))
    name = "unroll"

    def run(self, state: _State) -> None:
        from ..objectives import Reconstruction

        autoencoder = state.stack.unroll()
        history = []
        if self.train.max_iter > 0:
            loss = "bce" if autoencoder.output == "logistic" else "mse"
            trainer = self.train.trainer(len(state.X), state.seed + SEED_OFFSETS["unroll"], "deep autoencoder",
                                         phase_dir(state.checkpoint_dir, "unroll"))
            history = trainer.fit(autoencoder, Reconstruction(loss=loss), (state.X,), resume=state.resume)
            state.stack = autoencoder.encoder
        state.model, state.history["unroll"] = autoencoder, history


@dataclass
class SemiSupervised:
    """A semi-supervised method trained on every row, with the labels of the labeled ones
    (:func:`~layerwise.pipeline.semi_supervised.fit_semi_supervised`): its preparation first (M1 for ``"m1m2"``, VIME-self
    for ``"vime"``; ``prepare`` trains it), then the method.

    ``method``: the method object (``SEMI_SUPERVISED.build(name, params)``); ``model``: a fitted network to
    continue (a warm fit: no new network, no new preparation). Checkpoints in ``<checkpoint_dir>/semi`` and
    ``/prepare``; histories ``"prepare"`` and ``"train"``."""

    method: Any
    hidden_layer_sizes: Sequence[int]
    n_outputs: int
    activation: str = "relu"
    desc: str = "semi-supervised"
    early_stopping: bool = False
    validation_fraction: float = 0.1
    train: TrainSettings = field(default_factory=lambda: TrainSettings(max_iter=10, batch_size=100))
    prepare: TrainSettings = field(default_factory=lambda: TrainSettings(max_iter=1))
    model: nn.Module | None = None
    continuation: Any = None
    name = "semi"

    def run(self, state: _State) -> None:
        seed = state.seed + SEED_OFFSETS["semi"]
        idx, val = state.labeled_split(self.early_stopping, self.validation_fraction, state.seed)
        n = len(state.X)
        trainer = self.train.trainer(n, seed, self.desc, phase_dir(state.checkpoint_dir, "semi"),
                                     early_stopping=self.early_stopping and val is not None, continuation=self.continuation)
        X, y, *w = state.take(idx)
        w = w[0] if w else None
        if self.model is None:
            prepare = self.prepare.trainer(n, state.seed + SEED_OFFSETS["prepare"], f"{self.desc}: prepare",
                                           phase_dir(state.checkpoint_dir, "prepare"))
            model, history = fit_semi_supervised(self.method, X, y, state.X, self.hidden_layer_sizes, self.n_outputs,
                                                 self.activation, trainer=trainer, prepare_trainer=prepare, val=val,
                                                 resume=state.resume, sample_weight=w)
        else:
            model, train = continue_semi_supervised(self.method, self.model, X, y, state.X, trainer, val, w)
            history = {"prepare": [], "train": train}
        state.model = model
        state.history.update(history)


Phase = Greedy | RandomInit | Given | FineTune | Unroll | SemiSupervised


@dataclass
class FitResult:
    """What :meth:`Fit.run` returns.

    Attributes
    ----------
    model : nn.Module or None
        The last phase's network, in eval mode: stack and head (fine-tuning), the deep autoencoder (unrolling), the
        method's network; None when only a stack was made.
    stack : nn.Module or None
        The encoder stack (None for a semi-supervised method), in eval mode.
    history : dict
        One entry per phase that trains: ``"pretrain"`` (a list per layer), ``"finetune"``, ``"unroll"``,
        ``"prepare"`` and ``"train"`` (a semi-supervised method), each a list of one dict per epoch.
    recipe : dict
        How the stack was made (``"kind"``: ``"greedy"``, ``"random"``...), for a model file to rebuild it.
    seed : int
        The fit's seed; each phase drew from it plus :data:`SEED_OFFSETS`.
    """

    model: nn.Module | None
    stack: nn.Module | None
    history: dict
    recipe: dict
    seed: int


@dataclass
class Fit:
    """One fit: ``phases`` run in order on the same rows, with one seed, one checkpoint folder and one resume flag.

    Parameters
    ----------
    phases : list
        :class:`Greedy`, :class:`RandomInit` or :class:`Given` (the stack), then :class:`FineTune` or
        :class:`Unroll`; or one :class:`SemiSupervised`.
    seed : int, default=0
        Torch's generator is seeded with it for the fit (inside :func:`torch.random.fork_rng`, so the caller's
        random state is left alone); each phase's trainer draws from ``seed`` plus its :data:`SEED_OFFSETS`.
    checkpoint_dir : path, optional
        Each phase checkpoints in its own subfolder (``pretrain``, ``finetune``, ``unroll``, ``semi``, ``prepare``).
    resume : bool, default=False
        Continue from those checkpoints; without it, what an earlier run left there is removed first.
    seeded : bool, default=True
        False: the caller seeded torch already (the estimators seed it themselves, and a warm fit restores the
        generators its first fit kept).
    """

    phases: list
    seed: int = 0
    checkpoint_dir: str | None = None
    resume: bool = False
    seeded: bool = True

    def run(self, X, targets: torch.Tensor | None = None, labeled: np.ndarray | None = None,
            weights: np.ndarray | None = None, stratify: Callable[[np.ndarray], Any] | None = None) -> FitResult:
        """Run the phases on ``X``.

        Parameters
        ----------
        X : Tensor or ndarray of shape (n_samples, n_features), or rows streamed from disk (pretraining only)
            NumPy and float64 rows are taken as float32.
        targets : Tensor or array of shape (n_samples,) or (n_samples, n_outputs), optional
            Class indices or regression targets; rows not ``labeled`` may hold anything.
        labeled : bool array of shape (n_samples,), optional
            The rows whose targets train the supervised phases; default: every row.
        weights : array of shape (n_samples,), optional
            The rows' weights in the supervised cost.
        stratify : callable, optional
            ``stratify(indices)`` -> labels to stratify the early-stopping split by (a classifier's), or None.
        """
        _check_plan(self.phases, targets)
        X, targets = _as_tensors(X, targets)
        start_over(self.checkpoint_dir, self._later_folders(), self.resume)
        if any(getattr(getattr(p, "train", None), "verbose", False) for p in self.phases):  # what the fit will do
            from ..train.execution import this_process

            this_process().once(_say, "fit plan:\n" + "\n".join("  " + line for line in self.describe().splitlines()))
        state = _State(X, targets, labeled, weights, stratify, self.seed, self.checkpoint_dir, self.resume)
        with self._seeded(state):
            for phase in self.phases:
                phase.run(state)
        for module in (state.model, state.stack):
            if module is not None:
                module.eval()
        return FitResult(state.model, state.stack, state.history, state.recipe, self.seed)

    def _later_folders(self) -> list[str]:
        """The checkpoint folders of the phases that do not clear their own (greedy pretraining clears its stages)."""
        folders = {"finetune": ["finetune"], "unroll": ["unroll"], "semi": ["semi", "prepare"]}
        return [f for phase in self.phases for f in folders.get(phase.name, [])]

    def _seeded(self, state: _State):
        if not self.seeded:
            return contextlib.nullcontext()
        stack = contextlib.ExitStack()
        device = next((p.train.device for p in self.phases if hasattr(p, "train")), "auto")
        from ..train.execution import resolve_device

        dev = resolve_device(device)
        stack.enter_context(torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []))
        torch.manual_seed(self.seed)
        return stack

    def describe(self) -> str:
        """The plan in words, one line per phase; a fit whose trainers are verbose prints it first."""
        return "\n".join(f"{i}. {_describe(p)}" for i, p in enumerate(self.phases, 1))


_MAKES_STACK = (Greedy, RandomInit, Given)


def _check_plan(phases: list, targets) -> None:
    """A plan that can run: a stack phase first, then fine-tuning or unrolling; or one semi-supervised phase; and
    targets for a phase that trains on labels."""
    from ..exceptions import ConfigError, DataError

    kinds = [type(p).__name__ for p in phases]
    if not phases or any(not isinstance(p, (*_MAKES_STACK, FineTune, Unroll, SemiSupervised)) for p in phases):
        raise ConfigError(f"Fit needs a list of phases (Greedy, RandomInit, Given, FineTune, Unroll, SemiSupervised); got {kinds}.")
    semi = [p for p in phases if isinstance(p, SemiSupervised)]
    if semi and len(phases) > 1:
        raise ConfigError(f"A SemiSupervised phase trains its own network from the rows: it is the plan's only phase; got {kinds}.")
    if not semi and not isinstance(phases[0], _MAKES_STACK):
        raise ConfigError(f"{kinds[0]} needs a stack: start the plan with Greedy, RandomInit or Given; got {kinds}.")
    if any(isinstance(p, _MAKES_STACK) for p in phases[1:]):
        raise ConfigError(f"Only the first phase makes the stack (Greedy, RandomInit or Given); got {kinds}.")
    if targets is None and any(isinstance(p, (FineTune, SemiSupervised)) for p in phases):
        raise DataError(f"The plan {kinds} trains on labels: pass them, Fit(...).run(X, targets) (class indices or "
                        "regression targets, one per row).")


def _as_tensors(X, targets):
    """``X`` as float32 rows (NumPy arrays and float64 tensors converted; streamed rows as given) and ``targets`` as a
    tensor."""
    if isinstance(X, np.ndarray) or (isinstance(X, torch.Tensor) and X.dtype == torch.float64):
        X = torch.as_tensor(np.asarray(X, dtype=np.float32) if isinstance(X, np.ndarray) else X.float())
    if targets is not None and not isinstance(targets, torch.Tensor):
        targets = np.asarray(targets)
        if targets.dtype.kind not in "biuf":
            from ..exceptions import DataError

            raise DataError(f"targets must be numbers (class indices 0..k-1, or regression values); got an array of "
                            f"{targets.dtype} such as {targets.ravel()[:3].tolist()}. Encode labels with "
                            "sklearn.preprocessing.LabelEncoder, or fit PretrainedClassifier, which takes any labels.")
        targets = torch.as_tensor(targets)
    return X, targets


def _say(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _describe(phase) -> str:
    """One phase in a line: its kind, its network, and its trainer's epochs, batch and rate."""
    t = getattr(phase, "train", None)
    trained = "" if t is None else (f": {t.max_iter} epochs, batch {t.batch_size}, {t.solver} lr {t.learning_rate_init:g}"
                                    f" ({t.schedule}), {t.precision}")
    if isinstance(phase, Greedy):
        return f"pretrain {list(phase.hidden_layer_sizes)} greedily, objective {phase.objective!r}{trained}"
    if isinstance(phase, RandomInit):
        return f"random initialisation of {list(phase.hidden_layer_sizes)}"
    if isinstance(phase, Given):
        return f"the given stack ({(phase.recipe or {}).get('kind', 'as given')})"
    if isinstance(phase, FineTune):
        return f"fine-tune ({phase.mode}) with a head of {phase.n_outputs} outputs{trained}"
    if isinstance(phase, Unroll):
        return f"unroll into a deep autoencoder{trained}"
    return f"semi-supervised {phase.desc!r} on {list(phase.hidden_layer_sizes)}{trained}"
