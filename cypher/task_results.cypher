// Every result of a task, one row holding one [uid, score, valid, test, params, latency]
// list per architecture (lists keep nulls; collecting each column apart would drop them
// and misalign the columns): the benchmark evaluator's oracle, the planners' training
// data. When several sources measured one architecture, the one with the most seeds is
// kept.
// $task: task name.
// Optional result properties (std, costs, seeds) are read from properties(r): a store
// that never held one gives null, without Neo4j's unknown-property warning.
MATCH (a:Architecture)-[r:RESULT]->(:Task {name: $task})
WITH a, r, properties(r) AS p ORDER BY coalesce(p.seeds, 0) DESC, r.source
WITH a, collect([r.score, p.valid, p.test, p.params, p.latency])[0] AS v
RETURN collect([a.uid] + v) AS results
