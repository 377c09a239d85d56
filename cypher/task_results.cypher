// Every result of a task, one row holding one [uid, score, valid, test, params, latency]
// list per architecture (lists keep nulls; collecting each column apart would drop them
// and misalign the columns): the benchmark evaluator's oracle, the planners' training
// data. When several sources measured one architecture, the one with the most seeds is
// kept.
// $task: task name.
MATCH (a:Architecture)-[r:RESULT]->(:Task {name: $task})
WITH a, r ORDER BY coalesce(r.seeds, 0) DESC, r.source
WITH a, collect(r)[0] AS r
RETURN collect([a.uid, r.score, r.valid, r.test, r.params, r.latency]) AS results
