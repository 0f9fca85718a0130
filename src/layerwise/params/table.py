"""Every hyperparameter of layerwise, declared once, and which owner takes which.

:data:`PARAMS` holds each parameter once: its name (scikit-learn's where one
exists), the values it accepts, its default and its doc. Each owner selects
the parameters it takes, in its own order, overriding a default or a doc when
its meaning there is narrower (``max_iter`` is epochs per layer for a
``StackedAutoencoder``, epochs of fine-tuning for a ``PretrainedClassifier``):

- :data:`TRAINER` -- :class:`~layerwise.train.Trainer`;
- :data:`GREEDY` -- :class:`~layerwise.pipeline.greedy.GreedyLayerwise`;
- :data:`PRETRAINED` -- ``PretrainedRegressor``, and with ``class_weight`` :data:`PRETRAINED_CLASSIFIER`;
- :data:`STACKED_AUTOENCODER`, :data:`VARIATIONAL_AUTOENCODER`;
- :data:`DATA`, :data:`RUN` -- the config keys that prepare data and name the run folder.

The run config (:mod:`layerwise.app.config`) is built from these sets, so a
parameter added here with its owner is also a config key.
"""

from __future__ import annotations

import numbers

from ..nn.blocks import ACTIVATIONS
from ..registry import LR_SCHEDULERS, OBJECTIVES, SEMI_SUPERVISED
from . import auto
from .constraints import (
    Boolean,
    Callbacks,
    Device,
    FolderName,
    HasMethods,
    ImageSize,
    InstanceOf,
    Interval,
    LayerSizes,
    NoneValue,
    Options,
    PathLike,
    RandomState,
    Registered,
    RegistryOptions,
)
from .core import REQUIRED, Param, ParamSet, Renamed

__all__ = ["PARAMS", "TRAINER", "GREEDY", "PRETRAINED", "PRETRAINED_CLASSIFIER", "STACKED_AUTOENCODER", "VARIATIONAL_AUTOENCODER", "DATA", "RUN", "LOGGING",
           "SOLVERS", "PRECISIONS", "FINETUNE_MODES", "LR_SCHEDULES", "LOSSES"]

SOLVERS = ("adam", "adamw", "sgd")
TORCH_SOLVERS = ("Adam", "AdamW", "SGD")  # torch.optim's class names for the same (as lr_schedule takes scheduler names)
PRECISIONS = ("auto", "fp32", "bf16")
FINETUNE_MODES = ("frozen", "full")
LR_SCHEDULES = ("auto", "constant", "cosine", "anneal")
LOSSES = ("auto", "mse", "bce")

_SCALE_DOC = """``"minmax"`` rescales every feature to [0, 1] with the minimum and maximum of the rows ``fit`` sees
          (``data_min_``, ``data_max_``); every later ``X`` (``predict``, ``transform``, ``score``...) is scaled with
          the same numbers, which are saved with the model, and outputs in the input space (``inverse_transform``,
          ``sample``) come back in the original units. ``"table"``: a preprocessing per column
          (``preprocessor_``, a :class:`~layerwise.data.tables.TablePreprocessor`): numbers standardised, or
          quantile-normalised when heavy-tailed, constant ones 0, a missing number the training median;
          text, category and bool columns one-hot encoded (a missing value its own category, a category
          unseen in ``fit`` all zeros). It is saved with the model and applied to every later ``X``, which may
          be a DataFrame with such columns; ``n_features_in_`` stays the number of input columns. It is not
          undone: ``inverse_transform`` and ``sample`` raise. ``"auto"``: ``"table"`` when the rows look like a
          table (:func:`~layerwise.data.tables.looks_like_table`: a DataFrame with non-numeric columns, or
          numbers that are not image-like pixels), else ``"minmax"`` only when some training value is outside
          [0, 1] (what the Bernoulli loss needs); under ``"auto"`` a NaN in numeric rows is still refused.
          ``"none"``: ``X`` as given (numbers only)."""
_EPOCHS = Interval(int, 1)
_FRACTION_OPEN = Interval(float, 0, 1, "neither")
_RATE = Interval(float, 0, 1, "left")  # a dropout rate: 1 would drop everything

PARAMS = ParamSet((
    # -- the network -------------------------------------------------------------------------------
    Param("hidden_layer_sizes", (LayerSizes(),), (256, 64),
          "Code width of each layer, first to top."),
    Param("n_components", (Interval(int, 1),), 20, "Width of the latent code: the number of columns of ``transform``."),
    Param("activation", (Registered(ACTIVATIONS),), "relu", "Activation of every hidden layer (scikit-learn's MLP names).",
          type_doc='{"identity", "logistic", "tanh", "relu"}'),
    Param("pretrain", (NoneValue(), Registered(OBJECTIVES)), "denoising",
          """Objective of greedy layer-wise pretraining, a name in ``layerwise.OBJECTIVES``: ``"autoencoder"``,
          ``"sparse"``, ``"denoising"``, ``"contractive"``, ``"conv"``, ``"rbm"`` (a deep belief network) or
          ``"vae"``. ``None`` trains the same network from random initialisation (the honest baseline).""", paths=("stack",)),
    Param("pretrain_params", (NoneValue(), RegistryOptions(OBJECTIVES, "pretrain")), None,
          """Options of the pretraining objective, checked against its signature (names and types), e.g.
          ``{"noise": "gaussian", "level": 0.2}`` for ``"denoising"`` or ``{"penalty": "kl", "weight": 0.1}`` for
          ``"sparse"``.""", paths=("stack",)),
    Param("objective", (Registered(OBJECTIVES),), "autoencoder",
          """What each layer learns, a name in ``layerwise.OBJECTIVES``: ``"autoencoder"``, ``"sparse"``,
          ``"denoising"``, ``"contractive"``, ``"conv"``, ``"rbm"``, ``"vae"``."""),
    Param("objective_params", (NoneValue(), RegistryOptions(OBJECTIVES, "objective")), None,
          'Options of that objective, checked against its signature, e.g. ``{"noise": "gaussian", "level": 0.2}``.'),
    Param("loss", (Options(*LOSSES),), "auto",
          """Reconstruction loss of the first layer: ``"bce"`` (Bernoulli, data in [0, 1]), ``"mse"``, or
          ``"auto"`` (``"bce"`` for data in [0, 1], else ``"mse"``). Deeper layers follow their input codes.""", paths=("stack",)),
    Param("tied", (Boolean(),), False, "Tie each decoder's weight to its encoder's transpose during pretraining.", paths=("stack",)),
    Param("pretrained", (NoneValue(), PathLike("the path of a model folder written by layerwise.save")), None,
          """Folder of a model saved with :func:`layerwise.save`: a ``StackedAutoencoder``,
          ``PretrainedClassifier``, ``PretrainedRegressor`` or ``EncoderStack``. Pretraining is then skipped and
          fine-tuning starts from the saved encoder layers (Yosinski et al. 2014); ``finetune`` applies as usual
          (``"frozen"`` keeps them fixed). The architecture is still the one these parameters describe, so
          ``hidden_layer_sizes``, ``activation`` and the layer type of ``pretrain`` (dense for
          ``"autoencoder"``, ``"sparse"``, ``"denoising"``, ``"contractive"`` and ``None``; ``"rbm"``,
          ``"vae"`` and ``"conv"`` each their own) must match the saved model's: a mismatch raises a
          ``ConfigError`` that lists the differing layers. The saved decoders are not used."""),
    Param("beta", (Interval(float, 0),), 1.0, "Weight of the KL term (``beta > 1``: beta-VAE, Higgins et al. 2017)."),
    Param("kl_warmup", (Interval(int, 0),), 0,
          """Epochs over which the KL weight rises linearly from 0 to ``beta`` (Bowman et al. 2016; Sonderby et
          al. 2016); 0 turns warm-up off."""),
    # -- fine-tuning -------------------------------------------------------------------------------
    Param("finetune", (Options(*FINETUNE_MODES),), "full",
          """``"frozen"`` trains only the head on the stack's codes (computed once); ``"full"`` back-propagates
          through every layer.""", paths=("stack",)),
    Param("encoder_lr_scale", (Interval(float, 0),), 1.0,
          "With ``finetune=\"full\"``, the pretrained layers learn at ``learning_rate_init * encoder_lr_scale``.", paths=("stack",)),
    Param("dropout", (_RATE,), 0.0,
          """Dropout rate after every layer of the stack during full fine-tuning (Srivastava et al. 2014: a
          pretrained network fine-tuned with dropout); 0 turns it off.""", paths=("stack",)),
    Param("input_dropout", (_RATE,), 0.0, "Dropout rate on the input rows during full fine-tuning; 0 turns it off.", paths=("stack",)),
    Param("semi_supervised", (NoneValue(), Options("auto"), Registered(SEMI_SUPERVISED)), "auto",
          """How the unlabeled rows (``-1``) train the classifier, a name in ``layerwise.objectives.SEMI_SUPERVISED``
          or None. ``"ladder"``: a ladder network (Rasmus et al. 2015), an encoder with a denoising cost at every
          layer, trained on labeled and unlabeled rows together; ``"conv_ladder"``: the same paper's convolutional
          ladder, its Conv-Small network (fixed layers, 32 to 128 channels) with the Gamma-model's cost on the top
          layer by default, for images of any size and channel count; ``"m1m2"``: the semi-supervised VAE M2 on the
          codes of a VAE M1 (Kingma et al. 2014). ``"ladder"`` and ``"m1m2"`` build their own network from
          ``hidden_layer_sizes`` and ``activation``; ``"conv_ladder"`` refuses them set away from their defaults,
          and needs the images' shape: given by an image folder, a Dataset, a ``.npy`` file of images or an array of images ``(n, c, h, w)``, else
          ``semi_supervised_params={"image_shape": (c, h, w)}``. The parameters of a stack (``pretrain``,
          ``pretrain_params``, ``pretrain_max_iter``, ``finetune``, ``encoder_lr_scale``, ``dropout``,
          ``input_dropout``, ``loss``, ``tied``) do not apply to them: set away from their defaults, they make
          ``"auto"`` pretrain and fine-tune a stack, and beside a named method they are refused (never silently
          dropped); ``semi_supervised_params`` is refused where no method trains. ``None``: the unlabeled rows only
          pretrain the stack greedily, then it is fine-tuned on the labeled rows. ``"auto"``, for a classifier (and
          ``pretrained`` not set), with or without unlabeled rows: ``"conv_ladder"`` when the rows came as images and the fit
          runs on a GPU (on a CPU a step cost 7x the paper's dense ladder's; with ``hidden_layer_sizes`` or
          ``activation`` set: ``"ladder"``, which uses them), ``"ladder"`` for other image rows and flat rows
          that are not a table, else ``None``: a table is pretrained greedily (``pretrain="auto"``: ``"scarf"``), which measured better than the ladder on
          three tables and 7-10x faster (``benchmarks/tables_defaults.py``). ``"ladder"`` won on digits with 10% of
          the labels and on MNIST with 100 (README, "Few labels"), and with every row labeled too (its denoising
          costs regularise the classifier: digits 0.86% test error against 2.10% for the greedy path, MNIST
          0.72%; README, "Defaults, and why")."""),
    Param("semi_supervised_params", (NoneValue(), RegistryOptions(SEMI_SUPERVISED, "semi_supervised", {"auto": "ladder"})), None,
          """Options of the semi-supervised method, checked against the options its class declares (names,
          ranges, defaults), e.g. ``{"noise_std": 0.3, "denoising_costs": "gamma"}`` for ``"ladder"`` or
          ``{"alpha": 0.1, "m1_epochs": 50}`` for ``"m1m2"``.""", paths=("semi",)),
    Param("check_reference", (Options("auto"), Boolean()), "auto",
          """Check the trained network against a cheap supervised model of the labeled rows before ``fit`` returns
          (a default must never be silently worse than the labeled rows alone). A stratified quarter of the
          labeled rows is held out; the network is trained once more without their labels (they stay as
          unlabeled rows), and scored on them next to a reference trained on the other labeled rows only: the
          better, by 3-fold cross-validation on those rows, of logistic (ridge) regression and histogram
          gradient boosting. When the network is worse than the reference or than always answering the most
          frequent class (the mean, for a regressor), ``fit`` warns with both figures and what to change; the
          figures are kept in ``reference_score_``, ``holdout_score_``, ``baseline_score_`` and
          ``reference_name_``; with ``reference_blend`` the returned model blends the reference in. The final
          network is the one trained on every label, so no label is lost to the check; the price is a second
          training run. ``"auto"``: on tables (:func:`layerwise.data.tables.looks_like_table`), where networks
          often lose to gradient boosting; off for image-like rows. ``True``/``False``: always or never."""),
    Param("reference_blend", (Boolean(),), True,
          """When ``check_reference`` runs: return the network blended with the reference refitted on every labeled
          row, ``w * network + (1 - w) * reference`` (probabilities for a classifier), with the network's share ``w``
          in 0, 0.1, ..., 1 that scored best (log loss, or squared error) on the held-out rows (``blend_weight_``;
          1 keeps the network alone). Gradient boosting with a network beat either alone on tables (Shwartz-Ziv &
          Armon 2022); the blend makes the default no worse than the labeled rows alone. The reference is saved
          with the model as torch buffers (:mod:`layerwise.nn.reference`), never pickled. ``False``: the network
          alone, whatever the check finds."""),
    Param("warm_start", (Boolean(),), False,
          """When ``True`` and the estimator is fitted, ``fit`` continues training the fitted network for ``max_iter``
          more epochs instead of starting over (scikit-learn's meaning, as in ``MLPClassifier``). Pretraining then
          fine-tuning continues the fine-tuning only: the stack is not pretrained again (``finetune="frozen"``:
          the head continues on the same codes). A semi-supervised method (``"ladder"``, ``"conv_ladder"``,
          ``"m1m2"``, ``"vime"``) continues its training; what it prepared (M1, VIME's self-supervised encoder)
          stays as trained. A fit with ``warm_start=True`` keeps the state of its last epoch in memory, as a
          checkpoint holds it (optimizer moments, RNG streams, batch order, early stopping's counter; not saved
          in model files), so that ``max_iter=a`` then a warm fit with ``max_iter=b`` on the same rows trains as
          one fit of ``a + b`` epochs, bitwise on CPU with the constant schedule. A schedule over the epochs
          (``"anneal"``, the semi-supervised methods' ``"auto"``, ``"cosine"``) is laid over the ``a + b``
          epochs at the warm fit, so the first fit's decay is not the longer fit's. With early stopping, the
          warm fit starts from the last epoch's weights (not the best, which the model returned), as the longer
          fit would, and trains again after early stopping ended the first. ``n_iter_``, ``loss_curve_`` and
          ``history_`` count every fit. A model fitted with ``warm_start=False``, or loaded from a model file,
          continues from its weights with a new optimizer state. The rows may be new, with the fitted features
          (and, for a classifier, labels among ``classes_``); the input scaling, the classes and the target
          scaling stay the first fit's. A change to a parameter that defines the network, its pretraining or
          its input (``hidden_layer_sizes``, ``activation``, ``pretrain``, ``pretrain_params``, ``loss``,
          ``tied``, ``pretrain_max_iter``, ``pretrained``, ``finetune``, ``semi_supervised``,
          ``semi_supervised_params``, ``scale``, ``image_size``; ``semi_supervised="auto"`` keeps the path it
          chose, and naming that method is no change), or to one the kept state holds (``solver``,
          ``lr_schedule``, ``lr_schedule_params``, ``random_state``; ``learning_rate_init`` and
          ``encoder_lr_scale`` under a schedule other than constant), is refused with the list of what changed;
          so are ``resume=True`` and ``check_reference`` (which trains a second network from scratch).
          ``learning_rate_init``, ``alpha``, ``batch_size``, ``dropout``, early stopping and the other settings
          may change. ``False``: every ``fit`` starts over."""),
    Param("unlabeled", (Options("auto"), NoneValue(), InstanceOf((numbers.Real, str), "a label (a number or a string)", "int")), "auto",
          """The label that marks an unlabeled row: ``"auto"`` is ``-1`` for the classifier (the
          ``sklearn.semi_supervised`` convention) and ``NaN`` for the regressor (where ``NaN`` always marks
          one). ``None`` treats every row as labeled: use it when -1 is a real class (labels in {-1, 1}).""",
          type_doc='"auto", int, float, str or None'),
    Param("class_weight", (NoneValue(), Options("balanced"), InstanceOf(dict, "a dict of class label -> weight", "dict")), None,
          """Weights of the classes in the supervised cost, for imbalanced labels (scikit-learn's meaning): a row of
          class ``c`` weighs ``class_weight[c]`` (times its ``sample_weight``), and the cost of each batch is the
          weighted mean of its labeled rows' cross-entropies. ``"balanced"``: ``n_labeled / (n_classes *
          count(c))`` from the *labeled* rows (``-1`` is not a class; counts weighted by ``sample_weight`` as in
          scikit-learn >= 1.7), so every class weighs the same in total. A dict: label -> weight (a finite number >=
          0), classes it leaves out weigh 1; a key that is not a class of the labeled rows is refused. Applies to every
          path: fine-tuning (``"frozen"`` or ``"full"``) and the semi-supervised methods' supervised cost (the
          ladder's, M2's classifier and labeled bound, VIME's); the unsupervised costs and the early-stopping
          validation loss are not weighted. ``None``: every class weighs 1.""",
          type_doc='"balanced", dict or None'),
    # -- optimisation ------------------------------------------------------------------------------
    Param("solver", (Options(*SOLVERS, *TORCH_SOLVERS),), "adam",
          """``"sgd"`` uses Nesterov momentum (``momentum``). torch's class names (``"Adam"``, ``"AdamW"``,
          ``"SGD"``) name the same optimizers.""",
          type_doc='{"adam", "adamw", "sgd", "Adam", "AdamW", "SGD"}'),
    Param("learning_rate_init", (Interval(float, 0, closed="neither"),), 1e-3, "The learning rate.", auto=auto.learning_rate),
    Param("momentum", (Interval(float, 0, 1, "left"),), 0.9,
          'Momentum of ``solver="sgd"`` (Nesterov when > 0); 1 or more would make the steps grow without end.'),
    Param("lr_schedule", (Options(*LR_SCHEDULES), Registered(LR_SCHEDULERS)), "auto",
          """``"constant"``; ``"cosine"`` decays the learning rate of each pretraining stage and of fine-tuning
          from ``learning_rate_init`` to 0 over their epochs (:class:`layerwise.train.CosineLR`); ``"anneal"``
          keeps it constant, then decays it linearly to 0 over the last third of the epochs
          (:class:`layerwise.train.AnnealLR`; the ladder paper's schedule); ``"auto"``: ``"anneal"`` for a
          semi-supervised method, else ``"constant"`` (cosine measured worse as a default for pretraining and
          fine-tuning: on MNIST -0.11 pt, on nudged digits -1.6 pt; ``benchmarks/defaults.py``). Any class of ``torch.optim.lr_scheduler`` by name
          (``"StepLR"``, ``"OneCycleLR"``, ``"ReduceLROnPlateau"``...), with its arguments in
          ``lr_schedule_params``, is run by :class:`layerwise.train.LRScheduler` in each of those phases.""",
          type_doc='{"auto", "constant", "cosine", "anneal"} or str', auto=auto.lr_schedule),
    Param("lr_schedule_params", (NoneValue(), RegistryOptions(LR_SCHEDULERS, "lr_schedule")), None,
          """Arguments of the scheduler that ``lr_schedule`` names, checked before any training, e.g.
          ``{"step_size": 10, "gamma": 0.5}`` for ``"StepLR"``; ``"interval": "batch"`` steps it after every
          batch instead of every epoch, ``"monitor"`` is the log ``ReduceLROnPlateau`` watches. ``T_max`` of
          ``"CosineAnnealingLR"`` defaults to the phase's epochs."""),
    Param("alpha", (Interval(float, 0),), 0.0, "L2 penalty (weight decay)."),
    Param("batch_size", (Options("auto"), Interval(int, 1)), "auto",
          'Rows per optimizer step; ``"auto"`` is ``n_samples // 32`` clipped to [32, 256] (and to n_samples).',
          auto=auto.batch_size),
    Param("shuffle", (Boolean(),), True, "Draw the batches of each epoch in a new seeded order."),
    Param("max_iter", (_EPOCHS,), 200, "Epochs.", auto=auto.max_iter),
    Param("pretrain_max_iter", (Interval(int, 0),), 20, "Epochs of pretraining per layer; 0 skips pretraining.", paths=("stack",)),
    Param("unroll_max_iter", (Interval(int, 0),), 0,
          """Epochs of joint training of the unrolled deep autoencoder after the greedy stages (Hinton &
          Salakhutdinov 2006); 0 skips it."""),
    Param("grad_clip", (NoneValue(), Interval(float, 0, closed="neither")), None, "Clip the gradient norm to this value."),
    # -- stopping ----------------------------------------------------------------------------------
    Param("early_stopping", (Boolean(),), False,
          """Hold out ``validation_fraction`` of the (labeled) rows and stop when their loss has not improved by
          ``tol`` for ``n_iter_no_change`` epochs; the best weights are kept."""),
    Param("validation_fraction", (_FRACTION_OPEN,), 0.1, "Fraction of the rows held out for early stopping."),
    Param("n_iter_no_change", (Interval(int, 1),), 10, "Epochs without improvement before early stopping."),
    Param("tol", (Interval(float, 0),), 1e-4, "Minimum decrease of the monitored loss that counts as an improvement."),
    # -- running -----------------------------------------------------------------------------------
    Param("random_state", (NoneValue(), RandomState()), None,
          "Makes training repeatable; torch's global generator is left untouched by estimators."),
    Param("verbose", (Boolean(), Interval(int, 0)), False, "Progress bars."),
    Param("device", (Device(),), "auto", '``"cpu"``, ``"cuda"``, or ``"auto"`` (CUDA when available).'),
    Param("precision", (Options(*PRECISIONS),), "auto",
          """``"bf16"`` runs forward passes under ``torch.autocast`` (matmuls in bfloat16; batch statistics, losses and
          optimizer state stay in fp32); ``"fp32"`` runs them in float32. ``"auto"``: bf16 where the device multiplies
          bf16 in hardware (a CUDA GPU with bf16, a CPU with AMX-BF16 or AVX512-BF16) and the model has a weight
          matrix of at least 262,144 entries, else fp32 (:mod:`layerwise.train.precision`: a ladder step on
          MNIST-sized rows ran 1.09-1.15x faster in bf16, one on digits 0.84-0.95x). The choice made is kept in the
          trainer's ``precision_``."""),
    Param("callbacks", (Callbacks(),), (),
          "Called at each event of the loop (:class:`~layerwise.train.Callback`)."),
    Param("csv", (Boolean(),), False,
          """Also write every epoch to ``metrics_<command>.csv`` in the run folder (:class:`~layerwise.train.CSVLogger`;
          ``metrics.jsonl`` is always written)."""),
    Param("tensorboard", (Boolean(),), False,
          """Also write TensorBoard event files to ``tensorboard/<command>/`` in the run folder
          (:class:`~layerwise.train.TensorBoardLogger`); needs ``pip install 'layerwise[tensorboard]'``."""),
    Param("desc", (InstanceOf(str, "a string", "str"),), "train", "Label of the progress bar."),
    Param("checkpoint_dir", (NoneValue(), PathLike()), None,
          """Write a checkpoint there at the end of every epoch (and every ``checkpoint_every`` batches): weights,
          optimizer state, RNG states, epoch and batch position, history. ``fit(..., resume=True)`` continues
          from it; on CPU the result is bitwise the same as an uninterrupted run."""),
    Param("checkpoint_every", (NoneValue(), Interval(int, 1)), None, "Also checkpoint every this many batches inside an epoch."),
    Param("chunk_rows", (NoneValue(), Interval(int, 1)), None,
          """Stream the training rows in chunks of this many rows, shuffled within chunks
          (:class:`~layerwise.data.stream.ChunkedBatches`). Always used, with 65,536 rows by default, when the
          data is a :class:`~layerwise.data.stream.NpyFile` (data larger than memory)."""),
    Param("distributed", (Options("auto", True, False),), "auto",
          """Data-parallel training over several processes with ``DistributedDataParallel``
          (:mod:`layerwise.train.distributed`). ``"auto"``: when ``torchrun`` started several processes (or a
          process group of several is initialised); ``True``: insist (an error otherwise); ``False``: never.
          ``batch_size`` is then the *global* batch, split across processes; every process sees the same
          history; only rank 0 writes checkpoints and shows progress."""),
    Param("trainer", (NoneValue(), HasMethods(("fit", "clone", "predict"), "a layerwise Trainer", "Trainer")), None,
          """The settings of every stage's training (``Trainer(max_iter=..., batch_size=...)``); each stage runs
          a copy with ``random_state + k``, its own ``desc`` and ``checkpoint_dir/stage_<k>``."""),
    Param("keep_decoders", (Boolean(),), True,
          """Keep the trained decoders in the stack: ``unroll`` (the deep autoencoder), ``inverse_transform`` and
          semi-supervised fine-tuning start from them. The encoder's forward pass never uses them."""),
    # -- data and run folder (config keys) -----------------------------------------------------------
    Param("dataset", (InstanceOf(str, "a dataset name, a .npy/.npz/.csv path or a folder of images", "str"),), "digits",
          """A name (``digits``, ``mnist``, ``fashion-mnist``, ``kmnist``), a ``.npy``/``.npz``/``.csv`` path, or a
          folder of PNG/JPEG images with one subfolder per class (flattened; a ``"conv"`` pretraining gets their
          shape)."""),
    Param("data_dir", (NoneValue(), PathLike()), None, "Folder of the dataset's files (MNIST: the four IDX .gz files)."),
    Param("label_column", (NoneValue(), InstanceOf(str, "a column name", "str")), None, "CSV files: the label column."),
    Param("label_fraction", (Interval(float, 0, 1, "right"),), 1.0,
          "Keep labels for this fraction of the training rows (stratified); the others are marked unlabeled. 1 keeps them all."),
    Param("val_size", (Interval(float, 0, 1, "left"),), 0.1, "Fraction of the training rows held out as validation rows."),
    Param("test_size", (Interval(float, 0, 1, "left"),), 0.2, "Fraction held out as test rows when the dataset has no test split."),
    Param("scale", (Options("auto", "minmax", "table", "none"),), "auto",
          """The model's input preprocessing, fitted on the training rows and applied by the model to every row
          it is given later: ``"minmax"``, min-max scaling of every feature to [0, 1]; ``"table"``, a per-column
          encoding for tables (standardised or quantile-normalised numbers, one-hot categories); ``"auto"``:
          ``"table"`` for rows that look like a table, else min-max only when some training value is outside
          [0, 1]; ``"none"``: values as given."""),
    Param("image_size", (NoneValue(), ImageSize()), None,
          """Resize every image of a folder ``X`` to ``(height, width)`` pixels (an int: a square; bilinear, as
          :class:`~layerwise.data.images.ImageFolder`'s ``size``), so that a folder of mixed sizes is read. It is saved
          with the model: ``predict``, ``transform`` and ``score`` resize the images of another folder the same way.
          Only for a folder of images (a path, or an ``ImageFolder`` without a ``size`` of its own): ``fit`` refuses
          it with other ``X``. ``None``: every image must have the same size."""),
    Param("task", (Options("classification", "regression"),), "classification",
          "What the labels are: it picks ``PretrainedClassifier`` or ``PretrainedRegressor``."),
    Param("name", (FolderName(),), "run", "The run's folder name: the run folder is ``out_dir/name``."),
    Param("out_dir", (PathLike(),), "runs", "Where run folders go."),
), renamed=(
    # the names of earlier releases (0.1), refused like any unknown name: the message says the name now
    Renamed("optimizer", "solver"),
    Renamed("lr", "learning_rate_init"),
    Renamed("weight_decay", "alpha"),
    Renamed("max_epochs", "max_iter"),
    Renamed("epochs", "max_iter"),
    Renamed("seed", "random_state"),
    Renamed("progress", "verbose"),
    Renamed("patience", "n_iter_no_change", note="patience=N was early_stopping=True, n_iter_no_change=N"),
    Renamed("trainer_params", "trainer", note="pass trainer=Trainer(...) with the same arguments"),
))

TRAINER = PARAMS.select(
    "solver", "learning_rate_init", "momentum", "alpha", "max_iter", "batch_size", "shuffle", "early_stopping",
    "n_iter_no_change", "tol", "random_state", "device", "precision", "grad_clip", "callbacks", "verbose", "desc",
    "checkpoint_dir", "checkpoint_every", "chunk_rows", "distributed",
    defaults={"max_iter": 10, "batch_size": 256, "precision": "fp32"},
    docs={"early_stopping": """Stop when ``val_loss`` (``loss`` without validation data) has not improved by ``tol``
          for ``n_iter_no_change`` epochs; the best weights are restored.""",
          "random_state": """Seeds torch's global generator at the start of :meth:`fit` (init of new modules,
          corruption noise, batch order).""",
          "verbose": "Show a progress bar over epochs."},
)

GREEDY = PARAMS.select(
    "hidden_layer_sizes", "activation", "objective", "objective_params", "loss", "tied", "dropout", "trainer",
    "keep_decoders", "checkpoint_dir",
    defaults={"hidden_layer_sizes": REQUIRED},
    docs={"dropout": "Dropout rate after each encoder's activation while its layer is pretrained.",
          "checkpoint_dir": """Each stage checkpoints into ``checkpoint_dir/stage_<k>/`` (``Trainer(checkpoint_every=...)``
          adds checkpoints inside epochs). ``fit(..., resume=True)`` restores finished stages without training
          them and continues the stage that was interrupted."""},
)

_ESTIMATOR_CALLBACKS = """Callbacks (:class:`~layerwise.train.Callback`: loggers such as
          :class:`~layerwise.train.JSONLinesLogger`, :class:`~layerwise.train.LRScheduler`...) given to every
          :class:`~layerwise.train.Trainer` the estimator builds: each pretraining stage and the later phases. Not
          saved with the model."""

PRETRAINED = PARAMS.select(
    "hidden_layer_sizes", "activation", "pretrain", "pretrain_params", "finetune", "encoder_lr_scale", "dropout",
    "input_dropout", "loss", "tied", "solver", "learning_rate_init", "lr_schedule", "lr_schedule_params", "alpha",
    "batch_size", "pretrain_max_iter", "max_iter", "early_stopping", "validation_fraction", "n_iter_no_change", "tol",
    "random_state", "verbose", "device", "precision", "unlabeled", "pretrained", "semi_supervised", "semi_supervised_params",
    "callbacks", "scale", "image_size", "check_reference", "reference_blend", "warm_start",
    defaults={"hidden_layer_sizes": (512, 256), "max_iter": "auto", "learning_rate_init": "auto", "scale": "auto",
              "pretrain": "auto"},
    constraints={"learning_rate_init": (Options("auto"), Interval(float, 0, closed="neither")),
                 "max_iter": (Options("auto"), _EPOCHS),
                 "pretrain": (NoneValue(), Options("auto"), Registered(OBJECTIVES)),
                 "pretrain_params": (NoneValue(), RegistryOptions(OBJECTIVES, "pretrain", {"auto": "denoising"}))},
    docs={"pretrain": """Objective of greedy layer-wise pretraining, a name in ``layerwise.OBJECTIVES``
          (``"autoencoder"``, ``"sparse"``, ``"denoising"``, ``"contractive"``, ``"conv"``, ``"rbm"``, ``"vae"``,
          ``"scarf"``, ``"vime"``), or ``None`` for the same network from random initialisation. ``"auto"``:
          ``"scarf"`` (denoising of columns corrupted by their own marginals; Bahri et al. 2022) when the rows are a
          table (:func:`layerwise.data.tables.looks_like_table`), else ``"denoising"``; with ``pretrain_params``
          set, ``"denoising"`` (the objective they are checked against; name ``"scarf"`` for its options).""",
          "scale": _SCALE_DOC + """ With ``pretrained``, the saved model's scaling is reused when it has one: its
          layers expect inputs scaled that way.""",
          "hidden_layer_sizes": """Code width of each pretrained layer. (512, 256) beat (256, 64) on MNIST by 0.27 pt
          with all labels and 0.94 pt with 1,000, for 1.8x the time (``benchmarks/defaults.py``; README, "Defaults").
          Left at this default, the ladder on rows of 256 or more features (image-sized) trains the paper's MNIST
          network instead, (1000, 500, 250, 250, 250), with its noise 0.3 (``Ladder.auto_settings``): with (512, 256)
          MNIST with 100 labels gave 8.39% test error after 10 epochs, with the paper's 2.19% (one label draw).""",
          "max_iter": """Epochs of fine-tuning, or of the semi-supervised method (passes over every row). ``"auto"``: 100;
          for a semi-supervised method, more on small data sets so that it gets at least its ``min_steps``
          optimizer steps (the ladder: 3,000, e.g. 231 epochs of 13 steps on 1,257 digits), and fewer on large ones
          so that it takes at most about its ``max_steps`` (the ladder: 12,000, e.g. 20 epochs of 600 steps on
          MNIST, about 8 minutes on 2 cores; ``max_iter=100`` is the paper's budget, 1.09% instead of 1.77%).""",
          "learning_rate_init": """The learning rate. ``"auto"``: the semi-supervised method's (``"ladder"``: 0.005,
          measured best on digits among 0.002-0.02, and the paper's 0.002 on rows of 256 or more features;
          ``"m1m2"``: 0.001), else 0.001.""",
          "batch_size": """Rows per optimizer step; ``"auto"`` is ``n_samples // 32`` clipped to [32, 256] (and to
          n_samples), or for a semi-supervised method its papers' 100 unlabeled rows (plus as many labeled ones).""",
          "early_stopping": """Hold out ``validation_fraction`` of the labeled rows and stop fine-tuning when their
          loss stops improving; the best weights are kept.""",
          "callbacks": _ESTIMATOR_CALLBACKS},
)

#: ``PretrainedClassifier``: the shared set and ``class_weight`` (a regressor has no classes to weigh, so it does not
#: take the parameter at all).
PRETRAINED_CLASSIFIER = ParamSet(PRETRAINED.params + (PARAMS["class_weight"],), PRETRAINED.renamed)

STACKED_AUTOENCODER = PARAMS.select(
    "hidden_layer_sizes", "activation", "pretrain", "pretrain_params", "loss", "tied", "solver", "learning_rate_init",
    "lr_schedule", "lr_schedule_params", "alpha", "batch_size", "max_iter", "unroll_max_iter", "random_state", "verbose",
    "device", "precision", "callbacks", "scale", "image_size",
    defaults={"pretrain": "autoencoder", "max_iter": 20, "scale": "none"},
    constraints={"pretrain": (Registered(OBJECTIVES),)},
    docs={"scale": _SCALE_DOC,
          "pretrain": """The objective of each layer, a name in ``layerwise.OBJECTIVES`` (``"autoencoder"``,
          ``"sparse"``, ``"denoising"``, ``"contractive"``, ``"conv"``, ``"rbm"``, ``"vae"``).""",
          "max_iter": "Epochs per layer.",
          "callbacks": _ESTIMATOR_CALLBACKS},
)

VARIATIONAL_AUTOENCODER = PARAMS.select(
    "hidden_layer_sizes", "n_components", "activation", "loss", "beta", "kl_warmup", "solver", "learning_rate_init",
    "lr_schedule", "lr_schedule_params", "alpha", "batch_size", "max_iter", "early_stopping", "validation_fraction",
    "n_iter_no_change", "tol", "random_state", "verbose", "device", "precision", "callbacks", "scale", "image_size",
    defaults={"hidden_layer_sizes": (400,), "max_iter": 20, "scale": "none"},
    docs={"scale": _SCALE_DOC,
          "hidden_layer_sizes": """Widths of the encoder's hidden layers; the decoder mirrors them. ``(400,)`` with
          ``n_components=20`` is the pytorch/examples VAE.""",
          "loss": """The decoder's likelihood. ``"bce"``: Bernoulli, for data in [0, 1]; ``"mse"``: Gaussian with unit
          variance (standardise the data first); ``"auto"``: ``"bce"`` when the data is in [0, 1], else ``"mse"``.""",
          "max_iter": "Epochs of training.",
          "early_stopping": """Hold out ``validation_fraction`` of the rows and stop when their negative ELBO has not
          improved for ``n_iter_no_change`` epochs after the warm-up; the best weights are kept.""",
          "callbacks": _ESTIMATOR_CALLBACKS},
)

DATA = PARAMS.select("dataset", "data_dir", "label_column", "image_size", "label_fraction", "val_size", "test_size", "scale", "task",
                    docs={"image_size": """A folder of images (``dataset``): resize every image to ``(height, width)`` pixels (an
                          int: a square), so that a folder of mixed sizes is read. Refused for other datasets."""})

RUN = PARAMS.select("name", "out_dir")

LOGGING = PARAMS.select("csv", "tensorboard")
