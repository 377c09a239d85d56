// Results of a batch that are already stored with other values (a conflict: the import
// stops and rolls the batch back). Kept apart from import_results, whose MERGE would
// otherwise need an Eager plan that makes bulk imports ~3x slower. The subquery expands
// from the architecture (a few results) and never from the task (tens of thousands),
// whatever the planner's statistics were when the plan was cached.
// $rows: as import_results.
UNWIND $rows AS row
MATCH (a:Architecture {uid: row.arch})
CALL (a, row) {
  MATCH (a)-[r:RESULT]->(t:Task)
  WHERE r.source = row.source AND t.name = row.task
  RETURN r
}
WITH row, r
WHERE any(k IN keys(row.props) WHERE r[k] <> row.props[k])
   OR size(keys(r)) <> size(keys(row.props))
RETURN row.arch AS arch, row.task AS task, row.source AS source
LIMIT 5
