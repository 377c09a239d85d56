// Number of edits carrying a gain of a task (its evidence edits).
// $task: task name.
MATCH ()-[e:EDIT]->()
WHERE e['gain:' + $task] IS NOT NULL
RETURN count(e) AS n
