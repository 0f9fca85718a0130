"""The convolutional ladder network's cost: Conv-Small, by default as the Gamma-model.

Rasmus et al. (2015), Algorithm 1 and eq. 3, as for the dense ladder
(:mod:`layerwise.objectives.ladder`): the cross-entropy of the corrupted
encoder on the labeled rows, plus ``sum_l lambda_l * C_l`` on the unlabeled
rows. The paper reports its convolutional MNIST network, Conv-Small, as a
Gamma-model: the denoising cost of the top layer alone, weight 1 (the authors'
``mnist_100_conv_gamma``), which is the default here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..exceptions import ConfigError
from ..nn.conv import check_image_shape
from ..nn.conv_ladder import CONV_SMALL, ConvLadderNetwork
from ..params.constraints import Interval, NoneValue, SequenceOf
from ..params.core import Param, ParamSet, declared_options
from .base import SEMI_SUPERVISED
from .ladder import Ladder

__all__ = ["ConvLadder"]

_IMAGE_SHAPE = "(channels, height, width), three positive integers, e.g. (1, 28, 28)"
_CONV_DOCS = {
    "noise_std": """Standard deviation of the Gaussian noise of the corrupted encoder, on the input and on every normalised
                 layer output, in the units of the input (pixels in [0, 1]): the paper's, and its code's, for Conv-Small.""",
    "denoising_costs": """``lambda_l`` for ``l = 0..9`` (the input, Conv-Small's nine layers). ``"gamma"``: the Gamma-model, the
                       top layer's cost alone (weight 1), as the paper trained Conv-Small; ``"paper"``: ``1000, 10, 0.1,
                       ...``, the paper's pattern for its full ladders (its Conv-FC network included), which decodes every
                       layer.""",
    "combinator": """Rasmus et al.'s ``g`` (eq. 2), or Pezeshki et al. (2016)'s augmented MLP (``"amlp"``), one per
                  channel.""",
}


@SEMI_SUPERVISED.register("conv_ladder")
@declared_options
class ConvLadder(Ladder):
    """Convolutional ladder training: ``objective(model, (x_labeled, y, x_unlabeled)) -> StepOutput``.

    Parameters
    ----------
    {parameters}

    Notes
    -----
    The network is Conv-Small (:class:`~layerwise.nn.conv_ladder.ConvLadderNetwork`),
    whatever ``hidden_layer_sizes`` and ``activation`` say: :meth:`build_model`
    takes them for the signature it shares with :class:`Ladder`, and the
    estimators refuse them set away from their defaults (:attr:`unused_params`).
    The logs are the dense ladder's: ``supervised``, ``accuracy`` and
    ``denoising_<l>`` for each decoded layer.

    Examples
    --------
    >>> import torch
    >>> objective = ConvLadder(image_shape=(1, 8, 8))
    >>> net = objective.build_model(64, (), 3)
    >>> out = objective(net, (torch.rand(5, 64), torch.tensor([0, 1, 2, 0, 1]), torch.rand(7, 64)))
    >>> sorted(out.logs)
    ['accuracy', 'denoising_9', 'supervised']
    """

    # Every option of the dense ladder (whose __call__ this class runs), with Conv-Small's defaults (the paper's) and
    # docs, and the images' shape.
    options = ParamSet((
        *Ladder.options.select(*Ladder.options, defaults={"noise_std": 0.3, "denoising_costs": "gamma"}, docs=_CONV_DOCS).params,
        Param("image_shape", (NoneValue(), SequenceOf(Interval(int, 1), _IMAGE_SHAPE, "(channels, height, width)", 3, 3)), None,
              """Shape of one image: the rows are flat images. Required to build the network; the estimators fill it in
              from image folders, and from Datasets and ``.npy`` files of images.""", type_doc="(channels, height, width)"),
    ))

    #: Adam's learning rate for ``learning_rate_init="auto"``: the paper's (and its code's) 0.002; unlike the dense
    #: ladder's 0.005, not tuned on this library's data.
    learning_rate = 0.002
    #: Unlabeled rows per step for ``batch_size="auto"``: the paper's 100 (as many labeled rows are drawn alongside).
    batch_size = 100
    #: At least this many optimizer steps when ``max_iter="auto"``: the dense ladder's; the paper's 150 epochs of
    #: MNIST are 90,000, which a CPU cannot give a convolutional network in a default.
    min_steps = 3000
    #: Estimator parameters its fixed network does not use: set away from their defaults, they are refused.
    unused_params = ("hidden_layer_sizes", "activation")

    def __post_init__(self) -> None:
        """The dense ladder's conversions, and ``image_shape`` a tuple of ints."""
        super().__post_init__()
        self.image_shape = None if self.image_shape is None else check_image_shape(self.image_shape)

    @classmethod
    def auto_settings(cls, n_features: int) -> dict:
        """None: Conv-Small's layers are fixed, and its noise and rate are the paper's already."""
        return {}

    def build_model(self, n_features: int, hidden_layer_sizes: Sequence[int], n_classes: int,
                    activation: str = "relu") -> ConvLadderNetwork:
        """The :class:`~layerwise.nn.conv_ladder.ConvLadderNetwork` this objective trains.

        ``hidden_layer_sizes`` and ``activation`` do not apply (Conv-Small is fixed); they are accepted so
        that every semi-supervised method is built the same way.

        Raises
        ------
        ConfigError
            No ``image_shape``, one that does not match ``n_features``, or
            ``denoising_costs`` of the wrong length.
        """
        if self.image_shape is None:
            raise ConfigError(f"conv_ladder needs image_shape=(channels, height, width) to unflatten its rows of "
                              f"{n_features} values; pass semi_supervised_params={{'image_shape': (1, 28, 28)}} (your "
                              "images' shape), or fit on an image folder, a Dataset or a .npy file of images, which give it.")
        size = math.prod(self.image_shape)
        if size != n_features:
            raise ConfigError(f"image_shape={self.image_shape} has {size} values but the rows have {n_features}; give "
                              "the (channels, height, width) of your images.")
        lambdas = self.costs(len(CONV_SMALL))  # a wrong number of lambdas fails before training
        gamma_only = not any(c > 0 for c in lambdas[:-1])
        return ConvLadderNetwork(self.image_shape, n_classes, self.combinator, gamma_only=gamma_only)
