// Remove a task's gains from up to $batch edits (run until it returns 0).
// $key: the gain property, `gain:<task>`; $nulls: {`gain:<task>`: null}; $batch: edits.
// internal (it writes): run by mdesign itself; `mdesign query` needs --allow-write
MATCH ()-[e:EDIT]->()
WHERE e[$key] IS NOT NULL
WITH e LIMIT toInteger($batch)
SET e += $nulls
RETURN count(e) AS n
