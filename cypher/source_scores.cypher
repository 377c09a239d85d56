// The stored results of a set of architectures on a list of tasks: what multi-hop
// lookahead reads, since the gain of a path of edits on a task is the sum of its edits'
// gains, which telescopes to score(end) - score(start) when the task measured both ends.
// One row per architecture; tasks without a result are absent from `results`. When
// several sources measured one pair, the one with the most seeds is kept (as for gains).
// $uids: architecture uids; $tasks: task names.
UNWIND $uids AS uid
MATCH (a:Architecture {uid: uid})
OPTIONAL MATCH (a)-[r:RESULT]->(t:Task)
  WHERE t.name IN $tasks
WITH a, t.name AS task, r
  ORDER BY coalesce(r.seeds, 0) DESC, r.source
WITH a, task, collect(r)[0] AS r
RETURN a.uid AS uid,
       collect(CASE WHEN r IS NULL THEN null
                    ELSE {task: task, score: r.score, std: r.score_std, params: r.params,
                          latency: r.latency} END) AS results
