"""An ordered stack of pretrained encoders."""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn import functional as F

from ..exceptions import ConfigError
from .autoencoder import AutoEncoder
from .blocks import TiedLinear, first_linear

__all__ = ["EncoderStack", "freeze", "unfreeze", "freeze_trained", "unfreeze_trained", "forget_trained_freeze",
           "frozen_by_layerwise", "refreeze_trained"]

# Who froze a parameter decides whether full fine-tuning may train it. Layerwise freezes a layer once it is
# trained (greedy pretraining) or while only the head learns (frozen fine-tuning): full fine-tuning lifts
# those. A user who freezes a layer (freeze(), EncoderStack.freeze(), load_pretrained(freeze=True),
# requires_grad_(False)) means it: it stays frozen in every mode. Each module keeps the names of its own
# parameters that layerwise froze, in this attribute (a plain set: it survives copy.deepcopy).
_FROZEN_BY_LAYERWISE = "_frozen_by_layerwise"


def freeze(module: nn.Module) -> nn.Module:
    """Stop gradients through ``module`` and put it in eval mode (dropout, BN off).

    A freeze that sticks: :func:`~layerwise.pipeline.finetune.finetune` in ``"full"`` mode keeps these parameters frozen
    (transfer some layers frozen, fine-tune the rest). :func:`unfreeze` lifts it.
    """
    for m in module.modules():
        getattr(m, _FROZEN_BY_LAYERWISE, set()).clear()
    for p in module.parameters():
        p.requires_grad_(False)
    module.eval()
    return module


def unfreeze(module: nn.Module) -> nn.Module:
    """Undo :func:`freeze`: parameters trainable, module in train mode."""
    for m in module.modules():
        getattr(m, _FROZEN_BY_LAYERWISE, set()).clear()
    for p in module.parameters():
        p.requires_grad_(True)
    module.train()
    return module


def freeze_trained(module: nn.Module) -> nn.Module:
    """Layerwise's own freeze (a trained greedy layer, frozen fine-tuning): like :func:`freeze`, but full
    fine-tuning lifts it. Parameters the user froze before stay the user's."""
    for m in module.modules():
        mine = getattr(m, _FROZEN_BY_LAYERWISE, None)
        if mine is None:
            mine = set()
            object.__setattr__(m, _FROZEN_BY_LAYERWISE, mine)
        for name, p in m.named_parameters(recurse=False):
            if p.requires_grad:
                mine.add(name)
            p.requires_grad_(False)
    module.eval()
    return module


def unfreeze_trained(module: nn.Module) -> list[nn.Module]:
    """Make trainable what :func:`freeze_trained` froze; put ``module`` in train mode.

    Returns
    -------
    list of nn.Module
        The sub-modules whose parameters all stay frozen (frozen by the user), e.g. a whole ``dense_block``,
        which fine-tuning keeps in eval mode (no dropout, batch-norm statistics unchanged).
    """
    for m in module.modules():
        mine = getattr(m, _FROZEN_BY_LAYERWISE, set())
        for name, p in m.named_parameters(recurse=False):
            if name in mine:
                p.requires_grad_(True)
        mine.clear()
    module.train()
    return [m for m in module.modules() if list(m.parameters()) and not any(p.requires_grad for p in m.parameters())]


def frozen_by_layerwise(module: nn.Module) -> list[str]:
    """Dotted names of the parameters of ``module`` that layerwise froze (:func:`freeze_trained`), e.g. to save them."""
    return [f"{owner}.{name}".lstrip(".") for owner, m in module.named_modules() for name in sorted(getattr(m, _FROZEN_BY_LAYERWISE, ()))]


def refreeze_trained(module: nn.Module, names) -> None:
    """Freeze the parameters ``names`` (dotted) as layerwise's own freeze, as :func:`frozen_by_layerwise` listed them."""
    for full in names:
        owner, _, leaf = full.rpartition(".")
        m = module.get_submodule(owner)
        getattr(m, leaf).requires_grad_(False)
        mine = getattr(m, _FROZEN_BY_LAYERWISE, None)
        if mine is None:
            mine = set()
            object.__setattr__(m, _FROZEN_BY_LAYERWISE, mine)
        mine.add(leaf)


def forget_trained_freeze(module: nn.Module, name: str) -> None:
    """The parameter ``name`` of ``module`` (dotted) is frozen by the user from now on, e.g. by
    ``load_pretrained(freeze=True)``."""
    owner, _, leaf = name.rpartition(".")
    getattr(module.get_submodule(owner), _FROZEN_BY_LAYERWISE, set()).discard(leaf)


class EncoderStack(nn.Module):
    """Encoders applied one after another: a deep encoder built layer by layer.

    Parameters
    ----------
    layers : sequence of nn.Module
        ``layers[k]`` maps the codes of layer ``k-1`` to the codes of layer ``k``.
    decoders : sequence of nn.Module, optional
        ``decoders[k]`` maps codes of layer ``k`` back to the *pre-activation*
        input of layer ``k`` (what greedy pretraining learned). Kept only for
        :meth:`unroll` and ``inverse_transform``; the encoder never uses them.
    output : {"identity", "logistic"}, default="identity"
        Output activation of the first layer's decoder (the data space).
    dropout : float, default=0.0
        Dropout rate after every layer, in train mode only: fine-tuning with
        dropout (Srivastava et al. 2014). A frozen stack is in eval mode, so it
        never drops anything.
    input_dropout : float, default=0.0
        Dropout rate on the input, in train mode only.

    Examples
    --------
    >>> from layerwise.nn.blocks import dense_block
    >>> stack = EncoderStack([dense_block(8, 4), dense_block(4, 2)])
    >>> stack(torch.zeros(3, 8)).shape
    torch.Size([3, 2])
    >>> stack.unroll()(torch.zeros(3, 8)).shape
    torch.Size([3, 8])
    """

    def __init__(self, layers, decoders=None, output: str = "identity", dropout: float = 0.0, input_dropout: float = 0.0) -> None:
        super().__init__()
        layers = list(layers)
        if not layers:
            raise ConfigError("EncoderStack needs at least one layer; got none.")
        self.layers = nn.ModuleList(layers)
        if decoders is not None:
            decoders = list(decoders)
            if len(decoders) != len(layers):
                raise ConfigError(
                    f"EncoderStack got {len(layers)} layers but {len(decoders)} decoders; "
                    "pass one decoder per layer or none."
                )
            self.decoders = nn.ModuleList(decoders)
        else:
            self.decoders = None
        self.output = output
        for name, rate in (("dropout", dropout), ("input_dropout", input_dropout)):
            if not 0.0 <= float(rate) < 1.0:
                raise ConfigError(f"{name} must be in [0, 1); got {rate!r}.")
        # plain floats, not nn.Dropout modules: the state dict (and transfer by key) is the same with or without
        self.dropout, self.input_dropout = float(dropout), float(input_dropout)

    def __len__(self) -> int:
        return len(self.layers)

    def forward(self, x: torch.Tensor, upto: int | None = None) -> torch.Tensor:
        """Codes of layer ``upto`` (default: the top), ``(batch, ...) -> (batch, n_code)``."""
        if self.input_dropout:
            x = F.dropout(x, self.input_dropout, self.training)
        for layer in self.layers[: len(self.layers) if upto is None else upto]:
            x = layer(x)
            if self.dropout:
                x = F.dropout(x, self.dropout, self.training)
        return x

    def freeze(self, upto: int | None = None) -> EncoderStack:
        """Freeze layers ``[0, upto)`` (the whole stack by default); see :func:`freeze`."""
        if upto is None:
            freeze(self)
            return self
        for layer in self.layers[:upto]:
            freeze(layer)
        return self

    def unfreeze(self) -> EncoderStack:
        """Make every layer trainable again."""
        unfreeze(self)
        return self

    def unroll(self) -> AutoEncoder:
        """A deep autoencoder: this stack as encoder, the mirrored decoders after it.

        With kept ``decoders`` the greedy decoders are reused; otherwise each
        decoder starts from its encoder's transposed weight (Hinton &
        Salakhutdinov 2006, "unrolling"). The copies are independent of this
        stack, so training the deep autoencoder leaves the stack unchanged.
        """
        encoder = copy.deepcopy(self)
        encoder.decoders = None
        parts: list[nn.Module] = []
        for k in reversed(range(len(self.layers))):
            parts.append(self._decoder_for(k))
            if k > 0:
                parts.append(copy.deepcopy(_activation_of(self.layers[k - 1])))
        return unfreeze(AutoEncoder(encoder, nn.Sequential(*parts), output=self.output))

    def _decoder_for(self, k: int) -> nn.Module:
        if self.decoders is not None:
            return untie(copy.deepcopy(self.decoders[k]))
        if any(isinstance(m, nn.Conv2d) for m in self.layers[k].modules()):
            raise ConfigError(
                f"Cannot unroll conv layer {k} without its decoder: a transposed weight does not undo pooling. "
                "Keep the greedy decoders (GreedyLayerwise(keep_decoders=True), the default)."
            )
        lin = first_linear(self.layers[k])
        dec = nn.Linear(lin.out_features, lin.in_features)
        with torch.no_grad():
            dec.weight.copy_(lin.weight.t())
            dec.bias.zero_()
        return dec


def untie(module: nn.Module) -> nn.Module:
    """Replace every :class:`TiedLinear` in ``module`` by an ``nn.Linear`` holding a copy
    of the tied weight: the unrolled decoder then trains on its own (Hinton &
    Salakhutdinov 2006 untie the unrolled weights too)."""
    if isinstance(module, TiedLinear):
        return _untied(module)
    for name, child in module.named_children():
        if isinstance(child, TiedLinear):
            setattr(module, name, _untied(child))
        else:
            untie(child)
    return module


def _untied(tied: TiedLinear) -> nn.Linear:
    w = tied.weight.detach()  # (n_out, n_in) of the decoder
    lin = nn.Linear(w.shape[1], w.shape[0])
    with torch.no_grad():
        lin.weight.copy_(w)
        lin.bias.copy_(tied.bias.detach())
    return lin


def _activation_of(block: nn.Module) -> nn.Module:
    """The activation that follows the first Linear (``dense_block``) or Conv2d (``conv_block``)."""
    if isinstance(block, nn.Sequential):
        parts = list(block)
        for i, m in enumerate(parts[:-1]):
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                return parts[i + 1]
        if len(parts) >= 2:  # a custom block laid out as (layer, activation, ...)
            return parts[1]
    raise ConfigError(
        f"Cannot unroll a layer of type {type(block).__name__}: expected a dense_block or conv_block "
        "(nn.Sequential of Linear or Conv2d, then activation). Build the deep autoencoder by hand."
    )
