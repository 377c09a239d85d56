// Every result of a task, as parallel lists (one row): the benchmark evaluator's oracle.
// When several sources measured one architecture, the one with the most seeds is kept.
// $task: task name.
MATCH (a:Architecture)-[r:RESULT]->(:Task {name: $task})
WITH a, r ORDER BY coalesce(r.seeds, 0) DESC, r.source
WITH a, collect(r)[0] AS r
RETURN collect(a.uid) AS uids, collect(r.score) AS scores, collect(r.valid) AS valid,
       collect(r.test) AS test, collect(r.params) AS params, collect(r.latency) AS latency
