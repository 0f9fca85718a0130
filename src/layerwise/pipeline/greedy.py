"""Greedy layer-wise pretraining (Bengio et al. 2007; Hinton et al. 2006).

Layer 1 is trained as an autoencoder on the data and frozen; its codes are
computed **once** and layer 2 is trained on them as an autoencoder; and so on.
The encoders form an :class:`EncoderStack`; the trained decoders are kept
beside them (``keep_decoders``) for what starts from them later: the unrolled
deep autoencoder, ``inverse_transform``, sampling and semi-supervised
fine-tuning. The stack's forward pass never uses them.

Under ``torchrun`` (several processes, see :mod:`layerwise.train.distributed`)
each stage trains data-parallel, the codes of each frozen layer are computed
shard by shard and gathered on every process, and stage checkpoints are
written by rank 0 alone.

Data larger than memory (a :class:`~layerwise.data.stream.NpyFile`, a
:class:`~layerwise.data.adapters.DatasetRows`, or a dataset too large to read
in) is streamed in chunks, and so are the codes of its frozen layers: they are
written to a ``.npy`` file chunk by chunk (:func:`~layerwise.train.inference.encode_to_npy`,
by rank 0 while the other processes wait), not kept in memory.
"""

from __future__ import annotations

import contextlib
import logging
import numbers
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..data.adapters import DatasetRows, as_training_data, is_torch_data
from ..data.arrays import all_finite, check_X
from ..data.npy import read_rows, value_range
from ..data.stream import NpyFile
from ..diagnostics import SAMPLE_ROWS, check_codes
from ..exceptions import ConfigError, DataError
from ..nn.autoencoder import dense_autoencoder
from ..nn.blocks import activation_name, dense_block
from ..nn.stack import EncoderStack, freeze_trained
from ..objectives import make_objective
from ..params import GREEDY, TRAINER, configurable_init
from ..train.checkpoint import check_resume, checkpoint_dir_problems
from ..train.execution import resolve_execution
from ..train.inference import encode_to_npy
from ..train.loop import Trainer

log = logging.getLogger(__name__)

__all__ = ["GreedyLayerwise", "random_stack", "check_layer_sizes", "resolve_loss"]


def check_layer_sizes(sizes: Sequence[int], name: str = "hidden_layer_sizes") -> tuple[int, ...]:
    """Validate a sequence of positive layer widths."""
    if isinstance(sizes, numbers.Integral):
        sizes = (sizes,)
    try:
        sizes = tuple(sizes)
    except TypeError as e:
        raise ConfigError(f"{name} must be a sequence of positive integers, e.g. (256, 64); got {sizes!r}.") from e
    bad = [s for s in sizes if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1]
    if not sizes or bad:
        raise ConfigError(f"{name} must be a non-empty sequence of positive integers, e.g. (256, 64); got {sizes!r}.")
    return tuple(int(s) for s in sizes)


def is_streamed(X) -> bool:
    """True for rows read from disk or a dataset a chunk at a time (``NpyFile``, ``DatasetRows``)."""
    return isinstance(X, (NpyFile, DatasetRows))


def check_data_tensor(X, name: str = "X") -> torch.Tensor | NpyFile | DatasetRows:
    """``X`` as a float32 tensor of shape (n_samples, ...) with finite values, else :class:`DataError`.

    Arrays go through :func:`~layerwise.data.check_X`; a tensor stays on its
    device, and integer, boolean or other float dtypes become float32 (the
    dtype of the models greedy pretraining builds). Streamed rows
    (:class:`~layerwise.data.stream.NpyFile`, :class:`~layerwise.data.adapters.DatasetRows`)
    pass through unread; a ``torch.utils.data.Dataset`` or ``DataLoader``
    becomes a tensor, or streamed rows when larger than 1 GiB
    (:func:`~layerwise.data.adapters.as_training_data`; its labels are not used).
    """
    if is_torch_data(X):
        X = as_training_data(X)[0]
    if is_streamed(X):
        return X
    if not isinstance(X, torch.Tensor):
        return torch.from_numpy(check_X(X, name=name, ndim=(2, 3, 4)))
    if X.dtype.is_complex:
        raise DataError(f"{name} must hold real numbers; got a tensor of dtype {X.dtype}. Pass X.real or X.abs().")
    if X.ndim < 2 or X.shape[0] < 1 or 0 in X.shape[1:]:
        hint = " Reshape a single feature with X.reshape(-1, 1)." if X.ndim == 1 else ""
        raise DataError(f"{name} must have shape (n_samples, n_features) or (n_samples, channels, height, width) with at "
                        f"least one sample and one feature; got a {X.ndim}-D tensor of shape {tuple(X.shape)}.{hint}")
    X = X.float() if X.dtype != torch.float32 else X
    if not all_finite(X):
        n_nan, n_inf = int(torch.isnan(X).sum()), int(torch.isinf(X).sum())
        raise DataError(f"{name} contains NaN or infinity ({n_nan} NaN, {n_inf} infinite values); expected only finite "
                        "numbers. Impute or drop them first (e.g. sklearn.impute.SimpleImputer).")
    return X


def code_activation(encoder: nn.Module) -> str | None:
    """Name of the last activation in ``encoder`` (``None`` if none is known)."""
    for m in reversed(list(encoder.modules())):
        name = activation_name(m)
        if name is not None:
            return name
    return None


def resolve_loss(loss: str, X: torch.Tensor, layer: int, prev_activation: str | None) -> str:
    """The reconstruction loss of layer ``layer``.

    ``"auto"`` picks Bernoulli cross-entropy when the layer's input is in
    [0, 1] (the data for layer 0, logistic codes above it) and squared error
    otherwise. An explicit loss applies to the first layer; deeper layers
    follow the range of their input codes.
    """
    if layer > 0:
        return "bce" if prev_activation == "logistic" else "mse"
    if loss in ("auto", "bce"):
        low, high = value_range(X)  # streamed rows: read once, a chunk at a time
        if loss == "auto":
            return "bce" if low >= 0 and high <= 1 else "mse"
        if not (low >= 0 and high <= 1):
            raise DataError(
                f"loss='bce' needs inputs in [0, 1]; got values in [{low:.4g}, {high:.4g}]. "
                "Scale the data (e.g. sklearn's MinMaxScaler) or use loss='mse'."
            )
    if loss not in ("mse", "bce"):
        raise ConfigError(f"loss must be one of ['auto', 'mse', 'bce']; got {loss!r}.")
    return loss


def random_stack(n_in: int, sizes: Sequence[int], activation: str = "relu", dropout: float = 0.0) -> EncoderStack:
    """An :class:`EncoderStack` of dense blocks with PyTorch's default (random) init.

    The "no pretraining" baseline: the same architecture a greedy run builds.
    """
    widths = (n_in, *check_layer_sizes(sizes))
    return EncoderStack([dense_block(a, b, activation, dropout) for a, b in zip(widths[:-1], widths[1:])])


class GreedyLayerwise:
    __doc__ = GREEDY.document("""Train a stack of layers one at a time, each on the frozen codes of the last.

    Each layer is a dense autoencoder, or the model the objective builds
    (``build_model``): an RBM for ``"rbm"`` (a deep belief network), a VAE for
    ``"vae"``, a convolutional autoencoder for ``"conv"``. Every stage is
    trained by a copy of ``trainer``, as :func:`~layerwise.pipeline.finetune.finetune` trains
    with the ``trainer`` it is given.

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    stack_ : EncoderStack
    history_ : list of list of dict
        The trainer history of every stage.
    first_loss_ : str
        The first layer's resolved loss.

    Examples
    --------
    >>> X = torch.rand(64, 8)
    >>> stack = GreedyLayerwise((6, 3), trainer=Trainer(max_iter=2, random_state=0)).fit(X)
    >>> stack(X).shape
    torch.Size([64, 3])
    """)

    __init__ = configurable_init(GREEDY, n_positional=1)

    def __post_init__(self) -> None:
        problems = []
        options = self.objective_params if isinstance(self.objective_params, dict) else {}
        if self.objective == "sparse" and options.get("penalty") == "kl" and self.activation != "logistic":
            problems.append(f"objective 'sparse' with penalty='kl' compares each unit's mean activation with target_rate, "
                            f"which needs activations in (0, 1); got activation={self.activation!r}. Use activation='logistic', "
                            "or penalty='l1'.")
        problems += checkpoint_dir_problems(self.checkpoint_dir)
        if getattr(self.trainer, "checkpoint_dir", None) is not None:
            problems.append(f"trainer has checkpoint_dir={str(self.trainer.checkpoint_dir)!r}; set "
                            "GreedyLayerwise(checkpoint_dir=...) instead: each stage checkpoints in its own stage_<k> folder.")
        GREEDY.validate({k: getattr(self, k) for k in GREEDY}, "GreedyLayerwise", context=problems)
        self.hidden_layer_sizes = check_layer_sizes(self.hidden_layer_sizes)

    def fit(self, X: torch.Tensor, X_val: torch.Tensor | None = None, resume: bool = False) -> EncoderStack:
        """Pretrain every layer on ``X`` (``(n_samples, n_features)`` float tensor).

        ``X`` may also be rows streamed from disk (a
        :class:`~layerwise.data.stream.NpyFile`, a
        :class:`~layerwise.data.adapters.DatasetRows`) or a
        ``torch.utils.data.Dataset``/``DataLoader`` (see
        :func:`check_data_tensor`); the codes of streamed rows go to ``.npy``
        files under ``checkpoint_dir/codes`` (else a temporary folder), one
        chunk in memory at a time, and are deleted when no longer needed.
        ``X_val`` is held in memory. With ``resume=True`` and a
        ``checkpoint_dir``, continue where an interrupted fit stopped.

        Returns
        -------
        EncoderStack
            Frozen encoders, in eval mode; call ``unfreeze()`` to fine-tune.
        """
        check_resume(resume, self.checkpoint_dir, "GreedyLayerwise.fit")
        X = check_data_tensor(X, "X")
        if X_val is not None:
            X_val = check_data_tensor(X_val, "X_val")
            if is_streamed(X_val):
                raise DataError(f"X_val is streamed ({X_val!r}); validation rows are held in memory. Pass a tensor or "
                                "an array of them, e.g. a few thousand rows read with NpyFile.read(0, n).")
            if X_val.shape[1:] != X.shape[1:]:
                raise DataError(f"X_val has rows of shape {tuple(X_val.shape[1:])} but X has {tuple(X.shape[1:])}; "
                                "expected the same features in both.")
        if not resume:
            self._start_over()
        params = dict(self.objective_params or {})
        first_loss = params.pop("loss", self.loss)
        self.history_ = []
        template = self.trainer if self.trainer is not None else Trainer()
        self._seed = None if template.random_state is None else template._seed()
        with self._codes_folder(template, is_streamed(X)) as folder:
            encoders, decoders = self._fit_stages(X, X_val, first_loss, params, template, resume, folder)
        self.stack_ = self._assemble(encoders, decoders)
        return self.stack_

    def _fit_stages(self, codes, val_codes, first_loss: str, params: dict, template: Trainer, resume: bool,
                    folder: Path | None) -> tuple[list, list]:
        """Train each layer on the codes of the last; the encoders and decoders, in order."""
        encoders, decoders = [], []
        data_energy = _mean_squared_norm(codes)
        n_layers = len(self.hidden_layer_sizes)
        prev_activation = None
        for k, width in enumerate(self.hidden_layer_sizes):
            loss = resolve_loss(first_loss, codes, k, prev_activation)
            if k == 0:
                self.first_loss_ = loss
            objective, model = self._stage(k, width, tuple(codes.shape[1:]), loss, params)
            lr_scale = _sgd_scale(template.solver, data_energy, codes) if k > 0 else 1.0
            trainer = self._stage_trainer(template, k, n_layers, objective, lr_scale)
            val = (val_codes,) if val_codes is not None else None
            # a sample of the stage's inputs for the checks after it, read now: under torchrun rank 0 removes a
            # streamed codes file once every rank has trained on it, and may do so before another rank reads it
            inputs = read_rows(codes, 0, min(len(codes), SAMPLE_ROWS))
            self.history_.append(trainer.fit(model, objective, (codes,), val, resume=resume))
            freeze_trained(model)
            encoders.append(model.encoder)
            decoders.append(model.decoder)
            prev_activation = code_activation(model.encoder)
            if k + 1 < n_layers:  # the codes of each frozen layer, computed once (shard by shard on several processes)
                codes = self._codes(trainer, model.encoder, codes, folder, k)
                val_codes = trainer.predict(model.encoder, val_codes.to(trainer.device)) if val_codes is not None else None
            top = read_rows(codes, 0, len(inputs)) if k + 1 < n_layers else _sample_codes(model.encoder, inputs, trainer.device)
            self._check_stage(model, objective, inputs, top, k, template.solver)
        return encoders, decoders

    def _codes(self, trainer: Trainer, encoder: nn.Module, rows, folder: Path | None, k: int):
        """Layer ``k``'s codes of ``rows``: a tensor, or for streamed rows a ``.npy`` file written chunk by
        chunk by rank 0 (the other processes wait) and read back as an :class:`NpyFile`."""
        if not is_streamed(rows):
            return trainer.predict(encoder, rows.to(trainer.device))
        path = folder / f"codes_layer_{k + 1}.npy"
        chunk_rows = trainer.chunk_rows or 65536
        execution = resolve_execution(trainer.distributed, trainer.device)
        execution.write(lambda: encode_to_npy(encoder, rows, path, chunk_rows=chunk_rows, device=trainer.device), folder)
        if isinstance(rows, NpyFile) and rows.path.parent == folder:
            execution.once(rows.path.unlink, missing_ok=True)  # the previous layer's codes: trained on, no longer needed
        return NpyFile(path)

    @contextlib.contextmanager
    def _codes_folder(self, template: Trainer, streamed: bool):
        """Where the codes of streamed rows go: ``checkpoint_dir/codes``, else a temporary folder (the same
        path on every process of a machine), emptied of codes when the fit ends."""
        if not streamed:
            yield None
            return
        execution = resolve_execution(template.distributed, template.device)
        if self.checkpoint_dir is not None:
            folder = Path(self.checkpoint_dir) / "codes"
        else:  # rank 0's name on every rank; uuid: torch's generators are the training's, never drawn from here
            folder = Path(tempfile.gettempdir()) / f"layerwise-codes-{execution.same_on_all_ranks(uuid.uuid4().int % 2**62)}"
        execution.once(folder.mkdir, parents=True, exist_ok=True)
        try:
            yield folder
        finally:
            execution.once(_remove_codes, folder, remove_folder=self.checkpoint_dir is None)

    def _check_stage(self, model, objective, inputs: torch.Tensor, codes: torch.Tensor, k: int, solver: str) -> None:
        """Dead units in the codes of layer ``k`` (:func:`~layerwise.diagnostics.check_codes`), and the objective's
        own check of its trained model (``check_trained``, e.g. a collapsed VAE)."""
        n_layers = len(self.hidden_layer_sizes)
        check = getattr(objective, "check_trained", None)
        if check is not None:
            check(model, inputs, f"Layer {k + 1} of {n_layers}")
        elif code_activation(model.encoder) is not None:  # units with an activation can die
            check_codes(codes, k + 1, n_layers, solver)

    def _start_over(self) -> None:
        """A fit that does not resume removes the stage checkpoints of an earlier run first: resuming this
        run later must never restore a stage that an earlier run (another seed, other data) finished."""
        from ..train.checkpoint import clear_checkpoint
        from ..train.execution import this_process

        if self.checkpoint_dir is not None and Path(self.checkpoint_dir).is_dir():
            for stage in Path(self.checkpoint_dir).glob("stage_*"):
                this_process().once(clear_checkpoint, stage)

    def build(self, in_shape: Sequence[int], first_loss: str = "mse") -> EncoderStack:
        """The untrained stack that :meth:`fit` would train, e.g. to load saved weights into.

        Parameters
        ----------
        in_shape : sequence of int
            Shape of one input row, e.g. ``(784,)`` or ``(1, 28, 28)``.
        first_loss : {"mse", "bce"}, default="mse"
            The first layer's resolved loss (``first_loss_`` after a fit).

        Returns
        -------
        EncoderStack
            Same modules and parameter names as a fitted stack, frozen.
        """
        self.first_loss_ = first_loss
        self._seed = None
        params = dict(self.objective_params or {})
        params.pop("loss", None)
        shape, prev_activation, encoders, decoders = tuple(in_shape), None, [], []
        for k, width in enumerate(self.hidden_layer_sizes):
            loss = first_loss if k == 0 else resolve_loss(first_loss, None, k, prev_activation)
            _, model = self._stage(k, width, shape, loss, params)
            encoders.append(model.encoder)
            decoders.append(model.decoder)
            prev_activation = code_activation(model.encoder)
            with torch.no_grad():
                shape = tuple(model.encoder.eval()(torch.zeros(1, *shape)).shape[1:])
        return self._assemble(encoders, decoders)

    def _stage(self, k: int, width: int, in_shape: tuple[int, ...], loss: str, params: dict):
        """The objective and the freshly initialised model of layer ``k``."""
        objective = make_objective(self.objective, params, loss)
        if self._seed is not None:  # the seed also fixes the layer's initial weights
            torch.manual_seed(self._seed + k)
        return objective, self._build_model(objective, in_shape, width, loss)

    def _assemble(self, encoders: list, decoders: list) -> EncoderStack:
        # the data-space output is the first layer's (logistic for the Bernoulli loss)
        output = "logistic" if self.first_loss_ == "bce" else "identity"
        return freeze_trained(EncoderStack(encoders, decoders if self.keep_decoders else None, output=output))

    def _build_model(self, objective, in_shape: tuple[int, ...], width: int, loss: str):
        """The model of one stage: the objective's own (``build_model``) or a dense autoencoder."""
        output = "logistic" if loss == "bce" else "identity"
        build = getattr(objective, "build_model", None)
        if build is not None:
            return build(in_shape, width, self.activation, output, self.tied, self.dropout)
        if len(in_shape) != 1:
            raise DataError(
                f"Objective {self.objective!r} builds dense layers, which need 2-D input (n_samples, n_features); "
                f"got rows of shape {in_shape}. Flatten the data or use a convolutional objective."
            )
        return dense_autoencoder(in_shape[0], width, self.activation, output, self.tied, self.dropout)

    def _stage_trainer(self, template: Trainer, k: int, n_layers: int, objective=None, lr_scale: float = 1.0) -> Trainer:
        """Stage ``k``'s copy of ``template``: seed ``+ k``, its own label and checkpoint folder, the objective's
        callbacks (``stage_callbacks``: a KL warm-up) and, with SGD, a learning rate scaled by ``lr_scale``."""
        changes: dict[str, Any] = {"checkpoint_dir": None if self.checkpoint_dir is None else str(Path(self.checkpoint_dir) / f"stage_{k + 1}")}
        if self._seed is not None:
            changes["random_state"] = self._seed + k
        # say which stage: "pretrain layer 2/3" (progress bars, logs), after the template's own label if it has one
        label = "pretrain" if template.desc == TRAINER["desc"].default else template.desc
        changes["desc"] = f"{label} layer {k + 1}/{n_layers}"
        extra = getattr(objective, "stage_callbacks", lambda: [])()
        if extra:
            changes["callbacks"] = [*template.callbacks, *extra]
        if lr_scale < 1.0:
            changes["learning_rate_init"] = template.learning_rate_init * lr_scale
        return template.clone(**changes)


def _remove_codes(folder: Path, remove_folder: bool) -> None:
    """Delete the codes files of a fit in ``folder`` (and the folder, when the fit made it)."""
    for f in folder.glob("codes_layer_*.npy"):
        f.unlink(missing_ok=True)
    if remove_folder:
        with contextlib.suppress(OSError):
            folder.rmdir()


def _sample_codes(encoder: nn.Module, inputs: torch.Tensor, device) -> torch.Tensor:
    """The top layer's codes of a sample of its inputs, for the dead-unit check (a few thousand rows at most,
    so one forward pass on this process, whatever the training's streaming or sharding)."""
    with torch.no_grad():
        return encoder.eval()(inputs.to(device))


def _mean_squared_norm(X) -> float:
    """Mean over rows of the squared norm of a row (one pass, no copy of the data); of the first
    ``SAMPLE_ROWS`` rows for rows streamed from disk (an estimate is enough for a learning-rate factor)."""
    if is_streamed(X):
        X = read_rows(X, 0, min(len(X), SAMPLE_ROWS))
    return float(torch.linalg.vector_norm(X.flatten(1).float(), dim=1).pow(2).mean())


def _sgd_scale(solver: str, data_energy: float, codes: torch.Tensor) -> float:
    """The learning-rate factor of a deeper stage under SGD: ``min(1, E||x||^2 / E||h||^2)``.

    A deeper stage reconstructs the codes of the layer below, whose squared error grows with their width and
    size (ReLU codes are not scaled: on digits a first-stage row has a squared norm of 15, a second-stage row
    112). SGD's step grows with it (Adam's does not: it is invariant to the scale of the loss), so at the
    first stage's rate the first steps of the second stage overshot, pushed the encoder biases negative and
    killed 31 of its 32 ReLU units for good (a test accuracy of 0.31 after fine-tuning). Scaled, each stage
    takes steps of the size that worked for the first (0.97). Never larger than the given rate.
    """
    if solver != "sgd":
        return 1.0
    energy = _mean_squared_norm(codes)
    return 1.0 if energy <= data_energy or energy == 0 else data_energy / energy

