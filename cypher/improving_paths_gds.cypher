// Multi-hop evidence with GDS: on a projection made by evidence_graph_project with
// $min_gain = 0 (improving directions only), a single-source shortest-path search (no
// weight: fewest edits) from the start architecture; paths of at most $k edits, with
// the sum of their edit gains, ranked by total gain.
// $graph: projection name; $uid: start architecture; $task; $k: max edits; $limit.
MATCH (c:Architecture {uid: $uid})
CALL gds.allShortestPaths.dijkstra.stream($graph, {sourceNode: c})
YIELD index, targetNode, totalCost, nodeIds
WITH index, targetNode, toInteger(totalCost) AS hops, nodeIds
WHERE hops >= 1 AND hops <= $k
UNWIND range(0, hops - 1) AS i
WITH index, targetNode, hops, nodeIds, i,
     gds.util.asNode(nodeIds[i]) AS x, gds.util.asNode(nodeIds[i + 1]) AS y
MATCH (x)-[e:EDIT]-(y)
WITH index, targetNode, hops, nodeIds,
     sum(CASE WHEN startNode(e) = x THEN e['gain:' + $task] ELSE -e['gain:' + $task] END)
       AS total
WITH gds.util.asNode(targetNode) AS m, hops, total, nodeIds
RETURN m.uid AS target, m.key AS key, hops, total AS total_gain,
       [id IN nodeIds | gds.util.asNode(id).uid] AS path
ORDER BY total_gain DESC, hops, target
LIMIT $limit
