// Delete a task node and the generations made for it (its results, gains and runs are
// gone by now: kb/deletion.py). Predictors trained on it keep their weights; the
// TRAINED_ON link goes.
// $task: task name.
// internal (it writes): run by mdesign itself; `mdesign query` needs --allow-write
MATCH (t:Task {name: $task})
OPTIONAL MATCH (g:Generation)-[:FOR]->(t)
WITH t, collect(g) AS generations
FOREACH (g IN generations | DETACH DELETE g)
DETACH DELETE t
RETURN size(generations) AS generations
