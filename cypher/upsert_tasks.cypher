// Create tasks that do not exist yet; return the stored kind, metric and split of each,
// so that the caller refuses a task imported again with a different definition.
// $rows: [{name, props: {kind, metric, higher_is_better, split, restrict}}].
// internal (it writes): run by mdesign itself; `mdesign query` needs --allow-write
UNWIND $rows AS row
MERGE (t:Task {name: row.name})
ON CREATE SET t += row.props
RETURN t.name AS name, t.kind AS kind, t.metric AS metric, t.split AS split,
       t.higher_is_better AS higher_is_better
