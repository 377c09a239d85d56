// Move an import's position forward; runs in the same transaction as the batch itself,
// so a killed import resumes exactly after the last committed batch.
// $id, $position.
// internal (it writes): run by mdesign itself; `mdesign query` needs --allow-write
MATCH (i:Import {id: $id})
SET i.position = $position
