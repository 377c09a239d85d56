// Versions of the server and of GDS (gds_procedures.cypher counts the procedures:
// SHOW commands cannot sit in a subquery).
CALL dbms.components() YIELD name, versions, edition
WITH versions[0] AS neo4j, edition
RETURN neo4j, edition, gds.version() AS gds
