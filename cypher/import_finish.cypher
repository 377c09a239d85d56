// Mark an import complete.
// $id, $rows (rows written), $code_version.
// internal (it writes): run by mdesign itself; `mdesign query` needs --allow-write
MATCH (i:Import {id: $id})
SET i.status = 'complete', i.position = i.total, i.rows = $rows,
    i.code_version = $code_version
