// Architectures like this one: the k nearest of its space by cosine similarity of the
// stored embeddings (GDS's similarity function; `mdesign predictor embed` writes them).
// $uid: architecture uid; $k: how many.
// public
// defaults: k=10
// bounds: k=1..100000
MATCH (a:Architecture {uid: $uid})
WHERE a.embedding IS NOT NULL
MATCH (b:Architecture {space: a.space})
WHERE b <> a AND b.embedding IS NOT NULL
WITH b, gds.similarity.cosine(a.embedding, b.embedding) AS similarity
ORDER BY similarity DESC, b.uid
LIMIT toInteger($k)
RETURN b.uid AS uid, similarity
