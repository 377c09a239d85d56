// The imports of one kind with their position, for watching a running import.
// $kind: `nas-bench-graph` or `table`.
MATCH (i:Import {kind: $kind})
RETURN i.id AS id, i.status AS status, i.position AS position, i.total AS total
ORDER BY i.id
