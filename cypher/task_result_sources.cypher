// How many of a task's results mdesign's evaluators recorded (source 'mdesign:...') and
// how many were imported.
// $task: task name.
MATCH (:Architecture)-[r:RESULT]->(:Task {name: $task})
RETURN sum(CASE WHEN r.source STARTS WITH 'mdesign:' THEN 1 ELSE 0 END) AS recorded,
       sum(CASE WHEN r.source STARTS WITH 'mdesign:' THEN 0 ELSE 1 END) AS imported
