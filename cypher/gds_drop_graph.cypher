// Drop a GDS projection if it exists.
// $graph: projection name.
// internal (it drops a GDS projection): run by mdesign itself; `mdesign query` needs --allow-write
CALL gds.graph.drop($graph, false) YIELD graphName
RETURN graphName
