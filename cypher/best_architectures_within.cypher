// The best architectures of a task in one design space whose stored costs are within
// limits (a null limit, or a result without that cost, passes), highest score first:
// where a cost-constrained refinement starts.
// $task: task name; $space: space name; $max_params, $max_latency: limits or null;
// $limit: how many rows.
// Optional result properties (std, costs, seeds) are read from properties(r): a store
// that never held one gives null, without Neo4j's unknown-property warning.
// public
// defaults: limit=10, max_params=null, max_latency=null
// bounds: limit=1..100000
MATCH (a:Architecture)-[r:RESULT]->()
WHERE r.task = $task AND r.score IS NOT NULL AND a.space = $space
WITH a, r, properties(r) AS p
WHERE ($max_params IS NULL OR p.params IS NULL OR p.params <= $max_params)
  AND ($max_latency IS NULL OR p.latency IS NULL OR p.latency <= $max_latency)
WITH a, r, p ORDER BY r.score DESC LIMIT toInteger($limit)
RETURN a.uid AS uid, a.space AS space, a.key AS key, r.score AS score,
       p.valid AS valid, p.test AS test, p.valid_std AS valid_std, p.test_std AS test_std,
       p.params AS params, p.latency AS latency, r.source AS source
