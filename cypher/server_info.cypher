// Versions of the server and of GDS, and the number of gds.* procedures.
CALL dbms.components() YIELD name, versions, edition
WITH versions[0] AS neo4j, edition
RETURN neo4j, edition, gds.version() AS gds,
       COUNT { SHOW PROCEDURES YIELD name WHERE name STARTS WITH 'gds.' RETURN name } AS gds_procedures
