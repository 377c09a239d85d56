// Create architectures (idempotent: an existing uid is left as it is).
// $rows: [{uid, props: {space, key, <dimension>: choice ...}}].
UNWIND $rows AS row
MERGE (a:Architecture {uid: row.uid})
ON CREATE SET a += row.props
