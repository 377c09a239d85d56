// The design spaces in which a task has results, most results first.
// $task: task name.
// public
MATCH (a:Architecture)-[:RESULT]->(:Task {name: $task})
RETURN a.space AS space, count(*) AS results
ORDER BY results DESC, space
