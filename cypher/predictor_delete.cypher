// Delete a stored predictor (performance predictor, graph hypernetwork or generator) of
// the given type, with the embeddings it stored and the generations it made, in one
// transaction. Its checkpoint folder is removed by mdesign afterwards.
// $name: predictor name; $type: performance|ghn|generator.
// internal (it writes): run by mdesign itself; `mdesign query` needs --allow-write
MATCH (p:Predictor {name: $name})
WHERE coalesce(p.type, 'performance') = $type
OPTIONAL MATCH (g:Generation)-[:BY]->(p)
WITH p, collect(g) AS generations
CALL (p) {
  MATCH (a:Architecture) WHERE a.embedding_predictor = p.name
  REMOVE a.embedding, a.embedding_predictor
  RETURN count(a) AS embeddings
}
WITH p, generations, embeddings, p.path AS path
FOREACH (g IN generations | DETACH DELETE g)
DETACH DELETE p
RETURN path, size(generations) AS generations, embeddings
