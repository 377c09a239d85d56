// Store per-task counts kept for statistics.
// $rows: [{task, results, evidence_edits}].
// internal (it writes): run by mdesign itself; `mdesign query` needs --allow-write
UNWIND $rows AS row
MATCH (t:Task {name: row.task})
SET t.results = row.results, t.evidence_edits = row.evidence_edits
