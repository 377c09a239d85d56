// The tasks most similar to one task: Spearman rank correlation of scores over shared
// architectures (as in task_similarity), for every other task with at least 3 shared
// architectures, highest first. Reads the similarities cached at import (SIMILARITY
// relationships, kb/similarity.py) and computes on the fly those of tasks whose results
// changed since.
// $task: task name; $limit: rows.
// public
// defaults: limit=5
// bounds: limit=1..100000
MATCH (t:Task {name: $task}), (o:Task)
WHERE o <> t
OPTIONAL MATCH (t)-[c:SIMILARITY]->(o)
CALL (t, o, c) {
  WITH c WHERE c IS NOT NULL
  RETURN c.spearman AS spearman, c.shared AS shared
  UNION
  WITH t, o, c WHERE c IS NULL
  MATCH (t)<-[ra:RESULT]-(a:Architecture)-[rb:RESULT]->(o)
  WITH a, avg(ra.score) AS x, avg(rb.score) AS y
  ORDER BY x
  WITH collect({x: x, y: y}) AS rows
  UNWIND range(0, size(rows) - 1) AS i
  WITH rows[i].x AS x, collect(rows[i]) AS tied, avg(i) + 1.0 AS rank_x
  UNWIND tied AS row
  WITH row, rank_x ORDER BY row.y
  WITH collect({y: row.y, rank_x: rank_x}) AS rows
  UNWIND range(0, size(rows) - 1) AS i
  WITH rows[i].y AS y, collect(rows[i].rank_x) AS tied_rank_x, avg(i) + 1.0 AS rank_y
  UNWIND tied_rank_x AS rank_x
  WITH collect(rank_x) AS rx, collect(rank_y) AS ry
  RETURN CASE WHEN size(rx) >= 3 THEN gds.similarity.pearson(rx, ry) END AS spearman,
         size(rx) AS shared
}
WITH t, o, spearman, shared WHERE shared >= 3
RETURN t.name AS task_a, o.name AS task_b, spearman, shared
ORDER BY spearman DESC, task_b
LIMIT toInteger($limit)
