// How many (architecture, task, source) results are stored more than once in a space
// (always 0: imports MERGE on that triple).
// $space: space name.
MATCH (a:Architecture {space: $space})-[r:RESULT]->(t:Task)
WITH a, t, r.source AS source, count(*) AS n
WHERE n > 1
RETURN count(*) AS duplicates
