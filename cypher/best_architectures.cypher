// The best architectures of a task, by selection score (validation, or the single
// metric, oriented so that higher is better), highest first. When several sources
// measured one architecture, each result is a row. Reads the composite index
// RESULT(task, score) in descending order and stops after $limit entries.
// $task: task name; $limit: how many rows.
// Optional result properties (std, costs, seeds) are read from properties(r): a store
// that never held one gives null, without Neo4j's unknown-property warning.
// public
// defaults: limit=10
// bounds: limit=1..100000
MATCH ()-[r:RESULT]->()
WHERE r.task = $task AND r.score IS NOT NULL
WITH r ORDER BY r.task, r.score DESC LIMIT toInteger($limit)
WITH startNode(r) AS a, r, properties(r) AS p
RETURN a.uid AS uid, a.space AS space, a.key AS key, r.score AS score,
       p.valid AS valid, p.test AS test, p.valid_std AS valid_std, p.test_std AS test_std,
       p.params AS params, p.latency AS latency, r.source AS source
