"""Run configuration: one dataclass per concept, loaded from TOML or YAML and validated.

Unknown keys fail with their dotted path and the nearest valid key; values are
checked against the field types before any training starts. ``--set a.b=value``
overrides use minGPT's grammar, values parsed as TOML literals.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .exceptions import ConfigError
from .registry import suggest

__all__ = ["DataConfig", "ModelConfig", "PretrainConfig", "FinetuneConfig", "RunConfig", "load_config",
           "apply_overrides", "config_from_dict", "config_to_dict"]


@dataclass
class DataConfig:
    """Where the data comes from and how it is split."""

    dataset: str = "digits"  # a name (digits, mnist, fashion-mnist, kmnist) or a .npy/.npz/.csv path
    data_dir: str | None = None
    label_column: str | None = None  # CSV files: the label column
    label_fraction: float = 1.0  # keep labels for this fraction of the training rows (the rest: -1)
    val_size: float = 0.1
    test_size: float = 0.2  # used when the dataset has no test split of its own
    scale: str = "auto"


@dataclass
class ModelConfig:
    """The network: layer widths and activation."""

    hidden_layer_sizes: list[int] = field(default_factory=lambda: [256, 64])
    activation: str = "relu"


@dataclass
class PretrainConfig:
    """Greedy layer-wise pretraining."""

    objective: str = "denoising"
    params: dict[str, Any] = field(default_factory=dict)  # options of the objective, e.g. {noise = "masking"}
    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-3
    optimizer: str = "adam"
    loss: str = "auto"


@dataclass
class FinetuneConfig:
    """Supervised fine-tuning on the labeled rows."""

    mode: str = "full"
    epochs: int = 50
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"
    encoder_lr_scale: float = 1.0
    early_stopping: bool = True
    patience: int = 10
    task: str = "classification"  # or "regression"


@dataclass
class RunConfig:
    """A whole run: its name, folder, seed and device, plus each concept."""

    name: str = "run"
    out_dir: str = "runs"
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)

    @property
    def run_dir(self) -> Path:
        return Path(self.out_dir) / self.name


CHOICES = {
    "pretrain.optimizer": ("adam", "adamw", "sgd"),
    "finetune.optimizer": ("adam", "adamw", "sgd"),
    "finetune.mode": ("frozen", "full"),
    "finetune.task": ("classification", "regression"),
    "pretrain.loss": ("auto", "mse", "bce"),
    "precision": ("fp32", "bf16"),
    "data.scale": ("auto", "minmax", "none"),
}


def load_config(path: str | Path, overrides: list[str] | None = None) -> RunConfig:
    """Read a ``.toml`` (or ``.yaml``/``.yml``, with PyYAML) file, apply overrides, validate.

    Raises
    ------
    ConfigError
        Missing file, unreadable syntax, unknown key (with its dotted path and
        a suggestion), wrong type or out-of-range value.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Config file {path} does not exist. Pass the path of a .toml or .yaml file (see examples/).")
    try:
        text = path.read_text()
    except UnicodeDecodeError as e:
        raise ConfigError(f"Config file {path} is not a text file ({e.reason} at byte {e.start}); expected a .toml or "
                          ".yaml file. A config is never unpickled or executed.") from e
    try:
        if path.suffix == ".toml":
            raw = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            raw = _load_yaml(text)
        else:
            raise ConfigError(f"Config file {path} has suffix {path.suffix!r}; expected .toml, .yaml or .yml.")
    except (tomllib.TOMLDecodeError, ValueError) as e:
        if isinstance(e, ConfigError):
            raise
        raise ConfigError(f"Config file {path} is not valid {path.suffix[1:].upper()}: {e}") from e
    return config_from_dict(apply_overrides(raw, overrides or []))


def _load_yaml(text: str) -> dict:
    try:
        import yaml
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ConfigError("YAML configs need PyYAML: pip install 'layerwise[yaml]', or use a .toml file.") from e
    try:
        data = yaml.safe_load(text)  # safe_load: a config never builds Python objects
    except yaml.YAMLError as e:
        raise ConfigError(f"not valid YAML: {e}") from e
    return data or {}


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Apply ``a.b=value`` overrides to a nested dict (values read as TOML literals).

    Examples
    --------
    >>> apply_overrides({"pretrain": {"epochs": 5}}, ["pretrain.epochs=10", "name=x"])
    {'pretrain': {'epochs': 10}, 'name': 'x'}
    """
    raw = json.loads(json.dumps(raw))  # a deep copy of plain data
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"Override {item!r} is not of the form key.path=value, e.g. --set pretrain.epochs=5.")
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = text  # a bare word: a string
        node = raw
        parts = key.strip().split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"Override {item!r}: {p!r} is not a section.")
        node[parts[-1]] = value
    return raw


def config_from_dict(raw: dict) -> RunConfig:
    """Build and validate a :class:`RunConfig`; every problem is reported at once."""
    problems: list[str] = []
    cfg = _build(RunConfig, raw or {}, "", problems)
    _check_values(cfg, problems)  # fields with a wrong type kept their defaults: no double report
    if problems:
        raise ConfigError(f"The config has {len(problems)} problem(s):\n- " + "\n- ".join(problems))
    return cfg


def config_to_dict(cfg: RunConfig) -> dict:
    """The resolved config as plain data (what a run folder stores)."""
    return dataclasses.asdict(cfg)


def _build(cls, raw: Any, prefix: str, problems: list[str]):
    if not isinstance(raw, dict):
        problems.append(f"{prefix.rstrip('.') or 'the config'} must be a table/section; got {type(raw).__name__} {raw!r}.")
        return cls()
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    values = {}
    for key, value in raw.items():
        path = prefix + str(key)
        if key not in names:
            close = suggest(str(key), names)
            hint = f" Did you mean {prefix + close.split(chr(39))[1]!r}?" if close else ""
            problems.append(f"unknown key {path!r}.{hint} Valid keys here: {names}.")
            continue
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            values[key] = _build(hint, value, path + ".", problems)
        elif _type_ok(value, hint):
            values[key] = value
        else:
            problems.append(f"{path} must be {_type_name(hint)}; got {type(value).__name__} {value!r}.")
    return cls(**values)


def _type_ok(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        return any(_type_ok(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_type_ok(v, item) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    return isinstance(value, hint)


def _type_name(hint: Any) -> str:
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        return " or ".join(_type_name(h) for h in typing.get_args(hint))
    if hint is type(None):
        return "null/absent"
    if typing.get_origin(hint) is list:
        return f"a list of {_type_name(typing.get_args(hint)[0])}"
    if typing.get_origin(hint) is dict:
        return "a table"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(hint, str(hint))


def _check_values(cfg: RunConfig, problems: list[str]) -> None:
    """Ranges and choices; the names of objectives and datasets are checked by their registries."""
    import torch

    from .nn.blocks import ACTIVATIONS
    from .objectives import OBJECTIVES

    for key, choices in CHOICES.items():
        value = _get(cfg, key)
        if value not in choices:
            problems.append(f"{key} must be one of {list(choices)}; got {value!r}.{suggest(str(value), list(choices))}")
    if cfg.model.activation not in ACTIVATIONS:
        problems.append(f"model.activation must be one of {ACTIVATIONS.names()}; got {cfg.model.activation!r}.{suggest(cfg.model.activation, ACTIVATIONS.names())}")
    if cfg.pretrain.objective not in OBJECTIVES:
        problems.append(f"pretrain.objective must be one of {OBJECTIVES.names()}; got {cfg.pretrain.objective!r}.{suggest(cfg.pretrain.objective, OBJECTIVES.names())}")
    if not cfg.model.hidden_layer_sizes or any(s < 1 for s in cfg.model.hidden_layer_sizes):
        problems.append(f"model.hidden_layer_sizes must be a non-empty list of positive integers; got {cfg.model.hidden_layer_sizes}.")
    for key in ("pretrain.epochs", "pretrain.batch_size", "finetune.epochs", "finetune.batch_size", "finetune.patience"):
        if _get(cfg, key) < (0 if key == "pretrain.epochs" else 1):
            problems.append(f"{key} must be {'>= 0' if key == 'pretrain.epochs' else 'a positive integer'}; got {_get(cfg, key)}.")
    for key in ("pretrain.lr", "finetune.lr"):
        if not _get(cfg, key) > 0:
            problems.append(f"{key} must be a positive number; got {_get(cfg, key)}.")
    for key, lo, hi in (("data.label_fraction", 0, 1), ("data.val_size", 0, 1), ("data.test_size", 0, 1)):
        v = _get(cfg, key)
        if not (lo < v <= hi if key == "data.label_fraction" else lo <= v < hi):
            problems.append(f"{key} must be in {'(0, 1]' if key == 'data.label_fraction' else '[0, 1)'}; got {v}.")
    if cfg.device != "auto":
        try:
            torch.device(cfg.device)
        except (RuntimeError, TypeError, ValueError):
            problems.append(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:<index>'; got {cfg.device!r}.{suggest(cfg.device, ['auto', 'cpu', 'cuda'])}")
    if Path(cfg.name).name != cfg.name or cfg.name in ("", ".", ".."):
        problems.append(f"name must be a plain folder name (no '/' or '..'); got {cfg.name!r}. The run folder is out_dir/name.")


def _get(cfg: RunConfig, dotted: str) -> Any:
    node: Any = cfg
    for part in dotted.split("."):
        node = getattr(node, part)
    return node
