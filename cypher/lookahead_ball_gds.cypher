// The architectures within $k edits of $uid, by GDS single-source shortest paths on a
// projection made by lookahead_project (unit weights: fewest edits), each with its
// number of edits and the first architecture of a shortest path to it (the move's first
// edit).
// $graph: projection name; $uid: the expansion point; $k: most edits.
MATCH (c:Architecture {uid: $uid})
CALL gds.allShortestPaths.dijkstra.stream($graph, {sourceNode: c})
YIELD targetNode, totalCost, nodeIds
WITH targetNode, toInteger(totalCost) AS hops, nodeIds
WHERE hops >= 1 AND hops <= $k
RETURN gds.util.asNode(targetNode).uid AS uid, gds.util.asNode(targetNode).key AS key,
       hops, gds.util.asNode(nodeIds[1]).uid AS first
