// Record one step of a run in its own transaction (idempotent: a replayed step rewrites
// itself). Maps (weights, source gains) are JSON text, since properties cannot be maps.
// The step links to the architecture it evaluated.
// $id: run id; $step: step number; $props: the step's scalar properties (uid, kind, ...);
// $spent: evaluations paid so far; $best_uid, $best_score: the best so far.
// internal (it writes): run by mdesign itself; `mdesign query` needs --allow-write
MATCH (r:RefineRun {id: $id})
MERGE (s:RefineStep {run_id: $id, step: $step})
SET s += $props
MERGE (r)-[:HAS_STEP]->(s)
SET r.spent = $spent, r.best_uid = $best_uid, r.best_score = $best_score,
    r.updated = datetime()
WITH s
OPTIONAL MATCH (a:Architecture {uid: $props.uid})
FOREACH (_ IN CASE WHEN a IS NULL THEN [] ELSE [1] END | MERGE (s)-[:EVALUATED]->(a))
