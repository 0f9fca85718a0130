"""Greedy layer-wise pretraining (Bengio et al. 2007; Hinton et al. 2006).

Layer 1 is trained as an autoencoder on the data and frozen; its codes are
computed **once** and layer 2 is trained on them as an autoencoder; and so on.
Finished decoders are not used again. The result is an :class:`EncoderStack`.

Under ``torchrun`` (several processes, see :mod:`layerwise.train.distributed`)
each stage trains data-parallel, the codes of each frozen layer are computed
shard by shard and gathered on every process, and stage checkpoints are
written by rank 0 alone.
"""

from __future__ import annotations

import inspect
import logging
import numbers
from pathlib import Path
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .data.arrays import check_X, in_unit_interval
from .exceptions import ConfigError, DataError
from .nn.autoencoder import dense_autoencoder
from .nn.blocks import ACTIVATIONS, activation_name, dense_block
from .nn.stack import EncoderStack, freeze
from .objectives import OBJECTIVES, make_objective
from .registry import suggest
from .train.loop import Trainer

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


def check_data_tensor(X, name: str = "X") -> torch.Tensor:
    """``X`` as a float32 tensor of shape (n_samples, ...) with finite values, else :class:`DataError`.

    Arrays go through :func:`~layerwise.data.check_X`; a tensor stays on its
    device, and integer, boolean or other float dtypes become float32 (the
    dtype of the models greedy pretraining builds).
    """
    if not isinstance(X, torch.Tensor):
        return torch.from_numpy(check_X(X, name=name, ndim=(2, 3, 4)))
    if X.dtype.is_complex:
        raise DataError(f"{name} must hold real numbers; got a tensor of dtype {X.dtype}. Pass X.real or X.abs().")
    if X.ndim < 2 or X.shape[0] < 1 or 0 in X.shape[1:]:
        hint = " Reshape a single feature with X.reshape(-1, 1)." if X.ndim == 1 else ""
        raise DataError(f"{name} must have shape (n_samples, n_features) or (n_samples, channels, height, width) with at "
                        f"least one sample and one feature; got a {X.ndim}-D tensor of shape {tuple(X.shape)}.{hint}")
    X = X.float() if X.dtype != torch.float32 else X
    if not bool(torch.isfinite(X).all()):
        n_nan, n_inf = int(torch.isnan(X).sum()), int(torch.isinf(X).sum())
        raise DataError(f"{name} contains NaN or infinity ({n_nan} NaN, {n_inf} infinite values); expected only finite "
                        "numbers. Impute or drop them first (e.g. sklearn.impute.SimpleImputer).")
    return X


def _check_trainer_params(params: dict[str, Any]) -> None:
    """Refuse keywords :class:`Trainer` does not take, with a suggestion."""
    accepted = [n for n in inspect.signature(Trainer).parameters if n not in ("self", "checkpoint_dir")]
    unknown = [k for k in params if k not in accepted]
    if unknown:
        hints = "".join(suggest(str(k), accepted) for k in unknown)
        where = " (set GreedyLayerwise(checkpoint_dir=...) instead)" if "checkpoint_dir" in unknown else ""
        raise ConfigError(f"Unknown trainer_params {unknown}{where}; Trainer accepts {accepted}.{hints}")


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
    if loss == "auto":
        return "bce" if in_unit_interval(X) else "mse"
    if loss == "bce" and not in_unit_interval(X):
        raise DataError(
            f"loss='bce' needs inputs in [0, 1]; got values in [{float(X.min()):.4g}, {float(X.max()):.4g}]. "
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
    """Train a stack of layers one at a time, each on the frozen codes of the last.

    Each layer is a dense autoencoder, or the model the objective builds
    (``build_model``): an RBM for ``"rbm"`` (a deep belief network), a VAE for
    ``"vae"``, a convolutional autoencoder for ``"conv"``.

    Parameters
    ----------
    hidden_layer_sizes : sequence of int
        Code width of each layer, e.g. ``(256, 64)``.
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
    objective : str, default="autoencoder"
        A name in :data:`layerwise.objectives.OBJECTIVES`: ``"autoencoder"``,
        ``"sparse"``, ``"denoising"``, ``"contractive"``, ``"conv"``, ``"rbm"``,
        ``"vae"``.
    objective_params : dict, optional
        Options of that objective, e.g. ``{"noise": "gaussian", "level": 0.2}``.
    loss : {"auto", "mse", "bce"}, default="auto"
        Reconstruction loss of the first layer (see :func:`resolve_loss`).
    tied : bool, default=False
        Tie each decoder's weight to its encoder's transpose.
    dropout : float, default=0.0
    trainer_params : dict, optional
        Keyword arguments of :class:`~layerwise.train.Trainer` for every stage.
        With ``seed`` set, stage ``k`` is seeded with ``seed + k``.
    keep_decoders : bool, default=True
        Keep the trained decoders in the stack for ``unroll`` and
        ``inverse_transform``. The encoder never uses them.
    checkpoint_dir : path, optional
        Each stage checkpoints into ``checkpoint_dir/stage_<k>/`` (see
        ``Trainer(checkpoint_dir=...)``; ``trainer_params["checkpoint_every"]``
        adds checkpoints inside epochs). ``fit(..., resume=True)`` restores
        finished stages without training them and continues the stage that was
        interrupted.

    Attributes
    ----------
    stack_ : EncoderStack
    history_ : list of list of dict
        The trainer history of every stage.

    Examples
    --------
    >>> X = torch.rand(64, 8)
    >>> stack = GreedyLayerwise((6, 3), trainer_params={"max_epochs": 2, "seed": 0}).fit(X)
    >>> stack(X).shape
    torch.Size([64, 3])
    """

    def __init__(
        self,
        hidden_layer_sizes: Sequence[int],
        activation: str = "relu",
        objective: str = "autoencoder",
        objective_params: dict[str, Any] | None = None,
        loss: str = "auto",
        tied: bool = False,
        dropout: float = 0.0,
        trainer_params: dict[str, Any] | None = None,
        keep_decoders: bool = True,
        checkpoint_dir: str | None = None,
    ) -> None:
        self.hidden_layer_sizes = check_layer_sizes(hidden_layer_sizes)
        ACTIVATIONS.get(activation)
        OBJECTIVES.get(objective)
        self.activation, self.objective, self.objective_params = activation, objective, dict(objective_params or {})
        self.loss, self.tied, self.dropout = loss, tied, dropout
        self.trainer_params = dict(trainer_params or {})
        _check_trainer_params(self.trainer_params)
        self.keep_decoders = keep_decoders
        self.checkpoint_dir = checkpoint_dir

    def fit(self, X: torch.Tensor, X_val: torch.Tensor | None = None, resume: bool = False) -> EncoderStack:
        """Pretrain every layer on ``X`` (``(n_samples, n_features)`` float tensor).

        With ``resume=True`` and a ``checkpoint_dir``, continue where an
        interrupted fit stopped.

        Returns
        -------
        EncoderStack
            Frozen encoders, in eval mode; call ``unfreeze()`` to fine-tune.
        """
        X = check_data_tensor(X, "X")
        if X_val is not None:
            X_val = check_data_tensor(X_val, "X_val")
            if X_val.shape[1:] != X.shape[1:]:
                raise DataError(f"X_val has rows of shape {tuple(X_val.shape[1:])} but X has {tuple(X.shape[1:])}; "
                                "expected the same features in both.")
        params = dict(self.objective_params)
        first_loss = params.pop("loss", self.loss)
        codes, val_codes = X, X_val
        encoders, decoders, self.history_ = [], [], []
        n_layers = len(self.hidden_layer_sizes)
        prev_activation = None
        for k, width in enumerate(self.hidden_layer_sizes):
            loss = resolve_loss(first_loss, codes, k, prev_activation)
            if k == 0:
                self.first_loss_ = loss
            objective, model = self._stage(k, width, tuple(codes.shape[1:]), loss, params)
            trainer = self._trainer(k, n_layers)
            val = (val_codes,) if val_codes is not None else None
            self.history_.append(trainer.fit(model, objective, (codes,), val, resume=resume))
            freeze(model)
            encoders.append(model.encoder)
            decoders.append(model.decoder)
            prev_activation = code_activation(model.encoder)
            if k + 1 < n_layers:  # the codes of each frozen layer, computed once (shard by shard on several processes)
                codes = trainer.predict(model.encoder, codes.to(trainer.device))
                val_codes = trainer.predict(model.encoder, val_codes.to(trainer.device)) if val_codes is not None else None
        self.stack_ = self._assemble(encoders, decoders)
        return self.stack_

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
        params = dict(self.objective_params)
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
        if self.trainer_params.get("seed") is not None:  # the seed also fixes the layer's initial weights
            torch.manual_seed(int(self.trainer_params["seed"]) + k)
        return objective, self._build_model(objective, in_shape, width, loss)

    def _assemble(self, encoders: list, decoders: list) -> EncoderStack:
        # the data-space output is the first layer's (logistic for the Bernoulli loss)
        output = "logistic" if self.first_loss_ == "bce" else "identity"
        return EncoderStack(encoders, decoders if self.keep_decoders else None, output=output).freeze()

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

    def _trainer(self, k: int, n_layers: int) -> Trainer:
        params = dict(self.trainer_params)
        if params.get("seed") is not None:
            params["seed"] = int(params["seed"]) + k
        params.setdefault("desc", f"pretrain layer {k + 1}/{n_layers}")
        if self.checkpoint_dir is not None:
            params["checkpoint_dir"] = str(Path(self.checkpoint_dir) / f"stage_{k + 1}")
        return Trainer(**params)
