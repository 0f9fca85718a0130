"""The application: the ``layerwise`` command (:mod:`~layerwise.app.cli`), its training and model commands, run
configs and folders, the demo, and the picture set a run writes (:mod:`~layerwise.app.pictures`).

It sits on top of the library and is not imported by it: the estimators, the pipeline and the training loop know
nothing of run folders or configs.
"""
