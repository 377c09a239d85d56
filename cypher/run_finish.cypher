// Close a run: `finished` (with its outcome), `failed` (its input cannot work) or
// `interrupted` (resumable).
// $id: run id; $status: finished|failed|interrupted; $stopped: why it stopped (or null);
// $report: the result as JSON text (or null).
// internal (it writes): run by mdesign itself; `mdesign query` needs --allow-write
MATCH (r:RefineRun {id: $id})
SET r.status = $status, r.stopped = $stopped, r.report = $report, r.updated = datetime(),
    r.finished = CASE WHEN $status = 'finished' THEN datetime() ELSE null END
