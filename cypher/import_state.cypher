// The stored state of an import: its fingerprint, batch position and status.
// $id: import id.
OPTIONAL MATCH (i:Import {id: $id})
RETURN i.fingerprint AS fingerprint, i.position AS position, i.total AS total,
       i.status AS status
