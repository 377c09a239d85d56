// The projections in the GDS catalog (to find leftovers).
CALL gds.graph.list() YIELD graphName
RETURN graphName AS graph
