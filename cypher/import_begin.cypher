// Start (or restart) an import: record its fingerprint and total number of batches.
// $id, $fingerprint, $total, $position, $kind.
// internal (it writes): run by mdesign itself; `mdesign query` needs --allow-write
MERGE (i:Import {id: $id})
SET i.fingerprint = $fingerprint, i.total = $total, i.position = $position,
    i.status = 'running', i.kind = $kind
