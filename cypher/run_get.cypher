// One refinement run with its steps in order.
// $id: run id.
MATCH (r:RefineRun {id: $id})
OPTIONAL MATCH (r)-[:HAS_STEP]->(s:RefineStep)
WITH r, s ORDER BY s.step
RETURN r {.*, started: toString(r.started), updated: toString(r.updated),
          finished: toString(r.finished)} AS run,
       collect(s {.*}) AS steps
