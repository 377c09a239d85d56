// The provenance of a task's results measured by mdesign itself (real training).
// $task: task name.
MATCH (a:Architecture)-[r:RESULT]->(:Task {name: $task})
WHERE r.source STARTS WITH 'mdesign:'
RETURN a.uid AS uid, r.source AS source, r.code_version AS code_version, r.hp AS hp,
       r.hardware AS hardware, r.seeds AS seeds, r.wall_s AS wall_s, r.failed AS failed
ORDER BY uid
