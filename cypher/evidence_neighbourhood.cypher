// The evidence around an architecture on a task, as a graph (for Neo4j Browser's graph
// view): the architecture, its neighbours one edit away whose edit has a gain on the
// task (largest gains in either direction first), the task and their results. Each
// edit's gain on the task is its `gain:<task>` property (inspector, or the table of
// neighbours_with_gains).
// $uid: architecture uid; $task: task name; $limit: how many edits.
// browser
// defaults: limit=12
// bounds: limit=1..1000
MATCH (a:Architecture {uid: $uid})-[e:EDIT]-(m:Architecture)
WHERE e['gain:' + $task] IS NOT NULL
WITH a, e, m ORDER BY abs(e['gain:' + $task]) DESC, m.uid LIMIT toInteger($limit)
MATCH (t:Task {name: $task})
OPTIONAL MATCH (a)-[ra:RESULT]->(t)
OPTIONAL MATCH (m)-[rm:RESULT]->(t)
RETURN a, e, m, t, ra, rm
