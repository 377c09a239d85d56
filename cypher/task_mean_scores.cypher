// Each architecture's mean score on a task (over the results of every source), the input
// of the cached task similarities (kb/similarity.py).
// $task: task name.
MATCH (a:Architecture)-[r:RESULT]->(:Task {name: $task})
WITH a.uid AS uid, avg(r.score) AS score
WHERE score IS NOT NULL
RETURN collect([uid, score]) AS scores
