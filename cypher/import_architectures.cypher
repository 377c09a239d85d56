// Create architectures (idempotent: an existing uid is left as it is).
// $rows: [{uid, props: {space, key, <dimension>: choice ...}}].
// internal (it writes): run by mdesign itself; `mdesign query` needs --allow-write
UNWIND $rows AS row
MERGE (a:Architecture {uid: row.uid})
ON CREATE SET a += row.props
