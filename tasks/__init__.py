"""Tasks from the user's data: loading, validation, meta-features.

* :mod:`~mdesign.tasks.loaders`: a saved PyG dataset, a TU-format folder, CSV files or a
  built-in task -> :class:`~mdesign.training.data.TaskData`, refusing bad input;
* :mod:`~mdesign.tasks.features`: dataset meta-features (what task similarity uses before
  anything is trained);
* :mod:`~mdesign.tasks.store`: ``add_task`` (data under MDESIGN_HOME, the task and its
  meta-features in the knowledge base) and ``load_task``.
"""
