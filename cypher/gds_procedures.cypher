// The number of GDS procedures the server offers.
SHOW PROCEDURES YIELD name
WHERE name STARTS WITH 'gds.'
RETURN count(*) AS gds_procedures
