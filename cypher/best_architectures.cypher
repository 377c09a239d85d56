// The best architectures of a task, by selection score (validation, or the single
// metric), highest first. When several sources measured one architecture, each result
// is a row.
// $task: task name; $limit: how many rows.
MATCH (a:Architecture)-[r:RESULT]->(:Task)
WHERE r.task = $task
RETURN a.uid AS uid, a.space AS space, a.key AS key, r.score AS score,
       r.valid AS valid, r.test AS test, r.valid_std AS valid_std, r.test_std AS test_std,
       r.params AS params, r.latency AS latency, r.source AS source
ORDER BY r.score DESC
LIMIT $limit
