// The stored results of a set of architectures on a list of tasks: what multi-hop
// lookahead reads, since the gain of a path of edits on a task is the sum of its edits'
// gains, which telescopes to score(end) - score(start) when the task measured both ends.
// One row per architecture; tasks without a result are absent from `results`. When
// several sources measured one pair, the one with the most seeds is kept (as for gains).
// $uids: architecture uids; $tasks: task names.
// Optional result properties (std, costs, seeds) are read from properties(r): a store
// that never held one gives null, without Neo4j's unknown-property warning.
UNWIND $uids AS uid
MATCH (a:Architecture {uid: uid})
OPTIONAL MATCH (a)-[r:RESULT]->(t:Task)
  WHERE t.name IN $tasks
WITH a, t.name AS task, r, properties(r) AS p
  ORDER BY coalesce(p.seeds, 0) DESC, r.source
WITH a, task, collect([r, p])[0] AS rp
WITH a, task, rp[0] AS r, rp[1] AS p
RETURN a.uid AS uid,
       collect(CASE WHEN r IS NULL THEN null
                    ELSE {task: task, score: r.score, std: p.score_std, params: p.params,
                          latency: p.latency} END) AS results
