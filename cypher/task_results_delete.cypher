// Delete up to $batch results of a task, every source (run until it returns 0).
// $task: task name; $batch: results.
// internal (it writes): run by mdesign itself; `mdesign query` needs --allow-write
MATCH (:Architecture)-[r:RESULT]->(:Task {name: $task})
WITH r LIMIT toInteger($batch)
DELETE r
RETURN count(r) AS n
