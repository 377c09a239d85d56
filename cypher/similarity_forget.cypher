// Drop the cached similarities of tasks whose results changed (they are computed on the
// fly until the cache is refreshed).
// $tasks: task names.
// internal (it writes): run by mdesign itself; `mdesign query` needs --allow-write
MATCH (t:Task)-[s:SIMILARITY]-()
WHERE t.name IN $tasks
DELETE s
