"""The encoder stack of the estimators that pretrain one: greedy, random, or transferred from a saved model.

Shared by :class:`~layerwise.StackedAutoencoder` and the ``Pretrained*``
estimators. How the stack was made is kept as a small recipe
(``_stack_recipe``), saved with the model, so that loading rebuilds the same
modules before the weights go in.
"""

from __future__ import annotations

from torch import nn

from ..exceptions import ConfigError
from ..nn.stack import EncoderStack
from ..objectives import with_image_shape
from ..persistence.io import load
from ..pipeline import Given, Greedy, RandomInit
from ..pipeline.greedy import GreedyLayerwise, check_layer_sizes, random_stack
from ..pipeline.transfer import load_pretrained

__all__ = ["PretrainedStackMixin", "checkpoint_doc"]

_CHECKPOINT_ARGS = """checkpoint_dir : path, optional
            Checkpoint every phase there (every epoch), so that an interrupted
            fit can continue with ``resume=True``.
        resume : bool, default=False
            Continue from the checkpoints in ``checkpoint_dir``; the result is
            bitwise the same as an uninterrupted fit on CPU."""


def checkpoint_doc(fit):
    """Fill the ``{checkpoint_args}`` line of a ``fit`` docstring (``checkpoint_dir``, ``resume``)."""
    fit.__doc__ = fit.__doc__.replace("{checkpoint_args}", _CHECKPOINT_ARGS)
    return fit


class PretrainedStackMixin:
    """``_pretrain`` (greedy, random or transferred) and ``_build_stack`` (the same modules, untrained)."""

    def _pretrain_max_iter(self) -> int:
        raise NotImplementedError

    def _pretrain_objective(self) -> str | None:
        """The objective ``pretrain`` names; ``"auto"``: ``"scarf"`` on a table (column corruption, Bahri et al.
        2022), else ``"denoising"`` (``_rows_are_table``, set by ``fit``); ``"denoising"`` whenever
        ``pretrain_params`` is set: the objective its options were checked against."""
        if self.pretrain != "auto":
            return self.pretrain
        table = getattr(self, "_rows_are_table", False) and not getattr(self, "pretrain_params", None)
        return "scarf" if table else "denoising"

    def _stack_phase(self, n_in: int):
        """The phase of a fit that makes the stack for rows of ``n_in`` features: the saved stack when
        ``pretrained`` is set (:class:`~layerwise.pipeline.Given`), a random one when ``pretrain`` is None or
        ``pretrain_max_iter=0`` (:class:`~layerwise.pipeline.RandomInit`), else greedy pretraining
        (:class:`~layerwise.pipeline.Greedy`, ``pretrain="auto"`` resolved)."""
        sizes = check_layer_sizes(self.hidden_layer_sizes)
        if getattr(self, "pretrained", None) is not None:
            return Given(*self._transferred_stack(n_in))
        objective = self._pretrain_objective()
        if objective is None or self._pretrain_max_iter() == 0:
            return RandomInit(sizes, self.activation)
        # rows from an image folder or a dataset of images arrive flattened: a conv objective gets their shape
        params = with_image_shape(objective, self.pretrain_params, getattr(self, "_input_image_shape", None))
        return Greedy(sizes, self.activation, objective, params, self.loss, self.tied, self._settings(self._pretrain_max_iter()))

    def _keep_stack(self, phase, result) -> None:
        """``pretrain_history_`` and ``_stack_recipe`` (what loading needs to rebuild the stack) after ``phase``
        made the stack of ``result`` (:class:`~layerwise.pipeline.FitResult`)."""
        self.pretrain_history_ = result.history.get("pretrain", [])
        recipe = dict(result.recipe)
        if isinstance(phase, Greedy):
            if phase.objective != self.pretrain:  # "auto": loading rebuilds the objective it chose
                recipe["objective"] = phase.objective
            if phase.objective_params is not self.pretrain_params:  # saved: loading rebuilds the same layers
                recipe["image_shape"] = list(phase.objective_params["image_shape"])
        self._stack_recipe = recipe

    def _build_stack(self, n_in: int, recipe: dict) -> EncoderStack:
        """The untrained stack described by the parameters and ``_stack_recipe``, same keys as a fitted one."""
        sizes = check_layer_sizes(self.hidden_layer_sizes)
        if recipe["kind"] == "random":
            return random_stack(n_in, sizes, self.activation)
        objective = recipe.get("objective", self.pretrain)
        greedy = GreedyLayerwise(sizes, activation=self.activation, objective=objective,
                                 objective_params=with_image_shape(objective, self.pretrain_params, recipe.get("image_shape")),
                                 loss=self.loss, tied=self.tied, keep_decoders=recipe["decoders"])
        return greedy.build((n_in,), recipe["first_loss"])

    def _transferred_stack(self, n_in: int) -> tuple[EncoderStack, dict]:
        """The encoder layers of the saved model at ``pretrained``, in the stack these parameters build, and its
        recipe.

        The architecture comes from this estimator's parameters and must be the
        saved one's (same widths, activation and layer types), which is checked
        layer by layer; decoders are not transferred (fine-tuning never uses them).
        """
        saved = load(self.pretrained)
        source = _stack_of(saved, self.pretrained)
        recipe = {"kind": "random" if self.pretrain is None else "greedy", "objective": self._pretrain_objective(),
                  "first_loss": "bce" if source.output == "logistic" else "mse", "decoders": False}
        stack = self._build_stack(n_in, recipe)
        differences = _layer_differences(stack.layers, source.layers)
        if differences:
            was = ""
            if hasattr(saved, "get_params"):  # an estimator: say how it was built
                p = saved.get_params()
                built = ", ".join(f"{k}={p[k]!r}" for k in ("hidden_layer_sizes", "n_components", "activation", "pretrain") if k in p)
                was = f"The saved {type(saved).__name__} has {built} and {saved.n_features_in_} input features. "
            raise ConfigError(
                f"pretrained={str(self.pretrained)!r} holds a stack with other layers than {type(self).__name__} builds "
                f"for {n_in} features and these parameters:\n- " + "\n- ".join(differences) + f"\n{was}"
                "Set hidden_layer_sizes, activation and pretrain (its layer type) to the saved model's values."
            )
        load_pretrained(stack, source, layers="layers", strict=True)
        return stack, recipe


def _stack_of(saved, path) -> EncoderStack:
    """The encoder stack of what ``load`` returned: an estimator's ``stack_``, an
    ``EncoderStack``, or the encoder of an unrolled ``AutoEncoder``."""
    for candidate in (getattr(saved, "stack_", None), saved, getattr(saved, "encoder", None)):
        if isinstance(candidate, EncoderStack):
            return candidate
    raise ConfigError(
        f"pretrained={str(path)!r} holds a {type(saved).__name__}, which has no encoder stack; pass the folder of a saved "
        "StackedAutoencoder, PretrainedClassifier, PretrainedRegressor or EncoderStack."
    )


def _layer_differences(expected: nn.Module, saved: nn.Module, limit: int = 8) -> list[str]:
    """Sub-modules whose type or arguments differ, as ``"layers.0.1: saved X, built Y"``."""
    def layers(root):
        return {f"layers.{n}".rstrip("."): f"{type(m).__name__}({m.extra_repr()})" for n, m in root.named_modules()}

    built, got = layers(expected), layers(saved)
    names = list(built) + [n for n in got if n not in built]
    lines = [f"{n}: saved {got.get(n, 'nothing')}, this estimator builds {built.get(n, 'nothing')}" for n in names if built.get(n) != got.get(n)]
    return lines[:limit] + ([f"... and {len(lines) - limit} more"] if len(lines) > limit else [])
