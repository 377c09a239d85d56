// Architectures with a result that mdesign's own evaluators recorded on a task.
// $task: task name.
MATCH (a:Architecture)-[r:RESULT]->(:Task {name: $task})
WHERE r.source STARTS WITH 'mdesign:'
RETURN collect(DISTINCT a.uid) AS uids
