// Similarity of two tasks: Spearman rank correlation of their scores over the
// architectures both have results for (ties get average ranks; several sources of one
// architecture are averaged). GDS computes the Pearson correlation of the ranks.
// $task_a, $task_b: task names.
// public
MATCH (ta:Task {name: $task_a})<-[ra:RESULT]-(a:Architecture)-[rb:RESULT]->(tb:Task {name: $task_b})
WITH a, avg(ra.score) AS x, avg(rb.score) AS y
ORDER BY x
WITH collect({a: a, x: x, y: y}) AS rows
UNWIND range(0, size(rows) - 1) AS i
WITH rows[i].x AS x, collect(rows[i]) AS tied, avg(i) + 1.0 AS rank_x
UNWIND tied AS row
WITH row, rank_x ORDER BY row.y
WITH collect({y: row.y, rank_x: rank_x}) AS rows
UNWIND range(0, size(rows) - 1) AS i
WITH rows[i].y AS y, collect(rows[i].rank_x) AS tied_rank_x, avg(i) + 1.0 AS rank_y
UNWIND tied_rank_x AS rank_x
WITH collect(rank_x) AS rx, collect(rank_y) AS ry
RETURN $task_a AS task_a, $task_b AS task_b,
       CASE WHEN size(rx) >= 3 THEN gds.similarity.pearson(rx, ry) END AS spearman,
       size(rx) AS shared
