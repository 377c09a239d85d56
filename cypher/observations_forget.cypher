// Delete the results that mdesign's own evaluators recorded on a task (sources
// 'mdesign:<evaluator>'); imported results stay. Run after the gains have been recomputed
// without them (kb/observations.py, forget_observations).
// $task: task name.
// internal (it writes): run by mdesign itself; `mdesign query` needs --allow-write
MATCH (:Architecture)-[r:RESULT]->(:Task {name: $task})
WHERE r.source STARTS WITH 'mdesign:'
DELETE r
RETURN count(r) AS deleted
