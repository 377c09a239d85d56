// Delete refinement runs and their steps, in one transaction (all or nothing).
// What they recorded as evidence of their task stays: `mdesign task forget` removes it.
// $ids: run ids.
// internal (it writes): run by mdesign itself; `mdesign query` needs --allow-write
UNWIND $ids AS id
MATCH (r:RefineRun {id: id})
OPTIONAL MATCH (r)-[:HAS_STEP]->(s:RefineStep)
WITH r, collect(s) AS steps
WITH r, r.id AS id, size(steps) AS n, steps
FOREACH (s IN steps | DETACH DELETE s)
DETACH DELETE r
RETURN id, n AS steps
