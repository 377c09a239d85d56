// Store per-task counts kept for statistics.
// $rows: [{task, results, evidence_edits}].
UNWIND $rows AS row
MATCH (t:Task {name: row.task})
SET t.results = row.results, t.evidence_edits = row.evidence_edits
