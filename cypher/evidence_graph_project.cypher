// Project the evidence graph of one task into the GDS catalog: architectures as nodes,
// each edit as two directed relationships carrying the gain of that direction
// (gain(a->b) = -gain(b->a)). With $min_gain = 0.0 only improving directions are kept,
// which makes the projection a DAG (scores strictly increase along it).
// $graph: projection name; $task: task name; $min_gain: keep gains > this (null: all).
// internal (it creates a GDS projection): run by mdesign itself; `mdesign query` needs --allow-write
MATCH (a:Architecture)-[e:EDIT]->(b:Architecture)
WHERE e['gain:' + $task] IS NOT NULL
WITH a, b, e['gain:' + $task] AS g
UNWIND [[a, b, g], [b, a, -g]] AS d
WITH d WHERE $min_gain IS NULL OR d[2] > $min_gain
WITH gds.graph.project($graph, d[0], d[1], {relationshipProperties: {gain: d[2]}},
                       {undirectedRelationshipTypes: []}) AS g
RETURN g.graphName AS graph, g.nodeCount AS nodes, g.relationshipCount AS relationships
