// Evidence of one task, built inside Neo4j: every edit whose two architectures both have
// a result on the task gets `gain:<task>` = score(end) - score(start). When several
// sources measured both ends, the gain comes from the source with the most seeds
// (then the first by name); gains never mix two sources' protocols.
// Must run in an auto-commit transaction (it commits in batches).
// $task: task name.
// internal (it writes): run by mdesign itself; `mdesign query` needs --allow-write
MATCH (t:Task {name: $task})<-[ra:RESULT]-(a:Architecture)-[e:EDIT]->(b:Architecture)
      -[rb:RESULT]->(t)
WHERE ra.source = rb.source
WITH e, rb.score - ra.score AS gain, coalesce(ra.seeds, 0) + coalesce(rb.seeds, 0) AS seeds,
     ra.source AS source
ORDER BY seeds DESC, source
WITH e, collect(gain)[0] AS gain
CALL (e, gain) {
  SET e['gain:' + $task] = gain
} IN TRANSACTIONS OF 10000 ROWS
RETURN count(*) AS gains
