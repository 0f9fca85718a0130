"""Run configuration: the estimators' own parameters, by section, loaded from TOML or YAML and validated.

A config key *is* the parameter it sets, under the same name, checked by the
same declaration (:mod:`layerwise.params.table`):

- top level: ``name`` and ``out_dir`` (the run folder ``out_dir/name``), and
  ``random_state``, ``device``, ``precision``, shared by data splitting and
  both estimators;
- ``[data]``: the arguments of :func:`layerwise.data.prepare.prepare_data` (``image_size`` resizes the images of
  a folder ``dataset``: the estimators are given the resized rows);
- ``[model]``: the parameters both estimators share (``hidden_layer_sizes``,
  ``activation``, ``pretrain``, ``pretrain_params``);
- ``[pretrain]``: the other parameters of the
  :class:`~layerwise.StackedAutoencoder` that ``layerwise pretrain`` fits;
- ``[finetune]``: the other parameters of the ``PretrainedClassifier`` (or
  ``PretrainedRegressor``) that ``layerwise finetune`` fits from the run's
  ``pretrained/`` model. Pretraining and fine-tuning are separate fits, so each
  has its own ``max_iter``, ``batch_size``, ``learning_rate_init``,
  ``lr_schedule``...; ``class_weight = "balanced"`` or a table of class label
  -> weight (``[finetune.class_weight]``, keys written as text: ``"3" = 2.0``
  weighs the class ``3``) applies to classification;
- ``[logging]``: what the run folder gets besides ``metrics.jsonl`` (written
  every epoch): ``csv = true`` for CSV files, ``tensorboard = true`` for
  TensorBoard event files.

A parameter added to an estimator's set in the table is a config key at once.
Unknown keys fail with their dotted path and the nearest valid key, or the
section the key belongs in (``[finetune] hidden_layer_sizes``: "It belongs in
[model]"); every problem is reported at once.

None: TOML has no null, so a key that takes Python's ``None`` is written
``"none"`` (or ``"null"``, any case): ``semi_supervised = "none"`` in
``[finetune]`` is ``semi_supervised=None`` (fine-tune the run's pretrained
stack, no semi-supervised method), ``class_weight = "none"`` is
``class_weight=None``, ``[model] pretrain = "none"`` is ``pretrain=None``. The
text is read as None only where the key takes None and not that text (a
``[data] label_column = "none"`` stays a column's name); a key left out takes
its default, and YAML's ``null`` is None as it is. ``--set
finetune.semi_supervised=none`` works the same way. A key of an earlier release
(``pretrain.epochs``, ``finetune.lr``, ``seed``...) is an unknown key whose
message names the key now (:data:`RENAMED_KEYS`). ``--set a.b=value`` overrides
use minGPT's grammar, values parsed as TOML literals.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import tomllib
from dataclasses import field, make_dataclass
from pathlib import Path
from typing import Any

from ..exceptions import ConfigError
from ..params import DATA, LOGGING, PARAMS, PRETRAINED, PRETRAINED_CLASSIFIER, RUN, STACKED_AUTOENCODER, ParamSet
from ..params.constraints import Subject

__all__ = ["RunConfig", "SECTIONS", "RENAMED_KEYS", "NONE_WORDS", "load_config", "apply_overrides", "config_from_dict", "config_to_dict",
           "estimator_params"]

_SHARED = ("random_state", "device", "precision")  # top level: both estimators (and the data split: random_state)
_MODEL = ("hidden_layer_sizes", "activation", "pretrain", "pretrain_params")
_FROM_CLI = ("verbose", "pretrained", "unlabeled")  # --no-progress, the run's pretrained/ folder, prepare_data's markers
_OBJECTS = ("callbacks",)  # Python objects, not config values: the run's loggers come from [logging]
_FROM_DATA = ("scale",)  # [data] scale: both estimators fit it on the training rows (preprocessing is part of the model)
_PRETRAINING = ("pretrain_max_iter", "loss", "tied")  # fine-tuning starts from pretrained/: these are [pretrain]'s
_FRESH = ("warm_start",)  # a run fits a new estimator; `layerwise resume` continues a run
_IN_DATA = ("image_size",)  # [data] image_size: prepare_data resizes the folder's images; the estimators get their rows


def _rest(params: ParamSet, *exclude: tuple[str, ...]) -> ParamSet:
    skip = {n for names in exclude for n in names}
    return params.select(*(n for n in params if n not in skip))


#: The parameters each section holds ("" is the top level).
SECTIONS: dict[str, ParamSet] = {
    "": ParamSet(RUN.params + PRETRAINED.select(*_SHARED, defaults={"random_state": 0}).params),
    "data": DATA,
    # the CLI pretrains a StackedAutoencoder, which names its objective: "auto" is the estimators' alone
    "model": PRETRAINED.select(*_MODEL, defaults={"pretrain": "denoising"},
                               constraints={"pretrain": PARAMS["pretrain"].constraints}),
    "pretrain": _rest(STACKED_AUTOENCODER, _MODEL, _SHARED, _FROM_CLI, _OBJECTS, _FROM_DATA, _IN_DATA),
    # the classifier's set (class_weight too); a regression run refuses class_weight (layerwise.app.commands)
    "finetune": _rest(PRETRAINED_CLASSIFIER, _MODEL, _SHARED, _FROM_CLI, _PRETRAINING, _OBJECTS, _FROM_DATA, _IN_DATA, _FRESH),
    "logging": LOGGING,
}

#: Keys of earlier releases -> their names now (the estimator parameter they set). Only the unknown-key message reads
#: it: an old key is refused like any unknown key, never moved.
RENAMED_KEYS = {
    "seed": "random_state",
    "pretrain.objective": "model.pretrain",
    "pretrain.params": "model.pretrain_params",
    "pretrain.epochs": "pretrain.max_iter",
    "pretrain.lr": "pretrain.learning_rate_init",
    "pretrain.optimizer": "pretrain.solver",
    "finetune.mode": "finetune.finetune",
    "finetune.epochs": "finetune.max_iter",
    "finetune.lr": "finetune.learning_rate_init",
    "finetune.optimizer": "finetune.solver",
    "finetune.patience": "finetune.n_iter_no_change",
    "finetune.task": "data.task",
}


def _section_class(name: str, params: ParamSet, extra: list | None = None, namespace: dict | None = None) -> type:
    fields = [(p.name, Any, field(default=p.default)) for p in params.params]
    return make_dataclass(name, fields + (extra or []), namespace=namespace)


DataConfig = _section_class("DataConfig", SECTIONS["data"])
ModelConfig = _section_class("ModelConfig", SECTIONS["model"])
PretrainConfig = _section_class("PretrainConfig", SECTIONS["pretrain"])
FinetuneConfig = _section_class("FinetuneConfig", SECTIONS["finetune"])
LoggingConfig = _section_class("LoggingConfig", SECTIONS["logging"])
_CLASSES = {"data": DataConfig, "model": ModelConfig, "pretrain": PretrainConfig, "finetune": FinetuneConfig,
            "logging": LoggingConfig}
RunConfig = _section_class(
    "RunConfig", SECTIONS[""], [(k, c, field(default_factory=c)) for k, c in _CLASSES.items()],
    namespace={"__doc__": "A whole run: its folder, seed and device, and one section per phase (see the module doc).",
               "run_dir": property(lambda self: Path(self.out_dir) / self.name, doc="``out_dir/name``")},
)


def load_config(path: str | Path, overrides: list[str] | None = None) -> RunConfig:
    """Read a ``.toml`` (or ``.yaml``/``.yml``, with PyYAML) file, apply overrides, validate.

    Raises
    ------
    ConfigError
        Missing file, unreadable syntax, unknown key (with its dotted path and
        a suggestion), wrong type or out-of-range value.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"Config file {path} is a folder; pass the path of a .toml or .yaml file "
                          "(`layerwise examples` lists those that ship with layerwise).")
    if not path.is_file():
        raise ConfigError(f"Config file {path} does not exist. Pass the path of a .toml or .yaml file "
                          "(`layerwise examples` lists those that ship with layerwise).")
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark (Windows editors) is not part of the config
    except OSError as e:
        raise ConfigError(f"Cannot read the config file {path}: {e.strerror}. Check its permissions.") from e
    except UnicodeDecodeError as e:
        raise ConfigError(f"Config file {path} is not a text file ({e.reason} at byte {e.start}); expected a .toml or "
                          ".yaml file. A config is never unpickled or executed.") from e
    try:
        if path.suffix == ".toml":
            raw = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            raw = _load_yaml(text, path)
        else:
            raise ConfigError(f"Config file {path} has suffix {path.suffix!r}; expected .toml, .yaml or .yml.")
    except (tomllib.TOMLDecodeError, ValueError) as e:
        if isinstance(e, ConfigError):
            raise
        raise ConfigError(f"Config file {path} is not valid {path.suffix[1:].upper()}: {e}") from e
    return config_from_dict(apply_overrides(raw, overrides or []))


def _load_yaml(text: str, path: Path) -> dict:
    try:
        import yaml
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ConfigError("YAML configs need PyYAML: pip install 'layerwise[yaml]', or use a .toml file.") from e
    try:
        data = yaml.load(text, Loader=_unique_keys_loader(yaml))  # a SafeLoader: a config never builds Python objects
    except yaml.YAMLError as e:
        raise ConfigError(f"Config file {path} is not valid YAML: {e}") from e
    return data if data is not None else {}


def _unique_keys_loader(yaml):
    """PyYAML's ``SafeLoader`` that refuses a key given twice in one mapping (TOML refuses it too): the last
    value would win silently."""

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    raise yaml.constructor.ConstructorError(None, None, f"the key {key!r} is given twice; keep one",
                                                            key_node.start_mark)
                seen.add(key)
            return super().construct_mapping(node, deep)

    return UniqueKeyLoader


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Apply ``a.b=value`` overrides to a nested dict (values read as TOML literals).

    Examples
    --------
    >>> apply_overrides({"pretrain": {"max_iter": 5}}, ["pretrain.max_iter=10", "name=x"])
    {'pretrain': {'max_iter': 10}, 'name': 'x'}
    """
    raw = json.loads(json.dumps(raw))  # a deep copy of plain data
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"Override {item!r} is not of the form key.path=value, e.g. --set pretrain.max_iter=5.")
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = text  # a bare word: a string
        key = key.strip()
        node = raw
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"Override {item!r}: {p!r} is not a section.")
        node[parts[-1]] = value
    return raw


def config_from_dict(raw: dict) -> RunConfig:
    """Build and validate a :class:`RunConfig`; every problem is reported at once."""
    raw = raw or {}
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise ConfigError(f"The config must be a table of keys; got {type(raw).__name__}.")
    values = _section(raw, "", problems)
    sections = {}
    for name, cls in _CLASSES.items():
        sub = raw.get(name, {})
        if not isinstance(sub, dict):
            problems.append(f"{name} must be a table/section; got {type(sub).__name__} {sub!r}.")
            sub = {}
        sections[name] = cls(**_section(sub, name, problems))
    if problems:
        raise ConfigError(f"The config has {len(problems)} problem(s):\n- " + "\n- ".join(problems))
    return RunConfig(**values, **sections)


def _section(raw: dict, name: str, problems: list[str]) -> dict[str, Any]:
    """The checked values of one section (problems appended; bad values left at their defaults)."""
    params, prefix = SECTIONS[name], f"{name}." if name else ""
    context = {**params.defaults(), **raw}  # what a nested check reads (pretrain_params reads pretrain)
    values = {}
    for key, value in raw.items():
        if key in _CLASSES and not name:
            continue  # a section, read by the caller
        if key not in params:
            problems.append(_unknown(prefix, str(key), list(params) + ([] if name else list(_CLASSES))))
            continue
        if isinstance(value, list) and isinstance(params[key].default, tuple):
            value = tuple(value)  # TOML and JSON have lists; the estimators' defaults are tuples
        value = _none(value, params[key], context, Subject(prefix + key))
        found = params[key].problems(value, context, Subject(prefix + key))
        if found:
            problems += found
        else:
            values[key] = value
    return values


#: The words a config may write for Python's None, which TOML cannot express (``semi_supervised = "none"``).
NONE_WORDS = ("none", "null")


def _none(value: Any, param, context: dict, subject: Subject) -> Any:
    """None for the text ``"none"`` (or ``"null"``, any case) where the parameter takes None and not that text: TOML
    has no null, so ``semi_supervised = "none"`` and ``pretrain = "none"`` say None (YAML's ``null`` is None already)."""
    if (isinstance(value, str) and value.strip().lower() in NONE_WORDS and param.problems(value, context, subject)
            and not param.problems(None, context, subject)):
        return None
    return value


#: Keys the estimators take that a section leaves to another place on purpose: the section (or "" for the top level,
#: None for the command line) and the key there.
_MOVED = {
    "pretrain_max_iter": ("pretrain", "max_iter"),  # the epochs of pretraining are [pretrain]'s own max_iter
    "verbose": (None, "-q/--no-progress"),
    "pretrained": (None, "--pretrained PATH (default: the run's pretrained/ folder)"),
    "callbacks": ("logging", None),
}


def _home(section: str, key: str) -> str:
    """`` It belongs in [model] (model.hidden_layer_sizes): ...``: where a key put in the wrong section goes."""
    if key in _MOVED:
        where, name = _MOVED[key]
        if where is None:
            return f" It is not a config key: the command line sets it ({name})."
        if name is None:
            return f" It is not a config key: [{where}] says what the run records."
        if where != section:
            return f" It belongs in [{where}] as {where}.{name}."
    homes = [s for s, params in SECTIONS.items() if s != section and key in params]
    if not homes:
        return ""
    if homes == [""]:
        return f" It belongs at the top level of the config, before any [section]: {key} = ..."
    shown = " and ".join(f"[{h}]" if h else "the top level" for h in homes)
    why = {"model": ", which pretraining and fine-tuning share", "data": ", which reads the data for both phases"}
    each = " (each phase has its own)" if set(homes) == {"pretrain", "finetune"} else why.get(homes[0], "") if len(homes) == 1 else ""
    return f" It belongs in {shown}{each}: " + ", ".join(f"{h}.{key}" if h else key for h in homes) + "."


def _unknown(prefix: str, key: str, names: list[str]) -> str:
    """``unknown key 'pretrain.epoch'. Did you mean 'pretrain.max_iter'? ...``: a key of an earlier release (or one
    spelt close to it) says its name now; a key of another section says which (``finetune.hidden_layer_sizes``: it
    belongs in [model])."""
    if prefix + key in RENAMED_KEYS:
        return f"unknown key {prefix + key!r}: it is now {RENAMED_KEYS[prefix + key]!r} (the name of the parameter it sets)."
    home = _home(prefix.rstrip("."), key)
    if home:
        return f"unknown key {prefix + key!r}.{home} Valid keys here: {names}."
    olds = {k.rpartition(".")[2]: v for k, v in RENAMED_KEYS.items() if k.rpartition(".")[0] == prefix.rstrip(".")}
    match = difflib.get_close_matches(key, names + list(olds), n=1, cutoff=0.5)
    hint = ""
    if match:
        m = match[0]
        hint = f" Did you mean {olds[m]!r} (called {prefix + m!r} before)?" if m in olds else f" Did you mean {prefix + m!r}?"
    return f"unknown key {prefix + key!r}.{hint} Valid keys here: {names}."


def config_to_dict(cfg: RunConfig) -> dict:
    """The resolved config as plain data (what a run folder stores)."""
    return dataclasses.asdict(cfg)


def estimator_params(cfg: RunConfig, phase: str) -> dict[str, Any]:
    """The keyword arguments of the estimator a phase fits: the shared keys, ``[model]`` and the phase's section.

    Parameters
    ----------
    phase : {"pretrain", "finetune"}
        ``"pretrain"``: a :class:`~layerwise.StackedAutoencoder`; ``"finetune"``: a
        ``PretrainedClassifier`` or ``PretrainedRegressor``. ``[data] scale`` is passed to both: the scaling
    is fitted on the training rows and saved with each model.
    """
    shared = {k: getattr(cfg, k) for k in _SHARED}
    data = {k: getattr(cfg.data, k) for k in _FROM_DATA}
    return {**shared, **data, **dataclasses.asdict(cfg.model), **dataclasses.asdict(getattr(cfg, phase))}
