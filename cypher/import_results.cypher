// Create results (architecture x task x source); an existing one is left as it is
// (import_results_conflicts, run first in the same transaction, refuses changed values).
// $rows: [{arch, task, source, props: {score, valid, test, ..., task, source}}].
// internal (it writes): run by mdesign itself; `mdesign query` needs --allow-write
UNWIND $rows AS row
MATCH (a:Architecture {uid: row.arch})
MATCH (t:Task {name: row.task})
MERGE (a)-[r:RESULT {source: row.source}]->(t)
ON CREATE SET r += row.props
