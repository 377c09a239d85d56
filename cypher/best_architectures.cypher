// The best architectures of a task, by selection score (validation, or the single
// metric, oriented so that higher is better), highest first. When several sources
// measured one architecture, each result is a row. Reads the composite index
// RESULT(task, score) in descending order and stops after $limit entries.
// $task: task name; $limit: how many rows.
MATCH ()-[r:RESULT]->()
WHERE r.task = $task AND r.score IS NOT NULL
WITH r ORDER BY r.task, r.score DESC LIMIT $limit
WITH startNode(r) AS a, r
RETURN a.uid AS uid, a.space AS space, a.key AS key, r.score AS score,
       r.valid AS valid, r.test AS test, r.valid_std AS valid_std, r.test_std AS test_std,
       r.params AS params, r.latency AS latency, r.source AS source
