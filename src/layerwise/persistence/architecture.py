"""A module's architecture as plain data: a tree of known layers and their constructor arguments.

:func:`describe` turns a module built from layerwise's pieces (and common torch
layers) into nested dicts that JSON can hold; :func:`rebuild` makes the
untrained module back, tied layers re-tied, so saved weights load into it with
``strict=True``. Nothing here executes code from a file: unknown layer names
are refused.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from ..exceptions import CheckpointError
from ..nn import RBM, VAE, AutoEncoder, ClassifierHead, EncoderStack, RegressorHead
from ..nn.blocks import TiedLinear

__all__ = ["describe", "rebuild"]

_CONV = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias")
_NORM = ("num_features", "eps", "momentum", "affine", "track_running_stats")
_LEAVES: dict[type, tuple[str, ...]] = {  # layer type -> the attributes that are its constructor's arguments
    nn.Linear: ("in_features", "out_features", "bias"), nn.Conv2d: (*_CONV, "padding_mode"),
    nn.ConvTranspose2d: (*_CONV, "output_padding"), nn.MaxPool2d: ("kernel_size", "stride", "padding", "dilation", "ceil_mode"),
    nn.Upsample: ("size", "scale_factor", "mode", "align_corners"), nn.Flatten: ("start_dim", "end_dim"),
    nn.Unflatten: ("dim", "unflattened_size"), nn.Dropout: ("p",), nn.BatchNorm1d: _NORM, nn.BatchNorm2d: _NORM,
    nn.LeakyReLU: ("negative_slope",), nn.Identity: (), nn.ReLU: (), nn.Sigmoid: (), nn.Tanh: (),
}
_LEAF_NAMES = {cls.__name__: cls for cls in _LEAVES}
_HEADS = {"ClassifierHead": ClassifierHead, "RegressorHead": RegressorHead}


def describe(module: nn.Module, paths: dict[int, str] | None = None) -> dict:
    """The architecture of ``module`` as nested dicts (type name and constructor arguments)."""
    paths = {id(m): n for n, m in module.named_modules()} if paths is None else paths
    t, d = type(module), lambda m: describe(m, paths)
    if t in _LEAVES:
        return {"type": t.__name__, **{a: (module.bias is not None) if a == "bias" else getattr(module, a) for a in _LEAVES[t]}}
    if t is nn.Sequential:
        return {"type": "Sequential", "children": [[n, d(c)] for n, c in module.named_children()]}
    if t is nn.ModuleList:
        return {"type": "ModuleList", "children": [d(c) for c in module]}
    if t is TiedLinear:
        src = module.source
        return {"type": "TiedLinear", "source": paths.get(id(src)), "in_features": src.in_features, "out_features": src.out_features}
    if t is EncoderStack:
        decoders = None if module.decoders is None else [d(c) for c in module.decoders]
        return {"type": "EncoderStack", "layers": [d(c) for c in module.layers], "decoders": decoders, "output": module.output,
                "dropout": module.dropout, "input_dropout": module.input_dropout}
    if t is AutoEncoder:
        return {"type": "AutoEncoder", "encoder": d(module.encoder), "decoder": d(module.decoder), "output": module.output}
    if t is RBM:
        return {"type": "RBM", "n_visible": module.n_visible, "n_hidden": module.n_hidden, "visible": module.visible}
    if t is VAE:
        return {"type": "VAE", "body": d(module.body), "hidden_dim": module.encoder[1].in_features, "latent_dim": module.latent_dim,
                "decoder": d(module.decoder), "output": module.output}
    if t in _HEADS.values():
        dropout = next((m.p for m in module if isinstance(m, nn.Dropout)), 0.0)
        return {"type": t.__name__, "n_in": module[-1].in_features, "n_out": module[-1].out_features, "dropout": dropout}
    raise CheckpointError(f"layerwise cannot describe a {t.__name__} layer")


def rebuild(spec: dict) -> nn.Module:
    """The untrained module that :func:`describe` described (tied layers re-tied)."""
    pending: list[tuple[str, str]] = []
    try:
        root = _build_node(spec, "", pending)
        for tied_path, source_path in pending:  # each tied layer once its source exists
            parent, _, leaf = tied_path.rpartition(".")
            setattr(root.get_submodule(parent), leaf, TiedLinear(root.get_submodule(source_path)))
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise CheckpointError(f"The architecture in config.json is invalid ({type(e).__name__}: {e}); save the model again.") from e
    return root


def _build_node(spec: dict, path: str, pending: list) -> nn.Module:
    kind, args = spec["type"], {k: v for k, v in spec.items() if k != "type"}
    sub = lambda s, name: _build_node(s, f"{path}.{name}".lstrip("."), pending)  # noqa: E731
    if kind in _LEAF_NAMES:
        return _LEAF_NAMES[kind](**args)
    if kind == "Sequential":
        return nn.Sequential(OrderedDict((n, sub(s, n)) for n, s in args["children"]))
    if kind == "ModuleList":
        return nn.ModuleList(sub(s, str(i)) for i, s in enumerate(args["children"]))
    if kind == "TiedLinear":
        if args["source"] is None:  # tied to a weight outside this module: restored from the file
            return TiedLinear(nn.Linear(args["in_features"], args["out_features"]))
        pending.append((path, args["source"]))
        return nn.Identity()  # a placeholder until the source layer is built
    if kind == "EncoderStack":
        decoders = None if args["decoders"] is None else [sub(s, f"decoders.{i}") for i, s in enumerate(args["decoders"])]
        return EncoderStack([sub(s, f"layers.{i}") for i, s in enumerate(args["layers"])], decoders, args["output"],
                            args.get("dropout", 0.0), args.get("input_dropout", 0.0))  # absent in files before 0.2
    if kind == "AutoEncoder":
        return AutoEncoder(sub(args["encoder"], "encoder"), sub(args["decoder"], "decoder"), args["output"])
    if kind == "RBM":
        return RBM(args["n_visible"], args["n_hidden"], args["visible"])
    if kind == "VAE":
        body = sub(args["body"], "encoder.0")
        return VAE(body, args["hidden_dim"], args["latent_dim"], sub(args["decoder"], "decoder"), args["output"])
    if kind in _HEADS:
        return _HEADS[kind](args["n_in"], args["n_out"], args["dropout"])
    raise CheckpointError(
        f"Unknown layer class {kind!r} in the architecture in config.json; this layerwise knows "
        f"{sorted([*_LEAF_NAMES, *_HEADS, 'Sequential', 'ModuleList', 'TiedLinear', 'EncoderStack', 'AutoEncoder', 'RBM', 'VAE'])}. "
        "The folder may come from a newer layerwise: upgrade it."
    )
