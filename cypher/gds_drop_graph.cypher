// Drop a GDS projection if it exists.
// $graph: projection name.
CALL gds.graph.drop($graph, false) YIELD graphName
RETURN graphName
