// Project the edit topology (architectures as nodes, every edit as an undirected
// relationship) into the GDS catalog, for multi-hop lookahead with GDS path algorithms.
// A native projection: no gains, so one projection serves a whole refinement run while
// its source weights change.
// $graph: projection name.
// internal (it creates a GDS projection): run by mdesign itself; `mdesign query` needs --allow-write
CALL gds.graph.project($graph, 'Architecture', {EDIT: {orientation: 'UNDIRECTED'}})
YIELD graphName, nodeCount, relationshipCount
RETURN graphName AS graph, nodeCount AS nodes, relationshipCount AS relationships
