// Set dataset meta-features (numeric properties prefixed `mf_`) on existing tasks.
// Returns the names found, so that unknown task names are reported.
// $rows: [{task, features: {mf_name: value}}].
// internal (it writes): run by mdesign itself; `mdesign query` needs --allow-write
UNWIND $rows AS row
MATCH (t:Task {name: row.task})
SET t += row.features
RETURN t.name AS name
