// Store a trained performance predictor: its checkpoint path and metadata, the design
// spaces it covers and the tasks whose results trained it (links replaced on retraining).
// $name, $props (map: path, created, version, config JSON, metrics JSON ...),
// $spaces (names), $tasks (names).
// internal (it writes): run by mdesign itself; `mdesign query` needs --allow-write
MERGE (p:Predictor {name: $name})
SET p += $props
WITH p
CALL (p) {
  OPTIONAL MATCH (p)-[old:COVERS|TRAINED_ON]->()
  DELETE old
}
CALL (p) {
  MATCH (s:Space) WHERE s.name IN $spaces
  MERGE (p)-[:COVERS]->(s)
}
CALL (p) {
  MATCH (t:Task) WHERE t.name IN $tasks
  MERGE (p)-[:TRAINED_ON]->(t)
}
RETURN p.name AS name
