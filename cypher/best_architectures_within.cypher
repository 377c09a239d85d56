// The best architectures of a task in one design space whose stored costs are within
// limits (a null limit, or a result without that cost, passes), highest score first:
// where a cost-constrained refinement starts.
// $task: task name; $space: space name; $max_params, $max_latency: limits or null;
// $limit: how many rows.
MATCH (a:Architecture)-[r:RESULT]->()
WHERE r.task = $task AND r.score IS NOT NULL AND a.space = $space
  AND ($max_params IS NULL OR r.params IS NULL OR r.params <= $max_params)
  AND ($max_latency IS NULL OR r.latency IS NULL OR r.latency <= $max_latency)
WITH a, r ORDER BY r.score DESC LIMIT $limit
RETURN a.uid AS uid, a.space AS space, a.key AS key, r.score AS score,
       r.valid AS valid, r.test AS test, r.valid_std AS valid_std, r.test_std AS test_std,
       r.params AS params, r.latency AS latency, r.source AS source
