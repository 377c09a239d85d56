// Multi-hop evidence: from an architecture, the shortest paths of up to $k edits (k <= 4)
// on which every edit improves the task (positive gain), ranked by total gain (the sum
// of the path's edit gains). Quantifier bounds must be literals, so each path length
// has its own branch, and a branch longer than $k is cut off before it expands.
// $uid: start architecture; $task: task name; $k: max edits (1..4); $limit: rows.
// public
// defaults: k=2, limit=10
// bounds: k=1..4, limit=1..100000
MATCH (c:Architecture {uid: $uid})
CALL (c) {
  MATCH p = ANY SHORTEST (c)((x:Architecture)-[e:EDIT]-(y:Architecture)
    WHERE CASE WHEN startNode(e) = x THEN e['gain:' + $task] ELSE -e['gain:' + $task] END > 0
  ){1} (m:Architecture)
  RETURN m, p
  UNION ALL
  WITH c WHERE $k >= 2
  MATCH p = ANY SHORTEST (c)((x:Architecture)-[e:EDIT]-(y:Architecture)
    WHERE CASE WHEN startNode(e) = x THEN e['gain:' + $task] ELSE -e['gain:' + $task] END > 0
  ){2} (m:Architecture)
  RETURN m, p
  UNION ALL
  WITH c WHERE $k >= 3
  MATCH p = ANY SHORTEST (c)((x:Architecture)-[e:EDIT]-(y:Architecture)
    WHERE CASE WHEN startNode(e) = x THEN e['gain:' + $task] ELSE -e['gain:' + $task] END > 0
  ){3} (m:Architecture)
  RETURN m, p
  UNION ALL
  WITH c WHERE $k >= 4
  MATCH p = ANY SHORTEST (c)((x:Architecture)-[e:EDIT]-(y:Architecture)
    WHERE CASE WHEN startNode(e) = x THEN e['gain:' + $task] ELSE -e['gain:' + $task] END > 0
  ){4} (m:Architecture)
  RETURN m, p
}
WITH m, p ORDER BY length(p)
WITH m, collect(p)[0] AS p
WITH m, p, reduce(s = 0.0, i IN range(0, length(p) - 1) |
       s + CASE WHEN startNode(relationships(p)[i]) = nodes(p)[i]
                THEN relationships(p)[i]['gain:' + $task]
                ELSE -relationships(p)[i]['gain:' + $task] END) AS total
RETURN m.uid AS target, m.key AS key, length(p) AS hops, total AS total_gain,
       [n IN nodes(p) | n.uid] AS path
ORDER BY total_gain DESC, hops, target
LIMIT toInteger($limit)
