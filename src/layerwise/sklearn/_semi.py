"""The semi-supervised path of ``PretrainedClassifier``: a registered method trained on labeled and unlabeled rows.

With ``semi_supervised="ladder"`` (or ``"conv_ladder"``, ``"m1m2"``, ``"vime"``, or
``"auto"`` for a classifier of rows that are not a table, labeled or not) the classifier is not a pretrained stack fine-tuned on the
labeled rows: it is the method's own network, trained by
:func:`layerwise.pipeline.semi_supervised.fit_semi_supervised` on every row at every
step. ``"auto"`` trains the convolutional ladder (Conv-Small) on rows that came as
images, whose shape it needs, when the fit runs on a GPU (the dense ladder on a CPU). What it trained is kept as a recipe (``{"kind":
"semi", "method": ..., "image_shape": ...}``) so that :func:`layerwise.load`
rebuilds the same network.
"""

from __future__ import annotations

import inspect
import math
import warnings

import numpy as np
import torch

from ..data.arrays import in_unit_interval
from ..exceptions import ConfigError, TrainingWarning
from ..params.auto import Situation
from ..pipeline import Fit, SemiSupervised
from ..pipeline.greedy import check_layer_sizes
from ..registry import SEMI_SUPERVISED
from ..train.execution import resolve_device

__all__ = ["SemiSupervisedMixin"]


class SemiSupervisedMixin:
    """``_semi_method`` (which method ``semi_supervised`` stands for) and ``_fit_semi`` (train it)."""

    def _semi_method(self, labeled: np.ndarray, task: str = "classification") -> str | None:
        """The registered method this fit trains, or ``None`` for pretrain-then-fine-tune.

        A parameter set away from its default is used or refused, never dropped (the ``paths`` of its
        declaration, :mod:`layerwise.params.table`): a stack-only one (``pretrain``, ``finetune``, ``dropout``...)
        makes ``"auto"`` take the stack path and is refused beside a named method; ``semi_supervised_params``
        is refused when no method trains.
        """
        name = getattr(self, "semi_supervised", None)
        stack_only, semi_only = self._set_only_for("stack"), self._set_only_for("semi")
        method = name
        if name == "auto":  # tables: greedy column-corruption pretraining measured better and 7-10x faster (#25)
            # every row labeled too: the ladder's denoising costs regularise the classifier (digits, all labels: 0.86%
            # test error against 2.10% greedy; MNIST, all 60,000: 0.72% against the greedy path's 1.45%; #21)
            ladder = task == "classification" and self.pretrained is None and not stack_only
            images = self._image_shape() is not None
            method = None
            if ladder and images and self._on_gpu() and not self._set_away(SEMI_SUPERVISED.get("conv_ladder").unused_params):
                method = "conv_ladder"  # images (a folder, a Dataset, a .npy file or an array of them): Conv-Small, using their shape
            elif ladder and (images or not getattr(self, "_rows_are_table", False)):
                method = "ladder"  # flat pixels; or images with hidden_layer_sizes or activation, which it uses
        elif name is not None and task != "classification":
            raise ConfigError(f"semi_supervised={name!r} trains classifiers only; {type(self).__name__} takes "
                              "semi_supervised=None or 'auto' (unlabeled rows then pretrain the stack).")
        elif name is not None and self.pretrained is not None:
            raise ConfigError(f"semi_supervised={name!r} builds and trains its own network, so pretrained="
                              f"{str(self.pretrained)!r} would not be used; set semi_supervised=None to fine-tune the saved "
                              "layers, or pretrained=None.")
        elif name is not None and stack_only:
            raise ConfigError(f"semi_supervised={name!r} builds and trains its own network, so {', '.join(stack_only)} "
                              "(pretraining and fine-tuning of a stack) would not be used; remove them, or set "
                              "semi_supervised=None to pretrain and fine-tune a stack with them.")
        elif name is not None and (unused := self._set_away(getattr(SEMI_SUPERVISED.get(name), "unused_params", ()))):
            raise ConfigError(f"semi_supervised={name!r} trains a network of fixed layers, so {', '.join(unused)} would not "
                              "be used; remove it, or set semi_supervised='ladder' for a dense ladder network with those "
                              "layers.")
        if method is None and semi_only:
            why = ("semi_supervised=None" if name is None else
                   f"semi_supervised='auto' trains no semi-supervised method here ({self._why_no_method(labeled, task, stack_only)})")
            raise ConfigError(f"{', '.join(semi_only)} is set, but {why}, so it would not be used; name the method "
                              "(e.g. semi_supervised='ladder') or remove semi_supervised_params.")
        return method

    def _set_away(self, names) -> list[str]:
        """``name=value`` of each of the parameters ``names`` set away from its default."""
        found = []
        for name in names:
            value, default = getattr(self, name, self._parameters[name].default), self._parameters[name].default
            if not _same(value, default):
                found.append(f"{name}={value!r}")
        return found

    def _on_gpu(self) -> bool:
        """Whether this fit trains on a GPU. ``"auto"`` takes the convolutional ladder only there: on the CPU one of its
        steps (100 + 100 rows of 28x28, bf16) took 1.0 s against 0.14 s for the paper's dense ladder, so its 100
        default epochs over 60,000 images would take about 17 hours (name it to train it on a CPU anyway)."""
        return resolve_device(self.device).type == "cuda"

    def _image_shape(self) -> tuple[int, ...] | None:
        """``(channels, height, width)`` of the fit's rows when they came as images (an image folder, a Dataset or a
        .npy file of images) and the network sees them as such (not re-encoded as a table's columns), else None."""
        shape = getattr(self, "_input_image_shape", None)
        if shape is None or len(shape) != 3 or math.prod(shape) != self._n_inputs():
            return None
        return tuple(int(v) for v in shape)

    def _set_only_for(self, path: str) -> list[str]:
        """``name=value`` of each parameter set away from its default that applies to ``path`` alone."""
        found = []
        for name in self._parameters:
            param = self._parameters[name]
            if param.paths and path in param.paths and len(param.paths) == 1:
                value = getattr(self, name, param.default)
                if not _same(value, param.default):
                    found.append(f"{name}={value!r}")
        return found

    def _why_no_method(self, labeled: np.ndarray, task: str, stack_only: list[str]) -> str:
        if task != "classification":
            return "a regressor has none"
        if self.pretrained is not None:
            return "pretrained is set"
        if stack_only:
            return f"{', '.join(stack_only)} chose the stack path"
        return "the rows are a table"

    def _fit_semi(self, name: str, X: np.ndarray, targets: torch.Tensor, labeled: np.ndarray, n_out: int, stratify,
                  checkpoint_dir, resume: bool, weights: np.ndarray | None = None, warm=None):
        """Train the method ``name`` on every row of ``X``, with the labels of the ``labeled`` rows (weighted by
        ``weights`` in the method's supervised cost, when given).

        ``warm``: the :class:`~layerwise.sklearn._warm.WarmFit` of a warm fit, which continues the fitted network's
        training (:func:`~layerwise.pipeline.semi_supervised.continue_semi_supervised`) instead of building and preparing a new one."""
        # a warm fit's convolutional method takes the fitted images' shape (its rows may come as a flat array)
        image_shape = (getattr(self, "_stack_recipe", None) or {}).get("image_shape") if warm is not None else None
        method, sizes = self._semi_method_for(name, X.shape[1], image_shape)
        if X.size and getattr(self, "preprocessor_", None) is None and not in_unit_interval(X):
            # (a table's columns, standardised or one-hot by preprocessor_, are on the scale of that noise: no warning)
            # the ladder's noise_std and M1's decoder are in the units of [0, 1] pixels (both papers' MNIST): on
            # digits in 0..16 the ladder scored 0.51 instead of 0.96, with nothing else to say it failed
            warnings.warn(f"semi_supervised={name!r} expects inputs in [0, 1] (its noise and reconstruction costs are in "
                          f"those units), but X ranges over [{float(X.min()):.4g}, {float(X.max()):.4g}] after "
                          f"scale={getattr(self, 'scale', 'none')!r}: its accuracy can be far below what it should be. "
                          "Pass scale='minmax' (or 'auto'), or rescale X to [0, 1] first.", TrainingWarning, stacklevel=3)
        ctx, seed = self._seed_context(None if warm is None else warm.seed)
        continuation = self._continuation_for(warm)
        epochs = self._semi_epochs(method, X.shape[0]) + (0 if warm is None else continuation.epochs_done)
        phase = SemiSupervised(method, sizes, n_out, self.activation, desc=name, early_stopping=self.early_stopping,
                               validation_fraction=self.validation_fraction, train=self._settings(epochs, method),
                               prepare=self._settings(1, method), model=None if warm is None else warm.network,
                               continuation=continuation)
        with ctx:
            result = Fit([phase], seed, checkpoint_dir, resume, seeded=False).run(torch.from_numpy(X), targets, labeled, weights, stratify)
        history = result.history
        if warm is not None:  # what the first fit prepared
            history["prepare"] = getattr(self, "pretrain_history_", [])
        self._stack_recipe = {"kind": "semi", "method": name, "hidden_layer_sizes": list(sizes)}
        if getattr(method, "image_shape", None) is not None:  # what load needs to rebuild the network
            self._stack_recipe["image_shape"] = list(method.image_shape)
        self.semi_supervised_ = name
        self.stack_, self.module_ = None, result.model
        self.pretrain_history_ = history["prepare"]
        self.history_ = {"pretrain": history["prepare"], "finetune": history["train"]}
        self._set_curves(history["train"])
        self._keep_for_warm_start(seed, continuation)
        return self

    def _semi_method_for(self, name: str, n_features: int, image_shape=None):
        """The method ``name`` built for rows of ``n_features``, and the layers it trains.

        What the user left at its default follows the method's :meth:`auto_settings` for that width (the ladder on
        wide rows: the paper's MNIST network, noise and rate); what the user set is used as given. ``image_shape``:
        the images' shape a convolutional method takes (a warm fit's, from the fitted recipe), else the fit's rows'.
        """
        params = _with_image_shape(name, self.semi_supervised_params, image_shape if image_shape is not None else self._image_shape())
        cls = SEMI_SUPERVISED.get(name)
        auto = cls.auto_settings(n_features) if hasattr(cls, "auto_settings") else {}
        if "noise_std" in auto and "noise_std" not in (params or {}):
            params = {**(params or {}), "noise_std": auto["noise_std"]}
        method = SEMI_SUPERVISED.build(name, params)
        if "learning_rate" in auto:
            method.learning_rate = auto["learning_rate"]  # what learning_rate_init="auto" reads
        sizes = self.hidden_layer_sizes
        if "hidden_layer_sizes" in auto and _same(sizes, self._parameters["hidden_layer_sizes"].default):
            sizes = auto["hidden_layer_sizes"]
        return method, check_layer_sizes(sizes)

    def _semi_epochs(self, method, n: int) -> int:
        """``max_iter``, ``"auto"`` resolved for ``method`` on ``n`` rows (:func:`layerwise.params.auto.max_iter`)."""
        return self._parameters["max_iter"].resolve(self.max_iter, Situation(n, method, self.batch_size))

    def _build_semi(self, recipe: dict, n_in: int, n_out: int) -> torch.nn.Module:
        """The untrained network of the method in ``recipe``, to load saved weights into."""
        method = SEMI_SUPERVISED.build(recipe["method"], _with_image_shape(recipe["method"], self.semi_supervised_params,
                                                                          recipe.get("image_shape")))
        sizes = recipe.get("hidden_layer_sizes", self.hidden_layer_sizes)  # models saved before the recipe held them
        return method.build_model(n_in, check_layer_sizes(sizes), n_out, self.activation)


def _with_image_shape(name: str, params: dict | None, image_shape) -> dict | None:
    """``params`` of the method ``name`` with ``image_shape`` added when the method takes one and ``params`` does not
    set it (a convolutional method given flat image rows); otherwise ``params`` unchanged."""
    if image_shape is None or "image_shape" in (params or {}):
        return params
    if "image_shape" not in inspect.signature(SEMI_SUPERVISED.get(name)).parameters:
        return params
    return {**(params or {}), "image_shape": tuple(int(v) for v in image_shape)}


def _same(value, default) -> bool:
    """``value == default`` for parameter values: tuples and lists alike, ``True`` never equal to ``1``, and never
    an array's elementwise answer."""
    if isinstance(value, (list, tuple)) and isinstance(default, (list, tuple)):
        return list(value) == list(default)
    if isinstance(value, bool) or isinstance(default, bool):
        return value is default
    try:
        return bool(value == default)
    except (TypeError, ValueError):
        return False
